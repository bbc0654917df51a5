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
use ponte::tl::{self, ListOutcome, LoadMode, LoadReport, Sources, Verdict, Wanted};

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

/// The JSON of a verdict: `qualified`, `service_type`, `status`, `service_name`, `tsp_name`,
/// `list`, `supply_points`, and the details.
pub(crate) fn verdict_json(v: &Verdict, unverified: bool) -> Value {
    let s = v.service.as_ref();
    let mut warnings = Vec::new();
    if unverified {
        warnings.push(
            "answered from a trusted list whose signature was NOT verified (unsigned lists allowed: tests only)"
                .to_owned(),
        );
    }
    json!({
        "qualified": v.qualified(),
        "service_type": s.map(|s| s.service_type.uri().to_owned()),
        "status": s.map(|s| s.status.uri().to_owned()),
        "status_since": s.map(|s| rfc3339(s.status_since)),
        "service_name": s.map(|s| s.service_name.clone()),
        "tsp_name": s.map(|s| s.tsp_name.clone()),
        "list": s.map(|s| s.list.clone()),
        "list_territory": s.map(|s| s.territory.clone()),
        "list_sequence": s.map(|s| s.sequence),
        "list_verified": s.map(|s| s.list_verified),
        "supply_points": s.map(|s| s.supply_points.clone()).unwrap_or_default(),
        "matched_by": s.map(|s| s.matched.as_str()),
        "at": rfc3339(v.at),
        "reason": v.not_qualified.as_ref().map(ToString::to_string),
        "unsigned_lists": unverified,
        "warnings": warnings,
    })
}

fn check(a: CheckArgs) -> Outcome {
    let cert = load_cert(&a.cert)?;
    let at = parse_at(a.at.as_deref())?;
    let (sources, _, mode) = sources(&a.lists)?;
    let report = load(&sources, mode, OffsetDateTime::now_utc())?;
    let verdict = report.lists.check(&cert, at, Wanted::RemOrTsa);
    let unverified = verdict
        .service
        .as_ref()
        .map(|s| !s.list_verified)
        .unwrap_or_else(|| report.lists.has_unverified());
    let mut out = verdict_json(&verdict, unverified);
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
