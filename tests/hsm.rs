//! Keys in an HSM: a real SoftHSM2 token made by each test, the test PKI's keys imported into
//! it, and every signing path of Ponte pointed at it with `pkcs11:` URIs (RFC 7512): PEC
//! envelopes and receipts (checked by `openssl cms/smime -verify`), REM evidence (`xmlsec1`),
//! a configuration (`ponte config check`, `ponte translate`), the development TSA
//! (`openssl ts -verify`), and the library itself (byte-identical RSA signatures to the PKCS#8
//! path, one login for many signatures from many threads, re-opening after the token drops).
//!
//! SoftHSM reads its configuration (`SOFTHSM2_CONF`) once per process, at `C_Initialize`. So
//! each test runs its body in a child process of this test binary started with
//! `SOFTHSM2_CONF` naming a fresh token store in a temporary folder: the child, and every
//! `ponte` and `softhsm2-util` it starts, see that token and no other.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{World, corpus_file, have, kit_available, pki, run_ponte, to_crlf};
use ponte::crypto::{SigningKey, verify_signature};
use serde_json::Value;

const PIN: &str = "1234";
const SO_PIN: &str = "5678";
const WRONG_PIN: &str = "8642";
const LABEL: &str = "ponte";
/// The token's keys: (object label, CKA_ID, test PKI name).
const KEYS: &[(&str, &str, &str)] = &[
    ("pec", "01", "pec-rsa"),
    ("rem", "02", "rem-rsa"),
    ("tsa", "03", "tsa"),
    ("pec-ec", "04", "pec-ec"),
    ("rem-ec", "05", "rem-ec"),
];
const CHILD: &str = "PONTE_TEST_HSM_DIR";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The SoftHSM2 module: `$PONTE_TEST_PKCS11_MODULE`, else Debian's places.
fn module() -> Option<PathBuf> {
    if let Some(m) = std::env::var_os("PONTE_TEST_PKCS11_MODULE") {
        return Some(PathBuf::from(m));
    }
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// The token of this (child) process.
struct Hsm {
    dir: PathBuf,
    module: PathBuf,
}

impl Hsm {
    /// `pkcs11:` URI of one key, the PIN in a file.
    fn uri(&self, object: &str) -> String {
        format!(
            "pkcs11:token={LABEL};object={object};type=private?module-path={}&pin-source=file:{}",
            self.module.display(),
            self.pin_file().display()
        )
    }

    /// The same URI with the PIN written in it.
    fn uri_with_pin(&self, object: &str, pin: &str) -> String {
        format!(
            "pkcs11:token={LABEL};object={object}?module-path={}&pin-value={pin}",
            self.module.display()
        )
    }

    fn pin_file(&self) -> PathBuf {
        self.dir.join("user.pin")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn softhsm2_util(args: &[&str]) {
    let o = Command::new("softhsm2-util")
        .args(args)
        .output()
        .expect("spawn softhsm2-util");
    assert!(
        o.status.success(),
        "softhsm2-util {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

/// Runs `body` in a child process with its own SoftHSM token (see the module documentation).
/// In the parent: makes the folder and configuration, starts the child, checks it passed.
/// In the child: makes the token, imports the keys, runs `body`.
fn with_token(name: &str, body: impl FnOnce(&Hsm)) {
    if let Some(dir) = std::env::var_os(CHILD) {
        let dir = PathBuf::from(dir);
        let module = module().expect("module found by the parent");
        softhsm2_util(&[
            "--init-token",
            "--free",
            "--label",
            LABEL,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ]);
        for (label, id, name) in KEYS {
            let key = pki(&format!("{name}.key.pem"));
            softhsm2_util(&[
                "--import",
                key.to_str().expect("utf-8 path"),
                "--token",
                LABEL,
                "--label",
                label,
                "--id",
                id,
                "--pin",
                PIN,
            ]);
        }
        std::fs::write(dir.join("user.pin"), format!("{PIN}\n")).expect("pin file");
        body(&Hsm { dir, module });
        return;
    }
    if !have("softhsm2-util") {
        eprintln!("skipped: softhsm2-util (Debian softhsm2) not installed");
        return;
    }
    let Some(module) = module() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the SoftHSM2 module is required in CI (.ci/run installs softhsm2)"
        );
        eprintln!("skipped: no libsofthsm2.so");
        return;
    };
    let _ = module;
    let tmp = tempfile::tempdir().expect("tempdir");
    let tokens = tmp.path().join("tokens");
    std::fs::create_dir(&tokens).expect("tokens dir");
    let conf = tmp.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .expect("softhsm2.conf");
    let o = Command::new(std::env::current_exe().expect("test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD, tmp.path())
        .output()
        .expect("spawn the child test");
    let out = String::from_utf8_lossy(&o.stdout);
    // The child's own output, shown with --nocapture (and by the harness on failure).
    println!("{out}");
    eprintln!("{}", stderr(&o));
    assert!(
        o.status.success() && out.contains("1 passed"),
        "{name} in its token process:\n{out}\n{}",
        stderr(&o)
    );
}

fn openssl_verifies(file: &Path) {
    for cmd in ["cms", "smime"] {
        let o = Command::new("openssl")
            .args([cmd, "-verify", "-in"])
            .arg(file)
            .arg("-CAfile")
            .arg(pki("root-ca.pem"))
            .args(["-out", "/dev/null"])
            .output()
            .expect("spawn openssl");
        assert!(
            o.status.success(),
            "openssl {cmd} -verify refused {}: {}",
            file.display(),
            stderr(&o)
        );
    }
}

fn original(dir: &Path) -> PathBuf {
    let text = "From: Mario Rossi <mario@pec.prova.test>\nTo: anna@pec.altro.test\n\
                Subject: Fattura n. 12\nMessage-ID: <orig-hsm@client.test>\n\
                Date: Tue, 24 Nov 2026 10:00:00 +0100\nMIME-Version: 1.0\n\
                Content-Type: text/plain; charset=utf-8\n\nIn allegato la fattura.\n";
    let f = dir.join("orig.eml");
    std::fs::write(&f, to_crlf(text.as_bytes())).expect("write original");
    f
}

fn identity(key: &str, cert: &str) -> Vec<String> {
    vec![
        "--key".into(),
        key.into(),
        "--cert".into(),
        pki(cert).display().to_string(),
        "--chain".into(),
        pki("provider-ca.pem").display().to_string(),
        "--provider".into(),
        "Gestore Prova S.p.A.".into(),
    ]
}

#[test]
fn pec_envelopes_and_receipts_signed_in_the_token_verify_with_openssl() {
    with_token(
        "pec_envelopes_and_receipts_signed_in_the_token_verify_with_openssl",
        |hsm| {
            if !have("openssl") {
                return;
            }
            let orig = original(&hsm.dir);
            for (object, cert) in [("pec", "pec-rsa.pem"), ("pec-ec", "pec-ec.pem")] {
                let env = hsm.path(&format!("{object}.envelope.eml"));
                let mut args = vec!["pec".to_string(), "wrap".into(), orig.display().to_string()];
                args.extend(identity(&hsm.uri(object), cert));
                args.extend(["-o".into(), env.display().to_string()]);
                let o = run_ponte(&args);
                assert!(o.status.success(), "wrap with {object}: {}", stderr(&o));
                openssl_verifies(&env);

                let receipt = hsm.path(&format!("{object}.accettazione.eml"));
                let mut args = vec![
                    "pec".to_string(),
                    "receipt".into(),
                    "--type".into(),
                    "accettazione".into(),
                    "--for".into(),
                    env.display().to_string(),
                    "-o".into(),
                    receipt.display().to_string(),
                ];
                args.extend(identity(&hsm.uri(object), cert));
                let o = run_ponte(&args);
                assert!(o.status.success(), "receipt with {object}: {}", stderr(&o));
                openssl_verifies(&receipt);
            }
            // The token key of the other certificate is refused by name, PIN not shown.
            let mut args = vec!["pec".to_string(), "wrap".into(), orig.display().to_string()];
            args.extend(identity(&hsm.uri_with_pin("pec-ec", PIN), "pec-rsa.pem"));
            let o = run_ponte(&args);
            assert_eq!(o.status.code(), Some(2));
            let e = stderr(&o);
            assert!(e.contains("does not belong to the certificate"), "{e}");
            assert!(
                e.contains("object=pec-ec") && e.contains("pin-value=***"),
                "{e}"
            );
            assert!(!e.contains(&format!("pin-value={PIN}")), "{e}");
        },
    );
}

/// A kit evidence with its signature removed.
fn unsigned_evidence(dir: &Path) -> PathBuf {
    let s = std::fs::read_to_string(common::kit(
        "standalone-evidence/SubmissionAcceptance.RA01.xml",
    ))
    .expect("kit evidence");
    let i = s.find("<ds:Signature").expect("signature");
    let j = s.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let f = dir.join("unsigned.xml");
    std::fs::write(&f, format!("{}{}", &s[..i], &s[j..])).expect("write");
    f
}

#[test]
fn evidence_sealed_in_the_token_verifies_with_xmlsec1() {
    with_token(
        "evidence_sealed_in_the_token_verifies_with_xmlsec1",
        |hsm| {
            if !(kit_available() && have("xmlsec1")) {
                return;
            }
            let unsigned = unsigned_evidence(&hsm.dir);
            for (object, cert) in [("rem", "rem-rsa.pem"), ("rem-ec", "rem-ec.pem")] {
                let out = hsm.path(&format!("{object}.evidence.xml"));
                let o = run_ponte([
                    "evidence".to_string(),
                    "sign".into(),
                    unsigned.display().to_string(),
                    "--key".into(),
                    hsm.uri(object),
                    "--cert".into(),
                    pki(cert).display().to_string(),
                    "--chain".into(),
                    pki("provider-ca.pem").display().to_string(),
                    "-o".into(),
                    out.display().to_string(),
                ]);
                assert!(o.status.success(), "sign with {object}: {}", stderr(&o));
                assert!(common::xmlsec1_verifies(&out), "xmlsec1 {object}");
                let o = run_ponte([
                    "evidence".to_string(),
                    "verify".into(),
                    out.display().to_string(),
                    "--trust".into(),
                    pki("root-ca.pem").display().to_string(),
                    "--json".into(),
                ]);
                let v: Value = serde_json::from_slice(&o.stdout).expect("json");
                assert_eq!(v["signature"]["valid"], true, "{object}: {v}");
                assert_eq!(v["signature"]["chain_trusted"], true, "{object}: {v}");
            }
        },
    );
}

/// The world's configuration with its two keys replaced by `pec` and `rem` references.
fn use_keys(w: &World, pec: &str, rem: &str) {
    let text = std::fs::read_to_string(&w.config).expect("config");
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("pec_key = ") {
                format!("pec_key = {pec:?}")
            } else if l.starts_with("rem_key = ") {
                format!("rem_key = {rem:?}")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&w.config, out.join("\n")).expect("rewrite config");
}

fn config_check(w: &World, json: bool) -> (i32, String, String) {
    let mut args = vec![
        "config".to_string(),
        "check".into(),
        w.config.display().to_string(),
    ];
    if json {
        args.push("--json".into());
    }
    let o = run_ponte(&args);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr(&o),
    )
}

/// `openssl cms -verify` of an S/MIME message; returns the signed content.
fn openssl_content(msg: &Path) -> Vec<u8> {
    let out = msg.with_extension("content");
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
        .expect("spawn openssl");
    assert!(
        o.status.success(),
        "openssl cms -verify {}: {}",
        msg.display(),
        stderr(&o)
    );
    std::fs::read(&out).expect("content")
}

/// The base64 body of the part whose headers contain `marker`.
fn part_base64(content: &[u8], marker: &str) -> Vec<u8> {
    use base64::Engine;
    let text = String::from_utf8_lossy(content);
    let at = text.find(marker).expect("evidence part");
    let body_start = text[at..].find("\r\n\r\n").expect("part body") + at + 4;
    let body_end = text[body_start..].find("\r\n--").expect("part end") + body_start;
    let b64: String = text[body_start..body_end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64")
}

#[test]
fn a_configuration_with_token_keys_checks_and_translates() {
    with_token(
        "a_configuration_with_token_keys_checks_and_translates",
        |hsm| {
            if !(have("openssl") && have("xmlsec1") && kit_available()) {
                return;
            }
            let w = World::new();
            use_keys(&w, &hsm.uri("pec"), &hsm.uri("rem"));
            let (code, out, err) = config_check(&w, false);
            assert_eq!(code, 0, "{out}{err}");
            assert!(
                out.contains("key in token pkcs11:token=ponte;object=pec"),
                "{out}"
            );
            assert!(
                out.contains("key in token pkcs11:token=ponte;object=rem"),
                "{out}"
            );
            let (code, out, _) = config_check(&w, true);
            assert_eq!(code, 0);
            let j: Value = serde_json::from_str(&out).expect("json");
            assert_eq!(j["summary"]["pec_key_pkcs11"], hsm.uri("pec"));
            assert_eq!(j["summary"]["rem_key_pkcs11"], hsm.uri("rem"));

            // PEC -> REM: the REM message and its evidence are sealed in the token.
            let input = corpus_file("pec/real/namirial-busta-trasporto-2024.crlf.eml");
            let out = w.path("namirial.rem.eml");
            let (code, v) = w.translate(&input, "rem", &out, &["--at", "signing-time"]);
            assert_eq!(code, 0, "{v}");
            let content = openssl_content(&out);
            let ev = part_base64(&content, "rem_message/xml_evidence");
            let ev_path = w.path("namirial.evidence.xml");
            std::fs::write(&ev_path, ev).expect("write evidence");
            assert!(common::xmlsec1_verifies(&ev_path), "xmlsec1 evidence");

            // REM -> PEC: the PEC message is signed in the token.
            let input = common::kit("Intra-REM-flow/REM_ContentConsignment1.RD01.eml");
            let out = w.path("consignment.pec.eml");
            let (code, v) = w.translate(&input, "pec", &out, &["--at", "signing-time"]);
            assert_eq!(code, 0, "{v}");
            openssl_content(&out);
            openssl_verifies(&out);

            // An ECDSA key in the token, the PIN written in the URI: valid, with a warning.
            use_keys(&w, &hsm.uri_with_pin("pec-ec", PIN), &hsm.uri("rem-ec"));
            let text = std::fs::read_to_string(&w.config).expect("config");
            std::fs::write(
                &w.config,
                text.replace(
                    &pki("pec-rsa.pem").display().to_string(),
                    &pki("pec-ec.pem").display().to_string(),
                )
                .replace(
                    &pki("rem-rsa.pem").display().to_string(),
                    &pki("rem-ec.pem").display().to_string(),
                ),
            )
            .expect("rewrite");
            let (code, out, err) = config_check(&w, false);
            assert_eq!(code, 0, "{out}{err}");
            assert!(
                err.contains("identity.pec_key: warning: the PIN is written"),
                "{err}"
            );
            assert!(!err.contains(PIN) && !out.contains(PIN), "{out}{err}");
        },
    );
}

#[test]
fn a_wrong_pin_or_a_missing_key_is_a_configuration_error_naming_the_uri() {
    with_token(
        "a_wrong_pin_or_a_missing_key_is_a_configuration_error_naming_the_uri",
        |hsm| {
            let w = World::new();
            let wrong_file = hsm.path("wrong.pin");
            std::fs::write(&wrong_file, format!("{WRONG_PIN}\n")).expect("write");
            let module = hsm.module.display().to_string();
            let cases: Vec<(String, &str)> = vec![
                // A wrong PIN, from a file and written in the URI.
                (
                    format!(
                        "pkcs11:token=ponte;object=pec?module-path={module}&pin-source={}",
                        wrong_file.display()
                    ),
                    "refused the PIN (CKR_PIN_INCORRECT)",
                ),
                (
                    hsm.uri_with_pin("pec", WRONG_PIN),
                    "refused the PIN (CKR_PIN_INCORRECT)",
                ),
                // A missing object, token, module, PIN file.
                (
                    hsm.uri("nothing-here"),
                    "no private key matches in token \"ponte\"",
                ),
                (
                    hsm.uri("pec").replace("token=ponte", "token=other"),
                    "no token matches (tokens present: \"ponte\")",
                ),
                (
                    hsm.uri("pec").replace(&module, "/nonexistent/libpkcs11.so"),
                    "PKCS#11 module /nonexistent/libpkcs11.so",
                ),
                (
                    hsm.uri("pec")
                        .replace(&hsm.pin_file().display().to_string(), "/nonexistent/pin"),
                    "cannot read the PIN file /nonexistent/pin",
                ),
                // A malformed URI names the attribute.
                (
                    hsm.uri("pec").replace("object=", "objekt="),
                    "unknown path attribute \"objekt\"",
                ),
            ];
            for (uri, expect) in &cases {
                use_keys(&w, uri, &hsm.uri("rem"));
                let (code, out, err) = config_check(&w, false);
                assert_eq!(code, 1, "{uri}: {out}{err}");
                let line = err
                    .lines()
                    .find(|l| l.contains("identity.pec_key:"))
                    .unwrap_or_else(|| panic!("{uri}: no identity.pec_key problem in {err}"));
                assert!(line.contains(expect), "{uri}: {line}");
                if !expect.starts_with("unknown") {
                    let shown = ponte::crypto::Pkcs11Uri::parse(uri)
                        .expect("uri")
                        .to_string();
                    assert!(line.contains(&shown), "the URI is named: {line}");
                }
                assert!(
                    !err.contains(WRONG_PIN) && !out.contains(WRONG_PIN),
                    "{err}"
                );
                assert!(!err.contains(&format!("={PIN}")), "{err}");
                // The same key refused at start-up by `ponte translate` (exit 2, named).
                let (code, v) = translate_refused(&w);
                assert_eq!(code, 2, "{uri}: {v}");
                assert!(
                    v.contains("identity.pec_key") && !v.contains(WRONG_PIN),
                    "{v}"
                );
            }
        },
    );
}

/// `ponte translate` with the world's configuration: exit code and stderr.
fn translate_refused(w: &World) -> (i32, String) {
    let input = corpus_file("pec/real/namirial-busta-trasporto-2024.crlf.eml");
    let o = run_ponte([
        "translate".to_string(),
        input.display().to_string(),
        "--to".into(),
        "rem".into(),
        "--config".into(),
        w.config.display().to_string(),
        "-o".into(),
        w.path("refused.eml").display().to_string(),
    ]);
    (o.status.code().unwrap_or(-1), stderr(&o))
}

#[test]
fn the_dev_tsa_signs_with_a_token_key_and_openssl_accepts_its_tokens() {
    with_token(
        "the_dev_tsa_signs_with_a_token_key_and_openssl_accepts_its_tokens",
        |hsm| {
            if !have("openssl") {
                return;
            }
            use std::io::{BufRead, BufReader};
            /// The server, killed (by its own PID) when the test ends, also on a panic.
            struct Server(std::process::Child);
            impl Drop for Server {
                fn drop(&mut self) {
                    let _ = self.0.kill();
                    let _ = self.0.wait();
                }
            }
            let mut server = Server(
                common::ponte()
                    .args(["tsa", "serve", "--listen", "127.0.0.1:0", "--data"])
                    .arg(hsm.path("tsa-data"))
                    .arg("--key")
                    .arg(hsm.uri("tsa"))
                    .arg("--cert")
                    .arg(pki("tsa.pem"))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("spawn ponte tsa serve"),
            );
            let mut line = String::new();
            let stdout = server.0.stdout.take().expect("stdout");
            BufReader::new(stdout).read_line(&mut line).expect("line");
            let url = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .unwrap_or_else(|| panic!("no URL in {line:?}"))
                .to_string();
            assert!(
                line.contains(&pki("tsa.pem").display().to_string()),
                "{line}"
            );
            let data = hsm.path("data.txt");
            std::fs::write(&data, b"hello from the token").expect("write");
            let q = hsm.path("q.tsq");
            let r = hsm.path("r.tsr");
            let o = Command::new("openssl")
                .args(["ts", "-query", "-sha256", "-cert", "-data"])
                .arg(&data)
                .arg("-out")
                .arg(&q)
                .output()
                .expect("openssl ts -query");
            assert!(o.status.success(), "{}", stderr(&o));
            let o = run_ponte([
                "tsa".to_string(),
                "stamp".into(),
                "--query".into(),
                q.display().to_string(),
                "--tsa".into(),
                url,
                "-o".into(),
                r.display().to_string(),
            ]);
            assert!(o.status.success(), "stamp: {}", stderr(&o));
            let o = Command::new("openssl")
                .args(["ts", "-verify", "-queryfile"])
                .arg(&q)
                .arg("-in")
                .arg(&r)
                .arg("-CAfile")
                .arg(pki("root-ca.pem"))
                .arg("-untrusted")
                .arg(pki("provider-ca.pem"))
                .output()
                .expect("openssl ts -verify");
            assert!(
                String::from_utf8_lossy(&o.stdout).contains("Verification: OK"),
                "openssl ts -verify: {}{}",
                String::from_utf8_lossy(&o.stdout),
                stderr(&o)
            );
            drop(server);
            // The certificate of another key is refused at start.
            let o = common::ponte()
                .args(["tsa", "serve", "--listen", "127.0.0.1:0", "--data"])
                .arg(hsm.path("tsa-data"))
                .arg("--key")
                .arg(hsm.uri("pec"))
                .arg("--cert")
                .arg(pki("tsa.pem"))
                .output()
                .expect("spawn");
            assert_eq!(o.status.code(), Some(2));
            assert!(stderr(&o).contains("object=pec"), "{}", stderr(&o));
        },
    );
}

fn spki(cert: &str) -> Vec<u8> {
    let pem = std::fs::read(pki(cert)).expect("cert");
    ponte::x509::load_pem(&pem).expect("pem")[0]
        .spki_der
        .clone()
}

fn pkcs8(name: &str) -> SigningKey {
    SigningKey::from_pkcs8_pem(&std::fs::read(pki(name)).expect("key")).expect("pkcs8")
}

#[test]
fn library_token_keys_sign_like_pkcs8_keys_with_one_login() {
    with_token(
        "library_token_keys_sign_like_pkcs8_keys_with_one_login",
        |hsm| {
            let base = Path::new("/");
            // A wrong PIN: a typed error naming the URI, the PIN in neither Display nor Debug.
            let e = SigningKey::open(&hsm.uri_with_pin("pec", WRONG_PIN), base).unwrap_err();
            let (shown, debug) = (e.to_string(), format!("{e:?}"));
            assert!(shown.contains("CKR_PIN_INCORRECT"), "{shown}");
            assert!(
                !shown.contains(WRONG_PIN) && !debug.contains(WRONG_PIN),
                "{debug}"
            );

            let token = SigningKey::open(&hsm.uri("pec"), base).expect("token key");
            assert!(!format!("{token:?}").contains(PIN));
            let file = pkcs8("pec-rsa.key.pem");
            assert!(token.matches_spki(&spki("pec-rsa.pem")));
            assert!(!token.matches_spki(&spki("rem-rsa.pem")));
            assert_eq!(token.public_key_bytes(), file.public_key_bytes());
            assert_eq!(token.prove(&spki("pec-rsa.pem")).expect("prove"), Ok(()));
            assert!(token.prove(&spki("rem-rsa.pem")).expect("prove").is_err());
            // RSA PKCS#1 v1.5 is deterministic: the token's signatures are ring's, byte for byte.
            for msg in [&b""[..], b"signed attributes", &[0x5a; 5000]] {
                assert_eq!(
                    token.sign(msg).expect("sign"),
                    file.sign(msg).expect("sign")
                );
                assert_eq!(
                    token.sign_xmldsig(msg).expect("sign"),
                    file.sign_xmldsig(msg).expect("sign")
                );
            }
            // ECDSA: both forms verify with ring under the certificate's key.
            let ec = SigningKey::open(&hsm.uri("pec-ec"), base).expect("ec token key");
            let ec_spki = spki("pec-ec.pem");
            assert!(ec.matches_spki(&ec_spki));
            let sig = ec.sign(b"message").expect("sign");
            assert_eq!(sig.first(), Some(&0x30), "DER Ecdsa-Sig-Value");
            assert_eq!(
                verify_signature(&ec_spki, ec.signature_algorithm(), b"message", &sig)
                    .expect("spki"),
                Ok(())
            );
            let fixed = ec.sign_xmldsig(b"message").expect("sign");
            assert_eq!(fixed.len(), 64);
            let der = ponte::crypto::pkcs11::ecdsa_fixed_to_der(&fixed).expect("der");
            assert_eq!(
                verify_signature(&ec_spki, ec.signature_algorithm(), b"message", &der)
                    .expect("spki"),
                Ok(())
            );

            // Many threads, one login: sessions are pooled, never more than MAX_SESSIONS.
            let before = token.session_stats().expect("stats");
            assert_eq!(before.logins, 1, "{before:?}");
            let pec_spki = spki("pec-rsa.pem");
            std::thread::scope(|s| {
                for t in 0..8u8 {
                    let (token, ec, pec_spki, ec_spki) = (&token, &ec, &pec_spki, &ec_spki);
                    s.spawn(move || {
                        for i in 0..40u8 {
                            let msg = [t, i];
                            let (key, spki) = if i % 2 == 0 {
                                (token, pec_spki)
                            } else {
                                (ec, ec_spki)
                            };
                            let sig = key.sign(&msg).expect("sign");
                            assert_eq!(
                                verify_signature(spki, key.signature_algorithm(), &msg, &sig)
                                    .expect("spki"),
                                Ok(()),
                                "thread {t} signature {i}"
                            );
                        }
                    });
                }
            });
            let after = token.session_stats().expect("stats");
            assert_eq!(after.logins, 1, "one login for 320 signatures: {after:?}");
            assert!(
                after.sessions_opened <= ponte::crypto::pkcs11::MAX_SESSIONS as u64,
                "{after:?}"
            );
            assert_eq!(ec.session_stats(), Some(after), "both keys share the token");
            assert_eq!(after.reopens, 0);

            // The token drops every session and login (the module finalized and initialised
            // again, as an HSM restart does): the next signature re-opens once and succeeds.
            let ctx = cryptoki::context::Pkcs11::new(&hsm.module).expect("module");
            let args = cryptoki::context::CInitializeArgs::new(
                cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
            );
            let _ = ctx.initialize(args);
            ctx.clone().finalize().expect("C_Finalize");
            ctx.initialize(args).expect("C_Initialize");
            assert_eq!(
                token.sign(b"after").expect("sign"),
                file.sign(b"after").expect("sign")
            );
            let s = token.session_stats().expect("stats");
            assert_eq!((s.reopens, s.logins), (1, 2), "{s:?}");
            assert_eq!(
                token.sign(b"again").expect("sign"),
                file.sign(b"again").expect("sign")
            );
            assert_eq!(token.session_stats().expect("stats").reopens, 1);
            // Finalized and left so: Ponte initialises the module again itself.
            ctx.clone().finalize().expect("C_Finalize");
            let sig = ec.sign(b"after finalize").expect("sign");
            assert_eq!(
                verify_signature(&ec_spki, ec.signature_algorithm(), b"after finalize", &sig)
                    .expect("spki"),
                Ok(())
            );
            assert_eq!(ec.session_stats().expect("stats").reopens, 2);

            // An EC key whose public key object is gone: matched by signing a challenge.
            {
                use cryptoki::object::{Attribute, ObjectClass};
                use cryptoki::session::UserType;
                let slot = ctx
                    .get_slots_with_token()
                    .expect("slots")
                    .into_iter()
                    .find(|s| ctx.get_token_info(*s).is_ok_and(|t| t.label() == LABEL))
                    .expect("slot");
                let session = ctx.open_rw_session(slot).expect("session");
                let _ = session.login(UserType::User, Some(&PIN.into()));
                let public = session
                    .find_objects(&[
                        Attribute::Class(ObjectClass::PUBLIC_KEY),
                        Attribute::Label(b"rem-ec".to_vec()),
                    ])
                    .expect("find");
                assert_eq!(public.len(), 1);
                session.destroy_object(public[0]).expect("destroy");
            }
            let rem_ec = SigningKey::open(&hsm.uri("rem-ec"), base).expect("rem-ec");
            assert_eq!(rem_ec.public_key_bytes(), None);
            assert!(rem_ec.matches_spki(&spki("rem-ec.pem")));
            assert!(!rem_ec.matches_spki(&spki("pec-ec.pem")));
        },
    );
}
