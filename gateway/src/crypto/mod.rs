//! Cryptographic primitives, all done by `ring`: message digests, signing keys loaded from
//! PKCS#8 PEM, and signature verification over a certificate's SubjectPublicKeyInfo.
//!
//! Split by verb: [`digest`] (hash algorithms and hashing), [`sign`] (private keys, signing),
//! [`verify`] (public-key signature verification). Nothing here reads the clock or the disk.

pub mod digest;
pub mod oids;
pub mod sign;
pub mod verify;

pub use digest::{DigestAlgorithm, digest};
pub use sign::{KeyKind, SigningKey};
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
}
