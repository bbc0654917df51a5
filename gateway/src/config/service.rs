//! The gateway service's settings (`ponte serve`): where it listens for SMTP and how it limits
//! clients (`[smtp]`), where what it makes goes (`[[route]]`, `[pec] relay`, `[delivery]`),
//! where it keeps its queue (`[spool]`), the operators' API (`[ops]`), the PEC time limits
//! (`[timers]`) and the limits of the access point for REM dispatches entering PEC
//! (`[limits]`). Every key has a default, so a configuration written for `ponte translate`
//! also runs the service; `gateway/config/example.toml` documents each one.
//!
//! Durations are written `"30s"`, `"5m"`, `"12h"`, `"2d"` (or `"250ms"`), sizes as integers
//! (bytes).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::{Table, Value};

use super::Problem;
use super::load::{Reader, Section, type_name};

/// `[smtp] listen` when not given.
pub const DEFAULT_SMTP_LISTEN: &str = "127.0.0.1:2525";
/// `[ops] listen` when not given.
pub const DEFAULT_OPS_LISTEN: &str = "127.0.0.1:9025";
/// `[smtp] max_message_bytes` when not given (100 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 100 * 1024 * 1024;
/// `[smtp] max_recipients` when not given (RCPT commands per transaction).
pub const DEFAULT_SMTP_MAX_RECIPIENTS: usize = 1000;
/// `[smtp] max_connections` when not given (SMTP sessions at once).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// `[smtp] command_timeout` when not given (RFC 5321 §4.5.3.2.7: at least 5 minutes).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
/// `[smtp] data_timeout` when not given: the whole DATA phase of one message.
pub const DEFAULT_DATA_TIMEOUT: Duration = Duration::from_secs(600);
/// `[spool] path` when not given, beside the configuration file.
pub const DEFAULT_SPOOL_DIR: &str = "spool";
/// `[spool] lease` when not given: how long a claim of a node that stopped renewing it holds
/// (a live node renews its claims; this is how long a dead node's work waits).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// `[spool] pool` when not given: connections to PostgreSQL per node.
pub const DEFAULT_POOL: usize = 16;
/// `[timers] warning` when not given: the 12 h preavviso di mancata consegna.
pub const DEFAULT_WARNING: Duration = Duration::from_secs(12 * 3600);
/// `[timers] final` when not given: the 24 h final non-delivery notice.
pub const DEFAULT_FINAL: Duration = Duration::from_secs(24 * 3600);
/// `[limits] max_recipients` when not given: recipients of one REM dispatch entering PEC.
pub const DEFAULT_LIMIT_RECIPIENTS: usize = 500;
/// `[limits] max_total_bytes` when not given: size × recipients of one dispatch (100 MB).
pub const DEFAULT_LIMIT_TOTAL_BYTES: u64 = 100_000_000;
/// `[delivery] first_retry` when not given.
pub const DEFAULT_FIRST_RETRY: Duration = Duration::from_secs(60);
/// `[delivery] max_retry` when not given: the longest wait between two attempts.
pub const DEFAULT_MAX_RETRY: Duration = Duration::from_secs(3600);
/// `[delivery] max_age` when not given: after this, a message still undelivered fails.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// `[delivery] per_destination` when not given: connections at once to one destination.
pub const DEFAULT_PER_DESTINATION: usize = 4;
/// `[delivery] timeout` when not given: connecting and each SMTP exchange.
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything `ponte serve` needs beyond what a translation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// `[smtp]`: the listener.
    pub smtp: Smtp,
    /// `[[route]]`: static routes, in file order (the first that matches wins).
    pub routes: Vec<Route>,
    /// `[pec]`: the provider's PEC platform, where PEC messages Ponte makes go.
    pub pec: PecRelay,
    /// `[spool]`: where the queue lives.
    pub spool: Spool,
    /// `[ops]`: the operators' HTTP API.
    pub ops: Ops,
    /// `[timers]`: the PEC time limits.
    pub timers: Timers,
    /// `[limits]`: what a REM dispatch entering PEC may be.
    pub limits: Limits,
    /// `[delivery]`: retries and where mail without a route goes.
    pub delivery: Delivery,
}

/// `[smtp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    /// The address to listen on (`listen`, default 127.0.0.1:2525).
    pub listen: SocketAddr,
    /// The name in the greeting and EHLO reply (`hostname`, default the identity's domain).
    pub hostname: Option<String>,
    /// The certificate chain and key for STARTTLS (`tls_cert`, `tls_key`; both or neither).
    pub tls: Option<TlsFiles>,
    /// The largest message accepted (`max_message_bytes`, announced with SIZE).
    pub max_message_bytes: u64,
    /// RCPT commands accepted per transaction (`max_recipients`).
    pub max_recipients: usize,
    /// SMTP sessions at once; more get `421` (`max_connections`).
    pub max_connections: usize,
    /// How long the server waits for a command (`command_timeout`).
    pub command_timeout: Duration,
    /// How long the whole DATA phase of one message may take (`data_timeout`).
    pub data_timeout: Duration,
}

/// A PEM certificate chain and its PKCS#8 (or PKCS#1 / SEC1) PEM key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// How a connection to a relay uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// Plain SMTP (`none`).
    None,
    /// STARTTLS when the peer offers it, plain otherwise (`starttls`).
    Starttls,
    /// STARTTLS required, with the peer's certificate verified (`required`).
    Required,
}

impl TlsMode {
    /// `none`, `starttls`, `required`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::Starttls => "starttls",
            TlsMode::Required => "required",
        }
    }

    /// The mode named `s`.
    pub fn parse(s: &str) -> Option<TlsMode> {
        match s {
            "none" => Some(TlsMode::None),
            "starttls" => Some(TlsMode::Starttls),
            "required" => Some(TlsMode::Required),
            _ => None,
        }
    }
}

/// `[[route]]`: mail for recipients of matching domains goes to `relay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `example.eu` (that domain), `*.example.eu` (its subdomains and itself), or `*` (any).
    pub domain: String,
    /// `host:port` (port default 25).
    pub relay: Relay,
    /// TLS towards the relay (default `starttls`).
    pub tls: TlsMode,
}

impl Route {
    /// Whether the route covers `domain` (compared case-insensitively, trailing dot ignored).
    pub fn matches(&self, domain: &str) -> bool {
        domain_matches(&self.domain, domain)
    }
}

/// Whether `pattern` (`d`, `*.d`, `*`) covers `domain`.
pub fn domain_matches(pattern: &str, domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let p = pattern.trim_end_matches('.').to_ascii_lowercase();
    if p == "*" {
        return true;
    }
    match p.strip_prefix("*.") {
        Some(parent) => d == parent || d.ends_with(&format!(".{parent}")),
        None => d == p,
    }
}

/// A relay's address: a host name or IP address and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relay {
    /// The host (name or address; IPv6 without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Relay {
    /// `host:port`, `host` (port 25), `[v6]:port`.
    pub fn parse(s: &str) -> Result<Relay, String> {
        let s = s.trim();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, tail) = rest
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: unclosed '['"))?;
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(p),
                None if tail.is_empty() => None,
                None => return Err(format!("{s:?}: expected ':PORT' after ']'")),
            };
            (h.to_owned(), port)
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_owned(), Some(p)),
                Some(_) => return Err(format!("{s:?}: write an IPv6 address as [ADDR]:PORT")),
                None => (s.to_owned(), None),
            }
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(format!("{s:?}: no host"));
        }
        let port = match port {
            None => 25,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{s:?}: port {p:?} is not 1-65535"))?,
        };
        Ok(Relay { host, port })
    }
}

impl std::fmt::Display for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `[pec]`: the provider's PEC platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PecRelay {
    /// Where PEC messages go (`relay`); without it they go to `[delivery] outbox` when set,
    /// and stay queued (with the reason in the queue) otherwise.
    pub relay: Option<Relay>,
    /// TLS towards it (`tls`, default `starttls`).
    pub tls: TlsMode,
}

/// `[spool]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spool {
    /// The spool directory of the embedded spool (`path`, default `spool` beside the
    /// configuration file); unused with `url`.
    pub path: PathBuf,
    /// The shared spool on PostgreSQL (`url`), for several nodes; `None`: the embedded one.
    pub shared: Option<SharedSpool>,
    /// How long a claim holds without being renewed (`lease`, default 1m).
    pub lease: Duration,
}

/// `[spool] url` and the keys that go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedSpool {
    /// The PostgreSQL URL (`url`), password included when it has one.
    pub url: DatabaseUrl,
    /// A file holding the password (`password_file`), so that the configuration holds none.
    pub password_file: Option<PathBuf>,
    /// This node's name among the nodes sharing the spool (`node`, default the host name).
    pub node: String,
    /// Connections to the database (`pool`, default 16).
    pub pool: usize,
}

/// A `postgres://` URL, checked when read. Its password never shows: [`std::fmt::Debug`] and
/// [`DatabaseUrl::redacted`] replace it with `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Checks `url`: a `postgres://` or `postgresql://` URL that the PostgreSQL client reads,
    /// naming a host (or a unix socket folder with `?host=/path`), without TLS (Ponte connects
    /// to PostgreSQL in clear: on loopback, a unix socket or a private network).
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let u = url.trim();
        let lower = u.to_ascii_lowercase();
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            return Err(format!(
                "{:?} is not a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE)",
                redact(u)
            ));
        }
        let config: tokio_postgres::Config = u
            .parse()
            .map_err(|e| format!("{:?} is not a valid PostgreSQL URL: {e}", redact(u)))?;
        if config.get_hosts().is_empty() {
            return Err(format!(
                "{:?} names no host (postgres://USER@HOST:PORT/DATABASE, or ?host=/run/postgresql for a unix socket)",
                redact(u)
            ));
        }
        if config.get_user().is_none_or(str::is_empty) {
            return Err(format!(
                "{:?} names no user (postgres://USER@HOST/DATABASE)",
                redact(u)
            ));
        }
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(format!(
                "{:?}: sslmode=require, but Ponte speaks to PostgreSQL without TLS (keep the database on loopback, a unix socket or a private network, or tunnel it); use sslmode=disable",
                redact(u)
            ));
        }
        Ok(DatabaseUrl(u.to_owned()))
    }

    /// The URL as written (with its password, if any): for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced by `***`: for logs and messages.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// `scheme://user:password@host...` with the password (and any `password=` parameter)
/// replaced by `***`.
fn redact(u: &str) -> String {
    let mut out = match u.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (auth, tail) = rest.split_at(end);
            match auth.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
                    None => u.to_owned(),
                },
                None => u.to_owned(),
            }
        }
        None => u.to_owned(),
    };
    if let Some(i) = out.to_ascii_lowercase().find("password=") {
        let start = i + "password=".len();
        let end = out[start..].find('&').map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
    }
    out
}

/// This machine's name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `ponte`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "ponte".to_owned())
}

/// `[ops]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ops {
    /// The HTTP listener (`listen`, default 127.0.0.1:9025).
    pub listen: SocketAddr,
    /// A file holding the bearer token of `/api/*` (`token_file`); without it `/api/*` is
    /// refused.
    pub token_file: Option<PathBuf>,
}

/// `[timers]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// After a dispatch, when the preavviso di mancata consegna is sent if no delivery
    /// evidence came back (`warning`, default 12h).
    pub warning: Duration,
    /// When the final non-delivery notice is sent (`final`, default 24h).
    pub final_notice: Duration,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Recipients of one REM dispatch entering PEC (`max_recipients`, default 500).
    pub max_recipients: usize,
    /// Size × recipients of one dispatch (`max_total_bytes`, default 100 MB).
    pub max_total_bytes: u64,
    /// Attachment types refused: MIME types (`application/x-msdownload`, `audio/*`) or file
    /// name extensions (`.exe`), compared case-insensitively (`refused_attachments`).
    pub refused_attachments: Vec<String>,
}

/// `[delivery]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// A folder where messages without a route (and PEC messages without `[pec] relay`) are
    /// written as `.eml` files instead of being sent (`outbox`; `ponte serve --dev` sets it).
    pub outbox: Option<PathBuf>,
    /// The wait before the first retry (`first_retry`); doubled each time, with jitter.
    pub first_retry: Duration,
    /// The longest wait between attempts (`max_retry`).
    pub max_retry: Duration,
    /// After this age a message still undelivered fails with the mapped notice (`max_age`).
    pub max_age: Duration,
    /// Connections at once to one destination (`per_destination`).
    pub per_destination: usize,
    /// Timeout of connecting and of each SMTP exchange (`timeout`).
    pub timeout: Duration,
    /// PEM files of certificates trusted for the peers' STARTTLS certificates besides the
    /// system's store (`tls_anchors`): a provider's private CA, a test peer's CA.
    pub tls_anchors: Vec<PathBuf>,
    /// The port of MX hosts (`mx_port`, default 25; Postfix's `smtp_tcp_port`): another
    /// value only for a test network or a port-redirecting firewall.
    pub mx_port: u16,
}

/// `"30s"`, `"5m"`, `"12h"`, `"2d"`, `"250ms"`: a positive whole number and a unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?}: no unit (write e.g. \"30s\", \"5m\", \"12h\", \"2d\")"))?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| {
        format!("{s:?}: expected a whole number and a unit (ms, s, m, h or d), e.g. \"30s\"")
    })?;
    let secs = |mult: u64| {
        n.checked_mul(mult)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{s:?}: too long"))
    };
    let d = match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        other => Err(format!("{s:?}: unknown unit {other:?} (ms, s, m, h or d)")),
    }?;
    if d.is_zero() {
        return Err(format!("{s:?}: must be more than zero"));
    }
    Ok(d)
}

/// Writes a duration the way [`parse_duration`] reads it (the largest exact unit).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    // Days only from two days on: "24h" reads better than "1d" next to "12h".
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s >= n && s.is_multiple_of(n) && (unit != "d" || s >= 2 * n) {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

impl Reader {
    fn spool(&mut self, s: Section<'_>) -> Option<Spool> {
        let path = match self.value(&s, "path") {
            None => Some(self.base.join(DEFAULT_SPOOL_DIR)),
            Some(_) => self.path_key(&s, "path", true),
        };
        let lease = self.duration(&s, "lease", DEFAULT_LEASE);
        if let Some(l) = lease
            && l < Duration::from_secs(1)
        {
            self.error(
                "spool.lease",
                None,
                "must be at least 1s (a live node renews its claims every third of it)",
            );
        }
        let url = match self.string(&s, "url", false) {
            None => None,
            Some(u) => match DatabaseUrl::parse(&u) {
                Ok(u) => Some(Some(u)),
                Err(m) => {
                    self.error("spool.url", None, m);
                    Some(None)
                }
            },
        };
        let password_file = self.path_key(&s, "password_file", false);
        if let Some(p) = &password_file {
            match std::fs::read_to_string(p) {
                Ok(t) if !t.trim_end_matches(['\r', '\n']).is_empty() => {}
                Ok(_) => self.error("spool.password_file", Some(p), "the file is empty"),
                Err(e) => self.error("spool.password_file", Some(p), format!("cannot read: {e}")),
            }
        }
        let node = match self.string(&s, "node", false) {
            None => Some(host_name()),
            Some(n) if n.len() > 64 || n.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                self.error(
                    "spool.node",
                    None,
                    format!("{n:?}: a node name is up to 64 characters, without spaces"),
                );
                None
            }
            Some(n) => Some(n),
        };
        let pool = self.count(&s, "pool", DEFAULT_POOL as u64, 256);
        if url.is_none() {
            for key in ["password_file", "node", "pool"] {
                if self.value(&s, key).is_some() {
                    self.problems.push(Problem::warning(
                        format!("spool.{key}"),
                        None,
                        "only used with spool.url (the embedded spool has one node)",
                    ));
                }
            }
        } else if self.value(&s, "path").is_some() {
            self.problems.push(Problem::warning(
                "spool.path",
                None,
                "not used: spool.url selects the shared spool on PostgreSQL",
            ));
        }
        let shared = match url {
            None => None,
            Some(u) => Some(SharedSpool {
                url: u?,
                password_file,
                node: node?,
                pool: usize::try_from(pool?).ok()?,
            }),
        };
        Some(Spool {
            path: path?,
            shared,
            lease: lease.filter(|l| *l >= Duration::from_secs(1))?,
        })
    }

    fn duration(&mut self, s: &Section<'_>, key: &str, default: Duration) -> Option<Duration> {
        match self.value(s, key) {
            None => Some(default),
            Some(Value::String(v)) => parse_duration(v)
                .map_err(|m| self.error(format!("{}.{key}", s.name), None, m))
                .ok(),
            Some(other) => {
                let t = type_name(other);
                self.error(
                    format!("{}.{key}", s.name),
                    None,
                    format!("expected a duration such as \"30s\" or \"12h\", found {t}"),
                );
                None
            }
        }
    }

    fn count(&mut self, s: &Section<'_>, key: &str, default: u64, max: u64) -> Option<u64> {
        match self.value(s, key) {
            None => Some(default),
            Some(Value::Integer(n)) if *n >= 1 && n.unsigned_abs() <= max => Some(n.unsigned_abs()),
            Some(Value::Integer(n)) => {
                self.error(
                    format!("{}.{key}", s.name),
                    None,
                    format!("{n} is not from 1 to {max}"),
                );
                None
            }
            Some(other) => {
                let t = type_name(other);
                self.error(
                    format!("{}.{key}", s.name),
                    None,
                    format!("expected an integer, found {t}"),
                );
                None
            }
        }
    }

    fn listen(&mut self, s: &Section<'_>, key: &str, default: &str) -> Option<SocketAddr> {
        let v = self
            .string(s, key, false)
            .unwrap_or_else(|| default.to_owned());
        v.parse::<SocketAddr>()
            .map_err(|_| {
                self.error(
                    format!("{}.{key}", s.name),
                    None,
                    format!("{v:?} is not IP:PORT (e.g. 127.0.0.1:2525 or [::1]:2525)"),
                )
            })
            .ok()
    }

    fn tls_mode(&mut self, key: &str, table: Option<&Table>) -> Option<TlsMode> {
        match table.and_then(|t| t.get("tls")) {
            None => Some(TlsMode::Starttls),
            Some(Value::String(v)) => TlsMode::parse(v)
                .ok_or_else(|| {
                    self.error(
                        key.to_owned(),
                        None,
                        format!("{v:?}: expected none, starttls or required"),
                    )
                })
                .ok(),
            Some(other) => {
                let t = type_name(other);
                self.error(
                    key.to_owned(),
                    None,
                    format!("expected none, starttls or required, found {t}"),
                );
                None
            }
        }
    }

    fn smtp(&mut self, s: Section<'_>) -> Option<Smtp> {
        let listen = self.listen(&s, "listen", DEFAULT_SMTP_LISTEN);
        let hostname = self.string(&s, "hostname", false);
        let cert = self.path_key(&s, "tls_cert", false);
        let key = self.path_key(&s, "tls_key", false);
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => {
                check_tls_files(&cert, &key, &mut self.problems);
                Some(Some(TlsFiles { cert, key }))
            }
            (None, None) => Some(None),
            (Some(_), None) if self.value(&s, "tls_key").is_none() => {
                self.error("smtp.tls_cert", None, "needs smtp.tls_key");
                None
            }
            (None, Some(_)) if self.value(&s, "tls_cert").is_none() => {
                self.error("smtp.tls_key", None, "needs smtp.tls_cert");
                None
            }
            _ => None,
        };
        let max_message_bytes = self.count(
            &s,
            "max_message_bytes",
            DEFAULT_MAX_MESSAGE_BYTES,
            4 * 1024 * 1024 * 1024,
        );
        let max_recipients = self.count(
            &s,
            "max_recipients",
            DEFAULT_SMTP_MAX_RECIPIENTS as u64,
            100_000,
        );
        let max_connections = self.count(
            &s,
            "max_connections",
            DEFAULT_MAX_CONNECTIONS as u64,
            100_000,
        );
        let command_timeout = self.duration(&s, "command_timeout", DEFAULT_COMMAND_TIMEOUT);
        let data_timeout = self.duration(&s, "data_timeout", DEFAULT_DATA_TIMEOUT);
        Some(Smtp {
            listen: listen?,
            hostname,
            tls: tls?,
            max_message_bytes: max_message_bytes?,
            max_recipients: usize::try_from(max_recipients?).ok()?,
            max_connections: usize::try_from(max_connections?).ok()?,
            command_timeout: command_timeout?,
            data_timeout: data_timeout?,
        })
    }

    fn routes(&mut self, root: &Table) -> Option<Vec<Route>> {
        let Some(Value::Array(items)) = root.get("route") else {
            return Some(Vec::new());
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let Value::Table(t) = item else {
                continue; // named by the unknown-key pass
            };
            let name = format!("route[{i}]");
            let domain = match t.get("domain") {
                Some(Value::String(d)) if valid_pattern(d) => Some(d.trim().to_ascii_lowercase()),
                Some(Value::String(d)) => {
                    self.error(
                        format!("{name}.domain"),
                        None,
                        format!("{d:?}: expected a domain, *.domain or *"),
                    );
                    None
                }
                Some(other) => {
                    let t = type_name(other);
                    self.error(
                        format!("{name}.domain"),
                        None,
                        format!("expected a string, found {t}"),
                    );
                    None
                }
                None => {
                    self.error(format!("{name}.domain"), None, "missing (required)");
                    None
                }
            };
            let relay = match t.get("relay") {
                Some(Value::String(r)) => Relay::parse(r)
                    .map_err(|m| self.error(format!("{name}.relay"), None, m))
                    .ok(),
                Some(other) => {
                    let t = type_name(other);
                    self.error(
                        format!("{name}.relay"),
                        None,
                        format!("expected \"host:port\", found {t}"),
                    );
                    None
                }
                None => {
                    self.error(format!("{name}.relay"), None, "missing (required)");
                    None
                }
            };
            let tls = self.tls_mode(&format!("{name}.tls"), Some(t));
            match (domain, relay, tls) {
                (Some(domain), Some(relay), Some(tls)) => {
                    if out.iter().any(|r: &Route| r.domain == domain) {
                        self.problems.push(Problem::warning(
                            format!("{name}.domain"),
                            None,
                            format!("{domain:?} is routed by an earlier [[route]]: this one is never used"),
                        ));
                    }
                    out.push(Route { domain, relay, tls });
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn pec_relay(&mut self, s: Section<'_>) -> Option<PecRelay> {
        let relay = match self.string(&s, "relay", false) {
            Some(r) => Some(
                Relay::parse(&r)
                    .map_err(|m| self.error("pec.relay", None, m))
                    .ok()?,
            ),
            None => None,
        };
        let tls = self.tls_mode("pec.tls", s.table)?;
        Some(PecRelay { relay, tls })
    }

    fn limits(&mut self, s: Section<'_>) -> Option<Limits> {
        let max_recipients = self.count(
            &s,
            "max_recipients",
            DEFAULT_LIMIT_RECIPIENTS as u64,
            100_000,
        );
        let max_total_bytes = self.count(
            &s,
            "max_total_bytes",
            DEFAULT_LIMIT_TOTAL_BYTES,
            u64::MAX >> 1,
        );
        let refused = self.strings(&s, "refused_attachments");
        if let Some(list) = &refused {
            for (i, r) in list.iter().enumerate() {
                let ok = if let Some(ext) = r.strip_prefix('.') {
                    !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric())
                } else {
                    r.split_once('/')
                        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
                };
                if !ok {
                    self.error(
                        format!("limits.refused_attachments[{i}]"),
                        None,
                        format!("{r:?}: expected a MIME type (type/subtype, type/*) or an extension (.exe)"),
                    );
                }
            }
        }
        Some(Limits {
            max_recipients: usize::try_from(max_recipients?).ok()?,
            max_total_bytes: max_total_bytes?,
            refused_attachments: refused?
                .into_iter()
                .map(|r| r.to_ascii_lowercase())
                .collect(),
        })
    }

    fn delivery(&mut self, s: Section<'_>) -> Option<Delivery> {
        let outbox = self.path_key(&s, "outbox", false);
        let first_retry = self.duration(&s, "first_retry", DEFAULT_FIRST_RETRY);
        let max_retry = self.duration(&s, "max_retry", DEFAULT_MAX_RETRY);
        let max_age = self.duration(&s, "max_age", DEFAULT_MAX_AGE);
        let per_destination =
            self.count(&s, "per_destination", DEFAULT_PER_DESTINATION as u64, 1000);
        let timeout = self.duration(&s, "timeout", DEFAULT_DELIVERY_TIMEOUT);
        let mx_port = self.count(&s, "mx_port", 25, 65535);
        let tls_anchors = self.strings(&s, "tls_anchors").map(|list| {
            let paths: Vec<PathBuf> = list.iter().map(|p| self.resolve(p)).collect();
            for (i, p) in paths.iter().enumerate() {
                if let Err(m) = read_anchor_file(p) {
                    self.error(format!("delivery.tls_anchors[{i}]"), Some(p), m);
                }
            }
            paths
        });
        if let (Some(a), Some(b)) = (first_retry, max_retry)
            && a > b
        {
            self.error(
                "delivery.first_retry",
                None,
                format!(
                    "{} is longer than delivery.max_retry ({})",
                    format_duration(a),
                    format_duration(b)
                ),
            );
            return None;
        }
        Some(Delivery {
            outbox,
            first_retry: first_retry?,
            max_retry: max_retry?,
            max_age: max_age?,
            per_destination: usize::try_from(per_destination?).ok()?,
            timeout: timeout?,
            tls_anchors: tls_anchors?,
            mx_port: u16::try_from(mx_port?).ok()?,
        })
    }
}

/// Reads the service's tables (every key optional).
pub(super) fn read(r: &mut Reader, root: &Table) -> Option<Service> {
    let smtp = r.smtp(r.section(root, "smtp"));
    let routes = r.routes(root);
    let pec = r.pec_relay(r.section(root, "pec"));
    let spool = r.spool(r.section(root, "spool"));
    let ops_section = r.section(root, "ops");
    let ops_listen = r.listen(&ops_section, "listen", DEFAULT_OPS_LISTEN);
    let token_file = r.path_key(&ops_section, "token_file", false);
    if let Some(p) = &token_file {
        match std::fs::read_to_string(p) {
            Ok(t) if t.trim().len() >= 16 => {}
            Ok(_) => r.error(
                "ops.token_file",
                Some(p),
                "the token must be at least 16 characters",
            ),
            Err(e) => r.error("ops.token_file", Some(p), format!("cannot read: {e}")),
        }
    }
    if let Some(l) = ops_listen
        && !l.ip().is_loopback()
        && token_file.is_none()
    {
        r.problems.push(Problem::warning(
            "ops.listen",
            None,
            format!("{l} is not loopback and there is no ops.token_file: /api/* is refused, /metrics and /healthz are open"),
        ));
    }
    let timers_section = r.section(root, "timers");
    let warning = r.duration(&timers_section, "warning", DEFAULT_WARNING);
    let final_notice = r.duration(&timers_section, "final", DEFAULT_FINAL);
    if let (Some(w), Some(f)) = (warning, final_notice)
        && w >= f
    {
        r.error(
            "timers.final",
            None,
            format!(
                "{} is not after timers.warning ({})",
                format_duration(f),
                format_duration(w)
            ),
        );
    }
    let limits = r.limits(r.section(root, "limits"));
    let delivery = r.delivery(r.section(root, "delivery"));
    Some(Service {
        smtp: smtp?,
        routes: routes?,
        pec: pec?,
        spool: spool?,
        ops: Ops {
            listen: ops_listen?,
            token_file,
        },
        timers: Timers {
            warning: warning?,
            final_notice: final_notice.filter(|f| warning.is_some_and(|w| w < *f))?,
        },
        limits: limits?,
        delivery: delivery?,
    })
}

fn valid_pattern(d: &str) -> bool {
    let d = d.trim();
    if d == "*" {
        return true;
    }
    let d = d.strip_prefix("*.").unwrap_or(d);
    !d.is_empty()
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The certificates (DER) of a PEM file of trust anchors (`[delivery] tls_anchors`): at least
/// one, each a certificate rustls can take as a root.
pub fn read_anchor_file(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate in this file".into());
    }
    let mut roots = rustls::RootCertStore::empty();
    for c in &certs {
        roots
            .add(c.clone())
            .map_err(|e| format!("not usable as a trust anchor: {e}"))?;
    }
    Ok(certs.into_iter().map(|c| c.to_vec()).collect())
}

/// The STARTTLS certificate and key are readable PEM.
fn check_tls_files(cert: &std::path::Path, key: &std::path::Path, problems: &mut Vec<Problem>) {
    use rustls_pki_types::pem::PemObject;
    match rustls_pki_types::CertificateDer::pem_file_iter(cert) {
        Ok(it) => {
            let certs: Result<Vec<_>, _> = it.collect();
            match certs {
                Ok(c) if c.is_empty() => problems.push(Problem::error(
                    "smtp.tls_cert",
                    Some(cert),
                    "no PEM certificate in this file",
                )),
                Ok(_) => {}
                Err(e) => problems.push(Problem::error("smtp.tls_cert", Some(cert), e.to_string())),
            }
        }
        Err(e) => problems.push(Problem::error("smtp.tls_cert", Some(cert), e.to_string())),
    }
    if let Err(e) = rustls_pki_types::PrivateKeyDer::from_pem_file(key) {
        problems.push(Problem::error(
            "smtp.tls_key",
            Some(key),
            format!("not a PEM private key: {e}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_write() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration(" 12h "), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in [
            "",
            "12",
            "h",
            "0s",
            "1.5h",
            "-3s",
            "3 weeks",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        for d in ["250ms", "30s", "5m", "12h", "2d", "90s"] {
            assert_eq!(format_duration(parse_duration(d).unwrap_or_default()), d);
        }
    }

    #[test]
    fn relays_parse() {
        let r = |s| Relay::parse(s);
        assert_eq!(
            r("mx.example.eu:2525"),
            Ok(Relay {
                host: "mx.example.eu".into(),
                port: 2525
            })
        );
        assert_eq!(r("mx.example.eu").map(|r| r.port), Ok(25));
        assert_eq!(r("[::1]:25").map(|r| r.host), Ok("::1".to_string()));
        assert_eq!(
            r("[::1]:25").map(|r| r.to_string()),
            Ok("[::1]:25".to_string())
        );
        for bad in [
            "",
            ":25",
            "host:0",
            "host:99999",
            "::1:25",
            "[::1",
            "a b:25",
        ] {
            assert!(r(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domain_patterns() {
        assert!(domain_matches("example.eu", "EXAMPLE.eu."));
        assert!(!domain_matches("example.eu", "mx.example.eu"));
        assert!(domain_matches("*.example.eu", "mx.example.eu"));
        assert!(domain_matches("*.example.eu", "example.eu"));
        assert!(!domain_matches("*.example.eu", "badexample.eu"));
        assert!(domain_matches("*", "anything.test"));
        assert!(valid_pattern("*.example.eu") && valid_pattern("*"));
        assert!(!valid_pattern("*example.eu") && !valid_pattern("a..b") && !valid_pattern(""));
    }
}
