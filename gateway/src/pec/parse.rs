//! Reading a PEC message over its raw bytes with mail-parser: the PEC headers, the usual
//! headers, `daticert.xml` (raw and typed), `postacert.eml` (exact bytes, parseable
//! recursively) and the text part. Accepts the whole message or the signed inner entity (the
//! `multipart/mixed` under `multipart/signed`), and a `multipart/signed` whose signature part
//! is missing (anonymised fixtures).

use super::Error;
use super::classify::{Classification, Kind, header_fields, unfold};
use super::daticert::Daticert;
use super::values::{Errore, TipoDaticert, TipoRicevuta};
use crate::mime::tree::{Kind as NodeKind, Node, Tree};
use mail_parser::{MessagePart, MimeHeaders};
use std::borrow::Cow;

/// How deep `postacert.eml` may nest inside PEC messages before Ponte stops descending
/// (see [`PecMessage::postacert`]).
pub const MAX_NESTING: usize = 8;

/// A PEC (or plain) message read over its raw bytes.
#[derive(Debug, Clone)]
pub struct PecMessage<'a> {
    raw: &'a [u8],
    classification: Classification,
    kind: Kind,
    message_id: Option<String>,
    from: Option<String>,
    to: Vec<String>,
    subject: Option<String>,
    date: Option<String>,
    signed: Option<(usize, usize)>,
    signature_present: bool,
    daticert_raw: Option<Vec<u8>>,
    daticert: Option<Daticert>,
    postacert: Option<Cow<'a, [u8]>>,
    text: Option<String>,
    depth: usize,
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn is_type(p: &MessagePart<'_>, t: &str, sub: &str) -> bool {
    p.is_content_type(t, sub)
}

/// Whether mail-parser reads the leaf as text (`PartType::Text`): a scanned part is read as
/// text when it has no media type or a `text/*` one (the text/plain ones are asked for).
fn is_text_part(p: &Node<'_, '_>) -> bool {
    match p {
        Node::Parsed(_, part) => matches!(part.body, mail_parser::PartType::Text(_)),
        Node::Scanned(..) => true,
    }
}

fn name_is(p: &MessagePart<'_>, name: &str) -> bool {
    p.attachment_name()
        .is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
}

impl<'a> PecMessage<'a> {
    /// Reads `raw` (a whole message, or the signed inner entity). Fails when the bytes are
    /// not a message at all, or when a `daticert.xml` part is present but refused (see
    /// [`Daticert::parse`]). A message without PEC headers is read as plain mail.
    pub fn parse(raw: &'a [u8]) -> Result<PecMessage<'a>, Error> {
        Self::parse_at(raw, 0)
    }

    /// [`PecMessage::parse`] over the structure of `raw` when already read.
    pub(crate) fn parse_in(
        raw: &'a [u8],
        tree: Option<&Tree<'a>>,
    ) -> Result<PecMessage<'a>, Error> {
        let fields = header_fields(raw).ok_or(Error::MessageUnreadable)?;
        match tree {
            Some(t) => Self::from_tree(raw, 0, fields, t),
            None => {
                let tree = Tree::read(raw).map_err(|_| Error::MessageUnreadable)?;
                Self::from_tree(raw, 0, fields, &tree)
            }
        }
    }

    fn parse_at(raw: &'a [u8], depth: usize) -> Result<PecMessage<'a>, Error> {
        let fields = header_fields(raw).ok_or(Error::MessageUnreadable)?;
        // The structure is scanned (nothing decoded but the small parts read below); a
        // message the scanner declines is parsed in full. Both are walked the same way.
        let tree = Tree::read(raw).map_err(|_| Error::MessageUnreadable)?;
        Self::from_tree(raw, depth, fields, &tree)
    }

    fn from_tree(
        raw: &'a [u8],
        depth: usize,
        fields: Vec<(String, String)>,
        tree: &Tree<'a>,
    ) -> Result<PecMessage<'a>, Error> {
        let classification =
            Classification::from_headers(fields.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let msg = tree.header_message();
        let header = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| unfold(v))
        };
        let from = msg
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_string);
        let to = msg
            .to()
            .map(|a| {
                a.iter()
                    .filter_map(|a| a.address())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let subject = msg.subject().map(str::to_string);

        let mut m = PecMessage {
            raw,
            kind: classification.kind(),
            classification,
            message_id: header("Message-ID"),
            from,
            to,
            subject,
            date: header("Date"),
            signed: None,
            signature_present: false,
            daticert_raw: None,
            daticert: None,
            postacert: None,
            text: None,
            depth,
        };

        let Some(root) = tree.root() else {
            return Ok(m);
        };
        // The container of the PEC parts: the first part of multipart/signed, or the root.
        let mut container = root;
        if root.is_type("multipart", "signed") {
            let subs = match root.kind() {
                NodeKind::Multipart(c) => c,
                _ => Vec::new(),
            };
            if let Some(first) = subs.first() {
                let (s, _, e) = first.offsets();
                if s <= e && e <= raw.len() {
                    m.signed = Some((s, e));
                }
                container = *first;
            }
            m.signature_present = subs.get(1).is_some_and(|p| {
                p.head().content_type().is_some_and(|ct| {
                    let sub = lower(ct.subtype().unwrap_or(""));
                    lower(ct.ctype()) == "application"
                        && (sub == "pkcs7-signature" || sub == "x-pkcs7-signature")
                })
            });
        }

        // Walk the container's subtree, not descending into message/rfc822.
        let mut stack = vec![container];
        let mut first_rfc822 = None;
        let mut postacert = None;
        let mut daticert = None;
        let mut text = None;
        let mut visited = 0usize;
        let limit = match tree {
            Tree::Scanned { structure, .. } => structure.parts.len(),
            Tree::Parsed(msg) => msg.parts.len(),
        };
        while let Some(p) = stack.pop() {
            visited += 1;
            if visited > limit + 1 {
                break;
            }
            match p.kind() {
                NodeKind::Multipart(children) => {
                    for c in children.into_iter().rev() {
                        stack.push(c);
                    }
                }
                NodeKind::Message => {
                    if postacert.is_none() && name_is(p.head(), "postacert.eml") {
                        postacert = Some(p);
                    }
                    if first_rfc822.is_none() {
                        first_rfc822 = Some(p);
                    }
                }
                NodeKind::Leaf
                    if text.is_none()
                        && is_text_part(&p)
                        && is_type(p.head(), "text", "plain")
                        && p.head().attachment_name().is_none() =>
                {
                    text = Some(p);
                }
                NodeKind::Leaf => {
                    if daticert.is_none() && name_is(p.head(), "daticert.xml") {
                        daticert = Some(p);
                    }
                }
            }
        }
        if let Some(p) = daticert {
            let (bytes, problem) = p.contents_checked().ok_or(Error::MessageUnreadable)?;
            let bytes = bytes.into_owned();
            if problem {
                return Err(Error::DaticertEncoding);
            }
            m.daticert = Some(Daticert::parse(&bytes)?);
            m.daticert_raw = Some(bytes);
        }
        if let Some(p) = postacert.or(first_rfc822) {
            let (_, s, e) = p.offsets();
            let cte = p
                .head()
                .content_transfer_encoding()
                .map(lower)
                .unwrap_or_default();
            if cte == "base64" || cte == "quoted-printable" {
                // Not allowed for message/rfc822 (RFC 2046), but seen: keep the decoded bytes.
                if let Some(inner) = p.nested_raw() {
                    m.postacert = Some(Cow::Owned(inner.to_vec()));
                }
            } else if let Some(bytes) = raw.get(s..e) {
                m.postacert = Some(Cow::Borrowed(bytes));
            }
        }
        if let Some(p) = text {
            m.text = p.text_contents();
        }
        m.refine_kind();
        Ok(m)
    }

    /// Refines the header classification with the daticert: virus variants, the breve /
    /// sintetica flavour when `X-TipoRicevuta` is absent, the 24 h final timeout notice.
    fn refine_kind(&mut self) {
        let Some(d) = &self.daticert else { return };
        let virus = d.errore == Errore::Virus;
        self.kind = match &self.kind {
            Kind::NonAccettazione { virus: v } => Kind::NonAccettazione { virus: *v || virus },
            Kind::ErroreConsegna { virus: v } => Kind::ErroreConsegna { virus: *v || virus },
            Kind::PreavvisoErroreConsegna { .. } => Kind::PreavvisoErroreConsegna {
                final_notice: d.is_final_timeout(),
            },
            Kind::AvvenutaConsegna { .. } if self.classification.tipo_ricevuta.is_none() => {
                Kind::AvvenutaConsegna {
                    ricevuta: d.ricevuta.clone().unwrap_or(TipoRicevuta::Completa),
                }
            }
            k => k.clone(),
        };
    }

    /// The raw bytes this message was read from.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
    /// The PEC headers.
    pub fn classification(&self) -> &Classification {
        &self.classification
    }
    /// What the message is (headers, refined by the daticert).
    pub fn kind(&self) -> &Kind {
        &self.kind
    }
    /// `Message-ID`, trimmed, with its angle brackets.
    pub fn message_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }
    /// `X-Riferimento-Message-ID`, trimmed, with its angle brackets.
    pub fn riferimento_message_id(&self) -> Option<&str> {
        self.classification.riferimento_message_id.as_deref()
    }
    /// The address of `From` (the display name, e.g. `Per conto di: …`, is dropped).
    pub fn from(&self) -> Option<&str> {
        self.from.as_deref()
    }
    /// The addresses of `To`.
    pub fn to(&self) -> &[String] {
        &self.to
    }
    /// `Subject`, RFC 2047-decoded.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
    /// `Date`, as written (unfolded, trimmed).
    pub fn date(&self) -> Option<&str> {
        self.date.as_deref()
    }
    /// The signed entity of a `multipart/signed` message: exact bytes from its first header
    /// line to the end of its body (the CRLF before the boundary excluded).
    pub fn signed_entity(&self) -> Option<&'a [u8]> {
        self.signed.and_then(|(s, e)| self.raw.get(s..e))
    }
    /// Whether the message is `multipart/signed` with a PKCS#7 signature part.
    pub fn signature_present(&self) -> bool {
        self.signature_present
    }
    /// The decoded bytes of the `daticert.xml` part.
    pub fn daticert_raw(&self) -> Option<&[u8]> {
        self.daticert_raw.as_deref()
    }
    /// The typed daticert.
    pub fn daticert(&self) -> Option<&Daticert> {
        self.daticert.as_ref()
    }
    /// The exact bytes of `postacert.eml` (the body of the `message/rfc822` part named
    /// `postacert.eml`, else the first `message/rfc822` part, as anomaly envelopes carry it).
    pub fn postacert_raw(&self) -> Option<&[u8]> {
        self.postacert.as_deref()
    }
    /// `postacert.eml` read as a message in its own right (a nested PEC is classified and its
    /// own daticert read). `None` when absent or when [`MAX_NESTING`] is reached.
    pub fn postacert(&self) -> Option<Result<PecMessage<'_>, Error>> {
        if self.depth + 1 >= MAX_NESTING {
            return None;
        }
        let raw = self.postacert.as_deref()?;
        Some(PecMessage::parse_at(raw, self.depth + 1))
    }
    /// The decoded text/plain part (the human-readable text of receipts and envelopes).
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
    /// Whether the daticert `tipo` agrees with the headers (`posta-certificata` for envelopes,
    /// the `X-Ricevuta` value for receipts). `None` without a daticert or for anomalies.
    pub fn daticert_agrees(&self) -> Option<bool> {
        let d = self.daticert.as_ref()?;
        let expected = match &self.kind {
            Kind::BustaTrasporto => TipoDaticert::PostaCertificata,
            Kind::BustaAnomalia | Kind::Mail => return None,
            k => TipoDaticert::parse(k.name()),
        };
        Some(d.tipo == expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.eml` under `dir`.
    fn emls(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                emls(&p, out);
            } else if p.extension().is_some_and(|x| x == "eml") {
                out.push(p);
            }
        }
    }

    /// The scanned reading and the full parse give the same message, for every message of
    /// the corpus and its nested `postacert.eml`.
    #[test]
    fn scanned_and_parsed_readings_agree() {
        let mut files = Vec::new();
        emls(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
            &mut files,
        );
        for f in &files {
            let Ok(raw) = std::fs::read(f) else { continue };
            let lf = String::from_utf8_lossy(&raw)
                .replace("\r\n", "\n")
                .into_bytes();
            for bytes in [raw.as_slice(), lf.as_slice()] {
                let Some(fields) = header_fields(bytes) else {
                    continue;
                };
                let Ok(parsed) = crate::mime::parse::message(bytes) else {
                    continue;
                };
                let full = PecMessage::from_tree(bytes, 0, fields, &Tree::Parsed(parsed));
                let scanned = PecMessage::parse(bytes);
                assert_eq!(
                    format!("{scanned:?}"),
                    format!("{full:?}"),
                    "{}",
                    f.display()
                );
            }
        }
    }
}
