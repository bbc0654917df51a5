//! The REM message of EN 319 532-3 (the REM baseline of EN 319 532-4): a `multipart/signed`
//! S/MIME message whose signed `multipart/mixed` holds an introduction, the original message
//! (dispatch), extensions and the ERDS evidences, with the REM-* relay metadata in the top
//! header (532-3 §6.2.1, Table C.26 of 532-4).
//!
//! Split by verb:
//! * [`prepare`]: the original message as the S-REMS attaches it (REMS Message-ID,
//!   `REM-UAMessageIdentifier`, CRLF, one final CRLF) and its digest (532-3 §6.2.4, rem.md §4.6);
//! * [`mod@build`]: the whole signed REM message;
//! * [`parse()`]: the sections and the metadata of a REM message (open to what others write);
//! * [`verify()`]: S/MIME signature and trust, every evidence's XAdES signature, and the
//!   consistency of the original's digest with the header and the evidences — as verdicts.
//!
//! The manual chapter [`crate::manual::rem`] explains the choices.

pub mod build;
pub mod parse;
pub mod prepare;
pub mod verify;
mod wire;

pub use build::{BuildInput, Original, build};
pub use parse::{EvidencePart, ExtensionPart, RemMessage, SectionType, parse};
pub use prepare::{
    Prepared, PreparedOriginal, digest_original, prepare_borrowed, prepare_original,
    prepare_original_with,
};
pub use verify::{
    DigestCheck, EvidenceCheck, RemVerdict, UaMessageIdCheck, VerifyOptions, verify, verify_with,
};

use crate::rem::evidence::{Event, Reason};

/// `REM-MetadataVersion` of EN 319 532-3 V1.2.1 (`EN31953203` + `V` + major/minor/patch).
pub const METADATA_VERSION: &str = "EN31953203V010201";
/// The prefix of the ERDMessageType URIs (EN 319 522-3).
pub const MESSAGE_TYPE_URI_PREFIX: &str = "http://uri.etsi.org/19522/v1#/ERDMessageType/";
/// `REM-DigestAlgorithm` for SHA-256 (RFC 6931 / XML Encryption).
pub const DIGEST_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// Names of the REM-* relay-metadata header fields (EN 319 532-3 §6.2.1, 532-4 Table C.26).
pub mod header {
    /// `REM-MetadataVersion`.
    pub const METADATA_VERSION: &str = "REM-MetadataVersion";
    /// `REM-RelayDate`.
    pub const RELAY_DATE: &str = "REM-RelayDate";
    /// `REM-ApplicablePolicy` (one field per policy).
    pub const APPLICABLE_POLICY: &str = "REM-ApplicablePolicy";
    /// `REM-MessageType`.
    pub const MESSAGE_TYPE: &str = "REM-MessageType";
    /// `REM-DigestAlgorithm`.
    pub const DIGEST_ALGORITHM: &str = "REM-DigestAlgorithm";
    /// `REM-DigestValue`.
    pub const DIGEST_VALUE: &str = "REM-DigestValue";
    /// `REM-UAMessageIdentifier`.
    pub const UA_MESSAGE_IDENTIFIER: &str = "REM-UAMessageIdentifier";
    /// `REM-EventIdentifier`.
    pub const EVENT_IDENTIFIER: &str = "REM-EventIdentifier";
    /// `REM-Evidence-ID`.
    pub const EVIDENCE_ID: &str = "REM-Evidence-ID";
    /// `REM-ReasonIdentifier` (one field per reason).
    pub const REASON_IDENTIFIER: &str = "REM-ReasonIdentifier";
    /// `REM-MD08` (the sender).
    pub const MD08: &str = "REM-MD08";
    /// `REM-RelayToNonERDS` (AgID Policy-IT).
    pub const RELAY_TO_NON_ERDS: &str = "REM-RelayToNonERDS";
    /// `REM-Section-Type` (on the parts of the signed `multipart/mixed`).
    pub const SECTION_TYPE: &str = "REM-Section-Type";
}

/// Errors of this module: input that cannot be read as a REM message, an original that cannot
/// be prepared, or build inputs that cannot make a valid message. Whether a message is *valid*
/// (signatures, trust, digests) is a verdict ([`RemVerdict`]), not an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a MIME message (or the MIME parser failed on them).
    #[error(transparent)]
    Mime(#[from] crate::mime::Error),
    /// The message could not be signed.
    #[error(transparent)]
    Smime(#[from] crate::smime::Error),
    /// The original message has no header section (no line before the first empty line).
    #[error("original message has no header section")]
    OriginalNoHeader,
    /// The original message has no `Message-ID` field, so there is no user identifier to keep
    /// in `REM-UAMessageIdentifier` (Ponte does not invent one).
    #[error("original message has no Message-ID header field")]
    OriginalNoMessageId,
    /// The original message has more than one `Message-ID` field.
    #[error("original message has {count} Message-ID header fields")]
    OriginalManyMessageIds {
        /// How many.
        count: usize,
    },
    /// The original message's `Message-ID` is empty.
    #[error("original message has an empty Message-ID")]
    OriginalEmptyMessageId,
    /// The original message already carries `REM-UAMessageIdentifier` (already prepared).
    #[error("original message already carries REM-UAMessageIdentifier: it was prepared before")]
    OriginalAlreadyPrepared,
    /// The original given to the builder is not in prepared form.
    #[error("original is not prepared: {0}")]
    OriginalNotPrepared(&'static str),
    /// A message identifier is not `<id-left@id-right>`-like printable ASCII.
    #[error("{what} {value:?} is not a message identifier (printable ASCII, no spaces)")]
    BadMessageId {
        /// Which identifier.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A header value given to the builder holds a line break or NUL.
    #[error("header field {name}: value holds a line break or NUL")]
    BadHeaderValue {
        /// The field.
        name: String,
    },
    /// An evidence event name cannot be a file name (`<Event>.xml`).
    #[error("evidence event name {0:?} is not a plain name (letters, digits, '_' and '-')")]
    BadEventName(String),
    /// The digest of the original given to the builder is not `REM-DigestValue`.
    #[error("REM-DigestValue {header} is not the digest of the original ({computed})")]
    DigestMismatch {
        /// The metadata's value.
        header: String,
        /// The digest of the original given.
        computed: String,
    },
    /// The message type and the presence of the original disagree (a dispatch or payload
    /// carries exactly one original; a receipt or notification none).
    #[error("a {message_type} message {what}")]
    OriginalPresence {
        /// The `REM-MessageType` URI.
        message_type: String,
        /// What is wrong.
        what: &'static str,
    },
    /// The builder was given no recipient.
    #[error("no recipient (To)")]
    NoRecipient,
    /// The date cannot be written in RFC 5322 form.
    #[error("date not representable: {0}")]
    Date(String),
    /// A mandatory REM-* header field is missing.
    #[error("missing header field {0}")]
    MissingHeader(&'static str),
    /// A REM-* header field that may occur once occurs more often.
    #[error("header field {name} occurs {count} times (at most once allowed)")]
    DuplicateHeader {
        /// The field.
        name: &'static str,
        /// How many times.
        count: usize,
    },
    /// A REM-* header field is present but empty.
    #[error("header field {0} is empty")]
    EmptyHeader(&'static str),
    /// The signed content is not `multipart/mixed`.
    #[error("the REM content is {0}, not multipart/mixed")]
    NotMixed(String),
    /// A section occurs more often than EN 319 532-3 allows.
    #[error("{count} {section} sections (at most one allowed)")]
    TooManySections {
        /// The section type.
        section: &'static str,
        /// How many.
        count: usize,
    },
    /// A part body could not be decoded.
    #[error("part {part}: {reason}")]
    BadPart {
        /// Which part (file name or section).
        part: String,
        /// Why.
        reason: String,
    },
}

/// The ERD message type (`REM-MessageType`, EN 319 522-3 `ERDMessageType` URIs): an open enum.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// `.../ERDMessageType/dispatch`: the user content and its evidence.
    Dispatch,
    /// `.../ERDMessageType/receipt`: an evidence for the sender.
    Receipt,
    /// `.../ERDMessageType/payload`: the user content without evidence.
    Payload,
    /// `.../ERDMessageType/notification`: a notification to the recipient.
    Notification,
    /// Any other value, kept as read.
    Other(String),
}

impl MessageType {
    /// The URI (for [`MessageType::Other`], the value as read).
    pub fn uri(&self) -> String {
        match self {
            MessageType::Dispatch => format!("{MESSAGE_TYPE_URI_PREFIX}dispatch"),
            MessageType::Receipt => format!("{MESSAGE_TYPE_URI_PREFIX}receipt"),
            MessageType::Payload => format!("{MESSAGE_TYPE_URI_PREFIX}payload"),
            MessageType::Notification => format!("{MESSAGE_TYPE_URI_PREFIX}notification"),
            MessageType::Other(v) => v.clone(),
        }
    }

    /// Reads a URI: one of the four, else [`MessageType::Other`] with the value unchanged.
    pub fn from_uri(uri: &str) -> MessageType {
        match uri.strip_prefix(MESSAGE_TYPE_URI_PREFIX) {
            Some("dispatch") => MessageType::Dispatch,
            Some("receipt") => MessageType::Receipt,
            Some("payload") => MessageType::Payload,
            Some("notification") => MessageType::Notification,
            _ => MessageType::Other(uri.to_string()),
        }
    }

    /// Whether the message carries the original (dispatch and payload).
    pub fn carries_original(&self) -> bool {
        matches!(self, MessageType::Dispatch | MessageType::Payload)
    }
}

/// The REM-* relay metadata of the top header (EN 319 532-3 §6.2.1, 532-4 Table C.26).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayMetadata {
    /// `REM-MetadataVersion` ([`METADATA_VERSION`]).
    pub metadata_version: String,
    /// `REM-MessageType`.
    pub message_type: MessageType,
    /// `REM-EventIdentifier`: the event of the (main) evidence carried.
    pub event: Event,
    /// `REM-Evidence-ID`: that evidence's identifier, with `<>`.
    pub evidence_id: String,
    /// `REM-ReasonIdentifier`: one field per reason, in order.
    pub reasons: Vec<Reason>,
    /// `REM-DigestAlgorithm` (URI, e.g. [`DIGEST_SHA256`]).
    pub digest_algorithm: String,
    /// `REM-DigestValue`: base64 digest of the prepared original.
    pub digest_value: String,
    /// `REM-UAMessageIdentifier`: the user's Message-ID, with `<>`.
    pub ua_message_id: String,
    /// `REM-MD08`: the sender (`"Name" <address>`).
    pub md08: String,
    /// `REM-ApplicablePolicy`: one field per policy URI, in order.
    pub applicable_policies: Vec<String>,
    /// `REM-RelayToNonERDS` (Italian profile; `evidence-required`).
    pub relay_to_non_erds: Option<String>,
    /// `REM-RelayDate` (RFC 5322 date as written).
    pub relay_date: Option<String>,
    /// Any other `REM-*` field (name as written, value), kept in order.
    pub other: Vec<(String, String)>,
}

impl RelayMetadata {
    /// The header fields, in the order of the AgID kit: MetadataVersion, RelayDate,
    /// ApplicablePolicy..., MessageType, DigestAlgorithm, DigestValue, UAMessageIdentifier,
    /// EventIdentifier, Evidence-ID, ReasonIdentifier..., MD08, RelayToNonERDS, then the others.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = Vec::with_capacity(12 + self.other.len());
        let mut push = |n: &str, v: &str| h.push((n.to_string(), v.to_string()));
        push(header::METADATA_VERSION, &self.metadata_version);
        if let Some(d) = &self.relay_date {
            push(header::RELAY_DATE, d);
        }
        for p in &self.applicable_policies {
            push(header::APPLICABLE_POLICY, p);
        }
        push(header::MESSAGE_TYPE, &self.message_type.uri());
        push(header::DIGEST_ALGORITHM, &self.digest_algorithm);
        push(header::DIGEST_VALUE, &self.digest_value);
        push(header::UA_MESSAGE_IDENTIFIER, &self.ua_message_id);
        push(header::EVENT_IDENTIFIER, self.event.uri());
        push(header::EVIDENCE_ID, &self.evidence_id);
        for r in &self.reasons {
            push(header::REASON_IDENTIFIER, r.uri());
        }
        push(header::MD08, &self.md08);
        if let Some(v) = &self.relay_to_non_erds {
            push(header::RELAY_TO_NON_ERDS, v);
        }
        for (n, v) in &self.other {
            push(n, v);
        }
        h
    }

    /// Reads the metadata from the (unfolded) top header fields; fields not starting with
    /// `REM-` are ignored, unknown `REM-*` fields go to [`RelayMetadata::other`]. Names match
    /// case-insensitively; values are trimmed.
    ///
    /// Mandatory (REM baseline): MetadataVersion, MessageType, EventIdentifier, Evidence-ID,
    /// DigestAlgorithm, DigestValue, UAMessageIdentifier, MD08 — a missing one is
    /// [`Error::MissingHeader`], a repeated one [`Error::DuplicateHeader`].
    pub fn from_headers(fields: &[(String, String)]) -> Result<RelayMetadata, Error> {
        let all = |name: &'static str| -> Vec<&str> {
            fields
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
                .collect()
        };
        let optional = |name: &'static str| -> Result<Option<String>, Error> {
            let v = all(name);
            match v.as_slice() {
                [] => Ok(None),
                [""] => Err(Error::EmptyHeader(name)),
                [one] => Ok(Some((*one).to_string())),
                more => Err(Error::DuplicateHeader {
                    name,
                    count: more.len(),
                }),
            }
        };
        let required = |name: &'static str| -> Result<String, Error> {
            optional(name)?.ok_or(Error::MissingHeader(name))
        };
        let known = [
            header::METADATA_VERSION,
            header::RELAY_DATE,
            header::APPLICABLE_POLICY,
            header::MESSAGE_TYPE,
            header::DIGEST_ALGORITHM,
            header::DIGEST_VALUE,
            header::UA_MESSAGE_IDENTIFIER,
            header::EVENT_IDENTIFIER,
            header::EVIDENCE_ID,
            header::REASON_IDENTIFIER,
            header::MD08,
            header::RELAY_TO_NON_ERDS,
        ];
        let other = fields
            .iter()
            .filter(|(n, _)| {
                n.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("REM-"))
                    && !known.iter().any(|k| n.eq_ignore_ascii_case(k))
            })
            .map(|(n, v)| (n.clone(), v.trim().to_string()))
            .collect();
        Ok(RelayMetadata {
            metadata_version: required(header::METADATA_VERSION)?,
            message_type: MessageType::from_uri(&required(header::MESSAGE_TYPE)?),
            event: Event::from_uri(&required(header::EVENT_IDENTIFIER)?),
            evidence_id: required(header::EVIDENCE_ID)?,
            reasons: all(header::REASON_IDENTIFIER)
                .into_iter()
                .filter(|v| !v.is_empty())
                .map(Reason::from_uri)
                .collect(),
            digest_algorithm: required(header::DIGEST_ALGORITHM)?,
            digest_value: required(header::DIGEST_VALUE)?,
            ua_message_id: required(header::UA_MESSAGE_IDENTIFIER)?,
            md08: required(header::MD08)?,
            applicable_policies: all(header::APPLICABLE_POLICY)
                .into_iter()
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect(),
            relay_to_non_erds: optional(header::RELAY_TO_NON_ERDS)?,
            relay_date: optional(header::RELAY_DATE)?,
            other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_types_are_open() {
        for t in [
            MessageType::Dispatch,
            MessageType::Receipt,
            MessageType::Payload,
            MessageType::Notification,
        ] {
            assert_eq!(MessageType::from_uri(&t.uri()), t);
        }
        let odd = "http://uri.etsi.org/19522/v1#/ERDMessageType/other";
        assert_eq!(
            MessageType::from_uri(odd),
            MessageType::Other(odd.to_string())
        );
        assert_eq!(MessageType::Other(odd.into()).uri(), odd);
    }

    fn fields() -> Vec<(String, String)> {
        [
            ("REM-MetadataVersion", METADATA_VERSION),
            (
                "REM-MessageType",
                "http://uri.etsi.org/19522/v1#/ERDMessageType/receipt",
            ),
            (
                "rem-eventidentifier",
                "http://uri.etsi.org/19522/Event/RelayFailure",
            ),
            ("REM-Evidence-ID", "<e@x>"),
            ("REM-DigestAlgorithm", DIGEST_SHA256),
            ("REM-DigestValue", "abc="),
            ("REM-UAMessageIdentifier", "<u@x>"),
            ("REM-MD08", "<s@x>"),
            (
                "REM-ReasonIdentifier",
                "http://uri.etsi.org/19522/EventReason/Foo",
            ),
            ("REM-G02", "x"),
            ("Subject", "s"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn metadata_round_trips_and_names_what_is_missing() {
        let m = RelayMetadata::from_headers(&fields()).expect("metadata");
        assert_eq!(m.event, Event::RelayFailure);
        assert_eq!(m.other, vec![("REM-G02".to_string(), "x".to_string())]);
        assert_eq!(m.reasons.len(), 1);
        assert_eq!(RelayMetadata::from_headers(&m.headers()).ok(), Some(m));
        let without: Vec<_> = fields()
            .into_iter()
            .filter(|(n, _)| n != "REM-MD08")
            .collect();
        assert!(matches!(
            RelayMetadata::from_headers(&without),
            Err(Error::MissingHeader("REM-MD08"))
        ));
        let mut twice = fields();
        twice.push(("REM-DigestValue".into(), "x".into()));
        assert!(matches!(
            RelayMetadata::from_headers(&twice),
            Err(Error::DuplicateHeader {
                name: "REM-DigestValue",
                count: 2
            })
        ));
    }
}
