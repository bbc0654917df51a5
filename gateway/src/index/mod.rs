//! The providers' index: AgID IGPEC (RFC 6109 §3 schema) over LDAP, mirrored in memory,
//! cached with moka, and saved as an LDIF snapshot for offline use.
//!
//! Split by concern:
//! - [`schema`]: the IGPEC attribute types and object classes, printed for OpenLDAP.
//! - [`model`]: providers, domain and certificate normalisation, the in-memory [`Directory`].
//! - [`ldif`]: RFC 2849 LDIF snapshots (parse any LDIF of IGPEC entries, write ours).
//! - [`client`]: the async LDAP client (ldap3): bind, timeouts, paged search.
//! - [`cache`]: the answer cache (moka) with positive/negative TTLs and an injectable clock.
//! - [`resolver`]: [`Index`], which ties the source, the mirror and the cache together
//!   (stale-if-error: the last good mirror keeps answering when the directory is down).
//! - [`signer`]: which provider owns a signing certificate.
//!
//! The embedded default snapshot ([`DEFAULT_SNAPSHOT`]) is **test data**: it describes the
//! test providers of `tests/pki` and is what `ponte` uses when nothing else is configured.

pub mod cache;
pub mod client;
pub mod ldif;
pub mod model;
pub mod resolver;
pub mod schema;
pub mod signer;

pub use cache::{CachePolicy, Clock, ManualClock, SystemClock};
pub use client::{LdapConfig, ReadReport};
pub use model::{CertHash, Directory, Provider, normalize_domain, sha256_fingerprint};
pub use resolver::{Answer, AnswerSource, Index, Source};
pub use signer::{MatchedBy, SignerMatch};

/// The default base DN of the index, as commonly quoted for AgID's directory.
pub const DEFAULT_BASE: &str = "o=postacert";

/// The embedded default snapshot (LDIF). **Test data only**: the providers of `tests/pki`
/// ("Gestore Prova S.p.A." with `pec-rsa` and `pec-ec`, "Altro Gestore S.p.A." with
/// `pec-other`). Used when neither a directory nor a snapshot is configured.
pub const DEFAULT_SNAPSHOT: &str = include_str!("default.ldif");

/// Errors of the providers' index. Lookups that find nothing are answers, not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A domain given for lookup is not a usable DNS name.
    #[error("invalid domain {domain:?}: {reason}")]
    InvalidDomain {
        /// The domain as given.
        domain: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An LDIF snapshot could not be read.
    #[error("LDIF line {line}: {reason}")]
    Ldif {
        /// The 1-based physical line where the problem was found.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// An entry with `objectClass: provider` lacks a required attribute or has a bad value.
    #[error("provider entry {dn:?}: {reason}")]
    Entry {
        /// The entry's DN.
        dn: String,
        /// What was wrong.
        reason: String,
    },
    /// The LDAP URL is not usable (scheme other than ldap:// or ldaps://, or malformed).
    #[error("LDAP URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The directory could not be reached, or the connection failed.
    #[error("LDAP {url}: cannot connect: {source}")]
    Connect {
        /// The directory URL.
        url: String,
        /// What ldap3 reported.
        source: Box<ldap3::LdapError>,
    },
    /// The TLS trust anchors for `ldaps://` could not be used.
    #[error("LDAP TLS trust anchors: {0}")]
    Tls(String),
    /// The bind was refused.
    #[error("LDAP {url}: bind as {dn:?} refused: {message}")]
    Bind {
        /// The directory URL.
        url: String,
        /// The bind DN.
        dn: String,
        /// The server's result code and text.
        message: String,
    },
    /// A search failed (protocol error, timeout, or a result code other than success).
    #[error("LDAP {url}: search under {base:?} failed: {message}")]
    Search {
        /// The directory URL.
        url: String,
        /// The search base.
        base: String,
        /// What went wrong.
        message: String,
    },
    /// The LDAP operation took longer than the configured timeout.
    #[error("LDAP {url}: timed out after {seconds} s")]
    Timeout {
        /// The directory URL.
        url: String,
        /// The timeout that elapsed.
        seconds: u64,
    },
    /// The index has no answer: the directory is unreachable and no mirror or snapshot is loaded.
    #[error("index unavailable: {0}")]
    Unavailable(String),
    /// A certificate given for the signer check is not DER or PEM X.509.
    #[error("certificate unreadable: {0}")]
    Certificate(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pki_der(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/pki")
            .join(name);
        let pem = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        signer::certificate_der(&pem).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn default_snapshot_describes_the_test_providers() {
        let snap = ldif::parse(DEFAULT_SNAPSHOT).unwrap_or_else(|e| panic!("{e}"));
        let dir = snap.directory;
        assert_eq!(dir.providers().len(), 2);
        let prova = dir.provider_for("PEC.prova.test.").ok().flatten().cloned();
        assert_eq!(
            prova.map(|p| p.name.clone()).as_deref(),
            Some("Gestore Prova S.p.A.")
        );
        for (cert, owner) in [
            ("pec-rsa.pem", "Gestore Prova S.p.A."),
            ("pec-ec.pem", "Gestore Prova S.p.A."),
            ("pec-other.pem", "Altro Gestore S.p.A."),
        ] {
            let der = pki_der(cert);
            let by_cert = signer::owners(&dir, &der);
            assert_eq!(by_cert.len(), 1, "{cert}");
            assert_eq!(
                by_cert.first().map(|m| m.provider.name.as_str()),
                Some(owner)
            );
            // The published SHA-1 hashes designate the same certificates.
            assert_eq!(dir.owners_by_hash(&der).len(), 1, "{cert}");
        }
        assert!(signer::owners(&dir, &pki_der("rogue.pem")).is_empty());
    }
}
