//! Shared helpers of the end-to-end tests: where the corpus and the test PKI are, how to run
//! the `ponte` binary, and which external oracles (openssl, xmllint, xmlsec1, slapd) are present.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

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
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
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
            let answer = match files.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let mut a = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    a.extend_from_slice(body);
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
