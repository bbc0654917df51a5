//! What interop runs found (issue 13): a PEC notice with an unexpected `errore` is not lost,
//! logs a harness can read, and the sender's own Message-ID carried to REM and back.
//! Real peers: `openssl` signs the hand-made PEC notices, the binary does the rest.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{World, corpus_file, have, pki, run_ponte, to_crlf};
use serde_json::Value;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A plain message `ponte pec wrap` makes an envelope of.
fn write_original(w: &World, name: &str, message_id: &str) -> PathBuf {
    let orig = w.path(name);
    std::fs::write(
        &orig,
        to_crlf(
            format!(
                "From: Mario Rossi <mario.rossi@pec.prova.test>\nTo: anna@r2-rems-only-for-test.it\nSubject: Contratto di prova\nMessage-ID: {message_id}\nDate: Tue, 24 Nov 2026 10:00:00 +0100\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\nBuongiorno.\n"
            )
            .as_bytes(),
        ),
    )
    .expect("write original");
    orig
}

/// `ponte pec wrap ORIGINAL` with the test PEC identity.
fn wrap(w: &World, original: &Path, out: &Path) {
    let o = run_ponte([
        "pec".to_string(),
        "wrap".into(),
        original.display().to_string(),
        "--key".into(),
        pki("pec-rsa.key.pem").display().to_string(),
        "--cert".into(),
        pki("pec-rsa.pem").display().to_string(),
        "--chain".into(),
        pki("provider-ca.pem").display().to_string(),
        "--provider".into(),
        "Gestore Prova S.p.A.".into(),
        "-o".into(),
        out.display().to_string(),
    ]);
    assert!(o.status.success(), "wrap: {}", stderr(&o));
    let _ = w;
}

/// A PEC message made by hand and signed by `openssl smime` with the test PEC identity:
/// `outer` header lines (CRLF-terminated) before the signed `multipart/mixed` of `inner`.
fn openssl_signed(w: &World, name: &str, outer: &str, inner: &[u8]) -> PathBuf {
    let inner_path = w.path(&format!("{name}.inner"));
    std::fs::write(&inner_path, inner).expect("write inner");
    let signed = w.path(&format!("{name}.signed"));
    let o = Command::new("openssl")
        .args([
            "smime", "-sign", "-binary", "-crlfeol", "-md", "sha256", "-in",
        ])
        .arg(&inner_path)
        .arg("-signer")
        .arg(pki("pec-rsa.pem"))
        .arg("-inkey")
        .arg(pki("pec-rsa.key.pem"))
        .arg("-certfile")
        .arg(pki("provider-ca.pem"))
        .arg("-out")
        .arg(&signed)
        .output()
        .expect("spawn openssl");
    assert!(o.status.success(), "openssl smime -sign: {}", stderr(&o));
    let mut msg = outer.as_bytes().to_vec();
    msg.extend_from_slice(&std::fs::read(&signed).expect("signed"));
    let out = w.path(&format!("{name}.eml"));
    std::fs::write(&out, msg).expect("write message");
    out
}

/// A PEC notice of `tipo` with daticert `errore` about the envelope `identificativo` /
/// `msgid`, signed by openssl.
fn notice(
    w: &World,
    name: &str,
    tipo: &str,
    errore: &str,
    identificativo: &str,
    msgid: &str,
) -> PathBuf {
    let msgid_xml = msgid.replace('<', "&lt;").replace('>', "&gt;");
    let daticert = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<postacert tipo=\"{tipo}\" errore=\"{errore}\">\r\n<intestazione>\r\n<mittente>mario.rossi@pec.prova.test</mittente>\r\n<destinatari tipo=\"certificato\">anna@r2-rems-only-for-test.it</destinatari>\r\n<risposte>mario.rossi@pec.prova.test</risposte>\r\n<oggetto>Contratto di prova</oggetto>\r\n</intestazione>\r\n<dati>\r\n<gestore-emittente>Gestore Prova S.p.A.</gestore-emittente>\r\n<data zona=\"+0100\"><giorno>24/11/2026</giorno><ora>10:00:05</ora></data>\r\n<identificativo>{identificativo}</identificativo>\r\n<msgid>{msgid_xml}</msgid>\r\n</dati>\r\n</postacert>\r\n"
    );
    let inner = format!(
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nAvviso di non accettazione.\r\n--b1\r\nContent-Type: application/xml; name=\"daticert.xml\"\r\nContent-Disposition: attachment; filename=\"daticert.xml\"\r\n\r\n{daticert}--b1--\r\n"
    );
    let outer = format!(
        "Date: Tue, 24 Nov 2026 10:00:05 +0100\r\nFrom: \"Posta Certificata\" <posta-certificata@pec.prova.test>\r\nTo: mario.rossi@pec.prova.test\r\nSubject: AVVISO DI NON ACCETTAZIONE: Contratto di prova\r\nMessage-ID: <notice-{name}@pec.prova.test>\r\nX-Riferimento-Message-ID: {msgid}\r\nX-Ricevuta: {tipo}\r\n"
    );
    openssl_signed(w, name, &outer, inner.as_bytes())
}

#[test]
fn a_non_accettazione_with_errore_nessuno_becomes_a_submission_rejection_with_a_note() {
    if !have("openssl") {
        return;
    }
    let w = World::new();
    let orig = write_original(&w, "original.eml", "<orig-5@client.test>");
    let env = w.path("envelope.eml");
    wrap(&w, &orig, &env);
    let (code, d) = w.translate(&env, "rem", &w.path("dispatch.rem.eml"), &[]);
    assert_eq!(code, 0, "{d}");
    let identificativo = d["correlation"]["pec_identificativo"]
        .as_str()
        .expect("identificativo");
    let input = notice(
        &w,
        "nessuno",
        "non-accettazione",
        "nessuno",
        identificativo,
        "<orig-5@client.test>",
    );
    let (code, v) = w.translate(&input, "rem", &w.path("nessuno.rem.eml"), &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["input"]["type"], "non-accettazione", "{v}");
    assert_eq!(v["output"]["type"], "receipt", "{v}");
    assert_eq!(v["output"]["event"], "SubmissionRejection", "{v}");
    assert_eq!(v["output"]["reasons"][0], "RA02", "{v}");
    assert_eq!(v["mapping"], "non-accettazione-any", "{v}");
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("\"nessuno\"") && n.contains("non-accettazione-any")),
        "{v}"
    );
    // A value outside the DTD goes the same way; a known one keeps its own row, unnoted.
    let odd = notice(
        &w,
        "odd",
        "non-accettazione",
        "bizzarro",
        identificativo,
        "<orig-5@client.test>",
    );
    let (code, v) = w.translate(&odd, "rem", &w.path("odd.rem.eml"), &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["mapping"], "non-accettazione-any", "{v}");
    assert!(v["notes"].to_string().contains("bizzarro"), "{v}");
    let virus = notice(
        &w,
        "virus",
        "non-accettazione",
        "virus",
        identificativo,
        "<orig-5@client.test>",
    );
    let (code, v) = w.translate(&virus, "rem", &w.path("virus.rem.eml"), &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["mapping"], "non-accettazione-virus", "{v}");
    assert_eq!(v["output"]["reasons"][0], "RA03", "{v}");
    assert!(!v["notes"].to_string().contains("kind-level"), "{v}");
}

#[test]
fn translate_prints_no_configuration_warning_and_config_check_does() {
    let w = World::new();
    // An expired certificate as a PEC anchor: a warning of the configuration (kept for
    // messages signed while it was valid).
    let c = std::fs::read_to_string(&w.config).expect("config");
    let expired = corpus_file("pec/certs/namirial-pec-signer.pem");
    let c = c.replacen(
        "pec_anchors = [",
        &format!("pec_anchors = [\"{}\", ", expired.display()),
        1,
    );
    std::fs::write(&w.config, c).expect("config");
    let o = run_ponte([
        "config".to_string(),
        "check".into(),
        w.config.display().to_string(),
    ]);
    let check = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(o.status.success(), "{check}");
    assert!(
        check.contains("warning") && check.contains("trust.pec_anchors"),
        "{check}"
    );
    let orig = write_original(&w, "original.eml", "<orig-7@client.test>");
    let env = w.path("envelope.eml");
    wrap(&w, &orig, &env);
    let o = run_ponte([
        "translate".to_string(),
        env.display().to_string(),
        "--to".into(),
        "rem".into(),
        "--config".into(),
        w.config.display().to_string(),
        "-o".into(),
        w.path("out.eml").display().to_string(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("WARN") && !err.contains("warning"), "{err}");
    assert!(!err.contains('\u{1b}'), "ANSI escape in {err:?}");
    // Log lines are plain when stderr is not a terminal: a refused TSA connection logs one
    // line per attempt at PONTE_LOG=info.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let o = common::ponte()
        .env("PONTE_LOG", "info")
        .env_remove("NO_COLOR")
        .args(["tsa", "stamp"])
        .arg(&env)
        .args(["--tsa", &format!("http://127.0.0.1:{port}/"), "-o"])
        .arg(w.path("x.tsr"))
        .output()
        .expect("spawn");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("INFO") && err.contains("time-stamp request failed"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "ANSI escape in {err:?}");
}

const NAMIRIAL: &str = "pec/real/namirial-busta-trasporto-2024.crlf.eml";
const NAMIRIAL_ID: &str = "opec21192.20241205000210.24820.46.1.184@sicurezzapostale.it";
const NAMIRIAL_UA: &str = "<2839ed57-e664-4020-bb69-6a8cb92d05a6@email.android.com>";

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// The values of header `name` in the header block of `msg` (unfolded).
fn header(msg: &[u8], name: &str) -> Vec<String> {
    let end = find(msg, b"\r\n\r\n").unwrap_or(msg.len());
    let head = String::from_utf8_lossy(&msg[..end])
        .replace("\r\n\t", " ")
        .replace("\r\n ", " ");
    head.split("\r\n")
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .collect()
}

/// `ponte verify FILE --json`.
fn verify_json(file: &Path) -> Value {
    let o = run_ponte([
        "verify".to_string(),
        file.display().to_string(),
        "--json".into(),
    ]);
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{}: {e}: {}", file.display(), stderr(&o)))
}

/// The signed content of a REM message, as `openssl cms -verify` gives it (test PKI root).
fn rem_content(w: &World, msg: &Path) -> Vec<u8> {
    let out = w.path("content.tmp");
    let o = Command::new("openssl")
        .args([
            "cms", "-verify", "-inform", "SMIME", "-purpose", "any", "-in",
        ])
        .arg(msg)
        .arg("-CAfile")
        .arg(pki("root-ca.pem"))
        .arg("-out")
        .arg(&out)
        .output()
        .expect("openssl");
    assert!(o.status.success(), "openssl cms -verify: {}", stderr(&o));
    std::fs::read(&out).expect("content")
}

#[test]
fn the_namirial_envelope_carries_the_senders_own_message_id_to_rem() {
    if !have("openssl") {
        return;
    }
    let w = World::new();
    let out = w.path("namirial.rem.eml");
    let (code, v) = w.translate(
        &corpus_file(NAMIRIAL),
        "rem",
        &out,
        &["--at", "signing-time"],
    );
    assert_eq!(code, 0, "{v}");
    let msg = std::fs::read(&out).expect("output");
    // The sender UA's Message-ID (X-Riferimento-Message-ID / daticert msgid) ...
    assert_eq!(header(&msg, "REM-UAMessageIdentifier"), vec![NAMIRIAL_UA]);
    // ... and the provider's identifier (the identificativo) as the REM message identifier.
    let id = format!("<{NAMIRIAL_ID}>");
    assert_eq!(header(&msg, "Message-ID"), vec![id.clone()]);
    assert_eq!(v["output"]["message_id"], id.as_str(), "{v}");
    let c = &v["correlation"];
    assert_eq!(c["pec_identificativo"], NAMIRIAL_ID, "{v}");
    assert_eq!(c["pec_msgid"], NAMIRIAL_UA, "{v}");
    assert_eq!(c["rem_ua_message_id"], NAMIRIAL_UA, "{v}");
    assert_eq!(c["rem_message_id"], id.as_str(), "{v}");
    // Inside the signed content: the attached original and the evidence say the same.
    let content = String::from_utf8_lossy(&rem_content(&w, &out)).into_owned();
    assert!(
        content.contains(&format!(
            "\r\nMessage-ID: {id}\r\nREM-UAMessageIdentifier: {NAMIRIAL_UA}\r\n"
        )),
        "the attached original's identifiers"
    );
    let ev_b64: String = {
        let at = content
            .find("filename=\"SubmissionAcceptance.xml\"")
            .expect("evidence part");
        let body = &content[at..];
        let start = body.find("\r\n\r\n").expect("part body") + 4;
        body[start..]
            .split("\r\n--")
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect()
    };
    use base64::Engine as _;
    let ev = base64::engine::general_purpose::STANDARD
        .decode(ev_b64)
        .expect("evidence base64");
    let ev = String::from_utf8(ev).expect("utf-8 evidence");
    assert!(
        ev.contains("<AppLayerIdentifier>&lt;2839ed57-e664-4020-bb69-6a8cb92d05a6@email.android.com&gt;</AppLayerIdentifier>"),
        "AppLayerIdentifier"
    );
    assert!(
        ev.contains(&format!("MessageIdentifier>{NAMIRIAL_ID}</")),
        "MessageIdentifier"
    );
}

#[test]
fn a_receipt_for_the_namirial_dispatch_comes_back_with_both_identifiers() {
    if !have("openssl") {
        return;
    }
    let w = World::new();
    let namirial = corpus_file(NAMIRIAL);
    let (code, v) = w.translate(
        &namirial,
        "rem",
        &w.path("dispatch.rem.eml"),
        &["--at", "signing-time"],
    );
    assert_eq!(code, 0, "{v}");
    // The delivery receipt a recipient's provider issues for the envelope (test PKI), as PEC.
    let receipt = w.path("consegna.eml");
    let o = run_ponte([
        "pec".to_string(),
        "receipt".into(),
        "--type".into(),
        "avvenuta-consegna".into(),
        "--for".into(),
        namirial.display().to_string(),
        "--recipient".into(),
        "osj12@yahoo.com".into(),
        "--key".into(),
        pki("pec-rsa.key.pem").display().to_string(),
        "--cert".into(),
        pki("pec-rsa.pem").display().to_string(),
        "--chain".into(),
        pki("provider-ca.pem").display().to_string(),
        "--provider".into(),
        "Gestore Prova S.p.A.".into(),
        "-o".into(),
        receipt.display().to_string(),
    ]);
    assert!(o.status.success(), "pec receipt: {}", stderr(&o));
    // PEC → REM: the REM receipt about the dispatch names both.
    let rem = w.path("consegna.rem.eml");
    let (code, r) = w.translate(&receipt, "rem", &rem, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["output"]["event"], "ContentConsignment", "{r}");
    let msg = std::fs::read(&rem).expect("rem receipt");
    assert_eq!(header(&msg, "REM-UAMessageIdentifier"), vec![NAMIRIAL_UA]);
    assert_eq!(
        header(&msg, "In-Reply-To"),
        vec![format!("<{NAMIRIAL_ID}>")]
    );
    // REM → PEC: the PEC receipt carries the identificativo and the sender's msgid, both
    // with the correlation store (this world) and without it (a fresh one: from the REM
    // identifiers alone).
    let fresh = World::new();
    for (label, world) in [("linked", &w), ("stateless", &fresh)] {
        let back = world.path(&format!("consegna.{label}.pec.eml"));
        let (code, b) = world.translate(&rem, "pec", &back, &[]);
        assert_eq!(code, 0, "{label}: {b}");
        assert_eq!(b["output"]["type"], "avvenuta-consegna", "{label}: {b}");
        let j = verify_json(&back);
        assert_eq!(
            j["pec"]["daticert"]["identificativo"], NAMIRIAL_ID,
            "{label}: {j}"
        );
        assert_eq!(j["pec"]["daticert"]["msgid"], NAMIRIAL_UA, "{label}: {j}");
        assert_eq!(
            j["pec"]["riferimento_message_id"], NAMIRIAL_UA,
            "{label}: {j}"
        );
        assert_eq!(
            b["correlation"]["pec_identificativo"], NAMIRIAL_ID,
            "{label}: {b}"
        );
        assert_eq!(b["correlation"]["pec_msgid"], NAMIRIAL_UA, "{label}: {b}");
    }
}

#[test]
fn a_rem_dispatch_becomes_an_envelope_whose_msgid_is_the_senders_own() {
    let w = World::new();
    let input = common::kit("Intra-REM-flow/REM_Dispatch.RA01.eml");
    let raw = std::fs::read(&input).expect("kit dispatch");
    let ua = header(&raw, "REM-UAMessageIdentifier");
    let rems = header(&raw, "Message-ID");
    assert_eq!(ua.len(), 1);
    let out = w.path("dispatch.pec.eml");
    let (code, v) = w.translate(&input, "pec", &out, &["--at", "signing-time"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["output"]["type"], "posta-certificata", "{v}");
    let j = verify_json(&out);
    assert_eq!(j["pec"]["daticert"]["msgid"], ua[0].as_str(), "{j}");
    assert_eq!(j["pec"]["riferimento_message_id"], ua[0].as_str(), "{j}");
    assert_ne!(j["pec"]["daticert"]["msgid"], rems[0].as_str(), "{j}");
    // The REM message identifier stays in the correlation record.
    assert_eq!(v["correlation"]["rem_message_id"], rems[0].as_str(), "{v}");
    assert_eq!(v["correlation"]["pec_msgid"], ua[0].as_str(), "{v}");
}
