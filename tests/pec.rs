//! End-to-end tests: pec. Reading the real and fixture PEC messages of the shared corpus,
//! building every message type and reading it back, daticert against the DTD with xmllint.

mod common;

use common::{corpus_file, have};
use ponte::mappings::Tables;
use ponte::pec::build::{
    self, About, AnomalyInput, EnvelopeInput, ReceiptInput, ReceiptKind, SequenceIdentifiers,
};
use ponte::pec::{
    Daticert, Errore, Kind, PecMessage, Provider, Ricevuta, TipoDaticert, TipoDestinatario,
    TipoRicevuta, classify,
};
use std::process::Command;
use time::macros::datetime;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(corpus_file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// Reading the corpus

fn check_java_fixture(eml: &str, xml: &str, kind: Kind, tipo: TipoDaticert) -> Daticert {
    let raw = read(eml);
    let m = PecMessage::parse(&raw).expect("fixture parses");
    assert_eq!(m.kind(), &kind);
    assert!(
        !m.signature_present(),
        "the anonymised fixtures have no smime.p7s"
    );
    assert!(
        m.signed_entity().is_some(),
        "multipart/signed with its first part only"
    );
    let d = m.daticert().expect("daticert present").clone();
    assert_eq!(d.tipo, tipo);
    let beside = Daticert::parse(&read(xml)).expect("beside daticert parses");
    assert_eq!(
        d, beside,
        "daticert of the message = the .daticert.xml beside it"
    );
    assert_eq!(m.daticert_agrees(), Some(true));
    assert!(m.text().is_some_and(|t| t.contains("Identificativo")));
    d
}

#[test]
fn java_pec_parser_accettazione() {
    let d = check_java_fixture(
        "pec/fixtures/java-pec-parser.accettazione.unsigned.eml",
        "pec/fixtures/java-pec-parser.accettazione.daticert.xml",
        Kind::Accettazione,
        TipoDaticert::Accettazione,
    );
    assert_eq!(d.errore, Errore::Nessuno);
    assert_eq!(d.mittente, "sender@fakepec.it");
    assert_eq!(d.destinatari.len(), 1);
    assert_eq!(d.destinatari[0].address, "rec@fakepec.it");
    assert_eq!(d.destinatari[0].tipo, TipoDestinatario::Certificato);
    assert_eq!(d.oggetto.as_deref(), Some("Test PEC"));
    assert_eq!(
        d.msgid.as_deref(),
        Some("<SN05IE$951DEC16C1CFD3E4FD8FF1B1D24A99AE@fakepec.it>")
    );
    assert_eq!(d.data_rfc3339(), "2024-11-15T18:20:38+01:00");
    assert_eq!(
        d.identificativo,
        "opec210312.20241115182038.288127.606.1.53@fakepec.it"
    );
}

#[test]
fn java_pec_parser_errore_consegna_with_stray_text() {
    let d = check_java_fixture(
        "pec/fixtures/java-pec-parser.consegna.unsigned.eml",
        "pec/fixtures/java-pec-parser.consegna.daticert.xml",
        Kind::ErroreConsegna { virus: false },
        TipoDaticert::ErroreConsegna,
    );
    assert_eq!(d.errore, Errore::NoDest);
    assert_eq!(
        d.risposte, "sender@fakepec.it",
        "the stray `a` after </risposte> is not part of it"
    );
    assert_eq!(d.consegna.as_deref(), Some("rec@fakepec.it"));
    assert_eq!(
        d.errore_esteso.as_deref(),
        Some("5.1.1 - FAKE Pec S.p.A. - indirizzo non valido")
    );
    assert_eq!(d.data_rfc3339(), "2024-11-15T18:21:03+01:00");
}

fn check_namirial(rel: &str) {
    let raw = read(rel);
    let m = PecMessage::parse(&raw).expect("Namirial envelope parses");
    assert_eq!(m.kind(), &Kind::BustaTrasporto);
    assert!(m.signature_present());
    assert_eq!(
        m.message_id(),
        Some("<opec21192.20241205000210.24820.46.1.184@sicurezzapostale.it>")
    );
    assert_eq!(
        m.riferimento_message_id(),
        Some("<2839ed57-e664-4020-bb69-6a8cb92d05a6@email.android.com>")
    );
    assert_eq!(m.from(), Some("posta-certificata@sicurezzapostale.it"));
    assert_eq!(m.subject(), Some("POSTA CERTIFICATA: Norah Colly"));
    assert_eq!(m.to().len(), 7);
    let d = m.daticert().expect("daticert");
    assert_eq!(d.tipo, TipoDaticert::PostaCertificata);
    assert_eq!(d.destinatari.len(), 7);
    assert!(
        d.destinatari
            .iter()
            .all(|r| r.tipo == TipoDestinatario::Esterno)
    );
    assert_eq!(
        d.msgid.as_deref(),
        Some("<2839ed57-e664-4020-bb69-6a8cb92d05a6@email.android.com>")
    );
    assert_eq!(d.data_rfc3339(), "2024-12-05T00:02:10+01:00");
    assert_eq!(d.ricevuta, Some(TipoRicevuta::Completa));
    assert_eq!(
        d,
        &Daticert::parse(&read("pec/real/namirial-busta-trasporto-2024.daticert.xml")).unwrap()
    );

    // postacert.eml, located independently: after the blank line that ends the part headers
    // following `filename="postacert.eml"`, up to the line break before the closing delimiter.
    let nl: &[u8] = if raw.contains(&b'\r') { b"\r\n" } else { b"\n" };
    let name = find(&raw, b"filename=\"postacert.eml\"").expect("postacert part");
    let blank = [nl, nl].concat();
    let start = name + find(&raw[name..], &blank).unwrap() + blank.len();
    let close = [nl, b"------------=_1733353330-24820-178--".as_slice()].concat();
    let end = start + find(&raw[start..], &close).unwrap();
    assert_eq!(
        m.postacert_raw(),
        Some(&raw[start..end]),
        "postacert.eml byte-exact"
    );
    let inner = m.postacert().expect("postacert").expect("postacert parses");
    assert_eq!(inner.kind(), &Kind::Mail);
    assert_eq!(inner.subject(), Some("Norah Colly"));
    assert_eq!(inner.riferimento_message_id(), d.msgid.as_deref());

    // The signed entity: from `Content-Type: multipart/mixed` to the inner closing delimiter line.
    let signed = m.signed_entity().unwrap();
    assert!(signed.starts_with(b"Content-Type: multipart/mixed;"));
    assert!(
        signed.ends_with(
            [b"------------=_1733353330-24820-178--", nl]
                .concat()
                .as_slice()
        )
    );
}

#[test]
fn namirial_envelope_crlf() {
    check_namirial("pec/real/namirial-busta-trasporto-2024.crlf.eml");
}

#[test]
fn namirial_envelope_lf() {
    check_namirial("pec/real/namirial-busta-trasporto-2024.lf.eml");
}

#[test]
fn namirial_signed_entity_alone_parses_as_pec_parts() {
    let raw = read("pec/real/namirial-busta-trasporto-2024.crlf.eml");
    let whole = PecMessage::parse(&raw).unwrap();
    let signed = whole.signed_entity().unwrap();
    let inner = PecMessage::parse(signed).unwrap();
    assert_eq!(
        inner.kind(),
        &Kind::Mail,
        "the inner entity has no PEC headers"
    );
    assert_eq!(inner.daticert(), whole.daticert());
    assert_eq!(inner.postacert_raw(), whole.postacert_raw());
}

#[test]
fn php_pec_postacert_fixtures() {
    for name in ["plain", "html", "newline", "plain_and_html"] {
        let raw = read(&format!("pec/fixtures/php-pec.postacert.{name}.eml"));
        let m = PecMessage::parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            m.kind(),
            &Kind::Mail,
            "{name}: a postacert.eml is the user's message"
        );
        assert_eq!(
            m.message_id(),
            Some("<opec_messageid@pec.example.server.com>"),
            "{name}"
        );
        assert!(
            m.riferimento_message_id()
                .is_some_and(|r| r.ends_with("JavaMail.root@drlinux0c.pec.example.server.com>")),
            "{name}: {:?}",
            m.riferimento_message_id()
        );
        assert!(
            m.subject().is_some_and(|s| s.starts_with("Test message")),
            "{name}: {:?}",
            m.subject()
        );
        assert!(m.daticert().is_none());
    }
}

// ---------------------------------------------------------------------------------------------
// daticert hardening and quirks

#[test]
fn daticert_doctype_is_refused() {
    let xml = br#"<?xml version="1.0"?><!DOCTYPE postacert SYSTEM "daticert.dtd"><postacert tipo="accettazione"/>"#;
    let e = Daticert::parse(xml).unwrap_err();
    assert!(matches!(e, ponte::pec::Error::DaticertDoctype), "{e}");
}

#[test]
fn daticert_external_entity_is_refused() {
    let xml = br#"<?xml version="1.0"?>
<!DOCTYPE postacert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<postacert tipo="accettazione"><intestazione><mittente>&xxe;</mittente></intestazione></postacert>"#;
    let e = Daticert::parse(xml).unwrap_err();
    assert!(matches!(e, ponte::pec::Error::DaticertDoctype), "{e}");
    // Without the DOCTYPE the reference is undeclared: refused, named.
    let xml = br#"<postacert tipo="accettazione"><intestazione><mittente>&xxe;</mittente></intestazione></postacert>"#;
    let e = Daticert::parse(xml).unwrap_err();
    assert!(
        matches!(&e, ponte::pec::Error::DaticertEntity(n) if n == "xxe"),
        "{e}"
    );
    assert!(e.to_string().contains("&xxe;"));
}

#[test]
fn daticert_billion_laughs_is_refused() {
    let xml = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<postacert tipo="accettazione"><intestazione><mittente>&lol3;</mittente></intestazione></postacert>"#;
    assert!(matches!(
        Daticert::parse(xml).unwrap_err(),
        ponte::pec::Error::DaticertDoctype
    ));
}

#[test]
fn daticert_limits_and_malformed() {
    let deep = format!(
        "<postacert tipo=\"accettazione\">{}{}</postacert>",
        "<x>".repeat(40),
        "</x>".repeat(40)
    );
    assert!(matches!(
        Daticert::parse(deep.as_bytes()).unwrap_err(),
        ponte::pec::Error::DaticertTooDeep { .. }
    ));
    let big = vec![b' '; ponte::pec::daticert::MAX_SIZE + 1];
    assert!(matches!(
        Daticert::parse(&big).unwrap_err(),
        ponte::pec::Error::DaticertTooLarge { .. }
    ));
    let e = Daticert::parse(b"<postacert tipo=\"accettazione\"><dati></postacert>").unwrap_err();
    assert!(
        matches!(e, ponte::pec::Error::DaticertMalformed { .. }),
        "{e}"
    );
    let e = Daticert::parse(b"<other/>").unwrap_err();
    assert!(e.to_string().contains("`other`"), "{e}");
    let e = Daticert::parse(b"<postacert tipo=\"accettazione\"><intestazione><mittente>a</mittente></intestazione></postacert>").unwrap_err();
    assert!(matches!(e, ponte::pec::Error::DaticertMissing(_)), "{e}");
}

#[test]
fn daticert_quirks_are_tolerated() {
    // Element order varied, stray text, missing oggetto and risposte, `<ricevuta tipo="breve" />`,
    // character references, unknown tipo and errore values carried.
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<postacert errore="nuovo-errore" tipo="tipo-futuro">
  <dati>
    <ricevuta tipo="breve" />
    <identificativo>id@x.it</identificativo>
    <data zona="+0200"><ora>12:00:00</ora><giorno>01/07/2025</giorno></data>
    <gestore-emittente>Gestore &amp; C. &#8364;</gestore-emittente>
    <msgid>&lt;abc@x&gt;</msgid>
  </dati>
  stray
  <intestazione><destinatari tipo="certificato">b@x.it</destinatari>garbage<mittente>a@x.it</mittente></intestazione>
</postacert>"#;
    let d = Daticert::parse(xml.as_bytes()).unwrap();
    assert_eq!(d.tipo, TipoDaticert::Other("tipo-futuro".into()));
    assert_eq!(d.errore, Errore::Other("nuovo-errore".into()));
    assert_eq!(d.ricevuta, Some(TipoRicevuta::Breve));
    assert_eq!(d.gestore_emittente, "Gestore & C. €");
    assert_eq!(d.msgid.as_deref(), Some("<abc@x>"));
    assert_eq!(d.oggetto, None);
    assert_eq!(d.risposte, "");
    assert_eq!(d.data_rfc3339(), "2025-07-01T12:00:00+02:00");
    // Written back in DTD order and read again: the same model.
    assert_eq!(Daticert::parse(&d.to_xml()).unwrap(), d);
}

#[test]
fn unknown_x_ricevuta_is_carried() {
    let raw = b"From: a@b.it\r\nX-Ricevuta: mancata-consegna\r\nSubject: x\r\n\r\nbody\r\n";
    let m = PecMessage::parse(raw).unwrap();
    assert_eq!(m.kind(), &Kind::OtherRicevuta("mancata-consegna".into()));
    assert_eq!(
        m.classification().ricevuta,
        Some(Ricevuta::Other("mancata-consegna".into()))
    );
    let (_, k) = classify(raw).unwrap();
    assert_eq!(k.name(), "mancata-consegna");
}

// ---------------------------------------------------------------------------------------------
// Building

/// The subject prefix of `key` in the compiled-in tables (as the CLI takes it).
fn prefix(key: &str) -> String {
    let tables = Tables::builtin().expect("compiled-in tables");
    tables
        .pec_subject_prefix(key)
        .unwrap_or_else(|| panic!("no subject prefix for {key}"))
        .to_owned()
}

fn provider() -> Provider {
    Provider {
        name: "Ponte Test S.p.A.".into(),
        domain: "pec.ponte.test".into(),
    }
}

fn ids() -> SequenceIdentifiers {
    SequenceIdentifiers {
        seed: "t0".into(),
        next: 1,
    }
}

const ORIGINAL: &str = "From: \"Mario Rossi\" <mario.rossi@pec.ponte.test>\n\
To: anna@pec.altro.test, ext@example.org\n\
Cc: luca@pec.altro.test\n\
Subject: =?UTF-8?Q?Fattura_n=C2=B0_12_=E2=80=93_citt=C3=A0?=\n\
Date: Mon, 1 Dec 2025 10:00:00 +0100\n\
Message-ID: <orig-1@client.test>\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"b1\"\n\
\n\
--b1\n\
Content-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: 8bit\n\
\n\
Buongiorno, in allegato la fattura. Perché no?\n\
--b1\n\
Content-Type: application/pdf; name=\"fattura.pdf\"\n\
Content-Disposition: attachment; filename=\"fattura.pdf\"\n\
Content-Transfer-Encoding: base64\n\
\n\
JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==\n\
--b1--\n";

fn envelope() -> ponte::pec::Built {
    let external = vec!["ext@example.org".to_string()];
    let input = EnvelopeInput {
        original: ORIGINAL.as_bytes(),
        provider: &provider(),
        external: &external,
        at: datetime!(2025-12-01 09:00:05 UTC),
        subject_prefix: &prefix(build::SUBJECT_KEY_ENVELOPE),
        extra_parts: &[],
    };
    build::envelope(&input, &mut ids()).expect("envelope builds")
}

fn receipt(
    kind: ReceiptKind,
    about: &[u8],
    errore: Errore,
    detail: Option<&str>,
    ricevuta: TipoRicevuta,
) -> ponte::pec::Built {
    let p = Provider {
        name: "Altro Gestore S.p.A.".into(),
        domain: "pec.altro.test".into(),
    };
    let subject_prefix = prefix(kind.subject_key(&errore));
    let input = ReceiptInput {
        kind,
        about: About::Message(about),
        provider: &p,
        recipient: Some("anna@pec.altro.test"),
        errore,
        detail,
        ricevuta,
        external: &[],
        to: None,
        at: datetime!(2025-07-01 10:00:00 UTC),
        subject_prefix: &subject_prefix,
        extra_parts: &[],
    };
    build::receipt(
        &input,
        &mut SequenceIdentifiers {
            seed: "r".into(),
            next: 7,
        },
    )
    .expect("receipt builds")
}

/// Checks a built message: CRLF only, classifies back to its kind, daticert reads back to the
/// same model, headers as the table of pec.md §1.2 says; returns the assembled message.
fn check_built(b: &ponte::pec::Built) -> Vec<u8> {
    assert!(b.inner.starts_with(b"Content-Type: multipart/mixed;"));
    assert!(b.inner.ends_with(b"--\r\n"));
    let msg = b.unsigned_message();
    for (i, &c) in msg.iter().enumerate() {
        if c == b'\n' {
            assert_eq!(msg.get(i.wrapping_sub(1)), Some(&b'\r'), "bare LF at {i}");
        }
    }
    let m = PecMessage::parse(&msg).expect("built message parses");
    assert_eq!(m.kind(), &b.kind, "classifies back");
    assert_eq!(m.daticert(), b.daticert.as_ref(), "daticert reads back");
    assert_eq!(m.message_id(), Some(format!("<{}>", b.identifier).as_str()));
    assert!(b.identifier.ends_with("@pec.ponte.test") || b.identifier.ends_with("@pec.altro.test"));
    assert!(
        m.from()
            .is_some_and(|f| f.starts_with("posta-certificata@"))
    );
    let inner = PecMessage::parse(&b.inner).expect("inner entity parses alone");
    assert_eq!(inner.daticert(), b.daticert.as_ref());
    if let Some(d) = &b.daticert {
        assert_eq!(m.daticert_agrees(), Some(true));
        xmllint_valid(&d.to_xml());
        assert!(m.text().is_some_and(|t| t.contains(&d.identificativo)));
    }
    msg
}

fn xmllint_valid(xml: &[u8]) {
    if !have("xmllint") {
        eprintln!("xmllint not installed: DTD validation skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("daticert.xml");
    std::fs::write(&file, xml).unwrap();
    let dtd = common::repo().join("gateway/src/pec/daticert.dtd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--dtdvalid")
        .arg(&dtd)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xmllint: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
}

#[test]
fn real_daticert_files_validate_against_the_dtd() {
    for f in [
        "pec/real/namirial-busta-trasporto-2024.daticert.xml",
        "pec/fixtures/java-pec-parser.accettazione.daticert.xml",
    ] {
        xmllint_valid(&read(f));
    }
}

#[test]
fn build_envelope() {
    let b = envelope();
    let msg = check_built(&b);
    assert_eq!(
        b.header("X-Trasporto").as_deref(),
        Some("posta-certificata")
    );
    assert_eq!(
        b.header("X-Riferimento-Message-ID").as_deref(),
        Some("<orig-1@client.test>")
    );
    assert_eq!(
        b.header("From").as_deref(),
        Some("\"Per conto di: mario.rossi@pec.ponte.test\" <posta-certificata@pec.ponte.test>")
    );
    assert_eq!(
        b.header("Reply-To").as_deref(),
        Some("mario.rossi@pec.ponte.test")
    );
    assert_eq!(
        b.header("Date").as_deref(),
        Some("Mon, 1 Dec 2025 10:00:05 +0100")
    );
    assert_eq!(b.identifier, "ponte.20251201100005.t0.1@pec.ponte.test");
    let m = PecMessage::parse(&msg).unwrap();
    assert_eq!(
        m.subject(),
        Some("POSTA CERTIFICATA: Fattura n° 12 – città")
    );
    let d = m.daticert().unwrap();
    assert_eq!(d.oggetto.as_deref(), Some("Fattura n° 12 – città"));
    assert_eq!(d.msgid.as_deref(), Some("<orig-1@client.test>"));
    assert_eq!(d.data_rfc3339(), "2025-12-01T10:00:05+01:00");
    let tipi: Vec<(&str, &TipoDestinatario)> = d
        .destinatari
        .iter()
        .map(|r| (r.address.as_str(), &r.tipo))
        .collect();
    assert_eq!(
        tipi,
        vec![
            ("anna@pec.altro.test", &TipoDestinatario::Certificato),
            ("ext@example.org", &TipoDestinatario::Esterno),
            ("luca@pec.altro.test", &TipoDestinatario::Certificato),
        ]
    );
    // postacert.eml: the original (CRLF) with Message-ID replaced and moved (pec.md §1.4).
    let post = m.postacert().unwrap().unwrap();
    assert_eq!(
        post.message_id(),
        Some(format!("<{}>", b.identifier).as_str())
    );
    assert_eq!(post.riferimento_message_id(), Some("<orig-1@client.test>"));
    let body_at = find(ORIGINAL.as_bytes(), b"\n\n").unwrap();
    let body = common::to_crlf(&ORIGINAL.as_bytes()[body_at + 2..]);
    assert!(
        m.postacert_raw().unwrap().ends_with(&body),
        "original body carried verbatim"
    );
}

/// kind, errore, detail, ricevuta, subject prefix, X-VerificaSicurezza.
type Case = (
    ReceiptKind,
    Errore,
    Option<&'static str>,
    TipoRicevuta,
    &'static str,
    Option<&'static str>,
);

#[test]
fn build_every_receipt() {
    let env = envelope().unsigned_message();
    let cases: Vec<Case> = vec![
        (
            ReceiptKind::Accettazione,
            Errore::Nessuno,
            None,
            TipoRicevuta::Completa,
            "ACCETTAZIONE: ",
            None,
        ),
        (
            ReceiptKind::NonAccettazione,
            Errore::Altro,
            Some("5.7.0 - x - formale"),
            TipoRicevuta::Completa,
            "AVVISO DI NON ACCETTAZIONE: ",
            None,
        ),
        (
            ReceiptKind::NonAccettazione,
            Errore::Virus,
            None,
            TipoRicevuta::Completa,
            "AVVISO DI NON ACCETTAZIONE PER VIRUS: ",
            Some("errore"),
        ),
        (
            ReceiptKind::PresaInCarico,
            Errore::Nessuno,
            None,
            TipoRicevuta::Completa,
            "PRESA IN CARICO: ",
            None,
        ),
        (
            ReceiptKind::AvvenutaConsegna,
            Errore::Nessuno,
            None,
            TipoRicevuta::Completa,
            "CONSEGNA: ",
            None,
        ),
        (
            ReceiptKind::AvvenutaConsegna,
            Errore::Nessuno,
            None,
            TipoRicevuta::Breve,
            "CONSEGNA: ",
            None,
        ),
        (
            ReceiptKind::AvvenutaConsegna,
            Errore::Nessuno,
            None,
            TipoRicevuta::Sintetica,
            "CONSEGNA: ",
            None,
        ),
        (
            ReceiptKind::ErroreConsegna,
            Errore::NoDest,
            None,
            TipoRicevuta::Completa,
            "AVVISO DI MANCATA CONSEGNA: ",
            None,
        ),
        (
            ReceiptKind::ErroreConsegna,
            Errore::Virus,
            None,
            TipoRicevuta::Completa,
            "AVVISO DI MANCATA CONSEGNA PER VIRUS: ",
            Some("errore"),
        ),
        (
            ReceiptKind::PreavvisoErroreConsegna,
            Errore::Altro,
            None,
            TipoRicevuta::Completa,
            "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ",
            None,
        ),
        (
            ReceiptKind::PreavvisoErroreConsegna,
            Errore::Altro,
            Some("5.4.1 - Gestore - superamento tempi massimi"),
            TipoRicevuta::Completa,
            "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ",
            None,
        ),
        (
            ReceiptKind::RilevazioneVirus,
            Errore::Virus,
            None,
            TipoRicevuta::Completa,
            "PROBLEMA DI SICUREZZA: ",
            None,
        ),
    ];
    let env_msg = PecMessage::parse(&env).unwrap();
    let env_d = env_msg.daticert().unwrap().clone();
    for (kind, errore, detail, ricevuta, prefix, verifica) in cases {
        let b = receipt(kind, &env, errore.clone(), detail, ricevuta.clone());
        let what = format!("{kind:?} {errore} {ricevuta}");
        let msg = check_built(&b);
        let m = PecMessage::parse(&msg).unwrap();
        let d = m.daticert().unwrap();
        assert_eq!(d.tipo, kind.tipo(), "{what}");
        assert_eq!(
            b.header("X-Ricevuta").as_deref(),
            Some(kind.tipo().as_str()),
            "{what}"
        );
        assert_eq!(
            b.header("X-Riferimento-Message-ID").as_deref(),
            Some("<orig-1@client.test>"),
            "{what}"
        );
        assert_eq!(
            b.header("X-VerificaSicurezza").as_deref(),
            verifica,
            "{what}"
        );
        assert_eq!(
            b.header("From").as_deref(),
            Some("posta-certificata@pec.altro.test"),
            "{what}"
        );
        assert!(
            m.subject()
                .is_some_and(|s| s == format!("{prefix}Fattura n° 12 – città")),
            "{what}: {:?}",
            m.subject()
        );
        // The facts of the original come from the envelope's daticert.
        assert_eq!(d.identificativo, env_d.identificativo, "{what}");
        assert_eq!(d.msgid, env_d.msgid, "{what}");
        assert_eq!(d.destinatari, env_d.destinatari, "{what}");
        assert_eq!(d.gestore_emittente, "Altro Gestore S.p.A.");
        assert_eq!(
            d.data_rfc3339(),
            "2025-07-01T12:00:00+02:00",
            "CEST in July"
        );
        let to_provider = matches!(
            kind,
            ReceiptKind::PresaInCarico | ReceiptKind::RilevazioneVirus
        );
        let expected_to = if to_provider {
            "posta-certificata@pec.ponte.test"
        } else {
            "mario.rossi@pec.ponte.test"
        };
        assert_eq!(m.to(), [expected_to.to_string()], "{what}");
        match kind {
            ReceiptKind::AvvenutaConsegna => {
                assert_eq!(
                    b.header("X-TipoRicevuta").as_deref(),
                    Some(ricevuta.as_str())
                );
                assert_eq!(d.consegna.as_deref(), Some("anna@pec.altro.test"));
                assert_eq!(d.ricevuta.as_ref(), Some(&ricevuta));
                match ricevuta {
                    TipoRicevuta::Completa => assert_eq!(
                        m.postacert_raw(),
                        env_msg.postacert_raw(),
                        "completa carries the original"
                    ),
                    TipoRicevuta::Breve => {
                        let post = m.postacert().unwrap().unwrap();
                        let raw = post.raw();
                        assert!(
                            find(raw, b"JVBERi0xLjQK").is_none(),
                            "attachment content removed"
                        );
                        assert!(
                            find(raw, "Perché no?".as_bytes()).is_some(),
                            "text body kept"
                        );
                        let pdf = base64_decode(
                            "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==",
                        );
                        let hex: String = ring::digest::digest(&ring::digest::SHA256, &pdf)
                            .as_ref()
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect();
                        assert!(
                            find(raw, hex.as_bytes()).is_some(),
                            "SHA-256 of the attachment present"
                        );
                        assert!(find(raw, b"fattura.pdf.sha256.txt").is_some());
                    }
                    _ => assert!(m.postacert_raw().is_none(), "sintetica carries no original"),
                }
            }
            ReceiptKind::ErroreConsegna => {
                assert_eq!(d.consegna.as_deref(), Some("anna@pec.altro.test"));
                assert!(
                    d.errore_esteso
                        .as_deref()
                        .is_some_and(|e| e.starts_with("5."))
                );
                assert!(m.postacert_raw().is_none());
            }
            ReceiptKind::PresaInCarico => {
                assert_eq!(d.ricezione, vec!["anna@pec.altro.test".to_string()])
            }
            ReceiptKind::PreavvisoErroreConsegna => {
                let last = detail.is_some();
                assert_eq!(
                    m.kind(),
                    &Kind::PreavvisoErroreConsegna { final_notice: last }
                );
                assert_eq!(d.is_final_timeout(), last);
            }
            _ => assert!(m.postacert_raw().is_none(), "{what}"),
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn build_anomaly_around_a_bounced_pec() {
    let env = envelope().unsigned_message();
    let b = build::anomaly(
        &AnomalyInput {
            received: &env,
            provider: &provider(),
            at: datetime!(2025-12-01 09:10:00 UTC),
            subject_prefix: &prefix(build::SUBJECT_KEY_ANOMALY),
            extra_parts: &[],
        },
        &mut ids(),
    )
    .unwrap();
    let msg = check_built(&b);
    assert_eq!(b.header("X-Trasporto").as_deref(), Some("errore"));
    let m = PecMessage::parse(&msg).unwrap();
    assert_eq!(m.kind(), &Kind::BustaAnomalia);
    assert!(
        m.daticert().is_none(),
        "the anomaly envelope has no daticert of its own"
    );
    assert!(
        m.subject()
            .is_some_and(|s| s.starts_with("ANOMALIA MESSAGGIO: POSTA CERTIFICATA: "))
    );
    let inner = m.postacert().unwrap().unwrap();
    assert_eq!(
        inner.kind(),
        &Kind::BustaTrasporto,
        "the bounced PEC inside"
    );
    assert_eq!(inner.raw(), env.as_slice(), "carried verbatim");
    assert_eq!(
        inner.daticert().unwrap().msgid.as_deref(),
        Some("<orig-1@client.test>")
    );
}

#[test]
fn nested_pec_two_levels() {
    // A PEC envelope forwarded as the original of another envelope.
    let first = envelope().unsigned_message();
    let mut forwarded = b"From: anna@pec.altro.test\r\nTo: zoe@pec.terzo.test\r\nSubject: Fwd\r\nMessage-ID: <fwd-1@client.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"fw\"\r\n\r\n--fw\r\nContent-Type: text/plain\r\n\r\nvedi sotto\r\n--fw\r\nContent-Type: message/rfc822; name=\"postacert.eml\"\r\nContent-Disposition: attachment; filename=\"postacert.eml\"\r\n\r\n".to_vec();
    forwarded.extend_from_slice(&first);
    forwarded.extend_from_slice(b"\r\n--fw--\r\n");
    let p = Provider {
        name: "Altro Gestore S.p.A.".into(),
        domain: "pec.altro.test".into(),
    };
    let input = EnvelopeInput {
        original: &forwarded,
        provider: &p,
        external: &[],
        at: datetime!(2025-12-02 08:00:00 UTC),
        subject_prefix: &prefix(build::SUBJECT_KEY_ENVELOPE),
        extra_parts: &[],
    };
    let second = build::envelope(
        &input,
        &mut SequenceIdentifiers {
            seed: "n".into(),
            next: 1,
        },
    )
    .unwrap();
    let msg = check_built(&second);
    let outer = PecMessage::parse(&msg).unwrap();
    assert_eq!(outer.kind(), &Kind::BustaTrasporto);
    let level1 = outer.postacert().unwrap().unwrap();
    assert_eq!(level1.kind(), &Kind::Mail, "the forwarding user's message");
    assert_eq!(level1.riferimento_message_id(), Some("<fwd-1@client.test>"));
    let level2 = level1.postacert().unwrap().unwrap();
    assert_eq!(
        level2.kind(),
        &Kind::BustaTrasporto,
        "the forwarded PEC envelope"
    );
    assert_eq!(level2.raw(), first.as_slice());
    assert_eq!(
        level2.daticert().unwrap().msgid.as_deref(),
        Some("<orig-1@client.test>")
    );
    let level3 = level2.postacert().unwrap().unwrap();
    assert_eq!(
        level3.riferimento_message_id(),
        Some("<orig-1@client.test>")
    );
}

#[test]
fn receipt_needs_a_recipient_among_several() {
    let env = envelope().unsigned_message();
    let p = provider();
    let input = ReceiptInput {
        kind: ReceiptKind::AvvenutaConsegna,
        about: About::Message(&env),
        provider: &p,
        recipient: None,
        errore: Errore::Nessuno,
        detail: None,
        ricevuta: TipoRicevuta::Completa,
        external: &[],
        to: None,
        at: datetime!(2025-07-01 10:00:00 UTC),
        subject_prefix: "CONSEGNA: ",
        extra_parts: &[],
    };
    let e = build::receipt(&input, &mut ids()).unwrap_err();
    assert!(e.to_string().contains("recipient"), "{e}");
}

#[test]
fn accettazione_from_a_plain_original() {
    let b = receipt(
        ReceiptKind::Accettazione,
        ORIGINAL.as_bytes(),
        Errore::Nessuno,
        None,
        TipoRicevuta::Completa,
    );
    check_built(&b);
    let d = b.daticert.as_ref().unwrap();
    assert_eq!(d.mittente, "mario.rossi@pec.ponte.test");
    assert_eq!(d.msgid.as_deref(), Some("<orig-1@client.test>"));
    assert_eq!(d.destinatari.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// The inner entity is what gets signed: OpenSSL, as an independent signer, signs it; the
// result verifies with OpenSSL and reads back with the signed entity byte-identical.

fn openssl_sign_and_check(b: &ponte::pec::Built) {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("inner.eml");
    std::fs::write(&inner, &b.inner).unwrap();
    let signed = dir.path().join("signed.eml");
    let out = Command::new("openssl")
        // -binary: the entity is signed as given (it is CRLF already). OpenSSL then writes its
        // own multipart/signed lines with LF, which readers must tolerate.
        .args(["cms", "-sign", "-binary", "-md", "sha256"])
        .arg("-in")
        .arg(&inner)
        .arg("-signer")
        .arg(common::pki("pec-rsa.pem"))
        .arg("-inkey")
        .arg(common::pki("pec-rsa.key.pem"))
        .arg("-certfile")
        .arg(common::pki("provider-ca.pem"))
        .arg("-out")
        .arg(&signed)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Our outer headers in front of OpenSSL's multipart/signed.
    let smime = std::fs::read(&signed).unwrap();
    let mut msg = Vec::new();
    for (n, v) in &b.headers {
        assert!(!n.eq_ignore_ascii_case("MIME-Version") && !n.eq_ignore_ascii_case("Content-Type"));
        msg.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    msg.extend_from_slice(&smime);
    let full = dir.path().join("full.eml");
    std::fs::write(&full, &msg).unwrap();
    let out = Command::new("openssl")
        .args(["cms", "-verify", "-binary", "-out", "/dev/null", "-CAfile"])
        .arg(common::pki("root-ca.pem"))
        .arg("-in")
        .arg(&full)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl cms -verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = PecMessage::parse(&msg).unwrap();
    assert!(m.signature_present());
    assert_eq!(m.kind(), &b.kind);
    assert_eq!(
        m.signed_entity(),
        Some(b.inner.as_slice()),
        "signed entity = Built::inner"
    );
    assert_eq!(m.daticert(), b.daticert.as_ref());
}

#[test]
fn openssl_signs_every_built_inner_entity() {
    if !have("openssl") {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let env = envelope();
    openssl_sign_and_check(&env);
    let env_msg = env.unsigned_message();
    let anomaly = build::anomaly(
        &AnomalyInput {
            received: &env_msg,
            provider: &provider(),
            at: datetime!(2025-12-01 09:10:00 UTC),
            subject_prefix: &prefix(build::SUBJECT_KEY_ANOMALY),
            extra_parts: &[],
        },
        &mut ids(),
    )
    .unwrap();
    openssl_sign_and_check(&anomaly);
    for kind in [
        ReceiptKind::Accettazione,
        ReceiptKind::NonAccettazione,
        ReceiptKind::PresaInCarico,
        ReceiptKind::AvvenutaConsegna,
        ReceiptKind::ErroreConsegna,
        ReceiptKind::PreavvisoErroreConsegna,
        ReceiptKind::RilevazioneVirus,
    ] {
        openssl_sign_and_check(&receipt(
            kind,
            &env_msg,
            Errore::Nessuno,
            None,
            TipoRicevuta::Completa,
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Mutation smoke test: the fuzz targets' properties on deterministic mutations of the corpus,
// so `cargo test` catches panics without cargo-fuzz.

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

fn mutate(seed: &[u8], rng: &mut Lcg) -> Vec<u8> {
    let mut v = seed.to_vec();
    const TOKENS: [&[u8]; 8] = [
        b"&",
        b"<",
        b"&#0;",
        b"<!DOCTYPE x>",
        b"\r\n\r\n",
        b"--",
        b"=?UTF-8?B?",
        b"\xff",
    ];
    for _ in 0..1 + rng.next() % 4 {
        if v.is_empty() {
            break;
        }
        let at = rng.next() % v.len();
        match rng.next() % 4 {
            0 => v[at] = (rng.next() % 256) as u8,
            1 => v.truncate(at),
            2 => {
                let t = TOKENS[rng.next() % TOKENS.len()];
                v.splice(at..at, t.iter().copied());
            }
            _ => {
                let end = (at + rng.next() % 64).min(v.len());
                v.drain(at..end);
            }
        }
    }
    v
}

fn walk(m: &PecMessage<'_>) {
    let _ = (
        m.kind().name(),
        m.message_id(),
        m.subject(),
        m.signed_entity(),
        m.daticert_agrees(),
    );
    if let Some(d) = m.daticert() {
        assert_eq!(
            Daticert::parse(&d.to_xml()).as_ref().ok(),
            Some(d),
            "daticert round trip"
        );
    }
    if let Some(Ok(inner)) = m.postacert() {
        walk(&inner);
    }
}

#[test]
fn mutated_corpus_never_panics_and_daticert_round_trips() {
    let mut rng = Lcg(0x5eed);
    let messages = [
        read("pec/real/namirial-busta-trasporto-2024.crlf.eml"),
        read("pec/fixtures/java-pec-parser.consegna.unsigned.eml"),
        envelope().unsigned_message(),
    ];
    for seed in &messages {
        for _ in 0..300 {
            let input = mutate(seed, &mut rng);
            let _ = classify(&input);
            if let Ok(m) = PecMessage::parse(&input) {
                walk(&m);
            }
        }
    }
    let xmls = [
        read("pec/real/namirial-busta-trasporto-2024.daticert.xml"),
        read("pec/fixtures/java-pec-parser.consegna.daticert.xml"),
    ];
    let mut parsed = 0;
    for seed in &xmls {
        for _ in 0..2000 {
            let input = mutate(seed, &mut rng);
            if let Ok(d) = Daticert::parse(&input) {
                parsed += 1;
                assert_eq!(
                    Daticert::parse(&d.to_xml()).unwrap(),
                    d,
                    "round trip of {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
    }
    assert!(
        parsed > 100,
        "mutations too destructive to exercise the round trip: {parsed}"
    );
}
