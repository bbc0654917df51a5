//! The JSON bodies of the queue endpoints: a queue entry (`GET /api/queue`), a message with
//! its deliveries and timers (`GET /api/queue/{id}`), and the trace of a message across both
//! sides (`GET /api/messages/{id}`).
//!
//! The trace starts from one spool message and follows identifiers: the message's own
//! `Message-ID` and its outputs' are looked up in the correlation records
//! ([`Spool::find_records`]); every identifier of every record found is looked up among the
//! spool's inputs ([`Spool::by_message_id`]) and outputs ([`Spool::by_output_message_id`]);
//! each spool message found that way brings its own identifiers, and so on, until nothing
//! new turns up or a bound is reached ([`MAX_TRACE_MESSAGES`], [`MAX_TRACE_RECORDS`],
//! [`MAX_TRACE_IDS`]; `truncated` says so). So the trace of a PEC envelope translated into a
//! REM dispatch holds the dispatch (an output), the REM receipts that came back about it
//! (related messages, found through the records that name the dispatch or the envelope) and
//! the PEC receipts Ponte made of them (their outputs); the trace of any of those receipts
//! holds the same set, seen from there.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde::Serialize;
use time::OffsetDateTime;

use crate::correlate::{Record, normalize_id};
use crate::service::spool::{
    self, Delivery, Envelope, Format, Message, MessageId, Spool, State, Timer,
};

/// At most this many related messages in a trace.
pub const MAX_TRACE_MESSAGES: usize = 50;
/// At most this many correlation records in a trace.
pub const MAX_TRACE_RECORDS: usize = 200;
/// At most this many identifiers looked up for a trace.
pub const MAX_TRACE_IDS: usize = 500;

/// One message of `GET /api/queue`: the message without its history, its outputs counted.
#[derive(Clone, Debug, Serialize)]
pub struct QueueEntry {
    /// The spool number.
    pub id: MessageId,
    /// `received`, `queued`, `delivered`, `failed`, `quarantined`.
    pub state: State,
    /// `pec` or `rem`.
    pub format: Format,
    /// What it is (`posta-certificata`, `dispatch`, ...).
    pub kind: String,
    /// Its `Message-ID`.
    pub message_id: Option<String>,
    /// The SMTP envelope it came with.
    pub envelope: Envelope,
    /// Bytes.
    pub size: u64,
    /// When received (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Failed processing attempts.
    pub attempts: u32,
    /// The next processing attempt (state `received`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt: Option<OffsetDateTime>,
    /// The mapping row applied.
    pub mapping: Option<String>,
    /// `[kind, text]` of a refusal after acceptance.
    pub refused: Option<(String, String)>,
    /// Why it is quarantined or failed, or the last processing error.
    pub last_error: Option<String>,
    /// How many outputs it has.
    pub output_count: usize,
}

impl From<&Message> for QueueEntry {
    fn from(m: &Message) -> QueueEntry {
        QueueEntry {
            id: m.id,
            state: m.state,
            format: m.format,
            kind: m.kind.clone(),
            message_id: m.message_id.clone(),
            envelope: m.envelope.clone(),
            size: m.size,
            received_at: m.received_at,
            updated_at: m.updated_at,
            attempts: m.attempts,
            next_attempt: m.next_attempt,
            mapping: m.mapping.clone(),
            refused: m.refused.clone(),
            last_error: m.last_error.clone(),
            output_count: m.outputs.len(),
        }
    }
}

/// `GET /api/queue/{id}`: the message (outputs and history included), its deliveries in
/// output order and its waiting timers.
#[derive(Clone, Debug, Serialize)]
pub struct MessageView {
    /// The message.
    pub message: Message,
    /// Its deliveries.
    pub deliveries: Vec<Delivery>,
    /// Its waiting PEC timers.
    pub timers: Vec<Timer>,
}

impl MessageView {
    /// Reads message `id` with its deliveries and timers.
    pub async fn load(spool: &dyn Spool, id: MessageId) -> spool::Result<MessageView> {
        Ok(MessageView {
            message: spool.message(id).await?,
            deliveries: spool.deliveries(id).await?,
            timers: spool.timers(id).await?,
        })
    }
}

/// How an identifier links a related message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkAs {
    /// The identifier is the related message's own `Message-ID` (what Ponte received).
    Input,
    /// The identifier is the `Message-ID` of one of its outputs (what Ponte made).
    Output,
}

/// One link of a related message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Via {
    /// The identifier, as the record holds it.
    pub message_id: String,
    /// Whether it is the message's input or one of its outputs.
    #[serde(rename = "as")]
    pub link: LinkAs,
    /// Which output, when `as` is `output`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<u32>,
}

/// A spool message the trace reached.
#[derive(Clone, Debug, Serialize)]
pub struct Related {
    /// The message, its deliveries and timers.
    #[serde(flatten)]
    pub view: MessageView,
    /// The identifiers (from correlation records) that led to it.
    pub via: Vec<Via>,
}

/// `GET /api/messages/{id}`.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    /// The message asked for, its deliveries and timers.
    #[serde(flatten)]
    pub view: MessageView,
    /// Every correlation record reached, in the order found.
    pub records: Vec<Record>,
    /// The other spool messages reached, by spool number.
    pub related: Vec<Related>,
    /// Whether a bound stopped the search (the trace may be incomplete).
    pub truncated: bool,
}

/// The identifiers a message brings into the search: its own and its outputs'.
fn own_ids(m: &Message) -> Vec<String> {
    m.message_id
        .iter()
        .cloned()
        .chain(m.outputs.iter().map(|o| o.message_id.clone()))
        .collect()
}

impl Trace {
    /// Follows message `id` through the correlation records (see the module documentation).
    pub async fn build(spool: &dyn Spool, id: MessageId) -> spool::Result<Trace> {
        let root = MessageView::load(spool, id).await?;
        // (identifier, whether to look it up among the spool's messages): a message's own
        // identifiers name itself, those of records name others.
        let mut pending: VecDeque<(String, bool)> = own_ids(&root.message)
            .into_iter()
            .map(|x| (x, false))
            .collect();
        let mut searched: HashSet<String> = HashSet::new();
        let mut records: Vec<Record> = Vec::new();
        let mut related: BTreeMap<MessageId, Vec<Via>> = BTreeMap::new();
        let mut truncated = false;
        while let Some((x, resolve)) = pending.pop_front() {
            let key = normalize_id(&x).to_owned();
            if key.is_empty() || !searched.insert(key) {
                continue;
            }
            if searched.len() > MAX_TRACE_IDS {
                truncated = true;
                break;
            }
            // The spool messages this identifier names (the root's own are not related).
            let mut found = Vec::new();
            if resolve {
                if let Some(mid) = spool.by_message_id(&x).await? {
                    found.push((
                        mid,
                        Via {
                            message_id: x.clone(),
                            link: LinkAs::Input,
                            output: None,
                        },
                    ));
                }
                if let Some((mid, k)) = spool.by_output_message_id(&x).await? {
                    found.push((
                        mid,
                        Via {
                            message_id: x.clone(),
                            link: LinkAs::Output,
                            output: Some(k),
                        },
                    ));
                }
            }
            for (mid, via) in found {
                if mid == id {
                    continue;
                }
                if !related.contains_key(&mid) {
                    if related.len() >= MAX_TRACE_MESSAGES {
                        truncated = true;
                        continue;
                    }
                    let m = spool.message(mid).await?;
                    pending.extend(own_ids(&m).into_iter().map(|x| (x, false)));
                }
                let vias = related.entry(mid).or_default();
                if !vias.contains(&via) {
                    vias.push(via);
                }
            }
            // The records naming it, and their identifiers.
            for r in spool.find_records(&x)? {
                if records.contains(&r) {
                    continue;
                }
                if records.len() >= MAX_TRACE_RECORDS {
                    truncated = true;
                    break;
                }
                pending.extend(r.ids().map(|x| (x.to_owned(), true)));
                records.push(r);
            }
        }
        let mut out = Vec::with_capacity(related.len());
        for (mid, via) in related {
            out.push(Related {
                view: MessageView::load(spool, mid).await?,
                via,
            });
        }
        Ok(Trace {
            view: root,
            records,
            related: out,
            truncated,
        })
    }
}
