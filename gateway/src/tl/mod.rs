//! Trusted lists (ETSI TS 119 612 v2): who is a qualified REM service or a qualified
//! time-stamping unit, since when, reachable where.
//!
//! Split by verb:
//! * [`parse`] reads a `TrustServiceStatusList` (with the crate's [`crate::xml`] reader) into
//!   the typed [`model`]: services with their type, status and status history, digital
//!   identities and `ServiceSupplyPoints`, and the pointers to other lists;
//! * [`verify`] judges a list's enveloped XAdES signature (with [`crate::xades`]) against the
//!   keys that may sign it: those the pointing list gives in `OtherTSLPointer`, or the
//!   configured anchors for a list given directly. The list is then read from the octets the
//!   signature covers, never from the document around them;
//! * [`lookup`] indexes the accepted lists ([`TrustedLists`]) and answers "is this certificate
//!   the digital identity of a granted qualified REM service (or QTST unit) at time T", "which
//!   service has this MX host as supply point";
//! * [`mod@load`] gets lists from files or URLs through [`crate::fetch`], follows a list of lists
//!   to the lists it points at, keeps the last accepted copy of each in a disk [`cache`], and
//!   answers from that copy, with its age, when a source is unreachable or serves a list that
//!   is refused.
//!
//! The chapter `manual::trust` says what is checked and how the gateway uses it.

pub mod cache;
pub mod load;
pub mod lookup;
pub mod model;
pub mod parse;
pub mod verify;

pub use load::{ListOutcome, ListStatus, LoadMode, LoadReport, Sources, load};
pub use lookup::{Match, NotQualified, ServiceInfo, TrustedLists, Verdict, Wanted};
pub use model::{ServiceStatus, ServiceType, TrustedList, TslType};
pub use verify::{ListTrust, Refused};

/// The TS 119 612 v2 namespace (`tsl:`).
pub const NS: &str = "http://uri.etsi.org/02231/v2#";
/// The TS 119 612 additional types namespace (`MimeType` in pointers).
pub const NS_ADDITIONAL: &str = "http://uri.etsi.org/02231/v2/additionaltypes#";
/// The MIME type of an XML trusted list.
pub const MIME_TSL_XML: &str = "application/vnd.etsi.tsl+xml";

/// Errors of this module: a list that cannot be read at all. A list that reads but is not
/// trusted is a [`Refused`] value, not an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The XML could not be read (malformed, DOCTYPE, limits).
    #[error("XML refused: {0}")]
    Xml(#[from] crate::xml::Error),
    /// The root element is not a TS 119 612 v2 `TrustServiceStatusList`.
    #[error("not a TS 119 612 trusted list: the root element is <{0}>")]
    NotATrustedList(String),
    /// A required element is missing.
    #[error("{element} missing in {within}")]
    Missing {
        /// The element.
        element: &'static str,
        /// Where it was expected.
        within: String,
    },
    /// An element's value is not of its type.
    #[error("{element} {value:?} is not {expected}")]
    Value {
        /// The element.
        element: &'static str,
        /// The value as written.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The signature could not be checked at all (canonicalization failed).
    #[error("signature: {0}")]
    Xades(#[from] crate::xades::Error),
    /// The cache folder could not be read or written.
    #[error("trusted-list cache {path}: {reason}")]
    Cache {
        /// The file or folder.
        path: String,
        /// What went wrong.
        reason: String,
    },
}
