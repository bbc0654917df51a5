//! The typed model of the tables. Field names are those of the TOML files; the same model is
//! what `ponte mappings show --json` prints.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// All four tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tables {
    /// `events.toml`: PEC message types ⇄ REM messages, events and reasons.
    pub events: EventTable,
    /// `headers.toml`: PEC header fields ⇄ REM header fields.
    pub headers: HeaderTable,
    /// `subjects.toml`: subject prefixes on both sides.
    pub subjects: SubjectTable,
    /// `intro.toml`: bilingual introduction texts per REM message kind.
    pub intro: IntroTable,
}

/// `events.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTable {
    /// The rows, in file order.
    pub row: Vec<EventRow>,
}

/// Which way a row is used when translating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Used only when a PEC message is translated into REM.
    PecToRem,
    /// Used only when a REM message is translated into PEC.
    RemToPec,
    /// Used both ways.
    Both,
}

impl Direction {
    /// The spelling of the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::PecToRem => "pec-to-rem",
            Direction::RemToPec => "rem-to-pec",
            Direction::Both => "both",
        }
    }

    /// Whether the row is used from PEC to REM.
    pub fn pec_to_rem(self) -> bool {
        matches!(self, Direction::PecToRem | Direction::Both)
    }

    /// Whether the row is used from REM to PEC.
    pub fn rem_to_pec(self) -> bool {
        matches!(self, Direction::RemToPec | Direction::Both)
    }
}

/// Review status of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reviewed {
    /// Checked against the cited text.
    Yes,
    /// Ponte's own reasoned choice where no text decides (the `note` or `lost` says why).
    Derived,
}

impl Reviewed {
    /// The spelling of the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Reviewed::Yes => "yes",
            Reviewed::Derived => "derived",
        }
    }
}

/// The PEC side of an event row: the message type and, when the row depends on them, the
/// daticert error class, the `errore-esteso` status prefix and whether the notice is final.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PecSide {
    /// Ponte's PEC type name: one of the 8 daticert `tipo` values, or `anomalia`.
    pub kind: String,
    /// daticert `errore` class (`no-dest`, `no-dominio`, `virus`, `altro`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errore: Option<String>,
    /// Enhanced status code prefix of `errore-esteso` (e.g. `5.1.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errore_esteso_prefix: Option<String>,
    /// For `preavviso-errore-consegna`: the final (24 h) notice rather than the 12 h warning.
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub is_final: Option<bool>,
}

impl PecSide {
    /// `kind[/errore][ esteso=prefix][ final]`, as shown to operators and in problems.
    pub fn key(&self) -> String {
        let mut s = self.kind.clone();
        if let Some(e) = &self.errore {
            s.push('/');
            s.push_str(e);
        }
        if let Some(p) = &self.errore_esteso_prefix {
            s.push_str(" esteso=");
            s.push_str(p);
        }
        if self.is_final == Some(true) {
            s.push_str(" final");
        }
        s
    }
}

/// The REM side of an event row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemSide {
    /// REM message type: `dispatch`, `receipt`, `payload`, `notification`, or `none` (nothing
    /// is sent).
    pub message: String,
    /// ERDS event name of EN 319 522-1 Table 1 (e.g. `RelayFailure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Reason short code (e.g. `RB03`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl RemSide {
    /// `message[ event][ reason]`, as shown to operators and in problems.
    pub fn key(&self) -> String {
        let mut s = self.message.clone();
        for part in [&self.event, &self.reason].into_iter().flatten() {
            s.push(' ');
            s.push_str(part);
        }
        s
    }
}

/// The REM message types a row may name (`none`: nothing is sent).
pub const REM_MESSAGES: &[&str] = &["dispatch", "receipt", "payload", "notification", "none"];

/// One correspondence of `events.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRow {
    /// Unique row identifier (named in every problem about the row).
    pub id: String,
    /// Which way the row is used.
    pub direction: Direction,
    /// The PEC side.
    pub pec: PecSide,
    /// The REM side.
    pub rem: RemSide,
    /// Whether REM issues one evidence per recipient.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_recipient: bool,
    /// The clauses the row rests on (never empty in valid tables).
    pub sources: Vec<String>,
    /// Review status.
    pub reviewed: Reviewed,
    /// What does not survive the translation, and why (empty: nothing).
    pub lost: String,
    /// Why a derived choice was made, or other remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `headers.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderTable {
    /// The rows, in file order.
    pub row: Vec<HeaderRow>,
}

/// One header correspondence. An empty side means the field has no counterpart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRow {
    /// The PEC header field (or daticert element); empty when REM-only.
    pub pec: String,
    /// The REM header field (532-3 names, no `X-` prefix); empty when PEC-only.
    pub rem: String,
    /// How the value is carried across.
    pub how: String,
    /// The clauses the row rests on.
    pub sources: Vec<String>,
}

impl HeaderRow {
    /// `pec <-> rem`, naming the row in problems.
    pub fn key(&self) -> String {
        format!(
            "{} <-> {}",
            if self.pec.is_empty() { "-" } else { &self.pec },
            if self.rem.is_empty() { "-" } else { &self.rem }
        )
    }
}

/// `subjects.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectTable {
    /// PEC prefixes by key: a PEC kind, or a kind with a suffix for a variant
    /// (`errore-consegna-virus`).
    pub pec: BTreeMap<String, PecSubject>,
    /// REM subject patterns.
    pub rem: RemSubjects,
}

/// One PEC subject prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PecSubject {
    /// The prefix, written exactly so (read case-insensitively).
    pub prefix: String,
    /// Where it comes from.
    pub sources: Vec<String>,
}

/// The REM subject patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemSubjects {
    /// Prefix of receipts and notifications; `{event}` stands for the event name.
    pub pattern: String,
    /// Prefix of a dispatch.
    pub dispatch: String,
    /// Prefix of a dispatch built from a message received from a non-ERDS (Policy-IT).
    pub from_non_erds: String,
    /// Where they come from.
    pub sources: Vec<String>,
}

/// `intro.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntroTable {
    /// One text per REM message type.
    pub intro: Vec<IntroRow>,
}

/// The introduction text of one REM message type, in Italian and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntroRow {
    /// The REM message type (`dispatch`, `receipt`, ...).
    pub message: String,
    /// Italian text.
    pub it: String,
    /// English text.
    pub en: String,
    /// Where the requirement comes from.
    pub sources: Vec<String>,
}
