//! A client of the ops API, for `ponte queue`: one HTTP/1.1 request per call (hyper), the
//! bearer token sent with it, the answer's status and body returned whatever the status.
//!
//! Only `http://` URLs: the API listens on loopback; reach a remote one through an SSH
//! tunnel. A base URL may carry a path prefix (`http://127.0.0.1:9025/ponte`), kept before
//! the API's paths.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, HOST, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Errors of the client: the request did not get an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL cannot be used.
    #[error("{url}: {why}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The server could not be reached or did not answer in time.
    #[error("{url}: {reason}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The answer is larger than [`MAX_ANSWER`].
    #[error("{url}: answer larger than {MAX_ANSWER} bytes")]
    TooLarge {
        /// The URL asked.
        url: String,
    },
}

/// Largest answer read.
pub const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// What the server answered.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// A client of one ops API.
#[derive(Clone)]
pub struct Client {
    base: String,
    host: String,
    port: u16,
    authority: String,
    prefix: String,
    token: String,
    /// Time allowed to connect, and then to get the whole answer.
    pub timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the API at `base` (`http://host:port[/prefix]`) sending `token`.
    pub fn new(base: &str, token: &str) -> Result<Client, Error> {
        let bad = |why| Error::Url {
            url: base.to_owned(),
            why,
        };
        let uri: Uri = base.parse().map_err(|_| bad("not a valid URL"))?;
        match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => {}
            Some("https") => {
                return Err(bad(
                    "https:// is not supported: the ops API listens on loopback (use an SSH tunnel to reach a remote one)",
                ));
            }
            _ => return Err(bad("not an http:// URL")),
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user information in the URL is not supported"));
        }
        if uri.query().is_some() {
            return Err(bad("a query in the base URL is not supported"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Client {
            base: base.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_owned(),
            prefix: uri.path().trim_end_matches('/').to_owned(),
            host,
            token: token.to_owned(),
            timeout: Duration::from_secs(30),
        })
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}{path}", self.authority, self.prefix)
    }

    /// Sends `method path` (path and query, starting with `/`) with the token; returns the
    /// status and body, whatever the status.
    pub async fn request(&self, method: Method, path: &str) -> Result<Answer, Error> {
        let url = self.url(path);
        let unreachable = |reason: String| Error::Unreachable {
            url: url.clone(),
            reason,
        };
        let connect = TcpStream::connect((self.host.as_str(), self.port));
        let stream = match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(unreachable(format!("cannot connect: {e}"))),
            Err(_) => return Err(unreachable("connecting timed out".into())),
        };
        match tokio::time::timeout(self.timeout, self.exchange(stream, method, path, &url)).await {
            Ok(r) => r,
            Err(_) => Err(unreachable(format!(
                "no complete answer within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    async fn exchange(
        &self,
        stream: TcpStream,
        method: Method,
        path: &str,
        url: &str,
    ) -> Result<Answer, Error> {
        let unreachable = |reason: String| Error::Unreachable {
            url: url.to_owned(),
            reason,
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(format!("HTTP: {e}")))?;
        let conn = tokio::spawn(conn);
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header(HOST, self.authority.as_str())
            .header(USER_AGENT, concat!("ponte/", env!("CARGO_PKG_VERSION")))
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header(CONTENT_LENGTH, 0)
            .body(Full::new(Bytes::new()))
            .map_err(|_| Error::Url {
                url: url.to_owned(),
                why: "not a valid request (path or token)",
            })?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| unreachable(format!("HTTP: {e}")))?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| unreachable(format!("reading the answer: {e}")))?;
            if let Some(data) = frame.data_ref() {
                if out.len() + data.len() > MAX_ANSWER {
                    conn.abort();
                    return Err(Error::TooLarge {
                        url: url.to_owned(),
                    });
                }
                out.extend_from_slice(data);
            }
        }
        conn.abort();
        Ok(Answer { status, body: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let c = Client::new("http://127.0.0.1:9025", "t").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.url("/api/queue"), "http://127.0.0.1:9025/api/queue");
        let c = Client::new("http://[::1]:9/ponte/", "t").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.host.as_str(), c.port), ("::1", 9));
        assert_eq!(c.url("/api/queue"), "http://[::1]:9/ponte/api/queue");
        for bad in [
            "https://127.0.0.1:9025",
            "ftp://x",
            "127.0.0.1:9025",
            "http://u@h:1/",
            "http://h:1/?q",
        ] {
            assert!(
                matches!(Client::new(bad, "t"), Err(Error::Url { .. })),
                "{bad}"
            );
        }
    }
}
