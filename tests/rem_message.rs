//! The REM message (EN 319 532-3 / REM baseline of 532-4): preparation of the original and its
//! digest (AgID vector), reading and verifying the 42 messages of the AgID Policy-IT kit,
//! building and signing (checked by `openssl cms -verify`), round trips and hostile input.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::kit;
use ponte::crypto::SigningKey;
use ponte::rem::evidence::{Event, Reason};
use ponte::rem::message::{
    self, BuildInput, Error, MessageType, RelayMetadata, build, digest_original, parse,
    prepare_original, verify,
};
use ponte::smime::TrustTime;
use ponte::x509::{Certificate, load_pem};
use time::macros::datetime;

const VECTOR: &str = "ePggZQ9/Uwbe6ui/mqn+moZJcfkdFVIluG1B4a3ov9k=";
const KIT_REMS_ID: &str =
    "<26A0CF65.00566CE0.242DDC3F.85251369.rem-service@s1-rems-only-for-test.it>";

/// Kit messages whose `REM-Evidence-ID` differs from the `EvidenceIdentifier` of the evidence
/// they carry (measured; see `all_43_kit_messages_verify_at_signing_time`).
const KIT_EVIDENCE_ID_MISMATCHES: &[&str] = &[
    "REM_RelayToNonERDS.RF01.eml",
    "REM_RelayToNonERDSFailure.RF02.eml",
    "REM_RelayToNonERDSFailure.RF03.eml",
    "REM_RelayToNonERDSFailure.RF51.eml",
];

/// Kit dispatches whose attached original's `REM-UAMessageIdentifier` differs from the header's.
const KIT_UA_ID_MISMATCHES: &[&str] = &[
    "REM_EXTERNAL.RF04.eml",
    "REM_Dispatch.RA01.eml",
    "REM_DispatchExt.RA01.eml",
];

/// Kit messages whose `REM-DigestValue` differs from their evidence's `PartInfo` digest.
const KIT_DIGEST_MISMATCHES: &[&str] = &[
    "REM_RelayToNonERDS.RF01.eml",
    "REM_RelayToNonERDSFailure.RF02.eml",
    "REM_RelayToNonERDSFailure.RF03.eml",
    "REM_RelayToNonERDSFailure.RF51.eml",
];

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn b64(d: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(d)
}

fn kit_root() -> Vec<Certificate> {
    load_pem(&read(&kit("certificates/REM-ROOT-CA.crt"))).expect("kit root")
}

/// The 42 REM_*.eml of the kit, sorted.
fn kit_messages() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["Intra-REM-flow", "Inflow", "Outflow"] {
        let entries = std::fs::read_dir(kit(dir)).expect("kit folder");
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("REM_") && name.ends_with(".eml") {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// `REM_ContentConsignmentFailure1.RD03.eml` → (event, reason code).
fn expected(path: &Path) -> (Event, String) {
    let name = path.file_name().and_then(|n| n.to_str()).expect("name");
    let stem = name.trim_start_matches("REM_").trim_end_matches(".eml");
    let (label, code) = stem.split_once('.').expect("label.code");
    let label = label.trim_end_matches(|c: char| c.is_ascii_digit());
    let label = label.strip_suffix("Ext").unwrap_or(label);
    let event = match label {
        "Dispatch" => Event::SubmissionAcceptance,
        "EXTERNAL" => Event::ReceivedFromNonERDS,
        other => Event::from_name(other).unwrap_or_else(|| panic!("event {other}")),
    };
    (event, code.to_string())
}

// ------------------------------------------------------------------ preparation and digest

#[test]
fn the_kit_digest_vector() {
    let bytes = read(&kit(
        "Intra-REM-flow/original_message.to_attach_to_dispatch.eml",
    ));
    assert_eq!(bytes.len(), 3205);
    assert_eq!(b64(&digest_original(&bytes)), VECTOR);
    // One CRLF more is a different (wrong) digest.
    let mut more = bytes.clone();
    more.extend_from_slice(b"\r\n");
    assert_eq!(
        b64(&digest_original(&more)),
        "mj7Gb/1+tK6ggSOZCxHAlwIZ5wnIDUMA9ndGtDMhzu0="
    );
}

#[test]
fn preparing_the_users_originals_gives_the_kits_attachments() {
    for (stem, digest_file) in [
        ("Intra-REM-flow/original_message", true),
        ("Outflow/original_messageExt", true),
        ("Inflow/original_messageFromExt", true),
    ] {
        let clean = read(&kit(&format!("{stem}.clean_from_user.eml")));
        let want = read(&kit(&format!("{stem}.to_attach_to_dispatch.eml")));
        let p = prepare_original(&clean, KIT_REMS_ID).expect("prepare");
        assert!(
            p.bytes == want,
            "{stem}: prepared bytes differ from the kit's"
        );
        assert_eq!(p.ua_message_id, "<30be01d30072$242ddc3f$f9b72bf0$@de>");
        if digest_file {
            let txt = String::from_utf8(read(&kit(&format!(
                "{stem}.to_attach_to_dispatch.digest.txt"
            ))))
            .expect("digest text");
            assert_eq!(p.digest_b64, txt.trim(), "{stem}");
        }
        // The same original stored with LF and with extra trailing lines prepares identically.
        let lf: Vec<u8> = clean.iter().copied().filter(|b| *b != b'\r').collect();
        let mut lf_more = lf.clone();
        lf_more.extend_from_slice(b"\n\n");
        assert_eq!(
            prepare_original(&lf_more, KIT_REMS_ID).expect("lf").bytes,
            want
        );
        // Without the brackets the REMS identifier gets them.
        let bare = KIT_REMS_ID.trim_matches(|c| c == '<' || c == '>');
        assert_eq!(prepare_original(&clean, bare).expect("bare").bytes, want);
    }
    assert_eq!(
        b64(&prepare_original(
            &read(&kit("Intra-REM-flow/original_message.clean_from_user.eml")),
            KIT_REMS_ID
        )
        .expect("prepare")
        .digest),
        VECTOR
    );
}

#[test]
fn an_original_without_message_id_is_refused() {
    let r = prepare_original(b"From: a@b.it\r\nSubject: x\r\n\r\nbody\r\n", KIT_REMS_ID);
    assert!(matches!(r, Err(Error::OriginalNoMessageId)), "{r:?}");
}

// ------------------------------------------------------------------ the kit's REM messages

#[test]
fn all_43_kit_messages_parse_with_the_event_and_reason_of_their_name() {
    let files = kit_messages();
    assert_eq!(files.len(), 43, "the kit holds 43 REM_*.eml");
    for f in &files {
        let bytes = read(f);
        let m = parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let (event, code) = expected(f);
        assert_eq!(m.metadata.event, event, "{}", f.display());
        let reason = Reason::from_code(&code).unwrap_or_else(|| panic!("code {code}"));
        assert_eq!(
            m.metadata
                .reasons
                .iter()
                .map(|r| r.uri())
                .collect::<Vec<_>>(),
            vec![reason.uri()],
            "{}",
            f.display()
        );
        assert_eq!(m.metadata.metadata_version, message::METADATA_VERSION);
        assert_eq!(m.metadata.digest_algorithm, message::DIGEST_SHA256);
        assert!(
            m.signed && m.notes.is_empty(),
            "{}: {:?}",
            f.display(),
            m.notes
        );
        assert!(m.intro_text.as_deref().is_some_and(|t| t.contains("REM")));
        assert_eq!(m.evidences.len(), 1, "{}", f.display());
        assert_eq!(m.evidences[0].filename, format!("{}.xml", event.name()));
        let dispatch = m.metadata.message_type == MessageType::Dispatch;
        assert_eq!(m.original.is_some(), dispatch, "{}", f.display());
        if let Some(o) = &m.original {
            assert_eq!(b64(&digest_original(o)), m.metadata.digest_value);
        }
        assert!(m.subject.is_some() && m.message_id.is_some() && !m.to.is_empty());
        assert_eq!(
            m.metadata.applicable_policies,
            vec![
                "http://uri.etsi.org/19532/v1#/REMbaseline",
                "https://eidas.agid.gov.it/REM/rem-policy-it"
            ]
        );
        // The metadata writes back to the same fields and reads back the same.
        assert_eq!(
            RelayMetadata::from_headers(&m.metadata.headers()).expect("again"),
            m.metadata
        );
    }
}

#[test]
fn all_43_kit_messages_verify_at_signing_time() {
    let root = kit_root();
    let mut inconsistent = Vec::new();
    let mut id_mismatch = Vec::new();
    let mut ua_mismatch = Vec::new();
    for f in kit_messages() {
        let bytes = read(&f);
        let v = verify(&bytes, &root, TrustTime::SigningTime)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(v.smime.valid, "{}: {:?}", f.display(), v.smime.reason);
        assert!(v.trust.trusted, "{}: {:?}", f.display(), v.trust.reason);
        assert_eq!(v.evidences.len(), 1);
        for e in &v.evidences {
            assert!(
                e.valid(),
                "{} {}: {:?} {:?}",
                f.display(),
                e.filename,
                e.verdict.as_ref().map(|r| &r.signature.invalid),
                e.unreadable
            );
            assert_eq!(e.trusted(), Some(true), "{} {}", f.display(), e.filename);
            assert!(e.summary.is_some());
        }
        assert!(v.header_event_matches, "{}", f.display());
        if !v.ua_message_id.consistent {
            ua_mismatch.push(
                f.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
            assert!(
                v.ua_message_id
                    .problems
                    .iter()
                    .all(|p| p.contains("the attached original says")),
                "{:?}",
                v.ua_message_id.problems
            );
        }
        if !v.header_evidence_id_matches {
            id_mismatch.push(
                f.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        if !v.digest.consistent {
            let name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            // The evidence (signed) names the Outflow original; the header does not.
            assert!(
                v.digest
                    .problems
                    .iter()
                    .all(|p| p.contains("PartInfo digest")),
                "{name}: {:?}",
                v.digest.problems
            );
            inconsistent.push(name);
        }
        assert!(v.valid() || !v.digest.consistent, "{}", f.display());
    }
    // Defects of the kit, reported rather than hidden: these Outflow receipts carry the
    // Intra-REM-flow original's digest in REM-DigestValue, while their (signed) evidence's
    // PartInfo holds the Outflow original's digest.
    assert_eq!(
        inconsistent, KIT_DIGEST_MISMATCHES,
        "digest inconsistencies"
    );
    // A defect of the kit, reported rather than hidden: these receipts carry in
    // REM-Evidence-ID an identifier that is not their evidence's EvidenceIdentifier.
    assert_eq!(
        id_mismatch, KIT_EVIDENCE_ID_MISMATCHES,
        "REM-Evidence-ID mismatches"
    );
    // And the three dispatches attach an original whose REM-UAMessageIdentifier (`...$@de>`)
    // is not the one of their header and evidence (`...$@it>`).
    assert_eq!(
        ua_mismatch, KIT_UA_ID_MISMATCHES,
        "REM-UAMessageIdentifier mismatches"
    );
}

#[test]
fn an_lf_stored_kit_message_reads_the_same() {
    let f = kit("Intra-REM-flow/REM_Dispatch.RA01.eml");
    let crlf = read(&f);
    let lf: Vec<u8> = crlf.iter().copied().filter(|b| *b != b'\r').collect();
    let a = parse(&crlf).expect("crlf");
    let b = parse(&lf).expect("lf");
    assert_eq!(a.metadata, b.metadata);
    assert_eq!(a.original, b.original);
    assert_eq!(a.evidences, b.evidences);
    assert!(b.notes.iter().any(|n| n.contains("LF")));
    let v = verify(&lf, &kit_root(), TrustTime::SigningTime).expect("verify lf");
    assert!(
        v.smime.valid && v.digest.consistent,
        "{:?}",
        v.digest.problems
    );
}

#[test]
fn tampering_the_kit_original_breaks_the_digest_check() {
    let raw = read(&kit("Intra-REM-flow/REM_Dispatch.RA01.eml"));
    let s = String::from_utf8(raw).expect("utf-8");
    let needle = "Subject: Oggetto dell'original message";
    let section = s.find("rem_message/original").expect("original section");
    let second = s[section..].find(needle).expect("original subject") + section;
    let mut t = s.clone();
    t.replace_range(
        second..second + needle.len(),
        "Subject: Oggetto dell'originaL message",
    );
    let v = verify(t.as_bytes(), &kit_root(), TrustTime::SigningTime).expect("verify");
    assert!(!v.digest.consistent);
    assert!(
        !v.smime.valid,
        "the S/MIME signature covers the original too"
    );
    assert!(!v.valid());
}

#[test]
fn a_missing_mandatory_header_is_named() {
    let s =
        String::from_utf8(read(&kit("Intra-REM-flow/REM_RelayFailure.RB02.eml"))).expect("utf-8");
    let cut = s.replace("REM-MD08:", "X-Not-MD08:");
    assert!(matches!(
        parse(cut.as_bytes()),
        Err(Error::MissingHeader("REM-MD08"))
    ));
    let cut = s.replace("REM-DigestValue:", "X-DigestValue:");
    assert!(matches!(
        parse(cut.as_bytes()),
        Err(Error::MissingHeader("REM-DigestValue"))
    ));
}

#[test]
fn a_section_without_rem_section_type_is_read_by_its_type_with_a_note() {
    let s =
        String::from_utf8(read(&kit("Intra-REM-flow/REM_RelayFailure.RB02.eml"))).expect("utf-8");
    let stripped = s.replace("REM-Section-Type: rem_message/xml_evidence\r\n", "");
    let m = parse(stripped.as_bytes()).expect("parse");
    assert_eq!(m.evidences.len(), 1);
    assert!(
        m.notes.iter().any(|n| n.contains("no REM-Section-Type")),
        "{:?}",
        m.notes
    );
}

#[test]
fn an_evidence_part_that_is_not_xml_is_a_verdict_not_an_error() {
    let s =
        String::from_utf8(read(&kit("Intra-REM-flow/REM_RelayFailure.RB02.eml"))).expect("utf-8");
    let start = s
        .find("REM-Section-Type: rem_message/xml_evidence\r\n\r\n")
        .expect("evidence")
        + "REM-Section-Type: rem_message/xml_evidence\r\n\r\n".len();
    let mut t = s.clone();
    // "bm90IHhtbA==" is base64 for "not xml".
    t.replace_range(start..start + 64, "bm90IHhtbA==\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n");
    let v = verify(t.as_bytes(), &kit_root(), TrustTime::SigningTime).expect("readable message");
    assert_eq!(v.evidences.len(), 1);
    assert!(!v.evidences[0].valid());
    assert!(v.evidences[0].verdict.is_none() || v.evidences[0].summary.is_none());
    assert!(!v.valid());
}

#[test]
fn hostile_mutations_do_not_panic() {
    let raw = read(&kit("Intra-REM-flow/REM_Dispatch.RA01.eml"));
    let root = kit_root();
    let mut cuts: Vec<usize> = (1..40).map(|k| raw.len() * k / 40).collect();
    cuts.extend([0, 1, 10, 2000, raw.len() - 1]);
    for cut in cuts {
        let t = &raw[..cut];
        let _ = parse(t);
        let _ = verify(t, &root, TrustTime::SigningTime);
    }
    let mut state = 0x2545F4914F6CDD1Du64;
    for _ in 0..60 {
        let mut m = raw.clone();
        for _ in 0..8 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = (state as usize) % m.len();
            m[i] = (state >> 32) as u8;
        }
        let _ = parse(&m);
        let _ = verify(&m, &root, TrustTime::SigningTime);
    }
    // Some structural damages give precise errors.
    assert!(parse(b"").is_err());
    assert!(parse(b"Subject: x\r\n\r\nbody").is_err());
}

// ------------------------------------------------------------------ building

fn pki_cert(name: &str) -> Certificate {
    load_pem(&read(&common::pki(name))).expect("cert").remove(0)
}

struct Built {
    bytes: Vec<u8>,
    metadata: RelayMetadata,
    original: Vec<u8>,
    evidences: Vec<(String, Vec<u8>)>,
}

/// A dispatch built with the test PKI around the kit's prepared original and its
/// (kit-signed) SubmissionAcceptance evidence.
fn build_dispatch(subject: &str) -> Built {
    let kit_bytes = read(&kit("Intra-REM-flow/REM_Dispatch.RA01.eml"));
    let kit_msg = parse(&kit_bytes).expect("kit");
    let prepared = prepare_original(
        &read(&kit("Intra-REM-flow/original_message.clean_from_user.eml")),
        KIT_REMS_ID,
    )
    .expect("prepare");
    let mut metadata = kit_msg.metadata.clone();
    metadata.relay_date = Some("Tue, 24 Nov 2026 10:00:00 +0000 (UTC)".into());
    // A non-ASCII display name goes out as an encoded word (which may not be quoted), so it
    // is given unquoted to compare equal after reading back.
    metadata.md08 = "Zoë Mittente <sender@sender-own-domain-only-for-test.it>".into();
    metadata.other = vec![("REM-G02".into(), "kept".into())];
    let evidences = vec![(
        "SubmissionAcceptance".to_string(),
        kit_msg.evidences[0].bytes.clone(),
    )];
    let key = SigningKey::from_pkcs8_pem(&read(&common::pki("rem-rsa.key.pem"))).expect("key");
    let cert = pki_cert("rem-rsa.pem");
    let chain = [pki_cert("provider-ca.pem")];
    let to = vec![
        "<recC@r2-rems-only-for-test.it>".to_string(),
        "\"Destinatario è\" <recD@r2-rems-only-for-test.it>".to_string(),
    ];
    let bytes = build(&BuildInput {
        from: "\"On behalf of: sender@sender-own-domain-only-for-test.it\" <rem-service@s1-rems-only-for-test.it>",
        to: &to,
        cc: &[],
        reply_to: Some("\"Sender name\" <sender@sender-own-domain-only-for-test.it>"),
        subject,
        message_id: KIT_REMS_ID,
        date: datetime!(2026-11-25 11:00:00 +01:00),
        in_reply_to: None,
        metadata: &metadata,
        intro_text: "Messaggio REM – il messaggio è allegato.\nREM Dispatch: the message is attached.",
        intro_html: "<p>Messaggio REM</p>",
        original: Some(prepared.bytes.as_slice().into()),
        original_digest: None,
        evidences: &evidences,
        key: &key,
        cert: &cert,
        chain: &chain,
        signing_time: datetime!(2026-11-25 10:00:00 UTC),
    })
    .expect("build");
    Built {
        bytes,
        metadata,
        original: prepared.bytes,
        evidences,
    }
}

#[test]
fn build_then_parse_gives_back_metadata_original_and_evidences() {
    let subject = "REM Dispatch: Perché sì – prova";
    let b = build_dispatch(subject);
    assert!(b.bytes.is_ascii() || b.bytes.windows(2).all(|w| w != b"\n\n"));
    let text = String::from_utf8_lossy(&b.bytes);
    assert!(text.contains("protocol=\"application/pkcs7-signature\""));
    assert!(text.contains("REM-Section-Type: rem_message/original"));
    assert!(text.contains("REM-Section-Type: rem_message/introduction"));
    assert!(text.contains("filename=\"SubmissionAcceptance.xml\""));
    let head = &text[..text.find("\r\n\r\n").expect("header end")];
    assert!(head.is_ascii(), "top header must be ASCII: {head}");
    let m = parse(&b.bytes).expect("parse");
    assert_eq!(m.metadata, b.metadata);
    assert_eq!(m.original.as_deref(), Some(b.original.as_slice()));
    assert_eq!(m.evidences.len(), 1);
    assert_eq!(m.evidences[0].filename, "SubmissionAcceptance.xml");
    assert_eq!(m.evidences[0].bytes, b.evidences[0].1);
    assert_eq!(m.subject.as_deref(), Some(subject));
    assert_eq!(m.to.len(), 2);
    assert!(m.to[1].contains("Destinatario è"), "{:?}", m.to);
    assert!(
        m.intro_text
            .as_deref()
            .is_some_and(|t| t.contains("il messaggio è allegato"))
    );
    assert!(m.notes.is_empty(), "{:?}", m.notes);
}

#[test]
fn a_built_dispatch_verifies_in_ponte() {
    let b = build_dispatch("REM Dispatch: prova");
    let mut anchors = kit_root();
    anchors.push(pki_cert("root-ca.pem"));
    let v = verify(&b.bytes, &anchors, TrustTime::SigningTime).expect("verify");
    assert!(v.smime.valid, "{:?}", v.smime.reason);
    assert!(v.trust.trusted, "{:?}", v.trust.reason);
    assert!(v.digest.consistent, "{:?}", v.digest.problems);
    assert_eq!(v.digest.recomputed.as_deref(), Some(VECTOR));
    assert_eq!(
        v.evidences[0].app_layer_identifier.as_deref(),
        Some("<30be01d30072$242ddc3f$f9b72bf0$@it>")
    );
    assert!(v.header_event_matches && v.header_evidence_id_matches);
    assert!(v.valid());
    // Only the kit root: the S/MIME signer is not trusted, the evidence still is.
    let v = verify(&b.bytes, &kit_root(), TrustTime::SigningTime).expect("verify");
    assert!(v.smime.valid && !v.trust.trusted && !v.valid());
}

#[test]
fn tampering_a_built_original_fails_the_digest_check() {
    let b = build_dispatch("REM Dispatch: prova");
    let s = String::from_utf8(b.bytes).expect("utf-8");
    let section = s.find("rem_message/original").expect("original section");
    let pos = s[section..]
        .find("REM-UAMessageIdentifier: <30be")
        .expect("prepared original header")
        + section;
    let mut t = s.clone();
    t.replace_range(pos..pos + 30, "REM-UAMessageIdentifier: <40be");
    let v = verify(t.as_bytes(), &kit_root(), TrustTime::SigningTime).expect("verify");
    assert!(!v.digest.consistent);
    assert!(
        v.digest
            .problems
            .iter()
            .any(|p| p.contains("attached original digests"))
    );
}

#[test]
fn openssl_accepts_a_built_rem_message() {
    if !common::have("openssl") {
        eprintln!("skipped: openssl not installed");
        return;
    }
    let b = build_dispatch("REM Dispatch: Perché sì");
    let dir = tempfile::tempdir().expect("tempdir");
    let msg = dir.path().join("rem.eml");
    std::fs::write(&msg, &b.bytes).expect("write");
    let out = dir.path().join("content.mime");
    // Text mode, not `-binary`: measured with OpenSSL 3.0.22, `-binary -inform SMIME` leaves
    // the CR of the CRLF before the boundary in the content and refuses every CRLF
    // multipart/signed, the AgID kit's own messages included. The content is CRLF already,
    // so text mode's canonicalisation changes nothing.
    let o = Command::new("openssl")
        .args(["cms", "-verify", "-inform", "SMIME", "-purpose", "any"])
        .arg("-in")
        .arg(&msg)
        .arg("-CAfile")
        .arg(common::pki("root-ca.pem"))
        .arg("-out")
        .arg(&out)
        .output()
        .expect("run openssl");
    assert!(
        o.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // What openssl says was signed contains the original exactly.
    let content = read(&out);
    assert!(
        content
            .windows(b.original.len())
            .any(|w| w == b.original.as_slice())
    );
    // A wrong anchor is refused.
    let o = Command::new("openssl")
        .args(["cms", "-verify", "-inform", "SMIME", "-purpose", "any"])
        .arg("-in")
        .arg(&msg)
        .arg("-CAfile")
        .arg(common::pki("rogue-ca.pem"))
        .arg("-out")
        .arg(dir.path().join("x"))
        .output()
        .expect("run openssl");
    assert!(!o.status.success());
}

#[test]
fn build_refuses_what_would_make_a_broken_message() {
    let dispatch_bytes = read(&kit("Intra-REM-flow/REM_Dispatch.RA01.eml"));
    let dispatch = parse(&dispatch_bytes).expect("kit");
    let receipt_bytes = read(&kit("Intra-REM-flow/REM_RelayFailure.RB02.eml"));
    let receipt = parse(&receipt_bytes).expect("kit");
    let key = SigningKey::from_pkcs8_pem(&read(&common::pki("rem-rsa.key.pem"))).expect("key");
    let cert = pki_cert("rem-rsa.pem");
    let to = vec!["<a@b.it>".to_string()];
    let ev = vec![("RelayFailure".to_string(), b"<x/>".to_vec())];
    let prepared = prepare_original(b"Message-ID: <u@x>\r\n\r\nbody\r\n", "<r@x>").expect("p");
    let input = |metadata: &RelayMetadata,
                 original: Option<&[u8]>,
                 evidences: &[(String, Vec<u8>)],
                 to: &[String],
                 subject: &str| {
        build(&BuildInput {
            from: "<rem-service@x.it>",
            to,
            cc: &[],
            reply_to: None,
            subject,
            message_id: "<m@x.it>",
            date: datetime!(2026-11-25 11:00:00 UTC),
            in_reply_to: None,
            metadata,
            intro_text: "t",
            intro_html: "h",
            original: original.map(Into::into),
            original_digest: None,
            evidences,
            key: &key,
            cert: &cert,
            chain: &[],
            signing_time: datetime!(2026-11-25 10:00:00 UTC),
        })
    };
    let r = &receipt.metadata;
    // A receipt builds; the same with a long subject folds and reads back whole.
    let long = format!("REM RelayFailure: {}", "parola ".repeat(30).trim_end());
    let built = input(r, None, &ev, &to, &long).expect("receipt");
    let text = String::from_utf8_lossy(&built);
    let head = &text[..text.find("\r\n\r\n").expect("header end")];
    let subject_lines: Vec<&str> = head
        .split("\r\n")
        .skip_while(|l| !l.starts_with("Subject:"))
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with(' '))
        .map(|(_, l)| l)
        .collect();
    assert!(subject_lines.len() > 1, "{head}");
    assert!(subject_lines.iter().all(|l| l.len() <= 78), "{head}");
    assert_eq!(
        parse(&built).expect("parse").subject.as_deref(),
        Some(long.as_str())
    );
    // A receipt carries no original; a dispatch needs one, whose digest is REM-DigestValue.
    assert!(matches!(
        input(r, Some(&prepared.bytes), &ev, &to, "s"),
        Err(Error::OriginalPresence { .. })
    ));
    let d = &dispatch.metadata;
    assert!(matches!(
        input(d, None, &ev, &to, "s"),
        Err(Error::OriginalPresence { .. })
    ));
    assert!(matches!(
        input(d, Some(&prepared.bytes), &ev, &to, "s"),
        Err(Error::DigestMismatch { .. })
    ));
    let mut fixed = d.clone();
    fixed.digest_value = prepared.digest_b64.clone();
    assert!(input(&fixed, Some(&prepared.bytes), &ev, &to, "s").is_ok());
    // The original must be in prepared form.
    for not_prepared in [
        b"Message-ID: <r@x>\n\nbody\n".as_slice(),
        b"Message-ID: <r@x>\r\n\r\nbody\r\n\r\n".as_slice(),
    ] {
        let mut m = d.clone();
        m.digest_value = b64(&digest_original(not_prepared));
        assert!(matches!(
            input(&m, Some(not_prepared), &ev, &to, "s"),
            Err(Error::OriginalNotPrepared(_))
        ));
    }
    assert!(matches!(
        input(r, None, &ev, &[], "s"),
        Err(Error::NoRecipient)
    ));
    assert!(matches!(
        input(r, None, &ev, &to, "s\r\nBcc: x@y"),
        Err(Error::BadHeaderValue { .. })
    ));
    let bad = vec![("../x".to_string(), b"<x/>".to_vec())];
    assert!(matches!(
        input(r, None, &bad, &to, "s"),
        Err(Error::BadEventName(_))
    ));
}

/// A SubmissionAcceptance evidence made and signed (XAdES-B-B) by Ponte for `prepared`, with
/// `part_digest` in its PartInfo.
fn ponte_evidence(
    prepared: &message::PreparedOriginal,
    rems_id: &str,
    part_digest: &str,
) -> Vec<u8> {
    use ponte::rem::evidence::{
        EntityDetails, EventReason, Evidence, MessageIdentifier, PartInfo, UserContentInfo,
        UserDetails,
    };
    let mut ev = Evidence::new(
        Some("ev-1".into()),
        "EV1.0001@rem.ponte.test",
        Event::SubmissionAcceptance,
        datetime!(2026-11-25 09:59:00 UTC),
        EntityDetails::legal_name("Ponte test REM provider"),
        UserDetails::mailto("sender@sender-own-domain-only-for-test.it"),
        vec![UserDetails::mailto("recC@r2-rems-only-for-test.it")],
    );
    ev.reasons.push(EventReason::baseline(
        Reason::MessageAccepted,
        "Message accepted",
    ));
    ev.submission_time = Some(datetime!(2026-11-25 09:59:00 UTC));
    ev.message_identifier = Some(MessageIdentifier {
        value: rems_id.trim_matches(|c| c == '<' || c == '>').to_string(),
        form: Default::default(),
    });
    ev.user_content_info = Some(UserContentInfo {
        app_layer_identifier: Some(prepared.ua_message_id.clone()),
        composing_parts: Some(1),
        parts: vec![PartInfo {
            identifier: "urn:oid:1.3.6.1.7".into(),
            content_type: "message/rfc822".into(),
            digest_method: Some(message::DIGEST_SHA256.into()),
            digest_value: Some(part_digest.into()),
        }],
    });
    let xml = ev.to_unsigned_xml().expect("evidence xml");
    let key = SigningKey::from_pkcs8_pem(&read(&common::pki("rem-rsa.key.pem"))).expect("key");
    let signer = ponte::xades::Signer::new(
        key,
        pki_cert("rem-rsa.pem"),
        vec![pki_cert("provider-ca.pem")],
    )
    .expect("signer");
    ponte::xades::sign_b_b(
        xml.as_bytes(),
        &signer,
        &ponte::xades::SignOptions {
            signing_time: datetime!(2026-11-25 09:59:30 UTC),
            id: Some("t1".into()),
        },
    )
    .expect("sign evidence")
}

fn ponte_dispatch(part_digest: Option<&str>) -> (Vec<u8>, message::PreparedOriginal) {
    let rems_id = "<R1.0001@rem.ponte.test>";
    let prepared = prepare_original(
        &read(&kit("Intra-REM-flow/original_message.clean_from_user.eml")),
        rems_id,
    )
    .expect("prepare");
    let evidence = ponte_evidence(
        &prepared,
        rems_id,
        part_digest.unwrap_or(&prepared.digest_b64),
    );
    let metadata = RelayMetadata {
        metadata_version: message::METADATA_VERSION.into(),
        message_type: MessageType::Dispatch,
        event: Event::SubmissionAcceptance,
        evidence_id: "<EV1.0001@rem.ponte.test>".into(),
        reasons: vec![Reason::MessageAccepted],
        digest_algorithm: message::DIGEST_SHA256.into(),
        digest_value: prepared.digest_b64.clone(),
        ua_message_id: prepared.ua_message_id.clone(),
        md08: "\"Sender name\" <sender@sender-own-domain-only-for-test.it>".into(),
        applicable_policies: vec!["http://uri.etsi.org/19532/v1#/REMbaseline".into()],
        relay_to_non_erds: None,
        relay_date: None,
        other: Vec::new(),
    };
    let key = SigningKey::from_pkcs8_pem(&read(&common::pki("rem-rsa.key.pem"))).expect("key");
    let to = vec!["<recC@r2-rems-only-for-test.it>".to_string()];
    let bytes = build(&BuildInput {
        from: "\"On behalf of: sender@sender-own-domain-only-for-test.it\" <rem-service@rem.ponte.test>",
        to: &to,
        cc: &[],
        reply_to: Some("\"Sender name\" <sender@sender-own-domain-only-for-test.it>"),
        subject: "REM Dispatch: prova",
        message_id: rems_id,
        date: datetime!(2026-11-25 10:00:00 UTC),
        in_reply_to: None,
        metadata: &metadata,
        intro_text: "Messaggio REM",
        intro_html: "<p>Messaggio REM</p>",
        original: Some(prepared.bytes.as_slice().into()),
        original_digest: Some(prepared.digest),
        evidences: &[("SubmissionAcceptance".to_string(), evidence)],
        key: &key,
        cert: &pki_cert("rem-rsa.pem"),
        chain: &[pki_cert("provider-ca.pem")],
        signing_time: datetime!(2026-11-25 10:00:00 UTC),
    })
    .expect("build");
    (bytes, prepared)
}

#[test]
fn a_dispatch_made_entirely_by_ponte_is_valid_in_every_check() {
    let (bytes, prepared) = ponte_dispatch(None);
    let v = verify(&bytes, &[pki_cert("root-ca.pem")], TrustTime::SigningTime).expect("verify");
    assert!(
        v.valid(),
        "{:?} {:?} {:?}",
        v.smime.reason,
        v.trust.reason,
        v.digest.problems
    );
    assert!(v.header_evidence_id_matches);
    assert!(v.ua_message_id.consistent, "{:?}", v.ua_message_id.problems);
    assert_eq!(
        v.digest.recomputed.as_deref(),
        Some(prepared.digest_b64.as_str())
    );
    assert_eq!(
        v.evidences[0]
            .verdict
            .as_ref()
            .and_then(|r| r.signature.level),
        Some(ponte::xades::Level::BB)
    );
    // Untrusted anchors: integrity holds, trust does not, so not valid.
    let v = verify(&bytes, &[pki_cert("rogue-ca.pem")], TrustTime::SigningTime).expect("verify");
    assert!(v.smime.valid && !v.trust.trusted && !v.valid());
}

#[test]
fn an_evidence_digesting_another_original_makes_the_dispatch_inconsistent() {
    let (bytes, _) = ponte_dispatch(Some(VECTOR_PLUS_CRLF));
    let v = verify(&bytes, &[pki_cert("root-ca.pem")], TrustTime::SigningTime).expect("verify");
    assert!(v.smime.valid && v.trust.trusted);
    assert!(v.evidences[0].valid());
    assert!(!v.digest.consistent);
    assert!(
        v.digest
            .problems
            .iter()
            .any(|p| p.contains("PartInfo digest")),
        "{:?}",
        v.digest.problems
    );
    assert!(!v.valid());
}

const VECTOR_PLUS_CRLF: &str = "mj7Gb/1+tK6ggSOZCxHAlwIZ5wnIDUMA9ndGtDMhzu0=";
