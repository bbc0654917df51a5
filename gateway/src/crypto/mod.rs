//! Cryptographic primitives: message digests, signing keys, and signature verification over a
//! certificate's SubjectPublicKeyInfo. ring does every digest and verification, and signs with
//! keys loaded from PKCS#8 PEM; keys in an HSM sign in the token through PKCS#11.
//!
//! Split by verb: [`mod@digest`] (hash algorithms and hashing), [`sign`] (private keys, signing),
//! [`verify`] (public-key signature verification); [`uri`] (RFC 7512 PKCS#11 URIs) and
//! [`pkcs11`] (token keys: module, login, session pool). Nothing here reads the clock; the disk
//! only where a key is opened by reference ([`SigningKey::open`]: the PEM file, the PKCS#11
//! module and PIN file).

pub mod digest;
pub mod oids;
pub mod pkcs11;
pub mod sign;
pub mod uri;
pub mod verify;

pub use digest::{DigestAlgorithm, digest};
pub use pkcs11::SessionStats;
pub use sign::{KeyKind, SigningKey};
pub use uri::{Pkcs11Uri, is_pkcs11_uri};
pub use verify::{SignatureAlgorithm, SignatureFailure, verify_signature};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PEM text holds no `PRIVATE KEY` block, or the block is not valid PEM.
    #[error("no PKCS#8 PRIVATE KEY block in the PEM text: {0}")]
    KeyPem(String),
    /// The PKCS#8 structure is not an RSA or ECDSA P-256 key that ring accepts.
    #[error("PKCS#8 key refused (neither RSA nor ECDSA P-256, or malformed): {0}")]
    KeyRejected(String),
    /// ring failed to produce a signature.
    #[error("signing failed")]
    SignFailed,
    /// The SubjectPublicKeyInfo DER could not be decoded.
    #[error("SubjectPublicKeyInfo unreadable: {0}")]
    Spki(String),
    /// The key file named by a reference could not be read.
    #[error("{}: {source}", path.display())]
    KeyFile {
        /// The file (resolved).
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A `pkcs11:` key reference is not a valid RFC 7512 URI (the error names the attribute).
    #[error("PKCS#11 URI refused: {0}")]
    Uri(#[from] uri::Error),
    /// A PKCS#11 key could not be opened or could not sign (the error names the URI, never
    /// the PIN).
    #[error(transparent)]
    Pkcs11(Box<pkcs11::Error>),
}
