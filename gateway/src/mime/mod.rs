//! MIME for signatures: the canonical (CRLF) form of a stored message, and the exact bytes of
//! what an S/MIME signature covers.
//!
//! Split by verb: [`canonical`] (line endings) and [`signed`] (locating the signed entity and
//! the signature). Parts are never decoded and re-encoded: the signed bytes are sliced out of
//! the message with mail-parser's raw offsets.

pub mod canonical;
pub mod hole;
pub mod outline;
pub mod parse;
pub mod scan;
pub mod signed;
pub mod source;
pub mod tree;
pub mod write;

pub use canonical::canonicalize;
pub use outline::outline;
pub use signed::{Located, locate};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a MIME message at all (no header section).
    #[error("not a MIME message: {0}")]
    NotMime(String),
    /// The MIME parser failed on this input (it panicked; the panic was contained). The
    /// message is treated as unreadable.
    #[error("the MIME structure could not be parsed (parser failure on malformed input)")]
    ParserFailure,
    /// A multipart/signed whose structure is broken.
    #[error("multipart/signed malformed: {0}")]
    SignedStructure(String),
}
