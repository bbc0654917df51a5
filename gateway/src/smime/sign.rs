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
    for (n, v) in req.headers {
        check_header(n, v)?;
    }
    if let Some(pos) = crate::mime::write::first_bare_lf(req.inner) {
        return Err(Error::NotCanonical(pos));
    }
    // One pass over the content: its SHA-256 (the CMS messageDigest) and, continued with the
    // time, the seed of the boundary (SHA-256 of content || time: reproducible).
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(req.inner);
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
    while crate::mime::write::contains(req.inner, boundary.as_bytes()) {
        n += 1;
        boundary = format!("{boundary}{n}");
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&p7s);
    // Sized once: the headers, the inner entity, base64 with its line breaks, the framing
    // (a 25 MB message would otherwise be copied again when the vector grows).
    let header_len: usize = req.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    let mut out = Vec::with_capacity(
        header_len + req.inner.len() + b64.len() + b64.len() / 38 + 1024 + 4 * boundary.len(),
    );
    for (name, value) in req.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    let protocol = req.protocol.media_type();
    out.extend_from_slice(
        format!(
            "Content-Type: multipart/signed; protocol=\"{protocol}\"; micalg=\"sha-256\";\r\n\tboundary=\"{boundary}\"\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(b"This is an S/MIME signed message\r\n\r\n");
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    out.extend_from_slice(req.inner);
    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    out.extend_from_slice(
        format!(
            "Content-Type: {protocol}; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n"
        )
        .as_bytes(),
    );
    for line in b64.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok(out)
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
}
