//! Trusted lists (TS 119 612) end to end through `ponte trust`: the ETSI example lists of
//! EN 319 532-4, lists of lists and lists made and signed here with the test PKI (verified by
//! xmlsec1 too), status history, the cache answering when a list is tampered with.

mod common;

use std::path::{Path, PathBuf};

use common::tl::{GRANTED, QTST, REM_Q, Svc, WITHDRAWN, csi_xml, list_xml, sign};
use common::{corpus_file, have, kit, pki, run_ponte, xmlsec1_verifies};
use serde_json::Value;

const CSI: &str = "rem/etsi-en-319-532-4/common-service-interface";

fn csi(name: &str) -> PathBuf {
    corpus_file(&format!("{CSI}/{name}"))
}

fn corpus_present() -> bool {
    let ok = csi("TL_CCA.xml").is_file();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "the shared corpus is required in CI"
        );
        eprintln!("skipped: corpus not found");
    }
    ok
}

/// The service digital identity certificates of an ETSI example list, as PEM files in `dir`,
/// with the CN of each.
fn etsi_certs(dir: &Path) -> Vec<(String, PathBuf)> {
    let text = std::fs::read_to_string(csi("TL_CCA.xml")).expect("TL_CCA");
    let mut out = Vec::new();
    for (i, chunk) in text.split("<X509Certificate>").skip(1).enumerate() {
        let b64 = chunk.split('<').next().unwrap_or_default().trim();
        if !b64.starts_with("MII") {
            continue; // the LOTL pointer's placeholder
        }
        let lines: Vec<String> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        );
        let path = dir.join(format!("etsi-{i}.pem"));
        std::fs::write(&path, pem).expect("write");
        let subject = String::from_utf8_lossy(
            &std::process::Command::new("openssl")
                .args(["x509", "-noout", "-subject", "-in"])
                .arg(&path)
                .output()
                .expect("openssl")
                .stdout,
        )
        .into_owned();
        let cn = subject
            .rsplit("CN = ")
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        out.push((cn, path));
    }
    out
}

fn check(args: &[&str]) -> (i32, Value) {
    let mut a = vec!["trust", "check"];
    a.extend_from_slice(args);
    a.push("--json");
    common::code_and_json(&run_ponte(&a))
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn the_etsi_example_lists_load_and_say_who_is_a_qualified_rem_service() {
    if !corpus_present() || !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = etsi_certs(dir.path());
    assert_eq!(certs.len(), 3, "SA, RB and RC REMS providers");
    for tl in ["TL_CCA.xml", "TL_CCB.xml", "TL_CCC.xml"] {
        let list = s(&csi(tl));
        for (cn, pem) in &certs {
            // Granted since 2021-12-30T22:00:00Z in every example list.
            let (code, v) = check(&[
                &s(pem),
                "--list",
                &list,
                "--allow-unsigned",
                "--at",
                "2024-01-01T00:00:00Z",
            ]);
            assert_eq!(code, 0, "{tl} {cn}: {v}");
            assert_eq!(v["qualified"], true);
            assert_eq!(
                v["service_type"],
                "http://uri.etsi.org/TrstSvc/Svctype/EDS/REM/Q"
            );
            assert_eq!(
                v["status"],
                "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted"
            );
            assert_eq!(v["service_name"], cn.as_str());
            assert_eq!(v["list"], list.as_str());
            assert_eq!(v["matched_by"], "certificate");
            let mx = format!(
                "smtp:mx.{}.rem:25",
                cn.split(' ').next().unwrap_or_default().to_lowercase()
            );
            let points: Vec<&str> = v["supply_points"]
                .as_array()
                .expect("array")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(points.contains(&mx.as_str()), "{points:?} lacks {mx}");
            // Every answer built on an unsigned list says so.
            assert_eq!(v["unsigned_lists"], true);
            assert_eq!(v["list_verified"], false);
            assert!(
                v["warnings"][0]
                    .as_str()
                    .unwrap_or_default()
                    .contains("NOT verified")
            );
            // Before the status started: not qualified.
            let (code, v) = check(&[
                &s(pem),
                "--list",
                &list,
                "--allow-unsigned",
                "--at",
                "2021-06-01T00:00:00Z",
            ]);
            assert_eq!(code, 1, "{v}");
            assert_eq!(v["qualified"], false);
            assert!(
                v["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("first status"),
                "{v}"
            );
        }
        let tsp = match tl {
            "TL_CCA.xml" => "S-REMS-A provider",
            "TL_CCB.xml" => "R-REMS-B provider",
            _ => "R-REMS-C provider",
        };
        let (_, v) = check(&[&s(&certs[0].1), "--list", &list, "--allow-unsigned"]);
        assert_eq!(v["tsp_name"], tsp);
    }
    // The AgID kit's REM certificates are in none of these lists.
    for f in [
        "S1-REM-POLICY-IT-CERTIFICATE.crt",
        "R2-REM-POLICY-IT-CERTIFICATE.crt",
        "REM-POLICY-IT-INTERMEDIATE-CERTIFICATE.crt",
        "REM-ROOT-CA.crt",
    ] {
        let cert = kit(&format!("certificates/{f}"));
        let (code, v) = check(&[
            &s(&cert),
            "--list",
            &s(&csi("TL_CCA.xml")),
            "--list",
            &s(&csi("TL_CCB.xml")),
            "--list",
            &s(&csi("TL_CCC.xml")),
            "--allow-unsigned",
        ]);
        assert_eq!(code, 1, "{f}: {v}");
        assert_eq!(v["qualified"], false);
        assert!(v["service_type"].is_null());
        assert!(
            v["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("not the digital identity")
        );
    }
    // Without --allow-unsigned the unsigned example lists are refused.
    let (code, v) = check(&[&s(&certs[0].1), "--list", &s(&csi("TL_CCA.xml"))]);
    assert_eq!(code, 1);
    assert_eq!(v["lists"][0]["outcome"], "refused");
    assert!(
        v["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not signed"),
        "{v}"
    );
}

/// A list of lists signed by lotl-signer pointing at one TL (IT) signed by tl-signer.
fn make_lists(dir: &Path, tl_seq: u32) -> (PathBuf, PathBuf, String) {
    let tl_path = dir.join("tl-it.xml");
    let lotl_path = dir.join("lotl.xml");
    let tl = list_xml(
        "IT",
        tl_seq,
        "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric",
        &[(
            lotl_path.to_str().unwrap_or_default(),
            "lotl-signer.pem",
            "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUlistofthelists",
        )],
        "Ponte Test TSP",
        &[
            Svc {
                service_type: REM_Q,
                name: "Ponte Test REM (withdrawn)",
                cert: "rem-rsa.pem",
                statuses: &[
                    (GRANTED, "2025-01-01T00:00:00Z"),
                    (WITHDRAWN, "2026-06-01T00:00:00Z"),
                ],
                supply_points: &["smtp:mx.old.test:25"],
            },
            Svc {
                service_type: REM_Q,
                name: "Ponte Test REM EC",
                cert: "rem-ec.pem",
                statuses: &[(GRANTED, "2025-03-01T00:00:00Z")],
                supply_points: &["smtp://mx.peer.test:25", "https://peer.test/csi.xml"],
            },
            Svc {
                service_type: QTST,
                name: "Ponte Test QTST",
                cert: "tsa.pem",
                statuses: &[(GRANTED, "2025-01-01T00:00:00Z")],
                supply_points: &["http://tsa.peer.test/"],
            },
        ],
    );
    let tl_signed = sign(&tl, "tl-signer");
    std::fs::write(&tl_path, &tl_signed).expect("write tl");
    let lotl = list_xml(
        "EU",
        7,
        "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUlistofthelists",
        &[(
            tl_path.to_str().unwrap_or_default(),
            "tl-signer.pem",
            "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric",
        )],
        "",
        &[],
    );
    std::fs::write(&lotl_path, sign(&lotl, "lotl-signer")).expect("write lotl");
    (
        lotl_path,
        tl_path,
        String::from_utf8_lossy(&tl_signed).into_owned(),
    )
}

#[test]
fn lists_signed_here_are_verified_through_the_list_of_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (lotl, tl, _) = make_lists(dir.path(), 3);
    if have("xmlsec1") {
        assert!(xmlsec1_verifies(&tl), "xmlsec1 refuses the TL Ponte signed");
        assert!(
            xmlsec1_verifies(&lotl),
            "xmlsec1 refuses the LOTL Ponte signed"
        );
    }
    let anchor = s(&pki("lotl-signer.pem"));
    let lotl_s = s(&lotl);
    let ask = |cert: &str, at: &str| {
        check(&[
            &s(&pki(cert)),
            "--list",
            &lotl_s,
            "--anchor",
            &anchor,
            "--at",
            at,
        ])
    };
    // Found through the LOTL pointer; the TL was verified with the key the pointer gives.
    let (code, v) = ask("rem-ec.pem", "2026-12-01T00:00:00Z");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["list"], s(&tl));
    assert_eq!(v["list_verified"], true);
    assert_eq!(v["unsigned_lists"], false);
    assert_eq!(v["tsp_name"], "Ponte Test TSP");
    assert_eq!(v["lists"][1]["pointed_by"], lotl_s.as_str());
    assert!(
        v["lists"][1]["trust"]
            .as_str()
            .unwrap_or_default()
            .contains("Ponte Test TL signer")
    );
    // Status history: granted in 2025, withdrawn since 2026-06-01.
    let (code, v) = ask("rem-rsa.pem", "2025-12-01T00:00:00Z");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], GRANTED);
    let (code, v) = ask("rem-rsa.pem", "2026-07-01T00:00:00Z");
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], WITHDRAWN);
    assert!(
        v["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not granted")
    );
    // A qualified time-stamping unit.
    let (code, v) = ask("tsa.pem", "2026-12-01T00:00:00Z");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["service_type"], QTST);
    // Not listed.
    let (code, _) = ask("pec-rsa.pem", "2026-12-01T00:00:00Z");
    assert_eq!(code, 1);
    // The LOTL is refused under another anchor, so nothing is found.
    let (code, v) = check(&[
        &s(&pki("rem-ec.pem")),
        "--list",
        &lotl_s,
        "--anchor",
        &s(&pki("rogue.pem")),
    ]);
    assert_eq!(code, 1);
    assert!(
        v["lists"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not allowed"),
        "{v}"
    );
    // A TL given directly must be signed by a configured anchor: tl-signer is not one.
    let (code, v) = check(&[
        &s(&pki("rem-ec.pem")),
        "--list",
        &s(&tl),
        "--anchor",
        &anchor,
    ]);
    assert_eq!(code, 1, "{v}");
    let (code, _) = check(&[
        &s(&pki("rem-ec.pem")),
        "--list",
        &s(&tl),
        "--anchor",
        &s(&pki("tl-signer.pem")),
    ]);
    assert_eq!(code, 0);
}

/// A gateway configuration in `dir` with these `[trust] lists` (the World keeps its TSA).
fn gateway_config(dir: &Path, lists: &[&str]) -> (common::World, PathBuf) {
    let w = common::World::new();
    let text = std::fs::read_to_string(&w.config).expect("config");
    let lists: Vec<String> = lists.iter().map(|l| format!("\"{l}\"")).collect();
    let text = text.replace(
        "[trust]\n",
        &format!(
            "[trust]\nlists = [{}]\nlist_anchors = [\"{}\"]\nrefresh = \"6h\"\ncache_dir = \"{}\"\n",
            lists.join(", "),
            pki("lotl-signer.pem").display(),
            dir.join("cache").display()
        ),
    );
    let path = dir.join("ponte.toml");
    std::fs::write(&path, text).expect("write config");
    // The configuration names the World's TSA and index: keep copies beside it.
    std::fs::copy(w.path("index.ldif"), dir.join("index.ldif")).expect("index");
    (w, path)
}

#[test]
fn a_tampered_list_is_refused_and_the_cached_copy_keeps_answering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (lotl, tl, signed) = make_lists(dir.path(), 3);
    let (_world, config) = gateway_config(dir.path(), &[lotl.to_str().unwrap_or_default()]);
    let o = run_ponte(["config", "check", &s(&config)]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let sync = || {
        let o = run_ponte(["trust", "sync", "--config", &s(&config), "--json"]);
        let v: Value = serde_json::from_slice(&o.stdout).expect("json");
        (o.status.code().unwrap_or(-1), v)
    };
    let (code, v) = sync();
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["lists"][0]["outcome"], "fetched");
    assert_eq!(v["lists"][1]["outcome"], "fetched");
    // Someone turns the withdrawn service back to granted in the served TL.
    let tampered = signed.replacen(
        &format!("<ServiceStatus>{WITHDRAWN}"),
        &format!("<ServiceStatus>{GRANTED}"),
        1,
    );
    assert_ne!(tampered, signed);
    std::fs::write(&tl, tampered).expect("tamper");
    let (code, v) = sync();
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["lists"][1]["outcome"], "cached-fallback");
    let reason = v["lists"][1]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("signature not valid") && reason.contains("digest"),
        "{reason}"
    );
    // The accepted copy answers: the service is still withdrawn now.
    let (code, v) = check(&[&s(&pki("rem-rsa.pem")), "--config", &s(&config)]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], WITHDRAWN);
    // A replay of an older (lower sequence number) but validly signed TL is refused too.
    make_lists(dir.path(), 2);
    let (code, v) = sync();
    assert_eq!(code, 1, "{v}");
    assert!(
        v["lists"][1]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("sequence number 2"),
        "{v}"
    );
    // A newer one is accepted.
    make_lists(dir.path(), 4);
    let (code, v) = sync();
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["lists"][1]["sequence"], 4);
    // With the source gone, the cache answers with its age.
    std::fs::remove_file(&tl).expect("rm");
    let (code, v) = sync();
    assert_eq!(code, 1);
    assert_eq!(v["lists"][1]["outcome"], "cached-fallback");
    assert!(
        v["lists"][1]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("unreachable")
    );
    assert!(v["lists"][1]["age_seconds"].is_u64());
    let (code, v) = check(&[&s(&pki("rem-ec.pem")), "--config", &s(&config)]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn the_etsi_capability_documents_parse_and_their_placeholder_signatures_are_refused() {
    if !corpus_present() {
        return;
    }
    for (f, domain, body) in [
        ("CSI_CCA.xml", "mx.sa-rems.rem", "SA-REMS provider"),
        ("CSI_CCB.xml", "mx.rb-rems.rem", "RB-REMS provider"),
        ("CSI_CCC.xml", "mx.rc-rems.rem", "RC-REMS provider"),
    ] {
        let bytes = std::fs::read(csi(f)).expect("csi");
        let doc = ponte::rem::csi::parse(&bytes).expect("parses");
        assert_eq!(doc.erds.domain, domain);
        assert_eq!(doc.erds.governing_body, body);
        assert_eq!(doc.scheme.sequence, 3);
        assert_eq!(
            doc.erds.profiles,
            vec![ponte::rem::csi::REM_BASELINE.to_owned()]
        );
        let now = time::OffsetDateTime::now_utc();
        let v = ponte::rem::csi::verify(&bytes, &[], Some(domain), Some(body), now).expect("reads");
        assert!(
            matches!(v.signature, ponte::rem::csi::CsiSignature::Invalid(_)),
            "{f}: {:?}",
            v.signature
        );
        assert!(!v.acceptable());
        // The example's TLS certificate is a placeholder, and the document is past CSINextUpdate.
        assert!(
            v.deviations.iter().any(|d| d.contains("TLSCertificate")),
            "{:?}",
            v.deviations
        );
        assert!(v.stale);
        // The three examples have the same capabilities (Table C.9 equivalence) but the TLS one.
        let a = ponte::rem::csi::parse(&std::fs::read(csi("CSI_CCA.xml")).expect("a")).expect("a");
        let d = ponte::rem::csi::equivalence(&a, &doc);
        assert_eq!(d, vec!["TLSCertificate missing or unreadable".to_owned()]);
    }
}

#[test]
fn discovery_goes_from_mx_to_supply_point_to_service_to_capabilities() {
    let Some(dns) = common::Dns::start(
        &[
            ("peer.test", "mx.peer.test", 10),
            ("customer.test", "mx.peer.test", 5),
            ("old.test", "mx.old.test", 10),
            ("stranger.test", "mx.stranger.test", 10),
        ],
        &[("mx.peer.test", "127.0.0.1")],
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // The peer's capability document, signed with its service identity (rem-ec), served here.
    let good = sign(
        &csi_xml(
            "mx.peer.test",
            "Ponte Test TSP",
            "rem-ec.pem",
            "http://uri.etsi.org/19532/v1#/REMbaseline",
        ),
        "rem-ec",
    );
    let base = common::serve_http(vec![("/csi.xml".to_owned(), good)], "application/xml");
    let csi_url = format!("{base}/csi.xml");
    let tl = list_xml(
        "IT",
        1,
        "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric",
        &[],
        "Ponte Test TSP",
        &[
            Svc {
                service_type: REM_Q,
                name: "Peer REM",
                cert: "rem-ec.pem",
                statuses: &[(GRANTED, "2025-01-01T00:00:00Z")],
                supply_points: &["smtp:mx.peer.test:25", &csi_url],
            },
            Svc {
                service_type: REM_Q,
                name: "Old REM",
                cert: "rem-rsa.pem",
                statuses: &[
                    (GRANTED, "2025-01-01T00:00:00Z"),
                    (WITHDRAWN, "2026-06-01T00:00:00Z"),
                ],
                supply_points: &["smtp:mx.old.test:25"],
            },
        ],
    );
    let tl_path = dir.path().join("tl.xml");
    std::fs::write(&tl_path, sign(&tl, "tl-signer")).expect("write");
    let show = |domains: &[&str]| {
        let mut args = vec!["trust", "show"];
        args.extend_from_slice(domains);
        let tl_s = s(&tl_path);
        let anchor = s(&pki("tl-signer.pem"));
        args.extend_from_slice(&[
            "--list",
            &tl_s,
            "--anchor",
            &anchor,
            "--dns",
            &dns.addr,
            "--at",
            "2026-12-01T00:00:00Z",
            "--json",
        ]);
        let o = run_ponte(&args);
        let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        (
            o.status.code().unwrap_or(-1),
            lines,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, v, err) = show(&["peer.test", "customer.test"]);
    assert_eq!(code, 0, "{v:?} {err}");
    for r in &v {
        assert_eq!(r["qualified"], true, "{r}");
        assert_eq!(r["peer"], "mx.peer.test");
        let m = &r["mx"][0];
        assert_eq!(m["service"]["service_name"], "Peer REM");
        assert_eq!(m["service"]["status"], GRANTED);
        assert_eq!(m["service"]["list_verified"], true);
        let c = &m["csi"][0];
        assert_eq!(c["url"], csi_url.as_str());
        assert_eq!(c["signature"]["verified"], true, "{c}");
        assert_eq!(c["acceptable"], true, "{c}");
        assert_eq!(c["erds_domain"], "mx.peer.test");
        assert_eq!(
            c["tls_certificate"],
            "C=IT, O=Ponte Test REM, CN=Ponte Test REM e-seal EC"
        );
    }
    // A withdrawn service, a host in no list, a domain without MX: refused, with the reason.
    let (code, v, _) = show(&["old.test", "stranger.test", "none.test"]);
    assert_eq!(code, 1);
    assert_eq!(v[0]["qualified"], false);
    assert_eq!(v[0]["mx"][0]["service"]["status"], WITHDRAWN);
    assert!(v[0]["mx"][0]["csi"].is_null());
    assert_eq!(v[1]["qualified"], false);
    assert!(v[1]["mx"][0]["service"].is_null());
    assert!(
        v[1]["mx"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("ServiceSupplyPoint")
    );
    assert_eq!(v[2]["qualified"], false);
    assert!(
        v[2]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no MX"),
        "{}",
        v[2]
    );
}

#[test]
fn lists_are_fetched_over_https_and_the_server_is_judged_against_the_system_store() {
    if !corpus_present() || !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let run = |args: &[&str]| {
        let o = std::process::Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .expect("openssl");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    std::fs::write(
        d.join("srv.cnf"),
        "[srv]\nbasicConstraints = critical, CA:false\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n",
    )
    .expect("cnf");
    run(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-subj",
        "/CN=127.0.0.1",
        "-out",
        "srv.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        &s(&pki("provider-ca.pem")),
        "-CAkey",
        &s(&pki("provider-ca.key.pem")),
        "-CAcreateserial",
        "-CAserial",
        "srv.srl",
        "-days",
        "2",
        "-extfile",
        "srv.cnf",
        "-extensions",
        "srv",
        "-out",
        "srv.pem",
    ]);
    std::fs::copy(csi("TL_CCB.xml"), d.join("tl.xml")).expect("copy");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    // openssl's own TLS server, serving the folder (-WWW): the independent peer.
    let mut server = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-WWW",
            "-accept",
            &port.to_string(),
            "-cert",
            "srv.pem",
            "-key",
            "srv.key",
            "-cert_chain",
        ])
        .arg(pki("provider-ca.pem"))
        .current_dir(d)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("s_server");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let url = format!("https://127.0.0.1:{port}/tl.xml");
    let rb = etsi_certs(d)
        .into_iter()
        .find(|(cn, _)| cn == "RB-REMS provider")
        .expect("RB")
        .1;
    let ask = |roots: &Path| {
        let o = common::ponte()
            .args([
                "trust",
                "check",
                &s(&rb),
                "--list",
                &url,
                "--allow-unsigned",
                "--json",
            ])
            .env("SSL_CERT_FILE", roots)
            .env_remove("SSL_CERT_DIR")
            .output()
            .expect("ponte");
        let v: Value = serde_json::from_slice(&o.stdout).expect("json");
        (o.status.code().unwrap_or(-1), v)
    };
    // The test root as the system store: the list is fetched and answers.
    let (code, v) = ask(&pki("root-ca.pem"));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["list"], url.as_str());
    assert_eq!(v["lists"][0]["outcome"], "fetched");
    // Another root: the server is not trusted, nothing is fetched.
    let (code, v) = ask(&pki("rogue-ca.pem"));
    assert_eq!(code, 1, "{v}");
    let reason = v["lists"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("unreachable") && reason.contains("TLS"),
        "{reason}"
    );
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn the_gateway_trust_store_refreshes_and_keeps_the_accepted_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (lotl, tl, signed) = make_lists(dir.path(), 3);
    let anchors =
        ponte::x509::load_pem(&std::fs::read(pki("lotl-signer.pem")).expect("pem")).expect("pem");
    let sources = ponte::tl::Sources {
        lists: vec![s(&lotl)],
        anchors,
        allow_unsigned: false,
        cache_dir: Some(dir.path().join("cache")),
        refresh: std::time::Duration::from_secs(3600),
        base_dir: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let rem_ec = ponte::x509::load_pem(&std::fs::read(pki("rem-ec.pem")).expect("pem"))
        .expect("pem")
        .remove(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let (store, report) =
            ponte::discovery::TrustStore::open(sources, ponte::fetch::Fetcher::default(), now)
                .await;
        assert!(report.all_fresh());
        assert!(!store.due(now + time::Duration::minutes(30)));
        assert!(store.due(now + time::Duration::hours(2)));
        assert!(
            store
                .lists()
                .qualified_rem_service(rem_ec.der(), now)
                .qualified()
        );
        // The served TL is tampered with: the refresh keeps the accepted copy.
        std::fs::write(
            &tl,
            signed.replace("Ponte Test REM EC", "Ponte Test REM XX"),
        )
        .expect("tamper");
        let report = store.refresh(now + time::Duration::hours(2)).await;
        assert!(!report.all_fresh());
        let v = store.lists().qualified_rem_service(rem_ec.der(), now);
        assert!(v.qualified());
        assert_eq!(
            v.service.expect("service").service_name,
            "Ponte Test REM EC"
        );
        assert!(!store.due(now + time::Duration::hours(2)));
    });
}
