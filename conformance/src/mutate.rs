//! Changes made to a case's input before the subject sees it: a corpus artefact is read in
//! place and altered in memory (tampered content, a removed header, an inserted DOCTYPE), so
//! negative cases derived from real artefacts need no copy of them. Every mutation must find
//! what it changes: one that does not is an error of the case, never a silent no-op.

use base64::Engine;

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Replace the `occurrence`-th (1-based; 0 = every) occurrence of `find` by `with`.
    Replace {
        /// What to find.
        find: Vec<u8>,
        /// What to put instead.
        with: Vec<u8>,
        /// Which occurrence (0 = all).
        occurrence: usize,
    },
    /// XOR `0x01` into the byte `offset` bytes after the end of the first `anchor`.
    Flip {
        /// Where to count from.
        anchor: Vec<u8>,
        /// How far after it.
        offset: usize,
    },
    /// Insert `text` before or after the first `anchor`.
    Insert {
        /// Where.
        anchor: Vec<u8>,
        /// Before (true) or after it.
        before: bool,
        /// What.
        text: Vec<u8>,
    },
    /// Remove the top-level header field `name` (its `occurrence`-th, 0 = every one).
    DeleteHeader {
        /// The field name.
        name: String,
        /// Which occurrence (0 = all).
        occurrence: usize,
    },
    /// Repeat the first top-level header field `name` right after itself.
    DuplicateHeader {
        /// The field name.
        name: String,
    },
    /// Give the first top-level header field `name` this value.
    SetHeader {
        /// The field name.
        name: String,
        /// The new value.
        value: String,
    },
    /// Add a top-level header field at the top.
    AddHeader {
        /// The field name.
        name: String,
        /// Its value.
        value: String,
    },
    /// Convert every line ending to LF (`lf`) or CRLF (`crlf`).
    LineEndings {
        /// `true` for CRLF.
        crlf: bool,
    },
    /// Keep only the first `len` bytes.
    Truncate {
        /// How many.
        len: usize,
    },
    /// Decode the base64 body of the first MIME part whose header block mentions `part`
    /// (its file name), apply `then` to the decoded bytes, and encode it back (same line
    /// length).
    Base64Part {
        /// What the part's header block contains (`smime.p7s`, `daticert.xml`).
        part: String,
        /// The changes to its decoded content.
        then: Vec<Mutation>,
    },
}

fn str_of(t: &toml::Table, k: &str) -> Result<Option<String>, String> {
    match t.get(k) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{k} must be a string")),
    }
}

fn usize_of(t: &toml::Table, k: &str, default: usize) -> Result<usize, String> {
    match t.get(k) {
        None => Ok(default),
        Some(toml::Value::Integer(i)) if *i >= 0 => {
            usize::try_from(*i).map_err(|_| format!("{k} too large"))
        }
        Some(_) => Err(format!("{k} must be a non-negative integer")),
    }
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !clean.len().is_multiple_of(2) {
        return Err(format!("{s:?}: odd number of hex digits"));
    }
    clean
        .chunks(2)
        .map(|c| {
            std::str::from_utf8(c)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("{s:?}: not hex"))
        })
        .collect()
}

impl Mutation {
    /// Reads one `[[case.mutate]]` table. The kind is named by its first key: `replace`
    /// (+ `with`, `occurrence`), `replace_hex` (+ `with_hex`, `occurrence`), `flip_after`
    /// (+ `offset`), `insert_before` / `insert_after` (+ `text`), `delete_header`
    /// (+ `occurrence`), `duplicate_header`, `set_header` (+ `value`), `add_header`
    /// (+ `value`), `line_endings` (`lf` | `crlf`), `truncate`, `base64_part` (+ `then`, a
    /// list of these tables).
    pub fn from_toml(t: &toml::Table) -> Result<Mutation, String> {
        let allowed: &[&str];
        let m = if let Some(find) = str_of(t, "replace")? {
            allowed = &["replace", "with", "occurrence"];
            Mutation::Replace {
                find: find.into_bytes(),
                with: str_of(t, "with")?.ok_or("replace needs with")?.into_bytes(),
                occurrence: usize_of(t, "occurrence", 1)?,
            }
        } else if let Some(find) = str_of(t, "replace_hex")? {
            allowed = &["replace_hex", "with_hex", "occurrence"];
            Mutation::Replace {
                find: hex(&find)?,
                with: hex(&str_of(t, "with_hex")?.ok_or("replace_hex needs with_hex")?)?,
                occurrence: usize_of(t, "occurrence", 1)?,
            }
        } else if let Some(anchor) = str_of(t, "flip_after")? {
            allowed = &["flip_after", "offset"];
            Mutation::Flip {
                anchor: anchor.into_bytes(),
                offset: usize_of(t, "offset", 0)?,
            }
        } else if let Some(anchor) = str_of(t, "insert_before")? {
            allowed = &["insert_before", "text"];
            Mutation::Insert {
                anchor: anchor.into_bytes(),
                before: true,
                text: str_of(t, "text")?.ok_or("insert needs text")?.into_bytes(),
            }
        } else if let Some(anchor) = str_of(t, "insert_after")? {
            allowed = &["insert_after", "text"];
            Mutation::Insert {
                anchor: anchor.into_bytes(),
                before: false,
                text: str_of(t, "text")?.ok_or("insert needs text")?.into_bytes(),
            }
        } else if let Some(name) = str_of(t, "delete_header")? {
            allowed = &["delete_header", "occurrence"];
            Mutation::DeleteHeader {
                name,
                occurrence: usize_of(t, "occurrence", 0)?,
            }
        } else if let Some(name) = str_of(t, "duplicate_header")? {
            allowed = &["duplicate_header"];
            Mutation::DuplicateHeader { name }
        } else if let Some(name) = str_of(t, "set_header")? {
            allowed = &["set_header", "value"];
            Mutation::SetHeader {
                name,
                value: str_of(t, "value")?.ok_or("set_header needs value")?,
            }
        } else if let Some(name) = str_of(t, "add_header")? {
            allowed = &["add_header", "value"];
            Mutation::AddHeader {
                name,
                value: str_of(t, "value")?.ok_or("add_header needs value")?,
            }
        } else if let Some(le) = str_of(t, "line_endings")? {
            allowed = &["line_endings"];
            Mutation::LineEndings {
                crlf: match le.as_str() {
                    "crlf" => true,
                    "lf" => false,
                    other => return Err(format!("line_endings {other:?}: lf or crlf")),
                },
            }
        } else if t.contains_key("truncate") {
            allowed = &["truncate"];
            Mutation::Truncate {
                len: usize_of(t, "truncate", 0)?,
            }
        } else if let Some(part) = str_of(t, "base64_part")? {
            allowed = &["base64_part", "then"];
            let then = match t.get("then") {
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .map(|v| match v {
                        toml::Value::Table(t) => Mutation::from_toml(t),
                        _ => Err("then: a list of mutation tables".to_string()),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err("base64_part needs then = [ {..}, .. ]".into()),
            };
            Mutation::Base64Part { part, then }
        } else {
            return Err(format!(
                "unknown mutation {:?}",
                t.keys().collect::<Vec<_>>()
            ));
        };
        if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("unexpected key {k:?} (allowed: {allowed:?})"));
        }
        Ok(m)
    }

    /// Applies the change; `Err` names what was not found.
    pub fn apply(&self, input: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Mutation::Replace {
                find,
                with,
                occurrence,
            } => replace(input, find, with, *occurrence),
            Mutation::Flip { anchor, offset } => {
                let at = find(input, anchor)
                    .ok_or_else(|| format!("flip: {:?} not found", lossy(anchor)))?
                    + anchor.len()
                    + offset;
                let mut out = input.to_vec();
                let b = out
                    .get_mut(at)
                    .ok_or_else(|| format!("flip: offset {at} past the end"))?;
                *b ^= 0x01;
                Ok(out)
            }
            Mutation::Insert {
                anchor,
                before,
                text,
            } => {
                let at = find(input, anchor)
                    .ok_or_else(|| format!("insert: {:?} not found", lossy(anchor)))?;
                let at = if *before { at } else { at + anchor.len() };
                let mut out = Vec::with_capacity(input.len() + text.len());
                out.extend_from_slice(&input[..at]);
                out.extend_from_slice(text);
                out.extend_from_slice(&input[at..]);
                Ok(out)
            }
            Mutation::DeleteHeader { name, occurrence } => {
                let fields = header_fields(input);
                let matching: Vec<&(usize, usize)> = fields
                    .iter()
                    .filter(|(s, _)| field_is(input, *s, name))
                    .collect();
                if matching.is_empty() {
                    return Err(format!("delete_header: no {name} field"));
                }
                let chosen: Vec<(usize, usize)> = if *occurrence == 0 {
                    matching.into_iter().copied().collect()
                } else {
                    vec![
                        **matching
                            .get(occurrence - 1)
                            .ok_or_else(|| format!("delete_header: no {name} #{occurrence}"))?,
                    ]
                };
                let mut out = Vec::with_capacity(input.len());
                let mut pos = 0;
                for (s, e) in chosen {
                    out.extend_from_slice(&input[pos..s]);
                    pos = e;
                }
                out.extend_from_slice(&input[pos..]);
                Ok(out)
            }
            Mutation::DuplicateHeader { name } => {
                let (s, e) = header_fields(input)
                    .into_iter()
                    .find(|(s, _)| field_is(input, *s, name))
                    .ok_or_else(|| format!("duplicate_header: no {name} field"))?;
                let mut out = Vec::with_capacity(input.len() + (e - s));
                out.extend_from_slice(&input[..e]);
                out.extend_from_slice(&input[s..e]);
                out.extend_from_slice(&input[e..]);
                Ok(out)
            }
            Mutation::SetHeader { name, value } => {
                let (s, e) = header_fields(input)
                    .into_iter()
                    .find(|(s, _)| field_is(input, *s, name))
                    .ok_or_else(|| format!("set_header: no {name} field"))?;
                let eol = line_ending(input);
                let mut out = Vec::with_capacity(input.len() + value.len());
                out.extend_from_slice(&input[..s]);
                out.extend_from_slice(format!("{name}: {value}{eol}").as_bytes());
                out.extend_from_slice(&input[e..]);
                Ok(out)
            }
            Mutation::AddHeader { name, value } => {
                let eol = line_ending(input);
                let mut out = format!("{name}: {value}{eol}").into_bytes();
                out.extend_from_slice(input);
                Ok(out)
            }
            Mutation::LineEndings { crlf } => {
                let lf: Vec<u8> = {
                    let mut v = Vec::with_capacity(input.len());
                    let mut i = 0;
                    while i < input.len() {
                        if input[i] == b'\r' && input.get(i + 1) == Some(&b'\n') {
                            i += 1;
                            continue;
                        }
                        v.push(input[i]);
                        i += 1;
                    }
                    v
                };
                if !crlf {
                    return Ok(lf);
                }
                let mut out = Vec::with_capacity(lf.len() + lf.len() / 40);
                for b in lf {
                    if b == b'\n' {
                        out.push(b'\r');
                    }
                    out.push(b);
                }
                Ok(out)
            }
            Mutation::Truncate { len } => {
                if *len >= input.len() {
                    return Err(format!(
                        "truncate: the input has only {} bytes",
                        input.len()
                    ));
                }
                Ok(input[..*len].to_vec())
            }
            Mutation::Base64Part { part, then } => base64_part(input, part, then),
        }
    }
}

/// Applies every mutation in order.
pub fn apply_all(input: &[u8], ms: &[Mutation]) -> Result<Vec<u8>, String> {
    let mut cur = input.to_vec();
    for m in ms {
        cur = m.apply(&cur)?;
    }
    Ok(cur)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The first position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn replace(input: &[u8], find_: &[u8], with: &[u8], occurrence: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(input.len());
    let mut pos = 0;
    let mut n = 0;
    let mut done = false;
    while let Some(i) = find(&input[pos..], find_) {
        n += 1;
        let at = pos + i;
        out.extend_from_slice(&input[pos..at]);
        if occurrence == 0 || n == occurrence {
            out.extend_from_slice(with);
            done = true;
        } else {
            out.extend_from_slice(find_);
        }
        pos = at + find_.len();
        if occurrence != 0 && n == occurrence {
            break;
        }
    }
    if !done {
        return Err(format!(
            "replace: {:?} not found{}",
            lossy(find_),
            if occurrence > 1 {
                format!(" {occurrence} times")
            } else {
                String::new()
            }
        ));
    }
    out.extend_from_slice(&input[pos..]);
    Ok(out)
}

fn line_ending(input: &[u8]) -> &'static str {
    match find(input, b"\n") {
        Some(i) if i > 0 && input[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// The top-level header fields as byte ranges (start of the name, end after the line ending
/// of the last continuation line), up to the blank line.
fn header_fields(input: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let end = find(&input[pos..], b"\n").map_or(input.len(), |i| pos + i + 1);
        let line = &input[pos..end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(last) = out.last_mut() {
                last.1 = end;
            }
        } else {
            out.push((pos, end));
        }
        pos = end;
    }
    out
}

fn field_is(input: &[u8], start: usize, name: &str) -> bool {
    let n = name.len();
    input
        .get(start..start + n)
        .is_some_and(|x| x.eq_ignore_ascii_case(name.as_bytes()))
        && matches!(input.get(start + n), Some(b':'))
}

fn base64_part(input: &[u8], part: &str, then: &[Mutation]) -> Result<Vec<u8>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    // The part's header block: the first one mentioning `part`, ended by a blank line.
    let mention =
        find(input, part.as_bytes()).ok_or_else(|| format!("base64_part: no {part} part"))?;
    let eol = line_ending(input);
    let blank = format!("{eol}{eol}");
    let body_start = find(&input[mention..], blank.as_bytes())
        .map(|i| mention + i + blank.len())
        .ok_or_else(|| format!("base64_part: {part}: no body"))?;
    // The body: base64 lines until the first line that is not base64 (a boundary or blank).
    let mut end = body_start;
    let mut line_len = 0;
    while end < input.len() {
        let le = find(&input[end..], b"\n").map_or(input.len(), |i| end + i + 1);
        let line = input[end..le]
            .strip_suffix(b"\n")
            .unwrap_or(&input[end..le]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty()
            || !line
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        {
            break;
        }
        line_len = line_len.max(line.len());
        end = le;
    }
    let text: Vec<u8> = input[body_start..end]
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let decoded = b64
        .decode(&text)
        .map_err(|e| format!("base64_part: {part}: {e}"))?;
    let changed = apply_all(&decoded, then).map_err(|e| format!("base64_part {part}: {e}"))?;
    let enc = b64.encode(changed);
    let width = if line_len == 0 { 76 } else { line_len };
    let mut body = String::with_capacity(enc.len() + enc.len() / width * 2 + 2);
    for chunk in enc.as_bytes().chunks(width) {
        body.push_str(&String::from_utf8_lossy(chunk));
        body.push_str(eol);
    }
    let mut out = Vec::with_capacity(input.len() + 16);
    out.extend_from_slice(&input[..body_start]);
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(&input[end..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Mutation {
        let t: toml::Table = toml::from_str(s).unwrap();
        Mutation::from_toml(&t).unwrap()
    }

    const MSG: &[u8] = b"From: a@b\r\nREM-MessageType: x\r\nSubject: long\r\n folded\r\n\r\nbody REM-MessageType: y\r\n";

    #[test]
    fn header_mutations_touch_the_top_header_only() {
        let out = m("delete_header = \"subject\"").apply(MSG).unwrap();
        assert_eq!(
            out,
            b"From: a@b\r\nREM-MessageType: x\r\n\r\nbody REM-MessageType: y\r\n"
        );
        let out = m("duplicate_header = \"REM-MessageType\"")
            .apply(MSG)
            .unwrap();
        assert!(
            out.starts_with(b"From: a@b\r\nREM-MessageType: x\r\nREM-MessageType: x\r\nSubject")
        );
        let out = m("set_header = \"Subject\"\nvalue = \"v\"")
            .apply(MSG)
            .unwrap();
        assert!(find(&out, b"Subject: v\r\n\r\nbody").is_some());
        assert!(
            m("delete_header = \"REM-Evidence-ID\"")
                .apply(MSG)
                .unwrap_err()
                .contains("no REM-Evidence-ID")
        );
        let out = m("add_header = \"X-A\"\nvalue = \"1\"").apply(MSG).unwrap();
        assert!(out.starts_with(b"X-A: 1\r\nFrom"));
    }

    #[test]
    fn byte_mutations_must_find_their_anchor() {
        let out = m("replace = \"body\"\nwith = \"BODY\"").apply(MSG).unwrap();
        assert!(find(&out, b"BODY").is_some());
        assert!(m("replace = \"nothere\"\nwith = \"x\"").apply(MSG).is_err());
        let out = m("replace = \"REM\"\nwith = \"rem\"\noccurrence = 2")
            .apply(MSG)
            .unwrap();
        assert!(find(&out, b"body rem-MessageType").is_some());
        assert!(find(&out, b"\nREM-MessageType: x").is_some());
        let out = m("flip_after = \"body\"\noffset = 1").apply(MSG).unwrap();
        assert_eq!(out[find(MSG, b"body").unwrap() + 5], b'R' ^ 1);
        let out = m("insert_after = \"\\r\\n\\r\\n\"\ntext = \"<!DOCTYPE x>\"")
            .apply(MSG)
            .unwrap();
        assert!(find(&out, b"\r\n\r\n<!DOCTYPE x>body").is_some());
        let lf = m("line_endings = \"lf\"").apply(MSG).unwrap();
        assert!(!lf.contains(&b'\r'));
        assert_eq!(m("line_endings = \"crlf\"").apply(&lf).unwrap(), MSG);
        assert!(m("truncate = 4").apply(MSG).unwrap() == b"From");
        let bad: toml::Table = toml::from_str("replace = \"a\"\nwith = \"b\"\ncolour = 1").unwrap();
        assert!(Mutation::from_toml(&bad).unwrap_err().contains("colour"));
    }

    #[test]
    fn base64_parts_are_decoded_changed_and_encoded_back() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let content = b"<daticert>identificativo</daticert>";
        let enc = b64.encode(content);
        let (a, b) = enc.split_at(20);
        let msg = format!(
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Disposition: attachment; filename=daticert.xml\r\nContent-Transfer-Encoding: base64\r\n\r\n{a}\r\n{b}\r\n--b--\r\n"
        );
        let out = m("base64_part = \"daticert.xml\"\nthen = [{ replace = \"identificativo\", with = \"X\" }]")
            .apply(msg.as_bytes())
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let body: String = text
            .split("\r\n\r\n")
            .nth(2)
            .unwrap()
            .split("--b--")
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(b64.decode(body).unwrap(), b"<daticert>X</daticert>");
        assert!(text.ends_with("\r\n--b--\r\n"));
    }
}
