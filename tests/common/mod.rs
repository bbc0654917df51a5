//! Shared helpers of the end-to-end tests: where the corpus and the test PKI are, how to run
//! the `ponte` binary, and which external oracles (openssl, xmllint, xmlsec1, slapd) are present.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

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

/// A running `ponte tsa serve`, killed (by its own PID) when dropped.
pub struct DevTsa {
    child: Child,
    /// Its URL (`http://127.0.0.1:<port>/`).
    pub url: String,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl DevTsa {
    /// Starts one on a free loopback port, its data in a fresh temporary folder.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("tsa-data");
        let mut child = ponte()
            .args(["tsa", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ponte tsa serve");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        assert!(line.contains("NOT qualified"), "{line}");
        DevTsa {
            child,
            url,
            data,
            _dir: dir,
        }
    }

    /// Its self-signed TSU certificate (PEM), the anchor for its tokens.
    pub fn cert(&self) -> PathBuf {
        self.data.join("tsa.pem")
    }
}

impl Drop for DevTsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
