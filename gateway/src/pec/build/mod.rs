//! Building PEC messages as a provider would: the transport envelope (busta di trasporto), the
//! anomaly envelope (busta di anomalia) and every receipt and notice of pec.md §1.2.
//!
//! A build returns a [`Built`]: the outer headers and the inner entity to sign (a
//! `multipart/mixed` with CRLF line endings throughout, starting with its `Content-Type`
//! header and ending with the CRLF after its closing delimiter). The `smime` module turns it
//! into the final `multipart/signed` message; [`Built::unsigned_message`] assembles it unsigned
//! for tests. Time is a parameter and identifiers come from an [`IdentifierSource`].
//!
//! Subject prefixes are inputs, not literals: they live in `mappings/subjects.toml`, and
//! [`subject_key`] / [`ReceiptKind::subject_key`] name the row a message uses. Messages can
//! carry [`ExtraPart`]s (the REM evidence a translated receipt is based on, as `<Event>.xml`)
//! after the daticert.

mod breve;
mod text;

use super::Error;
use super::classify::{Kind, header_fields, unfold};
use super::daticert::{Daticert, Destinatario};
use super::parse::PecMessage;
use super::values::{Errore, TipoDaticert, TipoDestinatario, TipoRicevuta};
use super::zone;
use crate::mime::write as mime;
use time::OffsetDateTime;

/// The provider on whose behalf a message is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// Its name as written in daticert `gestore-emittente` (e.g. `Namirial S.p.A.`).
    pub name: String,
    /// Its mail domain: system messages come from `posta-certificata@<domain>` and identifiers
    /// end in `@<domain>`.
    pub domain: String,
}

impl Provider {
    /// `posta-certificata@<domain>`.
    pub fn system_address(&self) -> String {
        format!("posta-certificata@{}", self.domain)
    }
}

/// Where fresh provider identifiers (the `Message-ID` of system messages, the `identificativo`
/// of envelopes) come from. Implementations decide the left-hand side; it must be unique and
/// valid in a Message-ID; the right-hand side must be the provider domain.
pub trait IdentifierSource {
    /// A fresh identifier (without angle brackets) for a message built at `at`.
    fn identifier(&mut self, provider: &Provider, at: OffsetDateTime) -> String;
}

/// Identifiers `ponte.<YYYYMMDDhhmmss Italian time>.<seed>.<n>@<domain>`, `n` counting from
/// `next`. Give a random `seed` (e.g. 8 random bytes in hex) in production and a fixed one in tests.
#[derive(Debug, Clone)]
pub struct SequenceIdentifiers {
    /// The per-process unique part.
    pub seed: String,
    /// The next counter value.
    pub next: u64,
}

impl IdentifierSource for SequenceIdentifiers {
    fn identifier(&mut self, provider: &Provider, at: OffsetDateTime) -> String {
        let t = zone::to_rome(at);
        let n = self.next;
        self.next = self.next.wrapping_add(1);
        format!(
            "ponte.{:04}{:02}{:02}{:02}{:02}{:02}.{}.{n}@{}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            self.seed,
            provider.domain
        )
    }
}

/// The receipts and notices Ponte builds (the 7 `X-Ricevuta` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    /// Ricevuta di accettazione.
    Accettazione,
    /// Avviso di non accettazione (`errore="virus"` for the virus variant).
    NonAccettazione,
    /// Ricevuta di presa in carico.
    PresaInCarico,
    /// Ricevuta di avvenuta consegna (completa, breve or sintetica).
    AvvenutaConsegna,
    /// Avviso di mancata consegna (`errore="virus"` for the virus variant).
    ErroreConsegna,
    /// Preavviso di mancata consegna (12 h); with an `errore-esteso` starting `5.4.1`, the
    /// 24 h final notice.
    PreavvisoErroreConsegna,
    /// Avviso di rilevazione virus.
    RilevazioneVirus,
}

impl ReceiptKind {
    /// The kind named by a daticert `tipo` / `X-Ricevuta` value.
    pub fn from_tipo(tipo: &str) -> Option<ReceiptKind> {
        Some(match TipoDaticert::parse(tipo) {
            TipoDaticert::Accettazione => ReceiptKind::Accettazione,
            TipoDaticert::NonAccettazione => ReceiptKind::NonAccettazione,
            TipoDaticert::PresaInCarico => ReceiptKind::PresaInCarico,
            TipoDaticert::AvvenutaConsegna => ReceiptKind::AvvenutaConsegna,
            TipoDaticert::ErroreConsegna => ReceiptKind::ErroreConsegna,
            TipoDaticert::PreavvisoErroreConsegna => ReceiptKind::PreavvisoErroreConsegna,
            TipoDaticert::RilevazioneVirus => ReceiptKind::RilevazioneVirus,
            _ => return None,
        })
    }

    /// The key of the row of `mappings/subjects.toml` whose prefix a receipt of this kind
    /// with error class `errore` takes: the kind's `tipo`, or `<tipo>-virus` for the virus
    /// variants of non-accettazione and errore-consegna. The 12 h and 24 h
    /// preavviso-errore-consegna share one prefix (pec.md §5 item 6).
    pub fn subject_key(self, errore: &Errore) -> &'static str {
        match (self, errore) {
            (ReceiptKind::NonAccettazione, Errore::Virus) => "non-accettazione-virus",
            (ReceiptKind::ErroreConsegna, Errore::Virus) => "errore-consegna-virus",
            (kind, _) => match kind {
                ReceiptKind::Accettazione => "accettazione",
                ReceiptKind::NonAccettazione => "non-accettazione",
                ReceiptKind::PresaInCarico => "presa-in-carico",
                ReceiptKind::AvvenutaConsegna => "avvenuta-consegna",
                ReceiptKind::ErroreConsegna => "errore-consegna",
                ReceiptKind::PreavvisoErroreConsegna => "preavviso-errore-consegna",
                ReceiptKind::RilevazioneVirus => "rilevazione-virus",
            },
        }
    }

    /// The `X-Ricevuta` / daticert `tipo` spelling.
    pub fn tipo(self) -> TipoDaticert {
        match self {
            ReceiptKind::Accettazione => TipoDaticert::Accettazione,
            ReceiptKind::NonAccettazione => TipoDaticert::NonAccettazione,
            ReceiptKind::PresaInCarico => TipoDaticert::PresaInCarico,
            ReceiptKind::AvvenutaConsegna => TipoDaticert::AvvenutaConsegna,
            ReceiptKind::ErroreConsegna => TipoDaticert::ErroreConsegna,
            ReceiptKind::PreavvisoErroreConsegna => TipoDaticert::PreavvisoErroreConsegna,
            ReceiptKind::RilevazioneVirus => TipoDaticert::RilevazioneVirus,
        }
    }
}

/// A built message, ready to be signed.
#[derive(Debug, Clone)]
pub struct Built {
    /// What was built.
    pub kind: Kind,
    /// The outer headers in order (`Date`, `From`, `To`, `Subject`, `Message-ID`, the PEC
    /// headers); values are wire-ready: RFC 2047 where not ASCII, folded (CRLF + space) where
    /// long. `MIME-Version` and `Content-Type` are not among them: the signer adds them with
    /// the `multipart/signed` (the unsigned assembly takes them from the inner entity).
    pub headers: Vec<(String, String)>,
    /// The entity to sign: `multipart/mixed`, CRLF, from its `Content-Type` header to the CRLF
    /// after its closing delimiter.
    pub inner: Vec<u8>,
    /// This message's own provider identifier (its `Message-ID` without angle brackets).
    pub identifier: String,
    /// The daticert written into `inner` (`None` for the anomaly envelope, which has none).
    pub daticert: Option<Daticert>,
    /// The instant of the message (its `Date`, daticert `data`, CMS signingTime).
    pub date: OffsetDateTime,
}

impl Built {
    /// The first header of that name, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.replace("\r\n", ""))
    }

    /// The message signed as PEC providers sign (S/MIME `multipart/signed`,
    /// `application/x-pkcs7-signature`, SHA-256), signingTime = [`Built::date`].
    pub fn sign(
        &self,
        key: &crate::crypto::SigningKey,
        cert: &crate::x509::Certificate,
        chain: &[crate::x509::Certificate],
    ) -> Result<Vec<u8>, crate::smime::Error> {
        self.sign_at(key, cert, chain, self.date)
    }

    /// [`Built::sign`] with another CMS signingTime: when the message states an earlier
    /// instant than the one it is signed at (a receipt translated from an evidence carries the
    /// evidence's event time), the signingTime must still say when the signature was made.
    pub fn sign_at(
        &self,
        key: &crate::crypto::SigningKey,
        cert: &crate::x509::Certificate,
        chain: &[crate::x509::Certificate],
        signing_time: OffsetDateTime,
    ) -> Result<Vec<u8>, crate::smime::Error> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        crate::smime::sign(&crate::smime::SignRequest {
            headers: &headers,
            inner: &self.inner,
            key,
            signer: cert,
            chain,
            signing_time,
            protocol: crate::smime::SmimeProtocol::Pec,
        })
    }

    /// [`Built::sign_at`] of [`Built::inner`] followed by `rest`, as [`crate::smime::sign_parts`]:
    /// what comes before the inner entity and after it.
    pub fn sign_parts_at(
        &self,
        key: &crate::crypto::SigningKey,
        cert: &crate::x509::Certificate,
        chain: &[crate::x509::Certificate],
        signing_time: OffsetDateTime,
        rest: &[&[u8]],
    ) -> Result<(Vec<u8>, Vec<u8>), crate::smime::Error> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        crate::smime::sign_parts(
            &crate::smime::SignRequest {
                headers: &headers,
                inner: &self.inner,
                key,
                signer: cert,
                chain,
                signing_time,
                protocol: crate::smime::SmimeProtocol::Pec,
            },
            rest,
        )
    }

    /// [`Built::sign_at`] taking [`Built::inner`] (left empty): the message is written into
    /// its buffer, so a large envelope is not held twice.
    pub fn take_signed_at(
        &mut self,
        key: &crate::crypto::SigningKey,
        cert: &crate::x509::Certificate,
        chain: &[crate::x509::Certificate],
        signing_time: OffsetDateTime,
    ) -> Result<Vec<u8>, crate::smime::Error> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        crate::smime::sign_owned(
            &crate::smime::SignRequest {
                headers: &headers,
                inner: &[],
                key,
                signer: cert,
                chain,
                signing_time,
                protocol: crate::smime::SmimeProtocol::Pec,
            },
            std::mem::take(&mut self.inner),
        )
    }

    /// The message without signature: the outer headers followed by the inner entity (whose
    /// `Content-Type` header becomes the message's). For tests and inspection.
    pub fn unsigned_message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.inner.len() + 1024);
        for (n, v) in &self.headers {
            mime::write_header(&mut out, n, v);
        }
        // The inner entity's own header block (Content-Type, MIME-Version) completes it.
        out.extend_from_slice(&self.inner);
        out
    }
}

/// The `mappings/subjects.toml` key of the transport envelope's subject prefix.
pub const SUBJECT_KEY_ENVELOPE: &str = "posta-certificata";
/// The `mappings/subjects.toml` key of the anomaly envelope's subject prefix.
pub const SUBJECT_KEY_ANOMALY: &str = "anomalia";

/// The `mappings/subjects.toml` key of a built message's subject prefix, by its kind: the
/// receipts as [`ReceiptKind::subject_key`] says, the two envelopes by their constants;
/// `None` for kinds Ponte does not build (a plain mail, an unknown type).
pub fn subject_key(kind: &Kind) -> Option<&'static str> {
    let virus = |v: bool| if v { Errore::Virus } else { Errore::Nessuno };
    Some(match kind {
        Kind::BustaTrasporto => SUBJECT_KEY_ENVELOPE,
        Kind::BustaAnomalia => SUBJECT_KEY_ANOMALY,
        Kind::Accettazione => ReceiptKind::Accettazione.subject_key(&Errore::Nessuno),
        Kind::NonAccettazione { virus: v } => ReceiptKind::NonAccettazione.subject_key(&virus(*v)),
        Kind::PresaInCarico => ReceiptKind::PresaInCarico.subject_key(&Errore::Nessuno),
        Kind::AvvenutaConsegna { .. } => {
            ReceiptKind::AvvenutaConsegna.subject_key(&Errore::Nessuno)
        }
        Kind::ErroreConsegna { virus: v } => ReceiptKind::ErroreConsegna.subject_key(&virus(*v)),
        Kind::PreavvisoErroreConsegna { .. } => {
            ReceiptKind::PreavvisoErroreConsegna.subject_key(&Errore::Nessuno)
        }
        Kind::RilevazioneVirus => ReceiptKind::RilevazioneVirus.subject_key(&Errore::Nessuno),
        _ => return None,
    })
}

/// An attachment added after the daticert (for a translated message: the REM evidence as
/// `<Event>.xml`, `application/xml`). Written base64, `Content-Disposition: attachment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraPart {
    /// The file name (`RelayFailure.xml`): printable ASCII without `"`, `\\` or `/`.
    pub filename: String,
    /// The MIME type (`application/xml`): `type/subtype`, token characters only.
    pub content_type: String,
    /// The content.
    pub content: Vec<u8>,
}

impl ExtraPart {
    /// Refuses a file name or content type that cannot be written as given in a MIME header
    /// (instead of escaping or encoding it silently).
    fn check(&self) -> Result<(), Error> {
        let name_ok = !self.filename.is_empty()
            && self
                .filename
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'"' | b'\\' | b'/'));
        if !name_ok {
            return Err(Error::BuildInput {
                what: "an extra part",
                missing: format!(
                    "a file name of printable ASCII without quotes or slashes (got {:?})",
                    self.filename
                ),
            });
        }
        let token = |t: &str| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        let type_ok = self
            .content_type
            .split_once('/')
            .is_some_and(|(t, st)| token(t) && token(st));
        if !type_ok {
            return Err(Error::BuildInput {
                what: "an extra part",
                missing: format!("a type/subtype content type (got {:?})", self.content_type),
            });
        }
        Ok(())
    }
}

/// Refuses line breaks in header values, then folds them for the wire.
fn finish(headers: Vec<(String, String)>) -> Result<Vec<(String, String)>, Error> {
    headers
        .into_iter()
        .map(|(n, v)| {
            check(&n, &v)?;
            let folded = mime::fold(&n, &v);
            Ok((n, folded))
        })
        .collect()
}

fn check(name: &str, value: &str) -> Result<(), Error> {
    if value.contains(['\r', '\n']) {
        return Err(Error::HeaderInjection {
            name: name.to_string(),
        });
    }
    // RFC 5322 §3.2.5/§4.1: NUL and the other controls (HTAB aside) must not be generated;
    // they also cannot appear in daticert.xml (XML 1.0 Char).
    if let Some(c) = value.chars().find(|c| c.is_ascii_control() && *c != '\t') {
        return Err(Error::HeaderControl {
            name: name.to_string(),
            byte: c as u8,
        });
    }
    Ok(())
}

fn angle(id: &str) -> String {
    let t = id.trim();
    if t.starts_with('<') {
        t.to_string()
    } else {
        format!("<{t}>")
    }
}

/// The original message's facts an envelope needs.
struct Original {
    sender: String,
    recipients: Vec<String>,
    reply_to: Option<String>,
    subject: String,
    message_id: String,
    to_raw: Option<String>,
    cc_raw: Option<String>,
    tipo_ricevuta: Option<TipoRicevuta>,
}

/// The header fields shared by the two envelopes (transport and anomaly): sent "on behalf of"
/// the original sender by the provider's system address, to the original recipients, with the
/// original's Message-ID referenced and its sender as Reply-To (unless it named one).
fn envelope_headers(
    o: &Original,
    provider: &Provider,
    at: OffsetDateTime,
    identifier: &str,
    subject_prefix: &str,
    trasporto: &str,
) -> Result<Vec<(String, String)>, Error> {
    let mut headers = vec![
        ("Date".to_string(), zone::rfc5322(at)),
        (
            "From".to_string(),
            format!(
                "\"Per conto di: {}\" <{}>",
                o.sender,
                provider.system_address()
            ),
        ),
    ];
    if let Some(to) = &o.to_raw {
        headers.push(("To".into(), to.clone()));
    }
    if let Some(cc) = &o.cc_raw {
        headers.push(("Cc".into(), cc.clone()));
    }
    headers.push((
        "Subject".into(),
        mime::encode_header_value(&format!("{subject_prefix}{}", o.subject)),
    ));
    headers.push(("Message-ID".into(), format!("<{identifier}>")));
    headers.push(("X-Riferimento-Message-ID".into(), o.message_id.clone()));
    headers.push(("X-Trasporto".into(), trasporto.into()));
    headers.push((
        "Reply-To".into(),
        o.reply_to.clone().unwrap_or_else(|| o.sender.clone()),
    ));
    finish(headers)
}

fn read_original(raw: &[u8], what: &'static str) -> Result<Original, Error> {
    let missing = |m: &str| Error::BuildInput {
        what,
        missing: m.to_string(),
    };
    let fields = header_fields(raw).ok_or_else(|| missing("the original is not a message"))?;
    // Only header fields are read: the header section alone is parsed (a full parse would
    // decode every attachment of the original).
    let msg =
        crate::mime::parse::headers(raw).map_err(|_| missing("the original is not a message"))?;
    let raw_header = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| unfold(v))
    };
    let sender = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string)
        .ok_or_else(|| missing("the original has no From address"))?;
    let mut recipients: Vec<String> = Vec::new();
    for list in [msg.to(), msg.cc()].into_iter().flatten() {
        for a in list.iter() {
            if let Some(addr) = a.address() {
                recipients.push(addr.to_string());
            }
        }
    }
    let reply_to = msg
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string);
    let message_id =
        raw_header("Message-ID").ok_or_else(|| missing("the original has no Message-ID"))?;
    Ok(Original {
        sender,
        recipients,
        reply_to,
        subject: msg.subject().unwrap_or_default().to_string(),
        message_id: angle(&message_id),
        to_raw: raw_header("To"),
        cc_raw: raw_header("Cc"),
        tipo_ricevuta: raw_header("X-TipoRicevuta").map(|v| TipoRicevuta::parse(&v)),
    })
}

fn destinatari(addresses: &[String], external: &[String]) -> Vec<Destinatario> {
    addresses
        .iter()
        .map(|a| Destinatario {
            address: a.clone(),
            tipo: if external.iter().any(|e| e.trim().eq_ignore_ascii_case(a)) {
                TipoDestinatario::Esterno
            } else {
                TipoDestinatario::Certificato
            },
        })
        .collect()
}

/// The original as it goes into `postacert.eml` (pec.md §1.4): CRLF line endings, its
/// `Message-ID` replaced by the provider identifier and the user's moved to
/// `X-Riferimento-Message-ID`.
fn postacert_of<'a>(original: &'a [u8], identificativo: &str, msgid: &str) -> Postacert<'a> {
    let crlf = mime::to_crlf_cow(original);
    let header_end = memchr::memmem::find(&crlf, b"\r\n\r\n")
        .map(|i| i + 2)
        .unwrap_or(crlf.len());
    let head = crlf.get(..header_end).unwrap_or_default();
    let mut out = Vec::with_capacity(header_end + 200);
    let mut skipping = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if continuation {
            if !skipping {
                out.extend_from_slice(line);
            }
            continue;
        }
        let name_end = line.iter().position(|&b| b == b':').unwrap_or(0);
        let name = String::from_utf8_lossy(line.get(..name_end).unwrap_or_default())
            .trim()
            .to_ascii_lowercase();
        skipping = name == "message-id" || name == "x-riferimento-message-id";
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(format!("Message-ID: <{identificativo}>\r\n").as_bytes());
    out.extend_from_slice(format!("X-Riferimento-Message-ID: {msgid}\r\n").as_bytes());
    // The body is borrowed from the original when it was CRLF already (not copied twice).
    let body = match crlf {
        std::borrow::Cow::Borrowed(b) => {
            std::borrow::Cow::Borrowed(b.get(header_end..).unwrap_or_default())
        }
        std::borrow::Cow::Owned(mut v) => {
            v.drain(..header_end.min(v.len()));
            std::borrow::Cow::Owned(v)
        }
    };
    Postacert { head: out, body }
}

/// `postacert.eml` in two pieces: the rewritten header block, the body as it was.
struct Postacert<'a> {
    head: Vec<u8>,
    body: std::borrow::Cow<'a, [u8]>,
}

impl Postacert<'_> {
    fn pieces(&self) -> [&[u8]; 2] {
        [&self.head, &self.body]
    }
}

/// Assembles the inner `multipart/mixed`: text (plain + html), daticert.xml (when given), the
/// extra parts, and postacert.eml (when given).
fn assemble(
    seed: &str,
    plain: &str,
    html: &str,
    daticert: Option<&[u8]>,
    extra: &[ExtraPart],
    postacert: Option<&[&[u8]]>,
) -> Result<Vec<u8>, Error> {
    let (before, after) = assemble_split(seed, plain, html, daticert, extra, postacert)?;
    let last = postacert
        .and_then(|p| p.last().copied())
        .unwrap_or_default();
    let mut o = Vec::with_capacity(
        before.len()
            + last.len()
            + after.len()
            // Room for the signature and the header fields: signed in this buffer.
            + crate::smime::SIGNED_OVERHEAD
            + 4096,
    );
    o.extend_from_slice(&before);
    o.extend_from_slice(last);
    o.extend_from_slice(&after);
    Ok(o)
}

/// [`assemble`] without the last piece of `postacert`: what comes before it and after it.
fn assemble_split(
    seed: &str,
    plain: &str,
    html: &str,
    daticert: Option<&[u8]>,
    extra: &[ExtraPart],
    postacert: Option<&[&[u8]]>,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    for e in extra {
        e.check()?;
    }
    let plain_qp = mime::quoted_printable(plain);
    let html_qp = mime::quoted_printable(html);
    let dati_b64 = daticert.map(mime::base64_lines);
    let extra_b64: Vec<String> = extra
        .iter()
        .map(|e| mime::base64_lines(&e.content))
        .collect();
    let mut parts: Vec<&[u8]> = vec![plain_qp.as_bytes(), html_qp.as_bytes()];
    parts.extend(postacert.unwrap_or_default().iter().copied());
    parts.extend(extra.iter().map(|e| e.filename.as_bytes()));
    let outer = mime::boundary(seed.as_bytes(), 1, &parts);
    let alt = mime::boundary(seed.as_bytes(), 2, &parts);
    let mut o = Vec::with_capacity(
        plain_qp.len()
            + html_qp.len()
            + postacert.map_or(0, |p| p.iter().map(|x| x.len()).sum::<usize>())
            + dati_b64.as_ref().map_or(0, String::len)
            + extra_b64.iter().map(String::len).sum::<usize>()
            + 2048
            - postacert.and_then(|p| p.last()).map_or(0, |l| l.len()),
    );
    let mut w = |s: &str| o.extend_from_slice(s.as_bytes());
    w(&format!(
        "Content-Type: multipart/mixed; boundary=\"{outer}\"\r\n"
    ));
    w("Content-Transfer-Encoding: binary\r\nMIME-Version: 1.0\r\n\r\n");
    w(&format!(
        "This is a multi-part message in MIME format.\r\n\r\n--{outer}\r\n"
    ));
    w(&format!(
        "Content-Type: multipart/alternative; boundary=\"{alt}\"\r\n"
    ));
    w("Content-Transfer-Encoding: binary\r\n\r\n");
    w(&format!("--{alt}\r\n"));
    w("Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Disposition: inline\r\n");
    w("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    w(&plain_qp);
    w(&format!("\r\n--{alt}\r\n"));
    w("Content-Type: text/html; charset=\"utf-8\"\r\nContent-Disposition: inline\r\n");
    w("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    w(&html_qp);
    w(&format!("\r\n--{alt}--\r\n"));
    if let Some(b64) = &dati_b64 {
        w(&format!("\r\n--{outer}\r\n"));
        w("Content-Type: application/xml; name=\"daticert.xml\"\r\n");
        w(
            "Content-Disposition: inline; filename=\"daticert.xml\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        );
        w(b64);
    }
    for (e, b64) in extra.iter().zip(&extra_b64) {
        w(&format!("\r\n--{outer}\r\n"));
        w(&format!(
            "Content-Type: {}; name=\"{}\"\r\n",
            e.content_type, e.filename
        ));
        w(&format!(
            "Content-Disposition: attachment; filename=\"{}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            e.filename
        ));
        w(b64);
    }
    if let Some(p) = postacert {
        w(&format!("\r\n--{outer}\r\n"));
        w("Content-Type: message/rfc822; name=\"postacert.eml\"\r\n");
        w("Content-Disposition: inline; filename=\"postacert.eml\"\r\n");
        w(if p.iter().all(|x| mime::is_7bit(x)) {
            "Content-Transfer-Encoding: 7bit\r\n\r\n"
        } else {
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
        });
        for x in p.split_last().map_or(&[][..], |(_, first)| first) {
            o.extend_from_slice(x);
        }
        return Ok((o, format!("\r\n--{outer}--\r\n").into_bytes()));
    }
    w(&format!("\r\n--{outer}--\r\n"));
    Ok((o, Vec::new()))
}

/// What [`envelope`] needs.
#[derive(Debug, Clone)]
pub struct EnvelopeInput<'a> {
    /// The message as submitted by the user (LF or CRLF).
    pub original: &'a [u8],
    /// The sender's provider (the access point).
    pub provider: &'a Provider,
    /// Recipients that are not PEC mailboxes (`destinatari tipo="esterno"`); all others are
    /// `certificato`.
    pub external: &'a [String],
    /// The instant of acceptance.
    pub at: OffsetDateTime,
    /// The subject prefix (`mappings/subjects.toml`, key [`SUBJECT_KEY_ENVELOPE`]).
    pub subject_prefix: &'a str,
    /// Attachments after the daticert (e.g. the REM evidence of a translated dispatch).
    pub extra_parts: &'a [ExtraPart],
}

/// What a gateway adds to an envelope it builds from a message that was not submitted by a
/// PEC user (a REM dispatch): [`envelope_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// The sender UA's own Message-ID when the original's `Message-ID` is not it (a REM
    /// original carries the S-REMS identifier there and the user's in
    /// `REM-UAMessageIdentifier`): it becomes the daticert `msgid` and
    /// `X-Riferimento-Message-ID`. `None`: the original's `Message-ID`.
    pub user_message_id: Option<&'a str>,
    /// Paragraphs added to the text part, after the standard text.
    pub text_notes: &'a [String],
}

/// Builds the transport envelope (busta di trasporto) for `input.original`.
pub fn envelope(input: &EnvelopeInput<'_>, ids: &mut dyn IdentifierSource) -> Result<Built, Error> {
    envelope_with(input, ids, &Extras::default())
}

/// [`envelope`] with what a gateway adds ([`Extras`]).
pub fn envelope_with(
    input: &EnvelopeInput<'_>,
    ids: &mut dyn IdentifierSource,
    extras: &Extras<'_>,
) -> Result<Built, Error> {
    let Split {
        mut built,
        body,
        after,
    } = envelope_split(input, ids, extras)?;
    let mut inner = Vec::with_capacity(
        built.inner.len()
            + body.len()
            + after.len()
            // Room for the signature and the header fields: signed in this buffer.
            + crate::smime::SIGNED_OVERHEAD
            + 4096,
    );
    inner.extend_from_slice(&built.inner);
    inner.extend_from_slice(&body);
    inner.extend_from_slice(&after);
    built.inner = inner;
    Ok(built)
}

/// A transport envelope whose inner entity is [`Built::inner`] (everything before the body
/// of `postacert.eml`), [`Split::body`], then [`Split::after`]: the body stays where it was
/// (borrowed from the original when that was CRLF).
#[derive(Debug)]
pub struct Split<'a> {
    /// The envelope, its `inner` holding what comes before the body.
    pub built: Built,
    /// The body of `postacert.eml`.
    pub body: std::borrow::Cow<'a, [u8]>,
    /// What comes after the body (the closing delimiter).
    pub after: Vec<u8>,
}

/// [`envelope_with`] as a [`Split`].
pub fn envelope_split<'a>(
    input: &EnvelopeInput<'a>,
    ids: &mut dyn IdentifierSource,
    extras: &Extras<'_>,
) -> Result<Split<'a>, Error> {
    let mut o = read_original(input.original, "the transport envelope")?;
    if let Some(ua) = extras
        .user_message_id
        .map(str::trim)
        .filter(|u| !u.is_empty() && !u.contains(['\r', '\n']))
    {
        o.message_id = angle(ua);
    }
    let at = zone::to_rome(input.at);
    let identificativo = ids.identifier(input.provider, at);
    let daticert = Daticert {
        tipo: TipoDaticert::PostaCertificata,
        errore: Errore::Nessuno,
        mittente: o.sender.clone(),
        destinatari: destinatari(&o.recipients, input.external),
        risposte: o.reply_to.clone().unwrap_or_else(|| o.sender.clone()),
        oggetto: Some(o.subject.clone()),
        gestore_emittente: input.provider.name.clone(),
        data: at,
        identificativo: identificativo.clone(),
        msgid: Some(o.message_id.clone()),
        ricevuta: Some(o.tipo_ricevuta.clone().unwrap_or(TipoRicevuta::Completa)),
        consegna: None,
        ricezione: Vec::new(),
        errore_esteso: None,
    };
    if daticert.destinatari.is_empty() {
        return Err(Error::BuildInput {
            what: "the transport envelope",
            missing: "the original has no To or Cc address".into(),
        });
    }
    let postacert = postacert_of(input.original, &identificativo, &o.message_id);
    let (plain, html) = text::render(&text::Facts {
        daticert: &daticert,
        anomaly: false,
        receipt: None,
        notes: extras.text_notes,
    });
    let (inner, after) = assemble_split(
        &identificativo,
        &plain,
        &html,
        Some(&daticert.to_xml()),
        input.extra_parts,
        Some(&postacert.pieces()),
    )?;
    let headers = envelope_headers(
        &o,
        input.provider,
        at,
        &identificativo,
        input.subject_prefix,
        "posta-certificata",
    )?;
    Ok(Split {
        built: Built {
            kind: Kind::BustaTrasporto,
            headers,
            inner,
            identifier: identificativo,
            daticert: Some(daticert),
            date: at,
        },
        body: postacert.body,
        after,
    })
}

/// What [`anomaly`] needs.
#[derive(Debug, Clone)]
pub struct AnomalyInput<'a> {
    /// The message received that failed the PEC checks (LF or CRLF).
    pub received: &'a [u8],
    /// The recipient's provider (the incoming point).
    pub provider: &'a Provider,
    /// The instant of reception.
    pub at: OffsetDateTime,
    /// The subject prefix (`mappings/subjects.toml`, key [`SUBJECT_KEY_ANOMALY`]).
    pub subject_prefix: &'a str,
    /// Attachments after the text (e.g. the REM ReceivedFromNonERDS evidence).
    pub extra_parts: &'a [ExtraPart],
}

/// Builds the anomaly envelope (busta di anomalia) around a `received` message that failed the
/// PEC checks at the incoming point. It carries no daticert (the DTD has no type for it); the
/// received message goes verbatim (line endings made CRLF) into `postacert.eml`.
pub fn anomaly(input: &AnomalyInput<'_>, ids: &mut dyn IdentifierSource) -> Result<Built, Error> {
    let (received, provider, at) = (input.received, input.provider, input.at);
    let o = read_original(received, "the anomaly envelope")?;
    let at = zone::to_rome(at);
    let identifier = ids.identifier(provider, at);
    // The texts need daticert-like facts; this one is not attached.
    let facts = Daticert {
        tipo: TipoDaticert::Other("anomalia".into()),
        errore: Errore::Nessuno,
        mittente: o.sender.clone(),
        destinatari: destinatari(&o.recipients, &[]),
        risposte: o.sender.clone(),
        oggetto: Some(o.subject.clone()),
        gestore_emittente: provider.name.clone(),
        data: at,
        identificativo: identifier.clone(),
        msgid: Some(o.message_id.clone()),
        ricevuta: None,
        consegna: None,
        ricezione: Vec::new(),
        errore_esteso: None,
    };
    let (plain, html) = text::render(&text::Facts {
        daticert: &facts,
        anomaly: true,
        receipt: None,
        notes: &[],
    });
    let carried = mime::to_crlf_cow(received);
    let inner = assemble(
        &identifier,
        &plain,
        &html,
        None,
        input.extra_parts,
        Some(&[&carried]),
    )?;
    let headers = envelope_headers(
        &o,
        provider,
        at,
        &identifier,
        input.subject_prefix,
        "errore",
    )?;
    Ok(Built {
        kind: Kind::BustaAnomalia,
        headers,
        inner,
        identifier,
        daticert: None,
        date: at,
    })
}

/// What [`receipt`] needs.
#[derive(Debug, Clone)]
pub struct ReceiptInput<'a> {
    /// The receipt or notice to build.
    pub kind: ReceiptKind,
    /// The message it is about (see [`About`]).
    pub about: About<'a>,
    /// The provider issuing it.
    pub provider: &'a Provider,
    /// The recipient the receipt is about (`consegna`; `ricezione` for presa in carico).
    /// Required for avvenuta-consegna and errore-consegna unless there is one recipient only.
    pub recipient: Option<&'a str>,
    /// The error class (`nessuno` becomes `altro` for the notices that report an error, and
    /// `virus` for rilevazione-virus).
    pub errore: Errore,
    /// `errore-esteso`; a default naming the class is written for error notices when absent.
    pub detail: Option<&'a str>,
    /// The delivery receipt flavour (avvenuta-consegna only).
    pub ricevuta: TipoRicevuta,
    /// Recipients that are not PEC mailboxes, when `about` is a plain message.
    pub external: &'a [String],
    /// The `To` of the receipt. Default: the original sender; for presa-in-carico and
    /// rilevazione-virus (addressed to the sender's provider), the envelope's `From` address.
    pub to: Option<&'a str>,
    /// The instant of the receipt.
    pub at: OffsetDateTime,
    /// The subject prefix (`mappings/subjects.toml`, key [`ReceiptKind::subject_key`] of the
    /// kind and error class).
    pub subject_prefix: &'a str,
    /// Attachments after the daticert (e.g. the REM evidence the receipt translates).
    pub extra_parts: &'a [ExtraPart],
}

/// What a receipt is about.
#[derive(Debug, Clone, Copy)]
pub enum About<'a> {
    /// A message: normally the transport envelope (its daticert gives mittente,
    /// destinatari, risposte, oggetto, identificativo and msgid; its postacert.eml is the
    /// original). A plain message is accepted too (acceptance / non-acceptance at the access
    /// point): the facts then come from its headers and the identificativo is fresh.
    Message(&'a [u8]),
    /// The facts of the transport envelope without the envelope itself (a receipt translated
    /// from a REM evidence): the daticert the envelope had or would have had (mittente,
    /// destinatari, risposte, oggetto, identificativo, msgid are used) and, when known, the
    /// original message (needed for a completa or breve avvenuta-consegna).
    Facts {
        /// The envelope's daticert.
        daticert: &'a Daticert,
        /// The original as `postacert.eml` carries it, if known.
        original: Option<&'a [u8]>,
    },
}

fn default_detail(errore: &Errore, provider: &Provider) -> String {
    let name = &provider.name;
    match errore {
        Errore::NoDest => format!("5.1.1 - {name} - indirizzo non valido"),
        Errore::NoDominio => format!("5.1.2 - {name} - dominio non valido"),
        Errore::Virus => format!("5.7.1 - {name} - virus rilevato"),
        _ => format!("5.0.0 - {name} - errore"),
    }
}

/// Builds a receipt or notice about `input.about`.
pub fn receipt(input: &ReceiptInput<'_>, ids: &mut dyn IdentifierSource) -> Result<Built, Error> {
    receipt_with(input, ids, &Extras::default())
}

/// [`receipt`] with paragraphs added to its text ([`Extras::text_notes`]; the user's
/// Message-ID of a receipt is the envelope's, so [`Extras::user_message_id`] is not used).
pub fn receipt_with(
    input: &ReceiptInput<'_>,
    ids: &mut dyn IdentifierSource,
    extras: &Extras<'_>,
) -> Result<Built, Error> {
    const WHAT: &str = "the receipt";
    let missing = |m: &str| Error::BuildInput {
        what: WHAT,
        missing: m.to_string(),
    };
    let at = zone::to_rome(input.at);
    let (about, about_bytes) = match input.about {
        About::Message(bytes) => (Some(PecMessage::parse(bytes)?), bytes),
        About::Facts { .. } => (None, &[][..]),
    };
    let own_id = ids.identifier(input.provider, at);
    // The facts of the original: given, or from the envelope's daticert, else from the plain
    // message.
    let facts = match (&input.about, &about) {
        (About::Facts { daticert, original }, _) => {
            Some(((*daticert).clone(), original.map(<[u8]>::to_vec)))
        }
        (_, Some(m)) => m
            .daticert()
            .map(|d| (d.clone(), m.postacert_raw().map(<[u8]>::to_vec))),
        _ => None,
    };
    let (base, original_bytes): (Daticert, Option<Vec<u8>>) = match facts {
        Some(f) => f,
        None => {
            let o = read_original(about_bytes, WHAT)?;
            let d = Daticert {
                tipo: TipoDaticert::PostaCertificata,
                errore: Errore::Nessuno,
                mittente: o.sender.clone(),
                destinatari: destinatari(&o.recipients, input.external),
                risposte: o.reply_to.clone().unwrap_or_else(|| o.sender.clone()),
                oggetto: Some(o.subject.clone()),
                gestore_emittente: input.provider.name.clone(),
                data: at,
                identificativo: own_id.clone(),
                msgid: Some(o.message_id.clone()),
                ricevuta: None,
                consegna: None,
                ricezione: Vec::new(),
                errore_esteso: None,
            };
            let post = postacert_of(about_bytes, &own_id, &o.message_id);
            (d, Some([post.head.as_slice(), &post.body].concat()))
        }
    };
    let kind = input.kind;
    let errore = match (kind, &input.errore) {
        (ReceiptKind::RilevazioneVirus, _) => Errore::Virus,
        (ReceiptKind::ErroreConsegna | ReceiptKind::NonAccettazione, Errore::Nessuno) => {
            Errore::Altro
        }
        (ReceiptKind::PreavvisoErroreConsegna, Errore::Nessuno) => Errore::Altro,
        (
            ReceiptKind::Accettazione | ReceiptKind::PresaInCarico | ReceiptKind::AvvenutaConsegna,
            _,
        ) => Errore::Nessuno,
        (_, e) => e.clone(),
    };
    let single = || match base.destinatari.as_slice() {
        [one] => Some(one.address.clone()),
        _ => None,
    };
    let recipient = input.recipient.map(str::to_string);
    let consegna = match kind {
        ReceiptKind::AvvenutaConsegna | ReceiptKind::ErroreConsegna => {
            Some(recipient.clone().or_else(single).ok_or_else(|| {
                missing("the recipient (consegna) is required when there are several destinatari")
            })?)
        }
        _ => None,
    };
    let ricezione = match kind {
        ReceiptKind::PresaInCarico => match &recipient {
            Some(r) => vec![r.clone()],
            None => base.destinatari.iter().map(|d| d.address.clone()).collect(),
        },
        _ => Vec::new(),
    };
    let errore_esteso = match kind {
        ReceiptKind::ErroreConsegna
        | ReceiptKind::NonAccettazione
        | ReceiptKind::RilevazioneVirus => Some(
            input
                .detail
                .map(str::to_string)
                .unwrap_or_else(|| default_detail(&errore, input.provider)),
        ),
        ReceiptKind::PreavvisoErroreConsegna => input.detail.map(str::to_string),
        _ => None,
    };
    for v in [&consegna, &errore_esteso].into_iter().flatten() {
        check("daticert", v)?;
    }
    let ricevuta = match kind {
        ReceiptKind::AvvenutaConsegna => Some(input.ricevuta.clone()),
        _ => None,
    };
    let daticert = Daticert {
        tipo: kind.tipo(),
        errore: errore.clone(),
        mittente: base.mittente.clone(),
        destinatari: base.destinatari.clone(),
        risposte: base.risposte.clone(),
        oggetto: base.oggetto.clone(),
        gestore_emittente: input.provider.name.clone(),
        data: at,
        identificativo: base.identificativo.clone(),
        msgid: base.msgid.clone(),
        ricevuta: ricevuta.clone(),
        consegna,
        ricezione,
        errore_esteso,
    };
    let postacert = match (kind, &ricevuta) {
        (ReceiptKind::AvvenutaConsegna, Some(TipoRicevuta::Completa)) => {
            Some(original_bytes.ok_or_else(|| missing("the envelope carries no postacert.eml"))?)
        }
        (ReceiptKind::AvvenutaConsegna, Some(TipoRicevuta::Breve)) => {
            let o =
                original_bytes.ok_or_else(|| missing("the envelope carries no postacert.eml"))?;
            Some(breve::replace_attachments(&o, &own_id)?)
        }
        _ => None,
    };
    let (plain, html) = text::render(&text::Facts {
        daticert: &daticert,
        anomaly: false,
        receipt: Some(kind),
        notes: extras.text_notes,
    });
    let post_piece: Option<[&[u8]; 1]> = postacert.as_deref().map(|p| [p]);
    let inner = assemble(
        &own_id,
        &plain,
        &html,
        Some(&daticert.to_xml()),
        input.extra_parts,
        post_piece.as_ref().map(|p| p.as_slice()),
    )?;

    let to = match (input.to, kind) {
        (Some(t), _) => t.to_string(),
        (None, ReceiptKind::PresaInCarico | ReceiptKind::RilevazioneVirus) => about
            .as_ref()
            .and_then(|a| a.from())
            .map(str::to_string)
            .unwrap_or_else(|| base.mittente.clone()),
        (None, _) => base.mittente.clone(),
    };
    let final_notice = daticert.is_final_timeout();
    let subject = format!(
        "{}{}",
        input.subject_prefix,
        base.oggetto.clone().unwrap_or_default()
    );
    let mut headers = vec![
        ("Date".to_string(), zone::rfc5322(at)),
        ("From".to_string(), input.provider.system_address()),
        ("To".to_string(), to),
        ("Subject".to_string(), mime::encode_header_value(&subject)),
        ("Message-ID".to_string(), format!("<{own_id}>")),
    ];
    if let Some(m) = &base.msgid {
        headers.push(("X-Riferimento-Message-ID".into(), angle(m)));
    }
    headers.push(("X-Ricevuta".into(), kind.tipo().as_str().to_string()));
    if let Some(r) = &ricevuta {
        headers.push(("X-TipoRicevuta".into(), r.as_str().to_string()));
    }
    if errore == Errore::Virus
        && matches!(
            kind,
            ReceiptKind::NonAccettazione | ReceiptKind::ErroreConsegna
        )
    {
        headers.push(("X-VerificaSicurezza".into(), "errore".into()));
    }
    let headers = finish(headers)?;
    let kind_value = {
        let virus = errore == Errore::Virus;
        match kind {
            ReceiptKind::Accettazione => Kind::Accettazione,
            ReceiptKind::NonAccettazione => Kind::NonAccettazione { virus },
            ReceiptKind::PresaInCarico => Kind::PresaInCarico,
            ReceiptKind::AvvenutaConsegna => Kind::AvvenutaConsegna {
                ricevuta: input.ricevuta.clone(),
            },
            ReceiptKind::ErroreConsegna => Kind::ErroreConsegna { virus },
            ReceiptKind::PreavvisoErroreConsegna => Kind::PreavvisoErroreConsegna { final_notice },
            ReceiptKind::RilevazioneVirus => Kind::RilevazioneVirus,
        }
    };
    Ok(Built {
        kind: kind_value,
        headers,
        inner,
        identifier: own_id,
        daticert: Some(daticert),
        date: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(filename: &str, content_type: &str) -> ExtraPart {
        ExtraPart {
            filename: filename.into(),
            content_type: content_type.into(),
            content: b"<x/>".to_vec(),
        }
    }

    #[test]
    fn extra_parts_with_unwritable_names_or_types_are_refused() {
        assert!(part("RelayFailure.xml", "application/xml").check().is_ok());
        for (name, ct) in [
            ("", "application/xml"),
            ("a\"b.xml", "application/xml"),
            ("a\r\nX-Evil: 1", "application/xml"),
            ("../x.xml", "application/xml"),
            ("è.xml", "application/xml"),
            ("x.xml", "application/xml; charset=utf-8"),
            ("x.xml", "xml"),
            ("x.xml", "application/"),
        ] {
            let e = part(name, ct).check().err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|m| m.contains("extra part")),
                "{name:?} {ct:?}: {e:?}"
            );
        }
    }

    #[test]
    fn extra_parts_follow_the_daticert() {
        let inner = assemble(
            "s",
            "testo",
            "<p>testo</p>",
            Some(b"<postacert/>"),
            &[part("ContentConsignment.xml", "application/xml")],
            None,
        )
        .unwrap_or_default();
        let text = String::from_utf8_lossy(&inner);
        let dati = text.find("filename=\"daticert.xml\"");
        let extra =
            text.find("Content-Disposition: attachment; filename=\"ContentConsignment.xml\"");
        assert!(dati.is_some() && extra.is_some() && dati < extra, "{text}");
        assert!(text.contains("Content-Type: application/xml; name=\"ContentConsignment.xml\""));
        assert!(text.contains("PHgvPg=="), "base64 of <x/>");
    }

    #[test]
    fn control_characters_never_reach_a_header() {
        // Found by fuzz/fuzz_targets/rem_receipt.rs: an evidence whose sender address held
        // U+001F and NULs (read from the XML) became the `To` of the PEC receipt verbatim.
        let mittente = "sender@sender-own-domain\u{1f}\0\0-only-for-test.it";
        let daticert = Daticert {
            tipo: TipoDaticert::PostaCertificata,
            errore: Errore::Nessuno,
            mittente: mittente.into(),
            destinatari: vec![Destinatario {
                address: "a@rem.test".into(),
                tipo: TipoDestinatario::Certificato,
            }],
            risposte: mittente.into(),
            oggetto: Some("Oggetto".into()),
            gestore_emittente: "Other REMS".into(),
            data: time::macros::datetime!(2027-03-01 08:00 UTC),
            identificativo: "r1@rem.test".into(),
            msgid: Some("<m1@client.test>".into()),
            ricevuta: None,
            consegna: None,
            ricezione: Vec::new(),
            errore_esteso: None,
        };
        let provider = Provider {
            name: "Gestore Prova".into(),
            domain: "pec.prova.test".into(),
        };
        let input = ReceiptInput {
            kind: ReceiptKind::Accettazione,
            about: About::Facts {
                daticert: &daticert,
                original: None,
            },
            provider: &provider,
            recipient: None,
            errore: Errore::Nessuno,
            detail: None,
            ricevuta: TipoRicevuta::Sintetica,
            external: &[],
            to: None,
            at: time::macros::datetime!(2027-03-01 08:01 UTC),
            subject_prefix: "ACCETTAZIONE: ",
            extra_parts: &[],
        };
        let mut ids = SequenceIdentifiers {
            seed: "t".into(),
            next: 1,
        };
        let r = receipt(&input, &mut ids);
        assert!(
            matches!(&r, Err(Error::HeaderControl { name, byte: 0x1f }) if name == "To"),
            "{:?}",
            r.map(|b| b.headers)
        );
        assert!(check("X", "tab\tis fine").is_ok());
        assert!(matches!(
            check("X", "del\u{7f}"),
            Err(Error::HeaderControl { byte: 0x7f, .. })
        ));
        assert!(matches!(
            check("X", "a\r\nb"),
            Err(Error::HeaderInjection { .. })
        ));
    }

    #[test]
    fn an_envelope_with_the_senders_own_message_id_and_a_note() {
        // A REM original: the S-REMS identifier as Message-ID, the user's in
        // REM-UAMessageIdentifier.
        let original = b"From: a@rem.test\r\nTo: b@pec.prova.test\r\nSubject: s\r\nMessage-ID: <rems-1@rem.test>\r\nREM-UAMessageIdentifier: <ua-1@client.test>\r\n\r\nbody\r\n";
        let provider = Provider {
            name: "Gestore Prova".into(),
            domain: "pec.prova.test".into(),
        };
        let input = EnvelopeInput {
            original,
            provider: &provider,
            external: &[],
            at: time::macros::datetime!(2027-03-01 08:00 UTC),
            subject_prefix: "POSTA CERTIFICATA: ",
            extra_parts: &[],
        };
        let mut ids = SequenceIdentifiers {
            seed: "t".into(),
            next: 1,
        };
        let notes = ["Livello di garanzia: nota di prova".to_string()];
        let b = envelope_with(
            &input,
            &mut ids,
            &Extras {
                user_message_id: Some("<ua-1@client.test>"),
                text_notes: &notes,
            },
        )
        .expect("envelope");
        let d = b.daticert.clone().expect("daticert");
        assert_eq!(d.msgid.as_deref(), Some("<ua-1@client.test>"));
        assert_eq!(
            b.header("X-Riferimento-Message-ID").as_deref(),
            Some("<ua-1@client.test>")
        );
        let inner = String::from_utf8_lossy(&b.inner);
        assert!(inner.contains("X-Riferimento-Message-ID: <ua-1@client.test>\r\n"));
        assert!(inner.contains("nota di prova"), "{inner}");
        // Without extras: the original's Message-ID, as for a user's submission.
        let plain = envelope(&input, &mut ids).expect("envelope");
        assert_eq!(
            plain.daticert.and_then(|d| d.msgid).as_deref(),
            Some("<rems-1@rem.test>")
        );
    }

    #[test]
    fn subject_keys() {
        assert_eq!(
            ReceiptKind::ErroreConsegna.subject_key(&Errore::Virus),
            "errore-consegna-virus"
        );
        assert_eq!(
            ReceiptKind::ErroreConsegna.subject_key(&Errore::Altro),
            "errore-consegna"
        );
        assert_eq!(
            ReceiptKind::RilevazioneVirus.subject_key(&Errore::Virus),
            "rilevazione-virus"
        );
        assert_eq!(subject_key(&Kind::BustaAnomalia), Some("anomalia"));
        assert_eq!(
            subject_key(&Kind::NonAccettazione { virus: true }),
            Some("non-accettazione-virus")
        );
    }
}
