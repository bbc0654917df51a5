//! Signing keys loaded from PKCS#8 (RSA or ECDSA P-256); every signature uses SHA-256.

use super::verify::SignatureAlgorithm;
use super::{DigestAlgorithm, Error};
use const_oid::ObjectIdentifier;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;

/// The family of a [`SigningKey`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (PKCS#1 v1.5 signatures).
    Rsa,
    /// ECDSA on P-256.
    EcdsaP256,
}

enum Inner {
    Rsa(Box<RsaKeyPair>),
    Ec(Box<EcPair>),
}

/// The same P-256 key prepared for both signature encodings.
struct EcPair {
    asn1: EcdsaKeyPair,
    fixed: EcdsaKeyPair,
}

/// A private key able to sign with SHA-256, loaded from PKCS#8. Cloning shares the key
/// (reference-counted), so one loaded identity can serve a CMS signer and a XAdES signer.
#[derive(Clone)]
pub struct SigningKey {
    inner: std::sync::Arc<Inner>,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads the first `PRIVATE KEY` (PKCS#8) block of a PEM text.
    pub fn from_pkcs8_pem(pem: &[u8]) -> Result<Self, Error> {
        let der =
            PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(|e| Error::KeyPem(e.to_string()))?;
        Self::from_pkcs8_der(der.secret_pkcs8_der())
    }

    /// Loads a DER PKCS#8 `PrivateKeyInfo` holding an RSA or ECDSA P-256 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let inner = match RsaKeyPair::from_pkcs8(der) {
            Ok(k) => Inner::Rsa(Box::new(k)),
            Err(rsa_err) => {
                let asn1 =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng)
                        .map_err(|ec_err| {
                            Error::KeyRejected(format!(
                                "as RSA: {rsa_err}; as ECDSA P-256: {ec_err}"
                            ))
                        })?;
                let fixed = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &rng,
                )
                .map_err(|e| Error::KeyRejected(e.to_string()))?;
                Inner::Ec(Box::new(EcPair { asn1, fixed }))
            }
        };
        Ok(Self {
            inner: std::sync::Arc::new(inner),
            rng,
        })
    }

    /// The key family.
    pub fn kind(&self) -> KeyKind {
        match *self.inner {
            Inner::Rsa(_) => KeyKind::Rsa,
            Inner::Ec(_) => KeyKind::EcdsaP256,
        }
    }

    /// The signature scheme this key signs with (always SHA-256).
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        match *self.inner {
            Inner::Rsa(_) => SignatureAlgorithm::RsaPkcs1(DigestAlgorithm::Sha256),
            Inner::Ec(_) => SignatureAlgorithm::Ecdsa(DigestAlgorithm::Sha256),
        }
    }

    /// The signature algorithm OID for CMS/X.509: `sha256WithRSAEncryption` (parameters NULL)
    /// or `ecdsa-with-SHA256` (parameters absent).
    pub fn signature_oid(&self) -> ObjectIdentifier {
        self.signature_algorithm().oid()
    }

    /// Whether the CMS/X.509 AlgorithmIdentifier carries explicit NULL parameters (RSA) or none
    /// (ECDSA, RFC 5758).
    pub fn signature_params_null(&self) -> bool {
        matches!(*self.inner, Inner::Rsa(_))
    }

    /// The XML-DSig `SignatureMethod` URI (RFC 6931): rsa-sha256 or ecdsa-sha256.
    pub fn xmldsig_uri(&self) -> &'static str {
        match *self.inner {
            Inner::Rsa(_) => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            Inner::Ec(_) => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        }
    }

    /// The raw public key as it appears in a certificate's subjectPublicKey BIT STRING
    /// (RSAPublicKey DER, or the uncompressed EC point).
    pub fn public_key_bytes(&self) -> &[u8] {
        match &*self.inner {
            Inner::Rsa(k) => k.public_key().as_ref(),
            Inner::Ec(p) => p.asn1.public_key().as_ref(),
        }
    }

    /// Whether this key is the private half of the public key in `spki_der`
    /// (a DER SubjectPublicKeyInfo, e.g. `Certificate::spki_der`).
    pub fn matches_spki(&self, spki_der: &[u8]) -> bool {
        use der::Decode;
        match spki::SubjectPublicKeyInfoRef::from_der(spki_der) {
            Ok(spki) => spki.subject_public_key.raw_bytes() == self.public_key_bytes(),
            Err(_) => false,
        }
    }

    /// Signs `message` with SHA-256: PKCS#1 v1.5 for RSA, ASN.1 DER `Ecdsa-Sig-Value` for ECDSA
    /// (the CMS and X.509 form).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        match &*self.inner {
            Inner::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(|_| Error::SignFailed)?;
                Ok(sig)
            }
            Inner::Ec(p) => p
                .asn1
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::SignFailed),
        }
    }

    /// Signs `message` with SHA-256 in the XML-DSig form: PKCS#1 v1.5 for RSA, the fixed-size
    /// `r || s` concatenation for ECDSA (RFC 4050 / XML-DSig 1.1).
    pub fn sign_xmldsig(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        match &*self.inner {
            Inner::Rsa(_) => self.sign(message),
            Inner::Ec(p) => p
                .fixed
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::SignFailed),
        }
    }
}
