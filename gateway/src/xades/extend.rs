//! Augmenting a B-T signature to XAdES-B-LT and B-LTA (EN 319 132-1 §5.5, §6.3), pure: the
//! validation data and the time-stamp tokens are given as values (fetched by the caller, see
//! `ponte evidence extend`).
//!
//! * B-LT: `xades:CertificateValues` (every certificate needed to validate the signature and
//!   its time-stamp, `EncapsulatedX509Certificate`) and `xades:RevocationValues` (CRLs as
//!   `CRLValues/EncapsulatedCRLValue`, OCSP responses as `OCSPValues/EncapsulatedOCSPValue`,
//!   each the DER as received) appended to `UnsignedSignatureProperties`;
//! * B-LTA: a `xadesv141:ArchiveTimeStamp` whose token covers, canonicalized with Exclusive
//!   C14N ([`archive_timestamp_data`], EN 319 132-1 §5.5.2.2): the octets each `ds:Reference`
//!   digests, in order; `ds:SignedInfo`, `ds:SignatureValue`, `ds:KeyInfo`; every unsigned
//!   signature property before the archive time-stamp, in order; every `ds:Object` but the
//!   one holding the qualifying properties. Renewal: before a further archive time-stamp, the
//!   validation data of the previous one goes into a `xadesv141:TimeStampValidationData`.
//!
//! Only unsigned properties change; every signed byte stays as it was, so XML-DSig
//! verifiers (xmlsec1) still verify the signature.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::structure::{C14nAlgorithm, ParsedSignature, element_children};
use super::verify::c14n;
use super::wrapping::{self, Target};
use super::{Error, uri};
use crate::xml::{self, Document, NodeId, NodeSet};

/// The XAdES 1.4.1 namespace (`xadesv141:`): `ArchiveTimeStamp`, `TimeStampValidationData`.
pub const XADES141: &str = "http://uri.etsi.org/01903/v1.4.1#";

/// Validation data to embed: DER certificates, CRLs and OCSP responses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationData {
    /// Certificates (DER).
    pub certificates: Vec<Vec<u8>>,
    /// CRLs (DER).
    pub crls: Vec<Vec<u8>>,
    /// OCSP responses (DER `OCSPResponse`).
    pub ocsps: Vec<Vec<u8>>,
}

impl ValidationData {
    /// Adds a certificate unless it is already there.
    pub fn add_certificate(&mut self, der: &[u8]) {
        if !self.certificates.iter().any(|c| c == der) {
            self.certificates.push(der.to_vec());
        }
    }

    fn values_xml(&self) -> (String, String) {
        let mut certs = String::new();
        for c in &self.certificates {
            certs.push_str(&format!(
                "<xades:EncapsulatedX509Certificate>{}</xades:EncapsulatedX509Certificate>",
                B64.encode(c)
            ));
        }
        let mut rev = String::new();
        if !self.crls.is_empty() {
            rev.push_str("<xades:CRLValues>");
            for c in &self.crls {
                rev.push_str(&format!(
                    "<xades:EncapsulatedCRLValue>{}</xades:EncapsulatedCRLValue>",
                    B64.encode(c)
                ));
            }
            rev.push_str("</xades:CRLValues>");
        }
        if !self.ocsps.is_empty() {
            rev.push_str("<xades:OCSPValues>");
            for o in &self.ocsps {
                rev.push_str(&format!(
                    "<xades:EncapsulatedOCSPValue>{}</xades:EncapsulatedOCSPValue>",
                    B64.encode(o)
                ));
            }
            rev.push_str("</xades:OCSPValues>");
        }
        (certs, rev)
    }
}

/// One archive time-stamp as found: its element, its canonicalization (or the unknown URI),
/// its tokens.
pub type ArchiveTimeStamp = (NodeId, Result<C14nAlgorithm, String>, Vec<Vec<u8>>);

/// What the unsigned properties of a signature hold, for the long-term levels.
#[derive(Clone, Debug, Default)]
pub struct Embedded {
    /// The validation data of `CertificateValues`, `RevocationValues` and every
    /// `TimeStampValidationData`.
    pub data: ValidationData,
    /// Whether `CertificateValues` or `RevocationValues` is present.
    pub has_lt_values: bool,
    /// The archive time-stamps, in order: (element, canonicalization, tokens).
    pub archive_timestamps: Vec<ArchiveTimeStamp>,
}

fn b64_text(doc: &Document, id: NodeId) -> Option<Vec<u8>> {
    let t: String = doc
        .text_content(id)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    B64.decode(t.as_bytes()).ok()
}

fn read_values(doc: &Document, container: NodeId, data: &mut ValidationData) {
    for c in doc.descendants(container) {
        let Some(el) = doc.element(c) else { continue };
        if el.namespace.as_deref() != Some(uri::XADES) {
            continue;
        }
        let target = match el.local {
            "EncapsulatedX509Certificate" => &mut data.certificates,
            "EncapsulatedCRLValue" => &mut data.crls,
            "EncapsulatedOCSPValue" => &mut data.ocsps,
            _ => continue,
        };
        if let Some(v) = b64_text(doc, c)
            && !target.contains(&v)
        {
            target.push(v);
        }
    }
}

/// The `UnsignedSignatureProperties` of the signature, if any.
pub(crate) fn unsigned_signature_properties(doc: &Document, sig: NodeId) -> Option<NodeId> {
    doc.children_named(sig, Some(uri::DSIG), "Object")
        .find_map(|o| doc.first_child_named(o, Some(uri::XADES), "QualifyingProperties"))
        .and_then(|qp| doc.first_child_named(qp, Some(uri::XADES), "UnsignedProperties"))
        .and_then(|up| doc.first_child_named(up, Some(uri::XADES), "UnsignedSignatureProperties"))
}

/// Reads the long-term properties of the signature `sig`.
pub fn embedded(doc: &Document, sig: NodeId) -> Embedded {
    let mut out = Embedded::default();
    let Some(usp) = unsigned_signature_properties(doc, sig) else {
        return out;
    };
    for p in doc.child_elements(usp) {
        let Some(el) = doc.element(p) else { continue };
        match (el.namespace.as_deref(), el.local) {
            (Some(uri::XADES), "CertificateValues" | "RevocationValues") => {
                out.has_lt_values = true;
                read_values(doc, p, &mut out.data);
            }
            (Some(XADES141), "TimeStampValidationData") => read_values(doc, p, &mut out.data),
            (Some(XADES141), "ArchiveTimeStamp") => {
                let mut alg = Ok(C14nAlgorithm::INCLUSIVE_10);
                let mut tokens = Vec::new();
                for c in doc.child_elements(p) {
                    if doc
                        .element(c)
                        .is_some_and(|e| e.is(Some(uri::DSIG), "CanonicalizationMethod"))
                    {
                        let a = doc.attribute(c, None, "Algorithm").unwrap_or_default();
                        alg = C14nAlgorithm::from_uri(a).ok_or_else(|| a.to_owned());
                    } else if doc
                        .element(c)
                        .is_some_and(|e| e.is(Some(uri::XADES), "EncapsulatedTimeStamp"))
                        && let Some(t) = b64_text(doc, c)
                    {
                        tokens.push(t);
                    }
                }
                out.archive_timestamps.push((p, alg, tokens));
            }
            _ => {}
        }
    }
    out
}

/// The octets an archive time-stamp at position `before` (or a new one, appended, when `None`)
/// covers (EN 319 132-1 §5.5.2.2), canonicalized with `alg`.
pub(crate) fn archive_input(
    doc: &Document,
    sig: &ParsedSignature,
    before: Option<NodeId>,
    alg: C14nAlgorithm,
) -> Result<Vec<u8>, Error> {
    let plans =
        wrapping::plan_references(doc, sig).map_err(|i| Error::NotAugmentable(i.to_string()))?;
    let mut ordered = [&plans.document, &plans.signed_properties];
    ordered.sort_by_key(|p| p.index);
    let mut out = Vec::new();
    // 1. The referenced data, as each reference digests it.
    for plan in ordered {
        let set = match plan.target {
            Target::Document => NodeSet::whole_document().subtract(sig.node),
            Target::SignedProperties(sp) => NodeSet::subtree(sp),
        };
        let a = C14nAlgorithm {
            with_comments: false,
            ..plan.c14n
        };
        out.extend(c14n(doc, &set, a, &plan.prefixes)?);
    }
    // 2. SignedInfo, SignatureValue, KeyInfo.
    out.extend(c14n(doc, &NodeSet::subtree(sig.signed_info), alg, &[])?);
    out.extend(c14n(
        doc,
        &NodeSet::subtree(sig.signature_value_node),
        alg,
        &[],
    )?);
    if let Some(ki) = doc.first_child_named(sig.node, Some(uri::DSIG), "KeyInfo") {
        out.extend(c14n(doc, &NodeSet::subtree(ki), alg, &[])?);
    }
    // 3. The unsigned signature properties before the archive time-stamp.
    if let Some(usp) = unsigned_signature_properties(doc, sig.node) {
        for p in element_children(doc, usp).map_err(|i| Error::NotAugmentable(i.to_string()))? {
            if Some(p) == before {
                break;
            }
            out.extend(c14n(doc, &NodeSet::subtree(p), alg, &[])?);
        }
    }
    // 4. The other ds:Objects.
    for &o in &sig.objects {
        let holds_qp = doc
            .first_child_named(o, Some(uri::XADES), "QualifyingProperties")
            .is_some();
        if !holds_qp {
            out.extend(c14n(doc, &NodeSet::subtree(o), alg, &[])?);
        }
    }
    Ok(out)
}

fn single_signature(doc: &Document) -> Result<NodeId, Error> {
    let sigs: Vec<NodeId> = doc.elements_named(Some(uri::DSIG), "Signature").collect();
    match sigs.as_slice() {
        [] => Err(Error::NotSigned),
        [one] => Ok(*one),
        more => Err(Error::NotAugmentable(format!(
            "{} ds:Signature elements",
            more.len()
        ))),
    }
}

fn parsed(doc: &Document) -> Result<ParsedSignature, Error> {
    let sig = single_signature(doc)?;
    super::structure::parse_signature(doc, sig).map_err(|i| Error::NotAugmentable(i.to_string()))
}

/// Inserts `insert` just before the end tag of the signature's `UnsignedSignatureProperties`.
fn append_unsigned(signed: &[u8], insert: &str) -> Result<Vec<u8>, Error> {
    let doc = xml::parse(signed)?;
    let sig = single_signature(&doc)?;
    let usp = unsigned_signature_properties(&doc, sig).ok_or_else(|| {
        Error::NotAugmentable("no UnsignedSignatureProperties: make it B-T first".into())
    })?;
    let el = doc
        .element(usp)
        .ok_or_else(|| Error::NotAugmentable("UnsignedSignatureProperties".into()))?;
    let span = signed
        .get(el.span.clone())
        .ok_or_else(|| Error::NotAugmentable("span".into()))?;
    if span.ends_with(b"/>") {
        return Err(Error::NotAugmentable(
            "UnsignedSignatureProperties is an empty-element tag".into(),
        ));
    }
    let rel = span
        .windows(2)
        .rposition(|w| w == b"</")
        .ok_or_else(|| Error::NotAugmentable("no end tag".into()))?;
    let at = el.span.start + rel;
    let mut out = Vec::with_capacity(signed.len() + insert.len());
    out.extend_from_slice(signed.get(..at).unwrap_or_default());
    out.extend_from_slice(insert.as_bytes());
    out.extend_from_slice(signed.get(at..).unwrap_or_default());
    Ok(out)
}

/// Adds `CertificateValues` and `RevocationValues` (B-LT). Refused when the signature has no
/// `SignatureTimeStamp` (B-LT builds on B-T) or already has these values.
pub fn augment_b_lt(signed: &[u8], data: &ValidationData) -> Result<Vec<u8>, Error> {
    let doc = xml::parse(signed)?;
    let sig = parsed(&doc)?;
    let has_ts = sig
        .qualifying
        .as_ref()
        .is_some_and(|q| !q.timestamps.is_empty());
    if !has_ts {
        return Err(Error::NotAugmentable(
            "no SignatureTimeStamp: B-LT builds on B-T".into(),
        ));
    }
    if embedded(&doc, sig.node).has_lt_values {
        return Err(Error::NotAugmentable(
            "already B-LT (CertificateValues present)".into(),
        ));
    }
    let (certs, rev) = data.values_xml();
    let insert = format!(
        concat!(
            r#"<xades:CertificateValues xmlns:xades="{x}">{c}</xades:CertificateValues>"#,
            r#"<xades:RevocationValues xmlns:xades="{x}">{r}</xades:RevocationValues>"#
        ),
        x = uri::XADES,
        c = certs,
        r = rev
    );
    append_unsigned(signed, &insert)
}

/// Adds a `xadesv141:TimeStampValidationData` (the validation data of an archive time-stamp,
/// before a further one is added).
pub fn add_timestamp_validation_data(
    signed: &[u8],
    data: &ValidationData,
) -> Result<Vec<u8>, Error> {
    let (certs, rev) = data.values_xml();
    let mut inner = String::new();
    if !certs.is_empty() {
        inner.push_str(&format!(
            "<xades:CertificateValues>{certs}</xades:CertificateValues>"
        ));
    }
    if !rev.is_empty() {
        inner.push_str(&format!(
            "<xades:RevocationValues>{rev}</xades:RevocationValues>"
        ));
    }
    append_unsigned(
        signed,
        &format!(
            r#"<xadesv141:TimeStampValidationData xmlns:xadesv141="{}" xmlns:xades="{}">{inner}</xadesv141:TimeStampValidationData>"#,
            XADES141,
            uri::XADES
        ),
    )
}

/// The octets a new archive time-stamp over `signed` must cover (hash them into the request).
/// Refused when the signature is not B-LT yet.
pub fn archive_timestamp_data(signed: &[u8]) -> Result<Vec<u8>, Error> {
    let doc = xml::parse(signed)?;
    let sig = parsed(&doc)?;
    if !embedded(&doc, sig.node).has_lt_values {
        return Err(Error::NotAugmentable(
            "not B-LT: add the validation data first".into(),
        ));
    }
    archive_input(&doc, &sig, None, C14nAlgorithm::EXCLUSIVE)
}

/// Adds `token` (an RFC 3161 token over [`archive_timestamp_data`]) as a
/// `xadesv141:ArchiveTimeStamp` (B-LTA).
pub fn augment_b_lta(signed: &[u8], token: &[u8]) -> Result<Vec<u8>, Error> {
    let mut id = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
        .map_err(|_| Error::Random)?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    append_unsigned(
        signed,
        &format!(
            concat!(
                r#"<xadesv141:ArchiveTimeStamp xmlns:xadesv141="{x141}" Id="ponte-ats-{id}">"#,
                r#"<ds:CanonicalizationMethod xmlns:ds="{ds}" Algorithm="{exc}"/>"#,
                r#"<xades:EncapsulatedTimeStamp xmlns:xades="{x}">{tok}</xades:EncapsulatedTimeStamp></xadesv141:ArchiveTimeStamp>"#
            ),
            x141 = XADES141,
            id = id,
            ds = uri::DSIG,
            exc = uri::EXC_C14N,
            x = uri::XADES,
            tok = B64.encode(token)
        ),
    )
}
