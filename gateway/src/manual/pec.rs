//! # PEC: what Ponte reads and writes
//!
//! This chapter describes the [`crate::pec`] module: how Ponte recognises Italian certified mail
//! (PEC, RFC 6109 / DM 2 novembre 2005), what it tolerates from real providers, and the choices
//! it makes where the rules are unclear. Sources are `pec.md` (the wire-format reference) and the
//! shared corpus (a real Namirial envelope of December 2024, anonymised Aruba-style receipts,
//! php-pec postacert fixtures).
//!
//! ## Classification
//!
//! Only the top-level headers decide ([`crate::pec::classify()`]):
//!
//! | header | result |
//! |---|---|
//! | `X-Ricevuta` present | that receipt or notice (7 values; anything else is kept as `OtherRicevuta`) |
//! | else `X-Trasporto: posta-certificata` | busta di trasporto |
//! | else `X-Trasporto: errore` | busta di anomalia |
//! | else | plain mail |
//!
//! Values are trimmed and compared ignoring ASCII case; unknown values are carried, never
//! rejected. The subject is never read (users can write `POSTA CERTIFICATA:` themselves), and
//! `X-Riferimento-Message-ID` alone proves nothing (envelopes carry it too).
//!
//! Refinements once the daticert is read ([`crate::pec::PecMessage::kind`]):
//! * **virus variants**: `non-accettazione` / `errore-consegna` with `X-VerificaSicurezza: errore`
//!   *or* daticert `errore="virus"`;
//! * **24 h final notice**: `preavviso-errore-consegna` whose `errore-esteso` starts with `5.4.1`
//!   (Aruba and Namirial send both the 12 h and the 24 h notice with the same header and subject;
//!   pagopa/pn-ec recognises the final one this way). Header-only classification reports
//!   `final_notice: false`;
//! * **receipt flavour**: `X-TipoRicevuta` if present, else daticert `ricevuta/@tipo`, else `completa`.
//!
//! ## Reading
//!
//! [`crate::pec::PecMessage::parse`] works over the raw bytes (mail-parser gives the offsets):
//! * the whole message, or just the signed inner entity (the `multipart/mixed` under
//!   `multipart/signed`);
//! * a `multipart/signed` whose `smime.p7s` part is missing (the java-pec-parser fixtures lost it
//!   when anonymised) reads normally and reports `signature_present() == false`: deciding what an
//!   unsigned "PEC" is worth is the verifier's job, not the reader's;
//! * `daticert.xml` is found by its file name; `postacert.eml` by its name, else the first
//!   `message/rfc822` part (anomaly envelopes); its bytes are exact (the body of the part, the
//!   line break before the boundary excluded), and it is readable recursively to
//!   [`crate::pec::parse::MAX_NESTING`] levels (forwarded PEC, anomaly around a bounced PEC);
//! * LF-only storage is read as is; nothing is re-encoded.
//!
//! ## daticert.xml
//!
//! The reader ([`crate::pec::Daticert::parse`]) is deliberately strict on security and lenient on
//! shape:
//! * **refused**: any DOCTYPE (so no internal subset, no external entity, no billion laughs),
//!   any entity reference other than `&lt; &gt; &amp; &apos; &quot;` and character references,
//!   documents over 1 MiB or nested deeper than 16 levels, non-UTF-8 bytes;
//! * **tolerated** (pec.md §2.5, §5 item 9): stray text between elements (the errore-consegna
//!   fixture has an `a` after `</risposte>`), any element order, unknown elements, missing
//!   `oggetto` and `risposte`, `<ricevuta tipo="completa" />`, unknown `tipo` / `errore` values;
//! * **required**: `postacert/@tipo`, `mittente`, `gestore-emittente`, `data` with `giorno`, `ora`
//!   and `zona`, `identificativo`;
//! * `msgid` is unescaped and keeps its angle brackets, as the XML holds it;
//! * `data` becomes an instant carrying the written `zona` offset; RFC 3339 by `data_rfc3339()`;
//! * characters XML 1.0 cannot carry are dropped, so every model read writes back.
//!
//! The writer ([`crate::pec::Daticert::to_xml`]) follows the DTD order, writes UTF-8 with the
//! XML declaration and no DOCTYPE, LF line endings and 4-space indentation (the opec layout of
//! Aruba and Namirial). The DTD transcribed from pec.md §2.1 is [`crate::pec::DATICERT_DTD`]; the
//! tests validate every daticert Ponte writes against it with `xmllint --dtdvalid`.
//!
//! ## Italian time
//!
//! daticert and the texts use Italian civil time. [`crate::pec::zone`] implements the EU rule
//! itself (no tz database): CEST (+0200) from the last Sunday of March 01:00 UTC to the last
//! Sunday of October 01:00 UTC, CET (+0100) otherwise. The instant is always a parameter.
//!
//! ## Writing
//!
//! [`crate::pec::build`] produces a [`crate::pec::Built`]: the outer headers and the inner entity
//! to sign (`multipart/mixed`, CRLF throughout, ending with the CRLF after its closing
//! delimiter). The `smime` module turns it into the final `multipart/signed`.
//!
//! Layout of the inner entity: `multipart/alternative` (text/plain and text/html, UTF-8,
//! quoted-printable, Italian wording of pec.md §1.3), then `daticert.xml` (base64), then
//! `postacert.eml` (`message/rfc822`, `7bit` or `8bit`, never base64) when the type carries
//! the original. Boundaries are derived from the message identifier (reproducible builds) and
//! checked against the content.
//!
//! Headers (pec.md §1.2): `Date` (Italian time), `From` (`posta-certificata@<domain>`, or
//! `"Per conto di: <sender>" <posta-certificata@domain>` on envelopes), `To`, `Subject` (prefix +
//! original subject, RFC 2047 when not ASCII), `Message-ID` (a fresh provider identifier),
//! `X-Riferimento-Message-ID` (the user's original Message-ID), `X-Trasporto` / `X-Ricevuta`,
//! `X-TipoRicevuta` (delivery receipts), `X-VerificaSicurezza: errore` (virus variants of
//! non-accettazione and errore-consegna), `Reply-To` (envelopes), `MIME-Version`.
//! The subject prefixes agree with `mappings/subjects.toml`.
//!
//! Choices made where the rules are unclear:
//! * **postacert.eml of an envelope** is the original with CRLF line endings, its `Message-ID`
//!   replaced by the envelope identificativo and the user's moved to `X-Riferimento-Message-ID`
//!   (what Namirial and the php-pec fixtures show, pec.md §1.4); everything else is verbatim.
//! * **Recipients** are `To` and `Cc` of the original; those named as external are
//!   `tipo="esterno"`, all others `certificato` (the caller decides, e.g. from the providers' index).
//! * **Receipts** take mittente, destinatari, risposte, oggetto, identificativo and msgid from the
//!   envelope's daticert. Given a plain message instead (acceptance or non-acceptance at the
//!   access point), the facts come from its headers and the identificativo is a fresh one.
//! * **Presa in carico and rilevazione virus** are addressed to the envelope's `From` address
//!   (the sender provider's system address) unless a `To` is given; the providers' index
//!   `mailReceipt` is the right address when known.
//! * **Error classes**: `nessuno` is replaced by `altro` on non-accettazione, errore-consegna and
//!   preavviso; rilevazione-virus is always `virus`; a default `errore-esteso`
//!   (`5.1.1 - <provider> - indirizzo non valido` for no-dest, `5.1.2` no-dominio, `5.7.1` virus,
//!   `5.0.0` otherwise) is written when none is given. The 24 h final notice is a
//!   `preavviso-errore-consegna` whose `errore-esteso` starts with `5.4.1`, as Aruba and Namirial send it.
//! * **Anomaly envelope**: no daticert (the DTD has no type for it); the received message goes
//!   into `postacert.eml` with CRLF line endings.
//! * **Ricevuta breve** (the layout is unconfirmed, pec.md §2.6): the original's header block is
//!   kept except `Content-Type` / `Content-Transfer-Encoding`; text bodies (text/plain, text/html
//!   without a file name) are copied verbatim; every other leaf (attachments, nested messages)
//!   becomes a `text/plain` part `<name>.sha256.txt` holding the file name, its type and the
//!   **SHA-256** of its decoded content in hex. SHA-256 rather than the SHA-1 of 2005: the hash
//!   is a proof of content, and SHA-1 no longer proves anything. A single-part text original is
//!   carried unchanged. Revisit when RFC 6109 §3.3.1.2 is confirmed.
//! * **Identifiers** come from an [`crate::pec::IdentifierSource`]; the default
//!   [`crate::pec::build::SequenceIdentifiers`] writes
//!   `ponte.<YYYYMMDDhhmmss Italian time>.<seed>.<n>@<domain>` (the seed is random in production,
//!   fixed in tests).
