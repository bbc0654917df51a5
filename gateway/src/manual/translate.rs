//! # Translating between PEC and REM
//!
//! The library is [`crate::translate`]; the command is `ponte translate`. A translation is
//! driven by the reviewed tables of `mappings/` ([`crate::mappings`]): the PEC type (with its
//! `errore` and `errore-esteso`) selects a `pec-to-rem` row, the REM event (with its reasons)
//! a `rem-to-pec` row. Nothing in the code decides a correspondence the tables do not state.
//!
//! ## What is checked before anything is written
//!
//! | direction | refused (exit 1) when |
//! |---|---|
//! | PEC → REM | the S/MIME signature is absent or does not verify; the signer does not chain to `[trust] pec_anchors` at `--at`; the signer certificate is not a provider's in the index; the type has no `pec-to-rem` row (the 12 h preavviso has none); a receipt's dispatch was never translated (the digest of the original is unknown); the sender's identity is not confirmed by `[holders]` and `unverified = "refuse"`; the evidence rules refuse the facts |
//! | REM → PEC | not a REM message (a mandatory REM-* header missing); the S/MIME signature does not verify, or its signer neither chains to `rem_anchors` nor is the digital identity of a granted qualified REM service in the loaded `[trust] lists` at `--at`; an evidence is unreadable, invalid or its signer untrusted (the same rule, at its SigningTime with `--at signing-time`); the attached original does not digest to what the signed evidences state; `REM-EventIdentifier` names no carried evidence; in `ponte serve`, a receipt about an output delivered to a discovered REM peer whose main evidence is not signed by that service's digital identity (`evidence-wrong-service`); no `rem-to-pec` row |
//!
//! What the signature does not cover is noted, not refused: the top header fields of a
//! `multipart/signed` message are outside its signature, so a `REM-DigestValue` or
//! `REM-Evidence-ID` that disagrees with the signed evidence (the AgID kit's Outflow receipts
//! do) is reported in `notes` and the signed evidence is believed.
//!
//! Failures that are not the input's fault — the TSA unreachable, the correlation store not
//! writable, the index or the holders' source unavailable — are errors (exit 2), never
//! refusals: the operator retries.
//!
//! ## PEC → REM
//!
//! 1. A transport envelope (`X-Trasporto: posta-certificata`) becomes a **dispatch**. Its
//!    `postacert.eml` is prepared as EN 319 532-3 §6.2.4 / rem.md §4.6 say: CRLF line endings,
//!    exactly one final CRLF, the REM message identifier as Message-ID, the sender UA's
//!    Message-ID in `REM-UAMessageIdentifier` right after it. The SHA-256 of those bytes is
//!    `REM-DigestValue` and the evidence's PartInfo digest (the AgID vector
//!    `ePggZQ9/Uwbe6ui/mqn+moZJcfkdFVIluG1B4a3ov9k=` is a test).
//!
//!    **Which identifier goes where.** Each side has two: the sender UA's own Message-ID (PEC:
//!    `X-Riferimento-Message-ID` and daticert `msgid` — the access point replaced the
//!    original's Message-ID with its identificativo, pec.md §1.4; REM:
//!    `REM-UAMessageIdentifier` and the evidence's `AppLayerIdentifier`, "the Message-ID value
//!    of the original message submitted by the ERD-UA", EN 319 532-3 §4.3 and NOTE 2 of §4.2,
//!    which describes exactly this replacement), and the provider's identifier of the message
//!    (PEC: the `identificativo`; REM: the `Message-ID` of the dispatch and the evidence's
//!    `MessageIdentifier`, MD11 / M01, "the identifier of the original message as generated
//!    by the S-ERDS", EN 319 522-2 §6.2.11). Each goes to its counterpart: the Namirial
//!    envelope's dispatch says `REM-UAMessageIdentifier:
//!    <2839ed57-e664-4020-bb69-6a8cb92d05a6@email.android.com>` and `Message-ID:
//!    <opec21192.20241205000210.24820.46.1.184@sicurezzapostale.it>`. (The sender UA's
//!    Message-ID is the original's `X-Riferimento-Message-ID`, else the daticert `msgid`, else
//!    the original's Message-ID; an identificativo that is not a valid Message-ID is replaced
//!    by an identifier of Ponte's, with a note.) REM receipts about the dispatch then name both
//!    (`In-Reply-To`, `MessageIdentifier`, `REM-UAMessageIdentifier`), so the PEC receipt
//!    made from one carries the identificativo and the msgid again — from the correlation
//!    record, or from the REM identifiers alone when there is none.
//! 2. The **evidence** (SubmissionAcceptance RA01 for a dispatch) is issued by Ponte: issuer =
//!    `[identity] provider_name`, sender and recipients by e-mail with the Policy-IT
//!    PersonIdentifier for the sender, EventTime = SubmissionTime = the daticert `data` (the
//!    acceptance by the PEC access point, T0), XAdES-B-B with the REM key, then B-T with a
//!    token of `[tsa] url` (without `[tsa]` it stays B-B and every report says so).
//!
//!    **The sender's identity assurance** (`[holders]`, [`crate::translate::assurance`]). The
//!    sender is looked up in the holders' source. A holder whose identity was confirmed, with
//!    an eIDAS level of assurance (and two-factor access when `two_factor_required`), gets
//!    `SenderDetails/AssuranceLevelsDetails` in the REM baseline form (EN 319 532-4 C.3.4 p):
//!    `GlobalAssuranceLevel/AssuranceLevel` = `http://eidas.europa.eu/LoA/<loa>`, `PolicyID` =
//!    `assurance_policy`, `AuthenticationDetails/AuthenticationTime` and
//!    `AuthenticationMethod` (`method_uris`). Time and method are the PEC platform's
//!    per-submission statement when it made one, else the holder's confirmation
//!    (`verified_at`, `method`), else the submission time (noted). Every later evidence of the
//!    message (the REM receipts made from PEC receipts) states the same. A sender that is not
//!    confirmed is refused with `unverified = "refuse"` (exit 1, refusal `holder-unverified`,
//!    the reason naming the identity and why: not in the source, not verified, no level, no
//!    two factors; the gateway answers it with a non-accettazione,
//!    [`crate::translate::notice::non_accettazione`]), or relayed with nothing stated with
//!    `unverified = "basic"` (noted). Without `[holders]` nothing is stated and the notes say
//!    so. `--json` prints what was stated as `sender_assurance` {`level`, `loa`, `policy`,
//!    `authentication_time`, `authentication_method`, `method`, `two_factor`, `source`
//!    (`holders`, `holders+platform`), `asserted_by`} (null when nothing), also kept in the
//!    correlation record.
//!
//!    **The per-submission header.** The PEC platform may add to the envelope's top header
//!    (outside its signature) `X-Ponte-Sender-Authentication: method=<spid|cie|cns|signature|
//!    video|other>; time=<RFC 3339>`: when and how the sender authenticated for this
//!    submission. It is believed only from the platform: the service compares the SMTP peer
//!    with `[holders] platform_addresses` ([`crate::translate::Origin::Peer`]); `ponte
//!    translate` has no peer and believes it only with `--trust-authentication-header`
//!    ([`crate::translate::Origin::Platform`]); otherwise it is ignored and the notes say why.
//!    It never leaves Ponte: the top header is not copied, and a copy inside the carried
//!    original (which the sender wrote) is removed from it before it is digested (noted), in
//!    both directions.
//! 3. The **message**: `From: "On behalf of: <sender>" <rem-service@domain>`, `To` = the
//!    daticert recipients, `Reply-To` = the sender, `Subject: REM Dispatch: <subject>`, the REM-*
//!    headers of 532-3 Table 2 / 532-4 Table C.26, the bilingual introduction of
//!    `mappings/intro.toml`, the original (`rem_message/original`), the evidence
//!    (`rem_message/xml_evidence`), all S/MIME-signed (`application/pkcs7-signature`, CAdES-B)
//!    with the REM identity. Recipients the daticert marks `esterno` are ordinary mailboxes:
//!    the evidence lists them as `UntrustedPathToRecipient` and the message carries
//!    `REM-RelayToNonERDS: evidence-required` (Policy-IT Outflow).
//! 4. A **receipt** (accettazione, avvenuta-consegna, errore-consegna, ...) becomes the mapped
//!    REM receipt: the correlation store gives the dispatch it is about (by the daticert
//!    `identificativo`, else `msgid`) and with it the digest, T0, the parties and the subject.
//!    C/D/E events name the recipient they are about (daticert `consegna`, or the only one).
//!    B events (presa-in-carico → RelayAcceptance) name the PEC provider that issued the
//!    receipt as the counterpart (`ExternalERDSDetails`).
//! 5. An **anomaly envelope** becomes a ReceivedFromNonERDS (RF04) dispatch with the subject
//!    prefix `EXTERNAL: ` and the first `Received:` line of the carried message as
//!    `ForwardedToExternalSystem`.
//!
//! ## REM → PEC
//!
//! 1. A **dispatch** becomes a busta di trasporto signed with the PEC identity, as a PEC access
//!    point would make it: the sender UA's Message-ID (`REM-UAMessageIdentifier`) is the daticert
//!    `msgid` and `X-Riferimento-Message-ID`, the original is carried as `postacert.eml` with
//!    its Message-ID replaced by Ponte's identificativo (it keeps its
//!    `REM-UAMessageIdentifier`), the daticert names Ponte's provider. The REM Message-ID is kept
//!    in the correlation record. The sender's assurance the evidence states is read (the
//!    REM baseline form; the split form is noted, not read), kept in the correlation record,
//!    printed as `sender_assurance` (`source: evidence`, `asserted_by` the issuer), and the
//!    envelope's text says at which level the sender's identity was asserted, and by whom, or
//!    that none was (basic authentication). A ReceivedFromNonERDS dispatch becomes a busta di
//!    anomalia.
//! 2. A **receipt** becomes the mapped PEC receipt ([`crate::translate::receipt`]): `tipo` and
//!    `errore` from the row, `errore-esteso` = the row's status code, the issuer and the REM
//!    reason code with its text, `consegna` = the recipient the evidence refers to, `data` =
//!    EventTime in Italian time. A delivery result about several recipients (the kit's relay
//!    failures name both) gives **one PEC notice per recipient**, as PEC does.
//!    When the REM message is about a PEC message this gateway translated earlier, the
//!    daticert carries that message's `identificativo` and `msgid`; otherwise the REM
//!    identifiers stand in for them, and the report says so.
//! 3. The evidence goes along as `<Event>.xml` (`[output] attach_evidence = false` turns it
//!    off): the PEC mailbox keeps the proof the REM provider signed.
//!
//! ## What is lost
//!
//! Each row of `mappings/events.toml` says in `lost` what does not survive its translation.
//! The main ones: PEC has no class for REM policy violations or provider malfunctions (they
//! arrive as `altro` with the REM reason in `errore-esteso`); the 12 h preavviso has no REM
//! event; the requested `ricevuta` kind (completa/breve/sintetica) has no REM field; a REM
//! receipt never carries the original, so a PEC avvenuta-consegna made from one is sintetica.
//!
//! ## Correlation
//!
//! Every translation appends one record to `[correlation] path` (JSON Lines,
//! [`crate::correlate`]): direction, PEC identificativo and msgid, REM Message-ID, user
//! Message-ID, evidence ids, and for a dispatch the facts its later receipts need. Inputs of
//! one `--out-dir` run are translated concurrently and independently: translate a dispatch
//! before the receipts about it.
//!
//! ## Large messages: the streaming path
//!
//! `ponte translate` reads an input above 32 MiB
//! ([`crate::translate::stream::STREAM_ABOVE`]; `--stream always|never` forces either way)
//! *hollowed* ([`crate::mime::hole`]): the file is scanned in chunks, and the body of every
//! part of 64 KiB or more inside the carried message (`postacert.eml`, the REM
//! `AttachedMimeMessage`) stays in the file, a random 40-character mark in its place. The
//! translation is the in-memory one over those bytes, so it decides the same; what reads a
//! body's content — the input's S/MIME digest, the REM digest of the original, the boundary
//! seeds and absence checks, the output's S/MIME digest — reads it back from the file, and the
//! output is written to a temporary file beside its destination, the bodies copied chunk by
//! chunk, fsync'd and renamed when complete. The bytes are those of the in-memory path.
//!
//! Each read of a body is digested again and compared with its first read: an input changed
//! while it is translated is an error naming the bytes that differ, and nothing is written.
//! Inputs with LF line endings, inputs the structure scanner leaves to mail-parser, and inputs
//! without a large carried part are read whole.
