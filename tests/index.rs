//! End-to-end tests of the providers' index against a real OpenLDAP `slapd` (Debian 2.5),
//! started on a free loopback port in a temporary directory and loaded with Ponte's own
//! printed schema: 1,000 providers and 50,000 domains, paged search past the size limit (and,
//! under slapd's default limits, the directory read in parts by providerName prefix),
//! lookups (present, absent, mixed case, trailing dot), the signer check, stale-if-error when
//! the directory stops, and snapshot round trips (Ponte's own and `slapcat`'s LDIF).

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use common::slapd::{ROOT_DN, ROOT_PW, run_ok, start_slapd, start_slapd_with};
use common::{have, pki, run_ponte};
use ponte::index::{self, CachePolicy, Index, LdapConfig, ManualClock};
use serde_json::Value;

const PROVIDERS: usize = 1_000;
const DOMAINS_PER_PROVIDER: usize = 50;

fn oracles() -> bool {
    let all = [
        "slapd",
        "slapadd",
        "slaptest",
        "slapcat",
        "ldapsearch",
        "openssl",
    ]
    .iter()
    .all(|t| have(t));
    if !all {
        eprintln!("skipped: slapd / ldap-utils / openssl not installed");
    }
    all
}

fn ponte_ok(args: &[&str]) -> String {
    let out = run_ponte(args);
    assert!(
        out.status.success(),
        "ponte {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

fn json_of(args: &[&str]) -> (i32, Value) {
    let out = run_ponte(args);
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ponte {args:?} (exit {code}) printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, v)
}

/// DER of a test certificate, and its fingerprints as openssl computes them (the oracle).
struct Cert {
    der: Vec<u8>,
    sha1_colons: String,
    sha256_hex: String,
}

fn cert(name: &str) -> Cert {
    let path = pki(name);
    let der = run_ok(
        Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&path),
    )
    .stdout;
    let fp = |alg: &str| {
        let out = run_ok(
            Command::new("openssl")
                .args(["x509", "-noout", "-fingerprint", alg, "-in"])
                .arg(&path),
        );
        let s = String::from_utf8(out.stdout).expect("utf-8");
        s.trim()
            .split_once('=')
            .expect("fingerprint line")
            .1
            .to_owned()
    };
    Cert {
        der,
        sha1_colons: fp("-sha1"),
        sha256_hex: fp("-sha256").replace(':', "").to_ascii_lowercase(),
    }
}

struct Fixture {
    pec_rsa: Cert,
    pec_ec: Cert,
    pec_other: Cert,
    rem_rsa: Cert,
    root_ca: Cert,
    provider_ca: Cert,
}

fn provider_name(i: usize) -> String {
    match i {
        0 => "Gestore Prova S.p.A.".into(),
        1 => "Altro Gestore S.p.A.".into(),
        2 => "Gestore Solo Hash".into(),
        _ => format!("Gestore {i:04}"),
    }
}

fn domain(i: usize, j: usize) -> String {
    match (i, j) {
        (0, 0) => "pec.prova.test".into(),
        (1, 0) => "pec.altro.test".into(),
        _ => format!("pec{j}.gestore{i:04}.test"),
    }
}

/// The generated directory: 1,000 providers × 50 domains. Certificates: pec-rsa + pec-ec
/// (provider 0, hash published as upper-case SHA-1 with colons), pec-other (provider 1, hash
/// as SHA-256 hex), provider 2 publishes the root CA as certificate but rem-rsa's SHA-1 as
/// hash (found only by hash); every other provider reuses the provider CA's DER (uniqueness
/// is not needed there).
fn generate_ldif(f: &Fixture) -> String {
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let mut s = String::from("dn: o=postacert\nobjectClass: organization\no: postacert\n\n");
    for i in 0..PROVIDERS {
        let name = provider_name(i);
        s.push_str(&format!(
            "dn: providerName={name},o=postacert\nobjectClass: top\nobjectClass: provider\n\
             providerName: {name}\nmailReceipt: posta-certificata@{}\n",
            domain(i, 0)
        ));
        let (certs, hash): (Vec<&Cert>, String) = match i {
            0 => (vec![&f.pec_rsa, &f.pec_ec], f.pec_rsa.sha1_colons.clone()),
            1 => (vec![&f.pec_other], f.pec_other.sha256_hex.clone()),
            2 => (
                vec![&f.root_ca],
                f.rem_rsa.sha1_colons.replace(':', "").to_ascii_lowercase(),
            ),
            _ => (vec![&f.provider_ca], f.provider_ca.sha1_colons.clone()),
        };
        s.push_str(&format!("providerCertificateHash: {hash}\n"));
        for c in certs {
            s.push_str(&format!("providerCertificate;binary:: {}\n", b64(&c.der)));
        }
        for j in 0..DOMAINS_PER_PROVIDER {
            s.push_str(&format!("managedDomains: {}\n", domain(i, j)));
        }
        s.push('\n');
    }
    s
}

fn fixture() -> Fixture {
    Fixture {
        pec_rsa: cert("pec-rsa.pem"),
        pec_ec: cert("pec-ec.pem"),
        pec_other: cert("pec-other.pem"),
        rem_rsa: cert("rem-rsa.pem"),
        root_ca: cert("root-ca.pem"),
        provider_ca: cert("provider-ca.pem"),
    }
}

#[test]
fn igpec_directory_end_to_end() {
    if !oracles() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = fixture();
    let mut slapd = start_slapd(tmp.path(), &generate_ldif(&f));
    let url = slapd.url.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Paging matters: without it, the server's size limit (500) stops the search.
    let plain = Command::new("ldapsearch")
        .args([
            "-x",
            "-LLL",
            "-H",
            &url,
            "-b",
            "o=postacert",
            "(objectClass=provider)",
            "dn",
        ])
        .output()
        .expect("ldapsearch");
    assert_eq!(
        plain.status.code(),
        Some(4),
        "expected sizeLimitExceeded without paging"
    );

    // Full sync through the CLI (paged), timed.
    let snap = tmp.path().join("snap.ldif");
    let snap_s = snap.to_str().expect("utf-8 path");
    let (code, sync) = json_of(&["index", "sync", "--ldap", &url, "-o", snap_s, "--json"]);
    assert_eq!(code, 0, "{sync}");
    assert_eq!(sync["providers"], PROVIDERS);
    assert_eq!(sync["domains"], PROVIDERS * DOMAINS_PER_PROVIDER);
    // size.prtotal=unlimited: one paged search read it all.
    assert_eq!(sync["read"]["method"], "paged", "{sync}");
    assert_eq!(sync["read"]["searches"], 1, "{sync}");
    let seconds = sync["seconds"].as_f64().expect("seconds");
    assert!(seconds > 0.0);
    eprintln!(
        "ponte index sync of {} domains: {seconds:.3} s",
        PROVIDERS * DOMAINS_PER_PROVIDER
    );

    // Lookups through the CLI against the directory.
    let (code, a) = json_of(&[
        "index",
        "lookup",
        "pec.prova.test",
        "--ldap",
        &url,
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(a["certified"], true);
    assert_eq!(a["source"], "ldap");
    assert_eq!(a["provider"]["name"], "Gestore Prova S.p.A.");
    assert_eq!(
        a["provider"]["mail_receipt"],
        "posta-certificata@pec.prova.test"
    );
    assert_eq!(a["provider"]["domains_count"], DOMAINS_PER_PROVIDER);
    let fps: Vec<&str> = a["provider"]["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(fps.contains(&f.pec_rsa.sha256_hex.as_str()), "{fps:?}");
    assert!(fps.contains(&f.pec_ec.sha256_hex.as_str()), "{fps:?}");
    let (code, a) = json_of(&[
        "index",
        "lookup",
        "PEC7.Gestore0123.TEST.",
        "--ldap",
        &url,
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(a["domain"], "pec7.gestore0123.test");
    assert_eq!(a["provider"]["name"], "Gestore 0123");
    let (code, a) = json_of(&[
        "index",
        "lookup",
        "absent.example.test",
        "--ldap",
        &url,
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(a["certified"], false);
    assert!(a["provider"].is_null());
    let bad = run_ponte(["index", "lookup", "not a domain", "--ldap", &url]);
    assert_eq!(bad.status.code(), Some(2));

    // Simple bind with a password file; a wrong password is refused by name (exit 2).
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, format!("{ROOT_PW}\n")).expect("write password");
    let pw_s = pw.to_str().expect("path");
    let (code, a) = json_of(&[
        "index",
        "lookup",
        "pec.altro.test",
        "--ldap",
        &url,
        "--bind",
        ROOT_DN,
        "--password-file",
        pw_s,
        "--json",
    ]);
    assert_eq!(
        (code, a["provider"]["name"].as_str()),
        (0, Some("Altro Gestore S.p.A."))
    );
    std::fs::write(&pw, "wrong\n").expect("write password");
    let refused = run_ponte([
        "index",
        "lookup",
        "pec.altro.test",
        "--ldap",
        &url,
        "--bind",
        ROOT_DN,
        "--password-file",
        pw_s,
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("invalidCredentials"));

    // ldaps:// with the test provider CA as trust anchor; without it the server is not trusted.
    let ldaps = slapd.ldaps_url.clone();
    let ca = pki("provider-ca.pem");
    let ca_s = ca.to_str().expect("path");
    let (code, a) = json_of(&[
        "index",
        "lookup",
        "PEC.Prova.Test",
        "--ldap",
        &ldaps,
        "--ca-file",
        ca_s,
        "--json",
    ]);
    assert_eq!((code, a["source"].as_str()), (0, Some("ldap")), "{a}");
    assert_eq!(a["provider"]["name"], "Gestore Prova S.p.A.");
    let untrusted = run_ponte(["index", "lookup", "pec.prova.test", "--ldap", &ldaps]);
    assert_eq!(untrusted.status.code(), Some(2));
    let err = String::from_utf8_lossy(&untrusted.stderr);
    eprintln!("untrusted ldaps: {err}");
    assert!(err.contains(&ldaps) && err.contains("certificate"), "{err}");

    // Signer check: by certificate, by hash only, and a rogue certificate.
    for (pem, owner, by) in [
        ("pec-rsa.pem", "Gestore Prova S.p.A.", "certificate"),
        ("pec-other.pem", "Altro Gestore S.p.A.", "certificate"),
        ("rem-rsa.pem", "Gestore Solo Hash", "hash"),
    ] {
        let p = pki(pem);
        let (code, v) = json_of(&[
            "index",
            "check-signer",
            p.to_str().expect("path"),
            "--ldap",
            &url,
            "--json",
        ]);
        assert_eq!(code, 0, "{pem}: {v}");
        assert_eq!(v["provider"]["name"], owner, "{pem}");
        assert_eq!(v["matched_by"], by, "{pem}");
        assert_eq!(v["owners"].as_array().map(Vec::len), Some(1), "{pem}");
    }
    let rogue = pki("rogue.pem");
    let (code, v) = json_of(&[
        "index",
        "check-signer",
        rogue.to_str().expect("path"),
        "--ldap",
        &url,
        "--json",
    ]);
    assert_eq!(code, 1, "{v}");
    assert!(v["provider"].is_null());

    // Snapshot round trip: the directory as read live equals the snapshot loaded back.
    let cfg = LdapConfig::new(url.clone());
    let live = rt.block_on(cfg.fetch_directory()).expect("fetch");
    let text = std::fs::read_to_string(&snap).expect("read snapshot");
    let loaded = index::ldif::parse(&text).expect("parse snapshot");
    assert!(loaded.synced_at.is_some());
    assert_eq!(loaded.directory.providers().len(), PROVIDERS);
    assert_eq!(
        loaded.directory.domain_count(),
        PROVIDERS * DOMAINS_PER_PROVIDER
    );
    assert!(
        loaded.directory == live,
        "snapshot differs from the directory"
    );
    let (code, a) = json_of(&[
        "index",
        "lookup",
        "Pec49.gestore0999.test",
        "--ldif",
        snap_s,
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        (a["provider"]["name"].as_str(), a["source"].as_str()),
        (Some("Gestore 0999"), Some("snapshot"))
    );

    // The mirror: sync, answer, stop the directory, answers unchanged and their age reported.
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let idx = Index::with_ldap(cfg.clone(), CachePolicy::default(), clock.clone());
    let report = rt.block_on(idx.sync()).expect("sync");
    assert_eq!(report.domains, PROVIDERS * DOMAINS_PER_PROVIDER);
    let sample: Vec<String> = (0..PROVIDERS)
        .step_by(37)
        .map(|i| domain(i, i % DOMAINS_PER_PROVIDER))
        .chain(["nowhere.test".to_owned(), "pec.gestore9999.test".to_owned()])
        .collect();
    let before: Vec<Option<String>> = sample
        .iter()
        .map(|d| {
            let a = rt.block_on(idx.lookup(d)).expect("lookup");
            assert_eq!(
                a.source,
                index::AnswerSource::Cache,
                "a fresh mirror answers"
            );
            a.provider.map(|p| p.dn.clone())
        })
        .collect();
    assert!(before.iter().filter(|p| p.is_some()).count() >= 27);
    slapd.stop();
    clock.advance(Duration::from_secs(2 * 3600)); // past both TTLs: the directory is asked
    for (d, expected) in sample.iter().zip(&before) {
        let a = rt
            .block_on(idx.lookup(&d.to_ascii_uppercase()))
            .expect("stale-if-error");
        assert_eq!(a.provider.map(|p| p.dn.clone()), *expected, "{d}");
        assert!(a.stale, "{d}");
        assert_eq!(
            a.source,
            index::AnswerSource::Cache,
            "{d}: the mirror answers"
        );
        assert_eq!(a.age, Duration::from_secs(2 * 3600), "{d}");
        assert!(a.directory_error.is_some());
    }
    // The CLI: directory down, snapshot given → answered from it (exit 0); no snapshot → 2.
    let (code, a) = json_of(&[
        "index",
        "lookup",
        "pec.altro.test",
        "--ldap",
        &url,
        "--ldif",
        snap_s,
        "--json",
    ]);
    assert_eq!(code, 0, "{a}");
    assert_eq!(
        (a["source"].as_str(), a["stale"].as_bool()),
        (Some("snapshot"), Some(true))
    );
    assert_eq!(a["provider"]["name"], "Altro Gestore S.p.A.");
    let down = run_ponte(["index", "lookup", "pec.altro.test", "--ldap", &url]);
    assert_eq!(down.status.code(), Some(2));
    let err = String::from_utf8_lossy(&down.stderr);
    assert!(err.contains(&url) && err.lines().count() == 1, "{err}");

    // slapcat's export (operational attributes, folded base64) loads to the same directory.
    let cat = run_ok(Command::new("slapcat").arg("-f").arg(&slapd.conf));
    let cat = String::from_utf8(cat.stdout).expect("utf-8 slapcat");
    assert!(cat.contains("entryUUID:") && cat.contains("providerCertificate;binary::"));
    let from_cat = index::ldif::parse(&cat).expect("parse slapcat output");
    assert!(
        from_cat.directory == live,
        "slapcat export differs from the directory"
    );
}

#[test]
fn schema_ldif_form_loads_into_cn_config() {
    if !oracles() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // A cn=config directory built by slapadd -n0 alone: the config root, OpenLDAP's core and
    // cosine schemas (LDIF forms), then Ponte's printed cn=config schema entry.
    let cfg = dir.join("slapd.d");
    std::fs::create_dir_all(&cfg).expect("mkdir");
    let mut ldif = String::from(
        "dn: cn=config\nobjectClass: olcGlobal\ncn: config\n\n\
         dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n",
    );
    for f in ["/etc/ldap/schema/core.ldif", "/etc/ldap/schema/cosine.ldif"] {
        ldif.push_str(&std::fs::read_to_string(f).expect("OpenLDAP schema LDIF"));
        ldif.push('\n');
    }
    ldif.push_str(&ponte_ok(&["index", "schema", "--format", "ldif"]));
    let path = dir.join("config.ldif");
    std::fs::write(&path, ldif).expect("write");
    run_ok(
        Command::new("slapadd")
            .arg("-n0")
            .arg("-F")
            .arg(&cfg)
            .arg("-l")
            .arg(&path),
    );
    run_ok(Command::new("slaptest").arg("-u").arg("-F").arg(&cfg));
    let out = run_ok(
        Command::new("slapcat")
            .args(["-n0", "-F"])
            .arg(&cfg)
            .args(["-a", "(cn=*ponte-igpec)"]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("olcAttributeTypes:").count(), 7, "{text}");
    assert_eq!(text.matches("olcObjectClasses:").count(), 2, "{text}");
}

/// The names of the capped directory: most share the prefix `Gestore ` (the split must go
/// deep), some start with a character outside the split alphabet (`Ä`, read through the
/// complement), one is equal to a prefix (`Gestore`), others differ only in case or carry
/// punctuation.
fn capped_names() -> Vec<String> {
    let mut v: Vec<String> = (0..650).map(|i| format!("Gestore {i:04}")).collect();
    v.extend((0..40).map(|i| format!("Ärzte PEC {i:02}")));
    v.extend(
        [
            "Gestore",
            "gestore minuscolo",
            "Posta (Prova) & Figli",
            "123 Posta S.r.l.",
            "Ω Omega PEC",
            "Zeta-Mail S.p.A.",
        ]
        .map(String::from),
    );
    v
}

#[test]
fn index_sync_mirrors_a_directory_beyond_the_default_size_limit() {
    if !oracles() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = fixture();
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let names = capped_names();
    assert!(names.len() > 500);
    let mut data = String::from("dn: o=postacert\nobjectClass: organization\no: postacert\n\n");
    for (i, name) in names.iter().enumerate() {
        data.push_str(&format!(
            "dn: providerName={name},o=postacert\nobjectClass: top\nobjectClass: provider\n\
             providerName: {name}\nmailReceipt: posta-certificata@p{i}.test\n\
             providerCertificateHash: {}\nproviderCertificate;binary:: {}\n\
             managedDomains: p{i}.test\nmanagedDomains: pec.p{i}.test\n\n",
            f.provider_ca.sha1_colons,
            b64(&f.provider_ca.der),
        ));
    }
    // No sizelimit line: slapd's defaults (500 entries, paged searches included).
    let slapd = start_slapd_with(tmp.path(), &data, "", "");
    // The oracle: ldapsearch's own paged search stops at the limit too.
    let paged = Command::new("ldapsearch")
        .args(["-x", "-LLL", "-H", &slapd.url, "-b", "o=postacert"])
        .args(["-E", "pr=100/noprompt", "(objectClass=provider)", "dn"])
        .output()
        .expect("ldapsearch");
    assert_eq!(
        paged.status.code(),
        Some(4),
        "expected sizeLimitExceeded for a paged search under the default limits: {}",
        String::from_utf8_lossy(&paged.stderr)
    );
    let listed = String::from_utf8_lossy(&paged.stdout)
        .matches("dn:")
        .count();
    assert!(listed <= 500, "{listed}");

    let snap = tmp.path().join("capped.ldif");
    let snap_s = snap.to_str().expect("utf-8 path");
    let (code, sync) = json_of(&[
        "index", "sync", "--ldap", &slapd.url, "-o", snap_s, "--json",
    ]);
    assert_eq!(code, 0, "{sync}");
    assert_eq!(sync["providers"], names.len(), "{sync}");
    assert_eq!(sync["domains"], names.len() * 2, "{sync}");
    assert_eq!(sync["read"]["method"], "split-by-name", "{sync}");
    assert_eq!(sync["read"]["server_limit_seen"], 500, "{sync}");
    assert!(sync["read"]["searches"].as_u64().unwrap_or(0) > 1, "{sync}");
    // "gestore 0" holds 650 names: the split went past it.
    assert!(
        sync["read"]["deepest_prefix"].as_u64().unwrap_or(0) >= 10,
        "{sync}"
    );
    eprintln!("capped directory read: {}", sync["read"]);

    // Every name is in the snapshot exactly once.
    let text = std::fs::read_to_string(&snap).expect("snapshot");
    let parsed = index::ldif::parse(&text).expect("snapshot parses");
    let mut got: Vec<String> = parsed
        .directory
        .providers()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    got.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(got, want);

    // The summary line says how the directory was read.
    let out = ponte_ok(&["index", "sync", "--ldap", &slapd.url, "-o", snap_s]);
    assert!(
        out.contains(&format!("{} providers", names.len()))
            && out.contains("capped the paged search at 500")
            && out.contains("providerName prefix"),
        "{out}"
    );
}
