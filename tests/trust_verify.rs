//! The verify commands with trusted lists (TS 119 612) as a source of trust: `ponte verify`,
//! `ponte evidence verify` and `ponte tsa verify` given `--list ... [--anchor PEM]` judge the
//! REM signers as qualified REM services and the time-stamping units as qualified TSUs
//! (`trusted_list`, `qualified_tsu`), the lists acting as anchors, `--trust` an override.
//! Inputs: the AgID kit's messages and evidence (their providers listed in a list signed
//! here, or absent from the ETSI example lists), and messages and tokens made here by the
//! development TSA and by a TSU of the test PKI.

mod common;

use std::path::{Path, PathBuf};

use common::tl::{GRANTED, QTST, REM_Q, Svc, WITHDRAWN, list_xml, sign};
use common::{DevTsa, corpus_file, kit, kit_available, pki, run_ponte};
use serde_json::Value;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `ponte ARGS... --json`: exit code and the JSON printed.
fn json(args: &[&str]) -> (i32, Value) {
    let mut a = args.to_vec();
    a.push("--json");
    common::code_and_json(&run_ponte(&a))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// A list signed by tl-signer (given directly: `--anchor tl-signer.pem`) naming the AgID
/// kit's two REM providers as qualified REM services: S1 granted since 2022, R2 granted in
/// 2022 and withdrawn since 2024-01-01.
fn kit_list(dir: &Path) -> PathBuf {
    let s1 = kit("certificates/S1-REM-POLICY-IT-CERTIFICATE.crt");
    let r2 = kit("certificates/R2-REM-POLICY-IT-CERTIFICATE.crt");
    let (s1, r2) = (s(&s1), s(&r2));
    write_list(
        &dir.join("tl-kit.xml"),
        "ITERDS test TSP",
        &[
            Svc {
                service_type: REM_Q,
                name: "ITERDS S1 REM",
                cert: &s1,
                statuses: &[(GRANTED, "2022-01-01T00:00:00Z")],
                supply_points: &["smtp:mx.s1.test:25"],
            },
            Svc {
                service_type: REM_Q,
                name: "ITERDS R2 REM",
                cert: &r2,
                statuses: &[
                    (GRANTED, "2022-01-01T00:00:00Z"),
                    (WITHDRAWN, "2024-01-01T00:00:00Z"),
                ],
                supply_points: &["smtp:mx.r2.test:25"],
            },
        ],
    )
}

/// An Italian list with one provider `tsp` offering `services`, signed by tl-signer (to be
/// given directly, with `--anchor tl-signer.pem`), written at `path`.
fn write_list(path: &Path, tsp: &str, services: &[Svc<'_>]) -> PathBuf {
    let eu_generic = "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric";
    let tl = list_xml("IT", 1, eu_generic, &[], tsp, services);
    std::fs::write(path, sign(&tl, "tl-signer")).expect("write tl");
    path.to_path_buf()
}

#[test]
fn kit_messages_and_evidence_are_judged_as_qualified_rem_services_by_the_lists() {
    if !kit_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tl = s(&kit_list(dir.path()));
    let anchor = s(&pki("tl-signer.pem"));
    let lists = ["--list", tl.as_str(), "--anchor", anchor.as_str()];
    let dispatch = s(&kit("Intra-REM-flow/REM_Dispatch.RA01.eml"));
    let relay = s(&kit("Intra-REM-flow/REM_RelayAcceptance.RB01.eml"));
    let verify = |file: &str, at: &str, extra: &[&str]| {
        let mut a = vec!["verify", file, "--at", at];
        a.extend_from_slice(&lists);
        a.extend_from_slice(extra);
        json(&a)
    };

    // S1 signs the dispatch and its evidence: qualified, trusted through the list alone.
    let (code, v) = verify(&dispatch, "signing-time", &[]);
    assert_eq!(code, 0, "{v}");
    let sig = &v["signature"];
    assert_eq!(sig["chain_trusted"], true, "{v}");
    assert_eq!(sig["trusted_list"]["qualified"], true, "{v}");
    assert_eq!(sig["trusted_list"]["service_name"], "ITERDS S1 REM");
    assert_eq!(sig["trusted_list"]["tsp_name"], "ITERDS test TSP");
    assert_eq!(sig["trusted_list"]["service_type"], REM_Q);
    assert_eq!(sig["trusted_list"]["status"], GRANTED);
    assert_eq!(sig["trusted_list"]["list"], tl.as_str());
    assert_eq!(sig["trusted_list"]["list_verified"], true);
    assert!(sig["trusted_list"]["reason"].is_null());
    assert!(
        sig["chain"]["path"][1]
            .as_str()
            .is_some_and(|p| p.contains("\"ITERDS S1 REM\"")),
        "{v}"
    );
    assert_eq!(v["rem"]["smime_trusted"], true, "{v}");
    let evidences = v["rem"]["evidences"].as_array().expect("evidences");
    assert!(!evidences.is_empty());
    for e in evidences {
        assert_eq!(e["trusted"], true, "{e}");
        assert_eq!(e["trusted_list"]["qualified"], true, "{e}");
        assert_eq!(e["trusted_list"]["service_name"], "ITERDS S1 REM", "{e}");
        // The kit's TSU is in no list: judged, not qualified.
        if e["timestamp"]["valid"] == true {
            assert_eq!(e["timestamp"]["qualified_tsu"], false, "{e}");
            assert_eq!(e["timestamp"]["trusted_list"]["qualified"], false, "{e}");
        }
    }
    // The text output says it in one line.
    let o = run_ponte([
        "verify",
        &dispatch,
        "--at",
        "signing-time",
        "--list",
        &tl,
        "--anchor",
        &anchor,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("trusted list: signer qualified: \"ITERDS S1 REM\" of \"ITERDS test TSP\""),
        "{out}"
    );

    // R2's service: granted when it signed (2022), withdrawn since 2024.
    let (code, v) = verify(&relay, "signing-time", &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        v["signature"]["trusted_list"]["service_name"],
        "ITERDS R2 REM"
    );
    let (code, v) = verify(&relay, "2025-01-01T00:00:00Z", &[]);
    assert_eq!(code, 1, "{v}");
    let listed = &v["signature"]["trusted_list"];
    assert_eq!(listed["qualified"], false, "{v}");
    assert_eq!(listed["status"], WITHDRAWN);
    assert!(text(&listed["reason"]).contains("not granted"), "{v}");
    assert_eq!(v["signature"]["chain_trusted"], false);
    assert!(
        text(&v["signature"]["reason"]).contains("trusted lists:"),
        "{v}"
    );
    assert_eq!(v["rem"]["smime_trusted"], false, "{v}");
    assert_eq!(v["rem"]["evidences"][0]["trusted"], false, "{v}");
    assert_eq!(v["rem"]["valid"], false, "{v}");
    // --trust stays an override: the kit root trusts R2 whatever the list says.
    let root = s(&kit("certificates/REM-ROOT-CA.crt"));
    let (code, v) = verify(&relay, "2025-01-01T00:00:00Z", &["--trust", &root]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature"]["chain_trusted"], true);
    assert_eq!(v["signature"]["trusted_list"]["qualified"], false);

    // Standalone evidence: the same answers for the XAdES signer.
    let ev = |name: &str, at: &str| {
        let f = s(&kit(&format!("standalone-evidence/{name}")));
        let mut a = vec!["evidence", "verify", f.as_str(), "--at", at];
        a.extend_from_slice(&lists);
        json(&a)
    };
    let (code, v) = ev("SubmissionAcceptance.RA01.xml", "signing-time");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature"]["chain_trusted"], true, "{v}");
    assert_eq!(v["signature"]["trusted_list"]["qualified"], true);
    assert_eq!(
        v["signature"]["trusted_list"]["service_name"],
        "ITERDS S1 REM"
    );
    assert_eq!(v["timestamp"]["qualified_tsu"], false, "{v}");
    assert!(
        text(&v["timestamp"]["trusted_list"]["reason"]).contains("not the digital identity"),
        "{v}"
    );
    let (code, v) = ev("RelayAcceptance.RB01.xml", "signing-time");
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        v["signature"]["trusted_list"]["service_name"],
        "ITERDS R2 REM"
    );
    let (code, v) = ev("RelayAcceptance.RB01.xml", "2025-01-01T00:00:00Z");
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["signature"]["chain_trusted"], false, "{v}");
    assert_eq!(v["signature"]["trusted_list"]["qualified"], false);
    assert_eq!(v["signature"]["trusted_list"]["status"], WITHDRAWN);
}

#[test]
fn a_signer_absent_from_the_lists_is_not_qualified_and_not_trusted() {
    let etsi = corpus_file("rem/etsi-en-319-532-4/common-service-interface/TL_CCA.xml");
    if !kit_available() {
        return;
    }
    assert!(etsi.is_file(), "{} is missing", etsi.display());
    let etsi = s(&etsi);
    // The ETSI example lists are unsigned: accepted with --allow-unsigned, and said so.
    let lists = ["--list", etsi.as_str(), "--allow-unsigned"];
    let dispatch = s(&kit("Intra-REM-flow/REM_Dispatch.RA01.eml"));
    let mut a = vec!["verify", dispatch.as_str(), "--at", "signing-time"];
    a.extend_from_slice(&lists);
    let (code, v) = json(&a);
    assert_eq!(code, 1, "trust asked only through the lists: {v}");
    let listed = &v["signature"]["trusted_list"];
    assert_eq!(listed["qualified"], false, "{v}");
    assert!(listed["service_name"].is_null());
    assert!(
        text(&listed["reason"]).contains("not the digital identity"),
        "{v}"
    );
    assert_eq!(listed["unsigned_lists"], true, "{v}");
    assert_eq!(v["signature"]["valid"], true);
    assert_eq!(v["signature"]["chain_trusted"], false);
    assert_eq!(v["rem"]["evidences"][0]["trusted_list"]["qualified"], false);
    assert_eq!(v["rem"]["evidences"][0]["trusted"], false);
    // Without lists nor anchors trust is not asked: exit 0 on the valid signature.
    let (code, v) = json(&["verify", &dispatch, "--at", "signing-time"]);
    assert_eq!(code, 0, "{v}");
    assert!(v["signature"]["trusted_list"].is_null());
    // The standalone evidence of the same provider.
    let f = s(&kit("standalone-evidence/SubmissionAcceptance.RA01.xml"));
    let mut a = vec!["evidence", "verify", f.as_str(), "--at", "signing-time"];
    a.extend_from_slice(&lists);
    let (code, v) = json(&a);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["signature"]["valid"], true);
    assert_eq!(v["signature"]["chain_trusted"], false);
    assert_eq!(v["signature"]["trusted_list"]["qualified"], false);
    // The list options need a list.
    let o = run_ponte(["evidence", "verify", &f, "--allow-unsigned"]);
    assert_eq!(o.status.code(), Some(2));
}

/// The first XML evidence of a REM message (read with Ponte's own REM parser).
fn first_evidence(eml: &Path, out: &Path) -> PathBuf {
    let raw = std::fs::read(eml).expect("read");
    let msg = ponte::rem::message::parse(&raw).expect("a REM message");
    let e = msg.evidences.first().expect("an evidence");
    std::fs::write(out, &e.bytes).expect("write evidence");
    out.to_path_buf()
}

#[test]
fn time_stamps_by_a_listed_tsu_are_qualified_and_the_development_tsa_is_not() {
    let pec = corpus_file("pec/real/namirial-busta-trasporto-2024.crlf.eml");
    if !pec.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the corpus is required in CI"
        );
        return;
    }
    let w = common::World::new();
    // A second TSA whose TSU is the test PKI's tsa.pem: listed as TSA/QTST.
    let key = s(&pki("tsa.key.pem"));
    let cert = s(&pki("tsa.pem"));
    let listed_tsa = DevTsa::start_with(&["--key", &key, "--cert", &cert]);
    let since_2025 = [(GRANTED, "2025-01-01T00:00:00Z")];
    let rem = Svc {
        service_type: REM_Q,
        name: "Prova REM",
        cert: "rem-rsa.pem",
        statuses: &since_2025,
        supply_points: &[],
    };
    let qtsa = Svc {
        service_type: QTST,
        name: "Prova QTSA",
        cert: "tsa.pem",
        statuses: &since_2025,
        supply_points: &[],
    };
    let tl = write_list(&w.path("tl-it.xml"), "Gestore Prova S.p.A.", &[rem, qtsa]);
    let (tl, anchor) = (s(&tl), s(&pki("tl-signer.pem")));
    let lists = ["--list", tl.as_str(), "--anchor", anchor.as_str()];

    // A dispatch made here, its evidence time-stamped by the development TSA.
    let dev = w.path("dispatch-dev.eml");
    let (code, v) = w.translate(&pec, "rem", &dev, &["--at", "signing-time"]);
    assert_eq!(code, 0, "{v}");
    // ... and one time-stamped by the listed TSU.
    let config = std::fs::read_to_string(&w.config).expect("config");
    std::fs::write(&w.config, config.replace(&w.tsa.url, &listed_tsa.url)).expect("config");
    let qual = w.path("dispatch-qtst.eml");
    let (code, v) = w.translate(&pec, "rem", &qual, &["--at", "signing-time"]);
    assert_eq!(code, 0, "{v}");

    let verify = |f: &Path| {
        let f = s(f);
        let mut a = vec!["verify", f.as_str()];
        a.extend_from_slice(&lists);
        json(&a)
    };
    let (code, v) = verify(&dev);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature"]["trusted_list"]["service_name"], "Prova REM");
    let e = &v["rem"]["evidences"][0];
    assert_eq!(e["trusted_list"]["qualified"], true, "{e}");
    assert_eq!(e["timestamp"]["valid"], true, "{e}");
    assert_eq!(e["timestamp"]["qualified_tsu"], false, "{e}");
    assert_eq!(e["timestamp"]["trusted"], false, "{e}");
    assert!(
        text(&e["timestamp"]["trusted_list"]["reason"]).contains("not the digital identity"),
        "{e}"
    );
    let (code, v) = verify(&qual);
    assert_eq!(code, 0, "{v}");
    let e = &v["rem"]["evidences"][0];
    assert_eq!(e["timestamp"]["qualified_tsu"], true, "{e}");
    assert_eq!(e["timestamp"]["trusted"], true, "{e}");
    assert_eq!(e["timestamp"]["trusted_list"]["service_name"], "Prova QTSA");
    assert_eq!(e["timestamp"]["trusted_list"]["service_type"], QTST);
    assert_eq!(e["timestamp"]["trusted_list"]["list_verified"], true);
    assert_eq!(v["rem"]["valid"], true, "{v}");
    // The lists of a gateway configuration (`[trust] lists`, `list_anchors`) answer the same.
    let config = std::fs::read_to_string(&w.config).expect("config");
    let with_lists = config.replacen(
        "[trust]\n",
        &format!(
            "[trust]\nlists = [\"{tl}\"]\nlist_anchors = [\"{anchor}\"]\ncache_dir = \"{}\"\n",
            s(&w.path("tl-cache"))
        ),
        1,
    );
    std::fs::write(&w.config, with_lists).expect("config");
    let (q, c) = (s(&qual), s(&w.config));
    let (code, v) = json(&["verify", &q, "--config", &c]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature"]["trusted_list"]["service_name"], "Prova REM");
    assert_eq!(v["rem"]["evidences"][0]["timestamp"]["qualified_tsu"], true);
    // --config and --list are one or the other.
    let o = run_ponte(["verify", &q, "--config", &c, "--list", &tl]);
    assert_eq!(o.status.code(), Some(2));

    // The same evidence on its own.
    let ev = first_evidence(&qual, &w.path("evidence.xml"));
    let ev = s(&ev);
    let mut a = vec!["evidence", "verify", ev.as_str()];
    a.extend_from_slice(&lists);
    let (code, v) = json(&a);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature"]["trusted_list"]["qualified"], true, "{v}");
    assert_eq!(v["timestamp"]["qualified_tsu"], true, "{v}");
    assert_eq!(v["timestamp"]["trusted"], true, "{v}");
    assert_eq!(
        v["timestamp"]["trusted_list"]["tsp_name"],
        "Gestore Prova S.p.A."
    );

    // Bare tokens: `ponte tsa verify` with the lists as the only source of trust.
    let data = w.path("data.txt");
    std::fs::write(&data, b"time-stamped by two TSAs\n").expect("write");
    let data = s(&data);
    let token = |tsa: &DevTsa, name: &str| {
        let out = s(&w.path(name));
        let o = run_ponte([
            "tsa", "stamp", &data, "--tsa", &tsa.url, "--token", "-o", &out,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let tsa_verify = |tok: &str| {
        let mut a = vec!["tsa", "verify", tok, "--data", data.as_str()];
        a.extend_from_slice(&lists);
        json(&a)
    };
    let (code, v) = tsa_verify(&token(&listed_tsa, "qtst.tst"));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["valid"], true);
    assert_eq!(v["qualified_tsu"], true, "{v}");
    assert_eq!(v["trusted"], true, "{v}");
    assert_eq!(v["trusted_list"]["service_name"], "Prova QTSA");
    assert_eq!(v["trusted_list"]["status"], GRANTED);
    let (code, v) = tsa_verify(&token(&w.tsa, "dev.tst"));
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["valid"], true);
    assert_eq!(v["qualified_tsu"], false, "{v}");
    assert_eq!(v["trusted"], false, "{v}");
    assert!(text(&v["trust_reason"]).contains("trusted lists:"), "{v}");
    // The dev TSA's own certificate as --tsa-trust stays an override.
    let dev_cert = s(&w.tsa.cert());
    let dev_tok = s(&w.path("dev.tst"));
    let mut a = vec![
        "tsa",
        "verify",
        dev_tok.as_str(),
        "--data",
        data.as_str(),
        "--tsa-trust",
        dev_cert.as_str(),
    ];
    a.extend_from_slice(&lists);
    let (code, v) = json(&a);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["qualified_tsu"], false);
    assert_eq!(v["trusted"], true);
}
