//! End-to-end tests of the gateway configuration: `ponte config check FILE [--json]` on a good
//! configuration built in a temporary folder from `tests/pki`, and on faulty copies (each
//! problem line asserted), run from another working directory so that relative paths must
//! resolve from the configuration's folder; and the library's `Config::load_at` / `check_at`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{pki, ponte, repo};
use ponte::config::{self, Config, IndexSource, LdapBind, LdapConnection, Problem, Severity};
use time::OffsetDateTime;
use time::macros::datetime;

/// An instant inside the validity of every certificate of the test PKI.
const NOW: OffsetDateTime = datetime!(2030-06-01 12:00 UTC);

const PKI_FILES: [&str; 9] = [
    "pec-rsa.key.pem",
    "pec-rsa.pem",
    "provider-ca.pem",
    "rem-rsa.key.pem",
    "rem-rsa.pem",
    "rem-ec.key.pem",
    "rem-ec.pem",
    "root-ca.pem",
    "tsa.pem",
];

const GOOD: &str = r#"
[identity]
provider_name = "Gestore Prova S.p.A."
domain = "PEC.Prova.Test."
pec_key = "pki/pec-rsa.key.pem"
pec_cert = "pki/pec-rsa.pem"
pec_chain = ["pki/provider-ca.pem"]
rem_key = "pki/rem-rsa.key.pem"
rem_cert = "pki/rem-rsa.pem"
rem_chain = ["pki/provider-ca.pem"]

[trust]
pec_anchors = ["pki/root-ca.pem"]
rem_anchors = ["pki/root-ca.pem"]
tsa_anchors = ["pki/root-ca.pem"]

[index]
snapshot = "index.ldif"

[tsa]
url = "http://127.0.0.1:3180/"

[policy]
applicable = ["http://uri.etsi.org/19532/v1#/REMbaseline", "https://eidas.agid.gov.it/REM/rem-policy-it"]
"#;

/// A folder with `ponte.toml` (the good configuration), `pki/` (copies of the test PKI) and
/// `index.ldif` (the embedded default snapshot).
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("pki")).expect("mkdir pki");
        for f in PKI_FILES {
            std::fs::copy(pki(f), dir.path().join("pki").join(f)).expect("copy pki file");
        }
        std::fs::write(
            dir.path().join("index.ldif"),
            ponte::index::DEFAULT_SNAPSHOT,
        )
        .expect("write snapshot");
        std::fs::write(dir.path().join("ponte.toml"), GOOD).expect("write config");
        Setup { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self) -> PathBuf {
        self.root().join("ponte.toml")
    }

    /// Replaces `old` (exactly once) by `new` in the configuration.
    fn edit(&self, old: &str, new: &str) -> &Self {
        let text = std::fs::read_to_string(self.config()).expect("read config");
        assert_eq!(text.matches(old).count(), 1, "{old:?} must occur once");
        std::fs::write(self.config(), text.replacen(old, new, 1)).expect("write config");
        self
    }

    /// Runs `ponte config check ponte.toml [extra]` from ANOTHER working directory, naming the
    /// configuration by a relative path from there.
    fn check(&self, extra: &[&str]) -> Output {
        let elsewhere = self.root().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).expect("mkdir elsewhere");
        ponte()
            .current_dir(&elsewhere)
            .args(["config", "check", "../ponte.toml"])
            .args(extra)
            .output()
            .expect("spawn ponte")
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts a stderr line `../ponte.toml: KEY: ...` containing every needle.
fn assert_line(err: &str, key: &str, needles: &[&str]) {
    let prefix = format!("../ponte.toml: {key}: ");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&prefix) && needles.iter().all(|n| l.contains(n))),
        "no stderr line starting {prefix:?} with {needles:?} in:\n{err}"
    );
}

fn expect_problems(s: &Setup) -> String {
    let out = s.check(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(out.stdout.is_empty(), "no summary when invalid");
    err
}

#[test]
fn good_configuration_is_valid_from_another_cwd() {
    let s = Setup::new();
    let out = s.check(&[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        out.stderr.is_empty(),
        "no problem expected: {}",
        stderr(&out)
    );
    let text = stdout(&out);
    for needle in [
        ": valid",
        "Gestore Prova S.p.A. (pec.prova.test, IT)",
        "CN=Posta Certificata Gestore Prova (+1 chain)",
        "CN=Ponte Test REM e-seal (+1 chain), service address rem-service@pec.prova.test",
        "1 PEC, 1 REM, 1 TSA",
        "index:       snapshot ",
        "index.ldif",
        "tsa:         http://127.0.0.1:3180/",
        "mappings:    compiled-in",
        "correlation.jsonl",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
}

#[test]
fn good_configuration_loads_with_material_resolved() {
    let s = Setup::new();
    let c = Config::load_at(&s.config(), NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.identity.domain, "pec.prova.test");
    assert_eq!(c.identity.country, "IT");
    assert_eq!(c.identity.rem_service_address, "rem-service@pec.prova.test");
    assert!(
        c.identity
            .pec_key
            .matches_spki(&c.identity.pec_cert.spki_der)
    );
    assert!(
        c.identity
            .rem_key
            .matches_spki(&c.identity.rem_cert.spki_der)
    );
    assert_eq!(c.identity.pec_chain.len(), 1);
    assert_eq!(c.trust.tsa_anchors.len(), 1);
    assert_eq!(c.index, IndexSource::Snapshot(s.root().join("index.ldif")));
    assert_eq!(c.correlation_path, s.root().join("correlation.jsonl"));
    assert!(c.attach_evidence);
    assert_eq!(c.policy.applicable.len(), 2);
    assert_eq!(c.mappings_dir, None);
    let index = c.index.open().unwrap_or_else(|e| panic!("{e}"));
    let dir = index.directory().expect("snapshot loaded");
    assert_eq!(dir.providers().len(), 2);
    assert!(config::check_at(&s.config(), NOW).is_empty());
}

#[test]
fn optional_keys_are_read() {
    let s = Setup::new();
    std::fs::create_dir(s.root().join("maps")).expect("mkdir");
    for f in ["events.toml", "headers.toml", "subjects.toml", "intro.toml"] {
        std::fs::copy(
            repo().join("mappings").join(f),
            s.root().join("maps").join(f),
        )
        .expect("copy table");
    }
    s.edit(
        "provider_name = \"Gestore Prova S.p.A.\"",
        "provider_name = \"Gestore Prova S.p.A.\"\ncountry = \"DE\"\nrem_service_address = \"rem@pec.prova.test\"",
    )
    .edit(
        "snapshot = \"index.ldif\"",
        "ldap = \"ldaps://index.test:636\"\nbase = \"o=test\"\nsnapshot = \"index.ldif\"",
    );
    let mut text = std::fs::read_to_string(s.config()).expect("read");
    text.push_str(
        "\n[mappings]\ndir = \"maps\"\n[correlation]\npath = \"state/corr.jsonl\"\n[output]\nattach_evidence = false\n",
    );
    std::fs::write(s.config(), text).expect("write");
    std::fs::create_dir(s.root().join("state")).expect("mkdir state");
    let c = Config::load_at(&s.config(), NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.identity.country, "DE");
    assert_eq!(c.identity.rem_service_address, "rem@pec.prova.test");
    assert_eq!(
        c.index,
        IndexSource::Ldap {
            url: "ldaps://index.test:636".into(),
            base: "o=test".into(),
            snapshot_fallback: Some(s.root().join("index.ldif")),
            connection: LdapConnection::default(),
        }
    );
    assert_eq!(c.mappings_dir, Some(s.root().join("maps")));
    assert_eq!(c.correlation_path, s.root().join("state/corr.jsonl"));
    assert!(!c.attach_evidence);
}

#[test]
fn missing_file_is_named_with_key_and_path() {
    let s = Setup::new();
    s.edit("pki/pec-rsa.pem", "pki/nope.pem");
    let err = expect_problems(&s);
    assert_line(&err, "identity.pec_cert", &["pki/nope.pem", "cannot read"]);
}

#[test]
fn key_of_rem_ec_with_cert_of_rem_rsa_is_a_mismatch() {
    let s = Setup::new();
    s.edit("pki/rem-rsa.key.pem", "pki/rem-ec.key.pem");
    let err = expect_problems(&s);
    assert_line(
        &err,
        "identity.rem_key",
        &[
            "rem-ec.key.pem",
            "an ECDSA P-256 key that does not match",
            "identity.rem_cert",
            "rem-rsa.pem",
        ],
    );
    assert_eq!(err.lines().count(), 1, "only the mismatch: {err}");
}

#[test]
fn unreadable_anchor_is_named() {
    let s = Setup::new();
    std::fs::write(s.root().join("pki/garbage.pem"), "this is not PEM\n").expect("write");
    s.edit(
        "tsa_anchors = [\"pki/root-ca.pem\"]",
        "tsa_anchors = [\"pki/root-ca.pem\", \"pki/garbage.pem\"]",
    );
    let err = expect_problems(&s);
    assert_line(&err, "trust.tsa_anchors", &["pki/garbage.pem"]);
    let c = Config::load_at(&s.config(), NOW);
    match c {
        Err(config::Error::Invalid { first, errors, .. }) => {
            assert_eq!(first.key, "trust.tsa_anchors");
            assert_eq!(errors, 1);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn unknown_keys_are_named() {
    let s = Setup::new();
    s.edit(
        "domain = \"PEC.Prova.Test.\"",
        "domain = \"PEC.Prova.Test.\"\ncolour = \"blue\"",
    );
    let mut text = std::fs::read_to_string(s.config()).expect("read");
    text.push_str("\n[extra]\nx = 1\n");
    std::fs::write(s.config(), text).expect("write");
    let err = expect_problems(&s);
    assert_line(&err, "identity.colour", &["unknown key", "provider_name"]);
    assert_line(&err, "extra", &["unknown key", "identity"]);
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn bad_toml_exits_2_naming_the_file() {
    let s = Setup::new();
    s.edit("[trust]", "[trust");
    let out = s.check(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("ponte: ../ponte.toml: not TOML: line "),
        "{err}"
    );
}

#[test]
fn missing_configuration_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("absent.toml");
    let out = ponte()
        .args(["config", "check"])
        .arg(&missing)
        .output()
        .expect("spawn");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("absent.toml") && err.contains("No such file"),
        "{err}"
    );
    let problems = config::check(&missing);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].key, "(file)");
}

#[test]
fn every_problem_of_a_multi_fault_configuration_at_once() {
    let s = Setup::new();
    std::fs::write(
        s.root().join("pki/garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    s.edit("pki/pec-rsa.pem", "pki/nope.pem")
        .edit("pki/rem-rsa.key.pem", "pki/rem-ec.key.pem")
        .edit(
            "tsa_anchors = [\"pki/root-ca.pem\"]",
            "tsa_anchors = [\"pki/garbage.pem\"]",
        )
        .edit("rem_anchors = [\"pki/root-ca.pem\"]", "rem_anchors = []")
        .edit("http://127.0.0.1:3180/", "ftp://tsa.test/")
        .edit(
            "\"https://eidas.agid.gov.it/REM/rem-policy-it\"",
            "\"rem-policy-it\"",
        )
        .edit("snapshot = \"index.ldif\"", "snapshot = \"absent.ldif\"")
        .edit(
            "domain = \"PEC.Prova.Test.\"",
            "domain = \"PEC.Prova.Test.\"\nshoe_size = 43",
        );
    let err = expect_problems(&s);
    assert_line(&err, "identity.shoe_size", &["unknown key"]);
    assert_line(&err, "identity.pec_cert", &["pki/nope.pem", "cannot read"]);
    assert_line(&err, "identity.rem_key", &["does not match", "rem-rsa.pem"]);
    assert_line(&err, "trust.rem_anchors", &["empty"]);
    assert_line(&err, "trust.tsa_anchors", &["pki/garbage.pem"]);
    assert_line(&err, "index.snapshot", &["absent.ldif"]);
    assert_line(&err, "tsa.url", &["ftp://tsa.test/", "http"]);
    assert_line(
        &err,
        "policy.applicable[1]",
        &["\"rem-policy-it\"", "not an absolute URI"],
    );
    assert_eq!(err.lines().count(), 8, "exactly the eight faults:\n{err}");

    let out = s.check(&["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["valid"], false);
    assert!(v["summary"].is_null());
    let keys: Vec<&str> = v["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["key"].as_str())
        .collect();
    assert_eq!(keys.len(), 8, "{keys:?}");
    assert!(keys.contains(&"identity.rem_key") && keys.contains(&"tsa.url"));
    let lib = config::check_at(&s.config(), NOW);
    assert_eq!(lib.len(), 8);
    assert!(lib.iter().all(Problem::is_error));
}

#[test]
fn wrong_types_and_missing_required_keys_are_named() {
    let s = Setup::new();
    s.edit(
        "pec_chain = [\"pki/provider-ca.pem\"]",
        "pec_chain = \"pki/provider-ca.pem\"",
    )
    .edit("provider_name = \"Gestore Prova S.p.A.\"\n", "")
    .edit("[policy]", "[policy]\nextra_policy = 1")
    .edit(
        "applicable = [\"http://uri.etsi.org/19532/v1#/REMbaseline\", \"https://eidas.agid.gov.it/REM/rem-policy-it\"]",
        "applicable = [\"http://uri.etsi.org/19532/v1#/REMbaseline\", 7]",
    );
    let err = expect_problems(&s);
    assert_line(&err, "identity.provider_name", &["missing (required)"]);
    assert_line(
        &err,
        "identity.pec_chain",
        &["expected an array of strings, found a string"],
    );
    assert_line(&err, "policy.extra_policy", &["unknown key"]);
    assert_line(
        &err,
        "policy.applicable[1]",
        &["expected a string, found an integer"],
    );
}

#[test]
fn validity_is_judged_at_the_instant_given() {
    let s = Setup::new();
    let future = config::check_at(&s.config(), datetime!(2200-01-01 0:00 UTC));
    let find = |ps: &[Problem], key: &str, sev: Severity, needle: &str| {
        assert!(
            ps.iter()
                .any(|p| p.key == key && p.severity == sev && p.message.contains(needle)),
            "no {sev:?} on {key} with {needle:?} in {ps:#?}"
        );
    };
    find(
        &future,
        "identity.pec_cert",
        Severity::Error,
        "expired on 2126-",
    );
    find(&future, "identity.rem_cert", Severity::Error, "expired on");
    find(&future, "identity.pec_chain", Severity::Error, "expired on");
    find(
        &future,
        "trust.pec_anchors",
        Severity::Warning,
        "not valid now",
    );
    let past = config::check_at(&s.config(), datetime!(2026-01-01 0:00 UTC));
    find(
        &past,
        "identity.pec_cert",
        Severity::Error,
        "not valid before 2026-11-24",
    );
    // Expiring within 30 days: a warning, and the configuration still loads.
    let c = Config::load_at(&s.config(), NOW).unwrap_or_else(|e| panic!("{e}"));
    let soon = c.identity.pec_cert.not_after - time::Duration::days(10);
    let ps = config::check_at(&s.config(), soon);
    find(&ps, "identity.pec_cert", Severity::Warning, "expires on");
    assert!(ps.iter().all(|p| !p.is_error()), "{ps:#?}");
    assert!(Config::load_at(&s.config(), soon).is_ok());
}

#[test]
fn identity_not_chaining_to_the_anchors_is_a_warning() {
    let s = Setup::new();
    std::fs::copy(pki("rogue-ca.pem"), s.root().join("pki/rogue-ca.pem")).expect("copy");
    s.edit(
        "pec_anchors = [\"pki/root-ca.pem\"]",
        "pec_anchors = [\"pki/rogue-ca.pem\"]",
    );
    let out = s.check(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "a warning does not fail: {err}");
    assert_line(
        &err,
        "identity.pec_cert",
        &["warning: ", "does not chain to trust.pec_anchors"],
    );
}

#[test]
fn example_configuration_checks_and_lists_every_key() {
    let example = repo().join("gateway/config/example.toml");
    let out = ponte()
        .args(["config", "check"])
        .arg(&example)
        .output()
        .expect("spawn");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = std::fs::read_to_string(&example).expect("read example");
    let table: toml::Table = text.parse().expect("example is TOML");
    for (section, keys) in ponte::config::load::SCHEMA {
        let t = table
            .get(*section)
            .and_then(|v| match v {
                toml::Value::Array(items) => items.first().and_then(|i| i.as_table()),
                other => other.as_table(),
            })
            .unwrap_or_else(|| panic!("[{section}] missing from the example"));
        for k in *keys {
            // `snapshot` is shown commented out next to `ldap` (the two forms of [index]).
            let present = t.contains_key(*k) || text.contains(&format!("# {k} = "));
            assert!(present, "{section}.{k} not documented in the example");
        }
    }
}

#[test]
fn identity_values_urls_and_folders_are_checked() {
    let s = Setup::new();
    s.edit(
        "domain = \"PEC.Prova.Test.\"",
        "domain = \"PEC.Prova.Test.\"\ncountry = \"Italia\"\nrem_service_address = \"rem-service.pec.prova.test\"",
    )
    .edit(
        "snapshot = \"index.ldif\"",
        "ldap = \"http://index.test\"",
    );
    let mut text = std::fs::read_to_string(s.config()).expect("read");
    text.push_str("\n[correlation]\npath = \"no-such-folder/corr.jsonl\"\n[output]\nattach_evidence = \"yes\"\n");
    std::fs::write(s.config(), text).expect("write");
    let err = expect_problems(&s);
    assert_line(
        &err,
        "identity.country",
        &["\"Italia\"", "ISO 3166-1 alpha-2"],
    );
    assert_line(
        &err,
        "identity.rem_service_address",
        &["not an address (no '@')"],
    );
    assert_line(&err, "index.ldap", &["ldap or ldaps"]);
    assert_line(
        &err,
        "correlation.path",
        &["no-such-folder/corr.jsonl", "does not exist"],
    );
    assert_line(
        &err,
        "output.attach_evidence",
        &["expected true or false, found a string"],
    );
    assert_eq!(err.lines().count(), 5, "{err}");
}

#[test]
fn invalid_mappings_directory_is_named_row_by_row() {
    let s = Setup::new();
    std::fs::create_dir(s.root().join("maps")).expect("mkdir");
    for f in ["events.toml", "headers.toml", "subjects.toml", "intro.toml"] {
        std::fs::copy(
            repo().join("mappings").join(f),
            s.root().join("maps").join(f),
        )
        .expect("copy table");
    }
    let events = s.root().join("maps/events.toml");
    let text = std::fs::read_to_string(&events).expect("read events");
    // Drop every row but the first: PEC types and REM events are then left uncovered.
    let first_two = text
        .match_indices("[[row]]")
        .nth(1)
        .map_or(text.len(), |(i, _)| i);
    std::fs::write(&events, &text[..first_two]).expect("write events");
    let mut cfg = std::fs::read_to_string(s.config()).expect("read");
    cfg.push_str("\n[mappings]\ndir = \"maps\"\n");
    std::fs::write(s.config(), cfg).expect("write");
    let err = expect_problems(&s);
    assert_line(&err, "mappings.dir", &["maps", "events.toml"]);
    assert!(err.lines().all(|l| l.contains(": mappings.dir: ")), "{err}");
}

#[test]
fn ldap_base_without_ldap_and_no_tsa_table() {
    let s = Setup::new();
    s.edit("snapshot = \"index.ldif\"", "base = \"o=test\"")
        .edit("[tsa]\nurl = \"http://127.0.0.1:3180/\"\n", "");
    let out = s.check(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_line(&err, "index.base", &["warning: ", "ignored"]);
    assert!(stdout(&out).contains("tsa:         none configured"));
    let c = Config::load_at(&s.config(), NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.index, IndexSource::Embedded);
    assert!(c.tsa.is_none());
    let index = c.index.open().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(index.directory().map(|d| d.providers().len()), Some(2));
}

#[test]
fn not_toml_is_one_file_problem_in_the_library() {
    let s = Setup::new();
    std::fs::write(s.config(), "identity = [\n").expect("write");
    let ps = config::check_at(&s.config(), NOW);
    assert_eq!(ps.len(), 1, "{ps:#?}");
    assert_eq!(ps[0].key, "(file)");
    assert!(
        ps[0].message.starts_with("not TOML: line "),
        "{}",
        ps[0].message
    );
    assert!(matches!(
        Config::load_at(&s.config(), NOW),
        Err(config::Error::Toml { .. })
    ));
}

#[test]
fn directory_connection_options() {
    let s = Setup::new();
    std::fs::write(s.root().join("ldap.password"), "s3cret\n").expect("write password");
    s.edit(
        "snapshot = \"index.ldif\"",
        "ldap = \"ldaps://index.test\"\nca_file = \"pki/root-ca.pem\"\nbind_dn = \"cn=ponte,o=postacert\"\npassword_file = \"ldap.password\"\ntimeout_seconds = 3",
    );
    let c = Config::load_at(&s.config(), NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.index,
        IndexSource::Ldap {
            url: "ldaps://index.test".into(),
            base: "o=postacert".into(),
            snapshot_fallback: None,
            connection: LdapConnection {
                ca_file: Some(s.root().join("pki/root-ca.pem")),
                bind: Some(LdapBind {
                    dn: "cn=ponte,o=postacert".into(),
                    password_file: s.root().join("ldap.password"),
                }),
                timeout: std::time::Duration::from_secs(3),
            },
        }
    );
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "the password is never kept"
    );
    assert_eq!(
        config::read_password(&s.root().join("ldap.password"))
            .ok()
            .as_deref(),
        Some("s3cret")
    );
    // Opening does not contact the directory: it is cold until the first lookup.
    let index = c.index.open().unwrap_or_else(|e| panic!("{e}"));
    assert!(index.directory().is_none());

    // Each option's fault is named.
    s.edit("pki/root-ca.pem\"\nbind_dn", "pki/absent.pem\"\nbind_dn")
        .edit("password_file = \"ldap.password\"\n", "")
        .edit("timeout_seconds = 3", "timeout_seconds = 0");
    let err = expect_problems(&s);
    assert_line(&err, "index.ca_file", &["pki/absent.pem", "cannot read"]);
    assert_line(&err, "index.bind_dn", &["needs index.password_file"]);
    assert_line(&err, "index.timeout_seconds", &["0 is not from 1 to 600"]);
    assert_eq!(err.lines().count(), 3, "{err}");
}

#[test]
fn service_keys_are_checked_and_named() {
    let s = Setup::new();
    let mut text = std::fs::read_to_string(s.config()).expect("read");
    text.push_str(
        "\n[smtp]\nlisten = \"localhost:25\"\nmax_message_bytes = 0\n\
         [[route]]\ndomain = \"*.rem.example.eu\"\nrelay = \"mx:99999\"\ntls = \"maybe\"\n\
         [[route]]\nrelay = \"mx.example.eu\"\nport = 25\n\
         [timers]\nwarning = \"24h\"\nfinal = \"12h\"\n\
         [limits]\nrefused_attachments = [\"exe\"]\n\
         [delivery]\nfirst_retry = \"2h\"\nmax_retry = \"1h\"\nmax_age = \"forever\"\n",
    );
    std::fs::write(s.config(), text).expect("write");
    let err = expect_problems(&s);
    assert_line(&err, "smtp.listen", &["\"localhost:25\"", "IP:PORT"]);
    assert_line(&err, "smtp.max_message_bytes", &["0 is not from 1"]);
    assert_line(&err, "route[0].relay", &["99999", "1-65535"]);
    assert_line(
        &err,
        "route[0].tls",
        &["\"maybe\"", "none, starttls or required"],
    );
    assert_line(&err, "route[1].port", &["unknown key"]);
    assert_line(&err, "route[1].domain", &["missing (required)"]);
    assert_line(
        &err,
        "timers.final",
        &["12h", "not after timers.warning (24h)"],
    );
    assert_line(
        &err,
        "limits.refused_attachments[0]",
        &["\"exe\"", "MIME type"],
    );
    assert_line(
        &err,
        "delivery.max_age",
        &["\"forever\"", "a whole number and a unit"],
    );
    assert_line(
        &err,
        "delivery.first_retry",
        &["2h is longer than delivery.max_retry (1h)"],
    );
}

#[test]
fn delivery_tls_anchors_and_mx_port_are_checked() {
    let s = Setup::new();
    std::fs::write(s.root().join("empty.pem"), "not a certificate\n").expect("write");
    let mut text = std::fs::read_to_string(s.config()).expect("read");
    text.push_str(
        "\n[delivery]\ntls_anchors = [\"pki/root-ca.pem\", \"absent.pem\", \"empty.pem\"]\nmx_port = 0\n",
    );
    std::fs::write(s.config(), &text).expect("write");
    let err = expect_problems(&s);
    assert_line(
        &err,
        "delivery.tls_anchors[1]",
        &["absent.pem", "cannot read"],
    );
    assert_line(
        &err,
        "delivery.tls_anchors[2]",
        &["empty.pem", "no PEM certificate"],
    );
    assert_line(&err, "delivery.mx_port", &["0 is not from 1 to 65535"]);
    assert!(!err.contains("tls_anchors[0]"), "{err}");
    // Fixed, it loads with the anchors resolved beside the file.
    s.edit(", \"absent.pem\", \"empty.pem\"", "")
        .edit("mx_port = 0", "mx_port = 2525");
    let c = Config::load_at(&s.config(), NOW).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.service.delivery.tls_anchors,
        vec![s.root().join("pki/root-ca.pem")]
    );
    assert_eq!(c.service.delivery.mx_port, 2525);
}
