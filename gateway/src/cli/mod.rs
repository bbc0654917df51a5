//! Command-line front end: argument parsing and dispatch. One file per command group;
//! the work itself is done by the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod config;
pub mod conformance;
pub mod evidence;
pub mod evidence_extend;
pub mod index;
pub mod mappings;
pub mod pec;
pub mod queue;
pub mod serve;
pub mod spool;
pub mod submit;
pub mod translate;
pub mod trust;
pub mod trust_show;
pub mod tsa;
pub mod verify;

/// Ponte: a PEC <-> REM (ETSI EN 319 532) gateway.
#[derive(Debug, Parser)]
#[command(name = "ponte", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify the S/MIME signature of a PEC, REM or plain message and describe it.
    Verify(verify::Args),
    /// Build PEC messages (transport envelopes, receipts) as a provider would.
    #[command(subcommand)]
    Pec(pec::Command),
    /// Sign and verify REM evidence (EN 319 522-3, XAdES).
    #[command(subcommand)]
    Evidence(evidence::Command),
    /// The development time-stamping authority (RFC 3161, NOT qualified).
    #[command(subcommand)]
    Tsa(tsa::Command),
    /// The providers' index (AgID IGPEC over LDAP, or an LDIF snapshot).
    #[command(subcommand)]
    Index(index::Command),
    /// The PEC <-> REM mapping tables: show them, check an override directory.
    #[command(subcommand)]
    Mappings(mappings::Command),
    /// The gateway's configuration file: check it.
    #[command(subcommand)]
    Config(config::Command),
    /// Translate PEC messages to REM or REM messages to PEC (one, or a corpus with --out-dir).
    Translate(translate::TranslateArgs),
    /// Run the gateway service: SMTP in, translation, SMTP out, PEC timers, the ops API.
    Serve(serve::ServeArgs),
    /// Hand a message file to an SMTP server (the gateway, a relay) and print its reply.
    Submit(submit::SubmitArgs),
    /// The conformance suite: run it against a subject, list its cases, regenerate its vectors.
    #[command(subcommand)]
    Conformance(conformance::Command),
    /// Trusted lists (TS 119 612) and REM peer discovery: check a certificate, sync, show a domain.
    #[command(subcommand)]
    Trust(trust::Command),
    /// The running gateway's queue, through its ops API: list, show, retry, discard.
    #[command(subcommand)]
    Queue(queue::Command),
    /// The spool of a configuration: migrate the PostgreSQL schema, export, import.
    #[command(subcommand)]
    Spool(spool::Command),
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Verify(args) => verify::run(args),
        Command::Pec(cmd) => pec::run(cmd),
        Command::Evidence(cmd) => evidence::run(cmd),
        Command::Tsa(cmd) => tsa::run(cmd),
        Command::Index(cmd) => index::run(cmd),
        Command::Mappings(cmd) => mappings::run(cmd),
        Command::Config(cmd) => config::run(cmd),
        Command::Translate(args) => translate::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Submit(args) => submit::run(args),
        Command::Conformance(cmd) => conformance::run(cmd),
        Command::Trust(cmd) => trust::run(cmd),
        Command::Queue(cmd) => queue::run(cmd),
        Command::Spool(cmd) => spool::run(cmd),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ponte: {e}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr, filtered by `PONTE_LOG` (default: warnings), with ANSI colours only
/// when stderr is a terminal and `NO_COLOR` is unset: a harness reading stderr gets plain
/// lines.
pub fn init_tracing(cli: &Cli) {
    // The service says what it does (info); one-shot commands only what went wrong (warn).
    let (default, json) = match &cli.command {
        Command::Serve(a) => ("info", a.log_format() == serve::LogFormat::Json),
        _ => ("warn", false),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PONTE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder
            .with_ansi(colour(
                std::io::IsTerminal::is_terminal(&std::io::stderr()),
                std::env::var_os("NO_COLOR").as_deref(),
            ))
            .try_init()
    };
}

/// Whether log lines are coloured: on a terminal, unless `NO_COLOR` is set to anything
/// non-empty (no-color.org).
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// A failure that ends the command with exit code 2: one line naming the input and the cause.
#[derive(Debug)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Failure {
    /// `input: cause`.
    pub fn at(input: impl AsRef<Path>, cause: impl std::fmt::Display) -> Self {
        Failure(format!("{}: {cause}", input.as_ref().display()))
    }
}

/// What a command returns: an exit code, or a failure (exit 2).
pub type Outcome = Result<ExitCode, Failure>;

/// Reads a whole file, naming it on failure.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::at(path, e))
}

/// Writes `bytes` to `out`, or to stdout when `out` is `None`.
pub fn write_output(out: Option<&PathBuf>, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    match out {
        Some(path) => std::fs::write(path, bytes).map_err(|e| Failure::at(path, e)),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| Failure(format!("stdout: {e}")))
        }
    }
}

/// Reads every certificate of every PEM file in `paths` (a file may hold several).
pub fn load_certs(paths: &[PathBuf]) -> Result<Vec<ponte::x509::Certificate>, Failure> {
    let mut out = Vec::new();
    for p in paths {
        let pem = read_file(p)?;
        let certs = ponte::x509::load_pem(&pem).map_err(|e| Failure::at(p, e))?;
        if certs.is_empty() {
            return Err(Failure::at(p, "no PEM certificate in this file"));
        }
        out.extend(certs);
    }
    Ok(out)
}

/// Reads the one certificate of a PEM file.
pub fn load_cert(path: &Path) -> Result<ponte::x509::Certificate, Failure> {
    let mut certs = load_certs(std::slice::from_ref(&path.to_path_buf()))?;
    match certs.len() {
        1 => Ok(certs.remove(0)),
        n => Err(Failure::at(
            path,
            format!("expected one certificate, found {n}"),
        )),
    }
}

/// Opens a `--key`: a PKCS#8 PEM private key file (RSA or ECDSA P-256), or a `pkcs11:` URI
/// (RFC 7512) naming a key in a token (a relative `pin-source` is resolved from the working
/// directory). A failure names the file, or the URI without its PIN.
pub fn load_key(path: &Path) -> Result<ponte::crypto::SigningKey, Failure> {
    if let Some(reference) = path.to_str().filter(|s| ponte::crypto::is_pkcs11_uri(s)) {
        return ponte::crypto::SigningKey::open(reference, Path::new(""))
            .map_err(|e| Failure(format!("--key: {e}")));
    }
    let pem = read_file(path)?;
    ponte::crypto::SigningKey::from_pkcs8_pem(&pem).map_err(|e| Failure::at(path, e))
}

/// How a `--key` is named in messages: the file, or the URI with any `pin-value` hidden (the
/// argument itself is never echoed, as it may hold the PIN).
pub fn key_label(path: &Path) -> String {
    match path.to_str().filter(|s| ponte::crypto::is_pkcs11_uri(s)) {
        Some(reference) => ponte::crypto::Pkcs11Uri::parse(reference)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| "--key (a pkcs11: URI)".to_string()),
        None => path.display().to_string(),
    }
}

/// RFC 3339 rendering (UTC offsets kept as given).
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    use time::format_description::well_known::Rfc3339;
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// 8 random bytes in hex: the per-process part of the identifiers a command makes.
pub fn random_seed() -> Result<String, Failure> {
    ponte::translate::Context::random_seed().map_err(|e| Failure(e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(super::colour(true, None));
        assert!(super::colour(true, Some(OsStr::new(""))));
        assert!(!super::colour(true, Some(OsStr::new("1"))));
        assert!(!super::colour(false, None));
    }
}
