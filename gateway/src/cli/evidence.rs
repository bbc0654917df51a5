//! `ponte evidence verify` and `ponte evidence sign`: XAdES signatures on ERDS evidence.
//!
//! * `ponte evidence verify FILE.xml [--trust PEM]... [--tsa-trust PEM]... [--config FILE |
//!   --list TL.xml... [--allow-unsigned] [--anchor PEM]...] [--at RFC3339|signing-time] [--json]`
//!   exit 0 = signature valid (and chain trusted when `--trust` or trusted lists are given),
//!   1 = not (also when the signed content is not an ERDS evidence: `evidence_error` says
//!   why), 2 = unreadable input or usage error. The evidence fields are parsed from the signed
//!   octets only, so they are `null` when the signature is not valid. With trusted lists the
//!   signer is also trusted when it is the digital identity of a granted qualified REM service
//!   at the instant, and the time-stamping unit is judged as a qualified TSU at its genTime
//!   (`signature.trusted_list`, `timestamp.qualified_tsu`, `timestamp.trusted_list`).
//! * `ponte evidence sign IN.xml --key KEY.pem|pkcs11:URI --cert CERT.pem [--chain PEM]... [--tsa URL] [-o OUT]`
//!   signs an unsigned evidence: XAdES-B-B, or B-T with `--tsa`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::trust::{ListArgs, list_line, optional_lists, rem_signer_by_lists, timestamp_by_lists};
use super::{Failure, Outcome, load_certs, load_key, read_file, rfc3339, write_output};
use ponte::rem::evidence;
use ponte::tl::TrustedLists;
use ponte::xades::{self, At, Report, SignOptions, Signer, VerifyOptions};

/// `ponte evidence ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify the XAdES signature of an ERDS evidence and describe the evidence it covers.
    Verify(VerifyArgs),
    /// Sign an unsigned ERDS evidence (XAdES-B-B, or B-T with --tsa).
    Sign(SignArgs),
    /// Extend a signed evidence to XAdES-B-LT (validation data) or B-LTA (archive time-stamp).
    Extend(super::evidence_extend::ExtendArgs),
}

/// Arguments of `ponte evidence verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The evidence (XML, UTF-8).
    pub file: PathBuf,
    /// Trust anchors for the signer (PEM, may hold several certificates); repeatable.
    #[arg(long)]
    pub trust: Vec<PathBuf>,
    /// Trust anchors for the time-stamping authority (PEM); repeatable.
    #[arg(long = "tsa-trust")]
    pub tsa_trust: Vec<PathBuf>,
    /// Trusted lists as a further source of trust (as `ponte trust check` takes them).
    #[command(flatten)]
    pub lists: ListArgs,
    /// When to judge the chains: an RFC 3339 instant, or `signing-time` (xades:SigningTime).
    /// Default: now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print one JSON object describing the evidence and the verdicts.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `ponte evidence sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The unsigned evidence (XML, UTF-8).
    pub input: PathBuf,
    /// The signing key: a PKCS#8 PEM file (RSA or ECDSA P-256), or a `pkcs11:` URI (RFC 7512)
    /// naming a key in a token.
    #[arg(long)]
    pub key: PathBuf,
    /// The signing certificate (PEM; the first certificate is used).
    #[arg(long)]
    pub cert: PathBuf,
    /// Chain certificates to put in KeyInfo (PEM); repeatable.
    #[arg(long)]
    pub chain: Vec<PathBuf>,
    /// Time-stamp the signature at this RFC 3161 TSA (http URL), making it XAdES-B-T.
    #[arg(long)]
    pub tsa: Option<String>,
    /// Where to write the signed evidence (default: stdout).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

/// Runs `ponte evidence ...`.
pub fn run(cmd: Command) -> Outcome {
    match cmd {
        Command::Verify(args) => verify(args),
        Command::Sign(args) => sign(args),
        Command::Extend(args) => super::evidence_extend::extend(args),
    }
}

fn verify(args: VerifyArgs) -> Outcome {
    let at = match args.at.as_deref() {
        None => At::Instant(OffsetDateTime::now_utc()),
        Some("signing-time") => At::SigningTime,
        Some(s) => At::Instant(OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
            Failure(format!(
                "--at {s:?}: expected an RFC 3339 instant or signing-time ({e})"
            ))
        })?),
    };
    let opts = VerifyOptions {
        anchors: load_certs(&args.trust)?,
        intermediates: Vec::new(),
        tsa_anchors: load_certs(&args.tsa_trust)?,
        at,
    };
    let lists = optional_lists(&args.lists)?;
    let bytes = read_file(&args.file)?;
    let (out, ok) =
        report_with(&bytes, &opts, lists.as_ref()).map_err(|e| Failure::at(&args.file, e))?;
    if args.json {
        println!("{out}");
    } else {
        print_text(&args.file, &out);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What `ponte evidence verify --json` prints about `bytes`, and whether the signature is
/// valid (and trusted when anchors are given) over an ERDS evidence. `Err` when the bytes
/// are not XML the verifier reads at all. With long-term validation data (B-LT, B-LTA) the
/// verdict is the long-term one (`long_term` in the object).
pub fn report(bytes: &[u8], opts: &VerifyOptions) -> Result<(Value, bool), xades::Error> {
    report_with(bytes, opts, None)
}

/// [`report`] with trusted lists as a further source of trust: the signer is trusted too
/// when its certificate is the digital identity of a granted qualified REM service at the
/// instant the chain is judged (the anchors' verdict, when they trust, stays), and the
/// time-stamping unit is judged as a qualified TSU at the token's genTime; each answer is a
/// `trusted_list` object beside the verdict it concerns.
pub fn report_with(
    bytes: &[u8],
    opts: &VerifyOptions,
    lists: Option<&TrustedLists>,
) -> Result<(Value, bool), xades::Error> {
    let (mut report, mut long_term) = xades::longterm::verify(bytes, opts)?;
    let listed = match lists {
        Some(l) if report.signature.valid() => {
            Some(by_lists(l, &mut report, long_term.as_mut(), opts))
        }
        _ => None,
    };
    let judged = !opts.anchors.is_empty() || lists.is_some();
    let parsed = report.signed_content().map(evidence::parse);
    let (summary, evidence_error, parts) = match parsed {
        Some(Ok(ev)) => (Some(ev.summary()), None, Some(components(&ev))),
        Some(Err(e)) => (
            None,
            Some(format!("the signed content is not an ERDS evidence: {e}")),
            None,
        ),
        None => (None, None, None),
    };
    let chain_ok = match &long_term {
        Some(lt) => lt.trusted(),
        None => !judged || report.signature.chain.as_ref().is_some_and(|c| c.trusted),
    };
    let ok = report.signature.valid() && chain_ok && evidence_error.is_none();
    let mut out = describe(&report, summary.as_ref(), evidence_error.as_deref(), judged);
    if let (Some(c), Some(o)) = (parts, out.as_object_mut()) {
        o.insert("components".into(), c);
    }
    if let Some(lt) = &long_term {
        super::evidence_extend::describe_long_term(&mut out, lt, judged);
    }
    if let Some((signer, tsu)) = listed {
        out["signature"]["trusted_list"] = signer;
        if let Some((q, j)) = tsu {
            if q {
                out["timestamp"]["trusted"] = Value::Bool(true);
            } else if out["timestamp"]["trusted"].is_null() {
                out["timestamp"]["trusted"] = Value::Bool(false);
            }
            out["timestamp"]["qualified_tsu"] = Value::Bool(q);
            out["timestamp"]["trusted_list"] = j;
        }
    }
    Ok((out, ok))
}

/// The lists' judgement of a valid signature: the signer as a qualified REM service at the
/// instant its chain is judged (the long-term one, when there is validation data), its
/// chain verdict replaced by the one with the lists as anchors; the time-stamping unit of a
/// valid time-stamp as a qualified TSU at its genTime. The signer's `trusted_list` object and
/// (qualified, object) for the time-stamp.
fn by_lists(
    lists: &TrustedLists,
    report: &mut Report,
    long_term: Option<&mut xades::longterm::LongTerm>,
    opts: &VerifyOptions,
) -> (Value, Option<(bool, Value)>) {
    let sig = &mut report.signature;
    let claimed = match opts.at {
        At::Instant(t) => Some(t),
        At::SigningTime => sig.signing_time,
    };
    let (at, anchored) = match &long_term {
        Some(lt) => (Some(lt.judged_at), lt.chain.clone()),
        None => (sig.judged_at.or(claimed), sig.chain.take()),
    };
    let (chain, signer) = rem_signer_by_lists(lists, sig.signer.as_ref(), at, anchored);
    if let Some(lt) = long_term {
        lt.chain = Some(chain.clone());
    }
    sig.chain = Some(chain);
    (signer, timestamp_by_lists(lists, &report.timestamp))
}

/// The components of an evidence whose presence EN 319 532-4 Table C.27 fixes per event
/// (`components` of `--json`), as read from the signed octets.
fn components(ev: &evidence::Evidence) -> Value {
    let uci = ev.user_content_info.as_ref();
    let extensions: Vec<&str> = ev
        .extensions
        .iter()
        .map(|e| match e {
            evidence::Extension::General { .. } => "general",
            evidence::Extension::Relay { .. } => "relay",
            evidence::Extension::Unknown { .. } => "unknown",
        })
        .collect();
    let untrusted: Vec<u64> = ev
        .extensions
        .iter()
        .flat_map(|e| match e {
            evidence::Extension::General { info, .. } => info.untrusted_path_to_recipient.clone(),
            _ => Vec::new(),
        })
        .collect();
    let relay_refers_to: Vec<u64> = ev
        .extensions
        .iter()
        .flat_map(|e| match e {
            evidence::Extension::Relay { info, .. } => info.refers_to.clone(),
            _ => Vec::new(),
        })
        .collect();
    json!({
        "version": ev.version,
        "issuer_policy_ids": ev.issuer_policy_ids,
        "issuer": {"legal_name": ev.issuer.legal_name_value()},
        "sender": ev.sender.mailto_address(),
        "sender_person_id": ev.sender.person_identifier(),
        "recipients": ev.recipients.iter().map(|r| r.mailto_address()).collect::<Vec<_>>(),
        "submission_time": ev.submission_time.map(rfc3339),
        "refers_to_recipient": ev.refers_to_recipient,
        "message_identifier": ev.message_identifier.as_ref().map(|m| m.value.clone()),
        "app_layer_identifier": uci.and_then(|u| u.app_layer_identifier.clone()),
        "parts": uci.map(|u| u.parts.iter().map(|p| json!({
            "identifier": p.identifier,
            "content_type": p.content_type,
            "digest_method": p.digest_method,
            "digest_value": p.digest_value,
        })).collect::<Vec<_>>()),
        "forwarded_to_external_system": ev.forwarded_to_external_system,
        "external_erds": ev.external_erds.as_ref().map(|e| json!({"legal_name": e.legal_name_value()})),
        "extensions": extensions,
        "untrusted_path_to_recipient": untrusted,
        "relay_refers_to": relay_refers_to,
        "subject": ev.subject(),
        "unknown_critical_extension": ev.has_unknown_critical_extension(),
    })
}

fn describe(
    report: &Report,
    summary: Option<&evidence::EvidenceSummary>,
    evidence_error: Option<&str>,
    judged: bool,
) -> Value {
    let sig = &report.signature;
    let chain_trusted = if judged {
        sig.chain.as_ref().map(|c| c.trusted)
    } else {
        None
    };
    let reason = sig
        .invalid
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| {
            sig.chain
                .as_ref()
                .filter(|c| !c.trusted)
                .and_then(|c| c.reason.clone())
                .map(|r| format!("chain not trusted: {r}"))
        })
        .or_else(|| evidence_error.map(str::to_owned));
    let ts = &report.timestamp;
    let info = ts.token.as_ref().and_then(|t| t.info.as_ref());
    let mut v = json!({
        "event": summary.map(|s| s.event.clone()),
        "event_uri": summary.map(|s| s.event_uri.clone()),
        "reasons": summary.map(|s| serde_json::to_value(&s.reasons).unwrap_or(Value::Null)),
        "evidence_id": summary.map(|s| s.evidence_id.clone()),
        "event_time": summary.map(|s| s.event_time.clone()),
        "signature": {
            "valid": sig.valid(),
            "level": sig.level.map(|l| l.to_string()),
            "signer": sig.signer.as_ref().map(|c| c.subject.clone()),
            "signing_time": sig.signing_time.map(rfc3339),
            "judged_at": sig.judged_at.map(rfc3339),
            "chain_trusted": chain_trusted,
            "chain": sig.chain.as_ref().map(|c| c.path.clone()),
            "invalid": sig.invalid.as_ref().map(|i| i.kind()),
            "reason": reason,
        },
        "timestamp": {
            "present": ts.present,
            "valid": if ts.present { Some(ts.valid) } else { None },
            "trusted": ts.trusted(),
            "time": ts.time().map(rfc3339),
            "policy": info.map(|i| i.policy.to_string()),
            "qualified": ts.token.as_ref().map(|t| t.qualified),
            "tsa": ts.token.as_ref().and_then(|t| t.tsu.as_ref()).map(|u| u.subject.clone()),
            "reason": ts.reason.clone(),
        },
    });
    if let (Some(e), Some(obj)) = (evidence_error, v.as_object_mut()) {
        obj.insert("evidence_error".into(), Value::String(e.to_owned()));
    }
    v
}

fn print_text(file: &Path, v: &Value) {
    let s = &v["signature"];
    let t = &v["timestamp"];
    let show = |x: &Value| match x {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("file:       {}", file.display());
    println!(
        "event:      {} ({})",
        show(&v["event"]),
        show(&v["event_uri"])
    );
    println!(
        "evidence:   {} at {}",
        show(&v["evidence_id"]),
        show(&v["event_time"])
    );
    if let Some(reasons) = v["reasons"].as_array() {
        for r in reasons {
            println!(
                "reason:     {} {} {}",
                show(&r["code"]),
                show(&r["uri"]),
                show(&r["text"])
            );
        }
    }
    println!(
        "signature:  valid={} level={} signer={}",
        show(&s["valid"]),
        show(&s["level"]),
        show(&s["signer"])
    );
    println!(
        "chain:      trusted={} at {}",
        show(&s["chain_trusted"]),
        show(&s["judged_at"])
    );
    println!(
        "timestamp:  present={} valid={} trusted={} time={} policy={} qualified={}",
        show(&t["present"]),
        show(&t["valid"]),
        show(&t["trusted"]),
        show(&t["time"]),
        show(&t["policy"]),
        show(&t["qualified"])
    );
    if !s["trusted_list"].is_null() {
        println!("signer in trusted list: {}", list_line(&s["trusted_list"]));
    }
    if !t["trusted_list"].is_null() {
        println!("TSU in trusted list:    {}", list_line(&t["trusted_list"]));
    }
    if !s["reason"].is_null() {
        println!("reason:     {}", show(&s["reason"]));
    }
}

fn sign(args: SignArgs) -> Outcome {
    let input = read_file(&args.input)?;
    let key = load_key(&args.key)?;
    let cert = load_certs(std::slice::from_ref(&args.cert))?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::at(&args.cert, "no certificate"))?;
    let chain = load_certs(&args.chain)?;
    let signer = Signer::new(key, cert, chain)
        .map_err(|e| Failure(format!("{}: {e}", super::key_label(&args.key))))?;
    let opts = SignOptions {
        signing_time: OffsetDateTime::now_utc(),
        id: None,
    };
    let mut signed =
        xades::sign_b_b(&input, &signer, &opts).map_err(|e| Failure::at(&args.input, e))?;
    if let Some(url) = &args.tsa {
        let data = xades::timestamp_data(&signed).map_err(|e| Failure::at(&args.input, e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure(format!("tokio runtime: {e}")))?;
        let (token, _) = runtime
            .block_on(ponte::tsp::timestamp(
                url,
                ponte::tsp::Imprint::sha256(&data),
                &ponte::tsp::RequestOptions::default(),
                &ponte::tsp::ClientOptions::default(),
            ))
            .map_err(|e| Failure(format!("{url}: {e}")))?;
        signed = xades::augment_b_t(&signed, &token).map_err(|e| Failure::at(&args.input, e))?;
    }
    write_output(args.output.as_ref(), &signed)?;
    Ok(ExitCode::SUCCESS)
}
