//! The file store: JSON Lines, one [`Record`] per line, appended.
//!
//! **Writers.** The file is opened in append mode (`O_APPEND`): every write lands at the end
//! of the file, whatever other handles and processes wrote before. Each record is serialised
//! with its final `\n` into one buffer and handed to the OS in one `write` call, then
//! `fdatasync`ed before [`Store::record`] returns (a newly created file also has its folder
//! synced, so that the file itself survives a crash). Inside one process a `Mutex` serialises the
//! writers of one `FileStore`. Across processes (or several `FileStore`s on one file), the
//! single append per line is what keeps lines whole: on local POSIX file systems an `O_APPEND`
//! write of a regular file is not interleaved with other writes. It is **not** safe on NFS,
//! whose appends are not atomic; keep the store on a local disk.
//!
//! **Crashes.** A writer that dies inside `write` may leave a torn last line (no final `\n`).
//! Before each append the store looks at the last byte of the file and, when it is not `\n`,
//! starts its buffer with one, so the torn fragment stays a line of its own instead of
//! swallowing the next record. (When another handle's append is in flight at that moment,
//! the last byte may look torn although the line completes: the price is an empty line,
//! which readers skip.) Readers skip torn and malformed lines and report them in
//! [`Scan::skipped`] (and in the log); they are never fatal.
//!
//! **Reading.** [`FileStore::scan`] reads the whole file; [`Store::find`] scans it. This is
//! linear in the file's size: enough for a CLI and tests, not for years of traffic (the
//! gateway's spool will index the identifiers).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Error, Record, Store};

/// A JSON Lines correlation store (see the module documentation for the guarantees).
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    file: Mutex<File>,
}

/// A line of the file that was not a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedLine {
    /// The 1-based line number.
    pub line: usize,
    /// Whether it is the last line and has no final `\n` (a write cut short, or one still in
    /// progress in another process).
    pub torn: bool,
    /// Why it was skipped.
    pub reason: String,
}

/// Everything read from a store file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// The records, in file order (oldest first).
    pub records: Vec<Record>,
    /// The lines that were not records (empty lines are not counted).
    pub skipped: Vec<SkippedLine>,
}

impl FileStore {
    /// Opens (creating when missing) the store at `path`. The folder must exist.
    pub fn open(path: &Path) -> Result<FileStore, Error> {
        let created = !path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if created {
            sync_parent(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Ok(FileStore {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Whether the file is non-empty and its last byte is not `\n`.
    fn ends_torn(file: &mut File) -> std::io::Result<bool> {
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(false);
        }
        file.seek(SeekFrom::Start(len - 1))?;
        let mut last = [0u8; 1];
        file.read_exact(&mut last)?;
        Ok(last[0] != b'\n')
    }

    /// Reads every record; torn and malformed lines are skipped and listed.
    pub fn scan(&self) -> Result<Scan, Error> {
        let bytes = std::fs::read(&self.path).map_err(|e| self.io(e))?;
        Ok(parse_lines(&bytes))
    }
}

/// Makes a newly created file's directory entry durable (POSIX: fsync the folder). Elsewhere
/// folders cannot be opened for syncing, and this is a no-op.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Parses JSON Lines bytes into records and skipped lines.
pub(crate) fn parse_lines(bytes: &[u8]) -> Scan {
    let mut scan = Scan::default();
    let ends_with_newline = bytes.last() == Some(&b'\n');
    let mut lines = bytes.split(|b| *b == b'\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let last = lines.peek().is_none();
        if last && ends_with_newline {
            break; // the empty remainder after the final '\n'
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(r) => scan.records.push(r),
            Err(e) => scan.skipped.push(SkippedLine {
                line: i + 1,
                torn: last,
                reason: e.to_string(),
            }),
        }
    }
    scan
}

impl Store for FileStore {
    fn record(&self, r: &Record) -> Result<(), Error> {
        r.validate()?;
        let json = serde_json::to_vec(r).map_err(|e| Error::Serialize(e.to_string()))?;
        let mut buf = Vec::with_capacity(json.len() + 2);
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if FileStore::ends_torn(&mut file).map_err(|e| self.io(e))? {
            buf.push(b'\n');
        }
        buf.extend_from_slice(&json);
        buf.push(b'\n');
        // One write call: with O_APPEND the whole line lands at the end of the file.
        file.write_all(&buf).map_err(|e| self.io(e))?;
        file.sync_data().map_err(|e| self.io(e))
    }

    fn find(&self, id: &str) -> Result<Vec<Record>, Error> {
        let scan = self.scan()?;
        for s in &scan.skipped {
            tracing::warn!(
                store = %self.path.display(),
                line = s.line,
                torn = s.torn,
                "correlation line skipped: {}",
                s.reason
            );
        }
        Ok(scan.records.into_iter().filter(|r| r.matches(id)).collect())
    }
}
