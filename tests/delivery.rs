//! Delivery (SMTP out) and the SMTP sink every service test talks to
//! (`tests/peers/smtp_sink.py`, a real aiosmtpd server in a second process).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::SmtpSink;

/// One SMTP command; the reply code (multi-line replies read whole).
fn cmd(r: &mut BufReader<TcpStream>, w: &mut TcpStream, line: &str) -> u16 {
    if !line.is_empty() {
        w.write_all(line.as_bytes()).expect("write");
        w.write_all(b"\r\n").expect("write");
    }
    loop {
        let mut l = String::new();
        r.read_line(&mut l).expect("read reply");
        if l.len() < 4 || l.as_bytes()[3] != b'-' {
            return l.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        }
    }
}

#[test]
fn the_sink_keeps_messages_byte_exact_and_counts_connections() {
    let Some(sink) = SmtpSink::start(&["--reject-rcpt", "^nobody@"]) else {
        return;
    };
    let body = b"Subject: sink\r\n\r\n.a line starting with a dot\r\nlast\r\n";
    for round in 0..2 {
        let mut w = TcpStream::connect(sink.addr).expect("connect");
        w.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut r = BufReader::new(w.try_clone().expect("clone"));
        assert_eq!(cmd(&mut r, &mut w, ""), 220);
        assert_eq!(cmd(&mut r, &mut w, "EHLO test.local"), 250);
        assert_eq!(cmd(&mut r, &mut w, "MAIL FROM:<a@x.test>"), 250);
        assert_eq!(cmd(&mut r, &mut w, "RCPT TO:<b@y.test>"), 250);
        assert_eq!(cmd(&mut r, &mut w, "RCPT TO:<nobody@y.test>"), 550);
        assert_eq!(cmd(&mut r, &mut w, "DATA"), 354);
        // Dot-stuffed on the wire, as a client must.
        w.write_all(b"Subject: sink\r\n\r\n..a line starting with a dot\r\nlast\r\n.\r\n")
            .expect("data");
        assert_eq!(cmd(&mut r, &mut w, ""), 250, "round {round}");
        assert_eq!(cmd(&mut r, &mut w, "QUIT"), 221);
    }
    let got = sink.messages();
    assert_eq!(got.len(), 2);
    for m in &got {
        assert_eq!(m.body, body, "message {}", m.n);
        assert_eq!(m.mail_from, "a@x.test");
        assert_eq!(m.rcpt_tos, vec!["b@y.test".to_string()]);
        assert!(!m.tls);
    }
    assert_eq!((got[0].connection, got[1].connection), (1, 2));
    assert_eq!(sink.connections(), 2);
}

#[test]
fn the_sink_refuses_while_its_refuse_file_exists_and_survives_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let flag = tmp.path().join("down");
    let flag_s = flag.display().to_string();
    let Some(mut sink) = SmtpSink::start(&["--refuse-file", &flag_s]) else {
        return;
    };
    std::fs::write(&flag, "").expect("flag");
    let mut w = TcpStream::connect(sink.addr).expect("connect");
    w.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut r = BufReader::new(w.try_clone().expect("clone"));
    assert_eq!(cmd(&mut r, &mut w, ""), 220);
    assert_eq!(cmd(&mut r, &mut w, "EHLO test.local"), 250);
    assert_eq!(cmd(&mut r, &mut w, "MAIL FROM:<a@x.test>"), 451);
    std::fs::remove_file(&flag).expect("unflag");
    assert_eq!(cmd(&mut r, &mut w, "MAIL FROM:<a@x.test>"), 250);
    drop((r, w));
    let addr = sink.addr;
    sink.restart();
    assert_eq!(sink.addr, addr);
    let mut w = TcpStream::connect(sink.addr).expect("connect after the restart");
    w.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut r = BufReader::new(w.try_clone().expect("clone"));
    assert_eq!(cmd(&mut r, &mut w, ""), 220);
    assert_eq!(sink.connections(), 2, "the log goes on across the restart");
}

// ---------------------------------------------------------------------------------------
// The delivery loop, in-process, against the sink in its own process.

use std::sync::Arc;

use ponte::service::Gateway;
use ponte::service::delivery;
use ponte::service::spool::embedded::Embedded;
use ponte::service::spool::{
    Delivery, DeliveryId, DeliveryState, Destination, Envelope, Format, Incoming, MessageId,
    NewOutput, Processed, Spool, SpoolRecords, State,
};
use time::OffsetDateTime;

/// A gateway from the test world's configuration plus `extra`, an embedded spool in a
/// temporary folder, and the delivery loop (started with [`Harness::start`]).
struct Harness {
    world: common::World,
    spool: Arc<dyn Spool>,
    gw: Arc<Gateway>,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    _spool_dir: tempfile::TempDir,
}

impl Harness {
    fn new(extra: &str) -> Harness {
        let world = common::World::new();
        world.configure(extra);
        Harness::of(world)
    }

    /// A gateway over `world`'s configuration as it is now, with a new spool.
    fn of(world: common::World) -> Harness {
        let spool_dir = tempfile::tempdir().expect("tempdir");
        let spool: Arc<dyn Spool> =
            Arc::new(Embedded::open(spool_dir.path()).unwrap_or_else(|e| panic!("{e}")));
        let cx = ponte::translate::Context::load(
            &world.config,
            Some(Box::new(SpoolRecords(spool.clone()))),
            "5eed".into(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let gw = Arc::new(Gateway::new(Arc::new(cx), spool.clone()));
        let (stop, _) = tokio::sync::watch::channel(false);
        Harness {
            world,
            spool,
            gw,
            stop,
            task: None,
            _spool_dir: spool_dir,
        }
    }

    fn start(&mut self) {
        let rx = self.stop.subscribe();
        self.task = Some(tokio::spawn(delivery::run(self.gw.clone(), rx)));
    }

    /// Gives the shutdown signal; the loop must return promptly.
    async fn stop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), t)
                .await
                .expect("the delivery loop returns after shutdown")
                .expect("the delivery loop did not panic");
        }
    }

    /// Stores a message with one output going to `dest` for `rcpts`; returns its number and
    /// the delivery's.
    async fn queue(
        &self,
        n: usize,
        dest: Destination,
        rcpts: &[&str],
        body: &[u8],
    ) -> (MessageId, DeliveryId) {
        let incoming = Incoming {
            envelope: Envelope {
                mail_from: "mittente@pec.prova.test".into(),
                rcpt_to: rcpts.iter().map(|r| r.to_string()).collect(),
                peer: "127.0.0.1:1".into(),
                helo: "pec.prova.test".into(),
                tls: false,
            },
            format: Format::Pec,
            message_id: Some(format!("<in{n}@pec.prova.test>")),
            kind: "posta-certificata".into(),
            body: b"Subject: input\r\n\r\ninput\r\n".to_vec(),
        };
        let processed = Processed {
            outputs: vec![NewOutput {
                kind: "rem-dispatch".into(),
                message_id: format!("<out{n}@ponte.test>"),
                mail_from: "rem-service@pec.prova.test".into(),
                routes: vec![(dest, rcpts.iter().map(|r| r.to_string()).collect())],
                body: body.to_vec(),
            }],
            ..Processed::default()
        };
        let id = self
            .spool
            .receive(incoming, Some(processed), OffsetDateTime::now_utc())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .id();
        let ds = self.spool.deliveries(id).await.unwrap_or_default();
        assert_eq!(ds.len(), 1);
        self.gw.wake();
        (id, ds[0].id)
    }

    /// Waits until delivery `id` satisfies `done`.
    async fn wait(&self, id: DeliveryId, what: &str, done: impl Fn(&Delivery) -> bool) -> Delivery {
        let until = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let d = self
                .spool
                .delivery(id)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            if done(&d) {
                return d;
            }
            assert!(std::time::Instant::now() < until, "{what}: still {d:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn rem(d: &str) -> Destination {
    Destination::Domain(d.into())
}

/// A body as a signature needs it kept: a line starting with a dot, 8-bit bytes, a final
/// CRLF and an empty line before it.
fn body(n: usize) -> Vec<u8> {
    format!(
        "Message-ID: <out{n}@ponte.test>\r\nSubject: =?utf-8?q?prova?=\r\n\r\n.dot at start\r\n..two dots\r\n\u{e8} 8-bit \u{20ac}\r\n\r\n"
    )
    .into_bytes()
}

fn route(sink: &SmtpSink, domain: &str, tls: &str) -> String {
    format!(
        "\n[[route]]\ndomain = \"{domain}\"\nrelay = \"{}\"\ntls = \"{tls}\"\n",
        sink.relay()
    )
}

const FAST: &str = "\n[delivery]\nfirst_retry = \"300ms\"\nmax_retry = \"1s\"\ntimeout = \"5s\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_arrives_byte_exact_through_a_route() {
    let Some(sink) = SmtpSink::start(&[]) else {
        return;
    };
    let mut h = Harness::new(&format!("{}{FAST}", route(&sink, "*.rem.test", "none")));
    let (mid, did) = h
        .queue(
            1,
            rem("provider.rem.test"),
            &["anna@provider.rem.test"],
            &body(1),
        )
        .await;
    h.start();
    let d = h
        .wait(did, "delivered", |d| d.state == DeliveryState::Delivered)
        .await;
    h.stop().await;
    assert_eq!(d.attempts, 1);
    assert!(
        d.last_result.as_deref().unwrap_or("").contains("250"),
        "{d:?}"
    );
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    let output = h.spool.output(mid, 0).await.unwrap_or_default();
    assert_eq!(got[0].body, output, "byte-exact");
    assert_eq!(got[0].body, body(1));
    assert_eq!(got[0].mail_from, "rem-service@pec.prova.test");
    assert_eq!(got[0].rcpt_tos, vec!["anna@provider.rem.test".to_string()]);
    let m = h.spool.message(mid).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.state, State::Delivered);
    assert!(
        h.gw.metrics
            .render()
            .contains("ponte_deliveries_total{destination=\"rem\",outcome=\"delivered\"} 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_refuses_defers_with_backoff_until_it_takes_the_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let flag = tmp.path().join("down");
    std::fs::write(&flag, "").expect("flag");
    let flag_s = flag.display().to_string();
    let Some(sink) = SmtpSink::start(&["--refuse-file", &flag_s]) else {
        return;
    };
    let mut h = Harness::new(&format!("{}{FAST}", route(&sink, "rem.test", "none")));
    let (mid, did) = h
        .queue(1, rem("rem.test"), &["anna@rem.test"], &body(1))
        .await;
    h.start();
    // Each deferral: the next attempt after first_retry × 2^(n-1) ± 20 %.
    for (attempt, base_ms) in [(1u32, 300i64), (2, 600)] {
        let d = h.wait(did, "deferred", |d| d.attempts == attempt).await;
        assert_eq!(d.state, DeliveryState::Queued);
        let reason = d.last_result.clone().unwrap_or_default();
        assert!(reason.contains("451 4.3.2"), "{reason}");
        assert!(reason.contains("MAIL FROM"), "{reason}");
        let m = h.spool.message(mid).await.unwrap_or_else(|e| panic!("{e}"));
        let at = m
            .history
            .iter()
            .rev()
            .find(|e| e.event == "deferred")
            .map(|e| e.at)
            .expect("a deferred entry");
        let wait = (d.next_attempt - at).whole_milliseconds();
        let (lo, hi) = (base_ms * 8 / 10 - 5, base_ms * 12 / 10 + 5);
        assert!(
            (i128::from(lo)..=i128::from(hi)).contains(&wait),
            "attempt {attempt}: next in {wait} ms, expected {lo}..{hi}"
        );
    }
    std::fs::remove_file(&flag).expect("up again");
    let d = h
        .wait(did, "delivered", |d| d.state == DeliveryState::Delivered)
        .await;
    h.stop().await;
    assert_eq!(d.attempts, 3);
    assert_eq!(sink.messages().len(), 1);
    let text = h.gw.metrics.render();
    assert!(
        text.contains("ponte_deliveries_total{destination=\"rem\",outcome=\"deferred\"} 2"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_fails_and_a_mixed_answer_settles_each_recipient() {
    permanent_and_mixed(&[]).await;
}

/// The same answers to a pipelined envelope (RFC 2920): each reply still settles its own
/// command, and a transaction left open by refusals is reset before the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelined_envelope_settles_each_recipient_by_its_own_reply() {
    permanent_and_mixed(&["--pipelining"]).await;
}

async fn permanent_and_mixed(extra: &[&str]) {
    let mut args = vec!["--reject-rcpt", "^bad", "--defer-rcpt", "^later"];
    args.extend_from_slice(extra);
    let Some(sink) = SmtpSink::start(&args) else {
        return;
    };
    let mut h = Harness::new(&format!("{}{FAST}", route(&sink, "rem.test", "none")));
    let (m1, d1) = h
        .queue(1, rem("rem.test"), &["bad@rem.test"], &body(1))
        .await;
    let (m2, d2) = h
        .queue(
            2,
            rem("rem.test"),
            &["ok@rem.test", "bad2@rem.test", "later@rem.test"],
            &body(2),
        )
        .await;
    h.start();
    let d = h
        .wait(d1, "failed", |d| d.state == DeliveryState::Failed)
        .await;
    let reason = d.last_result.clone().unwrap_or_default();
    assert!(reason.contains("RCPT TO: 550 5.1.1"), "{reason}");
    let m = h.spool.message(m1).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.state, State::Failed);
    assert!(m.last_error.unwrap_or_default().contains("550"));
    // The mixed one: ok@ has it, bad2@ failed on its own, later@ waits alone.
    let d = h.wait(d2, "second attempt", |d| d.attempts >= 2).await;
    assert_eq!(d.state, DeliveryState::Queued);
    assert_eq!(d.rcpt_to, vec!["later@rem.test".to_string()]);
    assert!(d.last_result.unwrap_or_default().contains("451 4.2.1"));
    h.stop().await;
    let all = h.spool.deliveries(m2).await.unwrap_or_default();
    let of = |s: DeliveryState| -> Vec<Vec<String>> {
        all.iter()
            .filter(|d| d.state == s)
            .map(|d| d.rcpt_to.clone())
            .collect()
    };
    assert_eq!(
        of(DeliveryState::Delivered),
        vec![vec!["ok@rem.test".to_string()]]
    );
    assert_eq!(
        of(DeliveryState::Failed),
        vec![vec!["bad2@rem.test".to_string()]]
    );
    let got = sink.messages();
    assert_eq!(
        got.len(),
        1,
        "sent once, to the accepted recipient only, across two attempts"
    );
    assert_eq!(got[0].rcpt_tos, vec!["ok@rem.test".to_string()]);
    assert_eq!(got[0].body, body(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_older_than_max_age_fails() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let flag = tmp.path().join("down");
    std::fs::write(&flag, "").expect("flag");
    let flag_s = flag.display().to_string();
    let Some(sink) = SmtpSink::start(&["--refuse-file", &flag_s]) else {
        return;
    };
    let mut h = Harness::new(&format!(
        "{}\n[delivery]\nfirst_retry = \"100ms\"\nmax_retry = \"200ms\"\nmax_age = \"700ms\"\ntimeout = \"5s\"\n",
        route(&sink, "rem.test", "none")
    ));
    let (mid, did) = h
        .queue(1, rem("rem.test"), &["anna@rem.test"], &body(1))
        .await;
    h.start();
    let d = h
        .wait(did, "failed", |d| d.state == DeliveryState::Failed)
        .await;
    h.stop().await;
    let reason = d.last_result.unwrap_or_default();
    assert!(
        reason.starts_with("not delivered within 700ms (last: "),
        "{reason}"
    );
    assert!(reason.contains("451 4.3.2"), "{reason}");
    assert!(d.attempts >= 3, "{}", d.attempts);
    assert!(
        d.next_attempt <= d.created + time::Duration::milliseconds(700),
        "no attempt was scheduled past the maximum age"
    );
    let m = h.spool.message(mid).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.state, State::Failed);
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_one_peer_share_connections() {
    share_connections(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_a_pipelining_peer_share_connections() {
    share_connections(&["--pipelining"]).await;
}

async fn share_connections(args: &[&str]) {
    let Some(sink) = SmtpSink::start(args) else {
        return;
    };
    let mut h = Harness::new(&format!(
        "{}\n[delivery]\nper_destination = 2\ntimeout = \"5s\"\n",
        route(&sink, "*.rem.test", "none")
    ));
    let n = 20;
    let mut ids = Vec::new();
    for i in 0..n {
        // Two domains, one peer: they share the connections too.
        let dom = if i % 2 == 0 {
            "a.rem.test"
        } else {
            "b.rem.test"
        };
        let (_, d) = h
            .queue(i, rem(dom), &[&format!("r{i}@{dom}")], &body(i))
            .await;
        ids.push(d);
    }
    h.start();
    for d in &ids {
        h.wait(*d, "delivered", |d| d.state == DeliveryState::Delivered)
            .await;
    }
    h.stop().await;
    let got = sink.messages();
    assert_eq!(got.len(), n);
    let connections = sink.connections();
    assert!(
        (1..=2).contains(&connections),
        "{n} messages over {connections} connections (per_destination = 2)"
    );
    let mut per: std::collections::HashMap<u64, usize> = Default::default();
    for m in &got {
        *per.entry(m.connection).or_default() += 1;
    }
    assert!(per.values().any(|c| *c > 1), "{per:?}");
    // The envelope goes as one group exactly when the peer offers PIPELINING.
    let pipelining = args.contains(&"--pipelining");
    assert!(
        got.iter().all(|m| m.pipelined == pipelining),
        "pipelined: {:?}",
        got.iter().map(|m| m.pipelined).collect::<Vec<_>>()
    );
    let mut bodies: Vec<Vec<u8>> = got.iter().map(|m| m.body.clone()).collect();
    bodies.sort();
    let mut want: Vec<Vec<u8>> = (0..n).map(body).collect();
    want.sort();
    assert_eq!(bodies, want, "each message once, byte-exact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_required_verifies_the_peer_and_never_falls_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = common::loopback_tls(tmp.path());
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let Some(tls_sink) =
        SmtpSink::start(&["--tls-cert", &cert, "--tls-key", &key, "--require-tls"])
    else {
        return;
    };
    let Some(plain_sink) = SmtpSink::start(&[]) else {
        return;
    };
    let Some(untrusted) = SmtpSink::start(&["--tls-cert", &cert, "--tls-key", &key]) else {
        return;
    };
    let mut h = Harness::new(&format!(
        "{}{}{}\n[delivery]\nfirst_retry = \"1m\"\ntimeout = \"5s\"\ntls_anchors = [\"{}\"]\n",
        route(&tls_sink, "tls.test", "required"),
        route(&plain_sink, "plain.test", "required"),
        route(&untrusted, "untrusted.test", "starttls"),
        ca.display()
    ));
    let (_, d_tls) = h.queue(1, rem("tls.test"), &["a@tls.test"], &body(1)).await;
    let (_, d_plain) = h
        .queue(2, rem("plain.test"), &["a@plain.test"], &body(2))
        .await;
    h.start();
    let d = h
        .wait(d_tls, "delivered", |d| d.state == DeliveryState::Delivered)
        .await;
    assert_eq!(d.attempts, 1);
    let got = tls_sink.messages();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls, "sent under TLS");
    assert_eq!(got[0].body, body(1));
    let d = h.wait(d_plain, "deferred", |d| d.attempts == 1).await;
    assert_eq!(d.state, DeliveryState::Queued);
    let reason = d.last_result.unwrap_or_default();
    assert!(
        reason.contains("does not offer STARTTLS (tls = required)"),
        "{reason}"
    );
    assert!(plain_sink.messages().is_empty());
    h.stop().await;

    // Without the anchor, a certificate that does not verify fails the connection even in
    // `starttls` mode: no fallback to plain text once STARTTLS is offered.
    let mut h = Harness::new(&format!(
        "{}\n[delivery]\nfirst_retry = \"1m\"\ntimeout = \"5s\"\n",
        route(&untrusted, "untrusted.test", "starttls")
    ));
    let (_, d) = h
        .queue(3, rem("untrusted.test"), &["a@untrusted.test"], &body(3))
        .await;
    h.start();
    let d = h.wait(d, "deferred", |d| d.attempts == 1).await;
    h.stop().await;
    assert_eq!(d.state, DeliveryState::Queued);
    let reason = d.last_result.unwrap_or_default();
    assert!(reason.contains("TLS:"), "{reason}");
    assert!(untrusted.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mx_records_are_tried_in_order_with_the_implicit_mx_and_no_mail_domains() {
    let Some(sink) = SmtpSink::start(&[]) else {
        return;
    };
    // mx-a (preferred) is an address where nothing listens; mx-b is the sink.
    let Some(dns) = common::Dns::start(
        &[
            ("rem.test", "mx-a.rem.test", 10),
            ("rem.test", "mx-b.rem.test", 20),
        ],
        &[
            ("mx-a.rem.test", "127.0.0.2"),
            ("mx-b.rem.test", "127.0.0.1"),
            ("implicit.test", "127.0.0.1"),
        ],
    ) else {
        return;
    };
    let port = sink.addr.port();
    let h = Harness::new(&format!(
        "\n[delivery]\nfirst_retry = \"1m\"\ntimeout = \"5s\"\nmx_port = {port}\n"
    ));
    // The world's [trust] table gets the loopback DNS server.
    let config = std::fs::read_to_string(&h.world.config).expect("read config");
    std::fs::write(
        &h.world.config,
        config.replacen(
            "[trust]\n",
            &format!("[trust]\ndns_servers = [\"{}\"]\n", dns.addr),
            1,
        ),
    )
    .expect("write config");
    let mut h = Harness::of(h.world);
    let (_, d_mx) = h.queue(1, rem("rem.test"), &["a@rem.test"], &body(1)).await;
    let (_, d_implicit) = h
        .queue(2, rem("implicit.test"), &["a@implicit.test"], &body(2))
        .await;
    let (_, d_none) = h
        .queue(3, rem("nomail.test"), &["a@nomail.test"], &body(3))
        .await;
    h.start();
    let d = h
        .wait(d_mx, "delivered", |d| d.state == DeliveryState::Delivered)
        .await;
    assert!(d.last_result.unwrap_or_default().contains("mx-b.rem.test"));
    let d = h
        .wait(d_implicit, "delivered", |d| {
            d.state == DeliveryState::Delivered
        })
        .await;
    assert!(d.last_result.unwrap_or_default().contains("implicit.test"));
    let d = h
        .wait(d_none, "failed", |d| d.state == DeliveryState::Failed)
        .await;
    h.stop().await;
    let reason = d.last_result.unwrap_or_default();
    assert!(reason.contains("no MX record and no address"), "{reason}");
    let got = sink.messages();
    assert_eq!(got.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_gets_the_exact_bytes_and_pec_without_a_relay_waits() {
    let out = tempfile::tempdir().expect("tempdir");
    let outbox = out.path().join("outbox");
    let mut h = Harness::new(&format!(
        "\n[delivery]\noutbox = \"{}\"\nfirst_retry = \"1m\"\n",
        outbox.display()
    ));
    let (m1, d1) = h.queue(1, rem("rem.test"), &["a@rem.test"], &body(1)).await;
    let (_, d2) = h
        .queue(2, Destination::Pec, &["b@pec.prova.test"], &body(2))
        .await;
    h.start();
    let a = h
        .wait(d1, "written", |d| d.state == DeliveryState::Delivered)
        .await;
    let b = h
        .wait(d2, "written", |d| d.state == DeliveryState::Delivered)
        .await;
    h.stop().await;
    let mut files: Vec<_> = std::fs::read_dir(&outbox)
        .expect("outbox")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    for (d, n) in [(&a, 1), (&b, 2)] {
        let f = files
            .iter()
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(&format!("-{}.eml", d.id)))
            })
            .unwrap_or_else(|| panic!("no file for delivery {} in {files:?}", d.id));
        assert_eq!(std::fs::read(f).expect("read"), body(n));
        assert!(
            d.last_result
                .clone()
                .unwrap_or_default()
                .contains(&*f.display().to_string())
        );
    }
    assert_eq!(h.spool.output(m1, 0).await.unwrap_or_default(), body(1));
    assert!(
        h.gw.metrics
            .render()
            .contains("ponte_deliveries_total{destination=\"outbox\",outcome=\"delivered\"} 2")
    );

    // No [pec] relay and no outbox: the PEC message waits, the reason in the queue.
    let mut h = Harness::new("\n[delivery]\nfirst_retry = \"1m\"\n");
    let (_, d) = h
        .queue(3, Destination::Pec, &["b@pec.prova.test"], &body(3))
        .await;
    h.start();
    let d = h.wait(d, "deferred", |d| d.attempts == 1).await;
    h.stop().await;
    assert_eq!(d.state, DeliveryState::Queued);
    assert!(d.last_result.unwrap_or_default().contains("no [pec] relay"));
}
