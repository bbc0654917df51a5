//! PEC ⇄ REM translation: the pieces between the formats and the mapping tables.
//!
//! * [`identity`]: the Policy-IT `PersonIdentifier` of a user.
//! * [`evidence`]: the ERDS evidence Ponte issues (built from plain facts, signed B-B/B-T).
//! * [`receipt`]: the PEC receipt that says what a REM evidence says.

pub mod assurance;
pub mod context;
pub mod evidence;
pub mod identity;
mod in_place;
pub mod notice;
pub mod notices;
pub mod receipt;
pub mod report;
pub mod stream;
pub mod texts;
pub mod to_pec;
pub mod to_rem;

pub use assurance::Origin;
pub use context::{Context, Judge, TimeStamps};
pub use report::{Described, Outcome, Output, Refusal, RefusalKind, Translation};

/// Errors of this module: inputs that cannot make the message asked for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The event is not one of EN 319 522-1 (its URI is named): Ponte issues only known ones.
    #[error("cannot issue an evidence for unknown event {0}")]
    UnknownEvent(String),
    /// The event needs at least one reason (REM baseline G04) and none was given.
    #[error("an evidence of {0} needs at least one reason")]
    NoReason(String),
    /// A reason of another event group than the event (`RB03` on a D event).
    #[error("reason {reason} does not belong to event {event}")]
    ReasonOfOtherEvent {
        /// The reason's short code.
        reason: String,
        /// The event name.
        event: String,
    },
    /// Fewer `PolicyID`s than the REM baseline asks (R01: the REM baseline URI and the REMID
    /// policy URI), or an empty one.
    #[error("the evidence needs at least 2 non-empty issuer policy ids, got {got}")]
    TooFewPolicies {
        /// How many non-empty ones were given.
        got: usize,
    },
    /// No recipient (an evidence has at least one `RecipientDetails`).
    #[error("the evidence needs at least one recipient")]
    NoRecipient,
    /// A value the evidence cannot do without is empty (what it is is named).
    #[error("empty {0}")]
    Empty(&'static str),
    /// The digest is not the base64 of a SHA-256 value (32 bytes).
    #[error("digest {0:?} is not a base64 SHA-256 value")]
    BadDigest(String),
    /// The recipient the evidence refers to is not among its recipients.
    #[error("{0} is not one of the message's recipients")]
    NotARecipient(String),
    /// A per-recipient event (C, D, E) without the recipient it refers to.
    #[error("an evidence of {0} must name the recipient it refers to")]
    RefersToMissing(String),
    /// A recipient reference on an event that cannot carry one (A events, F.3).
    #[error("an evidence of {0} cannot refer to one recipient")]
    RefersToNotAllowed(String),
    /// A relay event (B) without the counterpart provider's name (REM baseline M05).
    #[error("an evidence of {0} needs the counterpart provider's name (ExternalERDSDetails)")]
    ExternalErdsMissing(String),
    /// A counterpart provider's name on an event other than B (REM baseline M05 is 0 there).
    #[error("an evidence of {0} cannot carry ExternalERDSDetails")]
    ExternalErdsNotAllowed(String),
    /// An F event without `ForwardedToExternalSystem` (522-2 M04).
    #[error("an evidence of {0} needs ForwardedToExternalSystem")]
    ExternalSystemMissing(String),
    /// `ForwardedToExternalSystem` on an event other than F.
    #[error("an evidence of {0} cannot carry ForwardedToExternalSystem")]
    ExternalSystemNotAllowed(String),
    /// The mapping row names a PEC kind that is not a receipt (`posta-certificata`,
    /// `anomalia`: a dispatch becomes an envelope, not a receipt).
    #[error("the mapping gives PEC kind {0}, which is not a receipt")]
    NotAReceipt(String),
    /// The evidence refers to a recipient position it does not list (1-based).
    #[error("the evidence refers to recipient {0}, which it does not list")]
    RecipientIndex(u64),
    /// The evidence model could not be written.
    #[error("evidence: {0}")]
    Rem(#[from] crate::rem::Error),
    /// The evidence could not be signed or augmented.
    #[error("evidence signature: {0}")]
    Xades(#[from] crate::xades::Error),
    /// No time-stamp could be obtained.
    #[error("time-stamp: {0}")]
    Tsp(#[from] crate::tsp::Error),
    /// The holders' identity source could not answer and nothing cached could stand in.
    #[error("holders: {0}")]
    Holders(#[from] crate::holders::Error),
    /// The providers' index could not answer.
    #[error("index: {0}")]
    Index(String),
    /// The output could not be assembled or signed.
    #[error("building the output: {0}")]
    Build(String),
    /// The correlation store failed.
    #[error("correlation store: {0}")]
    Store(#[from] crate::correlate::Error),
    /// Signing the PEC output failed.
    #[error("signing: {0}")]
    Smime(#[from] crate::smime::Error),
    /// The configuration could not be loaded.
    #[error("{0}")]
    Config(#[from] crate::config::Error),
    /// The mapping tables could not be loaded.
    #[error("mappings: {0}")]
    Mappings(#[from] crate::mappings::Error),
}
