//! A large envelope (32 MiB of user message) through `ponte translate` both ways, with openssl
//! as the judge of every signature and digest: `openssl cms -verify` on the envelope, on the
//! REM message and on the PEC message made back from it, `openssl dgst -sha256` over the
//! attached original (it must be the REM-DigestValue and the digest the evidence states), and
//! the user's attachment byte-identical in both outputs. How fast and how much memory belong to
//! `bench/report.sh`, not here.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use common::mail::{header, openssl_verify};
use common::{World, have, pki, run_ponte};
use ponte::config::Config;
use ponte::correlate::MemoryStore;
use ponte::smime::TrustTime;
use ponte::translate::stream::{self, FileInput, Mode};
use ponte::translate::{Context, Judge, to_pec, to_rem};
use time::OffsetDateTime;

/// Bytes of the user's message: above the 30 MB the issue asks for.
const SIZE: usize = 32 << 20;

/// A user's CRLF message of about `size` bytes: a text part and a base64 attachment of
/// pseudo-random bytes (a different byte at every position, so a shifted or lost line shows).
fn original(size: usize) -> Vec<u8> {
    let head = b"From: Mario Rossi <mario.rossi@pec.prova.test>\r\n\
To: anna@r2-rems-only-for-test.it\r\n\
Subject: Contratto di prova, allegato grande\r\n\
Message-ID: <large-1@pec.prova.test>\r\n\
Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nBuongiorno, in allegato il contratto.\r\n\
--b\r\nContent-Type: application/octet-stream; name=\"contratto.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n";
    // 57 bytes make one 76-character line (78 with CRLF).
    let lines = (size - head.len()) / 78;
    let mut raw = vec![0u8; lines * 57];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in raw.chunks_mut(8) {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    let mut out = Vec::with_capacity(size + 16);
    out.extend_from_slice(head);
    let engine = base64::engine::general_purpose::STANDARD;
    let mut line = String::with_capacity(80);
    for block in raw.chunks(57) {
        line.clear();
        engine.encode_string(block, &mut line);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--b--\r\n");
    out
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    memchr::memmem::find(h, n)
}

/// The body of a MIME entity (after its header block).
fn body(entity: &[u8]) -> &[u8] {
    let at = find(entity, b"\r\n\r\n").expect("header block");
    &entity[at + 4..]
}

/// The boundary parameter of the top Content-Type of `entity`.
fn boundary(entity: &[u8]) -> String {
    let ct = header(entity, "Content-Type");
    let ct = ct.first().expect("Content-Type");
    let at = ct.find("boundary=").expect("boundary") + "boundary=".len();
    let rest = &ct[at..];
    match rest.strip_prefix('"') {
        Some(r) => r.split('"').next().unwrap_or_default().to_string(),
        None => rest
            .split([';', ' '])
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// The part of the multipart `entity` whose header block contains `marker`: (headers, body),
/// the body without the CRLF that belongs to the next delimiter.
fn part<'a>(entity: &'a [u8], marker: &str) -> (&'a [u8], &'a [u8]) {
    let delim = format!("\r\n--{}", boundary(entity));
    let finder = memchr::memmem::Finder::new(delim.as_bytes());
    let mut starts: Vec<usize> = finder.find_iter(entity).collect();
    starts.push(entity.len());
    for w in starts.windows(2) {
        let p = &entity[w[0] + delim.len()..w[1]];
        let Some(p) = p.strip_prefix(b"\r\n") else {
            continue; // the closing delimiter
        };
        let he = find(p, b"\r\n\r\n").expect("part headers");
        if find(&p[..he], marker.as_bytes()).is_some() {
            return (&p[..he + 2], &p[he + 4..]);
        }
    }
    panic!("no part with {marker}");
}

/// `openssl dgst -sha256 -binary FILE`, base64.
fn openssl_sha256(file: &Path) -> String {
    let o = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .arg(file)
        .output()
        .expect("openssl dgst");
    assert!(o.status.success(), "openssl dgst");
    assert_eq!(o.stdout.len(), 32, "SHA-256 is 32 bytes");
    base64::engine::general_purpose::STANDARD.encode(&o.stdout)
}

fn unbase64(b: &[u8]) -> Vec<u8> {
    let clean: Vec<u8> = b
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .expect("base64")
}

/// The PEC transport envelope of `user`, signed by the test provider with `ponte pec wrap`,
/// at `name` in the world's folder (openssl verifies it).
fn envelope(w: &World, user: &[u8], name: &str) -> PathBuf {
    assert!(user.len() >= 30_000_000, "{}", user.len());
    let orig = w.path(&format!("{name}.original"));
    std::fs::write(&orig, user).expect("write original");
    let env = w.path(name);
    let o = run_ponte([
        "pec".to_string(),
        "wrap".into(),
        orig.display().to_string(),
        "--key".into(),
        pki("pec-rsa.key.pem").display().to_string(),
        "--cert".into(),
        pki("pec-rsa.pem").display().to_string(),
        "--chain".into(),
        pki("provider-ca.pem").display().to_string(),
        "--provider".into(),
        "Gestore Prova S.p.A.".into(),
        "-o".into(),
        env.display().to_string(),
    ]);
    assert!(
        o.status.success(),
        "wrap: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::remove_file(&orig).expect("remove original");
    openssl_verify(&env, &pki("root-ca.pem"));
    env
}

/// The `ponte translate` above: its input (32 MiB and more) is above
/// `translate::stream::STREAM_ABOVE`, so these are the outputs of the streaming path.
#[test]
fn a_32_mib_envelope_goes_to_rem_and_back_with_openssl_checking_the_digests() {
    if !have("openssl") {
        return;
    }
    let w = World::new();
    let user = original(SIZE);
    let user_body = body(&user);
    let env = envelope(&w, &user, "envelope.eml");

    // PEC → REM.
    let rem = w.path("large.rem.eml");
    let (code, v) = w.translate(&env, "rem", &rem, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["output"]["type"], "dispatch", "{v}");
    let rem_msg = std::fs::read(&rem).expect("REM output");
    assert!(rem_msg.len() > SIZE, "{}", rem_msg.len());
    // openssl accepts the S/MIME signature over the whole 32 MiB.
    let content = openssl_verify(&rem, &pki("root-ca.pem"));
    let (_, carried) = part(&content, "rem_message/original");
    // The carried original ends where the next delimiter's CRLF begins (its own last line
    // keeps its CRLF); the digest covers exactly those bytes.
    let carried_path = w.path("carried.eml");
    std::fs::write(&carried_path, carried).expect("write carried");
    let digest = openssl_sha256(&carried_path);
    assert_eq!(header(&rem_msg, "REM-DigestValue"), vec![digest.clone()]);
    assert_eq!(v["correlation"]["dispatch"]["digest"], digest.as_str());
    // The user's attachment is carried byte for byte.
    assert!(body(carried) == user_body, "the carried body differs");
    // The evidence states the same digest (PartInfo), and openssl's digest is that of the
    // bytes carried, not of something Ponte computed.
    let (_, ev) = part(&content, "rem_message/xml_evidence");
    let ev = unbase64(ev);
    let ev_text = String::from_utf8_lossy(&ev);
    assert!(ev_text.contains(&digest), "PartInfo digest");
    if have("xmlsec1") {
        let ev_path = w.path("large.evidence.xml");
        std::fs::write(&ev_path, &ev).expect("write evidence");
        assert!(common::xmlsec1_verifies(&ev_path), "xmlsec1 evidence");
    }
    drop(content);

    // REM → PEC of that output.
    let pec = w.path("large.pec.eml");
    let (code, b) = w.translate(&rem, "pec", &pec, &[]);
    assert_eq!(code, 0, "{b}");
    assert_eq!(b["output"]["type"], "posta-certificata", "{b}");
    assert_eq!(
        b["correlation"]["dispatch"]["digest"],
        digest.as_str(),
        "{b}"
    );
    let content = openssl_verify(&pec, &pki("root-ca.pem"));
    let (_, postacert) = part(&content, "postacert.eml");
    // The message delivered to the PEC recipient carries the same attachment, byte for byte.
    assert!(
        body(postacert) == user_body,
        "the postacert.eml body differs"
    );
    // The REM evidence it carries states the digest openssl computed over the REM original.
    let (_, ev) = part(&content, "SubmissionAcceptance.xml");
    assert!(
        String::from_utf8_lossy(&unbase64(ev)).contains(&digest),
        "the evidence in the PEC message states another digest"
    );
}

/// A context of the world's configuration without `[tsa]` (evidences stay B-B, so two
/// translations of one input are byte-identical), a fixed identifier seed and an in-memory
/// store, as `tests/translate_pinned.rs` fixes them.
fn fixed_context(w: &World, now: OffsetDateTime) -> Context {
    let text = std::fs::read_to_string(w.path("ponte.toml")).expect("config");
    let at = text.find("[tsa]").expect("[tsa]");
    let end = text[at..].find("\n\n").map_or(text.len(), |e| at + e + 2);
    let path = w.path("fixed.toml");
    std::fs::write(&path, format!("{}{}", &text[..at], &text[end..])).expect("write config");
    let config = Config::load_at(&path, now).expect("config");
    Context::from_config(config, Some(Box::new(MemoryStore::new())), "fixed".into())
        .expect("context")
}

fn first_output(o: &ponte::translate::Outcome) -> &[u8] {
    match o {
        Ok(Ok(t)) => &t.outputs[0].bytes,
        Ok(Err(r)) => panic!("refused: {}", r.reason()),
        Err(e) => panic!("error: {e}"),
    }
}

/// The same 32 MiB envelope through the in-memory path and through the streaming path
/// (`--stream always`: the attachment left in the file), with the same identifiers and
/// clock: PEC → REM and REM → PEC give the same bytes; openssl verifies the streamed outputs
/// and the digest of the carried original, xmlsec1 the evidence.
#[test]
fn the_streaming_path_writes_the_bytes_of_the_in_memory_path_both_ways() {
    if !have("openssl") {
        return;
    }
    let w = World::new();
    let env = envelope(&w, &original(SIZE), "envelope.eml");
    let now = OffsetDateTime::now_utc();
    let judge = Judge {
        now,
        trust_at: TrustTime::At(now),
    };
    let memory = fixed_context(&w, now);
    let streaming = fixed_context(&w, now);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let origin = ponte::translate::Origin::Unknown;

    // PEC → REM.
    let whole = FileInput::read(&env, Mode::Never).expect("read");
    assert!(!whole.streamed());
    let a = rt.block_on(to_rem::translate_owned(
        &memory,
        whole.bytes().to_vec(),
        &judge,
        &origin,
    ));
    let a = first_output(&a).to_vec();
    drop(whole);
    let input = FileInput::read(&env, Mode::Always).expect("read");
    assert!(input.streamed(), "{:?}", input.whole_because());
    assert!(input.on_disk() > 30_000_000, "{}", input.on_disk());
    assert!(input.bytes().len() < 64 << 10, "{}", input.bytes().len());
    let s = rt
        .block_on(stream::to_rem(&streaming, input, &judge, &origin))
        .expect("streamed");
    let rem = w.path("streamed.rem.eml");
    s.write_file(&rem, first_output(&s.outcome)).expect("write");
    drop(s);
    let b = std::fs::read(&rem).expect("REM output");
    assert_eq!(a.len(), b.len());
    assert!(
        a == b,
        "the streamed REM message differs from the in-memory one"
    );
    drop(b);
    let content = openssl_verify(&rem, &pki("root-ca.pem"));
    let (_, carried) = part(&content, "rem_message/original");
    let carried_path = w.path("carried.eml");
    std::fs::write(&carried_path, carried).expect("write carried");
    assert_eq!(
        header(&a, "REM-DigestValue"),
        vec![openssl_sha256(&carried_path)]
    );
    if have("xmlsec1") {
        let (_, ev) = part(&content, "rem_message/xml_evidence");
        let ev_path = w.path("streamed.evidence.xml");
        std::fs::write(&ev_path, unbase64(ev)).expect("write evidence");
        assert!(common::xmlsec1_verifies(&ev_path), "xmlsec1 evidence");
    }
    drop(content);

    // REM → PEC of that output.
    let whole = FileInput::read(&rem, Mode::Never).expect("read");
    let a = rt.block_on(to_pec::translate_owned(
        &memory,
        whole.bytes().to_vec(),
        &judge,
    ));
    let a = first_output(&a).to_vec();
    drop(whole);
    let input = FileInput::read(&rem, Mode::Always).expect("read");
    assert!(input.streamed(), "{:?}", input.whole_because());
    assert!(input.on_disk() > 30_000_000, "{}", input.on_disk());
    let s = rt
        .block_on(stream::to_pec(&streaming, input, &judge))
        .expect("streamed");
    let pec = w.path("streamed.pec.eml");
    s.write_file(&pec, first_output(&s.outcome)).expect("write");
    drop(s);
    let b = std::fs::read(&pec).expect("PEC output");
    assert_eq!(a.len(), b.len());
    assert!(
        a == b,
        "the streamed PEC message differs from the in-memory one"
    );
    openssl_verify(&pec, &pki("root-ca.pem"));
}

/// Whether `dir` holds a temporary output of `ponte translate`.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("ponte-tmp"))
        .collect()
}

/// A large envelope whose attachment was changed after signing is refused by the streaming
/// path (the signature does not verify over the bytes read from the file) and nothing is
/// written; a file changed while it is translated is refused as such.
#[test]
fn a_tampered_large_envelope_leaves_no_output() {
    if !have("openssl") {
        return;
    }
    let w = World::new();
    let env = envelope(&w, &original(SIZE), "envelope.eml");
    let mut bytes = std::fs::read(&env).expect("envelope");
    // A base64 character in the middle of the attachment becomes another one.
    let mid = bytes.len() / 2;
    let at = mid
        + bytes[mid..]
            .iter()
            .position(|c| c.is_ascii_alphanumeric())
            .expect("b64");
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = w.path("tampered.eml");
    std::fs::write(&tampered, &bytes).expect("write");
    drop(bytes);
    let out_dir = w.path("out");
    std::fs::create_dir_all(&out_dir).expect("out dir");
    let out = out_dir.join("tampered.rem.eml");
    let (code, v) = w.translate(&tampered, "rem", &out, &["--stream", "always"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["refusal"], "signature-invalid", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .is_some_and(|r| r.contains("messageDigest mismatch")),
        "{v}"
    );
    assert!(!out.exists(), "an output was written");
    assert!(leftovers(&out_dir).is_empty(), "{:?}", leftovers(&out_dir));

    // Changed between the first read and the translation: the precise error, no output.
    let now = OffsetDateTime::now_utc();
    let judge = Judge {
        now,
        trust_at: TrustTime::At(now),
    };
    let cx = fixed_context(&w, now);
    let input = FileInput::read(&env, Mode::Always).expect("read");
    assert!(input.streamed());
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&env)
            .expect("open");
        let len = f.metadata().expect("len").len();
        f.seek(SeekFrom::Start(len / 2)).expect("seek");
        f.write_all(b"Z").expect("write");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let r = rt.block_on(stream::to_rem(
        &cx,
        input,
        &judge,
        &ponte::translate::Origin::Unknown,
    ));
    match r {
        Err(e @ stream::Error::Changed { .. }) => {
            let m = e.to_string();
            assert!(m.contains("differs from when they were first read"), "{m}");
            assert!(m.contains("envelope.eml"), "{m}");
        }
        Err(e) => panic!("another error: {e}"),
        Ok(s) => panic!("not refused: {:?}", s.outcome.map(|o| o.is_ok())),
    }
}
