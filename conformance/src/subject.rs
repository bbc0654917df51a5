//! The implementation under test. A subject performs a case's operation on its input and
//! returns an observation (JSON) that the judge compares with the case's expectations.
//!
//! This crate holds the subjects that talk to the outside ([`crate::cli::CliSubject`]: a
//! command per case; [`crate::smtp::SmtpSubject`]: a live gateway). The in-process subject
//! of Ponte lives in the `ponte` binary, which implements [`Subject`] with its library.

use std::path::Path;

use serde_json::{Map, Value};

/// Everything a subject gets for one case. Locators are resolved: file parameters are
/// absolute paths.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The case id.
    pub id: &'a str,
    /// The operation (`verify`, `evidence`, `translate`, `prepare`, `daticert`).
    pub op: &'a str,
    /// The input file (the artefact in place, or the mutated copy in the work folder).
    pub input: &'a Path,
    /// The fixed instant of the case (RFC 3339).
    pub now: &'a str,
    /// The operation's parameters, resolved.
    pub params: &'a Map<String, Value>,
    /// A fresh folder for this case (rendered fixtures, outputs).
    pub work: &'a Path,
}

impl Request<'_> {
    /// A string parameter.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }

    /// A list-of-strings parameter (a single string counts as a list of one).
    pub fn strs(&self, name: &str) -> Vec<&str> {
        match self.params.get(name) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Why a subject could not observe a case (not a verdict: the case ends in error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SubjectError(pub String);

/// An implementation under test.
pub trait Subject: Sync {
    /// How reports name it (`inproc`, `cli:TEMPLATE`, `smtp://HOST:PORT`).
    fn name(&self) -> String;

    /// Which `subjects = [...]` entry of a case it is: `inproc`, `cli` or `smtp`.
    fn kind(&self) -> &'static str;

    /// Performs the case's operation and describes what happened.
    fn observe(&self, req: &Request<'_>) -> Result<Value, SubjectError>;

    /// Whether several cases may be observed at once (`--jobs`). A subject that shares one
    /// resource between cases (the `smtp://` subject's sink) says no: its cases run one after
    /// the other whatever `--jobs` says.
    fn concurrent(&self) -> bool {
        true
    }
}
