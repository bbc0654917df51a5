//! REM (ETSI EN 319 532 / EN 319 522): the ERDS evidence model and the REM message.
//!
//! [`evidence`] reads and writes the evidence document of EN 319 522-3 (with the REM baseline
//! extensions of EN 319 532-4 and the codes of the Italian Policy-IT). [`message`] prepares,
//! builds, reads and verifies the REM message of EN 319 532-3 that carries them. The manual chapter
//! [`crate::manual::rem`] explains the namespaces, the open enums and what is kept verbatim.

pub mod csi;
pub mod evidence;
pub mod message;

/// Errors of this module: an evidence that cannot be read at all, or a model that cannot be
/// written as a schema-valid evidence. (Whether an evidence is *valid* — signature, trust — is
/// a verdict, not an error, and belongs to the verifier.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A REM message unreadable, an original that cannot be prepared, or a message that
    /// cannot be built.
    #[error(transparent)]
    Message(#[from] message::Error),
    /// A capability and security information document unreadable.
    #[error(transparent)]
    Csi(#[from] csi::Error),
    /// The document is larger than the configured limit.
    #[error("evidence is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not UTF-8 (the only encoding accepted for evidence).
    #[error("evidence is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The document holds a character XML 1.0 does not allow (NUL, C0 controls but TAB, CR
    /// and LF, U+FFFE/U+FFFF), written raw or as a character reference.
    #[error("evidence holds U+{code:04X}, not an XML 1.0 character, at offset {offset}")]
    InvalidChar {
        /// The character's code point.
        code: u32,
        /// Offset of the character (or of its reference, or of the element whose attribute
        /// holds it).
        offset: usize,
    },
    /// The XML declaration names an encoding other than UTF-8.
    #[error("evidence declares encoding {encoding:?}; only UTF-8 is accepted")]
    UnsupportedEncoding {
        /// The declared encoding.
        encoding: String,
    },
    /// The document is not well-formed XML (as reported by the XML reader).
    #[error("malformed XML at offset {offset}: {message}")]
    Malformed {
        /// Byte offset where the reader stopped.
        offset: u64,
        /// The reader's description.
        message: String,
    },
    /// A document type declaration: refused, and with it every entity declaration.
    #[error("DOCTYPE (and entity declarations) refused in evidence")]
    Doctype,
    /// A reference to an entity other than the five predefined ones (`&amp;` ...).
    #[error("reference to undeclared entity &{name};")]
    UnknownEntity {
        /// The entity name.
        name: String,
    },
    /// A namespace prefix used but never declared.
    #[error("namespace prefix {prefix:?} is not declared")]
    UnboundPrefix {
        /// The prefix.
        prefix: String,
    },
    /// Elements nested deeper than the configured limit.
    #[error("elements nested deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// An element with more attributes than the configured limit.
    #[error("element {element} has more than {limit} attributes")]
    TooManyAttributes {
        /// The element.
        element: String,
        /// The limit.
        limit: usize,
    },
    /// More elements than the configured limit.
    #[error("more than {limit} elements")]
    TooManyElements {
        /// The limit.
        limit: usize,
    },
    /// No root element.
    #[error("no root element")]
    NoRoot,
    /// Something other than white space, comments or processing instructions after the root.
    #[error("content after the root element at offset {offset}")]
    ContentAfterRoot {
        /// Byte offset of the content.
        offset: usize,
    },
    /// The root element is not `Evidence` in `http://uri.etsi.org/19522/v1#`.
    #[error("root element is {found}, not {{http://uri.etsi.org/19522/v1#}}Evidence")]
    NotEvidence {
        /// The root element found (Clark notation `{namespace}local`).
        found: String,
    },
    /// An element where the schema sequence expects something else (wrong name, wrong
    /// namespace form, wrong order, or not allowed at all).
    #[error("in {parent}: unexpected element {found} (expected {expected})")]
    UnexpectedElement {
        /// The parent element.
        parent: String,
        /// The element found (Clark notation).
        found: String,
        /// What the schema allows there.
        expected: &'static str,
    },
    /// A required element is missing.
    #[error("in {parent}: missing {expected}")]
    MissingElement {
        /// The parent element.
        parent: String,
        /// The missing element.
        expected: &'static str,
    },
    /// Text inside an element whose content is elements only.
    #[error("text {text:?} inside {element}, which holds elements only")]
    UnexpectedText {
        /// The element.
        element: String,
        /// The start of the text.
        text: String,
    },
    /// A required attribute is missing.
    #[error("{element}: missing attribute {attribute}")]
    MissingAttribute {
        /// The element.
        element: String,
        /// The attribute.
        attribute: &'static str,
    },
    /// A value that does not have the schema type.
    #[error("{element}: {value:?} is not {expected}")]
    InvalidValue {
        /// The element or attribute.
        element: String,
        /// The value as read.
        value: String,
        /// The type expected.
        expected: &'static str,
    },
    /// The model cannot be written as a schema-valid evidence.
    #[error("evidence cannot be written: {what}")]
    Unwritable {
        /// What is wrong with the model.
        what: String,
    },
}
