//! End-to-end tests: RFC 3161 time-stamps. The development TSA (`ponte tsa serve`) against
//! `openssl ts` both ways, the client's failure modes, and the AgID kit's real tokens.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{DevTsa, corpus_file, have, pki, run_ponte};
use der::{Decode, Encode};
use ponte::tsp::asn1::TimeStampResp;
use ponte::tsp::issue::{Answered, Tsu};
use ponte::tsp::verify::{self, Expected, Invalid, Trust, VerifyOptions};
use ponte::tsp::{HashAlg, Imprint, RequestOptions, TimeStampRequest};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("spawn openssl")
}

fn certs(name: &str) -> Vec<ponte::x509::Certificate> {
    ponte::x509::load_pem(&std::fs::read(pki(name)).expect("read pem")).expect("pem")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn dev_tsa_tokens_verify_with_ponte_and_openssl() {
    let tsa = DevTsa::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data.bin");
    std::fs::write(&data, b"REM evidence bytes\r\n").expect("write");
    let mut serials = Vec::new();
    for i in 0..2 {
        let resp = dir.path().join(format!("resp{i}.tsr"));
        let o = run_ponte(["tsa", "stamp", s(&data), "--tsa", &tsa.url, "-o", s(&resp)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

        let o = run_ponte([
            "tsa",
            "verify",
            s(&resp),
            "--data",
            s(&data),
            "--tsa-trust",
            s(&tsa.cert()),
            "--json",
        ]);
        let v = json(&o);
        assert_eq!(o.status.code(), Some(0), "{v}");
        assert_eq!(v["valid"], true);
        assert_eq!(v["trusted"], true);
        assert_eq!(v["qualified"], false);
        assert_eq!(v["policy"], ponte::tsp::issue::DEV_POLICY.to_string());
        assert_eq!(v["accuracy_ms"], 1000);
        assert!(
            v["tsu"]["subject"]
                .as_str()
                .expect("subject")
                .contains("NOT QUALIFIED")
        );
        serials.push(u64::from_str_radix(v["serial"].as_str().expect("serial"), 16).expect("hex"));

        if have("openssl") {
            let o = openssl(&[
                "ts",
                "-verify",
                "-data",
                s(&data),
                "-in",
                s(&resp),
                "-CAfile",
                s(&tsa.cert()),
            ]);
            assert!(
                stdout(&o).contains("Verification: OK"),
                "{}{}",
                stdout(&o),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    assert!(serials[1] > serials[0], "serials {serials:?} must increase");

    // Other data: not valid, exit 1, the imprint named as the reason.
    let other = dir.path().join("other.bin");
    std::fs::write(&other, b"REM evidence bytes\n").expect("write");
    let o = run_ponte([
        "tsa",
        "verify",
        s(&dir.path().join("resp0.tsr")),
        "--data",
        s(&other),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        json(&o)["reason"]
            .as_str()
            .expect("reason")
            .contains("imprint")
    );

    // A bare token (--token) verifies the same way.
    let token = dir.path().join("token.der");
    let o = run_ponte([
        "tsa",
        "stamp",
        s(&data),
        "--tsa",
        &tsa.url,
        "--token",
        "-o",
        s(&token),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run_ponte([
        "tsa",
        "verify",
        s(&token),
        "--data",
        s(&data),
        "--tsa-trust",
        s(&tsa.cert()),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    if have("openssl") {
        let o = openssl(&[
            "ts",
            "-verify",
            "-data",
            s(&data),
            "-in",
            s(&token),
            "-token_in",
            "-CAfile",
            s(&tsa.cert()),
        ]);
        assert!(
            stdout(&o).contains("Verification: OK"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // The library call verifies imprint and nonce before handing the token over.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let (token, verdict) = rt
        .block_on(ponte::tsp::timestamp(
            &tsa.url,
            Imprint::of(HashAlg::Sha384, b"abc"),
            &RequestOptions::default(),
            &ponte::tsp::ClientOptions::default(),
        ))
        .expect("timestamp");
    assert!(verdict.valid());
    let tst = verify::read_tst_info(&token).expect("TSTInfo");
    assert_eq!(
        tst.message_imprint.hash_algorithm.oid,
        HashAlg::Sha384.oid()
    );
    assert!(tst.nonce.is_some());
}

#[test]
fn openssl_queries_are_answered_by_the_dev_tsa() {
    if !have("openssl") {
        eprintln!("skipped: openssl not installed");
        return;
    }
    let tsa = DevTsa::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data.txt");
    std::fs::write(&data, b"hello").expect("write");
    for alg in ["-sha256", "-sha384", "-sha512"] {
        let q = dir.path().join("q.tsq");
        let r = dir.path().join("r.tsr");
        let o = openssl(&[
            "ts",
            "-query",
            "-data",
            s(&data),
            alg,
            "-cert",
            "-out",
            s(&q),
        ]);
        assert!(o.status.success());
        let o = run_ponte([
            "tsa",
            "stamp",
            "--query",
            s(&q),
            "--tsa",
            &tsa.url,
            "-o",
            s(&r),
        ]);
        assert!(
            o.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = openssl(&[
            "ts",
            "-verify",
            "-queryfile",
            s(&q),
            "-in",
            s(&r),
            "-CAfile",
            s(&tsa.cert()),
        ]);
        assert!(
            stdout(&o).contains("Verification: OK"),
            "{alg}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // SHA-1 is refused with badAlg.
    let q = dir.path().join("q1.tsq");
    assert!(
        openssl(&[
            "ts",
            "-query",
            "-data",
            s(&data),
            "-sha1",
            "-cert",
            "-out",
            s(&q)
        ])
        .status
        .success()
    );
    let o = run_ponte([
        "tsa",
        "stamp",
        "--query",
        s(&q),
        "--tsa",
        &tsa.url,
        "-o",
        s(&dir.path().join("x")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("badAlg"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A throwaway `openssl ts -reply` TSA with the test PKI's TSA certificate.
fn openssl_reply(dir: &Path, query: &[u8], signer: &str, key: &str) -> Vec<u8> {
    let q = dir.join("req.tsq");
    let r = dir.join("resp.tsr");
    std::fs::write(&q, query).expect("write");
    std::fs::write(dir.join("tsaserial"), "01\n").expect("serial");
    let cnf = format!(
        "[tsa]\ndefault_tsa = t\n[t]\ndir = {d}\nserial = {d}/tsaserial\nsigner_cert = {c}\n\
         signer_key = {k}\nsigner_digest = sha256\ndefault_policy = 1.3.6.1.4.1.99999.1\n\
         digests = sha256, sha384, sha512\naccuracy = secs:1, millisecs:500\nordering = yes\n\
         tsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n",
        d = dir.display(),
        c = pki(signer).display(),
        k = pki(key).display()
    );
    std::fs::write(dir.join("tsa.cnf"), cnf).expect("cnf");
    let o = openssl(&[
        "ts",
        "-reply",
        "-config",
        s(&dir.join("tsa.cnf")),
        "-queryfile",
        s(&q),
        "-out",
        s(&r),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(&r).expect("resp")
}

#[test]
fn openssl_tokens_for_ponte_requests_verify_with_ponte() {
    if !have("openssl") {
        eprintln!("skipped: openssl not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = b"the data";
    let req =
        TimeStampRequest::new(Imprint::sha256(data), &RequestOptions::default()).expect("req");
    let resp = openssl_reply(
        dir.path(),
        &req.to_der().expect("der"),
        "tsa.pem",
        "tsa.key.pem",
    );
    let opts = VerifyOptions {
        anchors: certs("root-ca.pem"),
        extra_certs: certs("provider-ca.pem"),
        at: None,
    };
    let v = verify::verify_response(&resp, &req.expected(), &opts).expect("readable");
    assert_eq!(v.invalid, None);
    assert_eq!(v.trusted, Some(Trust::Trusted));
    assert!(!v.qualified);
    let info = v.info.as_ref().expect("info");
    assert_eq!(info.policy.to_string(), "1.3.6.1.4.1.99999.1");
    assert_eq!(info.accuracy.and_then(|a| a.millis), Some(500));
    assert!(info.ordering);

    // Both certificates given as anchors works too; a foreign root does not.
    let both = VerifyOptions {
        anchors: [certs("root-ca.pem"), certs("provider-ca.pem")].concat(),
        ..Default::default()
    };
    assert_eq!(
        verify::verify_response(&resp, &req.expected(), &both)
            .expect("ok")
            .trusted,
        Some(Trust::Trusted)
    );
    let rogue = VerifyOptions {
        anchors: certs("rogue-ca.pem"),
        ..Default::default()
    };
    let v = verify::verify_response(&resp, &req.expected(), &rogue).expect("ok");
    assert!(v.valid(), "trust is a separate verdict");
    assert!(matches!(v.trusted, Some(Trust::NotTrusted(_))));
    // Without anchors trust is not judged.
    assert_eq!(
        verify::verify_response(&resp, &req.expected(), &VerifyOptions::default())
            .expect("ok")
            .trusted,
        None
    );

    // Wrong nonce.
    let mut wrong_nonce = req.expected();
    wrong_nonce.nonce = Some(der::asn1::Int::new(&[0x01, 0x02, 0x03]).expect("int"));
    let v = verify::verify_response(&resp, &wrong_nonce, &opts).expect("ok");
    assert_eq!(v.invalid, Some(Invalid::NonceMismatch));
    // Wrong data.
    let wrong_data = Expected {
        imprint: Imprint::sha256(b"the datA"),
        nonce: req.expected().nonce,
    };
    assert_eq!(
        verify::verify_response(&resp, &wrong_data, &opts)
            .expect("ok")
            .invalid,
        Some(Invalid::ImprintMismatch)
    );
    // Wrong imprint algorithm.
    let wrong_alg = Expected {
        imprint: Imprint::of(HashAlg::Sha512, data),
        nonce: None,
    };
    assert!(matches!(
        verify::verify_response(&resp, &wrong_alg, &opts)
            .expect("ok")
            .invalid,
        Some(Invalid::ImprintAlgorithm { .. })
    ));

    // Tampered imprint inside the signed TSTInfo: the messageDigest no longer matches.
    let digest = ponte::crypto::digest(HashAlg::Sha256, data);
    let mut tampered = resp.clone();
    let at = tampered
        .windows(digest.len())
        .position(|w| w == digest.as_slice())
        .expect("imprint in token");
    tampered[at] ^= 0x01;
    let mut flipped = digest.clone();
    flipped[0] ^= 0x01;
    let expect_flipped = Expected {
        imprint: Imprint::from_digest(HashAlg::Sha256, flipped).expect("imprint"),
        nonce: None,
    };
    let v = verify::verify_response(&tampered, &expect_flipped, &opts).expect("ok");
    assert!(
        matches!(&v.invalid, Some(Invalid::Cms(r)) if r.contains("messageDigest")),
        "{:?}",
        v.invalid
    );

    // Through the CLI, with the nonce given in hex.
    let nonce_hex: String = req
        .nonce()
        .expect("nonce")
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let resp_path = dir.path().join("openssl.tsr");
    let data_path = dir.path().join("data");
    std::fs::write(&resp_path, &resp).expect("write");
    std::fs::write(&data_path, data).expect("write");
    let o = run_ponte([
        "tsa",
        "verify",
        s(&resp_path),
        "--data",
        s(&data_path),
        "--nonce",
        &nonce_hex,
        "--tsa-trust",
        s(&pki("root-ca.pem")),
        "--untrusted",
        s(&pki("provider-ca.pem")),
        "--json",
    ]);
    let j = json(&o);
    assert_eq!(o.status.code(), Some(0), "{j}");
    assert_eq!(j["trusted"], true);
    let o = run_ponte([
        "tsa",
        "verify",
        s(&resp_path),
        "--data",
        s(&data_path),
        "--tsa-trust",
        s(&pki("rogue-ca.pem")),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "valid but not trusted is exit 1");
    assert_eq!(json(&o)["trusted"], false);
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, b"not DER").expect("write");
    let o = run_ponte(["tsa", "verify", s(&garbage), "--data", s(&data_path)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("garbage"));
}

#[test]
fn a_token_signed_with_a_non_tsa_certificate_is_invalid() {
    // Ponte's own issuer with the S/MIME certificate pec-rsa (EKU emailProtection):
    // openssl refuses to sign with it, so the token is made here.
    let key_pem = std::fs::read(pki("pec-rsa.key.pem")).expect("key");
    use rustls_pki_types::pem::PemObject;
    let key = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(&key_pem).expect("pkcs8");
    let cert = certs("pec-rsa.pem").remove(0);
    let tsu = Tsu::new(
        key.secret_pkcs8_der(),
        cert.der(),
        ponte::tsp::issue::DEV_POLICY,
    )
    .expect("tsu");
    let req =
        TimeStampRequest::new(Imprint::sha256(b"x"), &RequestOptions::default()).expect("req");
    let now = time::OffsetDateTime::now_utc();
    let (resp, answered) = tsu
        .answer(&req.to_der().expect("der"), now, || Ok(1))
        .expect("answer");
    assert!(matches!(answered, Answered::Granted { .. }));
    let v = verify::verify_response(&resp, &req.expected(), &VerifyOptions::default()).expect("ok");
    assert_eq!(v.invalid, Some(Invalid::NotTimeStampingCertificate));
    let opts = VerifyOptions {
        anchors: certs("root-ca.pem"),
        extra_certs: certs("provider-ca.pem"),
        at: None,
    };
    let v = verify::verify_response(&resp, &req.expected(), &opts).expect("ok");
    assert!(
        matches!(v.trusted, Some(Trust::NotTrusted(_))),
        "{:?}",
        v.trusted
    );
}

#[test]
fn a_tsa_that_is_down_fails_after_bounded_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    std::fs::write(&data, b"x").expect("write");
    let start = Instant::now();
    let o = run_ponte([
        "tsa",
        "stamp",
        s(&data),
        "--tsa",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unreachable after 3 attempt"), "{err}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    // https is refused up front, naming the URL.
    let o = run_ponte(["tsa", "stamp", s(&data), "--tsa", "https://tsa.example/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("https"));
}

/// The exclusive C14N of `<ds:SignatureValue Id="...">B64</ds:SignatureValue>` as it appears in
/// the kit (prefix `ds`, one `Id` attribute, base64 without characters needing escapes).
fn signature_value_c14n(xml: &str) -> Option<Vec<u8>> {
    let start = xml.find("<ds:SignatureValue")?;
    let rest = &xml[start + "<ds:SignatureValue".len()..];
    let gt = rest.find('>')?;
    let attrs = &rest[..gt];
    let body_end = rest.find("</ds:SignatureValue>")?;
    let body = &rest[gt + 1..body_end];
    Some(
        format!(
            "<ds:SignatureValue xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"{attrs}>{body}</ds:SignatureValue>"
        )
        .into_bytes(),
    )
}

fn encapsulated_time_stamp(xml: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let tag = xml.find("EncapsulatedTimeStamp")?;
    let open_end = tag + xml[tag..].find('>')? + 1;
    let close = open_end + xml[open_end..].find('<')?;
    let b64: String = xml[open_end..close]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[test]
fn the_kit_evidence_tokens_verify() {
    let dir = corpus_file("rem/agid-policy-it/standalone-evidence");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: no corpus at {}", dir.display());
        return;
    };
    let kit_tsa = ponte::x509::load_pem(
        &std::fs::read(corpus_file("rem/etsi-en-319-532-4/TSA.NOWNTSTS202004.pem"))
            .expect("kit TSA"),
    )
    .expect("pem");
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "xml"));
    files.sort();
    assert!(files.len() >= 40, "{} evidences", files.len());
    for f in &files {
        let xml = std::fs::read_to_string(f).expect("read");
        let token =
            encapsulated_time_stamp(&xml).unwrap_or_else(|| panic!("{}: no token", f.display()));
        let c14n = signature_value_c14n(&xml)
            .unwrap_or_else(|| panic!("{}: no SignatureValue", f.display()));
        let expected = Expected {
            imprint: Imprint::sha256(&c14n),
            nonce: None,
        };

        // With the kit's TSA certificate as anchor.
        let opts = VerifyOptions {
            anchors: kit_tsa.clone(),
            ..Default::default()
        };
        let v = verify::verify_token(&token, &expected, &opts).expect("readable");
        assert_eq!(v.invalid, None, "{}", f.display());
        let info = v.info.as_ref().expect("info");
        assert_eq!(info.policy.to_string(), "1.2.3.4", "{}", f.display());
        assert!(info.gen_time.instant().year() >= 2022, "{}", f.display());
        let tsu = v.tsu.as_ref().expect("tsu");
        assert!(tsu.subject.contains("good-tsa"), "{}", tsu.subject);
        assert!(
            !v.qualified,
            "the kit's TSU certificate carries no QcStatement"
        );
        // Finding: the kit's TSA.NOWNTSTS202004.pem (a 2020 "root-ca", another key) is not the
        // issuer of the tokens' TSU (its 2021 "root-ca" rotated key), so it does not chain.
        assert!(
            matches!(v.trusted, Some(Trust::NotTrusted(_))),
            "{}: {:?}",
            f.display(),
            v.trusted
        );

        // With the root carried inside the token itself as anchor, at genTime, the path holds:
        // the path logic works; only the kit's anchor file is stale.
        let parsed = ponte::cms::parse(&token).expect("parse");
        let root = parsed
            .certificates
            .iter()
            .find(|c| c.subject_der == c.issuer_der)
            .expect("a self-signed root in the token");
        let anchors = vec![root.clone()];
        let v = verify::verify_token(
            &token,
            &expected,
            &VerifyOptions {
                anchors,
                ..Default::default()
            },
        )
        .expect("readable");
        assert_eq!(v.trusted, Some(Trust::Trusted), "{}", f.display());

        if f.file_name()
            .is_some_and(|n| n == "SubmissionAcceptance.RA01.xml")
        {
            // The same through the CLI: valid, reported, not trusted with the kit's anchor.
            let dir = tempfile::tempdir().expect("tempdir");
            let tok = dir.path().join("kit.tst");
            std::fs::write(&tok, &token).expect("write");
            let digest: String = ponte::crypto::digest(HashAlg::Sha256, &c14n)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let kit_pem = corpus_file("rem/etsi-en-319-532-4/TSA.NOWNTSTS202004.pem");
            let o = run_ponte([
                "tsa",
                "verify",
                s(&tok),
                "--digest",
                &digest,
                "--tsa-trust",
                s(&kit_pem),
                "--json",
            ]);
            let j = json(&o);
            assert_eq!(o.status.code(), Some(1), "valid but not trusted: {j}");
            assert_eq!(j["valid"], true);
            assert_eq!(j["trusted"], false);
            assert_eq!(j["qualified"], false);
            assert_eq!(j["policy"], "1.2.3.4");
            assert_eq!(j["time"], "2022-08-03T14:25:41Z");
        }

        // A changed character of the SignatureValue: the token covers other data.
        let mut other = c14n.clone();
        let last = other.len() - 25;
        other[last] = if other[last] == b'A' { b'B' } else { b'A' };
        let v = verify::verify_token(
            &token,
            &Expected {
                imprint: Imprint::sha256(&other),
                nonce: None,
            },
            &VerifyOptions::default(),
        )
        .expect("readable");
        assert_eq!(v.invalid, Some(Invalid::ImprintMismatch));
    }
}

#[test]
fn a_response_is_read_back_byte_exact() {
    // The response type keeps the token element exactly (it is what gets stored).
    let dir = tempfile::tempdir().expect("tempdir");
    let now = time::macros::datetime!(2026-11-24 12:00 UTC);
    let tsa = ponte::tsp::server::DevTsa::open(dir.path(), now).expect("open");
    let req =
        TimeStampRequest::new(Imprint::sha256(b"y"), &RequestOptions::default()).expect("req");
    let (resp, _) = tsa
        .answer(&req.to_der().expect("der"), now)
        .expect("answer");
    let parsed = TimeStampResp::from_der(&resp).expect("resp");
    assert_eq!(parsed.to_der().expect("der"), resp);
}

#[test]
fn qualified_follows_the_qc_statement_of_the_tsu_certificate() {
    if !have("openssl") {
        eprintln!("skipped: openssl not installed");
        return;
    }
    // A throwaway TSU certificate with qcStatements = { esi4-qtstStatement-1 }
    // (SEQUENCE { SEQUENCE { OID 0.4.0.19422.1.1 } }) and one without, same key.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("k.pem");
    let o = openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        s(&key),
    ]);
    assert!(o.status.success());
    let make = |name: &str, qc: bool| {
        let cert = dir.path().join(name);
        let mut args = vec![
            "req",
            "-x509",
            "-new",
            "-key",
            s(&key),
            "-subj",
            "/CN=throwaway TSU",
            "-days",
            "2",
            "-addext",
            "keyUsage=critical,digitalSignature",
            "-addext",
            "extendedKeyUsage=critical,timeStamping",
            "-out",
            s(&cert),
        ];
        if qc {
            args.extend([
                "-addext",
                "1.3.6.1.5.5.7.1.3=DER:300B3009060704008197 5E0101",
            ]);
        }
        let args: Vec<String> = args.iter().map(|a| a.replace(' ', "")).collect();
        let o = Command::new("openssl")
            .args(&args)
            .output()
            .expect("openssl");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        ponte::x509::load_pem(&std::fs::read(&cert).expect("read"))
            .expect("pem")
            .remove(0)
    };
    use rustls_pki_types::pem::PemObject;
    let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_file(&key).expect("pkcs8");
    for (name, qc) in [("qc.pem", true), ("plain.pem", false)] {
        let cert = make(name, qc);
        let tsu = Tsu::new(
            pkcs8.secret_pkcs8_der(),
            cert.der(),
            ponte::tsp::issue::DEV_POLICY,
        )
        .expect("tsu");
        let req =
            TimeStampRequest::new(Imprint::sha256(b"q"), &RequestOptions::default()).expect("req");
        let (resp, _) = tsu
            .answer(
                &req.to_der().expect("der"),
                time::OffsetDateTime::now_utc(),
                || Ok(1),
            )
            .expect("answer");
        let opts = VerifyOptions {
            anchors: vec![cert.clone()],
            ..Default::default()
        };
        let v = verify::verify_response(&resp, &req.expected(), &opts).expect("ok");
        assert_eq!(v.invalid, None, "{name}");
        assert_eq!(v.trusted, Some(Trust::Trusted), "{name}");
        assert_eq!(v.qualified, qc, "{name}");
    }
}

#[test]
fn openssl_cms_tokens_need_the_ess_attribute() {
    if !have("openssl") {
        eprintln!("skipped: openssl not installed");
        return;
    }
    // A TSTInfo from an openssl TSA, re-signed by `openssl cms -sign` with the test TSA
    // certificate: without -cades there is no ESS attribute (invalid for RFC 3161), with
    // -cades there is one (valid), with -noattr there are no signed attributes at all.
    let dir = tempfile::tempdir().expect("tempdir");
    let req =
        TimeStampRequest::new(Imprint::sha256(b"cms"), &RequestOptions::default()).expect("req");
    let resp = openssl_reply(
        dir.path(),
        &req.to_der().expect("der"),
        "tsa.pem",
        "tsa.key.pem",
    );
    let token = verify::token_of_response(&resp).expect("token");
    let tst = ponte::cms::parse(&token)
        .expect("cms")
        .content
        .expect("TSTInfo");
    let tst_path = dir.path().join("tst.der");
    std::fs::write(&tst_path, &tst).expect("write");
    let opts = VerifyOptions {
        anchors: certs("root-ca.pem"),
        extra_certs: certs("provider-ca.pem"),
        at: None,
    };
    let cases: [(&[&str], Option<Invalid>); 3] = [
        (&[], Some(Invalid::SigningCertificateMissing)),
        (&["-cades"], None),
        (&["-noattr"], Some(Invalid::SignedAttributesMissing)),
    ];
    let (signer, key) = (pki("tsa.pem"), pki("tsa.key.pem"));
    for (extra, want) in cases {
        let out = dir.path().join("cms.der");
        let mut args = vec![
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-nosmimecap",
            "-md",
            "sha256",
            "-econtent_type",
            "1.2.840.113549.1.9.16.1.4",
            "-in",
            s(&tst_path),
            "-signer",
            s(&signer),
            "-inkey",
            s(&key),
            "-outform",
            "DER",
            "-out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        let o = openssl(&args);
        assert!(
            o.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let cms = std::fs::read(&out).expect("read");
        let v = verify::verify_token(&cms, &req.expected(), &opts).expect("readable");
        assert_eq!(v.invalid, want, "{extra:?}");
        assert_eq!(v.trusted, Some(Trust::Trusted), "{extra:?}");
    }
}
