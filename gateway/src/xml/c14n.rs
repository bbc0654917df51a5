//! Canonical XML 1.0, Canonical XML 1.1 and Exclusive XML Canonicalization 1.0 over the
//! node-sets of [`NodeSet`].
//!
//! Because every supported node-set is one connected tree (an apex, or the document, minus
//! whole subtrees), the parent of every output element except the apex is itself output.
//! Namespace rendering therefore keeps one stack of the declarations rendered by output
//! ancestors: a declaration is written when its value differs from the one in force there
//! (an absent default namespace counts as `""`).

use std::io::Write;

use super::dom::{Attribute, Document, Element, Node, NodeId};
use super::escape::{write_attribute, write_text};
use super::nodeset::NodeSet;
use super::{Error, XML_NAMESPACE};

/// Which canonicalization algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// Canonical XML 1.0 (`http://www.w3.org/TR/2001/REC-xml-c14n-20010315`).
    Inclusive10,
    /// Canonical XML 1.1 (`http://www.w3.org/2006/12/xml-c14n11`).
    Inclusive11,
    /// Exclusive XML Canonicalization 1.0 (`http://www.w3.org/2001/10/xml-exc-c14n#`).
    Exclusive10,
}

/// A canonicalization method: algorithm, comments, and (exclusive only) the
/// InclusiveNamespaces PrefixList.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Method {
    /// The algorithm.
    pub kind: MethodKind,
    /// Whether comments are output (the `#WithComments` variants).
    pub with_comments: bool,
    /// Exclusive C14N only: prefixes handled as in inclusive C14N; `#default` names the
    /// default namespace. Ignored by the inclusive algorithms.
    pub inclusive_prefixes: Vec<String>,
}

const C14N10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const C14N10_C: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
const C14N11: &str = "http://www.w3.org/2006/12/xml-c14n11";
const C14N11_C: &str = "http://www.w3.org/2006/12/xml-c14n11#WithComments";
const EXC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_C: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

impl Method {
    /// `kind` without comments and without a prefix list.
    pub fn new(kind: MethodKind) -> Self {
        Method {
            kind,
            with_comments: false,
            inclusive_prefixes: Vec::new(),
        }
    }

    /// Exclusive C14N 1.0 without comments, the profile of XAdES evidence signatures.
    pub fn exclusive() -> Self {
        Method::new(MethodKind::Exclusive10)
    }

    /// The same method with comments output or not.
    pub fn comments(mut self, with_comments: bool) -> Self {
        self.with_comments = with_comments;
        self
    }

    /// The same method with the InclusiveNamespaces `PrefixList` attribute value
    /// (whitespace-separated prefixes, `#default` for the default namespace).
    pub fn prefix_list(mut self, list: &str) -> Self {
        self.inclusive_prefixes = list.split_ascii_whitespace().map(str::to_owned).collect();
        self
    }

    /// The method named by an XML-DSig algorithm URI; `None` if it is not a C14N URI.
    pub fn from_uri(uri: &str) -> Option<Self> {
        let (kind, with_comments) = match uri {
            C14N10 => (MethodKind::Inclusive10, false),
            C14N10_C => (MethodKind::Inclusive10, true),
            C14N11 => (MethodKind::Inclusive11, false),
            C14N11_C => (MethodKind::Inclusive11, true),
            EXC => (MethodKind::Exclusive10, false),
            EXC_C => (MethodKind::Exclusive10, true),
            _ => return None,
        };
        Some(Method::new(kind).comments(with_comments))
    }

    /// The XML-DSig algorithm URI of this method.
    pub fn uri(&self) -> &'static str {
        match (self.kind, self.with_comments) {
            (MethodKind::Inclusive10, false) => C14N10,
            (MethodKind::Inclusive10, true) => C14N10_C,
            (MethodKind::Inclusive11, false) => C14N11,
            (MethodKind::Inclusive11, true) => C14N11_C,
            (MethodKind::Exclusive10, false) => EXC,
            (MethodKind::Exclusive10, true) => EXC_C,
        }
    }
}

/// Canonicalizes `set` of `doc` with `method` into a new buffer.
pub fn canonicalize(doc: &Document, set: &NodeSet, method: &Method) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    canonicalize_to(doc, set, method, &mut out)?;
    Ok(out)
}

/// Canonicalizes `set` of `doc` with `method`, streaming into `out` (e.g. a digest
/// context behind `std::io::Write`).
pub fn canonicalize_to<W: Write + ?Sized>(
    doc: &Document,
    set: &NodeSet,
    method: &Method,
    out: &mut W,
) -> Result<(), Error> {
    let mut excluded = vec![false; doc.len()];
    for &x in &set.excluded {
        if x.index() >= doc.len() {
            return Err(Error::NodeNotElement { node: x.index() });
        }
        // Ids are pre-order: the subtree of `x` is the range x..end.
        let end = (doc.subtree_end(x) as usize).min(doc.len());
        if let Some(range) = excluded.get_mut(x.index()..end) {
            range.fill(true);
        }
    }
    let mut c = Canon {
        doc,
        method,
        excluded,
        rendered: Vec::new(),
        cands: Vec::new(),
        decls: Vec::new(),
        attrs: Vec::new(),
    };
    match set.apex {
        Some(apex) => {
            if doc.element(apex).is_none() {
                return Err(Error::NodeNotElement { node: apex.index() });
            }
            if !c.is_excluded(apex) {
                c.subtree(apex, out)?;
            }
        }
        None => {
            let mut after_root = false;
            for &child in doc.children(doc.document_node()) {
                if c.is_excluded(child) {
                    if child == doc.root() {
                        after_root = true;
                    }
                    continue;
                }
                let top_level = match doc.node(child) {
                    Some(Node::Element(_)) => {
                        c.subtree(child, out)?;
                        after_root = true;
                        continue;
                    }
                    Some(Node::Comment(_)) => method.with_comments,
                    Some(Node::ProcessingInstruction { .. }) => true,
                    _ => false,
                };
                if top_level {
                    if after_root {
                        out.write_all(b"\n")?;
                    }
                    c.leaf(child, out)?;
                    if !after_root {
                        out.write_all(b"\n")?;
                    }
                }
            }
        }
    }
    Ok(())
}

struct Canon<'d> {
    doc: &'d Document<'d>,
    method: &'d Method,
    excluded: Vec<bool>,
    /// Declarations rendered by the output ancestors: (prefix, uri); `None` = default.
    rendered: Vec<(Option<&'d str>, &'d str)>,
    /// Scratch lists of the start tag being written, reused by the next one.
    cands: Vec<(Option<&'d str>, &'d str)>,
    decls: Vec<(Option<&'d str>, &'d str)>,
    attrs: Vec<&'d Attribute<'d>>,
}

struct Frame {
    id: NodeId,
    next: usize,
    mark: usize,
}

impl<'d> Canon<'d> {
    fn is_excluded(&self, id: NodeId) -> bool {
        self.excluded.get(id.index()).copied().unwrap_or(true)
    }

    /// Writes a text, comment or processing-instruction node.
    fn leaf<W: Write + ?Sized>(&self, id: NodeId, out: &mut W) -> Result<(), Error> {
        match self.doc.node(id) {
            Some(Node::Text(t)) => write_text(out, t)?,
            Some(Node::Comment(c)) if self.method.with_comments => {
                out.write_all(b"<!--")?;
                out.write_all(c.as_bytes())?;
                out.write_all(b"-->")?;
            }
            Some(Node::ProcessingInstruction { target, data }) => {
                out.write_all(b"<?")?;
                out.write_all(target.as_bytes())?;
                if !data.is_empty() {
                    out.write_all(b" ")?;
                    out.write_all(data.as_bytes())?;
                }
                out.write_all(b"?>")?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes the subtree of element `top` (iteratively: depth is not bounded by the stack).
    fn subtree<W: Write + ?Sized>(&mut self, top: NodeId, out: &mut W) -> Result<(), Error> {
        let mut stack: Vec<Frame> = Vec::new();
        let mark = self.rendered.len();
        self.start_tag(top, true, out)?;
        stack.push(Frame {
            id: top,
            next: 0,
            mark,
        });
        while let Some(frame) = stack.last_mut() {
            let doc = self.doc;
            let child = doc.children(frame.id).get(frame.next).copied();
            frame.next += 1;
            match child {
                None => {
                    let id = frame.id;
                    let mark = frame.mark;
                    stack.pop();
                    self.rendered.truncate(mark);
                    if let Some(e) = doc.element(id) {
                        write_name(out, b"</", e)?;
                        out.write_all(b">")?;
                    }
                }
                Some(c) if self.is_excluded(c) => {}
                Some(c) => {
                    if doc.element(c).is_some() {
                        let mark = self.rendered.len();
                        self.start_tag(c, false, out)?;
                        stack.push(Frame {
                            id: c,
                            next: 0,
                            mark,
                        });
                    } else {
                        self.leaf(c, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn rendered_value(&self, prefix: Option<&str>) -> Option<&'d str> {
        self.rendered
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u)
    }

    /// The namespace declarations element `id` must carry: (prefix, uri) candidates, into
    /// `cands` (cleared first).
    fn candidates(
        &self,
        id: NodeId,
        e: &'d Element<'d>,
        apex: bool,
        cands: &mut Vec<(Option<&'d str>, &'d str)>,
    ) {
        let doc = self.doc;
        cands.clear();
        let add = |p: Option<&'d str>, u: &'d str, cands: &mut Vec<(Option<&'d str>, &'d str)>| {
            if p != Some("xml") && !cands.iter().any(|(q, _)| *q == p) {
                cands.push((p, u));
            }
        };
        match self.method.kind {
            MethodKind::Inclusive10 | MethodKind::Inclusive11 => {
                if apex {
                    // Every namespace in scope: nearest declaration wins.
                    let mut cur = Some(id);
                    while let Some(c) = cur {
                        if let Some(el) = doc.element(c) {
                            for d in &el.namespace_decls {
                                add(d.prefix, &d.uri, cands);
                            }
                        }
                        cur = doc.parent(c);
                    }
                } else {
                    for d in &e.namespace_decls {
                        add(d.prefix, &d.uri, cands);
                    }
                }
            }
            MethodKind::Exclusive10 => {
                add(e.prefix, e.namespace.as_deref().unwrap_or(""), cands);
                for a in &e.attributes {
                    if let (Some(p), Some(u)) = (a.prefix, a.namespace.as_deref()) {
                        add(Some(p), u, cands);
                    }
                }
                for p in &self.method.inclusive_prefixes {
                    let p = if p == "#default" {
                        None
                    } else {
                        Some(p.as_str())
                    };
                    match doc.namespace_decl_in_scope(id, p) {
                        Some(d) => add(d.prefix, &d.uri, cands),
                        None if p.is_none() => add(None, "", cands),
                        None => {}
                    }
                }
            }
        }
    }

    fn start_tag<W: Write + ?Sized>(
        &mut self,
        id: NodeId,
        apex: bool,
        out: &mut W,
    ) -> Result<(), Error> {
        let doc = self.doc;
        let Some(e) = doc.element(id) else {
            return Ok(());
        };
        let mut candidates = std::mem::take(&mut self.cands);
        self.candidates(id, e, apex, &mut candidates);
        for u in candidates
            .iter()
            .map(|c| c.1)
            .chain(e.namespace_decls.iter().map(|d| &*d.uri))
        {
            if !u.is_empty() && !has_scheme(u) {
                return Err(Error::RelativeNamespaceUri { uri: u.to_owned() });
            }
        }
        let mut decls = std::mem::take(&mut self.decls);
        decls.clear();
        for &(p, u) in &candidates {
            let current = self.rendered_value(p);
            let render = match p {
                None => current.unwrap_or("") != u,
                Some(_) => current != Some(u),
            };
            if render {
                decls.push((p, u));
            }
        }
        self.cands = candidates;
        decls.sort_by(|a, b| a.0.unwrap_or("").cmp(b.0.unwrap_or("")));
        self.rendered.extend(decls.iter().copied());

        let mut attrs = std::mem::take(&mut self.attrs);
        attrs.clear();
        attrs.extend(e.attributes.iter());
        if apex && self.method.kind != MethodKind::Exclusive10 {
            // Attributes in the xml namespace inherited from the omitted ancestors.
            for anc in doc.ancestors(id) {
                let Some(a_el) = doc.element(anc) else {
                    continue;
                };
                for a in &a_el.attributes {
                    if a.namespace.as_deref() != Some(XML_NAMESPACE) {
                        continue;
                    }
                    if self.method.kind == MethodKind::Inclusive11 && a.local == "id" {
                        continue;
                    }
                    if !attrs.iter().any(|b| {
                        b.namespace.as_deref() == Some(XML_NAMESPACE) && b.local == a.local
                    }) {
                        attrs.push(a);
                    }
                }
            }
        }
        if attrs.len() > 1 {
            attrs.sort_by(|a, b| {
                (a.namespace.as_deref().unwrap_or(""), a.local)
                    .cmp(&(b.namespace.as_deref().unwrap_or(""), b.local))
            });
        }

        write_name(out, b"<", e)?;
        for &(p, u) in &decls {
            match p {
                Some(p) => {
                    out.write_all(b" xmlns:")?;
                    out.write_all(p.as_bytes())?;
                }
                None => out.write_all(b" xmlns")?,
            }
            out.write_all(b"=\"")?;
            write_attribute(out, u)?;
            out.write_all(b"\"")?;
        }
        self.decls = decls;
        for a in &attrs {
            out.write_all(b" ")?;
            if let Some(p) = a.prefix {
                out.write_all(p.as_bytes())?;
                out.write_all(b":")?;
            }
            out.write_all(a.local.as_bytes())?;
            out.write_all(b"=\"")?;
            write_attribute(out, &a.value)?;
            out.write_all(b"\"")?;
        }
        self.attrs = attrs;
        out.write_all(b">")?;
        Ok(())
    }
}

/// Whether `uri` starts with an RFC 3986 scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`).
fn has_scheme(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn write_name<W: Write + ?Sized>(out: &mut W, open: &[u8], e: &Element) -> std::io::Result<()> {
    out.write_all(open)?;
    if let Some(p) = e.prefix {
        out.write_all(p.as_bytes())?;
        out.write_all(b":")?;
    }
    out.write_all(e.local.as_bytes())
}
