//! End-to-end tests of `ponte serve`: gateways in their own processes, SMTP peers in others
//! (Debian's aiosmtpd through tests/peers/smtp_sink.py), `openssl` and `xmlsec1` as judges.
//!
//! The PEC ⇄ REM round trip runs between two gateways: "Gestore Prova" (A) carries a PEC
//! envelope for a recipient of "Altro Gestore" (B) as a REM dispatch; B, as the recipient's
//! REM access point, makes it a PEC envelope for its PEC platform and sends A a RelayAcceptance;
//! the recipient's provider's avvenuta-consegna for B's envelope goes back to A as a
//! ContentConsignment, and A's PEC platform gets the presa in carico and the consegna.

mod common;

use std::path::Path;
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
    let env = envelope(w, Provider::Prova, &original(MARIO, ANNA, "Prova REM", "e2e-1"), "e2e-1");
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
    let dispatch = a.dir.join("spool/data/01/1.out.0");
    let content = openssl_verify(&dispatch, &pki("root-ca.pem"));
    let raw_dispatch = std::fs::read(&dispatch).expect("dispatch");
    assert_eq!(
        header(&raw_dispatch, "REM-MessageType"),
        vec!["http://uri.etsi.org/19522/v1#/ERDMessageType/dispatch".to_string()]
    );
    let ev = section(&content, "rem_message/xml_evidence").expect("evidence section");
    let ev_path = w.join("dispatch-evidence.xml");
    std::fs::write(&ev_path, &ev).expect("write");
    assert!(common::xmlsec1_verifies(&ev_path), "xmlsec1 on the dispatch evidence");
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
    assert_eq!(kinds(&pec_a, w), vec!["presa-in-carico", "avvenuta-consegna"]);
    // Every timer of the dispatch stopped; B's message is delivered.
    a.wait_for("the timers to stop", Duration::from_secs(10), || {
        a.api("/api/queue/1")["timers"]
            .as_array()
            .is_some_and(|t| t.is_empty())
    });
    // The ContentConsignment B made verifies with openssl (it is B's second message's output).
    let cc = b.dir.join("spool/data/02/2.out.0");
    let cc_raw = std::fs::read(&cc).expect("content consignment");
    assert_eq!(
        header(&cc_raw, "REM-EventIdentifier"),
        vec!["http://uri.etsi.org/19522/Event/ContentConsignment".to_string()]
    );
    let content = openssl_verify(&cc, &pki("root-ca.pem"));
    let ev = section(&content, "rem_message/xml_evidence").expect("evidence");
    let ev_path = w.join("cc-evidence.xml");
    std::fs::write(&ev_path, &ev).expect("write");
    assert!(common::xmlsec1_verifies(&ev_path), "xmlsec1 on ContentConsignment");
    // The legal log has the whole story, one JSON line per event, no content.
    let legal = std::fs::read_to_string(a.dir.join("spool/legal.jsonl")).expect("legal log");
    for e in ["\"received\"", "\"translated\"", "\"queued\"", "\"delivered\""] {
        assert!(legal.contains(e), "{e} not in the legal log:\n{legal}");
    }
    assert!(!legal.contains("Corpo del messaggio"), "content in the legal log");
    assert_eq!(a.stop(), Some(0), "{}", a.log());
    assert_eq!(b.stop(), Some(0), "{}", b.log());
}
