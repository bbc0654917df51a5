//! Providers, domain and certificate-hash normalisation, and the in-memory [`Directory`]
//! (domain → provider, certificate fingerprint → provider).

use std::collections::HashMap;
use std::sync::Arc;

use super::Error;

/// Longest DNS name (RFC 1035, without the trailing dot).
const MAX_DOMAIN_LEN: usize = 253;

/// Normalises a mail domain for comparison: surrounding whitespace removed, one trailing dot
/// removed, ASCII lower-cased. Domains in the index are IA5 (IDNs appear as A-labels), so a
/// domain with non-ASCII characters, inner whitespace, `@`, empty labels or more than 253
/// characters is refused.
pub fn normalize_domain(domain: &str) -> Result<String, Error> {
    let bad = |reason| Error::InvalidDomain {
        domain: domain.to_owned(),
        reason,
    };
    let d = domain.trim();
    let d = d.strip_suffix('.').unwrap_or(d);
    if d.is_empty() {
        return Err(bad("empty"));
    }
    if d.len() > MAX_DOMAIN_LEN {
        return Err(bad("longer than 253 characters"));
    }
    if !d.is_ascii() {
        return Err(bad("not ASCII (use the A-label form of an IDN)"));
    }
    if d.bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(bad("contains whitespace or control characters"));
    }
    if d.contains('@') {
        return Err(bad("contains '@' (give the domain, not an address)"));
    }
    if d.split('.').any(str::is_empty) {
        return Err(bad("has an empty label"));
    }
    Ok(d.to_ascii_lowercase())
}

/// SHA-256 of a certificate's DER (ring).
pub fn sha256_fingerprint(der: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-1 of a certificate's DER, only to compare with legacy `providerCertificateHash` values.
pub fn sha1_fingerprint(der: &[u8]) -> [u8; 20] {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref());
    out
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// A `providerCertificateHash` value. The format in AgID's index is not confirmed (the
/// reference says SHA-1 hex, unconfirmed), so Ponte accepts SHA-1 (40 hex digits) or
/// SHA-256 (64 hex digits), upper or lower case, with or without `:` separators (and
/// ignores spaces). Anything else is carried as [`CertHash::Unrecognized`], not rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertHash {
    /// A SHA-1 fingerprint of the certificate DER.
    Sha1([u8; 20]),
    /// A SHA-256 fingerprint of the certificate DER.
    Sha256([u8; 32]),
    /// A value in no recognised format, kept as published.
    Unrecognized(String),
}

impl CertHash {
    /// Reads a published hash value.
    pub fn parse(value: &str) -> CertHash {
        let digits: Vec<u8> = value
            .bytes()
            .filter(|b| *b != b':' && !b.is_ascii_whitespace())
            .collect();
        let decoded = decode_hex(&digits);
        match decoded {
            Some(bytes) => {
                if let Ok(a) = <[u8; 20]>::try_from(bytes.as_slice()) {
                    CertHash::Sha1(a)
                } else if let Ok(a) = <[u8; 32]>::try_from(bytes.as_slice()) {
                    CertHash::Sha256(a)
                } else {
                    CertHash::Unrecognized(value.to_owned())
                }
            }
            None => CertHash::Unrecognized(value.to_owned()),
        }
    }

    /// Whether this hash designates the certificate `der`.
    pub fn matches(&self, der: &[u8]) -> bool {
        match self {
            CertHash::Sha1(h) => *h == sha1_fingerprint(der),
            CertHash::Sha256(h) => *h == sha256_fingerprint(der),
            CertHash::Unrecognized(_) => false,
        }
    }
}

fn decode_hex(digits: &[u8]) -> Option<Vec<u8>> {
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    let val = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    digits
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some((val(*hi)? << 4) | val(*lo)?),
            _ => None,
        })
        .collect()
}

/// An entry's attributes: `(attribute description, value)` pairs in the order received.
pub type Attributes = Vec<(String, Vec<u8>)>;

/// One provider entry of the index (`objectClass: provider`).
///
/// Multi-valued attributes are kept sorted and without duplicates, so two providers read
/// from different sources (LDAP, LDIF) compare equal when they say the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The entry's DN, as published.
    pub dn: String,
    /// `providerName` (the first value when several are published).
    pub name: String,
    /// `mailReceipt`: where inter-provider receipts go (first value).
    pub mail_receipt: String,
    /// `managedDomains`, normalised with [`normalize_domain`]; sorted.
    pub domains: Vec<String>,
    /// `providerCertificate` values (DER), sorted.
    pub certificates: Vec<Vec<u8>>,
    /// `providerCertificateHash` values as published, sorted.
    pub certificate_hashes: Vec<String>,
    /// `description` values.
    pub description: Vec<String>,
    /// `LDIFLocationURL` values.
    pub ldif_location_urls: Vec<String>,
    /// `providerUnit` values.
    pub units: Vec<String>,
}

impl Provider {
    /// Builds a provider from an entry's attributes (`(name, value)` pairs, names in any case,
    /// options such as `;binary` allowed). Returns `Ok(None)` when the entry is not of
    /// `objectClass: provider` (such entries, like the base `o=postacert`, are skipped).
    ///
    /// `providerName` is required; the other MUST attributes of the schema may be missing
    /// (a directory that enforces the schema never omits them, hand-written LDIF might).
    /// Text values must be UTF-8; domains must pass [`normalize_domain`].
    pub fn from_attributes(
        dn: &str,
        attrs: &[(String, Vec<u8>)],
    ) -> Result<Option<Provider>, Error> {
        let bad = |reason: String| Error::Entry {
            dn: dn.to_owned(),
            reason,
        };
        let text = |name: &str, v: &[u8]| -> Result<String, Error> {
            String::from_utf8(v.to_vec()).map_err(|_| bad(format!("{name} value is not UTF-8")))
        };
        let mut is_provider = false;
        let mut p = Provider {
            dn: dn.to_owned(),
            name: String::new(),
            mail_receipt: String::new(),
            domains: Vec::new(),
            certificates: Vec::new(),
            certificate_hashes: Vec::new(),
            description: Vec::new(),
            ldif_location_urls: Vec::new(),
            units: Vec::new(),
        };
        let mut names = Vec::new();
        let mut receipts = Vec::new();
        for (attr, value) in attrs {
            let base = attr.split(';').next().unwrap_or(attr).to_ascii_lowercase();
            match base.as_str() {
                "objectclass" => {
                    is_provider |= text(attr, value)?.trim().eq_ignore_ascii_case("provider");
                }
                "providername" => names.push(text(attr, value)?),
                "mailreceipt" => receipts.push(text(attr, value)?),
                "manageddomains" => {
                    let d = text(attr, value)?;
                    let n =
                        normalize_domain(&d).map_err(|e| bad(format!("managedDomains: {e}")))?;
                    p.domains.push(n);
                }
                "providercertificate" => p.certificates.push(value.clone()),
                "providercertificatehash" => p.certificate_hashes.push(text(attr, value)?),
                "description" => p.description.push(text(attr, value)?),
                "ldiflocationurl" => p.ldif_location_urls.push(text(attr, value)?),
                "providerunit" => p.units.push(text(attr, value)?),
                _ => {}
            }
        }
        if !is_provider {
            return Ok(None);
        }
        p.name = names
            .into_iter()
            .next()
            .ok_or_else(|| bad("no providerName".to_owned()))?;
        p.mail_receipt = receipts.into_iter().next().unwrap_or_default();
        for v in [&mut p.domains, &mut p.certificate_hashes] {
            v.sort();
            v.dedup();
        }
        p.certificates.sort();
        p.certificates.dedup();
        Ok(Some(p))
    }

    /// SHA-256 fingerprints (lower-case hex) of the provider's certificates.
    pub fn fingerprints(&self) -> Vec<String> {
        self.certificates
            .iter()
            .map(|c| hex(&sha256_fingerprint(c)))
            .collect()
    }

    /// The provider as JSON, as `ponte index lookup --json`, `ponte index check-signer --json`
    /// and `GET /api/index/{domain}` show it: `name`, `mail_receipt`, `certificates` (SHA-256
    /// fingerprints), `domains_count`, `dn`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "mail_receipt": self.mail_receipt,
            "certificates": self.fingerprints(),
            "domains_count": self.domains.len(),
            "dn": self.dn,
        })
    }
}

/// The whole index in memory: providers, and the maps used to answer quickly.
///
/// A domain claimed by more than one provider resolves to the first by DN order (the
/// conflict is listed by [`Directory::conflicts`]); a certificate may belong to several.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    providers: Vec<Arc<Provider>>,
    by_domain: HashMap<String, usize>,
    by_fingerprint: HashMap<[u8; 32], Vec<usize>>,
    by_hash: HashMap<CertHash, Vec<usize>>,
    conflicts: Vec<String>,
}

impl PartialEq for Directory {
    fn eq(&self, other: &Self) -> bool {
        self.providers.len() == other.providers.len()
            && self
                .providers
                .iter()
                .zip(&other.providers)
                .all(|(a, b)| **a == **b)
    }
}

impl Directory {
    /// Indexes `providers` (sorted by DN, case-insensitively).
    pub fn new(mut providers: Vec<Provider>) -> Directory {
        providers.sort_by_cached_key(|p| p.dn.to_ascii_lowercase());
        let mut dir = Directory::default();
        for (i, p) in providers.into_iter().enumerate() {
            for d in &p.domains {
                if dir.by_domain.contains_key(d) {
                    dir.conflicts.push(d.clone());
                } else {
                    dir.by_domain.insert(d.clone(), i);
                }
            }
            for c in &p.certificates {
                let owners = dir.by_fingerprint.entry(sha256_fingerprint(c)).or_default();
                if !owners.contains(&i) {
                    owners.push(i);
                }
            }
            for h in &p.certificate_hashes {
                let key = CertHash::parse(h);
                if matches!(key, CertHash::Unrecognized(_)) {
                    continue;
                }
                let owners = dir.by_hash.entry(key).or_default();
                if !owners.contains(&i) {
                    owners.push(i);
                }
            }
            dir.providers.push(Arc::new(p));
        }
        dir
    }

    /// The providers, sorted by DN.
    pub fn providers(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    /// Number of distinct domains.
    pub fn domain_count(&self) -> usize {
        self.by_domain.len()
    }

    /// Domains claimed by more than one provider.
    pub fn conflicts(&self) -> &[String] {
        &self.conflicts
    }

    /// The provider managing `domain` (already normalised with [`normalize_domain`]).
    pub fn provider_for_normalized(&self, domain: &str) -> Option<&Arc<Provider>> {
        self.by_domain
            .get(domain)
            .and_then(|&i| self.providers.get(i))
    }

    /// The provider managing `domain` (any case, trailing dot allowed).
    pub fn provider_for(&self, domain: &str) -> Result<Option<&Arc<Provider>>, Error> {
        let d = normalize_domain(domain)?;
        Ok(self.provider_for_normalized(&d))
    }

    /// Providers publishing the certificate `der` in `providerCertificate`.
    pub fn owners_by_certificate(&self, der: &[u8]) -> Vec<&Arc<Provider>> {
        self.resolve(self.by_fingerprint.get(&sha256_fingerprint(der)))
    }

    /// Providers publishing a `providerCertificateHash` (SHA-1 or SHA-256) of `der`.
    pub fn owners_by_hash(&self, der: &[u8]) -> Vec<&Arc<Provider>> {
        let mut out = self.resolve(self.by_hash.get(&CertHash::Sha256(sha256_fingerprint(der))));
        for p in self.resolve(self.by_hash.get(&CertHash::Sha1(sha1_fingerprint(der)))) {
            if !out.iter().any(|q| Arc::ptr_eq(q, p)) {
                out.push(p);
            }
        }
        out
    }

    fn resolve(&self, idx: Option<&Vec<usize>>) -> Vec<&Arc<Provider>> {
        idx.map(|v| v.iter().filter_map(|&i| self.providers.get(i)).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_compare_case_insensitively_and_without_trailing_dot() {
        assert_eq!(
            normalize_domain("PEC.Prova.Test.").ok().as_deref(),
            Some("pec.prova.test")
        );
        assert_eq!(
            normalize_domain(" pec.prova.test ").ok().as_deref(),
            Some("pec.prova.test")
        );
        for bad in ["", ".", "a..b", "a b.test", "x@pec.test", "pèc.test"] {
            assert!(normalize_domain(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_domain(&"a".repeat(254)).is_err());
    }

    #[test]
    fn certificate_hash_formats() {
        let der = b"not really a certificate, but bytes are bytes";
        let sha1 = hex(&sha1_fingerprint(der));
        let sha256 = hex(&sha256_fingerprint(der));
        let colons: Vec<String> = sha1
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).to_uppercase())
            .collect();
        for form in [
            sha1.clone(),
            sha1.to_uppercase(),
            colons.join(":"),
            sha256.clone(),
        ] {
            assert!(CertHash::parse(&form).matches(der), "{form}");
        }
        assert!(!CertHash::parse(&sha256).matches(b"other"));
        assert!(matches!(
            CertHash::parse("md5:zz"),
            CertHash::Unrecognized(_)
        ));
        assert!(matches!(CertHash::parse("abcd"), CertHash::Unrecognized(_)));
    }

    fn attrs(pairs: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(a, v)| ((*a).to_owned(), v.to_vec()))
            .collect()
    }

    #[test]
    fn provider_from_attributes_and_directory_maps() {
        let a = Provider::from_attributes(
            "providerName=A,o=postacert",
            &attrs(&[
                ("objectClass", b"provider"),
                ("providerName", b"A"),
                ("mailReceipt", b"receipts@a.test"),
                ("managedDomains", b"PEC.A.test"),
                ("managedDomains", b"pec2.a.test."),
                ("providerCertificate;binary", b"cert-a"),
                (
                    "providerCertificateHash",
                    hex(&sha1_fingerprint(b"cert-h")).as_bytes(),
                ),
            ]),
        );
        let a = match a {
            Ok(Some(p)) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(a.domains, ["pec.a.test", "pec2.a.test"]);
        let skipped =
            Provider::from_attributes("o=postacert", &attrs(&[("objectClass", b"organization")]));
        assert!(matches!(skipped, Ok(None)));
        let unnamed = Provider::from_attributes("x", &attrs(&[("objectClass", b"provider")]));
        assert!(matches!(unnamed, Err(Error::Entry { .. })));
        let dir = Directory::new(vec![a]);
        assert_eq!(dir.domain_count(), 2);
        assert!(dir.provider_for("Pec.A.Test.").ok().flatten().is_some());
        assert!(dir.provider_for("pec.b.test").ok().flatten().is_none());
        assert_eq!(dir.owners_by_certificate(b"cert-a").len(), 1);
        assert_eq!(dir.owners_by_certificate(b"cert-h").len(), 0);
        assert_eq!(dir.owners_by_hash(b"cert-h").len(), 1);
    }
}
