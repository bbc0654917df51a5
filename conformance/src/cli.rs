//! `cli:TEMPLATE`: runs a command per case, so another implementation's tool can be measured.
//!
//! The template is run by `sh -c` after its placeholders are replaced (each shell-quoted):
//! `{in}` the input file, `{out}` where the tool writes its observation (JSON), `{op}`,
//! `{now}`, `{id}`, `{work}` (a fresh folder for the case) and `{request}` (a JSON file with
//! all of it and the resolved parameters). The same values are in the environment:
//! `CONFORMANCE_IN`, `CONFORMANCE_OUT`, `CONFORMANCE_OP`, `CONFORMANCE_NOW`,
//! `CONFORMANCE_ID`, `CONFORMANCE_WORK`, `CONFORMANCE_REQUEST`, and one
//! `CONFORMANCE_PARAM_<NAME>` per parameter (upper case; a list as one item per line, a
//! table as JSON). The observation is the JSON object written to `{out}`, with `exit` set
//! to the command's exit code unless the tool wrote one; when nothing was written it is
//! `{"exit": N, "stderr": "..."}`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::subject::{Request, Subject, SubjectError};

/// The command-per-case subject.
#[derive(Debug, Clone)]
pub struct CliSubject {
    /// The template (`sh -c` syntax, with placeholders).
    pub template: String,
    /// How long one case may run.
    pub timeout: Duration,
}

impl CliSubject {
    /// A subject running `template` (what follows `cli:`), 120 s per case.
    pub fn new(template: &str) -> Result<CliSubject, SubjectError> {
        if template.trim().is_empty() {
            return Err(SubjectError("cli: the command template is empty".into()));
        }
        Ok(CliSubject {
            template: template.to_string(),
            timeout: Duration::from_secs(120),
        })
    }
}

/// `s` quoted for `sh`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn substitute(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    'outer: while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        for (k, v) in vars {
            let ph = format!("{{{k}}}");
            if let Some(tail) = after.strip_prefix(ph.as_str()) {
                out.push_str(&shell_quote(v));
                rest = tail;
                continue 'outer;
            }
        }
        out.push('{');
        rest = &after[1..];
    }
    out.push_str(rest);
    out
}

fn env_name(param: &str) -> String {
    let up: String = param
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CONFORMANCE_PARAM_{up}")
}

fn env_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

fn tail(s: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(s);
    let t = text.trim();
    let start = t.char_indices().rev().nth(n).map_or(0, |(i, _)| i);
    t[start..].to_string()
}

impl Subject for CliSubject {
    fn name(&self) -> String {
        format!("cli:{}", self.template)
    }

    fn kind(&self) -> &'static str {
        "cli"
    }

    fn observe(&self, req: &Request<'_>) -> Result<Value, SubjectError> {
        let out_path = req.work.join("observation.json");
        let request_path = req.work.join("request.json");
        let request = json!({
            "id": req.id,
            "op": req.op,
            "input": req.input.display().to_string(),
            "now": req.now,
            "params": req.params,
            "work": req.work.display().to_string(),
            "out": out_path.display().to_string(),
        });
        // A previous run's observation must not be taken for this one's.
        let _ = std::fs::remove_file(&out_path);
        std::fs::write(&request_path, request.to_string())
            .map_err(|e| SubjectError(format!("{}: {e}", request_path.display())))?;
        let p = |x: &Path| x.display().to_string();
        let vars = [
            ("in", p(req.input)),
            ("out", p(&out_path)),
            ("op", req.op.to_string()),
            ("now", req.now.to_string()),
            ("id", req.id.to_string()),
            ("work", p(req.work)),
            ("request", p(&request_path)),
        ];
        let script = substitute(&self.template, &vars);
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(&script).current_dir(req.work);
        for (k, v) in &vars {
            cmd.env(format!("CONFORMANCE_{}", k.to_ascii_uppercase()), v);
        }
        for (k, v) in req.params {
            cmd.env(env_name(k), env_value(v));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| SubjectError(format!("cli: cannot run sh: {e}")))?;
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if started.elapsed() > self.timeout => {
                    // The whole process group: the shell and what it started.
                    let _ = Command::new("kill")
                        .arg("-KILL")
                        .arg("--")
                        .arg(format!("-{}", child.id()))
                        .status();
                    let _ = child.wait();
                    return Err(SubjectError(format!(
                        "cli: no answer within {} s",
                        self.timeout.as_secs()
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => return Err(SubjectError(format!("cli: waiting: {e}"))),
            }
        };
        let output = child
            .wait_with_output()
            .map_err(|e| SubjectError(format!("cli: reading output: {e}")))?;
        let code = status.code().map_or(Value::Null, Value::from);
        let written = std::fs::read(&out_path).ok().filter(|b| !b.is_empty());
        match written {
            Some(bytes) => {
                let mut v: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    SubjectError(format!(
                        "cli: {} is not JSON ({e}); stderr: {}",
                        out_path.display(),
                        tail(&output.stderr, 300)
                    ))
                })?;
                match v.as_object_mut() {
                    Some(o) => {
                        o.entry("exit").or_insert(code);
                    }
                    None => {
                        return Err(SubjectError(format!(
                            "cli: {} holds no JSON object",
                            out_path.display()
                        )));
                    }
                }
                Ok(v)
            }
            None => Ok(json!({
                "exit": code,
                "stderr": tail(&output.stderr, 500),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_quoted() {
        let s = substitute(
            "tool {op} {in} > {out} {unknown}",
            &[
                ("op", "verify".into()),
                ("in", "/a b/it's.eml".into()),
                ("out", "/o".into()),
            ],
        );
        assert_eq!(s, "tool 'verify' '/a b/it'\\''s.eml' > '/o' {unknown}");
        assert_eq!(env_name("tsa_trust"), "CONFORMANCE_PARAM_TSA_TRUST");
        assert_eq!(env_value(&json!(["a", "b"])), "a\nb");
    }

    #[test]
    fn a_command_per_case() {
        let work = tempfile::tempdir().unwrap();
        let input = work.path().join("in.eml");
        std::fs::write(&input, "x").unwrap();
        let params = serde_json::Map::from_iter([("trust".to_string(), json!(["/r1", "/r2"]))]);
        let req = Request {
            id: "a.b",
            op: "verify",
            input: &input,
            now: "2025-01-01T00:00:00Z",
            params: &params,
            work: work.path(),
        };
        let s = CliSubject::new(
            "printf '{\"op\":\"%s\",\"n\":%s}' {op} \"$(printf '%s\\n' \"$CONFORMANCE_PARAM_TRUST\" | wc -l)\" > {out}; exit 1",
        )
        .unwrap();
        let v = s.observe(&req).unwrap();
        assert_eq!(v["op"], "verify");
        assert_eq!(v["n"], 2);
        assert_eq!(v["exit"], 1);
        // Nothing written: exit code and stderr.
        let s = CliSubject::new("echo nope >&2; exit 2").unwrap();
        let v = s.observe(&req).unwrap();
        assert_eq!(v, json!({"exit": 2, "stderr": "nope"}));
        // Garbage written: an error naming the file.
        let s = CliSubject::new("echo '{' > {out}").unwrap();
        assert!(s.observe(&req).unwrap_err().0.contains("not JSON"));
        let mut s = CliSubject::new("sleep 5").unwrap();
        s.timeout = Duration::from_millis(200);
        assert!(s.observe(&req).unwrap_err().0.contains("no answer"));
    }
}
