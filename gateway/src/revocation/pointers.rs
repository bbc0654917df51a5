//! Where a certificate says its revocation data is.

use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::x509::Certificate;

/// `id-ad-ocsp` (RFC 5280 §4.2.2.1).
const ID_AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";

/// The `http(s)://` URIs of the certificate's CRL distribution points.
pub fn crl_urls(cert: &Certificate) -> Vec<String> {
    let Ok((_, x)) = X509Certificate::from_der(cert.der()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ext in x.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for p in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                    for n in names {
                        if let GeneralName::URI(u) = n
                            && u.to_ascii_lowercase().starts_with("http")
                        {
                            out.push((*u).to_owned());
                        }
                    }
                }
            }
        }
    }
    out
}

/// The `http(s)://` URIs of the certificate's OCSP responders (authorityInfoAccess).
pub fn ocsp_urls(cert: &Certificate) -> Vec<String> {
    let Ok((_, x)) = X509Certificate::from_der(cert.der()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ext in x.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for d in aia.iter() {
                if d.access_method.to_id_string() == ID_AD_OCSP
                    && let GeneralName::URI(u) = &d.access_location
                    && u.to_ascii_lowercase().starts_with("http")
                {
                    out.push((*u).to_owned());
                }
            }
        }
    }
    out
}
