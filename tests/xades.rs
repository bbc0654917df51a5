//! End-to-end tests: XAdES signatures on ERDS evidence (`ponte evidence verify|sign`).
//!
//! * every evidence of the AgID kit (standalone and attached to the kit's REM messages)
//!   verifies as B-T with the kit root as `--trust` at `signing-time`;
//! * tampering with content, signed properties or the certificate makes it invalid;
//! * a catalogue of signature-wrapping (XSW) variants, made here from a kit evidence, is
//!   rejected, each with its reason;
//! * interop with xmlsec1: what Ponte signs (RSA and EC, B-B and B-T) verifies there;
//! * B-T with the development TSA (`ponte tsa serve`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{SP_ID_ATTR, have, kit, kit_available, pki, ponte, run_ponte, xmlsec1_verifies};
use serde_json::Value;

fn kit_root() -> PathBuf {
    kit("certificates/REM-ROOT-CA.crt")
}

/// Runs `ponte evidence verify FILE --json` with extra args; returns (exit code, JSON).
fn verify_json(file: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args: Vec<String> = vec![
        "evidence".into(),
        "verify".into(),
        file.display().to_string(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = run_ponte(&args);
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON ({e}); exit {code}; stdout {stdout}; stderr {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

fn kit_trust_args() -> Vec<String> {
    vec![
        "--trust".into(),
        kit_root().display().to_string(),
        "--at".into(),
        "signing-time".into(),
    ]
}

fn verify_kit(file: &Path) -> (i32, Value) {
    let args = kit_trust_args();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    verify_json(file, &refs)
}

fn assert_b_t(file: &Path, code: i32, v: &Value) {
    assert_eq!(code, 0, "{}: {v}", file.display());
    assert_eq!(v["signature"]["valid"], true, "{}: {v}", file.display());
    assert_eq!(v["signature"]["level"], "B-T", "{}: {v}", file.display());
    assert_eq!(
        v["signature"]["chain_trusted"],
        true,
        "{}: {v}",
        file.display()
    );
    assert_eq!(v["timestamp"]["present"], true);
    assert_eq!(v["timestamp"]["valid"], true);
    assert_eq!(
        v["timestamp"]["trusted"],
        Value::Null,
        "no --tsa-trust given"
    );
    assert_eq!(
        v["timestamp"]["policy"], "1.2.3.4",
        "the kit's test TSA policy"
    );
    assert_eq!(v["timestamp"]["qualified"], false);
    assert!(v["timestamp"]["time"].is_string());
    assert!(v["event"].is_string() && v["event_uri"].is_string(), "{v}");
    assert!(v["evidence_id"].as_str().is_some_and(|s| s.contains('@')));
    assert!(v["event_time"].as_str().is_some_and(|s| s.ends_with('Z')));
    let reasons = v["reasons"].as_array().expect("reasons array");
    assert!(!reasons.is_empty(), "every kit evidence has a reason: {v}");
    assert!(
        reasons[0]["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("http"))
    );
}

#[test]
fn every_standalone_kit_evidence_verifies_as_b_t() {
    if !kit_available() {
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(kit("standalone-evidence"))
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 40,
        "expected the kit's 40+ evidences, found {}",
        files.len()
    );
    for f in &files {
        let (code, v) = verify_kit(f);
        assert_b_t(f, code, &v);
        // The event name matches the file name's prefix (e.g. RelayFailure.RB02.xml).
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let event = v["event"].as_str().unwrap_or_default();
        assert!(
            name.starts_with(event) || name.starts_with("ContentConsignmentt"),
            "{name}: event {event}"
        );
        // The reason code is the one in the file name.
        let code_in_name = name.split('.').nth(1).unwrap_or_default();
        assert_eq!(v["reasons"][0]["code"], code_in_name, "{name}");
    }
}

/// The evidence XML parts of a REM message (found with mail-parser).
fn evidence_parts(eml: &[u8]) -> Vec<Vec<u8>> {
    use mail_parser::MimeHeaders;
    let msg = mail_parser::MessageParser::default()
        .parse(eml)
        .expect("kit message parses");
    msg.parts
        .iter()
        .filter(|p| {
            p.content_type().is_some_and(|ct| {
                let sub = ct.subtype().unwrap_or_default();
                (ct.ctype() == "application" || ct.ctype() == "text") && sub == "xml"
            })
        })
        .map(|p| p.contents().to_vec())
        .collect()
}

#[test]
fn evidence_attached_to_every_kit_rem_message_verifies_as_b_t() {
    if !kit_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    for flow in ["Intra-REM-flow", "Inflow", "Outflow"] {
        let mut emls: Vec<PathBuf> = std::fs::read_dir(kit(flow))
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("REM_") && n.ends_with(".eml"))
            })
            .collect();
        emls.sort();
        for eml in emls {
            let raw = std::fs::read(&eml).expect("read eml");
            let parts = evidence_parts(&raw);
            assert_eq!(parts.len(), 1, "{}: one evidence attached", eml.display());
            let path = dir.path().join("attached.xml");
            std::fs::write(&path, &parts[0]).expect("write");
            let (code, v) = verify_kit(&path);
            assert_b_t(&eml, code, &v);
            checked += 1;
        }
    }
    assert!(checked >= 40, "checked {checked} kit messages");
}

/// A kit evidence as text, to tamper with.
fn kit_evidence(name: &str) -> String {
    std::fs::read_to_string(kit(&format!("standalone-evidence/{name}"))).expect("kit evidence")
}

fn write_tmp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// The base64 body of a PEM certificate file, on one line.
fn pem_body(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("pem")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
}

fn first_between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s.find(start).expect("start marker") + start.len();
    let j = s[i..].find(end).expect("end marker") + i;
    &s[i..j]
}

fn assert_rejected(path: &Path, expect: &str) -> Value {
    let (code, v) = verify_kit(path);
    assert_eq!(code, 1, "{}: {v}", path.display());
    assert_eq!(v["signature"]["valid"], false, "{}: {v}", path.display());
    let reason = v["signature"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(expect),
        "{}: reason {reason:?} does not mention {expect:?}",
        path.display()
    );
    assert_eq!(
        v["event"],
        Value::Null,
        "no evidence is reported from an invalid signature"
    );
    v
}

#[test]
fn tampered_content_properties_or_certificate_are_invalid() {
    if !kit_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let original = kit_evidence("RelayAcceptance.RB01.xml");
    let (code, _) = verify_kit(&write_tmp(dir.path(), "original.xml", &original));
    assert_eq!(code, 0, "the untouched evidence verifies");

    // One character of the content.
    let id = first_between(&original, "<tns:EvidenceIdentifier>", "</");
    let mut forged_id = id.to_owned();
    forged_id.replace_range(0..1, if id.starts_with('A') { "B" } else { "A" });
    let t = original.replacen(id, &forged_id, 1);
    assert_rejected(
        &write_tmp(dir.path(), "content.xml", &t),
        "digest of the document",
    );

    // One character of the event time (an unqualified element).
    let t = original.replacen("<EventTime>2022", "<EventTime>2023", 1);
    assert_ne!(t, original);
    assert_rejected(
        &write_tmp(dir.path(), "time.xml", &t),
        "digest of the document",
    );

    // One character of the SignedProperties (the signing time).
    let st = first_between(&original, "<xades:SigningTime>", "</");
    let forged = st.replacen("2022", "2021", 1);
    let t = original.replacen(
        &format!("<xades:SigningTime>{st}"),
        &format!("<xades:SigningTime>{forged}"),
        1,
    );
    assert_rejected(&write_tmp(dir.path(), "props.xml", &t), "SignedProperties");

    // The DataObjectFormat MIME type.
    let t = original.replacen("application/octet-stream", "application/octet-strean", 1);
    assert_rejected(&write_tmp(dir.path(), "mime.xml", &t), "SignedProperties");

    // The KeyInfo certificate swapped for the other provider's (S1 for R2 and back).
    let signer = first_between(&original, "<ds:X509Certificate>", "</");
    for other in [
        "S1-REM-POLICY-IT-CERTIFICATE.crt",
        "R2-REM-POLICY-IT-CERTIFICATE.crt",
    ] {
        let body = pem_body(&kit(&format!("certificates/{other}")));
        if body == signer {
            continue;
        }
        let t = original.replacen(signer, &body, 1);
        assert_rejected(
            &write_tmp(dir.path(), "cert.xml", &t),
            "SigningCertificateV2",
        );
    }

    // The signature value itself.
    let sv = first_between(&original, "<ds:SignatureValue", "</ds:SignatureValue>");
    let flipped = sv.replacen('A', "B", 1);
    let t = original.replacen(sv, &flipped, 1);
    assert_rejected(&write_tmp(dir.path(), "value.xml", &t), "SignatureValue");
}

/// Hand-made signature-wrapping variants of one kit evidence: (name, document, expected
/// fragment of the reason).
fn xsw_catalogue(original: &str) -> Vec<(&'static str, String, &'static str)> {
    let sig_start = original.find("<ds:Signature").expect("signature");
    let sig_end =
        original.find("</ds:Signature>").expect("signature end") + "</ds:Signature>".len();
    let signature = &original[sig_start..sig_end];
    let root_open_end = original.find("version=\"EN319522v1.1.1\">").expect("root") + 25;
    let root_open = &original[original.find("<tns:Evidence").expect("root")..root_open_end];
    let body = &original[root_open_end..sig_start];
    let sp_id = first_between(original, "<xades:SignedProperties Id=\"", "\"");
    let doc_digest = first_between(signature, "<ds:DigestValue>", "</");
    let id = first_between(original, "<tns:EvidenceIdentifier>", "</");
    let forged_body = body.replacen(id, "FORGED@attacker.example", 1);
    let prolog = &original[..original.find("<tns:Evidence").expect("root")];
    let mut v = Vec::new();

    // 1. The signed content moved into a ds:Object, a forged evidence as root.
    let moved = signature.replacen(
        "</ds:Signature>",
        &format!("<ds:Object>{root_open}{body}</tns:Evidence></ds:Object></ds:Signature>"),
        1,
    );
    v.push((
        "content moved into an Object under a forged root",
        format!("{prolog}{root_open}{forged_body}{moved}</tns:Evidence>"),
        "ds:Object carries",
    ));

    // 2. The signed evidence duplicated: a forged evidence and the signed one side by side
    //    under a new root.
    v.push((
        "duplicated evidence under a wrapper root",
        format!(
            "{prolog}<Wrapper>{root_open}{forged_body}</tns:Evidence>{}</Wrapper>",
            &original[original.find("<tns:Evidence").expect("root")..]
        ),
        "not a child of the root",
    ));

    // 3. A second ds:Signature (a copy with fresh Ids) inside the content.
    let copy = signature.replace("id-", "copy-id-");
    v.push((
        "second ds:Signature",
        original.replacen("</tns:Extensions>", &format!("</tns:Extensions>{copy}"), 1),
        "2 ds:Signature elements",
    ));

    // 4. Id collision: a forged element in the content carries the SignedProperties Id.
    v.push((
        "Id collision with SignedProperties",
        original.replacen(
            "<tns:EvidenceIdentifier>",
            &format!("<tns:EvidenceIdentifier Id=\"{sp_id}\">"),
            1,
        ),
        "Id carried by more than one element",
    ));

    // 5. The SignedProperties reference retargeted to an element outside the signature.
    v.push((
        "reference to an element outside the signature",
        original
            .replacen(
                "<tns:EvidenceIdentifier>",
                "<tns:EvidenceIdentifier Id=\"evil\">",
                1,
            )
            .replacen(&format!("URI=\"#{sp_id}\""), "URI=\"#evil\"", 1),
        "not this signature's SignedProperties",
    ));

    // 6. A comment inside a DigestValue.
    let (a, b) = doc_digest.split_at(8);
    v.push((
        "comment inside DigestValue",
        original.replacen(doc_digest, &format!("{a}<!-- wrapped -->{b}"), 1),
        "a comment inside Reference DigestValue",
    ));

    // 7. A comment inside the SignatureValue.
    v.push((
        "comment inside SignatureValue",
        original.replacen("</ds:SignatureValue>", "<!-- x --></ds:SignatureValue>", 1),
        "a comment inside SignatureValue",
    ));

    // 8. Whitespace inside a digest.
    v.push((
        "whitespace inside DigestValue",
        original.replacen(doc_digest, &format!("{a}\n  {b}"), 1),
        "whitespace inside Reference DigestValue",
    ));

    // 9. An XSLT transform in place of the XPath filter.
    let filter_start = signature
        .find("<ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\">")
        .expect("filter");
    let filter_end = signature[filter_start..]
        .find("</ds:Transform>")
        .expect("end")
        + filter_start
        + "</ds:Transform>".len();
    let filter = &signature[filter_start..filter_end];
    v.push((
        "XSLT transform",
        original.replacen(
            filter,
            "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>",
            1,
        ),
        "REC-xslt-19991116",
    ));

    // 10. A different XPath Filter 2.0 expression (subtracting the evidence identifier).
    v.push((
        "different XPath",
        original.replacen(
            "/descendant::ds:Signature</dsig-filter2:XPath>",
            "/descendant::tns:EvidenceIdentifier</dsig-filter2:XPath>",
            1,
        ),
        "/descendant::tns:EvidenceIdentifier",
    ));

    // 11. The XPath filter as intersect instead of subtract.
    v.push((
        "XPath intersect",
        original.replacen("Filter=\"subtract\"", "Filter=\"intersect\"", 1),
        "intersect",
    ));

    // 12. KeyInfo swapped (the signer's certificate replaced by the intermediate).
    let certs: Vec<&str> = original
        .split("<ds:X509Certificate>")
        .skip(1)
        .map(|s| &s[..s.find('<').unwrap_or(0)])
        .collect();
    if let [leaf, inter, ..] = certs.as_slice() {
        v.push((
            "KeyInfo swapped",
            original
                .replacen(leaf, "LEAF", 1)
                .replacen(inter, leaf, 1)
                .replacen("LEAF", inter, 1),
            "SigningCertificateV2",
        ));
    }

    // 13. The signature moved to be the first child of the root.
    let without = format!("{}{}", &original[..sig_start], &original[sig_end..]);
    v.push((
        "signature not at the end",
        without.replacen(root_open, &format!("{root_open}{signature}"), 1),
        "follows the ds:Signature",
    ));

    // 14. An XPointer reference to the whole document.
    v.push((
        "xpointer URI",
        original.replacen(&format!("URI=\"#{sp_id}\""), "URI=\"#xpointer(/)\"", 1),
        "only \"\" and #SignedProperties-Id",
    ));

    // 15. The DataObjectFormat retargeted to no reference (refused structurally, before the
    //     SignedProperties digest would fail).
    v.push((
        "DataObjectFormat retargeted",
        original.replacen("ObjectReference=\"#r-", "ObjectReference=\"#x-", 1),
        "ObjectReference",
    ));

    // 16. An extra ds:Object carrying a forged evidence beside the qualifying properties.
    v.push((
        "extra Object with forged content",
        original.replacen(
            "</ds:Signature>",
            &format!(
                "<ds:Object>{root_open}{forged_body}</tns:Evidence></ds:Object></ds:Signature>"
            ),
            1,
        ),
        "ds:Object carries",
    ));
    v
}

#[test]
fn signature_wrapping_catalogue_is_rejected() {
    if !kit_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let original = kit_evidence("SubmissionAcceptance.RA01.xml");
    let (code, _) = verify_kit(&write_tmp(dir.path(), "original.xml", &original));
    assert_eq!(code, 0, "the untouched evidence verifies");
    let catalogue = xsw_catalogue(&original);
    assert!(catalogue.len() >= 8);
    for (i, (name, doc, expect)) in catalogue.iter().enumerate() {
        assert_ne!(doc, &original, "{name}: the variant differs");
        let path = write_tmp(dir.path(), &format!("xsw-{i:02}.xml"), doc);
        let (code, v) = verify_kit(&path);
        assert_eq!(code, 1, "{name}: must be rejected: {v}");
        let reason = v["signature"]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(expect),
            "{name}: reason {reason:?} lacks {expect:?}"
        );
        assert_eq!(v["event"], Value::Null, "{name}: no evidence reported");
    }
}

#[test]
fn hostile_xml_is_unreadable_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>";
    let p = write_tmp(dir.path(), "dtd.xml", doc);
    let out = run_ponte(["evidence", "verify", p.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dtd.xml")
            && err.contains("XML refused")
            && err.contains("entity declaration"),
        "{err}"
    );
    // A readable document without a signature is a verdict, not an error.
    let p = write_tmp(dir.path(), "plain.xml", "<a>b</a>");
    let (code, v) = verify_json(&p, &[]);
    assert_eq!(code, 1);
    assert_eq!(v["signature"]["reason"], "no ds:Signature in the document");
    // A bad --at is a usage error naming the value.
    let out = run_ponte([
        "evidence",
        "verify",
        p.to_str().expect("utf8"),
        "--at",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--at \"yesterday\""));
    // So is a missing trust file, named.
    let out = run_ponte([
        "evidence",
        "verify",
        p.to_str().expect("utf8"),
        "--trust",
        "/nonexistent/root.pem",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/root.pem"));
}

/// A kit evidence with its signature removed.
fn unsigned_evidence(dir: &Path) -> PathBuf {
    let s = kit_evidence("SubmissionAcceptance.RA01.xml");
    let i = s.find("<ds:Signature").expect("signature");
    let j = s.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    write_tmp(dir, "unsigned.xml", &format!("{}{}", &s[..i], &s[j..]))
}

fn sign(input: &Path, key: &str, out: &Path, tsa: Option<&str>) {
    let mut cmd = ponte();
    cmd.args(["evidence", "sign"])
        .arg(input)
        .arg("--key")
        .arg(pki(&format!("{key}.key.pem")))
        .arg("--cert")
        .arg(pki(&format!("{key}.pem")))
        .arg("--chain")
        .arg(pki("provider-ca.pem"))
        .arg("-o")
        .arg(out);
    if let Some(url) = tsa {
        cmd.arg("--tsa").arg(url);
    }
    let o = cmd.output().expect("spawn");
    assert!(
        o.status.success(),
        "sign with {key}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn local_trust() -> Vec<String> {
    vec!["--trust".into(), pki("root-ca.pem").display().to_string()]
}

#[test]
fn ponte_b_b_signatures_verify_in_ponte_and_xmlsec1() {
    if !kit_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let unsigned = unsigned_evidence(dir.path());
    let unsigned_text = std::fs::read_to_string(&unsigned).expect("read");
    for key in ["rem-rsa", "rem-ec"] {
        let out = dir.path().join(format!("{key}.xml"));
        sign(&unsigned, key, &out, None);
        let signed = std::fs::read_to_string(&out).expect("read");
        // The input bytes are kept: the signature is inserted before the root end tag.
        let at = signed.find("<ds:Signature").expect("signature");
        assert_eq!(&signed[..at], &unsigned_text[..at]);
        assert!(signed.ends_with(&unsigned_text[at..]));
        assert!(signed.contains("Id=\"ponte-sig-"));

        let trust = local_trust();
        let refs: Vec<&str> = trust.iter().map(String::as_str).collect();
        let (code, v) = verify_json(&out, &refs);
        assert_eq!(code, 0, "{key}: {v}");
        assert_eq!(v["signature"]["level"], "B-B");
        assert_eq!(v["signature"]["chain_trusted"], true);
        assert_eq!(v["timestamp"]["present"], false);
        assert_eq!(v["event"], "SubmissionAcceptance");
        assert_eq!(v["reasons"][0]["code"], "RA01");
        assert!(
            v["signature"]["signer"]
                .as_str()
                .is_some_and(|s| s.contains("Ponte Test REM e-seal"))
        );

        // Without --trust the chain is not judged; with the rogue root it is not trusted.
        let (code, v) = verify_json(&out, &[]);
        assert_eq!((code, &v["signature"]["chain_trusted"]), (0, &Value::Null));
        let rogue = pki("rogue-ca.pem").display().to_string();
        let (code, v) = verify_json(&out, &["--trust", &rogue]);
        assert_eq!(code, 1, "{v}");
        assert_eq!(v["signature"]["valid"], true);
        assert_eq!(v["signature"]["chain_trusted"], false);

        if have("xmlsec1") {
            assert!(
                xmlsec1_verifies(&out),
                "{key}: xmlsec1 refuses Ponte's signature"
            );
            // xmlsec1 is a real oracle: it refuses a tampered copy.
            let t = signed.replacen("<EventTime>2022", "<EventTime>2023", 1);
            let bad = write_tmp(dir.path(), "bad.xml", &t);
            assert!(!xmlsec1_verifies(&bad), "xmlsec1 accepts tampered content");
        }
    }
}

#[test]
fn signing_an_already_signed_evidence_is_a_usage_error() {
    if !kit_available() {
        return;
    }
    let signed = kit("standalone-evidence/SubmissionAcceptance.RA01.xml");
    let out = run_ponte([
        "evidence".as_ref(),
        "sign".as_ref(),
        signed.as_os_str(),
        "--key".as_ref(),
        pki("rem-rsa.key.pem").as_os_str(),
        "--cert".as_ref(),
        pki("rem-rsa.pem").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SubmissionAcceptance.RA01.xml")
            && err.contains("already signed")
            && err.contains("ds:Signature Id=\"id-"),
        "{err}"
    );
    // A key that is not the certificate's is refused too.
    let dir = tempfile::tempdir().expect("tempdir");
    let unsigned = unsigned_evidence(dir.path());
    let out = run_ponte([
        "evidence".as_ref(),
        "sign".as_ref(),
        unsigned.as_os_str(),
        "--key".as_ref(),
        pki("rem-ec.key.pem").as_os_str(),
        "--cert".as_ref(),
        pki("rem-rsa.pem").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match the certificate"));
}

/// The development TSA, stopped on drop.
struct DevTsa {
    child: Child,
    url: String,
    cert: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for DevTsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_dev_tsa() -> DevTsa {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = ponte()
        .args(["tsa", "serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ponte tsa serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .split("listening on ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    DevTsa {
        child,
        url,
        cert: dir.path().join("tsa.pem"),
        _dir: dir,
    }
}

#[test]
fn ponte_b_t_signatures_with_the_development_tsa() {
    if !kit_available() {
        return;
    }
    let tsa = start_dev_tsa();
    let dir = tempfile::tempdir().expect("tempdir");
    let unsigned = unsigned_evidence(dir.path());
    for key in ["rem-rsa", "rem-ec"] {
        let out = dir.path().join(format!("{key}-bt.xml"));
        sign(&unsigned, key, &out, Some(&tsa.url));
        let tsa_cert = tsa.cert.display().to_string();
        let root = pki("root-ca.pem").display().to_string();
        let (code, v) = verify_json(&out, &["--trust", &root, "--tsa-trust", &tsa_cert]);
        assert_eq!(code, 0, "{key}: {v}");
        assert_eq!(v["signature"]["level"], "B-T");
        assert_eq!(v["timestamp"]["present"], true);
        assert_eq!(v["timestamp"]["valid"], true);
        assert_eq!(v["timestamp"]["trusted"], true);
        assert_eq!(
            v["timestamp"]["qualified"], false,
            "the development TSA is not qualified"
        );
        assert!(v["timestamp"]["policy"].is_string());
        // Without --tsa-trust the TSA is not judged; with another anchor it is not trusted.
        let (_, v) = verify_json(&out, &["--trust", &root]);
        assert_eq!(v["timestamp"]["trusted"], Value::Null);
        assert_eq!(v["signature"]["level"], "B-T");
        let (_, v) = verify_json(&out, &["--tsa-trust", &root]);
        assert_eq!(v["timestamp"]["trusted"], false);

        // A time-stamp over another signature value does not count: swap the token into
        // a fresh B-B signature of the same document.
        let bt = std::fs::read_to_string(&out).expect("read");
        let token = first_between(&bt, "<xades:EncapsulatedTimeStamp>", "</");
        let bb_path = dir.path().join(format!("{key}-bb.xml"));
        sign(&unsigned, key, &bb_path, Some(&tsa.url));
        let other = std::fs::read_to_string(&bb_path).expect("read");
        let other_token = first_between(&other, "<xades:EncapsulatedTimeStamp>", "</");
        let swapped = other.replacen(other_token, token, 1);
        let p = write_tmp(dir.path(), "swapped.xml", &swapped);
        let (code, v) = verify_json(&p, &["--trust", &root]);
        assert_eq!(code, 0, "the signature itself is still valid: {v}");
        assert_eq!(v["signature"]["level"], "B-B", "{v}");
        assert_eq!(v["timestamp"]["valid"], false);
        assert!(
            v["timestamp"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("imprint"))
        );

        if have("xmlsec1") {
            assert!(
                xmlsec1_verifies(&out),
                "{key}: xmlsec1 refuses Ponte's B-T signature"
            );
        }
    }
}

#[test]
fn evidence_built_from_the_model_signs_and_verifies() {
    use ponte::rem::evidence::{EntityDetails, Event, EventReason, Evidence, Reason, UserDetails};
    let mut ev = Evidence::new(
        None,
        "E-MODEL-1@rem.prova.test",
        Event::SubmissionAcceptance,
        time::macros::datetime!(2026-12-01 10:00:00 UTC),
        EntityDetails::legal_name("Ponte Test REM"),
        UserDetails::mailto("sender@rem.prova.test"),
        vec![UserDetails::mailto("recipient@rem.altro.test")],
    );
    ev.reasons.push(EventReason::baseline(
        Reason::MessageAccepted,
        "Message accepted",
    ));
    let xml = ev.to_unsigned_xml().expect("serialize");
    let dir = tempfile::tempdir().expect("tempdir");
    let unsigned = write_tmp(dir.path(), "model.xml", &xml);
    let out = dir.path().join("model-signed.xml");
    sign(&unsigned, "rem-rsa", &out, None);
    let trust = local_trust();
    let refs: Vec<&str> = trust.iter().map(String::as_str).collect();
    let (code, v) = verify_json(&out, &refs);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["event"], "SubmissionAcceptance");
    assert_eq!(v["evidence_id"], "E-MODEL-1@rem.prova.test");
    assert_eq!(v["event_time"], "2026-12-01T10:00:00Z");
    assert_eq!(v["reasons"][0]["code"], "RA01");
    assert_eq!(v["reasons"][0]["text"], "Message accepted");
    if have("xmlsec1") {
        assert!(
            xmlsec1_verifies(&out),
            "xmlsec1 refuses the signed model evidence"
        );
    }
}

/// A copy of a Ponte signature with every computed value emptied: a template xmlsec1 fills.
fn xmlsec1_template(signed: &str) -> String {
    let si_start = signed.find("<ds:SignedInfo").expect("SignedInfo");
    let si_end = signed.find("</ds:SignedInfo>").expect("end");
    let mut si = String::new();
    let mut rest = &signed[si_start..si_end];
    while let Some(i) = rest.find("<ds:DigestValue>") {
        let j = rest[i..].find("</ds:DigestValue>").expect("end") + i;
        si.push_str(&rest[..i]);
        si.push_str("<ds:DigestValue></ds:DigestValue>");
        rest = &rest[j + "</ds:DigestValue>".len()..];
    }
    si.push_str(rest);
    let mut t = format!("{}{si}{}", &signed[..si_start], &signed[si_end..]);
    let sv = first_between(&t, "<ds:SignatureValue", "</ds:SignatureValue>").to_owned();
    let open_end = sv.find('>').expect(">") + 1;
    t = t.replacen(&sv, &sv[..open_end], 1);
    let ki_start = t.find("<ds:KeyInfo>").expect("KeyInfo");
    let ki_end = t.find("</ds:KeyInfo>").expect("end") + "</ds:KeyInfo>".len();
    t.replace_range(
        ki_start..ki_end,
        "<ds:KeyInfo><ds:X509Data></ds:X509Data></ds:KeyInfo>",
    );
    t
}

#[test]
fn xmlsec1_signatures_verify_in_ponte() {
    if !kit_available() || !have("xmlsec1") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let unsigned = unsigned_evidence(dir.path());
    let ours = dir.path().join("ours.xml");
    sign(&unsigned, "rem-rsa", &ours, None);
    let template = xmlsec1_template(&std::fs::read_to_string(&ours).expect("read"));
    assert!(!template.contains("</ds:X509Certificate>"));
    let t = write_tmp(dir.path(), "template.xml", &template);
    let theirs = dir.path().join("theirs.xml");
    let key = format!(
        "{},{}",
        pki("rem-rsa.key.pem").display(),
        pki("rem-rsa.pem").display()
    );
    let o = Command::new("xmlsec1")
        .args([
            "--sign",
            "--privkey-pem",
            &key,
            "--id-attr:Id",
            SP_ID_ATTR,
            "--output",
        ])
        .arg(&theirs)
        .arg(&t)
        .output()
        .expect("spawn xmlsec1");
    assert!(
        o.status.success(),
        "xmlsec1 --sign: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let signed = std::fs::read_to_string(&theirs).expect("read");
    assert!(
        signed.contains("</ds:X509Certificate>"),
        "xmlsec1 filled KeyInfo"
    );
    let (code, v) = verify_json(&theirs, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature"]["level"], "B-B");
    assert_eq!(v["event"], "SubmissionAcceptance");
    // xmlsec1 put only the leaf in KeyInfo: without the intermediate the chain is not trusted.
    let root = pki("root-ca.pem").display().to_string();
    let (code, v) = verify_json(&theirs, &["--trust", &root]);
    assert_eq!(code, 1);
    assert_eq!(v["signature"]["valid"], true);
    assert_eq!(v["signature"]["chain_trusted"], false);
}

/// Flips sampled alphanumeric characters of `region` (a byte range of `original`) one at a
/// time; none of the results may verify. Returns how many mutations were tried.
fn mutations_never_verify(original: &str, region: std::ops::Range<usize>, step: usize) -> usize {
    let opts = ponte::xades::VerifyOptions {
        anchors: Vec::new(),
        intermediates: Vec::new(),
        tsa_anchors: Vec::new(),
        at: ponte::xades::At::SigningTime,
    };
    let bytes = original.as_bytes();
    let mut tried = 0;
    for i in region.step_by(step) {
        let b = bytes[i];
        if !b.is_ascii_alphanumeric() {
            continue;
        }
        let mut m = bytes.to_vec();
        m[i] = if b == b'a' {
            b'b'
        } else if b.is_ascii_digit() {
            b'0' + (b - b'0' + 1) % 10
        } else {
            b'a'
        };
        tried += 1;
        if let Ok(report) = ponte::xades::verify(&m, &opts) {
            assert!(
                !report.signature.valid(),
                "changing byte {i} ({:?} -> {:?}) still verifies",
                b as char,
                m[i] as char
            );
        }
    }
    tried
}

#[test]
fn changing_any_sampled_character_of_content_or_signed_properties_invalidates() {
    if !kit_available() {
        return;
    }
    let original = kit_evidence("RelayFailure.RB02.xml");
    // From the end of the root start tag: its unused namespace declarations are not signed
    // by Exclusive C14N (see the next test).
    let root = original.find("version=\"EN319522v1.1.1\">").expect("root");
    let sig = original.find("<ds:Signature").expect("signature");
    let n = mutations_never_verify(&original, root..sig, 3);
    assert!(n > 500, "content mutations tried: {n}");
    let sp = original
        .find("<xades:SignedProperties")
        .expect("SignedProperties");
    let sp_end = original.find("</xades:SignedProperties>").expect("end");
    let n = mutations_never_verify(&original, sp..sp_end, 1);
    assert!(n > 300, "SignedProperties mutations tried: {n}");
    let si = original.find("<ds:SignedInfo").expect("SignedInfo");
    let si_end = original.find("</ds:SignedInfo>").expect("end");
    let n = mutations_never_verify(&original, si..si_end, 2);
    assert!(n > 300, "SignedInfo mutations tried: {n}");
    // The value itself (its Id attribute is covered only by the time-stamp's imprint).
    let sv = original.find("<ds:SignatureValue").expect("SignatureValue");
    let sv_text = original[sv..].find('>').expect(">") + sv + 1;
    let sv_end = original.find("</ds:SignatureValue>").expect("end");
    let n = mutations_never_verify(&original, sv_text..sv_end, 1);
    assert!(n > 250, "SignatureValue mutations tried: {n}");
}

#[test]
fn qname_prefix_bindings_are_signed_by_ponte_but_not_by_the_kit_profile() {
    if !kit_available() {
        return;
    }
    let opts = ponte::xades::VerifyOptions {
        anchors: Vec::new(),
        intermediates: Vec::new(),
        tsa_anchors: Vec::new(),
        at: ponte::xades::At::SigningTime,
    };
    let elp = "xmlns:elp=\"http://eidas.europa.eu/attributes/legalperson\"";
    let rebound = "xmlns:elp=\"http://attacker.example/legalperson\"";
    // The kit (EU DSS, plain Exclusive C14N): the binding of `elp`, used only inside
    // xsi:type="elp:LegalNameType", is outside the signed octets.
    let kit_doc = kit_evidence("RelayFailure.RB02.xml");
    assert!(kit_doc.contains(elp));
    let r = ponte::xades::verify(kit_doc.replacen(elp, rebound, 1).as_bytes(), &opts)
        .expect("readable");
    assert!(
        r.signature.valid(),
        "documented Exclusive C14N property of the kit profile"
    );
    // Ponte puts such prefixes in the InclusiveNamespaces PrefixList: the same change breaks
    // the signature, and the covered octets carry the binding.
    let dir = tempfile::tempdir().expect("tempdir");
    let unsigned = unsigned_evidence(dir.path());
    let out = dir.path().join("signed.xml");
    sign(&unsigned, "rem-rsa", &out, None);
    let ours = std::fs::read_to_string(&out).expect("read");
    assert!(
        ours.contains("PrefixList=\"elp enp\""),
        "PrefixList written"
    );
    let r = ponte::xades::verify(ours.as_bytes(), &opts).expect("readable");
    assert!(r.signature.valid(), "{:?}", r.signature.invalid);
    let covered = String::from_utf8_lossy(r.signed_content().unwrap_or_default()).into_owned();
    assert!(covered.contains(elp), "the binding is in the signed octets");
    let r =
        ponte::xades::verify(ours.replacen(elp, rebound, 1).as_bytes(), &opts).expect("readable");
    assert_eq!(
        r.signature.invalid,
        Some(ponte::xades::Invalid::DigestMismatch("document"))
    );
}

/// Signs `template` with xmlsec1 (rem-rsa); returns the signed file.
fn xmlsec1_sign(dir: &Path, name: &str, template: &str) -> PathBuf {
    let t = write_tmp(dir, &format!("{name}.template.xml"), template);
    let out = dir.join(format!("{name}.xml"));
    let key = format!(
        "{},{}",
        pki("rem-rsa.key.pem").display(),
        pki("rem-rsa.pem").display()
    );
    let o = Command::new("xmlsec1")
        .args([
            "--sign",
            "--privkey-pem",
            &key,
            "--id-attr:Id",
            SP_ID_ATTR,
            "--output",
        ])
        .arg(&out)
        .arg(&t)
        .output()
        .expect("spawn xmlsec1");
    assert!(
        o.status.success(),
        "{name}: xmlsec1 --sign: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
fn allowlisted_algorithm_variants_signed_by_xmlsec1_verify_in_ponte() {
    if !kit_available() || !have("xmlsec1") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let unsigned = unsigned_evidence(dir.path());
    let ours = dir.path().join("ours.xml");
    sign(&unsigned, "rem-rsa", &ours, None);
    let template = xmlsec1_template(&std::fs::read_to_string(&ours).expect("read"));
    let exc = "http://www.w3.org/2001/10/xml-exc-c14n#";
    let filter_start = template
        .find("<ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\">")
        .expect("filter");
    let filter_end = template[filter_start..]
        .find("</ds:Transform>")
        .expect("end")
        + filter_start
        + "</ds:Transform>".len();
    let filter = &template[filter_start..filter_end];
    let si_c14n = format!("<ds:CanonicalizationMethod Algorithm=\"{exc}\"/>");
    let sp_transform = format!(
        "<ds:Transforms><ds:Transform Algorithm=\"{exc}\"/></ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>"
    );
    let variants = [
        (
            "enveloped",
            template.replacen(
                filter,
                "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
                1,
            ),
        ),
        (
            "signedinfo-c14n10",
            template.replacen(
                &si_c14n,
                "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>",
                1,
            ),
        ),
        (
            "signedinfo-c14n11-with-comments",
            template.replacen(
                &si_c14n,
                "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11#WithComments\"/>",
                1,
            ),
        ),
        (
            "properties-c14n11",
            template.replacen(
                &sp_transform,
                &sp_transform.replacen(exc, "http://www.w3.org/2006/12/xml-c14n11", 1),
                1,
            ),
        ),
        (
            "properties-no-transform",
            template.replacen(
                &sp_transform,
                &sp_transform.replacen(
                    &format!("<ds:Transforms><ds:Transform Algorithm=\"{exc}\"/></ds:Transforms>"),
                    "",
                    1,
                ),
                1,
            ),
        ),
        (
            "document-exc-with-comments",
            template.replacen(
                &format!("{filter}<ds:Transform Algorithm=\"{exc}\">"),
                &format!("{filter}<ds:Transform Algorithm=\"{exc}WithComments\">"),
                1,
            ),
        ),
    ];
    for (name, variant) in variants {
        assert_ne!(
            variant, template,
            "{name}: the variant differs from the template"
        );
        let signed = xmlsec1_sign(dir.path(), name, &variant);
        let (code, v) = verify_json(&signed, &[]);
        assert_eq!(code, 0, "{name}: {v}");
        assert_eq!(v["signature"]["valid"], true, "{name}");
        assert_eq!(v["event"], "SubmissionAcceptance", "{name}");
    }
}
