//! Where message bytes come from: a slice in memory ([`Bytes`]) or a file read in chunks
//! ([`FileSource`]), behind one trait ([`Source`]) so that the structure scanner
//! ([`super::scan`]), the digests and the writers work on a 100 MB message without holding it
//! (the streaming path) and on a slice without copying it (the in-memory path).

use std::borrow::Cow;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::sync::Mutex;

/// A read-only byte sequence of known length.
pub trait Source: Sync {
    /// The length in bytes.
    fn len(&self) -> usize;
    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The bytes of `range` (clamped to the source): borrowed from a slice, read from a
    /// file (callers keep ranges small, or use [`Source::for_each_chunk`]).
    fn bytes(&self, range: Range<usize>) -> io::Result<Cow<'_, [u8]>>;
    /// Calls `f` on consecutive chunks covering `range` (in order, each non-empty).
    fn for_each_chunk(
        &self,
        range: Range<usize>,
        f: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()>;
    /// The first position `>= from` where `needle` starts.
    fn find(&self, needle: &[u8], from: usize) -> io::Result<Option<usize>>;
    /// The byte at `i`.
    fn byte(&self, i: usize) -> io::Result<Option<u8>> {
        Ok(self.bytes(i..i.saturating_add(1))?.first().copied())
    }
    /// The whole source as one slice, when it is one (memory).
    fn as_slice(&self) -> Option<&[u8]> {
        None
    }
}

/// A slice.
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a>(pub &'a [u8]);

fn clamp(range: &Range<usize>, len: usize) -> Range<usize> {
    let end = range.end.min(len);
    range.start.min(end)..end
}

impl Source for Bytes<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn bytes(&self, range: Range<usize>) -> io::Result<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(
            self.0.get(clamp(&range, self.0.len())).unwrap_or_default(),
        ))
    }
    fn for_each_chunk(
        &self,
        range: Range<usize>,
        f: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        match self.0.get(clamp(&range, self.0.len())) {
            Some(s) if !s.is_empty() => f(s),
            _ => Ok(()),
        }
    }
    fn find(&self, needle: &[u8], from: usize) -> io::Result<Option<usize>> {
        Ok(self
            .0
            .get(from..)
            .and_then(|h| memchr::memmem::find(h, needle))
            .map(|i| i + from))
    }
    fn as_slice(&self) -> Option<&[u8]> {
        Some(self.0)
    }
}

/// How much a [`FileSource`] reads at once.
pub const CHUNK: usize = 1 << 20;

/// A file read on demand, [`CHUNK`] bytes at a time (memory stays bounded whatever its size).
#[derive(Debug)]
pub struct FileSource {
    file: Mutex<std::fs::File>,
    len: usize,
}

impl FileSource {
    /// Opens `path` for reading.
    pub fn open(path: &std::path::Path) -> io::Result<FileSource> {
        FileSource::new(std::fs::File::open(path)?)
    }

    /// Reads from an open file (its length taken now; it must not change while read).
    pub fn new(file: std::fs::File) -> io::Result<FileSource> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large"))?;
        Ok(FileSource {
            file: Mutex::new(file),
            len,
        })
    }

    fn read_into(&self, start: usize, buf: &mut [u8]) -> io::Result<()> {
        let mut f = self
            .file
            .lock()
            .map_err(|_| io::Error::other("file source poisoned"))?;
        f.seek(SeekFrom::Start(start as u64))?;
        f.read_exact(buf)
    }
}

impl Source for FileSource {
    fn len(&self) -> usize {
        self.len
    }
    fn bytes(&self, range: Range<usize>) -> io::Result<Cow<'_, [u8]>> {
        let r = clamp(&range, self.len);
        let mut buf = vec![0u8; r.len()];
        if !buf.is_empty() {
            self.read_into(r.start, &mut buf)?;
        }
        Ok(Cow::Owned(buf))
    }
    fn for_each_chunk(
        &self,
        range: Range<usize>,
        f: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let r = clamp(&range, self.len);
        let mut buf = vec![0u8; CHUNK.min(r.len())];
        let mut at = r.start;
        while at < r.end {
            let n = CHUNK.min(r.end - at);
            let chunk = buf.get_mut(..n).unwrap_or_default();
            self.read_into(at, chunk)?;
            f(chunk)?;
            at += n;
        }
        Ok(())
    }
    fn find(&self, needle: &[u8], from: usize) -> io::Result<Option<usize>> {
        if needle.is_empty() || from >= self.len {
            return Ok(None);
        }
        let finder = memchr::memmem::Finder::new(needle);
        // Windows of CHUNK bytes overlapping by needle.len() - 1, so that no occurrence
        // straddling two reads is missed.
        let overlap = needle.len() - 1;
        let mut buf = vec![0u8; (CHUNK + overlap).min(self.len - from)];
        let mut at = from;
        while at < self.len {
            let n = (CHUNK + overlap).min(self.len - at);
            let window = buf.get_mut(..n).unwrap_or_default();
            self.read_into(at, window)?;
            if let Some(i) = finder.find(window) {
                return Ok(Some(at + i));
            }
            if at + n >= self.len {
                break;
            }
            at += n - overlap;
        }
        Ok(None)
    }
}

/// Where output bytes go: a `Vec` in memory, a file, a digest... Every writer of large
/// messages ([`fn@crate::smime::sign`], the REM and PEC builders) writes through it.
pub trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) -> io::Result<()>;
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// A [`Sink`] over any [`Write`] (a buffered file).
#[derive(Debug)]
pub struct WriteSink<W: Write>(pub W);

impl<W: Write> Sink for WriteSink<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }
}

/// A [`Sink`] counting what passes and discarding it (sizes an output before writing it).
#[derive(Debug, Default)]
pub struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0 += bytes.len();
        Ok(())
    }
}

/// A piece of a message being written: bytes held here, or a range of the input source
/// (copied from it when written, never loaded whole).
#[derive(Debug, Clone)]
pub enum Segment<'a> {
    /// Bytes in memory.
    Bytes(Cow<'a, [u8]>),
    /// A range of the input [`Source`].
    Input(Range<usize>),
}

impl<'a> Segment<'a> {
    /// Owned bytes.
    pub fn owned(v: Vec<u8>) -> Segment<'a> {
        Segment::Bytes(Cow::Owned(v))
    }
    /// Borrowed bytes.
    pub fn borrowed(v: &'a [u8]) -> Segment<'a> {
        Segment::Bytes(Cow::Borrowed(v))
    }
    /// Its length.
    pub fn len(&self) -> usize {
        match self {
            Segment::Bytes(b) => b.len(),
            Segment::Input(r) => r.len(),
        }
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Content made of [`Segment`]s over one input [`Source`]: what the builders assemble and the
/// signers digest and write, so that a large original is copied once, from input to output.
#[derive(Clone, Copy)]
pub struct Pieces<'s, 'a> {
    /// The source [`Segment::Input`] ranges refer to.
    pub source: &'s dyn Source,
    /// The segments, in order.
    pub segments: &'s [Segment<'a>],
}

impl std::fmt::Debug for Pieces<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pieces")
            .field("len", &self.len())
            .field("segments", &self.segments.len())
            .finish()
    }
}

impl Pieces<'_, '_> {
    /// The total length.
    pub fn len(&self) -> usize {
        self.segments.iter().map(Segment::len).sum()
    }
    /// Whether there is nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Calls `f` on every chunk, in order.
    pub fn for_each_chunk(&self, f: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        for s in self.segments {
            match s {
                Segment::Bytes(b) => {
                    if !b.is_empty() {
                        f(b)?;
                    }
                }
                Segment::Input(r) => self.source.for_each_chunk(r.clone(), f)?,
            }
        }
        Ok(())
    }
    /// Writes everything to `sink`.
    pub fn write_to(&self, sink: &mut dyn Sink) -> io::Result<()> {
        self.for_each_chunk(&mut |c| sink.put(c))
    }
    /// Whether `needle` occurs anywhere, including across chunk borders.
    pub fn contains(&self, needle: &[u8]) -> io::Result<bool> {
        if needle.is_empty() {
            return Ok(false);
        }
        let finder = memchr::memmem::Finder::new(needle);
        let keep = needle.len() - 1;
        // The last `keep` bytes of what came before, joined with the start of each chunk.
        let mut tail: Vec<u8> = Vec::with_capacity(2 * keep);
        let mut found = false;
        self.for_each_chunk(&mut |c| {
            if found {
                return Ok(());
            }
            if !tail.is_empty() {
                let mut join = tail.clone();
                join.extend_from_slice(c.get(..keep.min(c.len())).unwrap_or_default());
                if finder.find(&join).is_some() {
                    found = true;
                    return Ok(());
                }
            }
            if finder.find(c).is_some() {
                found = true;
                return Ok(());
            }
            if c.len() >= keep {
                tail.clear();
                tail.extend_from_slice(c.get(c.len() - keep..).unwrap_or_default());
            } else {
                tail.extend_from_slice(c);
                let excess = tail.len().saturating_sub(keep);
                tail.drain(..excess);
            }
            Ok(())
        })?;
        Ok(found)
    }
    /// The position of the first LF not preceded by CR, across chunk borders.
    pub fn first_bare_lf(&self) -> io::Result<Option<usize>> {
        let mut at = 0usize;
        let mut prev = 0u8;
        let mut found = None;
        self.for_each_chunk(&mut |c| {
            if found.is_some() {
                return Ok(());
            }
            for j in memchr::memchr_iter(b'\n', c) {
                let before = if j == 0 {
                    prev
                } else {
                    c.get(j - 1).copied().unwrap_or(0)
                };
                if before != b'\r' {
                    found = Some(at + j);
                    break;
                }
            }
            prev = c.last().copied().unwrap_or(prev);
            at += c.len();
            Ok(())
        })?;
        Ok(found)
    }
    /// The SHA-256 context after all the bytes (clone it to finish it and continue).
    pub fn sha256(&self) -> io::Result<ring::digest::Context> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        self.for_each_chunk(&mut |c| {
            ctx.update(c);
            Ok(())
        })?;
        Ok(ctx)
    }
    /// Everything in one vector (tests, small contents).
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut v = Vec::with_capacity(self.len());
        self.write_to(&mut v)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces_of<'a>(parts: &'a [&'a [u8]]) -> Vec<Segment<'a>> {
        parts.iter().map(|p| Segment::borrowed(p)).collect()
    }

    #[test]
    fn contains_sees_across_borders() {
        let src = Bytes(b"");
        let segs = pieces_of(&[b"abc--bou", b"ndary--", b"x"]);
        let p = Pieces {
            source: &src,
            segments: &segs,
        };
        assert!(p.contains(b"--boundary").unwrap_or(false));
        assert!(p.contains(b"dary--x").unwrap_or(false));
        assert!(!p.contains(b"--nothere").unwrap_or(true));
        let tiny = pieces_of(&[b"a", b"b", b"c", b"d"]);
        let p = Pieces {
            source: &src,
            segments: &tiny,
        };
        assert!(p.contains(b"bcd").unwrap_or(false));
        assert!(!p.contains(b"bd").unwrap_or(true));
    }

    #[test]
    fn bare_lf_across_borders() {
        let src = Bytes(b"");
        for (parts, want) in [
            (&[&b"a\r"[..], b"\nb"][..], None),
            (&[&b"a"[..], b"\nb"][..], Some(1)),
            (&[&b"a\r\n"[..], b"b\n"][..], Some(4)),
            (&[&b"\n"[..]][..], Some(0)),
            (&[&b"x\r\n\n"[..]][..], Some(3)),
        ] {
            let segs = pieces_of(parts);
            let p = Pieces {
                source: &src,
                segments: &segs,
            };
            assert_eq!(p.first_bare_lf().ok().flatten(), want, "{parts:?}");
        }
    }

    #[test]
    fn file_source_finds_across_chunks() {
        let mut data = vec![b'a'; CHUNK + 10];
        let at = CHUNK - 3;
        data.splice(at..at + 6, b"--abc\n".iter().copied());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, &data).expect("write");
        let f = FileSource::open(&path).expect("open");
        assert_eq!(f.find(b"--abc", 0).ok().flatten(), Some(at));
        assert_eq!(f.find(b"--abc", at + 1).ok().flatten(), None);
        assert_eq!(Bytes(&data).find(b"--abc", 0).ok().flatten(), Some(at));
        let mut total = 0;
        f.for_each_chunk(0..data.len(), &mut |c| {
            total += c.len();
            Ok(())
        })
        .expect("chunks");
        assert_eq!(total, data.len());
        assert_eq!(f.bytes(at..at + 5).expect("bytes").as_ref(), b"--abc");
    }
}
