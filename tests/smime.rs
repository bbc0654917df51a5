//! End-to-end tests: S/MIME verification and signing, against the real PEC corpus and the
//! openssl CLI as an independent oracle (both directions).

mod common;

use common::{corpus_file, have, pki, to_crlf};
use ponte::crypto::SigningKey;
use ponte::smime::{SignRequest, SmimeProtocol, SmimeVerdict, TrustTime, sign, trust, verify};
use ponte::x509::{Certificate, Usage, load_pem, verify_chain};
use std::path::{Path, PathBuf};
use std::process::Command;
use time::OffsetDateTime;
use time::macros::datetime;

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pem(path: PathBuf) -> Vec<Certificate> {
    load_pem(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cert(name: &str) -> Certificate {
    pem(pki(name)).remove(0)
}

fn key(name: &str) -> SigningKey {
    SigningKey::from_pkcs8_pem(&read(&pki(name))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn namirial(kind: &str) -> Vec<u8> {
    read(&corpus_file(&format!(
        "pec/real/namirial-busta-trasporto-2024.{kind}.eml"
    )))
}

fn actalis() -> Vec<Certificate> {
    pem(corpus_file("pec/certs/actalis-authentication-root-ca.pem"))
}

// ---------------------------------------------------------------- real PEC and chains

#[test]
fn real_namirial_envelope_verifies_crlf_and_lf() {
    for kind in ["crlf", "lf"] {
        let v = verify(&namirial(kind)).expect("readable");
        assert!(v.present, "{kind}");
        assert!(v.valid, "{kind}: {:?}", v.reason);
        assert_eq!(v.digest.as_deref(), Some("sha1"), "{kind}");
        assert!(
            v.signer.as_deref().unwrap_or("").contains("Namirial"),
            "{kind}: {:?}",
            v.signer
        );
        assert!(
            v.notes.iter().any(|n| n.contains("SHA-1")),
            "{kind}: {:?}",
            v.notes
        );
        let st = v.signing_time.expect("signingTime");
        assert_eq!(
            (st.year(), st.month() as u8, st.day()),
            (2024, 12, 4),
            "{kind}: {st}"
        );
        assert!(
            v.signed_content
                .starts_with(b"Content-Type: multipart/mixed"),
            "{kind}"
        );
        assert!(v.signed_content.ends_with(b"--\r\n"), "{kind}");
    }
}

#[test]
fn real_namirial_trusted_at_signing_time_not_now() {
    let v = verify(&namirial("crlf")).expect("readable");
    let roots = actalis();
    // AgID CA1 taken from the CMS.
    let t = trust(&v, &roots, &[], TrustTime::SigningTime);
    assert!(t.trusted, "{t:?}");
    assert_eq!(t.path.len(), 3);
    assert!(
        t.path[1].contains("AgID CA1") && t.path[2].contains("Actalis"),
        "{:?}",
        t.path
    );
    // AgID CA1 given separately as well.
    let ca1 = pem(corpus_file("pec/certs/agid-ca1.pem"));
    assert!(trust(&v, &roots, &ca1, TrustTime::SigningTime).trusted);
    // The signer expired on 27 Sep 2026.
    let now = trust(&v, &roots, &ca1, TrustTime::At(OffsetDateTime::now_utc()));
    assert!(!now.trusted);
    assert!(
        now.reason.as_deref().unwrap_or("").contains("not valid at"),
        "{now:?}"
    );
    // Not trusted against an unrelated anchor.
    let other = trust(&v, &[cert("root-ca.pem")], &ca1, TrustTime::SigningTime);
    assert!(!other.trusted);
}

#[test]
fn real_namirial_one_flipped_byte_is_invalid() {
    let raw = namirial("crlf");
    let v = verify(&raw).expect("readable");
    let start = raw
        .windows(v.signed_content.len())
        .position(|w| w == v.signed_content.as_slice())
        .expect("signed part inside the message");
    // Flip a letter of the signed text (keeps the MIME structure intact).
    let rel = v
        .signed_content
        .windows(9)
        .position(|w| w == b"Messaggio")
        .expect("text");
    let mut bad = raw.clone();
    bad[start + rel] ^= 0x20; // 'M' -> 'm'
    let b = verify(&bad).expect("readable");
    assert!(b.present && !b.valid);
    assert!(
        b.reason.as_deref().unwrap_or("").contains("messageDigest"),
        "{:?}",
        b.reason
    );
}

#[test]
fn real_pec_chain_trusted_with_name_constraints() {
    let leaf = pem(corpus_file("pec/certs/namirial-pec-signer.pem")).remove(0);
    let ca1 = pem(corpus_file("pec/certs/agid-ca1.pem"));
    let at = datetime!(2024-12-10 12:00 UTC);
    assert!(
        leaf.policies.iter().any(|p| p == "1.3.76.16.3.1.1"),
        "{:?}",
        leaf.policies
    );
    assert_eq!(leaf.email_sans, ["posta-certificata@sicurezzapostale.it"]);
    assert_eq!(leaf.ekus, ["1.3.6.1.5.5.7.3.4"]);
    assert_eq!(ca1[0].serial_hex(), "68043BDC4CB05A89117E1BFD692771F7");
    assert!(
        ca1[0].fingerprint_hex().starts_with("32:32:2A:E2"),
        "{}",
        ca1[0].fingerprint_hex()
    );
    let v = verify_chain(&leaf, &ca1, &actalis(), at, Usage::EmailProtection);
    assert!(v.trusted, "{v:?}");
    // Without the intermediate there is no path.
    assert!(!verify_chain(&leaf, &[], &actalis(), at, Usage::EmailProtection).trusted);
    // The signer is not a time-stamping unit.
    let ts = verify_chain(&leaf, &ca1, &actalis(), at, Usage::TimeStamping);
    assert!(
        !ts.trusted
            && ts
                .reason
                .as_deref()
                .unwrap_or("")
                .contains("extended key usage"),
        "{ts:?}"
    );
}

#[test]
fn real_rem_chains_trusted() {
    let dir = "rem/agid-policy-it/certificates/";
    let root = pem(corpus_file(&format!("{dir}REM-ROOT-CA.crt")));
    let inter = pem(corpus_file(&format!(
        "{dir}REM-POLICY-IT-INTERMEDIATE-CERTIFICATE.crt"
    )));
    for leaf in [
        "S1-REM-POLICY-IT-CERTIFICATE.crt",
        "R2-REM-POLICY-IT-CERTIFICATE.crt",
    ] {
        let leaf = pem(corpus_file(&format!("{dir}{leaf}"))).remove(0);
        let at = leaf.not_before + time::Duration::days(1);
        let v = verify_chain(&leaf, &inter, &root, at, Usage::Any);
        assert!(v.trusted, "{}: {v:?}", leaf.subject);
        assert_eq!(v.path.len(), 3);
        let late = verify_chain(
            &leaf,
            &inter,
            &root,
            leaf.not_after + time::Duration::days(1),
            Usage::Any,
        );
        assert!(!late.trusted);
    }
}

#[test]
fn unsigned_fixtures_are_not_present() {
    for f in ["accettazione", "consegna"] {
        let raw = read(&corpus_file(&format!(
            "pec/fixtures/java-pec-parser.{f}.unsigned.eml"
        )));
        let v = verify(&raw).expect("readable");
        assert!(!v.present, "{f}: {:?}", v.reason);
        assert!(!v.valid);
        assert!(v.reason.is_some());
    }
}

// ---------------------------------------------------------------- our signatures

const HEADER_SETS: &[&[(&str, &str)]] = &[
    &[
        ("From", "posta-certificata@pec.gestore-prova.test"),
        ("To", "mario.rossi@pec.example.test"),
        ("Subject", "ACCETTAZIONE: prova"),
        ("X-Ricevuta", "accettazione"),
        ("X-Riferimento-Message-ID", "<abc@example.test>"),
    ],
    &[
        (
            "From",
            "\"Per conto di: a@pec.example.test\"\r\n <posta-certificata@pec.gestore-prova.test>",
        ),
        ("Subject", "POSTA CERTIFICATA: =?utf-8?q?perch=C3=A9?="),
        ("X-Trasporto", "posta-certificata"),
    ],
    &[],
];

fn inner() -> Vec<u8> {
    let mut v = b"Content-Type: multipart/mixed; boundary=\"inner-b\"\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\n--inner-b\r\nContent-Type: text/plain; charset=\"iso-8859-1\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\nRicevuta di accettazione: perch\xe9 s\xec.\r\n--inner-b\r\nContent-Type: application/xml; name=\"daticert.xml\"\r\n\r\n<postacert tipo=\"accettazione\"/>\r\n--inner-b--\r\n".to_vec();
    v.extend_from_slice(b"");
    v
}

fn ponte_signed(signer: &str, key_name: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let k = key(key_name);
    let c = cert(signer);
    let chain = [cert("provider-ca.pem")];
    let inner = inner();
    sign(&SignRequest {
        headers,
        inner: &inner,
        key: &k,
        signer: &c,
        chain: &chain,
        signing_time: datetime!(2026-11-25 10:00:00 UTC),
        protocol: SmimeProtocol::Pec,
    })
    .expect("sign")
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn ponte_signatures_verify_with_ponte_and_openssl() {
    let run_openssl = have("openssl");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = pki("root-ca.pem");
    let ca = pki("provider-ca.pem");
    for (signer, key_name) in [
        ("pec-rsa.pem", "pec-rsa.key.pem"),
        ("pec-ec.pem", "pec-ec.key.pem"),
    ] {
        for (i, headers) in HEADER_SETS.iter().enumerate() {
            let msg = ponte_signed(signer, key_name, headers);
            assert!(
                !msg.windows(2)
                    .enumerate()
                    .any(|(j, w)| w[1] == b'\n' && (j == 0 || w[0] != b'\r'))
            );
            let text = String::from_utf8_lossy(&msg);
            assert!(
                text.contains("protocol=\"application/x-pkcs7-signature\"; micalg=\"sha-256\"")
            );
            assert!(text.contains("\r\n\r\nThis is an S/MIME signed message\r\n"));
            assert!(text.lines().all(|l| l.len() <= 998));
            let v = verify(&msg).expect("readable");
            assert!(v.valid, "{signer} set {i}: {:?}", v.reason);
            assert_eq!(v.digest.as_deref(), Some("sha256"));
            assert_eq!(
                v.signed_content,
                inner(),
                "{signer}: inner entity kept byte-exact"
            );
            assert_eq!(v.signing_time, Some(datetime!(2026-11-25 10:00:00 UTC)));
            let ess = v
                .signer_certificate
                .as_ref()
                .map(|c| c.fingerprint_sha256)
                .expect("signer certificate");
            assert!(
                v.certificates.len() == 2 && ess == cert(signer).fingerprint_sha256,
                "signer and intermediate carried"
            );
            let t = trust(&v, &[cert("root-ca.pem")], &[], TrustTime::SigningTime);
            assert!(t.trusted, "{t:?}");
            if run_openssl {
                let f = dir.path().join(format!("{signer}-{i}.eml"));
                std::fs::write(&f, &msg).expect("write");
                for tool in ["cms", "smime"] {
                    let (ok, err) = openssl(&[
                        tool,
                        "-verify",
                        "-in",
                        p(&f),
                        "-CAfile",
                        p(&root),
                        "-certfile",
                        p(&ca),
                        "-out",
                        "/dev/null",
                    ]);
                    assert!(ok, "openssl {tool} -verify refused {signer} set {i}: {err}");
                }
            }
        }
    }
    if !run_openssl {
        eprintln!("openssl not installed: oracle checks skipped");
    }
}

#[test]
fn tampered_ponte_signature_fails_in_ponte_and_openssl() {
    let msg = ponte_signed("pec-rsa.pem", "pec-rsa.key.pem", HEADER_SETS[0]);
    let pos = msg
        .windows(11)
        .position(|w| w == b"Ricevuta di")
        .expect("signed text")
        + 2;
    let mut bad = msg.clone();
    bad[pos] ^= 0x01;
    let v = verify(&bad).expect("readable");
    assert!(v.present && !v.valid, "{:?}", v.reason);
    if have("openssl") {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("bad.eml");
        std::fs::write(&f, &bad).expect("write");
        let (ok, _) = openssl(&[
            "smime",
            "-verify",
            "-in",
            p(&f),
            "-CAfile",
            p(&pki("root-ca.pem")),
            "-out",
            "/dev/null",
        ]);
        assert!(!ok, "openssl accepted a tampered message");
    }
}

#[test]
fn signing_refuses_a_key_that_is_not_the_certificates() {
    let k = key("pec-rsa.key.pem");
    let other = cert("pec-other.pem");
    let inner = inner();
    let r = sign(&SignRequest {
        headers: &[],
        inner: &inner,
        key: &k,
        signer: &other,
        chain: &[],
        signing_time: datetime!(2026-11-25 10:00:00 UTC),
        protocol: SmimeProtocol::Pec,
    });
    assert!(r.is_err());
}

// ---------------------------------------------------------------- openssl's signatures

fn openssl_sign(dir: &Path, name: &str, args: &[&str], signer: &str, key_name: &str) -> Vec<u8> {
    let content = dir.join("content.mime");
    std::fs::write(&content, inner()).expect("write");
    let out = dir.join(name);
    let mut all: Vec<&str> = args.to_vec();
    let (s, k, ca) = (pki(signer), pki(key_name), pki("provider-ca.pem"));
    all.extend_from_slice(&[
        "-in",
        p(&content),
        "-signer",
        p(&s),
        "-inkey",
        p(&k),
        "-certfile",
        p(&ca),
        "-out",
        p(&out),
    ]);
    let (ok, err) = openssl(&all);
    assert!(ok, "openssl {args:?}: {err}");
    read(&out)
}

fn expect_valid(v: &SmimeVerdict, what: &str, digest: &str) {
    assert!(v.present, "{what}");
    assert!(v.valid, "{what}: {:?}", v.reason);
    assert_eq!(v.digest.as_deref(), Some(digest), "{what}");
    assert!(
        v.signer.as_deref().unwrap_or("").contains("Gestore Prova"),
        "{what}: {:?}",
        v.signer
    );
    let t = trust(
        v,
        &[cert("root-ca.pem")],
        &[],
        TrustTime::At(datetime!(2027-01-01 0:00 UTC)),
    );
    assert!(t.trusted, "{what}: {t:?}");
}

#[test]
fn openssl_signatures_verify_with_ponte() {
    if !have("openssl") {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for md in ["sha1", "sha256"] {
        for (signer, key_name) in [
            ("pec-rsa.pem", "pec-rsa.key.pem"),
            ("pec-ec.pem", "pec-ec.key.pem"),
        ] {
            let cases: [(&str, Vec<&str>); 4] = [
                ("smime-detached", vec!["smime", "-sign", "-md", md]),
                (
                    "smime-opaque",
                    vec!["smime", "-sign", "-nodetach", "-md", md],
                ),
                ("cms-detached", vec!["cms", "-sign", "-md", md]),
                ("cms-opaque", vec!["cms", "-sign", "-nodetach", "-md", md]),
            ];
            for (name, args) in cases {
                if md == "sha1" && signer == "pec-ec.pem" {
                    continue; // ring has no ECDSA with SHA-1
                }
                let lf = openssl_sign(
                    d,
                    &format!("{name}-{md}-{signer}.eml"),
                    &args,
                    signer,
                    key_name,
                );
                for (form, bytes) in [("LF", lf.clone()), ("CRLF", to_crlf(&lf))] {
                    let what = format!("{name} {md} {signer} {form}");
                    let v = verify(&bytes).expect("readable");
                    expect_valid(&v, &what, md);
                    if name.ends_with("opaque") {
                        assert_eq!(v.form, Some(ponte::smime::SmimeForm::Opaque), "{what}");
                        assert_eq!(v.signed_content, inner(), "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn openssl_streamed_ber_opaque_verifies() {
    if !have("openssl") {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let der = openssl_sign(
        d,
        "stream.p7m",
        &[
            "cms",
            "-sign",
            "-nodetach",
            "-stream",
            "-binary",
            "-outform",
            "DER",
            "-md",
            "sha256",
        ],
        "pec-rsa.pem",
        "pec-rsa.key.pem",
    );
    assert_eq!(
        der.get(1),
        Some(&0x80),
        "openssl -stream output is indefinite-length BER"
    );
    let sd = ponte::cms::parse(&der).expect("BER parsed");
    let v = ponte::cms::verify(&sd, None);
    assert!(v.valid, "{:?}", v.reason);
    assert_eq!(sd.content.as_deref(), Some(inner().as_slice()));
}

#[test]
fn rogue_signer_is_valid_but_untrusted() {
    let msg = ponte_signed("rogue.pem", "rogue.key.pem", HEADER_SETS[0]);
    let v = verify(&msg).expect("readable");
    assert!(v.valid, "{:?}", v.reason);
    let t = trust(
        &v,
        &[cert("root-ca.pem")],
        &[cert("provider-ca.pem")],
        TrustTime::SigningTime,
    );
    assert!(!t.trusted);
    assert!(t.path.is_empty());
    // And the rogue root does vouch for it.
    assert!(trust(&v, &[cert("rogue-ca.pem")], &[], TrustTime::SigningTime).trusted);
}

#[test]
fn swapped_signer_certificate_fails() {
    // Sign with pec-rsa, then make the SignerInfo point at another provider's certificate
    // carried in the same SignedData: the signature no longer matches that key.
    let k = key("pec-rsa.key.pem");
    let signer = cert("pec-rsa.pem");
    let other = cert("pec-other.pem");
    let der = ponte::cms::sign(
        ponte::cms::Content::Detached(b"hello\r\n"),
        &k,
        &signer,
        std::slice::from_ref(&other),
        None,
    )
    .expect("sign");
    let mut sd = ponte::cms::parse(&der).expect("parse");
    assert!(ponte::cms::verify(&sd, Some(b"hello\r\n")).valid);
    sd.signers[0].sid = ponte::cms::SignerId::IssuerSerial {
        issuer_der: other.issuer_der.clone(),
        serial: other.serial.clone(),
    };
    let v = ponte::cms::verify(&sd, Some(b"hello\r\n"));
    assert!(!v.valid);
    // The signingCertificateV2 attribute binds the real signer: the swap is caught there.
    let why = v.reason.clone().unwrap_or_default();
    assert!(why.contains("signingCertificateV2"), "{why}");
    assert_eq!(v.signer.map(|c| c.subject), Some(other.subject.clone()));
    // Without that attribute in the model, the signature itself does not match the key.
    sd.signers[0]
        .signed_attrs
        .retain(|a| a.oid.to_string() != "1.2.840.113549.1.9.16.2.47");
    let v = ponte::cms::verify(&sd, Some(b"hello\r\n"));
    assert!(!v.valid);
    let why = v.reason.unwrap_or_default();
    assert!(why.contains("signature invalid"), "{why}");
}

// ---------------------------------------------------------------- robustness

#[test]
fn mutated_and_truncated_messages_never_panic() {
    let signed = ponte_signed("pec-ec.pem", "pec-ec.key.pem", HEADER_SETS[0]);
    let real = namirial("crlf");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut valid_after_change = 0;
    for base in [&signed, &real] {
        for _ in 0..300 {
            let mut m = base.clone();
            for _ in 0..(1 + next() % 4) {
                let i = (next() as usize) % m.len();
                m[i] = (next() & 0xff) as u8;
            }
            if let Ok(v) = verify(&m)
                && v.valid
                && m != *base
            {
                valid_after_change += 1; // a change outside the signed bytes
                let orig = verify(base).expect("readable");
                assert_eq!(v.signed_content, orig.signed_content);
            }
        }
        for cut in (0..base.len()).step_by(base.len() / 97 + 1) {
            let _ = verify(&base[..cut]);
            let _ = ponte::cms::parse(&base[..cut]);
        }
    }
    eprintln!("{valid_after_change} mutations left the signature valid (outside the signed bytes)");
}

#[test]
fn agid_rem_policy_samples_verify_and_chain_to_the_rem_root() {
    let base = corpus_file("rem/agid-policy-it");
    let certs = base.join("certificates");
    let root = pem(certs.join("REM-ROOT-CA.crt"));
    let inter = pem(certs.join("REM-POLICY-IT-INTERMEDIATE-CERTIFICATE.crt"));
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in ["Intra-REM-flow", "Inflow", "Outflow"] {
        let Ok(entries) = std::fs::read_dir(base.join(dir)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "eml"))
        {
            let raw = read(&f);
            let v = verify(&raw).expect("readable");
            if !v.present {
                continue; // e.g. the user's original message
            }
            checked += 1;
            let t = trust(&v, &root, &inter, TrustTime::SigningTime);
            if !(v.valid && t.trusted && v.digest.as_deref() == Some("sha256")) {
                failures.push(format!(
                    "{}: valid={} {:?} trusted={} {:?}",
                    f.display(),
                    v.valid,
                    v.reason,
                    t.trusted,
                    t.reason
                ));
            }
        }
    }
    assert!(checked >= 40, "only {checked} signed samples found");
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs openssl in `dir`, panicking with its stderr on failure.
fn openssl_in(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .env("SAN", "unused@ok.test")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn directory_name_and_rfc822_constraints_agree_with_openssl() {
    if !have("openssl") {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("ext.cnf"),
        "[ca]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n\
         nameConstraints=critical,permitted;dirName:dn_ok,permitted;email:ok.test\n\
         [dn_ok]\nC=IT\nO=Good\n\
         [leaf]\nbasicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=emailProtection\nsubjectAltName=email:$ENV::SAN\n",
    )
    .expect("write config");
    openssl_in(
        d,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ca.key",
        ],
    );
    openssl_in(
        d,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/C=IT/O=Constrained Root",
            "-days",
            "3650",
            "-config",
            "ext.cnf",
            "-extensions",
            "ca",
            "-out",
            "ca.pem",
        ],
    );
    let cases = [
        ("good", "/C=IT/O=Good/CN=Signer", "a@ok.test", true),
        ("bad-dn", "/C=IT/O=Evil/CN=Signer", "a@ok.test", false),
        ("bad-mail", "/C=IT/O=Good/CN=Signer", "a@evil.test", false),
    ];
    let root = pem(d.join("ca.pem"));
    for (name, subj, san, expected) in cases {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl_in(
            d,
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                &key,
            ],
        );
        openssl_in(
            d,
            &["req", "-new", "-key", &key, "-subj", subj, "-out", &csr],
        );
        let out = Command::new("openssl")
            .current_dir(d)
            .env("SAN", san)
            .args([
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "365",
                "-extfile",
                "ext.cnf",
                "-extensions",
                "leaf",
                "-out",
                &crt,
            ])
            .output()
            .expect("openssl x509");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let leaf = pem(d.join(&crt)).remove(0);
        let at = leaf.not_before + time::Duration::hours(1);
        let ours = verify_chain(&leaf, &[], &root, at, Usage::EmailProtection);
        let theirs = Command::new("openssl")
            .current_dir(d)
            .args(["verify", "-CAfile", "ca.pem", "-purpose", "smimesign", &crt])
            .output()
            .expect("openssl verify")
            .status
            .success();
        assert_eq!(ours.trusted, expected, "{name}: {ours:?}");
        assert_eq!(
            theirs, expected,
            "{name}: openssl disagrees with the expectation"
        );
    }
}
