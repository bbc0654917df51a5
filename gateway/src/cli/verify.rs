//! `ponte verify FILE [--trust PEM]... [--tsa-trust PEM]... [--config FILE | --list TL.xml...
//! [--allow-unsigned] [--anchor PEM]...] [--at RFC3339|signing-time] [--json]`
//!
//! Integrity and trust are two verdicts: exit 0 when the signature is valid (and, with
//! `--trust` or trusted lists, the chain is trusted at the chosen instant), 1 when not
//! (unsigned, tampered, untrusted), 2 when the file cannot be read. A REM message is also
//! verified as one (its evidences, the digest of its original, the REM-* header fields of
//! EN 319 532-4 Table C.26): `--json` reports it under `rem`; the exit code stays the S/MIME
//! verdict. With trusted lists (TS 119 612), a signer is also trusted when its certificate
//! is the digital identity of a granted qualified REM service at the instant (the lists act
//! as anchors; `--trust` stays an override), and the time-stamping unit of each evidence's
//! time-stamp is judged as a qualified TSU at its genTime: `trusted_list` objects in the JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::trust::{ListArgs, list_line, optional_lists, rem_signer_by_lists, timestamp_by_lists};
use super::{Failure, Outcome, load_certs, read_file, rfc3339};
use ponte::pec::PecMessage;
use ponte::rem::message as rem;
use ponte::smime::{self, TrustTime};
use ponte::tl::TrustedLists;
use ponte::x509::Certificate;

/// Arguments of `ponte verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The message (.eml), CRLF or LF line endings.
    pub file: PathBuf,
    /// Trust anchors (PEM, may hold several certificates); repeatable. For a REM message
    /// they also judge the evidences' signers.
    #[arg(long)]
    pub trust: Vec<PathBuf>,
    /// Trust anchors for the time-stamps of a REM message's evidences (PEM); repeatable.
    #[arg(long = "tsa-trust")]
    pub tsa_trust: Vec<PathBuf>,
    /// Trusted lists as a further source of trust (as `ponte trust check` takes them).
    #[command(flatten)]
    pub lists: ListArgs,
    /// When to judge the chain: an RFC 3339 instant, or `signing-time` (the CMS signingTime). Default: now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print one JSON object describing the message and the verdicts.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Outcome {
    let raw = read_file(&args.file)?;
    let at = TrustTime::parse(
        args.at.as_deref().unwrap_or("now"),
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| Failure(format!("--at: {e}")))?;
    let anchors = load_certs(&args.trust)?;
    let tsa_anchors = load_certs(&args.tsa_trust)?;
    let lists = optional_lists(&args.lists)?;
    let file = args.file.display().to_string();
    let (out, ok) = report_with(&file, &raw, &anchors, &tsa_anchors, lists.as_ref(), at)
        .map_err(|e| Failure::at(&args.file, e))?;
    if args.json {
        let text = serde_json::to_string_pretty(&out).map_err(|e| Failure(e.to_string()))?;
        println!("{text}");
    } else {
        let state = if ok { "valid" } else { "NOT valid" };
        let show = |v: &Value| v.as_str().unwrap_or("?").to_string();
        println!(
            "{file}: {} {}: signature {state}{}",
            show(&out["format"]),
            show(&out["type"]),
            out["signature"]["reason"]
                .as_str()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
        let listed = &out["signature"]["trusted_list"];
        if !listed.is_null() {
            println!("{file}: trusted list: signer {}", list_line(listed));
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What `ponte verify --json` prints about `raw`, and whether the message is valid (and
/// trusted when `anchors` are given). `Err` when the bytes cannot be read as a message.
pub fn report(
    file: &str,
    raw: &[u8],
    anchors: &[Certificate],
    tsa_anchors: &[Certificate],
    at: TrustTime,
) -> Result<(Value, bool), smime::Error> {
    report_with(file, raw, anchors, tsa_anchors, None, at)
}

/// The instant a signer is judged at: the one given, or the signing time it claims.
fn instant(at: TrustTime, claimed: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match at {
        TrustTime::At(t) => Some(t),
        TrustTime::SigningTime => claimed,
    }
}

/// [`report`] with trusted lists as a further source of trust: the signer (and, for a REM
/// message, each evidence's signer and time-stamping unit) judged by them too, each answer a
/// `trusted_list` object beside the verdict it concerns.
pub fn report_with(
    file: &str,
    raw: &[u8],
    anchors: &[Certificate],
    tsa_anchors: &[Certificate],
    lists: Option<&TrustedLists>,
    at: TrustTime,
) -> Result<(Value, bool), smime::Error> {
    let verdict = smime::verify(raw)?;
    let signed = verdict.present && verdict.valid;
    let anchored =
        (!anchors.is_empty() && signed).then(|| smime::trust(&verdict, anchors, &[], at));
    let (chain, listed) = match lists.filter(|_| signed) {
        Some(l) => {
            let (c, j) = rem_signer_by_lists(
                l,
                verdict.signer_certificate.as_ref(),
                instant(at, verdict.signing_time),
                anchored,
            );
            (Some(c), j)
        }
        None => (anchored, Value::Null),
    };

    // What was signed is what we describe: the signed entity when there is one, so that a
    // PEC's daticert is read from the bytes the provider vouched for.
    let (format, kind, final_notice, pec) = describe(raw, &verdict.signed_content);

    let ok = verdict.present && verdict.valid && chain.as_ref().is_none_or(|c| c.trusted);
    let reason = if !verdict.present {
        Some("the message is not signed".to_string())
    } else if !verdict.valid {
        verdict.reason.clone()
    } else {
        chain.as_ref().filter(|c| !c.trusted).map(|c| {
            format!(
                "chain not trusted: {}",
                c.reason.as_deref().unwrap_or("unknown")
            )
        })
    };
    let mut out = json!({
        "file": file,
        "format": format,
        "type": kind,
        "signature": {
            "present": verdict.present,
            "valid": verdict.present && verdict.valid,
            "digest": verdict.digest,
            "signer": verdict.signer,
            "signing_time": verdict.signing_time.map(rfc3339),
            "chain_trusted": chain.as_ref().map(|c| c.trusted),
            "chain": chain.as_ref().map(|c| json!({"path": c.path, "reason": c.reason})),
            "trusted_list": listed,
            "reason": reason,
            "notes": verdict.notes,
        },
    });
    if final_notice {
        out["final"] = Value::Bool(true);
    }
    if let Some(pec) = pec {
        out["pec"] = pec;
    }
    if format == "rem" {
        out["rem"] = rem_report(raw, anchors, tsa_anchors, lists, at);
    }
    Ok((out, ok))
}

/// Format ("pec" | "rem" | "mail"), type, whether it is the 24 h final notice, and the PEC
/// details (daticert) when there are some.
fn describe(raw: &[u8], signed: &[u8]) -> (&'static str, String, bool, Option<Value>) {
    if let Some(event) = rem_event(raw) {
        return ("rem", event, false, None);
    }
    let msg = match PecMessage::parse(raw) {
        Ok(m) => m,
        Err(e) => {
            // A message with PEC headers whose daticert.xml is refused is still a PEC message
            // of that type: say so, and why its daticert is not reported.
            return match ponte::pec::classify(raw) {
                Ok((_, kind)) if kind.is_pec() => (
                    "pec",
                    kind.name().to_string(),
                    false,
                    Some(json!({
                        "daticert": null,
                        "error": {"kind": pec_error_kind(&e), "message": e.to_string()},
                    })),
                ),
                _ => ("mail", "mail".into(), false, None),
            };
        }
    };
    let kind = msg.kind().clone();
    if !kind.is_pec() {
        return ("mail", "mail".into(), false, None);
    }
    // The daticert of the signed entity when it can be read there, else of the message.
    let inner = (!signed.is_empty())
        .then(|| PecMessage::parse(signed).ok())
        .flatten();
    let daticert = inner
        .as_ref()
        .and_then(|m| m.daticert().cloned())
        .or_else(|| msg.daticert().cloned());
    let final_notice = daticert.as_ref().is_some_and(|d| d.is_final_timeout());
    let mut pec = json!({
        "message_id": msg.message_id(),
        "riferimento_message_id": msg.riferimento_message_id(),
        "subject": msg.subject(),
        "postacert": msg.postacert_raw().is_some(),
    });
    pec["daticert"] = daticert.map(|d| d.to_json()).unwrap_or(Value::Null);
    ("pec", kind.name().to_string(), final_notice, Some(pec))
}

/// The stable name of a PEC reading error (for reports and conformance vectors).
pub fn pec_error_kind(e: &ponte::pec::Error) -> &'static str {
    use ponte::pec::Error as E;
    match e {
        E::MessageUnreadable => "message-unreadable",
        E::DaticertTooLarge { .. } => "daticert-too-large",
        E::DaticertTooDeep { .. } => "daticert-too-deep",
        E::DaticertNotUtf8 { .. } => "daticert-not-utf8",
        E::DaticertDoctype => "daticert-doctype",
        E::DaticertEntity(_) => "daticert-entity",
        E::DaticertMalformed { .. } => "daticert-malformed",
        E::DaticertRoot(_) => "daticert-root",
        E::DaticertMissing(_) => "daticert-missing",
        E::DaticertDate { .. } => "daticert-date",
        E::DaticertEncoding => "daticert-encoding",
        _ => "other",
    }
}

/// A REM message (EN 319 532-3) carries `REM-MetadataVersion` / `REM-MessageType` at the top;
/// its type is the event of the evidence it carries (`REM-EventIdentifier`, last URI segment).
fn rem_event(raw: &[u8]) -> Option<String> {
    let headers = ponte::mime::parse::headers(raw).ok()?;
    let value = |name: &str| {
        headers
            .header_raw(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if value("REM-MetadataVersion").is_none() && value("REM-MessageType").is_none() {
        return None;
    }
    Some(
        value("REM-EventIdentifier")
            .and_then(|uri| uri.rsplit('/').next().map(str::to_string))
            .unwrap_or_else(|| "unknown".into()),
    )
}

/// The `REM-*` fields of the top header as written (name → values in order, unfolded and
/// trimmed), read without judging them: a missing or repeated field shows as such.
fn rem_header_fields(raw: &[u8]) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let mut current: Option<(String, String)> = None;
    let push = |f: Option<(String, String)>, out: &mut serde_json::Map<String, Value>| {
        if let Some((n, v)) = f
            && n.to_ascii_lowercase().starts_with("rem-")
        {
            let entry = out.entry(n).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = entry {
                a.push(Value::String(v.trim().to_string()));
            }
        }
    };
    for line in raw.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if text.starts_with([' ', '\t']) {
            if let Some((_, v)) = current.as_mut() {
                v.push(' ');
                v.push_str(text.trim());
            }
            continue;
        }
        push(current.take(), &mut out);
        current = text
            .split_once(':')
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()));
    }
    push(current, &mut out);
    out
}

/// The stable name of a REM message reading error (for reports and conformance vectors), and
/// the header field it is about.
pub fn rem_error_kind(e: &rem::Error) -> (&'static str, Option<&'static str>) {
    match e {
        rem::Error::OriginalNoHeader => ("original-no-header", None),
        rem::Error::OriginalNoMessageId => ("original-no-message-id", None),
        rem::Error::OriginalManyMessageIds { .. } => ("original-many-message-ids", None),
        rem::Error::OriginalEmptyMessageId => ("original-empty-message-id", None),
        rem::Error::OriginalAlreadyPrepared => ("original-already-prepared", None),
        rem::Error::Mime(_) => ("not-mime", None),
        rem::Error::MissingHeader(h) => ("missing-header", Some(*h)),
        rem::Error::DuplicateHeader { name, .. } => ("duplicate-header", Some(*name)),
        rem::Error::EmptyHeader(h) => ("empty-header", Some(*h)),
        rem::Error::NotMixed(_) => ("not-mixed", None),
        rem::Error::TooManySections { .. } => ("too-many-sections", None),
        rem::Error::BadPart { .. } => ("bad-part", None),
        rem::Error::Smime(_) => ("smime", None),
        _ => ("other", None),
    }
}

fn last_segment(uri: &str) -> String {
    uri.rsplit(['/', '#']).next().unwrap_or(uri).to_string()
}

/// `rem`: the verdict of [`rem::verify_with`] (S/MIME and trust, every evidence, the digest of
/// the original, the user's Message-ID, the header's event and evidence id) and the REM-*
/// fields as written.
fn rem_report(
    raw: &[u8],
    anchors: &[Certificate],
    tsa_anchors: &[Certificate],
    lists: Option<&TrustedLists>,
    at: TrustTime,
) -> Value {
    let headers = rem_header_fields(raw);
    let opts = rem::VerifyOptions {
        anchors: anchors.to_vec(),
        intermediates: Vec::new(),
        tsa_anchors: tsa_anchors.to_vec(),
        at,
    };
    let mut v = match rem::verify_with(raw, &opts) {
        Ok(v) => v,
        Err(e) => {
            let (kind, header) = rem_error_kind(&e);
            return json!({
                "valid": false,
                "headers": headers,
                "error": {"kind": kind, "header": header, "message": e.to_string()},
            });
        }
    };
    let listed = lists.map(|l| by_lists(&mut v, l, !anchors.is_empty(), at));
    let judged = !anchors.is_empty() || lists.is_some();
    let evidences: Vec<Value> = v
        .evidences
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (signer_list, tsu) = listed
                .as_ref()
                .and_then(|l| l.get(i))
                .cloned()
                .unwrap_or((Value::Null, None));
            let r = e.verdict.as_ref();
            let sig = r.map(|r| &r.signature);
            let ts = r.map(|r| &r.timestamp);
            json!({
                "filename": e.filename,
                "valid": e.valid(),
                "trusted": if judged { e.trusted() } else { None },
                "level": sig.and_then(|s| s.level.map(|l| l.to_string())),
                "invalid": sig.and_then(|s| s.invalid.as_ref().map(|i| i.kind())),
                "reason": sig.and_then(|s| s.invalid.as_ref().map(ToString::to_string)),
                "event": e.summary.as_ref().map(|s| s.event.clone()),
                "event_uri": e.summary.as_ref().map(|s| s.event_uri.clone()),
                "reasons": e.summary.as_ref().map(|s| s.reasons.iter().map(|r| r.code.clone().unwrap_or_else(|| r.uri.clone())).collect::<Vec<_>>()),
                "evidence_id": e.summary.as_ref().map(|s| s.evidence_id.clone()),
                "trusted_list": signer_list,
                "timestamp": {
                    "present": ts.map(|t| t.present),
                    "valid": ts.filter(|t| t.present).map(|t| t.valid),
                    "trusted": match &tsu {
                        Some((q, _)) => Some(*q || ts.and_then(|t| t.trusted()) == Some(true)),
                        None => ts.and_then(|t| t.trusted()),
                    },
                    "qualified_tsu": tsu.as_ref().map(|(q, _)| *q),
                    "trusted_list": tsu.map(|(_, j)| j),
                },
                "unreadable": e.unreadable,
            })
        })
        .collect();
    let md = &v.message.metadata;
    json!({
        "valid": v.valid(),
        "headers": headers,
        "message_type": last_segment(&md.message_type.uri()),
        "event": md.event.name(),
        "reasons": md.reasons.iter().map(|r| r.code().map_or_else(|| r.uri().to_string(), str::to_string)).collect::<Vec<_>>(),
        "signed": v.message.signed,
        "smime_trusted": if judged { Some(v.trust.trusted) } else { None },
        "original": v.message.original.is_some(),
        "introduction": v.message.intro_text.is_some(),
        "evidences": evidences,
        "pdf_evidences": v.message.pdf_evidences.len(),
        "extensions": v.message.extensions.len(),
        "digest": {
            "consistent": v.digest.consistent,
            "algorithm": v.digest.algorithm,
            "header_value": v.digest.header_value,
            "recomputed": v.digest.recomputed,
            "problems": v.digest.problems,
        },
        "ua_message_id": {
            "consistent": v.ua_message_id.consistent,
            "problems": v.ua_message_id.problems,
        },
        "header_event_matches": v.header_event_matches,
        "header_evidence_id_matches": v.header_evidence_id_matches,
        "notes": v.message.notes,
    })
}

/// The trusted lists' judgement of a verified REM message, as `ponte serve` makes it: the
/// S/MIME signer and each valid evidence's signer that `anchors_given` did not settle become
/// trusted when they are the digital identity of a granted qualified REM service at the
/// instant (their verdicts in `v` are replaced, so that [`rem::RemVerdict::valid`] counts
/// them); each valid evidence's time-stamping unit is judged as a qualified TSU at its
/// genTime. Per evidence: the signer's `trusted_list` object, and (qualified, object) for the
/// time-stamp.
fn by_lists(
    v: &mut rem::RemVerdict<'_>,
    lists: &TrustedLists,
    anchors_given: bool,
    at: TrustTime,
) -> Vec<(Value, Option<(bool, Value)>)> {
    if v.smime.valid {
        let (c, _) = rem_signer_by_lists(
            lists,
            v.smime.signer_certificate.as_ref(),
            instant(at, v.smime.signing_time),
            anchors_given.then(|| v.trust.clone()),
        );
        v.trust = c;
    }
    let mut out = Vec::with_capacity(v.evidences.len());
    for e in &mut v.evidences {
        let valid = e.valid();
        let Some(r) = e.verdict.as_mut().filter(|_| valid) else {
            out.push((Value::Null, None));
            continue;
        };
        let sig = &mut r.signature;
        let (c, j) = rem_signer_by_lists(
            lists,
            sig.signer.as_ref(),
            instant(at, sig.signing_time),
            sig.chain.take(),
        );
        sig.chain = Some(c);
        let tsu = timestamp_by_lists(lists, &r.timestamp);
        out.push((j, tsu));
    }
    out
}
