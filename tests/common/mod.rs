//! Shared helpers of the end-to-end tests: where the corpus and the test PKI are, how to run
//! the `ponte` binary, and which external oracles (openssl, xmllint, xmlsec1, slapd) are present.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared corpus: `$PONTE_CORPUS`, else `../shared/corpus` beside the checkout.
pub fn corpus() -> PathBuf {
    match std::env::var_os("PONTE_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => repo().join("../shared/corpus"),
    }
}

/// A file of the corpus.
pub fn corpus_file(rel: &str) -> PathBuf {
    corpus().join(rel)
}

/// A file of the test PKI (`tests/pki/`, made by `tests/pki/make.sh`).
pub fn pki(name: &str) -> PathBuf {
    repo().join("tests/pki").join(name)
}

/// The `ponte` binary built for this test run.
pub fn ponte() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ponte"))
}

/// Runs `ponte` with `args`; returns the output.
pub fn run_ponte<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    ponte().args(args).output().expect("spawn ponte")
}

/// Whether an external program is on PATH. Oracles are required in CI (`CI=true`): a missing
/// one fails the test there instead of skipping it.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found && std::env::var_os("CI").is_some() {
        panic!("{tool} is required in CI but is not installed (.ci/run installs it)");
    }
    found
}

/// Converts LF line endings to CRLF (leaves existing CRLF alone).
pub fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}
