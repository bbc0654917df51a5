//! The evidence-facing part of `ponte evidence verify --json`: `event`, `event_uri`,
//! `reasons` [{`uri`, `code`, `text`}], `evidence_id`, `event_time`.

use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use super::model::Evidence;

/// One reason as the CLI reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonSummary {
    /// The reason URI (`Code`).
    pub uri: String,
    /// The short code (`"RA01"`): the table's, else the one the evidence declares; `null` when
    /// neither exists.
    pub code: Option<String>,
    /// The issuer's text (the `Details` after the short code), if any.
    pub text: Option<String>,
}

/// What an evidence says, in the CLI's JSON shape. (The signature and time-stamp verdicts
/// are added beside it by the verifier.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceSummary {
    /// The event name (`"SubmissionAcceptance"`); the URI for an unknown event.
    pub event: String,
    /// The event URI.
    pub event_uri: String,
    /// The reasons, in order.
    pub reasons: Vec<ReasonSummary>,
    /// `EvidenceIdentifier`.
    pub evidence_id: String,
    /// `EventTime`, RFC 3339.
    pub event_time: String,
}

impl Evidence {
    /// The summary of this evidence for reports.
    pub fn summary(&self) -> EvidenceSummary {
        EvidenceSummary {
            event: self.event.name().to_owned(),
            event_uri: self.event.uri().to_owned(),
            reasons: self
                .reasons
                .iter()
                .map(|r| ReasonSummary {
                    uri: r.uri().to_owned(),
                    code: r.code().map(str::to_owned),
                    text: r.text().map(str::to_owned),
                })
                .collect(),
            evidence_id: self.evidence_identifier.clone(),
            // Formatting a parsed RFC 3339 instant cannot fail for years 0..=9999; outside
            // that range fall back to the debug form rather than lose the value.
            event_time: self
                .event_time
                .format(&Rfc3339)
                .unwrap_or_else(|_| format!("{:?}", self.event_time)),
        }
    }
}
