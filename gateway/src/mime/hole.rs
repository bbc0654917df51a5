//! Large bodies left on disk while a message is translated (the streaming path of
//! `ponte translate`, [`crate::translate::stream`]).
//!
//! A message read from a file is held in memory *hollowed*: the body of each large leaf of a
//! carried message (a `message/rfc822` part: the attachments of the user's message) is
//! replaced by a mark, 40 ASCII characters made of a random nonce (per message) and the
//! hole's number. Nothing of the translation decodes those bodies: the parsers see the mark
//! in their place and give the answers they give on the whole message (the structure, the
//! headers, the small parts are unchanged; offsets shift, and nothing outside the hole
//! depends on them). What reads the *content* of a body — every digest (the S/MIME content
//! digest of the input and of the output, the REM digest of the original, the seeds of
//! boundaries) and every boundary-absence check — goes through [`update`], [`contains`] and
//! [`write_expanded`], which read a mark's bytes back from the file, chunk by chunk. So the
//! signatures are verified and made over the real bytes, and the output (written with
//! [`write_expanded`]) is byte for byte what the in-memory path writes.
//!
//! The file must not change while this happens: each hole's SHA-256 is taken when the
//! message is hollowed ([`Holes::hollow`]), and every later read of a hole digests it again
//! and compares; a difference (or a read error) is kept ([`Holes::trouble`]) and the caller
//! refuses its output.
//!
//! The marks of live [`Holes`] are registered in a process-wide list (empty outside the
//! streaming path: the checks then cost one atomic load).

use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::scan::{self, Body, Structure};
use super::source::{FileSource, Pieces, Segment, Sink, Source};

/// Leaves with bodies at least this long become holes.
pub const HOLE_MIN: usize = 64 << 10;

/// Bytes of real content kept at each end of a hole (so that every window a boundary check
/// takes around a piece's edge is real bytes, and a hole starts and ends on a line).
const MARGIN: usize = 1024;

const NONCE_HEX: usize = 32;
const INDEX_HEX: usize = 8;
/// The length of a mark.
pub const MARK_LEN: usize = NONCE_HEX + INDEX_HEX;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static REGISTRY: RwLock<Vec<Arc<Holes>>> = RwLock::new(Vec::new());

/// Why a file cannot be hollowed, or why what was read from it cannot be trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the file failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file changed (or could not be read again) between two reads of a hole.
    #[error("the input changed while it was translated: {0}")]
    Changed(String),
}

/// One hole: where its bytes are in the file and their SHA-256 when first read.
#[derive(Debug, Clone)]
struct Hole {
    range: Range<usize>,
    digest: [u8; 32],
}

/// The holes of one message read from a file.
#[derive(Debug)]
pub struct Holes {
    file: FileSource,
    nonce: [u8; NONCE_HEX],
    holes: Vec<Hole>,
    trouble: Mutex<Option<String>>,
}

/// A message hollowed from a file ([`Holes::hollow`]).
#[derive(Debug)]
pub struct Hollowed {
    /// The message with each hole's bytes replaced by its mark.
    pub bytes: Vec<u8>,
    /// The holes (registered while this lives).
    pub holes: Registered,
    /// The length of the file.
    pub file_len: usize,
}

/// [`Holes`] registered for [`update`], [`contains`] and [`write_expanded`]; unregistered
/// when dropped.
#[derive(Debug)]
pub struct Registered(Arc<Holes>);

impl std::ops::Deref for Registered {
    type Target = Holes;
    fn deref(&self) -> &Holes {
        &self.0
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut list) = REGISTRY.write() {
            let before = list.len();
            list.retain(|h| !Arc::ptr_eq(h, &self.0));
            LIVE.fetch_sub(before - list.len(), Ordering::SeqCst);
        }
    }
}

/// What [`Holes::hollow`] decides about a file.
#[derive(Debug)]
pub enum Hollow {
    /// Hollowed.
    Done(Hollowed),
    /// Not worth it or not possible (the reason): read it whole instead.
    Whole(&'static str),
}

fn lower_hex(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        if let Some(o) = out.get_mut(2 * i) {
            *o = HEX[usize::from(b >> 4)];
        }
        if let Some(o) = out.get_mut(2 * i + 1) {
            *o = HEX[usize::from(b & 15)];
        }
    }
}

impl Holes {
    /// Reads `path` in chunks and hollows it: its MIME structure is scanned, and each leaf
    /// body of at least [`HOLE_MIN`] bytes inside a `message/rfc822` part becomes a hole
    /// (bytes from a line start to a line end, `MARGIN` (1 KiB) bytes in from the body's ends).
    /// [`Hollow::Whole`] when the file has a bare LF (the translation would convert it), the
    /// scanner declines it, or nothing is large enough.
    pub fn hollow(path: &Path) -> Result<Hollow, Error> {
        let file = FileSource::open(path)?;
        let len = file.len();
        let structure = match scan::scan(&file) {
            Ok(s) => s,
            Err(u) => {
                if let Some(e) = u.io {
                    return Err(e.into());
                }
                return Ok(Hollow::Whole(
                    "the MIME structure is left to the full parser",
                ));
            }
        };
        let mut ranges = Vec::new();
        for leaf in carried_leaves(&structure) {
            let body = leaf.body_range();
            if body.len() < HOLE_MIN.max(4 * MARGIN) {
                continue;
            }
            if let Some(r) = line_range(&file, body.start + MARGIN, body.end - MARGIN)?
                && r.len() >= MARK_LEN * 4
            {
                ranges.push(r);
            }
        }
        if ranges.is_empty() {
            return Ok(Hollow::Whole("no large part in a carried message"));
        }
        ranges.sort_by_key(|r| r.start);
        // One pass over the file: no bare LF anywhere, and each hole's digest.
        let mut ctxs: Vec<ring::digest::Context> = ranges
            .iter()
            .map(|_| ring::digest::Context::new(&ring::digest::SHA256))
            .collect();
        let mut at = 0usize;
        let mut prev = 0u8;
        let mut bare = false;
        file.for_each_chunk(0..len, &mut |c| {
            if !bare {
                for j in memchr::memchr_iter(b'\n', c) {
                    let before = if j == 0 {
                        prev
                    } else {
                        c.get(j - 1).copied().unwrap_or(0)
                    };
                    if before != b'\r' {
                        bare = true;
                        break;
                    }
                }
            }
            let end = at + c.len();
            for (r, ctx) in ranges.iter().zip(ctxs.iter_mut()) {
                let s = r.start.max(at);
                let e = r.end.min(end);
                if s < e
                    && let Some(part) = c.get(s - at..e - at)
                {
                    ctx.update(part);
                }
            }
            prev = c.last().copied().unwrap_or(prev);
            at = end;
            Ok(())
        })?;
        if bare {
            return Ok(Hollow::Whole("the message has LF line endings"));
        }
        let mut random = [0u8; NONCE_HEX / 2];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
            .map_err(|_| io::Error::other("no random bytes for the hole marks"))?;
        let mut nonce = [0u8; NONCE_HEX];
        lower_hex(&random, &mut nonce);
        let holes: Vec<Hole> = ranges
            .into_iter()
            .zip(ctxs)
            .map(|(range, ctx)| {
                let mut digest = [0u8; 32];
                digest.copy_from_slice(ctx.finish().as_ref());
                Hole { range, digest }
            })
            .collect();
        let holes = Holes {
            file,
            nonce,
            holes,
            trouble: Mutex::new(None),
        };
        // The hollowed bytes: what lies between the holes, and the marks.
        let kept = len - holes.holes.iter().map(|h| h.range.len()).sum::<usize>();
        let mut bytes = Vec::with_capacity(kept + holes.holes.len() * MARK_LEN);
        let mut from = 0usize;
        for (i, h) in holes.holes.iter().enumerate() {
            holes
                .file
                .for_each_chunk(from..h.range.start, &mut |c| bytes.put(c))?;
            bytes.extend_from_slice(&holes.mark(i));
            from = h.range.end;
        }
        holes
            .file
            .for_each_chunk(from..len, &mut |c| bytes.put(c))?;
        let holes = Arc::new(holes);
        if let Ok(mut list) = REGISTRY.write() {
            list.push(Arc::clone(&holes));
            LIVE.fetch_add(1, Ordering::SeqCst);
        } else {
            return Err(io::Error::other("the hole registry is poisoned").into());
        }
        Ok(Hollow::Done(Hollowed {
            bytes,
            holes: Registered(holes),
            file_len: len,
        }))
    }

    fn mark(&self, i: usize) -> [u8; MARK_LEN] {
        let mut m = [0u8; MARK_LEN];
        m[..NONCE_HEX].copy_from_slice(&self.nonce);
        let idx = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
        lower_hex(&idx, &mut m[NONCE_HEX..]);
        m
    }

    /// The bytes taken out of the message.
    pub fn hollowed_len(&self) -> usize {
        self.holes.iter().map(|h| h.range.len()).sum()
    }

    /// The number of holes.
    pub fn count(&self) -> usize {
        self.holes.len()
    }

    /// What went wrong in a read of a hole since the message was hollowed (the file changed,
    /// or could not be read): the output must then be refused.
    pub fn trouble(&self) -> Option<String> {
        self.trouble.lock().ok().and_then(|t| t.clone())
    }

    fn note(&self, why: String) {
        if let Ok(mut t) = self.trouble.lock()
            && t.is_none()
        {
            *t = Some(why);
        }
    }

    /// `bytes` as segments: the text between marks, and the holes as ranges of the file.
    fn segments<'b>(&self, bytes: &'b [u8]) -> Option<Vec<Segment<'b>>> {
        let finder = memchr::memmem::Finder::new(&self.nonce);
        let mut segs = Vec::new();
        let mut from = 0usize;
        let mut search = 0usize;
        while let Some(i) = bytes.get(search..).and_then(|h| finder.find(h)) {
            let at = search + i;
            let idx = bytes
                .get(at + NONCE_HEX..at + MARK_LEN)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| usize::from_str_radix(h, 16).ok())
                .and_then(|n| self.holes.get(n).map(|h| (n, h)));
            match idx {
                Some((_, h)) => {
                    segs.push(Segment::borrowed(bytes.get(from..at).unwrap_or_default()));
                    segs.push(Segment::Input(h.range.clone()));
                    from = at + MARK_LEN;
                    search = from;
                }
                None => search = at + 1,
            }
        }
        if segs.is_empty() {
            return None;
        }
        segs.push(Segment::borrowed(bytes.get(from..).unwrap_or_default()));
        Some(segs)
    }
}

/// The file, each hole digested again when read whole and compared with its first digest.
struct Checked<'h>(&'h Holes);

impl Source for Checked<'_> {
    fn len(&self) -> usize {
        self.0.file.len()
    }
    fn bytes(&self, range: Range<usize>) -> io::Result<std::borrow::Cow<'_, [u8]>> {
        self.0.file.bytes(range)
    }
    fn for_each_chunk(
        &self,
        range: Range<usize>,
        f: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let hole = self.0.holes.iter().find(|h| h.range == range);
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let read = self.0.file.for_each_chunk(range.clone(), &mut |c| {
            if hole.is_some() {
                ctx.update(c);
            }
            f(c)
        });
        if let Err(e) = read {
            self.0.note(format!(
                "bytes {}..{} could not be read again: {e}",
                range.start, range.end
            ));
            return Err(e);
        }
        if let Some(h) = hole
            && ctx.finish().as_ref() != h.digest
        {
            let why = format!(
                "the SHA-256 of bytes {}..{} differs from when they were first read",
                range.start, range.end
            );
            self.0.note(why.clone());
            return Err(io::Error::other(why));
        }
        Ok(())
    }
    fn find(&self, needle: &[u8], from: usize) -> io::Result<Option<usize>> {
        self.0.file.find(needle, from)
    }
}

/// The live holes whose marks `bytes` holds, with its segments.
fn live_in(bytes: &[u8]) -> Option<(Arc<Holes>, Vec<Segment<'_>>)> {
    if LIVE.load(Ordering::SeqCst) == 0 || bytes.len() < MARK_LEN {
        return None;
    }
    let list = REGISTRY.read().ok()?;
    list.iter()
        .find_map(|h| h.segments(bytes).map(|s| (Arc::clone(h), s)))
}

/// Calls `f` on `bytes`, every mark of a live hole read back from its file.
fn expand(bytes: &[u8], f: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
    match live_in(bytes) {
        None => f(bytes),
        Some((holes, segs)) => Pieces {
            source: &Checked(&holes),
            segments: &segs,
        }
        .for_each_chunk(f),
    }
}

/// `ctx.update(bytes)`, with the bytes of the holes `bytes` marks (a failed read is kept in
/// the holes' [`Holes::trouble`]).
pub fn update(ctx: &mut ring::digest::Context, bytes: &[u8]) {
    let _ = expand(bytes, &mut |c| {
        ctx.update(c);
        Ok(())
    });
}

/// The digest of `bytes` with `alg`, holes expanded ([`update`]).
pub fn digest(alg: &'static ring::digest::Algorithm, bytes: &[u8]) -> ring::digest::Digest {
    if live_in(bytes).is_none() {
        return ring::digest::digest(alg, bytes);
    }
    let mut ctx = ring::digest::Context::new(alg);
    update(&mut ctx, bytes);
    ctx.finish()
}

/// Whether `needle` occurs in `hay`, holes expanded (a failed read answers `true`: the
/// caller's output is refused anyway, [`Holes::trouble`]).
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return false;
    }
    match live_in(hay) {
        None => memchr::memmem::find(hay, needle).is_some(),
        Some((holes, segs)) => Pieces {
            source: &Checked(&holes),
            segments: &segs,
        }
        .contains(needle)
        .unwrap_or(true),
    }
}

/// Writes `bytes` to `sink`, holes expanded; fails when a hole's bytes are not those first
/// read ([`Error::Changed`]) or cannot be read.
pub fn write_expanded(bytes: &[u8], sink: &mut dyn Sink) -> Result<(), Error> {
    let holes = live_in(bytes).map(|(h, _)| h);
    let r = expand(bytes, &mut |c| sink.put(c));
    if let Some(why) = holes.as_ref().and_then(|h| h.trouble()) {
        return Err(Error::Changed(why));
    }
    Ok(r?)
}

/// The leaves inside a `message/rfc822` part (the carried messages' parts), largest first;
/// never a part a translation decodes (`daticert.xml`, `smime.p7s`, a PKCS #7 part).
fn carried_leaves(s: &Structure) -> Vec<&scan::Part> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, bool)> = vec![(0, false)];
    let mut seen = 0usize;
    while let Some((i, inside)) = stack.pop() {
        seen += 1;
        if seen > s.parts.len() {
            break;
        }
        let Some(p) = s.part(i) else { continue };
        match &p.body {
            Body::Multipart(kids) => stack.extend(kids.iter().map(|k| (*k, inside))),
            Body::Message(root) => stack.push((*root, true)),
            Body::Leaf(_) => {
                let name = p
                    .head
                    .attachment_name()
                    .map(str::to_ascii_lowercase)
                    .unwrap_or_default();
                let media = p.media_type();
                if inside
                    && name != "daticert.xml"
                    && name != "smime.p7s"
                    && !media.contains("pkcs7")
                {
                    out.push(p);
                }
            }
        }
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.body_range().len()));
    out
}

use mail_parser::MimeHeaders;

/// The largest `a..b` within `start..end` with `a` just after a CRLF and `b` at the CR of a
/// CRLF (`None` when the region has no two line breaks near its ends).
fn line_range(file: &FileSource, start: usize, end: usize) -> io::Result<Option<Range<usize>>> {
    if end <= start {
        return Ok(None);
    }
    let probe = MARGIN.min(end - start);
    let head = file.bytes(start..start + probe)?;
    let Some(a) = memchr::memmem::find(&head, b"\r\n").map(|i| start + i + 2) else {
        return Ok(None);
    };
    let tail = file.bytes(end - probe..end)?;
    let Some(b) = memchr::memmem::rfind(&tail, b"\r\n").map(|i| end - probe + i) else {
        return Ok(None);
    };
    Ok((a < b).then_some(a..b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message carrying a message whose attachment has `lines` base64 lines.
    fn message(lines: usize, eol: &str) -> Vec<u8> {
        let mut m = format!(
            "From: a@b.test{eol}Content-Type: multipart/mixed; boundary=\"o\"{eol}{eol}--o{eol}Content-Type: text/plain{eol}{eol}hello{eol}--o{eol}Content-Type: message/rfc822; name=postacert.eml{eol}{eol}From: c@d.test{eol}Message-ID: <x@d.test>{eol}Content-Type: multipart/mixed; boundary=\"i\"{eol}{eol}--i{eol}Content-Type: application/octet-stream{eol}Content-Transfer-Encoding: base64{eol}{eol}"
        )
        .into_bytes();
        for n in 0..lines {
            m.extend_from_slice(format!("QUJD{n:072}{eol}").as_bytes());
        }
        m.extend_from_slice(format!("--i--{eol}{eol}--o--{eol}").as_bytes());
        m
    }

    fn hollowed(path: &Path) -> Hollowed {
        match Holes::hollow(path) {
            Ok(Hollow::Done(h)) => h,
            Ok(Hollow::Whole(why)) => panic!("whole: {why}"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_attachment_stays_in_the_file_and_reads_back_as_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.eml");
        let raw = message(20_000, "\r\n");
        std::fs::write(&path, &raw).expect("write");
        let h = hollowed(&path);
        assert_eq!(h.holes.count(), 1);
        assert!(h.holes.hollowed_len() > raw.len() - 8 * MARGIN);
        assert!(h.bytes.len() < 4 * MARGIN + 1024, "{}", h.bytes.len());
        // Digests, search and writing see the file's bytes.
        assert_eq!(
            digest(&ring::digest::SHA256, &h.bytes).as_ref(),
            ring::digest::digest(&ring::digest::SHA256, &raw).as_ref()
        );
        let needle = format!("QUJD{:072}\r\n", 10_000);
        assert!(contains(&h.bytes, needle.as_bytes()));
        assert!(!contains(&h.bytes, b"QUJD-not-there"));
        let mut out = Vec::new();
        write_expanded(&h.bytes, &mut out).expect("write");
        assert!(out == raw);
        assert!(h.holes.trouble().is_none());
        // Unregistered once dropped: the mark is then just text.
        let bytes = h.bytes.clone();
        drop(h);
        let mut out = Vec::new();
        write_expanded(&bytes, &mut out).expect("write");
        assert_eq!(out, bytes);
    }

    #[test]
    fn a_file_changed_after_hollowing_is_caught_with_the_bytes_that_differ() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.eml");
        let mut raw = message(20_000, "\r\n");
        std::fs::write(&path, &raw).expect("write");
        let h = hollowed(&path);
        let mid = raw.len() / 2;
        raw[mid] = if raw[mid] == b'0' { b'1' } else { b'0' };
        std::fs::write(&path, &raw).expect("rewrite");
        let mut out = Vec::new();
        match write_expanded(&h.bytes, &mut out) {
            Err(Error::Changed(why)) => {
                assert!(
                    why.contains("differs from when they were first read"),
                    "{why}"
                );
            }
            other => panic!("not refused: {other:?}"),
        }
        assert!(h.holes.trouble().is_some());
    }

    #[test]
    fn lf_small_or_uncarried_messages_are_read_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.eml");
        // One bare LF (in the envelope's text) is enough: the translation would convert.
        let mut one_lf = message(20_000, "\r\n");
        let at = memchr::memmem::find(&one_lf, b"hello\r\n").expect("hello");
        one_lf.remove(at + 5);
        for (raw, why) in [
            (one_lf, "LF"),
            (message(20_000, "\n"), "no large part"),
            (message(10, "\r\n"), "no large part"),
        ] {
            std::fs::write(&path, &raw).expect("write");
            match Holes::hollow(&path) {
                Ok(Hollow::Whole(w)) => assert!(w.contains(why), "{w}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        // A large leaf outside any message/rfc822 (the envelope's own text) stays.
        let mut top = b"From: a@b.test\r\nContent-Type: text/plain\r\n\r\n".to_vec();
        for _ in 0..20_000 {
            top.extend_from_slice(b"testo testo testo testo testo testo testo testo\r\n");
        }
        std::fs::write(&path, &top).expect("write");
        assert!(matches!(Holes::hollow(&path), Ok(Hollow::Whole(_))));
    }
}
