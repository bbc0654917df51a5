//! The shared spool on a real PostgreSQL (a private cluster made here with `initdb`, run as
//! `nobody` when the tests run as root, on a loopback port; see tests/common/postgres.rs).
//!
//! - the spool's contract, the same scenarios on the embedded spool and on PostgreSQL;
//! - several nodes on one database: claims are exclusive, a dead node's lease runs out and
//!   its work is taken, a timer fires once, one Message-ID is stored once however many
//!   nodes receive it at the same instant;
//! - versioned migrations, applied once (`ponte serve`, `ponte spool migrate`);
//! - `ponte config check` on `[spool] url`: a bad URL, a server that is not there, a
//!   database that does not exist, a schema newer than the build;
//! - `ponte spool export` / `import`: embedded → PostgreSQL → embedded gives the same file;
//! - two `ponte serve` processes on one database, 500 messages sent to both, one node
//!   SIGKILLed mid-run: every acknowledged message delivered, one distinct output each, the
//!   PEC warning timer fired once per dispatch.

mod common;

use std::sync::Arc;
use std::time::Duration;

use ponte::correlate::{Direction, Record};
use ponte::service::spool::embedded::Embedded;
use ponte::service::spool::postgres::{Options, Postgres};
use ponte::service::spool::{
    Attempt, DeliveryState, Destination, Envelope, Error, Filter, Format, Incoming, LegalEvent,
    NewOutput, NewTimer, POISON_ATTEMPTS, Processed, Received, Spool, State, TimerKind, TimerStop,
};
use time::OffsetDateTime;

use common::gateway::Provider;
use common::postgres::Cluster;
use common::run_ponte;

const LEASE: Duration = Duration::from_secs(60);

/// Opens a spool again (a restart).
type Reopen = Box<dyn Fn() -> Arc<dyn Spool>>;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn options(c: &Cluster, db: &str, node: &str, lease: Duration) -> Options {
    Options {
        url: c.url(db),
        shown: c.url(db),
        password: None,
        node: node.into(),
        pool: 4,
        lease,
    }
}

async fn pg(c: &Cluster, db: &str, node: &str) -> Postgres {
    Postgres::open(&options(c, db, node, LEASE))
        .await
        .unwrap_or_else(|e| panic!("open {db}: {e}"))
}

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-12-06 12:00 UTC)
}

fn incoming(mid: &str) -> Incoming {
    Incoming {
        envelope: Envelope {
            mail_from: "posta-certificata@pec.prova.test".into(),
            rcpt_to: vec!["anna@rem.example.eu".into()],
            peer: "127.0.0.1:4000".into(),
            helo: "pec.prova.test".into(),
            tls: false,
        },
        format: Format::Pec,
        message_id: Some(mid.into()),
        kind: "posta-certificata".into(),
        body: format!("Message-ID: {mid}\r\n\r\nbody\r\n").into_bytes(),
    }
}

fn output(n: usize) -> NewOutput {
    NewOutput {
        kind: "rem-dispatch".into(),
        message_id: format!("<out{n}@ponte.test>"),
        mail_from: "rem-service@ponte.test".into(),
        routes: vec![
            (
                Destination::Domain("rem.example.eu".into()),
                vec!["anna@rem.example.eu".into()],
            ),
            (
                Destination::Domain("other.example.eu".into()),
                vec!["bo@other.example.eu".into()],
            ),
        ],
        body: format!("out {n}\r\n").into_bytes(),
    }
}

fn record(input: &str, out: &str) -> Record {
    Record {
        direction: Direction::PecToRem,
        created: "2026-12-06T12:00:00Z".into(),
        pec_identificativo: Some(format!("opec-{input}@pec.prova.test")),
        pec_msgid: None,
        rem_message_id: Some(out.into()),
        rem_ua_message_id: None,
        evidence_ids: vec![],
        input: input.into(),
        output_message_id: out.into(),
        kind: "dispatch".into(),
        dispatch: None,
        sender_assurance: None,
    }
}

/// Received → processed (outputs, a record, a timer) → one delivery delivered, one deferred
/// → the timer shortened then kept → after a restart of the spool the deferred one is due at
/// its time → delivered.
async fn lifecycle(s: Arc<dyn Spool>, reopen: &dyn Fn() -> Arc<dyn Spool>) -> Arc<dyn Spool> {
    let id = match s.receive(incoming("<a@x>"), None, now()).await {
        Ok(Received::New(id)) => id,
        other => panic!("{other:?}"),
    };
    // Idempotent on the Message-ID, with or without brackets.
    assert_eq!(
        s.receive(incoming("a@x"), None, now()).await.ok(),
        Some(Received::Duplicate(id))
    );
    assert_eq!(s.by_message_id("<a@x>").await.ok(), Some(Some(id)));
    assert_eq!(
        s.input(id).await.ok().as_deref(),
        Some(&b"Message-ID: <a@x>\r\n\r\nbody\r\n"[..])
    );
    let claimed = s
        .claim_processing(now(), LEASE, 10)
        .await
        .unwrap_or_default();
    assert_eq!(claimed, vec![id]);
    assert!(
        s.claim_processing(now(), LEASE, 10)
            .await
            .unwrap_or_default()
            .is_empty(),
        "claimed: not handed out twice"
    );
    let rec = record("<a@x>", "<out0@ponte.test>");
    s.processed(
        id,
        Processed {
            mapping: Some("busta-trasporto".into()),
            outputs: vec![output(0)],
            records: vec![rec.clone()],
            timers: vec![NewTimer {
                kind: TimerKind::Warning,
                due: now() + time::Duration::hours(12),
                about: "<out0@ponte.test>".into(),
                recipients: vec!["anna@rem.example.eu".into(), "bo@other.example.eu".into()],
            }],
            ..Processed::default()
        },
        now(),
    )
    .await
    .unwrap_or_else(|e| panic!("processed: {e}"));
    let found = tokio::task::block_in_place(|| s.find_records("opec-<a@x>@pec.prova.test"));
    assert_eq!(found.ok(), Some(vec![rec.clone()]));
    assert_eq!(
        tokio::task::block_in_place(|| s.find_records("<out0@ponte.test>")).ok(),
        Some(vec![rec])
    );
    assert!(
        tokio::task::block_in_place(|| s.find_records("nobody@x"))
            .unwrap_or_default()
            .is_empty()
    );
    let m = s.message(id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.state, State::Queued);
    assert_eq!(m.mapping.as_deref(), Some("busta-trasporto"));
    assert_eq!(m.outputs.len(), 1);
    assert_eq!(m.outputs[0].deliveries.len(), 2);
    let events: Vec<&str> = m.history.iter().map(|h| h.event.as_str()).collect();
    assert_eq!(events, ["received", "translated", "queued", "timer"]);
    assert_eq!(
        s.output(id, 0).await.ok().as_deref(),
        Some(&b"out 0\r\n"[..])
    );
    assert_eq!(
        s.by_output_message_id("out0@ponte.test").await.ok(),
        Some(Some((id, 0)))
    );
    let ds = s
        .claim_deliveries(now(), LEASE, 10)
        .await
        .unwrap_or_default();
    assert_eq!(ds.len(), 2);
    assert!(
        s.claim_deliveries(now(), LEASE, 10)
            .await
            .unwrap_or_default()
            .is_empty()
    );
    s.delivery_done(ds[0].id, Attempt::Delivered("250 ok".into()), now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let later = now() + time::Duration::minutes(1);
    s.delivery_done(
        ds[1].id,
        Attempt::Deferred {
            reason: "451 later".into(),
            retry_at: later,
        },
        now(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.next_due().await.ok().flatten(), Some(later));
    assert!(
        s.claim_deliveries(now(), LEASE, 10)
            .await
            .unwrap_or_default()
            .is_empty()
    );
    // Evidence for one recipient shortens the timer.
    s.processed(
        id,
        Processed {
            stop_timers: vec![TimerStop {
                about: "out0@ponte.test".into(),
                recipients: vec!["ANNA@rem.example.eu".into()],
                kinds: vec![TimerKind::Warning],
            }],
            ..Processed::default()
        },
        now(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let t = s.timers(id).await.unwrap_or_default();
    assert_eq!(t.len(), 1);
    assert_eq!(
        t[0].timer.recipients,
        vec!["bo@other.example.eu".to_string()]
    );
    let stats = s.stats(now()).await.unwrap_or_default();
    assert_eq!(stats.queue_depth, 1);
    assert_eq!(stats.deliveries_queued, 1);
    assert_eq!(stats.timers, 1);
    // Restarted: the deferred delivery is due again at its time, nothing is lost.
    drop(s);
    let s = reopen();
    assert!(
        s.claim_deliveries(now(), LEASE, 10)
            .await
            .unwrap_or_default()
            .is_empty()
    );
    let ds = s
        .claim_deliveries(later, LEASE, 10)
        .await
        .unwrap_or_default();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].rcpt_to, vec!["bo@other.example.eu".to_string()]);
    assert_eq!(ds[0].attempts, 1);
    s.delivery_done(ds[0].id, Attempt::Delivered("250 ok".into()), later)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let m = s.message(id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.state, State::Delivered);
    assert_eq!(s.stats(later).await.unwrap_or_default().queue_depth, 0);
    // A new number after the restart (PostgreSQL numbers may leave gaps: a duplicate's
    // insert used one).
    let b = s
        .receive(incoming("<b@x>"), None, later)
        .await
        .map(Received::id)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(b > id);
    // Processed with nothing to deliver: delivered at once.
    assert_eq!(
        s.claim_processing(later, LEASE, 10)
            .await
            .unwrap_or_default(),
        vec![b]
    );
    s.processed(b, Processed::default(), later)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.message(b).await.map(|m| m.state).ok(),
        Some(State::Delivered)
    );
    s
}

/// Some recipients accepted, some refused, some deferred: the delivery splits.
async fn partial(s: &dyn Spool) {
    let rcpts: Vec<String> = [
        "ok@rem.example.eu",
        "bad@rem.example.eu",
        "later@rem.example.eu",
    ]
    .iter()
    .map(|r| r.to_string())
    .collect();
    let mut out = output(7);
    out.routes = vec![(Destination::Domain("rem.example.eu".into()), rcpts.clone())];
    let id = s
        .receive(
            incoming("<p@x>"),
            Some(Processed {
                outputs: vec![out],
                ..Processed::default()
            }),
            now(),
        )
        .await
        .map(Received::id)
        .unwrap_or_else(|e| panic!("{e}"));
    let ds = s
        .claim_deliveries(now(), LEASE, 10)
        .await
        .unwrap_or_default();
    assert_eq!(ds.len(), 1);
    let mut notice = output(8);
    notice.kind = "pec-notice:mancata-consegna".into();
    notice.routes = vec![(Destination::Pec, vec!["sender@pec.prova.test".into()])];
    let later = now() + time::Duration::minutes(2);
    s.delivery_done(
        ds[0].id,
        Attempt::Partial {
            delivered: vec![rcpts[0].clone()],
            reply: "250 2.0.0 queued".into(),
            failed: vec![rcpts[1].clone()],
            failure: "550 5.1.1 no such mailbox".into(),
            notices: Processed {
                outputs: vec![notice],
                ..Processed::default()
            },
            deferred: vec![rcpts[2].clone()],
            reason: "451 4.2.1 busy".into(),
            retry_at: later,
        },
        now(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let all = s.deliveries(id).await.unwrap_or_default();
    let rem = Destination::Domain("rem.example.eu".into());
    let find = |state: DeliveryState, dest: &Destination| {
        all.iter()
            .filter(|d| d.state == state && d.destination == *dest)
            .cloned()
            .collect::<Vec<_>>()
    };
    let queued = find(DeliveryState::Queued, &rem);
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].id, ds[0].id);
    assert_eq!(queued[0].rcpt_to, vec![rcpts[2].clone()]);
    assert_eq!(queued[0].next_attempt, later);
    assert_eq!(
        find(DeliveryState::Delivered, &rem)[0].rcpt_to,
        vec![rcpts[0].clone()]
    );
    assert_eq!(
        find(DeliveryState::Failed, &rem)[0].last_result.as_deref(),
        Some("550 5.1.1 no such mailbox")
    );
    assert_eq!(find(DeliveryState::Queued, &Destination::Pec).len(), 1);
    let m = s.message(id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.state, State::Queued);
    assert_eq!(m.outputs.len(), 2, "the notice is the second output");
    assert_eq!(m.outputs[0].deliveries.len(), 3);
    for d in s
        .claim_deliveries(later, LEASE, 10)
        .await
        .unwrap_or_default()
    {
        s.delivery_done(d.id, Attempt::Delivered("250 ok".into()), later)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(
        s.message(id).await.map(|m| m.state).ok(),
        Some(State::Failed)
    );
}

/// Poison goes to quarantine after [`POISON_ATTEMPTS`]; an operator's retry brings it back;
/// quarantine refuses final states.
/// The services discovered peers were delivered to: recorded per delivery, found by the
/// output's Message-ID with or without `<>`, replaced by a later attempt of the delivery.
async fn services(s: &dyn Spool) {
    use ponte::service::spool::DeliveredService;
    let bound = |delivery: u64, mid: &str, service: &str| DeliveredService {
        delivery,
        message_id: mid.to_owned(),
        recipients: vec!["anna@altro.test".into()],
        host: "mx.altro.test".into(),
        service_name: service.to_owned(),
        tsp_name: "Altro Gestore S.p.A.".into(),
        list: "tl-it.xml".into(),
        identities: vec!["MIIB".into()],
        at: "2026-12-07T10:00:00Z".into(),
    };
    assert!(s.delivered_services("<bound@x>").expect("none").is_empty());
    s.bind_service(bound(900, "<bound@x>", "Altro REM"))
        .await
        .expect("bind");
    s.bind_service(bound(901, "<bound@x>", "Terzo REM"))
        .await
        .expect("bind");
    s.bind_service(bound(902, "<other@x>", "Altro REM"))
        .await
        .expect("bind");
    let got = s.delivered_services("bound@x").expect("found");
    let names: Vec<&str> = got.iter().map(|b| b.service_name.as_str()).collect();
    assert_eq!(names, ["Altro REM", "Terzo REM"]);
    assert_eq!(got[0], bound(900, "<bound@x>", "Altro REM"));
    // A retry of delivery 901 goes to another MX host, of another service: replaced.
    s.bind_service(bound(901, "<bound@x>", "Quarto REM"))
        .await
        .expect("bind");
    let got = s.delivered_services("<bound@x>").expect("found");
    let names: Vec<&str> = got.iter().map(|b| b.service_name.as_str()).collect();
    assert_eq!(names, ["Altro REM", "Quarto REM"]);
    assert_eq!(s.delivered_services("<other@x>").expect("found").len(), 1);
}

async fn poison(s: &dyn Spool) {
    let id = s
        .receive(incoming("<q@x>"), None, now())
        .await
        .map(Received::id)
        .unwrap_or(0);
    for i in 0..POISON_ATTEMPTS {
        assert_eq!(
            s.claim_processing(now() + time::Duration::seconds(i64::from(i)), LEASE, 10)
                .await
                .unwrap_or_default(),
            vec![id],
            "attempt {i}"
        );
        // An outage does not count.
        assert_eq!(
            s.processing_failed(id, "TSA down", false, now(), now())
                .await
                .ok(),
            Some(State::Received)
        );
        assert_eq!(
            s.claim_processing(now(), LEASE, 10)
                .await
                .unwrap_or_default(),
            vec![id]
        );
        let want = if i + 1 == POISON_ATTEMPTS {
            State::Quarantined
        } else {
            State::Received
        };
        assert_eq!(
            s.processing_failed(id, "panicked", true, now(), now())
                .await
                .ok(),
            Some(want)
        );
    }
    assert!(
        s.claim_processing(now() + time::Duration::hours(1), LEASE, 10)
            .await
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(s.retry(id, now()).await.ok(), Some(State::Received));
    assert_eq!(
        s.claim_processing(now(), LEASE, 10)
            .await
            .unwrap_or_default(),
        vec![id]
    );
    s.quarantine(id, "operator", now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        s.quarantine(id, "again", now()).await,
        Err(Error::WrongState { .. })
    ));
    let listed = s
        .list(&Filter {
            states: vec![State::Quarantined],
            limit: 0,
        })
        .await
        .unwrap_or_default();
    assert!(listed.iter().any(|m| m.id == id));
}

#[test]
fn the_embedded_and_the_postgres_spool_keep_the_same_contract() {
    let Some(cluster) = Cluster::get() else {
        return;
    };
    let db = cluster.database("contract");
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        for backend in ["embedded", "postgres"] {
            let (s, reopen): (Arc<dyn Spool>, Reopen) = match backend {
                "embedded" => {
                    let path = dir.path().join("spool");
                    let e = Embedded::open(&path).unwrap_or_else(|e| panic!("{e}"));
                    (
                        Arc::new(e),
                        Box::new(move || {
                            Arc::new(Embedded::open(&path).unwrap_or_else(|e| panic!("{e}")))
                                as Arc<dyn Spool>
                        }),
                    )
                }
                _ => {
                    let p = pg(&cluster, &db, "n1").await;
                    let opts = options(&cluster, &db, "n1-restarted", LEASE);
                    (
                        Arc::new(p),
                        Box::new(move || {
                            let p = Postgres::connect(&opts).unwrap_or_else(|e| panic!("{e}"));
                            Arc::new(p) as Arc<dyn Spool>
                        }),
                    )
                }
            };
            let s = lifecycle(s, &*reopen).await;
            partial(&*s).await;
            poison(&*s).await;
            services(&*s).await;
        }
    });
    // The legal log of the PostgreSQL spool is in the database, one event per change.
    let n: u64 = cluster
        .psql(&db, "SELECT count(*) FROM ponte_legal")
        .parse()
        .unwrap_or(0);
    assert!(n >= 15, "{n} legal events");
    let kinds = cluster.psql(&db, "SELECT string_agg(DISTINCT event->>'event', ',' ORDER BY event->>'event') FROM ponte_legal");
    for k in [
        "delivered",
        "deferred",
        "failed",
        "queued",
        "quarantined",
        "received",
        "retry",
        "translated",
    ] {
        assert!(kinds.split(',').any(|x| x == k), "{k} in {kinds}");
    }
}

#[test]
fn nodes_share_the_work_a_dead_nodes_lease_runs_out_and_a_message_id_is_stored_once() {
    let Some(cluster) = Cluster::get() else {
        return;
    };
    let db = cluster.database("nodes");
    let lease = Duration::from_secs(2);
    rt().block_on(async {
        // `a` renews nothing (no renewal task: a node that dies the moment it claims);
        // `b` and `c` are live nodes. Opening `a` once migrates the database and registers it.
        drop(pg_lease(&cluster, &db, "a", lease).await);
        let a = Postgres::connect(&options(&cluster, &db, "a", lease))
            .unwrap_or_else(|e| panic!("{e}"));
        let b = pg_lease(&cluster, &db, "b", lease).await;
        let c = pg_lease(&cluster, &db, "c", lease).await;
        let t0 = OffsetDateTime::now_utc();

        // One Message-ID received by 24 receptions at once on three nodes: stored once.
        let mut set = tokio::task::JoinSet::new();
        for i in 0..24 {
            let s = [a.clone(), b.clone(), c.clone()][i % 3].clone();
            set.spawn(async move { s.receive(incoming("<same@x>"), None, t0).await });
        }
        let mut new = Vec::new();
        let mut dup = Vec::new();
        while let Some(r) = set.join_next().await {
            match r.expect("task").unwrap_or_else(|e| panic!("{e}")) {
                Received::New(id) => new.push(id),
                Received::Duplicate(id) => dup.push(id),
            }
        }
        assert_eq!(new.len(), 1, "stored once: {new:?}");
        assert_eq!(dup.len(), 23);
        assert!(dup.iter().all(|d| *d == new[0]));
        let id = new[0];
        assert_eq!(
            cluster.psql(&db, "SELECT count(*) FROM ponte_messages"),
            "1"
        );

        // Processing: one node claims it; the others get nothing while the lease holds.
        assert_eq!(
            a.claim_processing(t0, lease, 10).await.unwrap_or_default(),
            vec![id]
        );
        assert!(
            b.claim_processing(t0, lease, 10)
                .await
                .unwrap_or_default()
                .is_empty()
        );
        // `a` dies: after the lease, `b` takes it; `a`'s late result is refused.
        let t1 = t0 + lease + Duration::from_millis(10);
        assert_eq!(
            b.claim_processing(t1, lease, 10).await.unwrap_or_default(),
            vec![id]
        );
        assert!(matches!(
            a.processed(id, Processed::default(), t1).await,
            Err(Error::WrongState {
                action: "processed",
                ..
            })
        ));
        let mut outs = Vec::new();
        let mut timers = Vec::new();
        for n in 0..12 {
            let mut o = output(100 + n);
            o.routes.truncate(1);
            outs.push(o);
            timers.push(NewTimer {
                kind: TimerKind::Warning,
                due: t1,
                about: format!("<out{}@ponte.test>", 100 + n),
                recipients: vec!["anna@rem.example.eu".into()],
            });
        }
        b.processed(
            id,
            Processed {
                mapping: Some("busta-trasporto".into()),
                outputs: outs,
                timers,
                ..Processed::default()
            },
            t1,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));

        // Deliveries and timers claimed by two nodes at once: each by exactly one.
        let (db1, dc1, tb1, tc1) = tokio::join!(
            b.claim_deliveries(t1, lease, 8),
            c.claim_deliveries(t1, lease, 8),
            b.claim_timers(t1, lease, 8),
            c.claim_timers(t1, lease, 8),
        );
        let ids = |v: &[u64], w: &[u64]| {
            let mut all: Vec<u64> = v.iter().chain(w).copied().collect();
            let n = all.len();
            all.sort_unstable();
            all.dedup();
            (n, all.len())
        };
        let d: Vec<u64> = db1.unwrap_or_default().iter().map(|d| d.id).collect();
        let e: Vec<u64> = dc1.unwrap_or_default().iter().map(|d| d.id).collect();
        assert_eq!(ids(&d, &e), (12, 12), "deliveries {d:?} {e:?}");
        let tb: Vec<_> = tb1.unwrap_or_default();
        let tc: Vec<_> = tc1.unwrap_or_default();
        let tids = |v: &[ponte::service::spool::Timer]| v.iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(&tids(&tb), &tids(&tc)), (12, 12), "timers");

        // Live nodes renew their leases: a while later nobody else can take their work.
        tokio::time::sleep(lease + Duration::from_millis(500)).await;
        let t2 = OffsetDateTime::now_utc();
        assert!(
            a.claim_deliveries(t2, lease, 100)
                .await
                .unwrap_or_default()
                .is_empty()
        );
        assert!(
            a.claim_timers(t2, lease, 100)
                .await
                .unwrap_or_default()
                .is_empty()
        );

        // The timers fire once: `b` fires its own; `c` dies holding its, `a` takes them
        // after the lease and fires them, `c`'s late firing finds them gone.
        for t in &tb {
            b.timer_fired(t.id, notice_for(t.id), t2)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        drop(c);
        let c = Postgres::connect(&options(&cluster, &db, "c", lease))
            .unwrap_or_else(|e| panic!("{e}"));
        let t3 = t2 + lease * 2;
        // (c's renewal task is gone with its spool; its leases run out.)
        let taken = claim_all_timers(&a, t3, lease).await;
        assert_eq!(tids(&taken), tids(&tc), "a took c's timers");
        for t in &taken {
            a.timer_fired(t.id, notice_for(t.id), t3)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for t in &tc {
            c.timer_fired(t.id, notice_for(t.id), t3)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let m = b.message(id).await.unwrap_or_else(|e| panic!("{e}"));
        let notices = m
            .outputs
            .iter()
            .filter(|o| o.kind == "pec-notice:preavviso")
            .count();
        assert_eq!(notices, 12, "one notice per timer");
        assert_eq!(cluster.psql(&db, "SELECT count(*) FROM ponte_timers"), "0");
        assert_eq!(
            cluster.psql(
                &db,
                "SELECT count(*) FROM ponte_legal WHERE event->>'event' = 'timer'"
            ),
            "12"
        );

        // A delivery whose node's lease ran out is delivered by another; the first node's
        // late report is kept in the history and changes nothing.
        let late = t3 + lease * 2;
        let mut first = Vec::new();
        while first.is_empty() {
            first = a.claim_deliveries(late, lease, 1).await.unwrap_or_default();
            if first.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let taken_over = late + lease + Duration::from_millis(10);
        let again = b
            .claim_deliveries(taken_over, lease, 100)
            .await
            .unwrap_or_default();
        assert!(
            again.iter().any(|d| d.id == first[0].id),
            "b took a's delivery"
        );
        b.delivery_done(
            first[0].id,
            Attempt::Delivered("250 by b".into()),
            taken_over,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        a.delivery_done(
            first[0].id,
            Attempt::Deferred {
                reason: "451 by a".into(),
                retry_at: taken_over,
            },
            taken_over,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let d = b
            .delivery(first[0].id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.state, DeliveryState::Delivered);
        assert_eq!(d.last_result.as_deref(), Some("250 by b"));
        let m = b.message(id).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            m.history.iter().any(|h| h.detail.contains("late report")),
            "{:?}",
            m.history.last()
        );
        // A clean stop gives the claims back at once.
        b.close().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cluster.psql(
                &db,
                "SELECT count(*) FROM ponte_deliveries WHERE lease_owner LIKE 'b/%'"
            ),
            "0"
        );
        assert_eq!(
            cluster.psql(
                &db,
                "SELECT string_agg(node, ',' ORDER BY node) FROM ponte_nodes"
            ),
            "a,b,c"
        );
    });
}

async fn pg_lease(c: &Cluster, db: &str, node: &str, lease: Duration) -> Postgres {
    Postgres::open(&options(c, db, node, lease))
        .await
        .unwrap_or_else(|e| panic!("open {db}: {e}"))
}

fn notice_for(timer: u64) -> Processed {
    Processed {
        outputs: vec![NewOutput {
            kind: "pec-notice:preavviso".into(),
            message_id: format!("<notice-{timer}@ponte.test>"),
            mail_from: "posta-certificata@pec.prova.test".into(),
            routes: vec![(Destination::Pec, vec!["mario@pec.prova.test".into()])],
            body: b"notice\r\n".to_vec(),
        }],
        ..Processed::default()
    }
}

/// The timers due at `at` that no live claim holds, claimed, by number.
async fn claim_all_timers(
    s: &Postgres,
    at: OffsetDateTime,
    lease: Duration,
) -> Vec<ponte::service::spool::Timer> {
    let mut v = s.claim_timers(at, lease, 100).await.unwrap_or_default();
    v.sort_by_key(|t| t.id);
    v
}

fn shared(cluster: &Cluster, db: &str, more: &str) -> common::gateway::Gateway {
    common::gateway::Gateway::with_spool(
        Provider::Prova,
        None,
        &format!("url = \"{}\"\n{more}", cluster.url(db)),
        "",
    )
}

fn ponte_out(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let o = run_ponte(args);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn spool_cmd(
    verb: &str,
    config: &std::path::Path,
    more: &[&std::path::Path],
) -> (i32, String, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "spool".as_ref(),
        verb.as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ];
    args.extend(more.iter().map(|p| p.as_os_str()));
    ponte_out(&args)
}

fn check(config: &std::path::Path) -> (i32, String, String) {
    ponte_out(&["config".as_ref(), "check".as_ref(), config.as_os_str()])
}

#[test]
fn migrations_are_versioned_applied_once_and_a_newer_schema_is_refused() {
    let Some(cluster) = Cluster::get() else {
        return;
    };
    let db = cluster.database("migrate");
    let g = shared(&cluster, &db, "");
    let (code, out, err) = spool_cmd("migrate", &g.config, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "schema version 0 -> 2: applied 1 (the spool's tables), 2 (the services discovered peers were delivered to)"
        ),
        "{out}"
    );
    // Applied once: the second run finds nothing to do and changes nothing.
    let tables = "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE tablename LIKE 'ponte%'";
    let before = cluster.psql(&db, tables);
    let (code, out, err) = spool_cmd("migrate", &g.config, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("schema version 2, up to date"), "{out}");
    assert_eq!(cluster.psql(&db, tables), before);
    assert_eq!(
        before,
        "ponte_delivered_services,ponte_deliveries,ponte_history,ponte_legal,ponte_messages,\
         ponte_nodes,ponte_outputs,ponte_record_ids,ponte_records,ponte_schema_version,ponte_timers"
    );
    assert_eq!(
        cluster.psql(
            &db,
            "SELECT string_agg(version || ':' || name, ',') FROM ponte_schema_version"
        ),
        "1:the spool's tables,2:the services discovered peers were delivered to"
    );
    // Nodes starting at once on a new database: one migrates, the others find it done.
    let fresh = cluster.database("migrate_race");
    rt().block_on(async {
        let opts: Vec<Options> = (0..4)
            .map(|i| options(&cluster, &fresh, &format!("n{i}"), LEASE))
            .collect();
        let spools: Vec<Postgres> = opts
            .iter()
            .map(|o| Postgres::connect(o).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let mut set = tokio::task::JoinSet::new();
        for s in spools {
            set.spawn(async move { s.migrate().await });
        }
        let results = set.join_all().await;
        let applied: usize = results
            .iter()
            .map(|r| {
                r.as_ref()
                    .map(|m| m.applied.len())
                    .unwrap_or_else(|e| panic!("{e}"))
            })
            .sum();
        assert_eq!(applied, 2, "{results:?}");
    });
    assert_eq!(
        cluster.psql(&fresh, "SELECT count(*) FROM ponte_schema_version"),
        "2"
    );
    // A database migrated by a newer ponte: refused by migrate, serve and config check.
    cluster.psql(
        &db,
        "INSERT INTO ponte_schema_version (version, name, applied_by) VALUES (99, 'from the future', 'test')",
    );
    let (code, _, err) = spool_cmd("migrate", &g.config, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("schema version 99, newer than this ponte knows (2)"),
        "{err}"
    );
    let (code, _, err) = check(&g.config);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("spool.url") && err.contains("newer"), "{err}");
    let o = common::ponte()
        .args(["serve", "--config"])
        .arg(&g.config)
        .output()
        .expect("serve");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("newer than this ponte knows"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn config_check_names_a_bad_url_an_absent_server_and_a_missing_database() {
    let Some(cluster) = Cluster::get() else {
        return;
    };
    let db = cluster.database("check");
    let closed = common::gateway::free_port();
    for (url, more, code, wants, not) in [
        (
            "mysql://ponte@127.0.0.1/x".to_string(),
            "",
            1,
            vec!["spool.url", "is not a PostgreSQL URL"],
            vec![],
        ),
        (
            format!("postgres://ponte:s3cret@127.0.0.1:{closed}/x"),
            "",
            1,
            vec![
                "spool.url",
                &*format!("cannot connect to postgres://ponte:***@127.0.0.1:{closed}/x").leak(),
                "refused",
            ],
            vec!["s3cret"],
        ),
        (
            format!("postgres://ponte:s3cret@127.0.0.1:{}/nowhere", cluster.port),
            "",
            1,
            vec!["spool.url", "3D000", "database \"nowhere\" does not exist"],
            vec!["s3cret"],
        ),
        (
            format!(
                "postgres://ponte@127.0.0.1:{}/{db}?sslmode=require",
                cluster.port
            ),
            "",
            1,
            vec!["spool.url", "sslmode=require", "without TLS"],
            vec![],
        ),
        (
            cluster.url(&db),
            "pool = 0\n",
            1,
            vec!["spool.pool", "0 is not from 1 to 256"],
            vec![],
        ),
        (
            cluster.url(&db),
            "lease = \"200ms\"\n",
            1,
            vec!["spool.lease", "at least 1s"],
            vec![],
        ),
        // Reachable, not migrated yet: valid, with a warning (serve migrates).
        (
            cluster.url(&db),
            "node = \"gw-1\"\n",
            0,
            vec!["schema version 0, this ponte's is 2", "ponte serve"],
            vec![],
        ),
    ] {
        let g = common::gateway::Gateway::with_spool(
            Provider::Prova,
            None,
            &format!("url = \"{url}\"\n{more}"),
            "",
        );
        let (c, out, err) = check(&g.config);
        assert_eq!(c, code, "{url}: {out}{err}");
        for w in &wants {
            assert!(err.contains(w), "{url}: {w:?} in {err}");
        }
        for n in &not {
            assert!(
                !err.contains(n) && !out.contains(n),
                "{url}: {n:?} shown: {err}"
            );
        }
        if code == 0 {
            assert!(
                out.contains(&format!(
                    "spool:       PostgreSQL {url} (node gw-1, pool 16, lease 1m)"
                )),
                "{out}"
            );
        }
    }
}

/// The service `populate` records for the delivery `delivery` of `<out1@ponte.test>`.
fn delivered_service(delivery: u64) -> ponte::service::spool::DeliveredService {
    ponte::service::spool::DeliveredService {
        delivery,
        message_id: "<out1@ponte.test>".into(),
        recipients: vec!["anna@rem.example.eu".into()],
        host: "mx.rem.example.eu".into(),
        service_name: "Esempio REM".into(),
        tsp_name: "Esempio S.A.".into(),
        list: "tl-eu.xml".into(),
        identities: vec!["MIIB".into()],
        at: "2026-12-07T10:00:00Z".into(),
    }
}

/// A little of everything: received, queued with a record, a timer and the service one of
/// its deliveries went to, split by a partial attempt, quarantined, and a legal event of a
/// refusal.
async fn populate(s: &dyn Spool) {
    s.receive(incoming("<r1@x>"), None, now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let q = s
        .receive(
            incoming("<q1@x>"),
            Some(Processed {
                mapping: Some("busta-trasporto".into()),
                outputs: vec![output(1)],
                records: vec![record("<q1@x>", "<out1@ponte.test>")],
                timers: vec![NewTimer {
                    kind: TimerKind::Final,
                    due: now() + time::Duration::hours(24),
                    about: "<out1@ponte.test>".into(),
                    recipients: vec!["anna@rem.example.eu".into()],
                }],
                notes: vec!["a note".into()],
                ..Processed::default()
            }),
            now(),
        )
        .await
        .map(Received::id)
        .unwrap_or_else(|e| panic!("{e}"));
    let ds = s
        .claim_deliveries(now(), LEASE, 10)
        .await
        .unwrap_or_default();
    assert_eq!(ds.len(), 2);
    // The first went to a discovered REM peer: the service it went to is recorded.
    s.bind_service(delivered_service(ds[0].id))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.delivery_done(
        ds[0].id,
        Attempt::Deferred {
            reason: "451 busy".into(),
            retry_at: now() + time::Duration::minutes(5),
        },
        now(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let _ = q;
    partial(s).await;
    let z = s
        .receive(incoming("<z@x>"), None, now())
        .await
        .map(Received::id)
        .unwrap_or_else(|e| panic!("{e}"));
    s.quarantine(z, "operator: set aside", now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut e = LegalEvent::new(now(), "refused", "554 5.7.1 unsigned");
    e.peer = Some("192.0.2.7:4000".into());
    s.legal(e).await.unwrap_or_else(|e| panic!("{e}"));
}

fn body_lines(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines[0].contains("\"type\":\"header\""), "{}", lines[0]);
    lines[1..].to_vec()
}

#[test]
fn export_and_import_move_a_queue_between_the_embedded_spool_and_postgres() {
    let Some(cluster) = Cluster::get() else {
        return;
    };
    let db = cluster.database("transfer");
    let work = tempfile::tempdir().expect("tempdir");
    let embedded = common::gateway::Gateway::new(Provider::Prova, None, "");
    rt().block_on(async {
        let s = Embedded::open(&embedded.dir.join("spool")).unwrap_or_else(|e| panic!("{e}"));
        populate(&s).await;
    });
    let e1 = work.path().join("embedded.jsonl");
    let (code, _, err) = spool_cmd("export", &embedded.config, &["-o".as_ref(), &e1]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("exported 4 messages, 1 correlation records,"),
        "{err}"
    );
    // Into PostgreSQL (the tables made on the way), out again, into a new embedded spool.
    let pg_gw = shared(&cluster, &db, "");
    let (code, out, err) = spool_cmd("import", &pg_gw.config, &[&e1]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("imported 4 messages, 1 correlation records"),
        "{out}"
    );
    let p1 = work.path().join("postgres.jsonl");
    let (code, _, err) = spool_cmd("export", &pg_gw.config, &["-o".as_ref(), &p1]);
    assert_eq!(code, 0, "{err}");
    let back = common::gateway::Gateway::new(Provider::Prova, None, "");
    let (code, _, err) = spool_cmd("import", &back.config, &[&p1]);
    assert_eq!(code, 0, "{err}");
    let e2 = work.path().join("again.jsonl");
    let (code, _, err) = spool_cmd("export", &back.config, &["-o".as_ref(), &e2]);
    assert_eq!(code, 0, "{err}");
    let (a, b, c) = (body_lines(&e1), body_lines(&p1), body_lines(&e2));
    assert_eq!(
        a.len(),
        4 + 1
            + a.iter()
                .filter(|l| l.contains("\"type\":\"legal\""))
                .count()
            + 1
    );
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "line {} differs after PostgreSQL", i + 2);
    }
    assert_eq!(a.len(), b.len());
    assert_eq!(a, c, "embedded -> PostgreSQL -> embedded");
    // The imported queue goes on: the deliveries due are the same, new numbers follow.
    rt().block_on(async {
        let p = pg(&cluster, &db, "after-import").await;
        let e = Embedded::open(&back.dir.join("spool")).unwrap_or_else(|e| panic!("{e}"));
        let later = now() + time::Duration::minutes(10);
        let mut from_pg: Vec<u64> = p
            .claim_deliveries(later, LEASE, 100)
            .await
            .unwrap_or_default()
            .iter()
            .map(|d| d.id)
            .collect();
        let mut from_e: Vec<u64> = e
            .claim_deliveries(later, LEASE, 100)
            .await
            .unwrap_or_default()
            .iter()
            .map(|d| d.id)
            .collect();
        from_pg.sort_unstable();
        from_e.sort_unstable();
        assert_eq!(from_pg, from_e);
        assert!(!from_pg.is_empty());
        assert_eq!(
            p.claim_processing(later, LEASE, 10)
                .await
                .unwrap_or_default(),
            e.claim_processing(later, LEASE, 10)
                .await
                .unwrap_or_default()
        );
        let n = p
            .receive(incoming("<new@x>"), None, later)
            .await
            .map(Received::id)
            .unwrap_or(0);
        assert!(n > 4, "new numbers follow the imported ones: {n}");
        assert_eq!(
            tokio::task::block_in_place(|| p.find_records("<out1@ponte.test>"))
                .map(|r| r.len())
                .ok(),
            Some(1)
        );
        // The delivered service came along, both ways, found by the output's Message-ID.
        let from_pg = tokio::task::block_in_place(|| p.delivered_services("out1@ponte.test"))
            .unwrap_or_else(|e| panic!("{e}"));
        let from_e = tokio::task::block_in_place(|| e.delivered_services("<out1@ponte.test>"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_pg.len(), 1, "{from_pg:?}");
        assert_eq!(from_pg, from_e);
        assert_eq!(from_pg[0], delivered_service(from_pg[0].delivery));
    });
    assert!(
        a.iter()
            .any(|l| l.contains("\"services\":[{") && l.contains("Esempio REM")),
        "no delivered service in the export"
    );
    // Refused: a spool that holds messages; a file cut short (nothing written).
    let (code, _, err) = spool_cmd("import", &pg_gw.config, &[&e1]);
    assert_eq!(code, 2);
    assert!(err.contains("empty spool only"), "{err}");
    let cut = work.path().join("cut.jsonl");
    let text = std::fs::read_to_string(&e1).unwrap_or_default();
    let keep: Vec<&str> = text.lines().collect();
    std::fs::write(&cut, keep[..keep.len() - 2].join("\n") + "\n").expect("write");
    let fresh = common::gateway::Gateway::new(Provider::Prova, None, "");
    let (code, _, err) = spool_cmd("import", &fresh.config, &[&cut]);
    assert_eq!(code, 2);
    assert!(err.contains("cut short"), "{err}");
    assert!(
        !fresh.dir.join("spool").exists(),
        "nothing written for a bad file"
    );
}

const MARIO: &str = "mario@pec.prova.test";
const ANNA: &str = "anna@pec.altro.test";

/// `n` signed PEC transport envelopes of Gestore Prova (made in this process: 500 runs of
/// `ponte pec wrap` would take longer than the test), each wrapping its own original.
fn envelopes(n: usize) -> Vec<Vec<u8>> {
    use ponte::pec::build::{self, EnvelopeInput, SequenceIdentifiers};
    let read = |p: &str| std::fs::read(common::pki(p)).expect("pki");
    let key = ponte::crypto::SigningKey::from_pkcs8_pem(&read("pec-rsa.key.pem")).expect("key");
    let cert = ponte::x509::load_pem(&read("pec-rsa.pem"))
        .expect("cert")
        .remove(0);
    let chain = ponte::x509::load_pem(&read("provider-ca.pem")).expect("chain");
    let tables = ponte::mappings::Tables::load(None).expect("tables");
    let prefix = tables
        .pec_subject_prefix(build::SUBJECT_KEY_ENVELOPE)
        .unwrap_or_default()
        .to_string();
    let provider = ponte::pec::build::Provider {
        name: Provider::Prova.name().into(),
        domain: Provider::Prova.domain().into(),
    };
    let at = OffsetDateTime::now_utc();
    let mut ids = SequenceIdentifiers {
        seed: format!("cluster{}", at.unix_timestamp()),
        next: 1,
    };
    (0..n)
        .map(|i| {
            let original =
                common::gateway::original(MARIO, ANNA, "Cluster", &format!("cluster-{i}"));
            build::envelope(
                &EnvelopeInput {
                    original: &original,
                    provider: &provider,
                    external: &[],
                    at,
                    subject_prefix: &prefix,
                    extra_parts: &[],
                },
                &mut ids,
            )
            .expect("envelope")
            .sign(&key, &cert, &chain)
            .expect("sign")
        })
        .collect()
}

/// Messages of a sink grouped by `key` header: the distinct `Message-ID`s under each, and how
/// many messages came in all.
fn by_header(
    got: &[common::SinkMessage],
    key: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut m = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for g in got {
        m.entry(common::mail::header(&g.body, key).join(""))
            .or_default()
            .insert(common::mail::header(&g.body, "Message-ID").join(""));
    }
    m
}

#[test]
fn two_nodes_on_one_database_deliver_every_acknowledged_message_once_when_one_is_killed() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const N: usize = 500;
    let Some(cluster) = Cluster::get() else {
        return;
    };
    let (Some(rem), Some(pec)) = (common::SmtpSink::start(&[]), common::SmtpSink::start(&[]))
    else {
        return;
    };
    let db = cluster.database("cluster");
    let extra = format!(
        "[[route]]\ndomain = \"*\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n\
         [timers]\nwarning = \"3s\"\nfinal = \"1h\"\n",
        rem.relay(),
        pec.relay()
    );
    let node = |name: &str| {
        common::gateway::Gateway::with_spool(
            Provider::Prova,
            None,
            &format!(
                "url = \"{}\"\nnode = \"{name}\"\nlease = \"5s\"\npool = 8",
                cluster.url(&db)
            ),
            &extra,
        )
    };
    let mut a = node("a");
    let b = node("b");
    let mut b = b;
    a.start();
    b.start();
    let bodies = Arc::new(envelopes(N));
    let addrs = [a.smtp, b.smtp];
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let (bodies, next, acked, retries) = (
                Arc::clone(&bodies),
                Arc::clone(&next),
                Arc::clone(&acked),
                Arc::clone(&retries),
            );
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(body) = bodies.get(i) else { break };
                    // Like an MTA with two MX hosts: what did not get 250 is sent again, to
                    // the other node, until it does.
                    let mut to = i % 2;
                    loop {
                        match common::gateway::send(
                            addrs[to],
                            "posta-certificata@pec.prova.test",
                            &[ANNA],
                            body,
                        ) {
                            Ok(r) if r.code == 250 => break,
                            Ok(r) => assert!(r.code / 100 == 4, "refused: {r:?}"),
                            Err(_) => {}
                        }
                        retries.fetch_add(1, Ordering::SeqCst);
                        to = 1 - to;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    acked.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    while acked.load(Ordering::SeqCst) < N * 2 / 5 {
        std::thread::sleep(Duration::from_millis(5));
    }
    a.kill9();
    // What node a held at the instant it died (its leases still run): the only deliveries
    // that may reach a peer twice are among these (handed over, the 250 not yet recorded).
    let held: std::collections::BTreeSet<String> = cluster
        .psql(
            &db,
            "SELECT message_id FROM ponte_deliveries WHERE lease_owner LIKE 'a/%' AND state = 'queued'",
        )
        .lines()
        .map(str::to_owned)
        .collect();
    let held_timers: u64 = cluster
        .psql(
            &db,
            "SELECT count(*) FROM ponte_timers WHERE lease_owner LIKE 'a/%'",
        )
        .parse()
        .unwrap_or(0);
    for s in senders {
        s.join().expect("sender");
    }
    assert_eq!(acked.load(Ordering::SeqCst), N);
    let wait = |sink: &common::SmtpSink, key: &str, what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            let got = sink.messages();
            if by_header(&got, key).len() >= N || std::time::Instant::now() > deadline {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: {} of {N}\n{}",
                by_header(&got, key).len(),
                b.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    // Every acknowledged message delivered, each as one distinct dispatch (its own
    // Message-ID, whatever node made it and however often it was sent).
    let dispatches = wait(&rem, "REM-UAMessageIdentifier", "dispatches");
    let per_input = by_header(&dispatches, "REM-UAMessageIdentifier");
    let missing: Vec<String> = (0..N)
        .map(|i| format!("<cluster-{i}@mittente.test>"))
        .filter(|id| !per_input.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged, not delivered: {missing:?}"
    );
    assert_eq!(per_input.len(), N);
    assert!(
        per_input.values().all(|ids| ids.len() == 1),
        "an input became two different dispatches"
    );
    // Re-sends: the same dispatch (same Message-ID) handed to the peer again, only for what
    // node a held when it was killed.
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for m in &dispatches {
        *seen
            .entry(common::mail::header(&m.body, "Message-ID").join(""))
            .or_default() += 1;
    }
    let resent: Vec<&String> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k)
        .collect();
    assert!(
        resent.iter().all(|id| held.contains(*id)),
        "re-sent {resent:?}, but node a held only {held:?}"
    );
    // The warning timer of every dispatch fired once: one preavviso per input, whichever
    // node fired it (node a died holding {held_timers} of them).
    let notices = wait(&pec, "X-Riferimento-Message-ID", "preavvisi");
    let per_envelope = by_header(&notices, "X-Riferimento-Message-ID");
    assert_eq!(per_envelope.len(), N, "one preavviso per input");
    assert!(
        per_envelope.values().all(|ids| ids.len() == 1),
        "a timer fired twice (two different notices for one input)"
    );
    let mut notice_seen = std::collections::BTreeMap::<String, usize>::new();
    for m in &notices {
        *notice_seen
            .entry(common::mail::header(&m.body, "Message-ID").join(""))
            .or_default() += 1;
    }
    assert!(
        notice_seen
            .iter()
            .filter(|(_, n)| **n > 1)
            .all(|(k, _)| held.contains(k)),
        "a notice re-sent that node a did not hold"
    );
    let q = |sql: &str| cluster.psql(&db, sql);
    assert_eq!(
        q("SELECT count(*) FROM ponte_messages"),
        N.to_string(),
        "each input stored once"
    );
    assert_eq!(
        q("SELECT count(*) FROM ponte_timers WHERE kind = 'warning'"),
        "0"
    );
    assert_eq!(
        q("SELECT count(*) FROM ponte_timers WHERE kind = 'final'"),
        N.to_string(),
        "each final timer still waits, once"
    );
    assert_eq!(
        q("SELECT count(*) FROM ponte_legal WHERE event->>'event' = 'timer'"),
        N.to_string(),
        "each warning fired once"
    );
    let by_node = q(
        "SELECT string_agg(node || '=' || n, ',' ORDER BY node) FROM (SELECT node, count(*) AS n FROM ponte_legal GROUP BY node) x",
    );
    assert!(
        by_node.starts_with("a=") && by_node.contains(",b="),
        "both nodes worked: {by_node}"
    );
    // Timers node a started and did not live to fire were fired by node b (claimed once
    // a's leases ran out, or never claimed by a).
    let taken_over: u64 = q("SELECT count(*) FROM ponte_legal t JOIN ponte_legal r \
         ON r.event->>'message' = t.event->>'message' AND r.event->>'event' = 'received' \
         WHERE t.event->>'event' = 'timer' AND r.node = 'a' AND t.node = 'b'")
    .parse()
    .unwrap_or(0);
    assert!(taken_over > 0, "no timer of node a fired on node b");
    b.wait_for("the queue to drain", Duration::from_secs(30), || {
        b.metric("ponte_queue_depth") == 0.0
    });
    eprintln!(
        "cluster: {N} messages, {} SMTP retries, node a held {} deliveries and {held_timers} timers when killed, {} dispatches re-sent, {} notices re-sent, {taken_over} of a's timers fired by b; legal events by node: {by_node}",
        retries.load(Ordering::SeqCst),
        held.len(),
        resent.len(),
        notice_seen.values().filter(|n| **n > 1).count()
    );
    assert_eq!(b.stop(), Some(0), "{}", b.log());
}
