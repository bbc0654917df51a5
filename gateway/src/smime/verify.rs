//! Integrity of an S/MIME message: is it signed, does the signature verify, who signed, when,
//! and exactly what bytes were signed.

use super::Error;
use crate::cms;
use crate::crypto::DigestAlgorithm;
use crate::mime::{self, signed::LocatedIn};
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
    /// The certificates carried in the CMS (candidate intermediates for [`fn@super::trust`]).
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
    let (mut v, content) = verify_canonical(&canonical, lf_converted, None)?;
    v.signed_content = content.into_owned();
    Ok(v)
}

/// [`verify`] of a message already in canonical form (`lf_converted`: it was made so from LF
/// line endings), over its structure when already read: the verdict without its copy of
/// the signed content, and that content (borrowed from `canonical` when detached).
pub(crate) fn verify_canonical<'m>(
    canonical: &'m [u8],
    lf_converted: bool,
    tree: Option<&mime::tree::Tree<'_>>,
) -> Result<(SmimeVerdict, std::borrow::Cow<'m, [u8]>), Error> {
    use std::borrow::Cow;
    let located = match tree {
        Some(t) => mime::signed::locate_tree(canonical, t),
        None => mime::signed::locate_in(canonical),
    };
    let located = match located {
        Ok(l) => l,
        Err(mime::Error::SignedStructure(why)) => {
            // e.g. anonymised fixtures whose smime.p7s part was removed: labelled signed,
            // but carrying no signature.
            return Ok((
                SmimeVerdict::absent(Some(format!("no signature: multipart/signed {why}"))),
                Cow::Borrowed(&[]),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut v = SmimeVerdict::absent(None);
    if lf_converted {
        v.notes
            .push("message stored with LF line endings: verified in CRLF form".into());
    }
    let (cms_bytes, detached) = match located {
        LocatedIn::Unsigned { media_type } => {
            v.reason = Some(format!("not signed: top-level type is {media_type}"));
            return Ok((v, Cow::Borrowed(&[])));
        }
        LocatedIn::Opaque { der, smime_type } => {
            if let Some(t) = smime_type.as_deref().filter(|t| *t != "signed-data") {
                v.reason = Some(format!("not signed: pkcs7-mime with smime-type={t}"));
                return Ok((v, Cow::Borrowed(&[])));
            }
            v.present = true;
            v.form = Some(SmimeForm::Opaque);
            (der, None)
        }
        LocatedIn::Detached {
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
                    return Ok((v, Cow::Borrowed(&[])));
                }
            }
            (signature, Some(content))
        }
    };
    let sd = match cms::parse(&cms_bytes) {
        Ok(sd) => sd,
        Err(e) => {
            v.reason = Some(format!("signature unreadable: {e}"));
            return Ok((v, Cow::Borrowed(detached.unwrap_or_default())));
        }
    };
    let c = cms::verify(&sd, detached);
    v.valid = c.valid;
    v.reason = c.reason;
    v.digest = c.digest;
    v.signer = c.signer.as_ref().map(|s| s.subject.clone());
    v.signer_certificate = c.signer;
    v.signing_time = c.signing_time;
    v.certificates = c.certificates;
    let content = match detached {
        Some(d) => Cow::Borrowed(d),
        None => Cow::Owned(sd.content.unwrap_or_default()),
    };
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
    Ok((v, content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;
    use crate::smime::{SignRequest, sign};
    use crate::x509::load_pem;

    const KEY: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/pki/pec-rsa.key.pem"
    ));
    const CERT: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/pki/pec-rsa.pem"
    ));
    const INNER: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\n\r\nciao\r\n";

    fn signed() -> Vec<u8> {
        let key = SigningKey::from_pkcs8_pem(KEY).expect("key");
        let cert = load_pem(CERT).expect("cert").remove(0);
        sign(&SignRequest {
            headers: &[("Subject", "prova")],
            inner: INNER,
            key: &key,
            signer: &cert,
            chain: &[],
            signing_time: time::macros::datetime!(2026-12-01 08:00 UTC),
            protocol: crate::smime::SmimeProtocol::Pec,
        })
        .expect("sign")
    }

    fn replace(hay: &[u8], from: &str, to: &str) -> Vec<u8> {
        let s = String::from_utf8(hay.to_vec()).expect("ascii message");
        assert!(s.contains(from), "{from} not in message");
        s.replacen(from, to, 1).into_bytes()
    }

    #[test]
    fn both_protocol_names_verify() {
        let m = signed();
        assert!(verify(&m).expect("readable").valid);
        let m2 = replace(
            &m,
            "protocol=\"application/x-pkcs7-signature\"",
            "protocol=application/pkcs7-signature",
        );
        let v = verify(&m2).expect("readable");
        assert!(v.valid, "{:?}", v.reason);
        assert_eq!(
            v.form,
            Some(SmimeForm::Detached {
                protocol: "application/pkcs7-signature".into(),
                micalg: Some("sha-256".into())
            })
        );
        assert_eq!(v.signed_content, INNER);
    }

    #[test]
    fn micalg_disagreeing_with_cms_is_a_note_not_a_failure() {
        let m = replace(&signed(), "micalg=\"sha-256\"", "micalg=\"sha1\"");
        let v = verify(&m).expect("readable");
        assert!(v.valid, "{:?}", v.reason);
        assert_eq!(v.digest.as_deref(), Some("sha256"));
        assert!(
            v.notes.iter().any(|n| n.contains("disagrees")),
            "{:?}",
            v.notes
        );
    }

    #[test]
    fn missing_signature_part_is_not_present() {
        let m = signed();
        let s = String::from_utf8(m).expect("ascii");
        let cut = s
            .find("Content-Type: application/x-pkcs7-signature")
            .expect("p7s part");
        let boundary_line = s[..cut]
            .trim_end()
            .rsplit("\r\n")
            .next()
            .expect("boundary")
            .to_string();
        let truncated = format!(
            "{}{}--\r\n",
            &s[..cut - 2 - boundary_line.len()],
            boundary_line
        );
        let v = verify(truncated.as_bytes()).expect("readable");
        assert!(!v.present && !v.valid);
        assert!(
            v.reason
                .as_deref()
                .unwrap_or("")
                .contains("signature part missing"),
            "{:?}",
            v.reason
        );
    }

    #[test]
    fn garbage_p7s_is_present_but_invalid() {
        let m = signed();
        let s = String::from_utf8(m).expect("ascii");
        let start = s.find("filename=\"smime.p7s\"\r\n\r\n").expect("p7s")
            + "filename=\"smime.p7s\"\r\n\r\n".len();
        let end = start + s[start..].find("\r\n\r\n--").expect("end");
        let garbage = format!("{}SGVsbG8sIHdvcmxkIQ=={}", &s[..start], &s[end..]);
        let v = verify(garbage.as_bytes()).expect("readable");
        assert!(v.present && !v.valid);
        assert!(
            v.reason
                .as_deref()
                .unwrap_or("")
                .starts_with("signature unreadable"),
            "{:?}",
            v.reason
        );
        assert_eq!(v.signed_content, INNER);
    }

    #[test]
    fn enveloped_pkcs7_mime_is_not_signed() {
        let m = b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n";
        let v = verify(m).expect("readable");
        assert!(!v.present);
        assert!(v.reason.as_deref().unwrap_or("").contains("enveloped-data"));
    }

    #[test]
    fn opaque_with_garbage_is_invalid_not_an_error() {
        let m = b"Content-Type: application/x-pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQE=\r\n";
        let v = verify(m).expect("readable");
        assert!(v.present && !v.valid);
        assert_eq!(v.form, Some(SmimeForm::Opaque));
    }
}
