//! Reading ContentInfo / SignedData (DER or BER) into a model that keeps the signed bytes.

use super::Error;
use super::ber::{self, Tlv};
use crate::crypto::oids;
use crate::x509::Certificate;
use const_oid::ObjectIdentifier;
use der::Decode;
use time::OffsetDateTime;

/// How a SignerInfo names its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerId {
    /// issuerAndSerialNumber: the issuer Name DER and the serial INTEGER content octets.
    IssuerSerial {
        /// DER of the issuer Name (SEQUENCE).
        issuer_der: Vec<u8>,
        /// Content octets of the serial number INTEGER.
        serial: Vec<u8>,
    },
    /// subjectKeyIdentifier.
    SubjectKeyId(Vec<u8>),
}

/// One attribute: its type and the DER of each value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute type.
    pub oid: ObjectIdentifier,
    /// The DER encoding of each value of the SET.
    pub values: Vec<Vec<u8>>,
}

/// One SignerInfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerInfo {
    /// The signer's certificate reference.
    pub sid: SignerId,
    /// digestAlgorithm OID.
    pub digest_algorithm: ObjectIdentifier,
    /// signatureAlgorithm OID.
    pub signature_algorithm: ObjectIdentifier,
    /// The signed attributes re-tagged as `SET OF` (0x31): exactly the bytes the signature
    /// covers. `None` when the SignerInfo has no signed attributes.
    pub signed_attrs_der: Option<Vec<u8>>,
    /// The signed attributes, in the order encoded.
    pub signed_attrs: Vec<Attribute>,
    /// The unsigned attributes (e.g. a signature time-stamp token).
    pub unsigned_attrs: Vec<Attribute>,
    /// The signature value.
    pub signature: Vec<u8>,
}

impl SignerInfo {
    /// The first value of the signed attribute `oid`, as DER.
    pub fn signed_attr(&self, oid: &ObjectIdentifier) -> Option<&[u8]> {
        self.signed_attrs
            .iter()
            .find(|a| a.oid == *oid)
            .and_then(|a| a.values.first())
            .map(Vec::as_slice)
    }

    /// The signingTime signed attribute, when present and readable.
    pub fn signing_time(&self) -> Option<OffsetDateTime> {
        let v = self.signed_attr(&oids::ATTR_SIGNING_TIME)?;
        let t = x509_cert::time::Time::from_der(v).ok()?;
        let secs = i64::try_from(t.to_unix_duration().as_secs()).ok()?;
        OffsetDateTime::from_unix_timestamp(secs).ok()
    }
}

/// A SignedData.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedData {
    /// eContentType (id-data for S/MIME, id-ct-TSTInfo for time-stamp tokens).
    pub content_type: ObjectIdentifier,
    /// The encapsulated content octets, `None` when detached.
    pub content: Option<Vec<u8>>,
    /// digestAlgorithms of the SignedData.
    pub digest_algorithms: Vec<ObjectIdentifier>,
    /// The X.509 certificates carried (other certificate formats are skipped).
    pub certificates: Vec<Certificate>,
    /// The signers, in the order encoded.
    pub signers: Vec<SignerInfo>,
}

fn structure(s: impl Into<String>) -> Error {
    Error::Structure(s.into())
}

fn expect<'a>(t: Option<&Tlv<'a>>, tag: u8, what: &str) -> Result<Tlv<'a>, Error> {
    match t {
        Some(t) if t.tag == tag => Ok(*t),
        Some(t) => Err(structure(format!(
            "{what}: expected tag 0x{tag:02x}, found 0x{:02x}",
            t.tag
        ))),
        None => Err(structure(format!("{what} missing"))),
    }
}

fn oid(t: &Tlv<'_>, what: &str) -> Result<ObjectIdentifier, Error> {
    if t.tag != 0x06 {
        return Err(structure(format!("{what}: not an OBJECT IDENTIFIER")));
    }
    ObjectIdentifier::from_bytes(t.content).map_err(|e| structure(format!("{what}: {e}")))
}

fn alg_id(t: Option<&Tlv<'_>>, what: &str) -> Result<ObjectIdentifier, Error> {
    let seq = expect(t, 0x30, what)?;
    let kids = ber::children(seq.content)?;
    oid(
        kids.first()
            .ok_or_else(|| structure(format!("{what}: empty")))?,
        what,
    )
}

fn attributes(content: &[u8]) -> Result<Vec<Attribute>, Error> {
    let mut out = Vec::new();
    for a in ber::children(content)? {
        let kids = ber::children(expect(Some(&a), 0x30, "Attribute")?.content)?;
        let id = oid(
            kids.first()
                .ok_or_else(|| structure("Attribute type missing"))?,
            "Attribute type",
        )?;
        let set = expect(kids.get(1), 0x31, "Attribute values")?;
        let values = ber::children(set.content)?
            .iter()
            .map(|v| v.raw.to_vec())
            .collect();
        out.push(Attribute { oid: id, values });
    }
    Ok(out)
}

fn signer_info(t: &Tlv<'_>) -> Result<SignerInfo, Error> {
    let kids = ber::children(expect(Some(t), 0x30, "SignerInfo")?.content)?;
    let mut it = kids.iter().skip(1); // version
    let sid_t = it
        .next()
        .ok_or_else(|| structure("SignerInfo sid missing"))?;
    let sid = match sid_t.tag {
        0x30 => {
            let k = ber::children(sid_t.content)?;
            let issuer = expect(k.first(), 0x30, "issuerAndSerialNumber issuer")?;
            let serial = expect(k.get(1), 0x02, "issuerAndSerialNumber serial")?;
            SignerId::IssuerSerial {
                issuer_der: issuer.raw.to_vec(),
                serial: serial.content.to_vec(),
            }
        }
        0x80 => SignerId::SubjectKeyId(sid_t.content.to_vec()),
        other => {
            return Err(structure(format!(
                "SignerInfo sid: unexpected tag 0x{other:02x}"
            )));
        }
    };
    let digest_algorithm = alg_id(it.next(), "SignerInfo digestAlgorithm")?;
    let mut next = it.next();
    let (mut signed_attrs_der, mut signed_attrs) = (None, Vec::new());
    if let Some(sa) = next.filter(|t| t.tag == 0xa0) {
        signed_attrs = attributes(sa.content)?;
        let mut der = sa.raw.to_vec();
        if let Some(first) = der.first_mut() {
            *first = 0x31;
        }
        signed_attrs_der = Some(der);
        next = it.next();
    }
    let signature_algorithm = alg_id(next, "SignerInfo signatureAlgorithm")?;
    let signature = expect(it.next(), 0x04, "SignerInfo signature")?
        .content
        .to_vec();
    let unsigned_attrs = match it.next() {
        Some(u) if u.tag == 0xa1 => attributes(u.content)?,
        Some(u) => {
            return Err(structure(format!(
                "SignerInfo: unexpected tag 0x{:02x} at the end",
                u.tag
            )));
        }
        None => Vec::new(),
    };
    Ok(SignerInfo {
        sid,
        digest_algorithm,
        signature_algorithm,
        signed_attrs_der,
        signed_attrs,
        unsigned_attrs,
        signature,
    })
}

/// Parses a DER or BER `ContentInfo` holding `SignedData`.
pub fn parse(input: &[u8]) -> Result<SignedData, Error> {
    let norm = ber::normalize(input)?;
    let (ci, _) = ber::read(&norm)?;
    let ci_kids = ber::children(expect(Some(&ci), 0x30, "ContentInfo")?.content)?;
    let ct = oid(
        ci_kids
            .first()
            .ok_or_else(|| structure("ContentInfo contentType missing"))?,
        "contentType",
    )?;
    if ct != oids::ID_SIGNED_DATA {
        return Err(Error::NotSignedData(ct.to_string()));
    }
    let wrapper = expect(ci_kids.get(1), 0xa0, "ContentInfo content")?;
    let (sd, _) = ber::read(wrapper.content)?;
    let kids = ber::children(expect(Some(&sd), 0x30, "SignedData")?.content)?;
    let mut it = kids.iter();
    expect(it.next(), 0x02, "SignedData version")?;
    let algs = expect(it.next(), 0x31, "SignedData digestAlgorithms")?;
    let digest_algorithms = ber::children(algs.content)?
        .iter()
        .map(|a| alg_id(Some(a), "digestAlgorithm"))
        .collect::<Result<_, _>>()?;
    let eci = ber::children(expect(it.next(), 0x30, "encapContentInfo")?.content)?;
    let content_type = oid(
        eci.first()
            .ok_or_else(|| structure("eContentType missing"))?,
        "eContentType",
    )?;
    let content = match eci.get(1) {
        Some(w) if w.tag == 0xa0 => {
            let (os, _) = ber::read(w.content)?;
            Some(expect(Some(&os), 0x04, "eContent")?.content.to_vec())
        }
        Some(w) => {
            return Err(structure(format!(
                "eContent: unexpected tag 0x{:02x}",
                w.tag
            )));
        }
        None => None,
    };
    let mut next = it.next();
    let mut certificates = Vec::new();
    if let Some(c) = next.filter(|t| t.tag == 0xa0) {
        for cert in ber::children(c.content)? {
            // Other formats ([0]..[3]) and X.509 certificates this reader cannot parse are
            // skipped: a verifier then reports the signer certificate as missing.
            if cert.tag == 0x30
                && let Ok(c) = Certificate::from_der(cert.raw)
            {
                certificates.push(c);
            }
        }
        next = it.next();
    }
    if next.is_some_and(|t| t.tag == 0xa1) {
        next = it.next(); // CRLs: not used here
    }
    let sis = expect(next, 0x31, "SignedData signerInfos")?;
    let signers = ber::children(sis.content)?
        .iter()
        .map(signer_info)
        .collect::<Result<_, _>>()?;
    Ok(SignedData {
        content_type,
        content,
        digest_algorithms,
        certificates,
        signers,
    })
}
