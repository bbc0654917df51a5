//! The shared spool: PostgreSQL, for several gateway nodes.
//!
//! ```text
//! ponte_messages     one row per message acknowledged: state, envelope, body, the
//!                    processing claim (lease_owner, lease_until); message_key UNIQUE
//! ponte_history      a message's history
//! ponte_outputs      what was made of it (bodies), by index
//! ponte_deliveries   one output to one destination, with its claim
//! ponte_timers       PEC timers waiting, with their claims
//! ponte_records      correlation records (+ ponte_record_ids, their identifiers)
//! ponte_delivered_services   the service each delivery to a discovered REM peer went to
//! ponte_legal        the legal log, one event per row
//! ponte_nodes        the nodes: started, last seen
//! ponte_schema_version   the migrations applied (migrations/NNNN_*.sql)
//! ```
//!
//! How several nodes share it:
//! - **one transaction per state change**, the legal events of the change in the same
//!   transaction; a message's row is locked first (`FOR UPDATE`), then its deliveries and
//!   timers, so that concurrent changes to one message are serialised in one order;
//! - **idempotency on the input's `Message-ID`** by the UNIQUE constraint on `message_key`:
//!   `INSERT ... ON CONFLICT (message_key) DO NOTHING`. Two nodes receiving the same message
//!   at once: the second insert waits for the first transaction and then does nothing;
//! - **claims** (processing, deliveries, timers): `UPDATE ... WHERE id IN (SELECT ... FOR
//!   UPDATE SKIP LOCKED) RETURNING`, writing the claiming node instance and the lease's end.
//!   Another node skips what is leased; a live node renews the leases of the work it holds
//!   every third of `[spool] lease`; a node that dies stops renewing, and its work is due
//!   again for every node once the lease has run out;
//! - **timers fire once**: claimed the same way, and the firing deletes the timer in the
//!   transaction that stores its notices (a node that lost the lease finds it gone).
//!
//! Times compared with leases are the nodes' clocks (`now` passed in): keep the nodes'
//! clocks in sync (NTP), far within the lease.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use time::OffsetDateTime;
use tokio_postgres::NoTls;
use tokio_postgres::Row as PgRow;
use tokio_postgres::types::{FromSql, Json, ToSql};

use super::transfer::{Dump, Portable};
use super::{
    Attempt, Delivery, DeliveryId, DeliveryState, Destination, Envelope, Error, Filter, Format,
    HistoryEntry, Incoming, LegalEvent, Message, MessageId, NewTimer, Output, POISON_ATTEMPTS,
    Processed, Received, Result, Spool, State, Stats, Timer, TimerId, TimerKind,
};
use crate::correlate::{DeliveredService, Record, normalize_id};

/// The migrations, in order: (version, name, SQL). Each runs once, in the transaction that
/// records it in `ponte_schema_version`.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "the spool's tables",
        include_str!("migrations/0001_spool.sql"),
    ),
    (
        2,
        "the services discovered peers were delivered to",
        include_str!("migrations/0002_delivered_services.sql"),
    ),
];

/// The key of the advisory lock held while migrating (two nodes starting at once migrate
/// one after the other).
const MIGRATION_LOCK: i64 = 0x706f_6e74_6501;

/// How to reach the database and who this node is.
#[derive(Clone)]
pub struct Options {
    /// The PostgreSQL URL (with its password, if any).
    pub url: String,
    /// The URL as shown in messages (password hidden).
    pub shown: String,
    /// The password, when it comes from a file.
    pub password: Option<String>,
    /// This node's name.
    pub node: String,
    /// Connections in the pool.
    pub pool: usize,
    /// How long a claim holds without renewal.
    pub lease: Duration,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("url", &self.shown)
            .field("node", &self.node)
            .field("pool", &self.pool)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// From the configuration's `[spool]` (reads `password_file`).
    pub fn from_config(s: &crate::config::SharedSpool, lease: Duration) -> Result<Options> {
        let password = match &s.password_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|source| Error::Io {
                        path: p.clone(),
                        source,
                    })?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            ),
            None => None,
        };
        Ok(Options {
            url: s.url.expose().to_owned(),
            shown: s.url.redacted(),
            password,
            node: s.node.clone(),
            pool: s.pool,
            lease,
        })
    }
}

/// What [`Postgres::migrate`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The schema version before.
    pub from: i32,
    /// The schema version now.
    pub to: i32,
    /// The migrations applied now: (version, name).
    pub applied: Vec<(i32, String)>,
}

/// The shared spool. Cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct Postgres {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &self.inner.shown)
            .field("owner", &self.inner.owner)
            .finish_non_exhaustive()
    }
}

/// Which claims a node holds, by kind (renewed while held).
#[derive(Default)]
struct Held {
    messages: HashSet<i64>,
    deliveries: HashSet<i64>,
    timers: HashSet<i64>,
}

struct Inner {
    pool: Pool,
    shown: String,
    node: String,
    /// The claims' owner: node name, process and a random part (a restarted node is another
    /// owner: its predecessor's claims run out like any dead node's).
    owner: String,
    lease: Duration,
    held: Mutex<Held>,
}

type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// What a claim takes: the table, its due-time column, which rows, what it returns.
struct Claim {
    table: &'static str,
    due: &'static str,
    filter: &'static str,
    cols: &'static str,
}

const CLAIM_PROCESSING: Claim = Claim {
    table: "ponte_messages",
    due: "next_attempt",
    filter: "state = 'received'",
    cols: "id, next_attempt",
};

const CLAIM_DELIVERIES: Claim = Claim {
    table: "ponte_deliveries",
    due: "next_attempt",
    filter: "state = 'queued'",
    cols: DEL_COLS,
};

const CLAIM_TIMERS: Claim = Claim {
    table: "ponte_timers",
    due: "due",
    filter: "true",
    cols: TIMER_COLS,
};
type Params<'a> = [&'a (dyn ToSql + Sync)];

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A database error in one line: the server's severity, SQLSTATE and message when it
/// answered, else the client's (connection refused, closed, ...).
fn pg(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Database(format!(
            "{} {}: {}{}",
            db.severity(),
            db.code().code(),
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        )),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(inner) = src {
                let t = inner.to_string();
                if !s.contains(&t) {
                    s.push_str(": ");
                    s.push_str(&t);
                }
                src = inner.source();
            }
            Error::Database(s)
        }
    }
}

/// An id as the database keeps it (ids beyond `i64` do not exist there).
fn db_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

fn id_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn u32_of(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn size_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn col<'a, T: FromSql<'a>>(r: &'a PgRow, name: &str) -> Result<T> {
    r.try_get(name)
        .map_err(|e| Error::Database(format!("column {name}: {e}")))
}

fn corrupt(what: &'static str, id: i64, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        what,
        id: id_of(id),
        reason: reason.into(),
    }
}

fn state_of(s: &str, id: i64) -> Result<State> {
    Ok(match s {
        "received" => State::Received,
        "queued" => State::Queued,
        "delivered" => State::Delivered,
        "failed" => State::Failed,
        "quarantined" => State::Quarantined,
        other => return Err(corrupt("message", id, format!("state {other:?}"))),
    })
}

fn format_of(s: &str, id: i64) -> Result<Format> {
    match s {
        "pec" => Ok(Format::Pec),
        "rem" => Ok(Format::Rem),
        other => Err(corrupt("message", id, format!("format {other:?}"))),
    }
}

fn delivery_state_of(s: &str, id: i64) -> Result<DeliveryState> {
    Ok(match s {
        "queued" => DeliveryState::Queued,
        "delivered" => DeliveryState::Delivered,
        "failed" => DeliveryState::Failed,
        "quarantined" => DeliveryState::Quarantined,
        other => return Err(corrupt("delivery", id, format!("state {other:?}"))),
    })
}

fn timer_kind_of(s: &str, id: i64) -> Result<TimerKind> {
    match s {
        "warning" => Ok(TimerKind::Warning),
        "final" => Ok(TimerKind::Final),
        other => Err(corrupt("timer", id, format!("kind {other:?}"))),
    }
}

/// `pec` or `domain:NAME` ([`Destination`]'s `Display`) read back.
fn destination_of(s: &str, id: i64) -> Result<Destination> {
    if s == "pec" {
        Ok(Destination::Pec)
    } else if let Some(d) = s.strip_prefix("domain:") {
        Ok(Destination::Domain(d.to_owned()))
    } else {
        Err(corrupt("delivery", id, format!("destination {s:?}")))
    }
}

/// The key of a `Message-ID` (without `<>`); `None` for an empty one.
fn key_of(mid: &str) -> Option<String> {
    let k = normalize_id(mid);
    (!k.is_empty()).then(|| k.to_owned())
}

const MSG_COLS: &str = "id, message_id, state, format, kind, envelope, size, received_at, \
     updated_at, attempts, poison, next_attempt, mapping, refused_kind, refused_text, last_error";

const DEL_COLS: &str = "id, message, output, kind, message_id, destination, mail_from, rcpt_to, \
     state, attempts, created, next_attempt, last_result";

const TIMER_COLS: &str = "id, message, kind, due, about, recipients";

async fn query<C: GenericClient>(c: &C, sql: &str, p: &Params<'_>) -> Result<Vec<PgRow>> {
    let st = c.prepare_cached(sql).await.map_err(pg)?;
    c.query(&st, p).await.map_err(pg)
}

async fn query_opt<C: GenericClient>(c: &C, sql: &str, p: &Params<'_>) -> Result<Option<PgRow>> {
    let st = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_opt(&st, p).await.map_err(pg)
}

async fn execute<C: GenericClient>(c: &C, sql: &str, p: &Params<'_>) -> Result<u64> {
    let st = c.prepare_cached(sql).await.map_err(pg)?;
    c.execute(&st, p).await.map_err(pg)
}

/// A message row as changed inside a transaction (history and outputs live in their own
/// tables; what is added is written with the row).
struct Work {
    m: Message,
    poison: u32,
    /// Outputs stored so far (the next output's index).
    outputs: u32,
    /// History entries to add.
    history: Vec<HistoryEntry>,
    /// Legal events to add.
    events: Vec<LegalEvent>,
}

impl Work {
    fn note(&mut self, now: OffsetDateTime, event: &str, detail: String) {
        self.m.history.push(HistoryEntry {
            at: now,
            event: event.into(),
            detail: detail.clone(),
        });
        self.history.push(HistoryEntry {
            at: now,
            event: event.into(),
            detail,
        });
    }
}

fn message_of(r: &PgRow) -> Result<(Message, u32)> {
    let id: i64 = col(r, "id")?;
    let envelope: Json<Envelope> = col(r, "envelope")?;
    let refused = match (
        col::<Option<String>>(r, "refused_kind")?,
        col::<Option<String>>(r, "refused_text")?,
    ) {
        (Some(k), Some(t)) => Some((k, t)),
        _ => None,
    };
    let m = Message {
        id: id_of(id),
        state: state_of(&col::<String>(r, "state")?, id)?,
        format: format_of(&col::<String>(r, "format")?, id)?,
        kind: col(r, "kind")?,
        message_id: col(r, "message_id")?,
        envelope: envelope.0,
        size: size_of(col(r, "size")?),
        received_at: col(r, "received_at")?,
        updated_at: col(r, "updated_at")?,
        attempts: u32_of(col(r, "attempts")?),
        next_attempt: col(r, "next_attempt")?,
        mapping: col(r, "mapping")?,
        refused,
        last_error: col(r, "last_error")?,
        outputs: Vec::new(),
        history: Vec::new(),
    };
    Ok((m, u32_of(col(r, "poison")?)))
}

fn delivery_of(r: &PgRow) -> Result<Delivery> {
    let id: i64 = col(r, "id")?;
    Ok(Delivery {
        id: id_of(id),
        message: id_of(col(r, "message")?),
        output: u32_of(col(r, "output")?),
        kind: col(r, "kind")?,
        message_id: col(r, "message_id")?,
        destination: destination_of(&col::<String>(r, "destination")?, id)?,
        mail_from: col(r, "mail_from")?,
        rcpt_to: col(r, "rcpt_to")?,
        state: delivery_state_of(&col::<String>(r, "state")?, id)?,
        attempts: u32_of(col(r, "attempts")?),
        created: col(r, "created")?,
        next_attempt: col(r, "next_attempt")?,
        last_result: col(r, "last_result")?,
    })
}

fn timer_of(r: &PgRow) -> Result<Timer> {
    let id: i64 = col(r, "id")?;
    Ok(Timer {
        id: id_of(id),
        message: id_of(col(r, "message")?),
        timer: NewTimer {
            kind: timer_kind_of(&col::<String>(r, "kind")?, id)?,
            due: col(r, "due")?,
            about: col(r, "about")?,
            recipients: col(r, "recipients")?,
        },
    })
}

/// The whole message: its row, history, outputs and their deliveries.
async fn load_message<C: GenericClient>(c: &C, id: i64) -> Result<(Message, u32)> {
    let row = query_opt(
        c,
        &format!("SELECT {MSG_COLS} FROM ponte_messages WHERE id = $1"),
        &[&id],
    )
    .await?
    .ok_or(Error::NotFound {
        what: "message",
        id: id_of(id),
    })?;
    let (mut m, poison) = message_of(&row)?;
    for h in query(
        c,
        "SELECT at, event, detail FROM ponte_history WHERE message = $1 ORDER BY id",
        &[&id],
    )
    .await?
    {
        m.history.push(HistoryEntry {
            at: col(&h, "at")?,
            event: col(&h, "event")?,
            detail: col(&h, "detail")?,
        });
    }
    for o in query(
        c,
        "SELECT idx, kind, message_id, size FROM ponte_outputs WHERE message = $1 ORDER BY idx",
        &[&id],
    )
    .await?
    {
        m.outputs.push(Output {
            index: u32_of(col(&o, "idx")?),
            kind: col(&o, "kind")?,
            message_id: col(&o, "message_id")?,
            size: size_of(col(&o, "size")?),
            deliveries: Vec::new(),
        });
    }
    for d in query(
        c,
        "SELECT id, output FROM ponte_deliveries WHERE message = $1 ORDER BY id",
        &[&id],
    )
    .await?
    {
        let output = u32_of(col(&d, "output")?);
        if let Some(o) = m.outputs.iter_mut().find(|o| o.index == output) {
            o.deliveries.push(id_of(col(&d, "id")?));
        }
    }
    Ok((m, poison))
}

/// The message's row, locked for the transaction (without its history: only what is added
/// is written back).
async fn lock_message(t: &Tx<'_>, id: i64) -> Result<Work> {
    let row = query_opt(
        t,
        &format!("SELECT {MSG_COLS} FROM ponte_messages WHERE id = $1 FOR UPDATE"),
        &[&id],
    )
    .await?
    .ok_or(Error::NotFound {
        what: "message",
        id: id_of(id),
    })?;
    let (m, poison) = message_of(&row)?;
    let n = query_opt(
        t,
        "SELECT count(*) AS n FROM ponte_outputs WHERE message = $1",
        &[&id],
    )
    .await?
    .map(|r| col::<i64>(&r, "n"))
    .transpose()?
    .unwrap_or(0);
    Ok(Work {
        m,
        poison,
        outputs: u32::try_from(n).unwrap_or(u32::MAX),
        history: Vec::new(),
        events: Vec::new(),
    })
}

/// Writes the row's columns, the history added and the legal events.
async fn save(t: &Tx<'_>, node: &str, w: &mut Work) -> Result<()> {
    let id = db_id(w.m.id);
    let (refused_kind, refused_text) = match &w.m.refused {
        Some((k, t)) => (Some(k.as_str()), Some(t.as_str())),
        None => (None, None),
    };
    execute(
        t,
        "UPDATE ponte_messages SET state = $2, attempts = $3, poison = $4, next_attempt = $5, \
         mapping = $6, refused_kind = $7, refused_text = $8, last_error = $9, updated_at = $10, \
         lease_owner = CASE WHEN $2 = 'received' THEN lease_owner END, \
         lease_until = CASE WHEN $2 = 'received' THEN lease_until END \
         WHERE id = $1",
        &[
            &id,
            &w.m.state.as_str(),
            &i32_of(w.m.attempts),
            &i32_of(w.poison),
            &w.m.next_attempt,
            &w.m.mapping,
            &refused_kind,
            &refused_text,
            &w.m.last_error,
            &w.m.updated_at,
        ],
    )
    .await?;
    insert_history(t, id, &std::mem::take(&mut w.history)).await?;
    insert_legal(t, node, &std::mem::take(&mut w.events)).await
}

async fn insert_history(t: &Tx<'_>, id: i64, h: &[HistoryEntry]) -> Result<()> {
    if h.is_empty() {
        return Ok(());
    }
    let at: Vec<OffsetDateTime> = h.iter().map(|e| e.at).collect();
    let ev: Vec<&str> = h.iter().map(|e| e.event.as_str()).collect();
    let de: Vec<&str> = h.iter().map(|e| e.detail.as_str()).collect();
    execute(
        t,
        "INSERT INTO ponte_history (message, at, event, detail) \
         SELECT $1, a, e, d FROM unnest($2::timestamptz[], $3::text[], $4::text[]) \
         WITH ORDINALITY AS u(a, e, d, n) ORDER BY n",
        &[&id, &at, &ev, &de],
    )
    .await
    .map(drop)
}

async fn insert_legal(t: &Tx<'_>, node: &str, events: &[LegalEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let at: Vec<OffsetDateTime> = events.iter().map(|e| e.at).collect();
    let ev: Vec<Json<&LegalEvent>> = events.iter().map(Json).collect();
    execute(
        t,
        "INSERT INTO ponte_legal (at, node, event) \
         SELECT a, $1, e FROM unnest($2::timestamptz[], $3::jsonb[]) WITH ORDINALITY AS u(a, e, n) \
         ORDER BY n",
        &[&node, &at, &ev],
    )
    .await
    .map(drop)
}

async fn insert_delivery(t: &Tx<'_>, d: &Delivery) -> Result<i64> {
    let row = query_opt(
        t,
        "INSERT INTO ponte_deliveries (message, output, kind, message_id, destination, mail_from, \
         rcpt_to, state, attempts, created, next_attempt, last_result) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        &[
            &db_id(d.message),
            &i32_of(d.output),
            &d.kind,
            &d.message_id,
            &d.destination.to_string(),
            &d.mail_from,
            &d.rcpt_to,
            &d.state.as_str(),
            &i32_of(d.attempts),
            &d.created,
            &d.next_attempt,
            &d.last_result,
        ],
    )
    .await?
    .ok_or_else(|| Error::Database("INSERT ... RETURNING gave no row".into()))?;
    col(&row, "id")
}

async fn update_delivery(t: &Tx<'_>, d: &Delivery) -> Result<()> {
    execute(
        t,
        "UPDATE ponte_deliveries SET rcpt_to = $2, state = $3, attempts = $4, next_attempt = $5, \
         last_result = $6, lease_owner = NULL, lease_until = NULL WHERE id = $1",
        &[
            &db_id(d.id),
            &d.rcpt_to,
            &d.state.as_str(),
            &i32_of(d.attempts),
            &d.next_attempt,
            &d.last_result,
        ],
    )
    .await
    .map(drop)
}

/// Applies a processing result to a locked message: outputs and their deliveries, records,
/// timers started and stopped, then the state from the deliveries (as the embedded spool's
/// `apply`, the same history and legal events).
async fn apply(
    t: &Tx<'_>,
    w: &mut Work,
    p: Processed,
    now: OffsetDateTime,
    event: &str,
) -> Result<()> {
    let mid = db_id(w.m.id);
    if let Some(mapping) = &p.mapping {
        w.m.mapping = Some(mapping.clone());
        w.note(now, "translated", format!("mapping {mapping}"));
        let mut e = LegalEvent::new(now, "translated", format!("mapping {mapping}"));
        e.message = Some(w.m.id);
        e.message_id = w.m.message_id.clone();
        e.kind = Some(w.m.kind.clone());
        w.events.push(e);
    }
    if let Some((kind, text)) = &p.refused {
        w.m.refused = Some((kind.clone(), text.clone()));
        w.note(now, "refused", format!("{kind}: {text}"));
        let mut e = LegalEvent::new(now, "refused", format!("{kind}: {text}"));
        e.message = Some(w.m.id);
        e.message_id = w.m.message_id.clone();
        e.from = Some(w.m.envelope.mail_from.clone());
        w.events.push(e);
    }
    for n in &p.notes {
        w.note(now, "note", n.clone());
    }
    for o in p.outputs {
        let index = w.outputs;
        w.outputs = w.outputs.saturating_add(1);
        let size = o.body.len() as u64;
        execute(
            t,
            "INSERT INTO ponte_outputs (message, idx, kind, message_id, message_key, size, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &mid,
                &i32_of(index),
                &o.kind,
                &o.message_id,
                &normalize_id(&o.message_id),
                &i64::try_from(size).unwrap_or(i64::MAX),
                &o.body,
            ],
        )
        .await?;
        let mut ids = Vec::new();
        for (dest, rcpts) in o.routes {
            let mut d = Delivery {
                id: 0,
                message: w.m.id,
                output: index,
                kind: o.kind.clone(),
                message_id: o.message_id.clone(),
                destination: dest.clone(),
                mail_from: o.mail_from.clone(),
                rcpt_to: rcpts.clone(),
                state: DeliveryState::Queued,
                attempts: 0,
                created: now,
                next_attempt: now,
                last_result: None,
            };
            d.id = id_of(insert_delivery(t, &d).await?);
            ids.push(d.id);
            let mut e = LegalEvent::new(now, "queued", format!("to {dest}"));
            e.message = Some(w.m.id);
            e.delivery = Some(d.id);
            e.message_id = Some(o.message_id.clone());
            e.from = Some(o.mail_from.clone());
            e.to = rcpts;
            e.kind = Some(o.kind.clone());
            w.events.push(e);
        }
        w.note(
            now,
            event,
            format!(
                "output {index} {} {} ({size} bytes), deliveries {ids:?}",
                o.kind, o.message_id
            ),
        );
        w.m.outputs.push(Output {
            index,
            kind: o.kind,
            message_id: o.message_id,
            size,
            deliveries: ids,
        });
    }
    for r in &p.records {
        let row = query_opt(
            t,
            "INSERT INTO ponte_records (record) VALUES ($1) RETURNING id",
            &[&Json(r)],
        )
        .await?
        .ok_or_else(|| Error::Database("INSERT ... RETURNING gave no row".into()))?;
        let rid: i64 = col(&row, "id")?;
        let keys: Vec<String> = r.ids().filter_map(key_of).collect();
        execute(
            t,
            "INSERT INTO ponte_record_ids (key, record) SELECT DISTINCT k, $2::bigint FROM unnest($1::text[]) AS k \
             ON CONFLICT DO NOTHING",
            &[&keys, &rid],
        )
        .await?;
    }
    for tm in p.timers {
        let about_key = normalize_id(&tm.about).to_owned();
        let row = query_opt(
            t,
            "INSERT INTO ponte_timers (message, kind, due, about, about_key, recipients) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &mid,
                &tm.kind.as_str(),
                &tm.due,
                &tm.about,
                &about_key,
                &tm.recipients,
            ],
        )
        .await?
        .ok_or_else(|| Error::Database("INSERT ... RETURNING gave no row".into()))?;
        let tid: i64 = col(&row, "id")?;
        w.note(
            now,
            "timer",
            format!(
                "{} timer {tid} due {} for {}",
                tm.kind.as_str(),
                crate::pec::zone::rfc3339(tm.due),
                tm.recipients.join(", ")
            ),
        );
    }
    for stop in p.stop_timers {
        let about = normalize_id(&stop.about).to_owned();
        let rows = query(
            t,
            &format!(
                "SELECT {TIMER_COLS} FROM ponte_timers WHERE about_key = $1 ORDER BY id FOR UPDATE"
            ),
            &[&about],
        )
        .await?;
        for r in rows {
            let mut timer = timer_of(&r)?;
            if !stop.kinds.contains(&timer.timer.kind) {
                continue;
            }
            if stop.recipients.is_empty() {
                timer.timer.recipients.clear();
            }
            timer
                .timer
                .recipients
                .retain(|r| !stop.recipients.iter().any(|s| s.eq_ignore_ascii_case(r)));
            if timer.timer.recipients.is_empty() {
                execute(
                    t,
                    "DELETE FROM ponte_timers WHERE id = $1",
                    &[&db_id(timer.id)],
                )
                .await?;
            } else {
                execute(
                    t,
                    "UPDATE ponte_timers SET recipients = $2 WHERE id = $1",
                    &[&db_id(timer.id), &timer.timer.recipients],
                )
                .await?;
            }
        }
    }
    w.m.updated_at = now;
    settle(t, w).await
}

/// The message's state from its deliveries (unless it waits for processing or is
/// quarantined).
async fn settle(t: &Tx<'_>, w: &mut Work) -> Result<()> {
    if !matches!(w.m.state, State::Received | State::Quarantined) {
        let r = query_opt(
            t,
            "SELECT coalesce(bool_or(state = 'queued'), false) AS pending, \
             coalesce(bool_or(state = 'failed'), false) AS failed \
             FROM ponte_deliveries WHERE message = $1",
            &[&db_id(w.m.id)],
        )
        .await?;
        let (pending, failed) = match r {
            Some(r) => (col::<bool>(&r, "pending")?, col::<bool>(&r, "failed")?),
            None => (false, false),
        };
        w.m.state = if pending {
            State::Queued
        } else if failed || w.m.refused.is_some() {
            State::Failed
        } else {
            State::Delivered
        };
    }
    Ok(())
}

impl Postgres {
    /// Connects (the pool opens connections as needed; one is opened now, so that a wrong
    /// URL, password or database is said at once) and applies the migrations not yet applied.
    pub async fn open(o: &Options) -> Result<Postgres> {
        let s = Postgres::connect(o)?;
        s.migrate().await?;
        s.register().await?;
        s.spawn_renewal();
        Ok(s)
    }

    /// A spool on `o` without migrating nor connecting yet (`ponte spool migrate`, `ponte
    /// config check`).
    pub fn connect(o: &Options) -> Result<Postgres> {
        let mut cfg: tokio_postgres::Config = o
            .url
            .parse()
            .map_err(|e| Error::Database(format!("{} is not a PostgreSQL URL: {e}", o.shown)))?;
        if let Some(p) = &o.password {
            cfg.password(p);
        }
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(Duration::from_secs(10));
        }
        cfg.application_name(format!("ponte {}", o.node));
        cfg.keepalives(true);
        cfg.keepalives_idle(Duration::from_secs(30));
        let mgr = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(o.pool.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| Error::Database(format!("{}: {e}", o.shown)))?;
        let random = {
            use ring::rand::SecureRandom;
            let mut b = [0u8; 4];
            let _ = ring::rand::SystemRandom::new().fill(&mut b);
            u32::from_be_bytes(b)
        };
        Ok(Postgres {
            inner: Arc::new(Inner {
                pool,
                shown: o.shown.clone(),
                node: o.node.clone(),
                owner: format!("{}/{}/{random:08x}", o.node, std::process::id()),
                lease: o.lease,
                held: Mutex::new(Held::default()),
            }),
        })
    }

    /// Connects once and reads the schema version, for `ponte config check`: `Ok((have,
    /// want))`, or the reason it cannot be used, in one line (the server refused the
    /// connection, the password, a database that does not exist ...).
    pub async fn probe(o: &Options) -> Result<(i32, i32)> {
        let mut o = o.clone();
        o.pool = 1;
        Postgres::connect(&o)?.schema_version().await
    }

    /// The URL, password hidden.
    pub fn shown(&self) -> &str {
        &self.inner.shown
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// Who this process is in the claims (`node/pid/random`).
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.inner.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => match pg(e) {
                Error::Database(m) => {
                    Error::Database(format!("cannot connect to {}: {m}", self.inner.shown))
                }
                other => other,
            },
            other => Error::Database(format!("cannot connect to {}: {other}", self.inner.shown)),
        })
    }

    /// The schema version applied (0: none) and the newest this build knows.
    pub async fn schema_version(&self) -> Result<(i32, i32)> {
        let c = self.client().await?;
        let latest = MIGRATIONS.last().map_or(0, |m| m.0);
        let exists = query_opt(
            &c,
            "SELECT to_regclass('ponte_schema_version') IS NOT NULL AS e",
            &[],
        )
        .await?
        .map(|r| col::<bool>(&r, "e"))
        .transpose()?
        .unwrap_or(false);
        if !exists {
            return Ok((0, latest));
        }
        let v = query_opt(
            &c,
            "SELECT coalesce(max(version), 0) AS v FROM ponte_schema_version",
            &[],
        )
        .await?
        .map(|r| col::<i32>(&r, "v"))
        .transpose()?
        .unwrap_or(0);
        Ok((v, latest))
    }

    /// Applies the migrations not yet applied, in one transaction, under an advisory lock
    /// (two nodes starting at once: one migrates, the other then finds nothing to do).
    /// [`Error::Schema`] when the database is newer than this build.
    pub async fn migrate(&self) -> Result<Migrated> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        t.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg)?;
        t.batch_execute(
            "CREATE TABLE IF NOT EXISTS ponte_schema_version (\
               version integer PRIMARY KEY, \
               name text NOT NULL, \
               applied_at timestamptz NOT NULL DEFAULT now(), \
               applied_by text NOT NULL)",
        )
        .await
        .map_err(pg)?;
        let from: i32 = t
            .query_one(
                "SELECT coalesce(max(version), 0) AS v FROM ponte_schema_version",
                &[],
            )
            .await
            .map_err(pg)
            .and_then(|r| col(&r, "v"))?;
        let latest = MIGRATIONS.last().map_or(0, |m| m.0);
        if from > latest {
            return Err(Error::Schema(format!(
                "the database {} is at schema version {from}, newer than this ponte knows ({latest}): upgrade ponte",
                self.inner.shown
            )));
        }
        let mut applied = Vec::new();
        for (version, name, sql) in MIGRATIONS {
            if *version <= from {
                continue;
            }
            t.batch_execute(sql).await.map_err(|e| match pg(e) {
                Error::Database(m) => Error::Schema(format!("migration {version} ({name}): {m}")),
                other => other,
            })?;
            t.execute(
                "INSERT INTO ponte_schema_version (version, name, applied_by) VALUES ($1, $2, $3)",
                &[version, name, &self.inner.owner],
            )
            .await
            .map_err(pg)?;
            applied.push((*version, (*name).to_owned()));
        }
        t.commit().await.map_err(pg)?;
        Ok(Migrated {
            from,
            to: latest.max(from),
            applied,
        })
    }

    /// Notes this node in `ponte_nodes`.
    async fn register(&self) -> Result<()> {
        let c = self.client().await?;
        let now = OffsetDateTime::now_utc();
        execute(
            &c,
            "INSERT INTO ponte_nodes (node, owner, started, seen) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (node) DO UPDATE SET owner = $2, started = $3, seen = $3",
            &[&self.inner.node, &self.inner.owner, &now],
        )
        .await
        .map(drop)
    }

    /// Renews the leases of the work this process holds, every third of the lease, until
    /// the spool is dropped.
    fn spawn_renewal(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let every = self.inner.lease / 3;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                let s = Postgres { inner };
                if let Err(e) = s.renew(OffsetDateTime::now_utc()).await {
                    tracing::warn!(error = %e, "cannot renew the spool's leases");
                }
            }
        });
    }

    /// Extends the leases of every claim this process holds to `now + lease`.
    pub async fn renew(&self, now: OffsetDateTime) -> Result<()> {
        let (m, d, t): (Vec<i64>, Vec<i64>, Vec<i64>) = {
            let h = lock(&self.inner.held);
            (
                h.messages.iter().copied().collect(),
                h.deliveries.iter().copied().collect(),
                h.timers.iter().copied().collect(),
            )
        };
        let until = now + self.inner.lease;
        let c = self.client().await?;
        for (table, ids) in [
            ("ponte_messages", m),
            ("ponte_deliveries", d),
            ("ponte_timers", t),
        ] {
            if ids.is_empty() {
                continue;
            }
            execute(
                &c,
                &format!(
                    "UPDATE {table} SET lease_until = $3 WHERE id = ANY($1) AND lease_owner = $2"
                ),
                &[&ids, &self.inner.owner, &until],
            )
            .await?;
        }
        execute(
            &c,
            "UPDATE ponte_nodes SET seen = $2 WHERE node = $1",
            &[&self.inner.node, &now],
        )
        .await
        .map(drop)
    }

    /// Gives back every claim this process holds (a clean stop: the work is due again for
    /// the other nodes at once, not after the lease).
    pub async fn release(&self) -> Result<()> {
        let c = self.client().await?;
        for table in ["ponte_messages", "ponte_deliveries", "ponte_timers"] {
            execute(
                &c,
                &format!(
                    "UPDATE {table} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1"
                ),
                &[&self.inner.owner],
            )
            .await?;
        }
        *lock(&self.inner.held) = Held::default();
        Ok(())
    }

    fn drop_held(&self, what: &str, id: i64) {
        let mut h = lock(&self.inner.held);
        match what {
            "message" => h.messages.remove(&id),
            "delivery" => h.deliveries.remove(&id),
            _ => h.timers.remove(&id),
        };
    }

    /// Runs `f` on a pooled connection inside the runtime's blocking allowance: for the
    /// synchronous [`Spool::find_records`], called while a translation runs.
    fn block_on<T>(&self, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| h.block_on(f))
            }
            Ok(_) => Err(Error::Database(
                "the PostgreSQL spool needs a multi-threaded runtime for synchronous look-ups"
                    .into(),
            )),
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Database(format!("runtime: {e}")))?
                .block_on(f),
        }
    }

    async fn services_for(&self, id: &str) -> Result<Vec<DeliveredService>> {
        let Some(key) = key_of(id) else {
            return Ok(Vec::new());
        };
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT delivery, service FROM ponte_delivered_services WHERE key = $1 ORDER BY delivery",
            &[&key],
        )
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let did: i64 = col(&r, "delivery")?;
            let v: serde_json::Value = col(&r, "service")?;
            out.push(
                serde_json::from_value(v)
                    .map_err(|e| corrupt("delivered service", did, e.to_string()))?,
            );
        }
        Ok(out)
    }

    async fn records_for(&self, id: &str) -> Result<Vec<Record>> {
        let Some(key) = key_of(id) else {
            return Ok(Vec::new());
        };
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT r.id, r.record FROM ponte_record_ids k JOIN ponte_records r ON r.id = k.record \
             WHERE k.key = $1 ORDER BY r.id",
            &[&key],
        )
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let rid: i64 = col(&r, "id")?;
            let v: serde_json::Value = col(&r, "record")?;
            let rec: Record =
                serde_json::from_value(v).map_err(|e| corrupt("record", rid, e.to_string()))?;
            if rec.matches(id) {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// Claims up to `max` rows of `what` due at `now` that no live claim holds, for this
    /// process, oldest first.
    async fn claim(
        &self,
        what: &Claim,
        now: OffsetDateTime,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<PgRow>> {
        let Claim {
            table,
            due,
            filter,
            cols,
        } = what;
        let c = self.client().await?;
        let until = now + lease;
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let mut rows = query(
            &c,
            &format!(
                "UPDATE {table} SET lease_owner = $1, lease_until = $2 WHERE id IN (\
                   SELECT id FROM {table} WHERE {filter} AND {due} <= $3 \
                   AND (lease_until IS NULL OR lease_until <= $3) \
                   ORDER BY {due}, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 RETURNING {cols}"
            ),
            &[&self.inner.owner, &until, &now, &max],
        )
        .await?;
        rows.sort_by_key(|r| {
            (
                r.try_get::<_, OffsetDateTime>(due).ok(),
                r.try_get::<_, i64>("id").unwrap_or(0),
            )
        });
        Ok(rows)
    }

    /// Whether this process may complete work on a row claimed as `owner` until `until`:
    /// not when another live claim holds it (ours ran out and another node took it).
    fn lost(
        &self,
        owner: Option<&str>,
        until: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> bool {
        matches!((owner, until), (Some(o), Some(u)) if o != self.inner.owner && u > now)
    }
}

#[async_trait::async_trait]
impl Spool for Postgres {
    async fn by_message_id(&self, message_id: &str) -> Result<Option<MessageId>> {
        let Some(key) = key_of(message_id) else {
            return Ok(None);
        };
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT id FROM ponte_messages WHERE message_key = $1",
            &[&key],
        )
        .await?
        .map(|r| col::<i64>(&r, "id").map(id_of))
        .transpose()
    }

    async fn by_output_message_id(&self, message_id: &str) -> Result<Option<(MessageId, u32)>> {
        let Some(key) = key_of(message_id) else {
            return Ok(None);
        };
        let c = self.client().await?;
        match query_opt(
            &c,
            "SELECT message, idx FROM ponte_outputs WHERE message_key = $1 \
             ORDER BY message DESC, idx DESC LIMIT 1",
            &[&key],
        )
        .await?
        {
            Some(r) => Ok(Some((id_of(col(&r, "message")?), u32_of(col(&r, "idx")?)))),
            None => Ok(None),
        }
    }

    async fn receive(
        &self,
        inc: Incoming,
        processed: Option<Processed>,
        now: OffsetDateTime,
    ) -> Result<Received> {
        let key = inc.message_id.as_deref().and_then(key_of);
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        let state = if processed.is_some() {
            State::Queued
        } else {
            State::Received
        };
        let next_attempt = processed.is_none().then_some(now);
        let size = inc.body.len() as u64;
        let inserted = query_opt(
            &t,
            "INSERT INTO ponte_messages (message_id, message_key, state, format, kind, envelope, \
             size, body, received_at, updated_at, next_attempt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) \
             ON CONFLICT (message_key) DO NOTHING RETURNING id",
            &[
                &inc.message_id,
                &key,
                &state.as_str(),
                &inc.format.as_str(),
                &inc.kind,
                &Json(&inc.envelope),
                &i64::try_from(size).unwrap_or(i64::MAX),
                &inc.body,
                &now,
                &next_attempt,
            ],
        )
        .await?;
        let Some(row) = inserted else {
            // Another transaction has this Message-ID (committed: ON CONFLICT waited for it).
            t.rollback().await.map_err(pg)?;
            let existing = query_opt(
                &c,
                "SELECT id FROM ponte_messages WHERE message_key = $1",
                &[&key],
            )
            .await?
            .ok_or_else(|| {
                Error::Database("a conflicting Message-ID vanished (deleted meanwhile)".into())
            })?;
            return Ok(Received::Duplicate(id_of(col(&existing, "id")?)));
        };
        let id: i64 = col(&row, "id")?;
        let mut w = Work {
            m: Message {
                id: id_of(id),
                state,
                format: inc.format,
                kind: inc.kind.clone(),
                message_id: inc.message_id.clone(),
                envelope: inc.envelope.clone(),
                size,
                received_at: now,
                updated_at: now,
                attempts: 0,
                next_attempt,
                mapping: None,
                refused: None,
                last_error: None,
                outputs: Vec::new(),
                history: Vec::new(),
            },
            poison: 0,
            outputs: 0,
            history: Vec::new(),
            events: Vec::new(),
        };
        w.note(
            now,
            "received",
            format!(
                "{} {} from {} ({}), {} bytes, MAIL FROM <{}> RCPT TO {}",
                inc.format.as_str(),
                inc.kind,
                inc.envelope.peer,
                inc.envelope.helo,
                size,
                inc.envelope.mail_from,
                inc.envelope.rcpt_to.join(", ")
            ),
        );
        let mut first = LegalEvent::new(now, "received", "accepted (250)");
        first.message = Some(w.m.id);
        first.message_id = inc.message_id.clone();
        first.from = Some(inc.envelope.mail_from.clone());
        first.to = inc.envelope.rcpt_to.clone();
        first.peer = Some(inc.envelope.peer.clone());
        first.kind = Some(format!("{} {}", inc.format.as_str(), inc.kind));
        w.events.push(first);
        if let Some(p) = processed {
            apply(&t, &mut w, p, now, "queued").await?;
        }
        save(&t, &self.inner.node, &mut w).await?;
        t.commit().await.map_err(pg)?;
        Ok(Received::New(w.m.id))
    }

    async fn claim_processing(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<MessageId>> {
        let rows = self.claim(&CLAIM_PROCESSING, now, lease, max).await?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| col::<i64>(r, "id"))
            .collect::<Result<_>>()?;
        lock(&self.inner.held).messages.extend(ids.iter().copied());
        Ok(ids.into_iter().map(id_of).collect())
    }

    async fn processed(&self, id: MessageId, p: Processed, now: OffsetDateTime) -> Result<()> {
        let did = db_id(id);
        let r = async {
            let mut c = self.client().await?;
            let t = c.transaction().await.map_err(pg)?;
            let lease = query_opt(
                &t,
                "SELECT lease_owner, lease_until FROM ponte_messages WHERE id = $1 FOR UPDATE",
                &[&did],
            )
            .await?
            .ok_or(Error::NotFound {
                what: "message",
                id,
            })?;
            if self.lost(
                col::<Option<String>>(&lease, "lease_owner")?.as_deref(),
                col(&lease, "lease_until")?,
                now,
            ) {
                return Err(Error::WrongState {
                    what: "message",
                    id,
                    state: "claimed by another node (this node's lease ran out)".into(),
                    action: "processed",
                });
            }
            let mut w = lock_message(&t, did).await?;
            w.m.next_attempt = None;
            w.m.state = State::Queued;
            apply(&t, &mut w, p, now, "queued").await?;
            save(&t, &self.inner.node, &mut w).await?;
            t.commit().await.map_err(pg)
        }
        .await;
        self.drop_held("message", did);
        r
    }

    async fn processing_failed(
        &self,
        id: MessageId,
        reason: &str,
        poison: bool,
        retry_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<State> {
        let did = db_id(id);
        let r = async {
            let mut c = self.client().await?;
            let t = c.transaction().await.map_err(pg)?;
            let mut w = lock_message(&t, did).await?;
            w.m.next_attempt = None;
            w.m.attempts += 1;
            if poison {
                w.poison += 1;
            }
            w.m.last_error = Some(reason.to_owned());
            w.m.updated_at = now;
            if w.poison >= POISON_ATTEMPTS {
                w.m.state = State::Quarantined;
                let n = w.poison;
                w.note(
                    now,
                    "quarantined",
                    format!("processing failed {n} times: {reason}"),
                );
                let mut e = LegalEvent::new(now, "quarantined", reason.to_owned());
                e.message = Some(id);
                e.message_id = w.m.message_id.clone();
                w.events.push(e);
            } else {
                w.m.next_attempt = Some(retry_at);
                w.note(
                    now,
                    "processing-failed",
                    format!(
                        "{reason}; next attempt {}",
                        crate::pec::zone::rfc3339(retry_at)
                    ),
                );
            }
            save(&t, &self.inner.node, &mut w).await?;
            execute(
                &t,
                "UPDATE ponte_messages SET lease_owner = NULL, lease_until = NULL WHERE id = $1",
                &[&did],
            )
            .await?;
            t.commit().await.map_err(pg)?;
            Ok(w.m.state)
        }
        .await;
        self.drop_held("message", did);
        r
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>> {
        let rows = self.claim(&CLAIM_DELIVERIES, now, lease, max).await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut h = Vec::with_capacity(rows.len());
        for r in &rows {
            h.push(col::<i64>(r, "id")?);
            match delivery_of(r) {
                Ok(d) => out.push(d),
                Err(e) => {
                    lock(&self.inner.held).deliveries.extend(h);
                    return Err(e);
                }
            }
        }
        lock(&self.inner.held).deliveries.extend(h);
        Ok(out)
    }

    async fn delivery_done(
        &self,
        id: DeliveryId,
        attempt: Attempt,
        now: OffsetDateTime,
    ) -> Result<()> {
        let did = db_id(id);
        let r = self.delivery_done_tx(did, attempt, now).await;
        self.drop_held("delivery", did);
        r
    }

    async fn claim_timers(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Timer>> {
        let rows = self.claim(&CLAIM_TIMERS, now, lease, max).await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut h = Vec::with_capacity(rows.len());
        for r in &rows {
            h.push(col::<i64>(r, "id")?);
            match timer_of(r) {
                Ok(t) => out.push(t),
                Err(e) => {
                    lock(&self.inner.held).timers.extend(h);
                    return Err(e);
                }
            }
        }
        lock(&self.inner.held).timers.extend(h);
        Ok(out)
    }

    async fn timer_fired(&self, id: TimerId, p: Processed, now: OffsetDateTime) -> Result<()> {
        let tid = db_id(id);
        let r = async {
            let mut c = self.client().await?;
            let Some(m) = query_opt(
                &c,
                "SELECT message FROM ponte_timers WHERE id = $1",
                &[&tid],
            )
            .await?
            else {
                return Ok(()); // fired (or stopped) meanwhile
            };
            let mid: i64 = col(&m, "message")?;
            let t = c.transaction().await.map_err(pg)?;
            let mut w = lock_message(&t, mid).await?;
            let Some(row) = query_opt(
                &t,
                &format!(
                    "SELECT {TIMER_COLS}, lease_owner, lease_until FROM ponte_timers WHERE id = $1 FOR UPDATE"
                ),
                &[&tid],
            )
            .await?
            else {
                // Another node fired it after this node's lease ran out, or evidence stopped it.
                t.rollback().await.map_err(pg)?;
                return Ok(());
            };
            if self.lost(
                col::<Option<String>>(&row, "lease_owner")?.as_deref(),
                col(&row, "lease_until")?,
                now,
            ) {
                t.rollback().await.map_err(pg)?;
                return Ok(()); // another node holds it now and fires it
            }
            let timer = timer_of(&row)?;
            execute(&t, "DELETE FROM ponte_timers WHERE id = $1", &[&tid]).await?;
            w.note(
                now,
                "timer",
                format!(
                    "{} timer {id} fired for {}",
                    timer.timer.kind.as_str(),
                    timer.timer.recipients.join(", ")
                ),
            );
            let mut e =
                LegalEvent::new(now, "timer", format!("{} fired", timer.timer.kind.as_str()));
            e.message = Some(timer.message);
            e.message_id = Some(timer.timer.about.clone());
            e.to = timer.timer.recipients.clone();
            w.events.push(e);
            if w.m.state != State::Quarantined {
                w.m.state = State::Queued;
            }
            apply(&t, &mut w, p, now, "notice").await?;
            save(&t, &self.inner.node, &mut w).await?;
            t.commit().await.map_err(pg)
        }
        .await;
        self.drop_held("timer", tid);
        r
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>> {
        let c = self.client().await?;
        // What nobody holds, by its due time; what is held, when its lease runs out.
        let r = query_opt(
            &c,
            "SELECT least(\
               (SELECT next_attempt FROM ponte_messages WHERE state = 'received' AND lease_owner IS NULL \
                  ORDER BY next_attempt LIMIT 1), \
               (SELECT min(lease_until) FROM ponte_messages WHERE state = 'received' AND lease_owner IS NOT NULL), \
               (SELECT next_attempt FROM ponte_deliveries WHERE state = 'queued' AND lease_owner IS NULL \
                  ORDER BY next_attempt LIMIT 1), \
               (SELECT min(lease_until) FROM ponte_deliveries WHERE lease_owner IS NOT NULL AND state = 'queued'), \
               (SELECT due FROM ponte_timers WHERE lease_owner IS NULL ORDER BY due LIMIT 1), \
               (SELECT min(lease_until) FROM ponte_timers WHERE lease_owner IS NOT NULL)) AS at",
            &[],
        )
        .await?;
        match r {
            Some(r) => col(&r, "at"),
            None => Ok(None),
        }
    }

    async fn message(&self, id: MessageId) -> Result<Message> {
        let mut c = self.client().await?;
        let t = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        let (m, _) = load_message(&t, db_id(id)).await?;
        t.commit().await.map_err(pg)?;
        Ok(m)
    }

    async fn input(&self, id: MessageId) -> Result<Vec<u8>> {
        let c = self.client().await?;
        let r = query_opt(
            &c,
            "SELECT body FROM ponte_messages WHERE id = $1",
            &[&db_id(id)],
        )
        .await?
        .ok_or(Error::NotFound {
            what: "message",
            id,
        })?;
        col(&r, "body")
    }

    async fn output(&self, id: MessageId, index: u32) -> Result<Vec<u8>> {
        let c = self.client().await?;
        let r = query_opt(
            &c,
            "SELECT body FROM ponte_outputs WHERE message = $1 AND idx = $2",
            &[&db_id(id), &i32_of(index)],
        )
        .await?
        .ok_or(Error::NotFound {
            what: "output",
            id: u64::from(index),
        })?;
        col(&r, "body")
    }

    async fn delivery(&self, id: DeliveryId) -> Result<Delivery> {
        let c = self.client().await?;
        let r = query_opt(
            &c,
            &format!("SELECT {DEL_COLS} FROM ponte_deliveries WHERE id = $1"),
            &[&db_id(id)],
        )
        .await?
        .ok_or(Error::NotFound {
            what: "delivery",
            id,
        })?;
        delivery_of(&r)
    }

    async fn deliveries(&self, id: MessageId) -> Result<Vec<Delivery>> {
        let c = self.client().await?;
        let exists = query_opt(
            &c,
            "SELECT 1 AS one FROM ponte_messages WHERE id = $1",
            &[&db_id(id)],
        )
        .await?;
        if exists.is_none() {
            return Err(Error::NotFound {
                what: "message",
                id,
            });
        }
        query(
            &c,
            &format!(
                "SELECT {DEL_COLS} FROM ponte_deliveries WHERE message = $1 ORDER BY output, id"
            ),
            &[&db_id(id)],
        )
        .await?
        .iter()
        .map(delivery_of)
        .collect()
    }

    async fn timers(&self, id: MessageId) -> Result<Vec<Timer>> {
        let c = self.client().await?;
        query(
            &c,
            &format!("SELECT {TIMER_COLS} FROM ponte_timers WHERE message = $1 ORDER BY id"),
            &[&db_id(id)],
        )
        .await?
        .iter()
        .map(timer_of)
        .collect()
    }

    async fn list(&self, filter: &Filter) -> Result<Vec<Message>> {
        let limit =
            i64::try_from(if filter.limit == 0 { 100 } else { filter.limit }).unwrap_or(i64::MAX);
        let states: Vec<&str> = if filter.states.is_empty() {
            vec!["received", "queued"]
        } else {
            filter.states.iter().map(|s| s.as_str()).collect()
        };
        let mut c = self.client().await?;
        let t = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        let ids = query(
            &t,
            "SELECT id FROM ponte_messages WHERE state = ANY($1) ORDER BY id DESC LIMIT $2",
            &[&states, &limit],
        )
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for r in ids {
            out.push(load_message(&t, col(&r, "id")?).await?.0);
        }
        t.commit().await.map_err(pg)?;
        Ok(out)
    }

    async fn retry(&self, id: MessageId, now: OffsetDateTime) -> Result<State> {
        let did = db_id(id);
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        let mut w = lock_message(&t, did).await?;
        let before = w.m.state;
        if before == State::Delivered {
            return Err(Error::WrongState {
                what: "message",
                id,
                state: before.as_str().into(),
                action: "retry",
            });
        }
        let processed = w.m.mapping.is_some() || w.m.refused.is_some();
        let requeued = execute(
            &t,
            "UPDATE ponte_deliveries SET state = 'queued', next_attempt = $2 \
             WHERE message = $1 AND state <> 'delivered'",
            &[&did, &now],
        )
        .await?;
        if !processed {
            w.m.next_attempt = Some(now);
            w.m.state = State::Received;
            w.poison = 0;
        } else if w.m.state == State::Quarantined {
            w.m.state = State::Queued;
        }
        w.note(
            now,
            "retry",
            format!(
                "operator retry from {}: {requeued} deliveries queued{}",
                before.as_str(),
                if processed { "" } else { ", processing again" }
            ),
        );
        w.m.updated_at = now;
        if processed {
            settle(&t, &mut w).await?;
        }
        let state = w.m.state;
        let mut e = LegalEvent::new(
            now,
            "retry",
            format!("from {} to {}", before.as_str(), state.as_str()),
        );
        e.message = Some(id);
        e.message_id = w.m.message_id.clone();
        w.events.push(e);
        save(&t, &self.inner.node, &mut w).await?;
        t.commit().await.map_err(pg)?;
        Ok(state)
    }

    async fn quarantine(&self, id: MessageId, reason: &str, now: OffsetDateTime) -> Result<()> {
        let did = db_id(id);
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        let mut w = lock_message(&t, did).await?;
        if matches!(w.m.state, State::Delivered | State::Quarantined) {
            return Err(Error::WrongState {
                what: "message",
                id,
                state: w.m.state.as_str().into(),
                action: "quarantine",
            });
        }
        w.m.next_attempt = None;
        execute(
            &t,
            "UPDATE ponte_deliveries SET state = 'quarantined', lease_owner = NULL, lease_until = NULL \
             WHERE message = $1 AND state = 'queued'",
            &[&did],
        )
        .await?;
        execute(&t, "DELETE FROM ponte_timers WHERE message = $1", &[&did]).await?;
        w.m.state = State::Quarantined;
        w.m.last_error = Some(reason.to_owned());
        w.m.updated_at = now;
        w.note(now, "quarantined", reason.to_owned());
        let mut e = LegalEvent::new(now, "quarantined", reason.to_owned());
        e.message = Some(id);
        e.message_id = w.m.message_id.clone();
        w.events.push(e);
        save(&t, &self.inner.node, &mut w).await?;
        t.commit().await.map_err(pg)
    }

    async fn stats(&self, now: OffsetDateTime) -> Result<Stats> {
        let c = self.client().await?;
        let mut s = Stats::default();
        let mut oldest: Option<OffsetDateTime> = None;
        for r in query(
            &c,
            "SELECT state, count(*) AS n, min(received_at) AS oldest FROM ponte_messages \
             WHERE state IN ('received', 'queued') GROUP BY state ORDER BY state DESC",
            &[],
        )
        .await?
        {
            let n = size_of(col(&r, "n")?);
            let state = state_of(&col::<String>(&r, "state")?, 0)?;
            s.queue_depth += n;
            s.by_state.push((state, n));
            let o: Option<OffsetDateTime> = col(&r, "oldest")?;
            oldest = match (oldest, o) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        s.oldest_seconds = oldest
            .map(|o| u64::try_from((now - o).whole_seconds()).unwrap_or(0))
            .unwrap_or(0);
        let r = query_opt(
            &c,
            "SELECT (SELECT count(*) FROM ponte_deliveries WHERE state = 'queued') AS d, \
             (SELECT count(*) FROM ponte_timers) AS t",
            &[],
        )
        .await?;
        if let Some(r) = r {
            s.deliveries_queued = size_of(col(&r, "d")?);
            s.timers = size_of(col(&r, "t")?);
        }
        Ok(s)
    }

    fn find_records(&self, id: &str) -> Result<Vec<Record>> {
        self.block_on(self.records_for(id))
    }

    async fn writable(&self) -> Result<()> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE ponte_nodes SET seen = $2 WHERE node = $1",
            &[&self.inner.node, &OffsetDateTime::now_utc()],
        )
        .await?;
        if n == 0 {
            drop(c);
            self.register().await?;
        }
        Ok(())
    }

    async fn bind_service(&self, service: DeliveredService) -> Result<()> {
        let Some(key) = key_of(&service.message_id) else {
            return Ok(());
        };
        let did = i64::try_from(service.delivery)
            .map_err(|_| Error::Database(format!("delivery {} out of range", service.delivery)))?;
        let v = serde_json::to_value(&service).map_err(|e| Error::Database(e.to_string()))?;
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO ponte_delivered_services (delivery, key, service) VALUES ($1, $2, $3) \
             ON CONFLICT (delivery) DO UPDATE SET key = EXCLUDED.key, service = EXCLUDED.service",
            &[&did, &key, &Json(&v)],
        )
        .await?;
        Ok(())
    }

    fn delivered_services(&self, message_id: &str) -> Result<Vec<DeliveredService>> {
        self.block_on(self.services_for(message_id))
    }

    async fn legal(&self, event: LegalEvent) -> Result<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        insert_legal(&t, &self.inner.node, std::slice::from_ref(&event)).await?;
        t.commit().await.map_err(pg)
    }

    async fn close(&self) -> Result<()> {
        self.release().await
    }
}

impl Postgres {
    async fn delivery_done_tx(
        &self,
        did: i64,
        attempt: Attempt,
        now: OffsetDateTime,
    ) -> Result<()> {
        let id = id_of(did);
        let mut c = self.client().await?;
        let mid: i64 = query_opt(
            &c,
            "SELECT message FROM ponte_deliveries WHERE id = $1",
            &[&did],
        )
        .await?
        .ok_or(Error::NotFound {
            what: "delivery",
            id,
        })
        .and_then(|r| col(&r, "message"))?;
        let t = c.transaction().await.map_err(pg)?;
        let mut w = lock_message(&t, mid).await?;
        let row = query_opt(
            &t,
            &format!("SELECT {DEL_COLS}, lease_owner, lease_until FROM ponte_deliveries WHERE id = $1 FOR UPDATE"),
            &[&did],
        )
        .await?
        .ok_or(Error::NotFound {
            what: "delivery",
            id,
        })?;
        let mut d = delivery_of(&row)?;
        if matches!(d.state, DeliveryState::Delivered | DeliveryState::Failed)
            || self.lost(
                col::<Option<String>>(&row, "lease_owner")?.as_deref(),
                col(&row, "lease_until")?,
                now,
            )
        {
            // Settled (or being tried) by another node since this node's lease ran out: its
            // report stands; this one is kept in the history only.
            let outcome = match &attempt {
                Attempt::Delivered(r) => format!("delivered: {r}"),
                Attempt::Deferred { reason, .. } => format!("deferred: {reason}"),
                Attempt::Failed { reason, .. } => format!("failed: {reason}"),
                Attempt::Partial { reply, failure, .. } => format!("partial: {reply}; {failure}"),
            };
            w.note(
                now,
                "note",
                format!(
                    "delivery {id}: a late report from this node after its lease ran out ({outcome}); the delivery is {} by another node",
                    d.state.as_str()
                ),
            );
            save(&t, &self.inner.node, &mut w).await?;
            return t.commit().await.map_err(pg);
        }
        d.attempts += 1;
        let mut e = LegalEvent::new(now, "", String::new());
        e.message = Some(d.message);
        e.delivery = Some(id);
        e.message_id = Some(d.message_id.clone());
        e.from = Some(d.mail_from.clone());
        e.to = d.rcpt_to.clone();
        e.peer = Some(d.destination.to_string());
        e.kind = Some(d.kind.clone());
        let mut notices = None;
        match attempt {
            Attempt::Delivered(reply) => {
                d.state = DeliveryState::Delivered;
                d.last_result = Some(reply.clone());
                w.note(
                    now,
                    "delivered",
                    format!("delivery {id} ({}) to {}: {reply}", d.kind, d.destination),
                );
                e.event = "delivered".into();
                e.outcome = reply;
            }
            Attempt::Deferred { reason, retry_at } => {
                d.next_attempt = retry_at;
                d.last_result = Some(reason.clone());
                w.note(
                    now,
                    "deferred",
                    format!(
                        "delivery {id} ({}) to {}: {reason}; next attempt {}",
                        d.kind,
                        d.destination,
                        crate::pec::zone::rfc3339(retry_at)
                    ),
                );
                e.event = "deferred".into();
                e.outcome = reason;
            }
            Attempt::Failed { reason, notices: n } => {
                d.state = DeliveryState::Failed;
                d.last_result = Some(reason.clone());
                w.m.last_error = Some(reason.clone());
                w.note(
                    now,
                    "failed",
                    format!("delivery {id} ({}) to {}: {reason}", d.kind, d.destination),
                );
                e.event = "failed".into();
                e.outcome = reason;
                notices = Some(n);
            }
            Attempt::Partial {
                delivered,
                reply,
                failed,
                failure,
                notices: n,
                deferred,
                reason,
                retry_at,
            } => {
                let keep = if !deferred.is_empty() {
                    DeliveryState::Queued
                } else if !failed.is_empty() {
                    DeliveryState::Failed
                } else {
                    DeliveryState::Delivered
                };
                let parts = [
                    (DeliveryState::Delivered, delivered, reply, "delivered"),
                    (DeliveryState::Failed, failed, failure, "failed"),
                    (DeliveryState::Queued, deferred, reason, "deferred"),
                ];
                for (state, rcpts, text, event) in parts {
                    if rcpts.is_empty() {
                        continue;
                    }
                    let mut part = Delivery {
                        rcpt_to: rcpts.clone(),
                        state,
                        last_result: Some(text.clone()),
                        ..d.clone()
                    };
                    let target = if state == keep {
                        id
                    } else {
                        id_of(insert_delivery(&t, &part).await?)
                    };
                    part.id = target;
                    let detail = match state {
                        DeliveryState::Queued => format!(
                            "{text}; next attempt {}",
                            crate::pec::zone::rfc3339(retry_at)
                        ),
                        _ => text.clone(),
                    };
                    w.note(
                        now,
                        event,
                        format!(
                            "delivery {target} ({}) to {} for {}: {detail}",
                            d.kind,
                            d.destination,
                            rcpts.join(", ")
                        ),
                    );
                    let mut pe = e.clone();
                    pe.event = event.into();
                    pe.delivery = Some(target);
                    pe.to = rcpts.clone();
                    pe.outcome = text.clone();
                    w.events.push(pe);
                    if state == DeliveryState::Failed {
                        w.m.last_error = Some(text.clone());
                    }
                    if target == id {
                        d.state = state;
                        d.rcpt_to = rcpts;
                        d.last_result = Some(text);
                        if state == DeliveryState::Queued {
                            d.next_attempt = retry_at;
                        }
                    }
                }
                if !n.outputs.is_empty() || !n.records.is_empty() || !n.timers.is_empty() {
                    notices = Some(n);
                }
                e.event.clear();
            }
        }
        if !e.event.is_empty() {
            w.events.push(e);
        }
        update_delivery(&t, &d).await?;
        match notices {
            Some(n) => apply(&t, &mut w, n, now, "notice").await?,
            None => {
                w.m.updated_at = now;
                settle(&t, &mut w).await?;
            }
        }
        save(&t, &self.inner.node, &mut w).await?;
        t.commit().await.map_err(pg)
    }
}

#[async_trait::async_trait]
impl Portable for Postgres {
    fn source(&self) -> String {
        format!("postgres {}", self.inner.shown)
    }

    async fn message_ids(&self, after: MessageId, limit: usize) -> Result<Vec<MessageId>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT id FROM ponte_messages WHERE id > $1 ORDER BY id LIMIT $2",
            &[&db_id(after), &i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?
        .iter()
        .map(|r| col::<i64>(r, "id").map(id_of))
        .collect()
    }

    async fn dump(&self, id: MessageId) -> Result<Dump> {
        let did = db_id(id);
        let mut c = self.client().await?;
        let t = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        let (message, poison) = load_message(&t, did).await?;
        let input = query_opt(&t, "SELECT body FROM ponte_messages WHERE id = $1", &[&did])
            .await?
            .map(|r| col::<Vec<u8>>(&r, "body"))
            .transpose()?
            .unwrap_or_default();
        let outputs = query(
            &t,
            "SELECT body FROM ponte_outputs WHERE message = $1 ORDER BY idx",
            &[&did],
        )
        .await?
        .iter()
        .map(|r| col::<Vec<u8>>(r, "body"))
        .collect::<Result<Vec<_>>>()?;
        let deliveries = query(
            &t,
            &format!(
                "SELECT {DEL_COLS} FROM ponte_deliveries WHERE message = $1 ORDER BY output, id"
            ),
            &[&did],
        )
        .await?
        .iter()
        .map(delivery_of)
        .collect::<Result<Vec<_>>>()?;
        let timers = query(
            &t,
            &format!("SELECT {TIMER_COLS} FROM ponte_timers WHERE message = $1 ORDER BY id"),
            &[&did],
        )
        .await?
        .iter()
        .map(timer_of)
        .collect::<Result<Vec<_>>>()?;
        let mut services = Vec::new();
        for r in query(
            &t,
            "SELECT s.delivery, s.service FROM ponte_delivered_services s              JOIN ponte_deliveries d ON d.id = s.delivery WHERE d.message = $1 ORDER BY s.delivery",
            &[&did],
        )
        .await?
        {
            let delivery: i64 = col(&r, "delivery")?;
            let v: serde_json::Value = col(&r, "service")?;
            services.push(
                serde_json::from_value::<DeliveredService>(v)
                    .map_err(|e| corrupt("delivered service", delivery, e.to_string()))?,
            );
        }
        t.commit().await.map_err(pg)?;
        Ok(Dump {
            message,
            poison,
            input,
            outputs,
            deliveries,
            timers,
            services,
        })
    }

    async fn each_record(&self, f: &mut (dyn FnMut(Record) -> Result<()> + Send)) -> Result<()> {
        let c = self.client().await?;
        let mut after = 0i64;
        loop {
            let rows = query(
                &c,
                "SELECT id, record FROM ponte_records WHERE id > $1 ORDER BY id LIMIT 1000",
                &[&after],
            )
            .await?;
            if rows.is_empty() {
                return Ok(());
            }
            for r in &rows {
                after = col(r, "id")?;
                let v: serde_json::Value = col(r, "record")?;
                f(serde_json::from_value(v)
                    .map_err(|e| corrupt("record", after, e.to_string()))?)?;
            }
        }
    }

    async fn each_legal(&self, f: &mut (dyn FnMut(LegalEvent) -> Result<()> + Send)) -> Result<()> {
        let c = self.client().await?;
        let mut after = 0i64;
        loop {
            let rows = query(
                &c,
                "SELECT id, event FROM ponte_legal WHERE id > $1 ORDER BY id LIMIT 1000",
                &[&after],
            )
            .await?;
            if rows.is_empty() {
                return Ok(());
            }
            for r in &rows {
                after = col(r, "id")?;
                let v: serde_json::Value = col(r, "event")?;
                f(serde_json::from_value(v)
                    .map_err(|e| corrupt("legal event", after, e.to_string()))?)?;
            }
        }
    }

    async fn count_messages(&self) -> Result<u64> {
        let c = self.client().await?;
        query_opt(&c, "SELECT count(*) AS n FROM ponte_messages", &[])
            .await?
            .map(|r| col::<i64>(&r, "n").map(size_of))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    async fn restore(&self, d: Dump) -> Result<()> {
        let m = &d.message;
        let id = db_id(m.id);
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        let (refused_kind, refused_text) = match &m.refused {
            Some((k, t)) => (Some(k.as_str()), Some(t.as_str())),
            None => (None, None),
        };
        execute(
            &t,
            "INSERT INTO ponte_messages (id, message_id, message_key, state, format, kind, envelope, \
             size, body, received_at, updated_at, attempts, poison, next_attempt, mapping, \
             refused_kind, refused_text, last_error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            &[
                &id,
                &m.message_id,
                &m.message_id.as_deref().and_then(key_of),
                &m.state.as_str(),
                &m.format.as_str(),
                &m.kind,
                &Json(&m.envelope),
                &i64::try_from(m.size).unwrap_or(i64::MAX),
                &d.input,
                &m.received_at,
                &m.updated_at,
                &i32_of(m.attempts),
                &i32_of(d.poison),
                &m.next_attempt,
                &m.mapping,
                &refused_kind,
                &refused_text,
                &m.last_error,
            ],
        )
        .await?;
        insert_history(&t, id, &m.history).await?;
        for o in &m.outputs {
            let body = d
                .outputs
                .get(usize::try_from(o.index).unwrap_or(usize::MAX))
                .ok_or_else(|| Error::Corrupt {
                    what: "message",
                    id: m.id,
                    reason: format!("output {} has no body in the export", o.index),
                })?;
            execute(
                &t,
                "INSERT INTO ponte_outputs (message, idx, kind, message_id, message_key, size, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &id,
                    &i32_of(o.index),
                    &o.kind,
                    &o.message_id,
                    &normalize_id(&o.message_id),
                    &i64::try_from(o.size).unwrap_or(i64::MAX),
                    body,
                ],
            )
            .await?;
        }
        for dl in &d.deliveries {
            execute(
                &t,
                "INSERT INTO ponte_deliveries (id, message, output, kind, message_id, destination, \
                 mail_from, rcpt_to, state, attempts, created, next_attempt, last_result) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &[
                    &db_id(dl.id),
                    &id,
                    &i32_of(dl.output),
                    &dl.kind,
                    &dl.message_id,
                    &dl.destination.to_string(),
                    &dl.mail_from,
                    &dl.rcpt_to,
                    &dl.state.as_str(),
                    &i32_of(dl.attempts),
                    &dl.created,
                    &dl.next_attempt,
                    &dl.last_result,
                ],
            )
            .await?;
        }
        for b in &d.services {
            let Some(key) = key_of(&b.message_id) else {
                continue;
            };
            let v = serde_json::to_value(b).map_err(|e| Error::Database(e.to_string()))?;
            execute(
                &t,
                "INSERT INTO ponte_delivered_services (delivery, key, service) VALUES ($1, $2, $3)",
                &[&db_id(b.delivery), &key, &Json(&v)],
            )
            .await?;
        }
        for tm in &d.timers {
            execute(
                &t,
                "INSERT INTO ponte_timers (id, message, kind, due, about, about_key, recipients) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &db_id(tm.id),
                    &id,
                    &tm.timer.kind.as_str(),
                    &tm.timer.due,
                    &tm.timer.about,
                    &normalize_id(&tm.timer.about),
                    &tm.timer.recipients,
                ],
            )
            .await?;
        }
        t.commit().await.map_err(pg)
    }

    async fn restore_records(&self, records: Vec<Record>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        for r in &records {
            let row = query_opt(
                &t,
                "INSERT INTO ponte_records (record) VALUES ($1) RETURNING id",
                &[&Json(r)],
            )
            .await?
            .ok_or_else(|| Error::Database("INSERT ... RETURNING gave no row".into()))?;
            let rid: i64 = col(&row, "id")?;
            let keys: Vec<String> = r.ids().filter_map(key_of).collect();
            execute(
                &t,
                "INSERT INTO ponte_record_ids (key, record) SELECT DISTINCT k, $2::bigint FROM unnest($1::text[]) AS k \
                 ON CONFLICT DO NOTHING",
                &[&keys, &rid],
            )
            .await?;
        }
        t.commit().await.map_err(pg)
    }

    async fn restore_legal(&self, events: Vec<LegalEvent>) -> Result<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        insert_legal(&t, "import", &events).await?;
        t.commit().await.map_err(pg)
    }

    async fn restored(&self) -> Result<()> {
        let c = self.client().await?;
        for table in ["ponte_messages", "ponte_deliveries", "ponte_timers"] {
            execute(
                &c,
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                ),
                &[],
            )
            .await?;
        }
        Ok(())
    }
}
