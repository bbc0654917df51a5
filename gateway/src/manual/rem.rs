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
