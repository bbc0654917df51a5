//! Shared helpers of the end-to-end tests: where the corpus and the test PKI are, how to run
//! the `ponte` binary, and which external oracles (openssl, xmllint, xmlsec1, slapd) are present.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub mod gateway;
pub mod mail;
pub mod postgres;
pub mod slapd;
pub mod tl;

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

/// The exit code of a `ponte ... --json` run and the JSON it printed; a run that printed no
/// JSON fails the test with both of its outputs.
pub fn code_and_json(o: &Output) -> (i32, Value) {
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): stdout {} stderr {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code().unwrap_or(-1), v)
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
        Self::start_with(&[])
    }

    /// [`DevTsa::start`] with more arguments (`--key K --cert C`: another TSU identity).
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("tsa-data");
        let mut child = ponte()
            .args(["tsa", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .args(extra)
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

/// The AgID kit in the corpus.
pub const KIT: &str = "rem/agid-policy-it";

/// A file or folder of the AgID Policy-IT kit in the corpus.
pub fn kit(rel: &str) -> PathBuf {
    corpus_file(&format!("{KIT}/{rel}"))
}

/// Whether the kit is there: required in CI (panics), skipped with a message locally.
pub fn kit_available() -> bool {
    let ok = kit("standalone-evidence").is_dir();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "the shared corpus is required in CI ({})",
            kit("standalone-evidence").display()
        );
        eprintln!("skipped: corpus not found at {}", kit("").display());
    }
    ok
}

/// A gateway configured in a temporary folder: test PKI identities, the Namirial provider in
/// the index snapshot, a development TSA.
pub struct World {
    /// The temporary folder holding the configuration, the index snapshot and outputs.
    pub dir: tempfile::TempDir,
    /// The configuration file.
    pub config: PathBuf,
    /// The development TSA the configuration names.
    pub tsa: DevTsa,
}

fn pem(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The DER of the first certificate of a PEM file, base64 on one line.
fn der_b64(path: &Path) -> String {
    let text = pem(path);
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    body
}

impl World {
    /// A world whose index lists Namirial.
    pub fn new() -> World {
        World::with_index_extra(true)
    }

    /// A world whose index lists Namirial when `namirial`.
    pub fn with_index_extra(namirial: bool) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let tsa = DevTsa::start();
        let d = dir.path();
        // The index snapshot: the embedded test providers, plus Namirial when asked.
        let mut ldif = pem(&repo().join("gateway/src/index/default.ldif"));
        if namirial {
            ldif.push_str(&format!(
                "\ndn: providerName=Namirial S.p.A.,o=postacert\nobjectClass: top\nobjectClass: provider\nproviderName: Namirial S.p.A.\nmailReceipt: posta-certificata@sicurezzapostale.it\nmanagedDomains: sicurezzapostale.it\nproviderCertificateHash: 00\nproviderCertificate;binary:: {}\n",
                der_b64(&corpus_file("pec/certs/namirial-pec-signer.pem"))
            ));
        }
        std::fs::write(d.join("index.ldif"), ldif).expect("write ldif");
        let p = |n: &str| pki(n).display().to_string();
        let c = |n: &str| corpus_file(n).display().to_string();
        let config = format!(
            r#"# Test gateway (written by tests/common/mod.rs)
[identity]
provider_name = "Gestore Prova S.p.A."
domain = "pec.prova.test"
pec_key = "{pec_key}"
pec_cert = "{pec_cert}"
pec_chain = ["{provider_ca}"]
rem_key = "{rem_key}"
rem_cert = "{rem_cert}"
rem_chain = ["{provider_ca}"]

[trust]
pec_anchors = ["{root}", "{actalis}"]
rem_anchors = ["{root}", "{kit_root}"]
tsa_anchors = ["{tsa_cert}"]

[index]
snapshot = "index.ldif"

[tsa]
url = "{tsa_url}"

[policy]
applicable = ["http://uri.etsi.org/19532/v1#/REMbaseline", "https://eidas.agid.gov.it/REM/rem-policy-it"]

[correlation]
path = "correlation.jsonl"
"#,
            pec_key = p("pec-rsa.key.pem"),
            pec_cert = p("pec-rsa.pem"),
            provider_ca = p("provider-ca.pem"),
            rem_key = p("rem-rsa.key.pem"),
            rem_cert = p("rem-rsa.pem"),
            root = p("root-ca.pem"),
            actalis = c("pec/certs/actalis-authentication-root-ca.pem"),
            kit_root = c(&format!("{KIT}/certificates/REM-ROOT-CA.crt")),
            tsa_cert = tsa.cert().display(),
            tsa_url = tsa.url,
        );
        let config_path = d.join("ponte.toml");
        std::fs::write(&config_path, config).expect("write config");
        World {
            dir,
            config: config_path,
            tsa,
        }
    }

    /// Appends TOML to the configuration.
    pub fn configure(&self, extra: &str) {
        let mut c = pem(&self.config);
        c.push_str(extra);
        std::fs::write(&self.config, c).expect("rewrite config");
    }

    /// A path in the world's folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `ponte translate IN --to TO --config .. --json -o OUT [extra]`.
    pub fn translate(&self, input: &Path, to: &str, out: &Path, extra: &[&str]) -> (i32, Value) {
        let mut args: Vec<String> = vec![
            "translate".into(),
            input.display().to_string(),
            "--to".into(),
            to.into(),
            "--config".into(),
            self.config.display().to_string(),
            "--json".into(),
            "-o".into(),
            out.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = run_ponte(&args);
        let code = o.status.code().unwrap_or(-1);
        let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: no JSON ({e}); stdout {} stderr {}",
                input.display(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        });
        (code, v)
    }
}

/// The `Id` attribute of XAdES SignedProperties, for `xmlsec1 --id-attr:Id`.
pub const SP_ID_ATTR: &str = "http://uri.etsi.org/01903/v1.3.2#:SignedProperties";

/// Whether `xmlsec1 --verify` accepts the signed XML `file` with the test PKI (root trusted,
/// provider CA as intermediate); its complaint goes to stderr when it does not.
pub fn xmlsec1_verifies(file: &Path) -> bool {
    let o = Command::new("xmlsec1")
        .arg("--verify")
        .arg("--trusted-pem")
        .arg(pki("root-ca.pem"))
        .arg("--untrusted-pem")
        .arg(pki("provider-ca.pem"))
        .arg("--id-attr:Id")
        .arg(SP_ID_ATTR)
        .arg(file)
        .output()
        .expect("spawn xmlsec1");
    if !o.status.success() {
        eprintln!("xmlsec1: {}", String::from_utf8_lossy(&o.stderr));
    }
    o.status.success()
}

/// A loopback DNS server (Debian `dnsmasq`) in its own process, answering only what it is
/// told (no upstream, no hosts file), killed (by its own PID) when dropped.
pub struct Dns {
    child: Child,
    /// Its address (`127.0.0.1:<port>`).
    pub addr: String,
}

impl Dns {
    /// Starts dnsmasq with `mx` records (domain, exchange host, preference) and `a` records
    /// (host, IPv4 address). `None` when dnsmasq is not installed (outside CI).
    pub fn start(mx: &[(&str, &str, u16)], a: &[(&str, &str)]) -> Option<Dns> {
        if !have("dnsmasq") {
            eprintln!("skipped: dnsmasq is not installed");
            return None;
        }
        for _ in 0..5 {
            let port = std::net::UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.local_addr())
                .map(|a| a.port())
                .expect("free port");
            let mut cmd = Command::new("dnsmasq");
            cmd.args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--user=",
                "--log-facility=-",
            ])
            .arg(format!("--port={port}"));
            let mut tlds: Vec<&str> = Vec::new();
            for (domain, host, pref) in mx {
                cmd.arg(format!("--mx-host={domain},{host},{pref}"));
                let tld = domain.rsplit('.').next().unwrap_or(domain);
                if !tlds.contains(&tld) {
                    tlds.push(tld);
                }
            }
            // Answered here only: an unknown name under these is NXDOMAIN, not REFUSED.
            for tld in tlds {
                cmd.arg(format!("--local=/{tld}/"));
            }
            for (host, ip) in a {
                cmd.arg(format!("--host-record={host},{ip}"));
            }
            let mut child = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn dnsmasq");
            std::thread::sleep(std::time::Duration::from_millis(200));
            match child.try_wait() {
                Ok(None) => {
                    return Some(Dns {
                        child,
                        addr: format!("127.0.0.1:{port}"),
                    });
                }
                _ => continue, // the port was taken meanwhile: try another
            }
        }
        panic!("dnsmasq did not start");
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback HTTP server in a thread of the test, serving `files` (path → bytes) with
/// `content_type`; other paths get 404. Returns its base URL (`http://127.0.0.1:<port>`).
pub fn serve_http(files: Vec<(String, Vec<u8>)>, content_type: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    serve_on(
        listener,
        move |path| {
            files
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, b)| b.clone())
        },
        content_type,
    )
}

/// Like [`serve_http`], serving the files of `dir` as they are at each request (`/NAME`).
pub fn serve_dir(dir: PathBuf, content_type: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    serve_on(
        listener,
        move |path| {
            let name = path.trim_start_matches('/');
            if name.is_empty() || name.contains('/') || name.contains("..") {
                return None;
            }
            std::fs::read(dir.join(name)).ok()
        },
        content_type,
    )
}

fn serve_on(
    listener: std::net::TcpListener,
    files: impl Fn(&str) -> Option<Vec<u8>> + Send + 'static,
    content_type: &'static str,
) -> String {
    use std::io::{Read, Write};
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = vec![0u8; 65536];
            let mut n = 0;
            while n < buf.len() {
                match s.read(&mut buf[n..]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
                if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
            let answer = match files(&path) {
                Some(body) => {
                    let mut a = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    a.extend_from_slice(&body);
                    a
                }
                None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = s.write_all(&answer);
        }
    });
    base
}

/// Whether the SMTP sink can run: Debian's `python3-aiosmtpd` under `/usr/bin/python3` (a
/// pyenv `python3` first on PATH has no aiosmtpd). Required in CI (`.ci/run` installs it):
/// missing there, this panics instead of skipping.
pub fn have_smtp_sink() -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3-aiosmtpd is required in CI but /usr/bin/python3 cannot import aiosmtpd (.ci/run installs it)"
        );
        eprintln!("skipped: /usr/bin/python3 has no aiosmtpd (apt-get install python3-aiosmtpd)");
    }
    ok
}

/// A message the sink received.
#[derive(Debug, Clone)]
pub struct SinkMessage {
    /// Its number (1, 2, ...).
    pub n: u64,
    /// The DATA content exactly as received (dot-unstuffed).
    pub body: Vec<u8>,
    /// MAIL FROM.
    pub mail_from: String,
    /// The RCPT TO the sink accepted.
    pub rcpt_tos: Vec<String>,
    /// The number of the connection it came on (as in `connections.log`).
    pub connection: u64,
    /// Whether the session was under TLS.
    pub tls: bool,
    /// Whether the commands after MAIL FROM had already arrived when MAIL FROM was answered
    /// (the client pipelined its envelope).
    pub pipelined: bool,
}

/// A real SMTP server in its own process (`tests/peers/smtp_sink.py`, on aiosmtpd), killed
/// (by its own PID) when dropped. What it receives lands in [`SmtpSink::dir`].
pub struct SmtpSink {
    child: Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Its folder (`N.eml`, `N.json`, `connections.log`).
    pub dir: PathBuf,
    args: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl SmtpSink {
    /// Starts a sink on a free loopback port with its folder in a fresh temporary folder, with
    /// extra options of `smtp_sink.py` (`--refuse-file F`, `--reject-rcpt RE`, `--defer-rcpt
    /// RE`, `--reject-data`, `--tls-cert C --tls-key K`, `--require-tls`). `None` when
    /// python3-aiosmtpd is missing outside CI (see [`have_smtp_sink`]).
    pub fn start(args: &[&str]) -> Option<SmtpSink> {
        if !have_smtp_sink() {
            return None;
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("sink");
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Some(SmtpSink::spawn("127.0.0.1:0", dir, args, Some(tmp)))
    }

    /// Starts a sink on `listen` (`HOST:PORT`) keeping its messages in `dir` (numbering goes on
    /// from what is there): a peer restarted by a test.
    pub fn start_at(listen: &str, dir: &Path, args: &[&str]) -> Option<SmtpSink> {
        if !have_smtp_sink() {
            return None;
        }
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Some(SmtpSink::spawn(listen, dir.to_path_buf(), args, None))
    }

    fn spawn(
        listen: &str,
        dir: PathBuf,
        args: Vec<String>,
        tmp: Option<tempfile::TempDir>,
    ) -> SmtpSink {
        let mut child = Command::new("/usr/bin/python3")
            .arg(repo().join("tests/peers/smtp_sink.py"))
            .arg("--listen")
            .arg(listen)
            .arg("--dir")
            .arg(&dir)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn /usr/bin/python3 tests/peers/smtp_sink.py");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let addr = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|a| a.parse().ok());
        match (read, addr) {
            (Ok(_), Some(addr)) => SmtpSink {
                child,
                addr,
                dir,
                args,
                _tmp: tmp,
            },
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("smtp_sink.py did not get ready (first line {line:?})");
            }
        }
    }

    /// `127.0.0.1:PORT`, for a `relay` key.
    pub fn relay(&self) -> String {
        self.addr.to_string()
    }

    /// Stops it (the peer goes away: connections are refused).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same address and folder, with the same options.
    pub fn restart(&mut self) {
        self.stop();
        let args = std::mem::take(&mut self.args);
        let tmp = self._tmp.take();
        let listen = self.addr.to_string();
        let dir = self.dir.clone();
        // The old child is reaped already: dropping it (kill on an exited child) does nothing.
        *self = SmtpSink::spawn(&listen, dir, args, tmp);
    }

    /// The messages received so far, in order.
    pub fn messages(&self) -> Vec<SinkMessage> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(n) = name
                .strip_suffix(".json")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let meta: Value = serde_json::from_slice(&std::fs::read(e.path()).expect("read json"))
                .expect("sink json");
            let body = std::fs::read(self.dir.join(format!("{n}.eml"))).expect("read eml");
            let strings = |k: &str| -> Vec<String> {
                meta[k]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            out.push(SinkMessage {
                n,
                body,
                mail_from: meta["mail_from"].as_str().unwrap_or_default().to_string(),
                rcpt_tos: strings("rcpt_tos"),
                connection: meta["connection"].as_u64().unwrap_or(0),
                tls: meta["tls"].as_bool().unwrap_or(false),
                pipelined: meta["pipelined"].as_bool().unwrap_or(false),
            });
        }
        out.sort_by_key(|m| m.n);
        out
    }

    /// Waits (up to `timeout`) until at least `n` messages have arrived; returns them.
    pub fn wait_messages(&self, n: usize, timeout: std::time::Duration) -> Vec<SinkMessage> {
        let until = std::time::Instant::now() + timeout;
        loop {
            let m = self.messages();
            if m.len() >= n || std::time::Instant::now() > until {
                return m;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Connections accepted so far (lines of `connections.log`).
    pub fn connections(&self) -> usize {
        std::fs::read_to_string(self.dir.join("connections.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TLS server certificate for loopback peers (`127.0.0.1`, `::1`, `localhost`) issued by a
/// CA of its own, written into `dir` as `ca.pem`, `cert.pem` (leaf then CA) and `key.pem`
/// (PKCS#8). Returns (ca, cert, key).
pub fn loopback_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Ponte test TLS CA (not for production)");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = leaf.signed_by(&key, &issuer).expect("leaf certificate");
    let (ca_path, cert_path, key_path) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_path, ca_cert.pem()).expect("write ca.pem");
    std::fs::write(&cert_path, format!("{}{}", cert.pem(), ca_cert.pem())).expect("write cert.pem");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key.pem");
    (ca_path, cert_path, key_path)
}
