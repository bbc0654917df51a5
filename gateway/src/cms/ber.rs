//! A small BER reader: normalises BER to DER-style definite lengths and walks TLVs.
//!
//! Normalisation turns indefinite lengths into definite minimal ones and joins constructed
//! OCTET STRINGs into primitive ones; everything else is copied unchanged (SET OF order is
//! kept). Depth is bounded.

use super::Error;

const MAX_DEPTH: usize = 64;

/// One TLV of a DER input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet (single-byte tags only; high tag numbers are refused).
    pub tag: u8,
    /// The whole encoding (identifier, length, content).
    pub raw: &'a [u8],
    /// The content octets.
    pub content: &'a [u8],
}

impl Tlv<'_> {
    /// Whether the constructed bit is set.
    pub fn constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }
}

fn err(offset: usize, reason: impl Into<String>) -> Error {
    Error::Asn1 {
        offset,
        reason: reason.into(),
    }
}

/// Reads the length at `input[pos..]`: `(Some(len) | None for indefinite, bytes used)`.
fn read_len(input: &[u8], pos: usize) -> Result<(Option<usize>, usize), Error> {
    let first = *input.get(pos).ok_or_else(|| err(pos, "length missing"))?;
    if first < 0x80 {
        return Ok((Some(first as usize), 1));
    }
    if first == 0x80 {
        return Ok((None, 1));
    }
    let n = (first & 0x7f) as usize;
    if n > 4 {
        return Err(err(pos, "length longer than 4 bytes"));
    }
    let bytes = input
        .get(pos + 1..pos + 1 + n)
        .ok_or_else(|| err(pos, "length truncated"))?;
    let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
    Ok((Some(len), 1 + n))
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let sig = bytes.get(skip..).unwrap_or(&[]);
        out.push(0x80 | sig.len() as u8);
        out.extend_from_slice(sig);
    }
}

/// Encodes a TLV with a definite minimal length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// Normalises one BER element (the whole input must be that one element).
pub fn normalize(input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(input.len());
    let used = norm_one(input, 0, 0, &mut out)?;
    if used != input.len() {
        return Err(err(
            used,
            format!("{} bytes after the outer element", input.len() - used),
        ));
    }
    Ok(out)
}

/// Normalises the element at `pos`, appends it to `out`; returns the position after it.
fn norm_one(input: &[u8], pos: usize, depth: usize, out: &mut Vec<u8>) -> Result<usize, Error> {
    if depth > MAX_DEPTH {
        return Err(err(pos, "nesting too deep"));
    }
    let tag = *input.get(pos).ok_or_else(|| err(pos, "element missing"))?;
    if tag & 0x1f == 0x1f {
        return Err(err(pos, "high-tag-number identifiers are not supported"));
    }
    let (len, lbytes) = read_len(input, pos + 1)?;
    let start = pos + 1 + lbytes;
    let constructed = tag & 0x20 != 0;
    if !constructed {
        let len = len.ok_or_else(|| err(pos, "indefinite length on a primitive element"))?;
        let end = start
            .checked_add(len)
            .filter(|e| *e <= input.len())
            .ok_or_else(|| err(pos, "content truncated"))?;
        out.push(tag);
        push_len(out, len);
        out.extend_from_slice(input.get(start..end).unwrap_or(&[]));
        return Ok(end);
    }
    // Constructed: normalise the children into a buffer.
    let mut body = Vec::new();
    let mut p = start;
    let end = match len {
        Some(len) => {
            let end = start
                .checked_add(len)
                .filter(|e| *e <= input.len())
                .ok_or_else(|| err(pos, "content truncated"))?;
            while p < end {
                p = norm_one(input, p, depth + 1, &mut body)?;
            }
            if p != end {
                return Err(err(p, "child overruns its parent"));
            }
            end
        }
        None => loop {
            match (input.get(p), input.get(p + 1)) {
                (Some(0), Some(0)) => break p + 2,
                (Some(_), _) => p = norm_one(input, p, depth + 1, &mut body)?,
                (None, _) => return Err(err(p, "end-of-contents missing")),
            }
        },
    };
    if tag == 0x24 {
        // Constructed OCTET STRING: join the (already primitive) segments.
        let mut joined = Vec::new();
        for child in children(&body)? {
            if child.tag != 0x04 {
                return Err(err(
                    pos,
                    "constructed OCTET STRING holds a non-OCTET STRING",
                ));
            }
            joined.extend_from_slice(child.content);
        }
        out.push(0x04);
        push_len(out, joined.len());
        out.extend_from_slice(&joined);
    } else {
        out.push(tag);
        push_len(out, body.len());
        out.extend_from_slice(&body);
    }
    Ok(end)
}

/// Reads one definite-length TLV at the start of `input`; returns it and the rest.
pub fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), Error> {
    let tag = *input.first().ok_or_else(|| err(0, "element missing"))?;
    let (len, lbytes) = read_len(input, 1)?;
    let len = len.ok_or_else(|| err(1, "indefinite length after normalisation"))?;
    let end = (1 + lbytes)
        .checked_add(len)
        .filter(|e| *e <= input.len())
        .ok_or_else(|| err(0, "content truncated"))?;
    let raw = input
        .get(..end)
        .ok_or_else(|| err(0, "content truncated"))?;
    let content = input
        .get(1 + lbytes..end)
        .ok_or_else(|| err(0, "content truncated"))?;
    let rest = input.get(end..).unwrap_or(&[]);
    Ok((Tlv { tag, raw, content }, rest))
}

/// All TLVs of a content (definite lengths).
pub fn children(mut content: &[u8]) -> Result<Vec<Tlv<'_>>, Error> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (t, rest) = read(content)?;
        out.push(t);
        content = rest;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_and_constructed_octet_string_become_der() {
        // SEQUENCE (indefinite) { OCTET STRING constructed (indefinite) { "ab", "c" } }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0, 0, 0, 0,
        ];
        let der = normalize(&ber).expect("normalise");
        assert_eq!(der, [0x30, 0x05, 0x04, 0x03, b'a', b'b', b'c']);
    }

    #[test]
    fn truncated_and_trailing_inputs_are_refused() {
        assert!(normalize(&[0x30, 0x05, 0x04, 0x03, b'a']).is_err());
        assert!(normalize(&[0x30, 0x80, 0x04, 0x01, b'a']).is_err());
        assert!(normalize(&[0x04, 0x01, b'a', 0x00]).is_err());
        assert!(normalize(&[]).is_err());
        assert!(normalize(&[0x04, 0x85, 1, 1, 1, 1, 1]).is_err());
    }

    #[test]
    fn long_lengths_are_minimal() {
        let content = vec![7u8; 300];
        let t = tlv(0x04, &content);
        assert_eq!(t[..4], [0x04, 0x82, 0x01, 0x2c]);
        // A non-minimal long form is rewritten minimal.
        let mut ber = vec![0x04, 0x83, 0x00, 0x01, 0x2c];
        ber.extend_from_slice(&content);
        assert_eq!(normalize(&ber).expect("normalise"), t);
    }
}
