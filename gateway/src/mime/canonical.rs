//! Line-ending canonicalisation as the signer did it (RFC 5751 §3.1.1: CRLF).

use std::borrow::Cow;

/// Returns the message with CRLF line endings.
///
/// A message that already uses CRLF anywhere is returned unchanged (borrowed): its bytes are
/// what was received, and lone LFs inside `binary` parts must stay as they are. A message
/// stored with LF only (mail stores, IMAP exports, `openssl smime` output) gets every LF
/// turned into CRLF, which is the form the signer hashed.
pub fn canonicalize(raw: &[u8]) -> Cow<'_, [u8]> {
    let has_crlf = raw.windows(2).any(|w| w == b"\r\n");
    if has_crlf || !raw.contains(&b'\n') {
        return Cow::Borrowed(raw);
    }
    let lf = raw.iter().filter(|b| **b == b'\n').count();
    let mut out = Vec::with_capacity(raw.len() + lf);
    for &b in raw {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_only_becomes_crlf() {
        assert_eq!(canonicalize(b"a\nb\n\nc").as_ref(), b"a\r\nb\r\n\r\nc");
    }

    #[test]
    fn crlf_messages_are_untouched_even_with_lone_lf_in_binary() {
        let m = b"A: b\r\n\r\nbin\nary\r\n";
        assert!(matches!(canonicalize(m), Cow::Borrowed(_)));
        assert_eq!(canonicalize(m).as_ref(), m);
        assert!(matches!(canonicalize(b"no newline"), Cow::Borrowed(_)));
    }
}
