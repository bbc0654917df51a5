//! XAdES-B-B sign and verify of a 1.5 KB ERDS evidence with the RSA-2048 and ECDSA P-256
//! test keys.
//!
//! Run: `cargo bench -p ponte-bench --bench xades`. Set `PONTE_BENCH_WRITE=DIR` to also write
//! the unsigned evidence and one signed copy there (used to time `xmlsec1 --sign` on the same
//! document).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ponte::crypto::SigningKey;
use ponte::x509::load_pem;
use ponte::xades::{At, SignOptions, Signer, VerifyOptions, sign_b_b, verify};
use std::hint::black_box;

const RSA_KEY: &[u8] = include_bytes!("../../tests/pki/rem-rsa.key.pem");
const RSA_CERT: &[u8] = include_bytes!("../../tests/pki/rem-rsa.pem");
const EC_KEY: &[u8] = include_bytes!("../../tests/pki/rem-ec.key.pem");
const EC_CERT: &[u8] = include_bytes!("../../tests/pki/rem-ec.pem");
const CA: &[u8] = include_bytes!("../../tests/pki/provider-ca.pem");
const ROOT: &[u8] = include_bytes!("../../tests/pki/root-ca.pem");

/// An unsigned SubmissionAcceptance evidence of about 1.5 KB.
fn evidence() -> Vec<u8> {
    let doc = concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        r#"<tns:Evidence xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:tns="http://uri.etsi.org/19522/v1#" version="EN319522v1.1.1">"#,
        "\n  <tns:EvidenceIdentifier>16A0CF65.00566CE0.242DDC3F.03B4A2C1.rem-service@rem.prova.test</tns:EvidenceIdentifier>",
        "\n  <tns:ERDSEventId>http://uri.etsi.org/19522/Event/SubmissionAcceptance</tns:ERDSEventId>",
        "\n  <tns:EventReasons><tns:EventReason><Code>http://uri.etsi.org/19522/EventReason/MessageAccepted</Code><Details>RA01</Details><Details>Message accepted</Details></tns:EventReason></tns:EventReasons>",
        "\n  <EventTime>2026-11-24T14:22:11Z</EventTime>",
        "\n  <tns:EvidenceIssuerPolicyID><PolicyID>http://uri.etsi.org/19532/v1#/REMbaseline</PolicyID><PolicyID>https://eidas.agid.gov.it/REM/rem-policy-it#evidence-issuer-policy</PolicyID></tns:EvidenceIssuerPolicyID>",
        "\n  <tns:EvidenceIssuerDetails><tns:Identity/></tns:EvidenceIssuerDetails>",
        "\n  <tns:SenderDetails><Identifier IdentifierSchemeName=\"mailto\">sender@rem.prova.test</Identifier></tns:SenderDetails>",
        "\n  <tns:RecipientDetails><Identifier IdentifierSchemeName=\"mailto\">recipient@rem.altro.test</Identifier></tns:RecipientDetails>",
        "\n  <tns:SubmissionTime>2026-11-24T14:22:11Z</tns:SubmissionTime>",
        "\n  <tns:MessageIdentifier>26A0CF65.00566CE0.242DDC3F.85251369.rem-service@rem.prova.test</tns:MessageIdentifier>",
        "\n  <tns:UserContentInfo><AppLayerIdentifier>&lt;30be01d30072$242ddc3f$f9b72bf0$@it&gt;</AppLayerIdentifier><ComposingParts>1</ComposingParts>",
        "<tns:PartsInfo><tns:PartInfo><Identifier>urn:oid:1.3.6.1.7</Identifier><ContentType>message/rfc822</ContentType>",
        "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue>ePggZQ9/Uwbe6ui/mqn+moZJcfkdFVIluG1B4a3ov9k=</ds:DigestValue>",
        "</tns:PartInfo></tns:PartsInfo></tns:UserContentInfo>",
        "\n</tns:Evidence>\n"
    );
    doc.as_bytes().to_vec()
}

fn signer(key: &[u8], cert: &[u8]) -> Signer {
    let (Ok(key), Ok(mut cert), Ok(chain)) = (
        SigningKey::from_pkcs8_pem(key),
        load_pem(cert),
        load_pem(CA),
    ) else {
        panic!("test PKI unreadable");
    };
    match Signer::new(key, cert.remove(0), chain) {
        Ok(s) => s,
        Err(e) => panic!("signer: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let doc = evidence();
    let Ok(anchors) = load_pem(ROOT) else {
        panic!("root unreadable");
    };
    let mut group = c.benchmark_group("xades");
    group.throughput(Throughput::Elements(1));
    for (label, key, cert) in [
        ("rsa2048", RSA_KEY, RSA_CERT),
        ("ecdsa-p256", EC_KEY, EC_CERT),
    ] {
        let s = signer(key, cert);
        let opts = SignOptions {
            signing_time: s.certificate().not_before + time::Duration::days(1),
            id: None,
        };
        let signed = match sign_b_b(&doc, &s, &opts) {
            Ok(v) => v,
            Err(e) => panic!("sign: {e}"),
        };
        if let Some(dir) = std::env::var_os("PONTE_BENCH_WRITE") {
            let dir = std::path::PathBuf::from(dir);
            let _ = std::fs::write(dir.join("evidence-1.5k.xml"), &doc);
            let _ = std::fs::write(dir.join(format!("signed-{label}.xml")), &signed);
        }
        let vopts = VerifyOptions {
            anchors: anchors.clone(),
            intermediates: Vec::new(),
            tsa_anchors: Vec::new(),
            at: At::SigningTime,
        };
        match verify(&signed, &vopts) {
            Ok(r) if r.signature.valid() => {}
            other => panic!("own signature does not verify: {other:?}"),
        }
        group.bench_function(format!("sign_b_b/{label}/{}B", doc.len()), |b| {
            b.iter(|| sign_b_b(black_box(&doc), &s, &opts))
        });
        group.bench_function(format!("verify_b_b/{label}/{}B", doc.len()), |b| {
            b.iter(|| verify(black_box(&signed), &vopts))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
