//! Long-term evidence (XAdES B-LT and B-LTA) end to end: `ponte evidence extend` fetches CRLs
//! from a loopback HTTP server and OCSP responses from openssl's `ocsp` responder (the
//! independent peer) for a certificate issued here under the test provider CA; xmlsec1 still
//! verifies the signature; Ponte verifies the extended evidence after the certificate has
//! expired, and revocation seen in the CRL and OCSP data makes it invalid after the revocation.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{DevTsa, have, kit, kit_available, pki, run_ponte, xmlsec1_verifies};
use serde_json::Value;
use time::OffsetDateTime;

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn stamp(t: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn rfc(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("rfc3339")
}

fn openssl(args: &[&str], dir: &Path) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// The provider CA of the test PKI run as an `openssl ca` in a temporary folder, publishing its
/// CRL over HTTP and answering OCSP with `openssl ocsp` (delegated responder tests/pki/ocsp).
struct Ca {
    dir: tempfile::TempDir,
    ocsp: std::cell::RefCell<Child>,
    port: u16,
}

impl Ca {
    fn start() -> Ca {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir(d.join("new")).expect("new");
        std::fs::create_dir(d.join("www")).expect("www");
        std::fs::write(d.join("index.txt"), "").expect("index");
        std::fs::write(d.join("serial"), "1000\n").expect("serial");
        std::fs::write(d.join("crlnumber"), "1000\n").expect("crlnumber");
        let base = common::serve_dir(d.join("www"), "application/pkix-crl");
        let crl_url = format!("{base}/provider-ca.crl");
        let port = free_port();
        let ocsp_url = format!("http://127.0.0.1:{port}/");
        std::fs::write(
            d.join("ca.cnf"),
            format!(
                "[ca]\ndefault_ca = CA\n[CA]\ndir = {dir}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/new\nserial = $dir/serial\ncrlnumber = $dir/crlnumber\ncertificate = {ca}\nprivate_key = {key}\ndefault_md = sha256\ndefault_crl_days = 30\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\norganizationName = optional\ncountryName = optional\n[ext]\nbasicConstraints = critical, CA:false\nkeyUsage = critical, digitalSignature, nonRepudiation\nextendedKeyUsage = emailProtection\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\nsubjectAltName = email:rem@rem.prova.test\ncrlDistributionPoints = URI:{crl_url}\nauthorityInfoAccess = OCSP;URI:{ocsp_url}\n",
                dir = d.display(),
                ca = pki("provider-ca.pem").display(),
                key = pki("provider-ca.key.pem").display(),
            ),
        )
        .expect("ca.cnf");
        let ca = Ca {
            ocsp: std::cell::RefCell::new(Self::responder(d, port)),
            port,
            dir,
        };
        ca.publish_crl();
        ca
    }

    /// openssl's responder reads its index once: start it again after the index changed.
    fn restart_responder(&self) {
        let mut child = self.ocsp.borrow_mut();
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(self.dir.path().join("ocsp.log"));
        *child = Self::responder(self.dir.path(), self.port);
    }

    fn responder(d: &Path, port: u16) -> Child {
        let child = Command::new("openssl")
            .args([
                "ocsp",
                "-index",
                "index.txt",
                "-port",
                &port.to_string(),
                "-rsigner",
            ])
            .arg(pki("ocsp.pem"))
            .arg("-rkey")
            .arg(pki("ocsp.key.pem"))
            .arg("-CA")
            .arg(pki("provider-ca.pem"))
            .args(["-ndays", "1"])
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(d.join("ocsp.log"))
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            )
            .spawn()
            .expect("spawn openssl ocsp");
        // Ready once it says so (a probe connection would be taken for a request and hang it).
        for _ in 0..100 {
            let log = std::fs::read_to_string(d.join("ocsp.log")).unwrap_or_default();
            if log.contains("waiting for OCSP client connections") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    /// Issues a REM e-seal valid from an hour ago for `valid_for`; returns (key, cert).
    fn issue(&self, name: &str, valid_for: time::Duration) -> (PathBuf, PathBuf) {
        let d = self.dir.path();
        let key = d.join("signer.key.pem");
        let cert = d.join("signer.pem");
        let now = OffsetDateTime::now_utc();
        openssl(
            &[
                "req",
                "-new",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &s(&key),
                "-subj",
                &format!("/C=IT/O=Ponte Test REM/CN={name}"),
                "-out",
                "signer.csr",
            ],
            d,
        );
        openssl(
            &[
                "ca",
                "-batch",
                "-notext",
                "-config",
                "ca.cnf",
                "-extensions",
                "ext",
                "-startdate",
                &stamp(now - time::Duration::hours(1)),
                "-enddate",
                &stamp(now + valid_for),
                "-in",
                "signer.csr",
                "-out",
                &s(&cert),
            ],
            d,
        );
        self.restart_responder();
        (key, cert)
    }

    fn revoke(&self, cert: &Path) {
        openssl(
            &[
                "ca",
                "-config",
                "ca.cnf",
                "-revoke",
                &s(cert),
                "-crl_reason",
                "keyCompromise",
            ],
            self.dir.path(),
        );
        self.publish_crl();
        self.restart_responder();
    }

    fn publish_crl(&self) {
        let d = self.dir.path();
        openssl(
            &["ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem"],
            d,
        );
        openssl(
            &[
                "crl",
                "-in",
                "crl.pem",
                "-outform",
                "DER",
                "-out",
                "www/provider-ca.crl",
            ],
            d,
        );
    }
}

impl Drop for Ca {
    fn drop(&mut self) {
        let child = self.ocsp.get_mut();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A kit evidence with its signature removed.
fn unsigned_evidence(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(kit("standalone-evidence/SubmissionAcceptance.RA01.xml"))
        .expect("kit");
    let i = text.find("<ds:Signature").expect("signature");
    let j = text.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let p = dir.join("unsigned.xml");
    std::fs::write(&p, format!("{}{}", &text[..i], &text[j..])).expect("write");
    p
}

fn sign_b_t(input: &Path, key: &Path, cert: &Path, tsa: &DevTsa, out: &Path) {
    let o = run_ponte([
        "evidence",
        "sign",
        &s(input),
        "--key",
        &s(key),
        "--cert",
        &s(cert),
        "--chain",
        &s(&pki("provider-ca.pem")),
        "--tsa",
        &tsa.url,
        "-o",
        &s(out),
    ]);
    assert!(
        o.status.success(),
        "sign: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn extend(input: &Path, to: &str, tsa: &DevTsa, out: &Path) -> std::process::Output {
    run_ponte([
        "evidence",
        "extend",
        &s(input),
        "--to",
        to,
        "--tsa",
        &tsa.url,
        "--chain",
        &s(&pki("provider-ca.pem")),
        "--trust",
        &s(&pki("root-ca.pem")),
        "-o",
        &s(out),
    ])
}

fn verify(file: &Path, tsa: &DevTsa, at: &str) -> (i32, Value) {
    let mut args = vec![
        "evidence".to_owned(),
        "verify".to_owned(),
        s(file),
        "--trust".to_owned(),
        s(&pki("root-ca.pem")),
        "--tsa-trust".to_owned(),
        s(&tsa.cert()),
        "--json".to_owned(),
    ];
    if at != "now" {
        args.push("--at".to_owned());
        args.push(at.to_owned());
    }
    common::code_and_json(&run_ponte(&args))
}

fn ready() -> bool {
    kit_available() && have("openssl")
}

#[test]
fn extended_evidence_verifies_after_its_certificate_expired_and_in_xmlsec1() {
    if !ready() {
        return;
    }
    let ca = Ca::start();
    let tsa = DevTsa::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (key, cert) = ca.issue("Ponte Test REM short-lived", time::Duration::days(1));
    let bt = d.join("b-t.xml");
    sign_b_t(&unsigned_evidence(d), &key, &cert, &tsa, &bt);
    let later = rfc(OffsetDateTime::now_utc() + time::Duration::days(10));

    // B-T only: after the certificate's expiry the chain does not hold.
    let (code, v) = verify(&bt, &tsa, &later);
    assert_eq!(code, 1, "{v}");
    assert!(
        v["signature"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not valid at"),
        "{v}"
    );

    // B-LT: the CRL and the OCSP response are fetched and embedded.
    let lt = d.join("b-lt.xml");
    let o = extend(&bt, "B-LT", &tsa, &lt);
    assert!(
        o.status.success(),
        "extend: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&lt).expect("lt");
    assert!(text.contains("<xades:EncapsulatedCRLValue>"));
    assert!(text.contains("<xades:EncapsulatedOCSPValue>"));
    // The signed bytes are untouched: only unsigned properties were added.
    let bt_text = std::fs::read_to_string(&bt).expect("bt");
    let cut = bt_text
        .find("</xades:UnsignedSignatureProperties>")
        .expect("usp");
    assert!(text.starts_with(&bt_text[..cut]));
    if have("xmlsec1") {
        assert!(xmlsec1_verifies(&lt), "xmlsec1 refuses the B-LT evidence");
    }
    let (code, v) = verify(&lt, &tsa, "now");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature"]["level"], "B-LT", "{v}");
    assert_eq!(v["long_term"]["revocation"][0]["status"], "good", "{v}");
    assert!(
        v["long_term"]["unusable"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{v}"
    );
    assert_eq!(
        v["long_term"]["revocation"][0]["subject"],
        "CN=Ponte Test REM short-lived, O=Ponte Test REM, C=IT"
    );
    // After expiry: judged at the proof of existence (the signature time-stamp).
    let (code, v) = verify(&lt, &tsa, &later);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature"]["chain_trusted"], true);
    assert_eq!(v["signature"]["judged_at"], v["long_term"]["poe"]);
    assert_eq!(v["signature"]["judged_at"], v["timestamp"]["time"]);

    // B-LTA: an archive time-stamp over the whole.
    let lta = d.join("b-lta.xml");
    let o = extend(&lt, "B-LTA", &tsa, &lta);
    assert!(
        o.status.success(),
        "extend: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    if have("xmlsec1") {
        assert!(xmlsec1_verifies(&lta), "xmlsec1 refuses the B-LTA evidence");
    }
    let (code, v) = verify(&lta, &tsa, &later);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature"]["level"], "B-LTA", "{v}");
    assert_eq!(v["long_term"]["archive_timestamps"][0]["valid"], true);
    // B-LT again is refused; B-LTA again renews (a second archive time-stamp).
    assert_eq!(
        extend(&lta, "B-LT", &tsa, &d.join("x.xml")).status.code(),
        Some(2)
    );
    let lta2 = d.join("b-lta2.xml");
    let o = extend(&lta, "B-LTA", &tsa, &lta2);
    assert!(
        o.status.success(),
        "renew: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (code, v) = verify(&lta2, &tsa, &later);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        v["long_term"]["archive_timestamps"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(v["long_term"]["archive_timestamps"][1]["valid"], true);
    assert!(
        std::fs::read_to_string(&lta2)
            .expect("lta2")
            .contains("TimeStampValidationData")
    );
    // Changing the embedded validation data breaks the archive time-stamp.
    let lta_text = std::fs::read_to_string(&lta).expect("lta");
    let at = lta_text
        .find("<xades:EncapsulatedOCSPValue>")
        .expect("ocsp")
        + "<xades:EncapsulatedOCSPValue>".len()
        + 40;
    let mut bytes = lta_text.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = d.join("tampered.xml");
    std::fs::write(&tampered, bytes).expect("write");
    let (_, v) = verify(&tampered, &tsa, "now");
    assert_eq!(
        v["long_term"]["archive_timestamps"][0]["valid"], false,
        "{v}"
    );
    assert_ne!(v["signature"]["level"], "B-LTA");
}

#[test]
fn revocation_seen_in_the_crl_and_ocsp_makes_it_invalid_after_the_revocation() {
    if !ready() {
        return;
    }
    let ca = Ca::start();
    let tsa = DevTsa::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (key, cert) = ca.issue("Ponte Test REM revoked", time::Duration::days(30));
    let bt = d.join("b-t.xml");
    sign_b_t(&unsigned_evidence(d), &key, &cert, &tsa, &bt);
    std::thread::sleep(Duration::from_millis(2100));
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    ca.revoke(&cert);
    let lt = d.join("b-lt.xml");
    let o = extend(&bt, "B-LT", &tsa, &lt);
    assert!(
        o.status.success(),
        "extend: {} (responder: {})",
        String::from_utf8_lossy(&o.stderr),
        std::fs::read_to_string(ca.dir.path().join("ocsp.log")).unwrap_or_default()
    );
    let after = rfc(OffsetDateTime::now_utc() + time::Duration::hours(1));
    let (code, v) = verify(&lt, &tsa, &after);
    assert_eq!(code, 1, "{v}");
    let r = &v["long_term"]["revocation"][0];
    assert_eq!(r["status"], "revoked", "{v}");
    assert_eq!(r["reason"], "keyCompromise");
    assert!(
        v["signature"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked since"),
        "{v}"
    );
    assert_eq!(v["signature"]["chain_trusted"], false);
    // Before the revocation, the same evidence is valid.
    let (code, v) = verify(&lt, &tsa, &rfc(before));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["long_term"]["revocation"][0]["status"], "revoked");
    // The OCSP responder alone (the CRL removed) gives the same verdict.
    let text = std::fs::read_to_string(&lt).expect("lt");
    let i = text.find("<xades:CRLValues>").expect("crl");
    let j = text.find("</xades:CRLValues>").expect("crl end") + "</xades:CRLValues>".len();
    let ocsp_only = d.join("ocsp-only.xml");
    std::fs::write(&ocsp_only, format!("{}{}", &text[..i], &text[j..])).expect("write");
    let (code, v) = verify(&ocsp_only, &tsa, &after);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["long_term"]["revocation"][0]["source"], "ocsp");
    assert_eq!(v["long_term"]["revocation"][0]["status"], "revoked");
}
