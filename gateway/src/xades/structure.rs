//! Reading a `ds:Signature` and its XAdES qualifying properties out of a parsed document into
//! typed values.
//!
//! Algorithm identifiers are open enums: an unknown URI is carried (`Other`) so that the verdict
//! can name it; the allowlist is applied by [`super::wrapping`] and [`mod@super::verify`]. Shapes
//! outside XML-DSig / XAdES (misplaced elements, text where none belongs, comments or markup
//! inside base64 values, whitespace inside a `DigestValue`) are refused here with an
//! [`Invalid`] reason.

use base64::Engine;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::uri;
use super::verify::Invalid;
use crate::crypto::{DigestAlgorithm, SignatureAlgorithm};
use crate::xml::{Document, MethodKind, Node, NodeId};

/// A canonicalization algorithm (as `CanonicalizationMethod` or as a transform).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct C14nAlgorithm {
    /// Exclusive 1.0, inclusive 1.0 or inclusive 1.1.
    pub kind: MethodKind,
    /// The `#WithComments` variant.
    pub with_comments: bool,
}

impl C14nAlgorithm {
    /// Exclusive C14N 1.0 without comments, the profile's algorithm.
    pub const EXCLUSIVE: C14nAlgorithm = C14nAlgorithm {
        kind: MethodKind::Exclusive10,
        with_comments: false,
    };
    /// Inclusive C14N 1.0 without comments, XML-DSig's default for node-set to octets.
    pub const INCLUSIVE_10: C14nAlgorithm = C14nAlgorithm {
        kind: MethodKind::Inclusive10,
        with_comments: false,
    };

    /// The algorithm named by `uri`, if it is one of the six C14N identifiers.
    pub fn from_uri(uri: &str) -> Option<Self> {
        let (kind, with_comments) = match uri {
            uri::EXC_C14N => (MethodKind::Exclusive10, false),
            uri::EXC_C14N_WITH_COMMENTS => (MethodKind::Exclusive10, true),
            uri::C14N_10 => (MethodKind::Inclusive10, false),
            uri::C14N_10_WITH_COMMENTS => (MethodKind::Inclusive10, true),
            uri::C14N_11 => (MethodKind::Inclusive11, false),
            uri::C14N_11_WITH_COMMENTS => (MethodKind::Inclusive11, true),
            _ => return None,
        };
        Some(Self {
            kind,
            with_comments,
        })
    }

    /// The algorithm's URI.
    pub fn uri(self) -> &'static str {
        match (self.kind, self.with_comments) {
            (MethodKind::Exclusive10, false) => uri::EXC_C14N,
            (MethodKind::Exclusive10, true) => uri::EXC_C14N_WITH_COMMENTS,
            (MethodKind::Inclusive10, false) => uri::C14N_10,
            (MethodKind::Inclusive10, true) => uri::C14N_10_WITH_COMMENTS,
            (MethodKind::Inclusive11, false) => uri::C14N_11,
            (MethodKind::Inclusive11, true) => uri::C14N_11_WITH_COMMENTS,
        }
    }
}

/// A `ds:Transform`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transform {
    /// `enveloped-signature`.
    Enveloped,
    /// XPath Filter 2.0 with exactly one `subtract` of `/descendant::ds:Signature`.
    SubtractSignatures,
    /// A canonicalization, with the `InclusiveNamespaces PrefixList` of exclusive C14N
    /// (`#default` stands for the default namespace).
    Canonicalize(C14nAlgorithm, Vec<String>),
    /// Anything else (XSLT, XPath 1.0, another XPath Filter 2.0 expression, base64...):
    /// carried so the verdict can name it, never applied.
    Other {
        /// The `Algorithm` URI.
        algorithm: String,
        /// What made a known algorithm unacceptable, if that is the case.
        detail: Option<String>,
    },
}

/// A `ds:DigestMethod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestMethod {
    /// One of SHA-1, SHA-256, SHA-384, SHA-512.
    Known(DigestAlgorithm),
    /// Another URI, carried.
    Other(String),
}

impl DigestMethod {
    /// The method named by `uri`.
    pub fn from_uri(uri: &str) -> Self {
        match uri {
            uri::SHA1 => Self::Known(DigestAlgorithm::Sha1),
            uri::SHA256 => Self::Known(DigestAlgorithm::Sha256),
            uri::SHA384 => Self::Known(DigestAlgorithm::Sha384),
            uri::SHA512 => Self::Known(DigestAlgorithm::Sha512),
            other => Self::Other(other.to_owned()),
        }
    }

    /// The URI of a known digest algorithm.
    pub fn uri_of(alg: DigestAlgorithm) -> &'static str {
        match alg {
            DigestAlgorithm::Sha1 => uri::SHA1,
            DigestAlgorithm::Sha256 => uri::SHA256,
            DigestAlgorithm::Sha384 => uri::SHA384,
            DigestAlgorithm::Sha512 => uri::SHA512,
        }
    }
}

/// A `ds:SignatureMethod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureMethod {
    /// RSA PKCS#1 v1.5 or ECDSA (value `r || s`) with a SHA-2 digest.
    Known(SignatureAlgorithm),
    /// Another URI (RSA-PSS, SHA-1 based, HMAC...), carried.
    Other(String),
}

impl SignatureMethod {
    /// The method named by `uri`.
    pub fn from_uri(uri: &str) -> Self {
        use DigestAlgorithm::*;
        match uri {
            uri::RSA_SHA256 => Self::Known(SignatureAlgorithm::RsaPkcs1(Sha256)),
            uri::RSA_SHA384 => Self::Known(SignatureAlgorithm::RsaPkcs1(Sha384)),
            uri::RSA_SHA512 => Self::Known(SignatureAlgorithm::RsaPkcs1(Sha512)),
            uri::ECDSA_SHA256 => Self::Known(SignatureAlgorithm::Ecdsa(Sha256)),
            uri::ECDSA_SHA384 => Self::Known(SignatureAlgorithm::Ecdsa(Sha384)),
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A `ds:Reference`.
#[derive(Clone, Debug)]
pub struct Reference {
    /// The element.
    pub node: NodeId,
    /// Its `Id`.
    pub id: Option<String>,
    /// Its `URI` (absent is not the same as empty).
    pub uri: Option<String>,
    /// Its `Type`.
    pub type_uri: Option<String>,
    /// The transforms, in order.
    pub transforms: Vec<Transform>,
    /// The digest method.
    pub digest_method: DigestMethod,
    /// The decoded `DigestValue`.
    pub digest_value: Vec<u8>,
}

/// One `xades:Cert` of `SigningCertificateV2`.
#[derive(Clone, Debug)]
pub struct CertRef {
    /// `CertDigest/DigestMethod`.
    pub digest_method: DigestMethod,
    /// `CertDigest/DigestValue`, decoded.
    pub digest_value: Vec<u8>,
    /// `IssuerSerialV2`, decoded (DER `IssuerSerial`).
    pub issuer_serial: Option<Vec<u8>>,
}

/// One `xades:SignatureTimeStamp`.
#[derive(Clone, Debug)]
pub struct SignatureTimeStamp {
    /// The element.
    pub node: NodeId,
    /// Its `CanonicalizationMethod` (inclusive C14N 1.0 when absent, as XAdES says), or the
    /// unknown URI.
    pub c14n: Result<C14nAlgorithm, String>,
    /// The decoded `EncapsulatedTimeStamp` tokens (DER CMS), in order.
    pub tokens: Vec<Vec<u8>>,
}

/// `xades:QualifyingProperties`.
#[derive(Clone, Debug, Default)]
pub struct Qualifying {
    /// Its `Target`.
    pub target: Option<String>,
    /// The `xades:SignedProperties` element.
    pub signed_properties: Option<NodeId>,
    /// `SigningTime`.
    pub signing_time: Option<OffsetDateTime>,
    /// `SigningCertificateV2/Cert`, in order (empty when absent).
    pub signing_certificates: Vec<CertRef>,
    /// Whether a (v1, SHA-1 era) `SigningCertificate` is present instead.
    pub has_signing_certificate_v1: bool,
    /// `DataObjectFormat` entries: (`ObjectReference`, `MimeType`).
    pub data_object_formats: Vec<(Option<String>, Option<String>)>,
    /// `UnsignedSignatureProperties/SignatureTimeStamp`, in order.
    pub timestamps: Vec<SignatureTimeStamp>,
}

/// A canonicalization with its `InclusiveNamespaces` prefixes, or the unknown URI.
pub type C14nChoice = Result<(C14nAlgorithm, Vec<String>), String>;

/// A `ds:Signature` read into values.
#[derive(Clone, Debug)]
pub struct ParsedSignature {
    /// The `ds:Signature` element.
    pub node: NodeId,
    /// Its `Id`.
    pub id: Option<String>,
    /// `ds:SignedInfo`.
    pub signed_info: NodeId,
    /// `SignedInfo/CanonicalizationMethod` with its `InclusiveNamespaces` prefixes, or the
    /// unknown URI.
    pub c14n: C14nChoice,
    /// `SignedInfo/SignatureMethod`.
    pub signature_method: SignatureMethod,
    /// The references, in order.
    pub references: Vec<Reference>,
    /// `ds:SignatureValue`.
    pub signature_value_node: NodeId,
    /// The decoded signature value.
    pub signature_value: Vec<u8>,
    /// `KeyInfo/X509Data/X509Certificate` DERs, in order (signer first by convention).
    pub certificates: Vec<Vec<u8>>,
    /// The `ds:Object` elements.
    pub objects: Vec<NodeId>,
    /// The XAdES properties, when a `QualifyingProperties` is present.
    pub qualifying: Option<Qualifying>,
}

fn malformed(what: impl Into<String>) -> Invalid {
    Invalid::Malformed(what.into())
}

fn local_name(doc: &Document, id: NodeId) -> String {
    doc.element(id).map(|e| e.qname()).unwrap_or_default()
}

fn is(doc: &Document, id: NodeId, ns: &str, local: &str) -> bool {
    doc.element(id).is_some_and(|e| e.is(Some(ns), local))
}

/// Whether `s` is only XML whitespace.
fn is_xml_space(s: &str) -> bool {
    s.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// The element children of `id`; refuses non-whitespace text between them (comments and
/// processing instructions are tolerated there).
pub(crate) fn element_children(doc: &Document, id: NodeId) -> Result<Vec<NodeId>, Invalid> {
    let mut out = Vec::new();
    for &c in doc.children(id) {
        match doc.node(c) {
            Some(Node::Element(_)) => out.push(c),
            Some(Node::Text(t)) if !is_xml_space(t) => {
                return Err(malformed(format!(
                    "text {:?} inside <{}>",
                    t.chars().take(40).collect::<String>(),
                    local_name(doc, id)
                )));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The text of a leaf element that must contain only character data (no comment, no
/// processing instruction, no element: each is a known way to make two implementations read
/// two different values).
pub(crate) fn plain_text(doc: &Document, id: NodeId, what: &str) -> Result<String, Invalid> {
    let mut text = String::new();
    for &c in doc.children(id) {
        match doc.node(c) {
            Some(Node::Text(t)) => text.push_str(t),
            Some(Node::Comment(_)) => {
                return Err(Invalid::MarkupInValue {
                    what: what.to_owned(),
                    found: "a comment",
                });
            }
            Some(Node::ProcessingInstruction { .. }) => {
                return Err(Invalid::MarkupInValue {
                    what: what.to_owned(),
                    found: "a processing instruction",
                });
            }
            Some(Node::Element(_)) => {
                return Err(Invalid::MarkupInValue {
                    what: what.to_owned(),
                    found: "an element",
                });
            }
            _ => {}
        }
    }
    Ok(text)
}

/// Decodes the base64 content of a leaf element. With `compact`, whitespace is allowed only
/// around the value (a `DigestValue`); otherwise line breaks anywhere are tolerated (the
/// usual wrapping of signature values and certificates).
pub(crate) fn base64_value(
    doc: &Document,
    id: NodeId,
    what: &str,
    compact: bool,
) -> Result<Vec<u8>, Invalid> {
    let text = plain_text(doc, id, what)?;
    let trimmed = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let cleaned: std::borrow::Cow<'_, [u8]> = if !trimmed.bytes().any(ws) {
        std::borrow::Cow::Borrowed(trimmed.as_bytes())
    } else if compact {
        return Err(Invalid::WhitespaceInDigest {
            what: what.to_owned(),
        });
    } else {
        let mut v = Vec::with_capacity(trimmed.len());
        v.extend(trimmed.bytes().filter(|c| !ws(*c)));
        std::borrow::Cow::Owned(v)
    };
    if cleaned.is_empty() {
        return Err(Invalid::BadBase64 {
            what: what.to_owned(),
            reason: "empty".into(),
        });
    }
    base64::engine::general_purpose::STANDARD
        .decode(&cleaned)
        .map_err(|e| Invalid::BadBase64 {
            what: what.to_owned(),
            reason: e.to_string(),
        })
}

fn algorithm(doc: &Document, id: NodeId) -> Result<String, Invalid> {
    doc.attribute(id, None, "Algorithm")
        .map(str::to_owned)
        .ok_or_else(|| malformed(format!("<{}> without Algorithm", local_name(doc, id))))
}

/// The `PrefixList` of an `ec:InclusiveNamespaces` child, if any.
fn inclusive_prefixes(doc: &Document, id: NodeId) -> Result<Vec<String>, Invalid> {
    let mut prefixes = Vec::new();
    for c in element_children(doc, id)? {
        if is(doc, c, uri::EXC_C14N, "InclusiveNamespaces") {
            if let Some(list) = doc.attribute(c, None, "PrefixList") {
                prefixes.extend(list.split_ascii_whitespace().map(str::to_owned));
            }
        } else {
            return Err(malformed(format!(
                "unexpected <{}> inside a canonicalization method",
                local_name(doc, c)
            )));
        }
    }
    Ok(prefixes)
}

fn parse_transform(doc: &Document, id: NodeId) -> Result<Transform, Invalid> {
    let alg = algorithm(doc, id)?;
    if alg == uri::ENVELOPED {
        if !element_children(doc, id)?.is_empty() {
            return Ok(Transform::Other {
                algorithm: alg,
                detail: Some("enveloped-signature with content".into()),
            });
        }
        return Ok(Transform::Enveloped);
    }
    if let Some(c14n) = C14nAlgorithm::from_uri(&alg) {
        let prefixes = if c14n.kind == MethodKind::Exclusive10 {
            inclusive_prefixes(doc, id)?
        } else {
            if !element_children(doc, id)?.is_empty() {
                return Err(malformed(
                    "inclusive canonicalization transform with content",
                ));
            }
            Vec::new()
        };
        return Ok(Transform::Canonicalize(c14n, prefixes));
    }
    if alg == uri::XPATH_FILTER2 {
        let kids = element_children(doc, id)?;
        let detail = match kids.as_slice() {
            [x] if is(doc, *x, uri::XPATH_FILTER2, "XPath") => {
                let filter = doc.attribute(*x, None, "Filter").unwrap_or_default();
                let expr = plain_text(doc, *x, "XPath")?;
                let expr = expr.trim();
                let ds_bound = doc.lookup_namespace(*x, Some("ds")) == Some(uri::DSIG);
                if filter == "subtract" && expr == uri::SUBTRACT_SIGNATURES_XPATH && ds_bound {
                    return Ok(Transform::SubtractSignatures);
                }
                if !ds_bound {
                    format!("Filter={filter:?} {expr:?} with prefix ds not bound to XML-DSig")
                } else {
                    format!("Filter={filter:?} {expr:?}")
                }
            }
            _ => format!("{} XPath elements", kids.len()),
        };
        return Ok(Transform::Other {
            algorithm: alg,
            detail: Some(detail),
        });
    }
    Ok(Transform::Other {
        algorithm: alg,
        detail: None,
    })
}

fn parse_reference(doc: &Document, id: NodeId) -> Result<Reference, Invalid> {
    let kids = element_children(doc, id)?;
    let mut it = kids.into_iter().peekable();
    let mut transforms = Vec::new();
    if let Some(&t) = it.peek()
        && is(doc, t, uri::DSIG, "Transforms")
    {
        {
            it.next();
            for tr in element_children(doc, t)? {
                if !is(doc, tr, uri::DSIG, "Transform") {
                    return Err(malformed(format!(
                        "unexpected <{}> inside Transforms",
                        local_name(doc, tr)
                    )));
                }
                transforms.push(parse_transform(doc, tr)?);
            }
            if transforms.is_empty() {
                return Err(malformed("empty Transforms"));
            }
        }
    }
    let dm = it
        .next()
        .filter(|&n| is(doc, n, uri::DSIG, "DigestMethod"))
        .ok_or_else(|| malformed("Reference without DigestMethod"))?;
    let dv = it
        .next()
        .filter(|&n| is(doc, n, uri::DSIG, "DigestValue"))
        .ok_or_else(|| malformed("Reference without DigestValue"))?;
    if let Some(extra) = it.next() {
        return Err(malformed(format!(
            "unexpected <{}> inside Reference",
            local_name(doc, extra)
        )));
    }
    Ok(Reference {
        node: id,
        id: doc.attribute(id, None, "Id").map(str::to_owned),
        uri: doc.attribute(id, None, "URI").map(str::to_owned),
        type_uri: doc.attribute(id, None, "Type").map(str::to_owned),
        transforms,
        digest_method: DigestMethod::from_uri(&algorithm(doc, dm)?),
        digest_value: base64_value(doc, dv, "Reference DigestValue", true)?,
    })
}

/// What `SignedInfo` says: its canonicalization (or the unknown URI), signature method and
/// references.
type SignedInfoParts = (C14nChoice, SignatureMethod, Vec<Reference>);

fn parse_signed_info(doc: &Document, id: NodeId) -> Result<SignedInfoParts, Invalid> {
    let kids = element_children(doc, id)?;
    let (cm, sm, refs) = match kids.as_slice() {
        [cm, sm, refs @ ..] => (*cm, *sm, refs),
        _ => {
            return Err(malformed(
                "SignedInfo needs CanonicalizationMethod and SignatureMethod",
            ));
        }
    };
    if !is(doc, cm, uri::DSIG, "CanonicalizationMethod") {
        return Err(malformed(
            "SignedInfo does not start with CanonicalizationMethod",
        ));
    }
    if !is(doc, sm, uri::DSIG, "SignatureMethod") {
        return Err(malformed("SignatureMethod is not second in SignedInfo"));
    }
    let cm_uri = algorithm(doc, cm)?;
    let c14n = match C14nAlgorithm::from_uri(&cm_uri) {
        Some(a) if a.kind == MethodKind::Exclusive10 => Ok((a, inclusive_prefixes(doc, cm)?)),
        Some(a) => {
            if !element_children(doc, cm)?.is_empty() {
                return Err(malformed("inclusive CanonicalizationMethod with content"));
            }
            Ok((a, Vec::new()))
        }
        None => Err(cm_uri),
    };
    if !element_children(doc, sm)?.is_empty() {
        return Err(malformed(
            "SignatureMethod with content (HMAC output length?)",
        ));
    }
    let method = SignatureMethod::from_uri(&algorithm(doc, sm)?);
    if refs.is_empty() {
        return Err(malformed("SignedInfo without Reference"));
    }
    let mut references = Vec::with_capacity(refs.len());
    for &r in refs {
        if !is(doc, r, uri::DSIG, "Reference") {
            return Err(malformed(format!(
                "unexpected <{}> inside SignedInfo",
                local_name(doc, r)
            )));
        }
        references.push(parse_reference(doc, r)?);
    }
    Ok((c14n, method, references))
}

fn parse_key_info(doc: &Document, id: NodeId) -> Result<Vec<Vec<u8>>, Invalid> {
    let mut certs = Vec::new();
    for c in element_children(doc, id)? {
        if !is(doc, c, uri::DSIG, "X509Data") {
            // KeyName, KeyValue...: not used to pick the key; the certificate is.
            continue;
        }
        for x in element_children(doc, c)? {
            if is(doc, x, uri::DSIG, "X509Certificate") {
                certs.push(base64_value(doc, x, "X509Certificate", false)?);
            }
        }
    }
    Ok(certs)
}

fn parse_time(doc: &Document, id: NodeId) -> Result<OffsetDateTime, Invalid> {
    let text = plain_text(doc, id, "SigningTime")?;
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map_err(|e| malformed(format!("SigningTime {:?}: {e}", text.trim())))
}

fn parse_cert_ref(doc: &Document, cert: NodeId) -> Result<CertRef, Invalid> {
    let mut digest = None;
    let mut issuer_serial = None;
    for c in element_children(doc, cert)? {
        if is(doc, c, uri::XADES, "CertDigest") {
            let kids = element_children(doc, c)?;
            let (dm, dv) = match kids.as_slice() {
                [dm, dv]
                    if is(doc, *dm, uri::DSIG, "DigestMethod")
                        && is(doc, *dv, uri::DSIG, "DigestValue") =>
                {
                    (*dm, *dv)
                }
                _ => return Err(malformed("CertDigest is not DigestMethod, DigestValue")),
            };
            digest = Some((
                DigestMethod::from_uri(&algorithm(doc, dm)?),
                base64_value(doc, dv, "CertDigest DigestValue", true)?,
            ));
        } else if is(doc, c, uri::XADES, "IssuerSerialV2") {
            issuer_serial = Some(base64_value(doc, c, "IssuerSerialV2", false)?);
        } else {
            return Err(malformed(format!(
                "unexpected <{}> inside SigningCertificateV2/Cert",
                local_name(doc, c)
            )));
        }
    }
    let (digest_method, digest_value) =
        digest.ok_or_else(|| malformed("SigningCertificateV2/Cert without CertDigest"))?;
    Ok(CertRef {
        digest_method,
        digest_value,
        issuer_serial,
    })
}

fn parse_signed_properties(doc: &Document, sp: NodeId, q: &mut Qualifying) -> Result<(), Invalid> {
    for part in element_children(doc, sp)? {
        if is(doc, part, uri::XADES, "SignedSignatureProperties") {
            for p in element_children(doc, part)? {
                if is(doc, p, uri::XADES, "SigningTime") {
                    if q.signing_time.is_some() {
                        return Err(malformed("two SigningTime"));
                    }
                    q.signing_time = Some(parse_time(doc, p)?);
                } else if is(doc, p, uri::XADES, "SigningCertificateV2") {
                    if !q.signing_certificates.is_empty() {
                        return Err(malformed("two SigningCertificateV2"));
                    }
                    for cert in element_children(doc, p)? {
                        if !is(doc, cert, uri::XADES, "Cert") {
                            return Err(malformed("SigningCertificateV2 child is not Cert"));
                        }
                        q.signing_certificates.push(parse_cert_ref(doc, cert)?);
                    }
                } else if is(doc, p, uri::XADES, "SigningCertificate") {
                    q.has_signing_certificate_v1 = true;
                }
                // SignaturePolicyIdentifier, SignatureProductionPlaceV2, SignerRoleV2: signed,
                // not interpreted.
            }
        } else if is(doc, part, uri::XADES, "SignedDataObjectProperties") {
            for p in element_children(doc, part)? {
                if is(doc, p, uri::XADES, "DataObjectFormat") {
                    let mime = doc
                        .first_child_named(p, Some(uri::XADES), "MimeType")
                        .map(|m| doc.text_content(m).trim().to_owned());
                    q.data_object_formats.push((
                        doc.attribute(p, None, "ObjectReference").map(str::to_owned),
                        mime,
                    ));
                }
            }
        } else {
            return Err(malformed(format!(
                "unexpected <{}> inside SignedProperties",
                local_name(doc, part)
            )));
        }
    }
    Ok(())
}

fn parse_unsigned_properties(
    doc: &Document,
    up: NodeId,
    q: &mut Qualifying,
) -> Result<(), Invalid> {
    for part in element_children(doc, up)? {
        if !is(doc, part, uri::XADES, "UnsignedSignatureProperties") {
            continue;
        }
        for p in element_children(doc, part)? {
            if !is(doc, p, uri::XADES, "SignatureTimeStamp") {
                continue;
            }
            let mut c14n = Ok(C14nAlgorithm::INCLUSIVE_10);
            let mut tokens = Vec::new();
            for c in element_children(doc, p)? {
                if is(doc, c, uri::DSIG, "CanonicalizationMethod") {
                    let a = algorithm(doc, c)?;
                    c14n = C14nAlgorithm::from_uri(&a).ok_or(a);
                } else if is(doc, c, uri::XADES, "EncapsulatedTimeStamp") {
                    tokens.push(base64_value(doc, c, "EncapsulatedTimeStamp", false)?);
                }
            }
            q.timestamps.push(SignatureTimeStamp {
                node: p,
                c14n,
                tokens,
            });
        }
    }
    Ok(())
}

fn parse_qualifying(doc: &Document, qp: NodeId) -> Result<Qualifying, Invalid> {
    let mut q = Qualifying {
        target: doc.attribute(qp, None, "Target").map(str::to_owned),
        ..Qualifying::default()
    };
    for part in element_children(doc, qp)? {
        if is(doc, part, uri::XADES, "SignedProperties") {
            if q.signed_properties.is_some() {
                return Err(malformed("two SignedProperties"));
            }
            q.signed_properties = Some(part);
            parse_signed_properties(doc, part, &mut q)?;
        } else if is(doc, part, uri::XADES, "UnsignedProperties") {
            parse_unsigned_properties(doc, part, &mut q)?;
        } else {
            return Err(malformed(format!(
                "unexpected <{}> inside QualifyingProperties",
                local_name(doc, part)
            )));
        }
    }
    Ok(q)
}

/// Reads the `ds:Signature` element `sig`: `SignedInfo`, `SignatureValue`, `KeyInfo`?,
/// `Object`* in that order; the XAdES `QualifyingProperties` from the `Object`s.
pub fn parse_signature(doc: &Document, sig: NodeId) -> Result<ParsedSignature, Invalid> {
    let kids = element_children(doc, sig)?;
    let mut it = kids.into_iter().peekable();
    let signed_info = it
        .next()
        .filter(|&n| is(doc, n, uri::DSIG, "SignedInfo"))
        .ok_or_else(|| malformed("Signature does not start with SignedInfo"))?;
    let signature_value_node = it
        .next()
        .filter(|&n| is(doc, n, uri::DSIG, "SignatureValue"))
        .ok_or_else(|| malformed("SignatureValue is not second in Signature"))?;
    let mut certificates = Vec::new();
    if let Some(&k) = it.peek()
        && is(doc, k, uri::DSIG, "KeyInfo")
    {
        it.next();
        certificates = parse_key_info(doc, k)?;
    }
    let mut objects = Vec::new();
    let mut qualifying = None;
    for o in it {
        if !is(doc, o, uri::DSIG, "Object") {
            return Err(malformed(format!(
                "unexpected <{}> inside Signature",
                local_name(doc, o)
            )));
        }
        objects.push(o);
        for q in element_children(doc, o)? {
            if is(doc, q, uri::XADES, "QualifyingProperties") {
                if qualifying.is_some() {
                    return Err(malformed("two QualifyingProperties"));
                }
                qualifying = Some(parse_qualifying(doc, q)?);
            }
        }
    }
    let (c14n, signature_method, references) = parse_signed_info(doc, signed_info)?;
    Ok(ParsedSignature {
        node: sig,
        id: doc.attribute(sig, None, "Id").map(str::to_owned),
        signed_info,
        c14n,
        signature_method,
        references,
        signature_value_node,
        signature_value: base64_value(doc, signature_value_node, "SignatureValue", false)?,
        certificates,
        objects,
        qualifying,
    })
}
