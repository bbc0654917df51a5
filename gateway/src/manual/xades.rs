//! # XAdES signatures on ERDS evidence
//!
//! Every REM evidence (EN 319 522-3) carries its own enveloped XAdES signature
//! (EN 319 132-1 baseline), so that it can be extracted from the REM message and still prove
//! what happened. The REM baseline (EN 319 532-4 C.4.3/C.4.4) asks for XAdES-B-B augmented to
//! XAdES-B-T. Ponte signs and verifies exactly that profile, the one EU DSS produces and the
//! AgID Policy-IT kit shows.
//!
//! ## Commands
//!
//! ```text
//! ponte evidence sign IN.xml --key KEY.pem --cert CERT.pem [--chain PEM]... [--tsa URL] [-o OUT]
//! ponte evidence verify FILE.xml [--trust PEM]... [--tsa-trust PEM]... [--at RFC3339|signing-time] [--json]
//! ```
//!
//! `sign` refuses (exit 2) a document that already holds a `ds:Signature`, naming it. `verify`
//! exits 0 when the signature is valid (and, with `--trust`, its chain trusted at the chosen
//! instant), 1 when not (or when the signed content is not an ERDS evidence), 2 when the file
//! cannot be read as XML (DOCTYPE and entity declarations are refused, sizes and depths are
//! bounded) or an argument is wrong. With `--json` it prints one object: `event`, `event_uri`,
//! `reasons` [{`uri`, `code`, `text`}], `evidence_id`, `event_time` (all `null` unless the
//! signature is valid), `signature` {`valid`, `level`, `signer`, `signing_time`, `judged_at`,
//! `chain_trusted`, `chain`, `reason`} and `timestamp` {`present`, `valid`, `trusted`, `time`,
//! `policy`, `qualified`, `tsa`, `reason`}.
//!
//! ## What is signed
//!
//! The signature is inserted as the **last child of the root** `Evidence` element, just
//! before its end tag; no other byte of the input changes. `SignedInfo` is canonicalized with
//! Exclusive C14N 1.0 and signed with RSA-SHA256 (PKCS#1 v1.5) or ECDSA-P256-SHA256, whose
//! XML-DSig value is the fixed-size `r || s` (not the ASN.1 form of CMS). It has two
//! references, both SHA-256:
//!
//! 1. `URI=""` — the whole document, with the transforms XPath Filter 2.0 `subtract`
//!    `/descendant::ds:Signature` and Exclusive C14N. This is the form EU DSS emits and the
//!    kit uses; xmlsec1 verifies it. (`enveloped-signature` would be equivalent here, since a
//!    valid evidence has exactly one signature; the verifier accepts both.) When the evidence
//!    uses prefixes inside `xsi:type` values (`elp:LegalNameType`, `enp:PersonIdentifierType`
//!    in the eIDAS attributes), they are listed in the transform's `InclusiveNamespaces
//!    PrefixList`: plain Exclusive C14N renders a namespace declaration only where an element
//!    or attribute *name* uses it, so the binding of such a prefix would otherwise not be
//!    signed. (It is not in the kit's DSS signatures: rebinding `elp` on the root of a kit
//!    evidence leaves its signature valid. Ponte's signatures break.)
//! 2. `Type="http://uri.etsi.org/01903#SignedProperties"` to `xades:SignedProperties`, with
//!    Exclusive C14N. The signed properties are `SigningTime`, `SigningCertificateV2`
//!    (SHA-256 of the signer certificate and `IssuerSerialV2`, the base64 DER `IssuerSerial`
//!    of RFC 5035 with the issuer as one `directoryName`) and a `DataObjectFormat` with
//!    `MimeType` `text/xml` pointing at reference 1.
//!
//! `KeyInfo/X509Data` carries the signer certificate first, then the `--chain` certificates.
//! Ids are `ponte-sig-…`, `ponte-ref-…-doc`, `ponte-xades-…`, `ponte-value-…` with 128 random
//! bits (`ponte evidence sign`); the evidences of `ponte translate` take those 128 bits from the
//! SHA-256 of their `EvidenceIdentifier` instead, so that a translation is reproducible. The
//! digests and the SignedInfo octets are computed by canonicalizing the assembled document
//! exactly as a verifier does.
//!
//! ## B-B and B-T
//!
//! * **B-B**: the signature above, with its signed properties.
//! * **B-T**: B-B plus `xades:UnsignedProperties/UnsignedSignatureProperties/SignatureTimeStamp`,
//!   an RFC 3161 token whose imprint is the SHA-256 of the `ds:SignatureValue` element
//!   canonicalized with Exclusive C14N (the `CanonicalizationMethod` written inside the
//!   time-stamp). `--tsa URL` obtains it from the TSA (nonce checked, `certReq` true) and adds
//!   it; the unsigned properties are outside every reference, so the signature stays intact.
//!
//! The verifier reports level `B-T` when the signature is valid **and** a time-stamp token is
//! valid: its CMS signature, ESS signing certificate and TSU extended key usage check out, its
//! imprint matches the canonicalized `SignatureValue`, and its `genTime` is not earlier than
//! `SigningTime` (5 minutes of clock skew tolerated). Otherwise a valid signature is `B-B`.
//! Trust in the TSA is a separate verdict (`timestamp.trusted`, null without `--tsa-trust`), as
//! is `qualified` (the TSU certificate's QcStatement `0.4.0.19422.1.1`, as claimed by the
//! certificate, not checked against a trusted list).
//!
//! ## Verification, and how it resists signature wrapping
//!
//! Wrapping attacks (XSW) make a verifier check one element while the application reads
//! another. Ponte's verifier leaves no such gap:
//!
//! * **One signature, in its place.** The document must hold exactly one `ds:Signature`, the
//!   last element child of the root (only whitespace, comments or processing instructions may
//!   follow). A second signature anywhere, a signature under another element, or content after
//!   it, is invalid.
//! * **Unique Ids.** No `Id` value may be carried by two elements anywhere in the document.
//! * **Two references, resolved narrowly.** Exactly one reference with `URI=""` (the
//!   document), whose transforms must remove the signature (enveloped-signature or the XPath
//!   Filter 2.0 `subtract` of exactly `/descendant::ds:Signature`, with `ds` bound to
//!   XML-DSig), and exactly one reference `URI="#id"` whose target is *this* signature's
//!   `xades:SignedProperties` and whose `Type` says so. Any other URI (another element, an
//!   XPointer, an external resource) is refused.
//! * **An allowlist of transforms.** enveloped-signature, that one XPath Filter 2.0 form,
//!   Exclusive C14N (with `InclusiveNamespaces`), C14N 1.0 and 1.1, with or without comments;
//!   canonicalization only last. XSLT, XPath 1.0, other filters: refused by name.
//! * **Nothing else in `ds:Object`.** Only `xades:QualifyingProperties`, whose `Target` names
//!   this signature; each `DataObjectFormat` names a `Reference` of this signature.
//! * **Values are plain text.** A comment, processing instruction or element inside a
//!   `DigestValue`, `SignatureValue`, certificate or time-stamp is refused (implementations
//!   disagree about which text node they read); whitespace inside a `DigestValue` is refused;
//!   base64 must decode strictly.
//! * **The signer is bound.** The signer certificate is the first of `KeyInfo`; the SignedInfo
//!   signature is checked with its key, and `SigningCertificateV2` must hold its digest (and
//!   `IssuerSerialV2` its issuer and serial). Swapping `KeyInfo` breaks the binding.
//! * **The evidence comes from the signed octets.** The verifier hands the caller the
//!   canonical octets the document reference digested (the document without its signature,
//!   without comments) and only when everything verified; `ponte evidence verify` parses the
//!   event, reasons, identifier and time from those octets, never from the input tree.
//!
//! The chain of the signer is then validated, as a separate verdict, to the `--trust` anchors
//! with the `KeyInfo` certificates as intermediates, at `--at` (an RFC 3339 instant, or
//! `signing-time` = `xades:SigningTime`; default now), requiring the extended key usage
//! emailProtection when the certificate has the extension — the same certificate signs the REM
//! messages (S/MIME). Time-stamp tokens are judged at the same instant.
//!
//! ## Long-term levels: B-LT and B-LTA ([`crate::xades::extend`], [`crate::xades::longterm`])
//!
//! `ponte evidence extend FILE --to B-LT|B-LTA` adds, as unsigned properties only (XML-DSig
//! verifiers such as xmlsec1 still verify the signature):
//! * **B-LT**: `xades:CertificateValues` (the signer's path, the trust anchors given with
//!   `--trust`, the time-stamping units and the OCSP responders) and `xades:RevocationValues`:
//!   for every certificate of those paths that names a CRL distribution point or an OCSP
//!   responder (authorityInfoAccess), the CRL (GET) and the OCSP response (POST
//!   `application/ocsp-request`, SHA-1 CertID), each verified under the certificate's issuer
//!   ([`crate::revocation`]) before it is embedded as received;
//! * **B-LTA**: a `xadesv141:ArchiveTimeStamp` from `--tsa` over, with Exclusive C14N
//!   (EN 319 132-1 §5.5.2.2): what each reference digests, `SignedInfo`, `SignatureValue`,
//!   `KeyInfo`, every unsigned signature property before it, the other `ds:Object`s. Again on a
//!   B-LTA evidence: the previous archive time-stamp's validation data goes into a
//!   `xadesv141:TimeStampValidationData`, then a new archive time-stamp (renewal, before the
//!   last TSA certificate expires).
//!
//! `ponte evidence verify` then validates with the embedded data ([`crate::xades::longterm`]):
//! the archive time-stamps from the last (judged at `--at`) to the first (each at the next
//! one's time); the signature time-stamp at the first archive time-stamp's time (or at
//! `--at`), whose genTime is then the proof of existence (POE) of the signature; the signer's
//! chain at `--at`, or at the POE when it does not hold at `--at` (expired certificates);
//! and revocation from the embedded CRLs and OCSP responses. **A certificate of the signer's
//! path revoked at R makes the signature invalid at every instant from R on**, even when the
//! signature was time-stamped before R: Ponte does not rescue signatures made before a
//! revocation, because the revocation's reason (a key compromise) may have started before R.
//! This is stricter than the past-signature validation of EN 319 102-1, on purpose. The level
//! reported is `B-LT` / `B-LTA` only when the data is complete (every certificate that names a
//! revocation service has embedded data) and the archive time-stamps hold.
//!
//! Not checked in the long-term validation: the revocation of time-stamping units and of
//! delegated OCSP responders (they carry id-pkix-ocsp-nocheck or are anchors), freshness rules
//! beyond "issued by the certificate's issuer" (the data is what was fetched at extension
//! time; its `thisUpdate` is reported). No external oracle checks archive time-stamps (xmlsec1
//! ignores XAdES properties): sign and verify share [`crate::xades::extend`]'s input function.
//!
//! ## Limits
//!
//! Not done: `SignaturePolicyIdentifier` evaluation, counter-signatures, references other
//! than the two of the evidence profile, SHA-1 reference digests (refused).
