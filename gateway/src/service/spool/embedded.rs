//! The embedded spool: one directory, no server.
//!
//! ```text
//! DIR/state.redb        messages, deliveries, timers, correlation records and their indexes
//!                       (redb: copy-on-write B-trees, every commit synced)
//! DIR/data/XX/N.in      the body of message N as received (XX = N mod 256, in hex), when it
//!                       is larger than 256 KiB; smaller bodies live in state.redb
//! DIR/data/XX/N.out.K   its output K, likewise
//! DIR/legal.jsonl       the legal log: one JSON line per event, appended and synced
//! ```
//!
//! Order of every change: body files are written and synced (file and folder) first, then the
//! state is committed; a crash in between leaves an unreferenced body file, never a state
//! that names a missing body. A body of at most [`INLINE_MAX`] bytes is written in the very
//! transaction that names it instead: no file to create and sync per message (creating files
//! is most of what a busy spool's disk costs), and both or neither are stored. Claims are held in memory: this spool serves one process, and
//! after a restart everything that was claimed is due again (which is what a lease expiring
//! means). Two processes cannot open the same spool (redb locks the file).

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redb::{
    Database, MultimapTableDefinition, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    ReadableTableMetadata, TableDefinition,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::transfer::{Dump, Portable};
use super::{
    Attempt, Delivery, DeliveryId, DeliveryState, Error, Filter, HistoryEntry, Incoming,
    LegalEvent, Message, MessageId, NewOutput, Output, POISON_ATTEMPTS, Processed, Received,
    Result, Spool, State, Stats, Timer, TimerId,
};
use crate::correlate::{DeliveredService, Record, normalize_id};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
const MSGIDS: TableDefinition<&str, u64> = TableDefinition::new("message_ids");
/// An output's `Message-ID` (normalised) → (its message, its index).
const OUTPUT_IDS: TableDefinition<&str, (u64, u32)> = TableDefinition::new("output_ids");
const ACTIVE: TableDefinition<u64, ()> = TableDefinition::new("active");
const DUE_PROCESSING: TableDefinition<(u64, u64), ()> = TableDefinition::new("due_processing");
const DELIVERIES: TableDefinition<u64, &[u8]> = TableDefinition::new("deliveries");
const DUE_DELIVERIES: TableDefinition<(u64, u64), ()> = TableDefinition::new("due_deliveries");
const TIMERS: TableDefinition<u64, &[u8]> = TableDefinition::new("timers");
const DUE_TIMERS: TableDefinition<(u64, u64), ()> = TableDefinition::new("due_timers");
const TIMERS_BY_ABOUT: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("timers_by_about");
const TIMERS_BY_MESSAGE: MultimapTableDefinition<u64, u64> =
    MultimapTableDefinition::new("timers_by_message");
const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
const RECORD_IDS: MultimapTableDefinition<&str, u64> = MultimapTableDefinition::new("record_ids");
/// The services discovered peers were delivered to: delivery → [`DeliveredService`] (JSON).
const SERVICES: TableDefinition<u64, &[u8]> = TableDefinition::new("delivered_services");
/// Their outputs' `Message-ID`s (without `<>`) → deliveries.
const SERVICE_IDS: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("delivered_service_ids");
/// Bodies of at most [`INLINE_MAX`] bytes: (message, [`INPUT`] or the output's index) → bytes.
const BODIES: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("bodies");
/// The key of a message's input in [`BODIES`].
const INPUT: u32 = u32::MAX;
/// The largest body kept in the database; larger ones are files of their own.
pub const INLINE_MAX: usize = 256 * 1024;

const NEXT_MESSAGE: &str = "next_message";
const NEXT_DELIVERY: &str = "next_delivery";
const NEXT_TIMER: &str = "next_timer";
const NEXT_RECORD: &str = "next_record";

/// The message as stored: what the API shows plus the bookkeeping.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Row {
    #[serde(flatten)]
    message: Message,
    /// Failed attempts that count towards quarantine (outages do not).
    #[serde(default)]
    poison: u32,
}

/// The embedded spool. Cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct Embedded {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    dir: PathBuf,
    /// `None` only while it is being reopened after an I/O error.
    db: std::sync::RwLock<Option<Arc<Database>>>,
    /// How many times the database was reopened (changed under the `db` write lock).
    epoch: AtomicU64,
    db_path: PathBuf,
    legal: Mutex<File>,
    next_message: AtomicU64,
    claimed_processing: Mutex<HashSet<MessageId>>,
    claimed_deliveries: Mutex<HashSet<DeliveryId>>,
    claimed_timers: Mutex<HashSet<TimerId>>,
    syncs: Syncs,
}

/// The group commit's bookkeeping ([`Inner::durable`]).
#[derive(Default)]
struct Syncs {
    state: Mutex<SyncState>,
    done: std::sync::Condvar,
}

#[derive(Default)]
struct SyncState {
    /// Syncs asked for, numbered 1, 2, ...
    asked: u64,
    /// Every sync up to this number is done.
    synced: u64,
    /// The epoch of the database the last sync was made on.
    synced_epoch: u64,
    /// A sync running now.
    running: bool,
    /// The last sync that failed, the asks it covered, and why.
    failed: Option<(u64, Failure)>,
}

/// A failed sync, told to each change it covered.
#[derive(Clone, Debug)]
struct Failure {
    path: Option<PathBuf>,
    kind: std::io::ErrorKind,
    text: String,
}

impl Failure {
    fn of(e: &Error) -> Failure {
        match e {
            Error::Io { path, source } => Failure {
                path: Some(path.clone()),
                kind: source.kind(),
                text: source.to_string(),
            },
            Error::Database(m) => Failure {
                path: None,
                kind: std::io::ErrorKind::Other,
                text: m.clone(),
            },
            other => Failure {
                path: None,
                kind: std::io::ErrorKind::Other,
                text: other.to_string(),
            },
        }
    }

    /// The error again (the disk being full stays recognisable: `Error::is_disk_full`).
    fn again(&self) -> Error {
        match &self.path {
            Some(path) => Error::Io {
                path: path.clone(),
                source: std::io::Error::new(self.kind, self.text.clone()),
            },
            None => Error::Database(self.text.clone()),
        }
    }
}

fn db_err(e: impl std::fmt::Display) -> Error {
    Error::Database(e.to_string())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn ms(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn decode<T: for<'de> Deserialize<'de>>(what: &'static str, id: u64, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        what,
        id,
        reason: e.to_string(),
    })
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(db_err)
}

/// Writes a file and syncs it, then its folder.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(())
}

impl Embedded {
    /// Opens (or creates) the spool in `dir`.
    pub fn open(dir: &Path) -> Result<Embedded> {
        std::fs::create_dir_all(dir.join("data")).map_err(io(dir))?;
        for i in 0..256u32 {
            let d = dir.join("data").join(format!("{i:02x}"));
            if !d.is_dir() {
                std::fs::create_dir(&d).map_err(io(&d))?;
            }
        }
        File::open(dir.join("data"))
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        let db_path = dir.join("state.redb");
        let db = Database::create(&db_path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::Database(format!(
                "{} is in use by another process",
                db_path.display()
            )),
            other => db_err(other),
        })?;
        let txn = db.begin_write().map_err(db_err)?;
        let next_message = {
            let meta = txn.open_table(META).map_err(db_err)?;
            let n = meta.get(NEXT_MESSAGE).map_err(db_err)?.map(|g| g.value());
            n.unwrap_or(1)
        };
        {
            txn.open_table(MESSAGES).map_err(db_err)?;
            txn.open_table(BODIES).map_err(db_err)?;
            txn.open_table(MSGIDS).map_err(db_err)?;
            txn.open_table(OUTPUT_IDS).map_err(db_err)?;
            txn.open_table(ACTIVE).map_err(db_err)?;
            txn.open_table(DUE_PROCESSING).map_err(db_err)?;
            txn.open_table(DELIVERIES).map_err(db_err)?;
            txn.open_table(DUE_DELIVERIES).map_err(db_err)?;
            txn.open_table(TIMERS).map_err(db_err)?;
            txn.open_table(DUE_TIMERS).map_err(db_err)?;
            txn.open_multimap_table(TIMERS_BY_ABOUT).map_err(db_err)?;
            txn.open_multimap_table(TIMERS_BY_MESSAGE).map_err(db_err)?;
            txn.open_table(RECORDS).map_err(db_err)?;
            txn.open_multimap_table(RECORD_IDS).map_err(db_err)?;
            txn.open_table(SERVICES).map_err(db_err)?;
            txn.open_multimap_table(SERVICE_IDS).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        let legal_path = dir.join("legal.jsonl");
        let legal = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&legal_path)
            .map_err(io(&legal_path))?;
        Ok(Embedded {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                db: std::sync::RwLock::new(Some(Arc::new(db))),
                epoch: AtomicU64::new(0),
                db_path,
                legal: Mutex::new(legal),
                next_message: AtomicU64::new(next_message),
                claimed_processing: Mutex::new(HashSet::new()),
                claimed_deliveries: Mutex::new(HashSet::new()),
                claimed_timers: Mutex::new(HashSet::new()),
                syncs: Syncs::default(),
            }),
        })
    }

    /// The spool's folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let r = f(&inner);
            if let Err(Error::Database(m)) = &r
                && m.contains("re-open")
                && let Err(e) = inner.reopen()
            {
                tracing::error!(error = %e, "the spool database cannot be reopened");
            }
            r
        })
        .await
        .map_err(|e| Error::Database(format!("spool task: {e}")))?
    }
}

impl Inner {
    /// The database (shared: a transaction started on it keeps it alive).
    /// The database and its epoch, read together.
    fn db_epoch(&self) -> Result<(Arc<Database>, u64)> {
        loop {
            {
                let g = self
                    .db
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(db) = g.as_ref() {
                    return Ok((Arc::clone(db), self.epoch.load(Ordering::SeqCst)));
                }
            }
            self.reopen()?;
        }
    }

    fn db(&self) -> Result<Arc<Database>> {
        let current = self
            .db
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match current {
            Some(db) => Ok(db),
            None => {
                self.reopen()?;
                self.db
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
                    .ok_or_else(|| Error::Database("the spool database is closed".into()))
            }
        }
    }

    /// After an I/O error (a full disk, say) redb refuses every later write until the
    /// database is opened again: reopen it, so the spool takes writes again once the cause is
    /// gone, without a restart.
    fn reopen(&self) -> Result<()> {
        let mut g = self
            .db
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = g.take() {
            match Arc::try_unwrap(old) {
                Ok(db) => drop(db),
                Err(still_used) => {
                    // A transaction still holds it: try again at the next error.
                    *g = Some(still_used);
                    return Ok(());
                }
            }
        }
        let db = Database::create(&self.db_path).map_err(db_err)?;
        *g = Some(Arc::new(db));
        self.epoch.fetch_add(1, Ordering::SeqCst);
        tracing::warn!(path = %self.db_path.display(), "spool database reopened after an I/O error");
        Ok(())
    }

    fn body_path(&self, id: MessageId, output: Option<u32>) -> PathBuf {
        let sub = format!("{:02x}", id % 256);
        let name = match output {
            None => format!("{id}.in"),
            Some(k) => format!("{id}.out.{k}"),
        };
        self.dir.join("data").join(sub).join(name)
    }

    /// Appends legal events that go with no change of state, and returns once they are on
    /// disk.
    fn legal(&self, events: &[LegalEvent]) -> Result<()> {
        self.append(events)?;
        self.durable(None)
    }

    /// Appends the legal events of a change just committed (with the transaction of
    /// [`Inner::begin`], made on the database of `epoch`), then returns once both are on disk
    /// ([`Inner::durable`]).
    fn committed(&self, epoch: u64, events: &[LegalEvent]) -> Result<()> {
        self.append(events)?;
        self.durable(Some(epoch))
    }

    fn append(&self, events: &[LegalEvent]) -> Result<()> {
        if !events.is_empty() {
            let mut buf = Vec::new();
            for e in events {
                buf.extend(encode(e)?);
                buf.push(b'\n');
            }
            let path = self.dir.join("legal.jsonl");
            lock(&self.legal).write_all(&buf).map_err(io(&path))?;
        }
        Ok(())
    }

    /// A write transaction whose commit is not synced by itself: the change is visible at
    /// once, and on disk after the next [`Inner::durable`], which every change calls before it
    /// answers (through [`Inner::legal`]). That is group commit: changes made at the same time
    /// (several SMTP sessions, deliveries) share one sync of the database and of the legal
    /// log instead of two each.
    ///
    /// Returns the database's epoch with it: a database reopened after an I/O error forgets
    /// the commits not yet synced, so a change is durable only when a sync of the same epoch
    /// covers it.
    fn begin(&self) -> Result<(redb::WriteTransaction, u64)> {
        let (db, epoch) = self.db_epoch()?;
        let mut txn = db.begin_write().map_err(db_err)?;
        txn.set_durability(redb::Durability::None).map_err(db_err)?;
        Ok((txn, epoch))
    }

    /// Returns once everything committed and appended before the call is on disk: the
    /// caller's sync is made, or one that started after its change and covers it. A change
    /// committed on the database of `epoch` fails when the sync that covers it was made on a
    /// database opened since (the change may be lost: it is not acknowledged).
    fn durable(&self, epoch: Option<u64>) -> Result<()> {
        let mut g = lock(&self.syncs.state);
        g.asked += 1;
        let mine = g.asked;
        loop {
            if g.synced >= mine {
                return match epoch {
                    Some(e) if e != g.synced_epoch => Err(Error::Database(
                        "the spool database was reopened before the change was synced; \
                         it may be lost, and is not acknowledged"
                            .into(),
                    )),
                    _ => Ok(()),
                };
            }
            if let Some((upto, e)) = &g.failed
                && *upto >= mine
            {
                return Err(e.again());
            }
            if !g.running {
                g.running = true;
                let target = g.asked;
                drop(g);
                let r = self.sync_now();
                g = lock(&self.syncs.state);
                g.running = false;
                match r {
                    Ok(e) => {
                        g.synced = g.synced.max(target);
                        g.synced_epoch = e;
                    }
                    Err(e) => g.failed = Some((target, Failure::of(&e))),
                }
                self.syncs.done.notify_all();
                continue;
            }
            g = self
                .syncs
                .done
                .wait(g)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// One sync of both: the legal log's data, then an empty durable commit, which makes
    /// every commit before it durable.
    /// Returns the epoch of the database it synced.
    fn sync_now(&self) -> Result<u64> {
        let path = self.dir.join("legal.jsonl");
        lock(&self.legal).sync_data().map_err(io(&path))?;
        let (db, epoch) = self.db_epoch()?;
        let mut txn = db.begin_write().map_err(db_err)?;
        txn.set_durability(redb::Durability::Immediate)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(epoch)
    }

    fn next(txn: &redb::WriteTransaction, key: &str) -> Result<u64> {
        let mut meta = txn.open_table(META).map_err(db_err)?;
        let n = meta
            .get(key)
            .map_err(db_err)?
            .map(|g| g.value())
            .unwrap_or(1);
        meta.insert(key, n + 1).map_err(db_err)?;
        Ok(n)
    }

    fn load_row(txn: &redb::WriteTransaction, id: MessageId) -> Result<Row> {
        let t = txn.open_table(MESSAGES).map_err(db_err)?;
        let g = t.get(id).map_err(db_err)?.ok_or(Error::NotFound {
            what: "message",
            id,
        })?;
        decode("message", id, g.value())
    }

    fn save_row(txn: &redb::WriteTransaction, row: &Row) -> Result<()> {
        let bytes = encode(row)?;
        let mut t = txn.open_table(MESSAGES).map_err(db_err)?;
        t.insert(row.message.id, bytes.as_slice()).map_err(db_err)?;
        let mut active = txn.open_table(ACTIVE).map_err(db_err)?;
        if row.message.state.is_final() {
            active.remove(row.message.id).map_err(db_err)?;
        } else {
            active.insert(row.message.id, ()).map_err(db_err)?;
        }
        Ok(())
    }

    fn load_delivery(txn: &redb::WriteTransaction, id: DeliveryId) -> Result<Delivery> {
        let t = txn.open_table(DELIVERIES).map_err(db_err)?;
        let g = t.get(id).map_err(db_err)?.ok_or(Error::NotFound {
            what: "delivery",
            id,
        })?;
        decode("delivery", id, g.value())
    }

    fn save_delivery(
        txn: &redb::WriteTransaction,
        d: &Delivery,
        old_due: Option<u64>,
    ) -> Result<()> {
        let bytes = encode(d)?;
        txn.open_table(DELIVERIES)
            .map_err(db_err)?
            .insert(d.id, bytes.as_slice())
            .map_err(db_err)?;
        let mut due = txn.open_table(DUE_DELIVERIES).map_err(db_err)?;
        if let Some(old) = old_due {
            due.remove((old, d.id)).map_err(db_err)?;
        }
        if d.state == DeliveryState::Queued {
            due.insert((ms(d.next_attempt), d.id), ()).map_err(db_err)?;
        }
        Ok(())
    }

    /// Writes the bodies of new outputs larger than [`INLINE_MAX`] (synced) before the state
    /// that names them; the others go in with the state ([`Inner::apply`]).
    fn write_outputs(&self, id: MessageId, first: u32, outputs: &[NewOutput]) -> Result<()> {
        for (k, o) in outputs.iter().enumerate() {
            let index = first + u32::try_from(k).unwrap_or(u32::MAX - first);
            self.write_large(id, Some(index), &o.body)?;
        }
        Ok(())
    }

    /// A body larger than [`INLINE_MAX`]: its own file, synced with its folder.
    fn write_large(&self, id: MessageId, output: Option<u32>, body: &[u8]) -> Result<()> {
        if body.len() > INLINE_MAX {
            write_synced(&self.body_path(id, output), body)?;
        }
        Ok(())
    }

    /// A body of at most [`INLINE_MAX`]: into the transaction that names it.
    fn put_small(
        txn: &redb::WriteTransaction,
        id: MessageId,
        output: Option<u32>,
        body: &[u8],
    ) -> Result<()> {
        if body.len() <= INLINE_MAX {
            txn.open_table(BODIES)
                .map_err(db_err)?
                .insert((id, output.unwrap_or(INPUT)), body)
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// A stored body: from the database, else its file (large, or written by an older spool).
    fn read_body(&self, id: MessageId, output: Option<u32>) -> Result<Vec<u8>> {
        {
            let r = self.db()?.begin_read().map_err(db_err)?;
            let t = r.open_table(BODIES).map_err(db_err)?;
            if let Some(g) = t.get((id, output.unwrap_or(INPUT))).map_err(db_err)? {
                return Ok(g.value().to_vec());
            }
        }
        let p = self.body_path(id, output);
        std::fs::read(&p).map_err(io(&p))
    }

    /// Applies a processing result to a message row inside a write transaction; returns the
    /// legal events to log after the commit.
    fn apply(
        txn: &redb::WriteTransaction,
        row: &mut Row,
        p: Processed,
        now: OffsetDateTime,
        event: &str,
    ) -> Result<Vec<LegalEvent>> {
        let mut events = Vec::new();
        let m = &mut row.message;
        if let Some(mapping) = &p.mapping {
            m.mapping = Some(mapping.clone());
            m.history.push(HistoryEntry {
                at: now,
                event: "translated".into(),
                detail: format!("mapping {mapping}"),
            });
            let mut e = LegalEvent::new(now, "translated", format!("mapping {mapping}"));
            e.message = Some(m.id);
            e.message_id = m.message_id.clone();
            e.kind = Some(m.kind.clone());
            events.push(e);
        }
        if let Some((kind, text)) = &p.refused {
            m.refused = Some((kind.clone(), text.clone()));
            m.history.push(HistoryEntry {
                at: now,
                event: "refused".into(),
                detail: format!("{kind}: {text}"),
            });
            let mut e = LegalEvent::new(now, "refused", format!("{kind}: {text}"));
            e.message = Some(m.id);
            e.message_id = m.message_id.clone();
            e.from = Some(m.envelope.mail_from.clone());
            events.push(e);
        }
        for n in &p.notes {
            m.history.push(HistoryEntry {
                at: now,
                event: "note".into(),
                detail: n.clone(),
            });
        }
        for o in p.outputs {
            let index = u32::try_from(m.outputs.len()).unwrap_or(u32::MAX);
            Inner::put_small(txn, m.id, Some(index), &o.body)?;
            let mut ids = Vec::new();
            for (dest, rcpts) in o.routes {
                let did = Inner::next(txn, NEXT_DELIVERY)?;
                let d = Delivery {
                    id: did,
                    message: m.id,
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
                Inner::save_delivery(txn, &d, None)?;
                ids.push(did);
                let mut e = LegalEvent::new(now, "queued", format!("to {dest}"));
                e.message = Some(m.id);
                e.delivery = Some(did);
                e.message_id = Some(o.message_id.clone());
                e.from = Some(o.mail_from.clone());
                e.to = rcpts;
                e.kind = Some(o.kind.clone());
                events.push(e);
            }
            m.history.push(HistoryEntry {
                at: now,
                event: event.into(),
                detail: format!(
                    "output {index} {} {} ({} bytes), deliveries {:?}",
                    o.kind,
                    o.message_id,
                    o.body.len(),
                    ids
                ),
            });
            let key = normalize_id(&o.message_id);
            if !key.is_empty() {
                txn.open_table(OUTPUT_IDS)
                    .map_err(db_err)?
                    .insert(key, (m.id, index))
                    .map_err(db_err)?;
            }
            m.outputs.push(Output {
                index,
                kind: o.kind,
                message_id: o.message_id,
                size: o.body.len() as u64,
                deliveries: ids,
            });
        }
        {
            let mut records = txn.open_table(RECORDS).map_err(db_err)?;
            let mut ids = txn.open_multimap_table(RECORD_IDS).map_err(db_err)?;
            for r in &p.records {
                let rid = Inner::next(txn, NEXT_RECORD)?;
                records.insert(rid, encode(r)?.as_slice()).map_err(db_err)?;
                for id in r.ids() {
                    let key = normalize_id(id);
                    if !key.is_empty() {
                        ids.insert(key, rid).map_err(db_err)?;
                    }
                }
            }
        }
        for t in p.timers {
            let tid = Inner::next(txn, NEXT_TIMER)?;
            m.history.push(HistoryEntry {
                at: now,
                event: "timer".into(),
                detail: format!(
                    "{} timer {tid} due {} for {}",
                    t.kind.as_str(),
                    crate::pec::zone::rfc3339(t.due),
                    t.recipients.join(", ")
                ),
            });
            let about = normalize_id(&t.about).to_owned();
            let timer = Timer {
                id: tid,
                message: m.id,
                timer: t,
            };
            txn.open_table(TIMERS)
                .map_err(db_err)?
                .insert(tid, encode(&timer)?.as_slice())
                .map_err(db_err)?;
            txn.open_table(DUE_TIMERS)
                .map_err(db_err)?
                .insert((ms(timer.timer.due), tid), ())
                .map_err(db_err)?;
            txn.open_multimap_table(TIMERS_BY_ABOUT)
                .map_err(db_err)?
                .insert(about.as_str(), tid)
                .map_err(db_err)?;
            txn.open_multimap_table(TIMERS_BY_MESSAGE)
                .map_err(db_err)?
                .insert(m.id, tid)
                .map_err(db_err)?;
        }
        for stop in p.stop_timers {
            let about = normalize_id(&stop.about).to_owned();
            let tids: Vec<u64> = {
                let t = txn.open_multimap_table(TIMERS_BY_ABOUT).map_err(db_err)?;
                let mut v = Vec::new();
                for g in t.get(about.as_str()).map_err(db_err)? {
                    v.push(g.map_err(db_err)?.value());
                }
                v
            };
            for tid in tids {
                let Some(mut timer) = Inner::timer_row(txn, tid)? else {
                    continue;
                };
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
                    Inner::remove_timer(txn, &timer)?;
                } else {
                    txn.open_table(TIMERS)
                        .map_err(db_err)?
                        .insert(tid, encode(&timer)?.as_slice())
                        .map_err(db_err)?;
                }
            }
        }
        m.updated_at = now;
        Inner::settle(txn, row)?;
        Ok(events)
    }

    fn timer_row(txn: &redb::WriteTransaction, tid: TimerId) -> Result<Option<Timer>> {
        let t = txn.open_table(TIMERS).map_err(db_err)?;
        let Some(g) = t.get(tid).map_err(db_err)? else {
            return Ok(None);
        };
        decode("timer", tid, g.value()).map(Some)
    }

    fn remove_timer(txn: &redb::WriteTransaction, timer: &Timer) -> Result<()> {
        txn.open_table(TIMERS)
            .map_err(db_err)?
            .remove(timer.id)
            .map_err(db_err)?;
        txn.open_table(DUE_TIMERS)
            .map_err(db_err)?
            .remove((ms(timer.timer.due), timer.id))
            .map_err(db_err)?;
        txn.open_multimap_table(TIMERS_BY_ABOUT)
            .map_err(db_err)?
            .remove(normalize_id(&timer.timer.about), timer.id)
            .map_err(db_err)?;
        txn.open_multimap_table(TIMERS_BY_MESSAGE)
            .map_err(db_err)?
            .remove(timer.message, timer.id)
            .map_err(db_err)?;
        Ok(())
    }

    /// Sets the message's state from its deliveries (unless it waits for processing or is
    /// quarantined) and saves it.
    fn settle(txn: &redb::WriteTransaction, row: &mut Row) -> Result<()> {
        let m = &mut row.message;
        if !matches!(m.state, State::Received | State::Quarantined) {
            let mut pending = false;
            let mut failed = false;
            for o in &m.outputs {
                for did in &o.deliveries {
                    match Inner::load_delivery(txn, *did)?.state {
                        DeliveryState::Queued => pending = true,
                        DeliveryState::Failed => failed = true,
                        DeliveryState::Delivered | DeliveryState::Quarantined => {}
                    }
                }
            }
            m.state = if pending {
                State::Queued
            } else if failed || m.refused.is_some() {
                State::Failed
            } else {
                State::Delivered
            };
        }
        Inner::save_row(txn, row)
    }

    fn receive(
        &self,
        inc: Incoming,
        processed: Option<Processed>,
        now: OffsetDateTime,
    ) -> Result<Received> {
        if let Some(mid) = &inc.message_id
            && let Some(existing) = self.lookup_msgid(mid)?
        {
            return Ok(Received::Duplicate(existing));
        }
        let id = self.next_message.fetch_add(1, Ordering::SeqCst);
        self.write_large(id, None, &inc.body)?;
        if let Some(p) = &processed {
            self.write_outputs(id, 0, &p.outputs)?;
        }
        let (txn, epoch) = self.begin()?;
        if let Some(mid) = &inc.message_id {
            let key = normalize_id(mid);
            let existing = {
                let mut t = txn.open_table(MSGIDS).map_err(db_err)?;
                let existing = t.get(key).map_err(db_err)?.map(|g| g.value());
                if existing.is_none() {
                    t.insert(key, id).map_err(db_err)?;
                }
                existing
            };
            if let Some(existing) = existing {
                txn.abort().map_err(db_err)?;
                self.remove_bodies(id);
                return Ok(Received::Duplicate(existing));
            }
        }
        Inner::put_small(&txn, id, None, &inc.body)?;
        {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let stored = meta
                .get(NEXT_MESSAGE)
                .map_err(db_err)?
                .map(|g| g.value())
                .unwrap_or(1);
            meta.insert(NEXT_MESSAGE, stored.max(id + 1))
                .map_err(db_err)?;
        }
        let mut row = Row {
            message: Message {
                id,
                state: State::Received,
                format: inc.format,
                kind: inc.kind.clone(),
                message_id: inc.message_id.clone(),
                envelope: inc.envelope.clone(),
                size: inc.body.len() as u64,
                received_at: now,
                updated_at: now,
                attempts: 0,
                next_attempt: None,
                mapping: None,
                refused: None,
                last_error: None,
                outputs: Vec::new(),
                history: vec![HistoryEntry {
                    at: now,
                    event: "received".into(),
                    detail: format!(
                        "{} {} from {} ({}), {} bytes, MAIL FROM <{}> RCPT TO {}",
                        inc.format.as_str(),
                        inc.kind,
                        inc.envelope.peer,
                        inc.envelope.helo,
                        inc.body.len(),
                        inc.envelope.mail_from,
                        inc.envelope.rcpt_to.join(", ")
                    ),
                }],
            },
            poison: 0,
        };
        let mut first = LegalEvent::new(now, "received", "accepted (250)");
        first.message = Some(id);
        first.message_id = inc.message_id.clone();
        first.from = Some(inc.envelope.mail_from.clone());
        first.to = inc.envelope.rcpt_to.clone();
        first.peer = Some(inc.envelope.peer.clone());
        first.kind = Some(format!("{} {}", inc.format.as_str(), inc.kind));
        let mut events = vec![first];
        match processed {
            Some(p) => {
                row.message.state = State::Queued;
                events.extend(Inner::apply(&txn, &mut row, p, now, "queued")?);
            }
            None => {
                row.message.next_attempt = Some(now);
                txn.open_table(DUE_PROCESSING)
                    .map_err(db_err)?
                    .insert((ms(now), id), ())
                    .map_err(db_err)?;
                Inner::save_row(&txn, &row)?;
            }
        }
        if let Err(e) = txn.commit() {
            self.remove_bodies(id);
            return Err(db_err(e));
        }
        self.committed(epoch, &events)?;
        Ok(Received::New(id))
    }

    /// Removes the body files of a message whose state was never committed.
    fn remove_bodies(&self, id: MessageId) {
        let _ = std::fs::remove_file(self.body_path(id, None));
        for k in 0.. {
            if std::fs::remove_file(self.body_path(id, Some(k))).is_err() {
                break;
            }
        }
    }

    fn lookup_msgid(&self, mid: &str) -> Result<Option<MessageId>> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        let t = r.open_table(MSGIDS).map_err(db_err)?;
        Ok(t.get(normalize_id(mid)).map_err(db_err)?.map(|g| g.value()))
    }

    fn lookup_output_id(&self, mid: &str) -> Result<Option<(MessageId, u32)>> {
        let key = normalize_id(mid);
        if key.is_empty() {
            return Ok(None);
        }
        let r = self.db()?.begin_read().map_err(db_err)?;
        let t = r.open_table(OUTPUT_IDS).map_err(db_err)?;
        Ok(t.get(key).map_err(db_err)?.map(|g| g.value()))
    }

    fn claim_due(
        &self,
        table: TableDefinition<(u64, u64), ()>,
        claimed: &Mutex<HashSet<u64>>,
        now: OffsetDateTime,
        max: usize,
    ) -> Result<Vec<u64>> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        let t = r.open_table(table).map_err(db_err)?;
        let mut out = Vec::new();
        let mut c = lock(claimed);
        for entry in t.range(..=(ms(now), u64::MAX)).map_err(db_err)? {
            let (k, _) = entry.map_err(db_err)?;
            let (_, id) = k.value();
            if c.insert(id) {
                out.push(id);
                if out.len() >= max {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn processed(&self, id: MessageId, p: Processed, now: OffsetDateTime) -> Result<()> {
        let first = {
            let r = self.read_row(id)?;
            u32::try_from(r.message.outputs.len()).unwrap_or(u32::MAX)
        };
        self.write_outputs(id, first, &p.outputs)?;
        let (txn, epoch) = self.begin()?;
        let mut row = Inner::load_row(&txn, id)?;
        if let Some(at) = row.message.next_attempt.take() {
            txn.open_table(DUE_PROCESSING)
                .map_err(db_err)?
                .remove((ms(at), id))
                .map_err(db_err)?;
        }
        row.message.state = State::Queued;
        let events = Inner::apply(&txn, &mut row, p, now, "queued")?;
        txn.commit().map_err(db_err)?;
        lock(&self.claimed_processing).remove(&id);
        self.committed(epoch, &events)
    }

    fn read_row(&self, id: MessageId) -> Result<Row> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        let t = r.open_table(MESSAGES).map_err(db_err)?;
        let g = t.get(id).map_err(db_err)?.ok_or(Error::NotFound {
            what: "message",
            id,
        })?;
        decode("message", id, g.value())
    }

    fn processing_failed(
        &self,
        id: MessageId,
        reason: &str,
        poison: bool,
        retry_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<State> {
        let (txn, epoch) = self.begin()?;
        let mut row = Inner::load_row(&txn, id)?;
        let mut due = txn.open_table(DUE_PROCESSING).map_err(db_err)?;
        if let Some(at) = row.message.next_attempt.take() {
            due.remove((ms(at), id)).map_err(db_err)?;
        }
        row.message.attempts += 1;
        if poison {
            row.poison += 1;
        }
        row.message.last_error = Some(reason.to_owned());
        row.message.updated_at = now;
        let mut events = Vec::new();
        if row.poison >= POISON_ATTEMPTS {
            row.message.state = State::Quarantined;
            row.message.history.push(HistoryEntry {
                at: now,
                event: "quarantined".into(),
                detail: format!("processing failed {} times: {reason}", row.poison),
            });
            let mut e = LegalEvent::new(now, "quarantined", reason.to_owned());
            e.message = Some(id);
            e.message_id = row.message.message_id.clone();
            events.push(e);
        } else {
            row.message.next_attempt = Some(retry_at);
            due.insert((ms(retry_at), id), ()).map_err(db_err)?;
            row.message.history.push(HistoryEntry {
                at: now,
                event: "processing-failed".into(),
                detail: format!(
                    "{reason}; next attempt {}",
                    crate::pec::zone::rfc3339(retry_at)
                ),
            });
        }
        drop(due);
        let state = row.message.state;
        Inner::save_row(&txn, &row)?;
        txn.commit().map_err(db_err)?;
        lock(&self.claimed_processing).remove(&id);
        self.committed(epoch, &events)?;
        Ok(state)
    }

    fn delivery_done(&self, id: DeliveryId, attempt: Attempt, now: OffsetDateTime) -> Result<()> {
        // Notices are written before the state that names them.
        if let Attempt::Failed { notices, .. } | Attempt::Partial { notices, .. } = &attempt
            && !notices.outputs.is_empty()
        {
            let d = self.read_delivery(id)?;
            let row = self.read_row(d.message)?;
            let first = u32::try_from(row.message.outputs.len()).unwrap_or(u32::MAX);
            self.write_outputs(d.message, first, &notices.outputs)?;
        }
        let (txn, epoch) = self.begin()?;
        let mut d = Inner::load_delivery(&txn, id)?;
        let old_due = (d.state == DeliveryState::Queued).then_some(ms(d.next_attempt));
        let mut row = Inner::load_row(&txn, d.message)?;
        d.attempts += 1;
        let mut e = LegalEvent::new(now, "", String::new());
        e.message = Some(d.message);
        e.delivery = Some(id);
        e.message_id = Some(d.message_id.clone());
        e.from = Some(d.mail_from.clone());
        e.to = d.rcpt_to.clone();
        e.peer = Some(d.destination.to_string());
        e.kind = Some(d.kind.clone());
        let mut events = Vec::new();
        let mut notices = None;
        match attempt {
            Attempt::Delivered(reply) => {
                d.state = DeliveryState::Delivered;
                d.last_result = Some(reply.clone());
                row.message.history.push(HistoryEntry {
                    at: now,
                    event: "delivered".into(),
                    detail: format!("delivery {id} ({}) to {}: {reply}", d.kind, d.destination),
                });
                e.event = "delivered".into();
                e.outcome = reply;
            }
            Attempt::Deferred { reason, retry_at } => {
                d.next_attempt = retry_at;
                d.last_result = Some(reason.clone());
                row.message.history.push(HistoryEntry {
                    at: now,
                    event: "deferred".into(),
                    detail: format!(
                        "delivery {id} ({}) to {}: {reason}; next attempt {}",
                        d.kind,
                        d.destination,
                        crate::pec::zone::rfc3339(retry_at)
                    ),
                });
                e.event = "deferred".into();
                e.outcome = reason;
            }
            Attempt::Failed { reason, notices: n } => {
                d.state = DeliveryState::Failed;
                d.last_result = Some(reason.clone());
                row.message.last_error = Some(reason.clone());
                row.message.history.push(HistoryEntry {
                    at: now,
                    event: "failed".into(),
                    detail: format!("delivery {id} ({}) to {}: {reason}", d.kind, d.destination),
                });
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
                // Which part this delivery keeps; the others become deliveries of their own.
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
                let mut split = Vec::new();
                for (state, rcpts, text, event) in parts {
                    if rcpts.is_empty() {
                        continue;
                    }
                    let target = if state == keep {
                        d.id
                    } else {
                        Inner::next(&txn, NEXT_DELIVERY)?
                    };
                    let detail = match state {
                        DeliveryState::Queued => format!(
                            "{text}; next attempt {}",
                            crate::pec::zone::rfc3339(retry_at)
                        ),
                        _ => text.clone(),
                    };
                    row.message.history.push(HistoryEntry {
                        at: now,
                        event: event.into(),
                        detail: format!(
                            "delivery {target} ({}) to {} for {}: {detail}",
                            d.kind,
                            d.destination,
                            rcpts.join(", ")
                        ),
                    });
                    let mut pe = e.clone();
                    pe.event = event.into();
                    pe.delivery = Some(target);
                    pe.to = rcpts.clone();
                    pe.outcome = text.clone();
                    events.push(pe);
                    if state == DeliveryState::Failed {
                        row.message.last_error = Some(text.clone());
                    }
                    if target == d.id {
                        d.state = state;
                        d.rcpt_to = rcpts;
                        d.last_result = Some(text);
                        if state == DeliveryState::Queued {
                            d.next_attempt = retry_at;
                        }
                    } else {
                        split.push(Delivery {
                            id: target,
                            rcpt_to: rcpts,
                            state,
                            last_result: Some(text),
                            ..d.clone()
                        });
                    }
                }
                for nd in &split {
                    Inner::save_delivery(&txn, nd, None)?;
                    if let Some(o) = row.message.outputs.iter_mut().find(|o| o.index == d.output) {
                        o.deliveries.push(nd.id);
                    }
                }
                if !n.outputs.is_empty() || !n.records.is_empty() || !n.timers.is_empty() {
                    notices = Some(n);
                }
                // The events are the parts'.
                e.event.clear();
            }
        }
        if !e.event.is_empty() {
            events.push(e);
        }
        Inner::save_delivery(&txn, &d, old_due)?;
        match notices {
            Some(n) => events.extend(Inner::apply(&txn, &mut row, n, now, "notice")?),
            None => {
                row.message.updated_at = now;
                Inner::settle(&txn, &mut row)?;
            }
        }
        txn.commit().map_err(db_err)?;
        lock(&self.claimed_deliveries).remove(&id);
        self.committed(epoch, &events)
    }

    fn read_delivery(&self, id: DeliveryId) -> Result<Delivery> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        let t = r.open_table(DELIVERIES).map_err(db_err)?;
        let g = t.get(id).map_err(db_err)?.ok_or(Error::NotFound {
            what: "delivery",
            id,
        })?;
        decode("delivery", id, g.value())
    }

    fn read_timer(&self, id: TimerId) -> Result<Timer> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        let t = r.open_table(TIMERS).map_err(db_err)?;
        let g = t
            .get(id)
            .map_err(db_err)?
            .ok_or(Error::NotFound { what: "timer", id })?;
        decode("timer", id, g.value())
    }

    fn timer_fired(&self, id: TimerId, p: Processed, now: OffsetDateTime) -> Result<()> {
        let timer = self.read_timer(id)?;
        let first = {
            let row = self.read_row(timer.message)?;
            u32::try_from(row.message.outputs.len()).unwrap_or(u32::MAX)
        };
        self.write_outputs(timer.message, first, &p.outputs)?;
        let (txn, epoch) = self.begin()?;
        let Some(timer) = Inner::timer_row(&txn, id)? else {
            txn.abort().map_err(db_err)?;
            lock(&self.claimed_timers).remove(&id);
            return Ok(());
        };
        Inner::remove_timer(&txn, &timer)?;
        let mut row = Inner::load_row(&txn, timer.message)?;
        row.message.history.push(HistoryEntry {
            at: now,
            event: "timer".into(),
            detail: format!(
                "{} timer {id} fired for {}",
                timer.timer.kind.as_str(),
                timer.timer.recipients.join(", ")
            ),
        });
        let mut e = LegalEvent::new(now, "timer", format!("{} fired", timer.timer.kind.as_str()));
        e.message = Some(timer.message);
        e.message_id = Some(timer.timer.about.clone());
        e.to = timer.timer.recipients.clone();
        let mut events = vec![e];
        if row.message.state != State::Quarantined {
            row.message.state = State::Queued;
        }
        events.extend(Inner::apply(&txn, &mut row, p, now, "notice")?);
        txn.commit().map_err(db_err)?;
        lock(&self.claimed_timers).remove(&id);
        self.committed(epoch, &events)
    }

    fn next_due(&self) -> Result<Option<OffsetDateTime>> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        let mut best: Option<u64> = None;
        for (table, claimed) in [
            (DUE_PROCESSING, &self.claimed_processing),
            (DUE_DELIVERIES, &self.claimed_deliveries),
            (DUE_TIMERS, &self.claimed_timers),
        ] {
            let t = r.open_table(table).map_err(db_err)?;
            let c = lock(claimed);
            for entry in t.range::<(u64, u64)>(..).map_err(db_err)? {
                let (k, _) = entry.map_err(db_err)?;
                let (at, id) = k.value();
                if !c.contains(&id) {
                    best = Some(best.map_or(at, |b| b.min(at)));
                    break;
                }
            }
        }
        Ok(best.and_then(|m| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1_000_000).ok()
        }))
    }

    fn deliveries_of(&self, row: &Row) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        for o in &row.message.outputs {
            for d in &o.deliveries {
                out.push(self.read_delivery(*d)?);
            }
        }
        Ok(out)
    }

    fn list(&self, filter: &Filter) -> Result<Vec<Message>> {
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        let r = self.db()?.begin_read().map_err(db_err)?;
        let messages = r.open_table(MESSAGES).map_err(db_err)?;
        let mut out = Vec::new();
        if filter.states.is_empty() {
            let active = r.open_table(ACTIVE).map_err(db_err)?;
            for entry in active.range::<u64>(..).map_err(db_err)?.rev() {
                let (k, _) = entry.map_err(db_err)?;
                let id = k.value();
                if let Some(g) = messages.get(id).map_err(db_err)? {
                    out.push(decode::<Row>("message", id, g.value())?.message);
                }
                if out.len() >= limit {
                    break;
                }
            }
        } else {
            for entry in messages.range::<u64>(..).map_err(db_err)?.rev() {
                let (k, v) = entry.map_err(db_err)?;
                let row: Row = decode("message", k.value(), v.value())?;
                if filter.states.contains(&row.message.state) {
                    out.push(row.message);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    fn retry(&self, id: MessageId, now: OffsetDateTime) -> Result<State> {
        let (txn, epoch) = self.begin()?;
        let mut row = Inner::load_row(&txn, id)?;
        let before = row.message.state;
        if before == State::Delivered {
            return Err(Error::WrongState {
                what: "message",
                id,
                state: before.as_str().into(),
                action: "retry",
            });
        }
        let processed = row.message.mapping.is_some() || row.message.refused.is_some();
        let mut requeued = 0;
        for o in row.message.outputs.clone() {
            for did in o.deliveries {
                let mut d = Inner::load_delivery(&txn, did)?;
                let old = (d.state == DeliveryState::Queued).then_some(ms(d.next_attempt));
                if d.state != DeliveryState::Delivered {
                    d.state = DeliveryState::Queued;
                    d.next_attempt = now;
                    Inner::save_delivery(&txn, &d, old)?;
                    requeued += 1;
                }
            }
        }
        if !processed {
            // Never processed (quarantined as poison, or waiting): process again now.
            let mut due = txn.open_table(DUE_PROCESSING).map_err(db_err)?;
            if let Some(at) = row.message.next_attempt.take() {
                due.remove((ms(at), id)).map_err(db_err)?;
            }
            due.insert((ms(now), id), ()).map_err(db_err)?;
            row.message.next_attempt = Some(now);
            row.message.state = State::Received;
            row.poison = 0;
        } else if row.message.state == State::Quarantined {
            row.message.state = State::Queued;
        }
        row.message.history.push(HistoryEntry {
            at: now,
            event: "retry".into(),
            detail: format!(
                "operator retry from {}: {requeued} deliveries queued{}",
                before.as_str(),
                if processed { "" } else { ", processing again" }
            ),
        });
        row.message.updated_at = now;
        if processed {
            Inner::settle(&txn, &mut row)?;
        } else {
            Inner::save_row(&txn, &row)?;
        }
        let state = row.message.state;
        txn.commit().map_err(db_err)?;
        let mut e = LegalEvent::new(
            now,
            "retry",
            format!("from {} to {}", before.as_str(), state.as_str()),
        );
        e.message = Some(id);
        e.message_id = row.message.message_id.clone();
        self.committed(epoch, &[e])?;
        Ok(state)
    }

    fn quarantine(&self, id: MessageId, reason: &str, now: OffsetDateTime) -> Result<()> {
        let (txn, epoch) = self.begin()?;
        let mut row = Inner::load_row(&txn, id)?;
        if matches!(row.message.state, State::Delivered | State::Quarantined) {
            return Err(Error::WrongState {
                what: "message",
                id,
                state: row.message.state.as_str().into(),
                action: "quarantine",
            });
        }
        if let Some(at) = row.message.next_attempt.take() {
            txn.open_table(DUE_PROCESSING)
                .map_err(db_err)?
                .remove((ms(at), id))
                .map_err(db_err)?;
        }
        for o in row.message.outputs.clone() {
            for did in o.deliveries {
                let mut d = Inner::load_delivery(&txn, did)?;
                if d.state == DeliveryState::Queued {
                    let old = Some(ms(d.next_attempt));
                    d.state = DeliveryState::Quarantined;
                    Inner::save_delivery(&txn, &d, old)?;
                }
            }
        }
        let tids: Vec<u64> = {
            let t = txn.open_multimap_table(TIMERS_BY_MESSAGE).map_err(db_err)?;
            let mut v = Vec::new();
            for g in t.get(id).map_err(db_err)? {
                v.push(g.map_err(db_err)?.value());
            }
            v
        };
        for tid in tids {
            if let Some(t) = Inner::timer_row(&txn, tid)? {
                Inner::remove_timer(&txn, &t)?;
            }
        }
        row.message.state = State::Quarantined;
        row.message.last_error = Some(reason.to_owned());
        row.message.updated_at = now;
        row.message.history.push(HistoryEntry {
            at: now,
            event: "quarantined".into(),
            detail: reason.to_owned(),
        });
        Inner::save_row(&txn, &row)?;
        txn.commit().map_err(db_err)?;
        let mut e = LegalEvent::new(now, "quarantined", reason.to_owned());
        e.message = Some(id);
        e.message_id = row.message.message_id.clone();
        self.committed(epoch, &[e])
    }

    fn stats(&self, now: OffsetDateTime) -> Result<Stats> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        let active = r.open_table(ACTIVE).map_err(db_err)?;
        let messages = r.open_table(MESSAGES).map_err(db_err)?;
        let queue_depth = active.len().map_err(db_err)?;
        let mut oldest_seconds = 0;
        let mut by: Vec<(State, u64)> = Vec::new();
        for entry in active.range::<u64>(..).map_err(db_err)? {
            let (k, _) = entry.map_err(db_err)?;
            let id = k.value();
            if let Some(g) = messages.get(id).map_err(db_err)? {
                let row: Row = decode("message", id, g.value())?;
                if oldest_seconds == 0 {
                    oldest_seconds =
                        u64::try_from((now - row.message.received_at).whole_seconds()).unwrap_or(0);
                }
                match by.iter_mut().find(|(s, _)| *s == row.message.state) {
                    Some((_, n)) => *n += 1,
                    None => by.push((row.message.state, 1)),
                }
            }
        }
        let deliveries_queued = r
            .open_table(DUE_DELIVERIES)
            .map_err(db_err)?
            .len()
            .map_err(db_err)?;
        let timers = r
            .open_table(TIMERS)
            .map_err(db_err)?
            .len()
            .map_err(db_err)?;
        Ok(Stats {
            queue_depth,
            deliveries_queued,
            oldest_seconds,
            by_state: by,
            timers,
        })
    }

    fn find_records(&self, id: &str) -> Result<Vec<Record>> {
        let key = normalize_id(id);
        if key.is_empty() {
            return Ok(Vec::new());
        }
        let r = self.db()?.begin_read().map_err(db_err)?;
        let ids = r.open_multimap_table(RECORD_IDS).map_err(db_err)?;
        let records = r.open_table(RECORDS).map_err(db_err)?;
        let mut rids = Vec::new();
        for g in ids.get(key).map_err(db_err)? {
            rids.push(g.map_err(db_err)?.value());
        }
        rids.sort_unstable();
        let mut out = Vec::new();
        for rid in rids {
            if let Some(g) = records.get(rid).map_err(db_err)? {
                let rec: Record = decode("record", rid, g.value())?;
                if rec.matches(id) {
                    out.push(rec);
                }
            }
        }
        Ok(out)
    }

    /// Records (or replaces) the service of one delivery, synced before returning.
    fn bind_service(&self, b: &DeliveredService) -> Result<()> {
        let key = normalize_id(&b.message_id).to_owned();
        let (txn, epoch) = self.begin()?;
        {
            let mut t = txn.open_table(SERVICES).map_err(db_err)?;
            let old: Option<DeliveredService> = match t.get(b.delivery).map_err(db_err)? {
                Some(g) => Some(decode("delivered service", b.delivery, g.value())?),
                None => None,
            };
            t.insert(b.delivery, encode(b)?.as_slice())
                .map_err(db_err)?;
            let mut ids = txn.open_multimap_table(SERVICE_IDS).map_err(db_err)?;
            if let Some(o) = old {
                ids.remove(normalize_id(&o.message_id), b.delivery)
                    .map_err(db_err)?;
            }
            ids.insert(key.as_str(), b.delivery).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        self.committed(epoch, &[])
    }

    fn delivered_services(&self, id: &str) -> Result<Vec<DeliveredService>> {
        let key = normalize_id(id);
        if key.is_empty() {
            return Ok(Vec::new());
        }
        let r = self.db()?.begin_read().map_err(db_err)?;
        let ids = r.open_multimap_table(SERVICE_IDS).map_err(db_err)?;
        let t = r.open_table(SERVICES).map_err(db_err)?;
        let mut out = Vec::new();
        for g in ids.get(key).map_err(db_err)? {
            let did = g.map_err(db_err)?.value();
            if let Some(v) = t.get(did).map_err(db_err)? {
                out.push(decode("delivered service", did, v.value())?);
            }
        }
        Ok(out)
    }

    fn timers_of(&self, id: MessageId) -> Result<Vec<Timer>> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        let by = r.open_multimap_table(TIMERS_BY_MESSAGE).map_err(db_err)?;
        let timers = r.open_table(TIMERS).map_err(db_err)?;
        let mut out = Vec::new();
        for g in by.get(id).map_err(db_err)? {
            let tid = g.map_err(db_err)?.value();
            if let Some(v) = timers.get(tid).map_err(db_err)? {
                out.push(decode("timer", tid, v.value())?);
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Spool for Embedded {
    async fn by_message_id(&self, message_id: &str) -> Result<Option<MessageId>> {
        let mid = message_id.to_owned();
        self.blocking(move |i| i.lookup_msgid(&mid)).await
    }

    async fn by_output_message_id(&self, message_id: &str) -> Result<Option<(MessageId, u32)>> {
        let mid = message_id.to_owned();
        self.blocking(move |i| i.lookup_output_id(&mid)).await
    }

    async fn receive(
        &self,
        incoming: Incoming,
        processed: Option<Processed>,
        now: OffsetDateTime,
    ) -> Result<Received> {
        self.blocking(move |i| i.receive(incoming, processed, now))
            .await
    }

    async fn claim_processing(
        &self,
        now: OffsetDateTime,
        _lease: Duration,
        max: usize,
    ) -> Result<Vec<MessageId>> {
        self.blocking(move |i| i.claim_due(DUE_PROCESSING, &i.claimed_processing, now, max))
            .await
    }

    async fn processed(&self, id: MessageId, p: Processed, now: OffsetDateTime) -> Result<()> {
        self.blocking(move |i| i.processed(id, p, now)).await
    }

    async fn processing_failed(
        &self,
        id: MessageId,
        reason: &str,
        poison: bool,
        retry_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<State> {
        let reason = reason.to_owned();
        self.blocking(move |i| i.processing_failed(id, &reason, poison, retry_at, now))
            .await
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        _lease: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>> {
        self.blocking(move |i| {
            let ids = i.claim_due(DUE_DELIVERIES, &i.claimed_deliveries, now, max)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                match i.read_delivery(id) {
                    Ok(d) => out.push(d),
                    Err(e) => {
                        lock(&i.claimed_deliveries).remove(&id);
                        return Err(e);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn delivery_done(
        &self,
        id: DeliveryId,
        attempt: Attempt,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.blocking(move |i| {
            let r = i.delivery_done(id, attempt, now);
            if r.is_err() {
                lock(&i.claimed_deliveries).remove(&id);
            }
            r
        })
        .await
    }

    async fn claim_timers(
        &self,
        now: OffsetDateTime,
        _lease: Duration,
        max: usize,
    ) -> Result<Vec<Timer>> {
        self.blocking(move |i| {
            let ids = i.claim_due(DUE_TIMERS, &i.claimed_timers, now, max)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                match i.read_timer(id) {
                    Ok(t) => out.push(t),
                    Err(e) => {
                        lock(&i.claimed_timers).remove(&id);
                        return Err(e);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn timer_fired(&self, id: TimerId, p: Processed, now: OffsetDateTime) -> Result<()> {
        self.blocking(move |i| {
            let r = i.timer_fired(id, p, now);
            if r.is_err() {
                lock(&i.claimed_timers).remove(&id);
            }
            r
        })
        .await
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>> {
        self.blocking(|i| i.next_due()).await
    }

    async fn message(&self, id: MessageId) -> Result<Message> {
        self.blocking(move |i| i.read_row(id).map(|r| r.message))
            .await
    }

    async fn input(&self, id: MessageId) -> Result<Vec<u8>> {
        self.blocking(move |i| {
            i.read_row(id)?;
            i.read_body(id, None)
        })
        .await
    }

    async fn output(&self, id: MessageId, index: u32) -> Result<Vec<u8>> {
        self.blocking(move |i| i.read_body(id, Some(index))).await
    }

    async fn delivery(&self, id: DeliveryId) -> Result<Delivery> {
        self.blocking(move |i| i.read_delivery(id)).await
    }

    async fn timers(&self, id: MessageId) -> Result<Vec<Timer>> {
        self.blocking(move |i| i.timers_of(id)).await
    }

    async fn list(&self, filter: &Filter) -> Result<Vec<Message>> {
        let f = filter.clone();
        self.blocking(move |i| i.list(&f)).await
    }

    async fn retry(&self, id: MessageId, now: OffsetDateTime) -> Result<State> {
        self.blocking(move |i| i.retry(id, now)).await
    }

    async fn quarantine(&self, id: MessageId, reason: &str, now: OffsetDateTime) -> Result<()> {
        let reason = reason.to_owned();
        self.blocking(move |i| i.quarantine(id, &reason, now)).await
    }

    async fn stats(&self, now: OffsetDateTime) -> Result<Stats> {
        self.blocking(move |i| i.stats(now)).await
    }

    fn find_records(&self, id: &str) -> Result<Vec<Record>> {
        self.inner.find_records(id)
    }

    async fn bind_service(&self, service: DeliveredService) -> Result<()> {
        self.blocking(move |i| i.bind_service(&service)).await
    }

    fn delivered_services(&self, message_id: &str) -> Result<Vec<DeliveredService>> {
        self.inner.delivered_services(message_id)
    }

    async fn writable(&self) -> Result<()> {
        self.blocking(|i| {
            let p = i.dir.join(".writable");
            write_synced(&p, b"ok\n")?;
            std::fs::remove_file(&p).map_err(io(&p))
        })
        .await
    }

    async fn legal(&self, event: LegalEvent) -> Result<()> {
        self.blocking(move |i| i.legal(&[event])).await
    }

    async fn deliveries(&self, id: MessageId) -> Result<Vec<Delivery>> {
        self.blocking(move |i| {
            let row = i.read_row(id)?;
            i.deliveries_of(&row)
        })
        .await
    }
}

impl Inner {
    fn message_ids(&self, after: MessageId, limit: usize) -> Result<Vec<MessageId>> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        let t = r.open_table(MESSAGES).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in t.range(after.saturating_add(1)..).map_err(db_err)? {
            let (k, _) = entry.map_err(db_err)?;
            out.push(k.value());
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn dump(&self, id: MessageId) -> Result<Dump> {
        let row = self.read_row(id)?;
        let input = self.read_body(id, None)?;
        let mut outputs = Vec::with_capacity(row.message.outputs.len());
        for o in &row.message.outputs {
            outputs.push(self.read_body(id, Some(o.index))?);
        }
        let deliveries = self.deliveries_of(&row)?;
        let services = {
            let r = self.db()?.begin_read().map_err(db_err)?;
            let t = r.open_table(SERVICES).map_err(db_err)?;
            let mut out = Vec::new();
            for d in &deliveries {
                if let Some(v) = t.get(d.id).map_err(db_err)? {
                    out.push(decode::<DeliveredService>(
                        "delivered service",
                        d.id,
                        v.value(),
                    )?);
                }
            }
            out.sort_by_key(|s| s.delivery);
            out
        };
        Ok(Dump {
            deliveries,
            timers: self.timers_of(id)?,
            message: row.message,
            poison: row.poison,
            input,
            outputs,
            services,
        })
    }

    fn each_record(&self, f: &mut (dyn FnMut(Record) -> Result<()> + Send)) -> Result<()> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        let t = r.open_table(RECORDS).map_err(db_err)?;
        for entry in t.range::<u64>(..).map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            f(decode("record", k.value(), v.value())?)?;
        }
        Ok(())
    }

    fn each_legal(&self, f: &mut (dyn FnMut(LegalEvent) -> Result<()> + Send)) -> Result<()> {
        use std::io::BufRead;
        let path = self.dir.join("legal.jsonl");
        let file = File::open(&path).map_err(io(&path))?;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io(&path))?;
            if line.trim().is_empty() {
                continue;
            }
            f(decode("legal log line", i as u64 + 1, line.as_bytes())?)?;
        }
        Ok(())
    }

    fn count_messages(&self) -> Result<u64> {
        let r = self.db()?.begin_read().map_err(db_err)?;
        r.open_table(MESSAGES)
            .map_err(db_err)?
            .len()
            .map_err(db_err)
    }

    fn bump(txn: &redb::WriteTransaction, key: &str, next: u64) -> Result<()> {
        let mut meta = txn.open_table(META).map_err(db_err)?;
        let stored = meta
            .get(key)
            .map_err(db_err)?
            .map(|g| g.value())
            .unwrap_or(1);
        meta.insert(key, stored.max(next)).map_err(db_err)?;
        Ok(())
    }

    fn restore(&self, d: Dump) -> Result<()> {
        let id = d.message.id;
        if self.read_row(id).is_ok() {
            return Err(Error::WrongState {
                what: "message",
                id,
                state: "already stored".into(),
                action: "import",
            });
        }
        self.write_large(id, None, &d.input)?;
        for (k, body) in d.outputs.iter().enumerate() {
            let index = u32::try_from(k).unwrap_or(u32::MAX);
            self.write_large(id, Some(index), body)?;
        }
        let txn = self.db()?.begin_write().map_err(db_err)?;
        Inner::put_small(&txn, id, None, &d.input)?;
        for (k, body) in d.outputs.iter().enumerate() {
            let index = u32::try_from(k).unwrap_or(u32::MAX);
            Inner::put_small(&txn, id, Some(index), body)?;
        }
        if let Some(mid) = &d.message.message_id {
            let key = normalize_id(mid);
            if !key.is_empty() {
                txn.open_table(MSGIDS)
                    .map_err(db_err)?
                    .insert(key, id)
                    .map_err(db_err)?;
            }
        }
        for o in &d.message.outputs {
            let key = normalize_id(&o.message_id);
            if !key.is_empty() {
                txn.open_table(OUTPUT_IDS)
                    .map_err(db_err)?
                    .insert(key, (id, o.index))
                    .map_err(db_err)?;
            }
        }
        if d.message.state == State::Received
            && let Some(at) = d.message.next_attempt
        {
            txn.open_table(DUE_PROCESSING)
                .map_err(db_err)?
                .insert((ms(at), id), ())
                .map_err(db_err)?;
        }
        let mut next_delivery = 0;
        for dl in &d.deliveries {
            Inner::save_delivery(&txn, dl, None)?;
            next_delivery = next_delivery.max(dl.id + 1);
        }
        for b in &d.services {
            txn.open_table(SERVICES)
                .map_err(db_err)?
                .insert(b.delivery, encode(b)?.as_slice())
                .map_err(db_err)?;
            let key = normalize_id(&b.message_id);
            if !key.is_empty() {
                txn.open_multimap_table(SERVICE_IDS)
                    .map_err(db_err)?
                    .insert(key, b.delivery)
                    .map_err(db_err)?;
            }
        }
        let mut next_timer = 0;
        for t in &d.timers {
            txn.open_table(TIMERS)
                .map_err(db_err)?
                .insert(t.id, encode(t)?.as_slice())
                .map_err(db_err)?;
            txn.open_table(DUE_TIMERS)
                .map_err(db_err)?
                .insert((ms(t.timer.due), t.id), ())
                .map_err(db_err)?;
            txn.open_multimap_table(TIMERS_BY_ABOUT)
                .map_err(db_err)?
                .insert(normalize_id(&t.timer.about), t.id)
                .map_err(db_err)?;
            txn.open_multimap_table(TIMERS_BY_MESSAGE)
                .map_err(db_err)?
                .insert(id, t.id)
                .map_err(db_err)?;
            next_timer = next_timer.max(t.id + 1);
        }
        Inner::save_row(
            &txn,
            &Row {
                message: d.message,
                poison: d.poison,
            },
        )?;
        Inner::bump(&txn, NEXT_MESSAGE, id + 1)?;
        Inner::bump(&txn, NEXT_DELIVERY, next_delivery)?;
        Inner::bump(&txn, NEXT_TIMER, next_timer)?;
        txn.commit().map_err(db_err)?;
        self.next_message.fetch_max(id + 1, Ordering::SeqCst);
        Ok(())
    }

    fn restore_records(&self, records: Vec<Record>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let txn = self.db()?.begin_write().map_err(db_err)?;
        for r in &records {
            let rid = Inner::next(&txn, NEXT_RECORD)?;
            txn.open_table(RECORDS)
                .map_err(db_err)?
                .insert(rid, encode(r)?.as_slice())
                .map_err(db_err)?;
            let mut ids = txn.open_multimap_table(RECORD_IDS).map_err(db_err)?;
            for id in r.ids() {
                let key = normalize_id(id);
                if !key.is_empty() {
                    ids.insert(key, rid).map_err(db_err)?;
                }
            }
        }
        txn.commit().map_err(db_err)
    }
}

#[async_trait::async_trait]
impl Portable for Embedded {
    fn source(&self) -> String {
        format!("embedded {}", self.inner.dir.display())
    }

    async fn message_ids(&self, after: MessageId, limit: usize) -> Result<Vec<MessageId>> {
        self.blocking(move |i| i.message_ids(after, limit)).await
    }

    async fn dump(&self, id: MessageId) -> Result<Dump> {
        self.blocking(move |i| i.dump(id)).await
    }

    async fn each_record(&self, f: &mut (dyn FnMut(Record) -> Result<()> + Send)) -> Result<()> {
        tokio::task::block_in_place(|| self.inner.each_record(f))
    }

    async fn each_legal(&self, f: &mut (dyn FnMut(LegalEvent) -> Result<()> + Send)) -> Result<()> {
        tokio::task::block_in_place(|| self.inner.each_legal(f))
    }

    async fn count_messages(&self) -> Result<u64> {
        self.blocking(|i| i.count_messages()).await
    }

    async fn restore(&self, d: Dump) -> Result<()> {
        self.blocking(move |i| i.restore(d)).await
    }

    async fn restore_records(&self, r: Vec<Record>) -> Result<()> {
        self.blocking(move |i| i.restore_records(r)).await
    }

    async fn restore_legal(&self, e: Vec<LegalEvent>) -> Result<()> {
        self.blocking(move |i| i.legal(&e)).await
    }

    async fn restored(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::spool::{Destination, Envelope, Format, NewTimer, TimerKind, TimerStop};

    fn incoming(mid: &str) -> Incoming {
        Incoming {
            envelope: Envelope {
                mail_from: "posta-certificata@pec.prova.test".into(),
                rcpt_to: vec!["anna@rem.example.eu".into()],
                peer: "127.0.0.1:4000".into(),
                helo: "pec.prova.test".into(),
                tls: false,
            },
            format: Format::Pec,
            message_id: Some(mid.into()),
            kind: "posta-certificata".into(),
            body: b"Message-ID: <x>\r\n\r\nbody\r\n".to_vec(),
        }
    }

    fn output(n: usize) -> NewOutput {
        NewOutput {
            kind: "rem-dispatch".into(),
            message_id: format!("<out{n}@ponte.test>"),
            mail_from: "rem-service@ponte.test".into(),
            routes: vec![
                (
                    Destination::Domain("rem.example.eu".into()),
                    vec!["anna@rem.example.eu".into()],
                ),
                (
                    Destination::Domain("other.example.eu".into()),
                    vec!["bo@other.example.eu".into()],
                ),
            ],
            body: format!("out {n}\r\n").into_bytes(),
        }
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-12-06 12:00 UTC)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn small_bodies_live_in_the_database_and_large_ones_in_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let files = |d: &Path| -> usize {
            std::fs::read_dir(d.join("data"))
                .map(|sub| {
                    sub.flatten()
                        .map(|e| std::fs::read_dir(e.path()).map_or(0, |f| f.count()))
                        .sum()
                })
                .unwrap_or(0)
        };
        let large: Vec<u8> = (0..INLINE_MAX + 1).map(|i| b'a' + (i % 26) as u8).collect();
        let (small_id, large_id) = rt().block_on(async {
            let s = Embedded::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            let mut small = incoming("<small@x>");
            let mut out = output(0);
            out.body = vec![b'o'; INLINE_MAX];
            let p = Processed {
                outputs: vec![out],
                ..Processed::default()
            };
            small.body = vec![b's'; INLINE_MAX];
            let small_id = s
                .receive(small, Some(p), now())
                .await
                .map(Received::id)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(files(dir.path()), 0, "bodies up to INLINE_MAX make no file");
            let mut big = incoming("<large@x>");
            big.body = large.clone();
            let mut out = output(1);
            out.body = large.clone();
            let p = Processed {
                outputs: vec![out],
                ..Processed::default()
            };
            let large_id = s
                .receive(big, Some(p), now())
                .await
                .map(Received::id)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                files(dir.path()),
                2,
                "the larger input and output are files"
            );
            // A duplicate leaves nothing behind.
            let mut again = incoming("<small@x>");
            again.body = vec![b'x'; 10];
            assert!(matches!(
                s.receive(again, None, now()).await,
                Ok(Received::Duplicate(i)) if i == small_id
            ));
            (small_id, large_id)
        });
        // Read back, after reopening.
        rt().block_on(async {
            let s = Embedded::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            let got = |r: Result<Vec<u8>>| r.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got(s.input(small_id).await), vec![b's'; INLINE_MAX]);
            assert_eq!(got(s.output(small_id, 0).await), vec![b'o'; INLINE_MAX]);
            assert_eq!(got(s.input(large_id).await), large);
            assert_eq!(got(s.output(large_id, 0).await), large);
            assert!(s.output(small_id, 1).await.is_err(), "no such output");
            assert_eq!(files(dir.path()), 2);
        });
    }

    #[test]
    fn a_partial_attempt_splits_the_delivery_per_recipient_group() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        rt().block_on(async {
            let s = Embedded::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            let rcpts: Vec<String> = [
                "ok@rem.example.eu",
                "bad@rem.example.eu",
                "later@rem.example.eu",
            ]
            .iter()
            .map(|r| r.to_string())
            .collect();
            let mut out = output(0);
            out.routes = vec![(Destination::Domain("rem.example.eu".into()), rcpts.clone())];
            let p = Processed {
                outputs: vec![out],
                ..Processed::default()
            };
            let id = s
                .receive(incoming("<p@x>"), Some(p), now())
                .await
                .map(Received::id)
                .unwrap_or_else(|e| panic!("{e}"));
            let ds = s
                .claim_deliveries(now(), DEFAULT_LEASE_TEST, 10)
                .await
                .unwrap_or_default();
            assert_eq!(ds.len(), 1);
            let mut notice = output(1);
            notice.kind = "pec-notice:mancata-consegna".into();
            notice.routes = vec![(Destination::Pec, vec!["sender@pec.prova.test".into()])];
            let later = now() + time::Duration::minutes(2);
            s.delivery_done(
                ds[0].id,
                Attempt::Partial {
                    delivered: vec![rcpts[0].clone()],
                    reply: "250 2.0.0 queued".into(),
                    failed: vec![rcpts[1].clone()],
                    failure: "550 5.1.1 no such mailbox".into(),
                    notices: Processed {
                        outputs: vec![notice],
                        ..Processed::default()
                    },
                    deferred: vec![rcpts[2].clone()],
                    reason: "451 4.2.1 busy".into(),
                    retry_at: later,
                },
                now(),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            let all = s.deliveries(id).await.unwrap_or_default();
            // The deferred recipient stays on the delivery; the others are split off; the
            // notice is a delivery of its own, to the PEC platform.
            let find = |state: DeliveryState, dest: &Destination| {
                all.iter()
                    .filter(|d| d.state == state && d.destination == *dest)
                    .cloned()
                    .collect::<Vec<_>>()
            };
            let rem = Destination::Domain("rem.example.eu".into());
            let queued = find(DeliveryState::Queued, &rem);
            assert_eq!(queued.len(), 1);
            assert_eq!(queued[0].id, ds[0].id);
            assert_eq!(queued[0].rcpt_to, vec![rcpts[2].clone()]);
            assert_eq!(queued[0].next_attempt, later);
            assert_eq!(queued[0].attempts, 1);
            let delivered = find(DeliveryState::Delivered, &rem);
            assert_eq!(delivered.len(), 1);
            assert_eq!(delivered[0].rcpt_to, vec![rcpts[0].clone()]);
            assert_eq!(delivered[0].output, 0);
            let failed = find(DeliveryState::Failed, &rem);
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0].rcpt_to, vec![rcpts[1].clone()]);
            assert_eq!(
                failed[0].last_result.as_deref(),
                Some("550 5.1.1 no such mailbox")
            );
            assert_eq!(find(DeliveryState::Queued, &Destination::Pec).len(), 1);
            let m = s.message(id).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(m.state, State::Queued);
            assert_eq!(m.outputs.len(), 2, "the notice is the second output");
            assert_eq!(m.outputs[0].deliveries.len(), 3);
            for event in ["delivered", "failed", "deferred"] {
                assert!(
                    m.history.iter().any(|h| h.event == event),
                    "{event} in {:?}",
                    m.history
                );
            }
            // Only the deferred recipient is tried again; once delivered, the message has
            // failed (one recipient refused) and nothing is pending but the notice.
            let again = s
                .claim_deliveries(later, DEFAULT_LEASE_TEST, 10)
                .await
                .unwrap_or_default();
            let rem_again: Vec<_> = again.iter().filter(|d| d.destination == rem).collect();
            assert_eq!(rem_again.len(), 1);
            assert_eq!(rem_again[0].rcpt_to, vec![rcpts[2].clone()]);
            for d in &again {
                s.delivery_done(d.id, Attempt::Delivered("250 ok".into()), later)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            let m = s.message(id).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(m.state, State::Failed);
            let legal = std::fs::read_to_string(dir.path().join("legal.jsonl")).unwrap_or_default();
            assert!(legal.contains("\"event\":\"failed\"") && legal.contains("bad@rem.example.eu"));
        });
    }

    #[test]
    fn a_message_goes_from_received_to_delivered_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        rt().block_on(async {
            let s = Embedded::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            let r = s.receive(incoming("<a@x>"), None, now()).await;
            let id = match r {
                Ok(Received::New(id)) => id,
                other => panic!("{other:?}"),
            };
            // Idempotent on the Message-ID, with or without brackets.
            assert_eq!(
                s.receive(incoming("a@x"), None, now()).await.ok(),
                Some(Received::Duplicate(id))
            );
            assert_eq!(
                s.input(id).await.ok().as_deref(),
                Some(&b"Message-ID: <x>\r\n\r\nbody\r\n"[..])
            );
            let claimed = s
                .claim_processing(now(), DEFAULT_LEASE_TEST, 10)
                .await
                .unwrap_or_default();
            assert_eq!(claimed, vec![id]);
            // Claimed: not handed out twice.
            assert!(
                s.claim_processing(now(), DEFAULT_LEASE_TEST, 10)
                    .await
                    .unwrap_or_default()
                    .is_empty()
            );
            let mut record = crate::correlate::Record {
                direction: crate::correlate::Direction::PecToRem,
                created: "2026-12-06T12:00:00Z".into(),
                pec_identificativo: Some("opec1@pec.prova.test".into()),
                pec_msgid: None,
                rem_message_id: Some("<out0@ponte.test>".into()),
                rem_ua_message_id: None,
                evidence_ids: vec![],
                input: "<a@x>".into(),
                output_message_id: "<out0@ponte.test>".into(),
                kind: "dispatch".into(),
                dispatch: None,
                sender_assurance: None,
            };
            s.processed(
                id,
                Processed {
                    mapping: Some("busta-trasporto".into()),
                    outputs: vec![output(0)],
                    records: vec![record.clone()],
                    timers: vec![NewTimer {
                        kind: TimerKind::Warning,
                        due: now() + time::Duration::hours(12),
                        about: "<out0@ponte.test>".into(),
                        recipients: vec![
                            "anna@rem.example.eu".into(),
                            "bo@other.example.eu".into(),
                        ],
                    }],
                    ..Processed::default()
                },
                now(),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                s.find_records("opec1@pec.prova.test").unwrap_or_default(),
                vec![record.clone()]
            );
            record.pec_identificativo = None;
            assert!(s.find_records("nobody@x").unwrap_or_default().is_empty());
            let m = s.message(id).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(m.state, State::Queued);
            assert_eq!(m.outputs.len(), 1);
            assert_eq!(m.outputs[0].deliveries.len(), 2);
            assert_eq!(
                s.output(id, 0).await.ok().as_deref(),
                Some(&b"out 0\r\n"[..])
            );
            let ds = s
                .claim_deliveries(now(), DEFAULT_LEASE_TEST, 10)
                .await
                .unwrap_or_default();
            assert_eq!(ds.len(), 2);
            s.delivery_done(ds[0].id, Attempt::Delivered("250 ok".into()), now())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let later = now() + time::Duration::minutes(1);
            s.delivery_done(
                ds[1].id,
                Attempt::Deferred {
                    reason: "451 later".into(),
                    retry_at: later,
                },
                now(),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.next_due().await.ok().flatten(), Some(later));
            assert!(
                s.claim_deliveries(now(), DEFAULT_LEASE_TEST, 10)
                    .await
                    .unwrap_or_default()
                    .is_empty()
            );
            // Evidence for one recipient shortens the timer, for the other removes it.
            s.processed(
                id,
                Processed {
                    stop_timers: vec![TimerStop {
                        about: "out0@ponte.test".into(),
                        recipients: vec!["ANNA@rem.example.eu".into()],
                        kinds: vec![TimerKind::Warning],
                    }],
                    ..Processed::default()
                },
                now(),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            let t = s.timers(id).await.unwrap_or_default();
            assert_eq!(t.len(), 1);
            assert_eq!(
                t[0].timer.recipients,
                vec!["bo@other.example.eu".to_string()]
            );
            let stats = s.stats(now()).await.unwrap_or_default();
            assert_eq!(stats.queue_depth, 1);
            assert_eq!(stats.timers, 1);
            drop(s);
            // Reopened: the deferred delivery is due again at its time, nothing is lost.
            let s = Embedded::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            let ds = s
                .claim_deliveries(later, DEFAULT_LEASE_TEST, 10)
                .await
                .unwrap_or_default();
            assert_eq!(ds.len(), 1);
            assert_eq!(ds[0].rcpt_to, vec!["bo@other.example.eu".to_string()]);
            s.delivery_done(ds[0].id, Attempt::Delivered("250 ok".into()), later)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let m = s.message(id).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(m.state, State::Delivered);
            assert!(s.stats(later).await.unwrap_or_default().queue_depth == 0);
            // A new message gets a new number after reopening.
            let r2 = s.receive(incoming("<b@x>"), None, later).await.ok();
            assert_eq!(r2, Some(Received::New(id + 1)));
            let legal = std::fs::read_to_string(dir.path().join("legal.jsonl")).unwrap_or_default();
            assert!(legal.lines().count() >= 6, "{legal}");
            assert!(
                legal
                    .lines()
                    .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
            );
        });
    }

    #[test]
    fn poison_goes_to_quarantine_and_retry_brings_it_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        rt().block_on(async {
            let s = Embedded::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            let id = s
                .receive(incoming("<p@x>"), None, now())
                .await
                .map(Received::id)
                .unwrap_or(0);
            for i in 0..POISON_ATTEMPTS {
                let claimed = s
                    .claim_processing(
                        now() + time::Duration::seconds(i64::from(i)),
                        DEFAULT_LEASE_TEST,
                        10,
                    )
                    .await
                    .unwrap_or_default();
                assert_eq!(claimed, vec![id], "attempt {i}");
                // An outage does not count.
                let st = s
                    .processing_failed(id, "TSA down", false, now(), now())
                    .await
                    .ok();
                assert_eq!(st, Some(State::Received));
                let claimed = s
                    .claim_processing(now(), DEFAULT_LEASE_TEST, 10)
                    .await
                    .unwrap_or_default();
                assert_eq!(claimed, vec![id]);
                let st = s
                    .processing_failed(id, "panicked", true, now(), now())
                    .await
                    .ok();
                let want = if i + 1 == POISON_ATTEMPTS {
                    State::Quarantined
                } else {
                    State::Received
                };
                assert_eq!(st, Some(want));
            }
            assert!(
                s.claim_processing(now() + time::Duration::hours(1), DEFAULT_LEASE_TEST, 10)
                    .await
                    .unwrap_or_default()
                    .is_empty()
            );
            assert_eq!(s.retry(id, now()).await.ok(), Some(State::Received));
            assert_eq!(
                s.claim_processing(now(), DEFAULT_LEASE_TEST, 10)
                    .await
                    .unwrap_or_default(),
                vec![id]
            );
            s.quarantine(id, "operator", now())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                s.message(id).await.map(|m| m.state).ok(),
                Some(State::Quarantined)
            );
            let listed = s
                .list(&Filter {
                    states: vec![State::Quarantined],
                    limit: 0,
                })
                .await
                .unwrap_or_default();
            assert_eq!(listed.len(), 1);
        });
    }

    #[test]
    fn outputs_are_found_by_message_id_and_quarantine_refuses_final_states() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        rt().block_on(async {
            let s = Embedded::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            let id = s
                .receive(
                    incoming("<o@x>"),
                    Some(Processed {
                        mapping: Some("busta-trasporto".into()),
                        outputs: vec![output(0), output(1)],
                        ..Processed::default()
                    }),
                    now(),
                )
                .await
                .map(Received::id)
                .unwrap_or_else(|e| panic!("{e}"));
            // With or without brackets; an input's Message-ID is not an output's.
            assert_eq!(
                s.by_output_message_id("<out1@ponte.test>").await.ok(),
                Some(Some((id, 1)))
            );
            assert_eq!(
                s.by_output_message_id("out0@ponte.test").await.ok(),
                Some(Some((id, 0)))
            );
            assert_eq!(s.by_output_message_id("<o@x>").await.ok(), Some(None));
            assert_eq!(s.by_output_message_id("").await.ok(), Some(None));
            // Kept across reopening.
            drop(s);
            let s = Embedded::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                s.by_output_message_id("<out0@ponte.test>").await.ok(),
                Some(Some((id, 0)))
            );
            // Delivered: quarantine does not apply.
            for d in s
                .claim_deliveries(now(), DEFAULT_LEASE_TEST, 10)
                .await
                .unwrap_or_default()
            {
                s.delivery_done(d.id, Attempt::Delivered("250 ok".into()), now())
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            assert_eq!(
                s.message(id).await.map(|m| m.state).ok(),
                Some(State::Delivered)
            );
            assert!(matches!(
                s.quarantine(id, "operator", now()).await,
                Err(Error::WrongState {
                    action: "quarantine",
                    ..
                })
            ));
            // Quarantined once; a second time is refused.
            let other = s
                .receive(incoming("<q@x>"), None, now())
                .await
                .map(Received::id)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(s.quarantine(other, "operator", now()).await.is_ok());
            assert!(matches!(
                s.quarantine(other, "again", now()).await,
                Err(Error::WrongState { .. })
            ));
        });
    }

    const DEFAULT_LEASE_TEST: Duration = Duration::from_secs(60);
}
