//! Verifying a REM message: the S/MIME signature and its trust, each evidence's XAdES
//! signature (and trust), and the consistency of the original's digest (EN 319 532-4 D.4.3:
//! the R-REMS recomputes it and checks it against the header and the evidence). Every outcome
//! is a value in [`RemVerdict`]; `Err` only when the bytes are not a readable REM message.

use super::prepare::{digest_b64, digest_original};
use super::{DIGEST_SHA256, Error, RemMessage};
use crate::crypto::{DigestAlgorithm, digest};
use crate::rem::evidence::{self, EvidenceSummary};
use crate::smime::{self, SmimeVerdict, TrustTime};
use crate::x509::{Certificate, TrustVerdict};
use crate::xades;

/// What to trust and when.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Anchors for the REM providers (S/MIME signer and evidence signers).
    pub anchors: Vec<Certificate>,
    /// Extra intermediates.
    pub intermediates: Vec<Certificate>,
    /// Anchors for the time-stamping authorities of the evidences; empty: not judged.
    pub tsa_anchors: Vec<Certificate>,
    /// When trust is judged (for the evidences, `SigningTime` is their `xades:SigningTime`).
    pub at: TrustTime,
}

/// The verdict on one evidence.
#[derive(Debug, Clone)]
pub struct EvidenceCheck {
    /// The evidence part's file name.
    pub filename: String,
    /// The XAdES verdict (signature, trust, time-stamp); `None` when the part is not XML the
    /// verifier can read at all (then [`EvidenceCheck::unreadable`] says why).
    pub verdict: Option<xades::Report>,
    /// What the evidence says, read from the signed content when the signature is valid.
    pub summary: Option<EvidenceSummary>,
    /// The `PartInfo` digests for the original (`message/rfc822`): algorithm URI and value.
    pub part_digests: Vec<(Option<String>, Option<String>)>,
    /// `UserContentInfo/AppLayerIdentifier` (the user's Message-ID), when present.
    pub app_layer_identifier: Option<String>,
    /// Why the part could not be read as XML, or its signed content as an evidence.
    pub unreadable: Option<String>,
    /// The evidence read from the signed content (what [`EvidenceCheck::summary`] sums up),
    /// when the signature is valid.
    pub evidence: Option<Box<evidence::Evidence>>,
}

impl EvidenceCheck {
    /// Whether the XAdES signature is valid and the signed content reads as an evidence.
    pub fn valid(&self) -> bool {
        self.summary.is_some() && self.verdict.as_ref().is_some_and(|r| r.signature.valid())
    }

    /// Whether the signer chains to the anchors (`None` when no anchors were given or the
    /// signature is not valid).
    pub fn trusted(&self) -> Option<bool> {
        self.verdict
            .as_ref()
            .and_then(|r| r.signature.chain.as_ref())
            .map(|c| c.trusted)
    }
}

/// Whether the user's Message-ID is told the same everywhere: `REM-UAMessageIdentifier` of
/// the top header, the `REM-UAMessageIdentifier` inside the attached original, and each
/// evidence's `AppLayerIdentifier`. Reported, not part of [`RemVerdict::valid`] (the digest
/// already binds the original; the AgID kit's dispatches disagree here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UaMessageIdCheck {
    /// Whether every place that tells it agrees.
    pub consistent: bool,
    /// What disagrees, one line each.
    pub problems: Vec<String>,
}

/// The digest consistency of the original (532-3 §6.2.4, 532-4 D.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCheck {
    /// Whether everything agrees.
    pub consistent: bool,
    /// `REM-DigestAlgorithm`.
    pub algorithm: String,
    /// `REM-DigestValue`.
    pub header_value: String,
    /// The digest recomputed over the attached original, when present and the algorithm known.
    pub recomputed: Option<String>,
    /// What disagrees, one line each.
    pub problems: Vec<String>,
}

/// Everything the verification of a REM message says.
#[derive(Debug, Clone)]
pub struct RemVerdict<'a> {
    /// The S/MIME integrity verdict (its `signed_content` left empty: the signed sections
    /// are read into [`RemVerdict::message`]).
    pub smime: SmimeVerdict,
    /// Trust in the S/MIME signer (at the requested instant).
    pub trust: TrustVerdict,
    /// One check per XML evidence.
    pub evidences: Vec<EvidenceCheck>,
    /// The digest consistency.
    pub digest: DigestCheck,
    /// The user's Message-ID consistency.
    pub ua_message_id: UaMessageIdCheck,
    /// Whether `REM-EventIdentifier` is the event of one of the valid evidences.
    pub header_event_matches: bool,
    /// Whether `REM-Evidence-ID` is the `EvidenceIdentifier` of a valid evidence of that
    /// event. Reported, not part of [`RemVerdict::valid`]: the signed evidence is
    /// authoritative, and the AgID kit's own Outflow receipts disagree here.
    pub header_evidence_id_matches: bool,
    /// The message as read.
    pub message: RemMessage<'a>,
}

impl RemVerdict<'_> {
    /// Whether everything holds: S/MIME valid and trusted, at least one evidence, every
    /// evidence valid and trusted (when anchors were given), digests consistent, and
    /// `REM-EventIdentifier` naming the event of a valid evidence.
    pub fn valid(&self) -> bool {
        self.smime.valid
            && self.trust.trusted
            && !self.evidences.is_empty()
            && self
                .evidences
                .iter()
                .all(|e| e.valid() && e.trusted().is_none_or(|t| t))
            && self.digest.consistent
            && self.header_event_matches
    }
}

/// [`verify_with`] with REM anchors only (no TSA judgement).
pub fn verify<'b>(
    bytes: &'b [u8],
    anchors: &[Certificate],
    at: TrustTime,
) -> Result<RemVerdict<'b>, Error> {
    verify_with(
        bytes,
        &VerifyOptions {
            anchors: anchors.to_vec(),
            intermediates: Vec::new(),
            tsa_anchors: Vec::new(),
            at,
        },
    )
}

fn algorithm_of(uri: &str) -> Option<DigestAlgorithm> {
    match uri.trim() {
        DIGEST_SHA256 => Some(DigestAlgorithm::Sha256),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Some(DigestAlgorithm::Sha384),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Some(DigestAlgorithm::Sha512),
        _ => None,
    }
}

/// Verifies a REM message.
/// The verdict borrows the original from `bytes` when they are CRLF and the original is
/// carried in binary.
pub fn verify_with<'b>(bytes: &'b [u8], opts: &VerifyOptions) -> Result<RemVerdict<'b>, Error> {
    // One canonical form and one reading of the structure for both.
    let (message, smime_verdict) = match crate::mime::canonicalize(bytes) {
        std::borrow::Cow::Borrowed(b) => {
            let (message, tree) = super::parse::parse_canonical(b, false)?;
            let (v, _) = smime::verify_canonical(b, false, Some(&tree))?;
            (message, v)
        }
        std::borrow::Cow::Owned(c) => {
            let (message, tree) = super::parse::parse_canonical(&c, true)?;
            let (v, _) = smime::verify_canonical(&c, true, Some(&tree))?;
            drop(tree);
            (message.into_owned(), v)
        }
    };
    let trust = smime::trust(&smime_verdict, &opts.anchors, &opts.intermediates, opts.at);
    let xopts = xades::VerifyOptions {
        anchors: opts.anchors.clone(),
        intermediates: opts.intermediates.clone(),
        tsa_anchors: opts.tsa_anchors.clone(),
        at: match opts.at {
            TrustTime::At(t) => xades::At::Instant(t),
            TrustTime::SigningTime => xades::At::SigningTime,
        },
    };
    let mut checks = Vec::with_capacity(message.evidences.len());
    for e in &message.evidences {
        let report = match xades::verify(&e.bytes, &xopts) {
            Ok(r) => r,
            Err(err) => {
                checks.push(EvidenceCheck {
                    filename: e.filename.clone(),
                    verdict: None,
                    summary: None,
                    part_digests: Vec::new(),
                    app_layer_identifier: None,
                    unreadable: Some(err.to_string()),
                    evidence: None,
                });
                continue;
            }
        };
        let (summary, part_digests, app_layer_identifier, unreadable, parsed) =
            match report.signed_content() {
                Some(content) => match evidence::parse(content) {
                    Ok(ev) => {
                        let parts = ev
                            .user_content_info
                            .as_ref()
                            .map(|u| {
                                u.parts
                                    .iter()
                                    .filter(|p| {
                                        p.content_type.eq_ignore_ascii_case("message/rfc822")
                                            || p.identifier == "urn:oid:1.3.6.1.7"
                                    })
                                    .map(|p| (p.digest_method.clone(), p.digest_value.clone()))
                                    .collect()
                            })
                            .unwrap_or_default();
                        let app = ev
                            .user_content_info
                            .as_ref()
                            .and_then(|u| u.app_layer_identifier.clone());
                        (Some(ev.summary()), parts, app, None, Some(Box::new(ev)))
                    }
                    Err(err) => (None, Vec::new(), None, Some(err.to_string()), None),
                },
                None => (None, Vec::new(), None, None, None),
            };
        checks.push(EvidenceCheck {
            filename: e.filename.clone(),
            verdict: Some(report),
            summary,
            part_digests,
            app_layer_identifier,
            unreadable,
            evidence: parsed,
        });
    }

    let md = &message.metadata;
    let mut problems = Vec::new();
    let algorithm = algorithm_of(&md.digest_algorithm);
    if algorithm.is_none() {
        problems.push(format!(
            "REM-DigestAlgorithm {} is not supported",
            md.digest_algorithm
        ));
    }
    let recomputed = match (&message.original, algorithm) {
        (Some(o), Some(DigestAlgorithm::Sha256)) => Some(digest_b64(&digest_original(o))),
        (Some(o), Some(a)) => Some(digest_b64(&digest(a, o))),
        _ => None,
    };
    if let Some(r) = &recomputed
        && *r != md.digest_value
    {
        problems.push(format!(
            "the attached original digests to {r}, REM-DigestValue says {}",
            md.digest_value
        ));
    }
    if message.original.is_none() && md.message_type.carries_original() {
        problems.push("the message type carries the original, but none is attached".into());
    }
    for c in &checks {
        for (alg, value) in &c.part_digests {
            if alg
                .as_deref()
                .is_some_and(|a| a.trim() != md.digest_algorithm)
            {
                problems.push(format!(
                    "{}: PartInfo digest algorithm {} differs from REM-DigestAlgorithm",
                    c.filename,
                    alg.as_deref().unwrap_or_default()
                ));
            }
            if value.as_deref().map(str::trim) != Some(md.digest_value.as_str()) {
                problems.push(format!(
                    "{}: PartInfo digest {} differs from REM-DigestValue {}",
                    c.filename,
                    value.as_deref().unwrap_or("(none)"),
                    md.digest_value
                ));
            }
        }
        if c.summary.is_some() && c.part_digests.is_empty() {
            problems.push(format!(
                "{}: no PartInfo digest for the original",
                c.filename
            ));
        }
    }
    let digest_check = DigestCheck {
        consistent: problems.is_empty(),
        algorithm: md.digest_algorithm.clone(),
        header_value: md.digest_value.clone(),
        recomputed,
        problems,
    };
    let mut ua_problems = Vec::new();
    if let Some(o) = &message.original {
        let inner = super::wire::header_end(o).map_or(o.len(), |(_, blank)| blank);
        let fields = super::wire::fields(o.get(..inner).unwrap_or_default());
        let inside: Vec<String> = fields
            .iter()
            .filter(|f| {
                f.name
                    .eq_ignore_ascii_case(super::header::UA_MESSAGE_IDENTIFIER)
            })
            .map(|f| f.unfolded())
            .collect();
        match inside.as_slice() {
            [] => ua_problems.push("the attached original has no REM-UAMessageIdentifier".into()),
            [one] if *one != md.ua_message_id => ua_problems.push(format!(
                "the attached original says REM-UAMessageIdentifier {one}, the header {}",
                md.ua_message_id
            )),
            [_] => {}
            more => ua_problems.push(format!(
                "the attached original has {} REM-UAMessageIdentifier fields",
                more.len()
            )),
        }
    }
    for c in &checks {
        if let Some(a) = &c.app_layer_identifier
            && a.trim() != md.ua_message_id
        {
            ua_problems.push(format!(
                "{}: AppLayerIdentifier {} differs from REM-UAMessageIdentifier {}",
                c.filename,
                a.trim(),
                md.ua_message_id
            ));
        }
    }
    let ua_message_id = UaMessageIdCheck {
        consistent: ua_problems.is_empty(),
        problems: ua_problems,
    };
    let evidence_id = md
        .evidence_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let of_event = || {
        checks
            .iter()
            .filter_map(|c| c.summary.as_ref())
            .filter(|s| s.event_uri == md.event.uri())
    };
    let header_event_matches = of_event().next().is_some();
    let header_evidence_id_matches = of_event()
        .any(|s| s.evidence_id.trim_start_matches('<').trim_end_matches('>') == evidence_id);
    Ok(RemVerdict {
        smime: smime_verdict,
        trust,
        evidences: checks,
        digest: digest_check,
        ua_message_id,
        header_event_matches,
        header_evidence_id_matches,
        message,
    })
}
