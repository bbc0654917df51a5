//! Correlation: per translated message, the identifiers on both sides (PEC identificativo and
//! Message-ID, REM Message-ID, REM-UAMessageIdentifier, evidence ids, the output's Message-ID),
//! so that a receipt arriving later finds the message it is about.
//!
//! [`Store`] is the seam: [`FileStore`] (JSON Lines, one record per line, safe for several
//! threads and several processes appending to the same file) for now, the gateway's spool
//! later; [`MemoryStore`] for tests. [`Store::find`] matches any identifier of a record, with
//! or without the angle brackets of a Message-ID.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod file;
mod memory;

pub use file::{FileStore, Scan, SkippedLine};
pub use memory::MemoryStore;

/// Errors of the correlation store. A torn or malformed line in a file is not an error: it is
/// reported in [`Scan::skipped`] and logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store file could not be opened, read, written or synced.
    #[error("{}: {source}", path.display())]
    Io {
        /// The store file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A record could not be serialised (it never contains anything JSON cannot hold; this
    /// guards serde_json's own failure modes).
    #[error("correlation record not serialisable: {0}")]
    Serialize(String),
    /// A record was refused before being stored (an identifier with a line break, say).
    #[error("correlation record refused: {0}")]
    Invalid(String),
}

/// Which way a message was translated. Serialised as `pec-to-rem` / `rem-to-pec`; a value
/// written by another version is carried as [`Direction::Other`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A PEC message became a REM message.
    PecToRem,
    /// A REM message became a PEC message.
    RemToPec,
    /// Any other value, kept as read.
    Other(String),
}

impl Direction {
    /// The serialised form.
    pub fn as_str(&self) -> &str {
        match self {
            Direction::PecToRem => "pec-to-rem",
            Direction::RemToPec => "rem-to-pec",
            Direction::Other(s) => s,
        }
    }
}

impl From<&str> for Direction {
    fn from(s: &str) -> Self {
        match s {
            "pec-to-rem" => Direction::PecToRem,
            "rem-to-pec" => Direction::RemToPec,
            other => Direction::Other(other.to_owned()),
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Direction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Direction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Direction::from(s.as_str()))
    }
}

/// One translated message and its identifiers on both sides. One JSON object per line in a
/// [`FileStore`]; fields added by later versions are ignored when read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Which way the message was translated.
    pub direction: Direction,
    /// When it was translated (RFC 3339).
    pub created: String,
    /// The PEC `identificativo` (daticert) / `X-Riferimento-Message-ID` of the PEC side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pec_identificativo: Option<String>,
    /// The PEC message's `Message-ID` (daticert `msgid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pec_msgid: Option<String>,
    /// The REM message's `Message-ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rem_message_id: Option<String>,
    /// The user's original Message-ID (`REM-UAMessageIdentifier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rem_ua_message_id: Option<String>,
    /// The REM evidence identifiers (`REM-Evidence-ID`, evidence `EvidenceIdentifier`).
    #[serde(default)]
    pub evidence_ids: Vec<String>,
    /// What was translated (the input's name or path), for operators.
    pub input: String,
    /// The `Message-ID` of the message Ponte produced.
    pub output_message_id: String,
    /// What kind of message was produced (e.g. `dispatch`, `avvenuta-consegna`).
    pub kind: String,
    /// The facts of a dispatch that later receipts about it need (absent on receipts and on
    /// records written before they existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch: Option<DispatchFacts>,
    /// The sender's identity assurance the evidence states (`SenderDetails /
    /// AssuranceLevelsDetails`): what Ponte stated from the holders' source (PEC → REM), or
    /// what the incoming evidence stated (REM → PEC); absent: none stated ("basic").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_assurance: Option<SenderAssurance>,
}

/// The sender's identity assurance, as a REM evidence states it in the REM baseline form
/// (`GlobalAssuranceLevel` + `AuthenticationDetails`, EN 319 532-4 C.3.4 p): `ponte translate
/// --json` prints it as `sender_assurance`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderAssurance {
    /// `AssuranceLevel`: the level's URI (`http://eidas.europa.eu/LoA/substantial`).
    pub level: String,
    /// The eIDAS level's name (`low`, `substantial`, `high`), when the URI is one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loa: Option<String>,
    /// `PolicyID`: the policy defining the levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// `AuthenticationTime` (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_time: Option<String>,
    /// `AuthenticationMethod`: the method's URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<String>,
    /// The method's name in the holders' records (`spid`, `cie`, ...), when Ponte stated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Whether access to the mailbox uses two factors, when Ponte stated it from the holders'
    /// records (the evidence has no element for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<bool>,
    /// Who said so: `holders` (the holders' source), `holders+platform` (the holders' source
    /// and the PEC platform's per-submission authentication), `evidence` (an incoming
    /// evidence, named by its issuer in `asserted_by`).
    pub source: String,
    /// Whose statement it is: the issuer of the evidence (its legal name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asserted_by: Option<String>,
}

/// What a REM receipt about a translated dispatch must repeat: the digest of the prepared
/// original (`REM-DigestValue`, PartInfo), the submission time, the parties and the subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchFacts {
    /// Base64 SHA-256 of the prepared original.
    pub digest: String,
    /// T0, the submission time (RFC 3339).
    pub submission_time: String,
    /// The sender's address.
    pub sender: String,
    /// The recipients' addresses.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// The original subject.
    #[serde(default)]
    pub subject: String,
}

impl Record {
    /// Every identifier of the record, as stored.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        [
            self.pec_identificativo.as_deref(),
            self.pec_msgid.as_deref(),
            self.rem_message_id.as_deref(),
            self.rem_ua_message_id.as_deref(),
            Some(self.output_message_id.as_str()),
        ]
        .into_iter()
        .flatten()
        .chain(self.evidence_ids.iter().map(String::as_str))
    }

    /// Whether `id` (with or without `<>`, surrounding spaces ignored) is one of the record's
    /// identifiers. Identifiers compare exactly otherwise (Message-IDs are case-sensitive).
    pub fn matches(&self, id: &str) -> bool {
        let want = normalize_id(id);
        !want.is_empty() && self.ids().any(|have| normalize_id(have) == want)
    }

    /// Refuses identifiers that would break the one-line-per-record form or never match.
    pub fn validate(&self) -> Result<(), Error> {
        for id in self.ids().chain([self.input.as_str(), self.kind.as_str()]) {
            if id.contains(['\r', '\n']) {
                return Err(Error::Invalid(format!("{id:?} contains a line break")));
            }
        }
        Ok(())
    }
}

/// An identifier without surrounding spaces and without one pair of angle brackets.
pub fn normalize_id(id: &str) -> &str {
    let t = id.trim();
    t.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(t)
        .trim()
}

/// Where correlation records are kept.
pub trait Store: Send + Sync {
    /// Stores one record durably (for a file: appended and synced before returning).
    fn record(&self, r: &Record) -> Result<(), Error>;
    /// Every record having `id` among its identifiers (with or without `<>`), oldest first.
    fn find(&self, id: &str) -> Result<Vec<Record>, Error>;
    /// The REM services found by discovery that the output whose `Message-ID` is `id` (with
    /// or without `<>`) was delivered to, one per delivery ([`DeliveredService`]): evidence
    /// about that output must be signed by one of them. Empty: it went to no discovered peer
    /// (or this store does not know: a file store of the CLI).
    fn delivered_services(&self, id: &str) -> Result<Vec<DeliveredService>, Error> {
        let _ = id;
        Ok(Vec::new())
    }
}

/// One delivery of an output to a REM peer found by discovery (EN 319 532-4 C.2.3.3.3) and
/// the service it was delivered to: the granted qualified REM service of the trusted lists
/// whose supply point the MX host is. Recorded by the gateway's spool when the delivery is
/// sent; evidence that comes back about the output (a REM receipt) must be signed by that
/// service's digital identity (EN 319 522-2: the recipient's ERDS issues it), whatever other
/// qualified service might have signed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredService {
    /// The spool's delivery number.
    pub delivery: u64,
    /// The output's `Message-ID` (as the spool has it, with `<>`).
    pub message_id: String,
    /// The recipients of that delivery.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// The MX host it was sent to.
    pub host: String,
    /// The service's name in the list.
    pub service_name: String,
    /// Its trust service provider's name.
    pub tsp_name: String,
    /// The list that names it (its source).
    pub list: String,
    /// The service's digital identity certificates (base64 DER).
    pub identities: Vec<String>,
    /// When it was recorded (RFC 3339).
    pub at: String,
}

impl DeliveredService {
    /// The DER of the identity certificates (an unreadable entry is skipped: it matches
    /// nothing).
    pub fn identity_ders(&self) -> Vec<Vec<u8>> {
        use base64::Engine;
        self.identities
            .iter()
            .filter_map(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .collect()
    }

    /// Whether the certificate `der` (with public key `spki`) is the service's digital
    /// identity: one of its certificates, or the public key of one (TS 119 612 5.5.3).
    pub fn is_identity(&self, der: &[u8], spki: &[u8]) -> bool {
        self.identity_ders().iter().any(|id| {
            id.as_slice() == der
                || crate::x509::Certificate::from_der(id).is_ok_and(|c| c.spki_der == spki)
        })
    }

    /// One line: which service, of which TSP, in which list, reached at which MX host.
    pub fn describe(&self) -> String {
        format!(
            "\"{}\" of \"{}\" in {} (delivery {} to MX {})",
            self.service_name, self.tsp_name, self.list, self.delivery, self.host
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(n: usize) -> Record {
        Record {
            direction: Direction::PecToRem,
            created: "2026-11-24T21:00:00Z".into(),
            pec_identificativo: Some(format!("opec{n}.20261124@pec.prova.test")),
            pec_msgid: Some(format!("<user{n}@mittente.test>")),
            rem_message_id: Some(format!("<rem{n}@rem.prova.test>")),
            rem_ua_message_id: Some(format!("<user{n}@mittente.test>")),
            evidence_ids: vec![format!("ev-{n}-a"), format!("ev-{n}-b")],
            input: format!("in{n}.eml"),
            output_message_id: format!("<out{n}@rem.prova.test>"),
            kind: "dispatch".into(),
            dispatch: None,
            sender_assurance: None,
        }
    }

    #[test]
    fn ids_match_with_or_without_brackets() {
        let r = sample(1);
        assert!(r.matches("user1@mittente.test"));
        assert!(r.matches(" <rem1@rem.prova.test> "));
        assert!(r.matches("<opec1.20261124@pec.prova.test>"));
        assert!(r.matches("ev-1-b"));
        assert!(r.matches("out1@rem.prova.test"));
        assert!(!r.matches("USER1@mittente.test"));
        assert!(!r.matches("<>"));
        assert!(!r.matches("in1.eml"));
    }

    #[test]
    fn direction_is_open() {
        let mut r = sample(2);
        r.direction = Direction::from("sideways");
        let line = serde_json::to_string(&r).unwrap_or_default();
        assert!(line.contains("\"direction\":\"sideways\""), "{line}");
        let back: Record = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, r);
        assert_eq!(Direction::from("rem-to-pec"), Direction::RemToPec);
    }

    #[test]
    fn stores_are_shareable() {
        fn shareable<T: Send + Sync>() {}
        shareable::<FileStore>();
        shareable::<MemoryStore>();
        shareable::<std::sync::Arc<dyn Store>>();
    }

    #[test]
    fn line_breaks_are_refused() {
        let mut r = sample(3);
        r.evidence_ids.push("a\nb".into());
        assert!(matches!(r.validate(), Err(Error::Invalid(_))));
    }
}
