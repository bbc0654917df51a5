//! PEC (Posta Elettronica Certificata) messages: classification, reading, daticert.xml and
//! building every message a provider emits.
//!
//! * [`classify()`] decides what a message is from its top-level headers only (`X-Ricevuta`,
//!   `X-Trasporto`, `X-TipoRicevuta`, `X-VerificaSicurezza`), never from the subject.
//! * [`parse`] reads a whole PEC message (or the signed inner entity) into a [`PecMessage`]
//!   over the raw bytes: headers, `daticert.xml`, `postacert.eml` (byte-exact, parseable
//!   recursively) and the text part.
//! * [`daticert`] is the typed model of `daticert.xml`, its hardened parser and its writer (the
//!   DTD of RFC 6109 / DM 2 Nov 2005 is in `daticert.dtd` beside this file).
//! * [`zone`] converts instants to Italian civil time (CET/CEST) as daticert writes it.
//! * [`build`] writes envelopes, anomalies, receipts and notices as a provider would; the
//!   result ([`build::Built`]) is the inner entity to sign plus the outer headers; the `smime`
//!   module signs it.
//!
//! The manual chapter [`crate::manual::pec`] explains the choices made where the rules are unclear.

pub mod build;
pub mod classify;
pub mod daticert;
pub mod parse;
pub mod values;
pub mod zone;

pub use build::{Built, IdentifierSource, Provider};
pub use classify::{Classification, Kind, classify, classify_headers};
pub use daticert::{Daticert, Destinatario};
pub use parse::PecMessage;
pub use values::{
    Errore, Ricevuta, TipoDaticert, TipoDestinatario, TipoRicevuta, Trasporto, VerificaSicurezza,
};

/// The DTD of `daticert.xml` (RFC 6109 / DM 2 Nov 2005 allegato), as transcribed in
/// `pec.md` §2.1. Ponte never loads it while parsing; it is shipped for tests and documentation.
pub const DATICERT_DTD: &str = include_str!("daticert.dtd");

/// Errors of this module: input that cannot be read as PEC at all, or a build request that
/// cannot be honoured. What a message *is* (plain mail, unknown receipt type) is never an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not an RFC 5322 message mail-parser can read.
    #[error("not a readable RFC 5322 message")]
    MessageUnreadable,
    /// daticert.xml is larger than the limit Ponte accepts.
    #[error("daticert.xml is {size} bytes, more than the {limit}-byte limit")]
    DaticertTooLarge {
        /// Size of the document.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// daticert.xml nests elements deeper than the limit.
    #[error("daticert.xml nests elements deeper than {limit} levels")]
    DaticertTooDeep {
        /// The limit.
        limit: usize,
    },
    /// daticert.xml is not UTF-8.
    #[error("daticert.xml is not UTF-8 (byte offset {offset})")]
    DaticertNotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// daticert.xml has a DOCTYPE (and possibly entity declarations): refused, nothing is expanded.
    #[error("daticert.xml has a DOCTYPE declaration; DTDs and entity declarations are refused")]
    DaticertDoctype,
    /// daticert.xml references an entity other than the five predefined ones or a character reference.
    #[error(
        "daticert.xml references the undeclared entity `&{0};` (only the five XML entities and character references are allowed)"
    )]
    DaticertEntity(String),
    /// daticert.xml is not well-formed XML.
    #[error("daticert.xml is not well-formed at byte {position}: {message}")]
    DaticertMalformed {
        /// Byte offset where the reader stopped.
        position: u64,
        /// What the XML reader said.
        message: String,
    },
    /// The root element of daticert.xml is not `postacert`.
    #[error("daticert.xml root element is `{0}`, expected `postacert`")]
    DaticertRoot(String),
    /// A required element or attribute of daticert.xml is missing.
    #[error("daticert.xml lacks the required {0}")]
    DaticertMissing(&'static str),
    /// The `data` of daticert.xml (giorno, ora, zona) is not a valid date and time.
    #[error("daticert.xml {field} `{value}` is not valid")]
    DaticertDate {
        /// Which field: `giorno`, `ora` or `zona`.
        field: &'static str,
        /// The value found.
        value: String,
    },
    /// The daticert.xml part is not decodable from its transfer encoding.
    #[error("daticert.xml part cannot be decoded from its transfer encoding")]
    DaticertEncoding,
    /// A build input lacks something the message to build needs.
    #[error("cannot build {what}: {missing}")]
    BuildInput {
        /// The message being built.
        what: &'static str,
        /// What is missing or wrong in the input.
        missing: String,
    },
    /// A value to put into a header contains a line break.
    #[error("header {name} value contains a line break")]
    HeaderInjection {
        /// The header name.
        name: String,
    },
    /// A value to put into a header (or the daticert) contains a control character other
    /// than HTAB (NUL, U+001F, DEL...), which RFC 5322 does not allow to be generated.
    #[error("header {name} value contains the control character 0x{byte:02x}")]
    HeaderControl {
        /// The header name (`daticert` for a daticert value).
        name: String,
        /// The character.
        byte: u8,
    },
}
