//! The signer check: which provider owns a signing certificate. A certificate belongs to a
//! provider when its DER is one of the provider's `providerCertificate` values (compared by
//! SHA-256 fingerprint), or when one of its `providerCertificateHash` values is the SHA-1 or
//! SHA-256 of the DER (see [`super::CertHash`] for the accepted formats).

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use super::Error;
use super::model::{Directory, Provider};

/// How the certificate was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// Its DER is a `providerCertificate` value.
    Certificate,
    /// Only a `providerCertificateHash` value designates it.
    Hash,
}

impl MatchedBy {
    /// `certificate` or `hash`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Certificate => "certificate",
            MatchedBy::Hash => "hash",
        }
    }
}

/// A provider owning the certificate.
#[derive(Debug, Clone)]
pub struct SignerMatch {
    /// The provider.
    pub provider: Arc<Provider>,
    /// How it was recognised.
    pub by: MatchedBy,
}

/// Every provider owning `der`: those publishing the certificate first, then those that only
/// publish its hash. Empty when the certificate is no provider's.
pub fn owners(dir: &Directory, der: &[u8]) -> Vec<SignerMatch> {
    let mut out: Vec<SignerMatch> = dir
        .owners_by_certificate(der)
        .into_iter()
        .map(|p| SignerMatch {
            provider: p.clone(),
            by: MatchedBy::Certificate,
        })
        .collect();
    for p in dir.owners_by_hash(der) {
        if !out.iter().any(|m| Arc::ptr_eq(&m.provider, p)) {
            out.push(SignerMatch {
                provider: p.clone(),
                by: MatchedBy::Hash,
            });
        }
    }
    out
}

/// Reads a certificate given as PEM (the first `CERTIFICATE` block) or DER, and checks that it
/// is an X.509 certificate. Returns the DER.
pub fn certificate_der(input: &[u8]) -> Result<Vec<u8>, Error> {
    let der = if input.starts_with(b"-----") || input.windows(11).any(|w| w == b"-----BEGIN ") {
        CertificateDer::from_pem_slice(input)
            .map_err(|e| Error::Certificate(format!("PEM: {e}")))?
            .as_ref()
            .to_vec()
    } else {
        input.to_vec()
    };
    match x509_parser::parse_x509_certificate(&der) {
        Ok(([], _)) => Ok(der),
        Ok(_) => Err(Error::Certificate(
            "trailing bytes after the certificate".into(),
        )),
        Err(e) => Err(Error::Certificate(format!("not an X.509 certificate: {e}"))),
    }
}
