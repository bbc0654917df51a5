//! The CMS seam: the little of RFC 5652 that time-stamp tokens need, on `cms` types, with
//! `ring` doing the signatures.
//!
//! - [`parse`] reads a token's `SignedData`, keeping the exact bytes that are digested and
//!   signed: the eContent, each certificate, each signer's signed attributes (re-tagged as
//!   the `SET OF` that is signed, RFC 5652 §5.4).
//! - [`assemble`] builds a `ContentInfo(SignedData)` with encapsulated content and one signer.
//!
//! This is deliberately small and local: when the crate's `cms` module offers the same
//! (parse with exact bytes, signer verification, assembly), this file should become a thin
//! adapter over it.

use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use der::asn1::{AnyRef, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, SliceReader, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use super::{Error, HashAlg};

/// A certificate from the token, with its exact bytes.
#[derive(Clone, Debug)]
pub struct CertEntry {
    /// The DER bytes as received.
    pub der: Vec<u8>,
    /// The parsed certificate.
    pub cert: Certificate,
}

/// One signer of the token.
#[derive(Clone, Debug)]
pub struct Signer {
    /// The typed `SignerInfo` (its attribute sets are re-sorted by `der`; never re-encode
    /// them for checking, use `signed_attrs_der`).
    pub info: SignerInfo,
    /// The signed attributes as the `SET OF` (tag 0x31) that the signature covers, built
    /// from the bytes received.
    pub signed_attrs_der: Option<Vec<u8>>,
}

impl Signer {
    /// The values of the signed attribute `oid` (empty when absent).
    pub fn attr_values(&self, oid: ObjectIdentifier) -> Vec<&Any> {
        self.info
            .signed_attrs
            .iter()
            .flat_map(|set| set.iter())
            .filter(|a| a.oid == oid)
            .flat_map(|a| a.values.iter())
            .collect()
    }

    /// How many signed attributes of type `oid` there are.
    pub fn attr_count(&self, oid: ObjectIdentifier) -> usize {
        self.info
            .signed_attrs
            .iter()
            .flat_map(|set| set.iter())
            .filter(|a| a.oid == oid)
            .count()
    }
}

/// A parsed `SignedData` with encapsulated content.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The eContentType.
    pub econtent_type: ObjectIdentifier,
    /// The eContent octets, exactly as received.
    pub econtent: Vec<u8>,
    /// The certificates of the `certificates` field (other certificate formats are skipped).
    pub certificates: Vec<CertEntry>,
    /// The signers.
    pub signers: Vec<Signer>,
}

/// The TLV children of a constructed value.
fn children(value: &[u8]) -> Result<Vec<AnyRef<'_>>, der::Error> {
    let mut reader = SliceReader::new(value)?;
    let mut out = Vec::new();
    while !der::Reader::is_finished(&reader) {
        out.push(AnyRef::decode(&mut reader)?);
    }
    Ok(out)
}

/// Reads a token: `ContentInfo` → `SignedData` with its exact bytes.
pub fn parse(token: &[u8]) -> Result<Parsed, Error> {
    let ci = ContentInfo::from_der(token).map_err(Error::der("ContentInfo"))?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(Error::NotSignedData(ci.content_type));
    }
    let sd_der = ci.content.to_der().map_err(Error::der("SignedData"))?;
    let sd = SignedData::from_der(&sd_der).map_err(Error::der("SignedData"))?;
    let econtent_type = sd.encap_content_info.econtent_type;
    let econtent = match &sd.encap_content_info.econtent {
        Some(any) if any.tag() == Tag::OctetString => any.value().to_vec(),
        Some(any) => {
            return Err(Error::Der {
                what: "eContent",
                source: any.tag().unexpected_error(Some(Tag::OctetString)).into(),
            });
        }
        None => return Err(Error::NoContent),
    };

    // Walk the raw SignedData for the exact bytes of certificates and signed attributes.
    let raw = children(ci.content.value()).map_err(Error::der("SignedData"))?;
    let mut certificates = Vec::new();
    let mut raw_signer_infos = None;
    for child in &raw {
        let tag = child.tag();
        if tag.is_context_specific() && tag.number() == der::TagNumber(0) {
            for c in children(child.value()).map_err(Error::der("certificates"))? {
                if c.tag() != Tag::Sequence {
                    continue; // other certificate formats
                }
                let der = c.to_der().map_err(Error::der("certificate"))?;
                let cert = Certificate::from_der(&der).map_err(Error::der("certificate"))?;
                certificates.push(CertEntry { der, cert });
            }
        }
        if tag == Tag::Set {
            raw_signer_infos = Some(*child);
        }
    }
    let raw_signers = match raw_signer_infos {
        Some(s) => children(s.value()).map_err(Error::der("signerInfos"))?,
        None => Vec::new(),
    };
    let mut signers = Vec::new();
    for rs in raw_signers {
        let der = rs.to_der().map_err(Error::der("SignerInfo"))?;
        let info = SignerInfo::from_der(&der).map_err(Error::der("SignerInfo"))?;
        let mut signed_attrs_der = None;
        for field in children(rs.value()).map_err(Error::der("SignerInfo"))? {
            let t = field.tag();
            if t.is_context_specific() && t.number() == der::TagNumber(0) {
                let set =
                    AnyRef::new(Tag::Set, field.value()).map_err(Error::der("signedAttrs"))?;
                signed_attrs_der = Some(set.to_der().map_err(Error::der("signedAttrs"))?);
            }
        }
        signers.push(Signer {
            info,
            signed_attrs_der,
        });
    }
    Ok(Parsed {
        econtent_type,
        econtent,
        certificates,
        signers,
    })
}

/// Whether `sid` designates `cert`.
pub fn sid_matches(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            isn.issuer == *tbs.issuer() && isn.serial_number == *tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            matches!(
                tbs.get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>(),
                Ok(Some((_, own))) if own == *ski
            )
        }
    }
}

/// An attribute with one value.
pub fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, Error> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(Error::der("Attribute"))?;
    Ok(Attribute { oid, values })
}

/// What [`assemble`] needs about the signer.
pub struct SignerSpec<'a> {
    /// The signer's certificate.
    pub cert: &'a Certificate,
    /// Its DER bytes.
    pub cert_der: &'a [u8],
    /// The digest algorithm (messageDigest and the signature's digest).
    pub digest: HashAlg,
    /// The signature algorithm identifier.
    pub signature_algorithm: AlgorithmIdentifierOwned,
    /// Signs the DER `SET OF` signed attributes.
    pub sign: &'a dyn Fn(&[u8]) -> Result<Vec<u8>, Error>,
}

/// Builds `ContentInfo(SignedData)` encapsulating `econtent` of type `econtent_type`, with
/// contentType and messageDigest plus `extra_attrs` signed, and the signer's certificate
/// when `include_cert`.
pub fn assemble(
    econtent_type: ObjectIdentifier,
    econtent: &[u8],
    extra_attrs: Vec<Attribute>,
    signer: &SignerSpec<'_>,
    include_cert: bool,
) -> Result<Vec<u8>, Error> {
    let mut attrs = SetOfVec::new();
    let ct = Any::encode_from(&econtent_type).map_err(Error::der("contentType"))?;
    attrs
        .insert(attribute(ID_CONTENT_TYPE, ct)?)
        .map_err(Error::der("signedAttrs"))?;
    let md = OctetString::new(crate::crypto::digest(signer.digest, econtent))
        .map_err(Error::der("messageDigest"))?;
    let md = Any::encode_from(&md).map_err(Error::der("messageDigest"))?;
    attrs
        .insert(attribute(ID_MESSAGE_DIGEST, md)?)
        .map_err(Error::der("signedAttrs"))?;
    for a in extra_attrs {
        attrs.insert(a).map_err(Error::der("signedAttrs"))?;
    }
    let tbs = attrs.to_der().map_err(Error::der("signedAttrs"))?;
    let signature = (signer.sign)(&tbs)?;
    let tbs_cert = signer.cert.tbs_certificate();
    let info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs_cert.issuer().clone(),
            serial_number: tbs_cert.serial_number().clone(),
        }),
        digest_alg: super::digest_algorithm_id(signer.digest),
        signed_attrs: Some(attrs),
        signature_algorithm: signer.signature_algorithm.clone(),
        signature: OctetString::new(signature).map_err(Error::der("signature"))?,
        unsigned_attrs: None,
    };
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms
        .insert(super::digest_algorithm_id(signer.digest))
        .map_err(Error::der("digestAlgorithms"))?;
    let certificates = if include_cert {
        let cert = Certificate::from_der(signer.cert_der).map_err(Error::der("certificate"))?;
        Some(
            CertificateSet::try_from(vec![cms::cert::CertificateChoices::Certificate(cert)])
                .map_err(Error::der("certificates"))?,
        )
    } else {
        None
    };
    let octets = OctetString::new(econtent).map_err(Error::der("eContent"))?;
    let sd = SignedData {
        // RFC 5652 §5.1: version 3 when the eContentType is not id-data.
        version: CmsVersion::V3,
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type,
            econtent: Some(Any::encode_from(&octets).map_err(Error::der("eContent"))?),
        },
        certificates,
        crls: None,
        signer_infos: SignerInfos::try_from(vec![info]).map_err(Error::der("signerInfos"))?,
    };
    let content = Any::encode_from(&sd).map_err(Error::der("SignedData"))?;
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content,
    }
    .to_der()
    .map_err(Error::der("ContentInfo"))
}
