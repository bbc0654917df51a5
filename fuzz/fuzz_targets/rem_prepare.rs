#![no_main]
//! Preparation of an original (`prepare_original`, `digest_original`) on arbitrary bytes, and
//! `build(parse(x))` where `x` parses as a REM message.
//!
//! Preparation never panics; a prepared original is in prepared form (CRLF only, exactly one
//! final CRLF), digests to what it says, carries `REM-UAMessageIdentifier` with the user's id
//! and the REMS id as `Message-ID`, and is refused when prepared again. A parsed REM message
//! rebuilt (signed with the test PKI's REM EC key) reads back with the same metadata, original,
//! evidences and recipients.

use std::sync::OnceLock;

use base64::Engine;
use ponte::crypto::SigningKey;
use ponte::rem::message::{self, BuildInput, Error};
use ponte::x509::Certificate;

#[path = "waiver.rs"]
mod waiver;

const REMS_ID: &str = "<fuzz.1@rems.test>";

fn identity() -> Option<&'static (SigningKey, Certificate)> {
    static ID: OnceLock<Option<(SigningKey, Certificate)>> = OnceLock::new();
    ID.get_or_init(|| {
        let pki = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/pki");
        let key =
            SigningKey::from_pkcs8_pem(&std::fs::read(pki.join("rem-ec.key.pem")).ok()?).ok()?;
        let cert = ponte::x509::load_pem(&std::fs::read(pki.join("rem-ec.pem")).ok()?)
            .ok()?
            .into_iter()
            .next()?;
        Some((key, cert))
    })
    .as_ref()
}

fn check_prepared(data: &[u8]) {
    let Ok(p) = message::prepare_original(data, REMS_ID) else {
        return;
    };
    let b = &p.bytes;
    assert!(
        b.ends_with(b"\r\n") && !b.ends_with(b"\r\n\r\n"),
        "final CRLF"
    );
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            assert!(i > 0 && b.get(i - 1) == Some(&b'\r'), "bare LF at {i}");
        }
    }
    assert_eq!(p.digest, message::digest_original(b));
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&p.digest_b64)
            .ok(),
        Some(p.digest.to_vec())
    );
    let ua_line = format!("REM-UAMessageIdentifier: {}\r\n", p.ua_message_id);
    assert!(
        b.windows(ua_line.len()).any(|w| w == ua_line.as_bytes()),
        "no REM-UAMessageIdentifier line"
    );
    let id_line = format!(": {REMS_ID}\r\n{ua_line}");
    assert!(
        b.windows(id_line.len()).any(|w| w == id_line.as_bytes()),
        "the REMS Message-ID does not precede it"
    );
    assert!(matches!(
        message::prepare_original(b, "<again@rems.test>"),
        Err(Error::OriginalAlreadyPrepared)
    ));
}

/// A list split at commas outside quotes and angle brackets (RFC 5322 address-list).
fn split(list: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut quoted, mut angle, mut esc) = (false, false, false);
    for c in list.chars() {
        if !esc {
            match c {
                '\\' if quoted => esc = true,
                '"' => quoted = !quoted,
                '<' if !quoted => angle = true,
                '>' if !quoted => angle = false,
                ',' if !quoted && !angle => {
                    out.push(String::new());
                    continue;
                }
                _ => {}
            }
        } else {
            esc = false;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out.into_iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

/// A mailbox list as (display name without quotes or quoted pairs, rest) pairs.
fn mailboxes(list: &str) -> Vec<(String, String)> {
    split(list)
        .iter()
        .map(|m| match m.rfind('<') {
            Some(lt) => {
                let (name, addr) = m.split_at(lt);
                let name = name.trim();
                let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                    Some(q) => {
                        let mut out = String::new();
                        let mut esc = false;
                        for c in q.chars() {
                            if c == '\\' && !esc {
                                esc = true;
                                continue;
                            }
                            esc = false;
                            out.push(c);
                        }
                        out
                    }
                    None => name.to_string(),
                };
                (name, addr.to_string())
            }
            None => (String::new(), m.clone()),
        })
        .collect()
}

fn round_trip(data: &[u8]) {
    let Ok(m) = message::parse(data) else { return };
    let Some((key, cert)) = identity() else {
        return;
    };
    let date = time::macros::datetime!(2126-01-01 00:00 UTC);
    let evidences: Vec<(String, Vec<u8>)> = m
        .evidences
        .iter()
        .map(|e| {
            let name = e.filename.strip_suffix(".xml").unwrap_or(&e.filename);
            (name.to_string(), e.bytes.clone())
        })
        .collect();
    let input = BuildInput {
        from: m.from.as_deref().unwrap_or("rem@rems.test"),
        to: &m.to,
        cc: &[],
        reply_to: None,
        subject: m.subject.as_deref().unwrap_or(""),
        message_id: m.message_id.as_deref().unwrap_or(REMS_ID),
        date,
        in_reply_to: None,
        metadata: &m.metadata,
        intro_text: m.intro_text.as_deref().unwrap_or(""),
        intro_html: "",
        original: m.original.as_deref().map(Into::into),
        original_digest: None,
        evidences: &evidences,
        key,
        cert,
        chain: &[],
        signing_time: date,
    };
    let Ok(built) = message::build(&input) else {
        return;
    };
    let back = match message::parse(&built) {
        Ok(b) => b,
        Err(e) => panic!("a built REM message does not parse: {e}"),
    };
    // A mailbox may come back quoted differently ("Name" <a> / Name <a>): compared as
    // (display name, address).
    let mut md = back.metadata.clone();
    assert_eq!(
        mailboxes(&md.md08),
        mailboxes(&m.metadata.md08),
        "REM-MD08 changed"
    );
    md.md08.clone_from(&m.metadata.md08);
    assert_eq!(md, m.metadata, "metadata changed");
    assert_eq!(back.original, m.original, "original changed");
    let bytes = |v: &[message::EvidencePart]| v.iter().map(|e| e.bytes.clone()).collect::<Vec<_>>();
    assert_eq!(
        bytes(&back.evidences),
        bytes(&m.evidences),
        "evidences changed"
    );
    let all = |v: &[String]| v.iter().flat_map(|t| mailboxes(t)).collect::<Vec<_>>();
    assert_eq!(all(&back.to), all(&m.to), "recipients changed");
    assert!(back.signed);
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    waiver::install();
    check_prepared(data);
    round_trip(data);
});
