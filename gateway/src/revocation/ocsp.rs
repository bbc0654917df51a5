//! OCSP (RFC 6960): requests for one certificate, responses read and verified.
//!
//! A response is verified when its `BasicOCSPResponse` signature verifies over the exact
//! `tbsResponseData` bytes received, under the key of the responder named by `responderID`,
//! and that responder is either the certificate's issuer or a certificate the issuer issued
//! with the extended key usage id-kp-OCSPSigning (a delegated responder, RFC 6960 §4.2.2.2).
//! The delegated responder's own revocation is not checked (id-pkix-ocsp-nocheck is what
//! responders carry).

use time::OffsetDateTime;

use super::der::{expect, time, tlv, wrap};
use super::{Error, Evidence, Status};
use crate::crypto::{DigestAlgorithm, SignatureAlgorithm, digest, verify_signature};
use crate::x509::{self, Certificate, Usage};

const OID_SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
/// id-pkix-ocsp-basic.
const OID_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
/// id-kp-OCSPSigning.
const KP_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

/// The `subjectPublicKey` bits of an SPKI (what `issuerKeyHash` hashes).
fn key_bits(spki_der: &[u8]) -> Result<Vec<u8>, String> {
    use ::der::Decode;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|e| e.to_string())?;
    Ok(spki.subject_public_key.raw_bytes().to_vec())
}

/// A DER `OCSPRequest` for `cert`, issued by `issuer` (SHA-1 CertID, as responders expect).
pub fn request(cert: &Certificate, issuer: &Certificate) -> Result<Vec<u8>, Error> {
    let name_hash = digest(DigestAlgorithm::Sha1, &issuer.subject_der);
    let key_hash = digest(
        DigestAlgorithm::Sha1,
        &key_bits(&issuer.spki_der).map_err(Error::Request)?,
    );
    let mut alg = wrap(0x06, OID_SHA1);
    alg.extend_from_slice(&[0x05, 0x00]);
    let mut cert_id = wrap(0x30, &alg);
    cert_id.extend_from_slice(&wrap(0x04, &name_hash));
    cert_id.extend_from_slice(&wrap(0x04, &key_hash));
    cert_id.extend_from_slice(&wrap(0x02, &cert.serial));
    let request = wrap(0x30, &wrap(0x30, &cert_id));
    let tbs = wrap(0x30, &wrap(0x30, &request));
    Ok(wrap(0x30, &tbs))
}

/// One `SingleResponse`.
#[derive(Clone, Debug)]
pub struct Single {
    hash_oid: Vec<u8>,
    name_hash: Vec<u8>,
    key_hash: Vec<u8>,
    serial: Vec<u8>,
    /// The status.
    pub status: Status,
    /// `thisUpdate`.
    pub this_update: OffsetDateTime,
    /// `nextUpdate`.
    pub next_update: Option<OffsetDateTime>,
}

enum ResponderId {
    Name(Vec<u8>),
    KeyHash(Vec<u8>),
}

/// A successful OCSP response.
pub struct OcspResponse {
    der: Vec<u8>,
    /// `producedAt`.
    pub produced_at: OffsetDateTime,
    /// The single responses.
    pub responses: Vec<Single>,
    /// The certificates the response carries.
    pub certs: Vec<Certificate>,
    responder: ResponderId,
    tbs: Vec<u8>,
    algorithm: Option<SignatureAlgorithm>,
    signature: Vec<u8>,
}

impl std::fmt::Debug for OcspResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcspResponse")
            .field("produced_at", &self.produced_at)
            .field("responses", &self.responses)
            .finish_non_exhaustive()
    }
}

fn magnitude(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|x| **x == 0).count();
    b.get(skip..).unwrap_or_default()
}

fn single(raw: &[u8]) -> Result<Single, String> {
    let cid = expect(raw, 0x30, "CertID")?;
    let alg = expect(cid.content, 0x30, "CertID hashAlgorithm")?;
    let oid = expect(alg.content, 0x06, "hashAlgorithm OID")?;
    let nh = expect(alg.rest, 0x04, "issuerNameHash")?;
    let kh = expect(nh.rest, 0x04, "issuerKeyHash")?;
    let sn = expect(kh.rest, 0x02, "serialNumber")?;
    let st = tlv(cid.rest).ok_or("certStatus truncated")?;
    let status = match st.tag {
        0x80 => Status::Good,
        0xa1 => {
            let t = expect(st.content, 0x18, "revocationTime")?;
            let at = time(t.raw, "revocationTime")?;
            let reason = match tlv(t.rest) {
                Some(r) if r.tag == 0xa0 => expect(r.content, 0x0a, "revocationReason")?
                    .content
                    .first()
                    .copied(),
                _ => None,
            };
            Status::Revoked { at, reason }
        }
        0x82 => Status::Unknown,
        other => return Err(format!("certStatus tag 0x{other:02x}")),
    };
    let tu = expect(st.rest, 0x18, "thisUpdate")?;
    let next_update = match tlv(tu.rest) {
        Some(n) if n.tag == 0xa0 => Some(time(
            expect(n.content, 0x18, "nextUpdate")?.raw,
            "nextUpdate",
        )?),
        _ => None,
    };
    Ok(Single {
        hash_oid: oid.content.to_vec(),
        name_hash: nh.content.to_vec(),
        key_hash: kh.content.to_vec(),
        serial: sn.content.to_vec(),
        status,
        this_update: time(tu.raw, "thisUpdate")?,
        next_update,
    })
}

fn parse_basic(der: &[u8], full: &[u8]) -> Result<OcspResponse, String> {
    let basic = expect(der, 0x30, "BasicOCSPResponse")?;
    let tbs = expect(basic.content, 0x30, "tbsResponseData")?;
    let sig_alg = expect(tbs.rest, 0x30, "signatureAlgorithm")?;
    let sig = expect(sig_alg.rest, 0x03, "signature")?;
    let mut certs = Vec::new();
    if let Some(c) = tlv(sig.rest)
        && c.tag == 0xa0
    {
        let mut seq = expect(c.content, 0x30, "certs")?.content;
        while let Some(t) = tlv(seq) {
            certs.push(Certificate::from_der(t.raw).map_err(|e| format!("certs: {e}"))?);
            seq = t.rest;
        }
    }
    // ResponseData.
    let mut body = tbs.content;
    if let Some(v) = tlv(body)
        && v.tag == 0xa0
    {
        body = v.rest;
    }
    let rid = tlv(body).ok_or("responderID truncated")?;
    let responder = match rid.tag {
        0xa1 => ResponderId::Name(
            expect(rid.content, 0x30, "responderID byName")?
                .raw
                .to_vec(),
        ),
        0xa2 => ResponderId::KeyHash(
            expect(rid.content, 0x04, "responderID byKey")?
                .content
                .to_vec(),
        ),
        other => return Err(format!("responderID tag 0x{other:02x}")),
    };
    let produced = expect(rid.rest, 0x18, "producedAt")?;
    let list = expect(produced.rest, 0x30, "responses")?;
    let mut responses = Vec::new();
    let mut rest = list.content;
    while let Some(t) = tlv(rest) {
        responses.push(single(t.content)?);
        rest = t.rest;
    }
    let alg_oid = expect(sig_alg.content, 0x06, "signatureAlgorithm OID")?;
    let algorithm = const_oid::ObjectIdentifier::from_bytes(alg_oid.content)
        .ok()
        .and_then(|o| SignatureAlgorithm::from_oid(&o, None));
    Ok(OcspResponse {
        der: full.to_vec(),
        produced_at: time(produced.raw, "producedAt")?,
        responses,
        certs,
        responder,
        tbs: tbs.raw.to_vec(),
        algorithm,
        signature: sig.content.get(1..).unwrap_or_default().to_vec(),
    })
}

impl OcspResponse {
    /// Reads a DER `OCSPResponse` (or a bare `BasicOCSPResponse`). A response whose status is
    /// not successful is [`Error::OcspStatus`].
    pub fn from_der(der: &[u8]) -> Result<OcspResponse, Error> {
        let outer = expect(der, 0x30, "OCSPResponse").map_err(Error::Ocsp)?;
        let first = tlv(outer.content).ok_or_else(|| Error::Ocsp("empty".into()))?;
        if first.tag == 0x30 {
            return parse_basic(der, der).map_err(Error::Ocsp);
        }
        if first.tag != 0x0a {
            return Err(Error::Ocsp("responseStatus is not an ENUMERATED".into()));
        }
        match first.content {
            [0] => {}
            [1] => return Err(Error::OcspStatus("malformedRequest")),
            [2] => return Err(Error::OcspStatus("internalError")),
            [3] => return Err(Error::OcspStatus("tryLater")),
            [5] => return Err(Error::OcspStatus("sigRequired")),
            [6] => return Err(Error::OcspStatus("unauthorized")),
            _ => return Err(Error::OcspStatus("an unknown status")),
        }
        let bytes = expect(first.rest, 0xa0, "responseBytes").map_err(Error::Ocsp)?;
        let rb = expect(bytes.content, 0x30, "ResponseBytes").map_err(Error::Ocsp)?;
        let kind = expect(rb.content, 0x06, "responseType").map_err(Error::Ocsp)?;
        if kind.content != OID_BASIC {
            return Err(Error::Ocsp("responseType is not id-pkix-ocsp-basic".into()));
        }
        let resp = expect(kind.rest, 0x04, "response").map_err(Error::Ocsp)?;
        parse_basic(resp.content, der).map_err(Error::Ocsp)
    }

    /// The DER bytes, as read.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    fn responder_is(&self, c: &Certificate) -> bool {
        match &self.responder {
            ResponderId::Name(n) => *n == c.subject_der,
            ResponderId::KeyHash(h) => key_bits(&c.spki_der)
                .map(|k| digest(DigestAlgorithm::Sha1, &k) == *h)
                .unwrap_or(false),
        }
    }

    /// Whether the response is signed by `issuer` or a responder it certified, judged at `at`.
    pub fn verify(&self, issuer: &Certificate, at: OffsetDateTime) -> Result<(), String> {
        let responder = std::iter::once(issuer)
            .chain(self.certs.iter())
            .find(|c| self.responder_is(c))
            .ok_or("the responder's certificate is not in the response")?;
        let alg = self
            .algorithm
            .ok_or("unsupported OCSP signature algorithm")?;
        match verify_signature(&responder.spki_der, alg, &self.tbs, &self.signature) {
            Ok(Ok(())) => {}
            Ok(Err(f)) => return Err(format!("the OCSP signature does not verify: {f}")),
            Err(e) => return Err(format!("the responder key is unreadable: {e}")),
        }
        if responder.der() == issuer.der() || responder.spki_der == issuer.spki_der {
            return Ok(());
        }
        if !responder.ekus.iter().any(|e| e == KP_OCSP_SIGNING) {
            return Err(format!("{} lacks id-kp-OCSPSigning", responder.subject));
        }
        let v = x509::verify_chain(responder, &[], std::slice::from_ref(issuer), at, Usage::Any);
        if v.trusted {
            Ok(())
        } else {
            Err(format!(
                "the delegated responder {} is not certified by {}: {}",
                responder.subject,
                issuer.subject,
                v.reason.unwrap_or_default()
            ))
        }
    }

    /// The status of `cert` (issued by `issuer`) in this response, when it speaks about it.
    pub fn status_of(&self, cert: &Certificate, issuer: &Certificate) -> Option<Evidence> {
        let bits = key_bits(&issuer.spki_der).ok()?;
        self.responses.iter().find_map(|s| {
            let alg = if s.hash_oid == OID_SHA1 {
                DigestAlgorithm::Sha1
            } else if s.hash_oid == OID_SHA256 {
                DigestAlgorithm::Sha256
            } else {
                return None;
            };
            let ok = s.name_hash == digest(alg, &issuer.subject_der)
                && s.key_hash == digest(alg, &bits)
                && magnitude(&s.serial) == magnitude(&cert.serial);
            ok.then(|| Evidence {
                status: s.status.clone(),
                this_update: s.this_update,
                next_update: s.next_update,
                source: "ocsp",
            })
        })
    }
}
