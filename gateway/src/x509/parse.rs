//! Reading certificates: DER and PEM, with the fields verifiers and reports need.

use super::Error;
use crate::crypto::{DigestAlgorithm, digest};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

/// A parsed certificate. The DER is kept: it is what gets hashed, pinned and sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    /// Subject DN, RFC 4514-style `attr=value` pairs in the certificate's encoding order
    /// (e.g. `C=IT, O=Namirial S.p.A., CN=Posta Certificata Namirial S.p.A.`).
    pub subject: String,
    /// Issuer DN, same form as `subject`.
    pub issuer: String,
    /// DER of the subject Name (SEQUENCE), for exact matching.
    pub subject_der: Vec<u8>,
    /// DER of the issuer Name (SEQUENCE), for exact matching.
    pub issuer_der: Vec<u8>,
    /// Serial number: the big-endian bytes of the INTEGER as encoded.
    pub serial: Vec<u8>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// SHA-256 of the DER certificate.
    pub fingerprint_sha256: [u8; 32],
    /// `rfc822Name` entries of subjectAltName.
    pub email_sans: Vec<String>,
    /// Extended key usages as dotted OIDs; empty when the extension is absent.
    pub ekus: Vec<String>,
    /// certificatePolicies policy identifiers as dotted OIDs (e.g. `1.3.76.16.3.1.1` for PEC
    /// provider certificates issued under AgID CA1).
    pub policies: Vec<String>,
    /// subjectKeyIdentifier, when present.
    pub subject_key_id: Option<Vec<u8>>,
    /// basicConstraints cA.
    pub is_ca: bool,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("serial", &self.serial_hex())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("sha256", &self.fingerprint_hex())
            .finish_non_exhaustive()
    }
}

fn to_time(t: x509_parser::time::ASN1Time) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|e| Error::Der(format!("validity: {e}")))
}

fn ext_err(extension: &'static str) -> impl Fn(x509_parser::error::X509Error) -> Error {
    move |e| Error::Extension {
        extension,
        reason: e.to_string(),
    }
}

/// Certificates already parsed, by their DER: a gateway reads the same few provider, CA and
/// TSA certificates in every message (CMS `certificates`, XAdES `KeyInfo`, time-stamp
/// tokens), and each x509-parser read with its DN strings costs several microseconds, more
/// than a copy of the result. Only successes are kept (keyed by the exact octets, so the
/// outcome is the one a fresh parse gives), at most `PARSED_MAX` of them (then forgotten at
/// once).
mod parsed {
    use super::Certificate;
    use std::collections::HashMap;
    use std::sync::RwLock;

    /// How many certificates are kept before the cache starts over.
    const PARSED_MAX: usize = 1024;

    static PARSED: RwLock<Option<HashMap<Box<[u8]>, Certificate>>> = RwLock::new(None);

    pub(super) fn get(der: &[u8]) -> Option<Certificate> {
        let map = PARSED.read().ok()?;
        map.as_ref()?.get(der).cloned()
    }

    pub(super) fn put(cert: &Certificate) {
        if let Ok(mut map) = PARSED.write() {
            let map = map.get_or_insert_with(HashMap::new);
            if map.len() >= PARSED_MAX {
                map.clear();
            }
            map.insert(cert.der.clone().into_boxed_slice(), cert.clone());
        }
    }
}

impl Certificate {
    /// Parses one DER certificate (trailing bytes are refused). A certificate read before is
    /// not parsed again (see `parsed`): the result is a copy of the first read's.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        if let Some(c) = parsed::get(der) {
            return Ok(c);
        }
        let c = Self::parse_der(der)?;
        parsed::put(&c);
        Ok(c)
    }

    fn parse_der(der: &[u8]) -> Result<Self, Error> {
        let (rest, c) = X509Certificate::from_der(der).map_err(|e| Error::Der(e.to_string()))?;
        if !rest.is_empty() {
            return Err(Error::Der(format!(
                "{} bytes after the certificate",
                rest.len()
            )));
        }
        let mut email_sans = Vec::new();
        if let Some(san) = c
            .subject_alternative_name()
            .map_err(ext_err("subjectAltName"))?
        {
            for n in &san.value.general_names {
                if let GeneralName::RFC822Name(m) = n {
                    email_sans.push((*m).to_string());
                }
            }
        }
        let mut ekus = Vec::new();
        if let Some(eku) = c
            .extended_key_usage()
            .map_err(ext_err("extendedKeyUsage"))?
        {
            let e = eku.value;
            for (flag, oid) in [
                (e.any, "2.5.29.37.0"),
                (e.server_auth, "1.3.6.1.5.5.7.3.1"),
                (e.client_auth, "1.3.6.1.5.5.7.3.2"),
                (e.code_signing, "1.3.6.1.5.5.7.3.3"),
                (e.email_protection, "1.3.6.1.5.5.7.3.4"),
                (e.time_stamping, "1.3.6.1.5.5.7.3.8"),
                (e.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
            ] {
                if flag {
                    ekus.push(oid.to_string());
                }
            }
            ekus.extend(e.other.iter().map(|o| o.to_id_string()));
        }
        let mut subject_key_id = None;
        let mut policies = Vec::new();
        for ext in c.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => subject_key_id = Some(k.0.to_vec()),
                ParsedExtension::CertificatePolicies(p) => {
                    policies.extend(p.iter().map(|i| i.policy_id.to_id_string()));
                }
                _ => {}
            }
        }
        let is_ca = c
            .basic_constraints()
            .map_err(ext_err("basicConstraints"))?
            .is_some_and(|b| b.value.ca);
        let mut fingerprint_sha256 = [0u8; 32];
        fingerprint_sha256.copy_from_slice(&digest(DigestAlgorithm::Sha256, der));
        Ok(Self {
            subject: c.subject().to_string(),
            issuer: c.issuer().to_string(),
            subject_der: c.subject().as_raw().to_vec(),
            issuer_der: c.issuer().as_raw().to_vec(),
            serial: c.raw_serial().to_vec(),
            not_before: to_time(c.validity().not_before)?,
            not_after: to_time(c.validity().not_after)?,
            spki_der: c.public_key().raw.to_vec(),
            email_sans,
            ekus,
            policies,
            subject_key_id,
            is_ca,
            fingerprint_sha256,
            der: der.to_vec(),
        })
    }

    /// The DER encoding, exactly as read.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The serial number as upper-case hex without separators.
    pub fn serial_hex(&self) -> String {
        hex(&self.serial)
    }

    /// The SHA-256 fingerprint as upper-case hex pairs separated by `:`.
    pub fn fingerprint_hex(&self) -> String {
        self.fingerprint_sha256
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Whether `at` lies within the validity period (bounds included).
    pub fn is_valid_at(&self, at: OffsetDateTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    /// Whether the certificate has the EKU `oid` (dotted), or has no EKU extension at all.
    pub fn allows_eku(&self, oid: &str) -> bool {
        self.ekus.is_empty() || self.ekus.iter().any(|e| e == oid)
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02X}")).collect()
}

/// Loads every `CERTIFICATE` block of a PEM text (other blocks are ignored). At least one is
/// required.
pub fn load_pem(pem: &[u8]) -> Result<Vec<Certificate>, Error> {
    let mut out = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem) {
        let der = item.map_err(|e| Error::Pem(e.to_string()))?;
        out.push(Certificate::from_der(der.as_ref())?);
    }
    if out.is_empty() {
        return Err(Error::NoCertificate);
    }
    Ok(out)
}
