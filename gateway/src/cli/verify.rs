//! `ponte verify FILE [--trust PEM]... [--at RFC3339|signing-time] [--json]`
//!
//! Integrity and trust are two verdicts: exit 0 when the signature is valid (and, with
//! `--trust`, the chain is trusted at the chosen instant), 1 when not (unsigned, tampered,
//! untrusted), 2 when the file cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Failure, Outcome, load_certs, read_file, rfc3339};
use ponte::pec::PecMessage;
use ponte::smime::{self, TrustTime};

/// Arguments of `ponte verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The message (.eml), CRLF or LF line endings.
    pub file: PathBuf,
    /// Trust anchors (PEM, may hold several certificates); repeatable.
    #[arg(long)]
    pub trust: Vec<PathBuf>,
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

    let verdict = smime::verify(&raw).map_err(|e| Failure::at(&args.file, e))?;
    let chain = (!args.trust.is_empty() && verdict.present && verdict.valid)
        .then(|| smime::trust(&verdict, &anchors, &[], at));

    // What was signed is what we describe: the signed entity when there is one, so that a
    // PEC's daticert is read from the bytes the provider vouched for.
    let (format, kind, final_notice, pec) = describe(&raw, &verdict.signed_content);

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

    if args.json {
        let mut out = json!({
            "file": args.file.display().to_string(),
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
        let text = serde_json::to_string_pretty(&out).map_err(|e| Failure(e.to_string()))?;
        println!("{text}");
    } else {
        let state = if ok { "valid" } else { "NOT valid" };
        println!(
            "{}: {format} {kind}: signature {state}{}",
            args.file.display(),
            reason.map(|r| format!(" ({r})")).unwrap_or_default()
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Format ("pec" | "rem" | "mail"), type, whether it is the 24 h final notice, and the PEC
/// details (daticert) when there are some.
fn describe(raw: &[u8], signed: &[u8]) -> (&'static str, String, bool, Option<Value>) {
    if let Some(event) = rem_event(raw) {
        return ("rem", event, false, None);
    }
    let Ok(msg) = PecMessage::parse(raw) else {
        return ("mail", "mail".into(), false, None);
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
