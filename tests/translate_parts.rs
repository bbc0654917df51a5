//! End-to-end tests of the translation parts (`mappings` lookups, `translate::identity`,
//! `translate::evidence`, `translate::receipt` with `pec::build`) on the AgID kit:
//!
//! * every REM message of the kit (Intra-REM-flow, Inflow, Outflow) has a rem-to-pec row;
//! * every standalone kit evidence plans the mapped PEC receipt, which `pec::build` makes,
//!   which classifies back as the mapped kind, whose daticert is DTD-valid (xmllint), which
//!   carries the evidence as `<Event>.xml` byte for byte, and which `openssl cms -verify`
//!   accepts when signed with the test PKI's pec-rsa;
//! * evidences built from the facts of kit evidences state the same facts as the kit's (the
//!   PersonIdentifiers included), sign B-T with an in-process TSA, verify in Ponte (trusted,
//!   B-T) and in xmlsec1, and parse back to the model; the same over HTTP with
//!   `ponte tsa serve`;
//! * the builder refuses what the REM baseline cardinality forbids, naming it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{DevTsa, have, kit, kit_available, pki, xmlsec1_verifies};
use ponte::crypto::SigningKey;
use ponte::mappings::Tables;
use ponte::pec::build::{self, ExtraPart, Provider, ReceiptKind, SequenceIdentifiers};
use ponte::pec::{Kind, PecMessage};
use ponte::rem::evidence::{self, Event, Evidence, Reason};
use ponte::translate::evidence::{EvidenceInput, build as build_evidence, sign as sign_evidence};
use ponte::translate::identity::person_identifier;
use ponte::translate::receipt::{OriginalFacts, evidence_part, pec_receipt_input};
use ponte::tsp::issue::{DEV_POLICY, Tsu};
use ponte::tsp::{Imprint, RequestOptions, TimeStampRequest};
use ponte::x509::{self, Certificate};
use ponte::xades::{self, At, Level, Signer, VerifyOptions};
use time::OffsetDateTime;
use time::macros::datetime;

fn tables() -> Tables {
    Tables::load(None).expect("compiled-in tables validate")
}

fn files(dir: &Path, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    v.sort();
    v
}

/// What a kit REM message's file name says: (REM message type, event, reason code).
/// `REM_<Event>[1|2|Ext].<code>.eml`; `REM_Dispatch*` carries SubmissionAcceptance;
/// `REM_EXTERNAL.RF04` is the dispatch made from a message of a non-ERDS.
fn kit_message_facts(path: &Path) -> (&'static str, Event, Reason) {
    let name = path.file_name().and_then(|n| n.to_str()).expect("name");
    let stem = name
        .strip_prefix("REM_")
        .and_then(|s| s.strip_suffix(".eml"));
    let (ev, code) = stem
        .and_then(|s| s.split_once('.'))
        .expect("REM_<event>.<code>.eml");
    let reason = Reason::from_code(code).unwrap_or_else(|| panic!("{name}: unknown code"));
    let ev = ev.trim_end_matches(['1', '2']).trim_end_matches("Ext");
    match ev {
        "Dispatch" => ("dispatch", Event::SubmissionAcceptance, reason),
        "EXTERNAL" => ("dispatch", Event::ReceivedFromNonERDS, reason),
        other => (
            "receipt",
            Event::from_name(other).unwrap_or_else(|| panic!("{name}: event {other}")),
            reason,
        ),
    }
}

#[test]
fn every_kit_rem_message_has_a_rem_to_pec_row() {
    if !kit_available() {
        return;
    }
    let t = tables();
    let mut n = 0;
    for dir in ["Intra-REM-flow", "Inflow", "Outflow"] {
        for f in files(&kit(dir), "REM_", ".eml") {
            let (message, event, reason) = kit_message_facts(&f);
            // The file name agrees with the message: its event URI is in it.
            let raw = std::fs::read(&f).expect("read");
            assert!(
                raw.windows(event.uri().len())
                    .any(|w| w == event.uri().as_bytes()),
                "{}: no {}",
                f.display(),
                event.uri()
            );
            let row = t
                .rem_to_pec(&event, std::slice::from_ref(&reason), message)
                .unwrap_or_else(|| panic!("{}: no rem-to-pec row", f.display()));
            let expected_kind = match (message, &event) {
                ("dispatch", Event::ReceivedFromNonERDS) => "anomalia",
                ("dispatch", _) => "posta-certificata",
                (_, Event::SubmissionAcceptance) => "accettazione",
                (_, Event::ContentConsignment) => "avvenuta-consegna",
                (_, Event::RelayAcceptance) => "presa-in-carico",
                (_, Event::SubmissionRejection) => "non-accettazione",
                _ => row.pec.kind.as_str(),
            };
            assert_eq!(row.pec.kind, expected_kind, "{}", f.display());
            assert!(!row.sources.is_empty());
            n += 1;
        }
    }
    assert_eq!(
        n, 43,
        "the kit's REM messages: 36 Intra-REM-flow, 1 Inflow, 6 Outflow"
    );
}

#[test]
fn every_pec_subject_key_has_a_prefix_in_the_tables() {
    use ponte::pec::values::Errore;
    let t = tables();
    for kind in [
        ReceiptKind::Accettazione,
        ReceiptKind::NonAccettazione,
        ReceiptKind::PresaInCarico,
        ReceiptKind::AvvenutaConsegna,
        ReceiptKind::ErroreConsegna,
        ReceiptKind::PreavvisoErroreConsegna,
        ReceiptKind::RilevazioneVirus,
    ] {
        for e in ["nessuno", "no-dest", "no-dominio", "virus", "altro"] {
            let key = kind.subject_key(&Errore::parse(e));
            assert!(t.pec_subject_prefix(key).is_some(), "{key}");
        }
    }
    for key in [build::SUBJECT_KEY_ENVELOPE, build::SUBJECT_KEY_ANOMALY] {
        assert!(t.pec_subject_prefix(key).is_some(), "{key}");
    }
}

fn key(name: &str) -> SigningKey {
    SigningKey::from_pkcs8_pem(&std::fs::read(pki(name)).expect("key")).expect("pkcs8")
}

fn certs(name: &str) -> Vec<Certificate> {
    x509::load_pem(&std::fs::read(pki(name)).expect("cert")).expect("pem")
}

fn cert(name: &str) -> Certificate {
    certs(name).remove(0)
}

fn provider() -> Provider {
    Provider {
        name: "Gestore Prova S.p.A.".into(),
        domain: "pec.gestore.test".into(),
    }
}

fn xmllint_valid(xml: &[u8], what: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("daticert.xml");
    std::fs::write(&file, xml).expect("write");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--dtdvalid")
        .arg(common::repo().join("gateway/src/pec/daticert.dtd"))
        .arg(&file)
        .output()
        .expect("spawn xmllint");
    assert!(
        out.status.success(),
        "{what}: xmllint: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
}

fn openssl_verifies(msg: &[u8], what: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("signed.eml");
    std::fs::write(&file, msg).expect("write");
    let out = Command::new("openssl")
        // As a mail client reads it (S/MIME canonical text), like tests/cli_pec.rs.
        .args(["cms", "-verify", "-out", "/dev/null", "-CAfile"])
        .arg(pki("root-ca.pem"))
        .arg("-in")
        .arg(&file)
        .output()
        .expect("spawn openssl");
    assert!(
        out.status.success(),
        "{what}: openssl cms -verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The message type a standalone kit evidence travels in.
fn message_of(path: &Path) -> &'static str {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.starts_with("ReceivedFromNonERDS") || name.contains(".in-dispatch.") {
        "dispatch"
    } else {
        "receipt"
    }
}

fn expected_kind(kind: ReceiptKind, errore: &str, final_notice: bool) -> Kind {
    let virus = errore == "virus";
    match kind {
        ReceiptKind::Accettazione => Kind::Accettazione,
        ReceiptKind::NonAccettazione => Kind::NonAccettazione { virus },
        ReceiptKind::PresaInCarico => Kind::PresaInCarico,
        ReceiptKind::AvvenutaConsegna => Kind::AvvenutaConsegna {
            ricevuta: ponte::pec::TipoRicevuta::Sintetica,
        },
        ReceiptKind::ErroreConsegna => Kind::ErroreConsegna { virus },
        ReceiptKind::PreavvisoErroreConsegna => Kind::PreavvisoErroreConsegna { final_notice },
        ReceiptKind::RilevazioneVirus => Kind::RilevazioneVirus,
    }
}

#[test]
fn every_kit_evidence_becomes_the_mapped_pec_receipt() {
    if !kit_available() {
        return;
    }
    let oracles = have("openssl") && have("xmllint");
    if !oracles {
        eprintln!("openssl or xmllint not installed: oracle checks skipped");
    }
    let t = tables();
    let p = provider();
    let (k, c, chain) = (
        key("pec-rsa.key.pem"),
        cert("pec-rsa.pem"),
        certs("provider-ca.pem"),
    );
    let mut ids = SequenceIdentifiers {
        seed: "t".into(),
        next: 1,
    };
    let (mut receipts, mut envelopes) = (0, 0);
    let evidences = files(&kit("standalone-evidence"), "", ".xml");
    assert_eq!(evidences.len(), 42);
    for f in &evidences {
        let what = f.display().to_string();
        let bytes = std::fs::read(f).expect("read");
        let ev = evidence::parse(&bytes).expect("kit evidence parses");
        let reasons: Vec<Reason> = ev.reasons.iter().map(|r| r.reason.clone()).collect();
        let row = t
            .rem_to_pec(&ev.event, &reasons, message_of(f))
            .unwrap_or_else(|| panic!("{what}: no row"));
        let recipients: Vec<String> = ev
            .recipients
            .iter()
            .filter_map(|r| r.mailto_address().map(str::to_owned))
            .collect();
        let ua = ev
            .user_content_info
            .as_ref()
            .and_then(|u| u.app_layer_identifier.clone())
            .expect("kit evidences carry the AppLayerIdentifier");
        let facts = OriginalFacts {
            subject: ev.subject(),
            sender: ev.sender.mailto_address().expect("sender"),
            recipients: &recipients,
            external: &[],
            ua_message_id: &ua,
            rems_message_id: "unused@kit.test",
            submission_time: ev.submission_time.unwrap_or(ev.event_time),
            original: None,
            ricevuta: None,
        };
        let plans = match pec_receipt_input(&ev, row, &facts) {
            Ok(p) => p,
            Err(e) => {
                // A dispatch's evidence becomes an envelope, not a receipt.
                assert!(
                    matches!(row.pec.kind.as_str(), "posta-certificata" | "anomalia"),
                    "{what}: {e}"
                );
                envelopes += 1;
                continue;
            }
        };
        assert!(!plans.is_empty(), "{what}");
        let part = evidence_part(&ev, &bytes);
        assert_eq!(part.filename, format!("{}.xml", ev.event.name()));
        for plan in &plans {
            let prefix = t.pec_subject_prefix(plan.subject_key).expect("prefix");
            let extra: Vec<ExtraPart> = vec![part.clone()];
            let built = build::receipt(&plan.input(&p, prefix, &extra, None), &mut ids)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let unsigned = built.unsigned_message();
            let m = PecMessage::parse(&unsigned).unwrap_or_else(|e| panic!("{what}: {e}"));
            let d = m.daticert().expect("daticert");
            let final_notice = d.is_final_timeout();
            assert_eq!(
                m.kind(),
                &expected_kind(
                    plan.kind,
                    row.pec.errore.as_deref().unwrap_or(""),
                    final_notice
                ),
                "{what}"
            );
            assert_eq!(d.tipo.as_str(), row.pec.kind, "{what}");
            if let Some(e) = &row.pec.errore {
                assert_eq!(d.errore.as_str(), e, "{what}");
            }
            assert_eq!(row.pec.is_final == Some(true), final_notice, "{what}");
            // identificativo: the REM message identifier; msgid: the user's Message-ID.
            let rem_id = ev.message_identifier.as_ref().expect("MessageIdentifier");
            assert_eq!(d.identificativo, rem_id.value, "{what}");
            assert_eq!(d.msgid.as_deref(), Some(ua.as_str()), "{what}");
            assert_eq!(d.data, ev.event_time, "{what}: data/ora is the EventTime");
            if matches!(
                plan.kind,
                ReceiptKind::AvvenutaConsegna | ReceiptKind::ErroreConsegna
            ) {
                let consegna = d.consegna.as_deref().expect("consegna");
                assert!(recipients.iter().any(|r| r == consegna), "{what}");
                if let Some(k) = ev.refers_to_recipient {
                    let i = usize::try_from(k - 1).expect("index");
                    assert_eq!(Some(consegna), recipients.get(i).map(String::as_str));
                }
            }
            if let Some(esteso) = &d.errore_esteso {
                let r = ev.reasons.first().expect("reason");
                let code = r.code().expect("code");
                assert!(esteso.contains(&format!("REM {code}")), "{what}: {esteso}");
                let text: String = r
                    .text()
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                assert!(esteso.contains(&text), "{what}: {esteso}");
                if let Some(prefix) = &row.pec.errore_esteso_prefix {
                    assert!(esteso.starts_with(prefix.as_str()), "{what}: {esteso}");
                }
            }
            // The evidence rides along byte for byte.
            let carried = attachment(&unsigned, &part.filename);
            assert_eq!(carried.as_deref(), Some(bytes.as_slice()), "{what}");
            assert!(
                built
                    .header("Subject")
                    .is_some_and(|s| s.starts_with(prefix.trim_end())),
                "{what}"
            );
            if oracles {
                xmllint_valid(m.daticert_raw().expect("daticert bytes"), &what);
                let signed = built.sign(&k, &c, &chain).expect("sign");
                openssl_verifies(&signed, &what);
                let sm = PecMessage::parse(&signed).expect("signed parses");
                assert_eq!(sm.kind(), m.kind(), "{what}");
            }
            receipts += 1;
        }
    }
    assert_eq!(
        envelopes, 2,
        "ReceivedFromNonERDS and the in-dispatch SubmissionAcceptance"
    );
    assert!(receipts >= 40, "{receipts}");
}

/// The decoded content of the attachment `filename` of a (CRLF) message built by pec::build.
fn attachment(msg: &[u8], filename: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = String::from_utf8_lossy(msg);
    let marker = format!("Content-Disposition: attachment; filename=\"{filename}\"");
    let start = text.find(&marker)?;
    let rest = text.get(start..)?;
    let body_start = rest.find("\r\n\r\n")? + 4;
    let body = rest.get(body_start..)?;
    let end = body.find("\r\n--")?;
    let b64: String = body.get(..end)?.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// The in-process TSA of the test PKI, answering at `now`.
fn tsa(now: OffsetDateTime) -> impl Fn(&[u8]) -> Result<Vec<u8>, ponte::tsp::Error> {
    use rustls_pki_types::pem::PemObject;
    let pem = std::fs::read(pki("tsa.key.pem")).expect("tsa key");
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(&pem).expect("pkcs8");
    let tsu = Tsu::new(der.secret_pkcs8_der(), cert("tsa.pem").der(), DEV_POLICY).expect("tsu");
    let serial = std::cell::Cell::new(1u64);
    move |data: &[u8]| {
        let req = TimeStampRequest::new(Imprint::sha256(data), &RequestOptions::default())?;
        let (resp, _) = tsu.answer(&req.to_der()?, now, || {
            let s = serial.get();
            serial.set(s + 1);
            Ok(s)
        })?;
        ponte::tsp::verify::token_of_response(&resp)
    }
}

/// The input that restates a kit evidence's facts.
fn input_like<'a>(
    kit_ev: &'a Evidence,
    recipients: &'a [String],
    untrusted: &'a [String],
    policies: &'a [String],
    ua: &'a str,
    digest: &'a str,
) -> EvidenceInput<'a> {
    // A relay evidence about every recipient is the builder's default (refers_to None).
    let relay: Vec<u64> = kit_ev
        .extensions
        .iter()
        .filter_map(|e| match e {
            evidence::Extension::Relay { info, .. } => Some(info.refers_to.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let one_relay = match relay.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    let refers_to = kit_ev
        .refers_to_recipient
        .or(one_relay)
        .and_then(|k| recipients.get(usize::try_from(k).ok()?.checked_sub(1)?))
        .map(String::as_str);
    EvidenceInput {
        event: kit_ev.event.clone(),
        reasons: kit_ev
            .reasons
            .iter()
            .map(|r| (r.reason.clone(), r.text().map(str::to_owned)))
            .collect(),
        evidence_id: format!("ponte-{}", kit_ev.evidence_identifier),
        issuer_name: kit_ev.issuer.legal_name_value().expect("issuer"),
        issuer_country: "IT",
        policies,
        sender_email: kit_ev.sender.mailto_address().expect("sender"),
        sender_person_id: kit_ev
            .sender
            .person_identifier()
            .map(|_| person_identifier("IT", "IT", kit_ev.sender.mailto_address().unwrap_or(""))),
        sender_assurance: kit_ev.sender.assurance.clone(),
        recipients,
        refers_to_recipient: refers_to,
        ua_message_id: ua,
        rems_message_id: kit_ev
            .message_identifier
            .as_ref()
            .map(|m| m.value.as_str())
            .expect("message id"),
        digest_b64: digest,
        submission_time: kit_ev.submission_time.unwrap_or(kit_ev.event_time),
        event_time: kit_ev.event_time,
        subject: kit_ev.subject(),
        untrusted_recipients: untrusted,
        external_erds_name: kit_ev
            .external_erds
            .as_ref()
            .and_then(|e| e.legal_name_value()),
        external_system: kit_ev.forwarded_to_external_system.as_deref(),
    }
}

#[test]
fn built_evidences_state_what_the_kit_states_and_sign_b_t() {
    if !kit_available() {
        return;
    }
    let signer = Signer::new(
        key("rem-rsa.key.pem"),
        cert("rem-rsa.pem"),
        certs("provider-ca.pem"),
    )
    .expect("signer");
    let at = datetime!(2027-01-15 10:00:00 UTC);
    let stamp = tsa(at);
    let xmlsec = have("xmlsec1");
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [
        "SubmissionAcceptance.RA01.xml",
        "SubmissionRejection.RA03.xml",
        "RelayAcceptance.RB01.xml",
        "RelayFailure.RB08.xml",
        "ContentConsignmentt1.RD01.xml",
        "ContentConsignmentFailure2.RD04.xml",
        "RelayToNonERDS.RF01.xml",
        "ReceivedFromNonERDS.RF04.xml",
        "RelayToNonERDSFailure.RF51.xml",
        "SubmissionAcceptanceExt.RA01.xml",
        "RelayRejection.RB21.xml",
        "ContentConsignmentFailure1.RD03.xml",
    ] {
        let kit_ev = evidence::parse(
            &std::fs::read(kit(&format!("standalone-evidence/{name}"))).expect("read"),
        )
        .expect("parse");
        let recipients: Vec<String> = kit_ev
            .recipients
            .iter()
            .filter_map(|r| r.mailto_address().map(str::to_owned))
            .collect();
        let policies = kit_ev.issuer_policy_ids.clone();
        let uci = kit_ev.user_content_info.clone().expect("uci");
        let ua = uci.app_layer_identifier.clone().expect("ua");
        let digest = uci.parts[0].digest_value.clone().expect("digest");
        let untrusted: Vec<String> = kit_ev
            .extensions
            .iter()
            .filter_map(|e| match e {
                evidence::Extension::General { info, .. } => {
                    Some(info.untrusted_path_to_recipient.clone())
                }
                _ => None,
            })
            .flatten()
            .filter_map(|k| {
                recipients
                    .get(usize::try_from(k).ok()?.checked_sub(1)?)
                    .cloned()
            })
            .collect();
        let input = input_like(&kit_ev, &recipients, &untrusted, &policies, &ua, &digest);
        let model = build_evidence(&input).unwrap_or_else(|e| panic!("{name}: {e}"));

        // The same facts as the kit's evidence: everything but the identifier and signature.
        let mut expected = kit_ev.unsigned();
        expected.evidence_identifier = model.evidence_identifier.clone();
        assert_eq!(model.extra_namespaces, Vec::new());
        expected.extra_namespaces = Vec::new();
        assert_eq!(
            model, expected,
            "{name}: the built model states the kit's facts"
        );

        let signed = sign_evidence(&model, &signer, Some(&stamp), at).expect("sign");
        let report = xades::verify(
            &signed,
            &VerifyOptions {
                anchors: certs("root-ca.pem"),
                intermediates: certs("provider-ca.pem"),
                // The TSU certificate is under provider-ca and xades::verify passes no
                // intermediates to the token's path: anchor the TSA at its issuing CA.
                tsa_anchors: certs("provider-ca.pem"),
                at: At::Instant(at),
            },
        )
        .expect("verify");
        assert!(
            report.signature.valid(),
            "{name}: {:?}",
            report.signature.invalid
        );
        assert_eq!(report.signature.level, Some(Level::BT), "{name}");
        assert!(
            report.signature.chain.as_ref().is_some_and(|c| c.trusted),
            "{name}: chain"
        );
        assert_eq!(report.timestamp.trusted(), Some(true), "{name}: TSA");
        let back = evidence::parse(&signed).expect("parses back");
        assert_eq!(back.unsigned(), model, "{name}: reads back as built");
        if xmlsec {
            let file = dir.path().join(name);
            std::fs::write(&file, &signed).expect("write");
            assert!(xmlsec1_verifies(&file), "{name}: xmlsec1");
        }
    }
}

#[test]
fn evidence_cardinality_is_enforced() {
    let recipients = vec!["a@x.test".to_string(), "b@x.test".to_string()];
    let policies = vec![
        "http://uri.etsi.org/19532/v1#/REMbaseline".to_string(),
        "https://eidas.agid.gov.it/REM/rem-policy-it#evidence-issuer-policy".to_string(),
    ];
    let base = EvidenceInput {
        event: Event::ContentConsignment,
        reasons: vec![(Reason::from_code("RD01").expect("RD01"), None)],
        evidence_id: "e1@ponte.test".into(),
        issuer_name: "Ponte",
        issuer_country: "IT",
        policies: &policies,
        sender_email: "s@y.test",
        sender_person_id: None,
        sender_assurance: None,
        recipients: &recipients,
        refers_to_recipient: Some("B@x.test"),
        ua_message_id: "<m@y.test>",
        rems_message_id: "r@ponte.test",
        digest_b64: "ePggZQ9/Uwbe6ui/mqn+moZJcfkdFVIluG1B4a3ov9k=",
        submission_time: datetime!(2027-01-01 10:00:00 +01:00),
        event_time: datetime!(2027-01-01 10:00:05 +01:00),
        subject: Some("oggetto"),
        untrusted_recipients: &[],
        external_erds_name: None,
        external_system: None,
    };
    let ok = build_evidence(&base).expect("builds");
    assert_eq!(ok.refers_to_recipient, Some(2));
    assert_eq!(ok.event_time, datetime!(2027-01-01 09:00:05 UTC));
    assert!(ok.event_time.offset().is_utc());
    // Recipient identities only from the recipient's side (ContentConsignment is).
    assert!(
        ok.recipients
            .iter()
            .all(|r| r.person_identifier().is_some())
    );

    let err = |i: EvidenceInput<'_>| {
        build_evidence(&i)
            .map(|_| ())
            .expect_err("refused")
            .to_string()
    };
    assert!(
        err(EvidenceInput {
            refers_to_recipient: None,
            ..base.clone()
        })
        .contains("must name the recipient")
    );
    assert!(
        err(EvidenceInput {
            refers_to_recipient: Some("c@x.test"),
            ..base.clone()
        })
        .contains("c@x.test")
    );
    assert!(
        err(EvidenceInput {
            reasons: vec![],
            ..base.clone()
        })
        .contains("reason")
    );
    assert!(
        err(EvidenceInput {
            reasons: vec![(Reason::from_code("RB03").expect("RB03"), None)],
            ..base.clone()
        })
        .contains("reason RB03 does not belong to event ContentConsignment")
    );
    assert!(
        err(EvidenceInput {
            policies: &policies[..1],
            ..base.clone()
        })
        .contains("policy")
    );
    assert!(
        err(EvidenceInput {
            external_system: Some("mx"),
            ..base.clone()
        })
        .contains("ForwardedToExternalSystem")
    );
    assert!(
        err(EvidenceInput {
            event: Event::RelayAcceptance,
            reasons: vec![(Reason::from_code("RB01").expect("RB01"), None)],
            ..base.clone()
        })
        .contains("ExternalERDSDetails")
    );
    assert!(
        err(EvidenceInput {
            event: Event::SubmissionAcceptance,
            reasons: vec![(Reason::from_code("RA01").expect("RA01"), None)],
            ..base.clone()
        })
        .contains("cannot refer")
    );
    assert!(
        err(EvidenceInput {
            digest_b64: "c2hvcnQ=",
            ..base.clone()
        })
        .contains("not a base64 SHA-256")
    );
    let unknown = Event::from_uri("urn:example:event");
    assert!(
        err(EvidenceInput {
            event: unknown,
            ..base.clone()
        })
        .contains("urn:example:event")
    );

    // A relay evidence carries the recipient in ext:RelayEvidenceRefersTo and the counterpart.
    let relay = build_evidence(&EvidenceInput {
        event: Event::RelayAcceptance,
        reasons: vec![(Reason::from_code("RB01").expect("RB01"), Some("ok".into()))],
        external_erds_name: Some("Other REMS"),
        ..base.clone()
    })
    .expect("relay builds");
    assert_eq!(relay.refers_to_recipient, None);
    assert!(relay.extensions.iter().any(
        |e| matches!(e, evidence::Extension::Relay { info, .. } if info.refers_to == vec![2])
    ));
    assert_eq!(
        relay
            .external_erds
            .as_ref()
            .and_then(|e| e.legal_name_value()),
        Some("Other REMS")
    );
    assert_eq!(
        relay.reasons[0].details,
        vec!["RB01".to_string(), "ok".to_string()]
    );
}

#[test]
fn evidence_signed_b_t_through_an_http_tsa() {
    if !kit_available() {
        return;
    }
    let tsa = DevTsa::start();
    let kit_ev = evidence::parse(
        &std::fs::read(kit("standalone-evidence/SubmissionAcceptance.RA01.xml")).expect("read"),
    )
    .expect("parse");
    let recipients: Vec<String> = kit_ev
        .recipients
        .iter()
        .filter_map(|r| r.mailto_address().map(str::to_owned))
        .collect();
    let policies = kit_ev.issuer_policy_ids.clone();
    let uci = kit_ev.user_content_info.clone().expect("uci");
    let ua = uci.app_layer_identifier.clone().expect("ua");
    let digest = uci.parts[0].digest_value.clone().expect("digest");
    let model = build_evidence(&input_like(
        &kit_ev,
        &recipients,
        &[],
        &policies,
        &ua,
        &digest,
    ))
    .expect("build");
    let signer = Signer::new(
        key("rem-ec.key.pem"),
        cert("rem-ec.pem"),
        certs("provider-ca.pem"),
    )
    .expect("signer");
    // The development TSA stamps with the clock, so the signature is made now.
    let now = OffsetDateTime::now_utc();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let signed = runtime
        .block_on(ponte::translate::evidence::sign_with_tsa(
            &model,
            &signer,
            &tsa.url,
            &RequestOptions::default(),
            &ponte::tsp::ClientOptions::default(),
            now,
        ))
        .expect("signed B-T over HTTP");
    let tsa_cert = x509::load_pem(&std::fs::read(tsa.cert()).expect("tsa cert")).expect("pem");
    let report = xades::verify(
        &signed,
        &VerifyOptions {
            anchors: certs("root-ca.pem"),
            intermediates: Vec::new(),
            tsa_anchors: tsa_cert,
            at: At::SigningTime,
        },
    )
    .expect("verify");
    assert!(report.signature.valid(), "{:?}", report.signature.invalid);
    assert_eq!(report.signature.level, Some(Level::BT));
    assert!(report.signature.chain.as_ref().is_some_and(|c| c.trusted));
    assert_eq!(
        report.timestamp.trusted(),
        Some(true),
        "{:?}",
        report.timestamp.reason
    );
    assert_eq!(evidence::parse(&signed).expect("parse").unsigned(), model);

    // An unreachable TSA is an error naming the time-stamp, not an unstamped evidence.
    let err = runtime
        .block_on(ponte::translate::evidence::sign_with_tsa(
            &model,
            &signer,
            "http://127.0.0.1:9/tsa",
            &RequestOptions::default(),
            &ponte::tsp::ClientOptions {
                retry: ponte::tsp::Retry {
                    attempts: 1,
                    ..ponte::tsp::Retry::default()
                },
                ..ponte::tsp::ClientOptions::default()
            },
            now,
        ))
        .expect_err("no TSA there");
    assert!(err.to_string().starts_with("time-stamp:"), "{err}");
}
