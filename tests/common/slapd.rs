//! A real OpenLDAP `slapd` for the tests: started on free loopback ports (`ldap://` and
//! `ldaps://`) in a temporary directory with core + cosine + Ponte's printed IGPEC schema (and
//! a test's own), loaded with `slapadd`, killed when dropped. Suffix `o=postacert`, rootdn
//! `cn=admin,o=postacert` (password `secret`), everything readable anonymously.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{pki, run_ponte};

/// The root DN.
pub const ROOT_DN: &str = "cn=admin,o=postacert";
/// Its password.
pub const ROOT_PW: &str = "secret";

/// A running slapd; killed (and waited for) when dropped, also when a test fails.
pub struct Slapd {
    child: Option<Child>,
    /// `ldap://127.0.0.1:PORT`.
    pub url: String,
    /// `ldaps://127.0.0.1:PORT` (server certificate issued by the test provider CA).
    pub ldaps_url: String,
    /// Its slapd.conf.
    pub conf: PathBuf,
}

impl Slapd {
    /// Stops it (also done when dropped).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Runs `cmd`; panics naming it when it fails.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// The size limits of [`start_slapd`]: 500 per search as slapd's default, unlimited in total
/// for paged searches.
pub const PAGED_UNLIMITED: &str = "sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited\n";

/// Writes slapd.conf (core + cosine + Ponte's printed schema; [`PAGED_UNLIMITED`]),
/// loads `data` with slapadd, starts slapd, waits until it accepts connections.
pub fn start_slapd(dir: &Path, data: &str) -> Slapd {
    start_slapd_with(dir, data, PAGED_UNLIMITED, "")
}

/// [`start_slapd`] with `limits` as the global size-limit lines ("" for slapd's defaults)
/// and `extra_schema` (slapd.conf schema text, e.g. a test's own attribute types; "" for
/// none) loaded after Ponte's.
pub fn start_slapd_with(dir: &Path, data: &str, limits: &str, extra_schema: &str) -> Slapd {
    let out = run_ponte(["index", "schema"]);
    assert!(out.status.success(), "ponte index schema");
    let mut schema = String::from_utf8(out.stdout).expect("utf-8 schema");
    schema.push_str(extra_schema);
    let schema_path = dir.join("igpec.schema");
    std::fs::write(&schema_path, schema).expect("write schema");
    let db = dir.join("db");
    std::fs::create_dir_all(&db).expect("mkdir db");
    let port = free_port();
    let tls_port = free_port();
    let (crt, key) = server_certificate(dir);
    let conf = dir.join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include {}\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\n\
             pidfile {}\n\
             TLSCertificateFile {}\nTLSCertificateKeyFile {}\n\
             {limits}\
             database mdb\nmaxsize 1073741824\n\
             suffix \"o=postacert\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PW}\n\
             directory {}\n\
             index objectClass eq\nindex managedDomains eq\n\
             access to * by * read\n",
            schema_path.display(),
            dir.join("slapd.pid").display(),
            crt.display(),
            key.display(),
            db.display()
        ),
    )
    .expect("write slapd.conf");
    run_ok(Command::new("slaptest").arg("-u").arg("-f").arg(&conf));
    let data_path = dir.join("data.ldif");
    std::fs::write(&data_path, data).expect("write data");
    let t = Instant::now();
    run_ok(
        Command::new("slapadd")
            .arg("-q")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&data_path),
    );
    eprintln!(
        "slapadd of the generated directory: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let url = format!("ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/");
    let child = Command::new("slapd")
        .arg("-d")
        .arg("0")
        .arg("-f")
        .arg(&conf)
        .arg("-h")
        .arg(&url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn slapd");
    let slapd = Slapd {
        child: Some(child),
        url: format!("ldap://127.0.0.1:{port}"),
        ldaps_url: format!("ldaps://127.0.0.1:{tls_port}"),
        conf,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err()
        || TcpStream::connect(("127.0.0.1", tls_port)).is_err()
    {
        assert!(
            Instant::now() < deadline,
            "slapd did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    slapd
}

/// A TLS server certificate for 127.0.0.1 issued by the test provider CA (openssl).
pub fn server_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("server.key");
    let csr = dir.join("server.csr");
    let crt = dir.join("server.pem");
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext");
    run_ok(
        Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ])
            .args(["-subj", "/CN=127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&csr),
    );
    run_ok(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-set_serial", "7", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(pki("provider-ca.pem"))
            .arg("-CAkey")
            .arg(pki("provider-ca.key.pem"))
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&crt),
    );
    (crt, key)
}
