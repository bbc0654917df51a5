//! The original message as the S-REMS attaches it to a dispatch (EN 319 532-3 §6.2.4,
//! 532-4 C.4.1; rem.md §4.6), and its digest.
//!
//! Preparation:
//! 1. line endings become CRLF (every bare LF; RFC 5322 lines are CRLF, and the digest is
//!    taken over the CRLF form);
//! 2. the message ends with exactly one CRLF (trailing empty lines are dropped, a missing
//!    final CRLF is added);
//! 3. the header block is kept byte for byte, except the `Message-ID` field: its value becomes
//!    the REMS identifier, and `REM-UAMessageIdentifier: <the user's identifier>` is inserted
//!    right after it. (This reproduces the AgID kit: `*.clean_from_user.eml` →
//!    `*.to_attach_to_dispatch.eml`.)
//!
//! An original without `Message-ID` is refused ([`Error::OriginalNoMessageId`]): the user's
//! identifier is evidence (`AppLayerIdentifier`, `REM-UAMessageIdentifier`) and Ponte does not
//! invent one; the caller decides (e.g. refuse the submission, or add one before preparing and
//! say so in the introduction, as 532-3 requires for any change).

use base64::Engine;

use super::{Error, header, wire};
use crate::crypto::{DigestAlgorithm, digest};

/// An original prepared for a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedOriginal {
    /// The bytes to attach as `message/rfc822` (binary) and to digest.
    pub bytes: Vec<u8>,
    /// The user's Message-ID, as written (normally with `<>`).
    pub ua_message_id: String,
    /// SHA-256 of [`Self::bytes`].
    pub digest: [u8; 32],
    /// [`Self::digest`] in base64 (`REM-DigestValue`, `PartInfo/ds:DigestValue`).
    pub digest_b64: String,
}

/// An original prepared for a dispatch, borrowing the body of the message it was prepared
/// from: its bytes are [`Self::head`] followed by [`Self::rest`] (the header block up to the
/// new identifier fields, then everything after the replaced `Message-ID` field). A 25 MB
/// original is then attached without being copied first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared<'a> {
    /// The header block up to and including the new `Message-ID` and
    /// `REM-UAMessageIdentifier` fields.
    pub head: Vec<u8>,
    /// The rest of the prepared bytes: the remaining header fields and the body (borrowed
    /// from the input when it was already CRLF and ended with one CRLF).
    pub rest: std::borrow::Cow<'a, [u8]>,
    /// The user's Message-ID, as written (normally with `<>`).
    pub ua_message_id: String,
    /// SHA-256 of the prepared bytes.
    pub digest: [u8; 32],
    /// [`Self::digest`] in base64 (`REM-DigestValue`, `PartInfo/ds:DigestValue`).
    pub digest_b64: String,
}

impl Prepared<'_> {
    /// The prepared bytes as their two pieces.
    pub fn pieces(&self) -> [&[u8]; 2] {
        [&self.head, &self.rest]
    }

    /// The owned form (one buffer).
    pub fn into_owned(self) -> PreparedOriginal {
        let mut bytes = self.head;
        bytes.extend_from_slice(&self.rest);
        PreparedOriginal {
            bytes,
            ua_message_id: self.ua_message_id,
            digest: self.digest,
            digest_b64: self.digest_b64,
        }
    }
}

/// SHA-256 of prepared original bytes (taken as they are: no normalisation here).
pub fn digest_original(prepared: &[u8]) -> [u8; 32] {
    let d = digest(DigestAlgorithm::Sha256, prepared);
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(d.iter()) {
        *o = *b;
    }
    out
}

/// Base64 of a digest, as in the header and the evidence.
pub fn digest_b64(d: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(d)
}

/// Checks a message identifier: printable ASCII without spaces; `<>` added when absent.
pub(crate) fn angle_id(what: &'static str, id: &str) -> Result<String, Error> {
    let t = id.trim();
    let bad = || Error::BadMessageId {
        what,
        value: id.to_string(),
    };
    let inner = t
        .strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(t);
    if inner.is_empty()
        || !inner
            .bytes()
            .all(|b| (33..=126).contains(&b) && b != b'<' && b != b'>')
    {
        return Err(bad());
    }
    Ok(format!("<{inner}>"))
}

/// Prepares `original` for attachment with `rems_message_id` (the REM message's Message-ID,
/// with or without `<>`); the user's identifier is the original's `Message-ID`.
pub fn prepare_original(original: &[u8], rems_message_id: &str) -> Result<PreparedOriginal, Error> {
    prepare_original_with(original, rems_message_id, None)
}

/// [`prepare_original`] when the original's `Message-ID` is not the user's: a PEC original
/// (`postacert.eml`) carries the provider's identificativo there and the sender UA's
/// Message-ID in `X-Riferimento-Message-ID` (pec.md §1.4). `user_message_id` (as written,
/// normally with `<>`) then becomes `REM-UAMessageIdentifier`; `None` or an empty value falls
/// back to the original's `Message-ID`. The original must still have exactly one
/// `Message-ID` field, which becomes `rems_message_id` as before.
pub fn prepare_original_with(
    original: &[u8],
    rems_message_id: &str,
    user_message_id: Option<&str>,
) -> Result<PreparedOriginal, Error> {
    prepare_borrowed(original, rems_message_id, user_message_id).map(Prepared::into_owned)
}

/// [`prepare_original_with`] without copying the body: the same bytes, as [`Prepared`].
pub fn prepare_borrowed<'a>(
    original: &'a [u8],
    rems_message_id: &str,
    user_message_id: Option<&str>,
) -> Result<Prepared<'a>, Error> {
    let rems = angle_id("REMS Message-ID", rems_message_id)?;
    let mut crlf = crate::mime::write::to_crlf_cow(original);
    let mut end = crlf.len();
    while crlf.get(..end).is_some_and(|c| c.ends_with(b"\r\n\r\n")) {
        end -= 2;
    }
    if !crlf.get(..end).is_some_and(|c| c.ends_with(b"\r\n")) {
        let mut owned = crlf.into_owned();
        owned.truncate(end);
        owned.extend_from_slice(b"\r\n");
        end = owned.len();
        crlf = std::borrow::Cow::Owned(owned);
    }
    let whole = crlf;
    let crlf = whole.get(..end).unwrap_or_default();
    // The header block: up to the empty line, or the whole message when it has no body.
    let block_end = wire::header_end(crlf).map_or(crlf.len(), |(_, blank)| blank);
    let block = crlf.get(..block_end).unwrap_or_default();
    let fields = wire::fields(block);
    if fields.is_empty() {
        return Err(Error::OriginalNoHeader);
    }
    if fields
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(header::UA_MESSAGE_IDENTIFIER))
    {
        return Err(Error::OriginalAlreadyPrepared);
    }
    let ids: Vec<&wire::RawField> = fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case("Message-ID"))
        .collect();
    let field = match ids.as_slice() {
        [] => return Err(Error::OriginalNoMessageId),
        [one] => *one,
        more => return Err(Error::OriginalManyMessageIds { count: more.len() }),
    };
    let ua = match user_message_id.map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => u.to_owned(),
        None => field.unfolded(),
    };
    if ua.is_empty() {
        return Err(Error::OriginalEmptyMessageId);
    }
    if ua.contains(['\r', '\n']) {
        return Err(Error::BadMessageId {
            what: "user Message-ID",
            value: ua,
        });
    }
    let mut head = Vec::with_capacity(field.start + rems.len() + ua.len() + 48);
    head.extend_from_slice(crlf.get(..field.start).unwrap_or_default());
    head.extend_from_slice(format!("{}: {rems}\r\n", field.name).as_bytes());
    head.extend_from_slice(format!("{}: {ua}\r\n", header::UA_MESSAGE_IDENTIFIER).as_bytes());
    let rest_at = field.end;
    let rest = match whole {
        std::borrow::Cow::Borrowed(b) => {
            std::borrow::Cow::Borrowed(b.get(rest_at..end).unwrap_or_default())
        }
        std::borrow::Cow::Owned(mut v) => {
            // In place: no second copy of a converted message.
            v.truncate(end);
            v.drain(..rest_at.min(v.len()));
            std::borrow::Cow::Owned(v)
        }
    };
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&head);
    crate::mime::hole::update(&mut ctx, &rest);
    let mut d = [0u8; 32];
    for (o, b) in d.iter_mut().zip(ctx.finish().as_ref()) {
        *o = *b;
    }
    Ok(Prepared {
        head,
        rest,
        ua_message_id: ua,
        digest: d,
        digest_b64: digest_b64(&d),
    })
}

/// Whether `bytes` are in prepared form: no bare LF, ending with exactly one CRLF.
pub(crate) fn check_prepared(bytes: &[u8]) -> Result<(), Error> {
    if crate::mime::write::first_bare_lf(bytes).is_some() {
        return Err(Error::OriginalNotPrepared(
            "it has a bare LF (CRLF expected)",
        ));
    }
    if !bytes.ends_with(b"\r\n") {
        return Err(Error::OriginalNotPrepared("it does not end with CRLF"));
    }
    if bytes.ends_with(b"\r\n\r\n") {
        return Err(Error::OriginalNotPrepared(
            "it ends with more than one CRLF",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_replaced_and_the_user_id_kept() {
        let p = prepare_original(
            b"From: a@x\nMessage-ID:\n <u1@x>\nSubject: s\n\nbody\n\n\n",
            "r1@rems",
        )
        .expect("prepared");
        assert_eq!(
            p.bytes,
            b"From: a@x\r\nMessage-ID: <r1@rems>\r\nREM-UAMessageIdentifier: <u1@x>\r\nSubject: s\r\n\r\nbody\r\n"
        );
        assert_eq!(p.ua_message_id, "<u1@x>");
        assert_eq!(p.digest, digest_original(&p.bytes));
        assert!(check_prepared(&p.bytes).is_ok());
    }

    #[test]
    fn a_pec_original_keeps_the_senders_own_identifier() {
        // postacert.eml: the provider's identificativo as Message-ID, the sender's in
        // X-Riferimento-Message-ID (kept as it is).
        let raw = b"From: a@x\r\nMessage-ID: <opec1@pec.x>\r\nX-Riferimento-Message-ID: <ua@client>\r\n\r\nb\r\n";
        let p =
            prepare_original_with(raw, "<opec1@pec.x>", Some(" <ua@client> ")).expect("prepared");
        assert_eq!(p.ua_message_id, "<ua@client>");
        assert_eq!(
            p.bytes,
            b"From: a@x\r\nMessage-ID: <opec1@pec.x>\r\nREM-UAMessageIdentifier: <ua@client>\r\nX-Riferimento-Message-ID: <ua@client>\r\n\r\nb\r\n"
        );
        // An empty override is no override.
        let p = prepare_original_with(raw, "<r@rems>", Some("")).expect("prepared");
        assert_eq!(p.ua_message_id, "<opec1@pec.x>");
        assert!(matches!(
            prepare_original_with(raw, "<r@rems>", Some("<a@b>\r\nBcc: x")),
            Err(Error::BadMessageId { .. })
        ));
    }

    #[test]
    fn refusals_are_precise() {
        assert!(matches!(
            prepare_original(b"From: a@x\r\n\r\nb", "<r@x>"),
            Err(Error::OriginalNoMessageId)
        ));
        assert!(matches!(
            prepare_original(b"Message-ID: <a@x>\r\nMessage-Id: <b@x>\r\n\r\nb", "<r@x>"),
            Err(Error::OriginalManyMessageIds { count: 2 })
        ));
        assert!(matches!(
            prepare_original(b"Message-ID: <a@x>\r\n\r\nb", "bad id"),
            Err(Error::BadMessageId { .. })
        ));
        assert!(matches!(
            prepare_original(
                b"Message-ID: <a@x>\r\nREM-UAMessageIdentifier: <a@x>\r\n\r\nb",
                "<r@x>"
            ),
            Err(Error::OriginalAlreadyPrepared)
        ));
        assert!(matches!(
            prepare_original(b"", "<r@x>"),
            Err(Error::OriginalNoHeader)
        ));
        assert!(check_prepared(b"a\r\n\r\n").is_err());
        assert!(check_prepared(b"a\nb\r\n").is_err());
        assert!(check_prepared(b"a").is_err());
    }
}
