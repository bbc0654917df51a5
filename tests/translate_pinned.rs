//! Pinned outputs: the SHA-256 of every message `translate::to_rem` / `translate::to_pec`
//! produce for fixed inputs, identifiers and clock, compared with the values the code produced
//! when this test was written (before the issue-12 rework of the byte paths). Signatures are
//! RSA PKCS#1 v1.5 (deterministic), evidences stay XAdES-B-B (no `[tsa]`), the identifier seed
//! is fixed and the instant is [`Judge::now`]: equal inputs must give byte-identical outputs.
//!
//! Inputs, translated in this order through one context (so receipts find their dispatch):
//! * envelopes made here with the test PKI (`pec-rsa`), of a CRLF original with a base64
//!   attachment (~10 KB and ~200 KB), an LF-stored original with a non-ASCII subject and a
//!   folded `To`, and an anomaly envelope; receipts about the first envelope; all → REM, and
//!   every REM output back → PEC;
//! * the real Namirial envelope of the corpus (CRLF and LF) → REM, judged at its signing time;
//! * the 43 REM messages of the AgID kit → PEC, judged at their signing time.
//!
//! A deliberate change of the outputs (new header, new evidence field) changes these values:
//! run with `PONTE_PIN_PRINT=1` to print the table, check that only that change explains the
//! difference (the golden outlines, `tests/translate.rs`, show structure changes), and paste it.

mod common;

use std::path::PathBuf;

use common::{KIT, corpus_file, pki};
use ponte::config::Config;
use ponte::correlate::MemoryStore;
use ponte::crypto::SigningKey;
use ponte::mappings::Tables;
use ponte::pec::build::{
    self, About, AnomalyInput, Built, EnvelopeInput, Provider, ReceiptInput, ReceiptKind,
    SequenceIdentifiers,
};
use ponte::pec::{Errore, TipoRicevuta};
use ponte::smime::TrustTime;
use ponte::translate::{Context, Judge, to_pec, to_rem};
use ponte::x509::load_pem;
use time::OffsetDateTime;
use time::macros::datetime;

/// Every instant of the test-PKI inputs and of the translations.
const WHEN: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

fn read(p: &std::path::Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn sha256_hex(b: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The DER of the first certificate of a PEM file, base64 on one line.
fn der_b64(path: &std::path::Path) -> String {
    String::from_utf8_lossy(&read(path))
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect()
}

/// A context of the test PKI identities, the embedded index plus Namirial, no `[tsa]`, a
/// fixed identifier seed and an in-memory store.
fn context(dir: &std::path::Path) -> Context {
    let mut ldif = String::from_utf8_lossy(&read(
        &common::repo().join("gateway/src/index/default.ldif"),
    ))
    .into_owned();
    ldif.push_str(&format!(
        "\ndn: providerName=Namirial S.p.A.,o=postacert\nobjectClass: top\nobjectClass: provider\nproviderName: Namirial S.p.A.\nmailReceipt: posta-certificata@sicurezzapostale.it\nmanagedDomains: sicurezzapostale.it\nproviderCertificateHash: 00\nproviderCertificate;binary:: {}\n",
        der_b64(&corpus_file("pec/certs/namirial-pec-signer.pem"))
    ));
    std::fs::write(dir.join("index.ldif"), ldif).expect("write ldif");
    let p = |n: &str| pki(n).display().to_string();
    let config = format!(
        r#"[identity]
provider_name = "Gestore Prova S.p.A."
domain = "pec.prova.test"
pec_key = "{pec_key}"
pec_cert = "{pec_cert}"
pec_chain = ["{ca}"]
rem_key = "{rem_key}"
rem_cert = "{rem_cert}"
rem_chain = ["{ca}"]

[trust]
pec_anchors = ["{root}", "{actalis}"]
rem_anchors = ["{root}", "{kit_root}"]
tsa_anchors = ["{tsa}"]

[index]
snapshot = "index.ldif"

[policy]
applicable = ["http://uri.etsi.org/19532/v1#/REMbaseline", "https://eidas.agid.gov.it/REM/rem-policy-it"]

[correlation]
path = "correlation.jsonl"
"#,
        pec_key = p("pec-rsa.key.pem"),
        pec_cert = p("pec-rsa.pem"),
        ca = p("provider-ca.pem"),
        rem_key = p("rem-rsa.key.pem"),
        rem_cert = p("rem-rsa.pem"),
        root = p("root-ca.pem"),
        tsa = p("tsa.pem"),
        actalis = corpus_file("pec/certs/actalis-authentication-root-ca.pem").display(),
        kit_root = corpus_file(&format!("{KIT}/certificates/REM-ROOT-CA.crt")).display(),
    );
    let path = dir.join("ponte.toml");
    std::fs::write(&path, config).expect("write config");
    let config = Config::load_at(&path, WHEN).expect("config");
    Context::from_config(config, Some(Box::new(MemoryStore::new())), "pinned".into())
        .expect("context")
}

/// A user's CRLF message of about `size` bytes: a text part and a base64 attachment.
fn original(size: usize, n: u32) -> Vec<u8> {
    let mut v = format!("From: Mario Rossi <mario.rossi@pec.prova.test>\r\nTo: anna@r2-rems-only-for-test.it\r\nSubject: Contratto di prova {n}\r\nMessage-ID: <pinned-{n}@pec.prova.test>\r\nDate: Wed, 25 Nov 2026 13:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nBuongiorno, in allegato il contratto.\r\n--b\r\nContent-Type: application/octet-stream; name=\"contratto.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n").into_bytes();
    let mut i = 0u32;
    while v.len() < size {
        // Varying lines, so that nothing is accidentally periodic.
        let line = format!("{:076x}", u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        v.extend_from_slice(line.as_bytes());
        v.extend_from_slice(b"\r\n");
        i += 1;
    }
    v.extend_from_slice(b"--b--\r\n");
    v
}

/// An LF-stored original with an encoded non-ASCII subject, a folded To and trailing blank lines.
fn original_lf() -> Vec<u8> {
    b"From: =?UTF-8?Q?Jos=C3=A9?= <jose@pec.prova.test>\nTo: anna@r2-rems-only-for-test.it,\n  bruno@r2-rems-only-for-test.it\nSubject: =?UTF-8?B?UGFnYW1lbnRvIMOoIGRvdnV0bw==?=\nMessage-ID:\n <pinned-lf@pec.prova.test>\nDate: Wed, 25 Nov 2026 13:00:00 +0100\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\nCaff\xc3\xa8 alle 10?\n\n\n".to_vec()
}

struct Pki {
    key: SigningKey,
    cert: ponte::x509::Certificate,
    chain: Vec<ponte::x509::Certificate>,
}

fn pec_pki() -> Pki {
    let key = SigningKey::from_pkcs8_pem(&read(&pki("pec-rsa.key.pem"))).expect("key");
    let cert = load_pem(&read(&pki("pec-rsa.pem")))
        .expect("cert")
        .remove(0);
    let chain = load_pem(&read(&pki("provider-ca.pem"))).expect("chain");
    Pki { key, cert, chain }
}

fn provider() -> Provider {
    Provider {
        name: "Gestore Prova S.p.A.".into(),
        domain: "pec.prova.test".into(),
    }
}

fn sign(b: &Built, k: &Pki) -> Vec<u8> {
    b.sign(&k.key, &k.cert, &k.chain).expect("sign")
}

/// The inputs of the first group: (label, bytes), in translation order.
fn pec_inputs(tables: &Tables) -> Vec<(String, Vec<u8>)> {
    let k = pec_pki();
    let provider = provider();
    let mut ids = SequenceIdentifiers {
        seed: "pinned-in".into(),
        next: 1,
    };
    let prefix = |key: &str| tables.pec_subject_prefix(key).expect("prefix").to_string();
    let envelope = |original: &[u8], ids: &mut SequenceIdentifiers| {
        let b = build::envelope(
            &EnvelopeInput {
                original,
                provider: &provider,
                external: &[],
                at: WHEN,
                subject_prefix: &prefix(build::SUBJECT_KEY_ENVELOPE),
                extra_parts: &[],
            },
            ids,
        )
        .expect("envelope");
        sign(&b, &k)
    };
    let mut v = Vec::new();
    let first = envelope(&original(10 * 1024, 1), &mut ids);
    v.push(("envelope-10k".to_string(), first.clone()));
    v.push((
        "envelope-200k".to_string(),
        envelope(&original(200 * 1024, 2), &mut ids),
    ));
    v.push((
        "envelope-lf".to_string(),
        envelope(&original_lf(), &mut ids),
    ));
    let anomaly = build::anomaly(
        &AnomalyInput {
            received: &original(4 * 1024, 3),
            provider: &provider,
            at: WHEN,
            subject_prefix: &prefix(build::SUBJECT_KEY_ANOMALY),
            extra_parts: &[],
        },
        &mut ids,
    )
    .expect("anomaly");
    v.push(("anomaly".to_string(), sign(&anomaly, &k)));
    let receipts: &[(&str, ReceiptKind, Errore, Option<&str>)] = &[
        (
            "accettazione",
            ReceiptKind::Accettazione,
            Errore::Nessuno,
            None,
        ),
        (
            "avvenuta-consegna",
            ReceiptKind::AvvenutaConsegna,
            Errore::Nessuno,
            None,
        ),
        (
            "errore-consegna-no-dest",
            ReceiptKind::ErroreConsegna,
            Errore::NoDest,
            None,
        ),
        (
            "preavviso-24h",
            ReceiptKind::PreavvisoErroreConsegna,
            Errore::Nessuno,
            Some("5.4.1 - Gestore Prova S.p.A. - tempo massimo superato"),
        ),
        (
            "rilevazione-virus",
            ReceiptKind::RilevazioneVirus,
            Errore::Virus,
            None,
        ),
    ];
    for (label, kind, errore, detail) in receipts {
        let errore_for_key = if *kind == ReceiptKind::RilevazioneVirus {
            Errore::Virus
        } else {
            errore.clone()
        };
        let b = build::receipt(
            &ReceiptInput {
                kind: *kind,
                about: About::Message(&first),
                provider: &provider,
                recipient: None,
                errore: errore.clone(),
                detail: *detail,
                ricevuta: TipoRicevuta::Completa,
                external: &[],
                to: None,
                at: WHEN,
                subject_prefix: &prefix(kind.subject_key(&errore_for_key)),
                extra_parts: &[],
            },
            &mut ids,
        )
        .expect("receipt");
        v.push((label.to_string(), sign(&b, &k)));
    }
    v
}

fn kit_messages() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for flow in ["Intra-REM-flow", "Inflow", "Outflow"] {
        let d = corpus_file(&format!("{KIT}/{flow}"));
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("entry").path();
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if n.starts_with("REM_") && n.ends_with(".eml") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Label and SHA-256 (hex) of every output, in order; several outputs of one input are
/// numbered `label#2`, `label#3`...
fn outputs(label: &str, outcome: ponte::translate::Outcome, got: &mut Vec<(String, String)>) {
    let t = match outcome {
        Ok(Ok(t)) => t,
        Ok(Err(r)) => panic!("{label}: refused: {}", r.reason()),
        Err(e) => panic!("{label}: {e}"),
    };
    for (i, o) in t.outputs.iter().enumerate() {
        let l = if i == 0 {
            label.to_string()
        } else {
            format!("{label}#{}", i + 1)
        };
        got.push((l, sha256_hex(&o.bytes)));
    }
}

/// What the code produced before the rework (see the module comment).
const PINNED: &[(&str, &str)] = &[
    (
        "envelope-10k.rem",
        "8b22178aa595506d94c24e0f2316d2f61f2583c4e1c5f1d2740eccc4047919cb",
    ),
    (
        "envelope-200k.rem",
        "7fc2f05525787c4304726ec2acd8c0396352cdc07a48ca4a0d05d67d0ca2e1ca",
    ),
    (
        "envelope-lf.rem",
        "f5276341b354dfb17b5505a5fe71d31f316fb1ec3071305ac287f6c937d48b2f",
    ),
    (
        "anomaly.rem",
        "218a26e58ddaf1bb0bdbfe4715f0041cdd07d25ffac5b0052069ce962c41c9ee",
    ),
    (
        "accettazione.rem",
        "e9f10455b0f7c9f0d868026f7792cbd66540dc4061c955f094549ab6bbb5aba5",
    ),
    (
        "avvenuta-consegna.rem",
        "8550a72bb8ba21e450703855b3a1dc52ca437519de579c54649f4b4cd4c911f7",
    ),
    (
        "errore-consegna-no-dest.rem",
        "e505a882659acf3a46b392264692e7ea77aaf6277d53e21e80a5955ec010bdc7",
    ),
    (
        "preavviso-24h.rem",
        "3e97c9d5b658b080de00788087093a846b1e7f1dab79b4d430f5c3149e5bb593",
    ),
    (
        "rilevazione-virus.rem",
        "4dae75fd33b396c8735bd352c3f7d8149470c5616444727f1b9d142b109e4294",
    ),
    (
        "envelope-10k.rem.pec",
        "a3c95038b9d4aa387425772fe949c5b291bca6afc32001032eff2f6c470ec011",
    ),
    (
        "envelope-200k.rem.pec",
        "1cce8ad5d8fa83fb80eb841c6bd5254fd6d68c8677c3f75c31ed5db4b6a52ef3",
    ),
    (
        "envelope-lf.rem.pec",
        "5e0b37d2667f010279d1409eae35502237ce54acc04161425dc792625d00bf64",
    ),
    (
        "anomaly.rem.pec",
        "6f56ce88e12139662e48e301d88fa1e387ec8760b7624e9f8f9b46ab6fa2ba66",
    ),
    (
        "accettazione.rem.pec",
        "12341a9d0523d1b996023911ed8ff963fdd26d5d1abd177bfc6bacd873a4fdb4",
    ),
    (
        "avvenuta-consegna.rem.pec",
        "4066865dc8d48e42271966ec5a995f7e8facb5f4a8b627c3822cb3703b2b8516",
    ),
    (
        "errore-consegna-no-dest.rem.pec",
        "7411f43878bacb0d312cb15d07d70650b8d12edec8954c8698208a20a590ec6f",
    ),
    (
        "preavviso-24h.rem.pec",
        "095cc987d738fc216e33badb3a3a2baad40439834a2c3931240182011e7b5d20",
    ),
    (
        "rilevazione-virus.rem.pec",
        "d61b6b50d67c988217f87bf832a0fa88994bdbb0800d5e15ed4b3b2e80a4d878",
    ),
    (
        "namirial.crlf.rem",
        "a02415bc163af59b17fb7d0369dfec4728194335e705bb221b6b7392d683f440",
    ),
    (
        "namirial.lf.rem",
        "e89685c3577386e644dc5e11426ba7b44935754f96a44e966e0fbf978228321a",
    ),
    (
        "kit.REM_EXTERNAL.RF04.eml.pec",
        "8f6eb86851f0f3fbeb7eb93d155ccadef4e3780dd26b460b229f8c0058f2c736",
    ),
    (
        "kit.REM_ContentConsignment1.RD01.eml.pec",
        "68bcc2b3b4a791368de2a529686c4350ff383cbab6c73e314f8e2b1ebc9e24fe",
    ),
    (
        "kit.REM_ContentConsignment2.RD01.eml.pec",
        "ebac38b26c87c181ffd87010bc075bb8be324ed0feb5d8dfb80b051ba732152c",
    ),
    (
        "kit.REM_ContentConsignmentFailure1.RD03.eml.pec",
        "e62a1e2e99a4c03cb5c5597ae3c066c234f211b15b13d450ea1bada09df74474",
    ),
    (
        "kit.REM_ContentConsignmentFailure1.RD04.eml.pec",
        "a7f22497678b4826f39383c259cad80b5e85049bad3ba36698dcd3e53bc7b074",
    ),
    (
        "kit.REM_ContentConsignmentFailure1.RD05.eml.pec",
        "37c4c681f9289dfdc686d881f65772d80b4417a7855a3b41640f8b3c512f0335",
    ),
    (
        "kit.REM_ContentConsignmentFailure1.RD06.eml.pec",
        "bb5d7825361984efaf48ae71eff8220763614220a45d10def111185f65618112",
    ),
    (
        "kit.REM_ContentConsignmentFailure1.RD21.eml.pec",
        "781495d8a6aaf91a2cbb3601e5650532d497eecbf51fcf93610f007195ce95b6",
    ),
    (
        "kit.REM_ContentConsignmentFailure2.RD03.eml.pec",
        "714442ed6cd72597b9d7bf95d77c06b524c6cdadbfdd92d9f5dd888280d66e49",
    ),
    (
        "kit.REM_ContentConsignmentFailure2.RD04.eml.pec",
        "ac2cf54867729d98311493f73224dcb76158950d6cb1c58073e9622c33c64b0c",
    ),
    (
        "kit.REM_ContentConsignmentFailure2.RD05.eml.pec",
        "bca45730870fe55bb464eada55950ffcf788594c4a93221b6b6f098c8a7d5f4a",
    ),
    (
        "kit.REM_ContentConsignmentFailure2.RD06.eml.pec",
        "37737365abeb2a9f72b9efc18d995db819bc8ae3b2351b79f368f61109ff5b84",
    ),
    (
        "kit.REM_ContentConsignmentFailure2.RD21.eml.pec",
        "562b802131c286fd52004e6d56fd3afa30e2814bd76e724cdac897e89c23cea0",
    ),
    (
        "kit.REM_Dispatch.RA01.eml.pec",
        "990bb654d54b2b972596d0a6b3d5c3ff3770338fd86c095aa75a896c641ff438",
    ),
    (
        "kit.REM_RelayAcceptance.RB01.eml.pec",
        "d8d95a401eeb3972ae460d5079b435d1571bbc295dd868ea26336dd717ed8cb1",
    ),
    (
        "kit.REM_RelayFailure.RB02.eml.pec",
        "bdcd12daa8c20495ec60f78e01d1da4d52b296e0ada85e37983af4c8d5b24e93",
    ),
    (
        "kit.REM_RelayFailure.RB02.eml.pec#2",
        "ef578de88435adb3a1580eaee9fc0e3563292ab841373cc6b01e84ae1abc0144",
    ),
    (
        "kit.REM_RelayFailure.RB03.eml.pec",
        "f96a00b0151fd700ec1297163b0323923a50b220916a95f9f3a2af4ab20583a2",
    ),
    (
        "kit.REM_RelayFailure.RB03.eml.pec#2",
        "dc838aa494ad886492cbb6a5f2313ce05782e3525edcc51c4a2cbc0d4477a352",
    ),
    (
        "kit.REM_RelayFailure.RB04.eml.pec",
        "466c956169c64219b78f7ee596616c109b43121e5222590a77881dcfa465f805",
    ),
    (
        "kit.REM_RelayFailure.RB04.eml.pec#2",
        "dd45d3b1720447115aaef115fe01c5413f699b97cdbf5ee40bf3bf2cbe8edf94",
    ),
    (
        "kit.REM_RelayFailure.RB05.eml.pec",
        "e3f7f922ef957038a2f7b8849174f1a71717f6909aa14a7a06cd3afe62ff6c3f",
    ),
    (
        "kit.REM_RelayFailure.RB05.eml.pec#2",
        "7236f319a644c0083f18197c3fa0459fa73f0ca762149d2d5cf2ab5cc5ea12b3",
    ),
    (
        "kit.REM_RelayFailure.RB06.eml.pec",
        "297ef15b7dc7d07cff008230183ec575d4759863cb73f3fe5e77c573a0f054b7",
    ),
    (
        "kit.REM_RelayFailure.RB06.eml.pec#2",
        "d3d97db5b08f9b1c0479197360fc1e28cfd7c0849f34e8cdeceb13534bce4315",
    ),
    (
        "kit.REM_RelayFailure.RB07.eml.pec",
        "577c68917d88f438d7f060a2cfefd37b9a57e881c334944c8a3612f956b928a5",
    ),
    (
        "kit.REM_RelayFailure.RB07.eml.pec#2",
        "30caaacfc031afb6f1586eb16f88c4ec926da28e60e998683e5aea6e3af4d4c1",
    ),
    (
        "kit.REM_RelayFailure.RB08.eml.pec",
        "71e9d7d34884fd21d7e7d13eae6b922fad567e4e0c38e7634d81085da5ad585f",
    ),
    (
        "kit.REM_RelayFailure.RB08.eml.pec#2",
        "23b303d90e7cce6fada64f82b50a5d80aad437ba146a4b82b2423b910e182cee",
    ),
    (
        "kit.REM_RelayFailure.RB09.eml.pec",
        "08fdd41226ea32428cddf590870fd2c4128254d531693bf266aaf01a2b35bfb9",
    ),
    (
        "kit.REM_RelayFailure.RB09.eml.pec#2",
        "707b5f803dabd4fe06aa39ecfaf98b16fafe185d85c20a0510dc44fec02c6924",
    ),
    (
        "kit.REM_RelayFailure.RB10.eml.pec",
        "12edf06c3adc47ff3db9a9d36ef6baf17ff5b5e815105e2fd1601e3ceb895fb0",
    ),
    (
        "kit.REM_RelayFailure.RB10.eml.pec#2",
        "012b0c010ab8e0dc624fa043620913d9b2003162b00b8a8ad004879d7fe7f005",
    ),
    (
        "kit.REM_RelayFailure.RB21.eml.pec",
        "046d261b430590016872d9ced60e1ffba52ec67a509be432113509f02349efb9",
    ),
    (
        "kit.REM_RelayFailure.RB21.eml.pec#2",
        "bf6254f59e192634155c4c106b9953f72ac3ce816f65988583ccad77a9359a78",
    ),
    (
        "kit.REM_RelayFailure.RB22.eml.pec",
        "6aefa2d5960870bb351c99d31209bedf72a21eb61de12180592c529758c59b7d",
    ),
    (
        "kit.REM_RelayRejection.RB02.eml.pec",
        "63e29980b1cb5531aea6bf7752d15eaa41c3ab26b841eb67f5cf3f7aa66b9d27",
    ),
    (
        "kit.REM_RelayRejection.RB02.eml.pec#2",
        "a0bbed81c371dee02b5a3f48816ade3091163c77382aff3d33581f5ec1be8695",
    ),
    (
        "kit.REM_RelayRejection.RB03.eml.pec",
        "2dbf16345a779d1edcdb522c2ed326f7cd7dd595bfd477c7d2bd02e4e06c589d",
    ),
    (
        "kit.REM_RelayRejection.RB04.eml.pec",
        "ed73d37491a3669c3f37bacc13ec3807e438a2cd9bc7024ba5d9747ec2472705",
    ),
    (
        "kit.REM_RelayRejection.RB04.eml.pec#2",
        "6e0e693fee0b8e52754463011d4fb03a1c311878dc1f16d66b26af166c3607ac",
    ),
    (
        "kit.REM_RelayRejection.RB05.eml.pec",
        "48c245e74dda21acb9a10555184195af1700707fb1033627a054a4d83f4bd9f4",
    ),
    (
        "kit.REM_RelayRejection.RB05.eml.pec#2",
        "0a95a3fe49e26ef75c6fe089df9f8c5e2b45652b02bc1add53c286f5c195f376",
    ),
    (
        "kit.REM_RelayRejection.RB06.eml.pec",
        "b098e7245dd92eb49e5b5b3ac8a231ead0a00298af016ca901e502c6a0003bba",
    ),
    (
        "kit.REM_RelayRejection.RB06.eml.pec#2",
        "2fee24f8b863071fbde13d8c6d999331b792f6a95a9c1aab31a0ffac0da286a1",
    ),
    (
        "kit.REM_RelayRejection.RB21.eml.pec",
        "a27ecd13538503a452c3944f60df2e2f208b87e8c67764987126053c6484c720",
    ),
    (
        "kit.REM_RelayRejection.RB21.eml.pec#2",
        "c536e154bee78831114a6615621cbe2e61d7e6a2e73c4f06e5790083d4da6172",
    ),
    (
        "kit.REM_SubmissionAcceptance.RA01.eml.pec",
        "931a5fb088cb163a8d1c5e0a8fe3a239273a8c9b2e008e281bb6539fcc575e9d",
    ),
    (
        "kit.REM_SubmissionRejection.RA02.eml.pec",
        "463fbc1621ee519362eaffa940f34630e6fbb87588800803a7a129f64c785396",
    ),
    (
        "kit.REM_SubmissionRejection.RA03.eml.pec",
        "26924b789512c70700da593165b0eac2dbfd711a2a1e42e4755e1656f911a10f",
    ),
    (
        "kit.REM_SubmissionRejection.RA05.eml.pec",
        "0f823289a11e591d69914beb06e4eb986bacab4adc7b01e56ce3a25b3db65018",
    ),
    (
        "kit.REM_SubmissionRejection.RA51.eml.pec",
        "61c6837f0b3336ade2b6313df707ccbfa7bca0e9fff6eb2eb8cc1d15c8ec6971",
    ),
    (
        "kit.REM_DispatchExt.RA01.eml.pec",
        "27b84ffe031de4bdc6bf5dcb7b7201b8746db418ec426ac6a758f471f3b16a6c",
    ),
    (
        "kit.REM_RelayToNonERDS.RF01.eml.pec",
        "338d44e101148965157c442cd73eb19c1f45ef6e28331308004dd1a4bf4ef801",
    ),
    (
        "kit.REM_RelayToNonERDSFailure.RF02.eml.pec",
        "bbd40e5fe59fedf696557e966450b56db6143a6f33ebd81053bd37fbe514a6ee",
    ),
    (
        "kit.REM_RelayToNonERDSFailure.RF03.eml.pec",
        "1dd24e0e662bbbd999a401e5f284f735cb2479989b2abc9721e8542ba7fc608b",
    ),
    (
        "kit.REM_RelayToNonERDSFailure.RF51.eml.pec",
        "4e752a316c13b5291af3c0d3b906200e093e5366afe33287e14f23417ece902b",
    ),
    (
        "kit.REM_SubmissionAcceptanceExt.RA01.eml.pec",
        "6d606a95ad77f35a07bb605ef92c6d6afa1ba5b6263653dd5f859dfd31af112a",
    ),
];

#[test]
fn outputs_are_byte_identical_to_the_pinned_ones() {
    if !common::kit_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cx = context(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let at_when = Judge {
        now: WHEN,
        trust_at: TrustTime::At(WHEN),
    };
    let at_signing = Judge {
        now: WHEN,
        trust_at: TrustTime::SigningTime,
    };
    let mut got: Vec<(String, String)> = Vec::new();
    let mut rem_outputs = Vec::new();
    for (label, raw) in pec_inputs(&cx.tables) {
        let outcome = rt.block_on(to_rem::translate(&cx, &raw, &at_when));
        if let Ok(Ok(t)) = &outcome {
            for o in &t.outputs {
                rem_outputs.push((format!("{label}.rem"), o.bytes.clone()));
            }
        }
        outputs(&format!("{label}.rem"), outcome, &mut got);
    }
    for (label, raw) in &rem_outputs {
        let outcome = rt.block_on(to_pec::translate(&cx, raw, &at_when));
        outputs(&format!("{label}.pec"), outcome, &mut got);
    }
    for name in ["crlf", "lf"] {
        let raw = read(&corpus_file(&format!(
            "pec/real/namirial-busta-trasporto-2024.{name}.eml"
        )));
        let outcome = rt.block_on(to_rem::translate(&cx, &raw, &at_signing));
        outputs(&format!("namirial.{name}.rem"), outcome, &mut got);
    }
    for p in kit_messages() {
        let raw = read(&p);
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let outcome = rt.block_on(to_pec::translate(&cx, &raw, &at_signing));
        outputs(&format!("kit.{name}.pec"), outcome, &mut got);
    }
    if std::env::var_os("PONTE_PIN_PRINT").is_some() {
        for (l, h) in &got {
            println!("    (\"{l}\", \"{h}\"),");
        }
    }
    let want: Vec<(String, String)> = PINNED
        .iter()
        .map(|(l, h)| (l.to_string(), h.to_string()))
        .collect();
    let differ: Vec<String> = got
        .iter()
        .zip(want.iter())
        .filter(|(g, w)| g != w)
        .map(|(g, w)| format!("{}: got {}, pinned {} ({})", g.0, g.1, w.1, w.0))
        .collect();
    assert!(
        differ.is_empty() && got.len() == want.len(),
        "{} outputs, {} pinned; differing: {differ:#?}",
        got.len(),
        want.len()
    );
}
