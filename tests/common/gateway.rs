//! `ponte serve` in its own process, configured in a temporary folder with the test PKI, for
//! the end-to-end tests of the gateway: start, SIGTERM, SIGKILL, restart on the same ports and
//! spool, the ops API, and the messages a test sends in.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{DevTsa, pki, ponte, run_ponte};

/// A free loopback port (bound and released: another process could take it in between, which
/// on a test machine does not happen in practice).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Which test provider a gateway is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// "Gestore Prova S.p.A.", pec.prova.test: pec-rsa, rem-rsa.
    Prova,
    /// "Altro Gestore S.p.A.", pec.altro.test: pec-other, rem-ec.
    Altro,
}

impl Provider {
    /// The provider's name.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Prova => "Gestore Prova S.p.A.",
            Provider::Altro => "Altro Gestore S.p.A.",
        }
    }

    /// Its PEC domain.
    pub fn domain(self) -> &'static str {
        match self {
            Provider::Prova => "pec.prova.test",
            Provider::Altro => "pec.altro.test",
        }
    }

    /// Its PEC key and certificate (test PKI file names).
    pub fn pec(self) -> (&'static str, &'static str) {
        match self {
            Provider::Prova => ("pec-rsa.key.pem", "pec-rsa.pem"),
            Provider::Altro => ("pec-other.key.pem", "pec-other.pem"),
        }
    }

    fn rem(self) -> (&'static str, &'static str) {
        match self {
            Provider::Prova => ("rem-rsa.key.pem", "rem-rsa.pem"),
            Provider::Altro => ("rem-ec.key.pem", "rem-ec.pem"),
        }
    }
}

/// A gateway process and its folder.
pub struct Gateway {
    /// Its folder (configuration, spool, logs).
    pub dir: PathBuf,
    /// The configuration file.
    pub config: PathBuf,
    /// The SMTP listener.
    pub smtp: SocketAddr,
    /// The ops listener.
    pub ops: SocketAddr,
    /// The ops token.
    pub token: String,
    child: Option<Child>,
    starts: u32,
    /// Where its stdout and stderr go (not in `dir`, which may be a small file system).
    logs: tempfile::TempDir,
    _tmp: Option<tempfile::TempDir>,
}

impl Gateway {
    /// A gateway of `provider` in a fresh temporary folder: the embedded test index, the test
    /// root as every anchor, `tsa`'s certificate for time-stamps (`tsa` `None`: no `[tsa]`),
    /// fast retries, and `extra` TOML (routes, `[pec]`, `[timers]` ...). Not started.
    pub fn new(provider: Provider, tsa: Option<&DevTsa>, extra: &str) -> Gateway {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut g = Gateway::in_dir(tmp.path(), provider, tsa, extra);
        g._tmp = Some(tmp);
        g
    }

    /// Like [`Gateway::new`] with `spool` as the body of its `[spool]` table (`url = ...`
    /// for the shared spool; the default is `path = "spool"`).
    pub fn with_spool(
        provider: Provider,
        tsa: Option<&DevTsa>,
        spool: &str,
        extra: &str,
    ) -> Gateway {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut g = Gateway::in_dir_with(tmp.path(), provider, tsa, spool, extra);
        g._tmp = Some(tmp);
        g
    }

    /// Like [`Gateway::new`] in `dir` (which may be a small file system of the test's own).
    pub fn in_dir(dir: &Path, provider: Provider, tsa: Option<&DevTsa>, extra: &str) -> Gateway {
        Gateway::in_dir_with(dir, provider, tsa, "path = \"spool\"", extra)
    }

    fn in_dir_with(
        dir: &Path,
        provider: Provider,
        tsa: Option<&DevTsa>,
        spool: &str,
        extra: &str,
    ) -> Gateway {
        let smtp: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let ops: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let token = format!("test-token-{}-0123456789abcdef", smtp.port());
        std::fs::write(dir.join("ops.token"), &token).expect("token");
        let p = |n: &str| pki(n).display().to_string();
        let (pec_key, pec_cert) = provider.pec();
        let (rem_key, rem_cert) = provider.rem();
        let (tsa_table, tsa_anchor) = match tsa {
            Some(t) => (
                format!("[tsa]\nurl = \"{}\"\n", t.url),
                t.cert().display().to_string(),
            ),
            None => (String::new(), p("root-ca.pem")),
        };
        let config = format!(
            r#"# Test gateway (tests/common/gateway.rs)
[identity]
provider_name = "{name}"
domain = "{domain}"
pec_key = "{pec_key}"
pec_cert = "{pec_cert}"
pec_chain = ["{ca}"]
rem_key = "{rem_key}"
rem_cert = "{rem_cert}"
rem_chain = ["{ca}"]

[trust]
pec_anchors = ["{root}"]
rem_anchors = ["{root}"]
tsa_anchors = ["{tsa_anchor}"]

{tsa_table}
[policy]
applicable = ["http://uri.etsi.org/19532/v1#/REMbaseline", "https://eidas.agid.gov.it/REM/rem-policy-it"]

[smtp]
listen = "{smtp}"
hostname = "gw.{domain}"

[spool]
{spool}

[ops]
listen = "{ops}"
token_file = "ops.token"

[delivery]
first_retry = "200ms"
max_retry = "1s"
timeout = "10s"
{extra}
"#,
            name = provider.name(),
            domain = provider.domain(),
            pec_key = p(pec_key),
            pec_cert = p(pec_cert),
            rem_key = p(rem_key),
            rem_cert = p(rem_cert),
            ca = p("provider-ca.pem"),
            root = p("root-ca.pem"),
        );
        let path = dir.join("ponte.toml");
        std::fs::write(&path, config).expect("write config");
        Gateway {
            dir: dir.to_path_buf(),
            config: path,
            smtp,
            ops,
            token,
            child: None,
            starts: 0,
            logs: tempfile::tempdir().expect("tempdir"),
            _tmp: None,
        }
    }

    /// Starts `ponte serve --config` and waits until it listens.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.starts += 1;
        let out = self.logs.path().join(format!("stdout.{}", self.starts));
        let err = self.logs.path().join(format!("stderr.{}", self.starts));
        let child = ponte()
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("PONTE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .expect("spawn ponte serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if text.lines().any(|l| l.starts_with("spool:")) {
                return;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!(
                    "ponte serve exited ({status}): {}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "ponte serve did not start: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: the process dies where it stands.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                return s.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal by name (`HUP`).
    pub fn signal(&self, name: &str) {
        if let Some(c) = &self.child {
            let _ = std::process::Command::new("kill")
                .args([&format!("-{name}"), &c.id().to_string()])
                .status();
        }
    }

    /// Everything the process wrote to stderr so far (all starts).
    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.logs.path().join(format!("stderr.{n}")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }

    /// `GET path` on the ops API (with the token); status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.ops, "GET", path, Some(&self.token))
    }

    /// `GET /api/...` as JSON.
    pub fn api(&self, path: &str) -> Value {
        let (code, body) = self.get(path);
        assert_eq!(code, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// A metric's value from `/metrics` (the first line starting with `name`, labels
    /// included in `name` when given); 0 when absent.
    pub fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    /// Waits until `f` holds (checked every 100 ms), panicking with `what` and the log after
    /// `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !f() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; gateway log:\n{}",
                tail(&self.log(), 6000)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn tail(s: &str, n: usize) -> &str {
    let start = s.len().saturating_sub(n);
    let mut i = start;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// One HTTP/1.1 request over a fresh connection; status and body.
pub fn http(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}content-length: 0\r\nconnection: close\r\n\r\n"
    );
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    // Chunked bodies: keep the JSON or text between the chunk sizes.
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&body)
    } else {
        body
    };
    (code, body)
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// A user's message (CRLF) from `from` to `to` with a unique Message-ID.
pub fn original(from: &str, to: &str, subject: &str, id: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Sun, 06 Dec 2026 12:00:00 +0000\r\nMessage-ID: <{id}@mittente.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCorpo del messaggio {id}.\r\n"
    )
    .into_bytes()
}

/// A signed PEC transport envelope of `provider` wrapping `original` (`ponte pec wrap`),
/// written in `dir`.
pub fn envelope(dir: &Path, provider: Provider, original: &[u8], name: &str) -> PathBuf {
    let orig = dir.join(format!("{name}.original.eml"));
    std::fs::write(&orig, original).expect("write original");
    let out = dir.join(format!("{name}.envelope.eml"));
    let (key, cert) = provider.pec();
    let o = run_ponte([
        "pec".as_ref(),
        "wrap".as_ref(),
        orig.as_os_str(),
        "--key".as_ref(),
        pki(key).as_os_str(),
        "--cert".as_ref(),
        pki(cert).as_os_str(),
        "--chain".as_ref(),
        pki("provider-ca.pem").as_os_str(),
        "--provider".as_ref(),
        provider.name().as_ref(),
        "--domain".as_ref(),
        provider.domain().as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert!(
        o.status.success(),
        "pec wrap: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The reply to one SMTP transaction, read with a small client of the test's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The final reply's code (to DATA, or to the command that failed).
    pub code: u16,
    /// Its text.
    pub text: String,
}

/// Sends `body` (CRLF) to `addr` in one transaction; `Err` when the connection fails before
/// the final reply (the gateway died, say).
pub fn send(addr: SocketAddr, from: &str, to: &[&str], body: &[u8]) -> std::io::Result<Sent> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut r = std::io::BufReader::new(s.try_clone()?);
    let read = |r: &mut std::io::BufReader<TcpStream>| -> std::io::Result<Sent> {
        use std::io::BufRead;
        let mut text = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            text.push_str(line.trim_end());
            if line.as_bytes().get(3) != Some(&b'-') {
                let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
                return Ok(Sent { code, text });
            }
            text.push(' ');
        }
    };
    let greet = read(&mut r)?;
    if greet.code != 220 {
        return Ok(greet);
    }
    let cmd = |s: &mut TcpStream, r: &mut std::io::BufReader<TcpStream>, c: &str| {
        s.write_all(c.as_bytes())?;
        read(r)
    };
    let e = cmd(&mut s, &mut r, "EHLO test.localhost\r\n")?;
    if e.code != 250 {
        return Ok(e);
    }
    let m = cmd(&mut s, &mut r, &format!("MAIL FROM:<{from}>\r\n"))?;
    if m.code != 250 {
        return Ok(m);
    }
    for t in to {
        let x = cmd(&mut s, &mut r, &format!("RCPT TO:<{t}>\r\n"))?;
        if x.code != 250 {
            return Ok(x);
        }
    }
    let d = cmd(&mut s, &mut r, "DATA\r\n")?;
    if d.code != 354 {
        return Ok(d);
    }
    let mut data = Vec::with_capacity(body.len() + 64);
    for line in body.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    if !data.ends_with(b"\r\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    s.write_all(&data)?;
    let fin = read(&mut r)?;
    let _ = s.write_all(b"QUIT\r\n");
    Ok(fin)
}

/// `ponte verify --json` of a message against the test root.
pub fn verify(file: &Path) -> Value {
    let o = run_ponte([
        "verify".as_ref(),
        file.as_os_str(),
        "--trust".as_ref(),
        pki("root-ca.pem").as_os_str(),
        "--json".as_ref(),
    ]);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "verify {}: {e}: {}",
            file.display(),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}
