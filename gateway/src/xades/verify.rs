//! Verifying an enveloped XAdES signature on an evidence document.
//!
//! Order of the checks (the first failure is the verdict's reason):
//! 1. structure and wrapping ([`super::wrapping`]): one `ds:Signature`, last child of the
//!    root, unique `Id`s, the two allowed references, allowlisted transforms;
//! 2. the signer certificate (first of `KeyInfo/X509Data`) and `SigningCertificateV2`
//!    (digest, and `IssuerSerialV2` when present) designating it; `SigningTime` present;
//! 3. every reference digest, recomputed over the node-set it designates;
//! 4. the `SignatureValue` over `SignedInfo` canonicalized with its declared method.
//!
//! Then, as separate verdicts: the chain of the signer to the caller's anchors at the chosen
//! instant, and each `SignatureTimeStamp` (token signature and imprint over the canonicalized
//! `ds:SignatureValue`, trust to the TSA anchors). The level is B-T when the signature is
//! valid and a time-stamp is valid, B-B when only the signature is.
//!
//! The caller gets the evidence octets through [`Report::signed_content`]: exactly the
//! canonical octets the document reference digested (the whole document minus the
//! signature), and only when the signature is valid.

use time::OffsetDateTime;

use super::der;
use super::structure::{C14nAlgorithm, DigestMethod, ParsedSignature, SignatureMethod};
use super::wrapping::{self, Plan, Target};
use super::{Error, uri};
use crate::crypto::{self, DigestAlgorithm, SignatureAlgorithm};
use crate::tsp;
use crate::x509::{self, Certificate, TrustVerdict, Usage};
use crate::xml::{self, Document, Method, NodeId, NodeSet};

/// Why a signature is not valid (a verdict, not an error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// The document carries no `ds:Signature`.
    #[error("no ds:Signature in the document")]
    NoSignature,
    /// More than one `ds:Signature` anywhere in the document.
    #[error("{count} ds:Signature elements in the document; the evidence profile has one")]
    MultipleSignatures {
        /// How many.
        count: usize,
    },
    /// The signature is not the last element child of the root.
    #[error("signature misplaced: {0}")]
    SignatureNotLast(String),
    /// An `Id` value is carried by more than one element.
    #[error("Id carried by more than one element: {0}")]
    DuplicateId(String),
    /// The `ds:Signature` does not have the XML-DSig shape.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// A comment, processing instruction or element inside a base64 value.
    #[error("{found} inside {what}")]
    MarkupInValue {
        /// Which value.
        what: String,
        /// What was found there.
        found: &'static str,
    },
    /// Whitespace inside a digest value.
    #[error("whitespace inside {what}")]
    WhitespaceInDigest {
        /// Which value.
        what: String,
    },
    /// A base64 value does not decode.
    #[error("{what} is not base64: {reason}")]
    BadBase64 {
        /// Which value.
        what: String,
        /// Why.
        reason: String,
    },
    /// The XAdES part is missing or does not belong to this signature.
    #[error("not a XAdES baseline signature: {0}")]
    NotXades(String),
    /// A `ds:Object` carries something else than the XAdES `QualifyingProperties`.
    #[error("ds:Object carries <{0}>, not only xades:QualifyingProperties")]
    UnexpectedObjectContent(String),
    /// A reference points somewhere Ponte does not resolve.
    #[error("reference not allowed: {0}")]
    ReferenceNotAllowed(String),
    /// A transform outside the allowlist.
    #[error("reference {reference}: transform not allowed: {transform}")]
    TransformNotAllowed {
        /// The reference (its `Id`, or its position).
        reference: String,
        /// The transform.
        transform: String,
    },
    /// An algorithm (canonicalization, digest, signature) Ponte does not accept.
    #[error("unsupported {what}: {uri}")]
    UnsupportedAlgorithm {
        /// Which role.
        what: &'static str,
        /// The URI.
        uri: String,
    },
    /// `KeyInfo` carries no `X509Certificate`.
    #[error("KeyInfo carries no X509Certificate")]
    NoCertificate,
    /// A `KeyInfo` certificate does not parse.
    #[error("KeyInfo certificate #{index} unreadable: {reason}")]
    CertificateUnreadable {
        /// 1-based position.
        index: usize,
        /// Why.
        reason: String,
    },
    /// `SigningCertificateV2` does not designate the `KeyInfo` signer certificate.
    #[error("SigningCertificateV2 does not match the KeyInfo certificate: {0}")]
    SigningCertificateMismatch(String),
    /// A reference digest does not match the content it covers.
    #[error("digest of the {0} does not match")]
    DigestMismatch(&'static str),
    /// The `SignatureValue` does not verify over `SignedInfo` with the signer's key.
    #[error("SignatureValue does not verify with the signer's key: {0}")]
    SignatureMismatch(String),
}

impl Invalid {
    /// The kind's stable name (kebab-case), for reports and conformance vectors: harnesses
    /// compare it instead of the message text.
    pub fn kind(&self) -> &'static str {
        match self {
            Invalid::NoSignature => "no-signature",
            Invalid::MultipleSignatures { .. } => "multiple-signatures",
            Invalid::SignatureNotLast(_) => "signature-not-last",
            Invalid::DuplicateId(_) => "duplicate-id",
            Invalid::Malformed(_) => "malformed",
            Invalid::MarkupInValue { .. } => "markup-in-value",
            Invalid::WhitespaceInDigest { .. } => "whitespace-in-digest",
            Invalid::BadBase64 { .. } => "bad-base64",
            Invalid::NotXades(_) => "not-xades",
            Invalid::UnexpectedObjectContent(_) => "unexpected-object-content",
            Invalid::ReferenceNotAllowed(_) => "reference-not-allowed",
            Invalid::TransformNotAllowed { .. } => "transform-not-allowed",
            Invalid::UnsupportedAlgorithm { .. } => "unsupported-algorithm",
            Invalid::NoCertificate => "no-certificate",
            Invalid::CertificateUnreadable { .. } => "certificate-unreadable",
            Invalid::SigningCertificateMismatch(_) => "signing-certificate-mismatch",
            Invalid::DigestMismatch(_) => "digest-mismatch",
            Invalid::SignatureMismatch(_) => "signature-mismatch",
        }
    }
}

/// The instant at which the chains are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// A given instant (the caller's "now", or any other).
    Instant(OffsetDateTime),
    /// The signature's `xades:SigningTime`.
    SigningTime,
}

/// What to trust and when.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Trust anchors for the signer. Empty: the chain is not judged (`chain` is `None`).
    pub anchors: Vec<Certificate>,
    /// Extra intermediates beside those in `KeyInfo`.
    pub intermediates: Vec<Certificate>,
    /// Trust anchors for the time-stamping authority. Empty: not judged.
    pub tsa_anchors: Vec<Certificate>,
    /// When to judge the chains.
    pub at: At,
}

/// The signature's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// XAdES-B-B: the signature and its signed properties.
    BB,
    /// XAdES-B-T: B-B plus a valid `SignatureTimeStamp`.
    BT,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::BB => "B-B",
            Level::BT => "B-T",
        })
    }
}

/// The verdict on the signature itself.
#[derive(Clone, Debug)]
pub struct SignatureVerdict {
    /// Why it is not valid; `None` when it is.
    pub invalid: Option<Invalid>,
    /// B-B or B-T, when valid.
    pub level: Option<Level>,
    /// The signer certificate (first of `KeyInfo`), when readable.
    pub signer: Option<Certificate>,
    /// `xades:SigningTime`, when readable.
    pub signing_time: Option<OffsetDateTime>,
    /// The instant the chains were judged at, when judged.
    pub judged_at: Option<OffsetDateTime>,
    /// The signer's chain to the anchors; `None` without anchors or when the signature is
    /// not valid.
    pub chain: Option<TrustVerdict>,
}

impl SignatureVerdict {
    /// Whether the signature is valid (integrity; trust is [`Self::chain`]).
    pub fn valid(&self) -> bool {
        self.invalid.is_none()
    }
}

/// The verdict on the `SignatureTimeStamp`s.
#[derive(Clone, Debug, Default)]
pub struct TimestampVerdict {
    /// Whether at least one `SignatureTimeStamp` token is present.
    pub present: bool,
    /// Whether one is valid (token signature, and imprint over the canonicalized
    /// `ds:SignatureValue`, not earlier than `SigningTime`).
    pub valid: bool,
    /// Why none is valid, when present and none is.
    pub reason: Option<String>,
    /// The verdict of the first valid token, or of the first token when none is valid.
    pub token: Option<tsp::TokenVerdict>,
}

impl TimestampVerdict {
    /// Trust in the TSA: `None` when no TSA anchors were given or no token.
    pub fn trusted(&self) -> Option<bool> {
        self.token
            .as_ref()
            .and_then(|t| t.trusted.as_ref())
            .map(|t| matches!(t, tsp::Trust::Trusted))
    }

    /// The time-stamp's genTime.
    pub fn time(&self) -> Option<OffsetDateTime> {
        self.token
            .as_ref()
            .and_then(|t| t.info.as_ref())
            .map(|i| i.gen_time.instant())
    }
}

/// Everything a verification says.
#[derive(Clone, Debug)]
pub struct Report {
    /// The signature.
    pub signature: SignatureVerdict,
    /// The time-stamps.
    pub timestamp: TimestampVerdict,
    covered: Option<Vec<u8>>,
}

impl Report {
    fn invalid(why: Invalid) -> Self {
        Report {
            signature: SignatureVerdict {
                invalid: Some(why),
                level: None,
                signer: None,
                signing_time: None,
                judged_at: None,
                chain: None,
            },
            timestamp: TimestampVerdict::default(),
            covered: None,
        }
    }

    /// The canonical octets the document reference covers (the evidence without its
    /// signature), only when the signature is valid. Parse the evidence from these, never
    /// from the input document.
    pub fn signed_content(&self) -> Option<&[u8]> {
        if self.signature.valid() {
            self.covered.as_deref()
        } else {
            None
        }
    }
}

/// Canonicalizes `set` of `doc` with `alg` and `prefixes`.
pub(crate) fn c14n(
    doc: &Document,
    set: &NodeSet,
    alg: C14nAlgorithm,
    prefixes: &[String],
) -> Result<Vec<u8>, Error> {
    let mut method = Method::new(alg.kind).comments(alg.with_comments);
    method.inclusive_prefixes = prefixes.to_vec();
    Ok(xml::canonicalize(doc, set, &method)?)
}

fn digest_alg(m: &DigestMethod, what: &'static str) -> Result<DigestAlgorithm, Invalid> {
    match m {
        DigestMethod::Known(DigestAlgorithm::Sha1) => Err(Invalid::UnsupportedAlgorithm {
            what,
            uri: uri::SHA1.into(),
        }),
        DigestMethod::Known(a) => Ok(*a),
        DigestMethod::Other(u) => Err(Invalid::UnsupportedAlgorithm {
            what,
            uri: u.clone(),
        }),
    }
}

/// The octets a reference's digest is computed over.
fn reference_octets(doc: &Document, sig: &ParsedSignature, plan: &Plan) -> Result<Vec<u8>, Error> {
    // Same-document URIs ("" and "#id") select node-sets without comments (XML-DSig 4.4.3.3),
    // whatever the final canonicalization says.
    let alg = C14nAlgorithm {
        with_comments: false,
        ..plan.c14n
    };
    let set = match plan.target {
        Target::Document => NodeSet::whole_document().subtract(sig.node),
        Target::SignedProperties(sp) => NodeSet::subtree(sp),
    };
    c14n(doc, &set, alg, &plan.prefixes)
}

/// Trims leading zero octets (INTEGER contents compared as magnitudes).
fn magnitude(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|x| **x == 0).count();
    b.get(skip..).unwrap_or_default()
}

fn check_signing_certificate(
    sig: &ParsedSignature,
    signer: &Certificate,
) -> Result<OffsetDateTime, Invalid> {
    let q = sig
        .qualifying
        .as_ref()
        .ok_or(Invalid::NotXades("no xades:QualifyingProperties".into()))?;
    if q.signing_certificates.is_empty() {
        return Err(Invalid::NotXades(if q.has_signing_certificate_v1 {
            "SigningCertificate (v1) instead of SigningCertificateV2".into()
        } else {
            "no SigningCertificateV2".into()
        }));
    }
    let mut last_reason = String::new();
    let mut matched = false;
    for c in &q.signing_certificates {
        let alg = match &c.digest_method {
            DigestMethod::Known(a) => *a,
            DigestMethod::Other(u) => {
                last_reason = format!("unsupported CertDigest method {u}");
                continue;
            }
        };
        if crypto::digest(alg, signer.der()) != c.digest_value {
            last_reason = format!("the {alg} CertDigest is not the signer certificate's");
            continue;
        }
        if let Some(is) = &c.issuer_serial {
            match der::parse_issuer_serial(is) {
                Some((name, serial))
                    if name == signer.issuer_der
                        && magnitude(&serial) == magnitude(&signer.serial) => {}
                Some(_) => {
                    return Err(Invalid::SigningCertificateMismatch(
                        "IssuerSerialV2 names another issuer or serial number".into(),
                    ));
                }
                None => {
                    return Err(Invalid::SigningCertificateMismatch(
                        "IssuerSerialV2 is not a DER IssuerSerial with one directoryName".into(),
                    ));
                }
            }
        }
        matched = true;
        break;
    }
    if !matched {
        return Err(Invalid::SigningCertificateMismatch(last_reason));
    }
    q.signing_time
        .ok_or(Invalid::NotXades("no SigningTime".into()))
}

/// Checks integrity: structure, signer, references, signature value. Returns the parsed
/// signature, the signer, the signing time and the covered octets.
/// A signature whose integrity holds: the parsed signature, the `KeyInfo` certificates
/// (signer first), the signing time and the octets the document reference covers.
type Intact = (ParsedSignature, Vec<Certificate>, OffsetDateTime, Vec<u8>);

/// Why integrity fails, with the signer and signing time when they were read.
type Broken = (Invalid, Option<Certificate>, Option<OffsetDateTime>);

fn check_integrity(doc: &Document) -> Result<Result<Intact, Broken>, Error> {
    let fail = |i: Invalid| Ok(Err((i, None, None)));
    let sig_node = match wrapping::locate_signature(doc) {
        Ok(n) => n,
        Err(i) => return fail(i),
    };
    if let Err(i) = wrapping::check_unique_ids(doc) {
        return fail(i);
    }
    let sig = match super::structure::parse_signature(doc, sig_node) {
        Ok(s) => s,
        Err(i) => return fail(i),
    };
    let plans = match wrapping::plan_references(doc, &sig) {
        Ok(p) => p,
        Err(i) => return fail(i),
    };
    let mut certs = Vec::with_capacity(sig.certificates.len());
    for (i, der) in sig.certificates.iter().enumerate() {
        match Certificate::from_der(der) {
            Ok(c) => certs.push(c),
            Err(e) => {
                return fail(Invalid::CertificateUnreadable {
                    index: i + 1,
                    reason: e.to_string(),
                });
            }
        }
    }
    let Some(signer) = certs.first().cloned() else {
        return fail(Invalid::NoCertificate);
    };
    let signing_time = sig.qualifying.as_ref().and_then(|q| q.signing_time);
    let fail_with = |i: Invalid| Ok(Err((i, Some(signer.clone()), signing_time)));
    let signing_time = match check_signing_certificate(&sig, &signer) {
        Ok(t) => t,
        Err(i) => return fail_with(i),
    };
    // References: the document first, then SignedProperties.
    let mut covered = Vec::new();
    for (plan, what) in [
        (&plans.document, "document"),
        (&plans.signed_properties, "SignedProperties"),
    ] {
        let Some(reference) = sig.references.get(plan.index) else {
            return fail_with(Invalid::Malformed("reference index".into()));
        };
        let alg = match digest_alg(&reference.digest_method, "reference digest method") {
            Ok(a) => a,
            Err(i) => return fail_with(i),
        };
        let octets = reference_octets(doc, &sig, plan)?;
        if crypto::digest(alg, &octets) != reference.digest_value {
            return fail_with(Invalid::DigestMismatch(what));
        }
        if plan.target == Target::Document {
            covered = octets;
        }
    }
    // SignedInfo and the signature value.
    let (alg, prefixes) = match &sig.c14n {
        Ok(c) => c.clone(),
        Err(u) => {
            return fail_with(Invalid::UnsupportedAlgorithm {
                what: "SignedInfo canonicalization",
                uri: u.clone(),
            });
        }
    };
    let method = match &sig.signature_method {
        SignatureMethod::Known(m) => *m,
        SignatureMethod::Other(u) => {
            return fail_with(Invalid::UnsupportedAlgorithm {
                what: "signature method",
                uri: u.clone(),
            });
        }
    };
    let signed_info = c14n(doc, &NodeSet::subtree(sig.signed_info), alg, &prefixes)?;
    let value = match method {
        SignatureAlgorithm::Ecdsa(_) => match der::ecdsa_fixed_to_der(&sig.signature_value) {
            Some(v) => v,
            None => {
                return fail_with(Invalid::SignatureMismatch(
                    "an ECDSA value must be r || s of even length".into(),
                ));
            }
        },
        SignatureAlgorithm::RsaPkcs1(_) => sig.signature_value.clone(),
    };
    match crypto::verify_signature(&signer.spki_der, method, &signed_info, &value) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return fail_with(Invalid::SignatureMismatch(e.to_string())),
        Err(e) => return fail_with(Invalid::SignatureMismatch(e.to_string())),
    }
    Ok(Ok((sig, certs, signing_time, covered)))
}

/// The octets a `SignatureTimeStamp` covers: the `ds:SignatureValue` element canonicalized
/// with `alg`.
pub(crate) fn signature_value_octets(
    doc: &Document,
    signature_value: NodeId,
    alg: C14nAlgorithm,
) -> Result<Vec<u8>, Error> {
    c14n(doc, &NodeSet::subtree(signature_value), alg, &[])
}

fn check_timestamps(
    doc: &Document,
    sig: &ParsedSignature,
    signing_time: OffsetDateTime,
    opts: &VerifyOptions,
    at: OffsetDateTime,
) -> Result<TimestampVerdict, Error> {
    let mut verdict = TimestampVerdict::default();
    let Some(q) = &sig.qualifying else {
        return Ok(verdict);
    };
    for ts in &q.timestamps {
        for token in &ts.tokens {
            verdict.present = true;
            let alg = match &ts.c14n {
                Ok(a) => *a,
                Err(u) => {
                    verdict.reason = Some(format!(
                        "SignatureTimeStamp canonicalization {u} not supported"
                    ));
                    continue;
                }
            };
            let data = signature_value_octets(doc, sig.signature_value_node, alg)?;
            let hash = match tsp::verify::read_tst_info(token) {
                Ok(tst) => match tsp::HashAlg::from_oid(&tst.message_imprint.hash_algorithm.oid) {
                    Some(h) => h,
                    None => {
                        verdict.reason = Some(format!(
                            "time-stamp imprint algorithm {} not supported",
                            tst.message_imprint.hash_algorithm.oid
                        ));
                        continue;
                    }
                },
                Err(e) => {
                    verdict.reason = Some(format!("time-stamp token unreadable: {e}"));
                    continue;
                }
            };
            let expected = tsp::Expected {
                imprint: tsp::Imprint::of(hash, &data),
                nonce: None,
            };
            let topts = tsp::VerifyOptions {
                anchors: opts.tsa_anchors.clone(),
                // The caller's intermediates serve the TSU path too (a TSU under a CA the
                // token does not carry).
                extra_certs: opts.intermediates.clone(),
                at: Some(at),
            };
            let tv = match tsp::verify::verify_token(token, &expected, &topts) {
                Ok(v) => v,
                Err(e) => {
                    verdict.reason = Some(format!("time-stamp token unreadable: {e}"));
                    continue;
                }
            };
            let mut ok = tv.valid();
            if let Some(why) = &tv.invalid {
                verdict.reason = Some(why.to_string());
            } else if let Some(info) = &tv.info
                && info.gen_time.instant() < signing_time - time::Duration::minutes(5)
            {
                ok = false;
                verdict.reason = Some(format!(
                    "time-stamp genTime {} precedes SigningTime {signing_time}",
                    info.gen_time.to_rfc3339()
                ));
            }
            if ok && !verdict.valid {
                verdict.valid = true;
                verdict.reason = None;
                verdict.token = Some(tv);
            } else if verdict.token.is_none() {
                verdict.token = Some(tv);
            }
        }
    }
    if verdict.valid {
        verdict.reason = None;
    }
    Ok(verdict)
}

/// Verifies the evidence signature in `xml`. `Err` only when the XML cannot be read at all
/// (or, exceptionally, cannot be canonicalized); every other outcome is in the [`Report`].
pub fn verify(xml: &[u8], opts: &VerifyOptions) -> Result<Report, Error> {
    let doc = xml::parse(xml)?;
    verify_document(&doc, opts)
}

/// [`verify`] on an already parsed document.
pub fn verify_document(doc: &Document, opts: &VerifyOptions) -> Result<Report, Error> {
    let (sig, certs, signing_time, covered) = match check_integrity(doc)? {
        Ok(v) => v,
        Err((why, signer, signing_time)) => {
            let mut r = Report::invalid(why);
            r.signature.signer = signer;
            r.signature.signing_time = signing_time;
            return Ok(r);
        }
    };
    let at = match opts.at {
        At::Instant(t) => t,
        At::SigningTime => signing_time,
    };
    let signer = certs.first().cloned();
    let chain = match (&signer, opts.anchors.is_empty()) {
        (Some(s), false) => {
            let mut inter: Vec<Certificate> = certs.iter().skip(1).cloned().collect();
            inter.extend(opts.intermediates.iter().cloned());
            Some(x509::verify_chain(
                s,
                &inter,
                &opts.anchors,
                at,
                Usage::EmailProtection,
            ))
        }
        _ => None,
    };
    let timestamp = check_timestamps(doc, &sig, signing_time, opts, at)?;
    let level = if timestamp.valid {
        Level::BT
    } else {
        Level::BB
    };
    Ok(Report {
        signature: SignatureVerdict {
            invalid: None,
            level: Some(level),
            signer,
            signing_time: Some(signing_time),
            judged_at: Some(at),
            chain,
        },
        timestamp,
        covered: Some(covered),
    })
}
