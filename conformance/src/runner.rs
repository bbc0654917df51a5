//! Running a suite against a subject: each selected case gets a fresh work folder (fixtures
//! rendered there, a mutated input written there), the subject observes it, the judge
//! compares, and waivers are applied. The run is good iff every non-waived case passes and
//! every waived case fails (and no waiver pattern is stale).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::Value;

use crate::case::{Case, Resolver, Suite};
use crate::judge::{Mismatch, judge, lookup};
use crate::mutate::apply_all;
use crate::subject::{Request, Subject};
use crate::waiver::{Waivers, selects};

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Every expectation held.
    Pass,
    /// An expectation did not hold.
    Fail,
    /// The case could not be run (input missing, mutation not applicable, subject failure).
    Error,
    /// Waived, and it failed as the waiver says.
    Waived,
    /// Waived, but it passed: the waiver is stale (this fails the run).
    WaivedButPassed,
    /// The case does not apply to this subject.
    Skipped,
}

impl Outcome {
    /// The stable name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
            Outcome::Waived => "waived",
            Outcome::WaivedButPassed => "waived-but-passed",
            Outcome::Skipped => "skipped",
        }
    }

    /// Whether this outcome makes the run fail.
    pub fn fails_run(self) -> bool {
        matches!(
            self,
            Outcome::Fail | Outcome::Error | Outcome::WaivedButPassed
        )
    }
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its clauses.
    pub clauses: Vec<String>,
    /// Its assertion ids.
    pub assertions: Vec<String>,
    /// Its case file.
    pub file: String,
    /// Its operation.
    pub op: String,
    /// How it ended.
    pub outcome: Outcome,
    /// One line: what failed, the error, the waiver.
    pub detail: String,
    /// Every expectation: (path, expected, observed), in the case's order.
    pub checks: Vec<Check>,
    /// The waiver (pattern, reason), when one covers the case.
    pub waiver: Option<(String, String)>,
    /// How long it took.
    pub millis: u64,
}

/// One expectation as judged.
#[derive(Debug, Clone)]
pub struct Check {
    /// The observation path.
    pub path: String,
    /// The expectation, written out.
    pub expected: String,
    /// What was observed (`None`: nothing there, or no observation).
    pub actual: Option<Value>,
    /// Whether it held.
    pub held: bool,
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The suite's name.
    pub suite: String,
    /// The subject's name.
    pub subject: String,
    /// One result per selected case.
    pub results: Vec<CaseResult>,
    /// Problems of the run itself (stale waiver patterns).
    pub problems: Vec<String>,
}

impl Report {
    /// How many cases ended so.
    pub fn count(&self, o: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == o).count()
    }

    /// Cases judged (all but the skipped ones).
    pub fn total(&self) -> usize {
        self.results.len() - self.count(Outcome::Skipped)
    }

    /// Failed, in error, or waived but passing.
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome.fails_run())
            .count()
    }

    /// Whether the run is good: every non-waived case passes, every waived case fails, no
    /// waiver is stale.
    pub fn ok(&self) -> bool {
        self.failed() == 0 && self.problems.is_empty()
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// An indicatif bar on stderr (failures printed above it).
    Bar,
    /// One line per case on stdout.
    Lines,
    /// Nothing.
    Quiet,
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn auto() -> Progress {
        if std::io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Lines
        }
    }
}

/// What a run needs besides the suite and the subject.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `--filter`: a glob (with `*` or `?`) or a substring of case ids.
    pub filter: Option<String>,
    /// The waivers.
    pub waivers: Waivers,
    /// Variables for `var:` locators and `{{var:NAME}}` in fixtures.
    pub vars: BTreeMap<String, String>,
    /// Progress display.
    pub progress: Progress,
    /// Cases run at once (at least 1); results keep the suite's order.
    pub jobs: usize,
}

/// Runs the selected cases of `suite` against `subject`.
pub fn run(suite: &Suite, subject: &dyn Subject, opts: &RunOptions) -> Report {
    let selected: Vec<&Case> = suite
        .cases
        .iter()
        .filter(|c| opts.filter.as_deref().is_none_or(|f| selects(f, &c.id)))
        .collect();
    let bar = match opts.progress {
        Progress::Bar => {
            let pb = indicatif::ProgressBar::new(selected.len() as u64);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {wide_msg}")
            {
                pb.set_style(style);
            }
            Some(pb)
        }
        _ => None,
    };
    let show = |r: &CaseResult| {
        let line = format!(
            "{:<17} {}{}",
            r.outcome.as_str(),
            r.id,
            if r.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", r.detail)
            }
        );
        match (&bar, opts.progress) {
            (Some(pb), _) => {
                if r.outcome.fails_run() {
                    pb.println(line);
                }
                pb.inc(1);
            }
            (None, Progress::Lines) => println!("{line}"),
            _ => {}
        }
    };
    let slots: Vec<Mutex<Option<CaseResult>>> = selected.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let jobs = if subject.concurrent() {
        opts.jobs.clamp(1, selected.len().max(1))
    } else {
        1
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let (Some(case), Some(slot)) = (selected.get(i), slots.get(i)) else {
                        break;
                    };
                    if let Some(pb) = &bar {
                        pb.set_message(case.id.clone());
                    }
                    let r = run_case(suite, subject, case, opts);
                    show(&r);
                    match slot.lock() {
                        Ok(mut g) => *g = Some(r),
                        Err(p) => *p.into_inner() = Some(r),
                    }
                }
            });
        }
    });
    let results: Vec<CaseResult> = slots
        .into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect();
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let mut problems = Vec::new();
    if opts.filter.is_none() {
        for (pattern, _) in &opts.waivers.entries {
            if !suite
                .cases
                .iter()
                .any(|c| crate::waiver::glob(pattern, &c.id))
            {
                problems.push(format!(
                    "waiver {pattern:?} matches no case of the suite: remove it"
                ));
            }
        }
    }
    Report {
        suite: suite.name.clone(),
        subject: subject.name(),
        results,
        problems,
    }
}

fn describe(m: &[Mismatch]) -> String {
    m.iter()
        .map(|x| {
            format!(
                "{}: expected {}, got {}",
                x.path,
                x.expected,
                x.actual
                    .as_ref()
                    .map_or("nothing".to_string(), Value::to_string)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs one case (whatever the filter).
pub fn run_case(
    suite: &Suite,
    subject: &dyn Subject,
    case: &Case,
    opts: &RunOptions,
) -> CaseResult {
    let started = Instant::now();
    let waiver = opts
        .waivers
        .find(&case.id)
        .map(|(p, r)| (p.to_string(), r.to_string()));
    let mut result = CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        clauses: case.clauses.clone(),
        assertions: case.assertions.clone(),
        file: case.file.clone(),
        op: case.op.clone(),
        outcome: Outcome::Skipped,
        detail: String::new(),
        checks: case
            .expect
            .iter()
            .map(|e| Check {
                path: e.path.clone(),
                expected: e.matcher.to_string(),
                actual: None,
                held: false,
            })
            .collect(),
        waiver: waiver.clone(),
        millis: 0,
    };
    if !case.applies_to(subject.kind()) {
        result.detail = format!("applies to {} only", case.subjects.join(", "));
        return result;
    }
    let judged = observe_and_judge(suite, subject, case, opts, &mut result);
    let (outcome, detail) = match judged {
        Err(e) => (Outcome::Error, e),
        Ok(m) if m.is_empty() => (Outcome::Pass, String::new()),
        Ok(m) => (Outcome::Fail, describe(&m)),
    };
    (result.outcome, result.detail) = match (&waiver, outcome) {
        (None, o) => (o, detail),
        (Some((p, reason)), Outcome::Pass) => (
            Outcome::WaivedButPassed,
            format!("waived by {p:?} ({reason}) but it passes: remove the waiver"),
        ),
        (Some((_, reason)), _) => (Outcome::Waived, format!("{reason} [{detail}]")),
    };
    result.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    result
}

fn observe_and_judge(
    suite: &Suite,
    subject: &dyn Subject,
    case: &Case,
    opts: &RunOptions,
    result: &mut CaseResult,
) -> Result<Vec<Mismatch>, String> {
    let work = tempfile::Builder::new()
        .prefix("conformance-")
        .tempdir()
        .map_err(|e| format!("work folder: {e}"))?;
    let r = Resolver {
        suite,
        work: work.path(),
        vars: &opts.vars,
    };
    r.render_fixtures()?;
    let in_place = r
        .path(&case.input)?
        .ok_or_else(|| format!("input {}: not a locator", case.input))?;
    let input = if case.mutate.is_empty() {
        in_place
    } else {
        let bytes = std::fs::read(&in_place).map_err(|e| format!("{}: {e}", in_place.display()))?;
        let changed = apply_all(&bytes, &case.mutate)?;
        if changed == bytes {
            return Err("the mutations left the input unchanged".into());
        }
        let name = in_place
            .file_name()
            .map(|n| format!("mutated.{}", n.to_string_lossy()))
            .unwrap_or_else(|| "mutated.input".into());
        let p = work.path().join(name);
        std::fs::write(&p, changed).map_err(|e| format!("{}: {e}", p.display()))?;
        p
    };
    let params = match r.resolve(&Value::Object(case.params.clone()))? {
        Value::Object(o) => o,
        _ => return Err("params are not a table".into()),
    };
    let req = Request {
        id: &case.id,
        op: &case.op,
        input: &input,
        now: &case.now,
        params: &params,
        work: work.path(),
    };
    let observation = subject.observe(&req).map_err(|e| e.0)?;
    let mismatches = judge(&case.expect, &observation, &r)?;
    for c in &mut result.checks {
        c.actual = lookup(&observation, &c.path).cloned();
        c.held = !mismatches.iter().any(|m| m.path == c.path);
    }
    Ok(mismatches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subject::SubjectError;
    use serde_json::json;

    /// A subject that says a message is valid iff its input holds "good".
    struct Toy;
    impl Subject for Toy {
        fn name(&self) -> String {
            "toy".into()
        }
        fn kind(&self) -> &'static str {
            "inproc"
        }
        fn observe(&self, req: &Request<'_>) -> Result<Value, SubjectError> {
            let text =
                std::fs::read_to_string(req.input).map_err(|e| SubjectError(e.to_string()))?;
            Ok(json!({"valid": text.contains("good"), "trust": req.strs("trust").len()}))
        }
    }

    fn suite(dir: &std::path::Path) -> Suite {
        std::fs::write(dir.join("suite.toml"), "name = \"toy\"\n").unwrap();
        std::fs::write(dir.join("good.txt"), "good").unwrap();
        std::fs::write(
            dir.join("cases.toml"),
            r#"
[defaults]
op = "check"
now = "2025-01-01T00:00:00Z"
clauses = ["X §1"]
[defaults.params]
trust = ["suite:good.txt"]

[[case]]
id = "toy.good"
title = "good is valid"
input = "suite:good.txt"
expect = { valid = true, trust = 1 }

[[case]]
id = "toy.bad"
title = "a corrupted good is not valid"
input = "suite:good.txt"
mutate = [{ replace = "good", with = "gxod" }]
expect = { valid = false }

[[case]]
id = "toy.cli-only"
title = "not for inproc"
input = "suite:good.txt"
subjects = ["cli"]
expect = { valid = true }
"#,
        )
        .unwrap();
        crate::case::load(dir, Some(dir)).unwrap()
    }

    fn opts(waivers: &str) -> RunOptions {
        RunOptions {
            filter: None,
            waivers: Waivers::parse(waivers).unwrap(),
            vars: BTreeMap::new(),
            progress: Progress::Quiet,
            jobs: 2,
        }
    }

    #[test]
    fn outcomes_and_waivers() {
        let d = tempfile::tempdir().unwrap();
        let s = suite(d.path());
        let r = run(&s, &Toy, &opts(""));
        let outcomes: Vec<Outcome> = r.results.iter().map(|x| x.outcome).collect();
        assert_eq!(outcomes, [Outcome::Pass, Outcome::Pass, Outcome::Skipped]);
        assert!(r.ok());
        assert_eq!(r.total(), 2);

        // A waived case that passes fails the run.
        let r = run(&s, &Toy, &opts("[waivers]\n\"toy.bad\" = \"known\"\n"));
        assert_eq!(r.results[1].outcome, Outcome::WaivedButPassed);
        assert!(!r.ok());

        // A stale pattern fails the run.
        let r = run(&s, &Toy, &opts("[waivers]\n\"nothing.*\" = \"old\"\n"));
        assert!(!r.ok() && r.problems[0].contains("nothing.*"));

        // The mutation check: expecting "valid" of a corrupted input fails.
        let mut s2 = s.clone();
        s2.cases[0].mutate = s.cases[1].mutate.clone();
        let r = run(&s2, &Toy, &opts(""));
        assert_eq!(r.results[0].outcome, Outcome::Fail);
        assert!(
            r.results[0]
                .detail
                .contains("valid: expected true, got false")
        );
        assert!(!r.ok());
        // ... and a waiver for a failing case keeps the run good.
        let r = run(
            &s2,
            &Toy,
            &opts("[waivers]\n\"toy.good\" = \"corrupted on purpose\"\n"),
        );
        assert_eq!(r.results[0].outcome, Outcome::Waived);
        assert!(r.ok());
    }
}
