//! S/MIME (RFC 5751) as PEC and REM use it: verifying `multipart/signed` (both protocol names)
//! and opaque `application/(x-)pkcs7-mime` signed-data ([`mod@verify`]), judging trust in the
//! signer separately ([`fn@trust`]), and producing the providers' `multipart/signed` ([`mod@sign`]).
//!
//! Integrity and trust are two verdicts, both values; `Err` is only for bytes that are not a
//! MIME message, or for unusable signing inputs.

pub mod sign;
pub mod trust;
pub mod verify;

pub use sign::{
    SIGNED_OVERHEAD, SignRequest, SmimeProtocol, sign, sign_concat, sign_owned, sign_parts,
};
pub use trust::{TrustTime, trust};
pub(crate) use verify::verify_canonical;
pub use verify::{SmimeForm, SmimeVerdict, verify};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a MIME message.
    #[error(transparent)]
    Mime(#[from] crate::mime::Error),
    /// The CMS signature could not be produced.
    #[error(transparent)]
    Cms(#[from] crate::cms::Error),
    /// A header given for the signed message is not a valid header field.
    #[error("header field {name:?} unusable: {reason}")]
    Header {
        /// The field name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The inner entity to sign is not in canonical CRLF form.
    #[error("the entity to sign has a bare LF at byte {0}; S/MIME content must be CRLF")]
    NotCanonical(usize),
    /// The `--at` value is neither `now`, `signing-time` nor an RFC 3339 instant.
    #[error("instant {0:?} is not `now`, `signing-time` or RFC 3339")]
    Instant(String),
}
