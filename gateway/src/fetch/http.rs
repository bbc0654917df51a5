//! HTTP/1.1 GET and POST over `http://` and `https://` (rustls, ring provider).
//!
//! Connection failures, TLS handshake failures, timeouts and 5xx answers are retried with
//! exponential backoff; a 4xx or an oversized answer is not. Up to [`MAX_REDIRECTS`]
//! redirects (301, 302, 303, 307, 308) are followed for GET (trusted-list locations move).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::Uri;
use hyper::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::Error;

/// How many redirects a GET follows.
pub const MAX_REDIRECTS: usize = 3;

/// Client settings.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Time allowed to open the TCP connection (and the TLS handshake), per attempt.
    pub connect_timeout: Duration,
    /// Time allowed for sending the request and reading the whole answer, per attempt.
    pub read_timeout: Duration,
    /// Total attempts (at least 1).
    pub attempts: u32,
    /// Pause after the first failure; doubled after each further one.
    pub initial_backoff: Duration,
    /// Largest answer accepted, in bytes.
    pub max_body: usize,
    /// Roots trusted for `https://` besides the system's store (DER).
    pub extra_roots: Vec<Vec<u8>>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            attempts: 3,
            initial_backoff: Duration::from_millis(250),
            max_body: 64 * 1024 * 1024,
            extra_roots: Vec::new(),
        }
    }
}

/// What a server answered.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The body, exactly as received.
    pub body: Vec<u8>,
    /// The `Content-Type` header, when present.
    pub content_type: Option<String>,
    /// The URL finally answered (after redirects).
    pub url: String,
}

/// An HTTP(S) client; keeps its TLS configuration (the root store is read once).
pub struct Fetcher {
    opts: HttpOptions,
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Default for Fetcher {
    fn default() -> Self {
        Fetcher::new(HttpOptions::default())
    }
}

struct Target {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    path: String,
}

fn target(url: &str) -> Result<Target, Error> {
    let bad = |why| Error::Url {
        url: url.to_owned(),
        why,
    };
    let uri: Uri = url.parse().map_err(|_| bad("not a valid URL"))?;
    let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad("only http:// and https:// URLs are fetched")),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("user information in the URL is not supported"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".to_owned());
    Ok(Target {
        https,
        host,
        port,
        authority: authority.as_str().to_owned(),
        path,
    })
}

enum Failed {
    Transient(String),
    Final(Error),
    Redirect(String),
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

impl Fetcher {
    /// A client with these settings.
    pub fn new(opts: HttpOptions) -> Self {
        Fetcher {
            opts,
            tls: OnceLock::new(),
        }
    }

    /// Its settings.
    pub fn options(&self) -> &HttpOptions {
        &self.opts
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        self.tls
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore::empty();
                let native = rustls_native_certs::load_native_certs();
                for c in native.certs {
                    let _ = roots.add(c);
                }
                for der in &self.opts.extra_roots {
                    roots
                        .add(CertificateDer::from(der.clone()))
                        .map_err(|e| format!("extra root certificate: {e}"))?;
                }
                if roots.is_empty() {
                    return Err("no root certificate in the system store".to_owned());
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Ok(Arc::new(config))
            })
            .clone()
            .map_err(Error::Tls)
    }

    /// GETs `url`, following redirects; `accept` is sent as the `Accept` header.
    pub async fn get(&self, url: &str, accept: &str) -> Result<Fetched, Error> {
        let mut current = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            match self.with_retries(&current, "GET", accept, None).await? {
                Ok(f) => return Ok(f),
                Err(next) => current = next,
            }
        }
        Err(Error::HttpStatus {
            url: url.to_owned(),
            status: 310,
        })
    }

    /// POSTs `body` with `content_type` to `url`; expects a 2xx answer (redirects are not
    /// followed: the body would have to be sent again).
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        body: &[u8],
        accept: &str,
    ) -> Result<Fetched, Error> {
        match self
            .with_retries(url, "POST", accept, Some((content_type, body)))
            .await?
        {
            Ok(f) => Ok(f),
            Err(_) => Err(Error::HttpStatus {
                url: url.to_owned(),
                status: 302,
            }),
        }
    }

    async fn with_retries(
        &self,
        url: &str,
        method: &'static str,
        accept: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Result<Fetched, String>, Error> {
        let t = target(url)?;
        let attempts = self.opts.attempts.max(1);
        let mut backoff = self.opts.initial_backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.once(url, &t, method, accept, body).await {
                Ok(f) => return Ok(Ok(f)),
                Err(Failed::Redirect(to)) => return Ok(Err(to)),
                Err(Failed::Final(e)) => return Err(e),
                Err(Failed::Transient(why)) => {
                    tracing::info!(url, attempt, %why, "fetch failed");
                    last = why;
                    if attempt < attempts {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(8));
                    }
                }
            }
        }
        Err(Error::Unreachable {
            url: url.to_owned(),
            attempts,
            last,
        })
    }

    async fn connect(&self, t: &Target) -> Result<Box<dyn IoBox>, Failed> {
        let addr = (t.host.as_str(), t.port);
        let tcp =
            match tokio::time::timeout(self.opts.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(Failed::Transient(format!("connect: {e}"))),
                Err(_) => return Err(Failed::Transient("connect: timed out".into())),
            };
        if !t.https {
            return Ok(Box::new(tcp));
        }
        let config = self.tls_config().map_err(Failed::Final)?;
        let name = ServerName::try_from(t.host.clone()).map_err(|_| {
            Failed::Final(Error::Url {
                url: t.authority.clone(),
                why: "not a valid TLS server name",
            })
        })?;
        let connector = tokio_rustls::TlsConnector::from(config);
        match tokio::time::timeout(self.opts.connect_timeout, connector.connect(name, tcp)).await {
            Ok(Ok(s)) => Ok(Box::new(s)),
            Ok(Err(e)) => Err(Failed::Transient(format!("TLS: {e}"))),
            Err(_) => Err(Failed::Transient("TLS handshake: timed out".into())),
        }
    }

    async fn once(
        &self,
        url: &str,
        t: &Target,
        method: &'static str,
        accept: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Fetched, Failed> {
        let io = self.connect(t).await?;
        match tokio::time::timeout(
            self.opts.read_timeout,
            self.exchange(io, url, t, method, accept, body),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(Failed::Transient("no complete answer in time".into())),
        }
    }

    async fn exchange(
        &self,
        io: Box<dyn IoBox>,
        url: &str,
        t: &Target,
        method: &'static str,
        accept: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Fetched, Failed> {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| Failed::Transient(format!("HTTP handshake: {e}")))?;
        let conn = tokio::spawn(conn);
        let builder = Request::builder()
            .method(method)
            .uri(t.path.as_str())
            .header(HOST, t.authority.as_str())
            .header(USER_AGENT, concat!("ponte/", env!("CARGO_PKG_VERSION")))
            .header(ACCEPT, accept);
        let bad_request = |_| {
            Failed::Final(Error::Url {
                url: url.to_owned(),
                why: "not a valid request target",
            })
        };
        let req = match body {
            Some((ct, b)) => builder
                .header(CONTENT_TYPE, ct)
                .header(CONTENT_LENGTH, b.len())
                .body(Full::new(Bytes::copy_from_slice(b))),
            None => builder.body(Full::new(Bytes::new())),
        }
        .map_err(bad_request)?;
        let result = self.answer(sender.send_request(req).await, url, t).await;
        conn.abort();
        result
    }

    async fn answer(
        &self,
        resp: Result<hyper::Response<hyper::body::Incoming>, hyper::Error>,
        url: &str,
        t: &Target,
    ) -> Result<Fetched, Failed> {
        let resp = resp.map_err(|e| Failed::Transient(format!("HTTP: {e}")))?;
        let status = resp.status();
        if status.is_server_error() {
            return Err(Failed::Transient(format!("HTTP {status}")));
        }
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return match location {
                Some(l) if l.starts_with("http://") || l.starts_with("https://") => {
                    Err(Failed::Redirect(l))
                }
                Some(l) if l.starts_with('/') => Err(Failed::Redirect(format!(
                    "{}://{}{l}",
                    if t.https { "https" } else { "http" },
                    t.authority
                ))),
                _ => Err(Failed::Final(Error::HttpStatus {
                    url: url.to_owned(),
                    status: status.as_u16(),
                })),
            };
        }
        if !status.is_success() {
            return Err(Failed::Final(Error::HttpStatus {
                url: url.to_owned(),
                status: status.as_u16(),
            }));
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = resp.into_body();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Failed::Transient(format!("reading the answer: {e}")))?;
            if let Some(data) = frame.data_ref() {
                if out.len() + data.len() > self.opts.max_body {
                    return Err(Failed::Final(Error::TooLarge {
                        url: url.to_owned(),
                        max: self.opts.max_body,
                    }));
                }
                out.extend_from_slice(data);
            }
        }
        Ok(Fetched {
            body: out,
            content_type,
            url: url.to_owned(),
        })
    }
}

trait IoBox: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: Io> IoBox for T {}

impl Fetcher {
    /// Runs `fut` to completion on a fresh current-thread runtime (for the CLI and other
    /// blocking callers).
    pub fn block_on<F: std::future::Future>(fut: F) -> Result<F::Output, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Tls(format!("tokio runtime: {e}")))?;
        Ok(rt.block_on(fut))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = target("https://ec.europa.eu/tools/lotl/eu-lotl.xml").expect("url");
        assert!(t.https);
        assert_eq!((t.host.as_str(), t.port), ("ec.europa.eu", 443));
        assert_eq!(t.path, "/tools/lotl/eu-lotl.xml");
        let t = target("http://127.0.0.1:8080").expect("url");
        assert_eq!((t.port, t.path.as_str()), (8080, "/"));
        let t = target("http://[::1]:81/x?y").expect("url");
        assert_eq!((t.host.as_str(), t.path.as_str()), ("::1", "/x?y"));
        assert!(matches!(target("ftp://x/"), Err(Error::Url { .. })));
        assert!(matches!(target("smtp:mx.a.rem:25"), Err(Error::Url { .. })));
        assert!(matches!(target("http://u@h/"), Err(Error::Url { .. })));
    }

    #[tokio::test]
    async fn redirects_are_followed_and_4xx_is_final() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let answer = if req.starts_with("GET /old ") {
                        "HTTP/1.1 301 Moved\r\nlocation: /new\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    } else if req.starts_with("GET /new ") {
                        "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: 4\r\nconnection: close\r\n\r\n<a/>"
                    } else {
                        "HTTP/1.1 404 No\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    };
                    let _ = s.write_all(answer.as_bytes()).await;
                });
            }
        });
        let f = Fetcher::default();
        let got = f.get(&format!("{base}/old"), "*/*").await.expect("200");
        assert_eq!(got.body, b"<a/>");
        assert_eq!(got.content_type.as_deref(), Some("text/xml"));
        let e = f
            .get(&format!("{base}/none"), "*/*")
            .await
            .expect_err("404");
        assert!(matches!(e, Error::HttpStatus { status: 404, .. }), "{e}");
    }
}
