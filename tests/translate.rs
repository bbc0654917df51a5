//! End-to-end tests of `ponte translate`: the real Namirial envelope and the AgID kit's REM
//! messages through the binary, with `openssl`, `xmlsec1` and `xmllint` as independent judges,
//! a development TSA on loopback, and golden outlines of every output type.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine;
use common::mail::{find, header, openssl_verify, split_parts};
use common::{KIT, World, corpus_file, have, pki, run_ponte, to_crlf};
use serde_json::Value;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn sha256(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

#[test]
fn the_namirial_envelope_becomes_a_rem_dispatch_that_others_verify() {
    if !(have("openssl") && have("xmlsec1")) {
        return;
    }
    let w = World::new();
    for (label, input) in [
        (
            "crlf",
            corpus_file("pec/real/namirial-busta-trasporto-2024.crlf.eml"),
        ),
        (
            "lf",
            corpus_file("pec/real/namirial-busta-trasporto-2024.lf.eml"),
        ),
    ] {
        let out = w.path(&format!("namirial-{label}.rem.eml"));
        let (code, v) = w.translate(&input, "rem", &out, &["--at", "signing-time"]);
        assert_eq!(code, 0, "{label}: {v}");
        assert_eq!(v["input"]["format"], "pec");
        assert_eq!(v["input"]["type"], "posta-certificata");
        assert_eq!(v["output"]["format"], "rem");
        assert_eq!(v["output"]["type"], "dispatch");
        assert_eq!(v["output"]["event"], "SubmissionAcceptance");
        assert_eq!(v["output"]["reasons"][0], "RA01");
        assert_eq!(v["mapping"], "busta-trasporto");
        let mid = v["output"]["message_id"].as_str().expect("message_id");
        assert!(mid.starts_with('<') && mid.ends_with('>'), "{mid}");
        assert!(
            v["correlation"]["pec_identificativo"].as_str().is_some(),
            "{v}"
        );
        assert_eq!(v["correlation"]["rem_message_id"], mid);
        let msg = std::fs::read(&out).expect("output");
        assert_eq!(header(&msg, "Message-ID"), vec![mid.to_string()]);
        assert_eq!(
            header(&msg, "REM-MetadataVersion"),
            vec!["EN31953203V010201"]
        );
        assert_eq!(header(&msg, "REM-ApplicablePolicy").len(), 2);
        // Its 7 recipients are ordinary mailboxes (daticert tipo="esterno"): Policy-IT header.
        assert_eq!(
            header(&msg, "REM-RelayToNonERDS"),
            vec!["evidence-required"]
        );
        assert!(header(&msg, "Subject")[0].starts_with("REM Dispatch: "));
        // 1. openssl accepts the S/MIME signature (REM identity, test PKI root).
        let content = openssl_verify(&out, &pki("root-ca.pem"));
        let parts = split_parts(&content);
        let sections: Vec<String> = parts
            .iter()
            .map(|(h, _)| {
                header(format!("{h}\r\n\r\n").as_bytes(), "REM-Section-Type")
                    .first()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            sections,
            [
                "rem_message/introduction",
                "rem_message/original",
                "rem_message/xml_evidence"
            ]
        );
        // 2. REM-DigestValue = SHA-256 of the attached original, computed here.
        let original = &parts[1].1;
        let original = original
            .strip_suffix(b"\r\n")
            .map_or(original.as_slice(), |o| o);
        let original = [original, b"\r\n"].concat();
        let digest = b64(&sha256(&original));
        assert_eq!(
            header(&msg, "REM-DigestValue"),
            vec![digest.clone()],
            "{label}"
        );
        // The prepared original keeps the user's Message-ID in REM-UAMessageIdentifier.
        let ua = header(&original, "REM-UAMessageIdentifier");
        assert_eq!(ua.len(), 1, "{label}");
        assert_eq!(header(&msg, "REM-UAMessageIdentifier"), ua);
        // 3. xmlsec1 verifies the evidence, whose PartInfo digest is the same.
        let ev = base64::engine::general_purpose::STANDARD
            .decode(
                parts[2]
                    .1
                    .iter()
                    .copied()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect::<Vec<u8>>(),
            )
            .expect("evidence base64");
        let ev_path = w.path(&format!("namirial-{label}.evidence.xml"));
        std::fs::write(&ev_path, &ev).expect("write evidence");
        assert!(common::xmlsec1_verifies(&ev_path), "xmlsec1 {label}");
        let text = String::from_utf8_lossy(&ev);
        assert!(text.contains(&digest), "PartInfo digest {label}");
        assert!(text.contains("SignatureTimeStamp"), "B-T {label}");
        // Ponte's own evidence verifier, with the dev TSA as time-stamp anchor.
        let o = run_ponte([
            "evidence".to_string(),
            "verify".into(),
            ev_path.display().to_string(),
            "--trust".into(),
            pki("root-ca.pem").display().to_string(),
            "--tsa-trust".into(),
            w.tsa.cert().display().to_string(),
            "--json".into(),
        ]);
        let j: Value = serde_json::from_slice(&o.stdout).expect("evidence json");
        assert_eq!(j["signature"]["level"], "B-T", "{j}");
        assert_eq!(j["timestamp"]["valid"], true, "{j}");
    }
}

#[test]
fn an_untrusted_or_unlisted_pec_signer_is_refused() {
    let w = World::with_index_extra(false);
    let input = corpus_file("pec/real/namirial-busta-trasporto-2024.crlf.eml");
    // Namirial is not in this index.
    let (code, v) = w.translate(&input, "rem", &w.path("x.eml"), &["--at", "signing-time"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["translated"], false);
    assert_eq!(v["refusal"], "signer-not-provider", "{v}");
    assert!(v["reason"].as_str().unwrap_or("").contains("index"), "{v}");
    assert!(!w.path("x.eml").exists());
    // Judged now, the Namirial signer has expired.
    let (code, v) = w.translate(&input, "rem", &w.path("y.eml"), &["--at", "now"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["refusal"], "signer-untrusted", "{v}");
    assert!(
        v["reason"].as_str().unwrap_or("").contains("not trusted"),
        "{v}"
    );
    // A flipped byte in the signed part.
    let mut raw = std::fs::read(&input).expect("read");
    let at = find(&raw, b"X-Riferimento").unwrap_or(0);
    let body = find(&raw[at..], b"\r\n\r\n").expect("body") + at + 200;
    raw[body] ^= 1;
    let bad = w.path("flipped.eml");
    std::fs::write(&bad, &raw).expect("write");
    let (code, v) = w.translate(&bad, "rem", &w.path("z.eml"), &["--at", "signing-time"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["refusal"], "signature-invalid", "{v}");
}

fn kit_messages() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for flow in ["Intra-REM-flow", "Inflow", "Outflow"] {
        let d = corpus_file(&format!("{KIT}/{flow}"));
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("entry").path();
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if n.starts_with("REM_") && n.ends_with(".eml") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// The daticert.xml of a PEC message (plain byte search in the verified content).
fn daticert_of(content: &[u8]) -> Option<Vec<u8>> {
    for (h, body) in split_parts(content) {
        if h.contains("daticert.xml") {
            let clean: Vec<u8> = body
                .into_iter()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            return base64::engine::general_purpose::STANDARD.decode(clean).ok();
        }
    }
    None
}

#[test]
fn every_kit_rem_message_becomes_the_mapped_pec_message() {
    if !(have("openssl") && have("xmllint")) {
        return;
    }
    let w = World::new();
    let inputs = kit_messages();
    assert_eq!(inputs.len(), 43, "kit REM messages");
    // All of them in one process, as harnesses do.
    let out_dir = w.path("kit-pec");
    let mut args: Vec<String> = vec!["translate".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(
        [
            "--to",
            "pec",
            "--config",
            &w.config.display().to_string(),
            "--at",
            "signing-time",
            "--out-dir",
            &out_dir.display().to_string(),
            "--json",
        ]
        .map(String::from),
    );
    let o = run_ponte(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let reports: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(reports.len(), 43);
    let mappings: Value = serde_json::from_slice(&run_ponte(["mappings", "show", "--json"]).stdout)
        .expect("mappings json");
    let rows = mappings["events"]["row"].as_array().expect("rows").clone();
    let mut multi = Vec::new();
    for r in &reports {
        let file = r["file"].as_str().expect("file");
        let name = Path::new(file)
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name");
        assert_eq!(r["translated"], true, "{r}");
        // The file name says event and reason; the report agrees.
        let stem = name.trim_start_matches("REM_").trim_end_matches(".eml");
        let code = stem.rsplit('.').next().expect("code");
        let row = rows
            .iter()
            .find(|x| x["id"] == r["mapping"])
            .unwrap_or_else(|| panic!("{name}: mapping row {}", r["mapping"]));
        assert!(
            r["input"]["reasons"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == code)),
            "{name}: {r}"
        );
        assert_eq!(r["output"]["type"], row["pec"]["kind"], "{name}");
        let out = out_dir.join(name);
        let content = openssl_verify(&out, &pki("root-ca.pem"));
        // The type is what Ponte's own classifier reads back.
        let v = run_ponte([
            "verify".to_string(),
            out.display().to_string(),
            "--trust".into(),
            pki("root-ca.pem").display().to_string(),
            "--json".into(),
        ]);
        let vj: Value = serde_json::from_slice(&v.stdout).expect("verify json");
        assert_eq!(vj["type"], row["pec"]["kind"], "{name}");
        if row["pec"]["kind"] != "anomalia" {
            let d = daticert_of(&content).unwrap_or_else(|| panic!("{name}: no daticert"));
            // Outflow: the recipients are ordinary mailboxes (UntrustedPathToRecipient).
            if name.contains("RelayToNonERDS") {
                let text = String::from_utf8_lossy(&d);
                assert!(text.contains("tipo=\"esterno\""), "{name}: {text}");
            }
            let dp = out_dir.join(format!("{name}.daticert.xml"));
            std::fs::write(&dp, &d).expect("write daticert");
            let x = std::process::Command::new("xmllint")
                .args(["--noout", "--dtdvalid"])
                .arg(common::repo().join("gateway/src/pec/daticert.dtd"))
                .arg(&dp)
                .output()
                .expect("xmllint");
            assert!(x.status.success(), "{name}: {}", stderr(&x));
        }
        // Every output (one per recipient for delivery results) is written and verifies.
        let outs = r["outputs"].as_array().expect("outputs");
        assert!(!outs.is_empty(), "{name}");
        for o in outs {
            let p = PathBuf::from(o["written_to"].as_str().expect("written_to"));
            openssl_verify(&p, &pki("root-ca.pem"));
            assert_eq!(o["type"], row["pec"]["kind"], "{name}");
        }
        if outs.len() > 1 {
            multi.push(format!("{name}:{}", outs.len()));
        }
        // The evidence rides along as <Event>.xml.
        let event = r["input"]["event"].as_str().expect("event");
        assert!(
            split_parts(&content)
                .iter()
                .any(|(h, _)| h.contains(&format!("{event}.xml"))),
            "{name}: {event}.xml attached"
        );
    }
    // The kit's relay failures are about both recipients (recC, recD): one PEC notice each.
    eprintln!("several PEC messages: {multi:?}");
    assert!(
        multi
            .iter()
            .any(|m| m.starts_with("REM_RelayFailure.") && m.ends_with(":2")),
        "{multi:?}"
    );
}

/// The PEC messages Ponte builds, as `ponte pec` makes them, about one envelope.
fn pec_fixtures(w: &World) -> Vec<(String, PathBuf)> {
    let orig = w.path("original.eml");
    std::fs::write(
        &orig,
        to_crlf(
            b"From: Mario Rossi <mario.rossi@pec.prova.test>\nTo: anna@r2-rems-only-for-test.it\nSubject: Contratto di prova\nMessage-ID: <orig-1@pec.prova.test>\nDate: Tue, 24 Nov 2026 10:00:00 +0100\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\nBuongiorno.\n",
        ),
    )
    .expect("write original");
    let id = |out: &Path| -> Vec<String> {
        [
            "--key",
            &pki("pec-rsa.key.pem").display().to_string(),
            "--cert",
            &pki("pec-rsa.pem").display().to_string(),
            "--chain",
            &pki("provider-ca.pem").display().to_string(),
            "--provider",
            "Gestore Prova S.p.A.",
            "-o",
            &out.display().to_string(),
        ]
        .map(String::from)
        .to_vec()
    };
    let env = w.path("envelope.eml");
    let mut args = vec!["pec".to_string(), "wrap".into(), orig.display().to_string()];
    args.extend(id(&env));
    let o = run_ponte(&args);
    assert!(o.status.success(), "wrap: {}", stderr(&o));
    let mut v = vec![("posta-certificata".to_string(), env.clone())];
    let receipts: &[(&str, &str, &[&str])] = &[
        ("accettazione", "accettazione", &[]),
        (
            "non-accettazione",
            "non-accettazione",
            &["--error", "altro"],
        ),
        (
            "non-accettazione-virus",
            "non-accettazione",
            &["--error", "virus"],
        ),
        ("presa-in-carico", "presa-in-carico", &[]),
        ("avvenuta-consegna", "avvenuta-consegna", &[]),
        (
            "errore-consegna-no-dest",
            "errore-consegna",
            &["--error", "no-dest"],
        ),
        (
            "errore-consegna-no-dominio",
            "errore-consegna",
            &["--error", "no-dominio"],
        ),
        (
            "errore-consegna-altro",
            "errore-consegna",
            &["--error", "altro"],
        ),
        (
            "errore-consegna-virus",
            "errore-consegna",
            &["--error", "virus"],
        ),
        (
            "preavviso-24h",
            "preavviso-errore-consegna",
            &[
                "--detail",
                "5.4.1 - Gestore Prova S.p.A. - tempo massimo superato",
            ],
        ),
        ("preavviso-12h", "preavviso-errore-consegna", &[]),
        ("rilevazione-virus", "rilevazione-virus", &[]),
    ];
    for (label, tipo, extra) in receipts {
        let out = w.path(&format!("{label}.eml"));
        let mut args = vec![
            "pec".to_string(),
            "receipt".into(),
            "--type".into(),
            tipo.to_string(),
            "--for".into(),
            env.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(id(&out));
        let o = run_ponte(&args);
        assert!(o.status.success(), "{label}: {}", stderr(&o));
        v.push((label.to_string(), out));
    }
    v
}

#[test]
fn every_pec_type_goes_to_rem_and_back() {
    if !have("openssl") {
        return;
    }
    let w = World::new();
    let fixtures = pec_fixtures(&w);
    // A receipt before its dispatch was translated: the digest of the original is unknown.
    let (code, v) = w.translate(&fixtures[1].1, "rem", &w.path("early.eml"), &[]);
    assert_eq!(code, 1, "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no dispatch recorded"),
        "{v}"
    );
    for (label, input) in &fixtures {
        let rem = w.path(&format!("{label}.rem.eml"));
        let (code, v) = w.translate(input, "rem", &rem, &[]);
        if label == "preavviso-12h" {
            // No REM equivalent (mappings row preavviso-errore-consegna).
            assert_eq!(code, 1, "{label}: {v}");
            assert!(
                v["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains("no REM translation"),
                "{v}"
            );
            continue;
        }
        assert_eq!(code, 0, "{label}: {v}");
        openssl_verify(&rem, &pki("root-ca.pem"));
        let back = w.path(&format!("{label}.back.eml"));
        let (code, b) = w.translate(&rem, "pec", &back, &[]);
        assert_eq!(code, 0, "{label} back: {b}");
        let expected = match label.as_str() {
            // RelayRejection RB03 comes back as the virus notice PEC has for it.
            "errore-consegna-virus" => "rilevazione-virus",
            _ => v["input"]["type"].as_str().expect("type"),
        };
        assert_eq!(b["output"]["type"], expected, "{label}: {b}");
        openssl_verify(&back, &pki("root-ca.pem"));
        // The receipts are linked to the envelope translated first.
        if label != "posta-certificata" {
            assert_eq!(
                b["correlation"]["pec_identificativo"], v["correlation"]["pec_identificativo"],
                "{label}"
            );
        }
    }
}

#[test]
fn tampered_rem_messages_are_refused() {
    let w = World::new();
    let input = corpus_file(&format!("{KIT}/Intra-REM-flow/REM_Dispatch.RA01.eml"));
    let mut raw = std::fs::read(&input).expect("read");
    let at = find(&raw, b"Oggetto dell'original message").expect("subject in original");
    let at = find(&raw[at + 40..], b"Oggetto").map_or(at, |x| x + at + 40);
    raw[at] ^= 0x20;
    let bad = w.path("tampered.eml");
    std::fs::write(&bad, &raw).expect("write");
    let (code, v) = w.translate(&bad, "pec", &w.path("t.eml"), &["--at", "signing-time"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["refusal"], "signature-invalid", "{v}");
    assert!(!w.path("t.eml").exists());
    // Not a message at all: refused, named.
    let junk = w.path("junk.eml");
    std::fs::write(&junk, b"\x00\x01 not mail").expect("write");
    let (code, _) = w.translate(&junk, "pec", &w.path("j.eml"), &[]);
    assert_eq!(code, 1);
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    let w = World::new();
    let input = corpus_file("pec/real/namirial-busta-trasporto-2024.crlf.eml");
    let o = run_ponte([
        "translate".to_string(),
        input.display().to_string(),
        "--to".into(),
        "rem".into(),
        "--config".into(),
        w.path("missing.toml").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.toml"), "{}", stderr(&o));
    // Two inputs without --out-dir.
    let o = run_ponte([
        "translate".to_string(),
        input.display().to_string(),
        input.display().to_string(),
        "--to".into(),
        "rem".into(),
        "--config".into(),
        w.config.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--out-dir"), "{}", stderr(&o));
    // An unreadable input.
    let o = run_ponte([
        "translate".to_string(),
        w.path("nope.eml").display().to_string(),
        "--to".into(),
        "rem".into(),
        "--config".into(),
        w.config.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.eml"), "{}", stderr(&o));
}

/// Golden outlines (`ponte::mime::outline`) of each output type: the structure, not the bytes.
/// `PONTE_BLESS=1` rewrites them.
#[test]
fn outputs_match_their_golden_outlines() {
    let w = World::new();
    let golden = common::repo().join("tests/golden");
    let bless = std::env::var_os("PONTE_BLESS").is_some();
    let mut cases: Vec<(String, PathBuf, &str, Vec<&str>)> = Vec::new();
    for (label, input) in [
        (
            "rem-dispatch.from-crlf",
            "pec/real/namirial-busta-trasporto-2024.crlf.eml",
        ),
        (
            "rem-dispatch.from-lf",
            "pec/real/namirial-busta-trasporto-2024.lf.eml",
        ),
    ] {
        cases.push((
            label.into(),
            corpus_file(input),
            "rem",
            vec!["--at", "signing-time"],
        ));
    }
    // Ponte's own PEC messages: the envelope first (its dispatch is recorded), then receipts
    // about it, each also stored with LF endings.
    let fixtures = pec_fixtures(&w);
    for (label, input) in &fixtures {
        if label == "preavviso-12h" {
            continue; // no REM translation
        }
        let key = if label == "posta-certificata" {
            "rem-dispatch.ponte-envelope".to_string()
        } else {
            format!("rem-receipt.{label}")
        };
        cases.push((format!("{key}.from-crlf"), input.clone(), "rem", Vec::new()));
        if label != "posta-certificata" {
            let lf = w.path(&format!("{label}.lf.eml"));
            let raw = std::fs::read(input).expect("read");
            let lf_bytes: Vec<u8> = String::from_utf8_lossy(&raw)
                .replace("\r\n", "\n")
                .into_bytes();
            std::fs::write(&lf, lf_bytes).expect("write lf");
            cases.push((format!("{key}.from-lf"), lf, "rem", Vec::new()));
        }
    }
    for name in [
        "Intra-REM-flow/REM_Dispatch.RA01.eml",
        "Intra-REM-flow/REM_SubmissionAcceptance.RA01.eml",
        "Intra-REM-flow/REM_ContentConsignment1.RD01.eml",
        "Intra-REM-flow/REM_ContentConsignmentFailure1.RD03.eml",
        "Intra-REM-flow/REM_RelayFailure.RB05.eml",
        "Intra-REM-flow/REM_RelayAcceptance.RB01.eml",
        "Intra-REM-flow/REM_SubmissionRejection.RA03.eml",
        "Intra-REM-flow/REM_RelayRejection.RB03.eml",
        "Inflow/REM_EXTERNAL.RF04.eml",
    ] {
        let stem = Path::new(name)
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("stem")
            .to_string();
        let input = corpus_file(&format!("{KIT}/{name}"));
        // The same message stored with LF endings must give the same structure.
        let lf = w.path(&format!("{stem}.lf.eml"));
        let raw = std::fs::read(&input).expect("read");
        let lf_bytes: Vec<u8> = String::from_utf8_lossy(&raw)
            .replace("\r\n", "\n")
            .into_bytes();
        std::fs::write(&lf, lf_bytes).expect("write lf");
        cases.push((
            format!("pec.{stem}"),
            input,
            "pec",
            vec!["--at", "signing-time"],
        ));
        cases.push((
            format!("pec.{stem}.from-lf"),
            lf,
            "pec",
            vec!["--at", "signing-time"],
        ));
    }
    let mut failures = Vec::new();
    for (label, input, to, extra) in cases {
        let out = w.path(&format!("{label}.out.eml"));
        let (code, v) = w.translate(&input, to, &out, &extra);
        assert_eq!(code, 0, "{label}: {v}");
        let got = ponte::mime::outline(&std::fs::read(&out).expect("out")).expect("outline");
        let key = label.replace(".from-lf", "").replace(".from-crlf", "");
        let file = golden.join(format!("{key}.outline"));
        if bless {
            std::fs::create_dir_all(&golden).expect("mkdir");
            std::fs::write(&file, &got).expect("bless");
            continue;
        }
        let want = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e} (PONTE_BLESS=1 writes it)", file.display()));
        if want != got {
            failures.push(format!(
                "{label}:\n--- {}\n{want}\n--- got\n{got}",
                file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_evidence_attachment_can_be_switched_off() {
    if !have("openssl") {
        return;
    }
    let w = World::new();
    let input = corpus_file(&format!(
        "{KIT}/Intra-REM-flow/REM_ContentConsignment1.RD01.eml"
    ));
    let with = w.path("with.eml");
    let (code, v) = w.translate(&input, "pec", &with, &["--at", "signing-time"]);
    assert_eq!(code, 0, "{v}");
    let parts = split_parts(&openssl_verify(&with, &pki("root-ca.pem")));
    assert!(
        parts
            .iter()
            .any(|(h, _)| h.contains("ContentConsignment.xml"))
    );
    w.configure("\n[output]\nattach_evidence = false\n");
    let without = w.path("without.eml");
    let (code, v) = w.translate(&input, "pec", &without, &["--at", "signing-time"]);
    assert_eq!(code, 0, "{v}");
    let parts = split_parts(&openssl_verify(&without, &pki("root-ca.pem")));
    assert!(
        !parts
            .iter()
            .any(|(h, _)| h.contains("ContentConsignment.xml"))
    );
    assert!(parts.iter().any(|(h, _)| h.contains("daticert.xml")));
}

/// A PEC receipt translated from a REM evidence states the evidence's event time (daticert
/// `data`), but its CMS signingTime is when Ponte signed it: judged at its signing time, its
/// signature chains (it used to claim the evidence's 2022 instant, before the gateway's
/// certificate existed, so `--at signing-time` judged the chain in 2022 and failed).
#[test]
fn a_translated_receipt_is_signed_at_the_translation_time() {
    let w = World::new();
    let input = corpus_file(&format!(
        "{KIT}/Intra-REM-flow/REM_ContentConsignment1.RD01.eml"
    ));
    let out = w.path("consegna.eml");
    let (code, v) = w.translate(&input, "pec", &out, &["--at", "signing-time"]);
    assert_eq!(code, 0, "{v}");
    let o = run_ponte([
        "verify".to_string(),
        out.display().to_string(),
        "--trust".into(),
        pki("root-ca.pem").display().to_string(),
        "--at".into(),
        "signing-time".into(),
        "--json".into(),
    ]);
    let j: Value = serde_json::from_slice(&o.stdout).expect("verify json");
    assert_eq!(j["signature"]["chain_trusted"], true, "{j}");
    let signed = j["signature"]["signing_time"]
        .as_str()
        .expect("signing_time");
    assert!(
        signed > "2026",
        "signingTime {signed} is the translation's, not 2022"
    );
    let data = j["pec"]["daticert"]["data"].as_str().expect("data");
    assert!(
        data.starts_with("2022-08-03"),
        "daticert data {data} is the event's"
    );
}
