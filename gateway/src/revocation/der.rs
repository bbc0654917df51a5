//! A minimal DER reader: enough to walk OCSP structures while keeping the exact bytes that are
//! signed.

/// One TLV: its tag, its content, the whole encoding, and what follows it.
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
    pub rest: &'a [u8],
}

/// Reads one definite-length TLV (single-byte tags). `None` when truncated or indefinite.
pub(crate) fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_len) = after_tag.split_first()?;
    let (len, body) = if first < 0x80 {
        (usize::from(first), after_len)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = after_len.get(..n)?;
        let len = bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
        (len, after_len.get(n..)?)
    };
    let content = body.get(..len)?;
    let header = input.len() - body.len();
    Some(Tlv {
        tag,
        content,
        raw: input.get(..header + len)?,
        rest: body.get(len..)?,
    })
}

/// Reads a TLV with the expected tag.
pub(crate) fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<Tlv<'a>, String> {
    match tlv(input) {
        Some(t) if t.tag == tag => Ok(t),
        Some(t) => Err(format!("{what}: tag 0x{:02x}, expected 0x{tag:02x}", t.tag)),
        None => Err(format!("{what}: truncated")),
    }
}

/// Appends a DER length.
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

/// A TLV with `tag` around `content`.
pub(crate) fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// A GeneralizedTime TLV read as an instant.
pub(crate) fn time(raw: &[u8], what: &str) -> Result<time::OffsetDateTime, String> {
    use ::der::Decode;
    crate::tsp::asn1::GenTime::from_der(raw)
        .map(|g| g.instant())
        .map_err(|e| format!("{what}: {e}"))
}
