//! `ponte config check FILE [--json]`: validate a gateway configuration and name every problem.
//!
//! Exit 0 when the configuration loads (warnings may be printed on stderr), 1 when it has at
//! least one error (each problem on stderr as `FILE: key: message`), 2 when FILE cannot be read
//! or is not TOML.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use super::{Failure, Outcome, rfc3339, write_output};
use ponte::config::{self, Config, Error, Inspection, Problem};

/// `ponte config ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate a configuration file: every problem is named (exit 0 valid, 1 problems,
    /// 2 unreadable or not TOML).
    Check {
        /// The configuration file (TOML).
        file: PathBuf,
        /// Print one JSON object (`valid`, `problems`, and the summary when valid).
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `config` subcommand.
pub fn run(cmd: Command) -> Outcome {
    match cmd {
        Command::Check { file, json } => check(&file, json),
    }
}

fn check(file: &Path, json: bool) -> Outcome {
    let now = time::OffsetDateTime::now_utc();
    let Inspection {
        mut problems,
        mut config,
        ..
    } = config::inspect(file, now).map_err(|e| match e {
        Error::Read { source, .. } => Failure::at(file, source),
        Error::Toml { message, .. } => Failure::at(file, format!("not TOML: {message}")),
        other => Failure::at(file, other),
    })?;
    if let Some(c) = &config
        && let Some(p) = probe_spool(&c.service.spool)
    {
        if p.severity == config::Severity::Error {
            config = None;
        }
        problems.push(p);
    }
    let valid = config.is_some();
    if json {
        let v = json!({
            "file": file.display().to_string(),
            "checked_at": rfc3339(now),
            "valid": valid,
            "problems": problems.iter().map(problem_json).collect::<Vec<_>>(),
            "summary": config.as_ref().map(summary_json),
        });
        let mut s = serde_json::to_string_pretty(&v).map_err(|e| Failure(format!("json: {e}")))?;
        s.push('\n');
        write_output(None, s.as_bytes())?;
    } else {
        for p in &problems {
            eprintln!("{}: {p}", file.display());
        }
        if let Some(c) = &config {
            write_output(None, summary_text(c).as_bytes())?;
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A shared spool is reached once: a server that does not answer, a refused password, a
/// database that does not exist or a schema newer than this build is an error naming the URL
/// (password hidden); a schema not yet migrated is a warning (`ponte serve` migrates).
fn probe_spool(s: &ponte::config::Spool) -> Option<Problem> {
    let shared = s.shared.as_ref()?;
    let shown = shared.url.redacted();
    let outcome =
        ponte::service::spool::postgres::Options::from_config(shared, s.lease).and_then(|o| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ponte::service::spool::Error::Database(format!("runtime: {e}")))?
                .block_on(ponte::service::spool::postgres::Postgres::probe(&o))
        });
    match outcome {
        Ok((have, want)) if have == want => None,
        Ok((have, want)) if have < want => Some(Problem::warning(
            "spool.url",
            None,
            format!(
                "{shown}: schema version {have}, this ponte's is {want}: `ponte serve` applies the migrations at start (or `ponte spool migrate`)"
            ),
        )),
        Ok((have, want)) => Some(Problem::error(
            "spool.url",
            None,
            format!(
                "{shown}: schema version {have} is newer than this ponte's ({want}): upgrade ponte"
            ),
        )),
        Err(ponte::service::spool::Error::Io { path, source }) => Some(Problem::error(
            "spool.password_file",
            Some(&path),
            format!("cannot read: {source}"),
        )),
        Err(e) => Some(Problem::error(
            "spool.url",
            None,
            strip_spool(&e.to_string()),
        )),
    }
}

/// `spool database: cannot connect ...` without the first words (the key says it).
fn strip_spool(m: &str) -> String {
    m.strip_prefix("spool database: ").unwrap_or(m).to_owned()
}

fn problem_json(p: &Problem) -> Value {
    json!({
        "key": p.key,
        "path": p.path.as_ref().map(|p| p.display().to_string()),
        "message": p.message,
        "severity": p.severity.as_str(),
    })
}

fn summary_json(c: &Config) -> Value {
    let id = &c.identity;
    json!({
        "provider_name": id.provider_name,
        "domain": id.domain,
        "country": id.country,
        "rem_service_address": id.rem_service_address,
        "pec_cert": id.pec_cert.subject,
        "pec_chain": id.pec_chain.len(),
        "pec_key_pkcs11": id.pec_key.pkcs11_uri(),
        "rem_cert": id.rem_cert.subject,
        "rem_chain": id.rem_chain.len(),
        "rem_key_pkcs11": id.rem_key.pkcs11_uri(),
        "pec_anchors": c.trust.pec_anchors.len(),
        "rem_anchors": c.trust.rem_anchors.len(),
        "tsa_anchors": c.trust.tsa_anchors.len(),
        "index": c.index.describe(),
        "tsa": c.tsa.as_ref().map(|t| t.url.clone()),
        "policy": c.policy.applicable,
        "mappings": c.mappings_dir.as_ref().map(|d| d.display().to_string()),
        "correlation": c.correlation_path.display().to_string(),
        "attach_evidence": c.attach_evidence,
        "holders": c.holders.as_ref().map(|h| h.describe()),
        "spool": spool_describe(&c.service.spool),
    })
}

fn spool_describe(s: &ponte::config::Spool) -> String {
    match &s.shared {
        Some(sh) => format!(
            "PostgreSQL {} (node {}, pool {}, lease {})",
            sh.url.redacted(),
            sh.node,
            sh.pool,
            ponte::config::service::format_duration(s.lease)
        ),
        None => format!("embedded {}", s.path.display()),
    }
}

/// `, key in token URI` for a PKCS#11 key (the PIN never shown), nothing for a key file.
fn in_token(key: &ponte::crypto::SigningKey) -> String {
    key.pkcs11_uri()
        .map(|u| format!(", key in token {u}"))
        .unwrap_or_default()
}

fn summary_text(c: &Config) -> String {
    let id = &c.identity;
    let mut lines = vec![
        format!("{}: valid", c.path.display()),
        format!(
            "provider:    {} ({}, {})",
            id.provider_name, id.domain, id.country
        ),
        format!(
            "PEC signer:  {} (+{} chain){}",
            id.pec_cert.subject,
            id.pec_chain.len(),
            in_token(&id.pec_key)
        ),
        format!(
            "REM signer:  {} (+{} chain), service address {}{}",
            id.rem_cert.subject,
            id.rem_chain.len(),
            id.rem_service_address,
            in_token(&id.rem_key)
        ),
        format!(
            "anchors:     {} PEC, {} REM, {} TSA",
            c.trust.pec_anchors.len(),
            c.trust.rem_anchors.len(),
            c.trust.tsa_anchors.len()
        ),
        format!("index:       {}", c.index.describe()),
        format!(
            "tsa:         {}",
            c.tsa.as_ref().map_or("none configured", |t| t.url.as_str())
        ),
        format!("policies:    {}", c.policy.applicable.join(", ")),
        format!(
            "mappings:    {}",
            c.mappings_dir
                .as_ref()
                .map_or("compiled-in".to_owned(), |d| d.display().to_string())
        ),
        format!("correlation: {}", c.correlation_path.display()),
        format!(
            "evidence:    {} to PEC output",
            if c.attach_evidence {
                "attached"
            } else {
                "not attached"
            }
        ),
        format!(
            "holders:     {}",
            c.holders.as_ref().map_or(
                "none configured (no sender assurance stated)".to_owned(),
                |h| h.describe()
            )
        ),
    ];
    lines.push(format!("spool:       {}", spool_describe(&c.service.spool)));
    lines.push(String::new());
    lines.join("\n")
}
