//! CMS SignedData (RFC 5652): assembled by hand on the `cms` crate types and signed by ring
//! ([`build`]), read from DER or BER into a byte-exact model ([`mod@parse`]), and verified into a
//! verdict value ([`mod@verify`]).
//!
//! Parsing first normalises BER to DER ([`ber`]: definite lengths, constructed OCTET STRINGs
//! joined) and then walks the structure itself, so that the signed attributes are verified
//! over the bytes the signer encoded (a decoder that re-sorts the SET OF would break
//! signatures from producers that do not sort).

pub mod ber;
pub mod build;
pub mod ess;
pub mod parse;
pub mod verify;

pub use build::{Content, sign};
pub use ess::{EssCertId, parse_signing_certificate};
pub use parse::{Attribute, SignedData, SignerId, SignerInfo, parse};
pub use verify::{CmsVerdict, verify};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The BER/DER is malformed at the given offset.
    #[error("ASN.1 malformed at byte {offset}: {reason}")]
    Asn1 {
        /// Byte offset in the (normalised) input.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// A structure has the wrong shape (missing field, unexpected tag).
    #[error("CMS structure: {0}")]
    Structure(String),
    /// The ContentInfo does not hold SignedData.
    #[error("ContentInfo holds {0}, not signedData")]
    NotSignedData(String),
    /// The private key is not the one of the signer certificate.
    #[error("the signing key does not match the signer certificate {0}")]
    KeyMismatch(String),
    /// The `der`/`cms` encoder refused a value while building.
    #[error("CMS encoding: {0}")]
    Encode(String),
    /// The signing primitive failed.
    #[error(transparent)]
    Crypto(#[from] crate::crypto::Error),
}
