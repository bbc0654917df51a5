//! Producing enveloped XAdES-B-B signatures on evidence, and augmenting them to B-T.
//!
//! The signature is inserted as the last child of the root element, just before its end
//! tag, without touching any other byte of the input (signed bytes are sacred). It has the
//! shape EU DSS gives evidence (EN 319 522-3 §5.2.2.28, REM baseline C.4.3):
//!
//! * `SignedInfo`: Exclusive C14N; RSA-SHA256 or ECDSA-SHA256 (`r || s`);
//! * reference 1, `URI=""`: XPath Filter 2.0 `subtract` of `/descendant::ds:Signature`, then
//!   Exclusive C14N, SHA-256 (xmlsec1 and DSS both verify this form); when the document uses
//!   prefixes inside `xsi:type` values (`elp:LegalNameType`...), they go into the
//!   `InclusiveNamespaces PrefixList` so that their bindings are signed too (plain Exclusive
//!   C14N leaves them out: the kit's DSS signatures do not cover them);
//! * reference 2, `Type=".../01903#SignedProperties"` to `xades:SignedProperties`: Exclusive
//!   C14N, SHA-256;
//! * `KeyInfo/X509Data`: the signer certificate, then the chain;
//! * `SignedProperties`: `SigningTime`, `SigningCertificateV2` (SHA-256 digest of the
//!   certificate and `IssuerSerialV2`), `DataObjectFormat` (`text/xml`) pointing at
//!   reference 1.
//!
//! Digests and the SignedInfo octets are computed by canonicalizing the assembled document
//! exactly as a verifier will, so what is signed is what is checked.
//!
//! B-T: [`timestamp_data`] gives the octets to time-stamp (the canonicalized
//! `ds:SignatureValue`); the caller obtains the token from a TSA ([`crate::tsp`]) and
//! [`augment_b_t`] adds it as `UnsignedSignatureProperties/SignatureTimeStamp`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SecureRandom;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::der;
use super::structure::C14nAlgorithm;
use super::verify::{c14n, signature_value_octets};
use super::{Error, uri};
use crate::crypto::{self, DigestAlgorithm, SigningKey};
use crate::x509::Certificate;
use crate::xml::{self, Document, NodeId, NodeSet};

/// Who signs: the key, its certificate and the chain to put in `KeyInfo`.
#[derive(Debug)]
pub struct Signer {
    key: SigningKey,
    certificate: Certificate,
    chain: Vec<Certificate>,
}

impl Signer {
    /// A signer; refuses a key that is not the private half of `certificate`'s public key.
    pub fn new(
        key: SigningKey,
        certificate: Certificate,
        chain: Vec<Certificate>,
    ) -> Result<Self, Error> {
        if !key.matches_spki(&certificate.spki_der) {
            return Err(Error::KeyCertificateMismatch {
                subject: certificate.subject.clone(),
            });
        }
        Ok(Signer {
            key,
            certificate,
            chain,
        })
    }

    /// The signing certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }
}

/// Per-signature parameters.
#[derive(Clone, Debug)]
pub struct SignOptions {
    /// `xades:SigningTime` (the caller's clock; truncated to whole seconds, written in UTC).
    pub signing_time: OffsetDateTime,
    /// The distinguishing part of the `Id`s (`ponte-sig-<id>`, ...). `None`: 16 random bytes
    /// in hex.
    pub id: Option<String>,
}

/// The ids of one signature.
struct Ids {
    signature: String,
    reference: String,
    signed_properties: String,
    value: String,
}

impl Ids {
    fn new(id: Option<&str>) -> Result<Self, Error> {
        let tag = match id {
            Some(t) => t.to_owned(),
            None => random_hex()?,
        };
        Ok(Ids {
            signature: format!("ponte-sig-{tag}"),
            reference: format!("ponte-ref-{tag}-doc"),
            signed_properties: format!("ponte-xades-{tag}"),
            value: format!("ponte-value-{tag}"),
        })
    }
}

fn random_hex() -> Result<String, Error> {
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::Random)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

struct Parts<'a> {
    ids: &'a Ids,
    /// `InclusiveNamespaces` PrefixList of the document reference's Exclusive C14N ("" for
    /// none).
    prefix_list: &'a str,
    signature_uri: &'static str,
    document_digest: &'a str,
    properties_digest: &'a str,
    signature_value: &'a str,
    signed_properties: &'a str,
    key_info: &'a str,
}

/// `ds:SignedInfo` (its `ds` prefix bound by the enclosing `ds:Signature`).
fn signed_info_xml(p: &Parts<'_>) -> String {
    let exc = uri::EXC_C14N;
    format!(
        concat!(
            r##"<ds:SignedInfo>"##,
            r##"<ds:CanonicalizationMethod Algorithm="{exc}"/><ds:SignatureMethod Algorithm="{sm}"/>"##,
            r##"<ds:Reference Id="{rid}" URI=""><ds:Transforms><ds:Transform Algorithm="{f2}">"##,
            r##"<dsig-filter2:XPath xmlns:dsig-filter2="{f2}" Filter="subtract">{xpath}</dsig-filter2:XPath>"##,
            r##"</ds:Transform><ds:Transform Algorithm="{exc}"{inc}</ds:Transforms>"##,
            r##"<ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue>{dd}</ds:DigestValue></ds:Reference>"##,
            r##"<ds:Reference Type="{spt}" URI="#{spid}"><ds:Transforms><ds:Transform Algorithm="{exc}"/></ds:Transforms>"##,
            r##"<ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue>{pd}</ds:DigestValue></ds:Reference>"##,
            r##"</ds:SignedInfo>"##,
        ),
        exc = exc,
        sm = p.signature_uri,
        rid = crate::xml::escape(&p.ids.reference),
        inc = if p.prefix_list.is_empty() {
            "/>".to_owned()
        } else {
            format!(
                r#"><ec:InclusiveNamespaces xmlns:ec="{exc}" PrefixList="{}"/></ds:Transform>"#,
                crate::xml::escape(p.prefix_list)
            )
        },
        f2 = uri::XPATH_FILTER2,
        xpath = uri::SUBTRACT_SIGNATURES_XPATH,
        sha256 = uri::SHA256,
        dd = p.document_digest,
        spt = uri::SIGNED_PROPERTIES_TYPE,
        spid = crate::xml::escape(&p.ids.signed_properties),
        pd = p.properties_digest,
    )
}

fn signature_xml(p: &Parts<'_>) -> String {
    format!(
        concat!(
            r##"<ds:Signature xmlns:ds="{ds}" Id="{sid}">{si}"##,
            r##"<ds:SignatureValue Id="{vid}">{sv}</ds:SignatureValue>{ki}"##,
            r##"<ds:Object><xades:QualifyingProperties xmlns:xades="{xades}" Target="#{sid}">{sp}"##,
            r#"</xades:QualifyingProperties></ds:Object></ds:Signature>"#
        ),
        ds = uri::DSIG,
        sid = crate::xml::escape(&p.ids.signature),
        si = signed_info_xml(p),
        vid = crate::xml::escape(&p.ids.value),
        sv = p.signature_value,
        ki = p.key_info,
        xades = uri::XADES,
        sp = p.signed_properties,
    )
}

fn key_info(signer: &Signer) -> String {
    let mut s = String::from("<ds:KeyInfo><ds:X509Data>");
    for c in std::iter::once(&signer.certificate).chain(signer.chain.iter()) {
        s.push_str("<ds:X509Certificate>");
        s.push_str(&B64.encode(c.der()));
        s.push_str("</ds:X509Certificate>");
    }
    s.push_str("</ds:X509Data></ds:KeyInfo>");
    s
}

fn signed_properties(signer: &Signer, ids: &Ids, signing_time: &str) -> String {
    let cert = &signer.certificate;
    let cert_digest = B64.encode(crypto::digest(DigestAlgorithm::Sha256, cert.der()));
    let issuer_serial = B64.encode(der::issuer_serial(&cert.issuer_der, &cert.serial));
    format!(
        concat!(
            r##"<xades:SignedProperties Id="{spid}"><xades:SignedSignatureProperties>"##,
            r##"<xades:SigningTime>{st}</xades:SigningTime><xades:SigningCertificateV2><xades:Cert>"##,
            r##"<xades:CertDigest><ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue>{cd}</ds:DigestValue></xades:CertDigest>"##,
            r##"<xades:IssuerSerialV2>{is}</xades:IssuerSerialV2></xades:Cert></xades:SigningCertificateV2>"##,
            r##"</xades:SignedSignatureProperties><xades:SignedDataObjectProperties>"##,
            r##"<xades:DataObjectFormat ObjectReference="#{rid}"><xades:MimeType>text/xml</xades:MimeType>"##,
            r#"</xades:DataObjectFormat></xades:SignedDataObjectProperties></xades:SignedProperties>"#
        ),
        spid = crate::xml::escape(&ids.signed_properties),
        st = signing_time,
        sha256 = uri::SHA256,
        cd = cert_digest,
        is = issuer_serial,
        rid = crate::xml::escape(&ids.reference),
    )
}

/// The XML Schema instance namespace (`xsi:type`).
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The prefixes used inside `xsi:type` values (QNames in content, e.g. `elp:LegalNameType`
/// in the eIDAS attributes of evidence). Exclusive C14N renders a namespace declaration
/// only where an element or attribute *name* uses it, so without these in the
/// `InclusiveNamespaces` PrefixList the binding of such a prefix would not be signed.
fn qname_value_prefixes(doc: &Document) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in doc.descendants(doc.document_node()) {
        let Some(el) = doc.element(id) else { continue };
        for a in &el.attributes {
            if a.namespace.as_deref() == Some(XSI) && a.local == "type" {
                let prefix = match a.value.split_once(':') {
                    Some((p, _)) => p.to_owned(),
                    None => "#default".to_owned(),
                };
                if !out.contains(&prefix) {
                    out.push(prefix);
                }
            }
        }
    }
    out.sort();
    out
}

/// Where the signature goes: the offset of the root element's end tag.
fn insertion_point(input: &[u8], doc: &Document) -> Result<usize, Error> {
    let root = doc.root();
    let el = doc
        .element(root)
        .ok_or_else(|| Error::EmptyRoot(String::new()))?;
    let span = input
        .get(el.span.clone())
        .ok_or_else(|| Error::EmptyRoot(el.qname()))?;
    if span.ends_with(b"/>") {
        return Err(Error::EmptyRoot(el.qname()));
    }
    let rel = span
        .windows(2)
        .rposition(|w| w == b"</")
        .ok_or_else(|| Error::EmptyRoot(el.qname()))?;
    Ok(el.span.start + rel)
}

fn splice(input: &[u8], at: usize, insert: &str) -> Vec<u8> {
    let (head, tail) = input.split_at(at.min(input.len()));
    let mut out = Vec::with_capacity(input.len() + insert.len());
    out.extend_from_slice(head);
    out.extend_from_slice(insert.as_bytes());
    out.extend_from_slice(tail);
    out
}

fn child(doc: &Document, parent: NodeId, ns: &str, local: &str) -> Result<NodeId, Error> {
    doc.first_child_named(parent, Some(ns), local)
        .ok_or_else(|| Error::NotAugmentable(format!("no {local} in the signature")))
}

/// Signs `input`, an unsigned evidence document, with an enveloped XAdES-B-B signature.
/// Refuses a document that already holds a `ds:Signature` anywhere.
pub fn sign_b_b(input: &[u8], signer: &Signer, opts: &SignOptions) -> Result<Vec<u8>, Error> {
    let doc = xml::parse(input)?;
    if let Some(existing) = doc.elements_named(Some(uri::DSIG), "Signature").next() {
        let el = doc.element(existing);
        return Err(Error::AlreadySigned {
            id: doc.attribute(existing, None, "Id").map(str::to_owned),
            position: el.map(|e| e.span.start).unwrap_or_default(),
        });
    }
    let at = insertion_point(input, &doc)?;
    let ids = Ids::new(opts.id.as_deref())?;
    let signing_time = opts
        .signing_time
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|e| Error::Time(e.to_string()))?
        .format(&Rfc3339)
        .map_err(|e| Error::Time(e.to_string()))?;
    let sp = signed_properties(signer, &ids, &signing_time);
    let ki = key_info(signer);
    let signature_uri = signer.key.xmldsig_uri();
    let prefixes = qname_value_prefixes(&doc);
    let prefix_list = prefixes.join(" ");
    let mut parts = Parts {
        ids: &ids,
        prefix_list: &prefix_list,
        signature_uri,
        document_digest: "",
        properties_digest: "",
        signature_value: "",
        signed_properties: &sp,
        key_info: &ki,
    };

    // 1. The digests, over the octets a verifier will canonicalize. The document reference
    // covers the whole document minus every `ds:Signature`: the input itself (the signature
    // goes in as the root's last child, after its text). The signed properties and the
    // signed info are canonicalized on their own, inside a `ds:Signature` that binds the
    // prefixes they use: Exclusive C14N renders only the namespaces an element visibly uses,
    // and every one of these is declared by the signature itself (`ds` on `ds:Signature`,
    // `xades` on `xades:QualifyingProperties`, the transforms' own on their elements), so
    // the octets are those of the signature in place. One parse of the input, two of
    // fragments of a few hundred bytes (`tests` compare with canonicalizing the assembled
    // document).
    let doc_octets = c14n(
        &doc,
        &NodeSet::whole_document(),
        C14nAlgorithm::EXCLUSIVE,
        &prefixes,
    )?;
    let sp_octets = fragment_c14n(
        &format!(
            r#"<ds:Signature xmlns:ds="{}"><ds:Object><xades:QualifyingProperties xmlns:xades="{}">{sp}</xades:QualifyingProperties></ds:Object></ds:Signature>"#,
            uri::DSIG,
            uri::XADES
        ),
        &[
            (uri::DSIG, "Object"),
            (uri::XADES, "QualifyingProperties"),
            (uri::XADES, "SignedProperties"),
        ],
    )?;
    let document_digest = B64.encode(crypto::digest(DigestAlgorithm::Sha256, &doc_octets));
    let properties_digest = B64.encode(crypto::digest(DigestAlgorithm::Sha256, &sp_octets));
    parts.document_digest = &document_digest;
    parts.properties_digest = &properties_digest;

    // 2. SignedInfo, canonicalized in context, signed.
    let si_octets = fragment_c14n(
        &format!(
            r#"<ds:Signature xmlns:ds="{}">{}</ds:Signature>"#,
            uri::DSIG,
            signed_info_xml(&parts)
        ),
        &[(uri::DSIG, "SignedInfo")],
    )?;
    let value = B64.encode(signer.key.sign_xmldsig(&si_octets)?);
    parts.signature_value = &value;
    Ok(splice(input, at, &signature_xml(&parts)))
}

/// Exclusive C14N of the element reached from the root of `xml` (a `ds:Signature`) by the
/// children `path`.
fn fragment_c14n(xml: &str, path: &[(&str, &str)]) -> Result<Vec<u8>, Error> {
    let d = xml::parse(xml.as_bytes())?;
    let mut node = d.root();
    for (ns, local) in path {
        node = child(&d, node, ns, local)?;
    }
    c14n(&d, &NodeSet::subtree(node), C14nAlgorithm::EXCLUSIVE, &[])
}

/// The octets a B-T `SignatureTimeStamp` must cover in `signed`: its `ds:SignatureValue`
/// element, canonicalized with Exclusive C14N. Hash them into the time-stamp request.
pub fn timestamp_data(signed: &[u8]) -> Result<Vec<u8>, Error> {
    let doc = xml::parse(signed)?;
    let sig = single_signature(&doc)?;
    let sv = child(&doc, sig, uri::DSIG, "SignatureValue")?;
    signature_value_octets(&doc, sv, C14nAlgorithm::EXCLUSIVE)
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

/// Adds `token` (a DER RFC 3161 time-stamp token over [`timestamp_data`]) to `signed` as a
/// `SignatureTimeStamp`, making a B-B signature B-T. Only the unsigned properties change;
/// every signed byte stays as it was. The token is not judged here: get it through
/// [`crate::tsp::timestamp`], which checks imprint and nonce, and [`super::verify()`] reports
/// the level it earns.
pub fn augment_b_t(signed: &[u8], token: &[u8]) -> Result<Vec<u8>, Error> {
    let doc = xml::parse(signed)?;
    let sig = single_signature(&doc)?;
    let qp = doc
        .children_named(sig, Some(uri::DSIG), "Object")
        .find_map(|o| doc.first_child_named(o, Some(uri::XADES), "QualifyingProperties"))
        .ok_or_else(|| Error::NotAugmentable("no xades:QualifyingProperties".into()))?;
    let ts = format!(
        concat!(
            r##"<xades:SignatureTimeStamp xmlns:xades="{x}" Id="ponte-ts-{id}">"##,
            r##"<ds:CanonicalizationMethod xmlns:ds="{ds}" Algorithm="{exc}"/>"##,
            r#"<xades:EncapsulatedTimeStamp>{tok}</xades:EncapsulatedTimeStamp></xades:SignatureTimeStamp>"#
        ),
        x = uri::XADES,
        id = random_hex()?,
        ds = uri::DSIG,
        exc = uri::EXC_C14N,
        tok = B64.encode(token),
    );
    let (container, insert) = if let Some(up) =
        doc.first_child_named(qp, Some(uri::XADES), "UnsignedProperties")
    {
        match doc.first_child_named(up, Some(uri::XADES), "UnsignedSignatureProperties") {
            Some(usp) => (usp, ts),
            None => (
                up,
                format!(
                    r##"<xades:UnsignedSignatureProperties xmlns:xades="{}">{ts}</xades:UnsignedSignatureProperties>"##,
                    uri::XADES
                ),
            ),
        }
    } else {
        (
            qp,
            format!(
                concat!(
                    r##"<xades:UnsignedProperties xmlns:xades="{x}"><xades:UnsignedSignatureProperties>"##,
                    r#"{ts}</xades:UnsignedSignatureProperties></xades:UnsignedProperties>"#
                ),
                x = uri::XADES,
                ts = ts
            ),
        )
    };
    let el = doc
        .element(container)
        .ok_or_else(|| Error::NotAugmentable("container".into()))?;
    let span = signed
        .get(el.span.clone())
        .ok_or_else(|| Error::NotAugmentable("span".into()))?;
    let at = if span.ends_with(b"/>") {
        return Err(Error::NotAugmentable(format!(
            "<{}> is an empty-element tag",
            el.qname()
        )));
    } else {
        let rel = span
            .windows(2)
            .rposition(|w| w == b"</")
            .ok_or_else(|| Error::NotAugmentable("no end tag".into()))?;
        el.span.start + rel
    };
    Ok(splice(signed, at, &insert))
}
