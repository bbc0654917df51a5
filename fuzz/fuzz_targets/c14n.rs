//! Reading and canonicalizing arbitrary bytes never panics: every node-set kind, every
//! method (with and without comments, exclusive with a prefix list). Whatever is accepted
//! must canonicalize (whole document) to XML that reads back to the same canonical form.
#![no_main]

use ponte::xml::{self, Method, MethodKind, NodeId, NodeSet};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(doc) = xml::parse(data) else {
        return;
    };
    let elements: Vec<NodeId> = doc
        .descendants(doc.document_node())
        .filter(|&id| doc.element(id).is_some())
        .collect();
    let pick = elements
        .get(data.len() % elements.len().max(1))
        .copied()
        .unwrap_or(doc.root());
    let mut methods = Vec::new();
    for kind in [
        MethodKind::Inclusive10,
        MethodKind::Inclusive11,
        MethodKind::Exclusive10,
    ] {
        methods.push(Method::new(kind));
        methods.push(Method::new(kind).comments(true));
    }
    methods.push(Method::exclusive().prefix_list("#default a ds xml"));
    for m in &methods {
        let _ = xml::canonicalize(&doc, &NodeSet::subtree(pick), m);
        let _ = xml::canonicalize(&doc, &NodeSet::subtree(doc.root()).subtract(pick), m);
        let _ = xml::canonicalize(&doc, &NodeSet::whole_document().subtract_signatures(&doc), m);
        if let Ok(out) = xml::canonicalize(&doc, &NodeSet::whole_document(), m) {
            let again = xml::parse(&out).expect("canonical output reads back");
            let twice =
                xml::canonicalize(&again, &NodeSet::whole_document(), m).expect("canonicalizes");
            assert_eq!(twice, out, "canonical form is not a fixpoint");
        }
    }
    let _ = doc.id_map("Id");
    let _ = doc.text_content(doc.root());
});
