//! The read-only document: an arena of nodes in document order.
//!
//! A document borrows the text it was read from: names are slices of it, and values
//! (attribute values, namespace URIs, character data) too unless reading changed them
//! (references decoded, line ends or attribute whitespace normalized, adjacent runs merged),
//! when they are owned. The children of every node are one range of a single arena, so a
//! parse makes a handful of allocations per element at most (its attribute and declaration
//! lists), none per name.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

/// A node of a [`Document`]. Ids are allocated in document order, so comparing two ids
/// compares their position in the document (pre-order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The index of the node in its document's arena (0 is the document node).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A namespace declaration as written on an element (`xmlns` or `xmlns:p`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceDecl<'a> {
    /// The declared prefix; `None` for the default namespace.
    pub prefix: Option<&'a str>,
    /// The namespace URI; empty for `xmlns=""` (undeclaring the default namespace).
    pub uri: Cow<'a, str>,
}

/// An attribute (namespace declarations are not attributes; see [`Element::namespace_decls`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The prefix as written, if any.
    pub prefix: Option<&'a str>,
    /// The local name.
    pub local: &'a str,
    /// The resolved namespace URI; `None` for unprefixed attributes.
    pub namespace: Option<Cow<'a, str>>,
    /// The normalized value (references decoded, whitespace characters turned to spaces
    /// as XML 1.0 §3.3.3 prescribes for CDATA attributes).
    pub value: Cow<'a, str>,
}

impl Attribute<'_> {
    /// The qualified name as written (`prefix:local` or `local`).
    pub fn qname(&self) -> String {
        qname(self.prefix, self.local)
    }
}

/// An element. Its children are [`Document::children`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element<'a> {
    /// The prefix as written, if any.
    pub prefix: Option<&'a str>,
    /// The local name.
    pub local: &'a str,
    /// The resolved namespace URI; `None` when in no namespace.
    pub namespace: Option<Cow<'a, str>>,
    /// The namespace declarations written on this element, in document order.
    pub namespace_decls: Vec<NamespaceDecl<'a>>,
    /// The attributes, in document order.
    pub attributes: Vec<Attribute<'a>>,
    /// The byte range of the element in the input, from `<` of the start tag to `>` of
    /// the end tag (or of the empty-element tag).
    pub span: Range<usize>,
}

impl Element<'_> {
    /// The qualified name as written (`prefix:local` or `local`).
    pub fn qname(&self) -> String {
        qname(self.prefix, self.local)
    }

    /// Whether the element has namespace `ns` and local name `local`.
    pub fn is(&self, ns: Option<&str>, local: &str) -> bool {
        self.local == local && self.namespace.as_deref() == ns
    }

    /// The value of the attribute with namespace `ns` and local name `local`.
    pub fn attribute(&self, ns: Option<&str>, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.local == local && a.namespace.as_deref() == ns)
            .map(|a| &*a.value)
    }
}

/// What a node is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node<'a> {
    /// The document node (id 0); its children (comments, processing instructions and the
    /// root element, in order) are [`Document::children`] of it.
    Document,
    /// An element.
    Element(Element<'a>),
    /// Character data (adjacent text, CDATA sections and references merged; line ends
    /// normalized to LF).
    Text(Cow<'a, str>),
    /// A comment's content (between `<!--` and `-->`).
    Comment(Cow<'a, str>),
    /// A processing instruction.
    ProcessingInstruction {
        /// The target.
        target: &'a str,
        /// The data after the target and its separating whitespace (may be empty).
        data: Cow<'a, str>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Slot<'a> {
    pub(crate) parent: Option<NodeId>,
    /// The node's children: a range of [`Document::child_ids`].
    pub(crate) children: Range<u32>,
    pub(crate) node: Node<'a>,
}

/// The result of looking an element up by an Id-like attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdLookup {
    /// No element carries that value.
    None,
    /// Exactly one element carries it.
    One(NodeId),
    /// Several elements carry it (a wrapping-attack signal): all of them, in document order.
    Duplicate(Vec<NodeId>),
}

/// A parsed, read-only XML document, borrowing the text it was read from. Build it with
/// [`super::parse`].
#[derive(Clone, Debug)]
pub struct Document<'a> {
    pub(crate) slots: Vec<Slot<'a>>,
    /// The children of every node, grouped by parent, each group in document order.
    pub(crate) child_ids: Vec<NodeId>,
    pub(crate) root: NodeId,
}

impl<'a> Document<'a> {
    /// The document node.
    pub fn document_node(&self) -> NodeId {
        NodeId(0)
    }

    /// The root (document) element.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// Number of nodes, the document node included.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the document has no nodes (never true for a parsed document).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The node `id`; `None` if `id` is not of this document.
    pub fn node(&self, id: NodeId) -> Option<&Node<'a>> {
        self.slots.get(id.index()).map(|s| &s.node)
    }

    /// The element `id`; `None` if it is not an element of this document.
    pub fn element(&self, id: NodeId) -> Option<&Element<'a>> {
        match self.node(id) {
            Some(Node::Element(e)) => Some(e),
            _ => None,
        }
    }

    /// The parent of `id` (`None` for the document node).
    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.slots.get(id.index()).and_then(|s| s.parent)
    }

    /// The children of `id`, in document order.
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        self.slots
            .get(id.index())
            .and_then(|s| {
                self.child_ids
                    .get(s.children.start as usize..s.children.end as usize)
            })
            .unwrap_or_default()
    }

    /// The element children of `id`.
    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.children(id)
            .iter()
            .copied()
            .filter(|&c| self.element(c).is_some())
    }

    /// The element children of `id` with namespace `ns` and local name `local`.
    pub fn children_named<'b>(
        &'b self,
        id: NodeId,
        ns: Option<&'b str>,
        local: &'b str,
    ) -> impl Iterator<Item = NodeId> + 'b {
        self.child_elements(id)
            .filter(move |&c| self.element(c).is_some_and(|e| e.is(ns, local)))
    }

    /// The first element child of `id` with namespace `ns` and local name `local`.
    pub fn first_child_named(&self, id: NodeId, ns: Option<&str>, local: &str) -> Option<NodeId> {
        self.children_named(id, ns, local).next()
    }

    /// The value of attribute (`ns`, `local`) of element `id`.
    pub fn attribute(&self, id: NodeId, ns: Option<&str>, local: &str) -> Option<&str> {
        self.element(id).and_then(|e| e.attribute(ns, local))
    }

    /// The concatenated text of all text descendants of `id` (XPath `string()`).
    pub fn text_content(&self, id: NodeId) -> String {
        let mut out = String::new();
        for d in self.descendants(id) {
            if let Some(Node::Text(t)) = self.node(d) {
                out.push_str(t);
            }
        }
        if let Some(Node::Text(t)) = self.node(id) {
            out.push_str(t);
        }
        out
    }

    /// The ancestors of `id`, nearest first, ending with the document node.
    pub fn ancestors(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::successors(self.parent(id), move |&p| self.parent(p))
    }

    /// Whether `ancestor` is a proper ancestor of `node`.
    pub fn is_ancestor(&self, ancestor: NodeId, node: NodeId) -> bool {
        self.ancestors(node).any(|a| a == ancestor)
    }

    /// The proper descendants of `id` in document order (pre-order).
    pub fn descendants(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let end = self.subtree_end(id);
        (id.0.saturating_add(1)..end).map(NodeId)
    }

    /// One past the last id of the subtree rooted at `id` (ids are pre-order).
    pub(crate) fn subtree_end(&self, id: NodeId) -> u32 {
        let mut cur = id;
        loop {
            if let Some(&last) = self.children(cur).last() {
                cur = last;
            } else {
                return cur.0.saturating_add(1);
            }
        }
    }

    /// All elements with namespace `ns` and local name `local`, in document order.
    pub fn elements_named<'b>(
        &'b self,
        ns: Option<&'b str>,
        local: &'b str,
    ) -> impl Iterator<Item = NodeId> + 'b {
        (0..self.slots.len() as u32)
            .map(NodeId)
            .filter(move |&c| self.element(c).is_some_and(|e| e.is(ns, local)))
    }

    /// The elements whose unqualified attribute `attr` (e.g. `Id`) equals `value`.
    pub fn element_by_id(&self, attr: &str, value: &str) -> IdLookup {
        let hits: Vec<NodeId> = (0..self.slots.len() as u32)
            .map(NodeId)
            .filter(|&c| self.attribute(c, None, attr) == Some(value))
            .collect();
        match hits.as_slice() {
            [] => IdLookup::None,
            [one] => IdLookup::One(*one),
            _ => IdLookup::Duplicate(hits),
        }
    }

    /// Every value of the unqualified attribute `attr` (e.g. `Id`) mapped to its element;
    /// `Err` lists the values carried by more than one element.
    pub fn id_map(&self, attr: &str) -> Result<HashMap<String, NodeId>, Vec<String>> {
        let mut map = HashMap::new();
        let mut dups = Vec::new();
        for i in 0..self.slots.len() as u32 {
            if let Some(v) = self.attribute(NodeId(i), None, attr)
                && map.insert(v.to_owned(), NodeId(i)).is_some()
                && !dups.iter().any(|d| d == v)
            {
                dups.push(v.to_owned());
            }
        }
        if dups.is_empty() { Ok(map) } else { Err(dups) }
    }

    /// The namespace URI bound to `prefix` (`None` = default namespace) in scope at element
    /// `id`; `None` when unbound (or the default namespace is undeclared).
    pub fn lookup_namespace(&self, id: NodeId, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(super::XML_NAMESPACE);
        }
        self.namespace_decl_in_scope(id, prefix)
            .map(|d| &*d.uri)
            .filter(|u| !u.is_empty())
    }

    /// The nearest declaration of `prefix` (`None` = default namespace) on `id` or its
    /// ancestors, as written (an `xmlns=""` undeclaration included).
    pub fn namespace_decl_in_scope(
        &self,
        id: NodeId,
        prefix: Option<&str>,
    ) -> Option<&NamespaceDecl<'a>> {
        std::iter::once(id)
            .chain(self.ancestors(id))
            .filter_map(|c| self.element(c))
            .find_map(|e| e.namespace_decls.iter().find(|d| d.prefix == prefix))
    }
}

pub(crate) fn qname(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_owned(),
    }
}
