//! Judging a CSI document: its signature, the REM baseline values, the consistency with the
//! trusted list.
//!
//! The signature (c.3.1.11: XAdES-B-B, optional) is verified by the crate's XAdES verifier;
//! its signer must be one of the service's digital identity certificates (same certificate or
//! same public key) or be issued by one of them (c.3.1.12). A signed document is read from the
//! octets the signature covers. An unsigned document is read as it is and says so.

use time::OffsetDateTime;

use super::{CONSIGNMENT_BASIC, Csi, Error, LOA_SUBSTANTIAL, REM_BASELINE, parse};
use crate::x509::{self, Certificate, Usage};
use crate::xades::{self, At, VerifyOptions};
use crate::xml;

/// The verdict on the document's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsiSignature {
    /// Signed by the service's digital identity (or a certificate it issued).
    Verified {
        /// The signer's subject.
        signer: String,
    },
    /// Not signed (the signature is optional in the schema).
    Unsigned,
    /// The signature does not verify.
    Invalid(String),
    /// The signature verifies but the signer is not tied to the service.
    UnknownSigner {
        /// The signer's subject.
        signer: String,
        /// Why it is not tied to the service.
        reason: String,
    },
}

/// Everything said about a CSI document.
#[derive(Clone, Debug)]
pub struct CsiVerdict {
    /// The signature.
    pub signature: CsiSignature,
    /// The document (from the signed octets when the signature is valid); `None` when it
    /// could not be read.
    pub csi: Option<Csi>,
    /// Why it could not be read.
    pub unreadable: Option<String>,
    /// Deviations from the REM baseline values (Table C.9, C.12) and from the trusted list.
    pub deviations: Vec<String>,
    /// Whether `CSINextUpdate` has passed at the instant judged (such documents are to be
    /// discarded, C.2.3.4.1 note 4).
    pub stale: bool,
}

impl CsiVerdict {
    /// Whether the document is signed by the service, readable, fresh and as the baseline
    /// wants.
    pub fn acceptable(&self) -> bool {
        matches!(self.signature, CsiSignature::Verified { .. })
            && self.csi.is_some()
            && self.deviations.is_empty()
            && !self.stale
    }
}

/// The REM baseline deviations of `csi` (Table C.9 and C.12 values).
pub fn baseline_deviations(csi: &Csi) -> Vec<String> {
    let mut d = Vec::new();
    if csi.version != "EN319532v1" {
        d.push(format!(
            "version {:?}, expected \"EN319532v1\" (c.3.1.7)",
            csi.version
        ));
    }
    let e = &csi.erds;
    if e.version.as_deref() != Some("EN319522v1.1.1") {
        d.push(format!(
            "ERDSMetadata version {:?}, expected \"EN319522v1.1.1\" (c.3.2.4)",
            e.version
        ));
    }
    if e.id_scheme.as_deref() != Some("http") {
        d.push(format!(
            "ERDSId IdentifierSchemeName {:?}, expected \"http\" (c.3.2.4)",
            e.id_scheme
        ));
    }
    if !e.profiles.iter().any(|p| p == REM_BASELINE) {
        d.push(format!(
            "ERDSProfileSupported lacks {REM_BASELINE} (c.3.3.3)"
        ));
    }
    if e.expiry_support != Some(false) {
        d.push("ERDSExpiryDateAndTimeSupport is not false (c.3.3.4)".to_owned());
    }
    if e.scheduled_delivery_support != Some(false) {
        d.push("ERDSScheduledDeliverySupport is not false (c.3.3.5)".to_owned());
    }
    if !e.assurance_levels.iter().any(|a| a == LOA_SUBSTANTIAL) {
        d.push(format!("AssuranceLevel lacks {LOA_SUBSTANTIAL} (c.3.3.6)"));
    }
    if !e.consignment_modes.iter().any(|c| c == CONSIGNMENT_BASIC) {
        d.push(format!(
            "ERDSSupportedConsignmentModes lacks {CONSIGNMENT_BASIC} (c.3.3.7)"
        ));
    }
    if csi.security.version.as_deref() != Some("EN319532v1") {
        d.push(format!(
            "CapabilityBasedSecurity version {:?}, expected \"EN319532v1\" (c.3.4.4)",
            csi.security.version
        ));
    }
    if let Err(why) = &csi.security.tls_certificate {
        d.push(format!("TLSCertificate unreadable: {why} (c.3.5.1)"));
    }
    d
}

/// The differences between two documents under the equivalence of Table C.9 and C.12: the
/// value-compared fields must be equal, the presence-only ones (`ERDSId`, `ERDSDomain`,
/// `ERDSGoverningBody`, `TLSCertificate`) present in both. Empty: equivalent.
pub fn equivalence(a: &Csi, b: &Csi) -> Vec<String> {
    let mut d = Vec::new();
    let (x, y) = (&a.erds, &b.erds);
    let mut same = |what: &str, l: String, r: String| {
        if l != r {
            d.push(format!("{what}: {l} vs {r}"));
        }
    };
    same(
        "ERDSMetadata version",
        format!("{:?}", x.version),
        format!("{:?}", y.version),
    );
    same(
        "IdentifierSchemeName",
        format!("{:?}", x.id_scheme),
        format!("{:?}", y.id_scheme),
    );
    same(
        "ERDSProfileSupported",
        format!("{:?}", x.profiles),
        format!("{:?}", y.profiles),
    );
    same(
        "ERDSExpiryDateAndTimeSupport",
        format!("{:?}", x.expiry_support),
        format!("{:?}", y.expiry_support),
    );
    same(
        "ERDSScheduledDeliverySupport",
        format!("{:?}", x.scheduled_delivery_support),
        format!("{:?}", y.scheduled_delivery_support),
    );
    same(
        "AssuranceLevel",
        format!("{:?}", x.assurance_levels),
        format!("{:?}", y.assurance_levels),
    );
    same(
        "ERDSSupportedConsignmentModes",
        format!("{:?}", x.consignment_modes),
        format!("{:?}", y.consignment_modes),
    );
    same(
        "CapabilityBasedSecurity version",
        format!("{:?}", a.security.version),
        format!("{:?}", b.security.version),
    );
    for (what, l, r) in [
        ("ERDSId", &x.id, &y.id),
        ("ERDSDomain", &x.domain, &y.domain),
        ("ERDSGoverningBody", &x.governing_body, &y.governing_body),
    ] {
        if l.is_empty() || r.is_empty() {
            d.push(format!("{what} missing"));
        }
    }
    if a.security.tls_certificate.is_err() || b.security.tls_certificate.is_err() {
        d.push("TLSCertificate missing or unreadable".to_owned());
    }
    d
}

fn tied(
    signer: &Certificate,
    identities: &[Certificate],
    at: OffsetDateTime,
) -> Result<(), String> {
    if identities.is_empty() {
        return Err("the service has no digital identity certificate".to_owned());
    }
    if identities
        .iter()
        .any(|i| i.der() == signer.der() || i.spki_der == signer.spki_der)
    {
        return Ok(());
    }
    let v = x509::verify_chain(signer, &[], identities, at, Usage::Any);
    if v.trusted {
        Ok(())
    } else {
        Err(v
            .reason
            .unwrap_or_else(|| "not the service's identity".to_owned()))
    }
}

/// Judges the CSI document in `bytes` of the service whose digital identity is `identities`,
/// whose MX host is `mx_host` and whose TSP is `tsp_name` (each `None` to skip that check), at
/// `at`. `Err` only when the XML cannot be read at all.
pub fn verify(
    bytes: &[u8],
    identities: &[Certificate],
    mx_host: Option<&str>,
    tsp_name: Option<&str>,
    at: OffsetDateTime,
) -> Result<CsiVerdict, Error> {
    let doc = xml::parse(bytes)?;
    let signed = doc
        .elements_named(Some(xml::DSIG_NAMESPACE), "Signature")
        .next()
        .is_some();
    let (signature, content): (CsiSignature, Option<Vec<u8>>) = if !signed {
        (CsiSignature::Unsigned, Some(bytes.to_vec()))
    } else {
        let opts = VerifyOptions {
            anchors: Vec::new(),
            intermediates: Vec::new(),
            tsa_anchors: Vec::new(),
            at: At::Instant(at),
        };
        let report = xades::verify::verify_document(&doc, &opts)?;
        match (&report.signature.invalid, &report.signature.signer) {
            (Some(why), _) => (CsiSignature::Invalid(why.to_string()), None),
            (None, Some(signer)) => {
                let content = report.signed_content().map(<[u8]>::to_vec);
                match tied(signer, identities, at) {
                    Ok(()) => (
                        CsiSignature::Verified {
                            signer: signer.subject.clone(),
                        },
                        content,
                    ),
                    Err(reason) => (
                        CsiSignature::UnknownSigner {
                            signer: signer.subject.clone(),
                            reason,
                        },
                        content,
                    ),
                }
            }
            (None, None) => (
                CsiSignature::Invalid("no signer certificate".to_owned()),
                None,
            ),
        }
    };
    // A document whose signature does not verify is still read, from its bytes, so the
    // caller can show it; it is not acceptable.
    let source = content.unwrap_or_else(|| bytes.to_vec());
    let (csi, unreadable) = match parse(&source) {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let mut deviations = Vec::new();
    let mut stale = false;
    if let Some(c) = &csi {
        deviations = baseline_deviations(c);
        if let Some(host) = mx_host
            && !c
                .erds
                .domain
                .eq_ignore_ascii_case(host.trim_end_matches('.'))
        {
            deviations.push(format!(
                "ERDSDomain {:?} is not the MX host {host:?} of the supply point (c.3.3.1)",
                c.erds.domain
            ));
        }
        if let Some(name) = tsp_name
            && c.erds.governing_body != name
        {
            deviations.push(format!(
                "ERDSGoverningBody {:?} is not the TSP name {name:?} (c.3.3.2)",
                c.erds.governing_body
            ));
        }
        stale = c.scheme.next_update.is_some_and(|n| n < at);
    }
    Ok(CsiVerdict {
        signature,
        csi,
        unreadable,
        deviations,
        stale,
    })
}
