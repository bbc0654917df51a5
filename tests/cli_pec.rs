//! End-to-end tests of the PEC commands of the `ponte` binary: `ponte verify`,
//! `ponte pec wrap`, `ponte pec receipt`, with `openssl` as the independent verifier.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{corpus_file, have, pki, run_ponte, to_crlf};
use serde_json::Value;

const ACTALIS: &str = "pec/certs/actalis-authentication-root-ca.pem";
const NAMIRIAL_CRLF: &str = "pec/real/namirial-busta-trasporto-2024.crlf.eml";
const NAMIRIAL_LF: &str = "pec/real/namirial-busta-trasporto-2024.lf.eml";

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn verify_json(file: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args: Vec<String> = vec!["verify".into(), "--json".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(file.display().to_string());
    let out = run_ponte(&args);
    (out.status.code().unwrap_or(-1), json_of(&out))
}

#[test]
fn namirial_envelope_verifies_and_is_trusted_at_signing_time() {
    let actalis = corpus_file(ACTALIS);
    for rel in [NAMIRIAL_CRLF, NAMIRIAL_LF] {
        let (code, j) = verify_json(
            &corpus_file(rel),
            &["--at", "signing-time", "--trust", actalis.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{rel}: {j}");
        assert_eq!(j["format"], "pec");
        assert_eq!(j["type"], "posta-certificata");
        assert_eq!(j["signature"]["present"], true);
        assert_eq!(j["signature"]["valid"], true);
        assert_eq!(j["signature"]["digest"], "sha1");
        assert_eq!(j["signature"]["chain_trusted"], true);
        assert!(
            j["signature"]["signer"]
                .as_str()
                .unwrap()
                .contains("Namirial")
        );
        assert!(
            j["signature"]["signing_time"]
                .as_str()
                .unwrap()
                .starts_with("2024-12-04T23:02:10")
        );
        let d = &j["pec"]["daticert"];
        assert_eq!(d["tipo"], "posta-certificata");
        assert_eq!(d["mittente"], "altea.l@namirialpec.it");
        assert_eq!(d["destinatari"].as_array().unwrap().len(), 7);
        assert_eq!(d["destinatari"][0]["tipo"], "esterno");
        assert_eq!(d["data"], "2024-12-05T00:02:10+01:00");
        assert_eq!(
            d["msgid"],
            "<2839ed57-e664-4020-bb69-6a8cb92d05a6@email.android.com>"
        );
        assert_eq!(d["gestore_emittente"], "Namirial S.p.A.");
    }
}

#[test]
fn namirial_envelope_without_trust_has_null_chain_and_now_is_untrusted() {
    let (code, j) = verify_json(&corpus_file(NAMIRIAL_CRLF), &[]);
    assert_eq!(code, 0);
    assert!(j["signature"]["chain_trusted"].is_null());
    // The signer expired on 27 Sep 2026: judged now, the chain is not trusted.
    let actalis = corpus_file(ACTALIS);
    let (code, j) = verify_json(
        &corpus_file(NAMIRIAL_CRLF),
        &["--trust", actalis.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{j}");
    assert_eq!(
        j["signature"]["valid"], true,
        "integrity and trust are separate verdicts"
    );
    assert_eq!(j["signature"]["chain_trusted"], false);
    assert!(
        j["signature"]["reason"]
            .as_str()
            .unwrap()
            .contains("trusted")
    );
}

#[test]
fn one_flipped_byte_in_the_signed_part_is_invalid() {
    let raw = std::fs::read(corpus_file(NAMIRIAL_CRLF)).unwrap();
    let at = raw
        .windows(b"Norah Colly".len())
        .rposition(|w| w == b"Norah Colly")
        .expect("subject inside the signed part");
    let mut bad = raw.clone();
    bad[at] ^= 0x20;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("tampered.eml");
    std::fs::write(&f, bad).unwrap();
    let (code, j) = verify_json(&f, &[]);
    assert_eq!(code, 1);
    assert_eq!(j["signature"]["present"], true);
    assert_eq!(j["signature"]["valid"], false);
    assert!(!j["signature"]["reason"].is_null());
}

#[test]
fn unsigned_java_fixtures_parse_and_are_reported_unsigned() {
    for (rel, tipo) in [
        (
            "pec/fixtures/java-pec-parser.accettazione.unsigned.eml",
            "accettazione",
        ),
        (
            "pec/fixtures/java-pec-parser.consegna.unsigned.eml",
            "errore-consegna",
        ),
    ] {
        let (code, j) = verify_json(&corpus_file(rel), &[]);
        assert_eq!(code, 1, "{rel}");
        assert_eq!(j["format"], "pec");
        assert_eq!(j["type"], tipo);
        assert_eq!(j["signature"]["present"], false);
        assert_eq!(j["signature"]["valid"], false);
        assert_eq!(j["pec"]["daticert"]["tipo"], tipo);
    }
}

#[test]
fn unreadable_input_and_usage_errors_exit_2_with_one_line() {
    let out = run_ponte(["verify", "/nonexistent/message.eml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/message.eml"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = run_ponte([
        "verify",
        "--at",
        "yesterday",
        corpus_file(NAMIRIAL_CRLF).to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("yesterday"));
}

struct Provider<'a> {
    key: &'a str,
    cert: &'a str,
}

const RSA: Provider = Provider {
    key: "pec-rsa.key.pem",
    cert: "pec-rsa.pem",
};
const EC: Provider = Provider {
    key: "pec-ec.key.pem",
    cert: "pec-ec.pem",
};

fn identity(p: &Provider) -> Vec<String> {
    vec![
        "--key".into(),
        pki(p.key).display().to_string(),
        "--cert".into(),
        pki(p.cert).display().to_string(),
        "--chain".into(),
        pki("provider-ca.pem").display().to_string(),
        "--provider".into(),
        "Gestore Prova S.p.A.".into(),
    ]
}

fn original(dir: &Path, lf: bool) -> PathBuf {
    let text = "From: Mario Rossi <mario@pec.prova.test>\nTo: anna@pec.altro.test, bob@example.org\n\
                Subject: Fattura n. 12\nMessage-ID: <orig-1@client.test>\n\
                Date: Tue, 24 Nov 2026 10:00:00 +0100\nMIME-Version: 1.0\n\
                Content-Type: text/plain; charset=utf-8\n\nIn allegato la fattura.\n";
    let bytes = if lf {
        text.as_bytes().to_vec()
    } else {
        to_crlf(text.as_bytes())
    };
    let f = dir.join(if lf { "orig.lf.eml" } else { "orig.eml" });
    std::fs::write(&f, bytes).unwrap();
    f
}

fn openssl_verifies(file: &Path) {
    if !have("openssl") {
        eprintln!("openssl missing: skipped");
        return;
    }
    for cmd in ["cms", "smime"] {
        let out = Command::new("openssl")
            .args([cmd, "-verify", "-in"])
            .arg(file)
            .arg("-CAfile")
            .arg(pki("root-ca.pem"))
            .args(["-out", "/dev/null"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {cmd} -verify refused {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn wrap(dir: &Path, orig: &Path, p: &Provider) -> PathBuf {
    let env = dir.join("envelope.eml");
    let mut args = vec!["pec".to_string(), "wrap".into(), orig.display().to_string()];
    args.extend(identity(p));
    args.extend([
        "--external".into(),
        "bob@example.org".into(),
        "-o".into(),
        env.display().to_string(),
    ]);
    let out = run_ponte(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env
}

#[test]
fn wrap_makes_a_signed_envelope_openssl_and_ponte_accept() {
    let dir = tempfile::tempdir().unwrap();
    for (lf, p) in [(false, &RSA), (true, &EC)] {
        let orig = original(dir.path(), lf);
        let env = wrap(dir.path(), &orig, p);
        openssl_verifies(&env);
        let root = pki("root-ca.pem");
        let (code, j) = verify_json(&env, &["--trust", root.to_str().unwrap()]);
        assert_eq!(code, 0, "{j}");
        assert_eq!(j["type"], "posta-certificata");
        assert_eq!(j["signature"]["digest"], "sha256");
        assert_eq!(j["signature"]["chain_trusted"], true);
        let d = &j["pec"]["daticert"];
        assert_eq!(d["msgid"], "<orig-1@client.test>");
        assert_eq!(d["oggetto"], "Fattura n. 12");
        let tipi: Vec<(String, String)> = d["destinatari"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["address"].as_str().unwrap().into(),
                    x["tipo"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert!(
            tipi.contains(&("anna@pec.altro.test".into(), "certificato".into())),
            "{tipi:?}"
        );
        assert!(
            tipi.contains(&("bob@example.org".into(), "esterno".into())),
            "{tipi:?}"
        );
        // The envelope's own Message-ID is fresh; the original's is in X-Riferimento-Message-ID.
        assert_eq!(j["pec"]["riferimento_message_id"], "<orig-1@client.test>");
        assert_ne!(j["pec"]["message_id"], "<orig-1@client.test>");
        assert_eq!(j["pec"]["postacert"], true);
    }
}

#[test]
fn every_receipt_type_is_signed_verifiable_and_classified_back() {
    let dir = tempfile::tempdir().unwrap();
    let orig = original(dir.path(), false);
    let env = wrap(dir.path(), &orig, &RSA);
    let cases: &[(&str, &[&str], &str, bool)] = &[
        ("accettazione", &[], "accettazione", false),
        (
            "non-accettazione",
            &["--error", "altro"],
            "non-accettazione",
            false,
        ),
        (
            "non-accettazione",
            &["--error", "virus"],
            "non-accettazione",
            false,
        ),
        ("presa-in-carico", &[], "presa-in-carico", false),
        (
            "avvenuta-consegna",
            &["--receipt", "completa"],
            "avvenuta-consegna",
            false,
        ),
        (
            "avvenuta-consegna",
            &["--receipt", "breve"],
            "avvenuta-consegna",
            false,
        ),
        (
            "avvenuta-consegna",
            &["--receipt", "sintetica"],
            "avvenuta-consegna",
            false,
        ),
        (
            "errore-consegna",
            &[
                "--error",
                "no-dest",
                "--detail",
                "5.1.1 - Gestore Prova - indirizzo non valido",
            ],
            "errore-consegna",
            false,
        ),
        (
            "errore-consegna",
            &["--error", "virus"],
            "errore-consegna",
            false,
        ),
        (
            "preavviso-errore-consegna",
            &[],
            "preavviso-errore-consegna",
            false,
        ),
        (
            "preavviso-errore-consegna",
            &["--detail", "5.4.1 - Gestore Prova - tempo massimo superato"],
            "preavviso-errore-consegna",
            true,
        ),
        (
            "rilevazione-virus",
            &["--error", "virus"],
            "rilevazione-virus",
            false,
        ),
    ];
    for (i, (tipo, extra, expect, is_final)) in cases.iter().enumerate() {
        let out_file = dir.path().join(format!("r{i}.eml"));
        let mut args = vec![
            "pec".to_string(),
            "receipt".into(),
            "--type".into(),
            tipo.to_string(),
            "--for".into(),
            env.display().to_string(),
            "--recipient".into(),
            "anna@pec.altro.test".into(),
            "-o".into(),
            out_file.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(identity(&EC));
        let out = run_ponte(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{tipo} {extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        openssl_verifies(&out_file);
        let (code, j) = verify_json(
            &out_file,
            &["--trust", pki("root-ca.pem").to_str().unwrap()],
        );
        assert_eq!(code, 0, "{tipo}: {j}");
        assert_eq!(j["type"], *expect, "{tipo} {extra:?}");
        assert_eq!(
            j["final"].as_bool().unwrap_or(false),
            *is_final,
            "{tipo} {extra:?}: {j}"
        );
        let d = &j["pec"]["daticert"];
        assert_eq!(d["tipo"], *expect);
        assert_eq!(d["msgid"], "<orig-1@client.test>", "{tipo}");
        assert_eq!(j["pec"]["riferimento_message_id"], "<orig-1@client.test>");
        if *tipo == "avvenuta-consegna" || *tipo == "errore-consegna" {
            assert_eq!(d["consegna"], "anna@pec.altro.test");
        }
        if let Some(pos) = extra.iter().position(|a| *a == "--error") {
            assert_eq!(d["errore"], extra[pos + 1], "{tipo}");
        }
        let completa = extra.contains(&"completa");
        if *tipo == "avvenuta-consegna" {
            assert_eq!(
                j["pec"]["postacert"],
                completa || extra.contains(&"breve"),
                "{extra:?}"
            );
        }
    }
}

#[test]
fn receipt_usage_errors_exit_2_naming_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let orig = original(dir.path(), false);
    let env = wrap(dir.path(), &orig, &RSA);
    let mut bad_type = vec![
        "pec".to_string(),
        "receipt".into(),
        "--type".into(),
        "consegnata".into(),
        "--for".into(),
        env.display().to_string(),
    ];
    bad_type.extend(identity(&RSA));
    let out = run_ponte(&bad_type);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("consegnata"));
    // A key that is not the certificate's.
    let mut args = vec!["pec".to_string(), "wrap".into(), orig.display().to_string()];
    args.extend([
        "--key".into(),
        pki("pec-ec.key.pem").display().to_string(),
        "--cert".into(),
        pki("pec-rsa.pem").display().to_string(),
        "--provider".into(),
        "X".into(),
    ]);
    let out = run_ponte(&args);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pec-ec.key.pem") && err.contains("does not belong"),
        "{err}"
    );
}
