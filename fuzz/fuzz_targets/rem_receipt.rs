#![no_main]
//! REM → PEC receipt planning on arbitrary evidence bytes: `rem::evidence::parse`, the
//! built-in mapping row for its event and reasons (`Tables::rem_to_pec`, message `receipt`),
//! facts taken from the evidence, `translate::receipt::pec_receipt_input`, and the unsigned
//! PEC receipt each plan builds.
//!
//! Never panics; each plan is for a distinct recipient listed by the facts; `errore-esteso` is
//! one line; the built headers hold no line break but folding; the unsigned receipt reads
//! back as a PEC message whose daticert names the plan's recipient (`consegna` for
//! avvenuta/errore-consegna, `ricezione` for presa-in-carico).

use std::sync::OnceLock;

use ponte::mappings::Tables;
use ponte::pec::build::{Provider, ReceiptKind, SequenceIdentifiers};
use ponte::rem::evidence;
use ponte::translate::receipt::{self, OriginalFacts};

#[path = "waiver.rs"]
mod waiver;

fn tables() -> Option<&'static Tables> {
    static T: OnceLock<Option<Tables>> = OnceLock::new();
    T.get_or_init(|| Tables::builtin().ok()).as_ref()
}

fn header_is_one_field(v: &str) -> bool {
    let b = v.as_bytes();
    b.iter().enumerate().all(|(i, &c)| match c {
        b'\r' => b.get(i + 1) == Some(&b'\n') && matches!(b.get(i + 2), Some(b' ' | b'\t')),
        b'\n' => i > 0 && b.get(i - 1) == Some(&b'\r'),
        0 => false,
        _ => true,
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    waiver::install();
    let Ok(ev) = evidence::parse(data) else {
        return;
    };
    let Some(tables) = tables() else { return };
    let reasons: Vec<_> = ev.reasons.iter().map(|r| r.reason.clone()).collect();
    let Some(row) = tables.rem_to_pec(&ev.event, &reasons, "receipt") else {
        return;
    };
    let recipients: Vec<String> = ev
        .recipients
        .iter()
        .filter_map(|r| r.mailto_address())
        .map(str::to_string)
        .collect();
    let ua = ev
        .user_content_info
        .as_ref()
        .and_then(|u| u.app_layer_identifier.clone())
        .unwrap_or_else(|| "<ua.1@fuzz.test>".to_string());
    let sender = ev
        .sender
        .mailto_address()
        .unwrap_or("mittente@fuzz.test")
        .to_string();
    let facts = OriginalFacts {
        subject: Some("fuzz"),
        sender: &sender,
        recipients: &recipients,
        external: &[],
        ua_message_id: &ua,
        rems_message_id: "<rems.1@fuzz.test>",
        submission_time: ev.event_time,
        original: None,
        ricevuta: None,
    };
    let Ok(plans) = receipt::pec_receipt_input(&ev, row, &facts) else {
        return;
    };
    let mut seen: Vec<&str> = Vec::new();
    for p in &plans {
        if let Some(r) = p.recipient.as_deref() {
            assert!(recipients.iter().any(|x| x == r), "plan for unlisted {r:?}");
            assert!(!seen.contains(&r), "two receipts for {r:?}");
            seen.push(r);
        }
        if let Some(e) = &p.errore_esteso {
            assert!(!e.contains(['\r', '\n']), "errore-esteso on several lines");
        }
    }
    let provider = Provider {
        name: "Gestore Fuzz".into(),
        domain: "pec.fuzz.test".into(),
    };
    let part = receipt::evidence_part(&ev, data);
    let parts = [part];
    let mut ids = SequenceIdentifiers {
        seed: "fuzz".into(),
        next: 1,
    };
    for p in plans.iter().take(4) {
        let prefix = tables.pec_subject_prefix(p.subject_key).unwrap_or("");
        let input = p.input(&provider, prefix, &parts, None);
        let Ok(built) = ponte::pec::build::receipt(&input, &mut ids) else {
            continue;
        };
        for (n, v) in &built.headers {
            assert!(
                header_is_one_field(v),
                "header {n} value {v:?} breaks the header"
            );
        }
        let bytes = built.unsigned_message();
        let m = match ponte::pec::PecMessage::parse(&bytes) {
            Ok(m) => m,
            Err(e) => panic!("a built receipt does not read back: {e}"),
        };
        let d = m.daticert().expect("a built receipt carries its daticert");
        match (p.kind, &p.recipient) {
            (ReceiptKind::AvvenutaConsegna | ReceiptKind::ErroreConsegna, Some(r)) => {
                assert_eq!(d.consegna.as_deref(), Some(r.as_str()), "consegna");
            }
            (ReceiptKind::PresaInCarico, Some(r)) => {
                assert_eq!(d.ricezione, vec![r.clone()], "ricezione");
            }
            _ => {}
        }
    }
});
