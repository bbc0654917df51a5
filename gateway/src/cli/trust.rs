//! `ponte trust check|sync|show`: the trusted lists (TS 119 612) and REM peer discovery
//! (EN 319 532-4 common service interface).
//!
//! * `ponte trust check CERT.pem (--config FILE | --list TL.xml... [--allow-unsigned] [--anchor PEM]...) [--at T] [--json]`
//!   exit 0 when the certificate is the digital identity of a granted qualified REM service
//!   (or a qualified time-stamping unit) at T (default now), 1 when not, 2 unreadable input.
//! * `ponte trust sync --config FILE [--json]`: fetch, verify and cache every list; exit 0
//!   when every list was fetched and accepted, 1 when one is refused or unreachable (the
//!   cached copy then answers), 2 when the configuration is unreadable.
//! * `ponte trust show DOMAIN... (--config FILE | --list ...) [--dns ADDR]... [--at T] [--json]`:
//!   MX → supply point → service → status → capability document, per domain; exit 0 when
//!   every domain is served by a granted qualified REM service, 1 otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Failure, Outcome, load_cert, load_certs, rfc3339};
use ponte::fetch::Fetcher;
use ponte::tl::{self, ListOutcome, LoadMode, LoadReport, Sources, Wanted};
use ponte::x509::{Certificate, TrustVerdict};

/// `ponte trust ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Is this certificate a granted qualified REM service (or qualified TSA unit) at T?
    Check(CheckArgs),
    /// Fetch, verify and cache the configured trusted lists.
    Sync(SyncArgs),
    /// Discover the REM service of domains: MX, supply point, service, status, capabilities.
    Show(ShowArgs),
}

/// Where the lists come from.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The gateway configuration (its `[trust]` lists, anchors and cache).
    #[arg(long, conflicts_with_all = ["list", "allow_unsigned", "anchor"])]
    pub config: Option<PathBuf>,
    /// A trusted list or list of lists (file or http(s) URL); repeatable.
    #[arg(long)]
    pub list: Vec<String>,
    /// Accept unsigned lists and lists whose signer is not an anchor (tests only).
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Who may sign the lists given with --list (PEM); repeatable.
    #[arg(long)]
    pub anchor: Vec<PathBuf>,
}

/// Arguments of `ponte trust check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The certificate (PEM).
    pub cert: PathBuf,
    #[command(flatten)]
    pub lists: ListArgs,
    /// The instant to judge at (RFC 3339). Default: now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `ponte trust sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The gateway configuration.
    #[arg(long)]
    pub config: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `ponte trust show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The recipient domains.
    #[arg(required = true)]
    pub domains: Vec<String>,
    #[command(flatten)]
    pub lists: ListArgs,
    /// DNS server for the MX look-ups (IP[:port]); repeatable. Default: `[trust] dns_servers`,
    /// else the system's resolvers.
    #[arg(long)]
    pub dns: Vec<String>,
    /// The instant to judge at (RFC 3339). Default: now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print one JSON object per domain (one per line).
    #[arg(long)]
    pub json: bool,
}

/// Runs `ponte trust ...`.
pub fn run(cmd: Command) -> Outcome {
    match cmd {
        Command::Check(a) => check(a),
        Command::Sync(a) => sync(a),
        Command::Show(a) => super::trust_show::show(a),
    }
}

pub(crate) fn parse_at(at: Option<&str>) -> Result<OffsetDateTime, Failure> {
    match at {
        None | Some("now") => Ok(OffsetDateTime::now_utc()),
        Some(s) => OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|e| Failure(format!("--at {s:?}: expected an RFC 3339 instant ({e})"))),
    }
}

/// The sources and the DNS servers of the configuration or of the command line.
pub(crate) fn sources(a: &ListArgs) -> Result<(Sources, Vec<SocketAddr>, LoadMode), Failure> {
    if let Some(path) = &a.config {
        let config = ponte::config::Config::load(path).map_err(|e| Failure(e.to_string()))?;
        let l = &config.trust.lists;
        if l.lists.is_empty() {
            return Err(Failure::at(
                path,
                "trust.lists is empty: no trusted list is configured",
            ));
        }
        return Ok((l.sources(), l.dns_servers.clone(), LoadMode::PreferCache));
    }
    if a.list.is_empty() {
        return Err(Failure("give --config FILE or at least one --list".into()));
    }
    Ok((
        Sources {
            lists: a.list.clone(),
            anchors: load_certs(&a.anchor)?,
            allow_unsigned: a.allow_unsigned,
            cache_dir: None,
            refresh: Duration::from_secs(0),
            base_dir: None,
        },
        Vec::new(),
        LoadMode::Fetch,
    ))
}

pub(crate) fn load(
    sources: &Sources,
    mode: LoadMode,
    now: OffsetDateTime,
) -> Result<LoadReport, Failure> {
    let fetcher = Fetcher::default();
    Fetcher::block_on(tl::load(sources, &fetcher, mode, now)).map_err(|e| Failure(e.to_string()))
}

fn outcome_name(o: &ListOutcome) -> &'static str {
    match o {
        ListOutcome::Fetched => "fetched",
        ListOutcome::Cached { because: None } => "cached",
        ListOutcome::Cached { because: Some(_) } => "cached-fallback",
        ListOutcome::Refused(_) => "refused",
    }
}

pub(crate) fn list_statuses(report: &LoadReport) -> Value {
    Value::Array(
        report
            .statuses
            .iter()
            .map(|s| {
                let l = s.loaded.as_ref();
                json!({
                    "source": s.source,
                    "pointed_by": s.pointed_by,
                    "outcome": outcome_name(&s.outcome),
                    "reason": match &s.outcome {
                        ListOutcome::Refused(r) => Some(r.to_string()),
                        ListOutcome::Cached { because } => because.clone(),
                        ListOutcome::Fetched => None,
                    },
                    "age_seconds": s.age.map(|a| a.as_secs()),
                    "stale": s.stale,
                    "verified": l.map(|l| l.trust.is_verified()),
                    "trust": l.map(|l| match &l.trust {
                        tl::ListTrust::Verified { signer, key_from } =>
                            format!("signed by {signer} (key from {key_from})"),
                        tl::ListTrust::NotVerified(why) => format!("NOT VERIFIED: {why}"),
                    }),
                    "territory": l.map(|l| l.list.territory.clone()),
                    "sequence": l.map(|l| l.list.sequence),
                    "issued": l.map(|l| rfc3339(l.list.issued)),
                    "next_update": l.and_then(|l| l.list.next_update.map(rfc3339)),
                    "services": l.map(|l| l.list.providers.iter().map(|p| p.services.len()).sum::<usize>()),
                })
            })
            .collect(),
    )
}

/// The lists of `--config` or `--list` for the verify commands, where they are optional:
/// `None` when neither is given. A list refused is said on stderr; the answers then come
/// from the others (none: every certificate is "not listed").
pub(crate) fn optional_lists(a: &ListArgs) -> Result<Option<tl::TrustedLists>, Failure> {
    if a.config.is_none() && a.list.is_empty() {
        if a.allow_unsigned || !a.anchor.is_empty() {
            return Err(Failure(
                "--allow-unsigned and --anchor need --list (or give --config)".into(),
            ));
        }
        return Ok(None);
    }
    let (sources, _, mode) = sources(a)?;
    let report = load(&sources, mode, OffsetDateTime::now_utc())?;
    for s in &report.statuses {
        if let ListOutcome::Refused(r) = &s.outcome {
            eprintln!("ponte: trusted list {} refused: {r}", s.source);
        }
    }
    Ok(Some(report.lists))
}

/// What the lists say of a REM signer (S/MIME or XAdES) at `at`, for the verify commands:
/// the chain verdict with the lists as anchors, and the `trusted_list` object (`null` when the
/// signer or the instant is missing). `chain` is the PEM anchors' verdict (`None` when none
/// were given): one that trusts stays (the override); otherwise the lists decide.
pub(crate) fn rem_signer_by_lists(
    lists: &tl::TrustedLists,
    signer: Option<&Certificate>,
    at: Option<OffsetDateTime>,
    chain: Option<TrustVerdict>,
) -> (TrustVerdict, Value) {
    let (Some(cert), Some(at)) = (signer, at) else {
        let why = if signer.is_none() {
            "trusted lists: the signer certificate cannot be read"
        } else {
            "trusted lists: the signature has no signing time to judge at"
        };
        let chain = chain.filter(|c| c.trusted).unwrap_or_else(|| TrustVerdict {
            trusted: false,
            reason: Some(why.into()),
            path: Vec::new(),
        });
        return (chain, Value::Null);
    };
    let verdict = lists.qualified_rem_service(cert.der(), at);
    let json = verdict.to_json(verdict.unverified(lists));
    let chain = match chain {
        Some(c) if c.trusted => c,
        other => verdict.as_trust(
            cert,
            "a granted qualified REM service",
            other.as_ref().and_then(|c| c.reason.as_deref()),
        ),
    };
    (chain, json)
}

/// What the lists say of a time-stamping unit (its certificate, DER) at the token's genTime:
/// whether it is a granted qualified TSU (`.../Svctype/TSA/QTST`), why not, and the
/// `trusted_list` object.
pub(crate) fn tsu_by_lists(
    lists: &tl::TrustedLists,
    tsu_der: &[u8],
    gen_time: OffsetDateTime,
) -> (bool, Option<String>, Value) {
    let verdict = lists.qualified_tsu(tsu_der, gen_time);
    (
        verdict.qualified(),
        verdict
            .not_qualified
            .as_ref()
            .map(|n| format!("trusted lists: {n}")),
        verdict.to_json(verdict.unverified(lists)),
    )
}

/// [`tsu_by_lists`] for the TSU of a valid XAdES `SignatureTimeStamp`, at its genTime:
/// (qualified, `trusted_list` object); `None` when there is no valid token with a TSU.
pub(crate) fn timestamp_by_lists(
    lists: &tl::TrustedLists,
    ts: &ponte::xades::TimestampVerdict,
) -> Option<(bool, Value)> {
    match (ts.token.as_ref().and_then(|t| t.tsu.as_ref()), ts.time()) {
        (Some(u), Some(t)) if ts.valid => {
            let (q, _, j) = tsu_by_lists(lists, &u.der, t);
            Some((q, j))
        }
        _ => None,
    }
}

/// The `trusted list: ...` line of the verify commands' text output.
pub(crate) fn list_line(v: &Value) -> String {
    let name = |k: &str| v[k].as_str().unwrap_or("-").to_owned();
    if v["qualified"] == true {
        format!(
            "qualified: \"{}\" of \"{}\" ({}) in {}{}",
            name("service_name"),
            name("tsp_name"),
            name("service_type"),
            name("list"),
            if v["list_verified"] == true {
                ""
            } else {
                " (list NOT verified)"
            }
        )
    } else {
        format!("NOT qualified: {}", name("reason"))
    }
}

fn check(a: CheckArgs) -> Outcome {
    let cert = load_cert(&a.cert)?;
    let at = parse_at(a.at.as_deref())?;
    let (sources, _, mode) = sources(&a.lists)?;
    let report = load(&sources, mode, OffsetDateTime::now_utc())?;
    let verdict = report.lists.check(&cert, at, Wanted::RemOrTsa);
    let mut out = verdict.to_json(verdict.unverified(&report.lists));
    if report.lists.is_empty()
        && let Some(o) = out.as_object_mut()
    {
        let refused: Vec<String> = report
            .statuses
            .iter()
            .filter_map(|s| match &s.outcome {
                ListOutcome::Refused(r) => Some(format!("{}: {r}", s.source)),
                _ => None,
            })
            .collect();
        o.insert(
            "reason".into(),
            Value::String(format!(
                "no trusted list was accepted ({})",
                refused.join("; ")
            )),
        );
    }
    if let Some(o) = out.as_object_mut() {
        o.insert("certificate".into(), Value::String(cert.subject.clone()));
        o.insert("lists".into(), list_statuses(&report));
    }
    if a.json {
        println!("{out}");
    } else {
        let show = |v: &Value| match v {
            Value::Null => "-".to_owned(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!("certificate:  {}", cert.subject);
        println!("at:           {}", show(&out["at"]));
        println!("qualified:    {}", show(&out["qualified"]));
        println!(
            "service:      {} ({})",
            show(&out["service_name"]),
            show(&out["service_type"])
        );
        println!("provider:     {}", show(&out["tsp_name"]));
        println!(
            "status:       {} since {}",
            show(&out["status"]),
            show(&out["status_since"])
        );
        println!(
            "list:         {} (verified: {})",
            show(&out["list"]),
            show(&out["list_verified"])
        );
        for p in out["supply_points"].as_array().into_iter().flatten() {
            println!("supply point: {}", show(p));
        }
        if !out["reason"].is_null() {
            println!("reason:       {}", show(&out["reason"]));
        }
        for w in out["warnings"].as_array().into_iter().flatten() {
            println!("WARNING:      {}", show(w));
        }
        for s in &report.statuses {
            if let ListOutcome::Refused(r) = &s.outcome {
                eprintln!("ponte: list {} refused: {r}", s.source);
            }
        }
    }
    Ok(if verdict.qualified() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn sync(a: SyncArgs) -> Outcome {
    let config = ponte::config::Config::load(&a.config).map_err(|e| Failure(e.to_string()))?;
    let l = &config.trust.lists;
    if l.lists.is_empty() {
        return Err(Failure::at(
            &a.config,
            "trust.lists is empty: no trusted list is configured",
        ));
    }
    let report = load(&l.sources(), LoadMode::Fetch, OffsetDateTime::now_utc())?;
    let statuses = list_statuses(&report);
    if a.json {
        println!(
            "{}",
            json!({"cache_dir": l.cache_dir.display().to_string(), "lists": statuses, "all_fresh": report.all_fresh()})
        );
    } else {
        for s in statuses.as_array().into_iter().flatten() {
            println!(
                "{} {}: {}{}",
                s["outcome"].as_str().unwrap_or("-"),
                s["source"].as_str().unwrap_or("-"),
                s["trust"].as_str().unwrap_or("-"),
                s["reason"]
                    .as_str()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(if report.all_fresh() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
