//! Moving a queue between spools — the embedded one and PostgreSQL, either way:
//! `ponte spool export` writes a spool as JSON Lines, `ponte spool import` reads that into an
//! empty spool, keeping every number (messages, deliveries, timers), state, history, body,
//! correlation record, service a delivery to a discovered REM peer went to, and legal event.
//!
//! The format (`ponte-spool`, version 2): UTF-8, one JSON object per line, each with a `type`:
//!
//! ```text
//! {"type":"header","format":"ponte-spool","version":2,"exported_at":"…","source":"embedded …"}
//! {"type":"message","message":{…},"poison":0,"input":"<base64>","outputs":["<base64>",…],
//!  "deliveries":[{…},…],"timers":[{…},…],"services":[{…},…]}  one line per message, by number
//! {"type":"record","record":{…}}                      correlation records, oldest first
//! {"type":"legal","event":{…}}                        the legal log, oldest first
//! {"type":"end","messages":N,"records":N,"legal":N}   the counts: a cut file is refused
//! ```
//!
//! `message` is the message as the ops API shows it (`GET /api/messages/ID`: state,
//! envelope, history, outputs with their delivery numbers), `poison` the failed processing
//! attempts that count towards quarantine, `input` the body as received and `outputs` the
//! bodies of its outputs by index (standard base64); `deliveries` and `timers` as the ops API
//! shows them; `services` the services its deliveries to REM peers found by discovery went to
//! ([`DeliveredService`], by delivery number): evidence that comes back about those outputs
//! must be signed by them, so they move with the queue (version 1 files, written before
//! version 2 carried them, are still read: their messages have none, and evidence about
//! their outputs is then not bound to a service). Times are RFC 3339 in UTC, to the microsecond (PostgreSQL's precision, so that
//! a round trip through either spool gives the same file). Claims are not exported: after an
//! import everything is due again.
//!
//! Stop the nodes before exporting (the embedded spool cannot be opened while `ponte serve`
//! runs; on PostgreSQL an export taken while nodes work is not one instant of the queue).
//! Import checks the whole file first (header, every line, the counts of the end line) and
//! then writes; it refuses a spool that already holds messages.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Delivery, Error, LegalEvent, Message, MessageId, Result, Timer};
use crate::correlate::{DeliveredService, Record};

/// The format's name, in the header line.
pub const FORMAT: &str = "ponte-spool";
/// The format's version, in the header line (2: messages carry their delivered services).
pub const VERSION: u32 = 2;
/// The oldest version read.
pub const OLDEST_VERSION: u32 = 1;

/// One message with everything that hangs on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dump {
    /// The message, its history and outputs.
    pub message: Message,
    /// Failed processing attempts that count towards quarantine.
    pub poison: u32,
    /// The body as received.
    #[serde(with = "b64")]
    pub input: Vec<u8>,
    /// The outputs' bodies, by index.
    #[serde(with = "b64_list")]
    pub outputs: Vec<Vec<u8>>,
    /// Its deliveries.
    pub deliveries: Vec<Delivery>,
    /// Its waiting timers.
    pub timers: Vec<Timer>,
    /// The services its deliveries to discovered REM peers went to, by delivery number
    /// (none in a version 1 file).
    #[serde(default)]
    pub services: Vec<DeliveredService>,
}

/// A line of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Line {
    /// The first line.
    Header {
        /// [`FORMAT`].
        format: String,
        /// [`VERSION`].
        version: u32,
        /// When the export was made.
        #[serde(with = "time::serde::rfc3339")]
        exported_at: OffsetDateTime,
        /// Which spool it came from (`embedded DIR`, `postgres URL`).
        source: String,
    },
    /// One message.
    Message(Box<Dump>),
    /// One correlation record.
    Record {
        /// The record.
        record: Box<Record>,
    },
    /// One legal event.
    Legal {
        /// The event.
        event: LegalEvent,
    },
    /// The last line.
    End {
        /// Message lines written.
        messages: u64,
        /// Record lines written.
        records: u64,
        /// Legal lines written.
        legal: u64,
    },
}

/// What was exported or imported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Messages.
    pub messages: u64,
    /// Correlation records.
    pub records: u64,
    /// Legal events.
    pub legal: u64,
}

/// A spool that can be exported and imported.
#[async_trait::async_trait]
pub trait Portable: Send + Sync {
    /// Describes the spool in the header (`embedded DIR`, `postgres URL`).
    fn source(&self) -> String;
    /// Message numbers after `after`, ascending, at most `limit`.
    async fn message_ids(&self, after: MessageId, limit: usize) -> Result<Vec<MessageId>>;
    /// One message and what hangs on it.
    async fn dump(&self, id: MessageId) -> Result<Dump>;
    /// Every correlation record, oldest first, each handed to `f`.
    async fn each_record(&self, f: &mut (dyn FnMut(Record) -> Result<()> + Send)) -> Result<()>;
    /// The legal log, oldest first, each event handed to `f`.
    async fn each_legal(&self, f: &mut (dyn FnMut(LegalEvent) -> Result<()> + Send)) -> Result<()>;
    /// How many messages the spool holds.
    async fn count_messages(&self) -> Result<u64>;
    /// Stores a message under its own numbers (the spool holds no message with them).
    async fn restore(&self, d: Dump) -> Result<()>;
    /// Stores correlation records.
    async fn restore_records(&self, r: Vec<Record>) -> Result<()>;
    /// Appends legal events.
    async fn restore_legal(&self, e: Vec<LegalEvent>) -> Result<()>;
    /// After an import: new numbers continue after the imported ones.
    async fn restored(&self) -> Result<()>;
}

/// Truncates to the microsecond.
fn micros(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

impl Dump {
    /// Times to the microsecond (the file's precision).
    pub fn normalize(&mut self) {
        let m = &mut self.message;
        m.received_at = micros(m.received_at);
        m.updated_at = micros(m.updated_at);
        m.next_attempt = m.next_attempt.map(micros);
        for h in &mut m.history {
            h.at = micros(h.at);
        }
        for d in &mut self.deliveries {
            d.created = micros(d.created);
            d.next_attempt = micros(d.next_attempt);
        }
        for t in &mut self.timers {
            t.timer.due = micros(t.timer.due);
        }
    }
}

fn write_line(out: &mut dyn Write, line: &Line) -> Result<()> {
    let mut s = serde_json::to_vec(line).map_err(|e| Error::Database(format!("JSON: {e}")))?;
    s.push(b'\n');
    out.write_all(&s).map_err(|source| Error::Io {
        path: "export".into(),
        source,
    })
}

/// Writes the whole spool to `out`.
pub async fn export(
    src: &dyn Portable,
    out: &mut (dyn Write + Send),
    now: OffsetDateTime,
) -> Result<Counts> {
    let mut n = Counts::default();
    write_line(
        out,
        &Line::Header {
            format: FORMAT.into(),
            version: VERSION,
            exported_at: micros(now),
            source: src.source(),
        },
    )?;
    let mut after = 0;
    loop {
        let ids = src.message_ids(after, 256).await?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        for id in ids {
            let mut d = src.dump(id).await?;
            d.normalize();
            write_line(out, &Line::Message(Box::new(d)))?;
            n.messages += 1;
        }
        after = last;
    }
    let mut records = 0;
    src.each_record(&mut |record| {
        records += 1;
        write_line(
            out,
            &Line::Record {
                record: Box::new(record),
            },
        )
    })
    .await?;
    n.records = records;
    let mut legal = 0;
    src.each_legal(&mut |mut event| {
        legal += 1;
        event.at = micros(event.at);
        write_line(out, &Line::Legal { event })
    })
    .await?;
    n.legal = legal;
    write_line(
        out,
        &Line::End {
            messages: n.messages,
            records: n.records,
            legal: n.legal,
        },
    )?;
    out.flush().map_err(|source| Error::Io {
        path: "export".into(),
        source,
    })?;
    Ok(n)
}

/// A problem with an export file, by line number (from 1).
fn bad(line: usize, reason: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        what: "export line",
        id: line as u64,
        reason: reason.to_string(),
    }
}

/// Reads every line of an export (for checking, then for importing).
fn lines(input: &mut dyn BufRead) -> impl Iterator<Item = (usize, Result<Line>)> + '_ {
    input.lines().enumerate().map(|(i, l)| {
        let n = i + 1;
        let r = l
            .map_err(|e| bad(n, e))
            .and_then(|l| serde_json::from_str::<Line>(&l).map_err(|e| bad(n, e)));
        (n, r)
    })
}

/// Checks an export without writing anything: the header first, every line readable, the
/// end line last with the counts of what came before it.
pub fn check(input: &mut dyn BufRead) -> Result<Counts> {
    let mut n = Counts::default();
    let mut ended = false;
    let mut last = 0;
    for (i, line) in lines(input) {
        last = i;
        let line = line?;
        if ended {
            return Err(bad(i, "a line after the end line"));
        }
        match line {
            Line::Header {
                format, version, ..
            } => {
                if i != 1 {
                    return Err(bad(i, "a header line that is not the first"));
                }
                if format != FORMAT || !(OLDEST_VERSION..=VERSION).contains(&version) {
                    return Err(bad(
                        i,
                        format!(
                            "format {format} version {version}; this ponte reads {FORMAT} versions {OLDEST_VERSION} to {VERSION}"
                        ),
                    ));
                }
            }
            _ if i == 1 => return Err(bad(1, "the first line is not the header")),
            Line::Message(d) => {
                if let Some(s) = d
                    .services
                    .iter()
                    .find(|s| !d.deliveries.iter().any(|dl| dl.id == s.delivery))
                {
                    return Err(bad(
                        i,
                        format!(
                            "message {}: a delivered service names delivery {}, not one of its deliveries",
                            d.message.id, s.delivery
                        ),
                    ));
                }
                n.messages += 1
            }
            Line::Record { .. } => n.records += 1,
            Line::Legal { .. } => n.legal += 1,
            Line::End {
                messages,
                records,
                legal,
            } => {
                let want = Counts {
                    messages,
                    records,
                    legal,
                };
                if want != n {
                    return Err(bad(
                        i,
                        format!(
                            "the end line counts {messages} messages, {records} records, {legal} legal events; the file has {}, {}, {}",
                            n.messages, n.records, n.legal
                        ),
                    ));
                }
                ended = true;
            }
        }
    }
    if !ended {
        return Err(bad(
            last + 1,
            "no end line: the file is cut short (an export interrupted?)",
        ));
    }
    Ok(n)
}

/// Imports an export into `dst`, which must hold no message. `open` gives the file from its
/// start (it is read twice: checked whole, then imported).
pub async fn import(
    dst: &dyn Portable,
    open: &dyn Fn() -> std::io::Result<Box<dyn BufRead + Send>>,
) -> Result<Counts> {
    let io = |source| Error::Io {
        path: "import".into(),
        source,
    };
    let want = check(&mut *open().map_err(io)?)?;
    let have = dst.count_messages().await?;
    if have > 0 {
        return Err(Error::WrongState {
            what: "spool",
            id: have,
            state: format!("holding {have} messages"),
            action: "import (into an empty spool only)",
        });
    }
    let mut n = Counts::default();
    let mut records = Vec::new();
    let mut legal = Vec::new();
    let mut input = open().map_err(io)?;
    for (_, line) in lines(&mut *input) {
        match line? {
            Line::Message(d) => {
                dst.restore(*d).await?;
                n.messages += 1;
            }
            Line::Record { record } => {
                records.push(*record);
                if records.len() >= 512 {
                    n.records += records.len() as u64;
                    dst.restore_records(std::mem::take(&mut records)).await?;
                }
            }
            Line::Legal { event } => {
                legal.push(event);
                if legal.len() >= 1024 {
                    n.legal += legal.len() as u64;
                    dst.restore_legal(std::mem::take(&mut legal)).await?;
                }
            }
            Line::Header { .. } | Line::End { .. } => {}
        }
    }
    n.records += records.len() as u64;
    dst.restore_records(records).await?;
    n.legal += legal.len() as u64;
    dst.restore_legal(legal).await?;
    dst.restored().await?;
    if n != want {
        return Err(Error::Database(format!(
            "imported {n:?}, the file holds {want:?} (it changed while being imported?)"
        )));
    }
    Ok(n)
}

mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

mod b64_list {
    use base64::Engine;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(&base64::engine::general_purpose::STANDARD.encode(b))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| {
                base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_or_reordered_file_is_refused_before_anything_is_written() {
        let header = serde_json::to_string(&Line::Header {
            format: FORMAT.into(),
            version: VERSION,
            exported_at: time::macros::datetime!(2026-12-06 12:00 UTC),
            source: "test".into(),
        })
        .unwrap_or_default();
        let end0 = r#"{"type":"end","messages":0,"records":0,"legal":0}"#;
        let end1 = r#"{"type":"end","messages":0,"records":0,"legal":1}"#;
        let legal = r#"{"type":"legal","event":{"at":"2026-12-06T12:00:00Z","event":"refused","outcome":"554"}}"#;
        let ok = format!("{header}\n{legal}\n{end1}\n");
        assert_eq!(
            check(&mut ok.as_bytes()).ok(),
            Some(Counts {
                messages: 0,
                records: 0,
                legal: 1
            })
        );
        // A version 1 file (no delivered services) is still read.
        let v1 = header.replace("\"version\":2", "\"version\":1");
        assert_ne!(v1, header);
        assert!(check(&mut format!("{v1}\n{legal}\n{end1}\n").as_bytes()).is_ok());
        for bad in [
            format!("{header}\n{legal}\n"),         // cut: no end line
            format!("{header}\n{legal}\n{end0}\n"), // counts differ
            format!("{legal}\n{header}\n{end1}\n"), // header not first
            format!("{header}\n{end1}\n{legal}\n"), // a line after the end
            format!("{header}\nnot json\n{end0}\n"),
            header.replace("\"version\":2", "\"version\":9") + "\n" + end0 + "\n",
        ] {
            assert!(
                matches!(check(&mut bad.as_bytes()), Err(Error::Corrupt { .. })),
                "{bad}"
            );
        }
    }
}
