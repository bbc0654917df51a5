//! Collecting the validation data of a certificate path for XAdES-B-LT: the certificates, and
//! the CRLs and OCSP responses their issuers publish (fetched over HTTP from the pointers the
//! certificates carry, and verified before they are kept).

use super::{Error, Fetcher};
use crate::revocation::{Crl, OcspResponse, ocsp, pointers};
use crate::x509::Certificate;
use crate::xades::extend::ValidationData;

/// Why validation data could not be collected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// A CRL or OCSP responder could not be reached.
    #[error(transparent)]
    Fetch(#[from] Error),
    /// What it answered is unreadable or does not verify.
    #[error("{url}: {reason}")]
    Bad {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// The path of `leaf` through `pool` (certificate, issuer), up to a self-signed certificate or
/// as far as issuers are known.
pub fn path_of<'a>(
    leaf: &'a Certificate,
    pool: &'a [Certificate],
) -> Vec<(&'a Certificate, &'a Certificate)> {
    let mut out = Vec::new();
    let mut cur = leaf;
    for _ in 0..8 {
        if cur.subject_der == cur.issuer_der {
            break;
        }
        let Some(issuer) = pool
            .iter()
            .find(|c| c.subject_der == cur.issuer_der && c.der() != cur.der())
        else {
            break;
        };
        out.push((cur, issuer));
        cur = issuer;
    }
    out
}

/// Adds to `data` every certificate of the paths of `leaves` through `pool`, and the revocation
/// data of every certificate of those paths that names a CRL distribution point or an OCSP
/// responder (both when it names both).
pub async fn collect(
    fetcher: &Fetcher,
    leaves: &[Certificate],
    pool: &[Certificate],
    data: &mut ValidationData,
) -> Result<(), CollectError> {
    for leaf in leaves {
        data.add_certificate(leaf.der());
        for (cert, issuer) in path_of(leaf, pool) {
            data.add_certificate(issuer.der());
            for url in pointers::crl_urls(cert) {
                let got = fetcher.get(&url, "application/pkix-crl, */*").await?;
                let crl = Crl::from_der(&got.body).map_err(|e| CollectError::Bad {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
                crl.verify(issuer).map_err(|reason| CollectError::Bad {
                    url: url.clone(),
                    reason,
                })?;
                if !data.crls.contains(&got.body) {
                    data.crls.push(got.body);
                }
            }
            for url in pointers::ocsp_urls(cert) {
                let req = ocsp::request(cert, issuer).map_err(|e| CollectError::Bad {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
                let got = fetcher
                    .post(
                        &url,
                        "application/ocsp-request",
                        &req,
                        "application/ocsp-response",
                    )
                    .await?;
                let resp = OcspResponse::from_der(&got.body).map_err(|e| CollectError::Bad {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
                resp.verify(issuer, resp.produced_at)
                    .map_err(|reason| CollectError::Bad {
                        url: url.clone(),
                        reason,
                    })?;
                if resp.status_of(cert, issuer).is_none() {
                    return Err(CollectError::Bad {
                        url,
                        reason: format!("the response does not speak about {}", cert.subject),
                    });
                }
                for c in &resp.certs {
                    data.add_certificate(c.der());
                }
                data.ocsps.push(got.body);
            }
        }
    }
    Ok(())
}
