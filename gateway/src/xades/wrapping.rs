//! The checks that defeat signature wrapping (XSW).
//!
//! Wrapping attacks make a verifier check one thing and the application use another: the
//! signed content is moved (into a `ds:Object`, under a forged root), duplicated, or addressed
//! by an `Id` that two elements carry. Ponte closes every such gap by construction:
//!
//! * exactly one `ds:Signature` in the whole document, and it is the last element child of
//!   the root (the EN 319 522-3 evidence shape);
//! * no `Id` value is carried by two elements anywhere in the document;
//! * a reference may point only to the whole document (`URI=""`), transformed by
//!   enveloped-signature or XPath Filter 2.0 `subtract` of `/descendant::ds:Signature`, or to
//!   *this* signature's `xades:SignedProperties` (`URI="#id"`, with `Type` SignedProperties);
//!   there must be exactly one of each;
//! * only allowlisted transforms are applied (the two above and the six C14N algorithms);
//! * `ds:Object` may carry only the XAdES `QualifyingProperties`, whose `Target` names this
//!   signature;
//! * the caller receives the evidence parsed from the very octets the document reference
//!   digested (see [`mod@super::verify`]), never from a node found by another path.

use super::structure::{C14nAlgorithm, ParsedSignature, Transform, element_children};
use super::uri;
use super::verify::Invalid;
use crate::xml::{Document, Node, NodeId};

/// Finds the one `ds:Signature` of the document and checks its position.
pub fn locate_signature(doc: &Document) -> Result<NodeId, Invalid> {
    let sigs: Vec<NodeId> = doc.elements_named(Some(uri::DSIG), "Signature").collect();
    let sig = match sigs.as_slice() {
        [] => return Err(Invalid::NoSignature),
        [one] => *one,
        more => return Err(Invalid::MultipleSignatures { count: more.len() }),
    };
    let root = doc.root();
    if doc.parent(sig) != Some(root) {
        return Err(Invalid::SignatureNotLast(
            "the ds:Signature is not a child of the root element".into(),
        ));
    }
    let after: Vec<NodeId> = doc
        .children(root)
        .iter()
        .copied()
        .skip_while(|&c| c != sig)
        .skip(1)
        .collect();
    for c in after {
        match doc.node(c) {
            Some(Node::Element(e)) => {
                return Err(Invalid::SignatureNotLast(format!(
                    "<{}> follows the ds:Signature",
                    e.qname()
                )));
            }
            Some(Node::Text(t)) if !t.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) => {
                return Err(Invalid::SignatureNotLast(
                    "text follows the ds:Signature".into(),
                ));
            }
            _ => {}
        }
    }
    Ok(sig)
}

/// Refuses a document where an `Id` value is carried by more than one element.
pub fn check_unique_ids(doc: &Document) -> Result<(), Invalid> {
    match doc.id_map("Id") {
        Ok(_) => Ok(()),
        Err(dups) => Err(Invalid::DuplicateId(dups.join(", "))),
    }
}

/// What a reference covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The whole document minus the signature (`URI=""` with enveloped / subtract).
    Document,
    /// The subtree of this signature's `xades:SignedProperties`.
    SignedProperties(NodeId),
}

/// How to recompute one reference's digest, after the allowlist was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Index of the reference in `SignedInfo`.
    pub index: usize,
    /// What it covers.
    pub target: Target,
    /// The final canonicalization (inclusive C14N 1.0 when no C14N transform is given).
    pub c14n: C14nAlgorithm,
    /// Exclusive C14N `InclusiveNamespaces` prefixes.
    pub prefixes: Vec<String>,
}

/// The two references of an evidence signature, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plans {
    /// The reference covering the document.
    pub document: Plan,
    /// The reference covering `SignedProperties`.
    pub signed_properties: Plan,
}

/// The final canonicalization of a transform chain, refusing anything not allowlisted.
/// `allow_envelope`: whether enveloped/subtract may appear (document reference only).
fn chain(
    transforms: &[Transform],
    allow_envelope: bool,
    reference: &str,
) -> Result<(bool, C14nAlgorithm, Vec<String>), Invalid> {
    let mut enveloped = false;
    let mut c14n = None;
    for (i, t) in transforms.iter().enumerate() {
        let last = i + 1 == transforms.len();
        match t {
            Transform::Enveloped | Transform::SubtractSignatures if allow_envelope => {
                if c14n.is_some() {
                    return Err(Invalid::TransformNotAllowed {
                        reference: reference.to_owned(),
                        transform: "a node-set transform after canonicalization".into(),
                    });
                }
                enveloped = true;
            }
            Transform::Canonicalize(alg, prefixes) if last => {
                c14n = Some((*alg, prefixes.clone()));
            }
            Transform::Canonicalize(alg, _) => {
                return Err(Invalid::TransformNotAllowed {
                    reference: reference.to_owned(),
                    transform: format!("{} before another transform", alg.uri()),
                });
            }
            Transform::Enveloped => {
                return Err(Invalid::TransformNotAllowed {
                    reference: reference.to_owned(),
                    transform: uri::ENVELOPED.into(),
                });
            }
            Transform::SubtractSignatures => {
                return Err(Invalid::TransformNotAllowed {
                    reference: reference.to_owned(),
                    transform: format!("{} subtract", uri::XPATH_FILTER2),
                });
            }
            Transform::Other { algorithm, detail } => {
                return Err(Invalid::TransformNotAllowed {
                    reference: reference.to_owned(),
                    transform: match detail {
                        Some(d) => format!("{algorithm} ({d})"),
                        None => algorithm.clone(),
                    },
                });
            }
        }
    }
    let (alg, prefixes) = c14n.unwrap_or((C14nAlgorithm::INCLUSIVE_10, Vec::new()));
    Ok((enveloped, alg, prefixes))
}

/// Resolves the references of `sig` under the rules above.
pub fn plan_references(doc: &Document, sig: &ParsedSignature) -> Result<Plans, Invalid> {
    let qualifying = sig
        .qualifying
        .as_ref()
        .ok_or(Invalid::NotXades("no xades:QualifyingProperties".into()))?;
    let sp_node = qualifying
        .signed_properties
        .ok_or(Invalid::NotXades("no xades:SignedProperties".into()))?;
    // The Object(s) carry the qualifying properties and nothing else.
    for &o in &sig.objects {
        for c in element_children(doc, o)? {
            let ok = doc
                .element(c)
                .is_some_and(|e| e.is(Some(uri::XADES), "QualifyingProperties"));
            if !ok {
                let name = doc.element(c).map(|e| e.qname()).unwrap_or_default();
                return Err(Invalid::UnexpectedObjectContent(name));
            }
        }
    }
    if let Some(target) = &qualifying.target {
        let expected = sig.id.as_ref().map(|i| format!("#{i}"));
        if expected.as_deref() != Some(target.as_str()) {
            return Err(Invalid::NotXades(format!(
                "QualifyingProperties Target {target:?} does not name this signature ({})",
                sig.id.as_deref().unwrap_or("which has no Id")
            )));
        }
    }
    let mut document = None;
    let mut signed_properties = None;
    for (index, r) in sig.references.iter().enumerate() {
        let name = r.id.clone().unwrap_or_else(|| format!("#{}", index + 1));
        match r.uri.as_deref() {
            Some("") => {
                if document.is_some() {
                    return Err(Invalid::ReferenceNotAllowed(
                        "a second reference to the whole document".into(),
                    ));
                }
                let (enveloped, c14n, prefixes) = chain(&r.transforms, true, &name)?;
                if !enveloped {
                    return Err(Invalid::ReferenceNotAllowed(format!(
                        "reference {name} covers the document without removing the signature"
                    )));
                }
                document = Some(Plan {
                    index,
                    target: Target::Document,
                    c14n,
                    prefixes,
                });
            }
            Some(u) if u.starts_with('#') && !u.starts_with("#xpointer(") => {
                let id = u.get(1..).unwrap_or_default();
                let resolved = match doc.element_by_id("Id", id) {
                    crate::xml::IdLookup::One(n) => n,
                    crate::xml::IdLookup::None => {
                        return Err(Invalid::ReferenceNotAllowed(format!(
                            "URI {u:?} names no element"
                        )));
                    }
                    crate::xml::IdLookup::Duplicate(_) => {
                        return Err(Invalid::DuplicateId(id.to_owned()));
                    }
                };
                if resolved != sp_node {
                    let what = doc.element(resolved).map(|e| e.qname()).unwrap_or_default();
                    return Err(Invalid::ReferenceNotAllowed(format!(
                        "URI {u:?} names <{what}>, not this signature's SignedProperties"
                    )));
                }
                if r.type_uri.as_deref() != Some(uri::SIGNED_PROPERTIES_TYPE) {
                    return Err(Invalid::NotXades(format!(
                        "the reference to SignedProperties has Type {:?}",
                        r.type_uri.as_deref().unwrap_or("(none)")
                    )));
                }
                if signed_properties.is_some() {
                    return Err(Invalid::ReferenceNotAllowed(
                        "a second reference to SignedProperties".into(),
                    ));
                }
                let (_, c14n, prefixes) = chain(&r.transforms, false, &name)?;
                signed_properties = Some(Plan {
                    index,
                    target: Target::SignedProperties(sp_node),
                    c14n,
                    prefixes,
                });
            }
            Some(u) => {
                return Err(Invalid::ReferenceNotAllowed(format!(
                    "URI {u:?} (only \"\" and #SignedProperties-Id are resolved)"
                )));
            }
            None => {
                return Err(Invalid::ReferenceNotAllowed(format!(
                    "reference {name} without URI"
                )));
            }
        }
    }
    let document = document.ok_or(Invalid::ReferenceNotAllowed(
        "no reference covers the document (URI=\"\")".into(),
    ))?;
    // A DataObjectFormat describes one of this signature's references, by its Id.
    for (object_reference, _) in &qualifying.data_object_formats {
        let Some(target) = object_reference else {
            return Err(Invalid::NotXades(
                "DataObjectFormat without ObjectReference".into(),
            ));
        };
        let names_a_reference = sig.references.iter().any(|r| {
            r.id.as_ref()
                .is_some_and(|id| target.strip_prefix('#') == Some(id))
        });
        if !names_a_reference {
            return Err(Invalid::NotXades(format!(
                "DataObjectFormat ObjectReference {target:?} names no Reference of this signature"
            )));
        }
    }
    let signed_properties = signed_properties.ok_or(Invalid::NotXades(
        "no reference covers SignedProperties".into(),
    ))?;
    Ok(Plans {
        document,
        signed_properties,
    })
}
