//! The case format and the loader: a suite is a folder holding `suite.toml` (roots, fixtures,
//! the corpus default) and case files (`*.toml`, each a `[defaults]` table and `[[case]]`
//! entries). See `conformance/README.md` for the format with examples.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Error;
use crate::judge::Expectation;
use crate::mutate::Mutation;

/// The subjects a case can apply to (`subjects = [...]` in a case).
pub const SUBJECT_KINDS: [&str; 3] = ["inproc", "cli", "smtp"];

/// The locator schemes that are not roots: `corpus:`, `suite:`, `fixture:`, `var:`.
pub const SCHEMES: [&str; 4] = ["corpus", "suite", "fixture", "var"];

/// A loaded suite.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The folder (absolute).
    pub dir: PathBuf,
    /// Its name (`name` in `suite.toml`).
    pub name: String,
    /// The corpus folder the `corpus:` locators read (absolute or as given).
    pub corpus: PathBuf,
    /// Named folders (`[roots]`), as `NAME:` locators.
    pub roots: BTreeMap<String, PathBuf>,
    /// Files rendered into each case's work folder (`[fixtures]`): name → template.
    pub fixtures: BTreeMap<String, PathBuf>,
    /// The cases, in file order then declaration order.
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Debug, Clone)]
pub struct Case {
    /// Clause-named identifier (`rem.message.kit.dispatch-ra01`).
    pub id: String,
    /// What it checks, in one line.
    pub title: String,
    /// The clauses it checks (`EN 319 532-4 Table C.26`, `RFC 6109 §4.1`, ...).
    pub clauses: Vec<String>,
    /// ETSI TS 119 534-1 style assertion identifiers, where one fits.
    pub assertions: Vec<String>,
    /// The operation the subject performs (`verify`, `evidence`, `translate`, ...).
    pub op: String,
    /// The subjects it applies to.
    pub subjects: Vec<String>,
    /// The fixed "now" (RFC 3339).
    pub now: String,
    /// The input, as a locator (`corpus:pec/real/x.eml`).
    pub input: String,
    /// Where the input comes from (required for corpus inputs).
    pub provenance: Option<String>,
    /// Changes made to the input before the subject sees it (the corpus is never written).
    pub mutate: Vec<Mutation>,
    /// Parameters of the operation (locators resolved when the case runs).
    pub params: Map<String, Value>,
    /// The expectations: observation path → matcher, in the order written.
    pub expect: Vec<Expectation>,
    /// Free remarks.
    pub comment: Option<String>,
    /// The case file (relative to the suite folder).
    pub file: String,
}

impl Case {
    /// Whether the case applies to a subject of this kind.
    pub fn applies_to(&self, kind: &str) -> bool {
        self.subjects.iter().any(|s| s == kind)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    name: String,
    #[serde(default)]
    corpus_default: Option<String>,
    #[serde(default)]
    roots: BTreeMap<String, String>,
    #[serde(default)]
    fixtures: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    op: Option<String>,
    subjects: Option<Vec<String>>,
    now: Option<String>,
    clauses: Option<Vec<String>>,
    provenance: Option<String>,
    #[serde(default)]
    params: toml::Table,
    #[serde(default)]
    expect: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: String,
    title: String,
    #[serde(default)]
    clauses: Option<Vec<String>>,
    #[serde(default)]
    assertions: Vec<String>,
    op: Option<String>,
    subjects: Option<Vec<String>>,
    now: Option<String>,
    input: String,
    provenance: Option<String>,
    #[serde(default)]
    mutate: Vec<toml::Table>,
    #[serde(default)]
    params: toml::Table,
    #[serde(default)]
    expect: toml::Table,
    comment: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    defaults: Option<Defaults>,
    #[serde(default)]
    case: Vec<RawCase>,
}

/// Loads the suite in `dir`; `corpus` overrides `$PONTE_CORPUS` and `corpus_default`.
pub fn load(dir: &Path, corpus: Option<&Path>) -> Result<Suite, Error> {
    let dir = std::path::absolute(dir).map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let suite_path = dir.join("suite.toml");
    let sf: SuiteFile = read_toml(&suite_path)?;
    let corpus = match (corpus, std::env::var_os("PONTE_CORPUS")) {
        (Some(c), _) => c.to_path_buf(),
        (None, Some(c)) => PathBuf::from(c),
        (None, None) => dir.join(sf.corpus_default.as_deref().unwrap_or("corpus")),
    };
    let mut roots = BTreeMap::new();
    for (name, rel) in &sf.roots {
        if SCHEMES.contains(&name.as_str()) || !is_scheme_name(name) {
            return Err(Error::Suite {
                path: suite_path.clone(),
                problem: format!(
                    "root name {name:?}: lower-case letters and digits, not one of {SCHEMES:?}"
                ),
            });
        }
        roots.insert(name.clone(), dir.join(rel));
    }
    let fixtures = sf
        .fixtures
        .iter()
        .map(|(n, rel)| (n.clone(), dir.join(rel)))
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::Io {
            path: dir.clone(),
            source: e,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "toml")
                && p.file_name().is_some_and(|n| n != "suite.toml")
        })
        .collect();
    files.sort();
    let mut suite = Suite {
        dir: dir.clone(),
        name: sf.name,
        corpus,
        roots,
        fixtures,
        cases: Vec::new(),
    };
    let mut seen = BTreeSet::new();
    for f in files {
        let cf: CaseFile = read_toml(&f)?;
        let rel = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let defaults = cf.defaults.unwrap_or_default();
        for raw in cf.case {
            let case = build_case(&suite, &defaults, raw, &rel).map_err(|problem| Error::Case {
                path: f.clone(),
                problem,
            })?;
            if !seen.insert(case.id.clone()) {
                return Err(Error::Case {
                    path: f.clone(),
                    problem: format!("case id {} is used twice in the suite", case.id),
                });
            }
            suite.cases.push(case);
        }
    }
    Ok(suite)
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    toml::from_str(&text).map_err(|e| Error::Toml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn is_scheme_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether `id` is a clause-named identifier: lower-case letters, digits, `.`, `-`, `_`,
/// starting with a letter or digit.
pub fn valid_id(id: &str) -> bool {
    let mut b = id.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'_')
        })
}

/// Whether `s` has the shape `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` (RFC 3339).
pub fn valid_instant(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r)
            .is_some_and(|x| x.iter().all(|c| c.is_ascii_digit()))
    };
    if b.len() < 20
        || !digits(0..4)
        || b.get(4) != Some(&b'-')
        || !digits(5..7)
        || b.get(7) != Some(&b'-')
        || !digits(8..10)
        || !matches!(b.get(10), Some(b'T' | b't'))
        || !digits(11..13)
        || b.get(13) != Some(&b':')
        || !digits(14..16)
        || b.get(16) != Some(&b':')
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

fn build_case(suite: &Suite, d: &Defaults, raw: RawCase, file: &str) -> Result<Case, String> {
    let id = raw.id;
    if !valid_id(&id) {
        return Err(format!(
            "case id {id:?}: lower-case letters, digits, '.', '-' and '_' only"
        ));
    }
    let at = |what: &str| format!("case {id}: {what}");
    if raw.title.trim().is_empty() {
        return Err(at("empty title"));
    }
    let clauses = raw
        .clauses
        .or_else(|| d.clauses.clone())
        .unwrap_or_default();
    if clauses.is_empty() || clauses.iter().any(|c| c.trim().is_empty()) {
        return Err(at("needs at least one clause, none empty"));
    }
    let op = raw
        .op
        .or_else(|| d.op.clone())
        .ok_or_else(|| at("no op (give one in the case or in [defaults])"))?;
    let subjects = raw
        .subjects
        .or_else(|| d.subjects.clone())
        .unwrap_or_else(|| vec!["inproc".into(), "cli".into()]);
    if subjects.is_empty() {
        return Err(at("subjects is empty"));
    }
    if let Some(s) = subjects
        .iter()
        .find(|s| !SUBJECT_KINDS.contains(&s.as_str()))
    {
        return Err(at(&format!(
            "unknown subject {s:?} (one of {SUBJECT_KINDS:?})"
        )));
    }
    let now = raw
        .now
        .or_else(|| d.now.clone())
        .ok_or_else(|| at("no now (the fixed instant the case is judged at)"))?;
    if !valid_instant(&now) {
        return Err(at(&format!("now {now:?} is not an RFC 3339 instant")));
    }
    check_locator(suite, &raw.input).map_err(|e| at(&format!("input: {e}")))?;
    let provenance = raw.provenance.or_else(|| d.provenance.clone());
    if raw.input.starts_with("corpus:") && provenance.as_deref().is_none_or(str::is_empty) {
        return Err(at(
            "a corpus input needs its provenance (who made it, where it comes from)",
        ));
    }
    let mutate = raw
        .mutate
        .iter()
        .map(Mutation::from_toml)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| at(&format!("mutate: {e}")))?;
    let mut params = toml_table_to_json(&d.params);
    for (k, v) in toml_table_to_json(&raw.params) {
        params.insert(k, v);
    }
    let mut expect_table = d.expect.clone();
    for (k, v) in raw.expect {
        expect_table.insert(k, v);
    }
    let expect = expect_table
        .iter()
        .map(|(path, v)| Expectation::from_toml(path, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| at(&format!("expect: {e}")))?;
    if expect.is_empty() {
        return Err(at("no expectations"));
    }
    Ok(Case {
        id,
        title: raw.title,
        clauses,
        assertions: raw.assertions,
        op,
        subjects,
        now,
        input: raw.input,
        provenance,
        mutate,
        params,
        expect,
        comment: raw.comment,
        file: file.to_string(),
    })
}

fn check_locator(suite: &Suite, loc: &str) -> Result<(), String> {
    match loc.split_once(':') {
        Some((scheme, rest))
            if !rest.is_empty()
                && (SCHEMES.contains(&scheme) || suite.roots.contains_key(scheme)) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{loc:?} is not a locator (corpus:, suite:, fixture:, var: or a root of suite.toml: {:?})",
            suite.roots.keys().collect::<Vec<_>>()
        )),
    }
}

/// TOML to JSON (datetimes become their RFC 3339 text).
pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(toml_table_to_json(t)),
    }
}

fn toml_table_to_json(t: &toml::Table) -> Map<String, Value> {
    t.iter()
        .map(|(k, v)| (k.clone(), toml_to_json(v)))
        .collect()
}

/// Where the files of one run of one case are: the suite's folders, the rendered fixtures,
/// and the variables the runner was given.
#[derive(Debug, Clone)]
pub struct Resolver<'a> {
    /// The suite.
    pub suite: &'a Suite,
    /// The case's work folder (rendered fixtures live here).
    pub work: &'a Path,
    /// Variables (`var:NAME`, `{{var:NAME}}` in fixtures).
    pub vars: &'a BTreeMap<String, String>,
}

impl Resolver<'_> {
    /// The path a locator names. `Ok(None)` when the string is not a locator (its scheme is
    /// neither a scheme nor a root): it is then a plain value.
    pub fn path(&self, loc: &str) -> Result<Option<PathBuf>, String> {
        let Some((scheme, rest)) = loc.split_once(':') else {
            return Ok(None);
        };
        let p = match scheme {
            "corpus" => self.suite.corpus.join(rest),
            "suite" => self.suite.dir.join(rest),
            "fixture" => {
                if !self.suite.fixtures.contains_key(rest) {
                    return Err(format!("{loc}: no fixture {rest:?} in suite.toml"));
                }
                self.work.join(rest)
            }
            "var" => match self.vars.get(rest) {
                Some(v) => PathBuf::from(v),
                None => return Err(format!("{loc}: the runner has no variable {rest:?}")),
            },
            other => match self.suite.roots.get(other) {
                Some(root) => root.join(rest),
                None => return Ok(None),
            },
        };
        if !p.exists() {
            return Err(format!("{loc}: {} does not exist", p.display()));
        }
        Ok(Some(p))
    }

    /// The value with every locator string (in arrays and tables too) replaced by its
    /// absolute path.
    pub fn resolve(&self, v: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => match self.path(s)? {
                Some(p) => Value::String(p.display().to_string()),
                None => v.clone(),
            },
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.resolve(x))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Ok((k.clone(), self.resolve(x)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Renders the suite's fixtures into the work folder: `{{corpus}}`, `{{suite}}`,
    /// `{{work}}`, `{{root:NAME}}` and `{{var:NAME}}` are replaced; `{{include:LOCATOR}}` by
    /// the text of that file, `{{pem_body:LOCATOR}}` by the base64 of its first PEM block on
    /// one line (a certificate of the corpus in an LDIF snapshot, without copying it).
    pub fn render_fixtures(&self) -> Result<(), String> {
        for (name, template) in &self.suite.fixtures {
            let text = std::fs::read_to_string(template)
                .map_err(|e| format!("fixture {name}: {}: {e}", template.display()))?;
            let out = self
                .render(&text)
                .map_err(|e| format!("fixture {name}: {e}"))?;
            let dest = self.work.join(name);
            std::fs::write(&dest, out).map_err(|e| format!("{}: {e}", dest.display()))?;
        }
        Ok(())
    }

    fn render(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let j = after
                .find("}}")
                .ok_or_else(|| "an unclosed {{".to_string())?;
            let key = after[..j].trim();
            let value = match key.split_once(':') {
                None if key == "corpus" => self.suite.corpus.display().to_string(),
                None if key == "suite" => self.suite.dir.display().to_string(),
                None if key == "work" => self.work.display().to_string(),
                Some(("root", r)) => self
                    .suite
                    .roots
                    .get(r)
                    .map(|p| p.display().to_string())
                    .ok_or_else(|| format!("no root {r:?}"))?,
                Some(("var", v)) => self
                    .vars
                    .get(v)
                    .cloned()
                    .ok_or_else(|| format!("the runner has no variable {v:?}"))?,
                Some(("include", loc)) => {
                    let p = self
                        .path(loc)?
                        .ok_or_else(|| format!("include:{loc}: not a locator"))?;
                    std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?
                }
                Some(("pem_body", loc)) => {
                    let p = self
                        .path(loc)?
                        .ok_or_else(|| format!("pem_body:{loc}: not a locator"))?;
                    let text =
                        std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                    let body: String = text
                        .lines()
                        .skip_while(|l| !l.starts_with("-----BEGIN"))
                        .skip(1)
                        .take_while(|l| !l.starts_with("-----END"))
                        .map(str::trim)
                        .collect();
                    if body.is_empty() {
                        return Err(format!("pem_body:{loc}: no PEM block"));
                    }
                    body
                }
                _ => return Err(format!("unknown placeholder {{{{{key}}}}}")),
            };
            out.push_str(&value);
            rest = &after[j + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_instants() {
        assert!(valid_id("rem.message.kit.dispatch-ra01"));
        assert!(!valid_id("Rem.x"));
        assert!(!valid_id(".x"));
        assert!(!valid_id("a b"));
        assert!(valid_instant("2024-12-05T10:00:00Z"));
        assert!(valid_instant("2024-12-05T10:00:00.25+01:00"));
        assert!(!valid_instant("2024-12-05 10:00:00Z"));
        assert!(!valid_instant("2024-12-05T10:00:00"));
        assert!(!valid_instant("2024-12-05T10:00:00+0100"));
    }

    fn suite_in(dir: &Path, case_file: &str) -> Result<Suite, Error> {
        std::fs::write(
            dir.join("suite.toml"),
            "name = \"t\"\ncorpus_default = \"c\"\n[roots]\npki = \"p\"\n[fixtures]\n\"g.toml\" = \"g.in\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("cases.toml"), case_file).unwrap();
        load(dir, Some(&dir.join("c")))
    }

    #[test]
    fn defaults_merge_and_problems_are_named() {
        let d = tempfile::tempdir().unwrap();
        let s = suite_in(
            d.path(),
            r#"
[defaults]
op = "verify"
now = "2025-01-01T00:00:00Z"
clauses = ["RFC 6109 §4"]
[defaults.params]
trust = ["pki:root.pem"]
at = "signing-time"
[defaults.expect]
exit = 0

[[case]]
id = "a.one"
title = "one"
input = "suite:x.eml"
[case.params]
at = "now"
[case.expect]
"signature.valid" = true
"#,
        )
        .unwrap();
        let c = &s.cases[0];
        assert_eq!(c.op, "verify");
        assert_eq!(c.subjects, ["inproc", "cli"]);
        assert_eq!(c.params["at"], "now");
        assert_eq!(c.params["trust"][0], "pki:root.pem");
        assert_eq!(c.expect.len(), 2);
        assert_eq!(s.corpus, d.path().join("c"));

        for (bad, what) in [
            (
                "[[case]]\nid = \"A\"\ntitle = \"t\"\nop = \"v\"\nnow = \"2025-01-01T00:00:00Z\"\nclauses = [\"x\"]\ninput = \"suite:x\"\nexpect = { exit = 0 }\n",
                "lower-case",
            ),
            (
                "[[case]]\nid = \"a\"\ntitle = \"t\"\nop = \"v\"\nnow = \"2025-01-01T00:00:00Z\"\nclauses = [\"x\"]\ninput = \"corpus:x\"\nexpect = { exit = 0 }\n",
                "provenance",
            ),
            (
                "[[case]]\nid = \"a\"\ntitle = \"t\"\nop = \"v\"\nnow = \"2025-01-01T00:00:00Z\"\ninput = \"suite:x\"\nexpect = { exit = 0 }\n",
                "clause",
            ),
            (
                "[[case]]\nid = \"a\"\ntitle = \"t\"\nop = \"v\"\nnow = \"yesterday\"\nclauses = [\"x\"]\ninput = \"suite:x\"\nexpect = { exit = 0 }\n",
                "RFC 3339",
            ),
            (
                "[[case]]\nid = \"a\"\ntitle = \"t\"\nop = \"v\"\nnow = \"2025-01-01T00:00:00Z\"\nclauses = [\"x\"]\ninput = \"http://x\"\nexpect = { exit = 0 }\n",
                "not a locator",
            ),
            (
                "[[case]]\nid = \"a\"\ntitle = \"t\"\nop = \"v\"\nnow = \"2025-01-01T00:00:00Z\"\nclauses = [\"x\"]\ninput = \"suite:x\"\nsubjects = [\"ftp\"]\nexpect = { exit = 0 }\n",
                "unknown subject",
            ),
            (
                "[[case]]\nid = \"a\"\ntitle = \"t\"\nop = \"v\"\nnow = \"2025-01-01T00:00:00Z\"\nclauses = [\"x\"]\ninput = \"suite:x\"\n",
                "no expectations",
            ),
            (
                "[[case]]\nid = \"a\"\ntitle = \"t\"\nop = \"v\"\nnow = \"2025-01-01T00:00:00Z\"\nclauses = [\"x\"]\ninput = \"suite:x\"\nexpect = { exit = 0 }\n[[case]]\nid = \"a\"\ntitle = \"t\"\nop = \"v\"\nnow = \"2025-01-01T00:00:00Z\"\nclauses = [\"x\"]\ninput = \"suite:x\"\nexpect = { exit = 0 }\n",
                "used twice",
            ),
            (
                "[[case]]\nid = \"a\"\ntitle = \"t\"\nop = \"v\"\nnow = \"2025-01-01T00:00:00Z\"\nclauses = [\"x\"]\ninput = \"suite:x\"\ncolour = 1\nexpect = { exit = 0 }\n",
                "colour",
            ),
        ] {
            let e = suite_in(d.path(), bad).expect_err(what).to_string();
            assert!(e.contains(what) && e.contains("cases.toml"), "{what}: {e}");
        }
    }

    #[test]
    fn locators_resolve_and_fixtures_render() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("p")).unwrap();
        std::fs::write(d.path().join("p/root.pem"), "x").unwrap();
        std::fs::write(
            d.path().join("p/cert.pem"),
            "-----BEGIN CERTIFICATE-----\nAAAA\nBBBB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("g.in"),
            "key = \"{{root:pki}}/k\"\nurl = \"{{var:tsa_url}}\"\nw = \"{{work}}\"\ninc = {{include:pki:root.pem}}\ncert = {{pem_body:pki:cert.pem}}",
        )
        .unwrap();
        let s = suite_in(d.path(), "").unwrap();
        let work = tempfile::tempdir().unwrap();
        let vars = BTreeMap::from([("tsa_url".to_string(), "http://127.0.0.1:9".to_string())]);
        let r = Resolver {
            suite: &s,
            work: work.path(),
            vars: &vars,
        };
        r.render_fixtures().unwrap();
        let g = std::fs::read_to_string(work.path().join("g.toml")).unwrap();
        assert!(
            g.contains("p/k\"") && g.contains("http://127.0.0.1:9"),
            "{g}"
        );
        assert!(g.contains("inc = x\ncert = AAAABBBB"), "{g}");
        let v = r
            .resolve(&serde_json::json!({"trust": ["pki:root.pem"], "at": "signing-time", "u": "http://x", "c": "fixture:g.toml"}))
            .unwrap();
        assert!(v["trust"][0].as_str().unwrap().ends_with("p/root.pem"));
        assert_eq!(v["at"], "signing-time");
        assert_eq!(v["u"], "http://x");
        assert!(v["c"].as_str().unwrap().ends_with("g.toml"));
        let e = r
            .resolve(&serde_json::json!("pki:missing.pem"))
            .unwrap_err();
        assert!(e.contains("missing.pem"), "{e}");
    }
}
