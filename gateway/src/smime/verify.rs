//! Integrity of an S/MIME message: is it signed, does the signature verify, who signed, when,
//! and exactly what bytes were signed.

use super::Error;
use crate::cms;
use crate::crypto::DigestAlgorithm;
use crate::mime::{self, Located};
use crate::x509::Certificate;
use time::OffsetDateTime;

/// The S/MIME form found at the top level of the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmimeForm {
    /// `multipart/signed` with a detached signature; `protocol` as written, lower-cased.
    Detached {
        /// `application/pkcs7-signature` or `application/x-pkcs7-signature` (or what was found).
        protocol: String,
        /// The `micalg` parameter, when present.
        micalg: Option<String>,
    },
    /// `application/(x-)pkcs7-mime` signed-data.
    Opaque,
}

/// The integrity verdict of an S/MIME message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmimeVerdict {
    /// Whether the message carries an S/MIME signature at its top level.
    pub present: bool,
    /// Whether the signature verifies over the signed content.
    pub valid: bool,
    /// Why not valid (or why not present, when the structure says why).
    pub reason: Option<String>,
    /// The form, when present.
    pub form: Option<SmimeForm>,
    /// Digest of the SignerInfo: `sha1`, `sha256`, `sha384`, `sha512` or a dotted OID.
    pub digest: Option<String>,
    /// Subject DN of the signer certificate.
    pub signer: Option<String>,
    /// The signer certificate.
    pub signer_certificate: Option<Certificate>,
    /// The CMS signingTime.
    pub signing_time: Option<OffsetDateTime>,
    /// The certificates carried in the CMS (candidate intermediates for [`super::trust`]).
    pub certificates: Vec<Certificate>,
    /// The signed content: the first part of multipart/signed exactly as signed (CRLF), or
    /// the encapsulated content of opaque signed-data.
    pub signed_content: Vec<u8>,
    /// Remarks that do not change validity: SHA-1 in use, micalg disagreeing with the CMS,
    /// line endings canonicalised.
    pub notes: Vec<String>,
}

impl SmimeVerdict {
    fn absent(reason: Option<String>) -> Self {
        Self {
            present: false,
            valid: false,
            reason,
            form: None,
            digest: None,
            signer: None,
            signer_certificate: None,
            signing_time: None,
            certificates: Vec::new(),
            signed_content: Vec::new(),
            notes: Vec::new(),
        }
    }
}

const SIGNATURE_TYPES: [&str; 2] = [
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
];

/// Verifies the S/MIME signature of a raw message (as stored: CRLF or LF line endings).
///
/// `Err` only when the bytes are not a MIME message.
pub fn verify(raw: &[u8]) -> Result<SmimeVerdict, Error> {
    let canonical = mime::canonicalize(raw);
    let lf_converted = matches!(canonical, std::borrow::Cow::Owned(_));
    let located = match mime::locate(&canonical) {
        Ok(l) => l,
        Err(mime::Error::SignedStructure(why)) => {
            // e.g. anonymised fixtures whose smime.p7s part was removed: labelled signed,
            // but carrying no signature.
            return Ok(SmimeVerdict::absent(Some(format!(
                "no signature: multipart/signed {why}"
            ))));
        }
        Err(e) => return Err(e.into()),
    };
    let mut v = SmimeVerdict::absent(None);
    if lf_converted {
        v.notes
            .push("message stored with LF line endings: verified in CRLF form".into());
    }
    let (cms_bytes, detached) = match located {
        Located::Unsigned { media_type } => {
            v.reason = Some(format!("not signed: top-level type is {media_type}"));
            return Ok(v);
        }
        Located::Opaque { der, smime_type } => {
            if let Some(t) = smime_type.as_deref().filter(|t| *t != "signed-data") {
                v.reason = Some(format!("not signed: pkcs7-mime with smime-type={t}"));
                return Ok(v);
            }
            v.present = true;
            v.form = Some(SmimeForm::Opaque);
            (der, None)
        }
        Located::Detached {
            content,
            signature,
            protocol,
            micalg,
            signature_type,
        } => {
            v.present = true;
            v.form = Some(SmimeForm::Detached {
                protocol: protocol.clone(),
                micalg: micalg.clone(),
            });
            if !SIGNATURE_TYPES.contains(&protocol.as_str()) {
                if SIGNATURE_TYPES.contains(&signature_type.as_str()) {
                    v.notes.push(format!(
                        "protocol parameter {protocol:?} is not an S/MIME one; the signature part is {signature_type}"
                    ));
                } else {
                    v.reason = Some(format!(
                        "multipart/signed with protocol {protocol:?} is not S/MIME"
                    ));
                    return Ok(v);
                }
            }
            if let Some(m) = &micalg {
                v.notes.push(format!("micalg={m}"));
            }
            (signature, Some(content))
        }
    };
    let sd = match cms::parse(&cms_bytes) {
        Ok(sd) => sd,
        Err(e) => {
            v.reason = Some(format!("signature unreadable: {e}"));
            v.signed_content = detached.unwrap_or_default();
            return Ok(v);
        }
    };
    let c = cms::verify(&sd, detached.as_deref());
    v.valid = c.valid;
    v.reason = c.reason;
    v.digest = c.digest;
    v.signer = c.signer.as_ref().map(|s| s.subject.clone());
    v.signer_certificate = c.signer;
    v.signing_time = c.signing_time;
    v.certificates = c.certificates;
    v.signed_content = detached.or(sd.content).unwrap_or_default();
    if v.digest.as_deref() == Some("sha1") {
        v.notes
            .push("SHA-1 digest (legacy, accepted for verification only)".into());
    }
    if let Some(SmimeForm::Detached {
        micalg: Some(m), ..
    }) = &v.form
    {
        let declared = DigestAlgorithm::from_name(m).map(|d| d.name().to_string());
        if declared.is_some() && declared != v.digest {
            v.notes.push(format!(
                "micalg {m} disagrees with the CMS digest {}; the CMS is authoritative",
                v.digest.as_deref().unwrap_or("?")
            ));
        }
    }
    v.notes.retain(|n| !n.starts_with("micalg="));
    Ok(v)
}
