//! The conformance suite (`conformance/`, `ponte conformance`): green in process; the
//! generated vectors are what `ponte conformance generate` makes; corrupting an input that a
//! case expects valid fails the run; a waived case that passes fails the run; the `cli:`
//! subject running Ponte's own binary through `conformance/adapters/ponte.sh` gives the same
//! outcomes as `inproc`; the HTML report renders in headless Chromium (the screenshot is left
//! in the target folder as a CI artefact); the `smtp://` subject against `ponte serve --dev`
//! in its own process (routed to the runner's sink, the test PKI trusted, its providers
//! listed) passes the gateway cases, and a copy with flipped expectations fails the run.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{have, kit_available, repo, run_ponte};
use serde_json::Value;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn suite() -> PathBuf {
    repo().join("conformance/vectors")
}

/// `ponte conformance run --suite SUITE --json OUT [extra]`: (exit code, report).
fn run(suite: &Path, out: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args: Vec<String> = vec![
        "conformance".into(),
        "run".into(),
        "--suite".into(),
        suite.display().to_string(),
        "--json".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = run_ponte(&args);
    let code = o.status.code().unwrap_or(-1);
    let text = std::fs::read_to_string(out).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; exit {code}; stdout {} stderr {}",
            out.display(),
            stdout(&o),
            stderr(&o)
        )
    });
    (code, serde_json::from_str(&text).expect("report JSON"))
}

fn outcomes(report: &Value) -> BTreeMap<String, String> {
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().expect("id").to_string(),
                c["outcome"].as_str().expect("outcome").to_string(),
            )
        })
        .collect()
}

/// Where CI keeps artefacts: `$CARGO_TARGET_DIR`, else the repository's `target/`.
fn artefacts() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let dir = dir.join("conformance");
    std::fs::create_dir_all(&dir).expect("artefact folder");
    dir
}

#[test]
fn the_suite_passes_in_process() {
    if !kit_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("junit.xml");
    let (code, r) = run(
        &suite(),
        &dir.path().join("report.json"),
        &["--junit", &junit.display().to_string()],
    );
    let failed: Vec<&Value> = r["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| !matches!(c["outcome"].as_str(), Some("pass" | "waived")))
        .collect();
    assert_eq!(code, 0, "failed cases: {failed:#?}");
    assert_eq!(r["ok"], true);
    let total = r["total"].as_u64().expect("total");
    assert!(total >= 150, "only {total} cases");
    assert_eq!(r["failed"], 0);
    assert_eq!(
        r["passed"].as_u64().expect("passed") + r["waived"].as_u64().expect("waived"),
        total
    );
    assert_eq!(r["skipped"], 0, "every case applies to inproc");
    for c in r["cases"].as_array().expect("cases") {
        assert!(
            c["clauses"].as_array().is_some_and(|a| !a.is_empty()),
            "{c}"
        );
        assert!(c["checks"].as_array().is_some_and(|a| !a.is_empty()), "{c}");
    }
    // Every artefact family of the corpus is covered.
    let ids: Vec<&str> = r["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    for prefix in [
        "pec.real.namirial.",
        "pec.fixture.java-pec-parser.",
        "pec.fixture.php-pec.",
        "rem.kit.message.",
        "rem.kit.evidence.",
        "rem.kit.prepare.",
        "translate.rem-to-pec.kit.",
        "translate.pec-to-rem.",
        "xades.xsw-",
    ] {
        assert!(
            ids.iter().any(|i| i.starts_with(prefix)),
            "no case {prefix}*"
        );
    }
    // JUnit: one testcase per case, clauses as properties.
    let x = std::fs::read_to_string(&junit).expect("junit");
    assert_eq!(x.matches("<testcase ").count() as u64, total);
    assert!(x.contains("<property name=\"clause\" value=\"EN 319 532-4 Table C.26\"/>"));
    assert!(x.contains(" failures=\"0\" "), "{}", &x[..400.min(x.len())]);
}

#[test]
fn list_prints_every_case_with_its_clauses() {
    let o = run_ponte(["conformance", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(lines.len() >= 150, "{}", lines.len());
    assert!(
        lines
            .iter()
            .all(|c| c["clauses"].as_array().is_some_and(|a| !a.is_empty())
                && c["id"].as_str().is_some())
    );
    let o = run_ponte(["conformance", "list", "--filter", "rem.kit.evidence.*"]);
    let text = stdout(&o);
    assert!(text.lines().count() >= 40, "{text}");
    assert!(
        text.lines().all(|l| l.starts_with("rem.kit.evidence.")),
        "{text}"
    );
    assert!(text.contains("[EN 319 522-3 §5.2;"), "{text}");
}

#[test]
fn the_generated_vectors_are_what_generate_makes() {
    let o = run_ponte(["conformance", "generate", "--check"]);
    assert!(
        o.status.success(),
        "the checked-in generated vectors differ from `ponte conformance generate`:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    // The check sees a changed byte, a missing file and a stray one.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("generated");
    let o = run_ponte([
        "conformance".to_string(),
        "generate".into(),
        "--out".into(),
        out.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let env = out.join("pec/envelope.eml");
    let mut bytes = std::fs::read(&env).expect("envelope");
    let last = bytes.len() - 10;
    bytes[last] ^= 1;
    std::fs::write(&env, bytes).expect("write");
    std::fs::remove_file(out.join("evidence/xsw-xpointer.xml")).expect("remove");
    std::fs::write(out.join("stray.eml"), "x").expect("stray");
    let o = run_ponte([
        "conformance".to_string(),
        "generate".into(),
        "--check".into(),
        "--out".into(),
        out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    for what in [
        "pec/envelope.eml: differs",
        "evidence/xsw-xpointer.xml:",
        "stray.eml: not made by generate",
    ] {
        assert!(text.contains(what), "{what}: {text}");
    }
}

/// A copy of the suite in `dir` whose roots and fixtures point back at the repository, so
/// that its files (and its generated vectors) can be changed without touching the repository.
fn suite_copy(dir: &Path) -> PathBuf {
    let src = suite();
    let dst = dir.join("vectors");
    copy_tree(&src, &dst);
    let r = repo();
    let text = format!(
        "name = \"copy\"\ncorpus_default = \"{corpus}\"\n[roots]\npki = \"{pki}\"\ngen = \"{gen}\"\nrepo = \"{repo}\"\n[fixtures]\n\"gateway.toml\" = \"{src}/fixtures/gateway.toml\"\n\"gateway-test-index.toml\" = \"{src}/fixtures/gateway-test-index.toml\"\n\"index.ldif\" = \"{src}/fixtures/index.ldif\"\n",
        corpus = common::corpus().display(),
        pki = r.join("tests/pki").display(),
        gen = dst.join("generated").display(),
        repo = r.display(),
        src = src.display(),
    );
    std::fs::write(dst.join("suite.toml"), text).expect("suite.toml");
    dst
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let p = e.path();
        let d = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &d);
        } else {
            std::fs::copy(&p, &d).expect("copy");
        }
    }
}

#[test]
fn corrupting_an_input_expected_valid_fails_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = suite_copy(dir.path());
    let filter = ["--filter", "pec.build.*", "--waivers", "/dev/null"];
    // Untouched, the copy passes.
    let (code, r) = run(&copy, &dir.path().join("before.json"), &filter);
    assert_eq!(code, 0, "{r}");
    assert_eq!(outcomes(&r)["pec.build.busta-trasporto"], "pass");
    // One bit of the signed envelope flipped (inside postacert.eml): the cases that expect
    // it valid fail, and so does the run.
    let env = copy.join("generated/pec/envelope.eml");
    let mut bytes = std::fs::read(&env).expect("envelope");
    let at = bytes
        .windows(10)
        .position(|w| w == b"Buongiorno")
        .expect("body");
    bytes[at + 3] ^= 1;
    std::fs::write(&env, bytes).expect("write");
    let (code, r) = run(&copy, &dir.path().join("after.json"), &filter);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["ok"], false);
    let o = outcomes(&r);
    assert_eq!(o["pec.build.busta-trasporto"], "fail");
    assert_eq!(
        o["pec.build.accettazione"], "pass",
        "other inputs are untouched"
    );
    let case = r["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == "pec.build.busta-trasporto")
        .expect("case");
    assert!(
        case["detail"]
            .as_str()
            .is_some_and(|d| d.contains("signature.valid: expected true, got false")),
        "{case}"
    );
}

#[test]
fn waivers_cannot_go_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let waivers = dir.path().join("waivers.toml");
    let w = waivers.display().to_string();
    // A waived case that passes fails the run.
    std::fs::write(
        &waivers,
        "[waivers]\n\"pec.build.busta-trasporto\" = \"pretend it fails\"\n",
    )
    .expect("write");
    let (code, r) = run(
        &suite(),
        &dir.path().join("a.json"),
        &["--filter", "pec.build.busta-trasport?", "--waivers", &w],
    );
    assert_eq!(code, 1, "{r}");
    assert_eq!(
        outcomes(&r)["pec.build.busta-trasporto"],
        "waived-but-passed"
    );
    assert_eq!(r["failed"], 1);
    // A waived case that fails keeps the run good (the copy's envelope is corrupted).
    let copy = suite_copy(dir.path());
    let env = copy.join("generated/pec/envelope.eml");
    let mut bytes = std::fs::read(&env).expect("envelope");
    let at = bytes
        .windows(10)
        .position(|w| w == b"Buongiorno")
        .expect("body");
    bytes[at + 3] ^= 1;
    std::fs::write(&env, bytes).expect("write");
    let (code, r) = run(
        &copy,
        &dir.path().join("b.json"),
        &["--filter", "pec.build.busta-trasport?", "--waivers", &w],
    );
    assert_eq!(code, 0, "{r}");
    assert_eq!(outcomes(&r)["pec.build.busta-trasporto"], "waived");
    assert_eq!(r["waived"], 1);
    // A pattern that matches no case of the suite fails a full run (here of a suite of one
    // case), not one with --filter.
    let tiny = dir.path().join("tiny");
    std::fs::create_dir_all(&tiny).expect("mkdir");
    std::fs::write(
        tiny.join("suite.toml"),
        format!(
            "name = \"tiny\"\n[roots]\ngen = \"{}\"\npki = \"{}\"\n",
            suite().join("generated").display(),
            repo().join("tests/pki").display()
        ),
    )
    .expect("suite.toml");
    std::fs::write(
        tiny.join("cases.toml"),
        "[[case]]\nid = \"tiny.envelope\"\ntitle = \"the envelope verifies\"\nclauses = [\"RFC 6109 §3.1.5\"]\nop = \"verify\"\nnow = \"2026-11-25T10:00:00+01:00\"\ninput = \"gen:pec/envelope.eml\"\nparams = { trust = [\"pki:root-ca.pem\"] }\nexpect = { exit = 0, \"signature.valid\" = true }\n",
    )
    .expect("cases.toml");
    std::fs::write(&waivers, "[waivers]\n\"no.such.case.*\" = \"gone\"\n").expect("write");
    let (code, r) = run(&tiny, &dir.path().join("c.json"), &["--waivers", &w]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(outcomes(&r)["tiny.envelope"], "pass");
    assert!(
        r["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("\"no.such.case.*\" matches no case")),
        "{r}"
    );
    let (code, r) = run(
        &tiny,
        &dir.path().join("d.json"),
        &["--waivers", &w, "--filter", "tiny"],
    );
    assert_eq!(code, 0, "with --filter a pattern is not judged stale: {r}");
    // The repository's waivers file reads.
    let repo_waivers = repo().join("conformance/waivers.toml");
    assert!(repo_waivers.is_file());
}

#[test]
fn the_cli_subject_running_ponte_gives_the_same_outcomes_as_inproc() {
    if !kit_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, inproc) = run(&suite(), &dir.path().join("inproc.json"), &[]);
    assert_eq!(code, 0, "{inproc}");
    let template = format!(
        "cli:sh {} {}",
        repo().join("conformance/adapters/ponte.sh").display(),
        env!("CARGO_BIN_EXE_ponte")
    );
    let (code, cli) = run(
        &suite(),
        &dir.path().join("cli.json"),
        &["--subject", &template],
    );
    let a = outcomes(&inproc);
    let b = outcomes(&cli);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let mut compared = 0;
    let mut differ = Vec::new();
    for (id, o) in &b {
        if o == "skipped" {
            continue;
        }
        compared += 1;
        if a[id] != *o {
            differ.push(format!("{id}: inproc {} cli {o}", a[id]));
        }
    }
    assert!(differ.is_empty(), "{differ:#?}");
    assert!(compared >= 250, "only {compared} cases ran through the CLI");
    assert_eq!(code, 0, "{cli}");
    // What the CLI cannot do (no command for it) is skipped, not failed.
    let list = run_ponte(["conformance", "list", "--json"]);
    for line in stdout(&list).lines() {
        let c: Value = serde_json::from_str(line).expect("json");
        let id = c["id"].as_str().expect("id");
        let cli_applies = c["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .any(|s| s == "cli");
        assert_eq!(b[id] == "skipped", !cli_applies, "{id}");
    }
}

#[test]
fn bad_subjects_and_suites_are_usage_errors() {
    for args in [
        vec!["conformance", "run", "--subject", "ftp://x"],
        vec!["conformance", "run", "--subject", "smtp://127.0.0.1:25"],
        vec!["conformance", "run", "--suite", "/nonexistent/suite"],
        vec!["conformance", "run", "--subject", "cli:"],
    ] {
        let o = run_ponte(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
        assert!(!stderr(&o).is_empty(), "{args:?}");
    }
    let o = run_ponte(["conformance", "run", "--suite", "/nonexistent/suite"]);
    assert!(stderr(&o).contains("/nonexistent/suite"), "{}", stderr(&o));
    let o = run_ponte(["conformance", "run", "--subject", "smtp://127.0.0.1:25"]);
    assert!(stderr(&o).contains("--collect"), "{}", stderr(&o));
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    if !kit_available() || !have("chromium") {
        return;
    }
    let out = artefacts();
    let html = out.join("report.html");
    let png = out.join("report.png");
    let _ = std::fs::remove_file(&png);
    let dir = tempfile::tempdir().expect("tempdir");
    // A report with failures in it (the copy's envelope corrupted), so that expected and
    // actual side by side are on the page too.
    let copy = suite_copy(dir.path());
    let env = copy.join("generated/pec/envelope.eml");
    let mut bytes = std::fs::read(&env).expect("envelope");
    let at = bytes
        .windows(10)
        .position(|w| w == b"Buongiorno")
        .expect("body");
    bytes[at + 3] ^= 1;
    std::fs::write(&env, bytes).expect("write");
    let (code, r) = run(
        &copy,
        &dir.path().join("r.json"),
        &["--html", &html.display().to_string()],
    );
    assert_eq!(code, 1, "the corrupted copy fails");
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.contains("id=\"summary\""));
    assert!(page.contains("<h2>Failures ("), "failures listed first");
    assert!(
        page.contains(
            "<tr class=\"miss\"><td>signature.valid</td><td>true</td><td>false</td></tr>"
        )
    );
    assert!(!page.contains("<script") && !page.contains("<link") && !page.contains(" src="));
    let profile = tempfile::tempdir().expect("profile");
    let chromium = |extra: &[&str]| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", html.display()))
            .output()
            .expect("spawn chromium")
    };
    let o = chromium(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1280,1600",
    ]);
    assert!(png.is_file(), "no screenshot: {}", stderr(&o));
    let shot = std::fs::read(&png).expect("png");
    assert_eq!(&shot[..8], b"\x89PNG\r\n\x1a\n");
    assert!(shot.len() > 20_000, "{} bytes: a blank page?", shot.len());
    // The DOM chromium rendered holds the summary with the run's numbers.
    let o = chromium(&["--dump-dom"]);
    let dom = stdout(&o);
    let total = r["total"].as_u64().expect("total");
    assert!(
        dom.contains(&format!("<th>total</th><td>{total}</td>")),
        "{}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("FAIL: see the failures below"));
    eprintln!("screenshot: {}", png.display());
}

/// `ponte serve --dev` in its own process, killed (and reaped) on every path.
struct DevGateway {
    child: std::process::Child,
    stdout: PathBuf,
    stderr: PathBuf,
    smtp: u16,
}

impl Drop for DevGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DevGateway {
    /// Starts the development gateway in `data` on free loopback ports, its REM deliveries
    /// routed to `sink`, the test PKI's root trusted and the test providers (the embedded
    /// index snapshot) listed, and waits until it listens.
    fn start(data: &Path, sink: u16) -> DevGateway {
        let smtp = common::gateway::free_port();
        let ops = common::gateway::free_port();
        let stdout = data.with_extension("stdout");
        let stderr = data.with_extension("stderr");
        let child = common::ponte()
            .args(["serve", "--dev", "--data"])
            .arg(data)
            .args(["--smtp", &format!("127.0.0.1:{smtp}")])
            .args(["--ops", &format!("127.0.0.1:{ops}")])
            .args(["--route", &format!("*=127.0.0.1:{sink}")])
            .arg("--trust")
            .arg(common::pki("root-ca.pem"))
            .arg("--index")
            .arg(repo().join("gateway/src/index/default.ldif"))
            .stdout(std::fs::File::create(&stdout).expect("stdout"))
            .stderr(std::fs::File::create(&stderr).expect("stderr"))
            .spawn()
            .expect("serve --dev");
        let mut g = DevGateway {
            child,
            stdout,
            stderr,
            smtp,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !g.printed().contains("try: ") {
            if let Ok(Some(status)) = g.child.try_wait() {
                panic!("serve --dev exited: {status}\n{}", g.log());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve --dev did not start\n{}",
                g.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        g
    }

    fn printed(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn log(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.printed(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }
}

/// The ids of the cases a filter selects that apply to `subject`.
fn cases_for(filter: &str, subject: &str) -> Vec<String> {
    let list = run_ponte(["conformance", "list", "--filter", filter, "--json"]);
    assert!(list.status.success(), "{}", stderr(&list));
    stdout(&list)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|c| {
            c["subjects"]
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s == subject))
        })
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect()
}

/// The `actual` of a case's check at `path`.
fn actual<'a>(report: &'a Value, id: &str, path: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| {
            c["checks"]
                .as_array()?
                .iter()
                .find(|k| k["path"] == path)
                .map(|k| &k["actual"])
        })
        .unwrap_or_else(|| panic!("{id}: no check {path}: {report}"))
}

#[test]
fn the_smtp_subject_against_serve_dev_passes_the_gateway_cases() {
    if !kit_available() {
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    let sink = common::gateway::free_port();
    let gw = DevGateway::start(&home.path().join("data"), sink);
    let printed = gw.printed();
    assert!(
        printed.contains(&format!("route:  * -> 127.0.0.1:{sink}")),
        "{printed}"
    );
    let subject = format!("smtp://127.0.0.1:{}", gw.smtp);
    let collect = format!("127.0.0.1:{sink}");
    let smtp_args = ["--subject", &subject, "--collect", &collect];
    let expected = cases_for("gateway.*", "smtp");
    assert!(expected.len() >= 6, "{expected:?}");
    let mut args = smtp_args.to_vec();
    args.extend(["--filter", "gateway.*"]);
    let (code, r) = run(&suite(), &home.path().join("smtp.json"), &args);
    assert_eq!(code, 0, "{r:#}\n{}", gw.log());
    assert_eq!(r["ok"], true);
    assert_eq!(r["total"].as_u64(), Some(expected.len() as u64), "{r}");
    assert_eq!(r["passed"], r["total"], "{r}");
    assert_eq!(r["failed"], 0);
    assert_eq!(r["skipped"], 0, "every gateway case applies to smtp");
    let o = outcomes(&r);
    assert_eq!(o.keys().cloned().collect::<Vec<_>>(), {
        let mut e = expected.clone();
        e.sort();
        e
    });
    assert!(o.values().all(|v| v == "pass"), "{o:?}");
    assert!(
        r["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("smtp://")),
        "{r}"
    );
    // What the sink collected was the gateway's translation: a REM dispatch, and receipts.
    let dispatch = "gateway.pec-to-rem.busta-trasporto";
    assert_eq!(actual(&r, dispatch, "translated"), true);
    assert_eq!(actual(&r, dispatch, "output.format"), "rem");
    assert_eq!(actual(&r, dispatch, "output.type"), "dispatch");
    assert_eq!(
        actual(&r, "gateway.pec-to-rem.avvenuta-consegna", "output.event"),
        "ContentConsignment"
    );
    // The refusals were answered in the SMTP dialogue, and nothing went on.
    let rogue = "gateway.pec-to-rem.rogue-signer";
    assert_eq!(actual(&r, rogue, "exit"), 1);
    assert_eq!(actual(&r, rogue, "translated"), false);
    let o = run_ponte([
        "submit".as_ref(),
        repo()
            .join("conformance/vectors/generated/pec/envelope.rogue.eml")
            .as_os_str(),
        "--smtp".as_ref(),
        format!("127.0.0.1:{}", gw.smtp).as_ref(),
        "--from".as_ref(),
        "posta-certificata@pec.prova.test".as_ref(),
        "--to".as_ref(),
        "anna@r2-rems-only-for-test.it".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("554"), "{}", stdout(&o));

    drop(gw);

    // The run can fail: a copy of the suite where the rogue signer is expected translated
    // and the dispatch expected as a receipt fails on exactly those two cases (against a
    // fresh gateway: the first one keeps what it accepted and would answer "already queued").
    let copy = suite_copy(home.path());
    let file = copy.join("gateway-smtp.toml");
    let text = std::fs::read_to_string(&file).expect("gateway-smtp.toml");
    let flipped = text
        .replacen(
            "input = \"gen:pec/envelope.rogue.eml\"\n[case.expect]\nexit = 1\ntranslated = false",
            "input = \"gen:pec/envelope.rogue.eml\"\n[case.expect]\nexit = 0\ntranslated = true",
            1,
        )
        .replacen(
            "\"output.type\" = \"dispatch\"",
            "\"output.type\" = \"receipt\"",
            1,
        );
    assert_ne!(flipped, text);
    assert_eq!(
        flipped.matches("translated = true").count(),
        text.matches("translated = true").count() + 1
    );
    std::fs::write(&file, flipped).expect("write");
    let sink = common::gateway::free_port();
    let gw = DevGateway::start(&home.path().join("fresh"), sink);
    let subject = format!("smtp://127.0.0.1:{}", gw.smtp);
    let collect = format!("127.0.0.1:{sink}");
    let mut args = vec!["--subject", &subject, "--collect", &collect];
    args.extend(["--filter", "gateway.*", "--waivers", "/dev/null"]);
    let (code, r) = run(&copy, &home.path().join("flipped.json"), &args);
    assert_eq!(code, 1, "{r:#}");
    let o = outcomes(&r);
    let failed: Vec<&str> = o
        .iter()
        .filter(|(_, v)| *v != "pass")
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(failed, [dispatch, rogue], "{o:?}");
    assert_eq!(r["failed"], 2);
    assert_eq!(
        actual(&r, dispatch, "output.type"),
        "dispatch",
        "{}",
        gw.log()
    );
}

#[test]
fn the_harness_flags_of_serve_go_with_dev_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ponte.toml");
    std::fs::write(&config, "").expect("write");
    let pki = common::pki("root-ca.pem");
    for extra in [
        vec!["--route", "*=127.0.0.1:2526"],
        vec!["--trust", pki.to_str().expect("utf-8")],
        vec!["--index", "gateway/src/index/default.ldif"],
        vec!["--data", "somewhere"],
    ] {
        let mut args = vec!["serve", "--config", config.to_str().expect("utf-8")];
        args.extend(&extra);
        let o = run_ponte(&args);
        assert!(!o.status.success(), "{extra:?}");
        assert!(
            stderr(&o).contains(&format!("{} goes with --dev only", extra[0])),
            "{extra:?}: {}",
            stderr(&o)
        );
    }
    let o = run_ponte(["serve", "--dev", "--route", "no-relay"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("expected DOMAIN=HOST:PORT"),
        "{}",
        stderr(&o)
    );
}
