//! The development TSA: an RFC 3161 server over HTTP/1.1 (hyper), NOT qualified.
//!
//! Its data directory holds three files, made on first start and reused afterwards:
//! - `tsa.key.pem`: its ECDSA P-256 key (PKCS#8, mode 0600 on Unix);
//! - `tsa.pem`: its self-signed certificate (see [`super::issue::make_dev_identity`]);
//! - `serial`: the last serial number issued, in decimal. Each token's serial is written
//!   there before the token leaves, so serials stay unique and increasing across restarts.
//!
//! Or it is given its key and certificate ([`DevTsa::with_key`]: a PKCS#8 file or a key in a
//! PKCS#11 token, with a certificate carrying the timeStamping EKU), and the directory keeps
//! only `serial`.
//!
//! It answers `POST` with `Content-Type: application/timestamp-query` (any path) with a
//! `TimeStampResp` (`application/timestamp-reply`), also for rejections as RFC 3161 wants;
//! other methods get 405, other content types 415, bodies over 64 KiB 413.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

use super::Error;
use super::issue::{Answered, DEV_POLICY, Tsu, make_dev_identity};
use crate::crypto::SigningKey;

/// Largest request body accepted.
pub const MAX_REQUEST: usize = 64 * 1024;

/// The clock the server stamps with (a parameter, so tests can fix it).
pub type Clock = Arc<dyn Fn() -> time::OffsetDateTime + Send + Sync>;

/// Where one line per request goes.
pub type Log = Arc<dyn Fn(String) + Send + Sync>;

/// The default data directory: `ponte-tsa` under the OS temporary directory.
pub fn default_data_dir() -> PathBuf {
    std::env::temp_dir().join("ponte-tsa")
}

/// The development TSA: its unit and its serial counter.
pub struct DevTsa {
    tsu: Tsu,
    dir: PathBuf,
    cert_path: PathBuf,
    serial: Mutex<u64>,
}

impl std::fmt::Debug for DevTsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevTsa")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = opts.open(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

impl DevTsa {
    /// Opens the TSA kept in `dir`, making its key, certificate and serial file at `now`
    /// when they do not exist yet. A key without certificate (or the reverse) is an error:
    /// nothing is overwritten.
    pub fn open(dir: &Path, now: time::OffsetDateTime) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let key_path = dir.join("tsa.key.pem");
        let cert_path = dir.join("tsa.pem");
        let serial_path = dir.join("serial");
        let (key, cert) = match (key_path.exists(), cert_path.exists()) {
            (false, false) => {
                let (key, cert) = make_dev_identity(now)?;
                write_atomically(&key_path, pem("PRIVATE KEY", &key).as_bytes(), true)?;
                write_atomically(&cert_path, pem("CERTIFICATE", &cert).as_bytes(), false)?;
                (key, cert)
            }
            (true, true) => {
                let key = PrivatePkcs8KeyDer::from_pem_file(&key_path)
                    .map_err(|e| Error::Key(format!("{}: {e}", key_path.display())))?;
                let cert = CertificateDer::from_pem_file(&cert_path)
                    .map_err(|e| Error::Certificate(format!("{}: {e}", cert_path.display())))?;
                (key.secret_pkcs8_der().to_vec(), cert.as_ref().to_vec())
            }
            (true, false) => {
                return Err(Error::Certificate(format!(
                    "{} is missing",
                    cert_path.display()
                )));
            }
            (false, true) => return Err(Error::Key(format!("{} is missing", key_path.display()))),
        };
        let serial = read_serial(&serial_path)?;
        let tsu = Tsu::new(&key, &cert, DEV_POLICY)?;
        Ok(Self {
            tsu,
            dir: dir.to_path_buf(),
            cert_path,
            serial: Mutex::new(serial),
        })
    }

    /// A TSA signing with `key` (PKCS#8 or in a PKCS#11 token) under the certificate in the
    /// PEM file `cert_path` (which must match the key); `dir` keeps only the serial counter.
    pub fn with_key(dir: &Path, key: SigningKey, cert_path: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let cert = CertificateDer::from_pem_file(cert_path)
            .map_err(|e| Error::Certificate(format!("{}: {e}", cert_path.display())))?;
        let serial = read_serial(&dir.join("serial"))?;
        let tsu = Tsu::with_key(key, cert.as_ref(), DEV_POLICY)?;
        Ok(Self {
            tsu,
            dir: dir.to_path_buf(),
            cert_path: cert_path.to_path_buf(),
            serial: Mutex::new(serial),
        })
    }

    /// The TSA's certificate file.
    pub fn cert_path(&self) -> PathBuf {
        self.cert_path.clone()
    }

    /// The unit.
    pub fn tsu(&self) -> &Tsu {
        &self.tsu
    }

    /// The next serial number, persisted before it is returned.
    pub fn next_serial(&self) -> Result<u64, Error> {
        let mut guard = self.serial.lock().unwrap_or_else(|p| p.into_inner());
        let next = guard.checked_add(1).ok_or_else(|| Error::Io {
            path: self.dir.join("serial").display().to_string(),
            source: std::io::Error::other("serial numbers exhausted"),
        })?;
        write_atomically(
            &self.dir.join("serial"),
            format!("{next}\n").as_bytes(),
            false,
        )?;
        *guard = next;
        Ok(next)
    }

    /// Answers one DER request at `now`.
    pub fn answer(
        &self,
        request: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<(Vec<u8>, Answered), Error> {
        self.tsu.answer(request, now, || self.next_serial())
    }
}

/// The last serial issued (0 when the file does not exist yet).
fn read_serial(serial_path: &Path) -> Result<u64, Error> {
    match std::fs::read_to_string(serial_path) {
        Ok(s) => s.trim().parse::<u64>().map_err(|_| Error::Io {
            path: serial_path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a decimal serial"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io(serial_path)(e)),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r
}

async fn handle(
    req: Request<Incoming>,
    tsa: Arc<DevTsa>,
    clock: Clock,
    log: Log,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let line = |outcome: String| log(format!("{peer} {method} {path} {outcome}"));
    if req.method() != Method::POST {
        line("405 not POST".into());
        return Ok(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST an application/timestamp-query\n",
        ));
    }
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/timestamp-query") {
        line(format!("415 content type {ct:?}"));
        return Ok(plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/timestamp-query\n",
        ));
    }
    let body = match Limited::new(req.into_body(), MAX_REQUEST).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            line(format!("413/400 body: {e}"));
            return Ok(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request too large or unreadable\n",
            ));
        }
    };
    let now = clock();
    match tsa.answer(&body, now) {
        Ok((der, answered)) => {
            match answered {
                Answered::Granted { serial, alg } => {
                    line(format!("200 granted serial={serial} imprint={alg}"))
                }
                Answered::Rejected(f) => line(format!("200 rejection {f}")),
            }
            let mut r = Response::new(Full::new(Bytes::from(der)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/timestamp-reply"),
            );
            Ok(r)
        }
        Err(e) => {
            line(format!("500 {e}"));
            Ok(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "time-stamping failed\n",
            ))
        }
    }
}

/// Serves `tsa` on `listener` until the task is dropped. One log line per request.
pub async fn serve(
    listener: TcpListener,
    tsa: Arc<DevTsa>,
    clock: Clock,
    log: Log,
) -> Result<(), Error> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // E.g. out of file descriptors: say so, and do not spin.
                log(format!("accept: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (tsa, clock, log) = (tsa.clone(), clock.clone(), log.clone());
        tokio::spawn(async move {
            let log2 = log.clone();
            let service = hyper::service::service_fn(move |req| {
                handle(req, tsa.clone(), clock.clone(), log.clone(), peer)
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                log2(format!("{peer} connection: {e}"));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_kept_and_serials_increase_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = time::macros::datetime!(2026-11-24 12:00 UTC);
        let a = DevTsa::open(dir.path(), now).expect("first");
        assert_eq!(a.next_serial().expect("s"), 1);
        assert_eq!(a.next_serial().expect("s"), 2);
        let cert = std::fs::read(a.cert_path()).expect("cert");
        drop(a);
        let b = DevTsa::open(dir.path(), now).expect("second");
        assert_eq!(std::fs::read(b.cert_path()).expect("cert"), cert);
        assert_eq!(b.next_serial().expect("s"), 3);
    }

    async fn start(dir: &Path) -> (std::net::SocketAddr, Arc<DevTsa>) {
        let now = time::macros::datetime!(2026-11-24 12:00 UTC);
        let tsa = Arc::new(DevTsa::open(dir, now).expect("open"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let clock: Clock = Arc::new(move || now);
        let log: Log = Arc::new(|_| {});
        tokio::spawn(serve(listener, tsa.clone(), clock, log));
        (addr, tsa)
    }

    /// One raw HTTP/1.1 exchange; returns the status code and the body.
    async fn raw(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(head.as_bytes()).await.expect("head");
        s.write_all(body).await.expect("body");
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.expect("read");
        let text = String::from_utf8_lossy(&out);
        let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body_at = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(out.len(), |i| i + 4);
        (code, out.get(body_at..).unwrap_or_default().to_vec())
    }

    #[tokio::test]
    async fn http_errors_and_rejections() {
        use crate::tsp::asn1::{FailureInfo, PkiStatus, TimeStampResp};
        use der::Decode;
        let dir = tempfile::tempdir().expect("tempdir");
        let (addr, _) = start(dir.path()).await;
        let close = "connection: close\r\n";
        let (code, _) = raw(
            addr,
            &format!("GET / HTTP/1.1\r\nhost: x\r\n{close}\r\n"),
            b"",
        )
        .await;
        assert_eq!(code, 405);
        let head = format!(
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 1\r\n{close}\r\n"
        );
        assert_eq!(raw(addr, &head, b"x").await.0, 415);
        let big = vec![0u8; MAX_REQUEST + 1];
        let head = format!(
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/timestamp-query\r\ncontent-length: {}\r\n{close}\r\n",
            big.len()
        );
        assert_eq!(raw(addr, &head, &big).await.0, 413);
        // Malformed DER with the right content type: a TimeStampResp rejection, badDataFormat.
        let head = format!(
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/timestamp-query\r\ncontent-length: 3\r\n{close}\r\n"
        );
        let (code, body) = raw(addr, &head, b"\x30\x05\x02").await;
        assert_eq!(code, 200);
        let resp = TimeStampResp::from_der(&body).expect("a TimeStampResp");
        assert_eq!(resp.status.status(), PkiStatus::Rejection);
        assert_eq!(resp.status.failure(), vec![FailureInfo::BadDataFormat]);
        assert!(resp.time_stamp_token.is_none());
    }

    #[tokio::test]
    async fn concurrent_requests_get_unique_serials() {
        use crate::tsp::{ClientOptions, Imprint, RequestOptions};
        let dir = tempfile::tempdir().expect("tempdir");
        let (addr, _) = start(dir.path()).await;
        let url = format!("http://{addr}/");
        let mut tasks = Vec::new();
        for i in 0..16u8 {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let (token, _) = crate::tsp::timestamp(
                    &url,
                    Imprint::sha256(&[i]),
                    &RequestOptions::default(),
                    &ClientOptions::default(),
                )
                .await
                .expect("token");
                let tst = crate::tsp::verify::read_tst_info(&token).expect("tst");
                tst.serial_number.as_bytes().to_vec()
            }));
        }
        let mut serials = Vec::new();
        for t in tasks {
            serials.push(t.await.expect("join"));
        }
        serials.sort();
        serials.dedup();
        assert_eq!(serials.len(), 16, "serials must be unique");
        let last = std::fs::read_to_string(dir.path().join("serial")).expect("serial file");
        assert_eq!(last.trim(), "16");
    }

    #[test]
    fn half_an_identity_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = time::macros::datetime!(2026-11-24 12:00 UTC);
        DevTsa::open(dir.path(), now).expect("first");
        std::fs::remove_file(dir.path().join("tsa.pem")).expect("rm");
        assert!(matches!(
            DevTsa::open(dir.path(), now),
            Err(Error::Certificate(_))
        ));
    }
}
