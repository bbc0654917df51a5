//! `ponte conformance run|list|generate`: the conformance suite of `conformance/` (the
//! `ponte-conformance` crate: case format, judge, subjects, reports) run from the binary,
//! with the in-process subject implemented here with Ponte's library.
//!
//! * `run [--suite DIR] [--corpus DIR] [--filter PATTERN] [--subject inproc|cli:TEMPLATE|smtp://HOST:PORT]
//!   [--collect ADDR] [--waivers FILE] [--json FILE] [--junit FILE] [--html FILE]`: exit 0 iff
//!   every non-waived case passes and every waived case fails, 1 otherwise, 2 when the suite
//!   cannot be loaded;
//! * `list [--suite DIR] [--filter PATTERN] [--json]`: the cases and their clauses;
//! * `generate [--out DIR] [--check]`: the generated vectors (test PKI, deterministic).

mod generate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Failure, Outcome, load_certs};
use ponte::smime::TrustTime;
use ponte::translate::{self, Context, Judge};
use ponte_conformance::{self as conf, Request, Subject, SubjectError};

/// `ponte conformance ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the suite against a subject (Ponte's library in-process, a command, a live gateway).
    Run(RunArgs),
    /// List the cases and the clauses they check.
    List(ListArgs),
    /// Write the generated vectors (signed with the test PKI; deterministic), or check them.
    Generate(generate::Args),
}

/// Arguments of `ponte conformance run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The suite folder (default: `conformance/vectors` of the repository).
    #[arg(long)]
    pub suite: Option<PathBuf>,
    /// The corpus folder (default: `$PONTE_CORPUS`, else `../shared/corpus` beside the repository).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Only the cases whose id matches: a glob (`*`, `?`) or a substring.
    #[arg(long)]
    pub filter: Option<String>,
    /// `inproc` (Ponte's library), `cli:TEMPLATE` (a command per case), `smtp://HOST:PORT`.
    #[arg(long, default_value = "inproc")]
    pub subject: String,
    /// With `smtp://`: where the runner's sink listens for what the gateway sends on.
    #[arg(long)]
    pub collect: Option<String>,
    /// The waivers (default: `waivers.toml` beside the suite folder, when there).
    #[arg(long)]
    pub waivers: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Cases run at once (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

/// Arguments of `ponte conformance list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The suite folder (default: `conformance/vectors` of the repository).
    #[arg(long)]
    pub suite: Option<PathBuf>,
    /// Only the cases whose id matches: a glob (`*`, `?`) or a substring.
    #[arg(long)]
    pub filter: Option<String>,
    /// One JSON object per case (`id`, `title`, `clauses`, `assertions`, `op`, `subjects`).
    #[arg(long)]
    pub json: bool,
}

/// Runs `ponte conformance ...`.
pub fn run(cmd: Command) -> Outcome {
    match cmd {
        Command::Run(a) => run_suite(a),
        Command::List(a) => list(a),
        Command::Generate(a) => generate::run(a),
    }
}

/// The repository's `conformance/` folder: beside the working directory when run from a
/// checkout, else where this binary was built from.
pub fn conformance_dir() -> PathBuf {
    let here = PathBuf::from("conformance");
    if here.join("vectors/suite.toml").is_file() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance")
}

fn suite_dir(given: Option<&PathBuf>) -> PathBuf {
    given
        .cloned()
        .unwrap_or_else(|| conformance_dir().join("vectors"))
}

fn load(dir: &Path, corpus: Option<&Path>) -> Result<conf::Suite, Failure> {
    conf::load(dir, corpus).map_err(|e| Failure(e.to_string()))
}

fn list(a: ListArgs) -> Outcome {
    let suite = load(&suite_dir(a.suite.as_ref()), None)?;
    for c in suite.cases.iter().filter(|c| {
        a.filter
            .as_deref()
            .is_none_or(|f| conf::waiver::selects(f, &c.id))
    }) {
        if a.json {
            println!(
                "{}",
                json!({"id": c.id, "title": c.title, "clauses": c.clauses, "assertions": c.assertions, "op": c.op, "subjects": c.subjects})
            );
        } else {
            println!("{}  [{}]  {}", c.id, c.clauses.join("; "), c.title);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::at(path, e))
}

fn run_suite(a: RunArgs) -> Outcome {
    let dir = suite_dir(a.suite.as_ref());
    let suite = load(&dir, a.corpus.as_deref())?;
    let waivers_path = a.waivers.clone().or_else(|| {
        let p = dir.join("../waivers.toml");
        p.is_file().then_some(p)
    });
    let waivers = match &waivers_path {
        Some(p) => conf::Waivers::load(p).map_err(|e| Failure(e.to_string()))?,
        None => conf::Waivers::default(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("conformance: cannot start the runtime: {e}")))?;
    let mut vars = BTreeMap::new();
    // The development TSA, in this process, for the gateway fixtures (B-T evidences) of the
    // in-process and command subjects. Started for `smtp://` too: every case's fixtures are
    // rendered and its parameters resolved (`var:tsa_cert`) whatever the subject, though a
    // live gateway uses its own TSA.
    let (_tsa_dir, url, cert) = start_tsa(&rt)?;
    vars.insert("tsa_url".to_string(), url);
    vars.insert("tsa_cert".to_string(), cert.display().to_string());
    if let Ok(exe) = std::env::current_exe() {
        vars.insert("ponte".into(), exe.display().to_string());
    }
    let subject: Box<dyn Subject> = if a.subject == "inproc" {
        Box::new(Inproc { rt: &rt })
    } else if let Some(t) = a.subject.strip_prefix("cli:") {
        Box::new(conf::cli::CliSubject::new(t).map_err(|e| Failure(e.0))?)
    } else if a.subject.starts_with("smtp://") {
        let collect = a.collect.as_deref().ok_or_else(|| {
            Failure("--subject smtp://..: --collect ADDR is required (where the gateway's next hop points)".into())
        })?;
        Box::new(conf::smtp::SmtpSubject::new(&a.subject, collect).map_err(|e| Failure(e.0))?)
    } else {
        return Err(Failure(format!(
            "--subject {}: inproc, cli:TEMPLATE or smtp://HOST:PORT",
            a.subject
        )));
    };
    let opts = conf::RunOptions {
        filter: a.filter.clone(),
        waivers,
        vars,
        progress: conf::Progress::auto(),
        jobs: a
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
    };
    let report = conf::run(&suite, subject.as_ref(), &opts);
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&conf::report::json(&report))
            .map_err(|e| Failure(e.to_string()))?;
        write(p, &text)?;
    }
    if let Some(p) = &a.junit {
        write(p, &conf::report::junit(&report))?;
    }
    if let Some(p) = &a.html {
        write(p, &conf::report::html(&report))?;
    }
    for p in &report.problems {
        println!("problem: {p}");
    }
    println!(
        "{}: {} cases against {}: {} passed, {} failed, {} waived, {} skipped: {}",
        suite.name,
        report.total(),
        report.subject,
        report.count(conf::Outcome::Pass),
        report.failed(),
        report.count(conf::Outcome::Waived),
        report.count(conf::Outcome::Skipped),
        if report.ok() { "OK" } else { "NOT OK" }
    );
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The instant the development TSA's certificate starts: before every case's "now".
const TSA_EPOCH: OffsetDateTime = time::macros::datetime!(2025-01-01 00:00 UTC);

/// Starts the development TSA on a loopback port of `rt`; returns its folder (kept while
/// the run lasts), URL and certificate.
fn start_tsa(
    rt: &tokio::runtime::Runtime,
) -> Result<(tempfile::TempDir, String, PathBuf), Failure> {
    use ponte::tsp::server;
    let dir = tempfile::Builder::new()
        .prefix("ponte-conformance-tsa-")
        .tempdir()
        .map_err(|e| Failure(format!("conformance: TSA folder: {e}")))?;
    let tsa = Arc::new(
        server::DevTsa::open(dir.path(), TSA_EPOCH).map_err(|e| Failure::at(dir.path(), e))?,
    );
    let cert = tsa.cert_path();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| Failure(format!("conformance: TSA listener: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure(format!("conformance: TSA listener: {e}")))?;
    let clock: ponte::service::tsa::Clock = Arc::new(OffsetDateTime::now_utc);
    let log: ponte::service::tsa::Log = Arc::new(|_| {});
    rt.spawn(ponte::service::tsa::serve(listener, tsa, clock, log));
    Ok((dir, format!("http://{addr}/"), cert))
}

/// Ponte's library, in this process.
pub struct Inproc<'rt> {
    /// Where translations (index look-ups, TSA requests) run.
    pub rt: &'rt tokio::runtime::Runtime,
}

fn err(s: impl std::fmt::Display) -> SubjectError {
    SubjectError(s.to_string())
}

fn certs(req: &Request<'_>, name: &str) -> Result<Vec<ponte::x509::Certificate>, SubjectError> {
    let paths: Vec<PathBuf> = req.strs(name).into_iter().map(PathBuf::from).collect();
    load_certs(&paths).map_err(|e| err(format!("param {name}: {e}")))
}

fn instant(s: &str) -> Result<OffsetDateTime, SubjectError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| err(format!("{s:?}: {e}")))
}

/// `at` (default: the case's now): `now`, `signing-time` or an RFC 3339 instant.
fn trust_time(req: &Request<'_>) -> Result<TrustTime, SubjectError> {
    let now = instant(req.now)?;
    TrustTime::parse(req.str("at").unwrap_or(req.now), now).map_err(|e| err(format!("at: {e}")))
}

fn read(p: &Path) -> Result<Vec<u8>, SubjectError> {
    std::fs::read(p).map_err(|e| err(format!("{}: {e}", p.display())))
}

fn with_exit(mut v: Value, exit: u8) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("exit".into(), exit.into());
    }
    v
}

fn unreadable(e: impl std::fmt::Display) -> Value {
    json!({"exit": 2, "error": e.to_string()})
}

impl Subject for Inproc<'_> {
    fn name(&self) -> String {
        "inproc".into()
    }

    fn kind(&self) -> &'static str {
        "inproc"
    }

    fn observe(&self, req: &Request<'_>) -> Result<Value, SubjectError> {
        match req.op {
            "verify" => self.verify(req),
            "evidence" => self.evidence(req),
            "translate" => self.translate(req),
            "prepare" => self.prepare(req),
            "daticert" => self.daticert(req),
            other => Err(err(format!(
                "inproc: unknown op {other:?} (verify, evidence, translate, prepare, daticert)"
            ))),
        }
    }
}

impl Inproc<'_> {
    fn verify(&self, req: &Request<'_>) -> Result<Value, SubjectError> {
        let raw = read(req.input)?;
        let file = req.input.display().to_string();
        let at = trust_time(req)?;
        Ok(
            match super::verify::report(
                &file,
                &raw,
                &certs(req, "trust")?,
                &certs(req, "tsa_trust")?,
                at,
            ) {
                Ok((v, ok)) => with_exit(v, if ok { 0 } else { 1 }),
                Err(e) => unreadable(e),
            },
        )
    }

    fn evidence(&self, req: &Request<'_>) -> Result<Value, SubjectError> {
        let bytes = read(req.input)?;
        let at = match req.str("at").unwrap_or(req.now) {
            "signing-time" => ponte::xades::At::SigningTime,
            "now" => ponte::xades::At::Instant(instant(req.now)?),
            s => ponte::xades::At::Instant(instant(s)?),
        };
        let opts = ponte::xades::VerifyOptions {
            anchors: certs(req, "trust")?,
            intermediates: Vec::new(),
            tsa_anchors: certs(req, "tsa_trust")?,
            at,
        };
        Ok(match super::evidence::report(&bytes, &opts) {
            Ok((v, ok)) => with_exit(v, if ok { 0 } else { 1 }),
            Err(e) => unreadable(e),
        })
    }

    fn prepare(&self, req: &Request<'_>) -> Result<Value, SubjectError> {
        let raw = read(req.input)?;
        let id = req
            .str("rems_message_id")
            .ok_or_else(|| err("prepare: param rems_message_id is required"))?;
        Ok(match ponte::rem::message::prepare_original(&raw, id) {
            Ok(p) => json!({
                "exit": 0,
                "prepared": String::from_utf8_lossy(&p.bytes),
                "digest": p.digest_b64,
                "ua_message_id": p.ua_message_id,
                "size": p.bytes.len(),
            }),
            Err(e) => json!({
                "exit": 2,
                "error": {"kind": super::verify::rem_error_kind(&e).0, "message": e.to_string()},
            }),
        })
    }

    fn daticert(&self, req: &Request<'_>) -> Result<Value, SubjectError> {
        let raw = read(req.input)?;
        Ok(match ponte::pec::Daticert::parse(&raw) {
            Ok(d) => json!({"exit": 0, "daticert": d.to_json()}),
            Err(e) => json!({
                "exit": 2,
                "error": {"kind": super::verify::pec_error_kind(&e), "message": e.to_string()},
            }),
        })
    }

    fn translate(&self, req: &Request<'_>) -> Result<Value, SubjectError> {
        let config = req
            .str("config")
            .ok_or_else(|| err("translate: param config is required"))?;
        let to = req
            .str("to")
            .ok_or_else(|| err("translate: param to (rem|pec) is required"))?;
        let store: Box<dyn ponte::correlate::Store + Send + Sync> =
            Box::new(ponte::correlate::MemoryStore::new());
        let cx = match Context::load(Path::new(config), Some(store), "conformance".into()) {
            Ok(cx) => cx,
            Err(e) => return Ok(unreadable(format!("{config}: {e}"))),
        };
        let judge = Judge {
            now: instant(req.now)?,
            trust_at: trust_time(req)?,
        };
        let one = |raw: &[u8], to: &str| -> Result<translate::Outcome, SubjectError> {
            Ok(match to {
                "rem" => self
                    .rt
                    .block_on(translate::to_rem::translate(&cx, raw, &judge)),
                "pec" => self
                    .rt
                    .block_on(translate::to_pec::translate(&cx, raw, &judge)),
                other => return Err(err(format!("translate: to {other:?}: rem or pec"))),
            })
        };
        let observe = |file: &str, o: translate::Outcome| -> (Value, Option<Vec<u8>>) {
            match o {
                Ok(Ok(t)) => {
                    let written = vec![None; t.outputs.len()];
                    let first = t.outputs.first().map(|o| o.bytes.clone());
                    (
                        with_exit(translate::report::json_translated(file, &t, &written), 0),
                        first,
                    )
                }
                Ok(Err(r)) => (
                    with_exit(translate::report::json_refused(file, &r), 1),
                    None,
                ),
                Err(e) => (unreadable(e), None),
            }
        };
        let mut before = Vec::new();
        for p in req.strs("before") {
            let (v, _) = observe(p, one(&read(Path::new(p))?, to)?);
            before.push(json!({"file": p, "exit": v["exit"], "refusal": v.get("refusal")}));
        }
        let file = req.input.display().to_string();
        let (mut v, output) = observe(&file, one(&read(req.input)?, to)?);
        v["before"] = Value::Array(before);
        if let Some(bytes) = output {
            let (check, _) = super::verify::report(
                "output",
                &bytes,
                &certs(req, "output_trust")?,
                &certs(req, "output_tsa_trust")?,
                TrustTime::SigningTime,
            )
            .unwrap_or_else(|e| (unreadable(e), false));
            v["output_verify"] = check;
            if req.params.get("back").and_then(Value::as_bool) == Some(true) {
                let back_to = if to == "rem" { "pec" } else { "rem" };
                let (b, _) = observe("output", one(&bytes, back_to)?);
                v["back"] = b;
            }
        }
        Ok(v)
    }
}
