//! End-to-end tests: smime.

mod common;

use common::{corpus_file, pki};
use ponte::x509::{Certificate, Usage, load_pem, verify_chain};
use time::macros::datetime;

fn pem(path: std::path::PathBuf) -> Vec<Certificate> {
    load_pem(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn real_pec_chain_trusted() {
    let leaf = pem(corpus_file("pec/certs/namirial-pec-signer.pem")).remove(0);
    let ca1 = pem(corpus_file("pec/certs/agid-ca1.pem"));
    let root = pem(corpus_file("pec/certs/actalis-authentication-root-ca.pem"));
    let v = verify_chain(
        &leaf,
        &ca1,
        &root,
        datetime!(2024-12-10 12:00 UTC),
        Usage::EmailProtection,
    );
    assert!(v.trusted, "{v:?}");
    assert_eq!(v.path.len(), 3);
    let late = verify_chain(
        &leaf,
        &ca1,
        &root,
        datetime!(2026-11-24 12:00 UTC),
        Usage::EmailProtection,
    );
    assert!(!late.trusted);
}

#[test]
fn real_rem_chain_trusted() {
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
    }
    let _ = pki("root-ca.pem");
}
