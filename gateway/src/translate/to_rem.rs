//! PEC → REM: a PEC message from an accredited provider becomes the REM message of
//! EN 319 532-3 / the REM baseline of 532-4, with a new signed, time-stamped evidence.
//!
//! Steps (each refusal names the step):
//! 1. the S/MIME signature verifies and chains to a `[trust] pec_anchors` certificate at the
//!    judged instant;
//! 2. the signer certificate belongs to a provider of the index;
//! 3. the PEC type (and `errore` / `errore-esteso`) selects a `pec-to-rem` mapping row;
//! 4. a transport envelope (or anomaly envelope) becomes a dispatch: its `postacert.eml` is
//!    prepared (CRLF; the sender UA's Message-ID — `X-Riferimento-Message-ID`, else daticert
//!    `msgid` — in `REM-UAMessageIdentifier`; the identificativo as the REM Message-ID),
//!    digested, and carried;
//!    a receipt becomes a REM receipt about the dispatch recorded for its `identificativo` /
//!    `msgid` (refused when none was recorded: its digest could not be stated);
//! 5. the evidence is built, XAdES-signed with the REM identity and time-stamped;
//! 6. the REM message is assembled and S/MIME-signed with the REM identity;
//! 7. the identifiers of both sides are recorded.

use time::OffsetDateTime;

use super::assurance::{self, Origin, SubmissionAuth};
use super::context::{Context, Judge, TimeStamps};
use super::in_place::Place;
use super::report::{Described, Outcome, Refusal, RefusalKind, Translation};
use crate::correlate::{DispatchFacts, Record};
use crate::mappings::EventRow;
use crate::pec::{Daticert, Kind, PecMessage};
use crate::rem::evidence::{Event, Reason};
use crate::rem::message::{MessageType, RelayMetadata};
use crate::smime;

/// `REM-DigestAlgorithm` / PartInfo digest method (RFC 6931).
pub const SHA256_URI: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// Translates one PEC message whose origin is unknown (the per-submission authentication
/// header is not believed: [`translate_from`]).
pub async fn translate(cx: &Context, raw: &[u8], judge: &Judge) -> Outcome {
    translate_from(cx, raw, judge, &Origin::Unknown).await
}

/// Translates one PEC message that came from `origin` (the service: the SMTP peer, checked
/// against `[holders] platform_addresses` for the per-submission authentication header).
pub async fn translate_from(cx: &Context, raw: &[u8], judge: &Judge, origin: &Origin) -> Outcome {
    translate_in(cx, raw, judge, origin, &mut Place::joined()).await
}

/// [`translate_from`] of an input given away: a dispatch is written into the input's own
/// buffer (the carried message moved in place), so a large message is held once. Give the
/// buffer some spare capacity (e.g. 256 KiB) and it is not reallocated either.
pub async fn translate_owned(
    cx: &Context,
    raw: Vec<u8>,
    judge: &Judge,
    origin: &Origin,
) -> Outcome {
    let mut place = Place::of(&raw);
    let outcome = translate_in(cx, &raw, judge, origin, &mut place).await;
    let pending = place.take();
    super::in_place::finish(outcome, pending, raw)
}

async fn translate_in(
    cx: &Context,
    raw: &[u8],
    judge: &Judge,
    origin: &Origin,
    place: &mut Place<'_>,
) -> Outcome {
    // 1. Signature and trust. The structure is read once for both the verification and the
    // PEC reading when the message is stored in CRLF (then both read the same bytes).
    let canonical = crate::mime::canonicalize(raw);
    let lf_converted = matches!(canonical, std::borrow::Cow::Owned(_));
    let shared = if lf_converted {
        None
    } else {
        crate::mime::tree::Tree::read(raw).ok()
    };
    let verdict = match smime::verify_canonical(&canonical, lf_converted, shared.as_ref()) {
        Ok((v, _)) => v,
        Err(e) => return Ok(Err(Refusal::new(None, RefusalKind::NotMime, e.to_string()))),
    };
    drop(canonical);
    let parsed = match PecMessage::parse_in(raw, shared.as_ref()) {
        Ok(p) => p,
        Err(e) => return Ok(Err(Refusal::new(None, RefusalKind::NotPec, e.to_string()))),
    };
    let kind = parsed.kind().clone();
    let daticert = parsed.daticert().cloned();
    let input = describe_pec(&parsed, &kind, daticert.as_ref());
    if !kind.is_pec() {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::NotPec,
            "no X-Trasporto or X-Ricevuta header",
        )));
    }
    if !verdict.present {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::Unsigned,
            verdict.reason.as_deref().unwrap_or("no S/MIME signature"),
        )));
    }
    if !verdict.valid {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::SignatureInvalid,
            verdict.reason.as_deref().unwrap_or("unknown reason"),
        )));
    }
    let trust = smime::trust(
        &verdict,
        &cx.config.trust.pec_anchors,
        &verdict.certificates,
        judge.trust_at,
    );
    if !trust.trusted {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::SignerUntrusted,
            format!(
                "{} (pec_anchors): {}",
                verdict.signer.as_deref().unwrap_or("?"),
                trust.reason.as_deref().unwrap_or("no path")
            ),
        )));
    }
    // 2. The signer is a provider of the index.
    let Some(signer_cert) = &verdict.signer_certificate else {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::NoSignerCertificate,
            "",
        )));
    };
    let owners = match cx.index.check_signer(signer_cert.der()).await {
        Ok(a) => a.owners,
        Err(e) => return Err(super::Error::Index(e.to_string())),
    };
    let Some(owner) = owners.first() else {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::SignerNotProvider,
            format!(
                "{} is not the certificate of any provider in the index",
                verdict.signer.as_deref().unwrap_or("?")
            ),
        )));
    };
    let mut notes = vec![format!("signed by {}", owner.provider.name)];
    drop(shared);
    // 3. The mapping row.
    let (final_notice, errore, errore_esteso) = match &daticert {
        Some(d) => (
            d.is_final_timeout(),
            Some(d.errore.as_str().to_string()),
            d.errore_esteso.clone(),
        ),
        None => (false, None, None),
    };
    let Some(row) = cx.tables.pec_to_rem(
        kind.name(),
        errore.as_deref(),
        errore_esteso.as_deref(),
        final_notice,
    ) else {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::NoMapping,
            format!(
                "no pec-to-rem row for type {} (errore {})",
                kind.name(),
                errore.as_deref().unwrap_or("-")
            ),
        )));
    };
    if cx
        .tables
        .pec_errore_unmatched(kind.name(), errore.as_deref(), row)
    {
        notes.push(format!(
            "daticert errore {:?} has no row of its own for {}: translated by the kind-level row {}",
            errore.as_deref().unwrap_or_default(),
            kind.name(),
            row.id
        ));
    }
    let (Some(event_name), true) = (row.rem.event.as_deref(), row.rem.message != "none") else {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::NotTranslatable,
            format!(
                "{} has no REM translation (mappings row {}: {})",
                kind.name(),
                row.id,
                row.lost
            ),
        )));
    };
    let event = Event::from_name(event_name).unwrap_or_else(|| Event::from_uri(event_name));
    let reasons: Vec<Reason> = row
        .rem
        .reason
        .as_deref()
        .and_then(Reason::from_code)
        .into_iter()
        .collect();
    let dispatch = row.rem.message == "dispatch";
    let now = judge.now;
    // The PEC platform's per-submission statement of the sender's authentication (top
    // header, outside the signature; believed only from the platform).
    let auth = assurance::read_auth_header(cx, raw, origin, &mut notes);
    if dispatch {
        dispatch_from_envelope(
            cx,
            &parsed,
            &kind,
            daticert.as_ref(),
            row,
            event,
            reasons,
            input,
            notes,
            now,
            auth.as_ref(),
            place,
        )
        .await
    } else {
        let Some(d) = daticert else {
            return Ok(Err(Refusal::new(
                Some(&input),
                RefusalKind::Incomplete,
                "a receipt without daticert.xml",
            )));
        };
        notes.push(format!("receipt of the dispatch for {}", d.identificativo));
        receipt_from_pec(cx, &d, row, event, reasons, input, notes, now).await
    }
}

fn describe_pec(p: &PecMessage<'_>, kind: &Kind, d: Option<&Daticert>) -> Described {
    Described {
        format: "pec",
        kind: kind.name().to_string(),
        event: None,
        reasons: Vec::new(),
        errore: d
            .map(|d| d.errore.as_str().to_string())
            .filter(|e| e != "nessuno"),
        message_id: p.message_id().map(str::to_string),
    }
}

/// The bare address of a daticert / header value (`"Name" <a@b>` → `a@b`).
pub fn bare_address(v: &str) -> String {
    let v = v.trim();
    match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => v[a + 1..b].trim().to_string(),
        _ => v.to_string(),
    }
}

fn angle(id: &str) -> String {
    let id = id.trim();
    if id.starts_with('<') {
        id.to_string()
    } else {
        format!("<{id}>")
    }
}

#[allow(clippy::too_many_arguments)]
async fn dispatch_from_envelope(
    cx: &Context,
    parsed: &PecMessage<'_>,
    kind: &Kind,
    daticert: Option<&Daticert>,
    row: &EventRow,
    event: Event,
    reasons: Vec<Reason>,
    input: Described,
    mut notes: Vec<String>,
    now: OffsetDateTime,
    auth: Option<&SubmissionAuth>,
    place: &mut Place<'_>,
) -> Outcome {
    let Some(original) = parsed.postacert_raw() else {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::Incomplete,
            "the envelope carries no postacert.eml",
        )));
    };
    let anomaly = matches!(kind, Kind::BustaAnomalia);
    // The per-submission header is never believed inside the carried message (its sender
    // wrote that part) and never leaves Ponte.
    let stripped = assurance::strip_header(original, assurance::AUTH_HEADER);
    if stripped.is_some() {
        notes.push(format!(
            "{} removed from the carried message (never believed there)",
            assurance::AUTH_HEADER
        ));
    }
    let original: &[u8] = stripped.as_deref().unwrap_or(original);
    // Who and what: the daticert of a transport envelope, the carried message's headers for an
    // anomaly envelope (which has no daticert).
    let carried = match crate::pec::PecMessage::parse(original) {
        Ok(m) => m,
        Err(e) => {
            return Ok(Err(Refusal::new(
                Some(&input),
                RefusalKind::Malformed,
                format!("postacert.eml cannot be read: {e}"),
            )));
        }
    };
    let (sender, recipients, subject, accepted_at) = match daticert {
        Some(d) => (
            bare_address(&d.mittente),
            d.destinatari
                .iter()
                .map(|x| bare_address(&x.address))
                .collect::<Vec<_>>(),
            d.oggetto.clone().unwrap_or_default(),
            d.data,
        ),
        None => (
            carried.from().map(bare_address).unwrap_or_default(),
            carried.to().iter().map(|a| bare_address(a)).collect(),
            carried.subject().unwrap_or_default().to_string(),
            now,
        ),
    };
    // PEC recipients that are ordinary mailboxes (daticert tipo="esterno"): no trusted path.
    let external: Vec<String> = daticert
        .map(|d| {
            d.destinatari
                .iter()
                .filter(|x| x.tipo.as_str() == "esterno")
                .map(|x| bare_address(&x.address))
                .collect()
        })
        .unwrap_or_default();
    if sender.is_empty() || recipients.is_empty() {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::Incomplete,
            "the envelope names no sender or no recipient",
        )));
    }
    // F.3 (ReceivedFromNonERDS) names the system the message came from: the first Received
    // line of the carried message, else its sender's domain.
    let external_system = anomaly.then(|| {
        carried_received(original)
            .unwrap_or_else(|| format!("from {}", sender.rsplit('@').next().unwrap_or(&sender)))
    });
    // Two identifiers on each side (rem.md §4.6, pec.md §1.4): the sender UA's Message-ID
    // (PEC: X-Riferimento-Message-ID and daticert msgid, the access point having put its
    // identificativo in the Message-ID; REM: REM-UAMessageIdentifier and AppLayerIdentifier,
    // EN 319 532-3 §4.3), and the provider's identifier of the message (PEC: the
    // identificativo; REM: the Message-ID and the evidence's MessageIdentifier, MD11 / M01,
    // "the identifier of the original message as generated by the S-ERDS", EN 319 522-2
    // §6.2.11). Each goes to its counterpart.
    let user_id = if anomaly {
        None
    } else {
        sender_message_id(&carried, daticert)
    };
    let rems_id = match daticert.map(|d| d.identificativo.trim()) {
        Some(id) if crate::rem::message::prepare::angle_id("identificativo", id).is_ok() => {
            id.trim_matches(|c| c == '<' || c == '>').to_owned()
        }
        Some(id) => {
            notes.push(format!(
                "the identificativo {id:?} is not a Message-ID: the REM message gets an identifier of Ponte's"
            ));
            cx.rem_identifier(now)
        }
        None => cx.rem_identifier(now),
    };
    let prepared = match crate::rem::message::prepare::prepare_borrowed(
        original,
        &angle(&rems_id),
        user_id.as_deref(),
    ) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Err(Refusal::new(
                Some(&input),
                RefusalKind::Malformed,
                format!("postacert.eml cannot be prepared: {e}"),
            )));
        }
    };
    // What the evidence states about the sender's identity ([holders]); F.3 states nothing
    // (REM baseline I10 is 0 there: the sender is outside any ERDS).
    let sender_assurance = if anomaly {
        None
    } else {
        match assurance::decide(cx, &sender, auth, accepted_at, now, &mut notes).await? {
            Ok(a) => a,
            Err(why) => {
                return Ok(Err(Refusal::new(
                    Some(&input),
                    RefusalKind::HolderUnverified,
                    why,
                )));
            }
        }
    };
    let evidence_id = cx.rem_identifier(now);
    let evidence = super::evidence::EvidenceInput {
        event: event.clone(),
        reasons: reasons.iter().map(|r| (r.clone(), None)).collect(),
        evidence_id: evidence_id.clone(),
        issuer_name: &cx.config.identity.provider_name,
        issuer_country: &cx.config.identity.country,
        policies: &cx.config.policy.applicable,
        sender_email: &sender,
        sender_person_id: Some(person_identifier(&cx.config.identity.country, &sender)),
        sender_assurance: sender_assurance.as_ref().and_then(assurance::to_evidence),
        recipients: &recipients,
        refers_to_recipient: None,
        ua_message_id: &prepared.ua_message_id,
        rems_message_id: &rems_id,
        digest_b64: &prepared.digest_b64,
        submission_time: accepted_at,
        event_time: accepted_at,
        subject: Some(&subject),
        untrusted_recipients: &external,
        external_erds_name: None,
        external_system: external_system.as_deref(),
    };
    let xml = match sign_evidence(cx, &evidence, now, &mut notes).await? {
        Ok(x) => x,
        Err(why) => {
            return Ok(Err(Refusal::new(
                Some(&input),
                RefusalKind::Unbuildable,
                why,
            )));
        }
    };
    let prefix = if anomaly {
        &cx.tables.subjects.rem.from_non_erds
    } else {
        &cx.tables.subjects.rem.dispatch
    };
    let from = format!(
        "\"On behalf of: {sender}\" <{}>",
        cx.config.identity.rem_service_address
    );
    let bytes = assemble(
        cx,
        &RemOut {
            message_type: MessageType::Dispatch,
            event: &event,
            reasons: &reasons,
            evidence_id: &evidence_id,
            xml,
            digest: &prepared.digest_b64,
            ua_message_id: &prepared.ua_message_id,
            sender: &sender,
            // Policy-IT: a dispatch to ordinary mailboxes asks the recipient side for evidence.
            relay_to_non_erds: (!external.is_empty()).then_some("evidence-required"),
            from: &from,
            to: &recipients,
            reply_to: Some(&sender),
            subject: &format!("{prefix}{subject}"),
            original_subject: &subject,
            message_id: &rems_id,
            in_reply_to: None,
            original: Some((
                crate::rem::message::Original::prepared(&prepared),
                prepared.digest,
            )),
        },
        now,
        place,
    )?;
    let record = Record {
        direction: crate::correlate::Direction::PecToRem,
        created: crate::pec::zone::rfc3339(now),
        pec_identificativo: daticert.map(|d| d.identificativo.clone()),
        pec_msgid: daticert
            .and_then(|d| d.msgid.clone())
            .or_else(|| user_id.clone())
            .or_else(|| carried.message_id().map(str::to_string)),
        rem_message_id: Some(angle(&rems_id)),
        rem_ua_message_id: Some(prepared.ua_message_id.clone()),
        evidence_ids: vec![angle(&evidence_id)],
        input: input.message_id.clone().unwrap_or_default(),
        output_message_id: angle(&rems_id),
        kind: "dispatch".into(),
        dispatch: Some(DispatchFacts {
            digest: prepared.digest_b64.clone(),
            submission_time: crate::pec::zone::rfc3339(accepted_at),
            sender: sender.clone(),
            recipients: recipients.clone(),
            subject: subject.clone(),
        }),
        sender_assurance: sender_assurance.clone(),
    };
    cx.store.record(&record)?;
    Ok(Ok(translated(
        MessageType::Dispatch,
        &event,
        &reasons,
        &rems_id,
        bytes,
        input,
        row,
        record,
        notes,
    )))
}

/// `RA01`, or the URI of a reason without a code.
pub fn reason_label(r: &Reason) -> String {
    r.code()
        .map(str::to_string)
        .unwrap_or_else(|| r.uri().to_string())
}

#[allow(clippy::too_many_arguments)]
async fn receipt_from_pec(
    cx: &Context,
    d: &Daticert,
    row: &EventRow,
    event: Event,
    reasons: Vec<Reason>,
    input: Described,
    mut notes: Vec<String>,
    now: OffsetDateTime,
) -> Outcome {
    // The dispatch this receipt is about.
    let mut found = cx.store.find(&d.identificativo)?;
    if let (true, Some(m)) = (found.is_empty(), &d.msgid) {
        found = cx.store.find(m)?;
    }
    let Some((dispatch, facts)) = found
        .into_iter()
        .find_map(|r| r.dispatch.clone().map(|f| (r, f)))
    else {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::UnknownMessage,
            format!(
                "no dispatch recorded for identificativo {} / msgid {}: the REM digest of the original cannot be stated",
                d.identificativo,
                d.msgid.as_deref().unwrap_or("-")
            ),
        )));
    };
    let rems_id = dispatch.rem_message_id.clone().unwrap_or_default();
    let ua = dispatch.rem_ua_message_id.clone().unwrap_or_default();
    let recipients = facts.recipients.clone();
    // C, D and E events are about one recipient: the daticert's consegna, or the only one.
    let per_recipient = row.per_recipient
        || matches!(
            event.clause().and_then(|c| c.chars().next()),
            Some('C' | 'D' | 'E')
        );
    let refers_to = if per_recipient {
        match (d.consegna.as_deref(), recipients.as_slice()) {
            (Some(c), _) => Some(bare_address(c)),
            (None, [only]) => Some(only.clone()),
            (None, _) => {
                return Ok(Err(Refusal::new(
                    Some(&input),
                    RefusalKind::AmbiguousRecipient,
                    "the receipt names no recipient (daticert consegna) and the message had several",
                )));
            }
        }
    } else {
        None
    };
    let about = RemAbout {
        rems_message_id: rems_id.clone(),
        ua_message_id: ua.clone(),
        facts,
        // Every evidence of one message states the same about its sender: what the
        // dispatch's stated.
        sender_assurance: dispatch.sender_assurance.clone(),
    };
    let spec = ReceiptSpec {
        event: event.clone(),
        reasons: reasons.clone(),
        details: d.errore_esteso.clone(),
        refers_to: refers_to.as_deref(),
        // B events name the counterpart: the PEC provider that issued this receipt.
        external_erds: matches!(event.clause().and_then(|c| c.chars().next()), Some('B'))
            .then_some(d.gestore_emittente.as_str()),
        event_time: d.data,
    };
    let issued = match rem_receipt(cx, &about, &spec, now, &mut notes).await? {
        Ok(i) => i,
        Err(why) => {
            return Ok(Err(Refusal::new(
                Some(&input),
                RefusalKind::Unbuildable,
                why,
            )));
        }
    };
    let (evidence_id, own_id, bytes) = (issued.evidence_id, issued.message_id, issued.bytes);
    let record = Record {
        direction: crate::correlate::Direction::PecToRem,
        created: crate::pec::zone::rfc3339(now),
        pec_identificativo: Some(d.identificativo.clone()),
        pec_msgid: d.msgid.clone(),
        rem_message_id: Some(rems_id.clone()),
        rem_ua_message_id: Some(ua),
        evidence_ids: vec![angle(&evidence_id)],
        input: input.message_id.clone().unwrap_or_default(),
        output_message_id: angle(&own_id),
        kind: event.name().to_string(),
        dispatch: None,
        sender_assurance: dispatch.sender_assurance.clone(),
    };
    cx.store.record(&record)?;
    Ok(Ok(translated(
        MessageType::Receipt,
        &event,
        &reasons,
        &own_id,
        bytes,
        input,
        row,
        record,
        notes,
    )))
}

/// What differs between the REM messages Ponte writes.
struct RemOut<'a> {
    message_type: MessageType,
    event: &'a Event,
    reasons: &'a [Reason],
    evidence_id: &'a str,
    xml: Vec<u8>,
    digest: &'a str,
    ua_message_id: &'a str,
    sender: &'a str,
    relay_to_non_erds: Option<&'a str>,
    from: &'a str,
    to: &'a [String],
    reply_to: Option<&'a str>,
    subject: &'a str,
    original_subject: &'a str,
    message_id: &'a str,
    in_reply_to: Option<&'a str>,
    /// The prepared original and its digest.
    original: Option<(crate::rem::message::Original<'a>, [u8; 32])>,
}

/// The REM-* headers, the introduction and the signed message of the REM identity.
fn assemble(
    cx: &Context,
    o: &RemOut<'_>,
    now: OffsetDateTime,
    place: &mut Place<'_>,
) -> Result<Vec<u8>, super::Error> {
    let metadata = RelayMetadata {
        metadata_version: crate::rem::message::METADATA_VERSION.to_string(),
        message_type: o.message_type.clone(),
        event: o.event.clone(),
        evidence_id: angle(o.evidence_id),
        reasons: o.reasons.to_vec(),
        digest_algorithm: SHA256_URI.to_string(),
        digest_value: o.digest.to_string(),
        ua_message_id: o.ua_message_id.to_string(),
        md08: o.sender.to_string(),
        applicable_policies: cx.config.policy.applicable.clone(),
        relay_to_non_erds: o.relay_to_non_erds.map(str::to_string),
        relay_date: None,
        other: Vec::new(),
    };
    let kind = match o.message_type {
        MessageType::Dispatch => "dispatch",
        _ => "receipt",
    };
    let (intro_text, intro_html) = super::texts::introduction(cx, kind, o.original_subject, now);
    let id = &cx.config.identity;
    let in_reply_to = o.in_reply_to.map(angle);
    let message_id = angle(o.message_id);
    let evidences = [(o.event.name().to_string(), o.xml.clone())];
    let parts = crate::rem::message::build::build_parts(&crate::rem::message::build::BuildInput {
        from: o.from,
        to: o.to,
        cc: &[],
        reply_to: o.reply_to,
        subject: o.subject,
        message_id: &message_id,
        date: now,
        in_reply_to: in_reply_to.as_deref(),
        metadata: &metadata,
        intro_text: &intro_text,
        intro_html: &intro_html,
        original: o.original.map(|(b, _)| b),
        original_digest: o.original.map(|(_, d)| d),
        evidences: &evidences,
        key: &id.rem_key,
        cert: &id.rem_cert,
        chain: &id.rem_chain,
        signing_time: now,
    })
    .map_err(|e| super::Error::Build(e.to_string()))?;
    Ok(place.output(parts.head, parts.body, parts.tail))
}

/// The report of a REM message written.
#[allow(clippy::too_many_arguments)]
fn translated(
    message_type: MessageType,
    event: &Event,
    reasons: &[Reason],
    message_id: &str,
    bytes: Vec<u8>,
    input: Described,
    row: &EventRow,
    record: Record,
    notes: Vec<String>,
) -> Translation {
    Translation {
        sender_assurance: record.sender_assurance.clone(),
        timestamps: Vec::new(),
        outputs: vec![super::report::Output {
            bytes,
            described: Described {
                format: "rem",
                kind: match message_type {
                    MessageType::Dispatch => "dispatch".into(),
                    _ => "receipt".into(),
                },
                event: Some(event.name().to_string()),
                reasons: reasons.iter().map(reason_label).collect(),
                errore: None,
                message_id: Some(angle(message_id)),
            },
        }],
        input,
        mapping: row.id.clone(),
        record,
        notes,
    }
}

/// What a REM receipt is about: the REM dispatch (its Message-ID, the user's identifier) and
/// the facts every receipt about it repeats (digest, submission time, parties, subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemAbout {
    /// The dispatch's `Message-ID` (with `<>`).
    pub rems_message_id: String,
    /// Its `REM-UAMessageIdentifier`.
    pub ua_message_id: String,
    /// Digest, T0, sender, recipients, subject.
    pub facts: DispatchFacts,
    /// What the dispatch's evidence stated about the sender's identity (every evidence of
    /// one message states the same), from its correlation record.
    pub sender_assurance: Option<crate::correlate::SenderAssurance>,
}

/// What a REM receipt says.
#[derive(Debug, Clone)]
pub struct ReceiptSpec<'a> {
    /// The event.
    pub event: Event,
    /// Its reasons (at least one for the events that need one).
    pub reasons: Vec<Reason>,
    /// The details written with each reason (e.g. the PEC errore-esteso, or why a dispatch
    /// was rejected).
    pub details: Option<String>,
    /// The recipient a per-recipient event (C, D, E) is about.
    pub refers_to: Option<&'a str>,
    /// The counterpart provider's name, for B events (REM baseline M05).
    pub external_erds: Option<&'a str>,
    /// When the event happened.
    pub event_time: OffsetDateTime,
}

/// A REM receipt made by [`rem_receipt`].
#[derive(Debug, Clone)]
pub struct IssuedReceipt {
    /// The signed REM message (CRLF).
    pub bytes: Vec<u8>,
    /// Its `Message-ID` (without `<>`).
    pub message_id: String,
    /// Its evidence's identifier.
    pub evidence_id: String,
}

/// A signed REM receipt about `about`: the evidence of `spec` (XAdES, time-stamped when a TSA
/// is configured) in a REM message from the REM service address to the dispatch's sender.
/// `Ok(Err(why))`: the evidence rules refuse the facts; `Err`: signing or the TSA failed.
pub async fn rem_receipt(
    cx: &Context,
    about: &RemAbout,
    spec: &ReceiptSpec<'_>,
    now: OffsetDateTime,
    notes: &mut Vec<String>,
) -> Result<Result<IssuedReceipt, String>, super::Error> {
    let facts = &about.facts;
    let (xml, evidence_id) = match receipt_evidence(cx, about, spec, now, notes).await? {
        Ok(x) => x,
        Err(why) => return Ok(Err(why)),
    };
    let prefix = cx
        .tables
        .subjects
        .rem
        .pattern
        .replace("{event}", spec.event.name());
    let own_id = cx.rem_identifier(now);
    let from = format!("<{}>", cx.config.identity.rem_service_address);
    let bytes = assemble(
        cx,
        &RemOut {
            message_type: MessageType::Receipt,
            event: &spec.event,
            reasons: &spec.reasons,
            evidence_id: &evidence_id,
            xml,
            digest: &facts.digest,
            ua_message_id: &about.ua_message_id,
            sender: &facts.sender,
            relay_to_non_erds: None,
            from: &from,
            to: std::slice::from_ref(&facts.sender),
            reply_to: None,
            subject: &format!("{prefix}{}", facts.subject),
            original_subject: &facts.subject,
            message_id: &own_id,
            in_reply_to: Some(&about.rems_message_id),
            original: None,
        },
        now,
        &mut Place::joined(),
    )?;
    Ok(Ok(IssuedReceipt {
        bytes,
        message_id: own_id,
        evidence_id,
    }))
}

/// The signed evidence of `spec` about `about` (XAdES, time-stamped when a TSA is configured)
/// and its identifier, for a REM receipt ([`rem_receipt`]) or to go with a PEC notice (the
/// RelayFailure a sender's ERDS issues when the recipient's cannot be identified).
/// `Ok(Err(why))`: the evidence rules refuse the facts; `Err`: signing or the TSA failed.
pub async fn receipt_evidence(
    cx: &Context,
    about: &RemAbout,
    spec: &ReceiptSpec<'_>,
    now: OffsetDateTime,
    notes: &mut Vec<String>,
) -> Result<Result<(Vec<u8>, String), String>, super::Error> {
    let facts = &about.facts;
    let submitted = OffsetDateTime::parse(
        &facts.submission_time,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap_or(spec.event_time);
    let evidence_id = cx.rem_identifier(now);
    let rems_plain = about
        .rems_message_id
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    let evidence = super::evidence::EvidenceInput {
        event: spec.event.clone(),
        reasons: spec
            .reasons
            .iter()
            .map(|r| (r.clone(), spec.details.clone()))
            .collect(),
        evidence_id: evidence_id.clone(),
        issuer_name: &cx.config.identity.provider_name,
        issuer_country: &cx.config.identity.country,
        policies: &cx.config.policy.applicable,
        sender_email: &facts.sender,
        sender_person_id: Some(person_identifier(
            &cx.config.identity.country,
            &facts.sender,
        )),
        sender_assurance: about
            .sender_assurance
            .as_ref()
            .and_then(assurance::to_evidence),
        recipients: &facts.recipients,
        refers_to_recipient: spec.refers_to,
        ua_message_id: &about.ua_message_id,
        rems_message_id: &rems_plain,
        digest_b64: &facts.digest,
        submission_time: submitted,
        event_time: spec.event_time,
        subject: Some(&facts.subject),
        untrusted_recipients: &[],
        external_erds_name: spec.external_erds,
        external_system: None,
    };
    let xml = match sign_evidence(cx, &evidence, now, notes).await? {
        Ok(x) => x,
        Err(why) => return Ok(Err(why)),
    };
    Ok(Ok((xml, evidence_id)))
}

/// Builds, signs and (when a TSA is configured) time-stamps an evidence. `Ok(Err(why))`: the
/// evidence rules refuse the facts (the input's fault); `Err`: signing or the TSA failed.
async fn sign_evidence(
    cx: &Context,
    input: &super::evidence::EvidenceInput<'_>,
    now: OffsetDateTime,
    notes: &mut Vec<String>,
) -> Result<Result<Vec<u8>, String>, super::Error> {
    let model = match super::evidence::build(input) {
        Ok(m) => m,
        Err(e) => return Ok(Err(format!("the evidence: {e}"))),
    };
    let signed = match &cx.time_stamps {
        TimeStamps::Http { url, options } => {
            super::evidence::sign_with_tsa(
                &model,
                cx.xades_signer(),
                url,
                &crate::tsp::RequestOptions::default(),
                options,
                now,
            )
            .await?
        }
        TimeStamps::None => {
            notes.push("no [tsa] configured: evidence left at XAdES-B-B".into());
            super::evidence::sign(&model, cx.xades_signer(), None, now)?
        }
    };
    Ok(Ok(signed))
}

/// The sender UA's own Message-ID for a transport envelope: the carried original's
/// `X-Riferimento-Message-ID` (where the access point moved it, pec.md §1.4), else the
/// daticert `msgid`; `None` when neither says (the original's Message-ID is then the user's).
fn sender_message_id(carried: &PecMessage<'_>, daticert: Option<&Daticert>) -> Option<String> {
    carried
        .riferimento_message_id()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(angle)
        .or_else(|| {
            daticert
                .and_then(|d| d.msgid.as_deref())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(angle)
        })
}

/// The first `Received:` field of a message, unfolded (each continuation line trimmed and
/// joined by one space).
fn carried_received(raw: &[u8]) -> Option<String> {
    crate::pec::classify::header_fields(raw)?
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Received"))
        .map(|(_, v)| {
            v.split("\r\n")
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|v| !v.is_empty())
}

/// The Policy-IT PersonIdentifier of a PEC user of this gateway: user and provider country
/// are the gateway's (PEC users are Italian).
fn person_identifier(country: &str, email: &str) -> String {
    super::identity::person_identifier(country, country, email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_received_line_is_unfolded() {
        let raw = b"From: a@b.test\r\nReceived: from mx.ext.test (10.0.0.1)\r\n\tby pec.test;\r\n  Tue, 24 Nov 2026\r\nReceived: from other\r\n\r\nbody\r\nReceived: not a header\r\n";
        assert_eq!(
            carried_received(raw).as_deref(),
            Some("from mx.ext.test (10.0.0.1) by pec.test; Tue, 24 Nov 2026")
        );
        assert_eq!(carried_received(b"From: a@b.test\n\nReceived: x\n"), None);
        assert_eq!(
            carried_received(b"Received: from lf.test\n by x\n\n").as_deref(),
            Some("from lf.test by x")
        );
    }
}
