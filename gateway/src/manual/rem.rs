//! # REM evidence: the model
//!
//! An ERDS evidence (EN 319 522-3 cl. 5) is an XML document, signed on its own, that says an
//! event happened to a message: it was accepted, relayed, consigned, or not. Ponte reads it
//! into [`crate::rem::evidence::Evidence`] and writes it back.
//!
//! ## Namespaces and qualification
//!
//! | what | namespace | prefix Ponte writes |
//! |---|---|---|
//! | `Evidence` and every *globally* declared element (`EvidenceIdentifier`, `ERDSEventId`, `EventReasons`, `EventReason`, `EvidenceIssuerPolicyID`, `EvidenceIssuerDetails`, `Identity`, `SenderDetails`, `RecipientDetails`, `SubmissionTime`, `UserContentInfo`, `PartsInfo`, `PartInfo`, `ExternalERDSDetails`, `AuthenticationDetails`, `Extensions`, `Extension`, ...) | `http://uri.etsi.org/19522/v1#` | `tns` |
//! | *locally* declared elements (`EventTime`, `Code`, `Details`, `PolicyID`, `Identifier`, `AssuranceLevelsDetails`, `GlobalAssuranceLevel`, `AssuranceLevel`, `AuthenticationTime`, `AuthenticationMethod`, `AppLayerIdentifier`, `ComposingParts`, `ContentType`, `EvidenceRefersToRecipient`, `ForwardedToExternalSystem`) | none (the 19522 schema has no `elementFormDefault`) | — |
//! | REM baseline extensions (`GeneralEvidenceInfo`, `Subject`, `UntrustedPathToRecipient`, `RelayEvidenceInfo`, `RelayEvidenceRefersTo`) | `http://uri.etsi.org/19532/v1#` (`elementFormDefault="qualified"`) | `ext` |
//! | identity attributes | `urn:oasis:names:tc:SAML:2.0:assertion` | `saml` |
//! | the signature, digests of parts | `http://www.w3.org/2000/09/xmldsig#` | `ds` |
//!
//! The reader is namespace-aware: any prefix (or a default namespace) works, and an element in
//! the wrong form (a qualified `EventTime`, an unqualified `EvidenceIdentifier`) is refused with
//! an error naming it. Two documented tolerances, both because the schema text and the field
//! disagree:
//!
//! * `MessageIdentifier` is declared locally in the EN 319 522-3 text (unqualified) but every
//!   AgID kit evidence qualifies it. Both are read; [`crate::rem::evidence::ElementForm`]
//!   remembers which, and new evidence uses the kit's qualified form.
//! * The EN text calls the element `ExternalSystem`; the XSD (and the kit) call it
//!   `ForwardedToExternalSystem`. Both are read; `ForwardedToExternalSystem` is written.
//!
//! Elements must come in schema order; `ds:Signature` must be the last child.
//!
//! ## Open enums
//!
//! [`crate::rem::evidence::Event`] has the 19 events of EN 319 522-1 (A.1 to F.3) and
//! [`crate::rem::evidence::Reason`] every reason code of EN 319 522-2/-3 (RA, RB, RC, RD, RE,
//! RF), the REM baseline additions (RB21, RB22, RD21), the Italian Policy-IT ones (RA51, RF51)
//! and the generic `Other`. A URI outside the tables is carried as `Unknown` and written back
//! unchanged; it is not an error. Reasons follow the REM baseline convention: `Code` is the URI,
//! the first `Details` the short code (`RA01`), the second an English text.
//! [`crate::rem::evidence::EventReason`] exposes `uri()`, `code()` and `text()`, which is what
//! `ponte evidence verify --json` reports (see [`crate::rem::evidence::EvidenceSummary`]), and
//! `code_is_consistent()` flags an evidence whose `Details` code contradicts its URI.
//!
//! ## What is kept verbatim
//!
//! Models are for reading; the bytes are for proving. The `ds:Signature` element, and every
//! subtree the model does not interpret (`CertificateDetails`, `Any`, `TransactionLog`,
//! unknown or unusual `Extension`s, SAML attributes with more than the eIDAS simple shape, the
//! second choice of `AssuranceLevelsDetails`, non-baseline `AuthenticationDetails`), is kept as
//! [`crate::rem::evidence::RawXml`]: its exact bytes plus the namespace bindings it inherited.
//! When written, a fragment gets on its start tag only the declarations the new document does
//! not already give it; otherwise its bytes are unchanged. Root declarations beyond the
//! standard six are kept and re-declared, because attribute values such as
//! `xsi:type="elp:LegalNameType"` name prefixes.
//!
//! Re-writing a parsed evidence does **not** reproduce the original bytes (white space,
//! attribute quotes and comments between modelled elements are not kept), so a re-written
//! evidence no longer matches its signature. Verification always works on the bytes received.
//!
//! ## Hostile input
//!
//! A DOCTYPE is refused (and with it every entity declaration); only the five predefined
//! entities and character references are expanded; only UTF-8 is accepted; size, depth,
//! attributes per element and element count are bounded by
//! [`crate::rem::evidence::Limits`].
//!
//! # The REM message
//!
//! The evidences travel in the REM message of EN 319 532-3 (REM baseline of EN 319 532-4),
//! handled by [`crate::rem::message`]: an S/MIME `multipart/signed`
//! (`protocol="application/pkcs7-signature"`, CAdES-B, `micalg=sha-256`) over a
//! `multipart/mixed` whose parts each carry `REM-Section-Type`: the introduction
//! (`multipart/alternative`, text and HTML, UTF-8 quoted-printable), the original
//! (`message/rfc822`, `Content-Transfer-Encoding: binary`, `AttachedMimeMessage`; dispatch and
//! payload only), extensions, and one `application/xml` part per evidence named
//! `<Event>.xml` (base64). The top header carries the REM-* relay metadata
//! ([`crate::rem::message::RelayMetadata`]) in the order of the AgID kit.
//!
//! ## Preparing the original
//!
//! [`crate::rem::message::prepare_original`] turns the user's message into the bytes that are
//! attached and digested: every bare LF becomes CRLF; the message ends with exactly one CRLF
//! (trailing empty lines dropped, a missing one added); the header block is kept byte for
//! byte except that the `Message-ID` value becomes the REMS identifier and
//! `REM-UAMessageIdentifier: <the user's id>` is inserted right after it. This reproduces the
//! AgID kit byte for byte (`*.clean_from_user.eml` → `*.to_attach_to_dispatch.eml`, all three
//! flows) and its digest vector (`ePggZQ9/...ov9k=`). An original without `Message-ID` is
//! refused: the user's identifier is evidence, and Ponte does not invent one. When the
//! original's Message-ID is not the user's — a PEC `postacert.eml` carries the provider's
//! identificativo there and the user's in `X-Riferimento-Message-ID` —
//! [`crate::rem::message::prepare_original_with`] takes the user's as `REM-UAMessageIdentifier`. The digest
//! (`REM-DigestValue`, the evidence's `PartInfo`) is SHA-256 over exactly those bytes; the CRLF
//! before the next MIME boundary belongs to the boundary and is not digested.
//!
//! ## Reading and verifying
//!
//! [`crate::rem::message::parse()`] reads LF- or CRLF-stored messages. A part without
//! `REM-Section-Type` is recognised by its type (`multipart/alternative`, `message/rfc822`,
//! `*/xml` or `*.xml`, `application/pdf`) and a note says so; unknown section types are kept as
//! extensions; a missing mandatory REM-* field is an error naming it. Non-ASCII display names
//! and subjects are written as RFC 2047 encoded words and decoded when read (a quoted display
//! name comes back unquoted).
//!
//! [`crate::rem::message::verify()`] returns values: the S/MIME verdict and trust in its
//! signer at the chosen instant, each evidence's XAdES verdict and summary (an evidence part
//! that is not readable XML is a failed check, not an error for the whole message), the digest check
//! (original recomputed = `REM-DigestValue` = every evidence's `PartInfo`), whether
//! `REM-EventIdentifier`/`REM-Evidence-ID` name a carried evidence, and whether the user's
//! Message-ID is told the same in the header, inside the original and in the evidences.
//! `valid()` asks for S/MIME valid and trusted, every evidence valid and trusted, the digests
//! consistent and the header's event carried; the evidence-ID and user-ID checks are reported
//! only, because the signed evidence is authoritative and the AgID kit itself disagrees there:
//! its four Outflow receipts (RF01, RF02, RF03, RF51) carry the Intra-REM-flow digest and an
//! unrelated `REM-Evidence-ID` in their header, and its three dispatches attach an original
//! whose `REM-UAMessageIdentifier` ends `@de` while header and evidence say `@it`.
//!
//! Checking a REM message with OpenSSL: use `openssl cms -verify -inform SMIME` (text mode).
//! With `-binary`, OpenSSL 3.0 leaves the CR of the CRLF before the boundary in the content and
//! refuses every CRLF `multipart/signed`, the kit's own messages included.
