//! The RFC 3161 HTTP transport (RFC 3161 §3.4): POST `application/timestamp-query`, expect
//! `application/timestamp-reply`, over HTTP/1.1 with hyper.
//!
//! Only `http://` URLs: TSAs commonly serve plain HTTP because the token is signed; TLS is
//! not implemented here. Connection failures, timeouts and 5xx answers are retried with
//! exponential backoff; a 4xx, a wrong content type or an oversized answer are not (the
//! same request would get the same answer). Token checks happen above, in
//! [`super::timestamp`], and a bad token is never retried either.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::Error;

/// Retry policy for connection errors, timeouts and 5xx answers.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Total attempts (at least 1).
    pub attempts: u32,
    /// Pause after the first failure; doubled after each further failure.
    pub initial_backoff: Duration,
    /// Upper bound of a pause.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
        }
    }
}

/// Client settings.
#[derive(Clone, Copy, Debug)]
pub struct ClientOptions {
    /// Time allowed to open the TCP connection, per attempt.
    pub connect_timeout: Duration,
    /// Time allowed for sending the request and reading the whole answer, per attempt.
    pub read_timeout: Duration,
    /// Retries.
    pub retry: Retry,
    /// Largest answer accepted, in bytes.
    pub max_answer: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(20),
            retry: Retry::default(),
            max_answer: 1 << 20,
        }
    }
}

/// An `http://` URL taken apart.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct HttpUrl {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (80 by default).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    /// The `Host` header value.
    pub authority: String,
}

impl HttpUrl {
    /// Parses `http://host[:port][/path]`.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let bad = |why| Error::Url {
            url: url.to_string(),
            why,
        };
        let scheme_end = url.find("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = url.get(..scheme_end).unwrap_or_default();
        if scheme.eq_ignore_ascii_case("https") {
            return Err(bad(
                "https is not supported by this client; use http:// (the token is signed)",
            ));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("only http:// URLs are supported"));
        }
        let rest = url.get(scheme_end + 3..).unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (
                rest.get(..i).unwrap_or_default(),
                rest.get(i..).unwrap_or_default(),
            ),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad("user information in the URL is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed IPv6 bracket"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("bad port"))?,
                None if after.is_empty() => 80,
                None => return Err(bad("garbage after the IPv6 address")),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad("bad port"))?),
                None => (authority.to_string(), 80),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Self {
            host,
            port,
            path,
            authority: authority.to_string(),
        })
    }
}

enum Failed {
    /// Worth another attempt.
    Transient(String),
    /// Not worth it.
    Final(Error),
}

/// POSTs a DER `TimeStampReq` to `url`; returns the DER `TimeStampResp` bytes.
pub async fn post(url: &str, query: &[u8], opts: &ClientOptions) -> Result<Vec<u8>, Error> {
    let target = HttpUrl::parse(url)?;
    let attempts = opts.retry.attempts.max(1);
    let mut backoff = opts.retry.initial_backoff;
    let mut last = String::new();
    for attempt in 1..=attempts {
        match once(&target, query, opts).await {
            Ok(bytes) => return Ok(bytes),
            Err(Failed::Final(e)) => return Err(e),
            Err(Failed::Transient(why)) => {
                tracing::info!(url, attempt, %why, "time-stamp request failed");
                last = why;
                if attempt < attempts {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(opts.retry.max_backoff);
                }
            }
        }
    }
    Err(Error::Unreachable {
        url: url.to_string(),
        attempts,
        last,
    })
}

async fn once(target: &HttpUrl, query: &[u8], opts: &ClientOptions) -> Result<Vec<u8>, Failed> {
    let addr = (target.host.as_str(), target.port);
    let stream = match tokio::time::timeout(opts.connect_timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(Failed::Transient(format!("connect: {e}"))),
        Err(_) => return Err(Failed::Transient("connect: timed out".into())),
    };
    match tokio::time::timeout(opts.read_timeout, exchange(stream, target, query, opts)).await {
        Ok(r) => r,
        Err(_) => Err(Failed::Transient("no complete answer in time".into())),
    }
}

async fn exchange(
    stream: TcpStream,
    target: &HttpUrl,
    query: &[u8],
    opts: &ClientOptions,
) -> Result<Vec<u8>, Failed> {
    let url = format!("http://{}{}", target.authority, target.path);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failed::Transient(format!("HTTP handshake: {e}")))?;
    let conn = tokio::spawn(conn);
    let req = Request::post(target.path.as_str())
        .header(HOST, target.authority.as_str())
        .header(USER_AGENT, concat!("ponte/", env!("CARGO_PKG_VERSION")))
        .header(CONTENT_TYPE, "application/timestamp-query")
        .header(CONTENT_LENGTH, query.len())
        .body(Full::new(Bytes::copy_from_slice(query)))
        .map_err(|_| {
            Failed::Final(Error::Url {
                url: url.clone(),
                why: "not a valid request target",
            })
        })?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| Failed::Transient(format!("HTTP: {e}")))?;
    let status = resp.status();
    if status.is_server_error() {
        conn.abort();
        return Err(Failed::Transient(format!("HTTP {status}")));
    }
    if !status.is_success() {
        conn.abort();
        return Err(Failed::Final(Error::HttpStatus {
            url,
            status: status.as_u16(),
        }));
    }
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/timestamp-reply") {
        conn.abort();
        return Err(Failed::Final(Error::ContentType { url, content_type }));
    }
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failed::Transient(format!("reading the answer: {e}")))?;
        if let Some(data) = frame.data_ref() {
            if out.len() + data.len() > opts.max_answer {
                conn.abort();
                return Err(Failed::Final(Error::TooLarge(opts.max_answer)));
            }
            out.extend_from_slice(data);
        }
    }
    conn.abort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = HttpUrl::parse("http://127.0.0.1:3180/tsa?x=1").expect("url");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 3180, "/tsa?x=1")
        );
        let u = HttpUrl::parse("HTTP://tsa.example").expect("url");
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = HttpUrl::parse("http://[::1]:8080").expect("url");
        assert_eq!((u.host.as_str(), u.port), ("::1", 8080));
        assert!(matches!(
            HttpUrl::parse("https://tsa.example/"),
            Err(Error::Url { .. })
        ));
        assert!(matches!(
            HttpUrl::parse("http://:80/"),
            Err(Error::Url { .. })
        ));
        assert!(matches!(
            HttpUrl::parse("http://h:99999/"),
            Err(Error::Url { .. })
        ));
    }

    /// A loopback peer answering every connection with `answer` (or nothing when `None`),
    /// counting connections.
    async fn peer(
        answer: Option<&'static str>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicU32>) {
        use std::sync::atomic::{AtomicU32, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/tsa", listener.local_addr().expect("addr"));
        let hits = std::sync::Arc::new(AtomicU32::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    match answer {
                        Some(a) => {
                            let _ = s.write_all(a.as_bytes()).await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(30)).await,
                    }
                });
            }
        });
        (url, hits)
    }

    fn quick(attempts: u32) -> ClientOptions {
        ClientOptions {
            read_timeout: Duration::from_millis(300),
            retry: Retry {
                attempts,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(20),
            },
            ..ClientOptions::default()
        }
    }

    #[tokio::test]
    async fn server_errors_are_retried_client_errors_are_not() {
        use std::sync::atomic::Ordering;
        let (url, hits) = peer(Some(
            "HTTP/1.1 503 Busy\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        ))
        .await;
        let e = post(&url, b"q", &quick(3)).await.expect_err("503");
        assert!(
            matches!(e, Error::Unreachable { attempts: 3, ref last, .. } if last.contains("503")),
            "{e}"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 3);

        let (url, hits) = peer(Some(
            "HTTP/1.1 400 Bad\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        ))
        .await;
        let e = post(&url, b"q", &quick(3)).await.expect_err("400");
        assert!(matches!(e, Error::HttpStatus { status: 400, .. }), "{e}");
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        let (url, hits) = peer(Some(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi",
        ))
        .await;
        let e = post(&url, b"q", &quick(3)).await.expect_err("text/html");
        assert!(matches!(e, Error::ContentType { .. }), "{e}");
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        let (url, _) = peer(Some(
            "HTTP/1.1 200 OK\r\ncontent-type: application/timestamp-reply\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc",
        ))
        .await;
        assert_eq!(post(&url, b"q", &quick(1)).await.expect("200"), b"abc");
    }

    #[tokio::test]
    async fn a_silent_tsa_times_out_on_every_attempt() {
        use std::sync::atomic::Ordering;
        let (url, hits) = peer(None).await;
        let start = std::time::Instant::now();
        let e = post(&url, b"q", &quick(2)).await.expect_err("silent");
        assert!(
            matches!(e, Error::Unreachable { attempts: 2, ref last, .. } if last.contains("in time")),
            "{e}"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn down_tsa_fails_after_bounded_retries() {
        // Bind then drop a listener: the port is (very likely) closed afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let opts = ClientOptions {
            retry: Retry {
                attempts: 3,
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(100),
            },
            ..ClientOptions::default()
        };
        let start = std::time::Instant::now();
        let e = post(&format!("http://127.0.0.1:{port}/"), b"x", &opts)
            .await
            .expect_err("down");
        let took = start.elapsed();
        assert!(matches!(e, Error::Unreachable { attempts: 3, .. }), "{e}");
        // Two pauses: 50 ms + 100 ms.
        assert!(took >= Duration::from_millis(150), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
}
