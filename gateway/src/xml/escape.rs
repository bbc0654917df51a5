//! Character-level work: line-end normalization, reference decoding, attribute-value
//! normalization while reading; text and attribute escaping while canonicalizing.

use std::io::Write;

/// XML 1.0 `Char` production.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// XML 1.0 §2.11: CR LF and lone CR become LF.
pub(crate) fn normalize_line_ends(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\r') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Why a reference could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RefError {
    /// `&name;` with a name other than the five predefined ones.
    Undefined(String),
    /// A malformed or forbidden character reference (`&#...;`).
    BadCharRef(String),
    /// A `&` without a terminating `;`.
    Unterminated,
    /// A literal `<` in an attribute value.
    LtInAttribute,
}

/// Decodes the body of a reference (between `&` and `;`).
pub(crate) fn decode_reference(name: &str) -> Result<char, RefError> {
    match name {
        "lt" => return Ok('<'),
        "gt" => return Ok('>'),
        "amp" => return Ok('&'),
        "apos" => return Ok('\''),
        "quot" => return Ok('"'),
        _ => {}
    }
    let Some(num) = name.strip_prefix('#') else {
        return Err(RefError::Undefined(name.to_owned()));
    };
    let bad = || RefError::BadCharRef(name.to_owned());
    let code = if let Some(hex) = num.strip_prefix('x') {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u32::from_str_radix(hex, 16).map_err(|_| bad())?
    } else {
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        num.parse::<u32>().map_err(|_| bad())?
    };
    match char::from_u32(code) {
        Some(c) if is_xml_char(c) => Ok(c),
        _ => Err(bad()),
    }
}

/// Normalizes a raw attribute value as an XML 1.0 processor does for CDATA attributes
/// (§3.3.3), after line-end normalization: references are decoded, each literal
/// whitespace character (TAB, LF, CR) becomes a space; characters produced by
/// character references are kept as they are. Returns the offset (in `raw`) of the
/// offending reference on error. A value with nothing to change is borrowed.
pub(crate) fn normalize_attribute(
    raw: &str,
) -> Result<std::borrow::Cow<'_, str>, (RefError, usize)> {
    if !raw.contains(['&', '\t', '\n', '\r', '<']) {
        return Ok(std::borrow::Cow::Borrowed(raw));
    }
    let raw = normalize_line_ends(raw);
    let mut out = String::with_capacity(raw.len());
    let mut rest: &str = &raw;
    let mut offset = 0usize;
    while let Some(i) = rest.find(['&', '\t', '\n', '\r', '<']) {
        out.push_str(rest.get(..i).unwrap_or_default());
        let tail = rest.get(i..).unwrap_or_default();
        let mut chars = tail.chars();
        match chars.next() {
            Some('&') => {
                let body = tail.get(1..).unwrap_or_default();
                let Some(end) = body.find(';') else {
                    return Err((RefError::Unterminated, offset + i));
                };
                let name = body.get(..end).unwrap_or_default();
                let c = decode_reference(name).map_err(|e| (e, offset + i))?;
                out.push(c);
                let consumed = i + 1 + end + 1;
                rest = rest.get(consumed..).unwrap_or_default();
                offset += consumed;
            }
            Some('<') => {
                return Err((RefError::LtInAttribute, offset + i));
            }
            _ => {
                out.push(' ');
                rest = tail.get(1..).unwrap_or_default();
                offset += i + 1;
            }
        }
    }
    out.push_str(rest);
    Ok(std::borrow::Cow::Owned(out))
}

/// Writes text content escaped as C14N requires: `&amp;` `&lt;` `&gt;` `&#xD;`.
pub(crate) fn write_text<W: Write + ?Sized>(out: &mut W, s: &str) -> std::io::Result<()> {
    write_escaped(out, s, |c| match c {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    })
}

/// Writes an attribute value escaped as C14N requires: `&amp;` `&lt;` `&quot;` `&#x9;`
/// `&#xA;` `&#xD;`.
pub(crate) fn write_attribute<W: Write + ?Sized>(out: &mut W, s: &str) -> std::io::Result<()> {
    write_escaped(out, s, |c| match c {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    })
}

fn write_escaped<W: Write + ?Sized>(
    out: &mut W,
    s: &str,
    map: impl Fn(u8) -> Option<&'static [u8]>,
) -> std::io::Result<()> {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(rep) = map(b) {
            out.write_all(bytes.get(start..i).unwrap_or_default())?;
            out.write_all(rep)?;
            start = i + 1;
        }
    }
    out.write_all(bytes.get(start..).unwrap_or_default())
}

/// Escapes a string for XML element content or a double-quoted attribute value, as Ponte's
/// writers need it: `&`, `<`, `>`, `"` as entities; CR, TAB and LF as character references
/// (so no reader normalises them away); characters XML 1.0 cannot carry are dropped (a reader
/// would refuse them). Also fit for HTML text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            c if !is_xml_char(c) => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_normalization_follows_3_3_3() {
        assert_eq!(
            normalize_attribute("a\r\nb\tc\rd&#xA;e&#9;&amp;&lt;").unwrap(),
            "a b c d\ne\t&<"
        );
        assert_eq!(
            normalize_attribute("x&foo;"),
            Err((RefError::Undefined("foo".into()), 1))
        );
        assert_eq!(
            normalize_attribute("x&amp"),
            Err((RefError::Unterminated, 1))
        );
        assert!(normalize_attribute("a<b").is_err());
        assert!(normalize_attribute("&#0;").is_err());
        assert!(normalize_attribute("&#xD800;").is_err());
        assert!(normalize_attribute("&#x110000;").is_err());
        assert!(normalize_attribute("&#99999999999;").is_err());
    }

    #[test]
    fn escaping_matches_c14n() {
        let mut v = Vec::new();
        write_text(&mut v, "a&<>\"'\r\n\t").unwrap();
        assert_eq!(v, b"a&amp;&lt;&gt;\"'&#xD;\n\t");
        v.clear();
        write_attribute(&mut v, "a&<>\"'\r\n\t").unwrap();
        assert_eq!(v, b"a&amp;&lt;>&quot;'&#xD;&#xA;&#x9;");
    }

    #[test]
    fn line_ends() {
        assert_eq!(normalize_line_ends("a\r\nb\rc\n"), "a\nb\nc\n");
    }
}
