//! The async LDAP client (ldap3 over tokio): `ldap://` or `ldaps://` (rustls with ring),
//! optional simple bind, a timeout on connect and on every operation, and paged search
//! (RFC 2696) so that a directory larger than the server's size limit is read completely.

use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::asn1::{PL, StructureTag};
use ldap3::{LdapConnAsync, LdapConnSettings, ResultEntry, Scope};

use super::Error;
use super::model::{Attributes, Directory, Provider};

/// The attributes Ponte reads from provider entries.
const ATTRS: [&str; 9] = [
    "objectClass",
    "providerName",
    "mailReceipt",
    "managedDomains",
    "providerCertificate;binary",
    "providerCertificateHash",
    "description",
    "LDIFLocationURL",
    "providerUnit",
];

/// Where and how to reach the directory.
#[derive(Debug, Clone)]
pub struct LdapConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    /// The search base (default [`super::DEFAULT_BASE`]).
    pub base: String,
    /// Simple bind `(dn, password)`; anonymous when `None`.
    pub bind: Option<(String, String)>,
    /// Timeout of the connection and of each LDAP operation.
    pub timeout: Duration,
    /// Page size of the paged search (RFC 2696).
    pub page_size: i32,
    /// Trust anchors (DER) for `ldaps://`; empty: the system's certificate store.
    pub tls_roots: Vec<Vec<u8>>,
}

impl LdapConfig {
    /// A configuration for `url` with the default base, anonymous, 10 s timeout, pages of 500.
    pub fn new(url: impl Into<String>) -> LdapConfig {
        LdapConfig {
            url: url.into(),
            base: super::DEFAULT_BASE.to_owned(),
            bind: None,
            timeout: Duration::from_secs(10),
            page_size: 500,
            tls_roots: Vec::new(),
        }
    }

    fn check_url(&self) -> Result<(), Error> {
        let lower = self.url.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("ldap://")
            .or_else(|| lower.strip_prefix("ldaps://"))
            .ok_or_else(|| Error::Url {
                url: self.url.clone(),
                reason: "scheme must be ldap:// or ldaps://",
            })?;
        if rest.trim_end_matches('/').is_empty() {
            return Err(Error::Url {
                url: self.url.clone(),
                reason: "no host",
            });
        }
        Ok(())
    }

    /// Connects and binds; the returned handle is ready for searches.
    async fn connect(&self) -> Result<ldap3::Ldap, Error> {
        self.check_url()?;
        let mut settings = LdapConnSettings::new().set_conn_timeout(self.timeout);
        if !self.tls_roots.is_empty() {
            settings = settings.set_config(self.tls_config()?);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|source| Error::Connect {
                url: self.url.clone(),
                source: Box::new(source),
            })?;
        ldap3::drive!(conn);
        if let Some((dn, password)) = &self.bind {
            let res = ldap
                .with_timeout(self.timeout)
                .simple_bind(dn, password)
                .await
                .map_err(|e| self.op_error(e))?;
            if res.rc != 0 {
                return Err(Error::Bind {
                    url: self.url.clone(),
                    dn: dn.clone(),
                    message: result_text(res.rc, &res.text),
                });
            }
        }
        Ok(ldap)
    }

    /// A rustls client configuration (ring) trusting only `tls_roots`.
    fn tls_config(&self) -> Result<std::sync::Arc<rustls::ClientConfig>, Error> {
        let mut roots = rustls::RootCertStore::empty();
        for der in &self.tls_roots {
            roots
                .add(rustls_pki_types::CertificateDer::from(der.clone()))
                .map_err(|e| Error::Tls(e.to_string()))?;
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(std::sync::Arc::new(config))
    }

    fn op_error(&self, e: ldap3::LdapError) -> Error {
        match e {
            ldap3::LdapError::Timeout { .. } => Error::Timeout {
                url: self.url.clone(),
                seconds: self.timeout.as_secs(),
            },
            other => Error::Search {
                url: self.url.clone(),
                base: self.base.clone(),
                message: other.to_string(),
            },
        }
    }

    /// Runs one paged subtree search and converts every provider entry.
    async fn search(&self, filter: &str) -> Result<Vec<Provider>, Error> {
        let mut ldap = self.connect().await?;
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(self.page_size)),
        ];
        let mut stream = ldap
            .with_timeout(self.timeout)
            .streaming_search_with(adapters, &self.base, Scope::Subtree, filter, ATTRS.to_vec())
            .await
            .map_err(|e| self.op_error(e))?;
        let mut providers = Vec::new();
        while let Some(entry) = stream.next().await.map_err(|e| self.op_error(e))? {
            let (dn, attrs) = self.decode_entry(entry)?;
            if let Some(p) = Provider::from_attributes(&dn, &attrs)? {
                providers.push(p);
            }
        }
        let res = stream.finish().await;
        let _ = ldap.unbind().await;
        if res.rc != 0 {
            return Err(Error::Search {
                url: self.url.clone(),
                base: self.base.clone(),
                message: result_text(res.rc, &res.text),
            });
        }
        Ok(providers)
    }

    /// Decodes a SearchResultEntry without panicking on a malformed one (ldap3's
    /// `SearchEntry::construct` panics).
    fn decode_entry(&self, entry: ResultEntry) -> Result<(String, Attributes), Error> {
        let bad = |what: &str| Error::Search {
            url: self.url.clone(),
            base: self.base.clone(),
            message: format!("malformed search result entry: {what}"),
        };
        let parts = constructed(entry.0).ok_or_else(|| bad("not constructed"))?;
        let mut parts = parts.into_iter();
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
                let v =
                    primitive(v).ok_or_else(|| bad("attribute value is not an octet string"))?;
                attrs.push((name.clone(), v));
            }
        }
        Ok((dn, attrs))
    }

    /// Reads the whole index (every `objectClass=provider` entry under the base).
    pub async fn fetch_directory(&self) -> Result<Directory, Error> {
        let providers = self
            .with_deadline(self.search("(objectClass=provider)"))
            .await?;
        Ok(Directory::new(providers))
    }

    /// Asks the directory which provider manages `domain` (already normalised).
    pub async fn lookup_domain(&self, domain: &str) -> Result<Option<Provider>, Error> {
        let filter = format!(
            "(&(objectClass=provider)(managedDomains={}))",
            ldap3::ldap_escape(domain)
        );
        let mut found = self.with_deadline(self.search(&filter)).await?;
        found.sort_by_cached_key(|p| p.dn.to_ascii_lowercase());
        Ok(found.into_iter().next())
    }

    /// Bounds a whole operation by the timeout times a generous factor: per-operation
    /// timeouts cover each request, this covers a server that trickles pages forever.
    async fn with_deadline<T>(
        &self,
        fut: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let limit = self.timeout.saturating_mul(30);
        match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                url: self.url.clone(),
                seconds: limit.as_secs(),
            }),
        }
    }
}

/// An LDAP result code with its RFC 4511 name and the server's text.
fn result_text(rc: u32, text: &str) -> String {
    let name = match rc {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded (the server caps results; check its size.prtotal limit)",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension (paged results not supported?)",
        32 => "noSuchObject (wrong base DN?)",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        _ => "",
    };
    let text = text.trim();
    match (name.is_empty(), text.is_empty()) {
        (true, true) => format!("result code {rc}"),
        (true, false) => format!("result code {rc}: {text}"),
        (false, true) => format!("result code {rc} {name}"),
        (false, false) => format!("result code {rc} {name}: {text}"),
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
    fn urls_are_checked_before_connecting() {
        for bad in ["http://x", "ldap://", "x"] {
            assert!(
                matches!(LdapConfig::new(bad).check_url(), Err(Error::Url { .. })),
                "{bad}"
            );
        }
        assert!(LdapConfig::new("LDAPS://idx.test:636").check_url().is_ok());
    }

    #[tokio::test]
    async fn unreachable_directory_is_a_connect_error() {
        // Port 9 (discard) on loopback: nothing listens in the test environment.
        let mut cfg = LdapConfig::new("ldap://127.0.0.1:9");
        cfg.timeout = Duration::from_secs(2);
        match cfg.fetch_directory().await {
            Err(Error::Connect { url, .. }) => assert_eq!(url, "ldap://127.0.0.1:9"),
            other => panic!("{other:?}"),
        }
    }
}
