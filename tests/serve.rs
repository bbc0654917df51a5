//! End-to-end tests of `ponte serve`: gateways in their own processes, SMTP peers in others
//! (Debian's aiosmtpd through tests/peers/smtp_sink.py), `openssl` and `xmlsec1` as judges.
//!
//! The PEC ⇄ REM round trip runs between two gateways: "Gestore Prova" (A) carries a PEC
//! envelope for a recipient of "Altro Gestore" (B) as a REM dispatch; B, as the recipient's
//! REM access point, makes it a PEC envelope for its PEC platform and sends A a RelayAcceptance;
//! the recipient's provider's avvenuta-consegna for B's envelope goes back to A as a
//! ContentConsignment, and A's PEC platform gets the presa in carico and the consegna.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::gateway::{Gateway, Provider, envelope, original, send, verify};
use common::mail::{header, openssl_verify, section};
use common::{DevTsa, SmtpSink, have, pki, run_ponte};

const ANNA: &str = "anna@pec.altro.test";
const MARIO: &str = "mario@pec.prova.test";

fn kinds(sink: &SmtpSink, dir: &Path) -> Vec<String> {
    sink.messages()
        .iter()
        .map(|m| {
            let f = dir.join(format!("sink-{}-{}.eml", sink.addr.port(), m.n));
            std::fs::write(&f, &m.body).expect("write");
            verify(&f)["type"].as_str().unwrap_or("?").to_string()
        })
        .collect()
}

#[test]
fn pec_and_rem_flows_end_to_end_between_two_gateways() {
    if !have("openssl") || !have("xmlsec1") {
        return;
    }
    let (Some(pec_a), Some(pec_b)) = (SmtpSink::start(&[]), SmtpSink::start(&[])) else {
        return;
    };
    let tsa = DevTsa::start();
    let mut b = Gateway::new(Provider::Altro, Some(&tsa), "");
    let mut a = Gateway::new(
        Provider::Prova,
        Some(&tsa),
        &format!(
            "[[route]]\ndomain = \"pec.altro.test\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n",
            b.smtp,
            pec_a.relay()
        ),
    );
    // B routes back to A, and has its own PEC platform.
    let mut text = std::fs::read_to_string(&b.config).expect("read");
    text.push_str(&format!(
        "[[route]]\ndomain = \"pec.prova.test\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n",
        a.smtp,
        pec_b.relay()
    ));
    std::fs::write(&b.config, text).expect("write");
    a.start();
    b.start();
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();

    // 1. A PEC envelope for a recipient of B: 250 from A.
    let env = envelope(
        w,
        Provider::Prova,
        &original(MARIO, ANNA, "Prova REM", "e2e-1"),
        "e2e-1",
    );
    let raw = std::fs::read(&env).expect("read");
    let r = send(a.smtp, "posta-certificata@pec.prova.test", &[ANNA], &raw).expect("send");
    assert_eq!(r.code, 250, "{r:?}\n{}", a.log());

    // 2. B's PEC platform gets the PEC envelope it made from A's REM dispatch.
    let got = pec_b.wait_messages(1, Duration::from_secs(60));
    let b_env = w.join("b-envelope.eml");
    std::fs::write(&b_env, &got[0].body).expect("write");
    let v = verify(&b_env);
    assert_eq!(v["type"], "posta-certificata", "{v}");
    assert_eq!(v["signature"]["valid"], true, "{v}");
    assert_eq!(v["signature"]["chain_trusted"], true, "{v}");
    assert_eq!(got[0].rcpt_tos, vec![ANNA.to_string()]);
    assert_eq!(got[0].mail_from, "posta-certificata@pec.altro.test");

    // The REM dispatch A sent (kept in A's spool as its first output): openssl accepts the
    // S/MIME seal, xmlsec1 the evidence, which is time-stamped (B-T).
    let dispatch = stored(&a, "/api/queue/1/outputs/0", &w.join("dispatch.eml"));
    let content = openssl_verify(&dispatch, &pki("root-ca.pem"));
    let raw_dispatch = std::fs::read(&dispatch).expect("dispatch");
    assert_eq!(
        header(&raw_dispatch, "REM-MessageType"),
        vec!["http://uri.etsi.org/19522/v1#/ERDMessageType/dispatch".to_string()]
    );
    let ev = section(&content, "rem_message/xml_evidence").expect("evidence section");
    let ev_path = w.join("dispatch-evidence.xml");
    std::fs::write(&ev_path, &ev).expect("write");
    assert!(
        common::xmlsec1_verifies(&ev_path),
        "xmlsec1 on the dispatch evidence"
    );
    assert!(String::from_utf8_lossy(&ev).contains("SignatureTimeStamp"));

    // 3. B sent A a RelayAcceptance; A's PEC platform gets the presa in carico.
    let got = pec_a.wait_messages(1, Duration::from_secs(60));
    assert_eq!(kinds(&pec_a, w), vec!["presa-in-carico"]);
    assert_eq!(got[0].rcpt_tos, vec![MARIO.to_string()]);
    // The 12 h warning stopped for Anna, the 24 h notice still waits.
    let q = a.api("/api/queue/1");
    let timers: Vec<String> = q["timers"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|x| x["timer"]["kind"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(timers, vec!["final"], "{q}");

    // 4. Anna's provider delivers and says so to B (avvenuta-consegna about B's envelope);
    //    B makes it a ContentConsignment for A, A a PEC avvenuta-consegna for Mario.
    let receipt = w.join("consegna.eml");
    let (key, cert) = Provider::Altro.pec();
    let o = run_ponte([
        "pec".as_ref(),
        "receipt".as_ref(),
        "--type".as_ref(),
        "avvenuta-consegna".as_ref(),
        "--for".as_ref(),
        b_env.as_os_str(),
        "--key".as_ref(),
        pki(key).as_os_str(),
        "--cert".as_ref(),
        pki(cert).as_os_str(),
        "--chain".as_ref(),
        pki("provider-ca.pem").as_os_str(),
        "--provider".as_ref(),
        Provider::Altro.name().as_ref(),
        "--recipient".as_ref(),
        ANNA.as_ref(),
        "-o".as_ref(),
        receipt.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let raw = std::fs::read(&receipt).expect("read");
    let r = send(b.smtp, "posta-certificata@pec.altro.test", &[MARIO], &raw).expect("send");
    assert_eq!(r.code, 250, "{r:?}\n{}", b.log());
    pec_a.wait_messages(2, Duration::from_secs(60));
    assert_eq!(
        kinds(&pec_a, w),
        vec!["presa-in-carico", "avvenuta-consegna"]
    );
    // Every timer of the dispatch stopped; B's message is delivered.
    a.wait_for("the timers to stop", Duration::from_secs(10), || {
        a.api("/api/queue/1")["timers"]
            .as_array()
            .is_some_and(|t| t.is_empty())
    });
    // The ContentConsignment B made verifies with openssl (it is B's second message's output).
    let cc = stored(
        &b,
        "/api/queue/2/outputs/0",
        &w.join("content-consignment.eml"),
    );
    let cc_raw = std::fs::read(&cc).expect("content consignment");
    assert_eq!(
        header(&cc_raw, "REM-EventIdentifier"),
        vec!["http://uri.etsi.org/19522/Event/ContentConsignment".to_string()]
    );
    let content = openssl_verify(&cc, &pki("root-ca.pem"));
    let ev = section(&content, "rem_message/xml_evidence").expect("evidence");
    let ev_path = w.join("cc-evidence.xml");
    std::fs::write(&ev_path, &ev).expect("write");
    assert!(
        common::xmlsec1_verifies(&ev_path),
        "xmlsec1 on ContentConsignment"
    );
    // The legal log has the whole story, one JSON line per event, no content.
    let legal = std::fs::read_to_string(a.dir.join("spool/legal.jsonl")).expect("legal log");
    for e in [
        "\"received\"",
        "\"translated\"",
        "\"queued\"",
        "\"delivered\"",
    ] {
        assert!(legal.contains(e), "{e} not in the legal log:\n{legal}");
    }
    assert!(
        !legal.contains("Corpo del messaggio"),
        "content in the legal log"
    );
    assert_eq!(a.stop(), Some(0), "{}", a.log());
    assert_eq!(b.stop(), Some(0), "{}", b.log());
}

/// A gateway of Gestore Prova whose REM mail goes to `rem` and PEC mail to `pec`.
fn prova(tsa: Option<&DevTsa>, rem: &SmtpSink, pec: &SmtpSink, extra: &str) -> Gateway {
    Gateway::new(
        Provider::Prova,
        tsa,
        &format!(
            "[[route]]\ndomain = \"*\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n{extra}",
            rem.relay(),
            pec.relay()
        ),
    )
}

fn submit_envelope(g: &Gateway, dir: &Path, id: &str) -> std::io::Result<common::gateway::Sent> {
    let env = envelope(
        dir,
        Provider::Prova,
        &original(MARIO, ANNA, "Prova", id),
        id,
    );
    let raw = std::fs::read(&env).expect("read");
    send(g.smtp, "posta-certificata@pec.prova.test", &[ANNA], &raw)
}

#[test]
fn timers_send_the_preavviso_and_the_final_notice() {
    let (Some(rem), Some(pec)) = (SmtpSink::start(&[]), SmtpSink::start(&[])) else {
        return;
    };
    let mut g = prova(
        None,
        &rem,
        &pec,
        "[timers]\nwarning = \"2s\"\nfinal = \"4s\"\n",
    );
    g.start();
    let w = tempfile::tempdir().expect("tempdir");
    let r = submit_envelope(&g, w.path(), "timer-1").expect("send");
    assert_eq!(r.code, 250, "{r:?}");
    assert_eq!(rem.wait_messages(1, Duration::from_secs(30)).len(), 1);
    // No evidence comes back: at 2 s the preavviso, at 4 s the final notice (5.4.1).
    let got = pec.wait_messages(2, Duration::from_secs(30));
    assert_eq!(got.len(), 2, "{}", g.log());
    let mut finals = Vec::new();
    for (i, m) in got.iter().enumerate() {
        let f = w.path().join(format!("notice-{i}.eml"));
        std::fs::write(&f, &m.body).expect("write");
        let v = verify(&f);
        assert_eq!(v["type"], "preavviso-errore-consegna", "{v}");
        assert_eq!(v["signature"]["chain_trusted"], true, "{v}");
        assert_eq!(m.rcpt_tos, vec![MARIO.to_string()]);
        finals.push(v["final"].as_bool().unwrap_or(false));
    }
    assert_eq!(finals, vec![false, true]);
    // They survive a restart: nothing fires twice.
    g.stop();
    g.start();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(pec.messages().len(), 2);
    assert!(g.metric("ponte_notices_total{kind=\"warning\"}") >= 0.0);
}

#[test]
fn timers_survive_a_restart_before_they_fire() {
    let (Some(rem), Some(pec)) = (SmtpSink::start(&[]), SmtpSink::start(&[])) else {
        return;
    };
    let mut g = prova(
        None,
        &rem,
        &pec,
        "[timers]\nwarning = \"3s\"\nfinal = \"60s\"\n",
    );
    g.start();
    let w = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        submit_envelope(&g, w.path(), "timer-2").expect("send").code,
        250
    );
    rem.wait_messages(1, Duration::from_secs(30));
    g.kill9();
    std::thread::sleep(Duration::from_secs(1));
    g.start();
    let got = pec.wait_messages(1, Duration::from_secs(30));
    assert_eq!(
        got.len(),
        1,
        "the warning fired after the restart\n{}",
        g.log()
    );
}

#[test]
fn a_peer_down_then_up_gets_everything_and_the_queue_rises_and_falls() {
    let w = tempfile::tempdir().expect("tempdir");
    let refuse = w.path().join("refuse");
    std::fs::write(&refuse, b"down").expect("write");
    let refuse_arg = refuse.display().to_string();
    let (Some(rem), Some(pec)) = (
        SmtpSink::start(&["--refuse-file", &refuse_arg]),
        SmtpSink::start(&[]),
    ) else {
        return;
    };
    let mut g = prova(None, &rem, &pec, "");
    g.start();
    for i in 0..5 {
        let r = submit_envelope(&g, w.path(), &format!("down-{i}")).expect("send");
        assert_eq!(r.code, 250, "{r:?}");
    }
    g.wait_for(
        "the deliveries to be deferred",
        Duration::from_secs(20),
        || g.metric("ponte_deliveries_total{destination=\"rem\",outcome=\"deferred\"}") >= 5.0,
    );
    assert_eq!(g.metric("ponte_queue_depth"), 5.0);
    assert!(rem.messages().is_empty());
    std::fs::remove_file(&refuse).expect("rm");
    let got = rem.wait_messages(5, Duration::from_secs(30));
    assert_eq!(got.len(), 5, "{}", g.log());
    g.wait_for("the queue to drain", Duration::from_secs(10), || {
        g.metric("ponte_queue_depth") == 0.0
    });
    // Each message once: five distinct dispatches.
    let mut ids: Vec<String> = got
        .iter()
        .map(|m| header(&m.body, "Message-ID").join(""))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
}

#[test]
fn with_the_tsa_down_nothing_leaves_unstamped_and_the_queue_drains_when_it_returns() {
    let (Some(rem), Some(pec)) = (SmtpSink::start(&[]), SmtpSink::start(&[])) else {
        return;
    };
    // A TSA that is not there yet: its port is reserved in the configuration.
    let port = common::gateway::free_port();
    let tsa_dir = tempfile::tempdir().expect("tempdir");
    let tsa_data = tsa_dir.path().join("tsa");
    // Make the TSA's identity first, so its certificate can be the anchor.
    let first = common::ponte()
        .args([
            "tsa",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data",
        ])
        .arg(&tsa_data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tsa");
    wait_port(port);
    kill(first);
    let mut g = prova(None, &rem, &pec, "");
    let mut text = std::fs::read_to_string(&g.config).expect("read");
    text = text.replace(
        &format!("tsa_anchors = [\"{}\"]", pki("root-ca.pem").display()),
        &format!("tsa_anchors = [\"{}\"]", tsa_data.join("tsa.pem").display()),
    );
    text.push_str(&format!("[tsa]\nurl = \"http://127.0.0.1:{port}/\"\n"));
    std::fs::write(&g.config, text).expect("write");
    g.start();
    let w = tempfile::tempdir().expect("tempdir");
    for i in 0..3 {
        let r = submit_envelope(&g, w.path(), &format!("tsa-{i}")).expect("send");
        assert_eq!(r.code, 250, "{r:?}");
        assert!(r.text.contains("deferred"), "{r:?}");
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        rem.messages().is_empty(),
        "nothing leaves without its time-stamp"
    );
    assert_eq!(g.metric("ponte_queue_depth"), 3.0);
    // The TSA returns: the queue drains, every evidence B-T.
    let back = common::ponte()
        .args([
            "tsa",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data",
        ])
        .arg(&tsa_data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tsa");
    wait_port(port);
    let got = rem.wait_messages(3, Duration::from_secs(90));
    kill(back);
    assert_eq!(got.len(), 3, "{}", g.log());
    for m in &got {
        assert!(
            String::from_utf8_lossy(&m.body).contains("REM-EventIdentifier"),
            "a REM message"
        );
        let f = w.path().join(format!("tsa-out-{}.eml", m.n));
        std::fs::write(&f, &m.body).expect("write");
        let content = openssl_verify(&f, &pki("root-ca.pem"));
        let ev = section(&content, "rem_message/xml_evidence").expect("evidence");
        assert!(
            String::from_utf8_lossy(&ev).contains("SignatureTimeStamp"),
            "B-T"
        );
    }
}

fn wait_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on {port}");
}

fn kill(mut c: std::process::Child) {
    let _ = c.kill();
    let _ = c.wait();
}

#[test]
fn nothing_acknowledged_is_lost_when_the_gateway_is_killed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (Some(rem), Some(pec)) = (SmtpSink::start(&[]), SmtpSink::start(&[])) else {
        return;
    };
    let mut g = prova(None, &rem, &pec, "");
    g.start();
    let w = tempfile::tempdir().expect("tempdir");
    const N: usize = 200;
    let bodies: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let id = format!("crash-{i}");
            let env = envelope(
                w.path(),
                Provider::Prova,
                &original(MARIO, ANNA, "Crash", &id),
                &id,
            );
            std::fs::read(env).expect("read")
        })
        .collect();
    let acked = Arc::new(AtomicUsize::new(0));
    let addr = g.smtp;
    let sender = {
        let acked = Arc::clone(&acked);
        std::thread::spawn(move || {
            let mut retries = 0;
            for body in &bodies {
                // Like an MTA: what did not get 250 is sent again until it does.
                loop {
                    match send(addr, "posta-certificata@pec.prova.test", &[ANNA], body) {
                        Ok(r) if r.code == 250 => break,
                        Ok(r) => assert!(r.code / 100 == 4, "refused: {r:?}"),
                        Err(_) => {}
                    }
                    retries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                acked.fetch_add(1, Ordering::SeqCst);
            }
            retries
        })
    };
    for at in [60, 130] {
        while acked.load(Ordering::SeqCst) < at {
            std::thread::sleep(Duration::from_millis(5));
        }
        g.kill9();
        std::thread::sleep(Duration::from_millis(300));
        g.start();
    }
    let retries = sender.join().expect("sender");
    assert!(retries > 0, "the kills interrupted nothing");
    // Wait for N distinct originals (re-sent dispatches count once).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let got = loop {
        let got = rem.messages();
        let distinct: std::collections::BTreeSet<String> = got
            .iter()
            .map(|m| header(&m.body, "REM-UAMessageIdentifier").join(""))
            .collect();
        if distinct.len() >= N || std::time::Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Every input once: one distinct dispatch per original (its REM-UAMessageIdentifier).
    // A dispatch handed to the peer just before a kill may be handed again after the restart
    // (same message, same Message-ID: at-least-once towards peers, as every MTA).
    let mut per_input =
        std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for m in &got {
        per_input
            .entry(header(&m.body, "REM-UAMessageIdentifier").join(""))
            .or_default()
            .insert(header(&m.body, "Message-ID").join(""));
    }
    let missing: Vec<String> = (0..N)
        .map(|i| format!("<crash-{i}@mittente.test>"))
        .filter(|id| !per_input.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not delivered: {missing:?}\nsink has {} messages\n{}",
        got.len(),
        g.log()
    );
    assert_eq!(
        per_input.len(),
        N,
        "every acknowledged message delivered\n{}",
        g.log()
    );
    assert!(
        per_input.values().all(|ids| ids.len() == 1),
        "an input became two different dispatches"
    );
    let resent = got.len() - N;
    assert!(resent <= 8, "{resent} dispatches handed to the peer twice");
    g.wait_for("the queue to drain", Duration::from_secs(20), || {
        g.metric("ponte_queue_depth") == 0.0
    });
}

/// A small tmpfs mounted for the test (unmounted on drop); `None` where the machine does not
/// let the test mount one.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_gets_452_and_never_250_for_mail_it_could_not_store() {
    let (Some(rem), Some(pec)) = (SmtpSink::start(&[]), SmtpSink::start(&[])) else {
        return;
    };
    let Some(fs) = Tmpfs::mount("4m") else {
        eprintln!(
            "skipped: cannot mount a tmpfs here (the spool's write failures are also unit-tested)"
        );
        return;
    };
    let mut g = Gateway::in_dir(
        fs.dir.path(),
        Provider::Prova,
        None,
        &format!(
            "[[route]]\ndomain = \"*\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n",
            rem.relay(),
            pec.relay()
        ),
    );
    // Ballast, removed later: the disk has room again, the spool must take mail again.
    let ballast = fs.dir.path().join("ballast");
    std::fs::write(&ballast, vec![0u8; 1024 * 1024]).expect("ballast");
    g.start();
    let w = tempfile::tempdir().expect("tempdir");
    let mut accepted = Vec::new();
    let mut refused = 0;
    for i in 0..400 {
        let id = format!("full-{i}");
        let r = submit_envelope(&g, w.path(), &id)
            .unwrap_or_else(|e| panic!("send {id}: {e}\n{}", g.log()));
        match r.code {
            250 => accepted.push(id),
            451 | 452 => {
                refused += 1;
                if refused >= 3 {
                    break;
                }
            }
            other => panic!("unexpected {other}: {r:?}"),
        }
    }
    assert!(
        refused >= 3,
        "the disk never filled ({} accepted)",
        accepted.len()
    );
    assert!(!accepted.is_empty());
    // Room again: accepted again, without a restart.
    std::fs::remove_file(&ballast).expect("rm ballast");
    let mut again = None;
    for i in 0..5 {
        let id = format!("room-{i}");
        let r = submit_envelope(&g, w.path(), &id).expect("send");
        if r.code == 250 {
            again = Some(id);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    accepted.push(again.unwrap_or_else(|| panic!("no 250 once the disk had room\n{}", g.log())));
    // Everything acknowledged was stored: it is all delivered. (A message answered 452 may
    // still go out, when its change was committed and only its sync failed: refused is not
    // lost, and the client's retry is then answered as a duplicate.)
    let delivered = || -> std::collections::BTreeSet<String> {
        rem.messages()
            .iter()
            .map(|m| header(&m.body, "REM-UAMessageIdentifier").join(""))
            .collect()
    };
    let missing = |uas: &std::collections::BTreeSet<String>| -> Vec<String> {
        accepted
            .iter()
            .filter(|id| !uas.contains(&format!("<{id}@mittente.test>")))
            .cloned()
            .collect()
    };
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while !missing(&delivered()).is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    let lost = missing(&delivered());
    assert!(
        lost.is_empty(),
        "acknowledged but not delivered: {lost:?}\n{}",
        g.log()
    );
    // The service still answers.
    assert_eq!(g.get("/healthz").0, 200);
    g.kill9();
}

/// Raw SMTP: sends `lines` (each with CRLF) in one write and reads until `replies` final
/// replies have come; returns them.
fn exchange(addr: std::net::SocketAddr, script: &[u8], replies: usize) -> Vec<String> {
    use std::io::{BufRead, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut r = std::io::BufReader::new(s.try_clone().expect("clone"));
    let mut out = Vec::new();
    let mut greeting = String::new();
    r.read_line(&mut greeting).expect("greeting");
    s.write_all(script).expect("write");
    while out.len() < replies {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.as_bytes().get(3) == Some(&b' ') {
            out.push(line.trim_end().to_string());
        }
    }
    out
}

#[test]
fn the_smtp_listener_judges_before_250_and_keeps_its_limits() {
    let (Some(rem), Some(pec)) = (SmtpSink::start(&[]), SmtpSink::start(&[])) else {
        return;
    };
    let mut g = prova(None, &rem, &pec, "");
    let mut text = std::fs::read_to_string(&g.config).expect("read");
    text = text.replace(
        "hostname = \"gw.pec.prova.test\"",
        "hostname = \"gw.pec.prova.test\"\nmax_message_bytes = 200000\nmax_recipients = 3",
    );
    std::fs::write(&g.config, text).expect("write");
    g.start();
    let w = tempfile::tempdir().expect("tempdir");
    // Not PEC, not REM: 554.
    let r = send(
        g.smtp,
        "a@b.test",
        &[ANNA],
        b"Subject: hi\r\n\r\nplain mail\r\n",
    )
    .expect("send");
    assert_eq!(r.code, 554, "{r:?}");
    // A PEC envelope signed by a provider that is not in the index (the rogue test signer).
    let env = w.path().join("rogue.eml");
    let orig = w.path().join("rogue.original.eml");
    std::fs::write(&orig, original(MARIO, ANNA, "Rogue", "rogue-1")).expect("write");
    let o = run_ponte([
        "pec".as_ref(),
        "wrap".as_ref(),
        orig.as_os_str(),
        "--key".as_ref(),
        pki("rogue.key.pem").as_os_str(),
        "--cert".as_ref(),
        pki("rogue.pem").as_os_str(),
        "--provider".as_ref(),
        "Rogue".as_ref(),
        "--domain".as_ref(),
        "pec.prova.test".as_ref(),
        "-o".as_ref(),
        env.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = send(
        g.smtp,
        "x@pec.prova.test",
        &[ANNA],
        &std::fs::read(&env).expect("read"),
    )
    .expect("send");
    assert_eq!(r.code, 554, "{r:?}");
    assert!(
        r.text.contains("not trusted") || r.text.contains("provider"),
        "{r:?}"
    );
    // A good envelope with one byte changed in the signed part: 554, signature.
    let good = envelope(
        w.path(),
        Provider::Prova,
        &original(MARIO, ANNA, "Tamper", "tamper-1"),
        "tamper-1",
    );
    let mut raw = std::fs::read(&good).expect("read");
    let at = raw.windows(6).position(|x| x == b"Corpo ").expect("body");
    raw[at] ^= 0x20;
    let r = send(g.smtp, "x@pec.prova.test", &[ANNA], &raw).expect("send");
    assert_eq!(r.code, 554, "{r:?}");
    assert!(r.text.contains("signature"), "{r:?}");
    // Nothing of those was stored; the legal log says why.
    assert_eq!(g.metric("ponte_queue_depth"), 0.0);
    let legal = std::fs::read_to_string(g.dir.join("spool/legal.jsonl")).expect("legal");
    assert_eq!(legal.matches("\"refused\"").count(), 3, "{legal}");
    // Limits: SIZE declared too big, too many recipients, unknown commands.
    let replies = exchange(
        g.smtp,
        b"EHLO t\r\nMAIL FROM:<a@b.test> SIZE=300000\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<1@x.test>\r\nRCPT TO:<2@x.test>\r\nRCPT TO:<3@x.test>\r\nRCPT TO:<4@x.test>\r\nFROB\r\nQUIT\r\n",
        8,
    );
    let codes: Vec<&str> = replies.iter().map(|l| &l[..3]).collect();
    assert_eq!(
        codes,
        ["250", "552", "250", "250", "250", "250", "452", "500"],
        "{replies:?}"
    );
    // A message larger than the limit sent anyway: read to its end, then 552.
    let mut big = b"EHLO t\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<1@x.test>\r\nDATA\r\n".to_vec();
    big.extend(b"Subject: big\r\n\r\n");
    for _ in 0..3000 {
        big.extend([b'x'; 98]);
        big.extend(b"\r\n");
    }
    big.extend(b".\r\nNOOP\r\nQUIT\r\n");
    let replies = exchange(g.smtp, &big, 6);
    let codes: Vec<&str> = replies.iter().map(|l| &l[..3]).collect();
    assert_eq!(
        codes,
        ["250", "250", "250", "354", "552", "250"],
        "{replies:?}"
    );
    // PIPELINING: a whole transaction in one write, QUIT after the final dot.
    let env = envelope(
        w.path(),
        Provider::Prova,
        &original(MARIO, ANNA, "Pipe", "pipe-1"),
        "pipe-1",
    );
    let raw = std::fs::read(&env).expect("read");
    let mut script = format!(
        "EHLO t\r\nMAIL FROM:<posta-certificata@pec.prova.test>\r\nRCPT TO:<{ANNA}>\r\nDATA\r\n"
    )
    .into_bytes();
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            script.push(b'.');
        }
        script.extend_from_slice(line);
    }
    script.extend(b".\r\nQUIT\r\n");
    let replies = exchange(g.smtp, &script, 6);
    let codes: Vec<&str> = replies.iter().map(|l| &l[..3]).collect();
    assert_eq!(
        codes,
        ["250", "250", "250", "354", "250", "221"],
        "{replies:?}"
    );
    // The same message again (a peer's retry): 250, no second output.
    let r = send(g.smtp, "posta-certificata@pec.prova.test", &[ANNA], &raw).expect("send");
    assert_eq!(r.code, 250);
    assert!(r.text.contains("Already"), "{r:?}");
    // Other bytes under that Message-ID (its signed content altered): judged, not waved
    // through as a duplicate, and the answer does not tell that the identifier is known.
    let mut forged = raw.clone();
    let at = forged
        .windows(6)
        .position(|x| x == b"Corpo ")
        .expect("body");
    forged[at] ^= 0x20;
    let r = send(g.smtp, "posta-certificata@pec.prova.test", &[ANNA], &forged).expect("send");
    assert_eq!(r.code, 554, "{r:?}");
    assert!(!r.text.contains("Already"), "{r:?}");
    assert_eq!(rem.wait_messages(1, Duration::from_secs(20)).len(), 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(rem.messages().len(), 1);
    let ehlo = exchange(g.smtp, b"EHLO t\r\n", 1);
    assert!(ehlo[0].starts_with("250 "), "{ehlo:?}");
}

#[test]
fn starttls_with_a_real_client() {
    if !have("openssl") {
        return;
    }
    let (Some(rem), Some(pec)) = (SmtpSink::start(&[]), SmtpSink::start(&[])) else {
        return;
    };
    let w = tempfile::tempdir().expect("tempdir");
    let (_ca, cert, key) = common::loopback_tls(w.path());
    let mut g = prova(None, &rem, &pec, "");
    let mut text = std::fs::read_to_string(&g.config).expect("read");
    text = text.replace(
        "hostname = \"gw.pec.prova.test\"",
        &format!(
            "hostname = \"gw.pec.prova.test\"\ntls_cert = \"{}\"\ntls_key = \"{}\"",
            cert.display(),
            key.display()
        ),
    );
    std::fs::write(&g.config, text).expect("write");
    g.start();
    // openssl s_client speaks STARTTLS and then EHLO/QUIT over TLS.
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf 'EHLO t\\r\\nQUIT\\r\\n' | timeout 20 openssl s_client -quiet -starttls smtp -connect {} 2>&1",
            g.smtp
        ))
        .output()
        .expect("openssl");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("250-gw.pec.prova.test") || out.contains("250 "),
        "{out}"
    );
    assert!(out.contains("221"), "{out}");
    assert!(
        !out.contains("250-STARTTLS"),
        "STARTTLS is not offered again under TLS: {out}"
    );
    // A message under TLS with the gateway's own client.
    let env = envelope(
        w.path(),
        Provider::Prova,
        &original(MARIO, ANNA, "TLS", "tls-1"),
        "tls-1",
    );
    let o = run_ponte([
        "submit".as_ref(),
        env.as_os_str(),
        "--smtp".as_ref(),
        g.smtp.to_string().as_ref(),
        "--from".as_ref(),
        "posta-certificata@pec.prova.test".as_ref(),
        "--to".as_ref(),
        ANNA.as_ref(),
        "--tls".as_ref(),
        "starttls".as_ref(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(rem.wait_messages(1, Duration::from_secs(20)).len(), 1);
    g.wait_for("the message delivered", Duration::from_secs(20), || {
        g.api("/api/queue?state=delivered")
            .to_string()
            .contains("\"tls\":true")
    });
}

#[test]
fn the_front_door_serve_dev_and_its_try_command_put_a_dispatch_in_the_outbox() {
    let home = tempfile::tempdir().expect("tempdir");
    let data = home.path().join("data");
    let smtp = common::gateway::free_port();
    let ops = common::gateway::free_port();
    let out = home.path().join("stdout");
    let mut child = common::ponte()
        .args(["serve", "--dev", "--data"])
        .arg(&data)
        .args([
            "--smtp",
            &format!("127.0.0.1:{smtp}"),
            "--ops",
            &format!("127.0.0.1:{ops}"),
        ])
        .current_dir(home.path())
        .stdout(std::fs::File::create(&out).expect("stdout"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve --dev");
    let mut try_line = None;
    for _ in 0..400 {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.starts_with("try: ")) {
            try_line = Some(l.trim_start_matches("try: ").to_string());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let printed = std::fs::read_to_string(&out).unwrap_or_default();
    let Some(cmd) = try_line else {
        kill(child);
        panic!("no try: line\n{printed}");
    };
    assert!(printed.contains("NOT FOR PRODUCTION"), "{printed}");
    assert!(printed.contains(&format!("127.0.0.1:{smtp}")), "{printed}");
    // Pasted from another folder.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .current_dir(elsewhere.path())
        .output()
        .expect("try");
    assert!(
        o.status.success(),
        "{cmd}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let mut found = None;
    for _ in 0..200 {
        if let Some(e) = std::fs::read_dir(data.join("outbox")).ok().and_then(|d| {
            d.flatten()
                .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
        }) {
            found = Some(e.path());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let Some(eml) = found else {
        kill(child);
        panic!("nothing in the outbox");
    };
    let o = run_ponte([
        "verify".as_ref(),
        eml.as_os_str(),
        "--trust".as_ref(),
        data.join("pki/root-ca.pem").as_os_str(),
        "--json".as_ref(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["format"], "rem", "{v}");
    assert_eq!(v["type"], "SubmissionAcceptance", "{v}");
    assert_eq!(v["signature"]["chain_trusted"], true, "{v}");
    // A second start keeps the PKI (made once) and runs again.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "SIGTERM exits cleanly: {status}");
    let root = std::fs::read(data.join("pki/root-ca.pem")).expect("root");
    let out2 = home.path().join("stdout2");
    let child = common::ponte()
        .args(["serve", "--dev", "--data"])
        .arg(&data)
        .args([
            "--smtp",
            &format!("127.0.0.1:{smtp}"),
            "--ops",
            &format!("127.0.0.1:{ops}"),
        ])
        .stdout(std::fs::File::create(&out2).expect("stdout"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve --dev");
    for _ in 0..400 {
        if std::fs::read_to_string(&out2)
            .unwrap_or_default()
            .contains("try: ")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(child);
    let again = std::fs::read_to_string(&out2).unwrap_or_default();
    assert!(!again.contains("made:"), "{again}");
    assert_eq!(
        std::fs::read(data.join("pki/root-ca.pem")).expect("root"),
        root
    );
}

#[test]
fn rem_dispatches_beyond_the_access_points_limits_get_a_relay_rejection_and_sighup_reloads() {
    let (Some(pec_a), Some(pec_b)) = (SmtpSink::start(&[]), SmtpSink::start(&[])) else {
        return;
    };
    let mut b = Gateway::new(Provider::Altro, None, "[limits]\nmax_total_bytes = 1000\n");
    let mut a = Gateway::new(
        Provider::Prova,
        None,
        &format!(
            "[[route]]\ndomain = \"*.test\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n",
            b.smtp,
            pec_a.relay()
        ),
    );
    let base_b = std::fs::read_to_string(&b.config).expect("read");
    let routes_b = format!(
        "[[route]]\ndomain = \"pec.prova.test\"\nrelay = \"{}\"\ntls = \"none\"\n[pec]\nrelay = \"{}\"\ntls = \"none\"\n",
        a.smtp,
        pec_b.relay()
    );
    std::fs::write(&b.config, format!("{base_b}{routes_b}")).expect("write");
    a.start();
    b.start();
    let w = tempfile::tempdir().expect("tempdir");
    let notices = |n: usize| -> Vec<serde_json::Value> {
        pec_a
            .wait_messages(n, Duration::from_secs(60))
            .iter()
            .map(|m| {
                let f = w.path().join(format!("a-{}.eml", m.n));
                std::fs::write(&f, &m.body).expect("write");
                verify(&f)
            })
            .collect()
    };
    // 1. Too big for B's access point: B answers RelayRejection (RB06), A tells Mario.
    let r = submit_envelope(&a, w.path(), "limit-1").expect("send");
    assert_eq!(r.code, 250, "{r:?}");
    let got = notices(1);
    assert_eq!(got[0]["type"], "errore-consegna", "{}", got[0]);
    assert!(
        pec_b.messages().is_empty(),
        "no PEC envelope for a rejected dispatch"
    );
    let legal = std::fs::read_to_string(b.dir.join("spool/legal.jsonl")).expect("legal");
    assert!(legal.contains("size × recipients"), "{legal}");
    // 2. A recipient that is no PEC mailbox of B's index: RelayRejection (RB21).
    let env = envelope(
        w.path(),
        Provider::Prova,
        &original(MARIO, "zed@nowhere.test", "Nowhere", "nowhere-1"),
        "nowhere-1",
    );
    let r = send(
        a.smtp,
        "posta-certificata@pec.prova.test",
        &["zed@nowhere.test"],
        &std::fs::read(env).expect("read"),
    )
    .expect("send");
    assert_eq!(r.code, 250, "{r:?}");
    let got = notices(2);
    assert_eq!(got[1]["type"], "errore-consegna", "{}", got[1]);
    let legal = std::fs::read_to_string(b.dir.join("spool/legal.jsonl")).expect("legal");
    assert!(legal.contains("not a PEC mailbox of the index"), "{legal}");
    // 3. SIGHUP with the limit raised: the next dispatch enters PEC.
    std::fs::write(
        &b.config,
        format!(
            "{}{routes_b}",
            base_b.replace("max_total_bytes = 1000", "max_total_bytes = 100000000")
        ),
    )
    .expect("write");
    b.signal("HUP");
    b.wait_for("the reload", Duration::from_secs(10), || {
        b.log().contains("configuration reloaded")
    });
    let r = submit_envelope(&a, w.path(), "limit-2").expect("send");
    assert_eq!(r.code, 250, "{r:?}");
    assert_eq!(
        pec_b.wait_messages(1, Duration::from_secs(60)).len(),
        1,
        "{}",
        b.log()
    );
    let got = notices(3);
    assert_eq!(got[2]["type"], "presa-in-carico", "{}", got[2]);
}

/// A body kept in a gateway's spool, fetched through the ops API into `to`.
fn stored(g: &Gateway, path: &str, to: &Path) -> PathBuf {
    let (code, body) = g.get(path);
    assert_eq!(code, 200, "GET {path}: {body}");
    std::fs::write(to, body.as_bytes()).expect("write");
    to.to_path_buf()
}
