//! Signature verification over a SubjectPublicKeyInfo: RSA PKCS#1 v1.5 (SHA-1 legacy, SHA-256,
//! SHA-384, SHA-512) and ECDSA P-256 / P-384 with ASN.1 (DER) signatures.

use super::oids;
use super::{DigestAlgorithm, Error};
use const_oid::ObjectIdentifier;
use der::Decode;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

/// A signature scheme: the key family and the digest it hashes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with the given digest.
    RsaPkcs1(DigestAlgorithm),
    /// ECDSA (ASN.1 DER `Ecdsa-Sig-Value`) with the given digest; the curve comes from the key.
    Ecdsa(DigestAlgorithm),
}

impl SignatureAlgorithm {
    /// The scheme named by a signature algorithm OID as found in CMS `SignerInfo` or X.509.
    ///
    /// CMS allows the bare key algorithm (`rsaEncryption`, `id-ecPublicKey`) there, in which case
    /// the digest comes from `digest` (the SignerInfo digestAlgorithm). Returns `None` for a
    /// scheme Ponte does not implement (RSA-PSS, Ed25519, DSA...).
    pub fn from_oid(oid: &ObjectIdentifier, digest: Option<DigestAlgorithm>) -> Option<Self> {
        use DigestAlgorithm::*;
        let alg = match *oid {
            oids::RSA_ENCRYPTION => Self::RsaPkcs1(digest?),
            oids::SHA1_WITH_RSA => Self::RsaPkcs1(Sha1),
            oids::SHA256_WITH_RSA => Self::RsaPkcs1(Sha256),
            oids::SHA384_WITH_RSA => Self::RsaPkcs1(Sha384),
            oids::SHA512_WITH_RSA => Self::RsaPkcs1(Sha512),
            oids::EC_PUBLIC_KEY => Self::Ecdsa(digest?),
            oids::ECDSA_WITH_SHA1 => Self::Ecdsa(Sha1),
            oids::ECDSA_WITH_SHA256 => Self::Ecdsa(Sha256),
            oids::ECDSA_WITH_SHA384 => Self::Ecdsa(Sha384),
            oids::ECDSA_WITH_SHA512 => Self::Ecdsa(Sha512),
            _ => return None,
        };
        Some(alg)
    }

    /// The combined OID (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`...).
    pub fn oid(self) -> ObjectIdentifier {
        use DigestAlgorithm::*;
        match self {
            Self::RsaPkcs1(Sha1) => oids::SHA1_WITH_RSA,
            Self::RsaPkcs1(Sha256) => oids::SHA256_WITH_RSA,
            Self::RsaPkcs1(Sha384) => oids::SHA384_WITH_RSA,
            Self::RsaPkcs1(Sha512) => oids::SHA512_WITH_RSA,
            Self::Ecdsa(Sha1) => oids::ECDSA_WITH_SHA1,
            Self::Ecdsa(Sha256) => oids::ECDSA_WITH_SHA256,
            Self::Ecdsa(Sha384) => oids::ECDSA_WITH_SHA384,
            Self::Ecdsa(Sha512) => oids::ECDSA_WITH_SHA512,
        }
    }

    /// The digest the scheme hashes with.
    pub fn digest(self) -> DigestAlgorithm {
        match self {
            Self::RsaPkcs1(d) | Self::Ecdsa(d) => d,
        }
    }
}

/// Why a signature did not verify (a verdict, not an error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureFailure {
    /// The key type or curve does not go with the scheme, or ring has no such combination
    /// (e.g. ECDSA with SHA-1 or SHA-512).
    #[error("unsupported key/algorithm combination: {0}")]
    Unsupported(String),
    /// The signature does not match the message under this key.
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies `signature` over `message` with the public key in `spki_der` (a DER
/// SubjectPublicKeyInfo) under `alg`.
///
/// `Err` only when the SPKI itself is unreadable; the outcome is the inner value.
pub fn verify_signature(
    spki_der: &[u8],
    alg: SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<Result<(), SignatureFailure>, Error> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| Error::Spki(e.to_string()))?;
    let key = spki.subject_public_key.raw_bytes();
    let key_oid = spki.algorithm.oid;
    let ring_alg: &'static dyn VerificationAlgorithm = match alg {
        SignatureAlgorithm::RsaPkcs1(d) => {
            if key_oid != oids::RSA_ENCRYPTION {
                return Ok(Err(SignatureFailure::Unsupported(format!(
                    "RSA signature with a {key_oid} key"
                ))));
            }
            match d {
                DigestAlgorithm::Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                DigestAlgorithm::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                DigestAlgorithm::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                DigestAlgorithm::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            }
        }
        SignatureAlgorithm::Ecdsa(d) => {
            if key_oid != oids::EC_PUBLIC_KEY {
                return Ok(Err(SignatureFailure::Unsupported(format!(
                    "ECDSA signature with a {key_oid} key"
                ))));
            }
            let curve = spki
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            match (curve, d) {
                (Some(oids::SECP256R1), DigestAlgorithm::Sha256) => {
                    &signature::ECDSA_P256_SHA256_ASN1
                }
                (Some(oids::SECP256R1), DigestAlgorithm::Sha384) => {
                    &signature::ECDSA_P256_SHA384_ASN1
                }
                (Some(oids::SECP384R1), DigestAlgorithm::Sha256) => {
                    &signature::ECDSA_P384_SHA256_ASN1
                }
                (Some(oids::SECP384R1), DigestAlgorithm::Sha384) => {
                    &signature::ECDSA_P384_SHA384_ASN1
                }
                (c, d) => {
                    return Ok(Err(SignatureFailure::Unsupported(format!(
                        "ECDSA on curve {} with {d}",
                        c.map(|o| o.to_string()).unwrap_or_else(|| "(none)".into())
                    ))));
                }
            }
        }
    };
    Ok(UnparsedPublicKey::new(ring_alg, key)
        .verify(message, signature)
        .map_err(|_| SignatureFailure::Mismatch))
}
