//! The reports of a run: JSON (for harnesses), JUnit XML (for CI dashboards) and one
//! self-contained HTML page (for people: summary, cases grouped by clause, each failure with
//! expected and actual side by side; no script, no network fetch).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::runner::{CaseResult, Outcome, Report};

/// `--json`: `total`, `passed`, `failed`, `waived`, `skipped`, `ok`, `problems` and `cases`
/// [{`id`, `title`, `clauses`, `assertions`, `outcome`, `detail`, `file`, `op`, `millis`,
/// `waiver`, `checks` [{`path`, `expected`, `actual`, `held`}]}].
pub fn json(r: &Report) -> Value {
    let cases: Vec<Value> = r
        .results
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "title": c.title,
                "clauses": c.clauses,
                "assertions": c.assertions,
                "outcome": c.outcome.as_str(),
                "detail": c.detail,
                "file": c.file,
                "op": c.op,
                "millis": c.millis,
                "waiver": c.waiver.as_ref().map(|(p, reason)| json!({"pattern": p, "reason": reason})),
                "checks": c.checks.iter().map(|k| json!({
                    "path": k.path,
                    "expected": k.expected,
                    "actual": k.actual,
                    "held": k.held,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "suite": r.suite,
        "subject": r.subject,
        "total": r.total(),
        "passed": r.count(Outcome::Pass),
        "failed": r.failed(),
        "waived": r.count(Outcome::Waived),
        "skipped": r.count(Outcome::Skipped),
        "ok": r.ok(),
        "problems": r.problems,
        "cases": cases,
    })
}

/// XML text and attribute escaping (also drops characters XML 1.0 cannot carry).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn classname(c: &CaseResult) -> String {
    let stem = c.file.strip_suffix(".toml").unwrap_or(&c.file);
    format!("{stem}.{}", c.op)
}

fn check_lines(c: &CaseResult) -> String {
    c.checks
        .iter()
        .filter(|k| !k.held)
        .map(|k| {
            format!(
                "{}: expected {}, actual {}",
                k.path,
                k.expected,
                k.actual
                    .as_ref()
                    .map_or("nothing".to_string(), Value::to_string)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `--junit`: one `testcase` per case (clauses and assertion ids as properties); a waived
/// case that fails as expected is `skipped` with the waiver's reason.
pub fn junit(r: &Report) -> String {
    let time: u64 = r.results.iter().map(|c| c.millis).sum();
    let failures = r
        .results
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::WaivedButPassed))
        .count()
        + r.problems.len();
    let errors = r.count(Outcome::Error);
    let skipped = r.count(Outcome::Skipped) + r.count(Outcome::Waived);
    let tests = r.results.len() + r.problems.len();
    let name = xml_escape(&r.suite);
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{}\">",
        seconds(time)
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{}\">",
        seconds(time)
    );
    let _ = writeln!(
        x,
        "    <properties><property name=\"subject\" value=\"{}\"/></properties>",
        xml_escape(&r.subject)
    );
    for c in &r.results {
        let _ = writeln!(
            x,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\">",
            xml_escape(&c.id),
            xml_escape(&classname(c)),
            seconds(c.millis)
        );
        x.push_str("      <properties>\n");
        let _ = writeln!(
            x,
            "        <property name=\"title\" value=\"{}\"/>",
            xml_escape(&c.title)
        );
        for cl in &c.clauses {
            let _ = writeln!(
                x,
                "        <property name=\"clause\" value=\"{}\"/>",
                xml_escape(cl)
            );
        }
        for a in &c.assertions {
            let _ = writeln!(
                x,
                "        <property name=\"assertion\" value=\"{}\"/>",
                xml_escape(a)
            );
        }
        x.push_str("      </properties>\n");
        let msg = xml_escape(&c.detail);
        match c.outcome {
            Outcome::Pass => {}
            Outcome::Fail | Outcome::WaivedButPassed => {
                let _ = writeln!(
                    x,
                    "      <failure message=\"{msg}\" type=\"{}\">{}</failure>",
                    c.outcome.as_str(),
                    xml_escape(&check_lines(c))
                );
            }
            Outcome::Error => {
                let _ = writeln!(x, "      <error message=\"{msg}\" type=\"error\"/>");
            }
            Outcome::Waived => {
                let _ = writeln!(x, "      <skipped message=\"waived: {msg}\"/>");
            }
            Outcome::Skipped => {
                let _ = writeln!(x, "      <skipped message=\"{msg}\"/>");
            }
        }
        x.push_str("    </testcase>\n");
    }
    for p in &r.problems {
        x.push_str("    <testcase name=\"waivers\" classname=\"run\" time=\"0.000\">\n");
        let _ = writeln!(
            x,
            "      <failure message=\"{}\" type=\"stale-waiver\"/>",
            xml_escape(p)
        );
        x.push_str("    </testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

fn html_escape(s: &str) -> String {
    xml_escape(s)
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "(nothing)".to_string(),
        Some(Value::String(s)) => format!("\"{s}\""),
        Some(v) => serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string()),
    }
}

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:2rem;color:#1d2329;background:#fff}
h1{font-size:1.6rem;margin:0 0 .3rem}
.sub{color:#555;margin:0 0 1.2rem}
.verdict{display:inline-block;padding:.4rem .9rem;border-radius:.3rem;font-weight:700;color:#fff;margin-bottom:1rem}
.ok{background:#1e7d34}.nok{background:#b3261e}
table.summary{border-collapse:collapse;margin-bottom:1.5rem}
table.summary td,table.summary th{border:1px solid #ccd;padding:.35rem .8rem;text-align:right}
table.summary th{background:#eef;text-align:left}
.badge{display:inline-block;min-width:6.5rem;text-align:center;border-radius:.25rem;padding:.05rem .3rem;font-size:.8rem;font-weight:600;color:#fff}
.pass{background:#1e7d34}.fail,.error,.waived-but-passed{background:#b3261e}.waived{background:#8a6d00}.skipped{background:#777}
details.clause{border:1px solid #dde;border-radius:.3rem;margin:.4rem 0;padding:.2rem .6rem}
details.clause>summary{cursor:pointer;font-weight:600;padding:.2rem 0}
.counts{font-weight:400;color:#555;margin-left:.6rem}
table.cases{border-collapse:collapse;width:100%;margin:.4rem 0}
table.cases td{border-top:1px solid #eee;padding:.25rem .4rem;vertical-align:top}
code{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.85rem}
table.diff{border-collapse:collapse;margin:.3rem 0 .6rem;width:100%}
table.diff th{background:#f4f4f8;text-align:left;padding:.2rem .4rem;font-size:.85rem}
table.diff td{border:1px solid #e2e2ea;padding:.2rem .4rem;vertical-align:top;white-space:pre-wrap;font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.8rem}
tr.miss td{background:#fdecea}
.detail{color:#555;font-size:.85rem}
ul.problems{color:#b3261e}
";

/// `--html`: one self-contained page.
pub fn html(r: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let ok = r.ok();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        h,
        "<title>Conformance: {} — {}</title>",
        html_escape(&r.suite),
        if ok { "OK" } else { "NOT OK" }
    );
    let _ = writeln!(h, "<style>{CSS}</style>\n</head>\n<body>");
    let _ = writeln!(h, "<h1>{}</h1>", html_escape(&r.suite));
    let _ = writeln!(
        h,
        "<p class=\"sub\">Subject: <code>{}</code></p>",
        html_escape(&r.subject)
    );
    let _ = writeln!(
        h,
        "<div class=\"verdict {}\">{}</div>",
        if ok { "ok" } else { "nok" },
        if ok {
            "PASS: every non-waived case passes, every waived case fails"
        } else {
            "FAIL: see the failures below"
        }
    );
    h.push_str("<table class=\"summary\" id=\"summary\">\n");
    for (label, n) in [
        ("total", r.total()),
        ("passed", r.count(Outcome::Pass)),
        ("failed", r.failed()),
        ("waived", r.count(Outcome::Waived)),
        ("skipped", r.count(Outcome::Skipped)),
    ] {
        let _ = writeln!(h, "<tr><th>{label}</th><td>{n}</td></tr>");
    }
    h.push_str("</table>\n");
    if !r.problems.is_empty() {
        h.push_str("<ul class=\"problems\">\n");
        for p in &r.problems {
            let _ = writeln!(h, "<li>{}</li>", html_escape(p));
        }
        h.push_str("</ul>\n");
    }
    // Failures first, then every clause.
    let failing: Vec<&CaseResult> = r.results.iter().filter(|c| c.outcome.fails_run()).collect();
    if !failing.is_empty() {
        let _ = writeln!(h, "<h2>Failures ({})</h2>", failing.len());
        h.push_str("<table class=\"cases\">\n");
        for c in &failing {
            case_row(&mut h, c);
        }
        h.push_str("</table>\n");
    }
    let mut by_clause: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for c in &r.results {
        for cl in &c.clauses {
            by_clause.entry(cl.as_str()).or_default().push(c);
        }
    }
    let _ = writeln!(h, "<h2>Cases by clause ({} clauses)</h2>", by_clause.len());
    for (clause, cases) in &by_clause {
        let bad = cases.iter().filter(|c| c.outcome.fails_run()).count();
        let passed = cases.iter().filter(|c| c.outcome == Outcome::Pass).count();
        let _ = writeln!(
            h,
            "<details class=\"clause\"{}><summary>{}<span class=\"counts\">{} case(s): {passed} passed{}</span></summary>",
            if bad > 0 { " open" } else { "" },
            html_escape(clause),
            cases.len(),
            if bad > 0 {
                format!(", {bad} failed")
            } else {
                String::new()
            }
        );
        h.push_str("<table class=\"cases\">\n");
        for c in cases {
            case_row(&mut h, c);
        }
        h.push_str("</table>\n</details>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn case_row(h: &mut String, c: &CaseResult) {
    let o = c.outcome.as_str();
    let _ = writeln!(
        h,
        "<tr><td><span class=\"badge {o}\">{o}</span></td><td><code>{}</code><br>{}",
        html_escape(&c.id),
        html_escape(&c.title)
    );
    if !c.detail.is_empty() && c.outcome != Outcome::Fail {
        let _ = writeln!(h, "<div class=\"detail\">{}</div>", html_escape(&c.detail));
    }
    if matches!(
        c.outcome,
        Outcome::Fail | Outcome::Waived | Outcome::WaivedButPassed
    ) && !c.checks.is_empty()
    {
        h.push_str(
            "<table class=\"diff\"><tr><th>path</th><th>expected</th><th>actual</th></tr>\n",
        );
        for k in &c.checks {
            let _ = writeln!(
                h,
                "<tr{}><td>{}</td><td>{}</td><td>{}</td></tr>",
                if k.held { "" } else { " class=\"miss\"" },
                html_escape(&k.path),
                html_escape(&k.expected),
                html_escape(&show(k.actual.as_ref()))
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</td></tr>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Check;

    fn report() -> Report {
        let case = |id: &str, outcome: Outcome, held: bool| CaseResult {
            id: id.into(),
            title: format!("title of {id} <&>"),
            clauses: vec!["EN 319 532-4 Table C.26".into(), "RFC 6109 §4".into()],
            assertions: vec![],
            file: "kit.toml".into(),
            op: "verify".into(),
            outcome,
            detail: if held {
                String::new()
            } else {
                "signature.valid: expected true, got false".into()
            },
            checks: vec![Check {
                path: "signature.valid".into(),
                expected: "true".into(),
                actual: Some(Value::Bool(held)),
                held,
            }],
            waiver: None,
            millis: 12,
        };
        Report {
            suite: "s".into(),
            subject: "inproc".into(),
            results: vec![
                case("a.ok", Outcome::Pass, true),
                case("a.bad", Outcome::Fail, false),
            ],
            problems: vec![],
        }
    }

    #[test]
    fn json_has_the_binding_fields() {
        let v = json(&report());
        assert_eq!(v["total"], 2);
        assert_eq!(v["passed"], 1);
        assert_eq!(v["failed"], 1);
        assert_eq!(v["waived"], 0);
        assert_eq!(v["cases"][1]["id"], "a.bad");
        assert_eq!(v["cases"][1]["outcome"], "fail");
        assert_eq!(v["cases"][1]["clauses"][0], "EN 319 532-4 Table C.26");
        assert!(
            v["cases"][1]["detail"]
                .as_str()
                .unwrap()
                .contains("expected true")
        );
    }

    #[test]
    fn junit_and_html_are_escaped() {
        let x = junit(&report());
        assert!(x.contains("<testcase name=\"a.bad\" classname=\"kit.verify\""));
        assert!(x.contains("<property name=\"clause\" value=\"RFC 6109 §4\"/>"));
        assert!(x.contains("failures=\"1\""));
        assert!(x.contains("title of a.ok &lt;&amp;&gt;"));
        let h = html(&report());
        assert!(h.contains("<h2>Failures (1)</h2>"));
        assert!(h.contains("title of a.ok &lt;&amp;&gt;"));
        assert!(h.contains(
            "<tr class=\"miss\"><td>signature.valid</td><td>true</td><td>false</td></tr>"
        ));
        assert!(!h.contains("http://") && !h.contains("https://") && !h.contains("<script"));
    }
}
