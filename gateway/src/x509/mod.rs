//! X.509 certificates: reading them ([`parse`]) and validating their chains to trust anchors at
//! a given instant for a given usage ([`chain`]).
//!
//! Serves S/MIME (emailProtection), RFC 3161 time-stamp tokens (timeStamping) and XAdES (any).

pub mod chain;
pub mod parse;

pub use chain::{TrustVerdict, Usage, verify_chain};
pub use parse::{Certificate, load_pem};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The DER is not an X.509 certificate.
    #[error("certificate unreadable: {0}")]
    Der(String),
    /// The PEM text is malformed.
    #[error("PEM unreadable: {0}")]
    Pem(String),
    /// The PEM text holds no `CERTIFICATE` block.
    #[error("no CERTIFICATE block in the PEM text")]
    NoCertificate,
    /// A certificate extension is present but malformed.
    #[error("certificate extension {extension} unreadable: {reason}")]
    Extension {
        /// Which extension.
        extension: &'static str,
        /// What the parser said.
        reason: String,
    },
}
