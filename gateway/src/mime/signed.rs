//! Locating the signed entity and the signature of an S/MIME message.

use super::Error;
use mail_parser::MimeHeaders;

/// What the top level of a message is, for S/MIME.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Located {
    /// `multipart/signed`: the first part exactly as signed, and the decoded signature part.
    Detached {
        /// The first body part's bytes (headers and body), exactly as in the input.
        content: Vec<u8>,
        /// The second part, transfer-decoded (the DER/BER CMS).
        signature: Vec<u8>,
        /// The `protocol` parameter, lower-cased (`application/pkcs7-signature`...).
        protocol: String,
        /// The `micalg` parameter, as written, when present.
        micalg: Option<String>,
        /// The second part's media type, lower-cased.
        signature_type: String,
    },
    /// `application/(x-)pkcs7-mime` (signed-data or unspecified smime-type): the decoded CMS.
    Opaque {
        /// The decoded body.
        der: Vec<u8>,
        /// The `smime-type` parameter, lower-cased, when present.
        smime_type: Option<String>,
    },
    /// Anything else: not signed at the top level.
    Unsigned {
        /// The top-level media type, lower-cased (`text/plain` when absent).
        media_type: String,
    },
}

/// [`Located`] with the signed content borrowed from the message (what the verifier digests
/// in place).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LocatedIn<'m> {
    /// [`Located::Detached`].
    Detached {
        /// The first body part's bytes, in the message.
        content: &'m [u8],
        /// The decoded signature part.
        signature: Vec<u8>,
        /// The `protocol` parameter, lower-cased.
        protocol: String,
        /// The `micalg` parameter, as written.
        micalg: Option<String>,
        /// The second part's media type, lower-cased.
        signature_type: String,
    },
    /// [`Located::Opaque`].
    Opaque {
        /// The decoded body.
        der: Vec<u8>,
        /// The `smime-type` parameter, lower-cased.
        smime_type: Option<String>,
    },
    /// [`Located::Unsigned`].
    Unsigned {
        /// The top-level media type.
        media_type: String,
    },
}

/// Locates the S/MIME structure of `message` (already in canonical CRLF form, see
/// [`super::canonicalize`]).
///
/// The structure is scanned ([`super::scan`]): nothing is decoded but the signature part;
/// a message the scanner declines is parsed in full (same result).
pub fn locate(message: &[u8]) -> Result<Located, Error> {
    Ok(match locate_in(message)? {
        LocatedIn::Detached {
            content,
            signature,
            protocol,
            micalg,
            signature_type,
        } => Located::Detached {
            content: content.to_vec(),
            signature,
            protocol,
            micalg,
            signature_type,
        },
        LocatedIn::Opaque { der, smime_type } => Located::Opaque { der, smime_type },
        LocatedIn::Unsigned { media_type } => Located::Unsigned { media_type },
    })
}

/// [`locate`] without copying the signed content.
pub(crate) fn locate_in(message: &[u8]) -> Result<LocatedIn<'_>, Error> {
    let tree = super::tree::Tree::read(message)?;
    locate_tree(message, &tree)
}

/// [`locate_in`] over a tree already read from `message`.
pub(crate) fn locate_tree<'m>(
    message: &'m [u8],
    tree: &super::tree::Tree<'_>,
) -> Result<LocatedIn<'m>, Error> {
    let root = tree
        .root()
        .ok_or_else(|| Error::NotMime("no header section could be parsed".into()))?;
    let head = root.head();
    let (ctype, subtype) = match head.content_type() {
        Some(ct) => (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase(),
        ),
        None => ("text".to_string(), "plain".to_string()),
    };
    let param = |name: &str| {
        head.content_type()
            .and_then(|ct| ct.attribute(name))
            .map(|v| v.trim().to_string())
    };
    match (ctype.as_str(), subtype.as_str()) {
        ("multipart", "signed") => {
            let subs = match root.kind() {
                super::tree::Kind::Multipart(c) => c,
                _ => Vec::new(),
            };
            let first = subs
                .first()
                .ok_or_else(|| Error::SignedStructure("no body parts".into()))?;
            let second = subs.get(1).ok_or_else(|| {
                Error::SignedStructure("signature part missing (one body part only)".into())
            })?;
            let (start, _, end) = first.offsets();
            let content = message.get(start..end).ok_or_else(|| {
                Error::SignedStructure("first part offsets outside the message".into())
            })?;
            let signature_type = second
                .head()
                .content_type()
                .map(|ct| {
                    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase()
                })
                .unwrap_or_default();
            let signature = match second.contents() {
                Some(c) => c.into_owned(),
                // A scanned signature part that is a multipart or a message: read in full.
                None => return locate_parsed(message),
            };
            Ok(LocatedIn::Detached {
                content,
                signature,
                protocol: param("protocol").unwrap_or_default().to_ascii_lowercase(),
                micalg: param("micalg"),
                signature_type,
            })
        }
        ("application", "pkcs7-mime") | ("application", "x-pkcs7-mime") => match root.contents() {
            Some(der) => Ok(LocatedIn::Opaque {
                der: der.into_owned(),
                smime_type: param("smime-type").map(|s| s.to_ascii_lowercase()),
            }),
            None => locate_parsed(message),
        },
        _ => Ok(LocatedIn::Unsigned {
            media_type: format!("{ctype}/{subtype}"),
        }),
    }
}

/// [`locate`] over mail-parser's full parse.
fn locate_parsed(message: &[u8]) -> Result<LocatedIn<'_>, Error> {
    let parsed = super::parse::message(message)?;
    let root = parsed.root_part();
    let (ctype, subtype) = match root.content_type() {
        Some(ct) => (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase(),
        ),
        None => ("text".to_string(), "plain".to_string()),
    };
    let param = |name: &str| {
        root.content_type()
            .and_then(|ct| ct.attribute(name))
            .map(|v| v.trim().to_string())
    };
    match (ctype.as_str(), subtype.as_str()) {
        ("multipart", "signed") => {
            let ids = root.sub_parts().unwrap_or(&[]);
            let first = ids
                .first()
                .and_then(|id| parsed.part(*id))
                .ok_or_else(|| Error::SignedStructure("no body parts".into()))?;
            let second = ids.get(1).and_then(|id| parsed.part(*id)).ok_or_else(|| {
                Error::SignedStructure("signature part missing (one body part only)".into())
            })?;
            let (start, end) = (
                first.raw_header_offset() as usize,
                first.raw_end_offset() as usize,
            );
            let content = message.get(start..end).ok_or_else(|| {
                Error::SignedStructure("first part offsets outside the message".into())
            })?;
            let signature_type = second
                .content_type()
                .map(|ct| {
                    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase()
                })
                .unwrap_or_default();
            Ok(LocatedIn::Detached {
                content,
                signature: second.contents().to_vec(),
                protocol: param("protocol").unwrap_or_default().to_ascii_lowercase(),
                micalg: param("micalg"),
                signature_type,
            })
        }
        ("application", "pkcs7-mime") | ("application", "x-pkcs7-mime") => Ok(LocatedIn::Opaque {
            der: root.contents().to_vec(),
            smime_type: param("smime-type").map(|s| s.to_ascii_lowercase()),
        }),
        _ => Ok(LocatedIn::Unsigned {
            media_type: format!("{ctype}/{subtype}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &[u8] = b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"b\"\r\n\r\npreamble\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n";

    #[test]
    fn first_part_is_sliced_exactly_and_signature_decoded() {
        match locate(SIGNED).expect("locate") {
            Located::Detached {
                content,
                signature,
                protocol,
                micalg,
                ..
            } => {
                assert_eq!(content, b"Content-Type: text/plain\r\n\r\nhello");
                assert_eq!(signature, [0, 1, 2]);
                assert_eq!(protocol, "application/pkcs7-signature");
                assert_eq!(micalg.as_deref(), Some("sha-256"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn single_part_signed_is_a_structure_error() {
        let m = b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n";
        assert!(matches!(locate(m), Err(Error::SignedStructure(_))));
    }

    #[test]
    fn plain_message_is_unsigned() {
        let m = b"Subject: x\r\nContent-Type: text/plain\r\n\r\nhi\r\n";
        assert_eq!(
            locate(m).expect("locate"),
            Located::Unsigned {
                media_type: "text/plain".into()
            }
        );
    }
}
