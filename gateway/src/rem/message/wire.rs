//! The small wire helpers of REM messages: header sections split into fields (unfolded),
//! RFC 2047 encoded words both ways, quoted-printable and base64 bodies, boundaries absent from
//! the content, RFC 5322 dates.

use base64::Engine;
use time::OffsetDateTime;

/// One header field as found: the name, the raw value (folded, as written, without the final
/// CRLF) and the byte range of the whole field (name to final CRLF included) in the block.
#[derive(Debug, Clone)]
pub struct RawField {
    pub name: String,
    pub raw_value: Vec<u8>,
    pub start: usize,
    pub end: usize,
}

impl RawField {
    /// The value unfolded (CRLF/LF before white space removed) and trimmed, lossy UTF-8.
    pub fn unfolded(&self) -> String {
        let mut out = Vec::with_capacity(self.raw_value.len());
        for &b in &self.raw_value {
            if b != b'\r' && b != b'\n' {
                out.push(b);
            }
        }
        String::from_utf8_lossy(&out).trim().to_string()
    }
}

/// Where the header section of `bytes` ends: the offset of the body (after the empty line),
/// and the offset where the empty line starts. `None` when there is no empty line.
pub fn header_end(bytes: &[u8]) -> Option<(usize, usize)> {
    if bytes.starts_with(b"\r\n") {
        return Some((2, 0));
    }
    if bytes.starts_with(b"\n") {
        return Some((1, 0));
    }
    let mut i = 0;
    while let Some(pos) = bytes
        .get(i..)
        .and_then(|s| s.iter().position(|&b| b == b'\n'))
    {
        let nl = i + pos;
        let after = nl + 1;
        match bytes.get(after..) {
            Some([b'\r', b'\n', ..]) => return Some((after + 2, after)),
            Some([b'\n', ..]) => return Some((after + 1, after)),
            _ => {}
        }
        i = after;
    }
    None
}

/// Splits a header block (without the empty line) into fields. Lines that are neither a field
/// nor a continuation are skipped (they are not fields).
pub fn fields(block: &[u8]) -> Vec<RawField> {
    let mut out: Vec<RawField> = Vec::new();
    let mut pos = 0usize;
    while pos < block.len() {
        let rest = block.get(pos..).unwrap_or_default();
        let line_len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1);
        let line = rest.get(..line_len).unwrap_or_default();
        let start = pos;
        pos += line_len;
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(last) = out.last_mut() {
                last.raw_value.extend_from_slice(line);
                last.end = pos;
                trim_eol(&mut last.raw_value);
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line.get(..colon).unwrap_or_default();
        if name.is_empty() || !name.iter().all(|b| (33..=126).contains(b)) {
            continue;
        }
        let mut value = line.get(colon + 1..).unwrap_or_default().to_vec();
        trim_eol(&mut value);
        out.push(RawField {
            name: String::from_utf8_lossy(name).into_owned(),
            raw_value: value,
            start,
            end: pos,
        });
    }
    out
}

fn trim_eol(v: &mut Vec<u8>) {
    if v.last() == Some(&b'\n') {
        v.pop();
    }
    if v.last() == Some(&b'\r') {
        v.pop();
    }
}

/// Decodes RFC 2047 encoded words (B and Q; UTF-8, US-ASCII and ISO-8859-1); white space
/// between two encoded words is dropped; other charsets are left encoded.
pub fn decode_words(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut pending_space = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("=?")
            && let Some((decoded, used)) = decode_one(after)
        {
            if !last_was_word {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            out.push_str(&decoded);
            rest = rest.get(2 + used..).unwrap_or_default();
            last_was_word = true;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
        if c == ' ' || c == '\t' {
            pending_space.push(c);
            continue;
        }
        out.push_str(&pending_space);
        pending_space.clear();
        out.push(c);
        last_was_word = false;
    }
    out.push_str(&pending_space);
    out
}

/// Decodes `charset?enc?text?=` (after `=?`); returns the text and the bytes used.
fn decode_one(s: &str) -> Option<(String, usize)> {
    let mut it = s.splitn(3, '?');
    let charset = it.next()?;
    let enc = it.next()?;
    let tail = it.next()?;
    let end = tail.find("?=")?;
    let text = tail.get(..end)?;
    if text.contains(' ') {
        return None;
    }
    let bytes = match enc {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "Q" | "q" => {
            let mut v = Vec::with_capacity(text.len());
            let b = text.as_bytes();
            let mut i = 0;
            while let Some(&c) = b.get(i) {
                match c {
                    b'_' => v.push(b' '),
                    b'=' => {
                        let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                        v.push(u8::from_str_radix(h, 16).ok()?);
                        i += 2;
                    }
                    other => v.push(other),
                }
                i += 1;
            }
            v
        }
        _ => return None,
    };
    let cs = charset
        .split('*')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let decoded = match cs.as_str() {
        "utf-8" | "us-ascii" => String::from_utf8_lossy(&bytes).into_owned(),
        "iso-8859-1" | "latin1" => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => return None,
    };
    Some((decoded, charset.len() + enc.len() + end + 4))
}

/// An unstructured value ready for the wire: unchanged when printable ASCII, else RFC 2047
/// `B` encoded words (UTF-8), folded between the words.
pub fn encode_unstructured(value: &str) -> String {
    crate::mime::write::encoded_words(value, "\r\n ")
}

pub use crate::mime::write::{base64_lines, boundary, fold, quoted_printable};

/// A mailbox list (`"Name" <a@b>, <c@d>`) ready for the wire: display names holding
/// non-ASCII become encoded words; addresses are left as they are (SMTPUTF8 addresses stay
/// UTF-8). Commas inside quotes or angle brackets do not split.
pub fn encode_mailboxes(value: &str) -> String {
    if value.is_ascii() {
        return value.to_string();
    }
    split_list(value)
        .iter()
        .map(|m| {
            let m = m.trim();
            match m.rfind('<') {
                Some(lt) if lt > 0 => {
                    let (name, addr) = m.split_at(lt);
                    let name = name.trim();
                    let bare = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                        Some(quoted) => unquote(quoted),
                        None => name.to_string(),
                    };
                    if bare.is_ascii() {
                        m.to_string()
                    } else {
                        format!("{} {addr}", encode_unstructured(&bare))
                    }
                }
                _ => m.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",\r\n ")
}

/// The content of a quoted string (without its quotes) with its quoted pairs resolved.
fn unquote(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut escaped = false;
    for c in quoted.chars() {
        if c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// RFC 5322 `specials` (and the quote and backslash a quoted string must escape): a display
/// name holding one is written as a quoted string.
fn needs_quotes(name: &str) -> bool {
    name.contains([
        '(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '.', '"',
    ])
}

/// Decodes the encoded words of a mailbox list (`From`, `To`, `Cc`, `Reply-To`, `REM-MD08`)
/// without changing its structure: the list is split first, and a decoded display name that
/// holds a comma, a quote or another special is written back as a quoted string. (Decoding the
/// whole value first would turn `=?UTF-8?B?...?= <a@b>` whose name is `Rossi, Mario` into two
/// mailboxes.) A value without encoded words is returned unchanged.
pub fn decode_mailboxes(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    split_list(value)
        .iter()
        .map(|m| match m.rfind('<') {
            Some(lt) if lt > 0 => {
                let (name, addr) = m.split_at(lt);
                let name = name.trim();
                let (bare, was_quoted) =
                    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                        Some(q) => (unquote(q), true),
                        None => (name.to_string(), false),
                    };
                let decoded = decode_words(&bare);
                if decoded == bare {
                    return m.clone();
                }
                if was_quoted || needs_quotes(&decoded) {
                    let escaped = decoded.replace('\\', "\\\\").replace('"', "\\\"");
                    format!("\"{escaped}\" {addr}")
                } else {
                    format!("{decoded} {addr}")
                }
            }
            _ => decode_words(m),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits a list at commas outside quotes and angle brackets.
pub fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            cur.push(c);
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    let last = cur.trim();
    if !last.is_empty() {
        out.push(last.to_string());
    }
    out.retain(|s| !s.is_empty());
    out
}

/// An RFC 5322 date (`Wed, 03 Aug 2022 16:22:11 +0200`).
pub fn rfc5322_date(t: OffsetDateTime) -> Result<String, String> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
    );
    t.format(&fmt).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_unfold_and_keep_ranges() {
        let block = b"A: 1\r\nB: two\r\n\tlines\r\nbogus line\r\nC:3\r\n";
        let f = fields(block);
        assert_eq!(f.len(), 3);
        assert_eq!(f[1].unfolded(), "two\tlines");
        assert_eq!(&block[f[1].start..f[1].end], b"B: two\r\n\tlines\r\n");
        assert_eq!(f[2].unfolded(), "3");
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), Some((8, 6)));
        assert_eq!(header_end(b"A: b\n\nbody"), Some((6, 5)));
        assert_eq!(header_end(b"A: b\r\n"), None);
    }

    #[test]
    fn encoded_words_round_trip() {
        let s = "Perché è così – a long subject that needs more than one encoded word";
        let e = encode_unstructured(s);
        assert!(e.is_ascii());
        assert_eq!(decode_words(&e.replace("\r\n", "")), s);
        assert_eq!(
            decode_words("=?iso-8859-1?Q?caf=E9_au?= lait"),
            "café au lait"
        );
        assert_eq!(decode_words("plain  text"), "plain  text");
        assert_eq!(decode_words("=?x-unknown?B?AAAA?="), "=?x-unknown?B?AAAA?=");
        let m = encode_mailboxes("\"Zoë\" <z@x.it>, <y@x.it>");
        assert!(m.is_ascii() && m.ends_with("<y@x.it>"), "{m}");
        assert_eq!(
            split_list("\"a, b\" <a@x>, c@y"),
            vec!["\"a, b\" <a@x>", "c@y"]
        );
    }

    #[test]
    fn mailbox_lists_keep_their_structure_when_decoded() {
        // Found by fuzz/fuzz_targets/rem_prepare.rs (build(parse(x)) changed REM-MD08): the
        // encoded display name was decoded over the whole value, so a name holding a comma
        // split one recipient in two.
        let to = encode_mailboxes("\"Rossi, Mario è\" <m@x.it>, <b@y.it>");
        assert!(!to.contains("Rossi"), "{to}");
        let decoded = decode_mailboxes(&to.replace("\r\n", ""));
        assert_eq!(decoded, "\"Rossi, Mario è\" <m@x.it>, <b@y.it>");
        assert_eq!(split_list(&decoded).len(), 2);
        // Quoted pairs are resolved before encoding, and escaped again when quoting.
        let q = encode_mailboxes(r#""Tè \"x\" \\" <a@b>"#);
        assert_eq!(decode_mailboxes(&q), r#""Tè \"x\" \\" <a@b>"#);
        // No special: no quotes; no encoded word: unchanged.
        assert_eq!(decode_mailboxes("=?UTF-8?B?w6g=?= <a@b>"), "è <a@b>");
        assert_eq!(decode_mailboxes("\"a, b\" <a@b>,c@d"), "\"a, b\" <a@b>,c@d");
    }

    #[test]
    fn folding_keeps_the_value() {
        let v = "word ".repeat(40);
        let f = fold("Subject", v.trim_end());
        assert!(f.split("\r\n").all(|l| l.len() <= 78));
        assert_eq!(f.replace("\r\n", ""), v.trim_end());
        assert_eq!(fold("Subject", "short"), "short");
    }

    #[test]
    fn qp_lines_stay_short() {
        let qp = quoted_printable(&format!("è {}\nend ", "x".repeat(200)));
        assert!(qp.split("\r\n").all(|l| l.len() <= 76));
        assert!(qp.starts_with("=C3=A8 "));
        assert!(qp.ends_with("end=20"));
    }
}
