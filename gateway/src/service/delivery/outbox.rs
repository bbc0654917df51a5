//! The outbox: a folder where messages are written instead of sent (`[delivery] outbox`;
//! `ponte serve --dev` uses `DIR/outbox/`).
//!
//! Each delivery becomes `OUTBOX/<unix-time>-<delivery id>.eml`, exactly the output's bytes.
//! The file appears whole or not at all: it is written as `.<name>.tmp`, synced, renamed into
//! place and the folder synced, and only then is the delivery recorded as delivered. A crash
//! between the rename and the record writes the message again on restart under a new name
//! (at least once, as towards an SMTP peer).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `body` as the outbox file of delivery `id` at `unix_time`; returns its path.
pub fn write(dir: &Path, unix_time: i64, id: u64, body: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = format!("{unix_time}-{id}.eml");
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(&name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_the_body_and_no_temporary_is_left() {
        let dir = std::env::temp_dir().join(format!("ponte-outbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let body = b"Subject: x\r\n\r\nbody\r\n";
        let p = write(&dir.join("out"), 1_700_000_000, 42, body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p.file_name().and_then(|n| n.to_str()),
            Some("1700000000-42.eml")
        );
        assert_eq!(std::fs::read(&p).ok().as_deref(), Some(&body[..]));
        let names: Vec<_> = std::fs::read_dir(dir.join("out"))
            .map(|r| r.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(names.len(), 1, "{names:?}");
        // A folder that cannot be made is an error, not a panic.
        std::fs::write(dir.join("file"), "").unwrap_or_else(|e| panic!("{e}"));
        assert!(write(&dir.join("file/sub"), 1, 1, body).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
