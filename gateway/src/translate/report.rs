//! What a translation reports: the input and output described, the correlation ids, and the
//! translated bytes. The JSON form is what `ponte translate --json` prints.

use serde::Serialize;

use crate::correlate::Record;

/// One side of a translation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Described {
    /// `pec` or `rem`.
    pub format: &'static str,
    /// PEC: the type as `ponte verify --json` names it (`posta-certificata`, `accettazione`,
    /// ...). REM: the message type (`dispatch`, `receipt`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// REM: the event of the (main) evidence (`SubmissionAcceptance`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// REM: the reason codes of that evidence (`RA01`, ...; the URI when it has no code).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// PEC: the daticert `errore`, when not `nessuno`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errore: Option<String>,
    /// The message's Message-ID (with `<>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// One message produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// What it is.
    pub described: Described,
    /// The message, CRLF, signed.
    pub bytes: Vec<u8>,
}

/// A finished translation: one output message, except for REM evidences about several
/// recipients, which become one PEC receipt per recipient (in the evidence's order).
#[derive(Debug, Clone)]
pub struct Translation {
    /// What came in.
    pub input: Described,
    /// What went out (at least one).
    pub outputs: Vec<Output>,
    /// The id of the mapping row applied (`mappings/events.toml`).
    pub mapping: String,
    /// What was recorded in the correlation store.
    pub record: Record,
    /// Remarks (e.g. evidence left at B-B because no TSA is configured, no dispatch recorded
    /// for a receipt).
    pub notes: Vec<String>,
}

/// Why an input was not translated (exit 1): a value, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What was understood of the input before refusing it, when anything.
    pub input: Option<Described>,
    /// Why, in one line.
    pub reason: String,
}

impl Refusal {
    /// A refusal with a reason and what was known of the input.
    pub fn new(input: Option<&Described>, reason: impl Into<String>) -> Refusal {
        Refusal {
            input: input.cloned(),
            reason: reason.into(),
        }
    }
}

/// The result of translating one input: translated or refused; `Err` is for failures that are
/// not the input's fault (TSA unreachable, store not writable, configuration broken).
pub type Outcome = Result<Result<Translation, Refusal>, super::Error>;

/// The JSON report of a translation: `output` is the first (usually only) message, `outputs`
/// all of them; `written` names where each was written.
pub fn json_translated(
    file: &str,
    t: &Translation,
    written: &[Option<String>],
) -> serde_json::Value {
    let outputs: Vec<serde_json::Value> = t
        .outputs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut v = serde_json::to_value(&o.described).unwrap_or_default();
            if let Some(map) = v.as_object_mut() {
                map.insert(
                    "written_to".into(),
                    written.get(i).cloned().flatten().into(),
                );
            }
            v
        })
        .collect();
    serde_json::json!({
        "file": file,
        "translated": true,
        "input": t.input,
        "output": outputs.first().cloned().unwrap_or_default(),
        "outputs": outputs,
        "mapping": t.mapping,
        "correlation": t.record,
        "notes": t.notes,
    })
}

/// The JSON report of a refusal.
pub fn json_refused(file: &str, r: &Refusal) -> serde_json::Value {
    serde_json::json!({
        "file": file,
        "translated": false,
        "input": r.input,
        "reason": r.reason,
    })
}
