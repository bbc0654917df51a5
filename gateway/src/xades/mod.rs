//! XAdES baseline signatures (ETSI EN 319 132-1) on ERDS evidence (EN 319 522-3 §5.2.2.28):
//! enveloped, Exclusive C14N, SHA-256 references, RSA-SHA256 or ECDSA-P256-SHA256, level B-B
//! and its augmentation to B-T with a `SignatureTimeStamp`.
//!
//! Split by verb:
//! * [`structure`] reads a `ds:Signature` (and its XAdES qualifying properties) out of a
//!   parsed document into typed values, refusing every shape outside the evidence profile;
//! * [`wrapping`] holds the checks that make signature-wrapping attacks fail: one signature,
//!   last child of the root, unique `Id`s, references resolved only to the document or to
//!   this signature's `SignedProperties`, transforms only from an allowlist;
//! * [`sign`] produces B-B signatures and augments them to B-T (the time-stamp token itself
//!   comes from [`crate::tsp`], obtained by the caller);
//! * [`mod@verify`] checks everything and returns verdicts as values ([`verify::Report`]).
//!
//! The chapter `manual::xades` explains what is signed, how wrapping is resisted and what
//! B-B and B-T mean here.

pub mod extend;
pub mod longterm;
pub mod sign;
pub mod structure;
pub mod verify;
pub mod wrapping;

mod der;

pub use sign::{SignOptions, Signer, augment_b_t, sign_b_b, timestamp_data};
pub use structure::{C14nAlgorithm, DigestMethod, SignatureMethod, Transform};
pub use verify::{
    At, Invalid, Level, Report, SignatureVerdict, TimestampVerdict, VerifyOptions, verify,
};

/// Namespace and algorithm identifiers used by the evidence signature profile.
pub mod uri {
    /// XML-DSig namespace (`ds:`).
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    /// XAdES 1.3.2 namespace (`xades:`), the one EN 319 132-1 and the kits use.
    pub const XADES: &str = "http://uri.etsi.org/01903/v1.3.2#";
    /// XML-DSig XPath Filter 2.0 namespace and transform identifier.
    pub const XPATH_FILTER2: &str = "http://www.w3.org/2002/06/xmldsig-filter2";
    /// The enveloped-signature transform.
    pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    /// Exclusive C14N 1.0 without comments (also the namespace of `InclusiveNamespaces`).
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    /// Exclusive C14N 1.0 with comments.
    pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
    /// Inclusive C14N 1.0 without comments.
    pub const C14N_10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
    /// Inclusive C14N 1.0 with comments.
    pub const C14N_10_WITH_COMMENTS: &str =
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
    /// Inclusive C14N 1.1 without comments.
    pub const C14N_11: &str = "http://www.w3.org/2006/12/xml-c14n11";
    /// Inclusive C14N 1.1 with comments.
    pub const C14N_11_WITH_COMMENTS: &str = "http://www.w3.org/2006/12/xml-c14n11#WithComments";
    /// SHA-1 digest (accepted for certificate digests of others only).
    pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
    /// SHA-256 digest.
    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    /// SHA-384 digest.
    pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
    /// SHA-512 digest.
    pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
    /// RSA PKCS#1 v1.5 with SHA-256.
    pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    /// RSA PKCS#1 v1.5 with SHA-384.
    pub const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
    /// RSA PKCS#1 v1.5 with SHA-512.
    pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
    /// ECDSA with SHA-256 (signature value `r || s`).
    pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    /// ECDSA with SHA-384 (signature value `r || s`).
    pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
    /// `Type` of the reference to `xades:SignedProperties`.
    pub const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";
    /// The only XPath Filter 2.0 expression accepted (with `ds` bound to [`DSIG`]).
    pub const SUBTRACT_SIGNATURES_XPATH: &str = "/descendant::ds:Signature";
}

/// Errors of this module: the input could not be read or signed at all. A signature that does
/// not verify is not an error but a verdict ([`verify::Report`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The XML could not be read (malformed, DOCTYPE, limits).
    #[error("XML refused: {0}")]
    Xml(#[from] crate::xml::Error),
    /// The document to sign already carries a `ds:Signature`.
    #[error("already signed: it holds a ds:Signature{} at byte {position}", id.as_deref().map(|i| format!(" Id=\"{i}\"")).unwrap_or_default())]
    AlreadySigned {
        /// The existing signature's `Id`, if it has one.
        id: Option<String>,
        /// Byte offset of the existing `ds:Signature` start tag.
        position: usize,
    },
    /// The root element is empty (`<x/>`), so there is nothing to sign into.
    #[error("the root element <{0}> is an empty-element tag: nothing to sign")]
    EmptyRoot(String),
    /// The document holds no `ds:Signature` where one was required (augmenting to B-T).
    #[error("no ds:Signature to augment")]
    NotSigned,
    /// The signature to augment is not a single XAdES signature with `QualifyingProperties`.
    #[error("cannot augment: {0}")]
    NotAugmentable(String),
    /// The signing key is not the private half of the signing certificate's public key.
    #[error("the signing key does not match the certificate {subject}")]
    KeyCertificateMismatch {
        /// The certificate's subject.
        subject: String,
    },
    /// The signing key or a digest failed.
    #[error(transparent)]
    Crypto(#[from] crate::crypto::Error),
    /// A certificate could not be read.
    #[error(transparent)]
    X509(#[from] crate::x509::Error),
    /// The system random generator failed (making `Id`s).
    #[error("the system random generator failed")]
    Random,
    /// The signature time cannot be written as an `xs:dateTime`.
    #[error("signing time not representable: {0}")]
    Time(String),
}

#[cfg(test)]
mod tests;
