//! REM → PEC: a REM message from a trusted REM provider becomes the PEC message an Italian
//! mailbox understands, signed with the PEC identity.
//!
//! Steps (each refusal names the step):
//! 1. the S/MIME signature verifies and chains to a `[trust] rem_anchors` certificate; every
//!    evidence verifies (XAdES, chain to `rem_anchors`); the digests agree (original, header,
//!    every evidence's PartInfo);
//! 2. the event and reasons of the main evidence (the one `REM-Evidence-ID` names) select a
//!    `rem-to-pec` mapping row;
//! 3. a dispatch becomes a transport envelope carrying the original as `postacert.eml` (a
//!    ReceivedFromNonERDS dispatch becomes an anomaly envelope); a receipt becomes the mapped PEC
//!    receipt with its daticert filled from the evidence;
//! 4. the evidence is attached as `<Event>.xml` (unless `[output] attach_evidence = false`);
//! 5. the identifiers of both sides are recorded; a receipt is linked to the PEC message it is
//!    about when a PEC → REM translation recorded it.

use super::context::{Context, Judge};
use super::report::{Described, Outcome, Refusal, Translation};
use super::to_rem::{bare_address, reason_label};
use crate::correlate::Record;
use crate::pec::build::Built;
use crate::rem::evidence::{Event, Reason};
use crate::rem::message::MessageType;
use crate::smime::{self, SignRequest, SmimeProtocol};

/// Translates one REM message.
pub async fn translate(cx: &Context, raw: &[u8], judge: &Judge) -> Outcome {
    let verdict = match crate::rem::message::verify::verify(
        raw,
        &cx.config.trust.rem_anchors,
        judge.trust_at,
    ) {
        Ok(v) => v,
        Err(e) => {
            return Ok(Err(Refusal::new(
                None,
                format!("not a REM message: {e}"),
            )));
        }
    };
    let msg = &verdict.message;
    let meta = &msg.metadata;
    let input = Described {
        format: "rem",
        kind: meta.message_type.name().to_string(),
        event: Some(meta.event.name().to_string()),
        reasons: meta.reasons.iter().map(reason_label).collect(),
        errore: None,
        message_id: Some(msg.message_id.clone()),
    };
    if let Some(why) = verdict.refusal() {
        return Ok(Err(Refusal::new(Some(&input), why)));
    }
    // The main evidence: the one REM-Evidence-ID names, else the first.
    let Some(main) = verdict.main_evidence() else {
        return Ok(Err(Refusal::new(Some(&input), "the message carries no evidence")));
    };
    let Some(summary) = main.summary.clone() else {
        return Ok(Err(Refusal::new(Some(&input), "the evidence cannot be read")));
    };
    let event = Event::from_uri(&summary.event_uri);
    let reasons: Vec<Reason> = summary
        .reasons
        .iter()
        .map(|r| Reason::from_uri(&r.uri))
        .collect();
    let message = match meta.message_type {
        MessageType::Dispatch => "dispatch",
        _ => "receipt",
    };
    let Some(row) = cx.tables.rem_to_pec(&event, &reasons, message) else {
        return Ok(Err(Refusal::new(
            Some(&input),
            format!(
                "no rem-to-pec row of the mappings for {message} {} ({})",
                event.name(),
                input.reasons.join(", ")
            ),
        )));
    };
    let now = judge.now;
    let provider = cx.pec_provider();
    let attach: Vec<(String, String, Vec<u8>)> = if cx.config.attach_evidence {
        vec![(
            format!("{}.xml", event.name()),
            "application/xml".to_string(),
            main.bytes.clone(),
        )]
    } else {
        Vec::new()
    };
    let mut notes = Vec::new();
    // What the PEC side already knows of this message.
    let mut linked: Option<Record> = None;
    for id in [&meta.ua_message_id, &summary.message_identifier_or_empty()] {
        if id.is_empty() {
            continue;
        }
        let found = cx
            .store
            .find(id)
            .map_err(|e| super::Error::Store(e.to_string()))?;
        if let Some(r) = found.into_iter().find(|r| r.pec_identificativo.is_some()) {
            linked = Some(r);
            break;
        }
    }
    let built: Built = if message == "dispatch" {
        let Some(original) = &msg.original else {
            return Ok(Err(Refusal::new(
                Some(&input),
                "a dispatch without the original message",
            )));
        };
        let mut ids = cx.pec_ids();
        let r = if row.pec.kind == "anomalia" {
            crate::pec::build::anomaly_with(original, &provider, now, &attach, &mut ids)
        } else {
            crate::pec::build::envelope(
                &crate::pec::build::EnvelopeInput {
                    original,
                    provider: &provider,
                    external: &[],
                    at: now,
                    extra_parts: &attach,
                },
                &mut ids,
            )
        };
        match r {
            Ok(b) => b,
            Err(e) => {
                return Ok(Err(Refusal::new(
                    Some(&input),
                    format!("the original cannot become a PEC envelope: {e}"),
                )));
            }
        }
    } else {
        if linked.is_none() {
            notes.push(
                "no PEC message recorded for this REM message: identificativo and msgid taken from the REM identifiers"
                    .into(),
            );
        }
        let facts = super::receipt::Facts {
            subject: strip_rem_prefix(cx, &msg.subject, &event),
            sender: bare_address(&meta.md08),
            recipients: msg.to.iter().map(|a| bare_address(a)).collect(),
            ua_message_id: meta.ua_message_id.clone(),
            rem_message_id: msg.message_id.clone(),
            pec_identificativo: linked.as_ref().and_then(|r| r.pec_identificativo.clone()),
            pec_msgid: linked.as_ref().and_then(|r| r.pec_msgid.clone()),
        };
        let mut ids = cx.pec_ids();
        match super::receipt::build_receipt(&summary, row, &facts, &provider, now, &attach, &mut ids)
        {
            Ok(b) => b,
            Err(e) => {
                return Ok(Err(Refusal::new(
                    Some(&input),
                    format!("the PEC receipt cannot be built: {e}"),
                )));
            }
        }
    };
    let headers: Vec<(&str, &str)> = built
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let bytes = smime::sign(&SignRequest {
        headers: &headers,
        inner: &built.inner,
        key: &cx.config.identity.pec_key,
        signer: &cx.config.identity.pec_cert,
        chain: &cx.config.identity.pec_chain,
        signing_time: built.date,
        protocol: SmimeProtocol::Pec,
    })
    .map_err(|e| super::Error::Build(e.to_string()))?;
    let d = built.daticert.as_ref();
    let record = Record {
        direction: crate::correlate::Direction::RemToPec,
        created: crate::pec::zone::rfc3339(now),
        pec_identificativo: d.map(|d| d.identificativo.clone()),
        pec_msgid: d.and_then(|d| d.msgid.clone()),
        rem_message_id: Some(msg.message_id.clone()),
        rem_ua_message_id: Some(meta.ua_message_id.clone()),
        evidence_ids: verdict
            .evidences
            .iter()
            .filter_map(|e| e.summary.as_ref().map(|s| s.evidence_id.clone()))
            .collect(),
        input: msg.message_id.clone(),
        output_message_id: format!("<{}>", built.identifier),
        kind: built.kind.name().to_string(),
        dispatch: None,
    };
    cx.store
        .record(&record)
        .map_err(|e| super::Error::Store(e.to_string()))?;
    Ok(Ok(Translation {
        input,
        output: Described {
            format: "pec",
            kind: built.kind.name().to_string(),
            event: None,
            reasons: Vec::new(),
            errore: d
                .map(|d| d.errore.as_str().to_string())
                .filter(|e| e != "nessuno"),
            message_id: Some(format!("<{}>", built.identifier)),
        },
        mapping: row.id.clone(),
        bytes,
        record,
        notes,
    }))
}

/// The original subject: the REM subject without its `REM <Event>: ` / `REM Dispatch: ` /
/// `EXTERNAL: ` prefix (compared case-insensitively).
fn strip_rem_prefix(cx: &Context, subject: &str, event: &Event) -> String {
    let rem = &cx.tables.subjects.rem;
    let candidates = [
        rem.pattern.replace("{event}", event.name()),
        rem.dispatch.clone(),
        rem.from_non_erds.clone(),
    ];
    for p in candidates {
        if subject.len() >= p.len()
            && subject.is_char_boundary(p.len())
            && subject[..p.len()].eq_ignore_ascii_case(&p)
        {
            return subject[p.len()..].to_string();
        }
    }
    subject.to_string()
}
