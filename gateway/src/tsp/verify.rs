//! Verifying a time-stamp token against the data it should cover.
//!
//! Checks, in order (the first failure is the verdict's reason):
//! 1. the response status is granted (when a `TimeStampResp` is given);
//! 2. the token is a `SignedData` with one signer, whose certificate is in the token (or
//!    given by the caller);
//! 3. the CMS signature (through [`fn@crate::cms::verify`]): contentType is the eContentType
//!    (id-ct-TSTInfo), messageDigest equals the digest of the exact eContent bytes, and the
//!    signature over the signed attributes as received verifies;
//! 4. an ESS `signingCertificateV2` (or the SHA-1 `signingCertificate`) is signed, and
//!    designates that certificate (hash, and issuer/serial when present; the binding is
//!    checked by the CMS layer);
//! 5. the TSU certificate has an extendedKeyUsage extension, critical, with only
//!    id-kp-timeStamping (RFC 3161 §2.3);
//! 6. the messageImprint (algorithm and digest) equals the expected one, and the nonce
//!    equals the one sent (when one was sent).
//!
//! Trust in the TSU certificate (a path to the given anchors, valid at the instant judged,
//! with the timeStamping EKU) is a separate verdict, `None` without anchors. `qualified`
//! reads the TSU certificate's qcStatements for esi4-qtstStatement-1; it says what the
//! certificate claims, not whether the TSA is on a trusted list.

use crate::x509::{Certificate as X509Certificate, Usage};
use der::asn1::{Int, ObjectIdentifier};
use der::{Any, Decode, Encode, Sequence};
use x509_cert::ext::pkix::ExtendedKeyUsage;

use super::asn1::{Accuracy, FailureInfo, GenTime, PkiStatus, PolicyId, TimeStampResp, TstInfo};
use super::request::Imprint;
use super::{
    Error, ID_AA_SIGNING_CERTIFICATE, ID_AA_SIGNING_CERTIFICATE_V2, ID_CT_TST_INFO,
    ID_ETSI_TSTS_EU_Q_COMPLIANCE, ID_KP_TIME_STAMPING, ID_PE_QC_STATEMENTS,
};

/// What the token must cover.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Expected {
    /// The imprint (algorithm and digest).
    pub imprint: Imprint,
    /// The nonce that was sent; `None` when none was (then any nonce in the token is fine).
    pub nonce: Option<Int>,
}

/// How to judge trust.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// TSA trust anchors. Empty: trust is not judged (`trusted` is `None`).
    pub anchors: Vec<X509Certificate>,
    /// Extra certificates: intermediates, or the TSU certificate when the token lacks it.
    pub extra_certs: Vec<X509Certificate>,
    /// The instant to judge the TSU path at; `None`: the token's genTime.
    pub at: Option<time::OffsetDateTime>,
}

/// Why a token is not valid.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// The TSA did not grant the request.
    #[error("the TSA did not grant the request: {status}{}", super::fmt_failures(.failure))]
    NotGranted {
        /// The status.
        status: PkiStatus,
        /// Its failure bits.
        failure: Vec<FailureInfo>,
    },
    /// The TSTInfo version is not 1.
    #[error("TSTInfo version {0}, expected 1")]
    Version(u8),
    /// The SignedData has no signer, or more than one.
    #[error("the token has {0} signers, expected exactly one")]
    SignerCount(usize),
    /// The signer's certificate is neither in the token nor given.
    #[error("the TSU certificate is not in the token")]
    SignerCertificateMissing,
    /// The signer has no signed attributes (RFC 3161 tokens must have them).
    #[error("the signer has no signed attributes")]
    SignedAttributesMissing,
    /// The CMS signature does not verify: contentType or messageDigest attribute wrong or
    /// missing, the ESS signing-certificate attribute naming another certificate, an
    /// unsupported algorithm, or a bad signature (the CMS layer's reason).
    #[error("CMS: {0}")]
    Cms(String),
    /// Neither signingCertificateV2 nor signingCertificate is signed.
    #[error("no ESS signingCertificateV2/signingCertificate attribute")]
    SigningCertificateMissing,
    /// The TSU certificate has no extendedKeyUsage with id-kp-timeStamping.
    #[error("the TSU certificate has no timeStamping extended key usage")]
    NotTimeStampingCertificate,
    /// The TSU certificate's extendedKeyUsage is not critical.
    #[error("the TSU certificate's extendedKeyUsage is not critical")]
    EkuNotCritical,
    /// The TSU certificate's extendedKeyUsage has other purposes than timeStamping.
    #[error("the TSU certificate's extendedKeyUsage has purposes other than timeStamping")]
    EkuNotExclusive,
    /// The imprint's digest algorithm is not the expected one.
    #[error("imprint algorithm {got}, expected {expected}")]
    ImprintAlgorithm {
        /// Expected.
        expected: ObjectIdentifier,
        /// In the token.
        got: ObjectIdentifier,
    },
    /// The imprint's digest is not the expected one: the token covers other data.
    #[error("the token's message imprint does not match the data")]
    ImprintMismatch,
    /// A nonce was sent but the token has none.
    #[error("the token has no nonce, one was sent")]
    NonceMissing,
    /// The token's nonce is not the one sent.
    #[error("the token's nonce is not the one sent")]
    NonceMismatch,
}

/// Whether the TSU certificate chains to the anchors.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Trust {
    /// A path to an anchor exists, valid at the instant judged, with the timeStamping EKU.
    Trusted,
    /// No such path; why.
    NotTrusted(String),
}

/// What the token says (read before any check; present whenever the TSTInfo is readable).
#[derive(Clone, Debug)]
pub struct TokenInfo {
    /// The policy OID.
    pub policy: PolicyId,
    /// The serial number (big-endian bytes as encoded).
    pub serial: Vec<u8>,
    /// When.
    pub gen_time: GenTime,
    /// How precise.
    pub accuracy: Option<Accuracy>,
    /// The ordering flag.
    pub ordering: bool,
    /// The nonce (big-endian bytes as encoded).
    pub nonce: Option<Vec<u8>>,
    /// The imprint's algorithm OID.
    pub imprint_alg: ObjectIdentifier,
    /// The imprint's digest.
    pub imprint: Vec<u8>,
    /// The whole TSTInfo.
    pub tst: TstInfo,
}

/// The TSU certificate, as found.
#[derive(Clone, Debug)]
pub struct TsuInfo {
    /// Its subject (RFC 4514 string).
    pub subject: String,
    /// Its issuer.
    pub issuer: String,
    /// Its DER bytes.
    pub der: Vec<u8>,
}

/// The verdict on a token.
#[derive(Clone, Debug)]
pub struct TokenVerdict {
    /// Why the token is not valid; `None` when it is (signature, imprint, nonce, ESS, EKU).
    pub invalid: Option<Invalid>,
    /// What the TSTInfo says (`None` only when the TSA did not grant).
    pub info: Option<TokenInfo>,
    /// The TSU certificate, when found.
    pub tsu: Option<TsuInfo>,
    /// Trust in the TSU certificate; `None` when no anchors were given or no certificate found.
    pub trusted: Option<Trust>,
    /// Whether the TSU certificate carries the QcStatement esi4-qtstStatement-1.
    pub qualified: bool,
}

impl TokenVerdict {
    /// Valid: every integrity check passed (trust is separate).
    pub fn valid(&self) -> bool {
        self.invalid.is_none()
    }
}

/// Reads a `TimeStampResp`.
pub fn parse_response(der: &[u8]) -> Result<TimeStampResp, Error> {
    TimeStampResp::from_der(der).map_err(Error::der("TimeStampResp"))
}

/// Verifies a `TimeStampResp` or a bare token (a `ContentInfo`, DER or BER): what reads as a
/// `TimeStampResp` is one, anything else is taken as a token.
pub fn verify(
    der: &[u8],
    expected: &Expected,
    opts: &VerifyOptions,
) -> Result<TokenVerdict, Error> {
    if TimeStampResp::from_der(der).is_ok() {
        verify_response(der, expected, opts)
    } else {
        verify_token(der, expected, opts)
    }
}

/// Verifies a `TimeStampResp`: the status first, then its token.
pub fn verify_response(
    der: &[u8],
    expected: &Expected,
    opts: &VerifyOptions,
) -> Result<TokenVerdict, Error> {
    let resp = parse_response(der)?;
    let status = resp.status.status();
    let token = match (&resp.time_stamp_token, status) {
        (Some(t), PkiStatus::Granted | PkiStatus::GrantedWithMods) => t,
        _ => {
            return Ok(TokenVerdict {
                invalid: Some(Invalid::NotGranted {
                    status,
                    failure: resp.status.failure(),
                }),
                info: None,
                tsu: None,
                trusted: None,
                qualified: false,
            });
        }
    };
    let token = token.to_der().map_err(Error::der("TimeStampToken"))?;
    verify_token(&token, expected, opts)
}

/// Extracts the token from a granted `TimeStampResp`, or says why there is none.
pub fn token_of_response(der: &[u8]) -> Result<Vec<u8>, Error> {
    let resp = parse_response(der)?;
    match resp.time_stamp_token {
        Some(t) => t.to_der().map_err(Error::der("TimeStampToken")),
        None => Err(Error::Refused {
            status: resp.status.status(),
            failure: resp.status.failure(),
            text: resp.status.status_string.unwrap_or_default(),
        }),
    }
}

/// Reads a token's TSTInfo without verifying anything.
pub fn read_tst_info(token: &[u8]) -> Result<TstInfo, Error> {
    let sd = crate::cms::parse(token)?;
    tst_of(&sd)
}

fn tst_of(sd: &crate::cms::SignedData) -> Result<TstInfo, Error> {
    if sd.content_type != ID_CT_TST_INFO {
        return Err(Error::NotTstInfo(sd.content_type));
    }
    let econtent = sd.content.as_deref().ok_or(Error::NoContent)?;
    TstInfo::from_der(econtent).map_err(Error::der("TSTInfo"))
}

/// Verifies a bare token (DER or BER `ContentInfo`).
pub fn verify_token(
    token: &[u8],
    expected: &Expected,
    opts: &VerifyOptions,
) -> Result<TokenVerdict, Error> {
    let mut sd = crate::cms::parse(token)?;
    let tst = tst_of(&sd)?;
    let info = TokenInfo {
        policy: tst.policy.clone(),
        serial: tst.serial_number.as_bytes().to_vec(),
        gen_time: tst.gen_time.clone(),
        accuracy: tst.accuracy,
        ordering: tst.ordering,
        nonce: tst.nonce.as_ref().map(|n| n.as_bytes().to_vec()),
        imprint_alg: tst.message_imprint.hash_algorithm.oid,
        imprint: tst.message_imprint.hashed_message.as_bytes().to_vec(),
        tst: tst.clone(),
    };

    // The token's certificates, then the caller's (a token for certReq FALSE has none).
    let carried = sd.certificates.clone();
    for extra in opts.extra_certs.iter().chain(opts.anchors.iter()) {
        if !sd.certificates.iter().any(|c| c.der() == extra.der()) {
            sd.certificates.push(extra.clone());
        }
    }
    let tsu_cert = match sd.signers.as_slice() {
        [one] => crate::cms::verify::find_signer(&sd.certificates, &one.sid).cloned(),
        _ => None,
    };
    let tsu = tsu_cert.as_ref().map(|c| TsuInfo {
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        der: c.der().to_vec(),
    });
    let qualified = tsu_cert.as_ref().is_some_and(|c| is_qualified(c.der()));

    let invalid = check(&sd, &tst, tsu_cert.as_ref(), expected).err();

    let trusted = match &tsu_cert {
        Some(c) if !opts.anchors.is_empty() => {
            let at = opts.at.unwrap_or_else(|| tst.gen_time.instant());
            Some(chain_trust(c, &carried, opts, at))
        }
        _ => None,
    };
    Ok(TokenVerdict {
        invalid,
        info: Some(info),
        tsu,
        trusted,
        qualified,
    })
}

fn check(
    sd: &crate::cms::SignedData,
    tst: &TstInfo,
    tsu: Option<&X509Certificate>,
    expected: &Expected,
) -> Result<(), Invalid> {
    if tst.version != 1 {
        return Err(Invalid::Version(tst.version));
    }
    let signer = match sd.signers.as_slice() {
        [one] => one,
        other => return Err(Invalid::SignerCount(other.len())),
    };
    let tsu = tsu.ok_or(Invalid::SignerCertificateMissing)?;
    if signer.signed_attrs_der.is_none() {
        return Err(Invalid::SignedAttributesMissing);
    }
    let cms = crate::cms::verify(sd, None);
    if !cms.valid {
        return Err(Invalid::Cms(
            cms.reason.unwrap_or_else(|| "not valid".into()),
        ));
    }

    check_ess(signer)?;
    check_eku(tsu)?;

    // The imprint and the nonce.
    let got = &tst.message_imprint;
    let want_alg = expected.imprint.alg.oid();
    if got.hash_algorithm.oid != want_alg {
        return Err(Invalid::ImprintAlgorithm {
            expected: want_alg,
            got: got.hash_algorithm.oid,
        });
    }
    if got.hashed_message.as_bytes() != expected.imprint.digest.as_slice() {
        return Err(Invalid::ImprintMismatch);
    }
    if let Some(sent) = &expected.nonce {
        match &tst.nonce {
            None => return Err(Invalid::NonceMissing),
            Some(n) if n != sent => return Err(Invalid::NonceMismatch),
            Some(_) => {}
        }
    }
    Ok(())
}

/// RFC 3161 §2.4.1 (RFC 5816): the token must sign an ESS signing-certificate attribute.
/// That it names the TSU certificate is checked by [`crate::cms::verify`].
fn check_ess(signer: &crate::cms::SignerInfo) -> Result<(), Invalid> {
    let present = signer.signed_attr(&ID_AA_SIGNING_CERTIFICATE_V2).is_some()
        || signer.signed_attr(&ID_AA_SIGNING_CERTIFICATE).is_some();
    if present {
        Ok(())
    } else {
        Err(Invalid::SigningCertificateMissing)
    }
}

fn check_eku(tsu: &X509Certificate) -> Result<(), Invalid> {
    // x509's model has the EKU list but not its criticality: read the extension here.
    let cert = x509_cert::Certificate::from_der(tsu.der())
        .map_err(|_| Invalid::NotTimeStampingCertificate)?;
    match cert.tbs_certificate().get_extension::<ExtendedKeyUsage>() {
        Ok(Some((critical, eku))) => {
            if !eku.0.contains(&ID_KP_TIME_STAMPING) {
                Err(Invalid::NotTimeStampingCertificate)
            } else if !critical {
                Err(Invalid::EkuNotCritical)
            } else if eku.0.len() != 1 {
                Err(Invalid::EkuNotExclusive)
            } else {
                Ok(())
            }
        }
        _ => Err(Invalid::NotTimeStampingCertificate),
    }
}

/// `QCStatement ::= SEQUENCE { statementId OBJECT IDENTIFIER, statementInfo ANY OPTIONAL }`.
#[derive(Sequence)]
struct QcStatement {
    id: ObjectIdentifier,
    #[asn1(optional = "true")]
    _info: Option<Any>,
}

/// Whether the certificate (DER) has a qcStatements extension carrying esi4-qtstStatement-1.
pub fn is_qualified(cert_der: &[u8]) -> bool {
    let Ok(cert) = x509_cert::Certificate::from_der(cert_der) else {
        return false;
    };
    cert.tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .filter(|e| e.extn_id == ID_PE_QC_STATEMENTS)
        .filter_map(|e| Vec::<QcStatement>::from_der(e.extn_value.as_bytes()).ok())
        .flatten()
        .any(|s| s.id == ID_ETSI_TSTS_EU_Q_COMPLIANCE)
}

fn chain_trust(
    leaf: &X509Certificate,
    carried: &[X509Certificate],
    opts: &VerifyOptions,
    at: time::OffsetDateTime,
) -> Trust {
    // The TSU certificate itself given as an anchor (a pinned self-signed TSU, like the
    // development TSA's): trusted as given, at an instant inside its validity.
    if opts.anchors.iter().any(|a| a.der() == leaf.der()) {
        return if !leaf.is_valid_at(at) {
            Trust::NotTrusted(format!("the pinned TSU certificate is not valid at {at}"))
        } else if !leaf.allows_eku(&ID_KP_TIME_STAMPING.to_string()) {
            Trust::NotTrusted("the pinned TSU certificate lacks the timeStamping EKU".into())
        } else {
            Trust::Trusted
        };
    }
    let intermediates: Vec<X509Certificate> = carried
        .iter()
        .chain(opts.extra_certs.iter())
        .filter(|c| c.der() != leaf.der())
        .cloned()
        .collect();
    let verdict =
        crate::x509::verify_chain(leaf, &intermediates, &opts.anchors, at, Usage::TimeStamping);
    if verdict.trusted {
        Trust::Trusted
    } else {
        Trust::NotTrusted(verdict.reason.unwrap_or_else(|| "not trusted".into()))
    }
}
