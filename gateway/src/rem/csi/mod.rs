//! Capability and Security Information documents (EN 319 532-4 C.2.3.4, schema
//! `CSI19352v117-202201.xsd`): what a REM service supports and the TLS certificate of its
//! SMTP endpoint, published at the `https://` `ServiceSupplyPoint` of its trusted-list entry.
//!
//! [`mod@parse`] reads a `CapabilityAndSecurityInformation` into a [`Csi`]; [`mod@verify`] judges its
//! XAdES signature against the service's digital identity (c.3.1.11, c.3.1.12), reads the
//! document from the signed octets, checks the REM baseline values (Table C.9, C.12) and the
//! consistency with the trusted list (c.3.3.1 `ERDSDomain` = the MX host, c.3.3.2
//! `ERDSGoverningBody` = the TSP name), and compares two documents for equivalence.

pub mod parse;
pub mod verify;

use time::OffsetDateTime;

pub use parse::parse;
pub use verify::{CsiSignature, CsiVerdict, equivalence, verify};

/// The CSI namespace (`tns:` / `si:`).
pub const NS: &str = "http://uri.etsi.org/19532/v1#";
/// The ERDS namespace of `ci:ERDSMetadata`.
pub const NS_ERDS: &str = "http://uri.etsi.org/19522/v1#";
/// The REM baseline profile URI (c.3.3.3).
pub const REM_BASELINE: &str = "http://uri.etsi.org/19532/v1#/REMbaseline";
/// The assurance level the baseline requires (c.3.3.6).
pub const LOA_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
/// The consignment mode the baseline requires (c.3.3.7).
pub const CONSIGNMENT_BASIC: &str = "http://uri.etsi.org/19522/v1#/consignment/basic";

/// Errors of this module: a document that cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The XML could not be read.
    #[error("XML refused: {0}")]
    Xml(#[from] crate::xml::Error),
    /// The root is not `CapabilityAndSecurityInformation` in the CSI namespace.
    #[error("not a CapabilityAndSecurityInformation document: the root element is <{0}>")]
    NotCsi(String),
    /// A required element is missing.
    #[error("{element} missing in {within}")]
    Missing {
        /// The element.
        element: &'static str,
        /// Where.
        within: &'static str,
    },
    /// A value of the wrong type.
    #[error("{element} {value:?} is not {expected}")]
    Value {
        /// The element.
        element: &'static str,
        /// The value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The signature could not be checked at all.
    #[error("signature: {0}")]
    Xades(#[from] crate::xades::Error),
}

/// `SchemeData`.
#[derive(Clone, Debug)]
pub struct SchemeData {
    /// `CSIVersionIdentifier`.
    pub version_identifier: String,
    /// `CSISequenceNumber`.
    pub sequence: u64,
    /// `CSISchemeOperatorName` (English when present): the REMID authority.
    pub operator: String,
    /// `CSIPointerToTL`.
    pub pointer_to_tl: String,
    /// `CSIIssueDateTime`.
    pub issued: OffsetDateTime,
    /// `CSINextUpdate`.
    pub next_update: Option<OffsetDateTime>,
    /// `CSIDistributionPoints`.
    pub distribution_points: Vec<String>,
    /// `CSIPointersToOtherMetadata`: the superseded documents.
    pub history: Vec<String>,
}

/// `ci:ERDSMetadata` (EN 319 522-3 A.1): the capabilities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErdsMetadata {
    /// Its `version` attribute.
    pub version: Option<String>,
    /// `ERDSId`.
    pub id: String,
    /// `ERDSId/@IdentifierSchemeName`.
    pub id_scheme: Option<String>,
    /// `ERDSDomain`: the MX host of the SMTP endpoint.
    pub domain: String,
    /// `ERDSGoverningBody`: the TSP name.
    pub governing_body: String,
    /// `ERDSProfileSupported` values.
    pub profiles: Vec<String>,
    /// `ERDSExpiryDateAndTimeSupport`.
    pub expiry_support: Option<bool>,
    /// `ERDSScheduledDeliverySupport`.
    pub scheduled_delivery_support: Option<bool>,
    /// `ERDSAssuranceLevelsSupported/AssuranceLevel` values.
    pub assurance_levels: Vec<String>,
    /// `ERDSSupportedConsignmentModes` values.
    pub consignment_modes: Vec<String>,
}

/// `si:CapabilityBasedSecurity`.
#[derive(Clone, Debug)]
pub struct Security {
    /// Its `version` attribute.
    pub version: Option<String>,
    /// `TLSCertificate`, decoded; the certificate, or why it does not read.
    pub tls_certificate: Result<crate::x509::Certificate, String>,
}

/// A capability and security information document.
#[derive(Clone, Debug)]
pub struct Csi {
    /// The root's `version` (`EN319532v1`).
    pub version: String,
    /// The root's `Id`.
    pub id: Option<String>,
    /// `SchemeData`.
    pub scheme: SchemeData,
    /// `CapabilityMetadata/ERDSMetadata`.
    pub erds: ErdsMetadata,
    /// `SecurityMetadata/CapabilityBasedSecurity`.
    pub security: Security,
}
