//! REM → PEC: a REM message from a trusted REM provider becomes the PEC message an Italian
//! mailbox understands, signed with the PEC identity.
//!
//! Steps (each refusal names the step):
//! 1. the S/MIME signature verifies and its signer is trusted; every evidence verifies
//!    (XAdES) and its signer is trusted; the digests agree (original, header, every
//!    evidence's PartInfo). A signer is trusted when it chains to a `[trust] rem_anchors`
//!    certificate (the override), or, with `[trust] lists` loaded, when its certificate is
//!    the digital identity of a granted qualified REM service (`.../Svctype/EDS/REM/Q`: the
//!    same certificate, the same key, or issued by it) at the instant judged (EN 319 532-4
//!    C.2.3.3.4 post-relay, TS 119 612): `trust_by_lists`;
//! 2. the event and reasons of the main evidence (the one `REM-Evidence-ID` names) select a
//!    `rem-to-pec` mapping row;
//! 3. a dispatch becomes a transport envelope carrying the original as `postacert.eml` (a
//!    ReceivedFromNonERDS dispatch becomes an anomaly envelope); a receipt becomes the mapped PEC
//!    receipt with its daticert filled from the evidence;
//! 4. the evidence is attached as `<Event>.xml` (unless `[output] attach_evidence = false`);
//! 5. the identifiers of both sides are recorded; a receipt is linked to the PEC message it is
//!    about when a PEC → REM translation recorded it.

use super::context::{Context, Judge};
use super::in_place::Place;
use super::receipt::{OriginalFacts, evidence_part, pec_receipt_input};
use super::report::{Described, Outcome, Output, Refusal, RefusalKind, Translation, TsuJudgement};
use super::to_rem::{bare_address, reason_label};
use crate::correlate::{DispatchFacts, Record};
use crate::pec::build::{
    AnomalyInput, Built, EnvelopeInput, ExtraPart, Extras, SUBJECT_KEY_ANOMALY,
    SUBJECT_KEY_ENVELOPE,
};
use crate::rem::evidence::{Evidence, Reason};
use crate::rem::message::MessageType;
use crate::rem::message::verify::{EvidenceCheck, RemVerdict, VerifyOptions};

/// Translates one REM message.
pub async fn translate(cx: &Context, raw: &[u8], judge: &Judge) -> Outcome {
    translate_in(cx, raw, judge, &mut Place::joined()).await
}

/// [`translate`] of an input given away: the transport envelope of a dispatch is written
/// into the input's own buffer (the carried message moved in place), so a large message is
/// held once. Give the buffer some spare capacity (e.g. 256 KiB) and it is not reallocated.
pub async fn translate_owned(cx: &Context, raw: Vec<u8>, judge: &Judge) -> Outcome {
    let mut place = Place::of(&raw);
    let outcome = translate_in(cx, &raw, judge, &mut place).await;
    let pending = place.take();
    super::in_place::finish(outcome, pending, raw)
}

async fn translate_in(cx: &Context, raw: &[u8], judge: &Judge, place: &mut Place<'_>) -> Outcome {
    let mut verdict = match crate::rem::message::verify::verify_with(
        raw,
        &VerifyOptions {
            anchors: cx.config.trust.rem_anchors.clone(),
            intermediates: Vec::new(),
            tsa_anchors: cx.config.trust.tsa_anchors.clone(),
            at: judge.trust_at,
        },
    ) {
        Ok(v) => v,
        Err(e) => return Ok(Err(Refusal::new(None, RefusalKind::NotRem, e.to_string()))),
    };
    let mut notes = Vec::new();
    let timestamps = trust_by_lists(
        &mut verdict,
        cx.trusted_lists().as_ref(),
        !cx.config.trust.rem_anchors.is_empty(),
        judge,
        &mut notes,
    );
    let msg = &verdict.message;
    let meta = &msg.metadata;
    let input = Described {
        format: "rem",
        kind: message_type_name(&meta.message_type),
        event: Some(meta.event.name().to_string()),
        reasons: meta.reasons.iter().map(reason_label).collect(),
        errore: None,
        message_id: msg.message_id.clone(),
    };
    if let Some((kind, why)) = refusal(&verdict, &mut notes) {
        return Ok(Err(Refusal::new(Some(&input), kind, why)));
    }
    let Some(main) = main_evidence(&verdict) else {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::Incomplete,
            "no evidence of the event REM-EventIdentifier names",
        )));
    };
    let Some(main_bytes) = msg
        .evidences
        .iter()
        .find(|p| p.filename == main.filename)
        .map(|p| p.bytes.as_slice())
    else {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::Incomplete,
            "the main evidence part is missing",
        )));
    };
    // Read from the signed content by the verification (else read here).
    let parsed = match main.evidence.as_deref() {
        Some(e) => Ok(e.clone()),
        None => crate::rem::evidence::parse(main_bytes),
    };
    let evidence = match parsed {
        Ok(e) => e,
        Err(e) => {
            return Ok(Err(Refusal::new(
                Some(&input),
                RefusalKind::EvidenceInvalid,
                format!("evidence {} cannot be read: {e}", main.filename),
            )));
        }
    };
    if !matches!(meta.message_type, MessageType::Dispatch)
        && let Some(why) = wrong_service(cx, main, &evidence)?
    {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::EvidenceWrongService,
            why,
        )));
    }
    let event = evidence.event.clone();
    let reasons: Vec<Reason> = evidence.reasons.iter().map(|r| r.reason.clone()).collect();
    let message = match meta.message_type {
        MessageType::Dispatch => "dispatch",
        _ => "receipt",
    };
    let Some(row) = cx.tables.rem_to_pec(&event, &reasons, message) else {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::NoMapping,
            format!(
                "no rem-to-pec row for {message} {} ({})",
                event.name(),
                input.reasons.join(", ")
            ),
        )));
    };
    let now = judge.now;
    let provider = cx.pec_provider();
    // What the evidence states about the sender's identity (REM baseline I10).
    let issuer = evidence.issuer.legal_name_value().map(str::to_owned);
    let sender_assurance = match &evidence.sender.assurance {
        None => None,
        Some(d) => {
            let a = super::assurance::from_evidence(d, issuer.as_deref());
            if a.is_none() {
                notes.push(
                    "the evidence states the sender's assurance in the split form (identity proofing and authentication apart), which Ponte does not read"
                        .into(),
                );
            }
            a
        }
    };
    let attach: Vec<ExtraPart> = if cx.config.attach_evidence {
        vec![evidence_part(&evidence, main_bytes)]
    } else {
        Vec::new()
    };
    // What the PEC side already knows of this message.
    let mut linked: Option<Record> = None;
    let evidence_msg_id = evidence
        .message_identifier
        .as_ref()
        .map(|m| m.value.clone())
        .unwrap_or_default();
    for id in [&evidence_msg_id, &meta.ua_message_id] {
        if id.is_empty() {
            continue;
        }
        let found = cx.store.find(id)?;
        if let Some(r) = found
            .into_iter()
            .find(|r| r.pec_identificativo.is_some() && r.dispatch.is_some())
        {
            linked = Some(r);
            break;
        }
    }
    let mut ids = cx.pec_ids();
    // The envelope of a dispatch: its inner entity is `built[0].inner`, the body of
    // postacert.eml (not copied), then the closing delimiter.
    let stripped: Option<Vec<u8>>;
    let mut rest: Option<(std::borrow::Cow<'_, [u8]>, Vec<u8>)> = None;
    let mut built: Vec<Built> = if message == "dispatch" {
        let Some(original) = &msg.original else {
            return Ok(Err(Refusal::new(
                Some(&input),
                RefusalKind::Incomplete,
                "a dispatch without the original message",
            )));
        };
        // The per-submission authentication header never leaves Ponte.
        stripped = super::assurance::strip_header(original, super::assurance::AUTH_HEADER);
        if stripped.is_some() {
            notes.push(format!(
                "{} removed from the original",
                super::assurance::AUTH_HEADER
            ));
        }
        let original: &[u8] = stripped.as_deref().unwrap_or(original);
        let anomaly = row.pec.kind == "anomalia";
        let assurance_text = [super::assurance::pec_text(
            sender_assurance.as_ref(),
            issuer.as_deref(),
        )];
        let key = if anomaly {
            SUBJECT_KEY_ANOMALY
        } else {
            SUBJECT_KEY_ENVELOPE
        };
        let prefix = cx.tables.pec_subject_prefix(key).unwrap_or_default();
        let r = if anomaly {
            crate::pec::build::anomaly(
                &AnomalyInput {
                    received: original,
                    provider: &provider,
                    at: now,
                    subject_prefix: prefix,
                    extra_parts: &attach,
                },
                &mut ids,
            )
            .map(|built| crate::pec::build::Split {
                built,
                body: std::borrow::Cow::Borrowed(&[][..]),
                after: Vec::new(),
            })
        } else {
            // The sender UA's Message-ID is REM-UAMessageIdentifier (the original's
            // Message-ID is the S-REMS identifier): it becomes msgid and
            // X-Riferimento-Message-ID, as a PEC access point would have written them.
            crate::pec::build::envelope_split(
                &EnvelopeInput {
                    original,
                    provider: &provider,
                    external: &[],
                    at: now,
                    subject_prefix: prefix,
                    extra_parts: &attach,
                },
                &mut ids,
                &Extras {
                    user_message_id: Some(meta.ua_message_id.as_str()),
                    text_notes: &assurance_text,
                },
            )
        };
        match r {
            Ok(split) => {
                rest = Some((split.body, split.after));
                vec![split.built]
            }
            Err(e) => {
                return Ok(Err(Refusal::new(
                    Some(&input),
                    RefusalKind::Malformed,
                    format!("the original cannot become a PEC envelope: {e}"),
                )));
            }
        }
    } else {
        match receipts(cx, &evidence, row, msg, linked.as_ref(), &attach, &mut ids) {
            Ok(b) => b,
            Err(why) => {
                return Ok(Err(Refusal::new(
                    Some(&input),
                    RefusalKind::Unbuildable,
                    why,
                )));
            }
        }
    };
    if message != "dispatch" && linked.is_none() {
        notes.push(
            "no PEC message recorded for this REM message: identificativo and msgid come from the REM identifiers"
                .into(),
        );
    }
    let mut outputs = Vec::with_capacity(built.len());
    for (i, b) in built.iter_mut().enumerate() {
        let id = &cx.config.identity;
        // A receipt states the evidence's event time; its signature is made now (in the
        // buffer of the built entity: a large envelope is not held twice).
        let bytes = match (i, &rest) {
            (0, Some((body, after))) => {
                let (mut head, tail) = b.sign_parts_at(
                    &id.pec_key,
                    &id.pec_cert,
                    &id.pec_chain,
                    now,
                    &[body, after],
                )?;
                head.extend_from_slice(&b.inner);
                let mut t = after.clone();
                t.extend_from_slice(&tail);
                place.output(head, body, t)
            }
            _ => b.take_signed_at(&id.pec_key, &id.pec_cert, &id.pec_chain, now)?,
        };
        outputs.push(Output {
            described: Described {
                format: "pec",
                kind: b.kind.name().to_string(),
                event: None,
                reasons: Vec::new(),
                errore: b
                    .daticert
                    .as_ref()
                    .map(|d| d.errore.as_str().to_string())
                    .filter(|e| e != "nessuno"),
                message_id: Some(format!("<{}>", b.identifier)),
            },
            bytes,
        });
    }
    let Some(first) = built.first() else {
        return Ok(Err(Refusal::new(
            Some(&input),
            RefusalKind::Unbuildable,
            "nothing to build",
        )));
    };
    let d = first.daticert.as_ref();
    let record = Record {
        direction: crate::correlate::Direction::RemToPec,
        created: crate::pec::zone::rfc3339(now),
        pec_identificativo: d.map(|d| d.identificativo.clone()),
        pec_msgid: d.and_then(|d| d.msgid.clone()),
        rem_message_id: msg.message_id.clone(),
        rem_ua_message_id: Some(meta.ua_message_id.clone()),
        evidence_ids: verdict
            .evidences
            .iter()
            .filter_map(|e| e.summary.as_ref().map(|s| s.evidence_id.clone()))
            .collect(),
        input: msg.message_id.clone().unwrap_or_default(),
        output_message_id: format!("<{}>", first.identifier),
        kind: first.kind.name().to_string(),
        dispatch: (message == "dispatch").then(|| DispatchFacts {
            digest: meta.digest_value.clone(),
            submission_time: evidence
                .submission_time
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default(),
            sender: bare_address(&meta.md08),
            recipients: msg.to.iter().map(|a| bare_address(a)).collect(),
            subject: evidence.subject().unwrap_or_default().to_string(),
        }),
        sender_assurance: sender_assurance.clone(),
    };
    cx.store.record(&record)?;
    Ok(Ok(Translation {
        sender_assurance,
        input,
        outputs,
        mapping: row.id.clone(),
        record,
        notes,
        timestamps,
    }))
}

/// Judges through the trusted lists the REM signers `rem_anchors` did not settle: the S/MIME
/// signer (at the instant judged, or its CMS signingTime) and each valid evidence's signer
/// (at the instant judged, or its `xades:SigningTime`) are trusted when their certificate is
/// the digital identity of a granted qualified REM service then; otherwise the reason says
/// why the lists refuse it too. `rem_anchors` stays an override: a signer they trust is not
/// asked about. With no anchors and no lists loaded, an evidence is never left unjudged.
fn trust_by_lists(
    v: &mut RemVerdict,
    lists: Option<&crate::tl::TrustedLists>,
    anchors_given: bool,
    judge: &Judge,
    notes: &mut Vec<String>,
) -> Vec<TsuJudgement> {
    use crate::x509::TrustVerdict;
    let instant = |claimed: Option<time::OffsetDateTime>| match judge.trust_at {
        crate::smime::TrustTime::At(t) => t,
        crate::smime::TrustTime::SigningTime => claimed.unwrap_or(judge.now),
    };
    // The verdict of the lists on one signer; `previous` the reason the anchors gave.
    let ask = |l: &crate::tl::TrustedLists,
               c: &crate::x509::Certificate,
               at: time::OffsetDateTime,
               previous: Option<&str>|
     -> TrustVerdict {
        l.qualified_rem_service(c.der(), at).as_trust(
            c,
            "a granted qualified REM service",
            previous,
        )
    };
    if v.smime.valid
        && !v.trust.trusted
        && let (Some(l), Some(c)) = (lists, v.smime.signer_certificate.as_ref())
    {
        let t = ask(
            l,
            c,
            instant(v.smime.signing_time),
            v.trust.reason.as_deref(),
        );
        if t.trusted {
            notes.push(format!(
                "S/MIME signer {} trusted as {}",
                c.subject,
                t.path.last().map(String::as_str).unwrap_or_default()
            ));
        }
        v.trust = t;
    }
    for e in &mut v.evidences {
        if !e.valid() || e.trusted() == Some(true) {
            continue;
        }
        let name = e.filename.clone();
        let Some(r) = e.verdict.as_mut() else {
            continue;
        };
        let previous = r.signature.chain.as_ref().and_then(|c| c.reason.clone());
        let judged = match (lists, r.signature.signer.as_ref()) {
            (Some(l), Some(c)) => {
                let t = ask(l, c, instant(r.signature.signing_time), previous.as_deref());
                if t.trusted {
                    notes.push(format!(
                        "evidence {name}: signer {} trusted as {}",
                        c.subject,
                        t.path.last().map(String::as_str).unwrap_or_default()
                    ));
                }
                Some(t)
            }
            (Some(_), None) => Some(TrustVerdict {
                trusted: false,
                reason: Some("the signer certificate cannot be read".into()),
                path: Vec::new(),
            }),
            (None, _) if !anchors_given => Some(TrustVerdict {
                trusted: false,
                reason: Some("no rem_anchors and no trusted list loaded".into()),
                path: Vec::new(),
            }),
            (None, _) => None,
        };
        if let Some(j) = judged {
            r.signature.chain = Some(j);
        }
    }
    match lists {
        Some(l) => tsu_by_lists(v, l, notes),
        None => Vec::new(),
    }
}

/// Judges the time-stamping unit of each valid evidence's `SignatureTimeStamp` through the
/// trusted lists: is its certificate (or its issuer) the digital identity of a granted
/// qualified time-stamping service (`.../Svctype/TSA/QTST`) at the token's genTime? The
/// answer is noted (the translation's `notes` and `timestamps`, the message's history), not
/// a refusal: the evidence and its time-stamp stay valid and the TSA trust of `tsa_anchors`
/// is unchanged; only the eIDAS art. 42 presumption of a qualified time (EN 319 522-3
/// evidence time-stamped by a qualified TSA) does not hold, and the note says so.
fn tsu_by_lists(
    v: &RemVerdict,
    lists: &crate::tl::TrustedLists,
    notes: &mut Vec<String>,
) -> Vec<TsuJudgement> {
    let mut judged = Vec::new();
    for e in &v.evidences {
        if !e.valid() {
            continue;
        }
        let Some(ts) = e.verdict.as_ref().map(|r| &r.timestamp) else {
            continue;
        };
        let (Some(token), Some(gen_time)) = (ts.token.as_ref(), ts.time()) else {
            continue;
        };
        let Some(tsu) = token.tsu.as_ref() else {
            continue;
        };
        let q = lists.qualified_tsu(&tsu.der, gen_time);
        let at = crate::pec::zone::rfc3339(gen_time);
        notes.push(match (&q.not_qualified, &q.service) {
            (None, Some(s)) => format!(
                "evidence {}: time-stamp by {} at {at}: a granted qualified time-stamping unit (TSA/QTST) of \"{}\" of \"{}\" in {}{}",
                e.filename,
                tsu.subject,
                s.service_name,
                s.tsp_name,
                s.list,
                s.unverified_mark()
            ),
            (why, _) => format!(
                "evidence {}: time-stamp by {} at {at}: NOT a granted qualified time-stamping unit (TSA/QTST) in the trusted lists at its genTime ({}); the time is not a qualified time-stamp",
                e.filename,
                tsu.subject,
                why.as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "not listed".into())
            ),
        });
        judged.push(TsuJudgement {
            evidence: e.filename.clone(),
            tsu: tsu.subject.clone(),
            gen_time,
            unverified: q.unverified(lists),
            verdict: q,
        });
    }
    judged
}

/// `dispatch`, `receipt`, ... (the last segment of an unknown URI).
fn message_type_name(t: &MessageType) -> String {
    let uri = t.uri();
    uri.rsplit('/').next().unwrap_or(&uri).to_string()
}

/// Why the verified message must not be translated, if it must not. What the signed parts
/// settle is authoritative: a top header that disagrees with the signed evidence (the AgID
/// kit's Outflow receipts) is noted, not refused, since the top header of a multipart/signed
/// message is not covered by its signature.
fn refusal(v: &RemVerdict<'_>, notes: &mut Vec<String>) -> Option<(RefusalKind, String)> {
    if !v.smime.present {
        return Some((RefusalKind::Unsigned, String::new()));
    }
    if !v.smime.valid {
        return Some((
            RefusalKind::SignatureInvalid,
            v.smime
                .reason
                .as_deref()
                .unwrap_or("unknown reason")
                .to_owned(),
        ));
    }
    if !v.trust.trusted {
        return Some((
            RefusalKind::SignerUntrusted,
            format!(
                "{} (rem_anchors, trusted lists): {}",
                v.smime.signer.as_deref().unwrap_or("?"),
                v.trust.reason.as_deref().unwrap_or("no path")
            ),
        ));
    }
    if v.evidences.is_empty() {
        return Some((
            RefusalKind::EvidenceInvalid,
            "the message carries no XML evidence".into(),
        ));
    }
    for e in &v.evidences {
        if let Some(why) = &e.unreadable {
            return Some((
                RefusalKind::EvidenceInvalid,
                format!("evidence {} unreadable: {why}", e.filename),
            ));
        }
        if !e.valid() {
            return Some((
                RefusalKind::EvidenceInvalid,
                format!("evidence {} not valid", e.filename),
            ));
        }
        if e.trusted() == Some(false) {
            return Some((
                RefusalKind::EvidenceInvalid,
                format!(
                    "evidence {} not trusted (rem_anchors, trusted lists){}",
                    e.filename,
                    e.verdict
                        .as_ref()
                        .and_then(|r| r.signature.chain.as_ref())
                        .and_then(|c| c.reason.as_deref())
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    if !v.header_event_matches {
        return Some((
            RefusalKind::EvidenceInvalid,
            "REM-EventIdentifier names no carried evidence".into(),
        ));
    }
    if !v.digest.consistent {
        // With the original attached, its digest must be what the signed evidences state.
        if let Some(recomputed) = &v.digest.recomputed {
            for e in &v.evidences {
                for (_, value) in &e.part_digests {
                    if value.as_deref().is_some_and(|d| d.trim() != recomputed) {
                        return Some((
                            RefusalKind::DigestMismatch,
                            format!(
                                "the attached original digests to {recomputed}, evidence {} states {}",
                                e.filename,
                                value.as_deref().unwrap_or("")
                            ),
                        ));
                    }
                }
            }
        }
        for p in &v.digest.problems {
            notes.push(format!(
                "digest: {p} (the signed evidence is authoritative)"
            ));
        }
    }
    if !v.header_evidence_id_matches {
        notes.push("REM-Evidence-ID is not the carried evidence's identifier".into());
    }
    for p in &v.ua_message_id.problems {
        notes.push(format!("user Message-ID: {p}"));
    }
    None
}

/// The evidence REM-Evidence-ID names, else the first of the event REM-EventIdentifier names.
/// Why the main evidence of a receipt is not acceptable for the service its message was
/// delivered to: when the output it is about (`MessageIdentifierByREMMD`) went to REM peers
/// found by discovery ([`crate::correlate::Store::delivered_services`]), its signer must be
/// the digital identity (the certificate or its public key) of the service of the delivery to
/// the evidence's recipients (of any of those deliveries when it names none of theirs).
/// `None`: acceptable, or nothing was recorded.
fn wrong_service(
    cx: &Context,
    main: &EvidenceCheck,
    evidence: &Evidence,
) -> Result<Option<String>, super::Error> {
    let Some(about) = evidence
        .message_identifier
        .as_ref()
        .map(|m| m.value.as_str())
    else {
        return Ok(None);
    };
    let bound = cx.store.delivered_services(about)?;
    if bound.is_empty() {
        return Ok(None);
    }
    let named: Vec<String> = evidence
        .recipients
        .iter()
        .filter_map(|r| r.mailto_address())
        .map(|a| bare_address(a).to_ascii_lowercase())
        .collect();
    let to_them: Vec<&crate::correlate::DeliveredService> = bound
        .iter()
        .filter(|b| {
            b.recipients
                .iter()
                .any(|r| named.contains(&bare_address(r).to_ascii_lowercase()))
        })
        .collect();
    let candidates = if to_them.is_empty() {
        bound.iter().collect()
    } else {
        to_them
    };
    let services = candidates
        .iter()
        .map(|b| b.describe())
        .collect::<Vec<_>>()
        .join("; ");
    let Some(signer) = main
        .verdict
        .as_ref()
        .and_then(|r| r.signature.signer.as_ref())
    else {
        return Ok(Some(format!(
            "evidence {} about {about}: its signer certificate cannot be read; the message was delivered to {services}",
            main.filename
        )));
    };
    if candidates
        .iter()
        .any(|b| b.is_identity(signer.der(), &signer.spki_der))
    {
        return Ok(None);
    }
    Ok(Some(format!(
        "evidence {} about {about} is signed by {}, which is not the digital identity of the service the message was delivered to: {services}",
        main.filename, signer.subject
    )))
}

fn main_evidence<'v>(v: &'v RemVerdict<'_>) -> Option<&'v EvidenceCheck> {
    let meta = &v.message.metadata;
    let want_id = crate::correlate::normalize_id(&meta.evidence_id);
    let by_id = v.evidences.iter().find(|e| {
        e.summary
            .as_ref()
            .is_some_and(|s| crate::correlate::normalize_id(&s.evidence_id) == want_id)
    });
    by_id.or_else(|| {
        v.evidences.iter().find(|e| {
            e.summary
                .as_ref()
                .is_some_and(|s| s.event_uri == meta.event.uri())
        })
    })
}

/// The PEC receipt(s) a REM receipt's evidence says (one per recipient for delivery results).
#[allow(clippy::too_many_arguments)]
fn receipts(
    cx: &Context,
    evidence: &Evidence,
    row: &crate::mappings::EventRow,
    msg: &crate::rem::message::parse::RemMessage<'_>,
    linked: Option<&Record>,
    attach: &[ExtraPart],
    ids: &mut dyn crate::pec::build::IdentifierSource,
) -> Result<Vec<Built>, String> {
    let facts_linked = linked.and_then(|r| r.dispatch.as_ref());
    let listed: Vec<String> = evidence
        .recipients
        .iter()
        .filter_map(|r| r.mailto_address().map(str::to_string))
        .collect();
    let recipients = if listed.is_empty() {
        facts_linked
            .map(|f| f.recipients.clone())
            .unwrap_or_default()
    } else {
        listed
    };
    let sender = evidence
        .sender
        .mailto_address()
        .map(str::to_string)
        .unwrap_or_else(|| bare_address(&msg.metadata.md08));
    let subject = evidence
        .subject()
        .map(str::to_string)
        .or_else(|| facts_linked.map(|f| f.subject.clone()));
    let submitted = evidence.submission_time.unwrap_or(evidence.event_time);
    // Recipients without a trusted path (ext:UntrustedPathToRecipient, 1-based) are ordinary
    // mailboxes: PEC calls them destinatari tipo="esterno".
    let external: Vec<String> = evidence
        .extensions
        .iter()
        .filter_map(|e| match e {
            crate::rem::evidence::Extension::General { info, .. } => {
                Some(info.untrusted_path_to_recipient.clone())
            }
            _ => None,
        })
        .flatten()
        .filter_map(|k| {
            usize::try_from(k)
                .ok()
                .and_then(|k| k.checked_sub(1))
                .and_then(|i| recipients.get(i).cloned())
        })
        .collect();
    let facts = OriginalFacts {
        subject: subject.as_deref(),
        sender: &sender,
        recipients: &recipients,
        external: &external,
        ua_message_id: &msg.metadata.ua_message_id,
        rems_message_id: msg.message_id.as_deref().unwrap_or_default(),
        submission_time: submitted,
        original: None,
        ricevuta: None,
    };
    let plans = pec_receipt_input(evidence, row, &facts).map_err(|e| e.to_string())?;
    let provider = cx.pec_provider();
    let mut out = Vec::with_capacity(plans.len());
    for mut plan in plans {
        // Linked to the PEC envelope this gateway translated: the PEC identifiers win.
        if let Some(r) = linked {
            if let Some(id) = &r.pec_identificativo {
                plan.envelope.identificativo = id.clone();
            }
            if r.pec_msgid.is_some() {
                plan.envelope.msgid = r.pec_msgid.clone();
            }
        }
        let key = plan.kind.subject_key(&plan.errore);
        let prefix = cx.tables.pec_subject_prefix(key).unwrap_or_default();
        let input = plan.input(&provider, prefix, attach, None);
        out.push(crate::pec::build::receipt(&input, ids).map_err(|e| e.to_string())?);
    }
    Ok(out)
}
