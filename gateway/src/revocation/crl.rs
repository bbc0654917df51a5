//! CRLs (RFC 5280 §5): parsed with x509-parser, signatures verified with ring.

use time::OffsetDateTime;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::{Error, Evidence, Status};
use crate::crypto::{SignatureAlgorithm, verify_signature};
use crate::x509::Certificate;

/// One revoked entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoked {
    /// The serial number's INTEGER content bytes.
    pub serial: Vec<u8>,
    /// `revocationDate`.
    pub at: OffsetDateTime,
    /// The CRLReason code, when given.
    pub reason: Option<u8>,
}

/// A CRL.
#[derive(Clone, Debug)]
pub struct Crl {
    der: Vec<u8>,
    /// The issuer's Name DER.
    pub issuer_der: Vec<u8>,
    /// The issuer, as text.
    pub issuer: String,
    /// `thisUpdate`.
    pub this_update: OffsetDateTime,
    /// `nextUpdate`.
    pub next_update: Option<OffsetDateTime>,
    /// The revoked certificates.
    pub revoked: Vec<Revoked>,
    tbs: Vec<u8>,
    algorithm: Option<SignatureAlgorithm>,
    algorithm_oid: String,
    signature: Vec<u8>,
}

fn time(t: x509_parser::time::ASN1Time) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| Error::Crl(e.to_string()))
}

fn magnitude(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|x| **x == 0).count();
    b.get(skip..).unwrap_or_default()
}

impl Crl {
    /// Parses a DER CRL (trailing bytes refused).
    pub fn from_der(der: &[u8]) -> Result<Crl, Error> {
        let (rest, crl) =
            CertificateRevocationList::from_der(der).map_err(|e| Error::Crl(e.to_string()))?;
        if !rest.is_empty() {
            return Err(Error::Crl(format!("{} bytes after the CRL", rest.len())));
        }
        let tbs = &crl.tbs_cert_list;
        let mut revoked = Vec::new();
        for r in tbs.revoked_certificates.iter() {
            revoked.push(Revoked {
                serial: r.raw_serial().to_vec(),
                at: time(r.revocation_date)?,
                reason: r.reason_code().map(|(_, c)| c.0),
            });
        }
        let algorithm_oid = crl.signature_algorithm.algorithm.to_id_string();
        let algorithm = algorithm_oid
            .parse()
            .ok()
            .and_then(|o| SignatureAlgorithm::from_oid(&o, None));
        Ok(Crl {
            der: der.to_vec(),
            issuer_der: tbs.issuer.as_raw().to_vec(),
            issuer: tbs.issuer.to_string(),
            this_update: time(tbs.this_update)?,
            next_update: tbs.next_update.map(time).transpose()?,
            revoked,
            tbs: tbs.as_ref().to_vec(),
            algorithm,
            algorithm_oid,
            signature: crl.signature_value.data.to_vec(),
        })
    }

    /// The DER bytes, as read.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Whether this CRL is `issuer`'s and its signature verifies under `issuer`'s key.
    pub fn verify(&self, issuer: &Certificate) -> Result<(), String> {
        if self.issuer_der != issuer.subject_der {
            return Err(format!(
                "the CRL is issued by {}, not {}",
                self.issuer, issuer.subject
            ));
        }
        let alg = self
            .algorithm
            .ok_or_else(|| format!("unsupported CRL signature algorithm {}", self.algorithm_oid))?;
        match verify_signature(&issuer.spki_der, alg, &self.tbs, &self.signature) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(f)) => Err(format!("the CRL signature does not verify: {f}")),
            Err(e) => Err(format!("the issuer key is unreadable: {e}")),
        }
    }

    /// Whether this CRL speaks about `cert` (same issuer name).
    pub fn covers(&self, cert: &Certificate) -> bool {
        self.issuer_der == cert.issuer_der
    }

    /// The status of `cert` in this CRL (call [`Self::verify`] first).
    pub fn status_of(&self, cert: &Certificate) -> Evidence {
        let status = self
            .revoked
            .iter()
            .find(|r| magnitude(&r.serial) == magnitude(&cert.serial))
            .map(|r| Status::Revoked {
                at: r.at,
                reason: r.reason,
            })
            .unwrap_or(Status::Good);
        Evidence {
            status,
            this_update: self.this_update,
            next_update: self.next_update,
            source: "crl",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../tests/data/revocation/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("test data")
    }

    #[test]
    fn a_crl_of_the_test_provider_ca_lists_its_revoked_certificate() {
        let crl = Crl::from_der(&data("provider-ca-revoked.crl")).expect("crl");
        let ca = crate::x509::load_pem(
            &std::fs::read(format!(
                "{}/../tests/pki/provider-ca.pem",
                env!("CARGO_MANIFEST_DIR")
            ))
            .expect("ca"),
        )
        .expect("pem")
        .remove(0);
        crl.verify(&ca).expect("verifies under the provider CA");
        let revoked = crate::x509::load_pem(&data("revoked.pem"))
            .expect("pem")
            .remove(0);
        assert!(crl.covers(&revoked));
        let e = crl.status_of(&revoked);
        assert!(
            matches!(
                e.status,
                Status::Revoked {
                    reason: Some(1),
                    ..
                }
            ),
            "{e:?}"
        );
        let other = crate::x509::load_pem(
            &std::fs::read(format!(
                "{}/../tests/pki/rem-rsa.pem",
                env!("CARGO_MANIFEST_DIR")
            ))
            .expect("rem"),
        )
        .expect("pem")
        .remove(0);
        assert_eq!(crl.status_of(&other).status, Status::Good);
        let root = crate::x509::load_pem(
            &std::fs::read(format!(
                "{}/../tests/pki/root-ca.pem",
                env!("CARGO_MANIFEST_DIR")
            ))
            .expect("root"),
        )
        .expect("pem")
        .remove(0);
        assert!(crl.verify(&root).is_err());
    }
}
