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

/// Which text of a fragment Ponte builds: as it goes into the document, or its Exclusive
/// C14N (what the digests and the signature cover), written directly rather than parsed back
/// from the first. The two differ only where Exclusive C14N rewrites: empty-element tags
/// become start and end tags, attribute values take the canonical escapes (`&amp;` `&lt;`
/// `&quot;` `&#x9;` `&#xA;` `&#xD;`, `>` as is), and the apex, and every element whose prefix
/// no output ancestor has declared, carries the declaration of its prefix. Attributes are
/// written in their canonical order (declarations first, then by name; none is qualified).
/// `tests::canonical_fragments_are_their_c14n` compares them with the canonicalizer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Document,
    Canonical,
}

impl Form {
    /// An attribute value, escaped for this form.
    fn attr(self, s: &str) -> String {
        match self {
            Form::Document => crate::xml::escape(s),
            Form::Canonical => {
                let mut out = String::with_capacity(s.len());
                for c in s.chars() {
                    match c {
                        '&' => out.push_str("&amp;"),
                        '<' => out.push_str("&lt;"),
                        '"' => out.push_str("&quot;"),
                        '\t' => out.push_str("&#x9;"),
                        '\n' => out.push_str("&#xA;"),
                        '\r' => out.push_str("&#xD;"),
                        // `escape` drops them from the document: they are not in it.
                        c if !crate::xml::is_xml_char(c) => {}
                        c => out.push(c),
                    }
                }
                out
            }
        }
    }

    /// An element without content: `<q rest/>` or `<q rest></q>`.
    fn empty(self, qname: &str, rest: &str) -> String {
        match self {
            Form::Document => format!("<{qname}{rest}/>"),
            Form::Canonical => format!("<{qname}{rest}></{qname}>"),
        }
    }

    /// ` xmlns:prefix="uri"` in the canonical form only (the document declares it on an
    /// enclosing element).
    fn decl(self, prefix: &str, uri: &str) -> String {
        match self {
            Form::Document => String::new(),
            Form::Canonical => format!(r#" xmlns:{prefix}="{uri}""#),
        }
    }
}

/// `ds:SignedInfo` (its `ds` prefix bound by the enclosing `ds:Signature` in the document).
fn signed_info_xml(p: &Parts<'_>, form: Form) -> String {
    let exc = uri::EXC_C14N;
    let exc_transform = if p.prefix_list.is_empty() {
        form.empty("ds:Transform", &format!(r#" Algorithm="{exc}""#))
    } else {
        format!(
            r#"<ds:Transform Algorithm="{exc}">{}</ds:Transform>"#,
            form.empty(
                "ec:InclusiveNamespaces",
                &format!(
                    r#" xmlns:ec="{exc}" PrefixList="{}""#,
                    form.attr(p.prefix_list)
                )
            )
        )
    };
    let digest_method = form.empty(
        "ds:DigestMethod",
        &format!(r#" Algorithm="{}""#, uri::SHA256),
    );
    format!(
        concat!(
            r##"<ds:SignedInfo{dsdecl}>{cm}{sm}"##,
            r##"<ds:Reference Id="{rid}" URI=""><ds:Transforms><ds:Transform Algorithm="{f2}">"##,
            r##"<dsig-filter2:XPath xmlns:dsig-filter2="{f2}" Filter="subtract">{xpath}</dsig-filter2:XPath>"##,
            r##"</ds:Transform>{exct}</ds:Transforms>"##,
            r##"{dm}<ds:DigestValue>{dd}</ds:DigestValue></ds:Reference>"##,
            r##"<ds:Reference Type="{spt}" URI="#{spid}"><ds:Transforms>{exce}</ds:Transforms>"##,
            r##"{dm}<ds:DigestValue>{pd}</ds:DigestValue></ds:Reference>"##,
            r##"</ds:SignedInfo>"##,
        ),
        dsdecl = form.decl("ds", uri::DSIG),
        cm = form.empty(
            "ds:CanonicalizationMethod",
            &format!(r#" Algorithm="{exc}""#)
        ),
        sm = form.empty(
            "ds:SignatureMethod",
            &format!(r#" Algorithm="{}""#, p.signature_uri)
        ),
        rid = form.attr(&p.ids.reference),
        exct = exc_transform,
        exce = form.empty("ds:Transform", &format!(r#" Algorithm="{exc}""#)),
        f2 = uri::XPATH_FILTER2,
        xpath = uri::SUBTRACT_SIGNATURES_XPATH,
        dm = digest_method,
        dd = p.document_digest,
        spt = uri::SIGNED_PROPERTIES_TYPE,
        spid = form.attr(&p.ids.signed_properties),
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
        si = signed_info_xml(p, Form::Document),
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

/// `xades:SignedProperties` (its `xades` and `ds` prefixes bound by the enclosing
/// `xades:QualifyingProperties` and `ds:Signature` in the document).
fn signed_properties(signer: &Signer, ids: &Ids, signing_time: &str, form: Form) -> String {
    let cert = &signer.certificate;
    let cert_digest = B64.encode(crypto::digest(DigestAlgorithm::Sha256, cert.der()));
    let issuer_serial = B64.encode(der::issuer_serial(&cert.issuer_der, &cert.serial));
    let ds = form.decl("ds", uri::DSIG);
    format!(
        concat!(
            r##"<xades:SignedProperties{xdecl} Id="{spid}"><xades:SignedSignatureProperties>"##,
            r##"<xades:SigningTime>{st}</xades:SigningTime><xades:SigningCertificateV2><xades:Cert>"##,
            r##"<xades:CertDigest>{dm}<ds:DigestValue{ds}>{cd}</ds:DigestValue></xades:CertDigest>"##,
            r##"<xades:IssuerSerialV2>{is}</xades:IssuerSerialV2></xades:Cert></xades:SigningCertificateV2>"##,
            r##"</xades:SignedSignatureProperties><xades:SignedDataObjectProperties>"##,
            r##"<xades:DataObjectFormat ObjectReference="#{rid}"><xades:MimeType>text/xml</xades:MimeType>"##,
            r#"</xades:DataObjectFormat></xades:SignedDataObjectProperties></xades:SignedProperties>"#
        ),
        xdecl = form.decl("xades", uri::XADES),
        spid = form.attr(&ids.signed_properties),
        st = signing_time,
        dm = form.empty(
            "ds:DigestMethod",
            &format!(r#"{ds} Algorithm="{}""#, uri::SHA256)
        ),
        ds = ds,
        cd = cert_digest,
        is = issuer_serial,
        rid = form.attr(&ids.reference),
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
    let sp = signed_properties(signer, &ids, &signing_time, Form::Document);
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
    // signed info are written in their canonical form ([`Form::Canonical`]): Exclusive C14N
    // renders only the namespaces an element visibly uses, and every one of these is
    // declared by the signature itself (`ds` on `ds:Signature`, `xades` on
    // `xades:QualifyingProperties`, the transforms' own on their elements), so their octets
    // in place do not depend on the document around them. One parse, of the input (`tests`
    // compare the fragments with the canonicalizer's output, and the signatures with
    // canonicalizing the assembled document).
    let doc_octets = c14n(
        &doc,
        &NodeSet::whole_document(),
        C14nAlgorithm::EXCLUSIVE,
        &prefixes,
    )?;
    let sp_octets = signed_properties(signer, &ids, &signing_time, Form::Canonical);
    let document_digest = B64.encode(crypto::digest(DigestAlgorithm::Sha256, &doc_octets));
    let properties_digest = B64.encode(crypto::digest(
        DigestAlgorithm::Sha256,
        sp_octets.as_bytes(),
    ));
    parts.document_digest = &document_digest;
    parts.properties_digest = &properties_digest;

    // 2. SignedInfo, in its canonical form, signed.
    let si_octets = signed_info_xml(&parts, Form::Canonical);
    let value = B64.encode(signer.key.sign_xmldsig(si_octets.as_bytes())?);
    parts.signature_value = &value;
    Ok(splice(input, at, &signature_xml(&parts)))
}

/// Exclusive C14N of the element reached from the root of `xml` (a `ds:Signature`) by the
/// children `path` (the oracle of the canonical forms).
#[cfg(test)]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        let pki = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/pki");
        let read = |n: &str| std::fs::read(pki.join(n)).expect("pki file");
        let cert = |n: &str| {
            crate::x509::load_pem(&read(n))
                .expect("pem")
                .into_iter()
                .next()
                .expect("one certificate")
        };
        let key = SigningKey::from_pkcs8_pem(&read("rem-rsa.key.pem")).expect("key");
        Signer::new(key, cert("rem-rsa.pem"), vec![cert("provider-ca.pem")]).expect("signer")
    }

    /// The canonical forms written directly are what the canonicalizer makes of the
    /// document forms in place (inside the `ds:Signature` and `QualifyingProperties` that
    /// bind their prefixes), for ids and prefix lists that need every escape.
    #[test]
    fn canonical_fragments_are_their_c14n() {
        let signer = signer();
        for tag in ["t1", "a&b<c>d\"e'f\tg\nh\ri\u{1}j\u{e9}", " "] {
            let ids = Ids::new(Some(tag)).expect("ids");
            for prefix_list in ["", "elp", "#default elp x&<>\"y"] {
                let sp = |form| signed_properties(&signer, &ids, "2026-12-01T12:00:00Z", form);
                let wrapped = format!(
                    r#"<ds:Signature xmlns:ds="{}"><ds:Object><xades:QualifyingProperties xmlns:xades="{}">{}</xades:QualifyingProperties></ds:Object></ds:Signature>"#,
                    uri::DSIG,
                    uri::XADES,
                    sp(Form::Document)
                );
                let oracle = fragment_c14n(
                    &wrapped,
                    &[
                        (uri::DSIG, "Object"),
                        (uri::XADES, "QualifyingProperties"),
                        (uri::XADES, "SignedProperties"),
                    ],
                )
                .expect("c14n");
                assert_eq!(
                    String::from_utf8(oracle).expect("utf8"),
                    sp(Form::Canonical),
                    "{tag:?}"
                );
                let parts = Parts {
                    ids: &ids,
                    prefix_list,
                    signature_uri: uri::RSA_SHA256,
                    document_digest: "ZG9j",
                    properties_digest: "cHJvcHM=",
                    signature_value: "",
                    signed_properties: "",
                    key_info: "",
                };
                let wrapped = format!(
                    r#"<ds:Signature xmlns:ds="{}">{}</ds:Signature>"#,
                    uri::DSIG,
                    signed_info_xml(&parts, Form::Document)
                );
                let oracle = fragment_c14n(&wrapped, &[(uri::DSIG, "SignedInfo")]).expect("c14n");
                assert_eq!(
                    String::from_utf8(oracle).expect("utf8"),
                    signed_info_xml(&parts, Form::Canonical),
                    "{tag:?} {prefix_list:?}"
                );
            }
        }
    }
}
