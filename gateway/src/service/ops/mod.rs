//! The operators' HTTP API (`[ops] listen`, loopback by default): health, readiness, the
//! Prometheus metrics, and `/api/*` to see and act on the queue, the mapping tables and the
//! providers' index. `ponte queue` ([`client`]) talks to it. The manual chapter
//! `manual::ops` lists every endpoint with its JSON and statuses.
//!
//! | endpoint | auth | answer |
//! |---|---|---|
//! | `GET /healthz` | no | 200 while the process serves |
//! | `GET /readyz` | no | 200 ready, 503 not ready; which check failed |
//! | `GET /metrics` | no | OpenMetrics text |
//! | `GET /api/mappings` | bearer | the mapping tables |
//! | `GET /api/index/{domain}` | bearer | the index's answer for a domain |
//! | `GET /api/queue` | bearer | messages, newest first (`?state=..&limit=..`) |
//! | `GET /api/queue/{id}` | bearer | one message, its deliveries and timers |
//! | `POST /api/queue/{id}/retry` | bearer | processes / delivers it again |
//! | `DELETE /api/queue/{id}` | bearer | moves it to quarantine (never deletes) |
//! | `GET /api/queue/{id}/input` | bearer | the message as received (`message/rfc822`) |
//! | `GET /api/queue/{id}/outputs/{k}` | bearer | its output `k` (from 0) as sent (`message/rfc822`) |
//! | `GET /api/messages/{id}` | bearer | the whole trace across both sides |
//!
//! `/api/*` wants `Authorization: Bearer <token>`, the token being the content of
//! `[ops] token_file` (trimmed), read at each request so that a new token applies without a
//! restart. The comparison is constant-time by construction ([`auth`]). Every refusal is a
//! JSON object `{"error": text, "kind": name}` whose `kind` is [`Error::kind`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::net::TcpListener;

use super::spool::{self, Filter, MessageId, State};
use super::{Gateway, Shutdown, stopping};

pub mod auth;
pub mod client;
pub mod view;

/// Largest request body accepted (the API takes its arguments in the path and the query;
/// a body is read only to be bounded).
pub const MAX_BODY: usize = 16 * 1024;
/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send a request's header.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// After the shutdown signal: how long requests in flight may take to finish.
pub const GRACE: Duration = Duration::from_secs(10);
/// `GET /api/queue` without `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 1000;
/// `Content-Type` of `GET /metrics`.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why a request was refused (or failed). The JSON answer's `kind` is [`Error::kind`], the
/// status [`Error::status`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path names no endpoint (404, `no-endpoint`).
    #[error("no endpoint {path}")]
    NoEndpoint {
        /// The path asked for.
        path: String,
    },
    /// The endpoint exists but not with this method (405, `method-not-allowed`).
    #[error("{method} is not allowed on {path} (allowed: {allowed})")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The path.
        path: String,
        /// The methods the endpoint takes (also in the `Allow` header).
        allowed: &'static str,
    },
    /// A message number that is not one (400, `bad-id`).
    #[error("{value:?} is not a message number (a positive decimal integer)")]
    BadId {
        /// What was given.
        value: String,
    },
    /// A query parameter that cannot be used (400, `bad-query`).
    #[error("query parameter {name}: {reason}")]
    BadQuery {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A domain the index cannot look up (400, `bad-domain`).
    #[error("{0}")]
    BadDomain(String),
    /// The request body is larger than [`MAX_BODY`] (413, `body-too-large`).
    #[error("request body larger than {max} bytes")]
    BodyTooLarge {
        /// The limit.
        max: usize,
    },
    /// The request body could not be read (400, `bad-body`).
    #[error("request body: {0}")]
    BadBody(String),
    /// `[ops] token_file` is not configured: `/api/*` is refused to everyone (403,
    /// `no-token-configured`).
    #[error("no [ops] token_file is configured: /api/* is refused")]
    NoToken,
    /// The token file is configured but cannot be used (503, `token-unavailable`).
    #[error("the token file {path}: {reason}")]
    TokenFile {
        /// The file.
        path: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// No `Authorization: Bearer` header, or the wrong token (401, `unauthorized`).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The spool refused or failed: unknown message (404, `not-found`), a state where the
    /// action does not apply (409, `wrong-state`), a damaged entry (500, `spool-corrupt`),
    /// storage failing (503, `spool-unavailable`).
    #[error("{0}")]
    Spool(#[from] spool::Error),
    /// The index could not answer (503, `index-unavailable`).
    #[error("index: {0}")]
    Index(String),
    /// An answer could not be written (500, `internal`).
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// The stable name of the refusal (the JSON `kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NoEndpoint { .. } => "no-endpoint",
            Error::MethodNotAllowed { .. } => "method-not-allowed",
            Error::BadId { .. } => "bad-id",
            Error::BadQuery { .. } => "bad-query",
            Error::BadDomain(_) => "bad-domain",
            Error::BodyTooLarge { .. } => "body-too-large",
            Error::BadBody(_) => "bad-body",
            Error::NoToken => "no-token-configured",
            Error::TokenFile { .. } => "token-unavailable",
            Error::Unauthorized(_) => "unauthorized",
            Error::Spool(spool::Error::NotFound { .. }) => "not-found",
            Error::Spool(spool::Error::WrongState { .. }) => "wrong-state",
            Error::Spool(spool::Error::Corrupt { .. }) => "spool-corrupt",
            Error::Spool(_) => "spool-unavailable",
            Error::Index(_) => "index-unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NoEndpoint { .. } => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::BadId { .. }
            | Error::BadQuery { .. }
            | Error::BadDomain(_)
            | Error::BadBody(_) => StatusCode::BAD_REQUEST,
            Error::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::NoToken => StatusCode::FORBIDDEN,
            Error::TokenFile { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Spool(spool::Error::NotFound { .. }) => StatusCode::NOT_FOUND,
            Error::Spool(spool::Error::WrongState { .. }) => StatusCode::CONFLICT,
            Error::Spool(spool::Error::Corrupt { .. }) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Error::Spool(_) | Error::Index(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The answer: `{"error": text, "kind": name}` with the status, plus `Allow` for 405 and
    /// `WWW-Authenticate` for 401.
    pub fn response(&self) -> Response<Full<Bytes>> {
        let mut r = json_response(
            self.status(),
            &json!({ "error": self.to_string(), "kind": self.kind() }),
        );
        match self {
            Error::MethodNotAllowed { allowed, .. } => {
                r.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static(allowed));
            }
            Error::Unauthorized(_) => {
                r.headers_mut().insert(
                    hyper::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"ponte\""),
                );
            }
            _ => {}
        }
        r
    }
}

/// A JSON answer (compact, one trailing newline).
fn json_response(status: StatusCode, v: &Value) -> Response<Full<Bytes>> {
    let mut body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    body.push(b'\n');
    bytes_response(status, "application/json", body)
}

fn bytes_response(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::Internal(e.to_string()))
}

/// What every connection shares.
struct Shared {
    gw: Arc<Gateway>,
    auth: auth::Auth,
}

/// Serves the ops API on `listener` until `shutdown` says stop; then stops accepting, lets
/// the requests in flight finish (at most [`GRACE`]) and returns. Errors accepting a
/// connection (out of file descriptors) are logged and do not stop the service; the only
/// error returned is failing to set up (the system random generator).
pub async fn serve(
    gw: Arc<Gateway>,
    listener: TcpListener,
    mut shutdown: Shutdown,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        gw,
        auth: auth::Auth::new()?,
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut conns = tokio::task::JoinSet::new();
    if let Ok(a) = listener.local_addr() {
        tracing::info!(listen = %a, "ops API listening");
    }
    loop {
        tokio::select! {
            () = stopping(&mut shutdown) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "ops API: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    tracing::warn!(%peer, "ops API: {MAX_CONNECTIONS} connections open; closing this one");
                    continue;
                };
                let shared = Arc::clone(&shared);
                let sd = shutdown.clone();
                conns.spawn(async move {
                    connection(shared, stream, peer, sd).await;
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(GRACE, drain).await.is_err() {
        tracing::warn!("ops API: requests still running after {GRACE:?}; stopping them");
        conns.abort_all();
    }
    tracing::info!("ops API stopped");
    Ok(())
}

async fn connection(
    shared: Arc<Shared>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    mut shutdown: Shutdown,
) {
    let service = hyper::service::service_fn(move |req| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(&shared, req, peer).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let r = tokio::select! {
        r = conn.as_mut() => r,
        () = stopping(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = r {
        tracing::debug!(%peer, error = %e, "ops API connection");
    }
}

/// The endpoints (path patterns), for routing and the `Allow` header.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Healthz,
    Readyz,
    Metrics,
    Mappings,
    Index(String),
    Queue,
    QueueItem(String),
    Retry(String),
    Trace(String),
    /// A stored body: the input (`None`) or output `k`.
    Body(String, Option<String>),
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        let trimmed = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        let segs: Vec<String> = trimmed
            .split('/')
            .skip(1)
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        Some(match segs.as_slice() {
            ["healthz"] => Route::Healthz,
            ["readyz"] => Route::Readyz,
            ["metrics"] => Route::Metrics,
            ["api", "mappings"] => Route::Mappings,
            ["api", "index", d] => Route::Index((*d).to_owned()),
            ["api", "queue"] => Route::Queue,
            ["api", "queue", id] => Route::QueueItem((*id).to_owned()),
            ["api", "queue", id, "retry"] => Route::Retry((*id).to_owned()),
            ["api", "queue", id, "input"] => Route::Body((*id).to_owned(), None),
            ["api", "queue", id, "outputs", k] => {
                Route::Body((*id).to_owned(), Some((*k).to_owned()))
            }
            ["api", "messages", id] => Route::Trace((*id).to_owned()),
            _ => return None,
        })
    }

    fn allowed(&self) -> &'static str {
        match self {
            Route::QueueItem(_) => "GET, HEAD, DELETE",
            Route::Retry(_) => "POST",
            _ => "GET, HEAD",
        }
    }

    fn allows(&self, m: &Method) -> bool {
        match self {
            Route::QueueItem(_) => m == Method::GET || m == Method::HEAD || m == Method::DELETE,
            Route::Retry(_) => m == Method::POST,
            _ => m == Method::GET || m == Method::HEAD,
        }
    }

    fn needs_token(&self) -> bool {
        !matches!(self, Route::Healthz | Route::Readyz | Route::Metrics)
    }
}

async fn handle(
    shared: &Shared,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let r = answer(shared, req).await;
    let resp = r.unwrap_or_else(|e| e.response());
    let status = resp.status().as_u16();
    if method == Method::GET || method == Method::HEAD {
        tracing::debug!(%peer, %method, %path, status, "ops API");
    } else {
        tracing::info!(%peer, %method, %path, status, "ops API");
    }
    resp
}

async fn answer(shared: &Shared, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Error> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Error::BodyTooLarge { max: MAX_BODY });
    }
    let path = req.uri().path().to_owned();
    let route = Route::parse(&path);
    // Under /api/ the token comes first: without it, not even which paths exist is told.
    let protected = route.as_ref().map_or(
        path == "/api" || path.starts_with("/api/"),
        Route::needs_token,
    );
    if protected {
        shared.auth.check(&shared.gw, req.headers()).await?;
    }
    let route = route.ok_or_else(|| Error::NoEndpoint { path: path.clone() })?;
    if !route.allows(req.method()) {
        return Err(Error::MethodNotAllowed {
            method: req.method().to_string(),
            path,
            allowed: route.allowed(),
        });
    }
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let method = req.method().clone();
    // Bounded even when no length was declared (chunked).
    Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Error::BodyTooLarge { max: MAX_BODY }
            } else {
                Error::BadBody(e.to_string())
            }
        })?;
    let gw = &shared.gw;
    match route {
        Route::Healthz => Ok(json_response(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "uptime_seconds": gw.started.elapsed().as_secs(),
            }),
        )),
        Route::Readyz => Ok(readyz(gw).await),
        Route::Metrics => metrics(gw).await,
        Route::Mappings => {
            let text = gw
                .cx
                .tables
                .to_json()
                .map_err(|e| Error::Internal(e.to_string()))?;
            Ok(bytes_response(
                StatusCode::OK,
                "application/json",
                text.into_bytes(),
            ))
        }
        Route::Index(domain) => {
            let a = gw.cx.index.lookup(&domain).await.map_err(|e| match e {
                crate::index::Error::InvalidDomain { .. } => Error::BadDomain(e.to_string()),
                other => Error::Index(other.to_string()),
            })?;
            Ok(json_response(StatusCode::OK, &a.to_json()))
        }
        Route::Queue => {
            let filter = filter(&query)?;
            let list = gw.spool.list(&filter).await?;
            let entries: Vec<view::QueueEntry> = list.iter().map(view::QueueEntry::from).collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({
                    "count": entries.len(),
                    "limit": filter.limit,
                    "states": filter.states.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                    "messages": to_value(&entries)?,
                }),
            ))
        }
        Route::QueueItem(id) if method == Method::DELETE => {
            let id = parse_id(&id)?;
            let reason = query
                .iter()
                .find(|(k, _)| k == "reason")
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "discarded by an operator".to_owned());
            let reason = reason.replace(['\r', '\n'], " ");
            if reason.len() > 1000 {
                return Err(Error::BadQuery {
                    name: "reason".into(),
                    reason: "longer than 1000 bytes".into(),
                });
            }
            let now = OffsetDateTime::now_utc();
            gw.spool
                .quarantine(id, &format!("discarded: {reason}"), now)
                .await?;
            let m = gw.spool.message(id).await?;
            Ok(json_response(
                StatusCode::OK,
                &json!({ "id": id, "state": m.state.as_str(), "reason": reason }),
            ))
        }
        Route::QueueItem(id) => {
            let id = parse_id(&id)?;
            let v = view::MessageView::load(gw.spool.as_ref(), id).await?;
            Ok(json_response(StatusCode::OK, &to_value(&v)?))
        }
        Route::Retry(id) => {
            let id = parse_id(&id)?;
            let before = gw.spool.message(id).await?.state;
            let state = gw.spool.retry(id, OffsetDateTime::now_utc()).await?;
            gw.wake();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "id": id, "previous_state": before.as_str(), "state": state.as_str() }),
            ))
        }
        Route::Trace(id) => {
            let id = parse_id(&id)?;
            let t = view::Trace::build(gw.spool.as_ref(), id).await?;
            Ok(json_response(StatusCode::OK, &to_value(&t)?))
        }
        Route::Body(id, k) => {
            let id = parse_id(&id)?;
            let m = gw.spool.message(id).await?;
            let body = match k {
                None => gw.spool.input(id).await?,
                Some(k) => {
                    let k = parse_id(&k)?;
                    let index = u32::try_from(k)
                        .ok()
                        .filter(|i| m.outputs.iter().any(|o| o.index == *i))
                        .ok_or(Error::Spool(spool::Error::NotFound {
                            what: "output",
                            id: k,
                        }))?;
                    gw.spool.output(id, index).await?
                }
            };
            Ok(bytes_response(StatusCode::OK, "message/rfc822", body))
        }
    }
}

/// A message number: decimal digits only (no sign, no spaces), fitting in 64 bits.
fn parse_id(s: &str) -> Result<MessageId, Error> {
    let bad = || Error::BadId {
        value: s.to_owned(),
    };
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    s.parse::<MessageId>().map_err(|_| bad())
}

/// `state` (comma-separated, repeatable; `all` for every state) and `limit`.
fn filter(query: &[(String, String)]) -> Result<Filter, Error> {
    let mut states = Vec::new();
    let mut limit = DEFAULT_LIMIT;
    for (k, v) in query {
        match k.as_str() {
            "state" => {
                for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let parsed: Vec<State> = match s {
                        "all" => vec![
                            State::Received,
                            State::Queued,
                            State::Delivered,
                            State::Failed,
                            State::Quarantined,
                        ],
                        other => vec![parse_state(other).ok_or_else(|| Error::BadQuery {
                            name: "state".into(),
                            reason: format!(
                                "{other:?} is not one of received, queued, delivered, failed, quarantined, all"
                            ),
                        })?],
                    };
                    for st in parsed {
                        if !states.contains(&st) {
                            states.push(st);
                        }
                    }
                }
            }
            "limit" => {
                limit = v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| Error::BadQuery {
                        name: "limit".into(),
                        reason: format!("{v:?} is not a number from 1 to {MAX_LIMIT}"),
                    })?;
            }
            other => {
                return Err(Error::BadQuery {
                    name: other.to_owned(),
                    reason: "unknown (known: state, limit)".into(),
                });
            }
        }
    }
    Ok(Filter { states, limit })
}

fn parse_state(s: &str) -> Option<State> {
    Some(match s {
        "received" => State::Received,
        "queued" => State::Queued,
        "delivered" => State::Delivered,
        "failed" => State::Failed,
        "quarantined" => State::Quarantined,
        _ => return None,
    })
}

/// The index data's age in seconds, when known (a snapshot without a `# synced-at:` line
/// has none), with where the data came from.
fn index_age(gw: &Gateway) -> Option<(Option<u64>, &'static str)> {
    gw.cx.index.mirror_taken_at().map(|(at, source)| {
        let age = at.map(|t| {
            SystemTime::now()
                .duration_since(t)
                .unwrap_or(Duration::ZERO)
                .as_secs()
        });
        let source = match source {
            crate::index::Source::Ldap => "ldap",
            crate::index::Source::Snapshot => "snapshot",
        };
        (age, source)
    })
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

async fn metrics(gw: &Gateway) -> Result<Response<Full<Bytes>>, Error> {
    let stats = gw.spool.stats(OffsetDateTime::now_utc()).await?;
    let m = &gw.metrics;
    m.queue_depth.set(gauge(stats.queue_depth));
    m.queue_oldest_seconds.set(gauge(stats.oldest_seconds));
    m.deliveries_queued.set(gauge(stats.deliveries_queued));
    m.timers.set(gauge(stats.timers));
    let age = index_age(gw).and_then(|(a, _)| a).unwrap_or(0);
    m.index_age_seconds.set(gauge(age));
    if let Some(lists) = gw.trust.in_force() {
        let now = OffsetDateTime::now_utc();
        let ages: Vec<(String, u64)> = lists
            .lists()
            .iter()
            .map(|l| {
                let age = u64::try_from((now - l.fetched_at).whole_seconds()).unwrap_or(0);
                (l.source.clone(), age)
            })
            .collect();
        m.list_ages(&ages);
    } else {
        m.list_ages(&[]);
    }
    Ok(bytes_response(
        StatusCode::OK,
        METRICS_CONTENT_TYPE,
        m.render().into_bytes(),
    ))
}

/// One readiness check.
fn check(name: &str, ok: bool, detail: String, extra: Value) -> Value {
    let mut v = json!({ "name": name, "ok": ok, "detail": detail });
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    v
}

async fn readyz(gw: &Gateway) -> Response<Full<Bytes>> {
    let now = OffsetDateTime::now_utc();
    let mut checks = Vec::new();
    // The spool takes writes.
    checks.push(match gw.spool.writable().await {
        Ok(()) => check("spool", true, "writable".into(), Value::Null),
        Err(e) => check("spool", false, e.to_string(), Value::Null),
    });
    // The identity's certificates are valid now.
    let id = &gw.cx.config.identity;
    let mut certs = vec![("pec_cert", &id.pec_cert), ("rem_cert", &id.rem_cert)];
    certs.extend(id.pec_chain.iter().map(|c| ("pec_chain", c)));
    certs.extend(id.rem_chain.iter().map(|c| ("rem_chain", c)));
    let bad: Vec<String> = certs
        .iter()
        .filter(|(_, c)| !c.is_valid_at(now))
        .map(|(role, c)| {
            format!(
                "{role} {} valid {} to {}",
                c.subject,
                crate::pec::zone::rfc3339(c.not_before),
                crate::pec::zone::rfc3339(c.not_after)
            )
        })
        .collect();
    let expires = certs.iter().map(|(_, c)| c.not_after).min();
    checks.push(check(
        "identity",
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} certificates valid now", certs.len())
        } else {
            format!("not valid now: {}", bad.join("; "))
        },
        json!({ "expires": expires.map(crate::pec::zone::rfc3339) }),
    ));
    // The index has data, not older than the staleness it may be served with.
    let max = gw.cx.index.cache().policy().max_stale.as_secs();
    checks.push(match index_age(gw) {
        None => check(
            "index",
            false,
            "no index data yet (the directory has not been read and there is no snapshot)".into(),
            json!({ "max_age_seconds": max }),
        ),
        Some((None, source)) => check(
            "index",
            true,
            format!("{source} without a sync time (age unknown)"),
            json!({ "source": source, "age_seconds": null, "max_age_seconds": max }),
        ),
        Some((Some(age), source)) => check(
            "index",
            age <= max,
            if age <= max {
                format!("{source}, {age} s old")
            } else {
                format!("{source}, {age} s old: older than {max} s")
            },
            json!({ "source": source, "age_seconds": age, "max_age_seconds": max }),
        ),
    });
    let failed: Vec<Value> = checks
        .iter()
        .filter(|c| c["ok"] == Value::Bool(false))
        .map(|c| c["name"].clone())
        .collect();
    let ready = failed.is_empty();
    json_response(
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        &json!({ "ready": ready, "failed": failed, "checks": checks }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_methods() {
        assert_eq!(Route::parse("/healthz"), Some(Route::Healthz));
        assert_eq!(Route::parse("/api/queue/"), Some(Route::Queue));
        assert_eq!(
            Route::parse("/api/index/pec%2Eprova.test"),
            Some(Route::Index("pec.prova.test".into()))
        );
        assert_eq!(
            Route::parse("/api/queue/12/retry"),
            Some(Route::Retry("12".into()))
        );
        assert_eq!(Route::parse("/api/queue/12/retry/x"), None);
        assert_eq!(Route::parse("/"), None);
        assert_eq!(Route::parse("/api"), None);
        assert!(Route::QueueItem("1".into()).allows(&Method::DELETE));
        assert!(!Route::QueueItem("1".into()).allows(&Method::POST));
        assert!(!Route::Metrics.needs_token());
        assert!(Route::Mappings.needs_token());
    }

    #[test]
    fn ids_are_plain_decimal() {
        assert_eq!(parse_id("42").ok(), Some(42));
        for bad in [
            "",
            "+1",
            "-1",
            "1.0",
            "abc",
            " 1",
            "99999999999999999999999",
        ] {
            assert!(matches!(parse_id(bad), Err(Error::BadId { .. })), "{bad:?}");
        }
    }

    #[test]
    fn filters() {
        let q = |pairs: &[(&str, &str)]| {
            filter(
                &pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<Vec<_>>(),
            )
        };
        let f = q(&[("state", "quarantined,failed"), ("limit", "5")]).ok();
        assert_eq!(
            f,
            Some(Filter {
                states: vec![State::Quarantined, State::Failed],
                limit: 5
            })
        );
        assert_eq!(q(&[("state", "all")]).map(|f| f.states.len()).ok(), Some(5));
        assert_eq!(q(&[]).map(|f| f.limit).ok(), Some(DEFAULT_LIMIT));
        assert!(matches!(
            q(&[("state", "lost")]),
            Err(Error::BadQuery { .. })
        ));
        assert!(matches!(q(&[("limit", "0")]), Err(Error::BadQuery { .. })));
        assert!(matches!(
            q(&[("limit", "1001")]),
            Err(Error::BadQuery { .. })
        ));
        assert!(matches!(q(&[("sort", "x")]), Err(Error::BadQuery { .. })));
    }

    #[test]
    fn every_refusal_has_its_status() {
        let nf = Error::Spool(spool::Error::NotFound {
            what: "message",
            id: 3,
        });
        assert_eq!((nf.status().as_u16(), nf.kind()), (404, "not-found"));
        let ws = Error::Spool(spool::Error::WrongState {
            what: "message",
            id: 3,
            state: "delivered".into(),
            action: "retry",
        });
        assert_eq!((ws.status().as_u16(), ws.kind()), (409, "wrong-state"));
        let io = Error::Spool(spool::Error::Database("gone".into()));
        assert_eq!(io.status().as_u16(), 503);
        assert_eq!(Error::NoToken.status().as_u16(), 403);
        let u = Error::Unauthorized("x").response();
        assert_eq!(u.status().as_u16(), 401);
        assert!(u.headers().contains_key(hyper::header::WWW_AUTHENTICATE));
    }
}
