//! Notices the gateway issues on its own, about a message it accepted but cannot carry on:
//! the PEC notices to a PEC sender (the 12 h preavviso, the 24 h final notice, the avviso di
//! mancata consegna when a REM peer refused the dispatch for good or a translation failed
//! after acceptance) and the REM receipts to a REM sender (RelayAcceptance when its dispatch
//! entered PEC, RelayRejection when the access point's limits refuse it, RelayFailure when the
//! PEC platform could not take it). Pure: built from the accepted message's bytes and the
//! context, signed with the gateway's identities; the service decides when.

use time::OffsetDateTime;

use super::context::Context;
use super::report::{Described, Output};
use super::to_rem::{IssuedReceipt, ReceiptSpec, RemAbout, bare_address, rem_receipt};
use crate::correlate::DispatchFacts;
use crate::pec::build::{About, ReceiptInput, ReceiptKind};
use crate::pec::values::{Errore, TipoRicevuta};

/// A PEC notice to build about an accepted PEC envelope.
#[derive(Debug, Clone)]
pub struct PecNotice<'a> {
    /// Which notice.
    pub kind: ReceiptKind,
    /// The recipient it is about (`consegna`).
    pub recipient: Option<&'a str>,
    /// The error class.
    pub errore: Errore,
    /// `errore-esteso` (the enhanced status code first, e.g. `5.4.1 - ...`).
    pub detail: Option<String>,
    /// Parts attached after the daticert (a signed REM evidence, `RelayFailure.xml`).
    pub extra_parts: &'a [crate::pec::build::ExtraPart],
}

/// The signed PEC notice `n` about `envelope` (the PEC transport envelope as received), from
/// `posta-certificata@<domain>` to the envelope's sender.
pub fn pec_notice(
    cx: &Context,
    envelope: &[u8],
    n: &PecNotice<'_>,
    now: OffsetDateTime,
) -> Result<Output, super::Error> {
    let provider = cx.pec_provider();
    let key = n.kind.subject_key(&n.errore);
    let prefix = cx.tables.pec_subject_prefix(key).unwrap_or_default();
    let input = ReceiptInput {
        kind: n.kind,
        about: About::Message(envelope),
        provider: &provider,
        recipient: n.recipient,
        errore: n.errore.clone(),
        detail: n.detail.as_deref(),
        ricevuta: TipoRicevuta::Sintetica,
        external: &[],
        to: None,
        at: now,
        subject_prefix: prefix,
        extra_parts: n.extra_parts,
    };
    let mut ids = cx.pec_ids();
    let built = crate::pec::build::receipt(&input, &mut ids)
        .map_err(|e| super::Error::Build(format!("{}: {e}", n.kind.tipo().as_str())))?;
    let id = &cx.config.identity;
    let bytes = built.sign(&id.pec_key, &id.pec_cert, &id.pec_chain)?;
    Ok(Output {
        described: Described {
            format: "pec",
            kind: built.kind.name().to_string(),
            event: None,
            reasons: Vec::new(),
            errore: built
                .daticert
                .as_ref()
                .map(|d| d.errore.as_str().to_string())
                .filter(|e| e != "nessuno"),
            message_id: Some(format!("<{}>", built.identifier)),
        },
        bytes,
    })
}

/// What REM receipts about the REM dispatch `raw` (as received) repeat: its Message-ID, the
/// user's identifier, the digest it states, T0 from its evidence, sender, recipients,
/// subject. `None` when it is not a readable REM message.
pub fn rem_about(raw: &[u8]) -> Option<RemAbout> {
    let msg = crate::rem::message::parse::parse(raw).ok()?;
    let meta = &msg.metadata;
    let evidence = msg
        .evidences
        .iter()
        .find_map(|e| crate::rem::evidence::parse::parse(&e.bytes).ok());
    let submission = evidence
        .as_ref()
        .and_then(|e| e.submission_time)
        .map(crate::pec::zone::rfc3339)
        .unwrap_or_default();
    let subject = evidence
        .as_ref()
        .and_then(|e| e.subject().map(str::to_string))
        .or_else(|| msg.subject.clone())
        .unwrap_or_default();
    let sender_assurance = evidence.as_ref().and_then(|e| {
        let issuer = e.issuer.legal_name_value().map(str::to_owned);
        e.sender
            .assurance
            .as_ref()
            .and_then(|d| super::assurance::from_evidence(d, issuer.as_deref()))
    });
    Some(RemAbout {
        sender_assurance,
        rems_message_id: msg.message_id.clone()?,
        ua_message_id: meta.ua_message_id.clone(),
        facts: DispatchFacts {
            digest: meta.digest_value.clone(),
            submission_time: submission,
            sender: bare_address(&meta.md08),
            recipients: msg.to.iter().map(|a| bare_address(a)).collect(),
            subject,
        },
    })
}

/// A REM receipt (`spec`) about a REM dispatch, as a translation output.
pub async fn rem_notice(
    cx: &Context,
    about: &RemAbout,
    spec: &ReceiptSpec<'_>,
    now: OffsetDateTime,
    notes: &mut Vec<String>,
) -> Result<Result<Output, String>, super::Error> {
    let IssuedReceipt {
        bytes, message_id, ..
    } = match rem_receipt(cx, about, spec, now, notes).await? {
        Ok(i) => i,
        Err(why) => return Ok(Err(why)),
    };
    Ok(Ok(Output {
        described: Described {
            format: "rem",
            kind: "receipt".into(),
            event: Some(spec.event.name().to_string()),
            reasons: spec
                .reasons
                .iter()
                .map(super::to_rem::reason_label)
                .collect(),
            errore: None,
            message_id: Some(format!("<{message_id}>")),
        },
        bytes,
    }))
}
