//! Making time-stamp tokens: answering a `TimeStampReq` with a `TimeStampResp`, and making the
//! development TSA's own key and self-signed certificate.
//!
//! Everything here is pure: the serial number source and the instant are parameters.

use std::str::FromStr;

use der::asn1::{BitString, Int, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::time::{Time, Validity};

use super::asn1::{
    Accuracy, FailureInfo, GenTime, PkiStatusInfo, TimeStampReq, TimeStampResp, TstInfo,
};
use super::{Error, HashAlg, ID_CT_TST_INFO, ID_KP_TIME_STAMPING};
use crate::crypto::SigningKey;

/// The development TSA's policy OID. It names "Ponte development TSA, no assurance at all".
///
/// It sits under the arc 1.3.6.1.4.1.99999, which Ponte does not own (the same placeholder arc
/// the project's throwaway `openssl ts` configurations use, with another final arc so tokens of
/// the two test TSAs are told apart). It is a marker for tests and the embedded defaults, not a
/// registered policy; a deployment uses a real TSA and its policy.
pub const DEV_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.5322.1");

/// The development TSA certificate's subject.
pub const DEV_SUBJECT: &str =
    "CN=Ponte development TSA \u{2014} NOT QUALIFIED,OU=development and tests only,O=Ponte";

/// A time-stamping unit: a key, its certificate, and the policy it stamps under.
pub struct Tsu {
    key: SigningKey,
    cert: crate::x509::Certificate,
    policy: ObjectIdentifier,
    accuracy: Accuracy,
    accepted: Vec<HashAlg>,
}

impl std::fmt::Debug for Tsu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsu")
            .field("subject", &self.cert.subject)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What a request got.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Answered {
    /// A token with this serial number.
    Granted {
        /// The serial number.
        serial: u64,
        /// The imprint's algorithm.
        alg: HashAlg,
    },
    /// A rejection with this failure bit.
    Rejected(FailureInfo),
}

impl Tsu {
    /// A TSU from a PKCS#8 key and its certificate (DER). The key must match the certificate.
    pub fn new(pkcs8: &[u8], cert_der: &[u8], policy: ObjectIdentifier) -> Result<Self, Error> {
        let key = SigningKey::from_pkcs8_der(pkcs8).map_err(|e| Error::Key(e.to_string()))?;
        Self::with_key(key, cert_der, policy)
    }

    /// A TSU from a loaded key (PKCS#8 or in a PKCS#11 token) and its certificate (DER). The
    /// key must match the certificate.
    pub fn with_key(
        key: SigningKey,
        cert_der: &[u8],
        policy: ObjectIdentifier,
    ) -> Result<Self, Error> {
        let cert = crate::x509::Certificate::from_der(cert_der)
            .map_err(|e| Error::Certificate(e.to_string()))?;
        if !key.matches_spki(&cert.spki_der) {
            return Err(Error::Key("the key does not match the certificate".into()));
        }
        Ok(Self {
            key,
            cert,
            policy,
            accuracy: Accuracy {
                seconds: Some(1),
                millis: None,
                micros: None,
            },
            accepted: vec![HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512],
        })
    }

    /// The certificate (DER).
    pub fn cert_der(&self) -> &[u8] {
        self.cert.der()
    }

    /// The policy stamped into tokens.
    pub fn policy(&self) -> ObjectIdentifier {
        self.policy
    }

    /// Answers a DER `TimeStampReq` at `now` (whole seconds are stamped; the accuracy is one
    /// second). `next_serial` is called only when a token is made.
    pub fn answer(
        &self,
        request: &[u8],
        now: time::OffsetDateTime,
        next_serial: impl FnOnce() -> Result<u64, Error>,
    ) -> Result<(Vec<u8>, Answered), Error> {
        let req = match TimeStampReq::from_der(request) {
            Ok(r) => r,
            Err(_) => {
                return reject(
                    FailureInfo::BadDataFormat,
                    "the request is not a DER TimeStampReq",
                );
            }
        };
        if req.version != 1 {
            return reject(FailureInfo::BadRequest, "unsupported request version");
        }
        let alg_oid = req.message_imprint.hash_algorithm.oid;
        let Some(alg) = HashAlg::from_oid(&alg_oid).filter(|a| self.accepted.contains(a)) else {
            return reject(
                FailureInfo::BadAlg,
                "accepted imprints: SHA-256, SHA-384, SHA-512",
            );
        };
        if req.message_imprint.hashed_message.as_bytes().len() != alg.output_len() {
            return reject(
                FailureInfo::BadDataFormat,
                "the imprint length does not match its algorithm",
            );
        }
        if req.req_policy.is_some_and(|p| p != self.policy) {
            return reject(FailureInfo::UnacceptedPolicy, "this TSA has one policy");
        }
        if req.extensions.is_some() {
            return reject(
                FailureInfo::UnacceptedExtension,
                "no request extension is supported",
            );
        }
        let serial = next_serial()?;
        let token = self.token(&req, serial, now)?;
        let resp = TimeStampResp {
            status: PkiStatusInfo {
                status: 0,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: Some(Any::from_der(&token).map_err(Error::der("TimeStampToken"))?),
        };
        let der = resp.to_der().map_err(Error::der("TimeStampResp"))?;
        Ok((der, Answered::Granted { serial, alg }))
    }

    fn token(
        &self,
        req: &TimeStampReq,
        serial: u64,
        now: time::OffsetDateTime,
    ) -> Result<Vec<u8>, Error> {
        let tst = TstInfo {
            version: 1,
            policy: self.policy.into(),
            message_imprint: req.message_imprint.clone(),
            serial_number: int_from_u64(serial)?,
            gen_time: GenTime::from_unix_seconds(now.unix_timestamp())
                .map_err(Error::der("genTime"))?,
            accuracy: Some(self.accuracy),
            ordering: false,
            nonce: req.nonce.clone(),
            tsa: None,
            extensions: None,
        };
        let econtent = tst.to_der().map_err(Error::der("TSTInfo"))?;
        // SHA-256, contentType + messageDigest + signingCertificateV2 (ESSCertIDv2 with
        // issuerSerial); no signingTime (genTime is the time); the certificate only on certReq.
        let content = crate::cms::Content::Encapsulated {
            content_type: ID_CT_TST_INFO,
            data: &econtent,
        };
        Ok(crate::cms::build::sign_with(
            content,
            &self.key,
            &self.cert,
            &[],
            None,
            req.cert_req,
        )?)
    }
}

/// A non-negative DER INTEGER.
fn int_from_u64(v: u64) -> Result<Int, Error> {
    let bytes = v.to_be_bytes();
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut out = Vec::with_capacity(9);
    if bytes.get(start).is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or(&[0]));
    Int::new(&out).map_err(Error::der("serialNumber"))
}

fn reject(failure: FailureInfo, text: &str) -> Result<(Vec<u8>, Answered), Error> {
    let resp = TimeStampResp {
        status: PkiStatusInfo {
            status: 2,
            status_string: Some(vec![text.to_string()]),
            fail_info: Some(failure.to_bit_string().map_err(Error::der("failInfo"))?),
        },
        time_stamp_token: None,
    };
    Ok((
        resp.to_der().map_err(Error::der("TimeStampResp"))?,
        Answered::Rejected(failure),
    ))
}

fn signature_algorithm_id(key: &SigningKey) -> Result<AlgorithmIdentifierOwned, Error> {
    let parameters = if key.signature_params_null() {
        Some(Any::from_der(&[0x05, 0x00]).map_err(Error::der("AlgorithmIdentifier"))?)
    } else {
        None
    };
    Ok(AlgorithmIdentifierOwned {
        oid: key.signature_oid(),
        parameters,
    })
}

/// `TBSCertificate` as written by [`make_dev_identity`] (x509-cert's own type has no public
/// constructor without its `builder` feature).
#[derive(Sequence)]
struct TbsCertificate {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: u8,
    serial_number: Int,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

#[derive(Sequence)]
struct RawCertificate {
    tbs_certificate: TbsCertificate,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

fn extension(
    value: &impl Encode,
    oid: ObjectIdentifier,
    critical: bool,
) -> Result<Extension, Error> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(Error::der("extension"))?)
            .map_err(Error::der("extension"))?,
    })
}

/// Makes the development TSA's identity at `now`: a fresh ECDSA P-256 key (PKCS#8 DER) and a
/// self-signed certificate (DER) for [`DEV_SUBJECT`], valid from one hour before `now` for ten
/// years, with keyUsage digitalSignature (critical), extendedKeyUsage timeStamping (critical),
/// basicConstraints cA false (critical), a subjectKeyIdentifier, and no qcStatements.
pub fn make_dev_identity(now: time::OffsetDateTime) -> Result<(Vec<u8>, Vec<u8>), Error> {
    use ring::rand::SecureRandom;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &rng,
    )
    .map_err(|_| Error::Key("P-256 key generation failed".into()))?;
    let key = SigningKey::from_pkcs8_der(pkcs8.as_ref()).map_err(|e| Error::Key(e.to_string()))?;
    let public = key
        .public_key_bytes()
        .ok_or_else(|| Error::Key("the generated key shows no public key".into()))?;

    let mut serial = [0u8; 16];
    rng.fill(&mut serial).map_err(|_| Error::Random)?;
    if let Some(b) = serial.first_mut() {
        *b = (*b & 0x7f) | 0x40; // positive, 16 bytes
    }
    let name = Name::from_str(DEV_SUBJECT).map_err(Error::der("subject"))?;
    let time = |t: time::OffsetDateTime| {
        Time::try_from(std::time::SystemTime::from(t)).map_err(Error::der("validity"))
    };
    let validity = Validity::new(
        time(now - time::Duration::hours(1))?,
        time(now + time::Duration::days(3652))?,
    );
    let ec_params =
        Any::encode_from(&crate::crypto::oids::SECP256R1).map_err(Error::der("SPKI"))?;
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: crate::crypto::oids::EC_PUBLIC_KEY,
            parameters: Some(ec_params),
        },
        subject_public_key: BitString::from_bytes(public).map_err(Error::der("SPKI"))?,
    };
    let ski = crate::crypto::digest(HashAlg::Sha1, public);
    let extensions = vec![
        extension(
            &BasicConstraints {
                ca: false,
                path_len_constraint: None,
            },
            const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS,
            true,
        )?,
        extension(
            &KeyUsage(KeyUsages::DigitalSignature.into()),
            const_oid::db::rfc5280::ID_CE_KEY_USAGE,
            true,
        )?,
        extension(
            &ExtendedKeyUsage(vec![ID_KP_TIME_STAMPING]),
            const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE,
            true,
        )?,
        extension(
            &SubjectKeyIdentifier(
                OctetString::new(ski).map_err(Error::der("subjectKeyIdentifier"))?,
            ),
            const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER,
            false,
        )?,
    ];
    let alg = signature_algorithm_id(&key)?;
    let tbs = TbsCertificate {
        version: 2,
        serial_number: Int::new(&serial).map_err(Error::der("serialNumber"))?,
        signature: alg.clone(),
        issuer: name.clone(),
        validity,
        subject: name,
        subject_public_key_info: spki,
        extensions,
    };
    let tbs_der = tbs.to_der().map_err(Error::der("TBSCertificate"))?;
    let sig = key.sign(&tbs_der).map_err(|e| Error::Key(e.to_string()))?;
    let cert = RawCertificate {
        tbs_certificate: tbs,
        signature_algorithm: alg,
        signature: BitString::from_bytes(&sig).map_err(Error::der("signature"))?,
    };
    let cert_der = cert.to_der().map_err(Error::der("Certificate"))?;
    // Read it back with the strict parser: what we write must be what others read.
    Certificate::from_der(&cert_der).map_err(|e| Error::Certificate(e.to_string()))?;
    Ok((pkcs8.as_ref().to_vec(), cert_der))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsp::request::{Imprint, RequestOptions, TimeStampRequest};
    use crate::tsp::verify::{Invalid, VerifyOptions, verify_response};

    fn tsu() -> Tsu {
        let now = time::macros::datetime!(2026-11-24 12:00 UTC);
        let (key, cert) = make_dev_identity(now).expect("identity");
        Tsu::new(&key, &cert, DEV_POLICY).expect("tsu")
    }

    #[test]
    fn own_tokens_verify_and_catch_wrong_data() {
        let tsu = tsu();
        let now = time::macros::datetime!(2026-11-24 12:30:05 UTC);
        let req = TimeStampRequest::new(Imprint::sha256(b"hello"), &RequestOptions::default())
            .expect("req");
        let (resp, answered) = tsu
            .answer(&req.to_der().expect("der"), now, || Ok(7))
            .expect("answer");
        assert_eq!(
            answered,
            Answered::Granted {
                serial: 7,
                alg: HashAlg::Sha256
            }
        );
        let v = verify_response(&resp, &req.expected(), &VerifyOptions::default()).expect("verify");
        assert_eq!(v.invalid, None);
        let info = v.info.expect("info");
        assert_eq!(info.policy, DEV_POLICY.into());
        assert_eq!(info.serial, vec![7]);
        assert_eq!(info.gen_time.instant(), now);
        assert!(!v.qualified);

        let mut other = req.expected();
        other.imprint = Imprint::sha256(b"hellO");
        let v = verify_response(&resp, &other, &VerifyOptions::default()).expect("verify");
        assert_eq!(v.invalid, Some(Invalid::ImprintMismatch));
    }

    #[test]
    fn without_cert_req_the_certificate_is_left_out() {
        let tsu = tsu();
        let now = time::macros::datetime!(2026-11-24 12:30:05 UTC);
        let opts = RequestOptions {
            cert_req: false,
            ..RequestOptions::default()
        };
        let req = TimeStampRequest::new(Imprint::sha256(b"z"), &opts).expect("req");
        let (resp, _) = tsu
            .answer(&req.to_der().expect("der"), now, || Ok(2))
            .expect("answer");
        let token = crate::tsp::verify::token_of_response(&resp).expect("token");
        assert!(
            crate::cms::parse(&token)
                .expect("cms")
                .certificates
                .is_empty()
        );
        let v = verify_response(&resp, &req.expected(), &VerifyOptions::default()).expect("verify");
        assert_eq!(v.invalid, Some(Invalid::SignerCertificateMissing));
        let given = VerifyOptions {
            extra_certs: vec![crate::x509::Certificate::from_der(tsu.cert_der()).expect("cert")],
            ..VerifyOptions::default()
        };
        let v = verify_response(&resp, &req.expected(), &given).expect("verify");
        assert_eq!(v.invalid, None);
    }

    #[test]
    fn sha1_and_garbage_are_rejected() {
        let tsu = tsu();
        let now = time::macros::datetime!(2026-11-24 12:30:05 UTC);
        let req =
            TimeStampRequest::new(Imprint::of(HashAlg::Sha1, b"x"), &RequestOptions::default())
                .expect("req");
        let (resp, a) = tsu
            .answer(&req.to_der().expect("der"), now, || Ok(1))
            .expect("answer");
        assert_eq!(a, Answered::Rejected(FailureInfo::BadAlg));
        let parsed = TimeStampResp::from_der(&resp).expect("resp");
        assert_eq!(parsed.status.failure(), vec![FailureInfo::BadAlg]);
        let (_, a) = tsu
            .answer(b"\x30\x03\x02\x01", now, || Ok(1))
            .expect("answer");
        assert_eq!(a, Answered::Rejected(FailureInfo::BadDataFormat));
    }
}
