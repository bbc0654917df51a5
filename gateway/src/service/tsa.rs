//! The development TSA's HTTP listener (RFC 3161 over HTTP/1.1, hyper), for `ponte tsa serve`
//! and the in-process TSA of `ponte serve --dev`. NOT qualified: see [`crate::tsp::server`].
//!
//! It answers `POST` with `Content-Type: application/timestamp-query` (any path) with a
//! `TimeStampResp` (`application/timestamp-reply`), also for rejections as RFC 3161 wants;
//! other methods get 405, other content types 415, bodies over 64 KiB 413.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::tsp::Error;
use crate::tsp::issue::Answered;
use crate::tsp::server::DevTsa;

/// Largest request body accepted.
pub const MAX_REQUEST: usize = 64 * 1024;

/// The clock the server stamps with (a parameter, so tests can fix it).
pub type Clock = Arc<dyn Fn() -> time::OffsetDateTime + Send + Sync>;

/// Where one line per request goes.
pub type Log = Arc<dyn Fn(String) + Send + Sync>;

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
    use std::path::Path;

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
}
