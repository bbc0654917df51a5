//! Revocation data: CRLs (RFC 5280 §5) and OCSP (RFC 6960), read and verified with the crate's
//! certificate code and ring; nothing is fetched here (the bytes come from [`crate::fetch`] or
//! from a signature's embedded validation data).
//!
//! * [`crl`]: parse a CRL, verify it under its issuer, the status of a certificate in it;
//! * [`ocsp`]: build a request, parse a response, verify it (the issuer itself or a delegated
//!   responder it certified with id-kp-OCSPSigning), the status of a certificate in it;
//! * [`pointers`]: where a certificate says its revocation data is (CRL distribution points,
//!   the OCSP access method of authorityInfoAccess).

pub mod crl;
mod der;
pub mod ocsp;
pub mod pointers;

use time::OffsetDateTime;

pub use crl::Crl;
pub use ocsp::OcspResponse;

/// A certificate's revocation status in one piece of revocation data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not revoked (listed as good by OCSP, or absent from a CRL that covers it).
    Good,
    /// Revoked at `at`, for `reason` (RFC 5280 CRLReason code) when given.
    Revoked {
        /// The revocation time.
        at: OffsetDateTime,
        /// The reason code.
        reason: Option<u8>,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// A status with the data it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The status.
    pub status: Status,
    /// When the data was issued (`thisUpdate`).
    pub this_update: OffsetDateTime,
    /// `nextUpdate`, when given.
    pub next_update: Option<OffsetDateTime>,
    /// `crl` or `ocsp`.
    pub source: &'static str,
}

/// The RFC 5280 name of a CRLReason code.
pub fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unknown reason",
    }
}

/// Errors of this module: revocation data that cannot be read at all. Data that reads but does
/// not verify is reported by the `verify` methods as a reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The CRL is not a readable DER `CertificateList`.
    #[error("CRL unreadable: {0}")]
    Crl(String),
    /// The OCSP response is not a readable `OCSPResponse` / `BasicOCSPResponse`.
    #[error("OCSP response unreadable: {0}")]
    Ocsp(String),
    /// The responder answered with a status other than successful.
    #[error("OCSP responder answered {0}")]
    OcspStatus(&'static str),
    /// An OCSP request could not be built (an issuer key that does not read).
    #[error("OCSP request: {0}")]
    Request(String),
}
