//! The trusted-list keys of `[trust]`: `lists`, `list_anchors`, `allow_unsigned_lists`,
//! `refresh`, `cache_dir`, `dns_servers`. Read here from the `[trust]` table so that the
//! rest of the configuration reader only hands the table over.
//!
//! Checked without contacting anything: URLs must be `http(s)://` with a host; files must be
//! readable trusted lists whose signature verifies against `list_anchors` (or, with
//! `allow_unsigned_lists`, at least is not broken); anchors must be PEM certificates;
//! `refresh` a duration ("30s", "5m", "12h", "1d"); `dns_servers` IP addresses, with a port
//! or not (53).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;
use toml::{Table, Value};

use super::{Problem, check};
use crate::x509::Certificate;

/// How often lists are fetched again when `refresh` is not given.
pub const DEFAULT_REFRESH: &str = "6h";
/// The cache folder when `cache_dir` is not given (beside the configuration file).
pub const DEFAULT_CACHE_DIR: &str = "tl-cache";

/// The trusted-list configuration.
#[derive(Debug, Clone)]
pub struct TrustLists {
    /// Lists of lists and/or lists: files (resolved) or `http(s)://` URLs. Empty: no trusted
    /// lists are used.
    pub lists: Vec<String>,
    /// Who may sign a list given directly.
    pub list_anchors: Vec<Certificate>,
    /// Whether unsigned lists (and lists signed by an unknown key) are accepted: tests only.
    pub allow_unsigned_lists: bool,
    /// How long an accepted copy is used before fetching again.
    pub refresh: Duration,
    /// Where accepted copies are kept.
    pub cache_dir: PathBuf,
    /// DNS servers for MX look-ups; empty: the system's.
    pub dns_servers: Vec<SocketAddr>,
}

impl TrustLists {
    /// What [`crate::tl::load()`] needs.
    pub fn sources(&self) -> crate::tl::Sources {
        crate::tl::Sources {
            lists: self.lists.clone(),
            anchors: self.list_anchors.clone(),
            allow_unsigned: self.allow_unsigned_lists,
            cache_dir: Some(self.cache_dir.clone()),
            refresh: self.refresh,
            base_dir: None,
        }
    }
}

/// Parses "30s", "5m", "12h", "1d" (a positive integer and one unit).
pub fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like \"30s\", \"5m\", \"12h\", \"1d\""))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => {
            return Err(format!(
                "{s:?} is not a duration like \"30s\", \"5m\", \"12h\", \"1d\""
            ));
        }
    };
    if secs == 0 {
        return Err("must be more than zero".to_owned());
    }
    Ok(Duration::from_secs(secs))
}

fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

fn strings(t: Option<&Table>, key: &str, out: &mut Vec<Problem>) -> Option<Vec<String>> {
    let full = format!("trust.{key}");
    match t.and_then(|t| t.get(key)) {
        None => Some(Vec::new()),
        Some(Value::Array(items)) => {
            let mut v = Vec::new();
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) if !s.trim().is_empty() => v.push(s.clone()),
                    _ => {
                        ok = false;
                        out.push(Problem::error(
                            format!("{full}[{i}]"),
                            None,
                            "expected a non-empty string",
                        ));
                    }
                }
            }
            ok.then_some(v)
        }
        Some(_) => {
            out.push(Problem::error(full, None, "expected an array of strings"));
            None
        }
    }
}

/// Reads the trusted-list keys of the `[trust]` table `t` (relative paths from `base`),
/// judging certificates and local lists at `now`. Problems are appended to `out`; `None`
/// when one is an error.
pub fn read(
    t: Option<&Table>,
    base: &Path,
    now: OffsetDateTime,
    out: &mut Vec<Problem>,
) -> Option<TrustLists> {
    let errors_before = out.iter().filter(|p| p.is_error()).count();
    let allow_unsigned_lists = match t.and_then(|t| t.get("allow_unsigned_lists")) {
        None => false,
        Some(Value::Boolean(b)) => *b,
        Some(_) => {
            out.push(Problem::error(
                "trust.allow_unsigned_lists",
                None,
                "expected true or false",
            ));
            false
        }
    };
    // Anchors.
    let mut list_anchors = Vec::new();
    for f in strings(t, "list_anchors", out).unwrap_or_default() {
        let path = base.join(&f);
        match std::fs::read(&path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|pem| crate::x509::load_pem(&pem).map_err(|e| e.to_string()))
        {
            Ok(certs) => {
                for c in &certs {
                    check::anchor_validity("trust.list_anchors", c, &path, now, out);
                }
                list_anchors.extend(certs);
            }
            Err(m) => out.push(Problem::error("trust.list_anchors", Some(&path), m)),
        }
    }
    // Lists.
    let raw_lists = strings(t, "lists", out).unwrap_or_default();
    let mut lists = Vec::new();
    for (i, l) in raw_lists.iter().enumerate() {
        let key = format!("trust.lists[{i}]");
        if is_url(l) {
            let host_ok = l
                .split_once("://")
                .map(|(_, r)| r.split(['/', '?']).next().unwrap_or(""))
                .is_some_and(|h| !h.is_empty() && !h.contains('@'));
            if !host_ok {
                out.push(Problem::error(key, None, format!("{l:?}: no host")));
            }
            lists.push(l.clone());
            continue;
        }
        if l.contains("://") {
            out.push(Problem::error(
                key,
                None,
                format!("{l:?}: only files and http(s):// URLs are read"),
            ));
            continue;
        }
        let path = base.join(l);
        match std::fs::read(&path) {
            Err(e) => out.push(Problem::error(
                key,
                Some(&path),
                format!("cannot read: {e}"),
            )),
            Ok(bytes) => {
                match crate::tl::verify::judge(
                    &bytes,
                    &list_anchors,
                    "list_anchors",
                    allow_unsigned_lists,
                ) {
                    Ok(j) if !j.trust.is_verified() => out.push(Problem::warning(
                        key,
                        Some(&path),
                        format!(
                            "accepted although not verified: {}",
                            match &j.trust {
                                crate::tl::ListTrust::NotVerified(w) => w.as_str(),
                                crate::tl::ListTrust::Verified { .. } => "",
                            }
                        ),
                    )),
                    Ok(_) => {}
                    Err(r) => out.push(Problem::error(key, Some(&path), format!("refused: {r}"))),
                }
            }
        }
        lists.push(path.display().to_string());
    }
    if !raw_lists.is_empty() && list_anchors.is_empty() && !allow_unsigned_lists {
        out.push(Problem::error(
            "trust.list_anchors",
            None,
            "missing: trust.lists needs the certificates that may sign the lists given there",
        ));
    }
    if allow_unsigned_lists {
        out.push(Problem::warning(
            "trust.allow_unsigned_lists",
            None,
            "true: unsigned lists are accepted (for tests only; every answer says so)",
        ));
    }
    let refresh = match t.and_then(|t| t.get("refresh")) {
        None => duration(DEFAULT_REFRESH).ok(),
        Some(Value::String(s)) => match duration(s) {
            Ok(d) => Some(d),
            Err(m) => {
                out.push(Problem::error("trust.refresh", None, m));
                None
            }
        },
        Some(_) => {
            out.push(Problem::error(
                "trust.refresh",
                None,
                "expected a duration string like \"6h\"",
            ));
            None
        }
    };
    let cache_dir = match t.and_then(|t| t.get("cache_dir")) {
        None => Some(base.join(DEFAULT_CACHE_DIR)),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(base.join(s)),
        Some(_) => {
            out.push(Problem::error(
                "trust.cache_dir",
                None,
                "expected a folder name",
            ));
            None
        }
    };
    if let Some(d) = &cache_dir
        && d.exists()
        && !d.is_dir()
    {
        out.push(Problem::error("trust.cache_dir", Some(d), "not a folder"));
    }
    let mut dns_servers = Vec::new();
    for (i, s) in strings(t, "dns_servers", out)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        match s
            .parse::<SocketAddr>()
            .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        {
            Ok(a) => dns_servers.push(a),
            Err(_) => out.push(Problem::error(
                format!("trust.dns_servers[{i}]"),
                None,
                format!("{s:?} is not an IP address (with or without :port)"),
            )),
        }
    }
    let errors_after = out.iter().filter(|p| p.is_error()).count();
    (errors_after == errors_before).then_some(TrustLists {
        lists,
        list_anchors,
        allow_unsigned_lists,
        refresh: refresh?,
        cache_dir: cache_dir?,
        dns_servers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(duration("0s").is_err());
        assert!(duration("h").is_err());
        assert!(duration("5 minutes").is_err());
    }
}
