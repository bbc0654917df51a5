//! The spool: every message the gateway has acknowledged, what it made of it, where that is
//! going and what happened on the way — kept so that nothing acknowledged is ever lost.
//!
//! A received message ([`Incoming`]) is stored before the SMTP `250`; processing it (the
//! translation) adds its outputs as [`Delivery`] entries and its correlation records and PEC
//! timers, in one step ([`Spool::processed`]); each delivery is claimed, tried, and then
//! delivered, deferred to a later attempt, or failed ([`Spool::delivery_done`]). Every step
//! is one atomic, durable change: a crash between two steps repeats the later one, never
//! loses the earlier one. Every step also appends to the message's history, and to the legal
//! log (one JSON line per event, no content).
//!
//! The state of a message ([`State`]): `received` (stored, not processed yet) → `queued`
//! (processed; deliveries pending) → `delivered` (all its deliveries delivered) | `failed`
//! (refused after it was accepted, or a delivery failed; the mapped notice is among its
//! outputs) | `quarantined` (processing failed repeatedly, or an operator put it aside).
//!
//! [`Spool`] is the seam between the service and its storage: [`embedded::Embedded`] (one
//! directory: redb for state, one file per message body) is the default; [`postgres::Postgres`]
//! (`[spool] url`) is shared by several nodes. [`transfer`] moves a queue between the two
//! (`ponte spool export` / `import`). Work is *claimed* with a lease, so
//! that with several nodes a message is worked on by one at a time and a node that dies
//! leaves it to another once the lease has expired.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use crate::correlate::DeliveredService;
use crate::correlate::Record;

pub mod embedded;
pub mod postgres;
pub mod transfer;

/// A message's number in the spool (assigned in order of arrival).
pub type MessageId = u64;
/// A delivery's number in the spool.
pub type DeliveryId = u64;
/// A timer's number in the spool.
pub type TimerId = u64;

/// Errors of the spool. Any of them means the change asked for did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file of the spool could not be written, read or synced (`ENOSPC` included).
    #[error("spool {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The database refused the change or could not be read.
    #[error("spool database: {0}")]
    Database(String),
    /// A stored entry could not be decoded (written by an incompatible version, or damaged).
    #[error("spool entry {what} {id}: {reason}")]
    Corrupt {
        /// `message`, `delivery`, `timer`, `record`.
        what: &'static str,
        /// Its number.
        id: u64,
        /// What was wrong.
        reason: String,
    },
    /// The shared spool's database schema cannot be used or brought up to date (newer than
    /// this build, or a migration failed).
    #[error("spool schema: {0}")]
    Schema(String),
    /// No such message, delivery or timer.
    #[error("no {what} {id} in the spool")]
    NotFound {
        /// `message`, `delivery`, `timer`, `output`.
        what: &'static str,
        /// The number asked for.
        id: u64,
    },
    /// The change does not apply to the entry in its present state (a delivered message
    /// cannot be retried).
    #[error("{what} {id} is {state}: {action} does not apply")]
    WrongState {
        /// `message`, `delivery`.
        what: &'static str,
        /// Its number.
        id: u64,
        /// Its present state.
        state: String,
        /// What was asked.
        action: &'static str,
    },
}

impl Error {
    /// Whether the error is the disk being full (the SMTP answer is `452`, not `451`).
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::Io { source, .. } => {
                source.raw_os_error() == Some(28)
                    || source.kind() == std::io::ErrorKind::StorageFull
            }
            // redb's I/O error, or PostgreSQL's SQLSTATE 53100 (disk_full).
            Error::Database(m) => {
                m.contains("No space left") || m.contains("StorageFull") || m.contains(" 53100:")
            }
            _ => false,
        }
    }
}

/// What the spool answers with.
pub type Result<T> = std::result::Result<T, Error>;

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Stored, not yet processed (or processing must be tried again).
    Received,
    /// Processed; at least one delivery is pending.
    Queued,
    /// Every delivery delivered.
    Delivered,
    /// Refused after acceptance, or a delivery failed: the mapped notice is among the
    /// outputs (itself delivered like any other).
    Failed,
    /// Put aside: processing failed repeatedly, or an operator discarded it. Kept, never
    /// dropped; `retry` brings it back.
    Quarantined,
}

impl State {
    /// `received`, `queued`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Queued => "queued",
            State::Delivered => "delivered",
            State::Failed => "failed",
            State::Quarantined => "quarantined",
        }
    }

    /// Whether nothing more happens to the message unless an operator acts.
    pub fn is_final(self) -> bool {
        matches!(self, State::Delivered | State::Failed | State::Quarantined)
    }
}

/// Which format a message is in, as classified on arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A PEC message (`X-Trasporto` / `X-Ricevuta`).
    Pec,
    /// A REM message (`REM-*` metadata).
    Rem,
}

impl Format {
    /// `pec` or `rem`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pec => "pec",
            Format::Rem => "rem",
        }
    }
}

/// The SMTP envelope and session facts of a received message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// MAIL FROM (empty for the null reverse-path).
    pub mail_from: String,
    /// RCPT TO, in order.
    pub rcpt_to: Vec<String>,
    /// The client's address (`ip:port`).
    pub peer: String,
    /// The EHLO/HELO name.
    pub helo: String,
    /// Whether the session was under TLS.
    pub tls: bool,
}

/// A message to store before acknowledging it.
#[derive(Clone, Debug)]
pub struct Incoming {
    /// The session facts.
    pub envelope: Envelope,
    /// PEC or REM.
    pub format: Format,
    /// The message's own `Message-ID` (with `<>`): the idempotency key. A second message with
    /// the same one is not stored again.
    pub message_id: Option<String>,
    /// What it is (`posta-certificata`, `avvenuta-consegna`, `dispatch`, ...), as far as known.
    pub kind: String,
    /// The message, as received (CRLF, dot-unstuffed).
    pub body: Vec<u8>,
}

/// The answer to storing a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// Stored under this number.
    New(MessageId),
    /// A message with the same `Message-ID` is already stored under this number: nothing was
    /// stored (a peer's retry after a lost `250`).
    Duplicate(MessageId),
}

impl Received {
    /// The message's number, new or already there.
    pub fn id(self) -> MessageId {
        match self {
            Received::New(id) | Received::Duplicate(id) => id,
        }
    }
}

/// Where an output goes. Resolved to a host at delivery time (so that a reloaded
/// configuration applies to what is queued).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum Destination {
    /// The provider's PEC platform (`[pec] relay`).
    Pec,
    /// The mail exchanger of a domain: a `[[route]]` that matches it, else its MX.
    Domain(String),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Pec => f.write_str("pec"),
            Destination::Domain(d) => write!(f, "domain:{d}"),
        }
    }
}

/// A message the gateway made, to be delivered.
#[derive(Clone, Debug)]
pub struct NewOutput {
    /// What it is: `rem-dispatch`, `rem-receipt:RelayAcceptance`, `pec-envelope`,
    /// `pec-receipt:avvenuta-consegna`, `pec-notice:preavviso-errore-consegna`, ...
    pub kind: String,
    /// Its `Message-ID` (with `<>`).
    pub message_id: String,
    /// MAIL FROM for it.
    pub mail_from: String,
    /// One delivery per destination: the recipients there.
    pub routes: Vec<(Destination, Vec<String>)>,
    /// The message (CRLF, signed).
    pub body: Vec<u8>,
}

/// A PEC timer to start: unless delivery evidence for its recipients arrives first, it fires
/// at `due` and the service sends the notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTimer {
    /// Which notice.
    pub kind: TimerKind,
    /// When it fires.
    #[serde(with = "time::serde::rfc3339")]
    pub due: OffsetDateTime,
    /// The identifier the delivery evidence will refer to (the REM dispatch's Message-ID).
    pub about: String,
    /// The recipients still waiting for delivery evidence.
    pub recipients: Vec<String>,
}

/// The two PEC time limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimerKind {
    /// The preavviso di mancata consegna (12 h): no presa in carico nor delivery receipt yet.
    Warning,
    /// The final notice (24 h, errore-esteso 5.4.1): no delivery receipt.
    Final,
}

impl TimerKind {
    /// `warning` or `final`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Warning => "warning",
            TimerKind::Final => "final",
        }
    }
}

/// Delivery evidence has arrived for some recipients of a dispatch: their timers of these
/// kinds stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerStop {
    /// The dispatch's identifier ([`NewTimer::about`]).
    pub about: String,
    /// The recipients the evidence is about; empty: every recipient (evidence about the
    /// message as a whole, e.g. a presa in carico).
    pub recipients: Vec<String>,
    /// The kinds it stops.
    pub kinds: Vec<TimerKind>,
}

/// What processing a message produced, stored in one step.
#[derive(Clone, Debug, Default)]
pub struct Processed {
    /// The mapping row applied, when translated.
    pub mapping: Option<String>,
    /// When the message was refused after acceptance: the refusal's kind name
    /// (`translate::RefusalKind::as_str`) and its text. The outputs are then the notices.
    pub refused: Option<(String, String)>,
    /// Remarks of the translation, kept in the history.
    pub notes: Vec<String>,
    /// What to deliver.
    pub outputs: Vec<NewOutput>,
    /// Correlation records to store (found later by [`Spool::find_records`]).
    pub records: Vec<Record>,
    /// Timers to start.
    pub timers: Vec<NewTimer>,
    /// Timers to stop.
    pub stop_timers: Vec<TimerStop>,
}

/// One line of a message's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What happened: `received`, `translated`, `refused`, `queued`, `attempt`, `deferred`,
    /// `delivered`, `failed`, `timer`, `retry`, `quarantined`, `processing-failed`.
    pub event: String,
    /// Details in one line.
    pub detail: String,
}

/// A stored message, as the ops API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Its number.
    pub id: MessageId,
    /// Its state.
    pub state: State,
    /// PEC or REM.
    pub format: Format,
    /// What it is.
    pub kind: String,
    /// Its `Message-ID`.
    pub message_id: Option<String>,
    /// The SMTP envelope.
    pub envelope: Envelope,
    /// Its size in bytes.
    pub size: u64,
    /// When it was received.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Failed processing attempts so far.
    pub attempts: u32,
    /// When processing is next tried (state `received`).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_attempt: Option<OffsetDateTime>,
    /// The mapping row applied.
    pub mapping: Option<String>,
    /// The refusal's kind and text, when refused after acceptance.
    pub refused: Option<(String, String)>,
    /// Why it is quarantined or failed, or the last processing error.
    pub last_error: Option<String>,
    /// Its outputs.
    pub outputs: Vec<Output>,
    /// Its history, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// One output of a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Its position among the message's outputs (0-based).
    pub index: u32,
    /// What it is ([`NewOutput::kind`]).
    pub kind: String,
    /// Its `Message-ID`.
    pub message_id: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its deliveries.
    pub deliveries: Vec<DeliveryId>,
}

/// The state of one delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Queued,
    /// Accepted by the next hop.
    Delivered,
    /// Refused permanently, or too old.
    Failed,
    /// Put aside with its message.
    Quarantined,
}

impl DeliveryState {
    /// `queued`, `delivered`, `failed`, `quarantined`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Quarantined => "quarantined",
        }
    }
}

/// One output going to one destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its number.
    pub id: DeliveryId,
    /// The message it belongs to.
    pub message: MessageId,
    /// Which output of the message.
    pub output: u32,
    /// What it is ([`NewOutput::kind`]).
    pub kind: String,
    /// The output's `Message-ID`.
    pub message_id: String,
    /// Where it goes.
    pub destination: Destination,
    /// MAIL FROM.
    pub mail_from: String,
    /// RCPT TO.
    pub rcpt_to: Vec<String>,
    /// Its state.
    pub state: DeliveryState,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// When it is next tried.
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt: OffsetDateTime,
    /// What the last attempt got (the peer's reply or the error).
    pub last_result: Option<String>,
}

/// How a delivery attempt ended.
#[derive(Clone, Debug)]
pub enum Attempt {
    /// Accepted; the peer's reply.
    Delivered(String),
    /// A temporary failure: try again at `retry_at`.
    Deferred {
        /// The reply or error.
        reason: String,
        /// The next attempt.
        retry_at: OffsetDateTime,
    },
    /// A permanent failure (or the maximum age reached); `notices` are what the service
    /// made to tell the sender, stored in the same step.
    Failed {
        /// The reply or error.
        reason: String,
        /// The notices (PEC non-delivery notice, REM failure evidence).
        notices: Processed,
    },
    /// The peer answered the recipients differently (some `RCPT TO` accepted, others refused
    /// for now or for good): each group is settled on its own, so that nothing is sent twice
    /// to a recipient that has the message and the notices name exactly the recipients
    /// refused. The recipients in `deferred` stay on this delivery and are tried again at
    /// `retry_at`; the delivered and the failed ones are split off into deliveries of their
    /// own (same output), one delivered and one failed. With nothing deferred, this delivery
    /// keeps the failed recipients (else the delivered ones).
    Partial {
        /// Recipients that have the message.
        delivered: Vec<String>,
        /// The peer's reply to DATA for them.
        reply: String,
        /// Recipients refused for good.
        failed: Vec<String>,
        /// Their replies, in one line.
        failure: String,
        /// The notices made for the failed recipients (stored as with [`Attempt::Failed`]).
        notices: Processed,
        /// Recipients to try again.
        deferred: Vec<String>,
        /// Their replies, in one line.
        reason: String,
        /// Their next attempt.
        retry_at: OffsetDateTime,
    },
}

/// A timer that has fired, claimed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// Its number.
    pub id: TimerId,
    /// The message whose dispatch it watches.
    pub message: MessageId,
    /// The timer.
    pub timer: NewTimer,
}

/// How listing filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only messages in these states (none: the ones not final).
    pub states: Vec<State>,
    /// At most this many (newest first); 0 = 100.
    pub limit: usize,
}

/// Figures for metrics and readiness.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Messages not in a final state.
    pub queue_depth: u64,
    /// Deliveries waiting.
    pub deliveries_queued: u64,
    /// Age of the oldest message not in a final state, in seconds.
    pub oldest_seconds: u64,
    /// Messages per state.
    pub by_state: Vec<(State, u64)>,
    /// Timers waiting.
    pub timers: u64,
}

/// A claim's lease when the configuration gives none (`[spool] lease`).
pub const DEFAULT_LEASE: Duration = crate::config::service::DEFAULT_LEASE;

/// The spool a configuration names, opened.
#[derive(Debug, Clone)]
pub enum Opened {
    /// `[spool] path`.
    Embedded(embedded::Embedded),
    /// `[spool] url`.
    Postgres(postgres::Postgres),
}

impl Opened {
    /// Opens the spool of `[spool]`: the embedded one in `path`, or the shared one at `url`
    /// (connected, its migrations applied when `migrate`).
    pub async fn open(cfg: &crate::config::Spool, migrate: bool) -> Result<Opened> {
        match &cfg.shared {
            None => Ok(Opened::Embedded(embedded::Embedded::open(&cfg.path)?)),
            Some(shared) => {
                let o = postgres::Options::from_config(shared, cfg.lease)?;
                Ok(Opened::Postgres(if migrate {
                    postgres::Postgres::open(&o).await?
                } else {
                    postgres::Postgres::connect(&o)?
                }))
            }
        }
    }

    /// The spool as the service uses it.
    pub fn spool(&self) -> std::sync::Arc<dyn Spool> {
        match self {
            Opened::Embedded(e) => std::sync::Arc::new(e.clone()),
            Opened::Postgres(p) => std::sync::Arc::new(p.clone()),
        }
    }

    /// The spool for export and import.
    pub fn portable(&self) -> &dyn transfer::Portable {
        match self {
            Opened::Embedded(e) => e,
            Opened::Postgres(p) => p,
        }
    }

    /// Where it is, for people: the folder, or the URL (password hidden) and the node.
    pub fn describe(&self) -> String {
        match self {
            Opened::Embedded(e) => e.dir().display().to_string(),
            Opened::Postgres(p) => format!("{} (node {})", p.shown(), p.node()),
        }
    }
}

/// Failed processing attempts after which a message goes to quarantine (the poison rule).
pub const POISON_ATTEMPTS: u32 = 5;

/// The gateway's storage.
#[async_trait::async_trait]
pub trait Spool: Send + Sync + std::fmt::Debug {
    /// The message whose `Message-ID` is `message_id`, if stored.
    async fn by_message_id(&self, message_id: &str) -> Result<Option<MessageId>>;

    /// The message that made the output whose `Message-ID` is `message_id` (with or without
    /// `<>`), and the output's index among its outputs: how the ops API follows a correlation
    /// record to the spool message on the other side.
    async fn by_output_message_id(&self, message_id: &str) -> Result<Option<(MessageId, u32)>>;

    /// Stores a received message durably (body and state synced to disk before returning),
    /// with its processing when it was processed before the reply (then it is `queued`, or
    /// `failed` for a refusal), else as `received`. Idempotent on the `Message-ID`.
    async fn receive(
        &self,
        incoming: Incoming,
        processed: Option<Processed>,
        now: OffsetDateTime,
    ) -> Result<Received>;

    /// Claims messages waiting for processing whose attempt is due, for `lease`.
    async fn claim_processing(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<MessageId>>;

    /// Stores what processing made (outputs, records, timers) and releases the claim.
    async fn processed(&self, id: MessageId, p: Processed, now: OffsetDateTime) -> Result<()>;

    /// Processing failed: try again at `retry_at`. A `poison` failure (the message itself made
    /// processing fail, not an outage) counts towards [`POISON_ATTEMPTS`]; reaching it
    /// quarantines the message. Returns the message's state after the change.
    async fn processing_failed(
        &self,
        id: MessageId,
        reason: &str,
        poison: bool,
        retry_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<State>;

    /// Claims deliveries whose attempt is due, for `lease`, oldest first.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>>;

    /// Records how a delivery attempt ended and releases the claim; the message's state
    /// follows (delivered when all its deliveries are, failed when one failed).
    async fn delivery_done(
        &self,
        id: DeliveryId,
        attempt: Attempt,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Claims timers due, for `lease`.
    async fn claim_timers(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Timer>>;

    /// A timer fired: store the notices it made (their outputs, on the timer's message) and
    /// remove it.
    async fn timer_fired(&self, id: TimerId, p: Processed, now: OffsetDateTime) -> Result<()>;

    /// When something next becomes due (a processing retry, a delivery, a timer).
    async fn next_due(&self) -> Result<Option<OffsetDateTime>>;

    /// The message stored under `id`.
    async fn message(&self, id: MessageId) -> Result<Message>;

    /// The message's body as received.
    async fn input(&self, id: MessageId) -> Result<Vec<u8>>;

    /// An output's body.
    async fn output(&self, id: MessageId, index: u32) -> Result<Vec<u8>>;

    /// A delivery.
    async fn delivery(&self, id: DeliveryId) -> Result<Delivery>;

    /// Every delivery of a message, in output order.
    async fn deliveries(&self, id: MessageId) -> Result<Vec<Delivery>>;

    /// The timers of a message (waiting ones).
    async fn timers(&self, id: MessageId) -> Result<Vec<Timer>>;

    /// Messages, newest first.
    async fn list(&self, filter: &Filter) -> Result<Vec<Message>>;

    /// An operator's retry: a quarantined or failed message is processed again (its outputs
    /// that were not delivered are attempted again); a queued one has its deliveries tried
    /// at once.
    async fn retry(&self, id: MessageId, now: OffsetDateTime) -> Result<State>;

    /// Puts a message aside (never deletes it): its pending deliveries and timers stop.
    /// [`Error::WrongState`] for a message that is delivered (nothing is left to stop) or
    /// already quarantined.
    async fn quarantine(&self, id: MessageId, reason: &str, now: OffsetDateTime) -> Result<()>;

    /// Figures for metrics.
    async fn stats(&self, now: OffsetDateTime) -> Result<Stats>;

    /// Correlation records having `id` among their identifiers, oldest first. Synchronous:
    /// translation asks it while it runs (it may block briefly).
    fn find_records(&self, id: &str) -> Result<Vec<Record>>;

    /// Records the service a delivery is sent to (a REM peer found by discovery), replacing
    /// what an earlier attempt of the same delivery recorded; on disk before it returns.
    async fn bind_service(&self, service: DeliveredService) -> Result<()>;

    /// The services recorded for the deliveries of the output whose `Message-ID` is
    /// `message_id` (with or without `<>`). Synchronous like [`Spool::find_records`].
    fn delivered_services(&self, message_id: &str) -> Result<Vec<DeliveredService>>;

    /// Whether the spool can take writes now (for readiness): a small write synced.
    async fn writable(&self) -> Result<()>;

    /// Appends an event that changes nothing in the spool (a message refused in the SMTP
    /// dialogue) to the legal log. State changes log their own events.
    async fn legal(&self, event: LegalEvent) -> Result<()>;

    /// The service stops: gives back the claims still held (a shared spool's other nodes
    /// take that work at once instead of after the lease). Nothing to do for a spool of one
    /// process, whose claims end with it.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// The correlation store of a translation run by the service: finds records in the spool;
/// records are not written here but stored by the service with the message's outputs
/// ([`Processed::records`]), in the same step, so that a record never exists for outputs
/// that were not stored.
#[derive(Debug, Clone)]
pub struct SpoolRecords(pub std::sync::Arc<dyn Spool>);

impl crate::correlate::Store for SpoolRecords {
    fn record(&self, r: &Record) -> std::result::Result<(), crate::correlate::Error> {
        r.validate()
    }

    fn find(&self, id: &str) -> std::result::Result<Vec<Record>, crate::correlate::Error> {
        self.0
            .find_records(id)
            .map_err(|e| crate::correlate::Error::Io {
                path: std::path::PathBuf::from("spool"),
                source: std::io::Error::other(e.to_string()),
            })
    }

    fn delivered_services(
        &self,
        id: &str,
    ) -> std::result::Result<Vec<DeliveredService>, crate::correlate::Error> {
        self.0
            .delivered_services(id)
            .map_err(|e| crate::correlate::Error::Io {
                path: std::path::PathBuf::from("spool"),
                source: std::io::Error::other(e.to_string()),
            })
    }
}

/// The legal log line of an event: ids, parties, time, outcome; never content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalEvent {
    /// When (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `received`, `refused`, `translated`, `delivered`, `deferred`, `failed`, `timer`,
    /// `quarantined`, `retry`.
    pub event: String,
    /// The spool message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageId>,
    /// The delivery, for delivery events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryId>,
    /// The Message-ID concerned (input or output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The sender (MAIL FROM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The recipients.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub to: Vec<String>,
    /// The peer (client address, or the host delivered to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// What it is (input kind, output kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The outcome in one line.
    pub outcome: String,
}

impl LegalEvent {
    /// An event with only the required fields.
    pub fn new(at: OffsetDateTime, event: &str, outcome: impl Into<String>) -> LegalEvent {
        LegalEvent {
            at,
            event: event.to_owned(),
            message: None,
            delivery: None,
            message_id: None,
            from: None,
            to: Vec::new(),
            peer: None,
            kind: None,
            outcome: outcome.into(),
        }
    }
}
