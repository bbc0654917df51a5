//! Producing a `multipart/signed` S/MIME message as PEC providers (and REM providers) write it.

use super::Error;
use crate::cms::{self, Content};
use crate::crypto::SigningKey;
use crate::x509::Certificate;
use base64::Engine;
use time::OffsetDateTime;

/// The media type named by `protocol=` and carried by the signature part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmimeProtocol {
    /// `application/x-pkcs7-signature`: the pre-RFC 5751 name PEC providers write (and PEC
    /// clients expect).
    Pec,
    /// `application/pkcs7-signature`: the RFC 5751 name EN 319 532-3 (REM) requires.
    Rem,
}

impl SmimeProtocol {
    /// The media type.
    pub fn media_type(self) -> &'static str {
        match self {
            SmimeProtocol::Pec => "application/x-pkcs7-signature",
            SmimeProtocol::Rem => "application/pkcs7-signature",
        }
    }
}

/// Everything needed to sign a message.
#[derive(Debug)]
pub struct SignRequest<'a> {
    /// Outer header fields in order (From, To, Subject, X-Ricevuta...); values may be folded
    /// (CRLF followed by a space or tab). `MIME-Version` and `Content-Type` are added.
    pub headers: &'a [(&'a str, &'a str)],
    /// The inner MIME entity (its own Content-Type headers, blank line, body), CRLF.
    pub inner: &'a [u8],
    /// The provider's key.
    pub key: &'a SigningKey,
    /// The provider's certificate (must hold the key's public half).
    pub signer: &'a Certificate,
    /// Intermediates to carry with the signer certificate.
    pub chain: &'a [Certificate],
    /// The signingTime to put in the CMS.
    pub signing_time: OffsetDateTime,
    /// The `protocol` parameter and signature part type: PEC or REM.
    pub protocol: SmimeProtocol,
}

fn check_header(name: &str, value: &str) -> Result<(), Error> {
    let bad = |reason| {
        Err(Error::Header {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
        return bad("name must be printable ASCII without ':'");
    }
    let eq = |a: &str| name.eq_ignore_ascii_case(a);
    if eq("Content-Type") || eq("MIME-Version") || eq("Content-Transfer-Encoding") {
        return bad("set by the signer");
    }
    let b = value.as_bytes();
    for (i, c) in b.iter().enumerate() {
        match c {
            b'\r' if b.get(i + 1) == Some(&b'\n') && matches!(b.get(i + 2), Some(b' ' | b'\t')) => {
            }
            b'\n' if i > 0 && b.get(i - 1) == Some(&b'\r') => {}
            b'\r' | b'\n' | 0 => return bad("line break that is not folding, or NUL"),
            _ => {}
        }
    }
    Ok(())
}

/// Signs `req.inner` and returns the complete `multipart/signed` message (CRLF):
/// `protocol="<req.protocol>"; micalg="sha-256"` (`application/x-pkcs7-signature` for PEC,
/// `application/pkcs7-signature` for REM), preamble
/// "This is an S/MIME signed message", the inner entity byte-exact, then `smime.p7s` (base64,
/// 76-character lines) holding the detached CMS SignedData.
pub fn sign(req: &SignRequest<'_>) -> Result<Vec<u8>, Error> {
    sign_concat(req, &[])
}

/// [`sign()`] of the inner entity `req.inner` followed by the pieces of `rest`, as if they
/// were one buffer (the same bytes out): a caller passes a large part (an attached
/// message) by reference, and it is copied once, into the output.
pub fn sign_concat(req: &SignRequest<'_>, rest: &[&[u8]]) -> Result<Vec<u8>, Error> {
    let mut pieces: Vec<&[u8]> = Vec::with_capacity(rest.len() + 1);
    pieces.push(req.inner);
    pieces.extend(rest.iter().copied().filter(|p| !p.is_empty()));
    let (head, tail) = frame(req, &pieces)?;
    let inner_len: usize = pieces.iter().map(|p| p.len()).sum();
    // Sized once (a 25 MB message would otherwise be copied again when the vector grows).
    let mut out = Vec::with_capacity(head.len() + inner_len + tail.len());
    out.extend_from_slice(&head);
    for p in &pieces {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(&tail);
    Ok(out)
}

/// [`sign_concat`] without the concatenation: what comes before and after the inner entity
/// (`req.inner` followed by `rest`) in the signed message. The message is `head`, the inner
/// pieces, `tail`; a caller that holds a large piece elsewhere writes it once, where it goes.
pub fn sign_parts(req: &SignRequest<'_>, rest: &[&[u8]]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let mut pieces: Vec<&[u8]> = Vec::with_capacity(rest.len() + 1);
    pieces.push(req.inner);
    pieces.extend(rest.iter().copied().filter(|p| !p.is_empty()));
    frame(req, &pieces)
}

/// [`sign()`] of `req.inner` followed by `owned`, the message written into `owned`'s own
/// buffer (its content moved up in place to make room for the header): no second buffer of
/// the message's size. Reserve [`SIGNED_OVERHEAD`] bytes of spare capacity in `owned` (plus
/// the headers) and it is not reallocated either.
pub fn sign_owned(req: &SignRequest<'_>, mut owned: Vec<u8>) -> Result<Vec<u8>, Error> {
    if !req.inner.is_empty() {
        owned.splice(0..0, req.inner.iter().copied());
    }
    let (head, tail) = frame(&SignRequest { inner: &[], ..*req }, &[&owned])?;
    owned.reserve(head.len() + tail.len());
    owned.splice(0..0, head);
    owned.extend_from_slice(&tail);
    Ok(owned)
}

/// Spare capacity [`sign_owned`] uses besides the header fields: the framing and the
/// base64 signature with a chain of a few certificates.
pub const SIGNED_OVERHEAD: usize = 16 << 10;

/// What comes before and after the inner entity (`pieces` concatenated) in the signed
/// message.
fn frame(req: &SignRequest<'_>, pieces: &[&[u8]]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    for (n, v) in req.headers {
        check_header(n, v)?;
    }
    if let Some(pos) = first_bare_lf_of(pieces) {
        return Err(Error::NotCanonical(pos));
    }
    // One pass over the content: its SHA-256 (the CMS messageDigest) and, continued with the
    // time, the seed of the boundary (SHA-256 of content || time: reproducible).
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in pieces {
        crate::mime::hole::update(&mut ctx, p);
    }
    let content_digest = digest_array(ctx.clone().finish().as_ref());
    ctx.update(&req.signing_time.unix_timestamp().to_be_bytes());
    let h = ctx.finish();
    let p7s = cms::sign(
        Content::DetachedSha256(content_digest),
        req.key,
        req.signer,
        req.chain,
        Some(req.signing_time),
    )?;
    // A boundary derived from the content and the time: reproducible, and checked absent.
    let mut boundary = format!(
        "----------=_{}",
        h.as_ref()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let mut n = 0u32;
    while contains_in(pieces, boundary.as_bytes()) {
        n += 1;
        boundary = format!("{boundary}{n}");
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&p7s);
    let header_len: usize = req.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    let mut head = Vec::with_capacity(header_len + 256 + 2 * boundary.len());
    for (name, value) in req.headers {
        head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    head.extend_from_slice(b"MIME-Version: 1.0\r\n");
    let protocol = req.protocol.media_type();
    head.extend_from_slice(
        format!(
            "Content-Type: multipart/signed; protocol=\"{protocol}\"; micalg=\"sha-256\";\r\n\tboundary=\"{boundary}\"\r\n\r\n"
        )
        .as_bytes(),
    );
    head.extend_from_slice(b"This is an S/MIME signed message\r\n\r\n");
    head.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    let mut tail = Vec::with_capacity(b64.len() + b64.len() / 38 + 512 + 2 * boundary.len());
    tail.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    tail.extend_from_slice(
        format!(
            "Content-Type: {protocol}; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n"
        )
        .as_bytes(),
    );
    for line in b64.as_bytes().chunks(76) {
        tail.extend_from_slice(line);
        tail.extend_from_slice(b"\r\n");
    }
    tail.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok((head, tail))
}

/// The offset of the first bare LF of the concatenation of `pieces` (an LF that opens a
/// piece is bare unless the previous piece ends with CR).
fn first_bare_lf_of(pieces: &[&[u8]]) -> Option<usize> {
    let mut offset = 0;
    let mut prev_cr = false;
    for p in pieces {
        let hit = match crate::mime::write::first_bare_lf(p) {
            Some(0) if prev_cr => p
                .get(1..)
                .and_then(crate::mime::write::first_bare_lf)
                .map(|i| i + 1),
            other => other,
        };
        if let Some(i) = hit {
            return Some(offset + i);
        }
        offset += p.len();
        if let Some(&last) = p.last() {
            prev_cr = last == b'\r';
        }
    }
    None
}

/// Whether `needle` occurs in the concatenation of `pieces`, across their junctions too.
fn contains_in(pieces: &[&[u8]], needle: &[u8]) -> bool {
    if pieces
        .iter()
        .any(|p| crate::mime::write::contains(p, needle))
    {
        return true;
    }
    let k = needle.len().saturating_sub(1);
    if k == 0 {
        return false;
    }
    // Each junction: up to `k` bytes before it and `k` after it, gathered across pieces.
    for j in 1..pieces.len() {
        let mut before: Vec<u8> = Vec::with_capacity(k);
        for p in pieces[..j].iter().rev() {
            let take = (k - before.len()).min(p.len());
            let mut chunk = p[p.len() - take..].to_vec();
            chunk.extend_from_slice(&before);
            before = chunk;
            if before.len() == k {
                break;
            }
        }
        let mut window = before;
        let start = window.len();
        for p in &pieces[j..] {
            let take = (start + k - window.len()).min(p.len());
            window.extend_from_slice(&p[..take]);
            if window.len() == start + k {
                break;
            }
        }
        if crate::mime::write::contains(&window, needle) {
            return true;
        }
    }
    false
}

fn digest_array(d: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(d) {
        *o = *b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_checked() {
        assert!(check_header("Subject", "ok").is_ok());
        assert!(
            check_header(
                "From",
                "\"Per conto di: a@b.it\"\r\n <posta-certificata@x.it>"
            )
            .is_ok()
        );
        assert!(check_header("Subject", "a\r\nBcc: x@y.it").is_err());
        assert!(check_header("Subject", "a\nb").is_err());
        assert!(check_header("Bad Name", "v").is_err());
        assert!(check_header("content-type", "text/plain").is_err());
        assert!(check_header("", "v").is_err());
    }

    #[test]
    fn pieces_are_judged_as_one_buffer() {
        let a: &[u8] = b"one\r";
        let b: &[u8] = b"\ntwo\r\n";
        assert_eq!(first_bare_lf_of(&[a, b]), None);
        assert_eq!(first_bare_lf_of(&[b"one", b]), Some(3));
        assert_eq!(first_bare_lf_of(&[a, b"", b"x\ny"]), Some(5));
        assert!(contains_in(&[b"xx--bo", b"u", b"nd--yy"], b"--bound--"));
        assert!(contains_in(&[b"--bound--"], b"--bound--"));
        assert!(!contains_in(&[b"--bou", b"x", b"nd--"], b"--bound--"));
        assert!(!contains_in(&[b"", b"--boun"], b"--bound--"));
    }
}
