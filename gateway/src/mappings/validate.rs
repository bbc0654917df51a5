//! Checking the tables. Problems are values: [`validate`] returns every one it finds, each
//! naming the file and the row.
//!
//! Checked: row ids unique; PEC kinds among the 8 daticert `tipo` values and `anomalia`;
//! `errore` among the daticert classes; `errore-esteso` prefixes shaped like an enhanced
//! status code; REM message types known; rows without a reason (event-level fallbacks) used
//! from REM to PEC only; events known to EN 319 522-1 and reason codes to
//! the reason tables, the reason's letter matching the event's clause; no two rows giving
//! the same input a different translation in the same direction (a REM row without a reason
//! is the event-level fallback of its event, a key of its own); every row with sources;
//! every PEC kind translated towards REM and every REM event used translated towards PEC;
//! header rows with at least one side and no repeats; a subject prefix for every PEC kind;
//! an Italian and an English introduction for every REM message type used.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::pec::values::Errore;
#[cfg(doc)]
use crate::pec::values::TipoDaticert;
use crate::rem::evidence::{Event, Reason};

use super::load::{EVENTS, HEADERS, INTRO, SUBJECTS};
use super::{Direction, REM_MESSAGES, Tables};

/// The PEC kinds every table must cover: the 8 daticert `tipo` values (DTD of DM 2005, as
/// [`TipoDaticert`] spells them) and `anomalia` (the anomaly envelope, `X-Trasporto: errore`).
pub const PEC_KINDS: [&str; 9] = [
    "posta-certificata",
    "accettazione",
    "non-accettazione",
    "presa-in-carico",
    "avvenuta-consegna",
    "errore-consegna",
    "preavviso-errore-consegna",
    "rilevazione-virus",
    "anomalia",
];

fn is_pec_kind(kind: &str) -> bool {
    PEC_KINDS.contains(&kind)
}

/// One problem found in the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (`events.toml`, `headers.toml`, `subjects.toml`, `intro.toml`).
    pub file: &'static str,
    /// The row: its id in `events.toml`, its key elsewhere; `None` for a problem of the whole
    /// table (something not covered).
    pub row: Option<String>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.row {
            Some(row) => write!(f, "{}: row {row:?}: {}", self.file, self.kind),
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

/// What is wrong with a row or a table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// Another row has the same id.
    DuplicateId,
    /// `pec.kind` is not a daticert `tipo` nor `anomalia`.
    UnknownPecKind(String),
    /// `pec.errore` is not a daticert error class (`nessuno` is the absence of one: omit it).
    UnknownErrore(String),
    /// `pec.errore_esteso_prefix` is not shaped like an enhanced status code (`5.1.1`, `4.4`).
    BadStatusPrefix(String),
    /// `pec.final` on a kind other than `preavviso-errore-consegna` (the only one with a
    /// warning and a final notice).
    FinalOnOtherKind(String),
    /// `rem.message` is not a REM message type.
    UnknownMessage(String),
    /// `rem.event` is not one of the 19 events of EN 319 522-1.
    UnknownEvent(String),
    /// `rem.reason` is not a known reason code.
    UnknownReason(String),
    /// The reason code belongs to another event group than the event (`RB..` with a D event).
    ReasonEventMismatch {
        /// The reason code.
        reason: String,
        /// The event name.
        event: String,
    },
    /// `rem.message = "none"` with an event or reason, or a message without an event.
    InconsistentRem(String),
    /// A row used from PEC to REM names an event without a reason: the evidence Ponte issues
    /// needs one (REM baseline G04). Rows without a reason are event-level fallbacks, for
    /// REM to PEC only.
    EventWithoutReason(String),
    /// Another row gives the same input a translation in the same direction.
    DuplicateMapping {
        /// The direction in which both rows apply.
        direction: Direction,
        /// The input both rows match (`kind/errore ...` or `message event reason`).
        key: String,
        /// The id of the earlier row.
        other: String,
    },
    /// The row cites no source, or an empty one.
    NoSources,
    /// No row translates this PEC kind towards REM.
    PecKindUncovered(String),
    /// This REM event is used but no row translates it towards PEC.
    RemEventUncovered(String),
    /// A header row with neither a PEC nor a REM field.
    EmptyHeaderRow,
    /// Another header row has the same PEC and REM fields.
    DuplicateHeaderRow,
    /// A subject key that does not start with a PEC kind.
    UnknownSubjectKey(String),
    /// A subject prefix that is empty.
    EmptyPrefix,
    /// No subject prefix for this PEC kind.
    SubjectUncovered(String),
    /// The REM receipt pattern lacks `{event}`.
    PatternWithoutEvent,
    /// An introduction for a message type that is not a REM message type.
    UnknownIntroMessage(String),
    /// Another introduction for the same message type.
    DuplicateIntro,
    /// An introduction text is empty (language named).
    EmptyIntro(&'static str),
    /// A REM message type used by `events.toml` has no introduction.
    IntroUncovered(String),
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProblemKind::*;
        match self {
            DuplicateId => f.write_str("duplicate id"),
            UnknownPecKind(k) => write!(
                f,
                "unknown PEC kind {k:?} (expected a daticert tipo or \"anomalia\")"
            ),
            UnknownErrore(e) => write!(
                f,
                "unknown daticert errore {e:?} (expected no-dest, no-dominio, virus or altro)"
            ),
            BadStatusPrefix(p) => write!(
                f,
                "errore_esteso_prefix {p:?} is not an enhanced status code prefix like 5.1.1"
            ),
            FinalOnOtherKind(k) => write!(
                f,
                "final is set on {k:?}; only preavviso-errore-consegna has a final notice"
            ),
            UnknownMessage(m) => write!(
                f,
                "unknown REM message type {m:?} (expected one of {})",
                REM_MESSAGES.join(", ")
            ),
            UnknownEvent(e) => write!(f, "unknown REM event {e:?} (not in EN 319 522-1 Table 1)"),
            UnknownReason(r) => write!(f, "unknown REM reason code {r:?}"),
            ReasonEventMismatch { reason, event } => write!(
                f,
                "reason {reason} does not belong to the group of event {event}"
            ),
            InconsistentRem(why) => write!(f, "inconsistent rem side: {why}"),
            EventWithoutReason(e) => write!(
                f,
                "event {e} without a reason is an event-level fallback: rem-to-pec only"
            ),
            DuplicateMapping {
                direction,
                key,
                other,
            } => write!(
                f,
                "maps {key:?} {} like row {other:?} already does",
                direction.as_str()
            ),
            NoSources => f.write_str("no source cited (or an empty one)"),
            PecKindUncovered(k) => write!(f, "PEC kind {k:?} has no pec-to-rem row"),
            RemEventUncovered(e) => write!(f, "REM event {e:?} is used but has no rem-to-pec row"),
            EmptyHeaderRow => f.write_str("neither pec nor rem field"),
            DuplicateHeaderRow => f.write_str("duplicate header row"),
            UnknownSubjectKey(k) => write!(f, "subject key {k:?} does not name a PEC kind"),
            EmptyPrefix => f.write_str("empty prefix"),
            SubjectUncovered(k) => write!(f, "PEC kind {k:?} has no subject prefix"),
            PatternWithoutEvent => f.write_str("rem.pattern lacks {event}"),
            UnknownIntroMessage(m) => write!(f, "unknown REM message type {m:?}"),
            DuplicateIntro => f.write_str("duplicate introduction for this message type"),
            EmptyIntro(lang) => write!(f, "empty {lang} text"),
            IntroUncovered(m) => write!(f, "REM message type {m:?} has no introduction"),
        }
    }
}

/// Checks the tables; returns every problem found (empty: valid), in table order.
pub fn validate(t: &Tables) -> Vec<Problem> {
    let mut out = Vec::new();
    events(t, &mut out);
    headers(t, &mut out);
    subjects(t, &mut out);
    intro(t, &mut out);
    out
}

fn sources_ok(sources: &[String]) -> bool {
    !sources.is_empty() && sources.iter().all(|s| !s.trim().is_empty())
}

/// `4.4`, `5.1.1`: class 2/4/5, then one or two numbers of 1 to 3 digits.
fn status_prefix_ok(p: &str) -> bool {
    let mut parts = p.split('.');
    let class_ok = matches!(parts.next(), Some("2" | "4" | "5"));
    let rest: Vec<&str> = parts.collect();
    class_ok
        && (1..=2).contains(&rest.len())
        && rest
            .iter()
            .all(|n| (1..=3).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

fn events(t: &Tables, out: &mut Vec<Problem>) {
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    let mut pec_keys: HashMap<String, &str> = HashMap::new();
    let mut rem_keys: HashMap<String, &str> = HashMap::new();
    let mut used_events: Vec<String> = Vec::new();
    let mut covered_events: BTreeSet<String> = BTreeSet::new();
    let mut covered_kinds: BTreeSet<&str> = BTreeSet::new();

    for row in &t.events.row {
        let mut problem = |kind| {
            out.push(Problem {
                file: EVENTS,
                row: Some(row.id.clone()),
                kind,
            })
        };
        if !ids.insert(&row.id) {
            problem(ProblemKind::DuplicateId);
        }
        if !sources_ok(&row.sources) {
            problem(ProblemKind::NoSources);
        }
        let pec = &row.pec;
        if !is_pec_kind(&pec.kind) {
            problem(ProblemKind::UnknownPecKind(pec.kind.clone()));
        }
        if let Some(e) = &pec.errore {
            let parsed = Errore::parse(e);
            if !parsed.is_known() || parsed == Errore::Nessuno || parsed.as_str() != e {
                problem(ProblemKind::UnknownErrore(e.clone()));
            }
        }
        if let Some(p) = &pec.errore_esteso_prefix
            && !status_prefix_ok(p)
        {
            problem(ProblemKind::BadStatusPrefix(p.clone()));
        }
        if pec.is_final.is_some() && pec.kind != "preavviso-errore-consegna" {
            problem(ProblemKind::FinalOnOtherKind(pec.kind.clone()));
        }
        let rem = &row.rem;
        if !REM_MESSAGES.contains(&rem.message.as_str()) {
            problem(ProblemKind::UnknownMessage(rem.message.clone()));
        }
        if rem.message == "none" {
            if rem.event.is_some() || rem.reason.is_some() {
                problem(ProblemKind::InconsistentRem(
                    "message \"none\" with an event or a reason".into(),
                ));
            }
        } else if rem.event.is_none() {
            problem(ProblemKind::InconsistentRem(format!(
                "message {:?} without an event",
                rem.message
            )));
        }
        let event = rem
            .event
            .as_deref()
            .map(|name| (name, Event::from_name(name)));
        if let Some((name, None)) = event {
            problem(ProblemKind::UnknownEvent(name.to_owned()));
        }
        let reason = rem.reason.as_deref().map(|c| (c, Reason::from_code(c)));
        if let Some((code, None)) = reason {
            problem(ProblemKind::UnknownReason(code.to_owned()));
        }
        if let (Some((name, Some(ev))), Some((code, Some(_)))) = (&event, &reason) {
            let group = ev.clause().and_then(|c| c.chars().next());
            if group.is_some() && code.chars().nth(1) != group {
                problem(ProblemKind::ReasonEventMismatch {
                    reason: (*code).to_owned(),
                    event: (*name).to_owned(),
                });
            }
        }
        if let Some(name) = &rem.event
            && rem.reason.is_none()
            && row.direction.pec_to_rem()
        {
            problem(ProblemKind::EventWithoutReason(name.clone()));
        }
        if let Some(name) = &rem.event
            && !used_events.contains(name)
        {
            used_events.push(name.clone());
        }
        if row.direction.pec_to_rem() {
            covered_kinds.insert(&pec.kind);
            let key = pec.key();
            if let Some(other) = pec_keys.get(&key) {
                problem(ProblemKind::DuplicateMapping {
                    direction: Direction::PecToRem,
                    key,
                    other: (*other).to_owned(),
                });
            } else {
                pec_keys.insert(key, &row.id);
            }
        }
        if row.direction.rem_to_pec() {
            if let Some(e) = &rem.event {
                covered_events.insert(e.clone());
            }
            let key = rem.key();
            if let Some(other) = rem_keys.get(&key) {
                problem(ProblemKind::DuplicateMapping {
                    direction: Direction::RemToPec,
                    key,
                    other: (*other).to_owned(),
                });
            } else {
                rem_keys.insert(key, &row.id);
            }
        }
    }
    for kind in PEC_KINDS {
        if !covered_kinds.contains(kind) {
            out.push(Problem {
                file: EVENTS,
                row: None,
                kind: ProblemKind::PecKindUncovered(kind.to_owned()),
            });
        }
    }
    for event in used_events {
        if !covered_events.contains(&event) {
            out.push(Problem {
                file: EVENTS,
                row: None,
                kind: ProblemKind::RemEventUncovered(event),
            });
        }
    }
}

fn headers(t: &Tables, out: &mut Vec<Problem>) {
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    for row in &t.headers.row {
        let mut problem = |kind| {
            out.push(Problem {
                file: HEADERS,
                row: Some(row.key()),
                kind,
            })
        };
        if row.pec.trim().is_empty() && row.rem.trim().is_empty() {
            problem(ProblemKind::EmptyHeaderRow);
        } else if !seen.insert((&row.pec, &row.rem)) {
            problem(ProblemKind::DuplicateHeaderRow);
        }
        if !sources_ok(&row.sources) {
            problem(ProblemKind::NoSources);
        }
    }
}

fn subjects(t: &Tables, out: &mut Vec<Problem>) {
    let kinds = PEC_KINDS;
    for (key, s) in &t.subjects.pec {
        let mut problem = |kind| {
            out.push(Problem {
                file: SUBJECTS,
                row: Some(format!("pec.{key}")),
                kind,
            })
        };
        let names_kind = kinds.iter().any(|k| {
            key == k
                || key
                    .strip_prefix(k)
                    .is_some_and(|rest| rest.starts_with('-'))
        });
        if !names_kind {
            problem(ProblemKind::UnknownSubjectKey(key.clone()));
        }
        if s.prefix.trim().is_empty() {
            problem(ProblemKind::EmptyPrefix);
        }
        if !sources_ok(&s.sources) {
            problem(ProblemKind::NoSources);
        }
    }
    for kind in kinds {
        if !t.subjects.pec.contains_key(kind) {
            out.push(Problem {
                file: SUBJECTS,
                row: None,
                kind: ProblemKind::SubjectUncovered(kind.to_owned()),
            });
        }
    }
    let rem = &t.subjects.rem;
    let mut problem = |kind| {
        out.push(Problem {
            file: SUBJECTS,
            row: Some("rem".into()),
            kind,
        })
    };
    if !rem.pattern.contains("{event}") {
        problem(ProblemKind::PatternWithoutEvent);
    }
    if rem.dispatch.trim().is_empty() || rem.from_non_erds.trim().is_empty() {
        problem(ProblemKind::EmptyPrefix);
    }
    if !sources_ok(&rem.sources) {
        problem(ProblemKind::NoSources);
    }
}

fn intro(t: &Tables, out: &mut Vec<Problem>) {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for row in &t.intro.intro {
        let mut problem = |kind| {
            out.push(Problem {
                file: INTRO,
                row: Some(row.message.clone()),
                kind,
            })
        };
        if !REM_MESSAGES.contains(&row.message.as_str()) || row.message == "none" {
            problem(ProblemKind::UnknownIntroMessage(row.message.clone()));
        }
        if !seen.insert(&row.message) {
            problem(ProblemKind::DuplicateIntro);
        }
        if row.it.trim().is_empty() {
            problem(ProblemKind::EmptyIntro("Italian"));
        }
        if row.en.trim().is_empty() {
            problem(ProblemKind::EmptyIntro("English"));
        }
        if !sources_ok(&row.sources) {
            problem(ProblemKind::NoSources);
        }
    }
    let used: BTreeSet<&str> = t
        .events
        .row
        .iter()
        .map(|r| r.rem.message.as_str())
        .filter(|m| *m != "none" && REM_MESSAGES.contains(m))
        .collect();
    for m in used {
        if !seen.contains(m) {
            out.push(Problem {
                file: INTRO,
                row: None,
                kind: ProblemKind::IntroUncovered(m.to_owned()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_validate() {
        let t = crate::mappings::builtin().expect("compiled-in tables read");
        let problems = validate(&t);
        assert!(
            problems.is_empty(),
            "{}",
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn pec_kinds_are_the_8_tipo_and_anomalia() {
        use crate::pec::values::TipoDaticert;
        let (tipo, rest) = PEC_KINDS.split_at(8);
        for k in tipo {
            let t = TipoDaticert::parse(k);
            assert!(t.is_known() && t.as_str() == *k, "{k}");
        }
        assert_eq!(rest, ["anomalia"]);
        assert!(!is_pec_kind("Accettazione"), "exact spelling only");
        assert!(!is_pec_kind("mail"));
    }

    #[test]
    fn event_level_rows_are_rem_to_pec_fallbacks() {
        let mut t = crate::mappings::builtin().expect("compiled-in tables read");
        let fallback = t
            .events
            .row
            .iter()
            .find(|r| r.id == "relay-failure-any")
            .cloned()
            .expect("row relay-failure-any");
        assert!(fallback.rem.reason.is_none());
        // Beside the RelayFailure rows with a reason: no ambiguity.
        assert!(validate(&t).is_empty());
        // A second event-level row for the same event is ambiguous.
        let mut twin = fallback.clone();
        twin.id = "relay-failure-any-2".into();
        t.events.row.push(twin);
        assert!(validate(&t).iter().any(|p| matches!(
            &p.kind,
            ProblemKind::DuplicateMapping { other, .. } if other == "relay-failure-any"
        )));
        t.events.row.pop();
        // Used from PEC to REM it would issue an evidence without a reason.
        let row = t
            .events
            .row
            .iter_mut()
            .find(|r| r.id == "relay-failure-any")
            .expect("row");
        row.direction = Direction::Both;
        let problems = validate(&t);
        assert!(
            problems
                .iter()
                .any(|p| p.row.as_deref() == Some("relay-failure-any")
                    && p.kind == ProblemKind::EventWithoutReason("RelayFailure".into())),
            "{problems:?}"
        );
    }

    #[test]
    fn final_only_on_preavviso() {
        let mut t = crate::mappings::builtin().expect("compiled-in tables read");
        let row = t
            .events
            .row
            .iter_mut()
            .find(|r| r.id == "presa-in-carico")
            .expect("row presa-in-carico");
        row.pec.is_final = Some(true);
        let problems = validate(&t);
        assert_eq!(
            problems,
            vec![Problem {
                file: EVENTS,
                row: Some("presa-in-carico".into()),
                kind: ProblemKind::FinalOnOtherKind("presa-in-carico".into()),
            }]
        );
    }

    #[test]
    fn status_prefixes() {
        for ok in ["5.1.1", "4.4", "2.0.0", "5.4.100"] {
            assert!(status_prefix_ok(ok), "{ok}");
        }
        for bad in ["", "5", "3.1.1", "5.1.1.1", "5..1", "5.a.1", "5.1234"] {
            assert!(!status_prefix_ok(bad), "{bad}");
        }
    }

    #[test]
    fn reason_of_another_group_is_named() {
        let mut t = crate::mappings::builtin().expect("compiled-in tables read");
        let row = t
            .events
            .row
            .iter_mut()
            .find(|r| r.id == "accettazione")
            .expect("row accettazione");
        row.rem.reason = Some("RD01".into());
        let problems = validate(&t);
        assert!(problems.iter().any(|p| p.row.as_deref() == Some("accettazione")
            && matches!(&p.kind, ProblemKind::ReasonEventMismatch { reason, .. } if reason == "RD01")));
    }
}
