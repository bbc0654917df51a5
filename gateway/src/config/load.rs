//! Reading the configuration file: TOML syntax, then every table and key against the schema
//! (unknown keys named, wrong types named, required keys missing named), then every file the
//! keys name (keys, certificates, anchors, snapshot), then the checks of [`mod@super::check`].
//! Every problem is collected; the [`Config`] is built only when none is an error.
//!
//! Why not `serde(deny_unknown_fields)`: serde stops at the first unknown key or wrong type,
//! and `ponte config check` must name them all. The schema is the table [`SCHEMA`] below, and
//! each key is read by a typed accessor that records a problem instead of stopping.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use toml::{Table, Value};

use super::check;
use super::{
    Config, DEFAULT_CORRELATION_FILE, DEFAULT_COUNTRY, DEFAULT_LDAP_TIMEOUT_SECONDS,
    DEFAULT_REM_SERVICE_LOCAL_PART, Error, Identity, IndexSource, LdapBind, LdapConnection, Policy,
    Problem, Trust, TsaConfig,
};
use crate::crypto::SigningKey;
use crate::x509::Certificate;

/// Every table of the file and its keys. Anything else is an unknown key.
pub const SCHEMA: &[(&str, &[&str])] = &[
    (
        "identity",
        &[
            "provider_name",
            "domain",
            "country",
            "rem_service_address",
            "pec_key",
            "pec_cert",
            "pec_chain",
            "rem_key",
            "rem_cert",
            "rem_chain",
        ],
    ),
    (
        "trust",
        &[
            "pec_anchors",
            "rem_anchors",
            "tsa_anchors",
            "lists",
            "list_anchors",
            "allow_unsigned_lists",
            "refresh",
            "cache_dir",
            "dns_servers",
        ],
    ),
    (
        "index",
        &[
            "ldap",
            "base",
            "snapshot",
            "ca_file",
            "bind_dn",
            "password_file",
            "timeout_seconds",
        ],
    ),
    ("tsa", &["url"]),
    ("policy", &["applicable"]),
    ("mappings", &["dir"]),
    ("correlation", &["path"]),
    ("output", &["attach_evidence"]),
    // The holders' identity assurance: see `super::holders`.
    ("holders", super::holders::KEYS),
    // The gateway service (`ponte serve`): see `super::service`.
    (
        "smtp",
        &[
            "listen",
            "hostname",
            "tls_cert",
            "tls_key",
            "max_message_bytes",
            "max_recipients",
            "max_connections",
            "command_timeout",
            "data_timeout",
        ],
    ),
    ("route", &["domain", "relay", "tls"]),
    ("pec", &["relay", "tls"]),
    (
        "spool",
        &["path", "url", "password_file", "node", "pool", "lease"],
    ),
    ("ops", &["listen", "token_file"]),
    ("timers", &["warning", "final"]),
    (
        "limits",
        &["max_recipients", "max_total_bytes", "refused_attachments"],
    ),
    (
        "delivery",
        &[
            "outbox",
            "first_retry",
            "max_retry",
            "max_age",
            "per_destination",
            "timeout",
            "tls_anchors",
            "mx_port",
        ],
    ),
];

/// Tables that are arrays of tables (`[[route]]`).
pub const ARRAY_TABLES: &[&str] = &["route"];

/// The outcome of reading a configuration file that is readable TOML.
#[derive(Debug)]
pub struct Inspection {
    /// The configuration file, absolute.
    pub path: PathBuf,
    /// Every problem, errors and warnings, unknown keys first, then table by table in schema order ([`SCHEMA`]).
    pub problems: Vec<Problem>,
    /// The configuration, when no problem is an error.
    pub config: Option<Config>,
}

/// Reads the configuration at `path`, judging certificate validity at `now`. `Err` only when
/// the file cannot be read or is not TOML; everything else is a [`Problem`] in the answer.
pub fn inspect(path: &Path, now: OffsetDateTime) -> Result<Inspection, Error> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let bytes = std::fs::read(&abs).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Toml {
        path: path.to_path_buf(),
        message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
    })?;
    let table: Table = text.parse().map_err(|e: toml::de::Error| Error::Toml {
        path: path.to_path_buf(),
        // The message without the source excerpt, on one line.
        message: one_line(e.message(), e.span().map(|s| line_col(&text, s.start))),
    })?;
    let base = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut r = Reader {
        base,
        problems: Vec::new(),
    };
    let config = r.read(&table, &abs, now);
    let config = if r.problems.iter().any(Problem::is_error) {
        None
    } else {
        config
    };
    Ok(Inspection {
        path: abs,
        problems: r.problems,
        config,
    })
}

fn one_line(message: &str, at: Option<(usize, usize)>) -> String {
    let m = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match at {
        Some((line, col)) => format!("line {line}, column {col}: {m}"),
        None => m,
    }
}

/// 1-based line and column of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.chars().count(), |i| {
        before.get(i + 1..).unwrap_or("").chars().count()
    }) + 1;
    (line, col)
}

/// A problem from an [`Error::IndexFile`] (or any other error, on the whole `index` table).
fn file_problem(e: Error) -> Problem {
    match e {
        Error::IndexFile { key, path, reason } => Problem::error(key, Some(&path), reason),
        other => Problem::error("index", None, other.to_string()),
    }
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// Collects problems while reading.
pub(super) struct Reader {
    pub(super) base: PathBuf,
    pub(super) problems: Vec<Problem>,
}

/// One table of the file (absent tables read as empty).
pub(super) struct Section<'t> {
    pub(super) name: &'static str,
    pub(super) table: Option<&'t Table>,
}

impl Reader {
    pub(super) fn error(
        &mut self,
        key: impl Into<String>,
        path: Option<&Path>,
        msg: impl Into<String>,
    ) {
        self.problems.push(Problem::error(key, path, msg));
    }

    pub(super) fn resolve(&self, value: &str) -> PathBuf {
        self.base.join(value)
    }

    /// A string key naming a file, resolved from the configuration's folder.
    pub(super) fn path_key(
        &mut self,
        s: &Section<'_>,
        key: &str,
        required: bool,
    ) -> Option<PathBuf> {
        let v = self.string(s, key, required)?;
        Some(self.resolve(&v))
    }

    fn read(&mut self, root: &Table, abs: &Path, now: OffsetDateTime) -> Option<Config> {
        self.unknown_keys(root);
        let identity = self.identity(self.section(root, "identity"), now);
        let trust = self.trust(self.section(root, "trust"), now);
        if let (Some(id), Some(trust)) = (&identity, &trust) {
            check::identity_against_anchors(id, trust, now, &mut self.problems);
        }
        let index = self.index(self.section(root, "index"));
        let tsa = self.tsa(root);
        let policy = self.policy(self.section(root, "policy"));
        let mappings_dir = self.mappings(self.section(root, "mappings"));
        let correlation_path = self.correlation(self.section(root, "correlation"));
        let attach_evidence = self
            .boolean(&self.section(root, "output"), "attach_evidence")
            .unwrap_or(true);
        let service = super::service::read(self, root);
        let holders = super::holders::read(self, root);
        Some(Config {
            path: abs.to_path_buf(),
            identity: identity?,
            trust: trust?,
            index: index?,
            tsa: tsa?,
            policy: policy?,
            mappings_dir: mappings_dir?,
            correlation_path: correlation_path?,
            attach_evidence,
            service: service?,
            holders: holders?,
            warnings: Vec::new(),
        })
    }

    /// Names every key that is not in [`SCHEMA`], and every known table that is not a table.
    fn unknown_keys(&mut self, root: &Table) {
        for (name, value) in root {
            let Some((_, keys)) = SCHEMA.iter().find(|(t, _)| t == name) else {
                self.error(
                    name.clone(),
                    None,
                    format!(
                        "unknown key (known tables: {})",
                        SCHEMA
                            .iter()
                            .map(|(t, _)| *t)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            };
            match value {
                Value::Table(t) if !ARRAY_TABLES.contains(&name.as_str()) => {
                    for k in t.keys() {
                        if !keys.contains(&k.as_str()) {
                            self.error(
                                format!("{name}.{k}"),
                                None,
                                format!("unknown key (known in [{name}]: {})", keys.join(", ")),
                            );
                        }
                    }
                }
                Value::Array(items) if ARRAY_TABLES.contains(&name.as_str()) => {
                    for (i, item) in items.iter().enumerate() {
                        let Value::Table(t) = item else {
                            self.error(
                                format!("{name}[{i}]"),
                                None,
                                format!("expected a table ([[{name}]]), found {}", type_name(item)),
                            );
                            continue;
                        };
                        for k in t.keys() {
                            if !keys.contains(&k.as_str()) {
                                self.error(
                                    format!("{name}[{i}].{k}"),
                                    None,
                                    format!(
                                        "unknown key (known in [[{name}]]: {})",
                                        keys.join(", ")
                                    ),
                                );
                            }
                        }
                    }
                }
                _ if ARRAY_TABLES.contains(&name.as_str()) => self.error(
                    name.clone(),
                    None,
                    format!(
                        "expected an array of tables ([[{name}]]), found {}",
                        type_name(value)
                    ),
                ),
                other => self.error(
                    name.clone(),
                    None,
                    format!("expected a table, found {}", type_name(other)),
                ),
            }
        }
    }

    pub(super) fn section<'t>(&self, root: &'t Table, name: &'static str) -> Section<'t> {
        Section {
            name,
            table: root.get(name).and_then(Value::as_table),
        }
    }

    pub(super) fn value<'t>(&self, s: &Section<'t>, key: &str) -> Option<&'t Value> {
        s.table.and_then(|t| t.get(key))
    }

    /// A string key; `required` records a problem when it is missing.
    pub(super) fn string(&mut self, s: &Section<'_>, key: &str, required: bool) -> Option<String> {
        let full = format!("{}.{key}", s.name);
        match self.value(s, key) {
            None if required => {
                self.error(full, None, "missing (required)");
                None
            }
            None => None,
            Some(Value::String(v)) if v.trim().is_empty() => {
                self.error(full, None, "empty");
                None
            }
            Some(Value::String(v)) => Some(v.clone()),
            Some(other) => {
                self.error(
                    full,
                    None,
                    format!("expected a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An array of strings; missing reads as `Some(empty)`.
    pub(super) fn strings(&mut self, s: &Section<'_>, key: &str) -> Option<Vec<String>> {
        let full = format!("{}.{key}", s.name);
        match self.value(s, key) {
            None => Some(Vec::new()),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(v) => out.push(v.clone()),
                        other => {
                            ok = false;
                            self.error(
                                format!("{full}[{i}]"),
                                None,
                                format!("expected a string, found {}", type_name(other)),
                            );
                        }
                    }
                }
                ok.then_some(out)
            }
            Some(other) => {
                self.error(
                    full,
                    None,
                    format!("expected an array of strings, found {}", type_name(other)),
                );
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, s: &Section<'_>, key: &str) -> Option<bool> {
        match self.value(s, key) {
            None => None,
            Some(Value::Boolean(b)) => Some(*b),
            Some(other) => {
                self.error(
                    format!("{}.{key}", s.name),
                    None,
                    format!("expected true or false, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn read_file(&mut self, key: &str, path: &Path) -> Option<Vec<u8>> {
        match std::fs::read(path) {
            Ok(b) => Some(b),
            Err(e) => {
                self.error(key, Some(path), format!("cannot read: {e}"));
                None
            }
        }
    }

    /// A key: a PKCS#8 PEM file (resolved from the configuration's folder) or a `pkcs11:` URI
    /// (RFC 7512; the token is opened and logged in now, a relative `pin-source` resolved from
    /// the configuration's folder). The path is `None` for a URI.
    fn key_file(&mut self, s: &Section<'_>, key: &str) -> Option<(SigningKey, Option<PathBuf>)> {
        let full = format!("{}.{key}", s.name);
        let value = self.string(s, key, true)?;
        if crate::crypto::is_pkcs11_uri(&value) {
            return match SigningKey::open(&value, &self.base) {
                Ok(k) => {
                    if k.pkcs11_uri().is_some()
                        && crate::crypto::Pkcs11Uri::parse(&value).is_ok_and(|u| u.has_pin_value())
                    {
                        self.problems.push(Problem::warning(
                            full,
                            None,
                            "the PIN is written in the configuration (pin-value): prefer \
                             pin-source=file:/path to a file only the gateway can read",
                        ));
                    }
                    Some((k, None))
                }
                Err(e) => {
                    self.error(full, None, e.to_string());
                    None
                }
            };
        }
        let path = self.resolve(&value);
        let pem = self.read_file(&full, &path)?;
        match SigningKey::from_pkcs8_pem(&pem) {
            Ok(k) => Some((k, Some(path))),
            Err(e) => {
                self.error(
                    full,
                    Some(&path),
                    format!("not a PKCS#8 PEM private key (RSA or ECDSA P-256): {e}"),
                );
                None
            }
        }
    }

    /// Every certificate of a PEM file; at least one.
    fn certs_in(&mut self, key: &str, path: &Path) -> Option<Vec<Certificate>> {
        let pem = self.read_file(key, path)?;
        match crate::x509::load_pem(&pem) {
            Ok(c) if c.is_empty() => {
                self.error(key, Some(path), "no PEM certificate in this file");
                None
            }
            Ok(c) => Some(c),
            Err(e) => {
                self.error(key, Some(path), e.to_string());
                None
            }
        }
    }

    fn cert_file(&mut self, s: &Section<'_>, key: &str) -> Option<(Certificate, PathBuf)> {
        let path = self.path_key(s, key, true)?;
        let full = format!("{}.{key}", s.name);
        let mut certs = self.certs_in(&full, &path)?;
        if certs.len() != 1 {
            self.error(
                full,
                Some(&path),
                format!(
                    "expected one certificate, found {} (put intermediates in the _chain key)",
                    certs.len()
                ),
            );
            return None;
        }
        certs.pop().map(|c| (c, path))
    }

    /// Certificates of every file of an array key, with the file each came from.
    fn cert_files(&mut self, s: &Section<'_>, key: &str) -> Option<Vec<(Certificate, PathBuf)>> {
        let full = format!("{}.{key}", s.name);
        let files = self.strings(s, key)?;
        let mut out = Vec::new();
        let mut ok = true;
        for f in files {
            let path = self.resolve(&f);
            match self.certs_in(&full, &path) {
                Some(certs) => out.extend(certs.into_iter().map(|c| (c, path.clone()))),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn identity(&mut self, s: Section<'_>, now: OffsetDateTime) -> Option<Identity> {
        if s.table.is_none() {
            self.error("identity", None, "missing table [identity] (required)");
            return None;
        }
        let provider_name = self.string(&s, "provider_name", true);
        let domain = self.string(&s, "domain", true).and_then(|d| {
            check::domain(&d)
                .map_err(|m| self.error("identity.domain", None, m))
                .ok()
        });
        let country = match self.string(&s, "country", false) {
            Some(c) => check::country(&c)
                .map_err(|m| self.error("identity.country", None, m))
                .ok(),
            None => Some(DEFAULT_COUNTRY.to_owned()),
        };
        let rem_service_address = match self.string(&s, "rem_service_address", false) {
            Some(a) => check::address(&a)
                .map_err(|m| self.error("identity.rem_service_address", None, m))
                .ok(),
            None => domain
                .as_ref()
                .map(|d| format!("{DEFAULT_REM_SERVICE_LOCAL_PART}@{d}")),
        };
        let pec_key = self.key_file(&s, "pec_key");
        let pec_cert = self.cert_file(&s, "pec_cert");
        let pec_chain = self.cert_files(&s, "pec_chain");
        let rem_key = self.key_file(&s, "rem_key");
        let rem_cert = self.cert_file(&s, "rem_cert");
        let rem_chain = self.cert_files(&s, "rem_chain");
        for (side, key, cert) in [("pec", &pec_key, &pec_cert), ("rem", &rem_key, &rem_cert)] {
            if let (Some((k, kp)), Some((c, cp))) = (key, cert) {
                check::key_matches(side, k, kp.as_deref(), c, cp, &mut self.problems);
            }
        }
        for (key, cert) in [
            ("identity.pec_cert", &pec_cert),
            ("identity.rem_cert", &rem_cert),
        ] {
            if let Some((c, p)) = cert {
                check::identity_validity(key, c, p, now, &mut self.problems);
            }
        }
        for (key, chain) in [
            ("identity.pec_chain", &pec_chain),
            ("identity.rem_chain", &rem_chain),
        ] {
            for (c, p) in chain.iter().flatten() {
                check::identity_validity(key, c, p, now, &mut self.problems);
            }
        }
        Some(Identity {
            provider_name: provider_name?,
            domain: domain?,
            country: country?,
            rem_service_address: rem_service_address?,
            pec_key: pec_key?.0,
            pec_cert: pec_cert?.0,
            pec_chain: pec_chain?.into_iter().map(|(c, _)| c).collect(),
            rem_key: rem_key?.0,
            rem_cert: rem_cert?.0,
            rem_chain: rem_chain?.into_iter().map(|(c, _)| c).collect(),
        })
    }

    fn trust(&mut self, s: Section<'_>, now: OffsetDateTime) -> Option<Trust> {
        let trusted_lists = super::trust_lists::read(s.table, &self.base, now, &mut self.problems);
        // With trusted lists, REM signers are trusted through them: `rem_anchors` is then
        // an optional override.
        let rem_by_lists = trusted_lists.as_ref().is_some_and(|t| !t.lists.is_empty());
        let mut lists = Vec::new();
        for key in ["pec_anchors", "rem_anchors", "tsa_anchors"] {
            let loaded = self.cert_files(&s, key);
            if let Some(list) = &loaded {
                if list.is_empty() && key == "rem_anchors" && rem_by_lists {
                    // Allowed: the trusted lists say who the REM providers are.
                } else if list.is_empty() && self.value(&s, key).is_some_and(|v| v.is_array()) {
                    self.error(
                        format!("trust.{key}"),
                        None,
                        "empty: at least one trust anchor is required",
                    );
                } else if list.is_empty() {
                    self.error(
                        format!("trust.{key}"),
                        None,
                        "missing (required): at least one trust anchor",
                    );
                }
                for (c, p) in list {
                    check::anchor_validity(&format!("trust.{key}"), c, p, now, &mut self.problems);
                }
            }
            lists.push(loaded.map(|l| l.into_iter().map(|(c, _)| c).collect::<Vec<_>>()));
        }
        let mut it = lists.into_iter();
        Some(Trust {
            pec_anchors: it.next()??,
            rem_anchors: it.next()??,
            tsa_anchors: it.next()??,
            lists: trusted_lists?,
        })
    }

    fn index(&mut self, s: Section<'_>) -> Option<IndexSource> {
        let ldap = self.string(&s, "ldap", false);
        let base = self.string(&s, "base", false);
        let snapshot = self.path_key(&s, "snapshot", false);
        if let Some(p) = &snapshot
            && let Err(e) = super::read_snapshot(p)
        {
            let reason = match e {
                Error::Snapshot { reason, .. } => reason,
                other => other.to_string(),
            };
            self.error("index.snapshot", Some(p), reason);
        }
        let connection = self.ldap_connection(&s, ldap.as_deref());
        match ldap {
            Some(url) => {
                if let Err(m) = check::ldap_url(&url) {
                    self.error("index.ldap", None, m);
                }
                Some(IndexSource::Ldap {
                    url,
                    base: base.unwrap_or_else(|| crate::index::DEFAULT_BASE.to_owned()),
                    snapshot_fallback: snapshot,
                    connection: connection?,
                })
            }
            None => {
                for key in [
                    "base",
                    "ca_file",
                    "bind_dn",
                    "password_file",
                    "timeout_seconds",
                ] {
                    if self.value(&s, key).is_some() {
                        self.problems.push(Problem::warning(
                            format!("index.{key}"),
                            None,
                            "ignored: no index.ldap directory is configured",
                        ));
                    }
                }
                Some(snapshot.map_or(IndexSource::Embedded, IndexSource::Snapshot))
            }
        }
    }

    /// The directory connection options, each file checked (the password is read to check
    /// it, never kept or shown).
    fn ldap_connection(&mut self, s: &Section<'_>, url: Option<&str>) -> Option<LdapConnection> {
        let mut ok = true;
        let ca_file = self.path_key(s, "ca_file", false);
        if let Some(p) = &ca_file {
            if let Err(e) = super::read_ca_file(p) {
                ok = false;
                self.problems.push(file_problem(e));
            } else if url.is_some_and(|u| !u.to_ascii_lowercase().starts_with("ldaps://")) {
                self.problems.push(Problem::warning(
                    "index.ca_file",
                    Some(p),
                    "ignored: index.ldap is not ldaps://",
                ));
            }
        }
        let dn = self.string(s, "bind_dn", false);
        let password_file = self.path_key(s, "password_file", false);
        let bind = match (dn, password_file) {
            (Some(dn), Some(password_file)) => {
                if let Err(e) = super::read_password(&password_file) {
                    ok = false;
                    self.problems.push(file_problem(e));
                }
                Some(LdapBind { dn, password_file })
            }
            (Some(_), None) if self.value(s, "password_file").is_none() => {
                ok = false;
                self.error(
                    "index.bind_dn",
                    None,
                    "needs index.password_file (a bind without a password is refused)",
                );
                None
            }
            (None, Some(_)) if self.value(s, "bind_dn").is_none() => {
                ok = false;
                self.error("index.password_file", None, "needs index.bind_dn");
                None
            }
            _ => None,
        };
        let timeout = match self.value(s, "timeout_seconds") {
            None => Some(DEFAULT_LDAP_TIMEOUT_SECONDS),
            Some(Value::Integer(n)) if (1..=600).contains(n) => u64::try_from(*n).ok(),
            Some(Value::Integer(n)) => {
                self.error(
                    "index.timeout_seconds",
                    None,
                    format!("{n} is not from 1 to 600"),
                );
                None
            }
            Some(other) => {
                let t = type_name(other);
                self.error(
                    "index.timeout_seconds",
                    None,
                    format!("expected an integer, found {t}"),
                );
                None
            }
        };
        let connection = LdapConnection {
            ca_file,
            bind,
            timeout: std::time::Duration::from_secs(timeout?),
        };
        ok.then_some(connection)
    }

    /// `Some(None)`: no `[tsa]` table; `None`: a problem was recorded.
    fn tsa(&mut self, root: &Table) -> Option<Option<TsaConfig>> {
        let s = self.section(root, "tsa");
        if s.table.is_none() {
            return Some(None);
        }
        let url = self.string(&s, "url", true)?;
        if let Err(m) = check::http_url(&url) {
            self.error("tsa.url", None, m);
            return None;
        }
        Some(Some(TsaConfig { url }))
    }

    fn policy(&mut self, s: Section<'_>) -> Option<Policy> {
        if self.value(&s, "applicable").is_none() {
            self.error(
                "policy.applicable",
                None,
                "missing (required): the REM policies that apply, as absolute URIs",
            );
            return None;
        }
        let applicable = self.strings(&s, "applicable")?;
        if applicable.is_empty() {
            self.error(
                "policy.applicable",
                None,
                "empty: at least one policy URI is required",
            );
            return None;
        }
        let mut ok = true;
        for (i, uri) in applicable.iter().enumerate() {
            if let Err(m) = check::absolute_uri(uri) {
                ok = false;
                self.error(format!("policy.applicable[{i}]"), None, m);
            } else if applicable.get(..i).is_some_and(|b| b.contains(uri)) {
                self.problems.push(Problem::warning(
                    format!("policy.applicable[{i}]"),
                    None,
                    format!("{uri:?} is listed twice"),
                ));
            }
        }
        ok.then_some(Policy { applicable })
    }

    /// `Some(None)`: the compiled-in tables.
    fn mappings(&mut self, s: Section<'_>) -> Option<Option<PathBuf>> {
        if self.value(&s, "dir").is_none() {
            return Some(None);
        }
        let dir = self.path_key(&s, "dir", true)?;
        if !dir.is_dir() {
            self.error("mappings.dir", Some(&dir), "not a directory");
            return None;
        }
        match crate::mappings::load_dir(&dir) {
            Err(e) => {
                self.error("mappings.dir", Some(&dir), e.to_string());
                None
            }
            Ok(tables) => {
                let problems = crate::mappings::validate(&tables);
                for p in &problems {
                    self.error("mappings.dir", Some(&dir), p.to_string());
                }
                problems.is_empty().then_some(Some(dir))
            }
        }
    }

    fn correlation(&mut self, s: Section<'_>) -> Option<PathBuf> {
        let path = match self.value(&s, "path") {
            None => self.base.join(DEFAULT_CORRELATION_FILE),
            Some(_) => self.path_key(&s, "path", true)?,
        };
        check::correlation_path(&path, &mut self.problems);
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("abc", 99), (1, 4));
    }

    #[test]
    fn schema_has_no_duplicate_keys() {
        for (t, keys) in SCHEMA {
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[..i].contains(k), "[{t}] {k} twice");
            }
        }
    }
}
