//! XML reading and canonicalization.
//!
//! * [`parse`] / [`parse_with`] read a document securely into a small read-only
//!   [`Document`] (an arena of nodes in document order): no DTD processing at all (any
//!   `<!DOCTYPE` is refused), only the five predefined entities and character references,
//!   bounded by [`Limits`], namespace-aware.
//! * [`canonicalize`] / [`canonicalize_to`] write the canonical form of a [`NodeSet`] of
//!   that document with a [`Method`]: inclusive C14N 1.0, C14N 1.1 or Exclusive C14N 1.0,
//!   with or without comments. The node-sets are the ones XML-DSig needs: the whole
//!   document, an element subtree, and either of those minus excluded subtrees (the
//!   enveloped-signature transform and XPath Filter 2.0 `subtract` of
//!   `/descendant::ds:Signature`).
//!
//! See `manual::xml` for what is refused and the limits.
#![deny(missing_docs)]

mod c14n;
mod dom;
mod escape;
mod nodeset;
mod parse;

pub use c14n::{Method, MethodKind, canonicalize, canonicalize_to};
pub use dom::{Attribute, Document, Element, IdLookup, NamespaceDecl, Node, NodeId};
pub use escape::escape;
pub(crate) use escape::is_xml_char;
pub use nodeset::NodeSet;
pub(crate) use parse::slice_of;
pub use parse::{parse, parse_with};

/// The namespace bound to the `xml` prefix (XML Namespaces 1.0 §3).
pub const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of namespace declarations; never bindable.
pub const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";
/// The XML-DSig namespace (`ds:`).
pub const DSIG_NAMESPACE: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Bounds applied while reading a document. Exceeding one is [`Error::LimitExceeded`]
/// naming the limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes. Default 64 MiB.
    pub max_input_bytes: usize,
    /// Deepest element nesting (the root element is depth 1). Default 256.
    pub max_depth: usize,
    /// Most attributes on one element, namespace declarations included. Default 1,000.
    pub max_attributes: usize,
    /// Most nodes in the document (elements, text runs, comments, processing instructions).
    /// The document node is counted. Default 1,000,000.
    pub max_nodes: usize,
    /// Longest element, attribute or processing-instruction name, in bytes. Default 1,024.
    pub max_name_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 64 * 1024 * 1024,
            max_depth: 256,
            max_attributes: 1_000,
            max_nodes: 1_000_000,
            max_name_bytes: 1_024,
        }
    }
}

/// Which [`Limits`] field was exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_input_bytes`].
    InputBytes,
    /// [`Limits::max_depth`].
    Depth,
    /// [`Limits::max_attributes`].
    Attributes,
    /// [`Limits::max_nodes`].
    Nodes,
    /// [`Limits::max_name_bytes`].
    NameBytes,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::InputBytes => "input size in bytes",
            Limit::Depth => "element nesting depth",
            Limit::Attributes => "attributes per element",
            Limit::Nodes => "number of nodes",
            Limit::NameBytes => "name length in bytes",
        })
    }
}

/// Errors of this module: the XML was refused or is malformed, or a node-set was not made
/// from the document it is applied to. Positions are byte offsets in the input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A document type declaration was found; DTDs are never processed.
    #[error("DOCTYPE refused at byte {position}: DTD processing is not supported")]
    DoctypeRefused {
        /// Where the declaration starts.
        position: u64,
    },
    /// A DOCTYPE declaring entities (internal or external) was found.
    #[error("entity declaration refused at byte {position}: DTD entities are not supported")]
    EntityDeclarationRefused {
        /// Where the DOCTYPE starts.
        position: u64,
    },
    /// A reference to an entity that is not one of the five predefined ones.
    #[error("undefined entity &{name}; at byte {position}")]
    UndefinedEntity {
        /// The entity name.
        name: String,
        /// Where the reference is.
        position: u64,
    },
    /// A character reference that is malformed or names a character XML forbids.
    #[error("invalid character reference &{reference}; at byte {position}")]
    InvalidCharReference {
        /// The reference without `&` and `;`.
        reference: String,
        /// Where the reference is.
        position: u64,
    },
    /// A character XML 1.0 forbids (e.g. a C0 control other than TAB, LF, CR).
    #[error("character U+{code:04X} not allowed in XML at byte {position}")]
    InvalidChar {
        /// The code point.
        code: u32,
        /// Where it is.
        position: u64,
    },
    /// The input is not UTF-8.
    #[error("input is not valid UTF-8 at byte {position}")]
    NotUtf8 {
        /// The first invalid byte.
        position: u64,
    },
    /// The XML declaration names an encoding other than UTF-8 (or a UTF-16 byte-order mark).
    #[error("unsupported encoding {encoding:?}: only UTF-8 is accepted")]
    UnsupportedEncoding {
        /// The declared encoding.
        encoding: String,
    },
    /// The XML declaration names a version other than 1.0.
    #[error("unsupported XML version {version:?}: only 1.0 is accepted")]
    UnsupportedVersion {
        /// The declared version.
        version: String,
    },
    /// A [`Limits`] bound was exceeded.
    #[error("limit exceeded at byte {position}: {limit} above {max}")]
    LimitExceeded {
        /// Which bound.
        limit: Limit,
        /// Its configured value.
        max: usize,
        /// Where it was exceeded.
        position: u64,
    },
    /// An end tag does not match the open element.
    #[error("mismatched end tag at byte {position}: expected </{expected}>, found </{found}>")]
    MismatchedEndTag {
        /// The open element's name.
        expected: String,
        /// The end tag found.
        found: String,
        /// Where the end tag is.
        position: u64,
    },
    /// The input ended with elements still open.
    #[error("unexpected end of input: element <{name}> is not closed")]
    UnclosedElement {
        /// The innermost open element.
        name: String,
    },
    /// A prefix used on an element or attribute is not declared.
    #[error("unbound namespace prefix {prefix:?} at byte {position}")]
    UnboundPrefix {
        /// The prefix.
        prefix: String,
        /// Where the element starts.
        position: u64,
    },
    /// Two attributes with the same qualified or expanded name on one element.
    #[error("duplicate attribute {name:?} at byte {position}")]
    DuplicateAttribute {
        /// The attribute's name as written.
        name: String,
        /// Where the element starts.
        position: u64,
    },
    /// A namespace declaration XML Namespaces 1.0 forbids (`xmlns:p=""`, rebinding `xml`
    /// or `xmlns`, binding their URIs to other prefixes).
    #[error("illegal namespace declaration {declaration:?} at byte {position}")]
    IllegalNamespaceDeclaration {
        /// The declaration as written.
        declaration: String,
        /// Where the element starts.
        position: u64,
    },
    /// A name that is not an XML (namespace-well-formed) name.
    #[error("invalid name {name:?} at byte {position}")]
    InvalidName {
        /// The name.
        name: String,
        /// Where it is.
        position: u64,
    },
    /// Markup misplaced at document level: no root, a second root, text outside the root,
    /// an XML declaration not at the start, an end tag without start.
    #[error("not well-formed at byte {position}: {reason}")]
    Structure {
        /// What is wrong.
        reason: &'static str,
        /// Where.
        position: u64,
    },
    /// Any other syntax error reported by the tokenizer.
    #[error("malformed XML at byte {position}: {reason}")]
    Malformed {
        /// The tokenizer's description.
        reason: String,
        /// Where.
        position: u64,
    },
    /// A [`NodeSet`] names a node that is not in this document, or an apex that is not an
    /// element.
    #[error("node-set names node {node}, which is not in this document or not an element")]
    NodeNotElement {
        /// The offending node index.
        node: usize,
    },
    /// A namespace declaration of the canonicalized node-set has a relative URI; the C14N
    /// specifications leave their canonical form undefined, so it is refused (as libxml2 does).
    #[error("relative namespace URI {uri:?} cannot be canonicalized")]
    RelativeNamespaceUri {
        /// The declared URI.
        uri: String,
    },
    /// Writing the canonical form to the sink failed.
    #[error("writing canonical XML: {0}")]
    Write(#[from] std::io::Error),
}
