//! The original as carried by a *breve* delivery receipt. pec.md §2.6: the original with its
//! attachments replaced by their hashes; the exact layout is not confirmed by any sample.
//! Ponte's interpretation (documented in the manual):
//!
//! * the original's header block is kept, except `Content-Type` and `Content-Transfer-Encoding`,
//!   which become a `multipart/mixed` of Ponte's;
//! * every text body leaf (`text/plain` or `text/html` without a file name) is copied verbatim,
//!   headers and body;
//! * every other leaf (attachments, nested messages) becomes a `text/plain` part named
//!   `<file name>.sha256.txt` holding the file name, its content type and the SHA-256 of its
//!   decoded content in lowercase hex;
//! * a single-part text original is returned unchanged.

use crate::mime::write as mime;
use crate::pec::Error;
use mail_parser::{MessagePart, MimeHeaders, PartType};

fn is_body(p: &MessagePart<'_>) -> bool {
    (p.is_content_type("text", "plain")
        || p.is_content_type("text", "html")
        || p.content_type().is_none())
        && p.attachment_name().is_none()
}

/// The breve form of `original` (CRLF bytes); `seed` makes the boundary reproducible.
pub(super) fn replace_attachments(original: &[u8], seed: &str) -> Result<Vec<u8>, Error> {
    let msg = crate::mime::parse::message(original).map_err(|_| Error::BuildInput {
        what: "the breve receipt",
        missing: "the original in postacert.eml is not a readable message".into(),
    })?;
    let parts = &msg.parts;
    let Some(root) = parts.first() else {
        return Ok(original.to_vec());
    };
    if !root.is_multipart() && is_body(root) {
        return Ok(original.to_vec());
    }
    let mut leaves: Vec<&MessagePart<'_>> = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        if leaves.len() > parts.len() {
            break;
        }
        match &p.body {
            PartType::Multipart(ids) => {
                for &id in ids.iter().rev() {
                    if let Some(c) = parts.get(id as usize) {
                        stack.push(c);
                    }
                }
            }
            _ => leaves.push(p),
        }
    }
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    for leaf in &leaves {
        let verbatim = is_body(leaf) && !std::ptr::eq(*leaf, root);
        if verbatim {
            let (s, e) = (
                leaf.raw_header_offset() as usize,
                leaf.raw_end_offset() as usize,
            );
            pieces.push(original.get(s..e).unwrap_or_default().to_vec());
            continue;
        }
        let name = leaf
            .attachment_name()
            .unwrap_or("allegato")
            .replace(['"', '\r', '\n', '\\'], "_");
        let ctype = leaf
            .content_type()
            .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("octet-stream")))
            .unwrap_or_else(|| "application/octet-stream".into());
        let content: &[u8] = match &leaf.body {
            PartType::Message(_) => {
                let (s, e) = (
                    leaf.raw_body_offset() as usize,
                    leaf.raw_end_offset() as usize,
                );
                original.get(s..e).unwrap_or_default()
            }
            _ => leaf.contents(),
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, content);
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let encoded_name = mime::encode_header_value(&format!("{name}.sha256.txt"));
        let piece = format!(
            "Content-Type: text/plain; charset=\"utf-8\"; name=\"{encoded_name}\"\r\n\
             Content-Disposition: attachment; filename=\"{encoded_name}\"\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n{}",
            mime::quoted_printable(&format!("Allegato: {name}\nTipo: {ctype}\nSHA-256: {hex}"))
        );
        pieces.push(piece.into_bytes());
    }
    let refs: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
    let boundary = mime::boundary(seed.as_bytes(), 3, &refs);

    // The original's header block without its MIME content headers.
    let header_end = original
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2)
        .unwrap_or(original.len());
    let head = original.get(..header_end).unwrap_or_default();
    let mut out = Vec::with_capacity(original.len());
    let mut skipping = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if !skipping {
                out.extend_from_slice(line);
            }
            continue;
        }
        let name_end = line.iter().position(|&b| b == b':').unwrap_or(0);
        let name = String::from_utf8_lossy(line.get(..name_end).unwrap_or_default())
            .trim()
            .to_ascii_lowercase();
        skipping = name == "content-type" || name == "content-transfer-encoding";
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n").as_bytes(),
    );
    for p in &pieces {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(out)
}
