//! The gateway's configuration file (TOML): who Ponte is (the PEC and REM identities, their keys
//! and chains), whom it trusts, where the providers' index is, which TSA stamps its evidence,
//! which REM policies apply, and where it keeps its correlation records.
//!
//! - [`load`]: reading the file into a [`Config`] with every key and file loaded; every problem
//!   found on the way is collected, not just the first.
//! - [`check`](mod@check): the checks that need the loaded material (a key that does not match its
//!   certificate, validity at an instant, URLs, policy URIs, anchors).
//!
//! Entry points: [`Config::load`] (start-up: the first error stops it) and [`check()`] (the
//! operator's `ponte config check`: every problem, errors and warnings). Both judge
//! certificate validity at an instant: `load`/`check` read the clock once, at the edge;
//! [`Config::load_at`] and [`check_at`] take the instant as a parameter.
//!
//! Relative paths in the file are resolved from the folder of the configuration file, never
//! from the working directory. The manual chapter is [`crate::manual::config`]; a documented
//! example with every key is `gateway/config/example.toml`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::crypto::SigningKey;
use crate::index::{CachePolicy, Clock, Index, LdapConfig, SystemClock, ldif};
use crate::x509::Certificate;

pub mod check;
pub mod holders;
pub mod load;
pub mod service;
pub mod trust_lists;

pub use load::{Inspection, inspect};
pub use service::{
    DatabaseUrl, Delivery, Limits, Ops, PecRelay, Relay, Route, Service, SharedSpool, Smtp, Spool,
    Timers, TlsFiles, TlsMode,
};

/// The file name of the correlation store when `[correlation] path` is not given; it is
/// placed in the folder of the configuration file.
pub const DEFAULT_CORRELATION_FILE: &str = "correlation.jsonl";

/// The country code when `[identity] country` is not given.
pub const DEFAULT_COUNTRY: &str = "IT";

/// The local part of the REM service address when `[identity] rem_service_address` is not
/// given: `rem-service@<domain>`.
pub const DEFAULT_REM_SERVICE_LOCAL_PART: &str = "rem-service";

/// Errors of this module: a configuration that cannot be read at all, one that was read but
/// has problems (start-up refuses it), or an index source that cannot be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file itself could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The configuration file is not TOML (syntax error) or not UTF-8.
    #[error("{}: not TOML: {message}", path.display())]
    Toml {
        /// The configuration file.
        path: PathBuf,
        /// The TOML reader's description, with line and column.
        message: String,
    },
    /// The configuration was read but has at least one error-severity problem.
    #[error("{}: {first}{}", path.display(),
        if *errors > 1 { format!(" (and {} more problem(s): run `ponte config check`)", errors - 1) } else { String::new() })]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// The first error-severity problem, in the order of [`check()`].
        first: Box<Problem>,
        /// How many error-severity problems there are in all.
        errors: usize,
    },
    /// The index snapshot named by the configuration could not be read or parsed.
    #[error("index snapshot {}: {reason}", path.display())]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What was wrong (I/O error or LDIF problem).
        reason: String,
    },
    /// A file of the directory connection (`index.ca_file`, `index.password_file`) could not
    /// be used when opening the index.
    #[error("{key}: {}: {reason}", path.display())]
    IndexFile {
        /// The configuration key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong (the password itself is never shown).
        reason: String,
    },
    /// A file of the holders' directory connection (`holders.ca_file`,
    /// `holders.password_file`) could not be used when opening the holders' source.
    #[error("{key}: {}: {reason}", path.display())]
    HoldersFile {
        /// The configuration key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong (the password itself is never shown).
        reason: String,
    },
    /// The embedded default index snapshot could not be parsed (a build defect).
    #[error("embedded default index snapshot: {0}")]
    EmbeddedSnapshot(crate::index::Error),
}

/// How serious a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The configuration cannot be used: [`Config::load`] refuses it, `ponte config check`
    /// exits 1.
    Error,
    /// The configuration can be used but something deserves a look (a certificate expiring
    /// soon, an expired trust anchor kept for old messages, an identity not trusted by the
    /// configured anchors).
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One thing wrong with a configuration, naming the key and (when a file is involved) the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The dotted key, e.g. `identity.pec_key`; the whole file is `(file)`, a table alone its
    /// name (`index`).
    pub key: String,
    /// The file the key names (resolved), when the problem is about a file.
    pub path: Option<PathBuf>,
    /// What is wrong, in one line.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl Problem {
    /// An error-severity problem.
    pub fn error(key: impl Into<String>, path: Option<&Path>, message: impl Into<String>) -> Self {
        Problem {
            key: key.into(),
            path: path.map(Path::to_path_buf),
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A warning.
    pub fn warning(
        key: impl Into<String>,
        path: Option<&Path>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(key, path, message)
        }
    }

    /// Whether this problem makes the configuration unusable.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `key: [warning: ][path: ]message` — one line.
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.key)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        f.write_str(&self.message)
    }
}

/// A loaded configuration: every key read, every file loaded and checked.
#[derive(Debug)]
pub struct Config {
    /// The configuration file (absolute).
    pub path: PathBuf,
    /// Who Ponte is on each side.
    pub identity: Identity,
    /// Whom Ponte trusts.
    pub trust: Trust,
    /// Where the providers' index comes from.
    pub index: IndexSource,
    /// The time-stamping authority for evidence (`None`: no `[tsa]` table).
    pub tsa: Option<TsaConfig>,
    /// The REM policies that apply (`REM-ApplicablePolicy`).
    pub policy: Policy,
    /// An override directory for the mapping tables (`None`: the compiled-in tables).
    pub mappings_dir: Option<PathBuf>,
    /// The correlation store (JSON Lines, see [`crate::correlate::FileStore`]).
    pub correlation_path: PathBuf,
    /// Whether REM evidence is attached to PEC output as `<Event>.xml` (default true).
    pub attach_evidence: bool,
    /// The gateway service's settings (`[smtp]`, `[[route]]`, `[pec]`, `[spool]`, `[ops]`,
    /// `[timers]`, `[limits]`, `[delivery]`); every key has a default.
    pub service: Service,
    /// `[holders]`: the mailbox holders' identity source and what to do with an unconfirmed
    /// sender; `None`: no source (the evidence states no sender assurance).
    pub holders: Option<holders::HoldersConfig>,
    /// The warning-severity problems found when loading (a certificate expiring soon, an
    /// expired anchor kept for old messages, ...). [`Config::load`] does not log them: a
    /// command that answers one message would print them before every result. `ponte config
    /// check` lists them, and the long-running service logs them at start-up
    /// ([`Config::log_warnings`]) and exposes them to its metrics.
    pub warnings: Vec<Problem>,
}

/// Ponte's identity as a PEC provider and as a REM provider, with its keys loaded.
#[derive(Debug)]
pub struct Identity {
    /// The provider's name (e.g. in PEC receipts and REM evidence).
    pub provider_name: String,
    /// The gateway's mail domain (normalised: lower case, no trailing dot).
    pub domain: String,
    /// ISO 3166-1 alpha-2 country code (default `IT`).
    pub country: String,
    /// The REM service address (default `rem-service@<domain>`).
    pub rem_service_address: String,
    /// The key that signs PEC messages (a PKCS#8 file, or a `pkcs11:` URI: in a token).
    pub pec_key: SigningKey,
    /// The certificate of `pec_key`.
    pub pec_cert: Certificate,
    /// The intermediates sent with PEC signatures (may be empty).
    pub pec_chain: Vec<Certificate>,
    /// The key that seals REM messages and evidence (a PKCS#8 file, or a `pkcs11:` URI).
    pub rem_key: SigningKey,
    /// The certificate of `rem_key`.
    pub rem_cert: Certificate,
    /// The intermediates sent with REM signatures (may be empty).
    pub rem_chain: Vec<Certificate>,
}

/// Trust anchors, loaded.
#[derive(Debug, Clone)]
pub struct Trust {
    /// Anchors for the S/MIME signatures of PEC messages received.
    pub pec_anchors: Vec<Certificate>,
    /// Anchors for REM messages and evidence received.
    pub rem_anchors: Vec<Certificate>,
    /// Anchors for RFC 3161 time-stamp tokens (in evidence, and the configured TSA's answers).
    pub tsa_anchors: Vec<Certificate>,
    /// The trusted lists (TS 119 612): where they are, who signs them, the cache.
    pub lists: trust_lists::TrustLists,
}

/// Where the providers' index comes from (`[index]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexSource {
    /// An LDAP directory (`ldap = ..`), optionally with a snapshot that answers while the
    /// directory is unreachable (`ldap` and `snapshot` both given).
    Ldap {
        /// `ldap://host[:port]` or `ldaps://host[:port]`.
        url: String,
        /// The search base (`base`, default `o=postacert`).
        base: String,
        /// The fallback snapshot (resolved path).
        snapshot_fallback: Option<PathBuf>,
        /// How to connect: TLS anchors, bind, timeout (`ca_file`, `bind_dn`, `password_file`,
        /// `timeout_seconds`).
        connection: LdapConnection,
    },
    /// An LDIF snapshot only (`snapshot = ..`, resolved path).
    Snapshot(PathBuf),
    /// Neither given (or no `[index]` table): the embedded default snapshot, which is test data
    /// (see [`crate::index::DEFAULT_SNAPSHOT`]), as `ponte index` does.
    Embedded,
}

impl IndexSource {
    /// Opens the index with the default cache policy and the system clock.
    pub fn open(&self) -> Result<Index, Error> {
        self.open_with(CachePolicy::default(), Arc::new(SystemClock))
    }

    /// Opens the index: for a directory, a cold index (answers come at the first lookup or
    /// [`Index::sync`]) warmed with the fallback snapshot when there is one; for a snapshot or
    /// the embedded default, an index answering from it.
    pub fn open_with(&self, policy: CachePolicy, clock: Arc<dyn Clock>) -> Result<Index, Error> {
        match self {
            IndexSource::Ldap {
                url,
                base,
                snapshot_fallback,
                connection,
            } => {
                let mut cfg = LdapConfig::new(url.clone());
                cfg.base = base.clone();
                cfg.timeout = connection.timeout;
                if let Some(ca) = &connection.ca_file {
                    cfg.tls_roots = read_ca_file(ca)?;
                }
                if let Some(b) = &connection.bind {
                    cfg.bind = Some((b.dn.clone(), read_password(&b.password_file)?));
                }
                let index = Index::with_ldap(cfg, policy, clock);
                if let Some(path) = snapshot_fallback {
                    index.load_snapshot(read_snapshot(path)?);
                }
                Ok(index)
            }
            IndexSource::Snapshot(path) => {
                Ok(Index::from_snapshot(read_snapshot(path)?, policy, clock))
            }
            IndexSource::Embedded => {
                let s =
                    ldif::parse(crate::index::DEFAULT_SNAPSHOT).map_err(Error::EmbeddedSnapshot)?;
                Ok(Index::from_snapshot(s, policy, clock))
            }
        }
    }

    /// A short description for summaries and logs.
    pub fn describe(&self) -> String {
        match self {
            IndexSource::Ldap {
                url,
                base,
                snapshot_fallback: Some(p),
                ..
            } => format!(
                "LDAP {url} (base {base}), snapshot fallback {}",
                p.display()
            ),
            IndexSource::Ldap { url, base, .. } => format!("LDAP {url} (base {base})"),
            IndexSource::Snapshot(p) => format!("snapshot {}", p.display()),
            IndexSource::Embedded => "embedded default snapshot (test data)".to_owned(),
        }
    }
}

/// How Ponte connects to the directory (`[index]` `ca_file`, `bind_dn`, `password_file`,
/// `timeout_seconds`). The password itself is read when the index is opened, never kept in
/// the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapConnection {
    /// Trust anchors (PEM) for `ldaps://`; `None`: the system's certificate store.
    pub ca_file: Option<PathBuf>,
    /// Simple bind; `None`: anonymous.
    pub bind: Option<LdapBind>,
    /// Timeout of the connection and of each operation (default 10 s).
    pub timeout: std::time::Duration,
}

impl Default for LdapConnection {
    fn default() -> Self {
        LdapConnection {
            ca_file: None,
            bind: None,
            timeout: std::time::Duration::from_secs(DEFAULT_LDAP_TIMEOUT_SECONDS),
        }
    }
}

/// A simple bind: the DN and the file holding the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapBind {
    /// The bind DN.
    pub dn: String,
    /// The file holding the password (one trailing newline is ignored).
    pub password_file: PathBuf,
}

/// The LDAP timeout when `[index] timeout_seconds` is not given.
pub const DEFAULT_LDAP_TIMEOUT_SECONDS: u64 = 10;

/// The DER certificates of a PEM file of trust anchors for `ldaps://` (at least one).
pub fn read_ca_file(path: &Path) -> Result<Vec<Vec<u8>>, Error> {
    let bad = |reason: String| Error::IndexFile {
        key: "index.ca_file",
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let certs = crate::x509::load_pem(&pem).map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in this file".to_owned()));
    }
    Ok(certs.iter().map(|c| c.der().to_vec()).collect())
}

/// The bind password of a password file: UTF-8, one trailing `\n` (or `\r\n`) ignored, not
/// empty.
pub fn read_password(path: &Path) -> Result<String, Error> {
    let bad = |reason: String| Error::IndexFile {
        key: "index.password_file",
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8".to_owned()))?;
    let pw = text.strip_suffix('\n').unwrap_or(&text);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        return Err(bad("empty password".to_owned()));
    }
    Ok(pw.to_owned())
}

/// Reads and parses an LDIF snapshot file.
pub fn read_snapshot(path: &Path) -> Result<ldif::Snapshot, Error> {
    let bad = |reason: String| Error::Snapshot {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8".to_owned()))?;
    ldif::parse(&text).map_err(|e| bad(e.to_string()))
}

/// The time-stamping authority (`[tsa]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsaConfig {
    /// The RFC 3161 endpoint, `http://` or `https://`.
    pub url: String,
}

/// The REM policies that apply (`[policy]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Absolute URIs, in file order, each sent as one `REM-ApplicablePolicy` header.
    pub applicable: Vec<String>,
}

impl Config {
    /// Loads the configuration at `path`, judging certificate validity now. Fails on the first
    /// error-severity problem; warnings are kept in [`Config::warnings`], not logged
    /// ([`check()`] lists them all).
    pub fn load(path: &Path) -> Result<Config, Error> {
        Config::load_at(path, OffsetDateTime::now_utc())
    }

    /// [`Config::load`] judging certificate validity at `now`.
    pub fn load_at(path: &Path, now: OffsetDateTime) -> Result<Config, Error> {
        let Inspection {
            path: abs,
            problems,
            config,
        } = inspect(path, now)?;
        let errors = problems.iter().filter(|p| p.is_error()).count();
        if errors == 0
            && let Some(mut config) = config
        {
            config.warnings = problems;
            return Ok(config);
        }
        match (problems.into_iter().find(Problem::is_error), config) {
            (None, Some(config)) => Ok(config),
            (Some(first), _) => Err(Error::Invalid {
                path: abs,
                first: Box::new(first),
                errors,
            }),
            // inspect() builds the configuration whenever there is no error; this arm only
            // guards that invariant without panicking.
            (None, None) => Err(Error::Invalid {
                path: abs,
                first: Box::new(Problem::error("(file)", None, "configuration incomplete")),
                errors: 1,
            }),
        }
    }
}

impl Config {
    /// Logs each of [`Config::warnings`] as a `tracing` warning naming the file: for the
    /// long-running service at start-up, not for commands that answer one message.
    pub fn log_warnings(&self) {
        for w in &self.warnings {
            tracing::warn!(config = %self.path.display(), "{w}");
        }
    }
}

/// Every problem of the configuration at `path` (errors and warnings, unknown keys first, then table by table in the order of [`load::SCHEMA`]), judging
/// certificate validity now. An unreadable file or one that is not TOML is one problem with the
/// key `(file)`. An empty list means the configuration loads.
pub fn check(path: &Path) -> Vec<Problem> {
    check_at(path, OffsetDateTime::now_utc())
}

/// [`check()`] judging certificate validity at `now`.
pub fn check_at(path: &Path, now: OffsetDateTime) -> Vec<Problem> {
    match inspect(path, now) {
        Ok(i) => i.problems,
        Err(e) => vec![Problem::error("(file)", Some(path), file_error_message(&e))],
    }
}

fn file_error_message(e: &Error) -> String {
    match e {
        Error::Read { source, .. } => source.to_string(),
        Error::Toml { message, .. } => format!("not TOML: {message}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync>() {}

    #[test]
    fn config_is_shareable_across_worker_threads() {
        // `ponte translate --out-dir` loads the configuration once and shares it.
        shareable::<Config>();
        shareable::<IndexSource>();
        shareable::<Problem>();
    }

    #[test]
    fn problem_lines() {
        let e = Problem::error("identity.pec_key", Some(Path::new("/k.pem")), "cannot read");
        assert_eq!(e.to_string(), "identity.pec_key: /k.pem: cannot read");
        let w = Problem::warning("index.base", None, "ignored");
        assert_eq!(w.to_string(), "index.base: warning: ignored");
        assert!(e.is_error() && !w.is_error());
    }
}
