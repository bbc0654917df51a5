//! Reading a REM message: the top header (with the REM-* metadata), and the sections of the
//! signed `multipart/mixed` by their `REM-Section-Type` (EN 319 532-3 §6.2; rem.md §4.1).
//!
//! Open to what other providers write: a section without `REM-Section-Type` is recognised by
//! its content type or file name, and a note says so; unknown section types are kept as
//! extensions. The original is returned as the exact bytes of the `message/rfc822` body (what
//! the sender digested), never re-serialised.

use base64::Engine;
use mail_parser::MimeHeaders;
use std::borrow::Cow;

use super::{Error, RelayMetadata, header, wire};
use crate::mime;
use crate::mime::tree::{Kind as NodeKind, Node, Tree};

/// The decoded bytes of a section.
fn contents(p: &Node<'_, '_>) -> Result<Vec<u8>, Error> {
    p.contents()
        .map(std::borrow::Cow::into_owned)
        .ok_or_else(|| Error::BadPart {
            part: p
                .head()
                .attachment_name()
                .unwrap_or("a section")
                .to_string(),
            reason: "its body cannot be read".into(),
        })
}

/// The `REM-Section-Type` of a part: an open enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionType {
    /// `rem_message/introduction`.
    Introduction,
    /// `rem_message/original`.
    Original,
    /// `rem_message/extension`.
    Extension,
    /// `rem_message/xml_evidence`.
    XmlEvidence,
    /// `rem_message/pdf_evidence`.
    PdfEvidence,
    /// Any other value, kept as read.
    Other(String),
}

impl SectionType {
    /// Reads a value (case-insensitive).
    pub fn from_value(v: &str) -> SectionType {
        match v.trim().to_ascii_lowercase().as_str() {
            "rem_message/introduction" => SectionType::Introduction,
            "rem_message/original" => SectionType::Original,
            "rem_message/extension" => SectionType::Extension,
            "rem_message/xml_evidence" => SectionType::XmlEvidence,
            "rem_message/pdf_evidence" => SectionType::PdfEvidence,
            _ => SectionType::Other(v.trim().to_string()),
        }
    }

    /// The value as written on the wire.
    pub fn value(&self) -> &str {
        match self {
            SectionType::Introduction => "rem_message/introduction",
            SectionType::Original => "rem_message/original",
            SectionType::Extension => "rem_message/extension",
            SectionType::XmlEvidence => "rem_message/xml_evidence",
            SectionType::PdfEvidence => "rem_message/pdf_evidence",
            SectionType::Other(v) => v,
        }
    }
}

/// An evidence section (XML or PDF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidencePart {
    /// The file name (`SubmissionAcceptance.xml`), or `evidence-<n>` when the part has none.
    pub filename: String,
    /// The decoded bytes (the signed evidence).
    pub bytes: Vec<u8>,
}

/// An extension section (or a section of an unknown type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionPart {
    /// The `REM-Section-Type` as read (`rem_message/extension`, or another value).
    pub section_type: SectionType,
    /// `REM-Extension-Code`.
    pub code: Option<String>,
    /// `REM-Extension-Namespace-URI`.
    pub namespace: Option<String>,
    /// The file name, if any.
    pub filename: Option<String>,
    /// The media type, lower-cased.
    pub content_type: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
}

/// A REM message as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemMessage<'a> {
    /// The top header fields in order: name as written, value unfolded, trimmed, RFC 2047
    /// encoded words decoded (in mailbox lists, mailbox by mailbox: a decoded display name
    /// holding a special is quoted).
    pub header_fields: Vec<(String, String)>,
    /// `Subject`.
    pub subject: Option<String>,
    /// `Message-ID` (with `<>`).
    pub message_id: Option<String>,
    /// `From`.
    pub from: Option<String>,
    /// `To`, one mailbox per entry.
    pub to: Vec<String>,
    /// `Date`, as written.
    pub date: Option<String>,
    /// The REM-* relay metadata.
    pub metadata: RelayMetadata,
    /// The introduction's text/plain alternative, decoded.
    pub intro_text: Option<String>,
    /// The original: the exact bytes of the `message/rfc822` body (as digested), borrowed
    /// from the message read when it is carried in binary (as 532-3 asks).
    pub original: Option<Cow<'a, [u8]>>,
    /// The XML evidences, in order.
    pub evidences: Vec<EvidencePart>,
    /// The PDF evidences, in order.
    pub pdf_evidences: Vec<EvidencePart>,
    /// Extensions and sections of unknown type.
    pub extensions: Vec<ExtensionPart>,
    /// Whether the top level is `multipart/signed`.
    pub signed: bool,
    /// What was read leniently (missing `REM-Section-Type`, LF line endings...).
    pub notes: Vec<String>,
}

impl RemMessage<'_> {
    /// The same message owning its original.
    pub fn into_owned(self) -> RemMessage<'static> {
        RemMessage {
            original: self.original.map(|o| Cow::Owned(o.into_owned())),
            header_fields: self.header_fields,
            subject: self.subject,
            message_id: self.message_id,
            from: self.from,
            to: self.to,
            date: self.date,
            metadata: self.metadata,
            intro_text: self.intro_text,
            evidences: self.evidences,
            pdf_evidences: self.pdf_evidences,
            extensions: self.extensions,
            signed: self.signed,
            notes: self.notes,
        }
    }

    /// The first top header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The raw header fields of a part.
fn part_fields(raw: &[u8], p: &Node<'_, '_>) -> Vec<(String, String)> {
    let (h, b, _) = p.offsets();
    let block = raw.get(h..b).unwrap_or_default();
    wire::fields(block)
        .iter()
        .map(|f| (f.name.clone(), f.unfolded()))
        .collect()
}

fn field<'f>(fields: &'f [(String, String)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The exact body bytes of a part, transfer-decoded only when base64 or quoted-printable.
fn original_bytes<'r>(
    raw: &'r [u8],
    p: &Node<'_, '_>,
    notes: &mut Vec<String>,
) -> Result<Cow<'r, [u8]>, Error> {
    let (_, b, e) = p.offsets();
    let body = raw.get(b..e).unwrap_or_default();
    // mail-parser ends the part before the CRLF that belongs to the boundary delimiter
    // (RFC 2046 §5.1.1), so this is the body exactly as digested.
    let cte = p
        .head()
        .content_transfer_encoding()
        .map(|c| c.trim().to_ascii_lowercase());
    match cte.as_deref() {
        Some("base64") => {
            let clean: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            notes.push("original transferred in base64 (532-3 asks for binary)".into());
            base64::engine::general_purpose::STANDARD
                .decode(&clean)
                .map(Cow::Owned)
                .map_err(|e| Error::BadPart {
                    part: "AttachedMimeMessage".into(),
                    reason: format!("base64: {e}"),
                })
        }
        Some("quoted-printable") => Err(Error::BadPart {
            part: "AttachedMimeMessage".into(),
            reason: "quoted-printable original: its digest bytes cannot be recovered exactly"
                .into(),
        }),
        _ => Ok(Cow::Borrowed(body)),
    }
}

/// The top header fields holding mailbox lists: their encoded words are decoded mailbox by
/// mailbox ([`wire::decode_mailboxes`]).
const ADDRESS_FIELDS: [&str; 6] = ["From", "To", "Cc", "Reply-To", "Sender", header::MD08];

/// The top header fields: unfolded, encoded words decoded (mailbox by mailbox in the
/// address fields).
fn top_fields(block: &[u8]) -> Vec<(String, String)> {
    wire::fields(block)
        .iter()
        .map(|f| {
            let value = f.unfolded();
            let value = if ADDRESS_FIELDS
                .iter()
                .any(|a| f.name.eq_ignore_ascii_case(a))
            {
                wire::decode_mailboxes(&value)
            } else {
                wire::decode_words(&value)
            };
            (f.name.clone(), value)
        })
        .collect()
}

/// Parses a REM message (CRLF or LF-stored).
pub fn parse(bytes: &[u8]) -> Result<RemMessage<'_>, Error> {
    match mime::canonicalize(bytes) {
        Cow::Borrowed(b) => parse_canonical(b, false).map(|(m, _)| m),
        Cow::Owned(v) => parse_canonical(&v, true).map(|(m, _)| m.into_owned()),
    }
}

/// [`parse`] of a message already in canonical form (`lf_converted`: made so from LF line
/// endings); also gives the structure read (for the S/MIME verification of the same bytes).
pub(crate) fn parse_canonical(
    raw: &[u8],
    lf_converted: bool,
) -> Result<(RemMessage<'_>, Tree<'_>), Error> {
    let mut notes = Vec::new();
    if lf_converted {
        notes.push("message stored with LF line endings: read in CRLF form".to_string());
    }
    let block_end = wire::header_end(raw).map_or(raw.len(), |(_, blank)| blank);
    let header_fields = top_fields(raw.get(..block_end).unwrap_or_default());
    let metadata = RelayMetadata::from_headers(&header_fields)?;

    // Scanned (only the small sections are decoded), or parsed in full when the scanner
    // declines; both walked the same way.
    let tree = Tree::read(raw)?;
    let message = from_tree(raw, &tree, header_fields, metadata, notes)?;
    Ok((message, tree))
}

fn from_tree<'r>(
    raw: &'r [u8],
    tree: &Tree<'_>,
    header_fields: Vec<(String, String)>,
    metadata: RelayMetadata,
    mut notes: Vec<String>,
) -> Result<RemMessage<'r>, Error> {
    let top = |name: &str| field(&header_fields, name).map(str::to_string);
    let root = tree
        .root()
        .ok_or_else(|| Error::NotMixed("no header section".into()))?;
    let root_type = root.media_type();
    let signed = root_type == "multipart/signed";
    let content = if signed {
        match root.kind() {
            NodeKind::Multipart(c) => c.into_iter().next(),
            _ => None,
        }
        .ok_or_else(|| Error::NotMixed("an empty multipart/signed".into()))?
    } else {
        notes.push(format!("not signed: the top level is {root_type}"));
        root
    };
    let content_type = content.media_type();
    if content_type != "multipart/mixed" {
        return Err(Error::NotMixed(content_type));
    }

    let mut intro_text = None;
    let mut intros = 0usize;
    let mut original = None;
    let mut originals = 0usize;
    let mut evidences = Vec::new();
    let mut pdf_evidences = Vec::new();
    let mut extensions = Vec::new();
    let sections = match content.kind() {
        NodeKind::Multipart(c) => c,
        _ => Vec::new(),
    };
    for (n, part) in sections.into_iter().enumerate() {
        let fields = part_fields(raw, &part);
        let ctype = part.media_type();
        let filename = part.head().attachment_name().map(str::to_string);
        let declared = field(&fields, header::SECTION_TYPE).map(SectionType::from_value);
        let section = match declared {
            Some(s) => s,
            None => {
                let lower = filename.as_deref().map(str::to_ascii_lowercase);
                let guessed = if ctype == "multipart/alternative"
                    || (n == 0 && ctype.starts_with("text/"))
                {
                    SectionType::Introduction
                } else if ctype == "message/rfc822" {
                    SectionType::Original
                } else if ctype == "application/pdf" {
                    SectionType::PdfEvidence
                } else if ctype.ends_with("/xml") || lower.is_some_and(|f| f.ends_with(".xml")) {
                    SectionType::XmlEvidence
                } else {
                    SectionType::Extension
                };
                notes.push(format!(
                    "part {} ({ctype}) has no REM-Section-Type: read as {}",
                    n + 1,
                    guessed.value()
                ));
                guessed
            }
        };
        match section {
            SectionType::Introduction => {
                intros += 1;
                let text = match part.kind() {
                    NodeKind::Multipart(children) => children
                        .into_iter()
                        .find(|p| p.media_type() == "text/plain")
                        .and_then(|p| p.text_contents()),
                    _ => part.text_contents(),
                };
                if intro_text.is_none() {
                    intro_text = text;
                }
            }
            SectionType::Original => {
                originals += 1;
                if original.is_none() {
                    original = Some(original_bytes(raw, &part, &mut notes)?);
                }
            }
            SectionType::XmlEvidence | SectionType::PdfEvidence => {
                let e = EvidencePart {
                    filename: filename.unwrap_or_else(|| format!("evidence-{}", n + 1)),
                    bytes: contents(&part)?,
                };
                if section == SectionType::XmlEvidence {
                    evidences.push(e);
                } else {
                    pdf_evidences.push(e);
                }
            }
            SectionType::Extension | SectionType::Other(_) => extensions.push(ExtensionPart {
                code: field(&fields, "REM-Extension-Code").map(str::to_string),
                namespace: field(&fields, "REM-Extension-Namespace-URI").map(str::to_string),
                section_type: section,
                filename,
                content_type: ctype,
                bytes: contents(&part)?,
            }),
        }
    }
    if intros > 1 {
        return Err(Error::TooManySections {
            section: "rem_message/introduction",
            count: intros,
        });
    }
    if originals > 1 {
        return Err(Error::TooManySections {
            section: "rem_message/original",
            count: originals,
        });
    }
    if intros == 0 {
        notes.push("no introduction section".into());
    }
    let to = top("To").map(|t| wire::split_list(&t)).unwrap_or_default();
    Ok(RemMessage {
        subject: top("Subject"),
        message_id: top("Message-ID"),
        from: top("From"),
        to,
        date: top("Date"),
        header_fields,
        metadata,
        intro_text,
        original,
        evidences,
        pdf_evidences,
        extensions,
        signed,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The scanned reading and the full parse give the same REM message for every message of
    /// the corpus (as stored and with LF endings).
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
                let scanned = parse(bytes);
                // The same, over mail-parser's full parse.
                let full = (|| {
                    let canonical = mime::canonicalize(bytes);
                    let raw: &[u8] = &canonical;
                    let mut notes = Vec::new();
                    if matches!(canonical, std::borrow::Cow::Owned(_)) {
                        notes.push(
                            "message stored with LF line endings: read in CRLF form".to_string(),
                        );
                    }
                    let block_end = wire::header_end(raw).map_or(raw.len(), |(_, blank)| blank);
                    let fields = top_fields(raw.get(..block_end).unwrap_or_default());
                    let metadata = RelayMetadata::from_headers(&fields)?;
                    let tree = Tree::Parsed(mime::parse::message(raw)?);
                    from_tree(raw, &tree, fields, metadata, notes).map(RemMessage::into_owned)
                })();
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
