//! Judging: every expectation of a case is a path into the subject's observation (a JSON
//! value: `signature.valid`, `rem.headers.REM-MessageType`, `outputs.0.type`) and a matcher.
//! The observation format is documented in `conformance/README.md`.

use serde_json::Value;

use crate::case::{Resolver, toml_to_json};

/// What an observed value must be.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// Equal to this value (`null` also matches a missing value; numbers compare by value).
    Equals(Value),
    /// Not equal to this value.
    Not(Value),
    /// An array or string of this length (an object: this many keys).
    Len(usize),
    /// An array or string of at least this length.
    AtLeast(usize),
    /// An array holding an element equal to this value.
    Contains(Value),
    /// Equal to one of these values.
    OneOf(Vec<Value>),
    /// A string starting with this text (for wire values with a fixed prefix, e.g. a subject).
    StartsWith(String),
    /// Missing or `null` (`absent = true`), or present and not `null` (`absent = false`).
    Absent(bool),
    /// A string equal to the text of the file a locator names (`trimmed`: both sides trimmed).
    EqualsFile {
        /// The locator.
        locator: String,
        /// Compare trimmed.
        trimmed: bool,
    },
}

/// One expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// The observation path (dot-separated; array positions as numbers).
    pub path: String,
    /// The matcher.
    pub matcher: Matcher,
}

/// An expectation that did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// The path.
    pub path: String,
    /// The expectation, written as in the case.
    pub expected: String,
    /// What was observed there (`None`: nothing).
    pub actual: Option<Value>,
}

const MATCHERS: [&str; 10] = [
    "equals",
    "not",
    "len",
    "at_least",
    "contains",
    "one_of",
    "starts_with",
    "absent",
    "equals_file",
    "equals_file_trimmed",
];

impl Expectation {
    /// Reads `path = value` of a `[case.expect]` table. A value that is an inline table with
    /// exactly one key among `equals`, `not`, `len`, `at_least`, `contains`, `one_of`,
    /// `starts_with`, `absent`, `equals_file`, `equals_file_trimmed` is that matcher;
    /// anything else must be equal.
    pub fn from_toml(path: &str, v: &toml::Value) -> Result<Expectation, String> {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!("path {path:?}: empty segment"));
        }
        let matcher = match v {
            toml::Value::Table(t) if t.len() == 1 => {
                let (k, x) = t.iter().next().ok_or("empty table")?;
                let count = |x: &toml::Value| match x {
                    toml::Value::Integer(i) if *i >= 0 => {
                        usize::try_from(*i).map_err(|_| format!("{path}: {k} too large"))
                    }
                    _ => Err(format!("{path}: {k} must be a non-negative integer")),
                };
                let text = |x: &toml::Value| match x {
                    toml::Value::String(s) => Ok(s.clone()),
                    _ => Err(format!("{path}: {k} must be a string")),
                };
                match k.as_str() {
                    "equals" => Matcher::Equals(toml_to_json(x)),
                    "not" => Matcher::Not(toml_to_json(x)),
                    "len" => Matcher::Len(count(x)?),
                    "at_least" => Matcher::AtLeast(count(x)?),
                    "contains" => Matcher::Contains(toml_to_json(x)),
                    "one_of" => match x {
                        toml::Value::Array(a) => {
                            Matcher::OneOf(a.iter().map(toml_to_json).collect())
                        }
                        _ => return Err(format!("{path}: one_of must be a list")),
                    },
                    "starts_with" => Matcher::StartsWith(text(x)?),
                    "absent" => match x {
                        toml::Value::Boolean(b) => Matcher::Absent(*b),
                        _ => return Err(format!("{path}: absent must be true or false")),
                    },
                    "equals_file" => Matcher::EqualsFile {
                        locator: text(x)?,
                        trimmed: false,
                    },
                    "equals_file_trimmed" => Matcher::EqualsFile {
                        locator: text(x)?,
                        trimmed: true,
                    },
                    other => {
                        return Err(format!(
                            "{path}: {{ {other} = .. }} is not a matcher (one of {MATCHERS:?}); compare objects path by path"
                        ));
                    }
                }
            }
            toml::Value::Table(_) => {
                return Err(format!(
                    "{path}: a table is not an expected value; compare objects path by path"
                ));
            }
            other => Matcher::Equals(toml_to_json(other)),
        };
        Ok(Expectation {
            path: path.to_string(),
            matcher,
        })
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Equals(v) => write!(f, "{v}"),
            Matcher::Not(v) => write!(f, "not {v}"),
            Matcher::Len(n) => write!(f, "length {n}"),
            Matcher::AtLeast(n) => write!(f, "length at least {n}"),
            Matcher::Contains(v) => write!(f, "contains {v}"),
            Matcher::OneOf(v) => write!(
                f,
                "one of {}",
                v.iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Matcher::StartsWith(s) => write!(f, "starts with {s:?}"),
            Matcher::Absent(true) => f.write_str("absent"),
            Matcher::Absent(false) => f.write_str("present"),
            Matcher::EqualsFile { locator, trimmed } => write!(
                f,
                "the text of {locator}{}",
                if *trimmed { " (trimmed)" } else { "" }
            ),
        }
    }
}

/// The value at `path` in `v`, if any.
pub fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(o) => o.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ => a == b,
    }
}

fn length(v: &Value) -> Option<usize> {
    match v {
        Value::Array(a) => Some(a.len()),
        Value::String(s) => Some(s.chars().count()),
        Value::Object(o) => Some(o.len()),
        _ => None,
    }
}

/// Whether `actual` satisfies `m`; `Err` when the matcher itself cannot be evaluated (a file
/// that cannot be read).
pub fn holds(m: &Matcher, actual: Option<&Value>, r: &Resolver<'_>) -> Result<bool, String> {
    let is_null = actual.is_none_or(Value::is_null);
    Ok(match m {
        Matcher::Equals(Value::Null) => is_null,
        Matcher::Equals(e) => actual.is_some_and(|a| same(a, e)),
        Matcher::Not(Value::Null) => !is_null,
        Matcher::Not(e) => !actual.is_some_and(|a| same(a, e)),
        Matcher::Len(n) => actual.and_then(length) == Some(*n),
        Matcher::AtLeast(n) => actual.and_then(length).is_some_and(|l| l >= *n),
        Matcher::Contains(e) => match actual {
            Some(Value::Array(a)) => a.iter().any(|x| same(x, e)),
            _ => false,
        },
        Matcher::OneOf(list) => actual.is_some_and(|a| list.iter().any(|e| same(a, e))),
        Matcher::StartsWith(p) => actual
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with(p.as_str())),
        Matcher::Absent(want) => is_null == *want,
        Matcher::EqualsFile { locator, trimmed } => {
            let path = r
                .path(locator)?
                .ok_or_else(|| format!("{locator} is not a locator"))?;
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            match actual.and_then(Value::as_str) {
                Some(s) if *trimmed => s.trim() == text.trim(),
                Some(s) => s == text,
                None => false,
            }
        }
    })
}

/// Judges an observation: the expectations that do not hold.
pub fn judge(
    expect: &[Expectation],
    observation: &Value,
    r: &Resolver<'_>,
) -> Result<Vec<Mismatch>, String> {
    let mut out = Vec::new();
    for e in expect {
        let actual = lookup(observation, &e.path);
        if !holds(&e.matcher, actual, r)? {
            out.push(Mismatch {
                path: e.path.clone(),
                expected: e.matcher.to_string(),
                actual: actual.cloned(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn e(path: &str, v: &str) -> Expectation {
        let t: toml::Table = toml::from_str(&format!("x = {v}")).unwrap();
        Expectation::from_toml(path, &t["x"]).unwrap()
    }

    #[test]
    fn matchers() {
        let s = crate::case::Suite {
            dir: ".".into(),
            name: "t".into(),
            corpus: ".".into(),
            roots: Default::default(),
            fixtures: Default::default(),
            cases: vec![],
        };
        let vars = Default::default();
        let r = Resolver {
            suite: &s,
            work: std::path::Path::new("."),
            vars: &vars,
        };
        let obs = json!({
            "exit": 0,
            "signature": {"valid": true, "reason": null, "digest": "sha1"},
            "rem": {"headers": {"REM-ApplicablePolicy": ["a", "b"]}},
            "outputs": [{"type": "accettazione"}],
            "subject": "REM Dispatch: x",
        });
        let ok = [
            e("exit", "0"),
            e("exit", "0.0"),
            e("signature.valid", "true"),
            e("signature.reason", "{ absent = true }"),
            e("signature.missing", "{ equals = \"\" }"),
            e("signature.digest", "{ one_of = [\"sha1\", \"sha256\"] }"),
            e("signature.digest", "{ not = \"sha256\" }"),
            e("rem.headers.REM-ApplicablePolicy", "{ len = 2 }"),
            e("rem.headers.REM-ApplicablePolicy", "{ contains = \"b\" }"),
            e("outputs.0.type", "\"accettazione\""),
            e("outputs", "{ at_least = 1 }"),
            e("subject", "{ starts_with = \"REM Dispatch: \" }"),
            e("nothing", "{ absent = true }"),
            e("exit", "{ absent = false }"),
        ];
        let bad: Vec<Mismatch> = judge(&ok, &obs, &r).unwrap();
        // "signature.missing" equals "" fails (missing is not ""), all others hold.
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].path, "signature.missing");
        let fails = [
            e("exit", "1"),
            e("signature.valid", "false"),
            e("signature.digest", "{ absent = true }"),
            e("rem.headers.REM-ApplicablePolicy", "{ len = 1 }"),
            e("outputs.1.type", "\"x\""),
            e("subject", "{ starts_with = \"REM Receipt\" }"),
        ];
        assert_eq!(judge(&fails, &obs, &r).unwrap().len(), fails.len());
        let t: toml::Table = toml::from_str("x = { colour = 1 }").unwrap();
        assert!(
            Expectation::from_toml("a", &t["x"])
                .unwrap_err()
                .contains("not a matcher")
        );
    }
}
