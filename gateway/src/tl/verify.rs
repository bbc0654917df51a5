//! Judging a trusted list's signature.
//!
//! TS 119 612 §5.7: a list is signed with an enveloped XAdES signature by its scheme
//! operator. The crate's XAdES verifier checks integrity (one signature, last child of the
//! root, the whole document minus the signature and the `SignedProperties` covered, the
//! signature value); then the signer must be one of the keys allowed for this list: a
//! certificate of the pointing list's `OtherTSLPointer` (for a list found through a list of
//! lists) or a configured anchor (for a list given directly). An allowed key is the same
//! certificate or the same public key; a configured anchor may also be a CA that issued the
//! signer's certificate. The signer's certificate must be valid at `ListIssueDateTime`.
//!
//! A list whose signature is broken is always refused. A list without a signature, or signed
//! by a key that is not allowed, is refused unless unsigned lists are allowed (tests only):
//! then it is accepted and marked as not verified, and every answer built on it says so.

use time::OffsetDateTime;

use super::{Error, model::TrustedList, parse};
use crate::x509::{self, Certificate, Usage};
use crate::xades::{self, At, VerifyOptions};
use crate::xml::{self, Document};

/// How far a list is trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListTrust {
    /// Signed by an allowed key.
    Verified {
        /// The signer certificate's subject.
        signer: String,
        /// Where the allowed key came from (`list_anchors`, or the pointing list).
        key_from: String,
    },
    /// Accepted although not verified (unsigned lists allowed): why it is not verified.
    NotVerified(String),
}

impl ListTrust {
    /// Whether the list's signature was verified against an allowed key.
    pub fn is_verified(&self) -> bool {
        matches!(self, ListTrust::Verified { .. })
    }
}

/// Why a list was refused (a verdict, not an error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// The list could not be read: the reason.
    #[error("unreadable: {0}")]
    Unreadable(String),
    /// The signature is broken (tampered list, wrong key, wrapped content).
    #[error("signature not valid: {0}")]
    BadSignature(xades::Invalid),
    /// The signature is intact but its signer is not one of the keys allowed for this list.
    #[error("signed by {signer}, which is not allowed to sign this list: {reason}")]
    UnknownSigner {
        /// The signer certificate's subject.
        signer: String,
        /// Why it is not allowed.
        reason: String,
    },
    /// The list is not signed.
    #[error("not signed (unsigned lists are allowed only with allow_unsigned_lists, for tests)")]
    Unsigned,
    /// The copy fetched is older (lower `TSLSequenceNumber`) than the one already accepted:
    /// a replay of a superseded list.
    #[error(
        "sequence number {sequence} is lower than the accepted copy's {cached} (a replayed list)"
    )]
    Older {
        /// The fetched copy's sequence number.
        sequence: u64,
        /// The accepted copy's.
        cached: u64,
    },
    /// The source could not be fetched and nothing is cached.
    #[error("unreachable and not cached: {0}")]
    Unreachable(String),
}

/// A list read and judged: the model, read from the signed octets when signed.
#[derive(Clone, Debug)]
pub struct Judged {
    /// The list.
    pub list: TrustedList,
    /// How far it is trusted.
    pub trust: ListTrust,
}

/// Whether `signer` is one of `keys` (same certificate or same public key), or issued by one
/// of them (a path at `at`).
fn allowed(
    signer: &Certificate,
    chain: &[Certificate],
    keys: &[Certificate],
    at: OffsetDateTime,
) -> Result<(), String> {
    if keys.is_empty() {
        return Err("no key is allowed for it (configure list_anchors)".to_owned());
    }
    if keys
        .iter()
        .any(|k| k.der() == signer.der() || k.spki_der == signer.spki_der)
    {
        return Ok(());
    }
    let verdict = x509::verify_chain(signer, chain, keys, at, Usage::Any);
    if verdict.trusted {
        Ok(())
    } else {
        Err(verdict
            .reason
            .unwrap_or_else(|| "not among the allowed keys".to_owned()))
    }
}

/// Reads and judges the list in `bytes`: signed by one of `keys` (from `key_from`), or, with
/// `allow_unsigned`, not verified.
pub fn judge(
    bytes: &[u8],
    keys: &[Certificate],
    key_from: &str,
    allow_unsigned: bool,
) -> Result<Judged, Refused> {
    let doc = xml::parse(bytes).map_err(|e| Refused::Unreadable(Error::from(e).to_string()))?;
    let signed = doc
        .elements_named(Some(xml::DSIG_NAMESPACE), "Signature")
        .next()
        .is_some();
    if !signed {
        let list = parse::list(&doc).map_err(|e| Refused::Unreadable(e.to_string()))?;
        return if allow_unsigned {
            Ok(Judged {
                list,
                trust: ListTrust::NotVerified("the list is not signed".to_owned()),
            })
        } else {
            Err(Refused::Unsigned)
        };
    }
    judge_signed(&doc, keys, key_from, allow_unsigned)
}

fn judge_signed(
    doc: &Document,
    keys: &[Certificate],
    key_from: &str,
    allow_unsigned: bool,
) -> Result<Judged, Refused> {
    let opts = VerifyOptions {
        anchors: Vec::new(),
        intermediates: Vec::new(),
        tsa_anchors: Vec::new(),
        at: At::SigningTime,
    };
    let report = xades::verify::verify_document(doc, &opts)
        .map_err(|e| Refused::Unreadable(Error::from(e).to_string()))?;
    if let Some(why) = report.signature.invalid.clone() {
        return Err(Refused::BadSignature(why));
    }
    let covered = report
        .signed_content()
        .ok_or_else(|| Refused::Unreadable("no signed content".to_owned()))?;
    // The list as signed: parsed from the octets the signature covers.
    let signed_doc =
        xml::parse(covered).map_err(|e| Refused::Unreadable(Error::from(e).to_string()))?;
    let list = parse::list(&signed_doc).map_err(|e| Refused::Unreadable(e.to_string()))?;
    let Some(signer) = report.signature.signer.clone() else {
        return Err(Refused::Unreadable("no signer certificate".to_owned()));
    };
    let chain = keyinfo_chain(doc);
    let verdict = if !signer.is_valid_at(list.issued) {
        Err(format!(
            "its certificate is not valid at the list's issue time {} (valid {} to {})",
            list.issued, signer.not_before, signer.not_after
        ))
    } else {
        allowed(&signer, &chain, keys, list.issued)
    };
    match verdict {
        Ok(()) => Ok(Judged {
            list,
            trust: ListTrust::Verified {
                signer: signer.subject.clone(),
                key_from: key_from.to_owned(),
            },
        }),
        Err(reason) if allow_unsigned => Ok(Judged {
            list,
            trust: ListTrust::NotVerified(format!(
                "signed by {}, not an allowed key: {reason}",
                signer.subject
            )),
        }),
        Err(reason) => Err(Refused::UnknownSigner {
            signer: signer.subject.clone(),
            reason,
        }),
    }
}

/// The certificates of the signature's `KeyInfo` after the signer (for a path to an anchor).
fn keyinfo_chain(doc: &Document) -> Vec<Certificate> {
    let Some(sig) = doc
        .elements_named(Some(xml::DSIG_NAMESPACE), "Signature")
        .next()
    else {
        return Vec::new();
    };
    match xades::structure::parse_signature(doc, sig) {
        Ok(p) => p
            .certificates
            .iter()
            .skip(1)
            .filter_map(|d| Certificate::from_der(d).ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}
