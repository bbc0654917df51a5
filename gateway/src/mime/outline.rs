//! The structure of a message as a few lines of text, for golden files and for operators who
//! want to see what Ponte produced without its values.
//!
//! An outline keeps what a type of message must always look like and drops what changes from
//! one message to the next: the MIME tree (content types, the parameters that matter, file
//! names, `REM-Section-Type` markers), the names of the top-level header fields in order, the
//! values of the header fields that *are* structure (`X-Ricevuta`, `REM-MessageType`, ...), and
//! the subject prefix up to its first `": "`. Identifiers, dates, addresses, boundaries and
//! bodies never appear, so two messages of the same type give the same outline, and an LF-stored
//! copy gives the same outline as the CRLF original.

use std::fmt::Write as _;

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::Error;

/// Header fields whose value is part of the structure (compared case-insensitively).
const STRUCTURAL: &[&str] = &[
    "MIME-Version",
    "X-Ricevuta",
    "X-Trasporto",
    "X-TipoRicevuta",
    "X-VerificaSicurezza",
    "REM-MetadataVersion",
    "REM-MessageType",
    "REM-EventIdentifier",
    "REM-ReasonIdentifier",
    "REM-DigestAlgorithm",
    "REM-ApplicablePolicy",
    "REM-RelayToNonERDS",
];

/// Content-Type parameters that are structure (others, like `boundary`, are not).
const PARAMETERS: &[&str] = &["protocol", "micalg", "smime-type", "charset"];

/// Part header fields shown beside the content type.
const PART_FIELDS: &[&str] = &["REM-Section-Type", "REM-Extension-Code"];

/// How deep nested messages and multiparts are followed.
const MAX_DEPTH: usize = 16;

/// The outline of `raw` (a whole message, LF or CRLF).
pub fn outline(raw: &[u8]) -> Result<String, Error> {
    let canonical = super::canonicalize(raw);
    let msg = super::parse::message(&canonical)?;
    let mut out = String::new();
    let top = header_fields(&msg, 0);
    out.push_str("headers:");
    for (name, _) in &top {
        out.push(' ');
        out.push_str(name);
    }
    out.push('\n');
    for (name, value) in &top {
        if STRUCTURAL.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            let _ = writeln!(out, "{name}: {}", squeeze(value));
        }
        if name.eq_ignore_ascii_case("Subject") {
            let v = squeeze(value);
            match v.find(": ") {
                Some(i) => {
                    let _ = writeln!(out, "subject prefix: {}", &v[..i + 2]);
                }
                None => out.push_str("subject prefix: (none)\n"),
            }
        }
    }
    part(&msg, 0, 0, &mut out);
    Ok(out)
}

/// The header fields of part `id` of `msg`: names as written, values raw and unfolded.
fn header_fields(msg: &Message<'_>, id: usize) -> Vec<(String, String)> {
    let Some(p) = msg.parts.get(id) else {
        return Vec::new();
    };
    p.headers()
        .iter()
        .map(|h| {
            let raw = msg
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            (h.name.as_str().to_string(), raw)
        })
        .collect()
}

/// Unfolds and trims a raw header value.
fn squeeze(v: &str) -> String {
    v.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe(msg: &Message<'_>, id: usize, p: &MessagePart<'_>) -> String {
    let mut line = match p.content_type() {
        Some(ct) => {
            let mut s = ct.ctype().to_ascii_lowercase();
            if let Some(sub) = ct.subtype() {
                s.push('/');
                s.push_str(&sub.to_ascii_lowercase());
            }
            for name in PARAMETERS {
                if let Some(v) = ct.attribute(name) {
                    let _ = write!(s, " {name}={}", v.to_ascii_lowercase());
                }
            }
            s
        }
        None => "(no content-type: text/plain)".to_string(),
    };
    if let Some(name) = p.attachment_name() {
        let _ = write!(line, " file={name}");
    }
    if let Some(cte) = p.content_transfer_encoding() {
        let _ = write!(line, " cte={}", cte.to_ascii_lowercase());
    }
    for (name, value) in header_fields(msg, id) {
        if PART_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(&name)) {
            let _ = write!(line, " [{name}: {}]", squeeze(&value));
        }
    }
    line
}

fn part(msg: &Message<'_>, id: usize, depth: usize, out: &mut String) {
    let Some(p) = msg.parts.get(id) else {
        return;
    };
    let indent = "  ".repeat(depth);
    let _ = writeln!(out, "{indent}{}", describe(msg, id, p));
    if depth >= MAX_DEPTH {
        let _ = writeln!(out, "{indent}  (deeper parts not shown)");
        return;
    }
    match &p.body {
        PartType::Multipart(children) => {
            for c in children {
                part(msg, *c as usize, depth + 1, out);
            }
        }
        PartType::Message(inner) => {
            // The carried message: its tree, not its header fields (they belong to the user).
            part(inner, 0, depth + 1, out);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "From: a@example.org\r\nSubject: CONSEGNA: hello: there\r\nX-Ricevuta: avvenuta-consegna\r\nMessage-ID: <1@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhi\r\n--b\r\nContent-Type: application/xml; name=daticert.xml\r\nContent-Disposition: attachment; filename=daticert.xml\r\n\r\n<x/>\r\n--b--\r\n";

    #[test]
    fn keeps_structure_and_drops_values() {
        let o = outline(SAMPLE.as_bytes()).unwrap();
        assert!(o.starts_with(
            "headers: From Subject X-Ricevuta Message-ID MIME-Version Content-Type\n"
        ));
        assert!(o.contains("X-Ricevuta: avvenuta-consegna\n"));
        assert!(o.contains("subject prefix: CONSEGNA: \n"));
        assert!(o.contains("multipart/mixed\n"));
        assert!(o.contains("  text/plain charset=utf-8\n"));
        assert!(o.contains("  application/xml file=daticert.xml\n"));
        assert!(!o.contains("a@example.org"));
        assert!(!o.contains("<1@x>"));
    }

    #[test]
    fn lf_and_crlf_give_the_same_outline() {
        let lf = SAMPLE.replace("\r\n", "\n");
        assert_eq!(
            outline(SAMPLE.as_bytes()).unwrap(),
            outline(lf.as_bytes()).unwrap()
        );
    }

    #[test]
    fn different_types_differ() {
        let other = SAMPLE.replace("avvenuta-consegna", "accettazione");
        assert_ne!(
            outline(SAMPLE.as_bytes()).unwrap(),
            outline(other.as_bytes()).unwrap()
        );
    }
}
