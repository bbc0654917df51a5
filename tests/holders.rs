//! The mailbox holders' identity assurance (issue 13) end to end: `[holders]` from each
//! source kind — a JSON Lines file, a real `slapd` with its own attribute names, an HTTP
//! endpoint in a second process (`python3 -m http.server`) — into the evidence of a
//! dispatch (`SenderDetails/AssuranceLevelsDetails`, judged by `xmlsec1`), the policy
//! (`unverified = "refuse" | "basic"`, `two_factor_required`), the PEC platform's
//! per-submission header (believed only from the platform, never passed on), the cache when
//! the source is down, the non-accettazione of a refused submission, and the REM → PEC
//! direction (the sender's assurance read from the evidence, told in the PEC text).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{World, have, kit, kit_available, pki, run_ponte, to_crlf};
use serde_json::Value;

const SENDER: &str = "mario.rossi@pec.prova.test";
const SPID_URI: &str = "https://www.spid.gov.it/SpidL2";
const LOA_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
const POLICY: &str = "https://eidas.agid.gov.it/REM/rem-policy-it#assurance-level-policy";
const POLICY_METHOD: &str = "https://eidas.agid.gov.it/REM/rem-policy-it#authentication-method";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A message from `from`, and its envelope made by `ponte pec wrap` (test PEC identity).
fn envelope(w: &World, name: &str, from: &str, extra_header: &str) -> PathBuf {
    let orig = w.path(&format!("{name}.original.eml"));
    std::fs::write(
        &orig,
        to_crlf(
            format!(
                "From: Mittente <{from}>\nTo: anna@r2-rems-only-for-test.it\nSubject: Prova {name}\nMessage-ID: <{name}@client.test>\nDate: Tue, 24 Nov 2026 10:00:00 +0100\n{extra_header}MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\nBuongiorno.\n"
            )
            .as_bytes(),
        ),
    )
    .expect("write original");
    let env = w.path(&format!("{name}.envelope.eml"));
    let o = run_ponte([
        "pec".to_string(),
        "wrap".into(),
        orig.display().to_string(),
        "--key".into(),
        pki("pec-rsa.key.pem").display().to_string(),
        "--cert".into(),
        pki("pec-rsa.pem").display().to_string(),
        "--chain".into(),
        pki("provider-ca.pem").display().to_string(),
        "--provider".into(),
        "Gestore Prova S.p.A.".into(),
        "-o".into(),
        env.display().to_string(),
    ]);
    assert!(o.status.success(), "wrap: {}", stderr(&o));
    env
}

/// The envelope with `line` (CRLF-terminated) first in its top header: outside the signed
/// entity, as the PEC platform adds it when handing the envelope to Ponte.
fn with_top_header(path: &Path, line: &str) -> PathBuf {
    let mut raw = line.as_bytes().to_vec();
    raw.extend_from_slice(&std::fs::read(path).expect("envelope"));
    let out = path.with_extension("platform.eml");
    std::fs::write(&out, raw).expect("write");
    out
}

/// The signed content of a REM message (openssl, test PKI root).
fn content(msg: &Path) -> Vec<u8> {
    let out = msg.with_extension("content");
    let o = Command::new("openssl")
        .args([
            "cms", "-verify", "-inform", "SMIME", "-purpose", "any", "-in",
        ])
        .arg(msg)
        .arg("-CAfile")
        .arg(pki("root-ca.pem"))
        .arg("-out")
        .arg(&out)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl cms -verify {}: {}",
        msg.display(),
        stderr(&o)
    );
    std::fs::read(&out).expect("content")
}

/// The `SubmissionAcceptance.xml` of a REM dispatch, written beside it for xmlsec1.
fn evidence_of(msg: &Path) -> (PathBuf, String) {
    let c = String::from_utf8_lossy(&content(msg)).into_owned();
    let at = c
        .find("filename=\"SubmissionAcceptance.xml\"")
        .expect("evidence part");
    let body = &c[at..];
    let start = body.find("\r\n\r\n").expect("part body") + 4;
    let b64: String = body[start..]
        .split("\r\n--")
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let xml = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("evidence base64");
    let path = msg.with_extension("evidence.xml");
    std::fs::write(&path, &xml).expect("write evidence");
    (path, String::from_utf8(xml).expect("utf-8 evidence"))
}

fn notes(v: &Value) -> String {
    v["notes"].to_string()
}

fn holders_config(source: &str, extra: &str) -> String {
    format!("\n[holders]\n{source}\n{extra}\n[holders.method_uris]\nspid = \"{SPID_URI}\"\n")
}

fn write_holders_file(w: &World) {
    std::fs::write(
        w.path("holders.jsonl"),
        format!(
            "{{\"mailbox\":\"{SENDER}\",\"verified\":true,\"method\":\"spid\",\"verified_at\":\"2026-10-01T09:30:00+02:00\",\"loa\":\"substantial\",\"two_factor\":true}}\n\
             {{\"mailbox\":\"attesa@pec.prova.test\",\"verified\":false}}\n\
             {{\"mailbox\":\"unfattore@pec.prova.test\",\"verified\":true,\"method\":\"cie\",\"verified_at\":\"2026-09-01T08:00:00Z\",\"loa\":\"high\",\"two_factor\":false}}\n"
        ),
    )
    .expect("write holders");
}

/// What a verified sender's dispatch says: the evidence (xmlsec1 verifies it) and the report.
fn assert_assured(out: &Path, v: &Value, time: &str, method_uri: &str) {
    let (ev_path, ev) = evidence_of(out);
    assert!(
        common::xmlsec1_verifies(&ev_path),
        "xmlsec1 {}",
        ev_path.display()
    );
    let block = ev
        .split("<AssuranceLevelsDetails>")
        .nth(1)
        .and_then(|r| r.split("</AssuranceLevelsDetails>").next())
        .unwrap_or_else(|| panic!("no AssuranceLevelsDetails in {ev}"));
    assert!(
        block.contains(&format!(
            "<AssuranceLevel>{LOA_SUBSTANTIAL}</AssuranceLevel>"
        )),
        "{block}"
    );
    assert!(
        block.contains(&format!("<PolicyID>{POLICY}</PolicyID>")),
        "{block}"
    );
    assert!(
        block.contains(&format!("<AuthenticationTime>{time}</AuthenticationTime>")),
        "{block}"
    );
    assert!(
        block.contains(&format!(
            "<AuthenticationMethod>{method_uri}</AuthenticationMethod>"
        )),
        "{block}"
    );
    let a = &v["sender_assurance"];
    assert_eq!(a["level"], LOA_SUBSTANTIAL, "{v}");
    assert_eq!(a["loa"], "substantial", "{v}");
    assert_eq!(a["authentication_time"], time, "{v}");
    assert_eq!(a["authentication_method"], method_uri, "{v}");
    assert_eq!(v["correlation"]["sender_assurance"], *a, "{v}");
}

#[test]
fn a_file_of_holders_puts_the_verified_senders_assurance_in_the_evidence() {
    if !(have("openssl") && have("xmlsec1")) {
        return;
    }
    let w = World::new();
    write_holders_file(&w);
    w.configure(&holders_config("file = \"holders.jsonl\"", ""));
    // The holder's confirmation: SPID, at verified_at.
    let env = envelope(&w, "file1", SENDER, "");
    let out = w.path("file1.rem.eml");
    let (code, v) = w.translate(&env, "rem", &out, &[]);
    assert_eq!(code, 0, "{v}");
    assert_assured(&out, &v, "2026-10-01T07:30:00Z", SPID_URI);
    assert_eq!(v["sender_assurance"]["method"], "spid", "{v}");
    assert_eq!(v["sender_assurance"]["source"], "holders", "{v}");

    // The PEC platform's per-submission statement, in the top header: believed only with
    // --trust-authentication-header; never passed on, also when a user wrote one in the
    // original.
    let forged = "X-Ponte-Sender-Authentication: method=video; time=2020-01-01T00:00:00Z\n";
    let env = envelope(&w, "file2", SENDER, forged);
    let env = with_top_header(
        &env,
        "X-Ponte-Sender-Authentication: method=cie; time=2026-11-24T09:58:00+01:00\r\n",
    );
    let out = w.path("file2.rem.eml");
    let (code, v) = w.translate(&env, "rem", &out, &["--trust-authentication-header"]);
    assert_eq!(code, 0, "{v}");
    assert_assured(&out, &v, "2026-11-24T08:58:00Z", POLICY_METHOD);
    assert_eq!(v["sender_assurance"]["method"], "cie", "{v}");
    assert_eq!(v["sender_assurance"]["source"], "holders+platform", "{v}");
    assert!(
        notes(&v).contains("removed from the carried message"),
        "{v}"
    );
    let signed = content(&out);
    assert!(
        !String::from_utf8_lossy(&signed).contains("X-Ponte-Sender-Authentication")
            && !String::from_utf8_lossy(&std::fs::read(&out).expect("out"))
                .contains("X-Ponte-Sender-Authentication"),
        "the header left Ponte"
    );
    // Without the flag the header is ignored, and said so.
    let out = w.path("file3.rem.eml");
    let (code, v) = w.translate(&env, "rem", &out, &[]);
    assert_eq!(code, 0, "{v}");
    assert!(notes(&v).contains("--trust-authentication-header"), "{v}");
    assert_assured(&out, &v, "2026-10-01T07:30:00Z", SPID_URI);

    // REM → PEC: the envelope tells the PEC recipient at which level the sender was asserted.
    let back = w.path("file1.pec.eml");
    let (code, b) = w.translate(&w.path("file1.rem.eml"), "pec", &back, &[]);
    assert_eq!(code, 0, "{b}");
    let a = &b["sender_assurance"];
    assert_eq!(a["level"], LOA_SUBSTANTIAL, "{b}");
    assert_eq!(a["source"], "evidence", "{b}");
    assert_eq!(a["asserted_by"], "Gestore Prova S.p.A.", "{b}");
    assert_eq!(a["authentication_time"], "2026-10-01T07:30:00Z", "{b}");
    assert_eq!(b["correlation"]["sender_assurance"], *a, "{b}");
    let raw = std::fs::read(&back).expect("pec");
    let pec = ponte::pec::PecMessage::parse(&raw).expect("pec parses");
    let text = pec.text().expect("text part").to_owned();
    assert!(
        text.contains("livello di garanzia eIDAS \"substantial\"")
            && text.contains("Gestore Prova S.p.A."),
        "{text}"
    );
}

#[test]
fn unconfirmed_senders_are_refused_or_relayed_as_basic() {
    if !have("openssl") {
        return;
    }
    let w = World::new();
    write_holders_file(&w);
    let config = std::fs::read_to_string(&w.config).expect("config");
    // Without [holders]: nothing stated, and the notes say so.
    let env = envelope(&w, "none", SENDER, "");
    let out = w.path("none.rem.eml");
    let (code, v) = w.translate(&env, "rem", &out, &[]);
    assert_eq!(code, 0, "{v}");
    assert!(v["sender_assurance"].is_null(), "{v}");
    assert!(notes(&v).contains("no [holders] configured"), "{v}");
    assert!(!evidence_of(&out).1.contains("AssuranceLevelsDetails"));

    let cases = [
        ("ignoto@pec.prova.test", "is not in the holders' source"),
        ("attesa@pec.prova.test", "identity is not confirmed"),
        ("unfattore@pec.prova.test", "two factors"),
    ];
    // unverified = "refuse": exit 1, the reason names the identity; no output.
    std::fs::write(
        &w.config,
        format!(
            "{config}{}",
            holders_config(
                "file = \"holders.jsonl\"",
                "unverified = \"refuse\"\ntwo_factor_required = true"
            )
        ),
    )
    .expect("config");
    for (i, (who, why)) in cases.iter().enumerate() {
        let env = envelope(&w, &format!("refuse{i}"), who, "");
        let out = w.path(&format!("refuse{i}.rem.eml"));
        let (code, v) = w.translate(&env, "rem", &out, &[]);
        assert_eq!(code, 1, "{who}: {v}");
        assert_eq!(v["refusal"], "holder-unverified", "{v}");
        let reason = v["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(who) && reason.contains(why), "{reason}");
        assert!(!out.exists());
    }
    // A confirmed holder with two-factor access still goes.
    let env = envelope(&w, "refuse-ok", SENDER, "");
    let (code, v) = w.translate(&env, "rem", &w.path("refuse-ok.rem.eml"), &[]);
    assert_eq!(code, 0, "{v}");
    // unverified = "basic": relayed, the evidence states no assurance.
    std::fs::write(
        &w.config,
        format!(
            "{config}{}",
            holders_config(
                "file = \"holders.jsonl\"",
                "unverified = \"basic\"\ntwo_factor_required = true"
            )
        ),
    )
    .expect("config");
    for (i, (who, why)) in cases.iter().enumerate() {
        let env = envelope(&w, &format!("basic{i}"), who, "");
        let out = w.path(&format!("basic{i}.rem.eml"));
        let (code, v) = w.translate(&env, "rem", &out, &[]);
        assert_eq!(code, 0, "{who}: {v}");
        assert!(v["sender_assurance"].is_null(), "{v}");
        assert!(
            notes(&v).contains("relayed with no assurance stated") && notes(&v).contains(why),
            "{v}"
        );
        assert!(!evidence_of(&out).1.contains("AssuranceLevelsDetails"));
    }
}

/// A running `python3 -m http.server` serving `dir`, killed when dropped.
struct HttpFiles {
    child: Option<Child>,
    url: String,
}

impl HttpFiles {
    fn start(dir: &Path) -> HttpFiles {
        let port = common::slapd::free_port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn python3 -m http.server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "http.server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        HttpFiles {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for HttpFiles {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn an_http_endpoint_answers_and_its_answers_are_cached_when_it_is_down() {
    if !(have("openssl") && have("xmlsec1") && have("python3")) {
        return;
    }
    let w = World::new();
    let served = w.path("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    std::fs::write(
        served.join(format!("{SENDER}.json")),
        format!(
            "{{\"mailbox\":\"{SENDER}\",\"verified\":true,\"method\":\"spid\",\"verified_at\":\"2026-10-01T07:30:00Z\",\"loa\":\"substantial\",\"two_factor\":true}}"
        ),
    )
    .expect("write");
    let mut server = HttpFiles::start(&served);
    w.configure(&holders_config(
        &format!("url = \"{}/{{mailbox}}.json\"", server.url),
        "unverified = \"refuse\"\ntimeout_seconds = 2",
    ));
    let env = envelope(&w, "http1", SENDER, "");
    let out = w.path("http1.rem.eml");
    let (code, v) = w.translate(&env, "rem", &out, &[]);
    assert_eq!(code, 0, "{v}");
    assert_assured(&out, &v, "2026-10-01T07:30:00Z", SPID_URI);
    // 404: not a holder the endpoint knows.
    let env2 = envelope(&w, "http2", "nessuno@pec.prova.test", "");
    let (code, v) = w.translate(&env2, "rem", &w.path("http2.rem.eml"), &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["refusal"], "holder-unverified", "{v}");

    // In one process (the library, as the service runs it): answers cached, then served
    // stale while the endpoint is down, then none once too old.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cx = ponte::translate::Context::load(&w.config, None, "cache".into()).expect("context");
    let at = |later: Duration| ponte::translate::Judge {
        now: time::OffsetDateTime::now_utc() + later,
        trust_at: ponte::smime::TrustTime::At(time::OffsetDateTime::now_utc()),
    };
    let raw = std::fs::read(&env).expect("envelope");
    let first = rt
        .block_on(ponte::translate::to_rem::translate(
            &cx,
            &raw,
            &at(Duration::ZERO),
        ))
        .expect("translated")
        .expect("not refused");
    assert!(first.sender_assurance.is_some());
    server.stop();
    // The endpoint is down; within the positive TTL (10 minutes) the cache answers.
    let again = rt
        .block_on(ponte::translate::to_rem::translate(
            &cx,
            &raw,
            &at(Duration::from_secs(60)),
        ))
        .expect("translated")
        .expect("not refused");
    assert!(again.sender_assurance.is_some());
    assert!(
        again.notes.iter().any(|n| n.contains("cached answer")),
        "{:?}",
        again.notes
    );
    // Past the TTL, the source fails: the stale answer stands in (max_stale one day).
    let stale = rt
        .block_on(ponte::translate::to_rem::translate(
            &cx,
            &raw,
            &at(Duration::from_secs(3600)),
        ))
        .expect("translated")
        .expect("not refused");
    assert!(stale.sender_assurance.is_some());
    assert!(
        stale
            .notes
            .iter()
            .any(|n| n.contains("the holders' source failed")),
        "{:?}",
        stale.notes
    );
    // Older than max_stale: an error (not the input's fault), not a refusal.
    let gone = rt.block_on(ponte::translate::to_rem::translate(
        &cx,
        &raw,
        &at(Duration::from_secs(3 * 24 * 3600)),
    ));
    match gone {
        Err(ponte::translate::Error::Holders(e)) => {
            assert!(e.to_string().contains("no cached answer"), "{e}")
        }
        Err(e) => panic!("another error: {e}"),
        Ok(r) => panic!("translated or refused: {:?}", r.map(|t| t.notes)),
    }
    // And `ponte translate`, a fresh process with nothing cached: exit 2, naming the source.
    let o = run_ponte([
        "translate".to_string(),
        env.display().to_string(),
        "--to".into(),
        "rem".into(),
        "--config".into(),
        w.config.display().to_string(),
        "-o".into(),
        w.path("down.rem.eml").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("holders"), "{}", stderr(&o));
}

/// A test schema for the holders' attributes (OIDs under a UUID arc, 2.25).
const HOLDER_SCHEMA: &str = "\
attributetype ( 2.25.218236157146127447398577458632219271163.1.1 NAME 'testPecVerified' EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )
attributetype ( 2.25.218236157146127447398577458632219271163.1.2 NAME 'testPecMethod' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 2.25.218236157146127447398577458632219271163.1.3 NAME 'testPecVerifiedAt' EQUALITY generalizedTimeMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE )
attributetype ( 2.25.218236157146127447398577458632219271163.1.4 NAME 'testPecLoa' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 2.25.218236157146127447398577458632219271163.1.5 NAME 'testPecTwoFactor' EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )
attributetype ( 2.25.218236157146127447398577458632219271163.1.6 NAME 'testPecMailbox' EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )
objectclass ( 2.25.218236157146127447398577458632219271163.2.1 NAME 'testPecHolder' SUP top AUXILIARY MUST testPecMailbox MAY ( testPecVerified $ testPecMethod $ testPecVerifiedAt $ testPecLoa $ testPecTwoFactor ) )
";

#[test]
fn an_ldap_directory_of_holders_with_its_own_attribute_names() {
    if !(have("openssl") && have("xmlsec1") && have("slapd") && have("slapadd")) {
        return;
    }
    let w = World::new();
    let dir = w.path("slapd");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let data = format!(
        "dn: o=postacert\nobjectClass: organization\no: postacert\n\n\
         dn: ou=holders,o=postacert\nobjectClass: organizationalUnit\nou: holders\n\n\
         dn: uid=mario,ou=holders,o=postacert\nobjectClass: account\nobjectClass: testPecHolder\nuid: mario\n\
         testPecMailbox: {SENDER}\ntestPecVerified: TRUE\ntestPecMethod: spid\n\
         testPecVerifiedAt: 20261001073000Z\ntestPecLoa: substantial\ntestPecTwoFactor: TRUE\n\n\
         dn: uid=attesa,ou=holders,o=postacert\nobjectClass: account\nobjectClass: testPecHolder\nuid: attesa\n\
         testPecMailbox: attesa@pec.prova.test\ntestPecVerified: FALSE\n\n"
    );
    let slapd =
        common::slapd::start_slapd_with(&dir, &data, common::slapd::PAGED_UNLIMITED, HOLDER_SCHEMA);
    w.configure(&format!(
        "\n[holders]\nldap = \"{}\"\nbase = \"ou=holders,o=postacert\"\nunverified = \"refuse\"\n\
         [holders.attributes]\nmailbox = \"testPecMailbox\"\nverified = \"testPecVerified\"\nmethod = \"testPecMethod\"\n\
         verified_at = \"testPecVerifiedAt\"\nloa = \"testPecLoa\"\ntwo_factor = \"testPecTwoFactor\"\n\
         [holders.method_uris]\nspid = \"{SPID_URI}\"\n",
        slapd.url
    ));
    let o = run_ponte([
        "config".to_string(),
        "check".into(),
        w.config.display().to_string(),
    ]);
    assert!(
        o.status.success(),
        "config check: {}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    // The address as the envelope writes it, in another case: the directory matches.
    let env = envelope(&w, "ldap1", "Mario.Rossi@PEC.prova.test", "");
    let out = w.path("ldap1.rem.eml");
    let (code, v) = w.translate(&env, "rem", &out, &[]);
    assert_eq!(code, 0, "{v}");
    assert_assured(&out, &v, "2026-10-01T07:30:00Z", SPID_URI);
    let env = envelope(&w, "ldap2", "attesa@pec.prova.test", "");
    let (code, v) = w.translate(&env, "rem", &w.path("ldap2.rem.eml"), &[]);
    assert_eq!(code, 1, "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("attesa@pec.prova.test"),
        "{v}"
    );
}

#[test]
fn a_refused_submission_gets_a_signed_non_accettazione_saying_why() {
    if !have("openssl") {
        return;
    }
    let w = World::new();
    write_holders_file(&w);
    w.configure(&holders_config(
        "file = \"holders.jsonl\"",
        "unverified = \"refuse\"",
    ));
    let env = envelope(&w, "notice", "attesa@pec.prova.test", "");
    let raw = std::fs::read(&env).expect("envelope");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cx = ponte::translate::Context::load(&w.config, None, "notice".into()).expect("context");
    let now = time::OffsetDateTime::now_utc();
    let judge = ponte::translate::Judge {
        now,
        trust_at: ponte::smime::TrustTime::At(now),
    };
    let refusal = rt
        .block_on(ponte::translate::to_rem::translate(&cx, &raw, &judge))
        .expect("no error")
        .expect_err("refused");
    assert_eq!(
        refusal.kind,
        ponte::translate::RefusalKind::HolderUnverified
    );
    assert!(
        !refusal.kind.is_authenticity(),
        "answered with a notice, not 554"
    );
    let notice =
        ponte::translate::notice::non_accettazione(&cx, &raw, &refusal, now).expect("notice built");
    assert_eq!(notice.described.kind, "non-accettazione");
    let path = w.path("notice.pec.eml");
    std::fs::write(&path, &notice.bytes).expect("write");
    content(&path); // openssl verifies the PEC signature
    let o = run_ponte([
        "verify".to_string(),
        path.display().to_string(),
        "--json".into(),
    ]);
    let j: Value = serde_json::from_slice(&o.stdout).expect("verify json");
    assert_eq!(j["signature"]["valid"], true, "{j}");
    let d = &j["pec"]["daticert"];
    assert_eq!(d["tipo"], "non-accettazione", "{j}");
    assert_eq!(d["errore"], "altro", "{j}");
    assert_eq!(d["mittente"], "attesa@pec.prova.test", "{j}");
    let env_j: Value = serde_json::from_slice(
        &run_ponte([
            "verify".to_string(),
            env.display().to_string(),
            "--json".into(),
        ])
        .stdout,
    )
    .expect("envelope json");
    assert_eq!(
        d["identificativo"], env_j["pec"]["daticert"]["identificativo"],
        "the notice is about the refused envelope"
    );
    let esteso = d["errore_esteso"].as_str().unwrap_or_default();
    assert!(
        esteso.starts_with("5.7.1 - Gestore Prova S.p.A. - ")
            && esteso.contains("attesa@pec.prova.test")
            && esteso.contains("not confirmed"),
        "{esteso}"
    );
    let parsed = ponte::pec::PecMessage::parse(&notice.bytes).expect("parses");
    let text = parsed.text().unwrap_or_default().to_owned();
    assert!(text.contains("identità del titolare"), "{text}");
    assert!(
        String::from_utf8_lossy(&notice.bytes).contains("To: attesa@pec.prova.test"),
        "addressed to the sender"
    );
}

#[test]
fn the_kit_dispatch_states_its_senders_assurance_to_the_pec_recipient() {
    if !kit_available() {
        return;
    }
    let w = World::new();
    let input = kit("Intra-REM-flow/REM_Dispatch.RA01.eml");
    let out = w.path("kit.pec.eml");
    let (code, v) = w.translate(&input, "pec", &out, &["--at", "signing-time"]);
    assert_eq!(code, 0, "{v}");
    let a = &v["sender_assurance"];
    assert_eq!(a["level"], LOA_SUBSTANTIAL, "{v}");
    assert_eq!(a["loa"], "substantial", "{v}");
    assert_eq!(a["policy"], POLICY, "{v}");
    assert_eq!(a["authentication_method"], POLICY_METHOD, "{v}");
    assert_eq!(a["authentication_time"], "2022-08-03T14:17:11Z", "{v}");
    assert_eq!(a["source"], "evidence", "{v}");
    assert_eq!(v["correlation"]["sender_assurance"], *a, "{v}");
    let raw = std::fs::read(&out).expect("pec");
    let text = ponte::pec::PecMessage::parse(&raw)
        .expect("parses")
        .text()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("livello di garanzia eIDAS \"substantial\"") && text.contains("2022-08-03"),
        "{text}"
    );
}

#[test]
fn config_check_names_every_holders_problem() {
    let w = World::new();
    std::fs::write(
        w.path("bad.jsonl"),
        "{\"mailbox\":\"a@x.it\",\"verified\":true}\n{\"verified\":1}\n",
    )
    .expect("write");
    w.configure(
        "\n[holders]\nfile = \"bad.jsonl\"\nurl = \"ftp://x\"\nunverified = \"maybe\"\npositive_ttl = \"10\"\n\
         platform_addresses = [\"10.0.0.0/40\"]\n[holders.method_uris]\nfax = \"urn:x\"\n",
    );
    let o = run_ponte([
        "config".to_string(),
        "check".into(),
        w.config.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    for (key, what) in [
        ("holders:", "one source only"),
        ("holders.file:", "line 2"),
        ("holders.unverified:", "\"maybe\""),
        ("holders.positive_ttl:", "no unit"),
        ("holders.platform_addresses[0]:", "prefix length"),
        ("holders.method_uris.fax:", "unknown method"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(key) && l.contains(what)),
            "{key} {what} not in:\n{err}"
        );
    }
}

/// `ponte serve` believes the PEC platform's per-submission header only from an SMTP client
/// in `[holders] platform_addresses`: the same envelope, with the header in its top header,
/// sent over loopback to a gateway that lists 127.0.0.1 and to one that does not.
#[test]
fn the_gateway_believes_the_platform_header_only_from_platform_addresses() {
    use common::gateway::{Gateway, Provider, send};
    if !(have("openssl") && have("xmlsec1") && common::have_smtp_sink()) {
        return;
    }
    let Some(sink) = common::SmtpSink::start(&[]) else {
        return;
    };
    let w = World::new();
    let env = envelope(&w, "serve1", SENDER, "");
    let env = with_top_header(
        &env,
        "X-Ponte-Sender-Authentication: method=cie; time=2026-11-24T09:58:00+01:00\r\n",
    );
    let raw = std::fs::read(&env).expect("envelope");
    let gateway = |platform: &str| {
        let extra = format!(
            "[[route]]\ndomain = \"*\"\nrelay = \"{}\"\ntls = \"none\"\n{}",
            sink.addr,
            holders_config(
                "file = \"holders.jsonl\"",
                &format!("platform_addresses = [\"{platform}\"]")
            )
        );
        let mut g = Gateway::new(Provider::Prova, None, &extra);
        write_holders_file_in(&g.dir);
        g.start();
        g
    };
    let trusted = gateway("127.0.0.0/8");
    let other = gateway("192.0.2.10");
    let mut queued = Vec::new();
    for (g, n) in [(&trusted, 1), (&other, 2)] {
        let sent = send(g.smtp, SENDER, &["anna@r2-rems-only-for-test.it"], &raw).expect("send");
        assert_eq!(sent.code, 250, "{sent:?}");
        queued.push(
            sent.text
                .split("Queued as ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or_else(|| panic!("no queue id in {sent:?}"))
                .to_owned(),
        );
        let got = sink.wait_messages(n, Duration::from_secs(60));
        assert_eq!(got.len(), n, "the dispatch did not arrive");
    }
    let got = sink.messages();
    let mut times = Vec::new();
    for m in &got {
        let path = w.path(&format!("serve.sink.{}.eml", m.n));
        std::fs::write(&path, &m.body).expect("write");
        assert!(
            !String::from_utf8_lossy(&m.body).contains("X-Ponte-Sender-Authentication"),
            "the header left Ponte"
        );
        let (ev_path, ev) = evidence_of(&path);
        assert!(common::xmlsec1_verifies(&ev_path), "xmlsec1");
        let time = ev
            .split("<AuthenticationTime>")
            .nth(1)
            .and_then(|r| r.split("</AuthenticationTime>").next())
            .unwrap_or_else(|| panic!("no AuthenticationTime in {ev}"))
            .to_owned();
        let method = ev
            .split("<AuthenticationMethod>")
            .nth(1)
            .and_then(|r| r.split("</AuthenticationMethod>").next())
            .unwrap_or_default()
            .to_owned();
        times.push((m.connection, time, method));
    }
    times.sort();
    // Delivered in the order sent (one connection each): the platform's statement from the
    // listed client, the holders file's confirmation from the other.
    assert_eq!(
        times
            .iter()
            .map(|t| (t.1.as_str(), t.2.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("2026-11-24T08:58:00Z", POLICY_METHOD),
            ("2026-10-01T07:30:00Z", SPID_URI)
        ],
        "{times:?}"
    );
    // Each gateway says in the message's history what became of the header.
    let history = |g: &Gateway, id: &str| g.api(&format!("/api/queue/{id}")).to_string();
    let h = history(&trusted, &queued[0]);
    assert!(
        h.contains("the PEC platform states the sender authenticated with cie"),
        "{h}"
    );
    let h = history(&other, &queued[1]);
    assert!(
        h.contains("127.0.0.1 is not one of holders.platform_addresses"),
        "{h}"
    );
}

fn write_holders_file_in(dir: &Path) {
    std::fs::write(
        dir.join("holders.jsonl"),
        format!(
            "{{\"mailbox\":\"{SENDER}\",\"verified\":true,\"method\":\"spid\",\"verified_at\":\"2026-10-01T09:30:00+02:00\",\"loa\":\"substantial\",\"two_factor\":true}}\n"
        ),
    )
    .expect("write holders");
}
