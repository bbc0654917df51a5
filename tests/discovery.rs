//! REM discovery in the running gateway, end to end on loopback (EN 319 532-4 C.2.3.3.3,
//! pre-relay validation): `ponte serve` (gateway A, Gestore Prova) with `[trust] lists` and
//! no `[[route]]` carries PEC envelopes for recipients of three REM domains, each found
//! through its MX records on a real DNS server (Debian's dnsmasq) in its own process:
//!
//! - `altro.test`: MX `mx.altro.test` (127.0.0.2) is an `smtp:` ServiceSupplyPoint of a
//!   granted REM/Q service of a trusted list signed here, whose digital identity is Altro's
//!   REM e-seal certificate; the SMTP server there (aiosmtpd, its own process) presents under
//!   STARTTLS a certificate for `mx.altro.test` on that e-seal's key. The dispatch arrives.
//! - `rogue.test`: MX `mx.rogue.test` (127.0.0.3) is a supply point of the same service, but
//!   the server there presents a certificate of another key (a DNS hijack): refused during
//!   the handshake, nothing is sent, the sender gets the errore-consegna.
//! - `stranger.test`: MX `mx.stranger.test` is in no list: refused without connecting.
//! - `backup.test`: MX 10 is the rogue, MX 20 Altro's: the rogue is skipped (nothing sent
//!   to it), the dispatch goes to the next MX host by preference.
//! - `plain.test`: MX `mx.plain.test` (127.0.0.4) is a supply point, but the server there
//!   offers no STARTTLS: nothing is sent in plain text, the delivery waits (deferred).
//!
//! A second gateway reads its list again every second (`[trust] refresh`): when the service
//! is withdrawn in the next list, the next dispatch is refused (`not-qualified`), and
//! `/metrics` shows the list's age.
//!
//! Incoming: a gateway B with no `rem_anchors`, only a list naming Gestore Prova's REM e-seal
//! as a granted REM/Q service, carries A's dispatch into PEC; once the next list withdraws the
//! service, B refuses the next dispatch (554, the lists' reason) and A's sender is told.
//!
//! The refusals are the REM `R_ERDS_NotIdentified` case; the PEC sender is told with the
//! PEC notice the mappings give for a RelayFailure, errore-consegna, which carries the
//! RelayFailure evidence A issued as the sender's ERDS (checked by xmlsec1). `/metrics`
//! counts each decision in `ponte_discovery_total{outcome}`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::gateway::{Gateway, Provider, envelope, original, send, verify};
use common::mail::{header, openssl_verify, section, split_parts};
use common::tl::{GRANTED, QTST, REM_Q, Svc, WITHDRAWN, csi_xml, list_xml, sign};
use common::{Dns, SmtpSink, have, pki};

const MARIO: &str = "mario@pec.prova.test";
const ANNA: &str = "anna@altro.test";
const BRUNO: &str = "bruno@rogue.test";
const CARLA: &str = "carla@stranger.test";
const DARIO: &str = "dario@backup.test";
const ELSA: &str = "elsa@plain.test";
const BRUNO_ALTRO: &str = "bruno@altro.test";

/// A self-signed TLS server certificate for `host` on `key` (PKCS#8 PEM; `None`: a fresh
/// key), written as `NAME.cert.pem` and `NAME.key.pem` in `dir`.
fn tls_cert(dir: &Path, name: &str, host: &str, key: Option<&Path>) -> (PathBuf, PathBuf) {
    use rcgen::{CertificateParams, DnType, KeyPair};
    let key = match key {
        Some(p) => KeyPair::from_pem(&std::fs::read_to_string(p).expect("key")).expect("key"),
        None => KeyPair::generate().expect("key"),
    };
    let mut params = CertificateParams::new(vec![host.to_string()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, host);
    let cert = params.self_signed(&key).expect("certificate");
    let (c, k) = (
        dir.join(format!("{name}.cert.pem")),
        dir.join(format!("{name}.key.pem")),
    );
    std::fs::write(&c, cert.pem()).expect("write cert");
    std::fs::write(&k, key.serialize_pem()).expect("write key");
    (c, k)
}

/// A REM peer's MX: an aiosmtpd sink on `listen` that requires STARTTLS, under a [`tls_cert`]
/// for `host` on `key`, keeping what it receives in `dir/NAME`.
fn tls_peer(
    dir: &Path,
    name: &str,
    host: &str,
    key: Option<&Path>,
    listen: &str,
) -> Option<SmtpSink> {
    let (cert, key) = tls_cert(dir, name, host, key);
    let (c, k) = (s(&cert), s(&key));
    SmtpSink::start_at(
        listen,
        &dir.join(name),
        &["--tls-cert", &c, "--tls-key", &k, "--require-tls"],
    )
}

/// The decoded `RelayFailure.xml` part of a notice's signed content, when there is one.
fn relay_failure_part(content: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let (h, b) = split_parts(content)
        .into_iter()
        .find(|(h, _)| h.contains("RelayFailure.xml"))?;
    if h.to_ascii_lowercase().contains("base64") {
        let clean: Vec<u8> = b.into_iter().filter(|c| !c.is_ascii_whitespace()).collect();
        base64::engine::general_purpose::STANDARD.decode(clean).ok()
    } else {
        Some(b)
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Gateway A (Gestore Prova), not started: no route, its PEC platform `pec`, MX delivery on
/// `port`, the trusted list `tl` (signed by the test PKI's list signer), MX look-ups on
/// `dns`, and `trust` more keys of `[trust]`.
fn gateway_a(w: &Path, port: u16, pec: &SmtpSink, dns: &Dns, tl: &Path, trust: &str) -> Gateway {
    let a = Gateway::new(
        Provider::Prova,
        None,
        &format!(
            "mx_port = {port}\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n",
            pec.relay()
        ),
    );
    let text = std::fs::read_to_string(&a.config).expect("config");
    let text = text.replacen(
        "[trust]\n",
        &format!(
            "[trust]\nlists = [\"{}\"]\nlist_anchors = [\"{}\"]\ndns_servers = [\"{}\"]\ncache_dir = \"{}\"\n{trust}",
            s(tl),
            s(&pki("tl-signer.pem")),
            dns.addr,
            s(&w.join("tl-cache"))
        ),
        1,
    );
    std::fs::write(&a.config, text).expect("write config");
    a
}

/// Submits to `a` a PEC envelope from Mario to `to` (250 expected).
fn submit(a: &Gateway, w: &Path, to: &str, id: &str) {
    let env = envelope(w, Provider::Prova, &original(MARIO, to, "Scoperta", id), id);
    let raw = std::fs::read(&env).expect("read");
    let r = send(a.smtp, "posta-certificata@pec.prova.test", &[to], &raw).expect("send");
    assert_eq!(r.code, 250, "{r:?}\n{}", a.log());
}

/// The trusted list (IT, sequence `seq`) with one REM/Q service, Altro's e-seal as its
/// identity, `statuses` and `points`, signed, written to `path`.
fn write_tl(path: &Path, seq: u32, statuses: &[(&str, &str)], points: &[&str]) {
    let tl = list_xml(
        "IT",
        seq,
        "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric",
        &[],
        "Altro Gestore S.p.A.",
        &[Svc {
            service_type: REM_Q,
            name: "Altro REM",
            cert: "rem-ec.pem",
            statuses,
            supply_points: points,
        }],
    );
    std::fs::write(path, sign(&tl, "tl-signer")).expect("write tl");
}

#[test]
fn mx_delivery_follows_the_trusted_lists_and_refuses_peers_they_do_not_name() {
    if !have("openssl") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    // The REM peers: Altro's MX with its e-seal's key, and a rogue on another key, on the
    // same port (the gateway's mx_port) of two loopback addresses.
    let altro_key = pki("rem-ec.key.pem");
    let Some(good) = tls_peer(w, "good", "mx.altro.test", Some(&altro_key), "127.0.0.2:0") else {
        return;
    };
    let port = good.addr.port();
    let Some(rogue) = tls_peer(
        w,
        "rogue",
        "mx.rogue.test",
        None,
        &format!("127.0.0.3:{port}"),
    ) else {
        return;
    };
    let Some(plain) = SmtpSink::start_at(&format!("127.0.0.4:{port}"), &w.join("plain"), &[])
    else {
        return;
    };
    let Some(pec) = SmtpSink::start(&[]) else {
        return;
    };
    let Some(dns) = Dns::start(
        &[
            ("altro.test", "mx.altro.test", 10),
            ("rogue.test", "mx.rogue.test", 10),
            ("stranger.test", "mx.stranger.test", 10),
            ("backup.test", "mx.rogue.test", 10),
            ("backup.test", "mx.altro.test", 20),
            ("plain.test", "mx.plain.test", 10),
        ],
        &[
            ("mx.altro.test", "127.0.0.2"),
            ("mx.rogue.test", "127.0.0.3"),
            ("mx.plain.test", "127.0.0.4"),
            ("mx.stranger.test", "127.0.0.5"),
        ],
    ) else {
        return;
    };

    // The trusted list: one granted REM/Q service, Altro's e-seal as its identity, three
    // supply points; signed with the test PKI's list signer.
    let tl_path = w.join("tl-it.xml");
    write_tl(
        &tl_path,
        1,
        &[(GRANTED, "2025-01-01T00:00:00Z")],
        &[
            "smtp:mx.altro.test:25",
            "smtp:mx.rogue.test:25",
            "smtp:mx.plain.test:25",
        ],
    );
    // Gateway A: no route, its PEC platform a sink, MX delivery on the peers' port.
    let mut a = gateway_a(w, port, &pec, &dns, &tl_path, "");
    a.start();

    for (i, to) in [ANNA, BRUNO, CARLA, DARIO, ELSA].iter().enumerate() {
        submit(&a, w, to, &format!("disc-{}", i + 1));
    }

    // 1. Altro's MX got the REM dispatches, under TLS, for Anna and (past the rogue MX
    //    preferred) Dario.
    let got = good.wait_messages(2, Duration::from_secs(60));
    assert_eq!(got.len(), 2, "{}", a.log());
    assert!(got.iter().all(|m| m.tls), "a dispatch went without TLS");
    let mut rcpts: Vec<String> = got.iter().flat_map(|m| m.rcpt_tos.clone()).collect();
    rcpts.sort();
    assert_eq!(rcpts, vec![ANNA.to_string(), DARIO.to_string()]);
    assert_eq!(
        header(&got[0].body, "REM-MessageType"),
        vec!["http://uri.etsi.org/19522/v1#/ERDMessageType/dispatch".to_string()]
    );
    let dispatch = w.join("dispatch.eml");
    std::fs::write(&dispatch, &got[0].body).expect("write");
    let content = openssl_verify(&dispatch, &pki("root-ca.pem"));
    assert!(
        section(&content, "rem_message/xml_evidence").is_some(),
        "the dispatch carries no evidence"
    );

    // 2. The two refusals: Mario's PEC platform gets an errore-consegna for each.
    let notices = pec.wait_messages(2, Duration::from_secs(60));
    assert_eq!(notices.len(), 2, "{}", a.log());
    let mut about = Vec::new();
    for m in &notices {
        assert_eq!(m.rcpt_tos, vec![MARIO.to_string()]);
        let f = w.join(format!("notice-{}.eml", m.n));
        std::fs::write(&f, &m.body).expect("write");
        let v = verify(&f);
        assert_eq!(v["type"], "errore-consegna", "{v}");
        assert_eq!(v["signature"]["valid"], true, "{v}");
        about.push(v.to_string());
    }
    assert!(
        about.iter().any(|v| v.contains(BRUNO)) && about.iter().any(|v| v.contains(CARLA)),
        "{about:?}"
    );
    // Each carries the RelayFailure evidence A issued as the sender's ERDS (EN 319 532-4
    // C.2.3.3.3: R_ERDS_NotIdentified), signed by A's REM seal: xmlsec1 verifies it.
    for m in &notices {
        let f = w.join(format!("notice-{}.eml", m.n));
        let content = openssl_verify(&f, &pki("root-ca.pem"));
        let xml = relay_failure_part(&content).unwrap_or_else(|| {
            panic!(
                "no RelayFailure.xml in the errore-consegna:\n{}",
                String::from_utf8_lossy(&content)
            )
        });
        let text = String::from_utf8_lossy(&xml);
        assert!(
            text.contains("http://uri.etsi.org/19522/Event/RelayFailure")
                && text.contains("R_ERDS_NotIdentified"),
            "{text}"
        );
        let ev = w.join(format!("relay-failure-{}.xml", m.n));
        std::fs::write(&ev, &xml).expect("write");
        if have("xmlsec1") {
            assert!(
                common::xmlsec1_verifies(&ev),
                "xmlsec1 refuses the RelayFailure"
            );
        }
    }
    // Nothing reached the rogue: the handshake was cut at its certificate.
    assert!(rogue.connections() >= 2, "the rogue MX was not tried twice");
    assert!(rogue.messages().is_empty(), "the rogue MX got a message");
    // Nothing went in plain text: the MX without STARTTLS keeps Elsa's dispatch waiting.
    a.wait_for(
        "the plain-text MX to be deferred",
        Duration::from_secs(30),
        || {
            let d = &a.api("/api/queue/5")["deliveries"][0];
            d["state"] == "queued"
                && d["last_result"]
                    .as_str()
                    .is_some_and(|r| r.contains("does not offer STARTTLS"))
        },
    );
    assert!(
        plain.connections() >= 1,
        "the plain-text MX was never tried"
    );
    assert!(plain.messages().is_empty(), "a dispatch went in plain text");

    // 3. The history says why, and which service the delivered dispatch was pinned to.
    let delivery = |n: u32| a.api(&format!("/api/queue/{n}"))["deliveries"][0].clone();
    let d1 = delivery(1);
    assert_eq!(d1["state"], "delivered", "{d1}");
    let r1 = d1["last_result"].as_str().unwrap_or_default();
    assert!(
        r1.contains("Altro REM") && r1.contains("digital identity (public-key)"),
        "{d1}"
    );
    let d2 = delivery(2);
    assert_eq!(d2["state"], "failed", "{d2}");
    let r2 = d2["last_result"].as_str().unwrap_or_default();
    assert!(
        r2.contains("R_ERDS_NotIdentified") && r2.contains("not the service's digital identity"),
        "{d2}"
    );
    let d3 = delivery(3);
    assert_eq!(d3["state"], "failed", "{d3}");
    let r3 = d3["last_result"].as_str().unwrap_or_default();
    assert!(
        r3.contains("R_ERDS_NotIdentified") && r3.contains("mx.stranger.test"),
        "{d3}"
    );

    let d4 = delivery(4);
    assert_eq!(d4["state"], "delivered", "{d4}");
    assert!(
        d4["last_result"]
            .as_str()
            .is_some_and(|r| r.starts_with("mx.altro.test[127.0.0.2")),
        "{d4}"
    );

    // 4. The metrics count each decision: a peer found once per delivery for altro, rogue,
    //    backup and plain (not again at plain's retries), the rogue's certificate refused
    //    twice (rogue.test, backup.test), stranger.test not a supply point.
    a.wait_for("plain's third attempt", Duration::from_secs(30), || {
        delivery(5)["attempts"].as_u64().is_some_and(|n| n >= 3)
    });
    let m = |o: &str| a.metric(&format!("ponte_discovery_total{{outcome=\"{o}\"}}"));
    assert_eq!(m("peer-found"), 4.0, "{}", a.log());
    // One per refused handshake with the rogue: at least rogue.test's and backup.test's, more
    // only if a delivery was retried after another host failed too (a slow machine), and never
    // more than the rogue saw connections.
    let mismatches = m("tls-identity-mismatch");
    assert!(
        mismatches >= 2.0 && mismatches <= rogue.connections() as f64,
        "{mismatches} TLS identity mismatches counted for {} connections to the rogue\n{}",
        rogue.connections(),
        a.log()
    );
    assert_eq!(m("not-a-supply-point"), 1.0, "{}", a.log());
    assert_eq!(a.stop(), Some(0), "{}", a.log());
}

#[test]
fn the_lists_are_refreshed_while_serving_and_their_age_is_on_metrics() {
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let key = pki("rem-ec.key.pem");
    let Some(good) = tls_peer(w, "good", "mx.altro.test", Some(&key), "127.0.0.2:0") else {
        return;
    };
    let Some(pec) = SmtpSink::start(&[]) else {
        return;
    };
    let Some(dns) = Dns::start(
        &[("altro.test", "mx.altro.test", 10)],
        &[("mx.altro.test", "127.0.0.2")],
    ) else {
        return;
    };
    let tl_path = w.join("tl-it.xml");
    let point = ["smtp:mx.altro.test:25"];
    write_tl(&tl_path, 1, &[(GRANTED, "2025-01-01T00:00:00Z")], &point);
    let mut a = gateway_a(
        w,
        good.addr.port(),
        &pec,
        &dns,
        &tl_path,
        "refresh = \"1s\"\n",
    );
    a.start();

    // Granted: the dispatch goes.
    submit(&a, w, ANNA, "refresh-1");
    assert_eq!(good.wait_messages(1, Duration::from_secs(60)).len(), 1);
    let age_line = || {
        let (_, text) = a.get("/metrics");
        text.lines()
            .find(|l| l.starts_with("ponte_trusted_list_age_seconds{"))
            .map(str::to_owned)
    };
    let line = age_line().expect("no ponte_trusted_list_age_seconds");
    assert!(line.contains(&s(&tl_path)), "{line}");
    let age: f64 = line
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("age");
    assert!((0.0..30.0).contains(&age), "{line}");

    // The supervisory body withdraws the service; the next list says so. The gateway reads
    // it on its own (refresh = 1s) and refuses the next dispatch.
    write_tl(
        &tl_path,
        2,
        &[
            (GRANTED, "2025-01-01T00:00:00Z"),
            (WITHDRAWN, "2026-01-01T00:00:00Z"),
        ],
        &point,
    );
    a.wait_for("the refreshed list", Duration::from_secs(30), || {
        a.log().contains("sequence=2")
    });
    submit(&a, w, BRUNO_ALTRO, "refresh-2");
    let notices = pec.wait_messages(1, Duration::from_secs(60));
    assert_eq!(notices.len(), 1, "{}", a.log());
    let f = w.join("notice.eml");
    std::fs::write(&f, &notices[0].body).expect("write");
    assert_eq!(verify(&f)["type"], "errore-consegna");
    let d = &a.api("/api/queue/2")["deliveries"][0];
    assert_eq!(d["state"], "failed", "{d}");
    assert!(
        d["last_result"]
            .as_str()
            .is_some_and(|r| r.contains("not a granted qualified REM service")),
        "{d}"
    );
    assert_eq!(
        good.messages().len(),
        1,
        "a dispatch went to a withdrawn service"
    );
    assert_eq!(
        a.metric("ponte_discovery_total{outcome=\"not-qualified\"}"),
        1.0
    );
    assert_eq!(a.stop(), Some(0), "{}", a.log());
}

#[test]
fn incoming_rem_signers_are_trusted_through_the_lists_without_rem_anchors() {
    if !have("openssl") {
        return;
    }
    let (Some(pec_a), Some(pec_b)) = (SmtpSink::start(&[]), SmtpSink::start(&[])) else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    // Gestore Prova's REM e-seal (rem-rsa) is a granted REM/Q service in B's list.
    let tl_path = w.join("tl-b.xml");
    let prova = |seq: u32, statuses: &[(&str, &str)]| {
        let tl = list_xml(
            "IT",
            seq,
            "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric",
            &[],
            "Gestore Prova S.p.A.",
            &[Svc {
                service_type: REM_Q,
                name: "Prova REM",
                cert: "rem-rsa.pem",
                statuses,
                supply_points: &["smtp:mx.prova.test:25"],
            }],
        );
        std::fs::write(&tl_path, sign(&tl, "tl-signer")).expect("write tl");
    };
    prova(1, &[(GRANTED, "2025-01-01T00:00:00Z")]);
    // B (Altro): no rem_anchors at all, the list instead; routes back to A.
    let mut b = Gateway::new(Provider::Altro, None, "");
    let mut a = Gateway::new(
        Provider::Prova,
        None,
        &format!(
            "[[route]]\ndomain = \"pec.altro.test\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n",
            b.smtp,
            pec_a.relay()
        ),
    );
    let text = std::fs::read_to_string(&b.config).expect("config");
    let root_line = format!("rem_anchors = [\"{}\"]\n", s(&pki("root-ca.pem")));
    assert!(text.contains(&root_line), "{text}");
    let text = text.replacen(
        &root_line,
        &format!(
            "lists = [\"{}\"]\nlist_anchors = [\"{}\"]\ncache_dir = \"{}\"\nrefresh = \"1s\"\n",
            s(&tl_path),
            s(&pki("tl-signer.pem")),
            s(&w.join("tl-cache"))
        ),
        1,
    );
    std::fs::write(
        &b.config,
        format!(
            "{text}[[route]]\ndomain = \"pec.prova.test\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n",
            a.smtp,
            pec_b.relay()
        ),
    )
    .expect("write config");
    let o = common::run_ponte(["config", "check", &s(&b.config)]);
    assert!(
        o.status.success(),
        "a configuration with lists and no rem_anchors: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    a.start();
    b.start();

    // 1. Prova is granted: B carries A's dispatch into PEC and tells A (RelayAcceptance).
    let anna = "anna@pec.altro.test";
    let dispatch = |id: &str| {
        let env = envelope(
            w,
            Provider::Prova,
            &original(MARIO, anna, "Fiducia", id),
            id,
        );
        let raw = std::fs::read(&env).expect("read");
        let r = send(a.smtp, "posta-certificata@pec.prova.test", &[anna], &raw).expect("send");
        assert_eq!(r.code, 250, "{r:?}\n{}", a.log());
    };
    dispatch("trust-1");
    let got = pec_b.wait_messages(1, Duration::from_secs(60));
    assert_eq!(got.len(), 1, "B did not carry the dispatch:\n{}", b.log());
    let f = w.join("b-envelope.eml");
    std::fs::write(&f, &got[0].body).expect("write");
    assert_eq!(verify(&f)["type"], "posta-certificata");
    // The message's history says how the signers were trusted.
    let q = b.api("/api/queue/1").to_string();
    assert!(
        q.contains("trusted as the digital identity") && q.contains("Prova REM"),
        "B does not say how it trusted the signer: {q}"
    );
    assert_eq!(
        pec_a.wait_messages(1, Duration::from_secs(60)).len(),
        1,
        "no presa in carico for A:\n{}",
        a.log()
    );

    // A's first dispatch as sent (for `ponte translate` below).
    let (status, body) = a.get("/api/queue/1/outputs/0");
    assert_eq!(status, 200, "{body}");
    let first = w.join("dispatch-1.eml");
    std::fs::write(&first, body.as_bytes()).expect("write");

    // 2. The service is withdrawn in the next list: B no longer trusts Prova's seal.
    prova(
        2,
        &[
            (GRANTED, "2025-01-01T00:00:00Z"),
            (WITHDRAWN, "2026-01-01T00:00:00Z"),
        ],
    );
    b.wait_for("the refreshed list", Duration::from_secs(30), || {
        b.log().contains("sequence=2")
    });
    dispatch("trust-2");
    // A is told; B's PEC platform is not.
    let notices = pec_a.wait_messages(2, Duration::from_secs(60));
    assert_eq!(notices.len(), 2, "A:\n{}\nB:\n{}", a.log(), b.log());
    let f = w.join("a-notice-2.eml");
    std::fs::write(&f, &notices[1].body).expect("write");
    let v = verify(&f);
    // B refused it before 250 (554, signer not trusted), naming the lists' reason; A told
    // Mario with an errore-consegna that carries it.
    assert_eq!(v["pec"]["daticert"]["tipo"], "errore-consegna", "{v}");
    let esteso = v["pec"]["daticert"]["errore_esteso"]
        .as_str()
        .unwrap_or_default();
    assert!(
        esteso.contains("signer not trusted") && esteso.contains("withdrawn"),
        "{esteso}"
    );
    assert_eq!(
        pec_b.messages().len(),
        1,
        "B carried a dispatch it must not trust"
    );
    assert_eq!(a.stop(), Some(0), "{}", a.log());
    assert_eq!(b.stop(), Some(0), "{}", b.log());

    // `ponte translate` with B's configuration judges by the same lists (the withdrawn
    // service now): A's first dispatch is refused, with the lists' reason.
    let (code, v) = translate_json(&b.config, &first, w);
    assert_ne!(code, 0, "{v}");
    assert!(
        v.to_string().contains("trusted lists: ") && v.to_string().contains("withdrawn"),
        "{v}"
    );
}

/// `ponte translate IN --to pec --config CONFIG --json -o OUT`: exit code and JSON.
fn translate_json(config: &Path, input: &Path, w: &Path) -> (i32, serde_json::Value) {
    let out = w.join("translated.eml");
    let o = common::run_ponte([
        "translate".as_ref(),
        input.as_os_str(),
        "--to".as_ref(),
        "pec".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--json".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    common::code_and_json(&o)
}

/// Evidence about a dispatch delivered to a discovered peer is bound to the service it was
/// delivered to: gateway A finds `pec.altro.test`'s MX in the lists ("Altro REM", Altro's REM
/// e-seal) and delivers there, to gateway B (Altro) on 127.0.0.2 under STARTTLS; B's
/// RelayAcceptance, signed by that e-seal, is accepted. The same dispatch given to gateway C,
/// whose seal (Gestore Prova's) is another granted qualified REM service of the same list
/// and chains to A's `rem_anchors`, makes a RelayAcceptance that A refuses in the SMTP
/// dialogue (554, `evidence-wrong-service`, naming the service delivered to) — after A's
/// queue was moved in between (`ponte spool export`, `ponte spool import` into a new
/// embedded spool, A started again): the record of the service delivered to moves with it.
#[test]
fn evidence_about_a_delivered_dispatch_must_be_signed_by_the_service_it_went_to() {
    if !have("openssl") {
        return;
    }
    let (Some(pec_a), Some(pec_b), Some(pec_c)) = (
        SmtpSink::start(&[]),
        SmtpSink::start(&[]),
        SmtpSink::start(&[]),
    ) else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let Some(dns) = Dns::start(
        &[("pec.altro.test", "mx.altro.test", 10)],
        &[("mx.altro.test", "127.0.0.2")],
    ) else {
        return;
    };
    // Two granted REM/Q services: Altro's (the MX's) and Gestore Prova's.
    let tl_path = w.join("tl-it.xml");
    let granted = [(GRANTED, "2025-01-01T00:00:00Z")];
    let tl = list_xml(
        "IT",
        1,
        "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric",
        &[],
        "Altro Gestore S.p.A.",
        &[
            Svc {
                service_type: REM_Q,
                name: "Altro REM",
                cert: "rem-ec.pem",
                statuses: &granted,
                supply_points: &["smtp:mx.altro.test:25"],
            },
            Svc {
                service_type: REM_Q,
                name: "Prova REM",
                cert: "rem-rsa.pem",
                statuses: &granted,
                supply_points: &["smtp:mx.prova.test:25"],
            },
        ],
    );
    std::fs::write(&tl_path, sign(&tl, "tl-signer")).expect("write tl");

    // B (Altro): its SMTP listener on mx.altro.test's address, STARTTLS with a certificate on
    // its REM e-seal's key; carries dispatches into PEC, answers to A.
    let (cert, key) = tls_cert(w, "b-tls", "mx.altro.test", Some(&pki("rem-ec.key.pem")));
    let mut b = Gateway::new(Provider::Altro, None, "");
    let mut a = gateway_a(w, b.smtp.port(), &pec_a, &dns, &tl_path, "");
    let b_listen: std::net::SocketAddr = format!("127.0.0.2:{}", b.smtp.port())
        .parse()
        .expect("addr");
    let text = std::fs::read_to_string(&b.config).expect("config");
    let text = text.replacen(
        &format!("listen = \"{}\"\n", b.smtp),
        &format!(
            "listen = \"{b_listen}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            s(&cert),
            s(&key)
        ),
        1,
    );
    std::fs::write(
        &b.config,
        format!(
            "{text}[[route]]\ndomain = \"pec.prova.test\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n",
            a.smtp,
            pec_b.relay()
        ),
    )
    .expect("write config");
    b.smtp = b_listen;
    // C: Gestore Prova's seal, a qualified service too, but not the one A delivered to.
    let mut c = Gateway::new(
        Provider::Prova,
        None,
        &format!(
            "[[route]]\ndomain = \"pec.prova.test\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n",
            a.smtp,
            pec_c.relay()
        ),
    );
    a.start();
    b.start();
    c.start();

    // 1. A discovers B and delivers; B's RelayAcceptance (Altro's seal) is accepted: Mario
    //    gets the presa in carico.
    let anna = "anna@pec.altro.test";
    submit(&a, w, anna, "bound-1");
    assert_eq!(
        pec_b.wait_messages(1, Duration::from_secs(60)).len(),
        1,
        "B did not carry the dispatch:\nA:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
    let notices = pec_a.wait_messages(1, Duration::from_secs(60));
    assert_eq!(notices.len(), 1, "A:\n{}\nB:\n{}", a.log(), b.log());
    let f = w.join("presa.eml");
    std::fs::write(&f, &notices[0].body).expect("write");
    assert_eq!(
        verify(&f)["type"],
        "presa-in-carico",
        "{}\n{}",
        a.api("/api/queue/2"),
        b.api("/api/queue/1")
    );
    let d = &a.api("/api/queue/1")["deliveries"][0];
    assert_eq!(d["state"], "delivered", "{d}");

    // A's queue moves: stopped, exported, imported into a new embedded spool, started
    // again. The service the dispatch went to moves with it.
    assert_eq!(a.stop(), Some(0), "{}", a.log());
    let export = w.join("a-spool.jsonl");
    let spool_cmd = |verb: &str, last: &Path, out: bool| {
        let mut args = vec![
            "spool".to_string(),
            verb.to_string(),
            "--config".to_string(),
            s(&a.config),
        ];
        if out {
            args.push("-o".into());
        }
        args.push(s(last));
        let o = common::run_ponte(&args);
        assert!(
            o.status.success(),
            "spool {verb}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    spool_cmd("export", &export, true);
    let text = std::fs::read_to_string(&export).expect("export");
    assert!(
        text.contains("\"services\":[{") && text.contains("Altro REM"),
        "the export does not carry the delivered service"
    );
    std::fs::rename(a.dir.join("spool"), w.join("a-spool-before")).expect("move the spool");
    spool_cmd("import", &export, false);
    a.start();

    // 2. The same dispatch, given to C: C's RelayAcceptance about it is refused by A.
    let (status, dispatch) = a.get("/api/queue/1/outputs/0");
    assert_eq!(status, 200, "{dispatch}");
    let from = d["mail_from"].as_str().unwrap_or_default().to_owned();
    let r = send(c.smtp, &from, &[anna], dispatch.as_bytes()).expect("send to C");
    assert_eq!(r.code, 250, "{r:?}\n{}", c.log());
    c.wait_for(
        "C's RelayAcceptance to be refused by A",
        Duration::from_secs(60),
        || {
            c.api("/api/queue/1")["deliveries"]
                .as_array()
                .is_some_and(|ds| {
                    ds.iter().any(|d| {
                        d["kind"].as_str().is_some_and(|k| k.starts_with("rem-"))
                            && d["state"] == "failed"
                    })
                })
        },
    );
    let q = c.api("/api/queue/1").to_string();
    assert!(
        q.contains("554")
            && q.contains("evidence not signed by the service the message was delivered to")
            && q.contains("Altro REM"),
        "{q}"
    );
    // A's legal log names the refusal's kind.
    let legal = std::fs::read_to_string(a.dir.join("spool/legal.jsonl")).expect("legal log");
    assert!(legal.contains("554 evidence-wrong-service"), "{legal}");
    // Mario got nothing more.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pec_a.messages().len(), 1, "a forged receipt reached Mario");
    assert_eq!(a.stop(), Some(0), "{}", a.log());
    assert_eq!(b.stop(), Some(0), "{}", b.log());
    assert_eq!(c.stop(), Some(0), "{}", c.log());
}

/// A domain without an MX record is its own mail exchanger (RFC 5321 §5.1, implicit MX: its
/// A/AAAA), still judged by the lists: `implicit.test` (an address, no MX) is an `smtp:`
/// supply point of Altro's granted REM/Q service and gets the dispatch under STARTTLS;
/// `bare.test` (an address, no MX) is in no list and is refused (`not-a-supply-point`).
#[test]
fn a_domain_without_mx_is_its_own_mx_and_still_a_supply_point_of_the_lists() {
    if !have("openssl") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let key = pki("rem-ec.key.pem");
    let Some(good) = tls_peer(w, "good", "implicit.test", Some(&key), "127.0.0.2:0") else {
        return;
    };
    let Some(pec) = SmtpSink::start(&[]) else {
        return;
    };
    let Some(dns) = Dns::start(
        &[("other.test", "mx.other.test", 10)],
        &[("implicit.test", "127.0.0.2"), ("bare.test", "127.0.0.3")],
    ) else {
        return;
    };
    let tl_path = w.join("tl-it.xml");
    write_tl(
        &tl_path,
        1,
        &[(GRANTED, "2025-01-01T00:00:00Z")],
        &["smtp:implicit.test:25"],
    );
    // `ponte trust show` says the same.
    let o = common::run_ponte([
        "trust",
        "show",
        "implicit.test",
        "--list",
        &s(&tl_path),
        "--anchor",
        &s(&pki("tl-signer.pem")),
        "--dns",
        &dns.addr,
        "--json",
    ]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("\"implicit_mx\":true") && text.contains("\"peer\":\"implicit.test\""),
        "{text}"
    );
    let mut a = gateway_a(w, good.addr.port(), &pec, &dns, &tl_path, "");
    a.start();
    submit(&a, w, "anna@implicit.test", "implicit-1");
    submit(&a, w, "carla@bare.test", "implicit-2");
    let got = good.wait_messages(1, Duration::from_secs(60));
    assert_eq!(got.len(), 1, "{}", a.log());
    assert!(got[0].tls);
    assert_eq!(got[0].rcpt_tos, vec!["anna@implicit.test".to_string()]);
    assert_eq!(pec.wait_messages(1, Duration::from_secs(60)).len(), 1);
    let d1 = &a.api("/api/queue/1")["deliveries"][0];
    assert_eq!(d1["state"], "delivered", "{d1}");
    assert!(
        d1["last_result"]
            .as_str()
            .is_some_and(|r| r.starts_with("implicit.test[127.0.0.2")),
        "{d1}"
    );
    let d2 = &a.api("/api/queue/2")["deliveries"][0];
    assert_eq!(d2["state"], "failed", "{d2}");
    assert!(
        d2["last_result"]
            .as_str()
            .is_some_and(|r| r.contains("R_ERDS_NotIdentified") && r.contains("bare.test")),
        "{d2}"
    );
    assert_eq!(
        a.metric("ponte_discovery_total{outcome=\"not-a-supply-point\"}"),
        1.0
    );
    assert_eq!(a.stop(), Some(0), "{}", a.log());
}

/// The time-stamping unit of an incoming evidence is judged against the lists' `TSA/QTST`
/// services at the token's genTime, and the verdict says so (a note, not a refusal): a
/// dispatch time-stamped by the development TSA translates with "NOT a granted qualified
/// time-stamping unit" while the lists do not name it, and with "a granted qualified
/// time-stamping unit" once a list grants it as a QTST service.
#[test]
fn evidence_time_stamps_are_judged_against_the_lists_qtst_services() {
    let w = common::World::new();
    let dispatch = w.path("dispatch.rem.eml");
    let (code, v) = w.translate(
        &common::corpus_file("pec/real/namirial-busta-trasporto-2024.crlf.eml"),
        "rem",
        &dispatch,
        &["--at", "signing-time"],
    );
    assert_eq!(code, 0, "{v}");
    let tsa_cert = w.tsa.cert().display().to_string();
    let tl_path = w.path("tl-it.xml");
    let granted = [(GRANTED, "2025-01-01T00:00:00Z")];
    let write = |with_tsa: bool| {
        let mut services = vec![Svc {
            service_type: REM_Q,
            name: "Prova REM",
            cert: "rem-rsa.pem",
            statuses: &granted,
            supply_points: &["smtp:mx.prova.test:25"],
        }];
        if with_tsa {
            services.push(Svc {
                service_type: QTST,
                name: "Prova QTSA",
                cert: &tsa_cert,
                statuses: &granted,
                supply_points: &[],
            });
        }
        let tl = list_xml(
            "IT",
            if with_tsa { 2 } else { 1 },
            "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric",
            &[],
            "Gestore Prova S.p.A.",
            &services,
        );
        std::fs::write(&tl_path, sign(&tl, "tl-signer")).expect("write tl");
    };
    // The lists (a cache of each run's own: the CLI answers from a young cached copy).
    let original = std::fs::read_to_string(&w.config).expect("config");
    let configure = |cache: &str| {
        let text = original.replacen(
            "[trust]\n",
            &format!(
                "[trust]\nlists = [\"{}\"]\nlist_anchors = [\"{}\"]\ncache_dir = \"{}\"\n",
                s(&tl_path),
                s(&pki("tl-signer.pem")),
                s(&w.path(cache))
            ),
            1,
        );
        std::fs::write(&w.config, text).expect("write config");
    };
    let notes = |v: &serde_json::Value| v["notes"].to_string();
    write(false);
    configure("cache-1");
    let (code, v) = translate_json(&w.config, &dispatch, w.dir.path());
    assert_eq!(code, 0, "{v}");
    assert!(
        notes(&v).contains("NOT a granted qualified time-stamping unit (TSA/QTST)"),
        "{v}"
    );
    // The same verdict as a field: `timestamps`, one per evidence time-stamp judged.
    assert_eq!(v["timestamps"][0]["qualified_tsu"], false, "{v}");
    assert!(v["timestamps"][0]["trusted_list"]["service_name"].is_null());
    write(true);
    configure("cache-2");
    let (code, v) = translate_json(&w.config, &dispatch, w.dir.path());
    assert_eq!(code, 0, "{v}");
    let n = notes(&v);
    assert!(
        n.contains("a granted qualified time-stamping unit (TSA/QTST) of \\\"Prova QTSA\\\"")
            && !n.contains("NOT a granted"),
        "{v}"
    );
    let t = &v["timestamps"][0];
    assert_eq!(t["qualified_tsu"], true, "{v}");
    assert_eq!(t["trusted_list"]["service_name"], "Prova QTSA", "{v}");
    assert_eq!(t["trusted_list"]["service_type"], QTST, "{v}");
    assert!(
        t["evidence"].as_str().is_some_and(|e| e.ends_with(".xml")),
        "{v}"
    );
}

/// `SIGHUP` reads the trusted-list keys of `[trust]` again and loads the lists at once:
/// gateway A starts with a list in which `mx.altro.test` is no supply point, and refuses
/// altro.test (`not-a-supply-point`). A configuration whose only list cannot be loaded (an
/// unreachable URL, nothing cached) is refused whole: the running list stays. Then the
/// configuration names a second list, where `mx.altro.test` is a supply point of Altro's
/// granted REM/Q service: after `SIGHUP` the next dispatch is delivered there (the log says
/// the list was reloaded, `ponte_trusted_list_loads_total{trigger="reload"}` counts it and the
/// age gauge names the new list). Last, the lists are removed: MX delivery no longer follows
/// lists (the next dispatch is not refused as unidentified; it waits on the TLS check of the
/// system's roots) and the age gauge is gone.
#[test]
fn sighup_reloads_the_trusted_lists() {
    if !have("openssl") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let key = pki("rem-ec.key.pem");
    let Some(good) = tls_peer(w, "good", "mx.altro.test", Some(&key), "127.0.0.2:0") else {
        return;
    };
    let Some(pec) = SmtpSink::start(&[]) else {
        return;
    };
    let Some(dns) = Dns::start(
        &[("altro.test", "mx.altro.test", 10)],
        &[("mx.altro.test", "127.0.0.2")],
    ) else {
        return;
    };
    let granted = [(GRANTED, "2025-01-01T00:00:00Z")];
    let tl1 = w.join("tl-1.xml");
    write_tl(&tl1, 1, &granted, &["smtp:mx.other.test:25"]);
    let tl2 = w.join("tl-2.xml");
    write_tl(&tl2, 1, &granted, &["smtp:mx.altro.test:25"]);
    let mut a = gateway_a(w, good.addr.port(), &pec, &dns, &tl1, "");
    let config = std::fs::read_to_string(&a.config).expect("config");
    let lists_line = format!("lists = [\"{}\"]\n", s(&tl1));
    assert!(config.contains(&lists_line), "{config}");
    let config_path = a.config.clone();
    let reconfigure = |lists: &str| {
        std::fs::write(&config_path, config.replacen(&lists_line, lists, 1)).expect("write config");
    };
    a.start();
    let reloads = |a: &Gateway, what: &str| a.log().matches(what).count();
    let age_lists = |a: &Gateway| -> Vec<String> {
        let (_, text) = a.get("/metrics");
        text.lines()
            .filter(|l| l.starts_with("ponte_trusted_list_age_seconds{"))
            .map(str::to_owned)
            .collect()
    };

    // 1. The first list does not name altro.test's MX: refused.
    submit(&a, w, ANNA, "hup-1");
    let notices = pec.wait_messages(1, Duration::from_secs(60));
    assert_eq!(notices.len(), 1, "{}", a.log());
    a.wait_for(
        "the refusal to be recorded",
        Duration::from_secs(30),
        || a.api("/api/queue/1")["deliveries"][0]["state"] == "failed",
    );
    let d1 = &a.api("/api/queue/1")["deliveries"][0];
    assert!(
        d1["last_result"]
            .as_str()
            .is_some_and(|r| r.contains("R_ERDS_NotIdentified") && r.contains("mx.altro.test")),
        "{d1}"
    );
    assert_eq!(
        a.metric("ponte_discovery_total{outcome=\"not-a-supply-point\"}"),
        1.0
    );
    assert_eq!(
        a.metric("ponte_trusted_list_loads_total{trigger=\"start\"}"),
        1.0
    );

    // 2. A list that cannot be loaded at all: the reload is refused, the first list stays.
    let port = common::gateway::free_port();
    reconfigure(&format!("lists = [\"http://127.0.0.1:{port}/tl.xml\"]\n"));
    a.signal("HUP");
    a.wait_for("the refused reload", Duration::from_secs(30), || {
        reloads(&a, "reload refused") == 1
    });
    assert!(
        a.log().contains("no trusted list could be loaded"),
        "{}",
        a.log()
    );
    let ages = age_lists(&a);
    assert!(ages.len() == 1 && ages[0].contains(&s(&tl1)), "{ages:?}");

    // 3. The second list: after SIGHUP the next dispatch goes to Altro's MX.
    reconfigure(&format!("lists = [\"{}\"]\n", s(&tl2)));
    a.signal("HUP");
    a.wait_for("the reload", Duration::from_secs(30), || {
        reloads(&a, "configuration reloaded") == 1
    });
    let log = a.log();
    assert!(
        log.contains("trusted list reloaded") && log.contains("trusted lists (1 loaded)"),
        "{log}"
    );
    assert_eq!(
        a.metric("ponte_trusted_list_loads_total{trigger=\"reload\"}"),
        1.0
    );
    let ages = age_lists(&a);
    assert!(ages.len() == 1 && ages[0].contains(&s(&tl2)), "{ages:?}");
    submit(&a, w, BRUNO_ALTRO, "hup-2");
    let got = good.wait_messages(1, Duration::from_secs(60));
    assert_eq!(got.len(), 1, "{}", a.log());
    assert!(got[0].tls);
    assert_eq!(got[0].rcpt_tos, vec![BRUNO_ALTRO.to_string()]);
    a.wait_for(
        "the delivery to be recorded",
        Duration::from_secs(30),
        || a.api("/api/queue/2")["deliveries"][0]["state"] == "delivered",
    );
    let d2 = &a.api("/api/queue/2")["deliveries"][0];
    assert!(
        d2["last_result"]
            .as_str()
            .is_some_and(|r| r.contains("Altro REM")),
        "{d2}"
    );
    assert_eq!(
        a.metric("ponte_discovery_total{outcome=\"peer-found\"}"),
        1.0
    );

    // 4. No lists any more: MX delivery no longer follows them. The peer's certificate is
    //    self-signed, so the system's roots do not verify it: the dispatch waits (it is not
    //    refused as unidentified), and nothing more reaches the peer.
    reconfigure("");
    a.signal("HUP");
    a.wait_for("the second reload", Duration::from_secs(30), || {
        reloads(&a, "configuration reloaded") == 2
    });
    assert!(a.log().contains("none configured now"), "{}", a.log());
    assert!(age_lists(&a).is_empty(), "{:?}", age_lists(&a));
    submit(&a, w, "carla@altro.test", "hup-3");
    a.wait_for("the dispatch to wait", Duration::from_secs(30), || {
        let d = &a.api("/api/queue/3")["deliveries"][0];
        d["state"] == "queued" && d["attempts"].as_u64().is_some_and(|n| n >= 1)
    });
    let d3 = &a.api("/api/queue/3")["deliveries"][0];
    assert!(
        d3["last_result"]
            .as_str()
            .is_some_and(|r| !r.is_empty() && !r.contains("R_ERDS_NotIdentified")),
        "{d3}"
    );
    assert_eq!(good.messages().len(), 1, "{}", a.log());
    assert_eq!(
        a.metric("ponte_discovery_total{outcome=\"peer-found\"}"),
        1.0
    );
    assert_eq!(a.stop(), Some(0), "{}", a.log());
}

/// Before relaying to a discovered peer, gateway A reads its service's capability document
/// (CSI, EN 319 532-4 C.2.3.4) from the service's `http://` supply point (a Rust test HTTP
/// server here) and records what it said in the delivery's history and in
/// `ponte_capabilities_total{outcome}`. Four granted REM/Q services of one list, each with
/// Altro's REM e-seal as identity and its own MX host (its own aiosmtpd under STARTTLS):
///
/// - "Altro REM": its CSI is signed by that e-seal, fresh, REM baseline, `ERDSDomain` its MX
///   host: verified, delivered, the history says so;
/// - "Terzo REM": its CSI is signed by another identity (Gestore Prova's REM seal): recorded as
///   NOT verified, and delivered (an unverified document proves nothing: the lists decide);
/// - "Quinto REM": its CSI URL does not answer: recorded as not fetched, delivered;
/// - "Quarto REM": its CSI is verified but does not name the REM baseline profile: not relayed
///   to (nothing reaches its MX), the delivery fails (`csi-not-baseline`) and Mario gets the
///   errore-consegna with the RelayFailure evidence.
#[test]
fn capability_documents_are_read_before_relaying_and_a_verified_non_baseline_one_refuses() {
    if !have("openssl") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let baseline = "http://uri.etsi.org/19532/v1#/REMbaseline";
    // The documents, served over HTTP.
    let altro_csi = common::tl::sign(
        &csi_xml(
            "mx.altro.test",
            "Altro Gestore S.p.A.",
            "rem-ec.pem",
            baseline,
        ),
        "rem-ec",
    );
    let terzo_csi = common::tl::sign(
        &csi_xml(
            "mx.terzo.test",
            "Altro Gestore S.p.A.",
            "rem-ec.pem",
            baseline,
        ),
        "rem-rsa",
    );
    let quarto_csi = common::tl::sign(
        &csi_xml(
            "mx.quarto.test",
            "Altro Gestore S.p.A.",
            "rem-ec.pem",
            "http://example.test/another-profile",
        ),
        "rem-ec",
    );
    let base = common::serve_http(
        vec![
            ("/altro.xml".to_owned(), altro_csi),
            ("/terzo.xml".to_owned(), terzo_csi),
            ("/quarto.xml".to_owned(), quarto_csi),
        ],
        "application/xml",
    );
    let silent = format!(
        "http://127.0.0.1:{}/quinto.xml",
        common::gateway::free_port()
    );
    // The peers: one aiosmtpd per MX host, each under STARTTLS on the e-seal's key.
    let mut sinks = Vec::new();
    let mut port = 0;
    for (i, host) in [
        "mx.altro.test",
        "mx.terzo.test",
        "mx.quarto.test",
        "mx.quinto.test",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("peer{i}");
        let listen = format!("127.0.0.{}:{port}", i + 2);
        let key = pki("rem-ec.key.pem");
        let Some(sink) = tls_peer(w, &name, host, Some(&key), &listen) else {
            return;
        };
        port = sink.addr.port();
        sinks.push(sink);
    }
    let Some(pec) = SmtpSink::start(&[]) else {
        return;
    };
    let Some(dns) = Dns::start(
        &[
            ("altro.test", "mx.altro.test", 10),
            ("terzo.test", "mx.terzo.test", 10),
            ("quarto.test", "mx.quarto.test", 10),
            ("quinto.test", "mx.quinto.test", 10),
        ],
        &[
            ("mx.altro.test", "127.0.0.2"),
            ("mx.terzo.test", "127.0.0.3"),
            ("mx.quarto.test", "127.0.0.4"),
            ("mx.quinto.test", "127.0.0.5"),
        ],
    ) else {
        return;
    };
    let granted = [(GRANTED, "2025-01-01T00:00:00Z")];
    let (altro_url, terzo_url, quarto_url) = (
        format!("{base}/altro.xml"),
        format!("{base}/terzo.xml"),
        format!("{base}/quarto.xml"),
    );
    let points = [
        ["smtp:mx.altro.test:25", altro_url.as_str()],
        ["smtp:mx.terzo.test:25", terzo_url.as_str()],
        ["smtp:mx.quarto.test:25", quarto_url.as_str()],
        ["smtp:mx.quinto.test:25", silent.as_str()],
    ];
    let names = ["Altro REM", "Terzo REM", "Quarto REM", "Quinto REM"];
    let services: Vec<Svc<'_>> = names
        .iter()
        .zip(points.iter())
        .map(|(name, p)| Svc {
            service_type: REM_Q,
            name,
            cert: "rem-ec.pem",
            statuses: &granted,
            supply_points: p,
        })
        .collect();
    let tl = list_xml(
        "IT",
        1,
        "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric",
        &[],
        "Altro Gestore S.p.A.",
        &services,
    );
    let tl_path = w.join("tl-it.xml");
    std::fs::write(&tl_path, sign(&tl, "tl-signer")).expect("write tl");
    let mut a = gateway_a(w, port, &pec, &dns, &tl_path, "");
    a.start();
    for (i, to) in [
        "anna@altro.test",
        "bruno@terzo.test",
        "carla@quarto.test",
        "dario@quinto.test",
    ]
    .iter()
    .enumerate()
    {
        submit(&a, w, to, &format!("csi-{}", i + 1));
    }

    // Altro, Terzo and Quinto got their dispatch; Quarto nothing; Mario one errore-consegna.
    for (i, sink) in sinks.iter().enumerate() {
        if i == 2 {
            continue;
        }
        let got = sink.wait_messages(1, Duration::from_secs(60));
        assert_eq!(got.len(), 1, "peer {i}:\n{}", a.log());
        assert!(got[0].tls);
    }
    let notices = pec.wait_messages(1, Duration::from_secs(60));
    assert_eq!(notices.len(), 1, "{}", a.log());
    let f = w.join("notice.eml");
    std::fs::write(&f, &notices[0].body).expect("write");
    let v = verify(&f);
    assert_eq!(v["type"], "errore-consegna", "{v}");
    assert!(v.to_string().contains("carla@quarto.test"), "{v}");
    let content = openssl_verify(&f, &pki("root-ca.pem"));
    assert!(
        relay_failure_part(&content).is_some(),
        "no RelayFailure evidence in the errore-consegna"
    );
    assert!(sinks[2].messages().is_empty(), "Quarto got a dispatch");

    // What each document said, in the history.
    let delivered = |n: u32| {
        a.wait_for(
            &format!("delivery {n} recorded"),
            Duration::from_secs(30),
            || {
                let st = &a.api(&format!("/api/queue/{n}"))["deliveries"][0]["state"];
                st == "delivered" || st == "failed"
            },
        );
        a.api(&format!("/api/queue/{n}"))
    };
    let history = |q: &serde_json::Value| q["message"]["history"].to_string();
    let q1 = delivered(1);
    assert_eq!(q1["deliveries"][0]["state"], "delivered", "{q1}");
    let h1 = history(&q1);
    assert!(
        h1.contains(&format!("capabilities (CSI) {altro_url}: verified"))
            && h1.contains("REM baseline supported")
            && h1.contains("ERDSDomain mx.altro.test is the MX host"),
        "{h1}"
    );
    let q2 = delivered(2);
    assert_eq!(q2["deliveries"][0]["state"], "delivered", "{q2}");
    let h2 = history(&q2);
    assert!(
        h2.contains(&format!("capabilities (CSI) {terzo_url}: NOT verified"))
            && h2.contains("not the service's digital identity")
            && h2.contains("relayed by the lists alone"),
        "{h2}"
    );
    let q3 = delivered(3);
    assert_eq!(q3["deliveries"][0]["state"], "failed", "{q3}");
    let r3 = q3["deliveries"][0]["last_result"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        r3.contains("R_ERDS_NotIdentified")
            && r3.contains("does not support the REM baseline")
            && r3.contains("ERDSProfileSupported lacks"),
        "{r3}"
    );
    assert!(
        history(&q3).contains("does not support the REM baseline"),
        "{q3}"
    );
    let q4 = delivered(4);
    assert_eq!(q4["deliveries"][0]["state"], "delivered", "{q4}");
    let h4 = history(&q4);
    assert!(
        h4.contains(&format!("capabilities (CSI) {silent}: not fetched")),
        "{h4}"
    );

    // Counted once each.
    let m = |o: &str| a.metric(&format!("ponte_capabilities_total{{outcome=\"{o}\"}}"));
    assert_eq!(m("verified"), 1.0);
    assert_eq!(m("not-verified"), 1.0);
    assert_eq!(m("unavailable"), 1.0);
    assert_eq!(m("not-baseline"), 1.0);
    assert_eq!(
        a.metric("ponte_discovery_total{outcome=\"csi-not-baseline\"}"),
        1.0
    );
    assert_eq!(a.stop(), Some(0), "{}", a.log());
}
