//! ESS signing-certificate attributes (RFC 2634 `SigningCertificate`, RFC 5035
//! `SigningCertificateV2`): reading them and matching them against a certificate.

use super::Error;
use super::ber::{self, Tlv};
use crate::crypto::{DigestAlgorithm, digest, oids};
use crate::x509::Certificate;
use const_oid::ObjectIdentifier;

/// One ESSCertID / ESSCertIDv2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EssCertId {
    /// The hash algorithm (SHA-1 for ESSCertID; SHA-256 when ESSCertIDv2 omits it).
    pub hash_algorithm: ObjectIdentifier,
    /// The certificate hash.
    pub hash: Vec<u8>,
    /// issuerSerial: the DER of the GeneralNames and the serial content octets, when present.
    pub issuer_serial: Option<(Vec<u8>, Vec<u8>)>,
}

impl EssCertId {
    /// Whether this identifies `cert`: the hash over its DER matches, and issuerSerial (when
    /// present) names its issuer (as a directoryName) and serial.
    pub fn matches(&self, cert: &Certificate) -> bool {
        let Some(alg) = DigestAlgorithm::from_oid(&self.hash_algorithm) else {
            return false;
        };
        if digest(alg, cert.der()) != self.hash {
            return false;
        }
        match &self.issuer_serial {
            None => true,
            Some((names, serial)) => {
                let dn = ber::tlv(0x30, &ber::tlv(0xa4, &cert.issuer_der));
                *names == dn && *serial == cert.serial
            }
        }
    }
}

fn structure(s: &str) -> Error {
    Error::Structure(format!("ESS signing certificate: {s}"))
}

/// Reads the value (DER) of a `signingCertificate` (`v2 == false`) or `signingCertificateV2`
/// attribute into its list of certificate identifiers.
pub fn parse_signing_certificate(value: &[u8], v2: bool) -> Result<Vec<EssCertId>, Error> {
    let (outer, _) = ber::read(value)?;
    let kids = ber::children(seq(&outer)?.content)?;
    let certs = kids.first().ok_or_else(|| structure("certs missing"))?;
    let mut out = Vec::new();
    for id in ber::children(seq(certs)?.content)? {
        let fields = ber::children(seq(&id)?.content)?;
        let mut it = fields.iter().peekable();
        let mut hash_algorithm = if v2 { oids::SHA256 } else { oids::SHA1 };
        if v2 && it.peek().is_some_and(|t| t.tag == 0x30) {
            let alg = it.next().ok_or_else(|| structure("hashAlgorithm"))?;
            let a = ber::children(alg.content)?;
            let o = a
                .first()
                .filter(|t| t.tag == 0x06)
                .ok_or_else(|| structure("hashAlgorithm OID"))?;
            hash_algorithm = ObjectIdentifier::from_bytes(o.content)
                .map_err(|_| structure("hashAlgorithm OID"))?;
        }
        let hash = it
            .next()
            .filter(|t| t.tag == 0x04)
            .ok_or_else(|| structure("certHash"))?
            .content
            .to_vec();
        let issuer_serial = match it.next() {
            Some(is) => {
                let f = ber::children(seq(is)?.content)?;
                let names = f
                    .first()
                    .filter(|t| t.tag == 0x30)
                    .ok_or_else(|| structure("issuer"))?;
                let serial = f
                    .get(1)
                    .filter(|t| t.tag == 0x02)
                    .ok_or_else(|| structure("serialNumber"))?;
                Some((names.raw.to_vec(), serial.content.to_vec()))
            }
            None => None,
        };
        out.push(EssCertId {
            hash_algorithm,
            hash,
            issuer_serial,
        });
    }
    Ok(out)
}

fn seq<'a>(t: &Tlv<'a>) -> Result<Tlv<'a>, Error> {
    if t.tag == 0x30 {
        Ok(*t)
    } else {
        Err(structure("SEQUENCE expected"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::load_pem;

    #[test]
    fn v2_built_by_us_matches_its_certificate_only() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/pki/");
        let load = |n: &str| {
            load_pem(&std::fs::read(format!("{dir}{n}")).expect("file"))
                .expect("pem")
                .remove(0)
        };
        let (cert, other) = (load("pec-rsa.pem"), load("pec-other.pem"));
        let ids =
            parse_signing_certificate(&super::super::build::signing_certificate_v2(&cert), true)
                .expect("parse");
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].hash_algorithm, oids::SHA256);
        assert!(ids[0].matches(&cert));
        assert!(!ids[0].matches(&other));
        assert!(parse_signing_certificate(b"\x30\x00", true).is_err());
        assert!(parse_signing_certificate(b"\x04\x00", false).is_err());
    }
}
