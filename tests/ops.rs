//! The operators' HTTP API (`service::ops`) and `ponte queue`, in process: a `Gateway` loaded
//! from the test configuration (tests/common World), an embedded spool in a temporary folder
//! filled through the `Spool` API, the ops server on a loopback port; requests with a hyper
//! client (and raw TCP where the request must be malformed), `ponte queue` as a subprocess.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::World;
use ponte::correlate::{Direction, Record};
use ponte::service::spool::embedded::Embedded;
use ponte::service::spool::{
    Attempt, Destination, Envelope, Format, Incoming, MessageId, NewOutput, NewTimer, Processed,
    Spool, SpoolRecords, State, TimerKind,
};
use ponte::service::{Gateway, ops};
use ponte::translate::Context;

const TOKEN: &str = "test-token-0123456789abcdef";

/// The spool's numbers of the messages the fixture made.
#[derive(Debug, Clone, Copy)]
struct Ids {
    /// Received, not processed.
    a: MessageId,
    /// A PEC envelope translated into a REM dispatch: queued, a warning timer.
    b: MessageId,
    /// The REM receipt that came back for B's dispatch, translated into a PEC receipt:
    /// delivered.
    c: MessageId,
    /// A dispatch whose delivery failed; the non-delivery notice delivered: failed.
    d: MessageId,
    /// Quarantined by an operator.
    e: MessageId,
}

struct Fx {
    world: World,
    gw: Arc<Gateway>,
    spool: Arc<dyn Spool>,
    spool_dir: std::path::PathBuf,
    addr: SocketAddr,
    ids: Ids,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn envelope(from: &str, to: &str) -> Envelope {
    Envelope {
        mail_from: from.into(),
        rcpt_to: vec![to.into()],
        peer: "127.0.0.1:40000".into(),
        helo: "mx.test".into(),
        tls: true,
    }
}

fn incoming(format: Format, kind: &str, mid: &str, from: &str, to: &str) -> Incoming {
    Incoming {
        envelope: envelope(from, to),
        format,
        message_id: Some(mid.into()),
        kind: kind.into(),
        body: format!("Message-ID: {mid}\r\n\r\nbody\r\n").into_bytes(),
    }
}

fn output(kind: &str, mid: &str, dest: Destination, to: &str) -> NewOutput {
    NewOutput {
        kind: kind.into(),
        message_id: mid.into(),
        mail_from: "rem-service@pec.prova.test".into(),
        routes: vec![(dest, vec![to.into()])],
        body: format!("Message-ID: {mid}\r\n\r\nout\r\n").into_bytes(),
    }
}

fn record(dir: Direction, ident: &str, rem: &str, out: &str, input: &str, kind: &str) -> Record {
    Record {
        direction: dir,
        created: "2026-12-06T12:00:00Z".into(),
        pec_identificativo: Some(ident.into()),
        pec_msgid: None,
        rem_message_id: Some(rem.into()),
        rem_ua_message_id: None,
        evidence_ids: vec![],
        input: input.into(),
        output_message_id: out.into(),
        kind: kind.into(),
        dispatch: None,
        sender_assurance: None,
    }
}

/// Claims the due deliveries and ends those of message `id` with `attempt()`; the others stay
/// claimed (this process never delivers them).
async fn settle(spool: &dyn Spool, id: MessageId, attempt: impl Fn() -> Attempt) {
    let now = OffsetDateTime::now_utc();
    let ds = spool
        .claim_deliveries(now, std::time::Duration::from_secs(60), 100)
        .await
        .expect("claim");
    for d in ds.into_iter().filter(|d| d.message == id) {
        spool
            .delivery_done(d.id, attempt(), now)
            .await
            .expect("done");
    }
}

/// Fills the spool with A..E (see [`Ids`]).
async fn fill(spool: &dyn Spool) -> Ids {
    let now = OffsetDateTime::now_utc();
    let pec_from = "posta-certificata@pec.prova.test";
    // C first: its delivery is settled before B's is due, so B's stays queued.
    let c = spool
        .receive(
            incoming(
                Format::Rem,
                "rem-receipt:ContentConsignment",
                "<ev-c@rem.example.eu>",
                "rem-service@rem.example.eu",
                "rem-service@pec.prova.test",
            ),
            Some(Processed {
                mapping: Some("avvenuta-consegna".into()),
                outputs: vec![output(
                    "pec-receipt:avvenuta-consegna",
                    "<pr-c@pec.prova.test>",
                    Destination::Pec,
                    "mario@pec.prova.test",
                )],
                records: vec![record(
                    Direction::RemToPec,
                    "opec-b@pec.prova.test",
                    "<ev-c@rem.example.eu>",
                    "<pr-c@pec.prova.test>",
                    "<ev-c@rem.example.eu>",
                    "avvenuta-consegna",
                )],
                ..Processed::default()
            }),
            now,
        )
        .await
        .expect("c")
        .id();
    settle(spool, c, || Attempt::Delivered("250 2.0.0 ok".into())).await;
    let d = spool
        .receive(
            incoming(
                Format::Pec,
                "posta-certificata",
                "<opec-d@pec.prova.test>",
                pec_from,
                "bo@down.example.eu",
            ),
            Some(Processed {
                mapping: Some("busta-trasporto".into()),
                outputs: vec![output(
                    "rem-dispatch",
                    "<rem-d@pec.prova.test>",
                    Destination::Domain("down.example.eu".into()),
                    "bo@down.example.eu",
                )],
                ..Processed::default()
            }),
            now,
        )
        .await
        .expect("d")
        .id();
    settle(spool, d, || Attempt::Failed {
        reason: "550 5.1.1 no such user".into(),
        notices: Processed {
            outputs: vec![output(
                "pec-notice:errore-consegna",
                "<nd-d@pec.prova.test>",
                Destination::Pec,
                pec_from,
            )],
            ..Processed::default()
        },
    })
    .await;
    settle(spool, d, || Attempt::Delivered("250 ok".into())).await;
    let b = spool
        .receive(
            incoming(
                Format::Pec,
                "posta-certificata",
                "<opec-b@pec.prova.test>",
                pec_from,
                "anna@rem.example.eu",
            ),
            Some(Processed {
                mapping: Some("busta-trasporto".into()),
                outputs: vec![output(
                    "rem-dispatch",
                    "<rem-b@pec.prova.test>",
                    Destination::Domain("rem.example.eu".into()),
                    "anna@rem.example.eu",
                )],
                records: vec![record(
                    Direction::PecToRem,
                    "opec-b@pec.prova.test",
                    "<rem-b@pec.prova.test>",
                    "<rem-b@pec.prova.test>",
                    "<opec-b@pec.prova.test>",
                    "dispatch",
                )],
                timers: vec![NewTimer {
                    kind: TimerKind::Warning,
                    due: now + time::Duration::hours(12),
                    about: "<rem-b@pec.prova.test>".into(),
                    recipients: vec!["anna@rem.example.eu".into()],
                }],
                ..Processed::default()
            }),
            now,
        )
        .await
        .expect("b")
        .id();
    let e = spool
        .receive(
            incoming(
                Format::Pec,
                "posta-certificata",
                "<opec-e@pec.prova.test>",
                pec_from,
                "x@rem.example.eu",
            ),
            None,
            now,
        )
        .await
        .expect("e")
        .id();
    spool.quarantine(e, "operator test", now).await.expect("q");
    let a = spool
        .receive(
            incoming(
                Format::Pec,
                "posta-certificata",
                "<opec-a@pec.prova.test>",
                pec_from,
                "y@rem.example.eu",
            ),
            None,
            now,
        )
        .await
        .expect("a")
        .id();
    let ids = Ids { a, b, c, d, e };
    for (id, want) in [
        (a, State::Received),
        (b, State::Queued),
        (c, State::Delivered),
        (d, State::Failed),
        (e, State::Quarantined),
    ] {
        assert_eq!(spool.message(id).await.expect("m").state, want, "{ids:?}");
    }
    ids
}

/// A gateway on the world's configuration (with `[ops] token_file` when `token`), its spool
/// in `spool_dir`, the ops API on a loopback port.
async fn gateway(world: &World, spool_dir: &std::path::Path) -> (Arc<Gateway>, Arc<dyn Spool>) {
    let spool: Arc<dyn Spool> = Arc::new(Embedded::open(spool_dir).expect("spool"));
    let cx = Context::load(
        &world.config,
        Some(Box::new(SpoolRecords(spool.clone()))),
        "0123456789abcdef".into(),
    )
    .expect("context");
    (Arc::new(Gateway::new(Arc::new(cx), spool.clone())), spool)
}

async fn serve(
    gw: Arc<Gateway>,
) -> (
    SocketAddr,
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(ops::serve(gw, listener, rx));
    (addr, stop, server)
}

async fn fixture() -> Fx {
    let world = World::new();
    std::fs::write(world.path("ops.token"), format!("{TOKEN}\n")).expect("token");
    world.configure("\n[ops]\ntoken_file = \"ops.token\"\n");
    let spool_dir = world.path("spool");
    let (gw, spool) = gateway(&world, &spool_dir).await;
    let ids = fill(spool.as_ref()).await;
    let (addr, stop, server) = serve(gw.clone()).await;
    Fx {
        world,
        gw,
        spool,
        spool_dir,
        addr,
        ids,
        stop,
        server,
    }
}

/// One answer.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A refusal: the status, and the JSON `kind` (with a non-empty `error`).
    fn refusal(&self) -> (u16, String) {
        let v = self.json();
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
        (
            self.status.as_u16(),
            v["kind"].as_str().unwrap_or("").to_owned(),
        )
    }
}

/// One request over a fresh connection (hyper client).
async fn call(addr: SocketAddr, method: Method, path: &str, auth: Option<&str>) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("answer");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

async fn api(addr: SocketAddr, method: Method, path: &str) -> Answer {
    call(addr, method, path, Some(&bearer())).await
}

/// A raw exchange: `head` then `body` as written; the status code of the answer.
async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("head");
    // The server may answer and close before the whole body is sent.
    let _ = s.write_all(body).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn ids_of(v: &Value) -> Vec<u64> {
    v["messages"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["id"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_the_queue_endpoints() {
    let fx = fixture().await;
    let (addr, ids) = (fx.addr, fx.ids);

    // Health and readiness need no token.
    let h = call(addr, Method::GET, "/healthz", None).await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.header("content-type"), "application/json");
    assert_eq!(h.json()["status"], "ok");
    assert!(h.json()["uptime_seconds"].is_u64());
    let r = call(addr, Method::GET, "/readyz", None).await;
    let v = r.json();
    assert_eq!(r.status, StatusCode::OK, "{v}");
    assert_eq!(v["ready"], true);
    assert_eq!(v["failed"], serde_json::json!([]));
    let names: Vec<&str> = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["spool", "identity", "index"]);
    assert!(v["checks"][1]["expires"].as_str().is_some(), "{v}");
    assert_eq!(v["checks"][2]["source"], "snapshot");

    // The queue: not final by default, newest first.
    let q = api(addr, Method::GET, "/api/queue").await;
    assert_eq!(q.status, StatusCode::OK);
    let v = q.json();
    assert_eq!(ids_of(&v), vec![ids.a, ids.b], "{v}");
    assert_eq!(v["count"], 2);
    assert_eq!(v["limit"], 100);
    let m = &v["messages"][1];
    assert_eq!(m["state"], "queued");
    assert_eq!(m["format"], "pec");
    assert_eq!(m["kind"], "posta-certificata");
    assert_eq!(m["message_id"], "<opec-b@pec.prova.test>");
    assert_eq!(m["envelope"]["rcpt_to"][0], "anna@rem.example.eu");
    assert_eq!(m["mapping"], "busta-trasporto");
    assert_eq!(m["output_count"], 1);
    assert!(m["received_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(m.get("history").is_none(), "the list has no history: {m}");
    let q = api(addr, Method::GET, "/api/queue?state=quarantined,failed").await;
    let v = q.json();
    assert_eq!(ids_of(&v), vec![ids.e, ids.d], "{v}");
    assert_eq!(v["states"], serde_json::json!(["quarantined", "failed"]));
    assert_eq!(v["messages"][0]["last_error"], "operator test");
    let q = api(addr, Method::GET, "/api/queue?state=all&limit=3").await;
    assert_eq!(ids_of(&q.json()), vec![ids.a, ids.e, ids.b]);
    let q = api(addr, Method::GET, "/api/queue?state=delivered&state=failed").await;
    assert_eq!(ids_of(&q.json()), vec![ids.d, ids.c]);
    for bad in [
        "/api/queue?state=lost",
        "/api/queue?limit=0",
        "/api/queue?limit=x",
        "/api/queue?order=asc",
    ] {
        assert_eq!(
            api(addr, Method::GET, bad).await.refusal(),
            (400, "bad-query".to_owned()),
            "{bad}"
        );
    }

    // One message, its deliveries and timers.
    let v = api(addr, Method::GET, &format!("/api/queue/{}", ids.b))
        .await
        .json();
    assert_eq!(v["message"]["id"], ids.b);
    assert_eq!(v["message"]["outputs"][0]["kind"], "rem-dispatch");
    assert_eq!(v["message"]["history"][0]["event"], "received");
    let d = &v["deliveries"][0];
    assert_eq!(d["state"], "queued");
    assert_eq!(d["destination"]["kind"], "domain");
    assert_eq!(d["destination"]["value"], "rem.example.eu");
    assert_eq!(d["message_id"], "<rem-b@pec.prova.test>");
    assert_eq!(v["timers"][0]["timer"]["kind"], "warning");
    assert_eq!(v["timers"][0]["timer"]["about"], "<rem-b@pec.prova.test>");
    let v = api(addr, Method::GET, &format!("/api/queue/{}", ids.d))
        .await
        .json();
    assert_eq!(v["message"]["state"], "failed");
    let states: Vec<&str> = v["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter_map(|d| d["state"].as_str())
        .collect();
    assert_eq!(states, ["failed", "delivered"], "{v}");
    assert_eq!(v["deliveries"][0]["last_result"], "550 5.1.1 no such user");
    assert_eq!(
        v["message"]["outputs"][1]["kind"],
        "pec-notice:errore-consegna"
    );

    // The bodies as stored: the input as received, each output as sent.
    let input = api(addr, Method::GET, &format!("/api/queue/{}/input", ids.d)).await;
    assert_eq!(input.status, StatusCode::OK);
    assert_eq!(input.header("content-type"), "message/rfc822");
    let mid = v["message"]["message_id"].as_str().unwrap_or_default();
    assert_eq!(
        input.body,
        format!("Message-ID: {mid}\r\n\r\nbody\r\n").into_bytes()
    );
    let notice = api(
        addr,
        Method::GET,
        &format!("/api/queue/{}/outputs/1", ids.d),
    )
    .await;
    assert_eq!(notice.status, StatusCode::OK);
    let notice_id = v["message"]["outputs"][1]["message_id"]
        .as_str()
        .unwrap_or_default();
    assert!(
        notice
            .body
            .starts_with(format!("Message-ID: {notice_id}\r\n").as_bytes()),
        "{}",
        String::from_utf8_lossy(&notice.body)
    );
    for missing in ["outputs/9", "outputs/4294967296"] {
        let path = format!("/api/queue/{}/{missing}", ids.d);
        assert_eq!(
            api(addr, Method::GET, &path).await.refusal(),
            (404, "not-found".to_owned()),
            "{path}"
        );
    }
    assert_eq!(
        api(addr, Method::GET, "/api/queue/999999/input")
            .await
            .refusal(),
        (404, "not-found".to_owned())
    );
    assert_eq!(
        api(
            addr,
            Method::GET,
            &format!("/api/queue/{}/outputs/x", ids.d)
        )
        .await
        .refusal()
        .0,
        400
    );

    // Precise statuses.
    assert_eq!(
        api(addr, Method::GET, "/api/queue/999999").await.refusal(),
        (404, "not-found".to_owned())
    );
    for bad in [
        "/api/queue/abc",
        "/api/queue/-1",
        "/api/queue/1.5",
        "/api/messages/x",
    ] {
        assert_eq!(
            api(addr, Method::GET, bad).await.refusal(),
            (400, "bad-id".to_owned()),
            "{bad}"
        );
    }
    let put = api(addr, Method::PUT, &format!("/api/queue/{}", ids.b)).await;
    assert_eq!(put.refusal(), (405, "method-not-allowed".to_owned()));
    assert_eq!(put.header("allow"), "GET, HEAD, DELETE");
    let get_retry = api(addr, Method::GET, &format!("/api/queue/{}/retry", ids.b)).await;
    assert_eq!(get_retry.refusal().0, 405);
    assert_eq!(get_retry.header("allow"), "POST");
    assert_eq!(api(addr, Method::POST, "/metrics").await.refusal().0, 405);
    assert_eq!(
        api(addr, Method::GET, "/api/nothing").await.refusal(),
        (404, "no-endpoint".to_owned())
    );
    assert_eq!(
        call(addr, Method::GET, "/nothing", None).await.refusal(),
        (404, "no-endpoint".to_owned())
    );

    // Retry: a quarantined message that was never processed is processed again.
    let r = api(addr, Method::POST, &format!("/api/queue/{}/retry", ids.e)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    assert_eq!(r.json()["previous_state"], "quarantined");
    assert_eq!(r.json()["state"], "received");
    assert_eq!(
        fx.spool.message(ids.e).await.expect("e").state,
        State::Received
    );
    // A failed one has its failed delivery queued again.
    let r = api(addr, Method::POST, &format!("/api/queue/{}/retry", ids.d)).await;
    assert_eq!(r.json()["state"], "queued");
    // A delivered one: nothing to retry.
    assert_eq!(
        api(addr, Method::POST, &format!("/api/queue/{}/retry", ids.c))
            .await
            .refusal(),
        (409, "wrong-state".to_owned())
    );
    assert_eq!(
        api(addr, Method::POST, "/api/queue/999999/retry")
            .await
            .refusal(),
        (404, "not-found".to_owned())
    );

    // Discard: to quarantine, with the reason kept; never twice, never a delivered one.
    let r = api(
        addr,
        Method::DELETE,
        &format!("/api/queue/{}?reason=stuck%20at%20the%20peer", ids.a),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    assert_eq!(r.json()["state"], "quarantined");
    assert_eq!(r.json()["reason"], "stuck at the peer");
    let m = fx.spool.message(ids.a).await.expect("a");
    assert_eq!(m.state, State::Quarantined);
    assert_eq!(
        m.last_error.as_deref(),
        Some("discarded: stuck at the peer")
    );
    assert!(
        m.history
            .iter()
            .any(|h| h.event == "quarantined" && h.detail.contains("stuck"))
    );
    assert_eq!(
        api(addr, Method::DELETE, &format!("/api/queue/{}", ids.a))
            .await
            .refusal(),
        (409, "wrong-state".to_owned())
    );
    assert_eq!(
        api(addr, Method::DELETE, &format!("/api/queue/{}", ids.c))
            .await
            .refusal(),
        (409, "wrong-state".to_owned())
    );
    assert_eq!(
        api(addr, Method::DELETE, "/api/queue/999999")
            .await
            .refusal(),
        (404, "not-found".to_owned())
    );
    // Nothing was deleted: every message is still there.
    for id in [ids.a, ids.b, ids.c, ids.d, ids.e] {
        assert_eq!(
            api(addr, Method::GET, &format!("/api/queue/{id}"))
                .await
                .status,
            StatusCode::OK
        );
    }
    // The operator actions are in the legal log.
    let legal = std::fs::read_to_string(fx.spool_dir.join("legal.jsonl")).expect("legal");
    assert!(legal.contains("stuck at the peer"), "{legal}");
    assert!(legal.contains("\"event\":\"retry\""), "{legal}");

    // Bounded bodies: a declared huge one, and a chunked one that keeps coming.
    let path = format!("/api/queue/{}/retry", ids.b);
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-length: 10000000\r\nconnection: close\r\n\r\n",
        bearer()
    );
    // Refused on the header alone: nothing of the body needs to be sent.
    assert_eq!(raw(addr, &head, b"").await, 413);
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        bearer()
    );
    let mut chunked = Vec::new();
    for _ in 0..20 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[b'y'; 0x400]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw(addr, &head, &chunked).await, 413);
    // A small body is fine.
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n",
        bearer()
    );
    assert_eq!(raw(addr, &head, b"{}").await, 200);
    drop(fx.stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_follows_the_records_across_both_sides() {
    let fx = fixture().await;
    let (addr, ids) = (fx.addr, fx.ids);
    let t = api(addr, Method::GET, &format!("/api/messages/{}", ids.b)).await;
    assert_eq!(t.status, StatusCode::OK);
    let v = t.json();
    assert_eq!(v["message"]["id"], ids.b);
    assert_eq!(v["deliveries"][0]["message_id"], "<rem-b@pec.prova.test>");
    assert_eq!(v["timers"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["truncated"], false);
    // Both records: the dispatch's and the receipt's (found by the PEC identificativo).
    let mut kinds: Vec<&str> = v["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["avvenuta-consegna", "dispatch"], "{v}");
    // The receipt that came back, with its PEC receipt, reached through both identifiers.
    let related = v["related"].as_array().expect("related");
    assert_eq!(related.len(), 1, "{v}");
    let c = &related[0];
    assert_eq!(c["message"]["id"], ids.c);
    assert_eq!(c["message"]["format"], "rem");
    assert_eq!(
        c["message"]["outputs"][0]["message_id"],
        "<pr-c@pec.prova.test>"
    );
    assert_eq!(c["deliveries"][0]["state"], "delivered");
    let via = c["via"].as_array().expect("via");
    assert!(
        via.contains(&serde_json::json!({"message_id": "<ev-c@rem.example.eu>", "as": "input"})),
        "{v}"
    );
    assert!(
        via.contains(
            &serde_json::json!({"message_id": "<pr-c@pec.prova.test>", "as": "output", "output": 0})
        ),
        "{v}"
    );
    // Seen from the receipt: the same two messages.
    let v = api(addr, Method::GET, &format!("/api/messages/{}", ids.c))
        .await
        .json();
    let related: Vec<u64> = v["related"]
        .as_array()
        .expect("related")
        .iter()
        .filter_map(|r| r["message"]["id"].as_u64())
        .collect();
    assert_eq!(related, vec![ids.b], "{v}");
    assert_eq!(v["records"].as_array().map(Vec::len), Some(2));
    // A message nobody correlated: alone.
    let v = api(addr, Method::GET, &format!("/api/messages/{}", ids.d))
        .await
        .json();
    assert_eq!(v["records"], serde_json::json!([]));
    assert_eq!(v["related"], serde_json::json!([]));
    assert_eq!(
        api(addr, Method::GET, "/api/messages/999999")
            .await
            .refusal(),
        (404, "not-found".to_owned())
    );
    drop(fx.stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mappings_and_index_answer_as_the_cli_does() {
    let fx = fixture().await;
    let addr = fx.addr;
    let m = api(addr, Method::GET, "/api/mappings").await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(m.header("content-type"), "application/json");
    let cli = common::run_ponte(["mappings", "show", "--json"]);
    assert!(cli.status.success());
    assert_eq!(
        m.body, cli.stdout,
        "the same JSON as `ponte mappings show --json`"
    );

    let ldif = fx.world.path("index.ldif");
    for domain in ["pec.prova.test", "sicurezzapostale.it", "rem.example.eu"] {
        let a = api(addr, Method::GET, &format!("/api/index/{domain}")).await;
        assert_eq!(a.status, StatusCode::OK);
        let cli = common::run_ponte([
            "index".as_ref(),
            "lookup".as_ref(),
            domain.as_ref(),
            "--ldif".as_ref(),
            ldif.as_os_str(),
            "--json".as_ref(),
        ]);
        assert!(cli.status.success());
        let want: Value = serde_json::from_slice(&cli.stdout).expect("cli json");
        assert_eq!(a.json(), want, "{domain}");
    }
    let v = api(addr, Method::GET, "/api/index/SicurezzaPostale.IT.")
        .await
        .json();
    assert_eq!(v["certified"], true);
    assert_eq!(v["provider"]["name"], "Namirial S.p.A.");
    assert_eq!(
        api(addr, Method::GET, "/api/index/not..a..domain")
            .await
            .refusal(),
        (400, "bad-domain".to_owned())
    );
    drop(fx.stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_needs_the_bearer_token() {
    let fx = fixture().await;
    let addr = fx.addr;
    let path = "/api/queue";
    // Missing, wrong, another scheme: 401 with the challenge; auth comes before routing.
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789abcdef".to_owned()),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
        Some(format!("Basic {TOKEN}")),
        Some("Bearer".to_owned()),
    ] {
        for p in [path, "/api/nothing", "/api/queue/1", "/api/queue/1/input"] {
            let a = call(addr, Method::GET, p, auth.as_deref()).await;
            assert_eq!(
                a.refusal(),
                (401, "unauthorized".to_owned()),
                "{auth:?} {p}"
            );
            assert!(
                a.header("www-authenticate").starts_with("Bearer"),
                "{auth:?}"
            );
        }
    }
    // The right one, scheme in any case.
    assert_eq!(api(addr, Method::GET, path).await.status, StatusCode::OK);
    let lower = format!("bearer {TOKEN}");
    assert_eq!(
        call(addr, Method::GET, path, Some(&lower)).await.status,
        StatusCode::OK
    );
    // A new token applies at once (read at each request).
    let token_file = fx.world.path("ops.token");
    std::fs::write(&token_file, "rotated-token-0123456789\n").expect("rotate");
    assert_eq!(api(addr, Method::GET, path).await.refusal().0, 401);
    assert_eq!(
        call(
            addr,
            Method::GET,
            path,
            Some("Bearer rotated-token-0123456789")
        )
        .await
        .status,
        StatusCode::OK
    );
    // A token file that cannot be used refuses everyone (503), never lets anyone in.
    std::fs::write(&token_file, "short\n").expect("short");
    assert_eq!(
        call(addr, Method::GET, path, Some("Bearer short"))
            .await
            .refusal(),
        (503, "token-unavailable".to_owned())
    );
    std::fs::remove_file(&token_file).expect("rm");
    assert_eq!(
        api(addr, Method::GET, path).await.refusal(),
        (503, "token-unavailable".to_owned())
    );
    // No token file configured (a reload without it): 403 for everyone.
    let mut settings = (*fx.gw.settings()).clone();
    settings.ops.token_file = None;
    fx.gw.set_settings(settings);
    assert_eq!(
        api(addr, Method::GET, path).await.refusal(),
        (403, "no-token-configured".to_owned())
    );
    assert_eq!(
        call(addr, Method::GET, path, None).await.refusal(),
        (403, "no-token-configured".to_owned())
    );
    // The open endpoints stay open.
    for p in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            call(addr, Method::GET, p, None).await.status,
            StatusCode::OK,
            "{p}"
        );
    }
    drop(fx.stop);
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.split([' ', '{']).next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_spool() {
    let fx = fixture().await;
    let addr = fx.addr;
    fx.gw.metrics.message("pec-to-rem", "accepted");
    fx.gw.metrics.tsa_request_seconds.observe(0.02);
    fx.gw.metrics.smtp_sessions.set(3);
    let scrape = || async {
        let m = call(addr, Method::GET, "/metrics", None).await;
        assert_eq!(m.status, StatusCode::OK);
        assert!(
            m.header("content-type")
                .starts_with("application/openmetrics-text"),
            "{}",
            m.header("content-type")
        );
        String::from_utf8(m.body).expect("utf-8")
    };
    let text = scrape().await;
    for name in [
        "# TYPE ponte_messages counter",
        "ponte_messages_total{direction=\"pec-to-rem\",outcome=\"accepted\"} 1",
        "# TYPE ponte_queue_depth gauge",
        "# TYPE ponte_queue_oldest_seconds gauge",
        "# TYPE ponte_index_age_seconds gauge",
        "# TYPE ponte_tsa_request_seconds histogram",
        "ponte_tsa_request_seconds_bucket{le=\"0.032\"} 1",
        "ponte_tsa_request_seconds_count 1",
        "ponte_smtp_sessions 3",
        "# EOF",
    ] {
        assert!(text.contains(name), "{name} not in\n{text}");
    }
    // A (received) and B (queued) are not final; B's delivery and timer wait.
    assert_eq!(metric(&text, "ponte_queue_depth"), Some(2.0), "{text}");
    assert_eq!(
        metric(&text, "ponte_deliveries_queued"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(metric(&text, "ponte_timers"), Some(1.0), "{text}");
    assert_eq!(
        metric(&text, "ponte_index_age_seconds"),
        Some(0.0),
        "{text}"
    );
    assert!(metric(&text, "ponte_queue_oldest_seconds").is_some());

    // A new message queued: the depth rises; delivered: it falls back.
    let now = OffsetDateTime::now_utc();
    let f = fx
        .spool
        .receive(
            incoming(
                Format::Pec,
                "posta-certificata",
                "<opec-f@pec.prova.test>",
                "posta-certificata@pec.prova.test",
                "z@rem.example.eu",
            ),
            Some(Processed {
                mapping: Some("busta-trasporto".into()),
                outputs: vec![output(
                    "rem-dispatch",
                    "<rem-f@pec.prova.test>",
                    Destination::Domain("rem.example.eu".into()),
                    "z@rem.example.eu",
                )],
                ..Processed::default()
            }),
            now,
        )
        .await
        .expect("f")
        .id();
    let text = scrape().await;
    assert_eq!(metric(&text, "ponte_queue_depth"), Some(3.0), "{text}");
    assert_eq!(
        metric(&text, "ponte_deliveries_queued"),
        Some(2.0),
        "{text}"
    );
    settle(fx.spool.as_ref(), f, || Attempt::Delivered("250 ok".into())).await;
    let text = scrape().await;
    assert_eq!(metric(&text, "ponte_queue_depth"), Some(2.0), "{text}");
    assert_eq!(
        metric(&text, "ponte_deliveries_queued"),
        Some(1.0),
        "{text}"
    );
    // Quarantining B stops its delivery and its timer.
    fx.spool.quarantine(fx.ids.b, "test", now).await.expect("q");
    let text = scrape().await;
    assert_eq!(metric(&text, "ponte_queue_depth"), Some(1.0), "{text}");
    assert_eq!(
        metric(&text, "ponte_deliveries_queued"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(metric(&text, "ponte_timers"), Some(0.0), "{text}");
    drop(fx.stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_the_check_that_failed() {
    let fx = fixture().await;
    let addr = fx.addr;
    // The spool cannot take writes (its probe file's name is taken by a folder).
    let probe = fx.spool_dir.join(".writable");
    std::fs::create_dir(&probe).expect("mkdir");
    let r = call(addr, Method::GET, "/readyz", None).await;
    let v = r.json();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["ready"], false);
    assert_eq!(v["failed"], serde_json::json!(["spool"]));
    assert_eq!(v["checks"][0]["ok"], false);
    assert!(
        v["checks"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains(".writable")),
        "{v}"
    );
    // Health is not readiness.
    assert_eq!(
        call(addr, Method::GET, "/healthz", None).await.status,
        StatusCode::OK
    );
    std::fs::remove_dir(&probe).expect("rmdir");
    assert_eq!(
        call(addr, Method::GET, "/readyz", None).await.status,
        StatusCode::OK
    );

    // An index snapshot older than the staleness allowed (7 days): not ready, and its age
    // is the metric.
    let ldif = fx.world.path("index.ldif");
    let old = OffsetDateTime::now_utc() - time::Duration::days(30);
    let text = std::fs::read_to_string(&ldif).expect("ldif");
    std::fs::write(
        &ldif,
        format!(
            "# synced-at: {}\n{text}",
            old.format(&time::format_description::well_known::Rfc3339)
                .expect("time")
        ),
    )
    .expect("write");
    let dir2 = tempfile::tempdir().expect("tempdir");
    let (gw2, _) = gateway(&fx.world, dir2.path()).await;
    let (addr2, stop2, _server2) = serve(gw2).await;
    let r = call(addr2, Method::GET, "/readyz", None).await;
    let v = r.json();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["failed"], serde_json::json!(["index"]));
    let age = v["checks"][2]["age_seconds"].as_u64().expect("age");
    assert!((30 * 86400..31 * 86400).contains(&age), "{v}");
    assert_eq!(v["checks"][2]["max_age_seconds"], 7 * 86400);
    let m = call(addr2, Method::GET, "/metrics", None).await;
    let text = String::from_utf8(m.body).expect("utf-8");
    let got = metric(&text, "ponte_index_age_seconds").expect("index age");
    assert!((30.0 * 86400.0..31.0 * 86400.0).contains(&got), "{text}");
    drop(stop2);
    drop(fx.stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_and_stops_accepting() {
    let fx = fixture().await;
    let addr = fx.addr;
    // A keep-alive connection open across the signal: its next request is answered or the
    // connection is closed, and the server returns.
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    let conn = tokio::spawn(conn);
    let req = || {
        Request::get("/healthz")
            .header("host", "x")
            .body(Full::new(Bytes::new()))
            .expect("req")
    };
    let first = sender.send_request(req()).await.expect("first");
    assert_eq!(first.status(), StatusCode::OK);
    fx.stop.send(true).expect("signal");
    let done = tokio::time::timeout(std::time::Duration::from_secs(5), fx.server)
        .await
        .expect("the server returns promptly")
        .expect("join");
    assert!(done.is_ok(), "{done:?}");
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), conn).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

/// `ponte queue ARGS --ops URL --token-file FILE`; exit code, stdout, stderr.
async fn queue(args: &[&str], url: &str, token_file: &std::path::Path) -> (i32, String, String) {
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_ponte"))
        .arg("queue")
        .args(args)
        .arg("--ops")
        .arg(url)
        .arg("--token-file")
        .arg(token_file)
        .output()
        .await
        .expect("spawn ponte queue");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ponte_queue_talks_to_the_api() {
    let fx = fixture().await;
    let ids = fx.ids;
    let url = format!("http://{}", fx.addr);
    let tf = fx.world.path("ops.token");

    let (code, out, err) = queue(&["list"], &url, &tf).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATE"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&ids.a.to_string()) && lines[1].contains("received"),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&ids.b.to_string()) && lines[2].contains("queued"),
        "{out}"
    );
    assert!(
        lines[2].contains("posta-certificata@pec.prova.test -> anna@rem.example.eu"),
        "{out}"
    );
    assert!(out.contains("2 message(s)"), "{out}");
    let (code, out, _) = queue(
        &[
            "list",
            "--state",
            "failed",
            "--state",
            "quarantined",
            "--json",
        ],
        &url,
        &tf,
    )
    .await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).expect("--json passes the JSON through");
    assert_eq!(ids_of(&v), vec![ids.e, ids.d]);
    let (code, out, _) = queue(
        &["list", "--state", "delivered,failed", "--limit", "1"],
        &url,
        &tf,
    )
    .await;
    assert_eq!(code, 0);
    assert!(
        out.contains("1 message(s)") && out.contains("failed"),
        "{out}"
    );
    let (code, _, err) = queue(&["list", "--state", "lost"], &url, &tf).await;
    assert_eq!(code, 2, "usage: {err}");

    let (code, out, err) = queue(&["show", &ids.b.to_string()], &url, &tf).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "message {}: queued (pec posta-certificata)",
            ids.b
        )),
        "{out}"
    );
    assert!(
        out.contains("deliveries (1):") && out.contains("domain:rem.example.eu"),
        "{out}"
    );
    assert!(
        out.contains("timers (1):") && out.contains("warning"),
        "{out}"
    );
    assert!(out.contains("history ("), "{out}");
    let (code, out, _) = queue(&["show", &ids.d.to_string(), "--json"], &url, &tf).await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["message"]["state"], "failed");

    // Refused by the server: exit 1, the status and the reason on stderr.
    let (code, out, err) = queue(&["show", "999999"], &url, &tf).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("404") && err.contains("not-found") && err.contains(&url),
        "{err}"
    );
    let (code, out, err) = queue(&["retry", &ids.c.to_string(), "--json"], &url, &tf).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("409"), "{err}");
    let v: Value = serde_json::from_str(&out).expect("the refusal's JSON");
    assert_eq!(v["kind"], "wrong-state");

    let (code, out, err) = queue(&["retry", &ids.d.to_string()], &url, &tf).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("message {}: failed -> queued", ids.d));
    let (code, out, err) = queue(
        &["discard", &ids.b.to_string(), "--reason", "peer gone"],
        &url,
        &tf,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        format!("message {}: quarantined (peer gone)", ids.b)
    );
    assert_eq!(
        fx.spool.message(ids.b).await.expect("b").state,
        State::Quarantined
    );
    let (code, _, err) = queue(&["discard", &ids.b.to_string()], &url, &tf).await;
    assert_eq!(code, 1, "{err}");

    // Could not ask: a wrong token, a missing token file, nobody listening: exit 2, naming
    // the URL (or the file).
    let wrong = fx.world.path("wrong.token");
    std::fs::write(&wrong, "not-the-token-0123456789").expect("wrong");
    let (code, _, err) = queue(&["list"], &url, &wrong).await;
    assert_eq!(code, 2);
    assert!(err.contains("401") && err.contains(&url), "{err}");
    let missing = fx.world.path("missing.token");
    let (code, _, err) = queue(&["list"], &url, &missing).await;
    assert_eq!(code, 2);
    assert!(err.contains("missing.token"), "{err}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let down = format!("http://127.0.0.1:{port}");
    let (code, _, err) = queue(&["list"], &down, &tf).await;
    assert_eq!(code, 2);
    assert!(err.contains(&down) && err.contains("connect"), "{err}");
    let (code, _, err) = queue(&["list"], "https://127.0.0.1:1", &tf).await;
    assert_eq!(code, 2);
    assert!(err.contains("https"), "{err}");
    drop(fx.stop);
}
