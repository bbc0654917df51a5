//! `ponte conformance generate [--out DIR] [--check]`: the generated vectors of
//! `conformance/vectors/generated/`, signed with the test PKI (`tests/pki/`, RSA keys only:
//! RSA PKCS#1 v1.5 signatures are deterministic, ECDSA ones are not), at a fixed instant,
//! with fixed identifiers, so that the same command always writes the same bytes. `--check`
//! writes them to a temporary folder and compares (exit 1 and the differing files when the
//! checked-in ones are not what this command makes).
//!
//! What depends on which part of the library (regenerate after a deliberate change there):
//! `pec/*` on `pec::build` and `smime::sign`; `evidence/*` on `translate::evidence::build`,
//! the evidence writer and `xades::sign_b_b`; `rem/*` on those and `rem::message::prepare`
//! and `rem::message::build`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use time::OffsetDateTime;
use time::macros::datetime;

use super::super::{Failure, Outcome};
use ponte::crypto::SigningKey;
use ponte::pec::build::{
    self, About, AnomalyInput, Built, EnvelopeInput, Provider, ReceiptInput, ReceiptKind,
    SequenceIdentifiers,
};
use ponte::pec::{Errore, TipoRicevuta};
use ponte::rem::evidence::{Event, Reason};
use ponte::rem::message::{self as rem, MessageType, RelayMetadata};
use ponte::translate::evidence::{self as ev, EvidenceInput};
use ponte::x509::Certificate;
use ponte_conformance::mutate::{Mutation, apply_all};

/// Arguments of `ponte conformance generate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write (default: `conformance/vectors/generated` of the repository).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The test PKI (default: `tests/pki` of the repository).
    #[arg(long)]
    pub pki: Option<PathBuf>,
    /// Compare with what is in `--out` instead of writing (exit 1 when they differ).
    #[arg(long)]
    pub check: bool,
}

/// The instant of every generated message (10:00 in Rome; the test PKI is valid from
/// 2026-11-24 17:12 UTC).
pub const AT: OffsetDateTime = datetime!(2026-11-25 09:00 UTC);
/// The per-process part of every generated identifier.
pub const SEED: &str = "conformance";

/// The original message the user submits (CRLF).
pub const ORIGINAL: &str = "From: Mario Rossi <mario.rossi@pec.prova.test>\r\n\
To: anna@r2-rems-only-for-test.it\r\n\
Subject: Contratto di prova\r\n\
Message-ID: <orig-1@pec.prova.test>\r\n\
Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=UTF-8\r\n\
\r\n\
Buongiorno, in allegato il contratto.\r\n";

struct Identity {
    key: SigningKey,
    cert: Certificate,
    chain: Vec<Certificate>,
}

fn load(pki: &Path, key: &str, cert: &str, chain: &[&str]) -> Result<Identity, Failure> {
    let key = super::super::load_key(&pki.join(key))?;
    let cert = super::super::load_cert(&pki.join(cert))?;
    let chain = super::super::load_certs(&chain.iter().map(|c| pki.join(c)).collect::<Vec<_>>())?;
    Ok(Identity { key, cert, chain })
}

fn fail(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure(format!("generate {what}: {e}"))
}

/// The files and the manifest line of each: path → (bytes, what it is).
type Files = BTreeMap<String, (Vec<u8>, String)>;

fn put(files: &mut Files, path: &str, bytes: Vec<u8>, what: &str) {
    files.insert(path.to_string(), (bytes, what.to_string()));
}

fn sign(b: &Built, id: &Identity) -> Result<Vec<u8>, Failure> {
    b.sign(&id.key, &id.cert, &id.chain)
        .map_err(|e| fail("signing", e))
}

/// Every generated vector.
pub fn generate(pki: &Path) -> Result<Files, Failure> {
    let pec = load(pki, "pec-rsa.key.pem", "pec-rsa.pem", &["provider-ca.pem"])?;
    let rogue = load(pki, "rogue.key.pem", "rogue.pem", &["rogue-ca.pem"])?;
    let rem_id = load(pki, "rem-rsa.key.pem", "rem-rsa.pem", &["provider-ca.pem"])?;
    let other = load(
        pki,
        "pec-other.key.pem",
        "pec-other.pem",
        &["provider-ca.pem"],
    )?;
    let tables = ponte::mappings::Tables::load(None).map_err(|e| fail("tables", e))?;
    let prefix = |key: &str| -> Result<String, Failure> {
        tables
            .pec_subject_prefix(key)
            .map(str::to_string)
            .ok_or_else(|| fail("tables", format!("no subject prefix {key}")))
    };
    let provider = Provider {
        name: "Gestore Prova S.p.A.".into(),
        domain: "pec.prova.test".into(),
    };
    let mut ids = SequenceIdentifiers {
        seed: SEED.into(),
        next: 1,
    };
    let mut files = Files::new();
    let original = ORIGINAL.as_bytes().to_vec();
    put(
        &mut files,
        "pec/original.eml",
        original.clone(),
        "the user's original message (plain text, CRLF): the input of every PEC message below",
    );

    // The transport envelope and everything about it.
    let envelope = build::envelope(
        &EnvelopeInput {
            original: &original,
            provider: &provider,
            external: &[],
            at: AT,
            subject_prefix: &prefix(build::SUBJECT_KEY_ENVELOPE)?,
            extra_parts: &[],
        },
        &mut ids,
    )
    .map_err(|e| fail("envelope", e))?;
    let env_bytes = sign(&envelope, &pec)?;
    put(
        &mut files,
        "pec/envelope.eml",
        env_bytes.clone(),
        "busta di trasporto, signed by pec-rsa (Gestore Prova S.p.A.)",
    );
    // The variants a gateway must refuse (and the one it accepts from another provider) are
    // built again, each with identifiers of its own (`conformance-rogue.1`, ...): a live
    // gateway is idempotent on the Message-ID, so a variant sharing the envelope's would be
    // answered "already queued" instead of judged (the `smtp://` subject of gateway-smtp.toml).
    let variant = |seed: &str| -> Result<Built, Failure> {
        build::envelope(
            &EnvelopeInput {
                original: &original,
                provider: &provider,
                external: &[],
                at: AT,
                subject_prefix: &prefix(build::SUBJECT_KEY_ENVELOPE)?,
                extra_parts: &[],
            },
            &mut SequenceIdentifiers {
                seed: format!("{SEED}-{seed}"),
                next: 1,
            },
        )
        .map_err(|e| fail("envelope", e))
    };
    put(
        &mut files,
        "pec/envelope.unsigned.eml",
        variant("unsigned")?.unsigned_message(),
        "the same envelope (identifiers of its own) without its signature",
    );
    put(
        &mut files,
        "pec/envelope.rogue.eml",
        sign(&variant("rogue")?, &rogue)?,
        "the same envelope (identifiers of its own) signed by rogue (a CA nobody trusts)",
    );
    put(
        &mut files,
        "pec/envelope.rem-signer.eml",
        sign(&variant("rem-signer")?, &rem_id)?,
        "the same envelope (identifiers of its own) signed by rem-rsa: chains to the test root, but is no PEC provider of the index",
    );
    put(
        &mut files,
        "pec/envelope.other-provider.eml",
        sign(&variant("other-provider")?, &other)?,
        "the same envelope (identifiers of its own) signed by pec-other (Altro Gestore S.p.A., also in the index)",
    );
    for (name, then, what) in [
        (
            "pec/envelope.daticert-no-identificativo.eml",
            vec![Mutation::Replace {
                find: b"identificativo>".to_vec(),
                with: b"identificativ>".to_vec(),
                occurrence: 0,
            }],
            "an envelope whose daticert.xml is malformed (identificativo misspelt), then signed",
        ),
        (
            "pec/envelope.daticert-doctype.eml",
            vec![Mutation::Insert {
                anchor: b"<postacert".to_vec(),
                before: true,
                text: b"<!DOCTYPE postacert [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>".to_vec(),
            }],
            "an envelope whose daticert.xml carries a DOCTYPE with nested entities (an entity bomb), then signed",
        ),
    ] {
        let mut b = envelope.clone();
        b.inner = apply_all(
            &b.inner,
            &[Mutation::Base64Part {
                part: "daticert.xml".into(),
                then,
            }],
        )
        .map_err(|e| fail(name, e))?;
        put(&mut files, name, sign(&b, &pec)?, what);
    }

    let receipts: &[(&str, ReceiptKind, Errore, Option<&str>, TipoRicevuta)] = &[
        (
            "accettazione",
            ReceiptKind::Accettazione,
            Errore::Nessuno,
            None,
            TipoRicevuta::Completa,
        ),
        (
            "non-accettazione",
            ReceiptKind::NonAccettazione,
            Errore::Altro,
            None,
            TipoRicevuta::Completa,
        ),
        (
            "non-accettazione-virus",
            ReceiptKind::NonAccettazione,
            Errore::Virus,
            None,
            TipoRicevuta::Completa,
        ),
        (
            "presa-in-carico",
            ReceiptKind::PresaInCarico,
            Errore::Nessuno,
            None,
            TipoRicevuta::Completa,
        ),
        (
            "avvenuta-consegna",
            ReceiptKind::AvvenutaConsegna,
            Errore::Nessuno,
            None,
            TipoRicevuta::Completa,
        ),
        (
            "avvenuta-consegna-breve",
            ReceiptKind::AvvenutaConsegna,
            Errore::Nessuno,
            None,
            TipoRicevuta::Breve,
        ),
        (
            "avvenuta-consegna-sintetica",
            ReceiptKind::AvvenutaConsegna,
            Errore::Nessuno,
            None,
            TipoRicevuta::Sintetica,
        ),
        (
            "errore-consegna-no-dest",
            ReceiptKind::ErroreConsegna,
            Errore::NoDest,
            None,
            TipoRicevuta::Completa,
        ),
        (
            "errore-consegna-no-dominio",
            ReceiptKind::ErroreConsegna,
            Errore::NoDominio,
            None,
            TipoRicevuta::Completa,
        ),
        (
            "errore-consegna-altro",
            ReceiptKind::ErroreConsegna,
            Errore::Altro,
            None,
            TipoRicevuta::Completa,
        ),
        (
            "errore-consegna-virus",
            ReceiptKind::ErroreConsegna,
            Errore::Virus,
            None,
            TipoRicevuta::Completa,
        ),
        (
            "preavviso-12h",
            ReceiptKind::PreavvisoErroreConsegna,
            Errore::Nessuno,
            None,
            TipoRicevuta::Completa,
        ),
        (
            "preavviso-24h",
            ReceiptKind::PreavvisoErroreConsegna,
            Errore::Nessuno,
            Some("5.4.1 - Gestore Prova S.p.A. - tempo massimo superato"),
            TipoRicevuta::Completa,
        ),
        (
            "rilevazione-virus",
            ReceiptKind::RilevazioneVirus,
            Errore::Virus,
            None,
            TipoRicevuta::Completa,
        ),
    ];
    for (label, kind, errore, detail, ricevuta) in receipts {
        let built = build::receipt(
            &ReceiptInput {
                kind: *kind,
                about: About::Message(&env_bytes),
                provider: &provider,
                recipient: None,
                errore: errore.clone(),
                detail: *detail,
                ricevuta: ricevuta.clone(),
                external: &[],
                to: None,
                at: AT,
                subject_prefix: &prefix(kind.subject_key(errore))?,
                extra_parts: &[],
            },
            &mut ids,
        )
        .map_err(|e| fail(label, e))?;
        put(
            &mut files,
            &format!("pec/{label}.eml"),
            sign(&built, &pec)?,
            &format!("{label} about pec/envelope.eml, signed by pec-rsa"),
        );
    }
    let anomaly = build::anomaly(
        &AnomalyInput {
            received: &original,
            provider: &provider,
            at: AT,
            subject_prefix: &prefix(build::SUBJECT_KEY_ANOMALY)?,
            extra_parts: &[],
        },
        &mut ids,
    )
    .map_err(|e| fail("anomalia", e))?;
    put(
        &mut files,
        "pec/anomalia.eml",
        sign(&anomaly, &pec)?,
        "busta di anomalia around pec/original.eml (received as plain mail), signed by pec-rsa",
    );

    evidences(&mut files, &rem_id)?;
    rem_messages(&mut files, &rem_id)?;
    Ok(files)
}

const RECIPIENT: &str = "anna@r2-rems-only-for-test.it";
const REMS_ID: &str = "conformance.rem.1@rem.prova.test";

fn policies() -> Vec<String> {
    vec![
        "http://uri.etsi.org/19532/v1#/REMbaseline".into(),
        "https://eidas.agid.gov.it/REM/rem-policy-it".into(),
    ]
}

fn xades_signer(id: &Identity) -> Result<ponte::xades::Signer, Failure> {
    ponte::xades::Signer::new(id.key.clone(), id.cert.clone(), id.chain.clone())
        .map_err(|e| fail("XAdES signer", e))
}

fn sign_xml(xml: &[u8], signer: &ponte::xades::Signer, tag: &str) -> Result<Vec<u8>, Failure> {
    ponte::xades::sign_b_b(
        xml,
        signer,
        &ponte::xades::SignOptions {
            signing_time: AT,
            id: Some(tag.into()),
        },
    )
    .map_err(|e| fail(tag, e))
}

/// The unsigned XML of the SubmissionAcceptance (RA01) of the dispatch about `digest_b64`.
fn acceptance_xml(digest_b64: &str, evidence_id: &str) -> Result<String, Failure> {
    let policies = policies();
    let recipients = vec![RECIPIENT.to_string()];
    let model = ev::build(&EvidenceInput {
        event: Event::SubmissionAcceptance,
        reasons: vec![(
            Reason::from_code("RA01").ok_or_else(|| fail("evidence", "no reason RA01"))?,
            Some("Message accepted".into()),
        )],
        evidence_id: evidence_id.into(),
        issuer_name: "Ponte Test REM",
        issuer_country: "IT",
        policies: &policies,
        sender_email: "mario.rossi@pec.prova.test",
        sender_person_id: Some(ponte::translate::identity::person_identifier(
            "IT",
            "IT",
            "mario.rossi@pec.prova.test",
        )),
        sender_assurance: None,
        recipients: &recipients,
        refers_to_recipient: None,
        ua_message_id: "<orig-1@pec.prova.test>",
        rems_message_id: REMS_ID,
        digest_b64,
        submission_time: AT,
        event_time: AT,
        subject: Some("Contratto di prova"),
        untrusted_recipients: &[],
        external_erds_name: None,
        external_system: None,
    })
    .map_err(|e| fail("evidence", e))?;
    model.unsigned().to_xml().map_err(|e| fail("evidence", e))
}

fn text_edit(xml: &str, find: &str, with: &str, name: &str) -> Result<String, Failure> {
    if !xml.contains(find) {
        return Err(fail(name, format!("{find:?} not in the evidence")));
    }
    Ok(xml.replacen(find, with, 1))
}

/// Text between the first `start` and the next `end` (exclusive), with its position.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Result<(usize, &'a str), Failure> {
    let i = s
        .find(start)
        .ok_or_else(|| fail("xsw", format!("no {start:?}")))?
        + start.len();
    let j = s[i..]
        .find(end)
        .ok_or_else(|| fail("xsw", format!("no {end:?} after {start:?}")))?
        + i;
    Ok((i, &s[i..j]))
}

fn evidences(files: &mut Files, rem_id: &Identity) -> Result<(), Failure> {
    let signer = xades_signer(rem_id)?;
    let prepared = rem::prepare_original(ORIGINAL.as_bytes(), &format!("<{REMS_ID}>"))
        .map_err(|e| fail("prepare", e))?;
    let xml = acceptance_xml(
        &prepared.digest_b64,
        "conformance.evidence.1@rem.prova.test",
    )?;
    let signed = sign_xml(xml.as_bytes(), &signer, "sa")?;
    put(
        files,
        "evidence/submission-acceptance.xml",
        signed.clone(),
        "SubmissionAcceptance RA01 about rem/dispatch.eml's original, XAdES-B-B by rem-rsa",
    );
    // Content the model writes, changed before signing: the signature is valid, what it
    // covers is not a valid evidence (or carries values nobody knows).
    let event_uri = "http://uri.etsi.org/19522/Event/SubmissionAcceptance";
    let reason_uri = "http://uri.etsi.org/19522/EventReason/MessageAccepted";
    let (_, event_time) = between(&xml, "<EventTime>", "</EventTime>")?;
    let (_, evidence_identifier) = between(
        &xml,
        "<tns:EvidenceIdentifier>",
        "</tns:EvidenceIdentifier>",
    )?;
    let variants: Vec<(&str, String, &str)> = vec![
        (
            "unknown-event",
            text_edit(
                &xml,
                event_uri,
                "http://example.test/Event/Teleported",
                "unknown-event",
            )?,
            "an event URI of no standard: carried, not fatal",
        ),
        (
            "unknown-reason",
            text_edit(
                &xml,
                reason_uri,
                "urn:example:reason:solar-flare",
                "unknown-reason",
            )?,
            "a reason URI of no standard: carried, not fatal",
        ),
        (
            "two-event-times",
            text_edit(
                &xml,
                &format!("<EventTime>{event_time}</EventTime>"),
                &format!("<EventTime>{event_time}</EventTime><EventTime>{event_time}</EventTime>"),
                "two-event-times",
            )?,
            "EventTime twice (EN 319 522-2 cardinality 1)",
        ),
        (
            "no-evidence-identifier",
            text_edit(
                &xml,
                &format!("<tns:EvidenceIdentifier>{evidence_identifier}</tns:EvidenceIdentifier>"),
                "",
                "no-evidence-identifier",
            )?,
            "no EvidenceIdentifier (cardinality 1)",
        ),
        (
            "no-event-time",
            text_edit(
                &xml,
                &format!("<EventTime>{event_time}</EventTime>"),
                "",
                "no-event-time",
            )?,
            "no EventTime (cardinality 1)",
        ),
    ];
    for (name, text, what) in variants {
        put(
            files,
            &format!("evidence/{name}.xml"),
            sign_xml(text.as_bytes(), &signer, name)?,
            &format!("{what}; XAdES-B-B by rem-rsa"),
        );
    }
    xsw(
        files,
        std::str::from_utf8(&signed).map_err(|e| fail("xsw", e))?,
    )
}

/// Signature-wrapping variants of the signed SubmissionAcceptance: each keeps the signed
/// bytes somewhere and puts a forged evidence where a naive verifier would read it.
fn xsw(files: &mut Files, signed: &str) -> Result<(), Failure> {
    let sig_start = signed
        .find("<ds:Signature")
        .ok_or_else(|| fail("xsw", "no ds:Signature"))?;
    let sig_end = signed
        .find("</ds:Signature>")
        .ok_or_else(|| fail("xsw", "no </ds:Signature>"))?
        + "</ds:Signature>".len();
    let signature = &signed[sig_start..sig_end];
    let root_start = signed
        .find("<tns:Evidence")
        .ok_or_else(|| fail("xsw", "no tns:Evidence root"))?;
    let root_open_end = signed[root_start..]
        .find('>')
        .ok_or_else(|| fail("xsw", "root start tag"))?
        + root_start
        + 1;
    let prolog = &signed[..root_start];
    let root_open = &signed[root_start..root_open_end];
    let body = &signed[root_open_end..sig_start];
    let (_, evidence_id) = between(
        signed,
        "<tns:EvidenceIdentifier>",
        "</tns:EvidenceIdentifier>",
    )?;
    let forged = body.replacen(evidence_id, "forged@attacker.example", 1);
    let (_, sp_id) = between(signed, "<xades:SignedProperties Id=\"", "\"")?;
    let without_sig = format!("{}{}", &signed[..sig_start], &signed[sig_end..]);
    let variants: Vec<(&str, String, &str)> = vec![
        (
            "xsw-content-in-object",
            format!(
                "{prolog}{root_open}{forged}{}</tns:Evidence>",
                signature.replacen(
                    "</ds:Signature>",
                    &format!(
                        "<ds:Object>{root_open}{body}</tns:Evidence></ds:Object></ds:Signature>"
                    ),
                    1
                )
            ),
            "the signed evidence moved into a ds:Object, a forged one as the root",
        ),
        (
            "xsw-wrapper-root",
            format!(
                "{prolog}<Wrapper>{root_open}{forged}</tns:Evidence>{}</Wrapper>",
                &signed[root_start..]
            ),
            "a forged evidence beside the signed one under a new root",
        ),
        (
            "xsw-second-signature",
            format!(
                "{}{}{}",
                &signed[..sig_start],
                signature.replace("ponte-", "copy-ponte-"),
                &signed[sig_start..]
            ),
            "a second ds:Signature (a copy with fresh Ids) inside the evidence",
        ),
        (
            "xsw-id-collision",
            signed.replacen(
                "<tns:EvidenceIdentifier>",
                &format!("<tns:EvidenceIdentifier Id=\"{sp_id}\">"),
                1,
            ),
            "an element of the content carries the SignedProperties Id",
        ),
        (
            "xsw-signature-first",
            without_sig.replacen(root_open, &format!("{root_open}{signature}"), 1),
            "the signature moved to be the first child of the root",
        ),
        (
            "xsw-extra-object",
            signed.replacen(
                "</ds:Signature>",
                &format!(
                    "<ds:Object>{root_open}{forged}</tns:Evidence></ds:Object></ds:Signature>"
                ),
                1,
            ),
            "an extra ds:Object carrying a forged evidence",
        ),
        (
            "xsw-xpointer",
            signed.replacen(&format!("URI=\"#{sp_id}\""), "URI=\"#xpointer(/)\"", 1),
            "the SignedProperties reference retargeted to #xpointer(/)",
        ),
    ];
    for (name, text, what) in variants {
        if text == signed {
            return Err(fail(name, "the variant equals the signed evidence"));
        }
        put(
            files,
            &format!("evidence/{name}.xml"),
            text.into_bytes(),
            &format!("XSW: {what}"),
        );
    }
    Ok(())
}

fn rem_messages(files: &mut Files, rem_id: &Identity) -> Result<(), Failure> {
    let signer = xades_signer(rem_id)?;
    let prepared = rem::prepare_original(ORIGINAL.as_bytes(), &format!("<{REMS_ID}>"))
        .map_err(|e| fail("prepare", e))?;
    let evidence_id = "conformance.evidence.1@rem.prova.test";
    let xml = acceptance_xml(&prepared.digest_b64, evidence_id)?;
    let signed = sign_xml(xml.as_bytes(), &signer, "sa")?;
    let metadata = RelayMetadata {
        metadata_version: rem::METADATA_VERSION.into(),
        message_type: MessageType::Dispatch,
        event: Event::SubmissionAcceptance,
        evidence_id: format!("<{evidence_id}>"),
        reasons: Reason::from_code("RA01").into_iter().collect(),
        digest_algorithm: rem::DIGEST_SHA256.into(),
        digest_value: prepared.digest_b64.clone(),
        ua_message_id: prepared.ua_message_id.clone(),
        md08: "Mario Rossi <mario.rossi@pec.prova.test>".into(),
        applicable_policies: policies(),
        relay_to_non_erds: None,
        relay_date: None,
        other: Vec::new(),
    };
    let to = vec![RECIPIENT.to_string()];
    let intro = "Messaggio REM: in allegato il messaggio originale.\r\n\r\nREM message: the original message is attached.\r\n";
    let build = |original: &[u8], metadata: &RelayMetadata| {
        rem::build(&rem::BuildInput {
            from: "\"On behalf of: mario.rossi@pec.prova.test\" <rem-service@rem.prova.test>",
            to: &to,
            cc: &[],
            reply_to: Some("Mario Rossi <mario.rossi@pec.prova.test>"),
            subject: "REM Dispatch: Contratto di prova",
            message_id: &format!("<{REMS_ID}>"),
            date: AT,
            in_reply_to: None,
            metadata,
            intro_text: intro,
            intro_html: "<!DOCTYPE html>\r\n<html><head><meta charset=\"UTF-8\"><title>REM</title></head><body><p>Messaggio REM.</p><p>REM message.</p></body></html>\r\n",
            original: Some(original.into()),
            original_digest: None,
            evidences: &[("SubmissionAcceptance".to_string(), signed.clone())],
            key: &rem_id.key,
            cert: &rem_id.cert,
            chain: &rem_id.chain,
            signing_time: AT,
        })
    };
    let dispatch = build(&prepared.bytes, &metadata).map_err(|e| fail("rem dispatch", e))?;
    put(
        files,
        "rem/dispatch.eml",
        dispatch,
        "REM dispatch of pec/original.eml with its SubmissionAcceptance (evidence/submission-acceptance.xml), S/MIME by rem-rsa",
    );
    // The original altered after the evidence was made, and the header digest made to agree
    // with it: the message is signed anew, so only the evidence's PartInfo digest tells.
    let altered = String::from_utf8_lossy(&prepared.bytes)
        .replacen("il contratto", "il contratto modificato", 1)
        .into_bytes();
    if altered == prepared.bytes {
        return Err(fail("rem altered", "the original text was not found"));
    }
    let mut md = metadata.clone();
    md.digest_value = rem::prepare::digest_b64(&rem::digest_original(&altered));
    let bad = build(&altered, &md).map_err(|e| fail("rem altered", e))?;
    put(
        files,
        "rem/dispatch.original-altered.eml",
        bad,
        "the dispatch with its original altered after the evidence was issued (REM-DigestValue recomputed, evidence PartInfo digest not), S/MIME by rem-rsa",
    );
    Ok(())
}

fn manifest(files: &Files) -> Vec<u8> {
    let mut m = String::from(
        "# Written by `ponte conformance generate` (gateway/src/cli/conformance/generate.rs):\n\
         # the test PKI of tests/pki (RSA keys), the instant 2026-11-25T10:00:00+01:00, the seed\n\
         # \"conformance\". Do not edit: regenerate, and `ponte conformance generate --check`\n\
         # (run by tests/conformance.rs) proves these files are what the command makes.\n\n",
    );
    for (path, (_, what)) in files {
        m.push_str(&format!("[{:?}]\nwhat = {:?}\n\n", path, what));
    }
    m.into_bytes()
}

fn defaults(a: &Args) -> (PathBuf, PathBuf) {
    let c = super::conformance_dir();
    (
        a.out.clone().unwrap_or_else(|| c.join("vectors/generated")),
        a.pki.clone().unwrap_or_else(|| c.join("../tests/pki")),
    )
}

fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if let Ok(rel) = p.strip_prefix(base) {
                out.push(rel.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Runs the command.
pub fn run(a: Args) -> Outcome {
    let (out, pki) = defaults(&a);
    let mut files = generate(&pki)?;
    let m = manifest(&files);
    files.insert("MANIFEST.toml".into(), (m, String::new()));
    if a.check {
        let mut problems = Vec::new();
        for (path, (bytes, _)) in &files {
            match std::fs::read(out.join(path)) {
                Ok(have) if have == *bytes => {}
                Ok(_) => problems.push(format!("{path}: differs from what generate makes")),
                Err(e) => problems.push(format!("{path}: {e}")),
            }
        }
        for extra in listing(&out) {
            if !files.contains_key(&extra) {
                problems.push(format!("{extra}: not made by generate (remove it)"));
            }
        }
        for p in &problems {
            println!("{}: {p}", out.display());
        }
        if problems.is_empty() {
            println!(
                "{}: {} files, as generate makes them",
                out.display(),
                files.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        println!("regenerate with: cargo run -p ponte -- conformance generate");
        return Ok(ExitCode::from(1));
    }
    for (path, (bytes, _)) in &files {
        let p = out.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Failure::at(parent, e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| Failure::at(&p, e))?;
    }
    for extra in listing(&out) {
        if !files.contains_key(&extra) {
            let p = out.join(&extra);
            std::fs::remove_file(&p).map_err(|e| Failure::at(&p, e))?;
        }
    }
    println!("{}: {} files written", out.display(), files.len());
    Ok(ExitCode::SUCCESS)
}
