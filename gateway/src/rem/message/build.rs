//! Building and signing a REM message (EN 319 532-3 §6, REM baseline 532-4 §5.4 and
//! Table C.26; rem.md §4.1-4.5).
//!
//! Layout of the signed content (`multipart/mixed`), each section with its `REM-Section-Type`:
//! the introduction (`multipart/alternative`: text/plain and text/html, UTF-8,
//! quoted-printable), the prepared original when given (`message/rfc822`, binary,
//! `AttachedMimeMessage`), then each evidence (`application/xml`, base64, `<Event>.xml`).
//! The whole is signed with CAdES-B through [`crate::smime::sign()`] with
//! `protocol="application/pkcs7-signature"`.

use time::OffsetDateTime;

use super::prepare::{angle_id, check_prepared, digest_b64, digest_original};
use super::{DIGEST_SHA256, Error, MessageType, RelayMetadata, header, wire};
use crate::crypto::SigningKey;
use crate::smime::{self, SignRequest, SmimeProtocol};
use crate::x509::Certificate;

/// The prepared original as attached: the bytes of `head` followed by those of `rest` (two
/// pieces, so that [`super::prepare::Prepared`] is attached without a copy of its body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Original<'a> {
    /// The first piece.
    pub head: &'a [u8],
    /// The second piece.
    pub rest: &'a [u8],
}

impl<'a> Original<'a> {
    /// The original in one buffer.
    pub fn whole(bytes: &'a [u8]) -> Self {
        Original {
            head: &[],
            rest: bytes,
        }
    }

    /// The two pieces of a [`super::prepare::Prepared`].
    pub fn prepared(p: &'a super::prepare::Prepared<'_>) -> Self {
        Original {
            head: &p.head,
            rest: &p.rest,
        }
    }

    fn len(&self) -> usize {
        self.head.len() + self.rest.len()
    }
}

impl<'a> From<&'a [u8]> for Original<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Original::whole(bytes)
    }
}

/// Everything needed to build a REM message.
#[derive(Debug)]
pub struct BuildInput<'a> {
    /// `From` (e.g. `"On behalf of: a@b.it" <rem-service@provider>`); non-ASCII display
    /// names are encoded.
    pub from: &'a str,
    /// `To` mailboxes (at least one).
    pub to: &'a [String],
    /// `Cc` mailboxes (dispatch only; may be empty).
    pub cc: &'a [String],
    /// `Reply-To` (a dispatch carries the original `From`).
    pub reply_to: Option<&'a str>,
    /// `Subject`, already prefixed by the caller (`REM Dispatch: ...`); encoded when non-ASCII.
    pub subject: &'a str,
    /// The REM message's `Message-ID` (with or without `<>`).
    pub message_id: &'a str,
    /// `Date`.
    pub date: OffsetDateTime,
    /// `In-Reply-To`, when the message answers another.
    pub in_reply_to: Option<&'a str>,
    /// The REM-* header fields.
    pub metadata: &'a RelayMetadata,
    /// The introduction, plain text.
    pub intro_text: &'a str,
    /// The introduction, HTML.
    pub intro_html: &'a str,
    /// The prepared original ([`super::prepare_original`]) for a dispatch or payload.
    pub original: Option<Original<'a>>,
    /// [`super::PreparedOriginal::digest`] when `original` is the `bytes` of that
    /// [`super::PreparedOriginal`]: they are then known to be prepared and to have this digest,
    /// and are not read again to check it. `None`: checked here.
    pub original_digest: Option<[u8; 32]>,
    /// The evidences: event name (the part is named `<name>.xml`) and the signed XML bytes.
    pub evidences: &'a [(String, Vec<u8>)],
    /// The REM signing key.
    pub key: &'a SigningKey,
    /// The REM signing certificate.
    pub cert: &'a Certificate,
    /// Intermediates carried with the certificate.
    pub chain: &'a [Certificate],
    /// The CMS signingTime.
    pub signing_time: OffsetDateTime,
}

fn plain(name: &str, value: &str) -> Result<String, Error> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::BadHeaderValue {
            name: name.to_string(),
        });
    }
    Ok(value.to_string())
}

fn check_event_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::BadEventName(name.to_string()));
    }
    Ok(())
}

/// The top header fields in the order of the AgID kit (Reply-To, From, To, Cc, Subject, Date,
/// Message-ID, In-Reply-To, then the REM-* fields), encoded for the wire.
fn top_headers(input: &BuildInput<'_>) -> Result<Vec<(String, String)>, Error> {
    if input.to.is_empty() {
        return Err(Error::NoRecipient);
    }
    let list = |name: &str, items: &[String]| -> Result<String, Error> {
        let encoded = items
            .iter()
            .map(|m| plain(name, m).map(|m| wire::encode_mailboxes(&m)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(encoded.join(",\r\n "))
    };
    let mut h: Vec<(String, String)> = Vec::new();
    if let Some(r) = input.reply_to {
        h.push((
            "Reply-To".into(),
            wire::encode_mailboxes(&plain("Reply-To", r)?),
        ));
    }
    h.push((
        "From".into(),
        wire::encode_mailboxes(&plain("From", input.from)?),
    ));
    h.push(("To".into(), list("To", input.to)?));
    if !input.cc.is_empty() {
        h.push(("Cc".into(), list("Cc", input.cc)?));
    }
    let subject = wire::encode_unstructured(&plain("Subject", input.subject)?);
    h.push(("Subject".into(), wire::fold("Subject", &subject)));
    h.push((
        "Date".into(),
        wire::rfc5322_date(input.date).map_err(Error::Date)?,
    ));
    h.push((
        "Message-ID".into(),
        angle_id("Message-ID", input.message_id)?,
    ));
    if let Some(r) = input.in_reply_to {
        h.push(("In-Reply-To".into(), angle_id("In-Reply-To", r)?));
    }
    for (name, value) in input.metadata.headers() {
        let v = plain(&name, &value)?;
        let v = if name.eq_ignore_ascii_case(header::MD08) {
            wire::encode_mailboxes(&v)
        } else {
            wire::encode_unstructured(&v)
        };
        h.push((name, v));
    }
    Ok(h)
}

/// The original agrees with the metadata: present exactly for a dispatch or payload,
/// prepared, and digesting to `REM-DigestValue` (when the algorithm is SHA-256).
fn check_original(input: &BuildInput<'_>) -> Result<(), Error> {
    let md = input.metadata;
    let presence = |what| {
        Err(Error::OriginalPresence {
            message_type: md.message_type.uri(),
            what,
        })
    };
    match (&md.message_type, input.original) {
        (MessageType::Dispatch | MessageType::Payload, None) => {
            return presence("needs the original");
        }
        (MessageType::Receipt | MessageType::Notification, Some(_)) => {
            return presence("does not carry the original");
        }
        _ => {}
    }
    if let Some(o) = input.original {
        // Checked here when the caller did not prepare it (the pieces joined: not the hot
        // path, which passes the digest of its preparation).
        let joined = match input.original_digest {
            None if o.head.is_empty() => Some(std::borrow::Cow::Borrowed(o.rest)),
            None => Some(std::borrow::Cow::Owned([o.head, o.rest].concat())),
            Some(_) => None,
        };
        if let Some(j) = &joined {
            check_prepared(j)?;
        }
        if md.digest_algorithm.trim() == DIGEST_SHA256 {
            let computed = digest_b64(&match (&joined, input.original_digest) {
                (_, Some(d)) => d,
                (Some(j), None) => digest_original(j),
                (None, None) => digest_original(&[]),
            });
            if computed != md.digest_value.trim() {
                return Err(Error::DigestMismatch {
                    header: md.digest_value.clone(),
                    computed,
                });
            }
        }
    }
    Ok(())
}

/// The signed `multipart/mixed` entity (CRLF) in three pieces: what comes before the
/// original, the original (borrowed), what comes after it.
struct Inner<'a> {
    before: Vec<u8>,
    original: Option<Original<'a>>,
    after: Vec<u8>,
}

/// The signed `multipart/mixed` entity ([`Inner`]).
fn inner<'a>(input: &BuildInput<'a>) -> Result<Inner<'a>, Error> {
    check_original(input)?;
    for (name, _) in input.evidences {
        check_event_name(name)?;
    }
    let text_qp = wire::quoted_printable(input.intro_text);
    let html_qp = wire::quoted_printable(input.intro_html);
    let mut contents: Vec<&[u8]> = vec![text_qp.as_bytes(), html_qp.as_bytes()];
    if let Some(o) = input.original {
        contents.push(o.head);
        contents.push(o.rest);
    }
    let b64: Vec<String> = input
        .evidences
        .iter()
        .map(|(_, x)| wire::base64_lines(x))
        .collect();
    contents.extend(b64.iter().map(|s| s.as_bytes()));
    let seed = [
        input.message_id.as_bytes(),
        &input.date.unix_timestamp().to_be_bytes(),
    ]
    .concat();
    let mixed = wire::boundary(&seed, 1, &contents);
    let alt = wire::boundary(&seed, 2, &contents);

    let original_len = input.original.map_or(0, |o| o.len());
    let mut out =
        Vec::with_capacity(contents.iter().map(|c| c.len()).sum::<usize>() - original_len + 2048);
    let mut put = |s: &str| out.extend_from_slice(s.as_bytes());
    put(&format!(
        "Content-Type: multipart/mixed;\r\n\tboundary=\"{mixed}\"\r\n\r\n"
    ));
    put(&format!("--{mixed}\r\n"));
    put("REM-Section-Type: rem_message/introduction\r\n");
    put(&format!(
        "Content-Type: multipart/alternative;\r\n\tboundary=\"{alt}\"\r\n\r\n"
    ));
    for (ctype, body) in [("text/plain", &text_qp), ("text/html", &html_qp)] {
        put(&format!("--{alt}\r\n"));
        put(&format!(
            "Content-Type: {ctype}; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        ));
        put(body);
        put("\r\n");
    }
    put(&format!("--{alt}--\r\n"));
    if input.original.is_some() {
        put(&format!("\r\n--{mixed}\r\n"));
        put("Content-Type: message/rfc822; name=AttachedMimeMessage\r\n");
        put("Content-Transfer-Encoding: binary\r\n");
        put("Content-Disposition: attachment; filename=AttachedMimeMessage\r\n");
        put("REM-Section-Type: rem_message/original\r\n\r\n");
    }
    let before = out;
    let mut out = Vec::with_capacity(b64.iter().map(String::len).sum::<usize>() + 1024);
    let mut put = |s: &str| out.extend_from_slice(s.as_bytes());
    for ((name, _), body) in input.evidences.iter().zip(&b64) {
        put(&format!("\r\n--{mixed}\r\n"));
        put(&format!(
            "Content-Type: application/xml; charset=UTF-8; name=\"{name}.xml\"\r\n"
        ));
        put("Content-Transfer-Encoding: base64\r\n");
        put(&format!(
            "Content-Disposition: attachment; filename=\"{name}.xml\"\r\n"
        ));
        put("REM-Section-Type: rem_message/xml_evidence\r\n\r\n");
        put(body);
    }
    put(&format!("\r\n--{mixed}--\r\n"));
    Ok(Inner {
        before,
        original: input.original,
        after: out,
    })
}

/// Builds and signs the whole REM message; returns its bytes (CRLF).
pub fn build(input: &BuildInput<'_>) -> Result<Vec<u8>, Error> {
    build_parts(input).map(|p| p.concat())
}

/// A signed REM message in three pieces: `head`, then the body of the original (borrowed
/// from [`BuildInput::original`]), then `tail`. [`build`] joins them; a caller holding the
/// original inside a larger buffer can write the message there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts<'a> {
    /// Everything before [`Self::body`].
    pub head: Vec<u8>,
    /// The second piece of the original ([`Original::rest`]); empty without an original.
    pub body: &'a [u8],
    /// Everything after it.
    pub tail: Vec<u8>,
}

impl Parts<'_> {
    /// The message in one buffer.
    pub fn concat(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + self.body.len() + self.tail.len());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(self.body);
        out.extend_from_slice(&self.tail);
        out
    }
}

/// [`build`] as [`Parts`].
pub fn build_parts<'a>(input: &BuildInput<'a>) -> Result<Parts<'a>, Error> {
    let headers = top_headers(input)?;
    let Inner {
        before,
        original,
        after,
    } = inner(input)?;
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (head_piece, body) = match &original {
        Some(o) => (o.head, o.rest),
        None => (&[][..], &[][..]),
    };
    let (sign_head, sign_tail) = smime::sign_parts(
        &SignRequest {
            headers: &refs,
            inner: &before,
            key: input.key,
            signer: input.cert,
            chain: input.chain,
            signing_time: input.signing_time,
            protocol: SmimeProtocol::Rem,
        },
        &[head_piece, body, &after],
    )?;
    let mut head = sign_head;
    head.reserve(before.len() + head_piece.len());
    head.extend_from_slice(&before);
    head.extend_from_slice(head_piece);
    let mut tail = after;
    tail.extend_from_slice(&sign_tail);
    Ok(Parts { head, body, tail })
}
