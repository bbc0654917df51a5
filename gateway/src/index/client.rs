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

    /// Runs one paged subtree search on `ldap` and converts every provider entry; a search
    /// the server stops with sizeLimitExceeded (or adminLimitExceeded) is
    /// [`Searched::Capped`], any other result code other than success an error.
    async fn search_on(&self, ldap: &mut ldap3::Ldap, filter: &str) -> Result<Searched, Error> {
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
        match res.rc {
            0 => Ok(Searched::Complete(providers)),
            RC_SIZE_LIMIT | RC_ADMIN_LIMIT => Ok(Searched::Capped {
                names: providers.into_iter().map(|p| p.name).collect(),
                message: result_text(res.rc, &res.text),
            }),
            rc => Err(Error::Search {
                url: self.url.clone(),
                base: self.base.clone(),
                message: result_text(rc, &res.text),
            }),
        }
    }

    /// One search on a fresh connection; a capped search is an error here (the caller
    /// expects few entries).
    async fn search(&self, filter: &str) -> Result<Vec<Provider>, Error> {
        let mut ldap = self.connect().await?;
        let r = self.search_on(&mut ldap, filter).await;
        let _ = ldap.unbind().await;
        match r? {
            Searched::Complete(p) => Ok(p),
            Searched::Capped { message, .. } => Err(Error::Search {
                url: self.url.clone(),
                base: self.base.clone(),
                message,
            }),
        }
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

    /// Reads the whole index (every `objectClass=provider` entry under the base); see
    /// [`LdapConfig::fetch_directory_reported`].
    pub async fn fetch_directory(&self) -> Result<Directory, Error> {
        Ok(self.fetch_directory_reported().await?.0)
    }

    /// Reads the whole index, and says how it was read.
    ///
    /// One paged search (RFC 2696) first. A server that caps results even for paged
    /// searches (OpenLDAP's default `sizelimit 500` also bounds a paged search through
    /// `size.prtotal`) stops it with sizeLimitExceeded; then the directory is read in parts
    /// by the first characters of `providerName` (the IGPEC schema gives it a SUBSTR rule,
    /// no ORDERING, so prefixes rather than ranges): `(providerName=a*)`, `(providerName=b*)`,
    /// ... over [`NAME_ALPHABET`], plus the rest — names starting with none of them, or
    /// equal to the prefix itself — as the complement `(&(providerName=P*)(!(|...)))`, so the
    /// parts cover the directory whatever characters the names use. A part that is capped
    /// again is split again, one character deeper, up to [`MAX_PREFIX_CHARS`]. Entries are
    /// kept once per DN (case-insensitive matching may put one entry in two parts). All
    /// searches share one connection.
    pub async fn fetch_directory_reported(&self) -> Result<(Directory, ReadReport), Error> {
        self.with_deadline(self.read_all()).await
    }

    async fn read_all(&self) -> Result<(Directory, ReadReport), Error> {
        let mut ldap = self.connect().await?;
        let r = self.read_all_on(&mut ldap).await;
        let _ = ldap.unbind().await;
        r
    }

    async fn read_all_on(&self, ldap: &mut ldap3::Ldap) -> Result<(Directory, ReadReport), Error> {
        let mut report = ReadReport::default();
        let mut seen = std::collections::HashSet::new();
        let mut providers = Vec::new();
        let mut first_cap: Option<String> = None;
        let mut todo = vec![Part::Prefix(String::new())];
        while let Some(part) = todo.pop() {
            let filter = match &part {
                Part::Prefix(p) if p.is_empty() => "(objectClass=provider)".to_owned(),
                Part::Prefix(p) => prefix_filter(p),
                Part::Except { prefix, heavy } => except_filter(prefix, heavy),
                Part::Rest { prefix, children } => rest_filter(prefix, children),
            };
            report.searches += 1;
            let (names, message) = match self.search_on(ldap, &filter).await? {
                Searched::Complete(found) => {
                    for p in found {
                        if seen.insert(p.dn.to_lowercase()) {
                            providers.push(p);
                        }
                    }
                    continue;
                }
                Searched::Capped { names, message } => (names, message),
            };
            report.capped += 1;
            report.largest_capped = report.largest_capped.max(names.len());
            let message = first_cap.get_or_insert(message).clone();
            if report.capped == 1 {
                report.split = true;
                tracing::info!(url = %self.url, %message, "the directory caps results; reading it by providerName prefixes");
            }
            let too_many = |what: String| Error::Search {
                url: self.url.clone(),
                base: self.base.clone(),
                message: format!("{message}; {what}"),
            };
            match part {
                Part::Prefix(prefix) => {
                    if prefix.chars().count() >= MAX_PREFIX_CHARS {
                        return Err(too_many(format!(
                            "still capped after splitting by providerName down to {prefix:?}"
                        )));
                    }
                    report.deepest_prefix = report.deepest_prefix.max(prefix.chars().count() + 1);
                    let children = extensions(&prefix);
                    // The most common next character among what came back: read that child
                    // on its own and the prefix without it in one search, which is enough
                    // when the names share a long prefix; else every child and the rest.
                    match heaviest(&prefix, &children, &names) {
                        Some(heavy) => {
                            todo.push(Part::Except {
                                prefix,
                                heavy: heavy.clone(),
                            });
                            todo.push(Part::Prefix(heavy));
                        }
                        None => split_all(&prefix, children, None, &mut todo),
                    }
                }
                Part::Except { prefix, heavy } => {
                    let children = extensions(&prefix);
                    split_all(&prefix, children, Some(&heavy), &mut todo);
                }
                Part::Rest { prefix, .. } => {
                    return Err(too_many(format!(
                        "the providers whose name starts with {prefix:?} followed by none of {NAME_ALPHABET:?} are still too many"
                    )));
                }
            }
        }
        Ok((Directory::new(providers), report))
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

/// RFC 4511 sizeLimitExceeded.
const RC_SIZE_LIMIT: u32 = 4;
/// RFC 4511 adminLimitExceeded (OpenLDAP's `size.unchecked`, other servers' caps).
const RC_ADMIN_LIMIT: u32 = 11;

/// The characters a `providerName` prefix is extended by when a capped directory is read in
/// parts: letters (one case: the matching rule ignores case), digits, the space and the
/// punctuation of company names. Names continuing with any other character are read through
/// the complement of these ([`LdapConfig::fetch_directory_reported`]).
pub const NAME_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz0123456789 .-&',()/_+@!";

/// The longest `providerName` prefix a capped directory is split down to.
pub const MAX_PREFIX_CHARS: usize = 64;

/// What one search returned.
enum Searched {
    /// Every matching entry.
    Complete(Vec<Provider>),
    /// The server stopped the search at its limit.
    Capped {
        /// The names of the entries that came before it stopped.
        names: Vec<String>,
        /// The result code and text.
        message: String,
    },
}

/// How a directory was read ([`LdapConfig::fetch_directory_reported`]): `ponte index sync`
/// prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Searches made (the first, whole one included).
    pub searches: usize,
    /// Whether the directory was read in parts by `providerName` prefix (the first search
    /// was capped).
    pub split: bool,
    /// Searches the server capped (sizeLimitExceeded / adminLimitExceeded).
    pub capped: usize,
    /// The most entries a capped search returned before it stopped (the server's limit, as
    /// seen from here).
    pub largest_capped: usize,
    /// The longest prefix searched, in characters (0 when not split).
    pub deepest_prefix: usize,
}

/// One part of a capped directory still to read.
enum Part {
    /// The providers whose name starts with the prefix (all of them for `""`).
    Prefix(String),
    /// Those starting with `prefix` but not with `heavy` (read on its own).
    Except {
        /// The prefix.
        prefix: String,
        /// Its most common one-character extension.
        heavy: String,
    },
    /// Those starting with `prefix` that none of `children` matches.
    Rest {
        /// The prefix.
        prefix: String,
        /// Its extensions, each read on its own.
        children: Vec<String>,
    },
}

/// Queues every child of `prefix` (but `skip`, already read) and the rest of it.
fn split_all(prefix: &str, children: Vec<String>, skip: Option<&str>, todo: &mut Vec<Part>) {
    for c in children.iter().filter(|c| Some(c.as_str()) != skip) {
        todo.push(Part::Prefix(c.clone()));
    }
    todo.push(Part::Rest {
        prefix: prefix.to_owned(),
        children,
    });
}

/// The child of `prefix` most of `names` continue with (compared in lower case), if any.
fn heaviest(prefix: &str, children: &[String], names: &[String]) -> Option<String> {
    let lower = prefix.to_lowercase();
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for n in names {
        let n = n.to_lowercase();
        let Some(rest) = n.strip_prefix(lower.as_str()) else {
            continue;
        };
        let Some(c) = rest.chars().next() else {
            continue;
        };
        // Every child is the prefix and one character.
        if let Some(child) = children.iter().find(|ch| ch.ends_with(c)) {
            *counts.entry(child.as_str()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(c, _)| c.to_owned())
}

/// `(&(objectClass=provider)(providerName=P*)(!(providerName=H*)))`.
fn except_filter(prefix: &str, heavy: &str) -> String {
    let mut f = String::from("(&(objectClass=provider)");
    if !prefix.is_empty() {
        f.push_str(&format!("(providerName={}*)", ldap3::ldap_escape(prefix)));
    }
    f.push_str(&format!(
        "(!(providerName={}*)))",
        ldap3::ldap_escape(heavy)
    ));
    f
}

/// `(&(objectClass=provider)(providerName=P*))`, `P` escaped.
fn prefix_filter(prefix: &str) -> String {
    format!(
        "(&(objectClass=provider)(providerName={}*))",
        ldap3::ldap_escape(prefix)
    )
}

/// The one-character extensions of `prefix` over [`NAME_ALPHABET`] searched when it is
/// capped. Not a space at the start or after a space: the matching rule's insignificant-space
/// handling (RFC 4518 §2.6.1) ignores leading spaces and counts a run of spaces as one, so
/// `"gestore  "` would match what `"gestore "` matched and the split would not progress.
fn extensions(prefix: &str) -> Vec<String> {
    let space_ok = !prefix.is_empty() && !prefix.ends_with(' ');
    NAME_ALPHABET
        .chars()
        .filter(|&c| c != ' ' || space_ok)
        .map(|c| format!("{prefix}{c}"))
        .collect()
}

/// The providers under `prefix` (everything for `""`) that none of `children` matches: the
/// name equal to the prefix, or continuing with a character the children do not use. As the
/// server evaluates both, the children and the rest cover the prefix, whatever its matching
/// rule does with case and spaces.
fn rest_filter(prefix: &str, children: &[String]) -> String {
    let mut f = String::from("(&(objectClass=provider)");
    if !prefix.is_empty() {
        f.push_str(&format!("(providerName={}*)", ldap3::ldap_escape(prefix)));
    }
    f.push_str("(!(|");
    for p in children {
        f.push_str(&format!("(providerName={}*)", ldap3::ldap_escape(p)));
    }
    f.push_str(")))");
    f
}

/// An LDAP result code with its RFC 4511 name and the server's text.
fn result_text(rc: u32, text: &str) -> String {
    let name = match rc {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded (the server caps results)",
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

    #[test]
    fn split_filters_cover_a_prefix_and_escape_it() {
        assert_eq!(
            prefix_filter("a(b*"),
            "(&(objectClass=provider)(providerName=a\\28b\\2a*))"
        );
        let rest = rest_filter("ge", &extensions("ge"));
        assert!(
            rest.starts_with("(&(objectClass=provider)(providerName=ge*)(!(|(providerName=gea*)")
        );
        assert!(rest.ends_with("(providerName=ge!*))))"), "{rest}");
        assert_eq!(
            rest.matches("(providerName=").count(),
            NAME_ALPHABET.chars().count() + 1
        );
        // At the top, the rest has no prefix clause.
        let top = rest_filter("", &extensions(""));
        assert!(top.starts_with("(&(objectClass=provider)(!(|(providerName=a*)"));
        // No space first or after a space (insignificant there); one after a letter.
        assert!(!extensions("").iter().any(|p| p == " "));
        assert!(!extensions("ge ").iter().any(|p| p == "ge  "));
        assert!(extensions("ge").iter().any(|p| p == "ge "));
        assert_eq!(extensions("ge").len(), NAME_ALPHABET.chars().count());
        assert_eq!(
            except_filter("ge", "ges"),
            "(&(objectClass=provider)(providerName=ge*)(!(providerName=ges*)))"
        );
        assert_eq!(
            except_filter("", "g"),
            "(&(objectClass=provider)(!(providerName=g*)))"
        );
    }

    #[test]
    fn the_heaviest_child_is_the_most_common_next_character() {
        let names = ["Gestore 1", "gestore 2", "GESTIONE", "Altro", "Gestore"].map(String::from);
        let top = extensions("");
        assert_eq!(heaviest("", &top, &names).as_deref(), Some("g"));
        let ge = extensions("gest");
        assert_eq!(heaviest("gest", &ge, &names).as_deref(), Some("gesto"));
        // Nothing continues with a character of the alphabet: no heavy child.
        assert_eq!(heaviest("x", &extensions("x"), &names), None);
        let only_equal = ["Gestore"].map(String::from);
        assert_eq!(
            heaviest("gestore", &extensions("gestore"), &only_equal),
            None
        );
        // Extensions are distinct and lower case (the matching rule ignores case).
        let mut cs: Vec<char> = NAME_ALPHABET.chars().collect();
        cs.sort_unstable();
        cs.dedup();
        assert_eq!(cs.len(), NAME_ALPHABET.chars().count());
        assert!(
            !NAME_ALPHABET
                .chars()
                .any(|c| c.is_ascii_uppercase() || c == '*')
        );
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
