//! `[holders]`: where the mailbox holders' identity assurance comes from and what Ponte does
//! with a sender whose identity is not confirmed ([`crate::holders`],
//! [`crate::translate::assurance`]). Absent: no source, and the evidence states no sender
//! assurance (today's behaviour, reported in every translation's notes).
//!
//! ```toml
//! [holders]
//! file = "holders.jsonl"            # or ldap = "ldap://..." (with base), or url = "http://..."
//! unverified = "basic"              # or "refuse"
//! two_factor_required = false
//! positive_ttl = "10m"              # cache; negative_ttl = "1m", max_stale = "1d"
//! assurance_policy = "https://eidas.agid.gov.it/REM/rem-policy-it#assurance-level-policy"
//! platform_addresses = ["192.0.2.10", "10.1.0.0/16"]
//! [holders.method_uris]             # AuthenticationMethod per method
//! spid = "https://www.spid.gov.it/SpidL2"
//! [holders.attributes]              # LDAP attribute names
//! verified = "pecHolderVerified"
//! ```

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::{Table, Value};

use super::load::{Reader, Section, type_name};
use super::{Error, LdapBind, Problem};
use crate::holders::{self, CachePolicy, Holders, LdapAttributes, LdapSource, Method, Source};

/// The keys of `[holders]` (the sub-tables `attributes` and `method_uris` are checked here).
pub const KEYS: &[&str] = &[
    "file",
    "ldap",
    "url",
    "base",
    "bind_dn",
    "password_file",
    "ca_file",
    "timeout_seconds",
    "attributes",
    "unverified",
    "two_factor_required",
    "positive_ttl",
    "negative_ttl",
    "max_stale",
    "assurance_policy",
    "method_uris",
    "platform_addresses",
];

/// The keys of `[holders.attributes]`: the holder record's fields.
pub const ATTRIBUTE_KEYS: &[&str] = &[
    "mailbox",
    "verified",
    "method",
    "verified_at",
    "loa",
    "two_factor",
];

/// `assurance_policy` when not given: the Policy-IT assurance level policy (the AgID kit's
/// `PolicyID`).
pub const DEFAULT_ASSURANCE_POLICY: &str =
    "https://eidas.agid.gov.it/REM/rem-policy-it#assurance-level-policy";

/// The `AuthenticationMethod` of a method without a `method_uris` entry: the Policy-IT
/// authentication-method URI (the AgID kit's value; Policy-IT names one URI for the methods
/// it admits).
pub const DEFAULT_METHOD_URI: &str =
    "https://eidas.agid.gov.it/REM/rem-policy-it#authentication-method";

/// What to do with a sender whose identity is not confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unverified {
    /// Refuse the submission (`ponte translate` exits 1; the gateway answers with a
    /// non-accettazione).
    Refuse,
    /// Relay it; the evidence states no assurance ("basic" authentication).
    Basic,
}

impl Unverified {
    /// `refuse` or `basic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unverified::Refuse => "refuse",
            Unverified::Basic => "basic",
        }
    }
}

/// Where the records are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldersSource {
    /// `file`: a JSON Lines file.
    File(PathBuf),
    /// `ldap` with `base`.
    Ldap {
        /// The directory URL.
        url: String,
        /// The search base.
        base: String,
        /// The attribute names.
        attributes: Box<LdapAttributes>,
        /// Simple bind; anonymous when `None`.
        bind: Option<LdapBind>,
        /// Anchors for `ldaps://`.
        ca_file: Option<PathBuf>,
        /// Connection and operation timeout.
        timeout: Duration,
    },
    /// `url`: an HTTP(S) endpoint.
    Url {
        /// The URL (with `{mailbox}`, or `?mailbox=` is appended).
        url: String,
        /// Connection and read timeout.
        timeout: Duration,
    },
}

/// An address or a prefix of the PEC platform (`platform_addresses`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length (32 or 128 for one address).
    pub prefix: u8,
}

impl AddressRange {
    /// `192.0.2.10`, `10.1.0.0/16`, `2001:db8::/32`.
    pub fn parse(s: &str) -> Result<AddressRange, String> {
        let t = s.trim();
        let (a, p) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("{s:?}: prefix length must be 0 to {max}"))?,
        };
        Ok(AddressRange { addr, prefix })
    }

    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `[holders]`, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldersConfig {
    /// Where the records are.
    pub source: HoldersSource,
    /// `unverified` (default `basic`).
    pub unverified: Unverified,
    /// `two_factor_required` (default false): a holder without two-factor access counts as
    /// not confirmed.
    pub two_factor_required: bool,
    /// `positive_ttl` (10m), `negative_ttl` (1m), `max_stale` (1d).
    pub cache: CachePolicy,
    /// `assurance_policy`: the evidence's `GlobalAssuranceLevel/PolicyID`.
    pub assurance_policy: String,
    /// `method_uris`: `AuthenticationMethod` per method (others get [`DEFAULT_METHOD_URI`]).
    pub method_uris: Vec<(Method, String)>,
    /// `platform_addresses`: where the per-submission authentication header is accepted from.
    pub platform_addresses: Vec<AddressRange>,
}

impl HoldersConfig {
    /// The `AuthenticationMethod` URI of `method`.
    pub fn method_uri(&self, method: &Method) -> &str {
        self.method_uris
            .iter()
            .find(|(m, _)| m == method)
            .map_or(DEFAULT_METHOD_URI, |(_, u)| u.as_str())
    }

    /// Whether `ip` is one of the PEC platform's addresses.
    pub fn is_platform(&self, ip: IpAddr) -> bool {
        self.platform_addresses.iter().any(|r| r.contains(ip))
    }

    /// One line for `ponte config check`: the source and the policy.
    pub fn describe(&self) -> String {
        let source = match &self.source {
            HoldersSource::File(p) => format!("file {}", p.display()),
            HoldersSource::Ldap { url, base, .. } => format!("ldap {url} (base {base})"),
            HoldersSource::Url { url, .. } => format!("url {url}"),
        };
        format!(
            "{source}; unverified senders: {}; two factors {}; {} platform address(es)",
            self.unverified.as_str(),
            if self.two_factor_required {
                "required"
            } else {
                "not required"
            },
            self.platform_addresses.len()
        )
    }

    /// Opens the source (nothing is contacted yet: the first lookup does).
    pub fn open(&self) -> Result<Holders, Error> {
        let source = match &self.source {
            HoldersSource::File(p) => Source::file(p.clone()),
            HoldersSource::Ldap {
                url,
                base,
                attributes,
                bind,
                ca_file,
                timeout,
            } => {
                let tls_roots = match ca_file {
                    Some(p) => {
                        super::read_ca_file(p).map_err(|e| holders_file("holders.ca_file", p, e))?
                    }
                    None => Vec::new(),
                };
                let bind = match bind {
                    Some(b) => Some((
                        b.dn.clone(),
                        super::read_password(&b.password_file).map_err(|e| {
                            holders_file("holders.password_file", &b.password_file, e)
                        })?,
                    )),
                    None => None,
                };
                Source::Ldap(LdapSource {
                    url: url.clone(),
                    base: base.clone(),
                    bind,
                    tls_roots,
                    timeout: *timeout,
                    attributes: (**attributes).clone(),
                })
            }
            HoldersSource::Url { url, timeout } => Source::http(
                url.clone(),
                crate::fetch::Fetcher::new(crate::fetch::HttpOptions {
                    connect_timeout: *timeout,
                    read_timeout: *timeout,
                    attempts: 2,
                    max_body: 64 * 1024,
                    ..crate::fetch::HttpOptions::default()
                }),
            ),
        };
        Ok(Holders::new(source, self.cache))
    }
}

fn holders_file(key: &'static str, path: &std::path::Path, e: Error) -> Error {
    let reason = match e {
        Error::IndexFile { reason, .. } => reason,
        other => other.to_string(),
    };
    Error::HoldersFile {
        key,
        path: path.to_path_buf(),
        reason,
    }
}

/// The `timeout_seconds` when not given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

fn duration(r: &mut Reader, s: &Section<'_>, key: &str, default: Duration) -> Option<Duration> {
    match r.value(s, key) {
        None => Some(default),
        Some(Value::String(v)) => super::service::parse_duration(v)
            .map_err(|m| r.error(format!("holders.{key}"), None, m))
            .ok(),
        Some(other) => {
            let t = type_name(other);
            r.error(
                format!("holders.{key}"),
                None,
                format!("expected a duration such as \"10m\", found {t}"),
            );
            None
        }
    }
}

fn sub_table<'t>(r: &mut Reader, s: &Section<'t>, key: &str) -> Option<Option<&'t Table>> {
    match r.value(s, key) {
        None => Some(None),
        Some(Value::Table(t)) => Some(Some(t)),
        Some(other) => {
            let t = type_name(other);
            r.error(
                format!("holders.{key}"),
                None,
                format!("expected a table, found {t}"),
            );
            None
        }
    }
}

/// Reads `[holders]`: `Some(None)` when the table is absent, `None` when a problem was
/// recorded.
pub(super) fn read(r: &mut Reader, root: &Table) -> Option<Option<HoldersConfig>> {
    let s = r.section(root, "holders");
    if s.table.is_none() {
        return Some(None);
    }
    let file = r.path_key(&s, "file", false);
    let ldap = r.string(&s, "ldap", false);
    let url = r.string(&s, "url", false);
    let given: Vec<&str> = [
        ("file", file.is_some()),
        ("ldap", ldap.is_some()),
        ("url", url.is_some()),
    ]
    .into_iter()
    .filter(|(_, g)| *g)
    .map(|(k, _)| k)
    .collect();
    let mut ok = true;
    if given.len() != 1 {
        // A key that was present but unreadable is already reported.
        if !["file", "ldap", "url"]
            .iter()
            .any(|k| r.value(&s, k).is_some())
            || given.len() > 1
        {
            r.error(
                "holders",
                None,
                if given.is_empty() {
                    "needs one source: file, ldap or url".to_owned()
                } else {
                    format!("one source only, found {}", given.join(" and "))
                },
            );
        }
        ok = false;
    }
    let timeout = match r.value(&s, "timeout_seconds") {
        None => Some(DEFAULT_TIMEOUT),
        Some(Value::Integer(n)) if (1..=600).contains(n) => {
            Some(Duration::from_secs(n.unsigned_abs()))
        }
        Some(other) => {
            let m = match other {
                Value::Integer(n) => format!("{n} is not from 1 to 600"),
                o => format!("expected an integer, found {}", type_name(o)),
            };
            r.error("holders.timeout_seconds", None, m);
            None
        }
    };
    let base = r.string(&s, "base", false);
    let ca_file = r.path_key(&s, "ca_file", false);
    if let Some(p) = &ca_file
        && let Err(e) = super::read_ca_file(p)
    {
        ok = false;
        let reason = match e {
            Error::IndexFile { reason, .. } => reason,
            other => other.to_string(),
        };
        r.error("holders.ca_file", Some(p), reason);
    }
    let bind_dn = r.string(&s, "bind_dn", false);
    let password_file = r.path_key(&s, "password_file", false);
    let bind = match (bind_dn, password_file) {
        (Some(dn), Some(password_file)) => {
            if let Err(e) = super::read_password(&password_file) {
                ok = false;
                let reason = match e {
                    Error::IndexFile { reason, .. } => reason,
                    other => other.to_string(),
                };
                r.error("holders.password_file", Some(&password_file), reason);
            }
            Some(LdapBind { dn, password_file })
        }
        (Some(_), None) => {
            ok = false;
            r.error("holders.bind_dn", None, "needs holders.password_file");
            None
        }
        (None, Some(_)) => {
            ok = false;
            r.error("holders.password_file", None, "needs holders.bind_dn");
            None
        }
        (None, None) => None,
    };
    let attributes = read_attributes(r, &s);
    if ldap.is_none() {
        for key in ["base", "bind_dn", "password_file", "ca_file", "attributes"] {
            if r.value(&s, key).is_some() {
                r.problems.push(Problem::warning(
                    format!("holders.{key}"),
                    None,
                    "ignored: holders.ldap is not configured",
                ));
            }
        }
    }
    if file.is_some() && r.value(&s, "timeout_seconds").is_some() {
        r.problems.push(Problem::warning(
            "holders.timeout_seconds",
            None,
            "ignored: a file source has no timeout",
        ));
    }
    if let Some(p) = &file
        && let Err(e) = holders::source::read_file(p)
    {
        ok = false;
        r.error("holders.file", Some(p), e.to_string());
    }
    let source = match (file, ldap, url) {
        (Some(p), None, None) => Some(HoldersSource::File(p)),
        (None, Some(url), None) => {
            if let Err(m) = super::check::ldap_url(&url) {
                ok = false;
                r.error("holders.ldap", None, m);
            }
            match base {
                Some(base) => Some(HoldersSource::Ldap {
                    url,
                    base,
                    attributes: Box::new(attributes.clone().unwrap_or_default()),
                    bind: bind.clone(),
                    ca_file: ca_file.clone(),
                    timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
                }),
                None => {
                    ok = false;
                    r.error("holders.base", None, "missing (required with holders.ldap)");
                    None
                }
            }
        }
        (None, None, Some(u)) => {
            let lower = u.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                ok = false;
                r.error(
                    "holders.url",
                    None,
                    format!("{u:?} is not an http:// or https:// URL"),
                );
            }
            Some(HoldersSource::Url {
                url: u,
                timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
            })
        }
        _ => None,
    };
    let unverified = match r.string(&s, "unverified", false).as_deref() {
        None => Some(Unverified::Basic),
        Some("refuse") => Some(Unverified::Refuse),
        Some("basic") => Some(Unverified::Basic),
        Some(other) => {
            r.error(
                "holders.unverified",
                None,
                format!("{other:?}: expected \"refuse\" or \"basic\""),
            );
            None
        }
    };
    let two_factor_required = r.boolean(&s, "two_factor_required").unwrap_or(false);
    let defaults = CachePolicy::default();
    let positive_ttl = duration(r, &s, "positive_ttl", defaults.positive_ttl);
    let negative_ttl = duration(r, &s, "negative_ttl", defaults.negative_ttl);
    let max_stale = duration(r, &s, "max_stale", defaults.max_stale);
    let assurance_policy = r
        .string(&s, "assurance_policy", false)
        .unwrap_or_else(|| DEFAULT_ASSURANCE_POLICY.to_owned());
    if let Err(m) = super::check::absolute_uri(&assurance_policy) {
        ok = false;
        r.error("holders.assurance_policy", None, m);
    }
    let method_uris = read_method_uris(r, &s);
    let mut platform_addresses = Vec::new();
    for (i, a) in r
        .strings(&s, "platform_addresses")
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        match AddressRange::parse(a) {
            Ok(range) => platform_addresses.push(range),
            Err(m) => {
                ok = false;
                r.error(format!("holders.platform_addresses[{i}]"), None, m);
            }
        }
    }
    let config = HoldersConfig {
        source: source?,
        unverified: unverified?,
        two_factor_required,
        cache: CachePolicy {
            positive_ttl: positive_ttl?,
            negative_ttl: negative_ttl?,
            max_stale: max_stale?,
            max_entries: defaults.max_entries,
        },
        assurance_policy,
        method_uris: method_uris?,
        platform_addresses,
    };
    (ok && attributes.is_some() && timeout.is_some()).then_some(Some(config))
}

fn read_attributes(r: &mut Reader, s: &Section<'_>) -> Option<LdapAttributes> {
    let t = sub_table(r, s, "attributes")?;
    let mut a = LdapAttributes::default();
    let Some(t) = t else { return Some(a) };
    let sub = Section {
        name: "holders.attributes",
        table: Some(t),
    };
    let mut ok = true;
    for k in t.keys() {
        if !ATTRIBUTE_KEYS.contains(&k.as_str()) {
            ok = false;
            r.error(
                format!("holders.attributes.{k}"),
                None,
                format!("unknown key (known: {})", ATTRIBUTE_KEYS.join(", ")),
            );
        }
    }
    for (key, slot) in [
        ("mailbox", &mut a.mailbox),
        ("verified", &mut a.verified),
        ("method", &mut a.method),
        ("verified_at", &mut a.verified_at),
        ("loa", &mut a.loa),
        ("two_factor", &mut a.two_factor),
    ] {
        if let Some(v) = r.string(&sub, key, false) {
            if v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';')
                && v.starts_with(|c: char| c.is_ascii_alphabetic())
            {
                *slot = v;
            } else {
                ok = false;
                r.error(
                    format!("holders.attributes.{key}"),
                    None,
                    format!("{v:?} is not an LDAP attribute name"),
                );
            }
        }
    }
    ok.then_some(a)
}

fn read_method_uris(r: &mut Reader, s: &Section<'_>) -> Option<Vec<(Method, String)>> {
    let t = sub_table(r, s, "method_uris")?;
    let Some(t) = t else { return Some(Vec::new()) };
    let sub = Section {
        name: "holders.method_uris",
        table: Some(t),
    };
    let mut out = Vec::new();
    let mut ok = true;
    let keys: Vec<String> = t.keys().cloned().collect();
    for k in keys {
        let m = Method::parse(&k);
        if matches!(m, Method::Unknown(_)) {
            ok = false;
            r.error(
                format!("holders.method_uris.{k}"),
                None,
                "unknown method (known: spid, cie, cns, signature, video, other)",
            );
            continue;
        }
        if let Some(uri) = r.string(&sub, &k, false) {
            match super::check::absolute_uri(&uri) {
                Ok(()) => out.push((m, uri)),
                Err(msg) => {
                    ok = false;
                    r.error(format!("holders.method_uris.{k}"), None, msg);
                }
            }
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_ranges() {
        let one = AddressRange::parse("192.0.2.10").expect("address");
        assert!(one.contains("192.0.2.10".parse().expect("ip")));
        assert!(!one.contains("192.0.2.11".parse().expect("ip")));
        assert!(one.contains("::ffff:192.0.2.10".parse().expect("ip")));
        let net = AddressRange::parse("10.1.0.0/16").expect("prefix");
        assert!(net.contains("10.1.200.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        let v6 = AddressRange::parse("2001:db8::/32").expect("v6");
        assert!(v6.contains("2001:db8:1::5".parse().expect("ip")));
        assert!(!v6.contains("10.1.0.1".parse().expect("ip")));
        assert!(
            AddressRange::parse("0.0.0.0/0")
                .expect("all")
                .contains("8.8.8.8".parse().expect("ip"))
        );
        for bad in ["host.example", "10.0.0.0/33", "::/129", "10.0.0.1/x"] {
            assert!(AddressRange::parse(bad).is_err(), "{bad}");
        }
    }
}
