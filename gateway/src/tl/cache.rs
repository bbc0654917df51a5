//! The disk cache of accepted lists: the exact bytes of the last copy of each source that was
//! accepted, and when it was fetched. A copy is written only after it was judged (a refused
//! list never replaces a good one); it is judged again whenever it is read back.
//!
//! Layout: `DIR/<key>.xml` (the bytes) and `DIR/<key>.json` (`source`, `fetched_at`), where
//! `key` is the SHA-256 of the source string in hex (first 32 digits). Files are written to a
//! temporary name, synced, then renamed into place.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Error;
use crate::crypto::{DigestAlgorithm, digest};

/// The cache folder.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

/// A cached copy.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The bytes as fetched.
    pub bytes: Vec<u8>,
    /// When they were fetched.
    pub fetched_at: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    source: String,
    fetched_at: String,
}

fn cache_err(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Cache {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl Cache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Cache { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn key(source: &str) -> String {
        digest(DigestAlgorithm::Sha256, source.as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The cached copy of `source`, if any.
    pub fn get(&self, source: &str) -> Result<Option<Entry>, Error> {
        let key = Self::key(source);
        let xml = self.dir.join(format!("{key}.xml"));
        let meta = self.dir.join(format!("{key}.json"));
        let bytes = match std::fs::read(&xml) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(cache_err(&xml, e)),
        };
        let m: Meta =
            serde_json::from_slice(&std::fs::read(&meta).map_err(|e| cache_err(&meta, e))?)
                .map_err(|e| cache_err(&meta, e))?;
        if m.source != source {
            return Err(cache_err(
                &meta,
                format!("records {:?}, not {source:?}", m.source),
            ));
        }
        let fetched_at =
            OffsetDateTime::parse(&m.fetched_at, &Rfc3339).map_err(|e| cache_err(&meta, e))?;
        Ok(Some(Entry { bytes, fetched_at }))
    }

    /// Stores `bytes` as the accepted copy of `source`, fetched at `fetched_at`.
    pub fn put(&self, source: &str, bytes: &[u8], fetched_at: OffsetDateTime) -> Result<(), Error> {
        std::fs::create_dir_all(&self.dir).map_err(|e| cache_err(&self.dir, e))?;
        let key = Self::key(source);
        let meta = Meta {
            source: source.to_owned(),
            fetched_at: fetched_at
                .format(&Rfc3339)
                .map_err(|e| cache_err(&self.dir, e))?,
        };
        let meta_bytes = serde_json::to_vec(&meta).map_err(|e| cache_err(&self.dir, e))?;
        write_atomic(&self.dir.join(format!("{key}.xml")), bytes)?;
        write_atomic(&self.dir.join(format!("{key}.json")), &meta_bytes)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| cache_err(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| cache_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| cache_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_absent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Cache::new(dir.path().join("c"));
        assert!(c.get("https://x/tl.xml").expect("read").is_none());
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("t");
        c.put("https://x/tl.xml", b"<a/>", t).expect("put");
        let e = c.get("https://x/tl.xml").expect("read").expect("entry");
        assert_eq!((e.bytes.as_slice(), e.fetched_at), (&b"<a/>"[..], t));
        assert!(c.get("https://x/other.xml").expect("read").is_none());
    }
}
