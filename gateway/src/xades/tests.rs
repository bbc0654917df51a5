//! Unit tests of signing and verifying, in process, with the test PKI (`tests/pki`).

use std::path::PathBuf;

use base64::Engine;
use rustls_pki_types::pem::PemObject;
use time::macros::datetime;

use super::*;
use crate::crypto::SigningKey;
use crate::x509::{Certificate, load_pem};
use crate::xml;

const EVIDENCE: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    "\n<!-- a comment before the root -->\n",
    r#"<tns:Evidence xmlns:tns="http://uri.etsi.org/19522/v1#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" version="EN319522v1.1.1">"#,
    "\n  <tns:EvidenceIdentifier>E1@rem.prova.test</tns:EvidenceIdentifier>",
    "\n  <tns:ERDSEventId>http://uri.etsi.org/19522/Event/SubmissionAcceptance</tns:ERDSEventId>",
    "\n  <!-- not signed: comments are outside the URI=\"\" node-set -->",
    "\n  <EventTime>2026-11-24T10:00:00Z</EventTime>\n</tns:Evidence>\n"
);

fn pki(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/pki")
        .join(name)
}

fn cert(name: &str) -> Certificate {
    let pem = std::fs::read(pki(name)).expect("pki file");
    load_pem(&pem)
        .expect("pem")
        .into_iter()
        .next()
        .expect("one cert")
}

fn signer(name: &str) -> Signer {
    let key =
        SigningKey::from_pkcs8_pem(&std::fs::read(pki(&format!("{name}.key.pem"))).expect("key"))
            .expect("pkcs8");
    Signer::new(
        key,
        cert(&format!("{name}.pem")),
        vec![cert("provider-ca.pem")],
    )
    .expect("signer")
}

const WHEN: time::OffsetDateTime = datetime!(2026-12-01 12:00:00.75 UTC);

fn opts() -> SignOptions {
    SignOptions {
        signing_time: WHEN,
        id: Some("t1".into()),
    }
}

fn verify_opts(at: At) -> VerifyOptions {
    VerifyOptions {
        anchors: vec![cert("root-ca.pem")],
        intermediates: Vec::new(),
        tsa_anchors: vec![cert("root-ca.pem")],
        at,
    }
}

#[test]
fn signs_and_verifies_rsa_and_ecdsa() {
    for name in ["rem-rsa", "rem-ec"] {
        let signed = sign_b_b(EVIDENCE.as_bytes(), &signer(name), &opts()).expect("sign");
        let text = String::from_utf8(signed.clone()).expect("utf8");
        assert!(text.contains("<xades:SigningTime>2026-12-01T12:00:00Z</xades:SigningTime>"));
        assert!(text.contains(r#"Id="ponte-sig-t1""#));
        let report = verify(&signed, &verify_opts(At::SigningTime)).expect("readable");
        assert!(
            report.signature.valid(),
            "{name}: {:?}",
            report.signature.invalid
        );
        assert_eq!(report.signature.level, Some(Level::BB));
        assert_eq!(
            report.signature.signing_time,
            Some(datetime!(2026-12-01 12:00:00 UTC))
        );
        assert!(report.signature.chain.as_ref().is_some_and(|c| c.trusted));
        assert!(!report.timestamp.present);
        // The signed content is the unsigned document, canonical, without comments.
        let unsigned = xml::parse(EVIDENCE.as_bytes()).expect("parse");
        let expected = xml::canonicalize(
            &unsigned,
            &xml::NodeSet::whole_document(),
            &xml::Method::exclusive(),
        )
        .expect("c14n");
        assert_eq!(report.signed_content(), Some(expected.as_slice()));
        assert!(!String::from_utf8_lossy(&expected).contains("<!--"));
    }
}

#[test]
fn ecdsa_signature_values_are_r_concat_s() {
    let signed = sign_b_b(EVIDENCE.as_bytes(), &signer("rem-ec"), &opts()).expect("sign");
    let text = String::from_utf8(signed).expect("utf8");
    let start = text.find("<ds:SignatureValue").expect("sv");
    let start = text[start..].find('>').expect(">") + start + 1;
    let end = text.find("</ds:SignatureValue>").expect("end");
    let value = base64::engine::general_purpose::STANDARD
        .decode(&text[start..end])
        .expect("b64");
    assert_eq!(value.len(), 64, "P-256 r || s is 64 bytes, not DER");
}

#[test]
fn refuses_signed_or_empty_documents_and_foreign_keys() {
    let s = signer("rem-rsa");
    let signed = sign_b_b(EVIDENCE.as_bytes(), &s, &opts()).expect("sign");
    match sign_b_b(&signed, &s, &opts()) {
        Err(Error::AlreadySigned { id, position }) => {
            assert_eq!(id.as_deref(), Some("ponte-sig-t1"));
            assert!(position > 0);
        }
        other => panic!("expected AlreadySigned, got {other:?}"),
    }
    assert!(matches!(
        sign_b_b(b"<a/>", &s, &opts()),
        Err(Error::EmptyRoot(name)) if name == "a"
    ));
    let key = SigningKey::from_pkcs8_pem(&std::fs::read(pki("rem-ec.key.pem")).expect("key"))
        .expect("pkcs8");
    assert!(matches!(
        Signer::new(key, cert("rem-rsa.pem"), Vec::new()),
        Err(Error::KeyCertificateMismatch { .. })
    ));
}

#[test]
fn chain_verdicts_are_separate_from_integrity() {
    let signed = sign_b_b(EVIDENCE.as_bytes(), &signer("rem-rsa"), &opts()).expect("sign");
    let mut o = verify_opts(At::SigningTime);
    o.anchors = vec![cert("rogue-ca.pem")];
    let r = verify(&signed, &o).expect("readable");
    assert!(r.signature.valid());
    assert!(r.signature.chain.as_ref().is_some_and(|c| !c.trusted));
    // Before the test PKI existed, the chain is not valid.
    let r = verify(
        &signed,
        &verify_opts(At::Instant(datetime!(2020-01-01 0:00 UTC))),
    )
    .expect("r");
    assert!(r.signature.valid());
    assert!(r.signature.chain.as_ref().is_some_and(|c| !c.trusted));
    o.anchors.clear();
    assert!(verify(&signed, &o).expect("r").signature.chain.is_none());
}

#[test]
fn tampering_is_reported_with_its_reason() {
    let signed = sign_b_b(EVIDENCE.as_bytes(), &signer("rem-rsa"), &opts()).expect("sign");
    let text = String::from_utf8(signed).expect("utf8");
    let cases = [
        (
            text.replacen("E1@rem", "E2@rem", 1),
            Invalid::DigestMismatch("document"),
        ),
        (
            text.replacen(
                "12:00:00Z</xades:SigningTime>",
                "12:00:01Z</xades:SigningTime>",
                1,
            ),
            Invalid::DigestMismatch("SignedProperties"),
        ),
    ];
    for (doc, expected) in cases {
        let r = verify(doc.as_bytes(), &verify_opts(At::SigningTime)).expect("readable");
        assert_eq!(r.signature.invalid, Some(expected));
        assert!(r.signed_content().is_none());
    }
    // A comment added to the content is not signed content: still valid, same octets.
    let commented = text.replacen("<EventTime>", "<!-- hi --><EventTime>", 1);
    let r = verify(commented.as_bytes(), &verify_opts(At::SigningTime)).expect("readable");
    assert!(r.signature.valid());
    assert!(!String::from_utf8_lossy(r.signed_content().unwrap_or_default()).contains("hi"));
}

#[test]
fn augments_to_b_t_with_a_token_over_the_signature_value() {
    let signed = sign_b_b(EVIDENCE.as_bytes(), &signer("rem-rsa"), &opts()).expect("sign");
    let data = timestamp_data(&signed).expect("data");
    assert!(data.starts_with(b"<ds:SignatureValue xmlns:ds="));
    let tsa_key = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(
        &std::fs::read(pki("tsa.key.pem")).expect("tsa key"),
    )
    .expect("pem");
    let tsu = crate::tsp::issue::Tsu::new(
        tsa_key.secret_pkcs8_der(),
        cert("tsa.pem").der(),
        const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1"),
    )
    .expect("tsu");
    let stamp = |bytes: &[u8]| {
        let req = crate::tsp::TimeStampRequest::new(
            crate::tsp::Imprint::sha256(bytes),
            &crate::tsp::RequestOptions::default(),
        )
        .expect("request");
        let (resp, _) = tsu
            .answer(
                &req.to_der().expect("der"),
                WHEN + time::Duration::seconds(5),
                || Ok(7),
            )
            .expect("answer");
        crate::tsp::verify::token_of_response(&resp).expect("token")
    };
    let bt = augment_b_t(&signed, &stamp(&data)).expect("augment");
    let mut o = verify_opts(At::SigningTime);
    o.intermediates = vec![cert("provider-ca.pem")];
    let r = verify(&bt, &o).expect("readable");
    assert!(r.signature.valid(), "{:?}", r.signature.invalid);
    assert_eq!(
        r.signature.level,
        Some(Level::BT),
        "{:?}",
        r.timestamp.reason
    );
    assert!(r.timestamp.valid);
    assert_eq!(r.timestamp.time(), Some(datetime!(2026-12-01 12:00:05 UTC)));
    // A second augmentation goes into the same UnsignedSignatureProperties.
    let twice = augment_b_t(&bt, &stamp(&data)).expect("augment again");
    let text = String::from_utf8_lossy(&twice);
    assert_eq!(
        text.matches("<xades:UnsignedSignatureProperties").count(),
        1
    );
    assert_eq!(text.matches("<xades:SignatureTimeStamp").count(), 2);
    assert_eq!(
        verify(&twice, &o).expect("r").signature.level,
        Some(Level::BT)
    );
    // A token over other data is present but not valid: the level stays B-B.
    let wrong = augment_b_t(&signed, &stamp(b"something else")).expect("augment");
    let r = verify(&wrong, &o).expect("readable");
    assert!(r.signature.valid());
    assert_eq!(r.signature.level, Some(Level::BB));
    assert!(r.timestamp.present && !r.timestamp.valid);
    assert!(
        r.timestamp
            .reason
            .as_deref()
            .is_some_and(|s| s.contains("imprint"))
    );
}

#[test]
fn issuer_serial_v2_matches_the_kit_encoding() {
    let kit =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/rem/agid-policy-it");
    let Ok(evidence) =
        std::fs::read_to_string(kit.join("standalone-evidence/RelayAcceptance.RB01.xml"))
    else {
        eprintln!("skipped: corpus not found");
        return;
    };
    let signer_b64 = evidence
        .split("<ds:X509Certificate>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("cert");
    let der = base64::engine::general_purpose::STANDARD
        .decode(signer_b64)
        .expect("b64");
    let c = Certificate::from_der(&der).expect("cert");
    let ours = base64::engine::general_purpose::STANDARD
        .encode(super::der::issuer_serial(&c.issuer_der, &c.serial));
    let theirs = evidence
        .split("<xades:IssuerSerialV2>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("IssuerSerialV2");
    assert_eq!(
        ours, theirs,
        "DSS and Ponte encode IssuerSerialV2 identically"
    );
}

/// The signer canonicalizes the input and two small fragments instead of the assembled
/// document: the verifier, which canonicalizes the assembled document, must agree for
/// contexts that could tell them apart (a default namespace, `ds` and `xades` bound to other
/// URIs, `xml:` attributes, `xsi:type` prefixes, text after the last child).
#[test]
fn one_parse_signing_agrees_with_the_assembled_document() {
    let docs = [
        r#"<r xmlns="urn:default" xml:lang="it" xml:space="preserve"><a>x</a>tail </r>"#,
        r#"<ds:r xmlns:ds="urn:not-dsig" xmlns:xades="urn:not-xades"><ds:a/></ds:r>"#,
        concat!(
            r#"<e:Evidence xmlns:e="urn:e" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" "#,
            r#"xmlns:elp="urn:elp"><e:Name xsi:type="elp:LegalNameType">A &amp; B</e:Name>"#,
            "\n  <!-- c -->\n</e:Evidence>\n<?pi after?>"
        ),
        EVIDENCE,
    ];
    for doc in docs {
        for name in ["rem-rsa", "rem-ec"] {
            let signed = sign_b_b(doc.as_bytes(), &signer(name), &opts()).expect("sign");
            let report = verify(&signed, &verify_opts(At::SigningTime)).expect("readable");
            assert!(
                report.signature.valid(),
                "{name} {doc}: {:?}",
                report.signature.invalid
            );
        }
    }
}
