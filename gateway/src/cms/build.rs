//! Assembling and signing a SignedData by hand on the `cms` crate types (no `builder` feature):
//! signed attributes contentType, signingTime, messageDigest and signingCertificateV2
//! (ESSCertIDv2 over SHA-256 of the signer certificate, with issuerSerial), signed by ring
//! over the DER `SET OF` of those attributes. The SignedData itself is written field by field
//! (each encoded by the `cms` types), the certificates carried as the DER they were read from.

use super::Error;
use super::ber::tlv;
use crate::crypto::{DigestAlgorithm, SigningKey, digest, oids};
use crate::x509::Certificate;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo, SignerInfos};
use const_oid::ObjectIdentifier;
use der::asn1::{Any, OctetString, SetOfVec};
use der::{Decode, Encode, Tag};
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::attr::Attribute;

/// What is signed.
#[derive(Clone, Copy, Debug)]
pub enum Content<'a> {
    /// Detached: the content travels elsewhere (S/MIME multipart/signed); eContentType id-data.
    Detached(&'a [u8]),
    /// [`Content::Detached`] whose SHA-256 the caller already computed (while writing or
    /// scanning the content: one pass over a large message instead of two).
    DetachedSha256([u8; 32]),
    /// Encapsulated in the SignedData with the given eContentType (e.g. id-ct-TSTInfo).
    Encapsulated {
        /// eContentType.
        content_type: ObjectIdentifier,
        /// The content octets.
        data: &'a [u8],
    },
}

fn enc(e: der::Error) -> Error {
    Error::Encode(e.to_string())
}

fn attr(oid: ObjectIdentifier, value_der: &[u8]) -> Result<Attribute, Error> {
    let mut values = SetOfVec::new();
    values
        .insert(Any::from_der(value_der).map_err(enc)?)
        .map_err(enc)?;
    Ok(Attribute { oid, values })
}

/// The DER of a CMS `Time` (UTCTime through 2049, GeneralizedTime after, RFC 5652 §11.3).
fn time_der(t: OffsetDateTime) -> Result<Vec<u8>, Error> {
    let secs = u64::try_from(t.unix_timestamp())
        .map_err(|_| Error::Encode(format!("signing time {t} before 1970")))?;
    let d = std::time::Duration::from_secs(secs);
    let time = if t.year() < 2050 {
        x509_cert::time::Time::UtcTime(der::asn1::UtcTime::from_unix_duration(d).map_err(enc)?)
    } else {
        x509_cert::time::Time::GeneralTime(
            der::asn1::GeneralizedTime::from_unix_duration(d).map_err(enc)?,
        )
    };
    time.to_der().map_err(enc)
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }` with one ESSCertIDv2
/// (hashAlgorithm omitted: DEFAULT id-sha256; issuerSerial = directoryName of the issuer and
/// the serial).
pub fn signing_certificate_v2(cert: &Certificate) -> Vec<u8> {
    let hash = tlv(0x04, &cert.fingerprint_sha256);
    let general_names = tlv(0x30, &tlv(0xa4, &cert.issuer_der));
    let issuer_serial = tlv(0x30, &[general_names, tlv(0x02, &cert.serial)].concat());
    let ess_cert_id = tlv(0x30, &[hash, issuer_serial].concat());
    tlv(0x30, &tlv(0x30, &ess_cert_id))
}

fn alg(oid: ObjectIdentifier, null_params: bool) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: null_params.then(|| Any::from(der::asn1::Null)),
    }
}

/// Signs `content` with `key` as `signer`, carrying `signer` and `chain` as certificates;
/// returns the DER ContentInfo. SHA-256 throughout. `signing_time` goes into the signingTime
/// attribute when given (the caller owns the clock).
pub fn sign(
    content: Content<'_>,
    key: &SigningKey,
    signer: &Certificate,
    chain: &[Certificate],
    signing_time: Option<OffsetDateTime>,
) -> Result<Vec<u8>, Error> {
    sign_with(content, key, signer, chain, signing_time, true)
}

/// [`sign`], choosing whether the `certificates` field is present: an RFC 3161 token answering
/// a request with `certReq` FALSE must not carry it (RFC 3161 §2.4.1).
pub fn sign_with(
    content: Content<'_>,
    key: &SigningKey,
    signer: &Certificate,
    chain: &[Certificate],
    signing_time: Option<OffsetDateTime>,
    carry_certificates: bool,
) -> Result<Vec<u8>, Error> {
    if !key.matches_spki(&signer.spki_der) {
        return Err(Error::KeyMismatch(signer.subject.clone()));
    }
    let sha256 = DigestAlgorithm::Sha256;
    let (content_type, content_digest, econtent) = match content {
        Content::Detached(d) => (oids::ID_DATA, digest(sha256, d), None),
        Content::DetachedSha256(d) => (oids::ID_DATA, d.to_vec(), None),
        Content::Encapsulated { content_type, data } => (
            content_type,
            digest(sha256, data),
            Some(Any::new(Tag::OctetString, data.to_vec()).map_err(enc)?),
        ),
    };
    let mut attrs = SetOfVec::new();
    attrs
        .insert(attr(
            oids::ATTR_CONTENT_TYPE,
            &content_type.to_der().map_err(enc)?,
        )?)
        .map_err(enc)?;
    if let Some(t) = signing_time {
        attrs
            .insert(attr(oids::ATTR_SIGNING_TIME, &time_der(t)?)?)
            .map_err(enc)?;
    }
    let md = OctetString::new(content_digest).map_err(enc)?;
    attrs
        .insert(attr(oids::ATTR_MESSAGE_DIGEST, &md.to_der().map_err(enc)?)?)
        .map_err(enc)?;
    attrs
        .insert(attr(
            oids::ATTR_SIGNING_CERTIFICATE_V2,
            &signing_certificate_v2(signer),
        )?)
        .map_err(enc)?;
    let to_be_signed = attrs.to_der().map_err(enc)?; // SET OF (0x31): what is signed
    let signature = key.sign(&to_be_signed)?;

    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: x509_cert::name::Name::from_der(&signer.issuer_der).map_err(enc)?,
        serial_number: x509_cert::serial_number::SerialNumber::from_der(&tlv(0x02, &signer.serial))
            .map_err(enc)?,
    });
    let digest_alg = alg(sha256.oid(), false);
    let si = SignerInfo {
        version: CmsVersion::V1,
        sid,
        digest_alg: digest_alg.clone(),
        signed_attrs: Some(attrs),
        signature_algorithm: alg(key.signature_oid(), key.signature_params_null()),
        signature: OctetString::new(signature).map_err(enc)?,
        unsigned_attrs: None,
    };
    let certificates = carry_certificates
        .then(|| certificate_set(std::iter::once(signer).chain(chain).map(|c| c.der())));
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms.insert(digest_alg).map_err(enc)?;
    let version = if content_type == oids::ID_DATA {
        CmsVersion::V1
    } else {
        CmsVersion::V3
    };
    let encap_content_info = EncapsulatedContentInfo {
        econtent_type: content_type,
        econtent,
    };
    let signer_infos = SignerInfos(SetOfVec::try_from(vec![si]).map_err(enc)?);
    // SignedData (RFC 5652 §5.1) in DER, field by field, so that the certificates go in as
    // the DER they were read from (`certificate_set`) rather than decoded into x509-cert
    // types and encoded again for every signature; crls absent.
    let mut body = version.to_der().map_err(enc)?;
    body.extend_from_slice(&digest_algorithms.to_der().map_err(enc)?);
    body.extend_from_slice(&encap_content_info.to_der().map_err(enc)?);
    if let Some(set) = certificates {
        body.extend_from_slice(&set);
    }
    body.extend_from_slice(&signer_infos.to_der().map_err(enc)?);
    // ContentInfo: SEQUENCE { contentType, [0] EXPLICIT SignedData }.
    let mut content_info = oids::ID_SIGNED_DATA.to_der().map_err(enc)?;
    content_info.extend_from_slice(&tlv(0xA0, &tlv(0x30, &body)));
    Ok(tlv(0x30, &content_info))
}

/// `certificates [0] IMPLICIT CertificateSet` of DER certificates (each once): a DER `SET
/// OF`, so its elements in ascending order of their encodings (X.690 §11.6; no certificate
/// encoding is a prefix of another).
fn certificate_set<'c>(ders: impl Iterator<Item = &'c [u8]>) -> Vec<u8> {
    let mut set: Vec<&[u8]> = Vec::new();
    for der in ders {
        if !set.contains(&der) {
            set.push(der);
        }
    }
    set.sort_unstable();
    tlv(0xA0, &set.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cms::{parse, verify};
    use crate::x509::load_pem;
    use cms::cert::CertificateChoices;
    use cms::signed_data::CertificateSet;

    const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/pki/");

    fn load(name: &str) -> Vec<u8> {
        std::fs::read(format!("{PKI}{name}")).expect("test PKI file")
    }

    #[test]
    fn encapsulated_tstinfo_with_ec_key_round_trips() {
        let key = SigningKey::from_pkcs8_pem(&load("pec-ec.key.pem")).expect("key");
        let cert = load_pem(&load("pec-ec.pem")).expect("cert").remove(0);
        let ca = load_pem(&load("provider-ca.pem")).expect("ca");
        let data = b"\x30\x03\x02\x01\x01";
        let der = sign(
            Content::Encapsulated {
                content_type: oids::ID_CT_TST_INFO,
                data,
            },
            &key,
            &cert,
            &ca,
            None,
        )
        .expect("sign");
        let sd = parse(&der).expect("parse");
        assert_eq!(sd.content_type, oids::ID_CT_TST_INFO);
        assert_eq!(sd.content.as_deref(), Some(&data[..]));
        assert_eq!(sd.certificates.len(), 2);
        let v = verify(&sd, None);
        assert!(v.valid, "{:?}", v.reason);
        assert_eq!(v.signing_time, None);
        // signingCertificateV2 holds SHA-256 of the signer certificate and its issuerSerial.
        let ess = v
            .attribute(&oids::ATTR_SIGNING_CERTIFICATE_V2)
            .expect("ESSCertIDv2");
        assert_eq!(ess, signing_certificate_v2(&cert).as_slice());
        assert!(ess.windows(32).any(|w| w == cert.fingerprint_sha256));
        assert!(
            ess.windows(cert.serial.len())
                .any(|w| w == cert.serial.as_slice())
        );
        // Other content: the messageDigest no longer matches.
        let other = verify(&sd, Some(b"other"));
        assert!(!other.valid);
        assert!(
            other
                .reason
                .as_deref()
                .unwrap_or("")
                .contains("messageDigest")
        );
    }

    #[test]
    fn key_of_another_certificate_is_refused() {
        let key = SigningKey::from_pkcs8_pem(&load("pec-ec.key.pem")).expect("key");
        let cert = load_pem(&load("pec-rsa.pem")).expect("cert").remove(0);
        assert!(matches!(
            sign(Content::Detached(b"x"), &key, &cert, &[], None),
            Err(Error::KeyMismatch(_))
        ));
    }

    #[test]
    fn signing_time_encoding_switches_to_generalized_time_in_2050() {
        let utc = time_der(time::macros::datetime!(2049-12-31 23:59:59 UTC)).expect("utc");
        assert_eq!(utc.first(), Some(&0x17));
        let generalized = time_der(time::macros::datetime!(2050-01-01 00:00:00 UTC)).expect("gen");
        assert_eq!(generalized.first(), Some(&0x18));
    }

    /// The certificate set written from the DER is what the cms crate encodes for the same
    /// certificates decoded (its `SET OF` ordering), whatever their order and repetitions.
    #[test]
    fn certificate_set_is_the_cms_crate_encoding() {
        let certs: Vec<Vec<u8>> = ["pec-rsa.pem", "provider-ca.pem", "root-ca.pem", "tsa.pem"]
            .iter()
            .map(|n| load_pem(&load(n)).expect("cert").remove(0).der().to_vec())
            .collect();
        let orders: [&[usize]; 5] = [&[0, 1], &[1, 0], &[2, 0, 1, 0], &[3, 2, 1, 0], &[0]];
        for order in orders {
            let ders: Vec<&[u8]> = order.iter().map(|&i| certs[i].as_slice()).collect();
            let mut expected = SetOfVec::new();
            let mut seen: Vec<&[u8]> = Vec::new();
            for d in &ders {
                if !seen.contains(d) {
                    seen.push(d);
                    let c = x509_cert::Certificate::from_der(d).expect("x509-cert");
                    expected
                        .insert(CertificateChoices::Certificate(c))
                        .expect("insert");
                }
            }
            // [0] IMPLICIT: the SET's own tag replaced by the context tag.
            let mut expected = CertificateSet(expected).to_der().expect("encode");
            expected[0] = 0xA0;
            assert_eq!(certificate_set(ders.into_iter()), expected, "{order:?}");
        }
    }
}
