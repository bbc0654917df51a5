//! The MIME structure of a message without decoding it: every part's header, body and end
//! offsets, its parsed header fields and its children, found with substring search over a
//! [`Source`] (a slice, or a file read in chunks).
//!
//! Why: mail-parser (the parser behind [`super::parse`]) decodes every part while it parses,
//! nested messages included: a 25 MB attachment inside `postacert.eml` was decoded from base64
//! by each of the three parses of a translation, which only needed to know where the parts
//! are. And it needs the whole message in memory, which the streaming path cannot give.
//!
//! What: the state machine of mail-parser's own parser (`MessageParser::parse`, 0.11), driven
//! with its public primitives where they are cheap (the header parser, on each header
//! section) and re-done with `memchr::memmem` where mail-parser walks byte by byte (the search
//! for `--boundary`, with mail-parser's rules for where a part ends: see `leaf_end`). The
//! offsets are therefore mail-parser's, so the signed bytes sliced with them are the bytes
//! the full parse gives. Where mail-parser would take one of its recovery paths (a delimiter
//! missing, garbage after a delimiter, an encoded `message/rfc822`, a header section without
//! end), [`scan`] answers [`Unscannable`] and the callers parse the message in full instead:
//! the scanner never guesses where mail-parser would have recovered.
//!
//! `tests`, and `tests/mime_scan.rs` over every message of the corpus, compare its offsets
//! with mail-parser's.

use std::ops::Range;

use mail_parser::parsers::MessageStream;
use mail_parser::{
    ContentType, Encoding, GetHeader, Header, HeaderName, HeaderValue, MessageParser, MessagePart,
    MimeHeaders, PartType,
};

use super::source::Source;

/// Why a message is left to the full parser (not an error of the message: the full parse
/// decides).
#[derive(Debug)]
pub struct Unscannable {
    /// What the scanner met.
    pub reason: &'static str,
    /// The read error, for a file source.
    pub io: Option<std::io::Error>,
}

impl From<std::io::Error> for Unscannable {
    fn from(e: std::io::Error) -> Self {
        Unscannable {
            reason: "the source could not be read",
            io: Some(e),
        }
    }
}

fn stop<T>(reason: &'static str) -> Result<T, Unscannable> {
    Err(Unscannable { reason, io: None })
}

/// What a part holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A multipart: its children, by index in [`Structure::parts`].
    Multipart(Vec<usize>),
    /// A `message/rfc822` (or `message/global`) in clear: the index of its root part.
    Message(usize),
    /// Anything else, with its transfer encoding (not decoded).
    Leaf(Encoding),
}

/// One part, with mail-parser's offsets.
#[derive(Debug, Clone)]
pub struct Part {
    /// Where its header section starts (`raw_header_offset`).
    pub offset_header: usize,
    /// Where its body starts (`raw_body_offset`).
    pub offset_body: usize,
    /// Where it ends (`raw_end_offset`: before the line break of the next delimiter).
    pub offset_end: usize,
    /// Its header fields, as mail-parser parses them (use the [`MimeHeaders`] methods:
    /// `content_type()`, `attachment_name()`...). Its body is empty: see [`Part::body`].
    pub head: MessagePart<'static>,
    /// What it holds.
    pub body: Body,
}

impl Part {
    /// Header section and body, `offset_header..offset_end`.
    pub fn range(&self) -> Range<usize> {
        self.offset_header..self.offset_end.max(self.offset_header)
    }
    /// The body, `offset_body..offset_end`.
    pub fn body_range(&self) -> Range<usize> {
        self.offset_body..self.offset_end.max(self.offset_body)
    }
    /// The header section, `offset_header..offset_body`.
    pub fn header_range(&self) -> Range<usize> {
        self.offset_header..self.offset_body.max(self.offset_header)
    }
    /// Whether its media type is `t/sub` (case-insensitive), as mail-parser says it.
    pub fn is_type(&self, t: &str, sub: &str) -> bool {
        self.head.is_content_type(t, sub)
    }
    /// `type/subtype` lower-cased (`text/plain` when absent).
    pub fn media_type(&self) -> String {
        match self.head.content_type() {
            Some(ct) => format!(
                "{}/{}",
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase()
            ),
            None => "text/plain".to_string(),
        }
    }
}

/// Every part of a message, the root first, in mail-parser's order.
#[derive(Debug, Clone)]
pub struct Structure {
    /// The parts; children refer to them by index.
    pub parts: Vec<Part>,
}

impl Structure {
    /// The root part.
    pub fn root(&self) -> Option<&Part> {
        self.parts.first()
    }
    /// A part by index.
    pub fn part(&self, i: usize) -> Option<&Part> {
        self.parts.get(i)
    }
    /// The children of a multipart (empty otherwise).
    pub fn children(&self, p: &Part) -> Vec<&Part> {
        match &p.body {
            Body::Multipart(ids) => ids.iter().filter_map(|i| self.parts.get(*i)).collect(),
            _ => Vec::new(),
        }
    }
}

/// mail-parser's `MimeType` (parsers/message.rs), which decides how a part is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MimeType {
    MultipartMixed,
    MultipartAlternative,
    MultipartRelated,
    MultipartDigest,
    TextPlain,
    TextHtml,
    TextOther,
    Inline,
    Message,
    Other,
}

/// mail-parser's `mime_type()`: (is multipart, the type).
fn mime_type(ct: Option<&ContentType<'_>>, parent: MimeType) -> (bool, MimeType) {
    match ct {
        Some(ct) => match ct.ctype() {
            "multipart" => (
                true,
                match ct.subtype() {
                    Some("mixed") => MimeType::MultipartMixed,
                    Some("alternative") => MimeType::MultipartAlternative,
                    Some("related") => MimeType::MultipartRelated,
                    Some("digest") => MimeType::MultipartDigest,
                    _ => MimeType::Other,
                },
            ),
            "text" => match ct.subtype() {
                Some("plain") => (false, MimeType::TextPlain),
                Some("html") => (false, MimeType::TextHtml),
                _ => (false, MimeType::TextOther),
            },
            "image" | "audio" | "video" => (false, MimeType::Inline),
            "message" if [Some("rfc822"), Some("global")].contains(&ct.subtype()) => {
                (false, MimeType::Message)
            }
            _ => (false, MimeType::Other),
        },
        None if parent == MimeType::MultipartDigest => (false, MimeType::Message),
        None => (false, MimeType::TextPlain),
    }
}

struct State {
    mime_type: MimeType,
    boundary: Option<Vec<u8>>,
    part_id: usize,
    sub_part_ids: Vec<usize>,
    /// Whether this entry of the stack is a nested message's (mail-parser stacks the parent
    /// message with it).
    message: bool,
}

/// The largest header section the scanner reads (a file source reads it into memory).
const MAX_HEADER: usize = 1 << 20;

/// The header section starting at `pos`: the body offset and the fields.
fn headers_at(
    src: &dyn Source,
    parser: &MessageParser,
    pos: usize,
) -> Result<(usize, Vec<Header<'static>>), Unscannable> {
    if let Some(all) = src.as_slice() {
        let mut stream = MessageStream::new(all);
        stream.skip_bytes(pos.min(all.len()));
        let mut headers = Vec::new();
        if !stream.parse_headers(parser, &mut headers) {
            return stop("a header section without its empty line");
        }
        return Ok((
            stream.offset(),
            headers.into_iter().map(Header::into_owned).collect(),
        ));
    }
    let mut window = 64 * 1024;
    loop {
        let bytes = src.bytes(pos..pos.saturating_add(window))?;
        let mut stream = MessageStream::new(&bytes);
        let mut headers = Vec::new();
        if stream.parse_headers(parser, &mut headers) {
            return Ok((
                pos + stream.offset(),
                headers.into_iter().map(Header::into_owned).collect(),
            ));
        }
        if pos.saturating_add(window) >= src.len() {
            return stop("a header section without its empty line");
        }
        if window >= MAX_HEADER {
            return stop("a header section larger than 1 MiB");
        }
        window *= 2;
    }
}

/// `--boundary`.
fn delimiter(boundary: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(boundary.len() + 2);
    d.extend_from_slice(b"--");
    d.extend_from_slice(boundary);
    d
}

/// The last LF in `from..to`.
fn last_lf(src: &dyn Source, from: usize, to: usize) -> Result<Option<usize>, Unscannable> {
    if let Some(all) = src.as_slice() {
        return Ok(all
            .get(from..to.min(all.len()))
            .and_then(|s| memchr::memrchr(b'\n', s))
            .map(|i| i + from));
    }
    let mut end = to;
    while end > from {
        let start = end.saturating_sub(4096).max(from);
        let block = src.bytes(start..end)?;
        if let Some(i) = memchr::memrchr(b'\n', &block) {
            return Ok(Some(start + i));
        }
        end = start;
    }
    Ok(None)
}

/// mail-parser's end of a line-break-terminated position: at the LF `k`, the part ends at
/// the CR before it when there is one (and `k` is not where the scan started), else at `k`.
fn line_end(src: &dyn Source, from: usize, k: usize) -> Result<usize, Unscannable> {
    if k > from && src.byte(k - 1)? == Some(b'\r') {
        Ok(k - 1)
    } else {
        Ok(k)
    }
}

/// Where a leaf starting at `from` ends, and the position after the delimiter that ends it:
/// the first `--boundary` at or after `from` (mail-parser matches it anywhere, not only at a
/// line start); the part ends before the line break preceding it when it starts a line (or
/// starts the body), else right before its `--` (`mime_part`, `decode_base64_mime`,
/// `decode_quoted_printable_mime` all end there; a decoding error makes mail-parser seek the
/// same end with `seek_part_end`).
fn leaf_end(src: &dyn Source, from: usize, boundary: &[u8]) -> Result<(usize, usize), Unscannable> {
    let d = delimiter(boundary);
    let Some(i) = src.find(&d, from)? else {
        return stop("a delimiter is missing");
    };
    let after = i + d.len();
    if i == from {
        return Ok((from, after));
    }
    if src.byte(i - 1)? == Some(b'\n') {
        Ok((line_end(src, from, i - 1)?, after))
    } else {
        Ok((i, after))
    }
}

/// mail-parser's `seek_next_part_offset`: the next `--boundary` at or after `from`, and the
/// offset of the last line break before it (or `from`).
fn next_part_offset(
    src: &dyn Source,
    from: usize,
    boundary: &[u8],
) -> Result<Option<(usize, usize)>, Unscannable> {
    let d = delimiter(boundary);
    let Some(i) = src.find(&d, from)? else {
        return Ok(None);
    };
    let offset = match last_lf(src, from, i)? {
        Some(k) => line_end(src, from, k)?,
        None => from,
    };
    Ok(Some((offset, i + d.len())))
}

/// mail-parser's `skip_crlf`: spaces, tabs and CRs, then one LF.
fn skip_crlf(src: &dyn Source, mut pos: usize) -> Result<usize, Unscannable> {
    while let Some(b) = src.byte(pos)? {
        match b {
            b'\r' | b' ' | b'\t' => pos += 1,
            b'\n' => return Ok(pos + 1),
            _ => break,
        }
    }
    Ok(pos)
}

/// mail-parser's `is_multipart_end` after a delimiter: `--` closes the multipart; CRLF, LF or
/// white space starts the next part; anything else (header fields glued to the delimiter) is
/// left to the full parser.
fn multipart_end(src: &dyn Source, pos: usize) -> Result<(bool, usize), Unscannable> {
    let b0 = src.byte(pos)?;
    let b1 = src.byte(pos + 1)?;
    match (b0, b1) {
        (Some(b'\r'), Some(b'\n')) => Ok((false, pos + 2)),
        (Some(b'-'), Some(b'-')) => Ok((true, pos + 2)),
        (Some(b'\n'), _) => Ok((false, pos + 1)),
        (Some(a), _) if a.is_ascii_whitespace() => Ok((false, skip_crlf(src, pos + 1)?)),
        _ => stop("text glued to a delimiter"),
    }
}

fn encoding(headers: &Vec<Header<'_>>) -> Encoding {
    match headers.header_value(&HeaderName::ContentTransferEncoding) {
        Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("base64") => Encoding::Base64,
        Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("quoted-printable") => {
            Encoding::QuotedPrintable
        }
        _ => Encoding::None,
    }
}

fn head(headers: Vec<Header<'static>>, encoding: Encoding) -> MessagePart<'static> {
    MessagePart {
        headers,
        is_encoding_problem: false,
        body: PartType::Binary(Default::default()),
        encoding,
        offset_header: 0,
        offset_body: 0,
        offset_end: 0,
    }
}

/// The structure of the message in `src` (CRLF or LF), or why the full parser must read it.
pub fn scan(src: &dyn Source) -> Result<Structure, Unscannable> {
    let parser = MessageParser::default();
    let len = src.len();
    let mut parts: Vec<Part> = Vec::new();
    let mut stack: Vec<State> = Vec::new();
    let mut state = State {
        mime_type: MimeType::Message,
        boundary: None,
        part_id: 0,
        sub_part_ids: Vec::new(),
        message: false,
    };
    let mut pos = 0usize;
    'outer: loop {
        let offset_header = pos;
        let (offset_body, headers) = headers_at(src, &parser, pos)?;
        pos = offset_body;
        let id = parts.len();
        state.sub_part_ids.push(id);
        let ct = headers
            .header_value(&HeaderName::ContentType)
            .and_then(|c| c.as_content_type());
        let (is_multipart, mut mime) = mime_type(ct, state.mime_type);
        if is_multipart && let Some(b) = ct.and_then(|c| c.attribute("boundary")) {
            let b = b.as_bytes().to_vec();
            let d = delimiter(&b);
            if let Some(i) = src.find(&d, pos)? {
                pos = skip_crlf(src, i + d.len())?;
                parts.push(Part {
                    offset_header,
                    offset_body,
                    offset_end: 0,
                    head: head(headers, Encoding::None),
                    body: Body::Multipart(Vec::new()),
                });
                let child = State {
                    mime_type: mime,
                    boundary: Some(b),
                    part_id: id,
                    sub_part_ids: Vec::new(),
                    message: false,
                };
                stack.push(std::mem::replace(&mut state, child));
                continue;
            }
            mime = MimeType::TextOther;
        }
        let enc = encoding(&headers);
        if mime == MimeType::Message {
            if enc != Encoding::None {
                return stop("an encoded message/rfc822 part");
            }
            parts.push(Part {
                offset_header,
                offset_body,
                offset_end: 0,
                head: head(headers, enc),
                body: Body::Message(id + 1),
            });
            let nested = State {
                mime_type: MimeType::Message,
                boundary: state.boundary.take(),
                part_id: id,
                sub_part_ids: Vec::new(),
                message: true,
            };
            stack.push(std::mem::replace(&mut state, nested));
            continue;
        }
        let offset_end = match &state.boundary {
            Some(b) => {
                let (end, after) = leaf_end(src, pos, b)?;
                pos = after;
                end
            }
            None => {
                pos = len;
                len
            }
        };
        parts.push(Part {
            offset_header,
            offset_body,
            offset_end,
            head: head(headers, enc),
            body: Body::Leaf(enc),
        });
        if state.boundary.is_none() {
            if pos >= len {
                break 'outer;
            }
            continue;
        }
        'inner: loop {
            if state.mime_type == MimeType::Message {
                // A nested message ends at the delimiter just passed.
                let Some(mut prev) = stack.pop() else {
                    return stop("a nested message without its parent");
                };
                if !state.message {
                    return stop("a nested message without its parent");
                }
                let blen = state.boundary.as_ref().map_or(0, Vec::len);
                let at = pos.saturating_sub(blen + 2);
                let end = if at >= 2 && src.byte(at - 2)? == Some(b'\r') {
                    at - 2
                } else {
                    at.saturating_sub(1)
                };
                if let Some(p) = parts.get_mut(state.part_id) {
                    p.offset_end = end;
                }
                prev.boundary = state.boundary.take();
                state = prev;
            }
            let (end, next) = multipart_end(src, pos)?;
            pos = next;
            if !end {
                break 'inner;
            }
            let closed = state.part_id;
            if let Some(p) = parts.get_mut(closed) {
                p.body = Body::Multipart(std::mem::take(&mut state.sub_part_ids));
            }
            let Some(prev) = stack.pop() else {
                return stop("a multipart closed twice");
            };
            state = prev;
            if let Some(b) = state.boundary.clone()
                && let Some((offset, after)) = next_part_offset(src, pos, &b)?
            {
                if let Some(p) = parts.get_mut(closed) {
                    p.offset_end = offset;
                }
                pos = after;
                continue 'inner;
            }
            if let Some(p) = parts.get_mut(closed) {
                p.offset_end = pos;
            }
            break 'outer;
        }
    }
    if !stack.is_empty() {
        return stop("the message ends inside a part");
    }
    if let Some(root) = parts.first_mut() {
        root.offset_end = len;
    } else {
        return stop("no part");
    }
    for p in &mut parts {
        p.head.offset_header = u32::try_from(p.offset_header).unwrap_or(u32::MAX);
        p.head.offset_body = u32::try_from(p.offset_body).unwrap_or(u32::MAX);
        p.head.offset_end = u32::try_from(p.offset_end).unwrap_or(u32::MAX);
    }
    Ok(Structure { parts })
}

#[cfg(test)]
mod tests {
    use super::super::source::Bytes;
    use super::*;

    /// Every part of mail-parser's full parse, flattened the way the scanner numbers them:
    /// (offset_header, offset_body, offset_end, kind).
    pub(crate) fn mail_parser_outline(raw: &[u8]) -> Vec<(usize, usize, usize, char)> {
        fn walk(m: &mail_parser::Message<'_>, out: &mut Vec<(usize, usize, usize, char)>) {
            fn part(
                m: &mail_parser::Message<'_>,
                id: usize,
                out: &mut Vec<(usize, usize, usize, char)>,
            ) {
                let Some(p) = m.parts.get(id) else { return };
                let kind = match &p.body {
                    PartType::Multipart(_) => 'M',
                    PartType::Message(_) => 'R',
                    _ => 'L',
                };
                out.push((
                    p.offset_header as usize,
                    p.offset_body as usize,
                    p.offset_end as usize,
                    kind,
                ));
                match &p.body {
                    PartType::Multipart(ids) => {
                        for i in ids {
                            part(m, *i as usize, out);
                        }
                    }
                    PartType::Message(inner) => walk(inner, out),
                    _ => {}
                }
            }
            part(m, 0, out);
        }
        let mut out = Vec::new();
        if let Ok(m) = crate::mime::parse::message(raw) {
            walk(&m, &mut out);
        }
        out
    }

    pub(crate) fn scan_outline(raw: &[u8]) -> Option<Vec<(usize, usize, usize, char)>> {
        let s = scan(&Bytes(raw)).ok()?;
        fn part(s: &Structure, id: usize, out: &mut Vec<(usize, usize, usize, char)>) {
            let Some(p) = s.parts.get(id) else { return };
            let kind = match &p.body {
                Body::Multipart(_) => 'M',
                Body::Message(_) => 'R',
                Body::Leaf(_) => 'L',
            };
            out.push((p.offset_header, p.offset_body, p.offset_end, kind));
            match &p.body {
                Body::Multipart(ids) => {
                    for i in ids {
                        part(s, *i, out);
                    }
                }
                Body::Message(root) => part(s, *root, out),
                Body::Leaf(_) => {}
            }
        }
        let mut out = Vec::new();
        part(&s, 0, &mut out);
        Some(out)
    }

    fn same(raw: &[u8]) {
        let want = mail_parser_outline(raw);
        let got = scan_outline(raw).unwrap_or_else(|| {
            panic!(
                "unscannable: {:?}",
                scan(&Bytes(raw)).err().map(|e| e.reason)
            )
        });
        assert_eq!(got, want, "{}", String::from_utf8_lossy(raw));
    }

    const SIGNED: &[u8] = b"From: a@b\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=\"s\"\r\n\r\npreamble\r\n--s\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nhello\r\n--m\r\nContent-Type: message/rfc822; name=postacert.eml\r\n\r\nFrom: u@x\r\nContent-Type: multipart/mixed; boundary=\"u\"\r\n\r\n--u\r\nContent-Type: text/plain\r\n\r\nciao\r\n--u\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\nAAEC\r\n--u--\r\n\r\n--m\r\nContent-Type: application/xml; name=daticert.xml\r\nContent-Transfer-Encoding: base64\r\n\r\nPHgvPg==\r\n--m--\r\n\r\n--s\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--s--\r\n";

    #[test]
    fn offsets_are_mail_parsers() {
        same(SIGNED);
        same(
            &String::from_utf8_lossy(SIGNED)
                .replace("\r\n", "\n")
                .into_bytes(),
        );
        same(b"Subject: plain\r\n\r\nbody\r\n");
        // A nested message whose body is not multipart ends at the parent's delimiter.
        same(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ntext\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n");
        // A delimiter in the middle of a line ends the part there (mail-parser's rule).
        same(
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nab--b\r\n\r\nx\r\n--b--",
        );
        // Transport padding after a delimiter; an epilogue.
        same(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b  \r\n\r\nx\r\n--b--\r\nepilogue\r\n");
        // A boundary attribute that never occurs: the part is read as text.
        same(b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts\r\n");
        // Text after the first delimiter is read as the first part's header section.
        same(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--bjunk: x\r\n\r\nx\r\n--b--");
        // Nested multiparts whose close is followed by the parent's next part.
        same(b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b--\r\n--a\r\n\r\n3\r\n--a--\r\n");
    }

    #[test]
    fn recovery_cases_are_left_to_the_full_parser() {
        for m in [
            &b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nunterminated"[..],
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--bjunk\r\n\r\nx\r\n--b--",
            b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n",
            b"Subject: no body",
        ] {
            assert!(scan(&Bytes(m)).is_err(), "{}", String::from_utf8_lossy(m));
        }
    }

    #[test]
    fn header_fields_are_parsed() {
        let s = scan(&Bytes(SIGNED)).expect("scan");
        let root = s.root().expect("root");
        assert!(root.is_type("multipart", "signed"));
        let signed = s.children(root);
        assert_eq!(signed.len(), 2);
        let mixed = s.children(signed[0]);
        assert_eq!(mixed.len(), 3);
        assert_eq!(mixed[1].head.attachment_name(), Some("postacert.eml"));
        assert_eq!(mixed[2].head.attachment_name(), Some("daticert.xml"));
        assert_eq!(mixed[2].body, Body::Leaf(Encoding::Base64));
    }
}
