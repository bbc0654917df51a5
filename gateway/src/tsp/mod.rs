//! RFC 3161 time-stamps: the wire structures, the request builder, an HTTP client, the
//! token verifier and the development TSA.
//!
//! - [`asn1`]: `TimeStampReq`, `TimeStampResp`, `TSTInfo`, ... as `der` types.
//! - [`request`]: build a request (SHA-256 imprint by default, random 64-bit nonce, `certReq`).
//! - [`client`]: POST `application/timestamp-query` over HTTP/1.1 with timeouts and retries.
//! - [`verify`]: check a token against the data it should cover; verdicts are values.
//! - [`issue`]: make tokens (used by the development TSA).
//! - [`server`]: the development TSA over hyper (`ponte tsa serve`), NOT qualified.
//! - [`timestamp`]: the one call for callers: request, fetch, verify imprint and nonce.
//!
//! CMS parsing, signer verification and assembly are the crate's [`crate::cms`]; certificate
//! paths are [`crate::x509::verify_chain`] with the timeStamping usage.

pub mod asn1;
pub mod client;
pub mod issue;
pub mod request;
pub mod server;
pub mod verify;

use const_oid::ObjectIdentifier;

pub use client::{ClientOptions, Retry};
pub use request::{Imprint, RequestOptions, TimeStampRequest};
pub use verify::{Expected, Invalid, TokenInfo, TokenVerdict, Trust, TsuInfo, VerifyOptions};

/// `id-ct-TSTInfo` (RFC 3161): the eContentType of a time-stamp token.
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// `id-kp-timeStamping` (RFC 5280): the one EKU a TSU certificate must carry, critical.
pub const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// `id-aa-signingCertificateV2` (RFC 5035, RFC 5816).
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// `id-aa-signingCertificate` (RFC 2634, SHA-1 only).
pub const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
/// `id-pe-qcStatements` (RFC 3739): the certificate extension that carries QcStatements.
pub const ID_PE_QC_STATEMENTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.3");
/// `esi4-qtstStatement-1` / id-etsi-tsts-EuQCompliance (EN 319 422 Annex B): the TSU
/// issues EU qualified time-stamps.
pub const ID_ETSI_TSTS_EU_Q_COMPLIANCE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.4.0.19422.1.1");
/// ETSI best-practices time-stamp policy (EN 319 421), for reference: the development TSA
/// does NOT use it, because it does not follow that policy.
pub const ETSI_BEST_PRACTICES_POLICY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.4.0.2023.1.1");

/// The digest algorithms (SHA-1 is accepted only when verifying legacy tokens).
pub use crate::crypto::DigestAlgorithm as HashAlg;

/// The `AlgorithmIdentifier` of a digest (parameters absent, as RFC 5754 prefers).
pub fn digest_algorithm_id(alg: HashAlg) -> spki::AlgorithmIdentifierOwned {
    spki::AlgorithmIdentifierOwned {
        oid: alg.oid(),
        parameters: None,
    }
}

/// Errors of this module: input that cannot be read, a TSA that cannot be reached or
/// that refused, a key or file that cannot be used. A token that reads but does not
/// verify is a [`TokenVerdict`], not an error (except through [`timestamp`], which
/// returns [`Error::BadToken`] because its caller asked for a good token).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A DER structure could not be decoded or encoded.
    #[error("{what}: {source}")]
    Der {
        /// Which structure.
        what: &'static str,
        /// What `der` said.
        source: der::Error,
    },
    /// The token is not a readable CMS `SignedData`.
    #[error("token: {0}")]
    Cms(#[from] crate::cms::Error),
    /// The SignedData does not encapsulate a `TSTInfo`.
    #[error("the SignedData encapsulates {0}, not id-ct-TSTInfo")]
    NotTstInfo(ObjectIdentifier),
    /// The SignedData carries no encapsulated content.
    #[error("the SignedData has no encapsulated TSTInfo")]
    NoContent,
    /// The digest algorithm is not one we request or issue with.
    #[error("unsupported digest algorithm {0}")]
    UnsupportedDigest(ObjectIdentifier),
    /// The digest given as imprint has the wrong length for its algorithm.
    #[error("a {alg} digest has {expected} bytes, got {got}")]
    DigestLength {
        /// The algorithm.
        alg: HashAlg,
        /// Its length.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// The TSA URL is not an `http://` URL this client can use.
    #[error("TSA URL {url}: {why}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The TSA could not be reached (connection refused, timeout, 5xx) after all retries.
    #[error("TSA {url} unreachable after {attempts} attempt(s): {last}")]
    Unreachable {
        /// The URL.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The TSA answered with a client-error HTTP status (not retried).
    #[error("TSA {url} answered HTTP {status}")]
    HttpStatus {
        /// The URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The TSA answered with another content type than `application/timestamp-reply`.
    #[error(
        "TSA {url} answered with content type {content_type:?}, not application/timestamp-reply"
    )]
    ContentType {
        /// The URL.
        url: String,
        /// What it said.
        content_type: String,
    },
    /// The answer is larger than the client accepts.
    #[error("TSA answer exceeds {0} bytes")]
    TooLarge(usize),
    /// The TSA refused the request (`PKIStatus` other than granted).
    #[error("TSA refused: {status}{}{}", fmt_failures(.failure), fmt_text(.text))]
    Refused {
        /// The status.
        status: asn1::PkiStatus,
        /// The failure bits.
        failure: Vec<asn1::FailureInfo>,
        /// The TSA's free text.
        text: Vec<String>,
    },
    /// The TSA answered with a token that does not verify.
    #[error("TSA answered with a bad token: {0}")]
    BadToken(Invalid),
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// A key could not be generated, read or used.
    #[error("key: {0}")]
    Key(String),
    /// A certificate could not be read or made.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A file of the development TSA could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

fn fmt_failures(f: &[asn1::FailureInfo]) -> String {
    if f.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = f.iter().map(ToString::to_string).collect();
        format!(" ({})", names.join(", "))
    }
}

fn fmt_text(t: &[String]) -> String {
    if t.is_empty() {
        String::new()
    } else {
        format!(": {}", t.join("; "))
    }
}

impl Error {
    pub(crate) fn der(what: &'static str) -> impl FnOnce(der::Error) -> Error {
        move |source| Error::Der { what, source }
    }
}

/// Gets a time-stamp token for `imprint` from the TSA at `url`, and checks the answer
/// before returning it: status granted, CMS signature, imprint and nonce equal to what was
/// sent, ESS signing-certificate and the TSU's EKU. Trust in the TSA is not judged here
/// (the caller verifies the token with its anchors when it needs to).
///
/// Returns the token (a DER `ContentInfo`) and what the verifier read from it.
pub async fn timestamp(
    url: &str,
    imprint: Imprint,
    request: &RequestOptions,
    client: &ClientOptions,
) -> Result<(Vec<u8>, TokenVerdict), Error> {
    let req = TimeStampRequest::new(imprint, request)?;
    let answer = client::post(url, &req.to_der()?, client).await?;
    let resp = verify::parse_response(&answer)?;
    let status = resp.status.status();
    let Some(token) = resp.time_stamp_token.as_ref() else {
        return Err(Error::Refused {
            status,
            failure: resp.status.failure(),
            text: resp.status.status_string.clone().unwrap_or_default(),
        });
    };
    if !matches!(
        status,
        asn1::PkiStatus::Granted | asn1::PkiStatus::GrantedWithMods
    ) {
        return Err(Error::Refused {
            status,
            failure: resp.status.failure(),
            text: resp.status.status_string.clone().unwrap_or_default(),
        });
    }
    let token = der::Encode::to_der(token).map_err(Error::der("TimeStampToken"))?;
    let verdict = verify::verify_token(&token, &req.expected(), &VerifyOptions::default())?;
    match &verdict.invalid {
        Some(why) => Err(Error::BadToken(why.clone())),
        None => Ok((token, verdict)),
    }
}
