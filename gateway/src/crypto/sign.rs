//! Signing keys (RSA or ECDSA P-256), every signature with SHA-256: loaded from PKCS#8 and
//! held by ring, or kept in a PKCS#11 token ([`super::pkcs11`]) that signs on Ponte's behalf.
//! Callers see one [`SigningKey`] either way; the signatures have the same form.

use std::path::Path;

use super::pkcs11::{Pkcs11Key, SessionStats};
use super::uri::{Pkcs11Uri, is_pkcs11_uri};
use super::verify::{SignatureAlgorithm, SignatureFailure, verify_signature};
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
    Pkcs11(Box<Pkcs11Key>),
}

/// The same P-256 key prepared for both signature encodings.
struct EcPair {
    asn1: EcdsaKeyPair,
    fixed: EcdsaKeyPair,
}

/// A private key able to sign with SHA-256: loaded from PKCS#8, or in a PKCS#11 token.
/// Cloning shares the key (reference-counted), so one loaded identity can serve a CMS signer
/// and a XAdES signer. It is `Send + Sync`: signers on many threads share one key (a token
/// key then shares one logged-in session pool, see [`super::pkcs11`]).
#[derive(Clone)]
pub struct SigningKey {
    inner: std::sync::Arc<Inner>,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("SigningKey");
        d.field("kind", &self.kind());
        if let Inner::Pkcs11(k) = &*self.inner {
            d.field("pkcs11", &k.uri());
        }
        d.finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Opens a key by reference, as the configuration and `--key` give it: a `pkcs11:` URI
    /// (RFC 7512; a relative `pin-source` is resolved from `base`), or else a PKCS#8 PEM file
    /// (a relative path resolved from `base`).
    pub fn open(reference: &str, base: &Path) -> Result<Self, Error> {
        if is_pkcs11_uri(reference) {
            let uri = Pkcs11Uri::parse(reference)?;
            return Self::from_pkcs11(&uri, base);
        }
        let path = base.join(reference);
        let pem = std::fs::read(&path).map_err(|source| Error::KeyFile {
            path: path.clone(),
            source,
        })?;
        Self::from_pkcs8_pem(&pem)
    }

    /// Opens the private key a PKCS#11 URI names (see [`Pkcs11Key::open`]): the token logs
    /// in here, so a wrong PIN or a missing object is an error now, not at the first signature.
    pub fn from_pkcs11(uri: &Pkcs11Uri, base: &Path) -> Result<Self, Error> {
        let key = Pkcs11Key::open(uri, base).map_err(|e| Error::Pkcs11(Box::new(e)))?;
        Ok(Self {
            inner: std::sync::Arc::new(Inner::Pkcs11(Box::new(key))),
            rng: SystemRandom::new(),
        })
    }

    /// The PKCS#11 URI of a token key (any `pin-value` shown as `***`); `None` for PKCS#8.
    pub fn pkcs11_uri(&self) -> Option<&str> {
        match &*self.inner {
            Inner::Pkcs11(k) => Some(k.uri()),
            _ => None,
        }
    }

    /// Logins, sessions and re-opens of a token key's token; `None` for PKCS#8.
    pub fn session_stats(&self) -> Option<SessionStats> {
        match &*self.inner {
            Inner::Pkcs11(k) => Some(k.stats()),
            _ => None,
        }
    }

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
        match &*self.inner {
            Inner::Rsa(_) => KeyKind::Rsa,
            Inner::Ec(_) => KeyKind::EcdsaP256,
            Inner::Pkcs11(k) => k.kind(),
        }
    }

    /// The signature scheme this key signs with (always SHA-256).
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        match self.kind() {
            KeyKind::Rsa => SignatureAlgorithm::RsaPkcs1(DigestAlgorithm::Sha256),
            KeyKind::EcdsaP256 => SignatureAlgorithm::Ecdsa(DigestAlgorithm::Sha256),
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
        self.kind() == KeyKind::Rsa
    }

    /// The XML-DSig `SignatureMethod` URI (RFC 6931): rsa-sha256 or ecdsa-sha256.
    pub fn xmldsig_uri(&self) -> &'static str {
        match self.kind() {
            KeyKind::Rsa => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            KeyKind::EcdsaP256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        }
    }

    /// The raw public key as it appears in a certificate's subjectPublicKey BIT STRING
    /// (RSAPublicKey DER, or the uncompressed EC point). Always there for PKCS#8; for a token
    /// key when the token shows it (an EC key needs its public key object in the token).
    pub fn public_key_bytes(&self) -> Option<&[u8]> {
        match &*self.inner {
            Inner::Rsa(k) => Some(k.public_key().as_ref()),
            Inner::Ec(p) => Some(p.asn1.public_key().as_ref()),
            Inner::Pkcs11(k) => k.public_key_bytes(),
        }
    }

    /// Whether this key is the private half of the public key in `spki_der`
    /// (a DER SubjectPublicKeyInfo, e.g. `Certificate::spki_der`): the public keys compared,
    /// or, for a token key whose public half the token does not show, [`Self::prove`].
    pub fn matches_spki(&self, spki_der: &[u8]) -> bool {
        use der::Decode;
        let Ok(spki) = spki::SubjectPublicKeyInfoRef::from_der(spki_der) else {
            return false;
        };
        match self.public_key_bytes() {
            Some(public) => spki.subject_public_key.raw_bytes() == public,
            None => matches!(self.prove(spki_der), Ok(Ok(()))),
        }
    }

    /// Proves the key is the private half of `spki_der` by use: signs a fresh random
    /// challenge (in the token, for a token key) and verifies it with ring under that public
    /// key. `Err` when signing fails (a token that refuses, a key not allowed to sign) or the
    /// SPKI is unreadable; the verdict is the inner value.
    pub fn prove(&self, spki_der: &[u8]) -> Result<Result<(), SignatureFailure>, Error> {
        use ring::rand::SecureRandom;
        let mut challenge = b"ponte key check ".to_vec();
        let mut nonce = [0u8; 32];
        self.rng.fill(&mut nonce).map_err(|_| Error::SignFailed)?;
        challenge.extend_from_slice(&nonce);
        let sig = self.sign(&challenge)?;
        verify_signature(spki_der, self.signature_algorithm(), &challenge, &sig)
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
            Inner::Pkcs11(k) => k.sign_der(message).map_err(|e| Error::Pkcs11(Box::new(e))),
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
            Inner::Pkcs11(k) => k.sign_raw(message).map_err(|e| Error::Pkcs11(Box::new(e))),
        }
    }
}
