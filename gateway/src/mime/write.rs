//! The small MIME writer the PEC and REM builders share: CRLF everywhere, quoted-printable and
//! base64 bodies, RFC 2047 encoded words for non-ASCII header values, folding, boundaries that
//! cannot occur in the content.

use base64::Engine;

/// Encodes `text` as quoted-printable (RFC 2045 §6.7) with CRLF hard line breaks; the input's
/// line breaks (LF or CRLF) become CRLF.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    // Lines end at LF; a CR just before it is part of the line break (CR LF), any other CR
    // is data (encoded).
    let mut lines = text.split('\n').peekable();
    while let Some(raw) = lines.next() {
        let more = lines.peek().is_some();
        let line = if more {
            raw.strip_suffix('\r').unwrap_or(raw)
        } else {
            raw
        };
        let mut col = 0usize;
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let len = if literal { 1 } else { 3 };
            if col + len > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            col += len;
            if literal {
                out.push(char::from(b));
            } else {
                out.push('=');
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 0x0f));
            }
        }
        if more {
            out.push_str("\r\n");
        }
    }
    out
}

/// The upper-case hexadecimal digit of `n` (below 16).
fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16)
        .unwrap_or('0')
        .to_ascii_uppercase()
}

/// Base64 in lines of 76 characters, each ending with CRLF.
pub fn base64_lines(data: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(b64.len() + b64.len() / 38 + 2);
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(76));
        out.push_str(line);
        out.push_str("\r\n");
        rest = tail;
    }
    out
}

/// A header value ready for the wire: unchanged when printable ASCII, else RFC 2047 `B`
/// encoded words (UTF-8), each under 75 characters, separated by a space.
pub fn encode_header_value(value: &str) -> String {
    encoded_words(value, " ")
}

/// [`encode_header_value`] with the encoded words separated by `separator` (`" "`, or
/// `"\r\n "` to fold between them).
pub fn encoded_words(value: &str, separator: &str) -> String {
    if value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) || b == b'\t')
    {
        return value.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(separator)
}

/// Folds a header value at spaces (inserting CRLF before the space) so that the lines of
/// `Name: value` stay under 78 characters where the words allow. Removing every CRLF unfolds it.
/// A value that fits, or is already folded, is returned unchanged.
pub fn fold(name: &str, value: &str) -> String {
    if value.contains("\r\n") || name.len() + 2 + value.len() <= 78 {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 8);
    let mut line_len = name.len() + 1;
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 {
            if line_len + 1 + word.len() > 78 {
                out.push_str("\r\n");
                line_len = 0;
            }
            out.push(' ');
            line_len += 1;
        } else {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    // The leading space belongs to the `Name: ` separator, not to the value.
    out.split_off(1)
}

/// Writes `Name: value\r\n` (the value as given: fold it first with [`fold`]).
pub fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Converts bare LF to CRLF (existing CRLF untouched).
pub fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    to_crlf_cow(bytes).into_owned()
}

/// [`to_crlf`], borrowing `bytes` when they have no bare LF (the usual case: one scan, no copy).
pub fn to_crlf_cow(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let Some(first) = first_bare_lf(bytes) else {
        return std::borrow::Cow::Borrowed(bytes);
    };
    let (head, rest) = bytes.split_at(first);
    let mut out = Vec::with_capacity(bytes.len() + rest.len() / 32 + 1);
    out.extend_from_slice(head);
    let mut prev = head.last().copied().unwrap_or(0);
    for &b in rest {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    std::borrow::Cow::Owned(out)
}

/// The position of the first LF not preceded by CR.
///
/// Blocks of 64 bytes are judged at once (a branch-free loop the compiler vectorizes: base64
/// and text have an LF every line, which makes a search LF by LF slow); the block that has
/// one is then searched byte by byte.
pub fn first_bare_lf(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 64;
    if bytes.first() == Some(&b'\n') {
        return Some(0);
    }
    // Pairs (bytes[i], bytes[i + 1]): a bare LF at i + 1 is `LF` after anything but `CR`.
    let prev = bytes
        .get(..bytes.len().saturating_sub(1))
        .unwrap_or_default();
    let next = bytes.get(1..).unwrap_or_default();
    for (k, (p, n)) in prev.chunks(BLOCK).zip(next.chunks(BLOCK)).enumerate() {
        let hit = p
            .iter()
            .zip(n)
            .fold(false, |acc, (&a, &b)| acc | ((b == b'\n') & (a != b'\r')));
        if hit {
            let at = p
                .iter()
                .zip(n)
                .position(|(&a, &b)| b == b'\n' && a != b'\r')?;
            return Some(k * BLOCK + at + 1);
        }
    }
    None
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    super::hole::contains(hay, needle)
}

/// A boundary derived from `seed` (so builds are reproducible) that occurs in none of `parts`.
pub fn boundary(seed: &[u8], n: usize, parts: &[&[u8]]) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        &[seed, b"/", n.to_string().as_bytes()].concat(),
    );
    let hex: String = digest
        .as_ref()
        .iter()
        .take(10)
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut candidate = format!("----------=_ponte-{hex}-{n}");
    let mut k = 0u32;
    while parts.iter().any(|p| contains(p, candidate.as_bytes())) {
        k += 1;
        candidate = format!("----------=_ponte-{hex}-{n}.{k}");
    }
    candidate
}

/// Whether every byte is 7-bit ASCII.
pub fn is_7bit(bytes: &[u8]) -> bool {
    bytes.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qp_encodes_latin_and_long_lines() {
        let qp = quoted_printable("è stato\nx = y ");
        assert_eq!(qp, "=C3=A8 stato\r\nx =3D y=20");
        let long = quoted_printable(&"a".repeat(200));
        assert!(long.split("\r\n").all(|l| l.len() <= 76), "{long}");
        assert_eq!(long.replace("=\r\n", ""), "a".repeat(200));
    }

    /// The encoder as it was (CR LF turned into LF first, one `String` per byte): the same
    /// output on inputs with every kind of line end, byte and line length.
    #[test]
    fn qp_matches_the_reference_encoder() {
        fn reference(text: &str) -> String {
            let mut out = String::new();
            let normalized = text.replace("\r\n", "\n");
            let mut lines = normalized.split('\n').peekable();
            while let Some(line) = lines.next() {
                let mut col = 0usize;
                let bytes = line.as_bytes();
                for (i, &b) in bytes.iter().enumerate() {
                    let last = i + 1 == bytes.len();
                    let literal =
                        (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
                    let piece = if literal {
                        (b as char).to_string()
                    } else {
                        format!("={b:02X}")
                    };
                    if col + piece.len() > 75 {
                        out.push_str("=\r\n");
                        col = 0;
                    }
                    col += piece.len();
                    out.push_str(&piece);
                }
                if lines.peek().is_some() {
                    out.push_str("\r\n");
                }
            }
            out
        }
        let long = format!("{}è\t \r\n{}= \r", "x".repeat(73), "y".repeat(80));
        for text in [
            "",
            "\n",
            "\r",
            "\r\n",
            "\r\r\n\n\r",
            "a\rb\r\nc\nd\r",
            "tab\t\nspace \r\nend ",
            "è stato\nx = y ",
            "\u{1}\u{7f}ÿ€😀=",
            long.as_str(),
        ] {
            assert_eq!(quoted_printable(text), reference(text), "{text:?}");
        }
    }

    #[test]
    fn header_encoding() {
        assert_eq!(encode_header_value("plain"), "plain");
        assert_eq!(encode_header_value("è"), "=?UTF-8?B?w6g=?=");
        let value = "a@b.it, ".repeat(20);
        let folded = fold("To", value.trim_end());
        let mut out = Vec::new();
        write_header(&mut out, "To", &folded);
        let s = String::from_utf8(out).unwrap();
        assert!(s.split("\r\n").all(|l| l.len() <= 78), "{s}");
        assert_eq!(folded.replace("\r\n", ""), value.trim_end());
        assert_eq!(fold("X", "short"), "short");
    }

    #[test]
    fn bare_lf_is_found_wherever_it_is() {
        assert_eq!(first_bare_lf(b""), None);
        assert_eq!(first_bare_lf(b"\n"), Some(0));
        assert_eq!(first_bare_lf(b"a\r\nb\r\n"), None);
        for len in [1usize, 63, 64, 65, 127, 128, 200] {
            for at in [0, len / 2, len - 1] {
                let mut v = b"x\r\n"
                    .repeat(len)
                    .into_iter()
                    .take(len)
                    .collect::<Vec<u8>>();
                v.insert(at, b'\n');
                let want = memchr::memchr_iter(b'\n', &v)
                    .find(|&i| i == 0 || v.get(i - 1) != Some(&b'\r'));
                assert_eq!(first_bare_lf(&v), want, "{len} {at}");
            }
        }
    }

    #[test]
    fn boundary_avoids_content() {
        let b0 = boundary(b"x", 1, &[]);
        let b1 = boundary(b"x", 1, &[b0.as_bytes()]);
        assert_ne!(b0, b1);
    }
}
