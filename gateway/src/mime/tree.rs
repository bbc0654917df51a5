//! One view of a message's parts, whichever way it was read: scanned ([`super::scan`]: the
//! structure only, small parts decoded on demand) or parsed in full by mail-parser (when the
//! scanner declines). The readers of PEC and REM messages walk it, so that both ways share
//! one walk and give the same answers.

use std::borrow::Cow;

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::Error;
use super::scan::{self, Body, Structure};
use super::source::Bytes;

/// A message read one way or the other.
#[derive(Debug)]
pub enum Tree<'a> {
    /// Scanned over these bytes.
    Scanned {
        /// The message.
        raw: &'a [u8],
        /// Its structure.
        structure: Structure,
    },
    /// Parsed in full.
    Parsed(Message<'a>),
}

/// What a [`Node`] holds.
#[derive(Debug)]
pub enum Kind<'t, 'a> {
    /// A multipart and its children.
    Multipart(Vec<Node<'t, 'a>>),
    /// A nested message (`message/rfc822`).
    Message,
    /// Anything else.
    Leaf,
}

/// A part of a [`Tree`].
#[derive(Debug, Clone, Copy)]
pub enum Node<'t, 'a> {
    /// A scanned part: the tree's bytes and the part.
    Scanned(&'a [u8], &'t scan::Part, &'t Structure),
    /// A parsed part: its message and the part.
    Parsed(&'t Message<'a>, &'t MessagePart<'a>),
}

impl<'a> Tree<'a> {
    /// Scans `raw`; parses it in full when the scanner declines (`Err` only when neither can
    /// read it).
    pub fn read(raw: &'a [u8]) -> Result<Tree<'a>, Error> {
        match scan::scan(&Bytes(raw)) {
            Ok(structure) => Ok(Tree::Scanned { raw, structure }),
            Err(_) => Ok(Tree::Parsed(super::parse::message(raw)?)),
        }
    }

    /// The root part.
    pub fn root(&self) -> Option<Node<'_, 'a>> {
        match self {
            Tree::Scanned { raw, structure } => {
                structure.root().map(|p| Node::Scanned(raw, p, structure))
            }
            Tree::Parsed(m) => m.parts.first().map(|p| Node::Parsed(m, p)),
        }
    }

    /// The root's header fields as a message (for `from()`, `to()`, `subject()`...).
    pub fn header_message(&self) -> Cow<'_, Message<'a>> {
        match self {
            Tree::Scanned { structure, .. } => Cow::Owned(Message {
                parts: structure
                    .root()
                    .map(|r| vec![r.head.clone()])
                    .unwrap_or_default(),
                ..Default::default()
            }),
            Tree::Parsed(m) => Cow::Borrowed(m),
        }
    }

    /// Whether the scanner read it.
    pub fn is_scanned(&self) -> bool {
        matches!(self, Tree::Scanned { .. })
    }
}

impl<'t, 'a> Node<'t, 'a> {
    /// Its header fields (`content_type()`, `attachment_name()`...).
    pub fn head(&self) -> &'t MessagePart<'a> {
        match self {
            Node::Scanned(_, p, _) => &p.head,
            Node::Parsed(_, p) => p,
        }
    }

    /// Whether its media type is `t/sub`.
    pub fn is_type(&self, t: &str, sub: &str) -> bool {
        self.head().is_content_type(t, sub)
    }

    /// `type/subtype`, lower-cased (`text/plain` when absent).
    pub fn media_type(&self) -> String {
        match self.head().content_type() {
            Some(ct) => format!(
                "{}/{}",
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase()
            ),
            None => "text/plain".to_string(),
        }
    }

    /// What it holds.
    pub fn kind(&self) -> Kind<'t, 'a> {
        match *self {
            Node::Scanned(raw, p, s) => match &p.body {
                Body::Multipart(ids) => Kind::Multipart(
                    ids.iter()
                        .filter_map(|i| s.part(*i))
                        .map(|c| Node::Scanned(raw, c, s))
                        .collect(),
                ),
                Body::Message(_) => Kind::Message,
                Body::Leaf(_) => Kind::Leaf,
            },
            Node::Parsed(m, p) => match &p.body {
                PartType::Multipart(ids) => Kind::Multipart(
                    ids.iter()
                        .filter_map(|i| m.parts.get(*i as usize))
                        .map(|c| Node::Parsed(m, c))
                        .collect(),
                ),
                PartType::Message(_) => Kind::Message,
                _ => Kind::Leaf,
            },
        }
    }

    /// `raw_header_offset`, `raw_body_offset`, `raw_end_offset`.
    pub fn offsets(&self) -> (usize, usize, usize) {
        match self {
            Node::Scanned(_, p, _) => (p.offset_header, p.offset_body, p.offset_end),
            Node::Parsed(_, p) => (
                p.raw_header_offset() as usize,
                p.raw_body_offset() as usize,
                p.raw_end_offset() as usize,
            ),
        }
    }

    /// The part read on its own by mail-parser: the same header fields and body decoder, up
    /// to the same end (scanned leaves only).
    fn alone(&self) -> Option<Message<'a>> {
        match *self {
            Node::Scanned(raw, p, _) => raw
                .get(p.range())
                .and_then(|b| super::parse::message(b).ok()),
            Node::Parsed(..) => None,
        }
    }

    /// What `f` says of this part in mail-parser's full parse of the message (a scanned part
    /// that is a multipart or a message: rare, and read as the full parse reads it).
    fn in_full<R>(&self, f: impl Fn(&MessagePart<'_>) -> R) -> Option<R> {
        fn find<R>(
            m: &Message<'_>,
            at: (usize, usize, usize),
            f: &dyn Fn(&MessagePart<'_>) -> R,
        ) -> Option<R> {
            for p in &m.parts {
                let o = (
                    p.raw_header_offset() as usize,
                    p.raw_body_offset() as usize,
                    p.raw_end_offset() as usize,
                );
                if o == at {
                    return Some(f(p));
                }
                if let PartType::Message(inner) = &p.body
                    && let Some(r) = find(inner, at, f)
                {
                    return Some(r);
                }
            }
            None
        }
        match *self {
            Node::Scanned(raw, ..) => {
                let m = super::parse::message(raw).ok()?;
                find(&m, self.offsets(), &f)
            }
            Node::Parsed(_, p) => Some(f(p)),
        }
    }

    /// The decoded body (`contents()`).
    pub fn contents(&self) -> Option<Cow<'t, [u8]>> {
        self.contents_checked().map(|(c, _)| c)
    }

    /// The decoded body and whether mail-parser met an encoding problem in it.
    pub fn contents_checked(&self) -> Option<(Cow<'t, [u8]>, bool)> {
        match self {
            Node::Parsed(_, p) => Some((Cow::Borrowed(p.contents()), p.is_encoding_problem)),
            Node::Scanned(raw, p, _) if matches!(self.kind(), Kind::Leaf) => {
                // Base64 that decodes strictly is decoded here, as mail-parser would decode
                // it (no second parse of the part); anything else goes to mail-parser.
                if let Some(d) = raw
                    .get(p.body_range())
                    .and_then(|body| strict_base64(self.head(), body))
                {
                    return Some((Cow::Owned(d), false));
                }
                let m = self.alone()?;
                let root = m.parts.first()?;
                Some((
                    Cow::Owned(root.contents().to_vec()),
                    root.is_encoding_problem,
                ))
            }
            Node::Scanned(..) => self
                .in_full(|p| (p.contents().to_vec(), p.is_encoding_problem))
                .map(|(c, e)| (Cow::Owned(c), e)),
        }
    }

    /// The text of a text part (`text_contents()`).
    pub fn text_contents(&self) -> Option<String> {
        match self {
            Node::Parsed(_, p) => p.text_contents().map(str::to_string),
            Node::Scanned(..) if matches!(self.kind(), Kind::Leaf) => {
                let m = self.alone()?;
                m.parts.first()?.text_contents().map(str::to_string)
            }
            Node::Scanned(..) => self
                .in_full(|p| p.text_contents().map(str::to_string))
                .flatten(),
        }
    }

    /// For a parsed nested message: its raw bytes (decoded when it was transfer-encoded).
    pub fn nested_raw(&self) -> Option<&'t [u8]> {
        match self {
            Node::Parsed(_, p) => match &p.body {
                PartType::Message(inner) => Some(inner.raw_message()),
                _ => None,
            },
            Node::Scanned(..) => None,
        }
    }
}

/// The body of a part whose `Content-Transfer-Encoding` is base64, decoded when it is strict
/// base64 (the standard alphabet, padded, line breaks and spaces between the characters);
/// `None` otherwise (the lenient decoder of mail-parser then decides).
fn strict_base64(head: &MessagePart<'_>, body: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let cte = head.content_transfer_encoding()?;
    if !cte.trim().eq_ignore_ascii_case("base64") {
        return None;
    }
    // The white space removed line by line: whole lines copied at once, byte by byte only
    // where a line has white space inside.
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut clean: Vec<u8> = Vec::with_capacity(body.len());
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().any(space) {
            clean.extend(line.iter().filter(|b| !space(b)));
        } else {
            clean.extend_from_slice(line);
        }
    }
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}
