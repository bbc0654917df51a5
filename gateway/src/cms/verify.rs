//! Verifying a SignedData: messageDigest against the content, the signature over the signed
//! attributes (or over the content when there are none) with the signer certificate's key.

use super::parse::{Attribute, SignedData, SignerId, SignerInfo};
use crate::crypto::{DigestAlgorithm, SignatureAlgorithm, digest, oids, verify_signature};
use crate::x509::Certificate;
use const_oid::ObjectIdentifier;
use time::OffsetDateTime;

/// The integrity verdict of a SignedData (its first SignerInfo); trust in the signer is a
/// separate question ([`crate::x509::verify_chain`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmsVerdict {
    /// Whether the content is intact and the signature verifies.
    pub valid: bool,
    /// Why not, when not valid.
    pub reason: Option<String>,
    /// The SignerInfo digest algorithm: `sha1`, `sha256`, `sha384`, `sha512`, or the dotted OID
    /// of an algorithm Ponte does not know.
    pub digest: Option<String>,
    /// The signer certificate, when found among the certificates carried.
    pub signer: Option<Certificate>,
    /// The signingTime signed attribute.
    pub signing_time: Option<OffsetDateTime>,
    /// Every signed attribute, by OID (ESSCertID/ESSCertIDv2 and others are read from here).
    pub attributes: Vec<Attribute>,
    /// The certificates carried by the SignedData.
    pub certificates: Vec<Certificate>,
}

impl CmsVerdict {
    /// The first value (DER) of a signed attribute.
    pub fn attribute(&self, oid: &ObjectIdentifier) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|a| a.oid == *oid)
            .and_then(|a| a.values.first())
            .map(Vec::as_slice)
    }
}

/// Finds the certificate a SignerInfo names.
pub fn find_signer<'a>(certs: &'a [Certificate], sid: &SignerId) -> Option<&'a Certificate> {
    fn trim(b: &[u8]) -> &[u8] {
        let n = b.iter().take_while(|x| **x == 0).count();
        b.get(n..).unwrap_or(&[])
    }
    certs.iter().find(|c| match sid {
        SignerId::IssuerSerial { issuer_der, serial } => {
            c.issuer_der == *issuer_der && trim(&c.serial) == trim(serial)
        }
        SignerId::SubjectKeyId(k) => c.subject_key_id.as_deref() == Some(k.as_slice()),
    })
}

/// Verifies `sd` for its content: `detached` for a detached signature, else the encapsulated
/// content. Every SignerInfo must verify; the verdict describes the first one.
pub fn verify(sd: &SignedData, detached: Option<&[u8]>) -> CmsVerdict {
    let mut verdict = CmsVerdict {
        valid: false,
        reason: None,
        digest: None,
        signer: None,
        signing_time: None,
        attributes: Vec::new(),
        certificates: sd.certificates.clone(),
    };
    let Some(first) = sd.signers.first() else {
        verdict.reason = Some("SignedData has no SignerInfo".into());
        return verdict;
    };
    verdict.digest = Some(
        DigestAlgorithm::from_oid(&first.digest_algorithm)
            .map(|d| d.name().to_string())
            .unwrap_or_else(|| first.digest_algorithm.to_string()),
    );
    verdict.signing_time = first.signing_time();
    verdict.attributes = first.signed_attrs.clone();
    verdict.signer = find_signer(&sd.certificates, &first.sid).cloned();
    let content = match (detached, sd.content.as_deref()) {
        (Some(d), _) => d,
        (None, Some(e)) => e,
        (None, None) => {
            verdict.reason = Some("detached signature and no content given".into());
            return verdict;
        }
    };
    for (i, si) in sd.signers.iter().enumerate() {
        if let Err(reason) = verify_one(sd, si, content) {
            verdict.reason = Some(if sd.signers.len() > 1 {
                format!("signer {}: {reason}", i + 1)
            } else {
                reason
            });
            return verdict;
        }
    }
    verdict.valid = true;
    verdict
}

fn verify_one(sd: &SignedData, si: &SignerInfo, content: &[u8]) -> Result<(), String> {
    let dalg = DigestAlgorithm::from_oid(&si.digest_algorithm)
        .ok_or_else(|| format!("unsupported digest algorithm {}", si.digest_algorithm))?;
    let cert = find_signer(&sd.certificates, &si.sid)
        .ok_or_else(|| "signer certificate not included in the SignedData".to_string())?;
    let sig_alg = SignatureAlgorithm::from_oid(&si.signature_algorithm, Some(dalg))
        .ok_or_else(|| format!("unsupported signature algorithm {}", si.signature_algorithm))?;
    let actual = digest(dalg, content);
    let signed: &[u8] = match &si.signed_attrs_der {
        Some(der) => {
            let ct = si
                .signed_attr(&oids::ATTR_CONTENT_TYPE)
                .ok_or("contentType signed attribute missing")?;
            let ct_ok = super::ber::read(ct)
                .is_ok_and(|(t, _)| t.tag == 0x06 && t.content == sd.content_type.as_bytes());
            if !ct_ok {
                return Err("contentType signed attribute differs from eContentType".into());
            }
            let md = si
                .signed_attr(&oids::ATTR_MESSAGE_DIGEST)
                .ok_or("messageDigest signed attribute missing")?;
            let (t, _) =
                super::ber::read(md).map_err(|e| format!("messageDigest unreadable: {e}"))?;
            if t.tag != 0x04 || t.content != actual.as_slice() {
                return Err(format!(
                    "messageDigest mismatch: the content's {dalg} differs from the signed one"
                ));
            }
            check_ess(si, cert)?;
            der
        }
        None => content,
    };
    match verify_signature(&cert.spki_der, sig_alg, signed, &si.signature) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(f)) => Err(format!("signature invalid: {f}")),
        Err(e) => Err(format!("signer public key unreadable: {e}")),
    }
}

/// RFC 5035 §5.4: when a signing-certificate attribute is present, its first identifier must
/// name the signer certificate (this binds the certificate to the signature).
fn check_ess(si: &SignerInfo, cert: &Certificate) -> Result<(), String> {
    for (oid, v2, name) in [
        (
            oids::ATTR_SIGNING_CERTIFICATE_V2,
            true,
            "signingCertificateV2",
        ),
        (oids::ATTR_SIGNING_CERTIFICATE, false, "signingCertificate"),
    ] {
        if let Some(value) = si.signed_attr(&oid) {
            let ids = super::ess::parse_signing_certificate(value, v2)
                .map_err(|e| format!("{name} unreadable: {e}"))?;
            if !ids.first().is_some_and(|id| id.matches(cert)) {
                return Err(format!("{name} does not identify the signer certificate"));
            }
        }
    }
    Ok(())
}
