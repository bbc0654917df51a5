//! The one error type of the crate.
//!
//! Each module has its own precise error enum; [`Error`] nests them. Verification outcomes
//! (a bad signature, an untrusted chain) are *not* errors: they are verdict values. An `Error`
//! means the input could not be read at all, or the caller misused the API.

/// Every error Ponte can return, by the module that raised it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Digest, key or signature primitive failure.
    #[error(transparent)]
    Crypto(#[from] crate::crypto::Error),
    /// CMS (RFC 5652) structure unreadable or not buildable.
    #[error(transparent)]
    Cms(#[from] crate::cms::Error),
    /// Certificate unreadable.
    #[error(transparent)]
    X509(#[from] crate::x509::Error),
    /// MIME structure unreadable.
    #[error(transparent)]
    Mime(#[from] crate::mime::Error),
    /// S/MIME envelope unreadable.
    #[error(transparent)]
    Smime(#[from] crate::smime::Error),
    /// PEC message or daticert unreadable.
    #[error(transparent)]
    Pec(#[from] crate::pec::Error),
    /// XML refused (DOCTYPE, entities, limits) or malformed.
    #[error(transparent)]
    Xml(#[from] crate::xml::Error),
    /// XAdES signature structure unreadable.
    #[error(transparent)]
    Xades(#[from] crate::xades::Error),
    /// REM evidence or message unreadable.
    #[error(transparent)]
    Rem(#[from] crate::rem::Error),
    /// RFC 3161 request/response/token unreadable, or the TSA unreachable.
    #[error(transparent)]
    Tsp(#[from] crate::tsp::Error),
    /// The holders' identity source (file, LDAP, HTTP) failed.
    #[error(transparent)]
    Holders(#[from] crate::holders::Error),
    /// Providers' index (LDAP, LDIF snapshot) failure.
    #[error(transparent)]
    Index(#[from] crate::index::Error),
    /// PEC <-> REM mapping tables unreadable or invalid.
    #[error(transparent)]
    Mappings(#[from] crate::mappings::Error),
    /// The gateway configuration unreadable or invalid.
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    /// The correlation store unreadable or unwritable.
    #[error(transparent)]
    Correlate(#[from] crate::correlate::Error),
    /// Network fetching (HTTP, DNS) failed.
    #[error(transparent)]
    Fetch(#[from] crate::fetch::Error),
    /// A trusted list unreadable.
    #[error(transparent)]
    Tl(#[from] crate::tl::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
}
