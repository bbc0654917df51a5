//! Where holders' records come from ([`Source`]):
//!
//! - a **JSON Lines file**, one holder a line ([`super::model`]); re-read whenever its size or
//!   modification time changes; a later line for the same mailbox replaces an earlier one
//!   (the platform may append updates); a line that is not a holder record makes the whole
//!   file unreadable (the error names the line) until it is fixed;
//! - an **LDAP directory**: one subtree search under `base` for `(<mailbox attribute>=<the
//!   mailbox>)`, the record's fields read from the attributes [`LdapAttributes`] names
//!   (booleans `TRUE`/`FALSE`, times as RFC 3339 or GeneralizedTime); two entries for one
//!   mailbox are an error;
//! - an **HTTP endpoint**: a GET of the URL with the mailbox, percent-encoded, in place of
//!   `{mailbox}` (else appended as `?mailbox=`); 200 with the JSON object is the record, 404
//!   is "no such holder", anything else is an error.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use ldap3::asn1::{PL, StructureTag};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope};

use super::Error;
use super::mailbox_key;
use super::model::{Holder, Loa, Method, parse_time};

/// The attribute names an LDAP source reads (each configurable: no schema is standard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapAttributes {
    /// The mailbox (searched for); default `mail`.
    pub mailbox: String,
    /// Whether the identity was confirmed (boolean); default `pecHolderVerified`.
    pub verified: String,
    /// How; default `pecHolderMethod`.
    pub method: String,
    /// When; default `pecHolderVerifiedAt`.
    pub verified_at: String,
    /// At which level; default `pecHolderLoA`.
    pub loa: String,
    /// Whether access uses two factors (boolean); default `pecHolderTwoFactor`.
    pub two_factor: String,
}

impl Default for LdapAttributes {
    fn default() -> Self {
        LdapAttributes {
            mailbox: "mail".into(),
            verified: "pecHolderVerified".into(),
            method: "pecHolderMethod".into(),
            verified_at: "pecHolderVerifiedAt".into(),
            loa: "pecHolderLoA".into(),
            two_factor: "pecHolderTwoFactor".into(),
        }
    }
}

/// An LDAP directory of holders.
#[derive(Debug, Clone)]
pub struct LdapSource {
    /// `ldap://` or `ldaps://`.
    pub url: String,
    /// The search base.
    pub base: String,
    /// Simple bind `(dn, password)`; anonymous when `None`.
    pub bind: Option<(String, String)>,
    /// Trust anchors (DER) for `ldaps://`; empty: the system's store.
    pub tls_roots: Vec<Vec<u8>>,
    /// Timeout of the connection and of each operation.
    pub timeout: Duration,
    /// The attribute names.
    pub attributes: LdapAttributes,
}

/// A source of holders' records.
pub enum Source {
    /// A JSON Lines file.
    File {
        /// The file.
        path: PathBuf,
        /// The file as last read: (size, modification time) and its records by mailbox key.
        loaded: Mutex<Option<Loaded>>,
    },
    /// An LDAP directory.
    Ldap(LdapSource),
    /// An HTTP(S) endpoint.
    Http {
        /// The URL, with `{mailbox}` where the mailbox goes (else `?mailbox=` is appended).
        url: String,
        /// The client.
        client: crate::fetch::Fetcher,
    },
}

/// A JSON Lines file as read.
#[derive(Debug, Clone)]
pub struct Loaded {
    stamp: (u64, Option<SystemTime>),
    holders: std::collections::HashMap<String, Holder>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File { path, .. } => f.debug_tuple("File").field(path).finish(),
            Source::Ldap(l) => f
                .debug_struct("Ldap")
                .field("url", &l.url)
                .field("base", &l.base)
                .finish_non_exhaustive(),
            Source::Http { url, .. } => f.debug_tuple("Http").field(url).finish(),
        }
    }
}

impl Source {
    /// A JSON Lines file source (read at the first lookup).
    pub fn file(path: PathBuf) -> Source {
        Source::File {
            path,
            loaded: Mutex::new(None),
        }
    }

    /// An HTTP source with `client`'s settings.
    pub fn http(url: String, client: crate::fetch::Fetcher) -> Source {
        Source::Http { url, client }
    }

    /// `file`, `ldap` or `url`: the configuration key of this kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::File { .. } => "file",
            Source::Ldap(_) => "ldap",
            Source::Http { .. } => "url",
        }
    }

    /// The record of the mailbox whose key ([`mailbox_key`]) is `key`, if the source has one.
    pub async fn fetch(&self, key: &str) -> Result<Option<Holder>, Error> {
        match self {
            Source::File { path, loaded } => file_lookup(path, loaded, key),
            Source::Ldap(l) => l.lookup(key).await,
            Source::Http { url, client } => http_lookup(url, client, key).await,
        }
    }
}

/// Reads a whole JSON Lines file of holders (what `ponte config check` checks, and what a
/// file source serves): the records by mailbox key, a later line winning.
pub fn read_file(
    path: &std::path::Path,
) -> Result<std::collections::HashMap<String, Holder>, Error> {
    let bad = |reason: String| Error::File {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| bad(format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to())))?;
    let mut out = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let h = Holder::from_json(line.as_bytes()).map_err(|reason| Error::Record {
            what: format!("{} line {}", path.display(), i + 1),
            reason,
        })?;
        out.insert(mailbox_key(&h.mailbox), h);
    }
    Ok(out)
}

fn file_lookup(
    path: &std::path::Path,
    loaded: &Mutex<Option<Loaded>>,
    key: &str,
) -> Result<Option<Holder>, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let stamp = (meta.len(), meta.modified().ok());
    let mut guard = loaded.lock().unwrap_or_else(|p| p.into_inner());
    let fresh = guard.as_ref().is_some_and(|l| l.stamp == stamp);
    if !fresh {
        let holders = read_file(path)?;
        *guard = Some(Loaded { stamp, holders });
    }
    Ok(guard.as_ref().and_then(|l| l.holders.get(key).cloned()))
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL asked for `mailbox`.
pub fn http_url(template: &str, mailbox: &str) -> String {
    let enc = percent_encode(mailbox);
    if template.contains("{mailbox}") {
        template.replace("{mailbox}", &enc)
    } else if template.contains('?') {
        format!("{template}&mailbox={enc}")
    } else {
        format!("{template}?mailbox={enc}")
    }
}

async fn http_lookup(
    template: &str,
    client: &crate::fetch::Fetcher,
    key: &str,
) -> Result<Option<Holder>, Error> {
    let url = http_url(template, key);
    match client.get(&url, "application/json").await {
        Ok(f) => Holder::from_json(&f.body)
            .map(Some)
            .map_err(|reason| Error::Record { what: url, reason }),
        Err(crate::fetch::Error::HttpStatus { status: 404, .. }) => Ok(None),
        Err(e) => Err(Error::Http(e)),
    }
}

impl LdapSource {
    fn fail(&self, reason: impl std::fmt::Display) -> Error {
        Error::Ldap {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }

    async fn lookup(&self, key: &str) -> Result<Option<Holder>, Error> {
        match tokio::time::timeout(self.timeout.saturating_mul(3), self.lookup_inner(key)).await {
            Ok(r) => r,
            Err(_) => Err(self.fail(format!(
                "timed out after {} s",
                self.timeout.saturating_mul(3).as_secs()
            ))),
        }
    }

    async fn lookup_inner(&self, key: &str) -> Result<Option<Holder>, Error> {
        let mut settings = LdapConnSettings::new().set_conn_timeout(self.timeout);
        if !self.tls_roots.is_empty() {
            settings = settings.set_config(self.tls_config()?);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| self.fail(format!("cannot connect: {e}")))?;
        ldap3::drive!(conn);
        if let Some((dn, password)) = &self.bind {
            let res = ldap
                .with_timeout(self.timeout)
                .simple_bind(dn, password)
                .await
                .map_err(|e| self.fail(e))?;
            if res.rc != 0 {
                return Err(self.fail(format!(
                    "bind as {dn:?} refused: result code {} {}",
                    res.rc, res.text
                )));
            }
        }
        let a = &self.attributes;
        let filter = format!("({}={})", a.mailbox, ldap3::ldap_escape(key));
        let attrs = vec![
            a.mailbox.as_str(),
            a.verified.as_str(),
            a.method.as_str(),
            a.verified_at.as_str(),
            a.loa.as_str(),
            a.two_factor.as_str(),
        ];
        let result = ldap
            .with_timeout(self.timeout)
            .search(&self.base, Scope::Subtree, &filter, attrs)
            .await
            .map_err(|e| self.fail(e))?;
        let _ = ldap.unbind().await;
        let (entries, res) = (result.0, result.1);
        if res.rc != 0 {
            return Err(self.fail(format!(
                "search under {:?} for {filter}: result code {} {}",
                self.base, res.rc, res.text
            )));
        }
        let mut decoded = Vec::with_capacity(entries.len());
        for e in entries {
            decoded.push(self.decode(e.0)?);
        }
        match decoded.as_slice() {
            [] => Ok(None),
            [(dn, attrs)] => self.holder(dn, attrs, key).map(Some),
            more => Err(Error::Ambiguous {
                url: self.url.clone(),
                mailbox: key.to_owned(),
                count: more.len(),
            }),
        }
    }

    /// The record of one entry's attributes.
    fn holder(&self, dn: &str, attrs: &[(String, String)], key: &str) -> Result<Holder, Error> {
        let a = &self.attributes;
        let get = |name: &str| {
            attrs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };
        let bad = |reason: String| Error::Record {
            what: format!("{} entry {dn:?}", self.url),
            reason,
        };
        let boolean = |name: &str| -> Result<Option<bool>, Error> {
            match get(name) {
                None => Ok(None),
                Some(v) => match v.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => Ok(Some(true)),
                    "false" | "no" | "0" => Ok(Some(false)),
                    _ => Err(bad(format!("{name}: {v:?} is not a boolean"))),
                },
            }
        };
        let verified =
            boolean(&a.verified)?.ok_or_else(|| bad(format!("no {} attribute", a.verified)))?;
        let verified_at = match get(&a.verified_at) {
            None => None,
            Some(v) => Some(
                parse_time(v)
                    .ok_or_else(|| bad(format!("{}: {v:?} is not a date-time", a.verified_at)))?,
            ),
        };
        Ok(Holder {
            mailbox: get(&a.mailbox).unwrap_or(key).to_owned(),
            verified,
            method: get(&a.method).map(Method::parse),
            verified_at,
            loa: get(&a.loa).map(Loa::parse),
            two_factor: boolean(&a.two_factor)?.unwrap_or(false),
        })
    }

    /// A SearchResultEntry's DN and (attribute, value) pairs, without panicking on a
    /// malformed one (ldap3's `SearchEntry::construct` panics).
    fn decode(&self, tag: StructureTag) -> Result<(String, Vec<(String, String)>), Error> {
        let bad = |what: &str| self.fail(format!("malformed search result entry: {what}"));
        let mut parts = constructed(tag)
            .ok_or_else(|| bad("not constructed"))?
            .into_iter();
        let dn = parts
            .next()
            .and_then(primitive)
            .ok_or_else(|| bad("no DN"))?;
        let dn = String::from_utf8(dn).map_err(|_| bad("DN is not UTF-8"))?;
        let list = parts
            .next()
            .and_then(constructed)
            .ok_or_else(|| bad("no attribute list"))?;
        let mut attrs = Vec::new();
        for partial in list {
            let mut pa = constructed(partial)
                .ok_or_else(|| bad("attribute is not a sequence"))?
                .into_iter();
            let name = pa
                .next()
                .and_then(primitive)
                .ok_or_else(|| bad("attribute without a type"))?;
            let name = String::from_utf8(name).map_err(|_| bad("attribute type is not UTF-8"))?;
            let values = pa
                .next()
                .and_then(constructed)
                .ok_or_else(|| bad("attribute without a value set"))?;
            for v in values {
                let v = primitive(v).ok_or_else(|| bad("attribute value is not a string"))?;
                let v = String::from_utf8(v).map_err(|_| bad("attribute value is not UTF-8"))?;
                attrs.push((name.clone(), v));
            }
        }
        Ok((dn, attrs))
    }

    fn tls_config(&self) -> Result<std::sync::Arc<rustls::ClientConfig>, Error> {
        let mut roots = rustls::RootCertStore::empty();
        for der in &self.tls_roots {
            roots
                .add(rustls_pki_types::CertificateDer::from(der.clone()))
                .map_err(|e| self.fail(format!("TLS trust anchor: {e}")))?;
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| self.fail(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(std::sync::Arc::new(config))
    }
}

fn constructed(tag: StructureTag) -> Option<Vec<StructureTag>> {
    match tag.payload {
        PL::C(v) => Some(v),
        PL::P(_) => None,
    }
}

fn primitive(tag: StructureTag) -> Option<Vec<u8>> {
    match tag.payload {
        PL::P(v) => Some(v),
        PL::C(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_mailbox_encoded() {
        assert_eq!(
            http_url(
                "http://h.test/holders/{mailbox}.json",
                "mario.rossi@pec.x.it"
            ),
            "http://h.test/holders/mario.rossi%40pec.x.it.json"
        );
        assert_eq!(
            http_url("http://h.test/lookup", "a+b@x.it"),
            "http://h.test/lookup?mailbox=a%2Bb%40x.it"
        );
        assert_eq!(
            http_url("http://h.test/lookup?v=1", "a@x.it"),
            "http://h.test/lookup?v=1&mailbox=a%40x.it"
        );
    }

    #[test]
    fn a_file_source_rereads_its_file_and_names_a_bad_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("holders.jsonl");
        std::fs::write(
            &path,
            "{\"mailbox\":\"A@x.it\",\"verified\":false}\n\n{\"mailbox\":\"a@x.it\",\"verified\":true}\n",
        )
        .expect("write");
        let loaded = Mutex::new(None);
        let h = file_lookup(&path, &loaded, "a@x.it").expect("lookup");
        assert!(h.is_some_and(|h| h.verified), "a later line wins");
        assert!(
            file_lookup(&path, &loaded, "b@x.it")
                .expect("lookup")
                .is_none()
        );
        std::fs::write(
            &path,
            "{\"mailbox\":\"b@x.it\",\"verified\":true}\nnot json\n",
        )
        .expect("write");
        match file_lookup(&path, &loaded, "b@x.it") {
            Err(Error::Record { what, .. }) => assert!(what.ends_with("line 2"), "{what}"),
            other => panic!("{other:?}"),
        }
        std::fs::remove_file(&path).expect("rm");
        assert!(matches!(
            file_lookup(&path, &loaded, "b@x.it"),
            Err(Error::File { .. })
        ));
    }
}
