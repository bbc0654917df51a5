//! Building a `TimeStampReq`: the imprint, a random nonce, `certReq`, an optional policy.

use der::Encode;
use der::asn1::{Int, ObjectIdentifier, OctetString};
use ring::rand::SecureRandom;

use super::asn1::{MessageImprint, TimeStampReq};
use super::verify::Expected;
use super::{Error, HashAlg};

/// What is time-stamped: a digest and its algorithm.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Imprint {
    /// The digest algorithm.
    pub alg: HashAlg,
    /// The digest.
    pub digest: Vec<u8>,
}

impl Imprint {
    /// The SHA-256 imprint of `data`.
    pub fn sha256(data: &[u8]) -> Self {
        Self::of(HashAlg::Sha256, data)
    }

    /// The imprint of `data` with `alg`.
    pub fn of(alg: HashAlg, data: &[u8]) -> Self {
        Self {
            alg,
            digest: crate::crypto::digest(alg, data),
        }
    }

    /// An imprint from a digest computed elsewhere; its length must match the algorithm.
    pub fn from_digest(alg: HashAlg, digest: Vec<u8>) -> Result<Self, Error> {
        if digest.len() != alg.output_len() {
            return Err(Error::DigestLength {
                alg,
                expected: alg.output_len(),
                got: digest.len(),
            });
        }
        Ok(Self { alg, digest })
    }

    /// The wire form.
    pub fn to_asn1(&self) -> Result<MessageImprint, Error> {
        Ok(MessageImprint {
            hash_algorithm: super::digest_algorithm_id(self.alg),
            hashed_message: OctetString::new(self.digest.clone())
                .map_err(Error::der("MessageImprint"))?,
        })
    }
}

/// Options of a request.
#[derive(Clone, Debug)]
pub struct RequestOptions {
    /// Ask for this TSA policy (`reqPolicy`); `None` lets the TSA choose.
    pub policy: Option<ObjectIdentifier>,
    /// Send a random nonce (8 random bytes, i.e. 64 bits) and require it back. Default: true.
    pub nonce: bool,
    /// Ask the TSA to include its certificate (`certReq`). Default: true, so the token can be
    /// verified offline.
    pub cert_req: bool,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            policy: None,
            nonce: true,
            cert_req: true,
        }
    }
}

/// A request ready to send, with what its answer must echo.
#[derive(Clone, Debug)]
pub struct TimeStampRequest {
    /// The request.
    pub req: TimeStampReq,
    imprint: Imprint,
}

impl TimeStampRequest {
    /// Builds a request for `imprint`; the nonce comes from the system random generator.
    pub fn new(imprint: Imprint, opts: &RequestOptions) -> Result<Self, Error> {
        let nonce = if opts.nonce {
            Some(random_nonce()?)
        } else {
            None
        };
        Ok(Self {
            req: TimeStampReq {
                version: 1,
                message_imprint: imprint.to_asn1()?,
                req_policy: opts.policy,
                nonce,
                cert_req: opts.cert_req,
                extensions: None,
            },
            imprint,
        })
    }

    /// The DER bytes to POST.
    pub fn to_der(&self) -> Result<Vec<u8>, Error> {
        self.req.to_der().map_err(Error::der("TimeStampReq"))
    }

    /// The nonce sent, if any.
    pub fn nonce(&self) -> Option<&Int> {
        self.req.nonce.as_ref()
    }

    /// What the token answering this request must contain.
    pub fn expected(&self) -> Expected {
        Expected {
            imprint: self.imprint.clone(),
            nonce: self.req.nonce.clone(),
        }
    }
}

/// A positive 64-bit random nonce, as a DER INTEGER.
fn random_nonce() -> Result<Int, Error> {
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Random)?;
    // Keep it positive and at the full 64 bits: a leading 0x00 when the top bit is set
    // (DER), and never all-zero leading bytes that would shorten it.
    if let Some(first) = bytes.first_mut() {
        *first |= 0x01;
    }
    let mut v = Vec::with_capacity(9);
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(&bytes);
    Int::new(&v).map_err(Error::der("nonce"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Decode;

    #[test]
    fn request_round_trips_with_nonce_and_cert_req() {
        let r = TimeStampRequest::new(Imprint::sha256(b"data"), &RequestOptions::default())
            .expect("request");
        let der = r.to_der().expect("der");
        let back = TimeStampReq::from_der(&der).expect("decode");
        assert_eq!(back.version, 1);
        assert!(back.cert_req);
        assert_eq!(
            back.message_imprint.hashed_message.as_bytes(),
            crate::crypto::digest(HashAlg::Sha256, b"data")
        );
        let nonce = back.nonce.expect("nonce");
        assert!(nonce.as_bytes().len() >= 8);
        assert_eq!(Some(&nonce), r.nonce());
    }

    #[test]
    fn nonces_differ() {
        let a = random_nonce().expect("a");
        let b = random_nonce().expect("b");
        assert_ne!(a, b);
    }

    #[test]
    fn digest_length_is_checked() {
        let e = Imprint::from_digest(HashAlg::Sha256, vec![0; 20]).expect_err("short");
        assert!(matches!(
            e,
            Error::DigestLength {
                got: 20,
                expected: 32,
                ..
            }
        ));
    }
}
