//! The node-sets XML-DSig canonicalizes: a whole document or an element subtree, minus
//! whole excluded subtrees.

use super::DSIG_NAMESPACE;
use super::dom::{Document, NodeId};

/// A document subset made of one connected tree: the whole document (prolog, root element,
/// epilog) or one element's subtree, minus the subtrees rooted at the excluded nodes.
///
/// Comments are in or out according to [`super::Method::with_comments`], as for the
/// `#WithComments` variants of the C14N algorithms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSet {
    pub(crate) apex: Option<NodeId>,
    pub(crate) excluded: Vec<NodeId>,
}

impl NodeSet {
    /// The whole document (XML-DSig `URI=""` before transforms).
    pub fn whole_document() -> Self {
        NodeSet::default()
    }

    /// The subtree of element `apex` (XML-DSig `URI="#id"`).
    pub fn subtree(apex: NodeId) -> Self {
        NodeSet {
            apex: Some(apex),
            excluded: Vec::new(),
        }
    }

    /// This set minus the subtree rooted at `node` (the enveloped-signature transform when
    /// `node` is the signature's `ds:Signature`).
    pub fn subtract(mut self, node: NodeId) -> Self {
        self.excluded.push(node);
        self
    }

    /// This set minus every subtree rooted at one of `nodes`.
    pub fn subtract_all(mut self, nodes: impl IntoIterator<Item = NodeId>) -> Self {
        self.excluded.extend(nodes);
        self
    }

    /// This set minus every `ds:Signature` element of `doc` and its subtree: XPath Filter 2.0
    /// `subtract` with `/descendant::ds:Signature`, the form EU DSS emits.
    pub fn subtract_signatures(self, doc: &Document) -> Self {
        self.subtract_all(doc.elements_named(Some(DSIG_NAMESPACE), "Signature"))
    }

    /// The apex element, or `None` for the whole document.
    pub fn apex(&self) -> Option<NodeId> {
        self.apex
    }

    /// The roots of the excluded subtrees.
    pub fn excluded(&self) -> &[NodeId] {
        &self.excluded
    }
}
