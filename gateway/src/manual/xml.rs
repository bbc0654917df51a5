//! # XML: what Ponte reads, and how it canonicalizes
//!
//! Evidence and signatures arrive from providers Ponte does not control, so the XML reader
//! ([`crate::xml::parse`]) is deliberately small and strict, and the canonicalizer
//! ([`crate::xml::canonicalize`]) is written for the node-sets XML signatures use.
//!
//! ## What is refused
//!
//! * **Any `<!DOCTYPE`**, with or without an internal subset: there is no DTD processing at
//!   all, so no entity expansion (billion laughs), no external entities (XXE), no default
//!   attributes, no ID types. A DOCTYPE declaring entities is reported as an entity
//!   declaration; any other as a DOCTYPE.
//! * **Entities** other than `&lt; &gt; &amp; &apos; &quot;`; character references are
//!   decoded and must name a character XML 1.0 allows.
//! * **Encodings other than UTF-8** (a UTF-8 byte-order mark is accepted) and **XML 1.1**.
//! * **Malformed XML**, each with its byte position: bad UTF-8, forbidden characters,
//!   mismatched or unclosed tags, duplicate attributes (by qualified or by expanded name),
//!   attributes not separated by whitespace, a malformed XML declaration, text or a second
//!   element outside the root, `]]>` in text, `--` in comments, a `xml` PI target.
//! * **Namespace errors**, which some parsers only warn about: unbound prefixes, names that
//!   are not QNames, `xmlns:p=""`, rebinding `xml` or `xmlns`, binding their URIs elsewhere.
//! * At canonicalization time, **relative namespace URIs** (their canonical form is not
//!   defined; libxml2 refuses them too).
//!
//! ## Limits ([`crate::xml::Limits`])
//!
//! | limit | default |
//! |---|---|
//! | input size | 64 MiB |
//! | element depth | 256 |
//! | attributes per element (namespace declarations included) | 1,000 |
//! | nodes (document node, elements, text runs, comments, PIs) | 1,000,000 |
//! | name length | 1,024 bytes |
//!
//! Exceeding one is [`crate::xml::Error::LimitExceeded`] naming the limit, its value and the
//! byte position. Nothing is expanded, so work stays proportional to the input (namespace
//! lookups scan the declarations in scope); canonicalization is iterative (no recursion),
//! so depth never threatens the stack.
//!
//! ## The document
//!
//! A read-only arena in document order: elements (prefix, local name, namespace URI,
//! declarations as written, attributes with their normalized values, byte span in the
//! input), text (CDATA sections and references merged, line ends normalized to LF),
//! comments and processing instructions, including those before and after the root.
//! Attribute values are normalized as an XML processor does for CDATA-type attributes
//! (XML 1.0 §3.3.3: literal TAB, CR, LF and CR LF become one space each; characters
//! written as references are kept). Helpers find children by (namespace, local name),
//! attributes by (namespace, local name), elements by an `Id`-like attribute with
//! duplicates reported ([`crate::xml::IdLookup::Duplicate`]), ancestors and descendants.
//!
//! The document borrows the bytes it was read from: names are slices of the input, and so
//! are values (attribute values, namespace URIs, text) unless reading changed them
//! (references decoded, whitespace or line ends normalized, adjacent runs merged), which are
//! then owned. The children of all nodes share one arena. Reading a signed evidence thus
//! allocates per element only its attribute and declaration lists, not per name or value.
//!
//! ## Canonicalization
//!
//! Methods ([`crate::xml::Method`]), each with and without comments:
//! Canonical XML 1.0, Canonical XML 1.1, Exclusive XML Canonicalization 1.0 with the
//! InclusiveNamespaces `PrefixList` (`#default` included).
//!
//! Node-sets ([`crate::xml::NodeSet`]), the ones XML-DSig produces:
//! the whole document (`URI=""`); an element subtree (`URI="#id"`); either minus whole
//! subtrees — the enveloped-signature transform, and XPath Filter 2.0 `subtract` of
//! `/descendant::ds:Signature` (every `ds:Signature`, as EU DSS emits). General XPath
//! node-sets are not supported.
//!
//! For a subtree, the inclusive methods output the namespaces in scope from the omitted
//! ancestors on the apex. C14N 1.0 also gives the apex the `xml:*` attributes of its
//! ancestors; C14N 1.1 does the same except `xml:id`, and **simplifies `xml:base`
//! fixup**: the nearest ancestor's value is inherited as written, without joining relative
//! URIs (the evidence profile never uses `xml:base`).
//!
//! Namespace declarations are escaped like attribute values. libxml2 (`xmllint --c14n`)
//! writes them unescaped, which is not well-formed when a URI holds `&` or `"`; Ponte
//! follows the specification, and the test suite documents the difference.
//!
//! ## How it is checked
//!
//! `tests/c14n.rs`: byte equality with `xmllint --c14n / --c14n11 / --exc-c14n` on the
//! hand-written documents of `tests/data/c14n/` (whole documents, their subtrees, documents
//! minus signatures), the digests of the AgID kit's evidences (made by EU DSS) recomputed,
//! mutated documents compared with libxml2, and the refusals above.
