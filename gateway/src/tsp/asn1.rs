//! The RFC 3161 wire structures (with the RFC 5816 / RFC 2634 ESS signing-certificate
//! attributes the verifier reads), as `der` 0.8 types.
//!
//! Status values and failure bits are kept as received (open values); the typed views are
//! [`PkiStatus`] and [`FailureInfo`].

use der::asn1::{BitString, Int, ObjectIdentifier, OctetString};
use der::{Any, DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Sequence, Tag, Writer};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::name::GeneralName;

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    /// The digest algorithm.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// The digest of the time-stamped data.
    pub hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 §2.4.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampReq {
    /// Always 1.
    pub version: u8,
    /// What is to be time-stamped.
    pub message_imprint: MessageImprint,
    /// The policy the requester asks for.
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    /// The nonce the TSA must echo.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// Whether the TSA must put its certificate in the token.
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
    /// Request extensions.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// `PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL,
/// failInfo PKIFailureInfo OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    /// The status as received; see [`PkiStatusInfo::status`].
    pub status: u32,
    /// Free text (`SEQUENCE OF UTF8String`).
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    /// Failure bits; see [`PkiStatusInfo::failure`].
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

impl PkiStatusInfo {
    /// The typed status.
    pub fn status(&self) -> PkiStatus {
        PkiStatus::from(self.status)
    }

    /// The failure bits that are set, if any.
    pub fn failure(&self) -> Vec<FailureInfo> {
        let Some(bits) = &self.fail_info else {
            return Vec::new();
        };
        bits.bits()
            .enumerate()
            .filter(|(_, set)| *set)
            .map(|(i, _)| FailureInfo::from(i))
            .collect()
    }
}

/// `PKIStatus` (RFC 3161 §2.4.2), open: unknown values are carried.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PkiStatus {
    /// 0: the token is present.
    Granted,
    /// 1: the token is present, with modifications.
    GrantedWithMods,
    /// 2: refused.
    Rejection,
    /// 3: not yet available.
    Waiting,
    /// 4: a revocation is imminent.
    RevocationWarning,
    /// 5: a revocation has occurred.
    RevocationNotification,
    /// Any other value, as received.
    Other(u32),
}

impl From<u32> for PkiStatus {
    fn from(v: u32) -> Self {
        match v {
            0 => Self::Granted,
            1 => Self::GrantedWithMods,
            2 => Self::Rejection,
            3 => Self::Waiting,
            4 => Self::RevocationWarning,
            5 => Self::RevocationNotification,
            other => Self::Other(other),
        }
    }
}

impl From<PkiStatus> for u32 {
    fn from(s: PkiStatus) -> u32 {
        match s {
            PkiStatus::Granted => 0,
            PkiStatus::GrantedWithMods => 1,
            PkiStatus::Rejection => 2,
            PkiStatus::Waiting => 3,
            PkiStatus::RevocationWarning => 4,
            PkiStatus::RevocationNotification => 5,
            PkiStatus::Other(v) => v,
        }
    }
}

impl std::fmt::Display for PkiStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Granted => f.write_str("granted"),
            Self::GrantedWithMods => f.write_str("grantedWithMods"),
            Self::Rejection => f.write_str("rejection"),
            Self::Waiting => f.write_str("waiting"),
            Self::RevocationWarning => f.write_str("revocationWarning"),
            Self::RevocationNotification => f.write_str("revocationNotification"),
            Self::Other(v) => write!(f, "status {v}"),
        }
    }
}

/// `PKIFailureInfo` bits (RFC 3161 §2.4.2), open.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum FailureInfo {
    /// 0: unrecognized or unsupported algorithm.
    BadAlg,
    /// 2: transaction not permitted or supported.
    BadRequest,
    /// 5: the data submitted has the wrong format.
    BadDataFormat,
    /// 14: the TSA's time source is not available.
    TimeNotAvailable,
    /// 15: the requested policy is not supported.
    UnacceptedPolicy,
    /// 16: the requested extension is not supported.
    UnacceptedExtension,
    /// 17: the additional information requested is not available.
    AddInfoNotAvailable,
    /// 25: the request cannot be handled due to system failure.
    SystemFailure,
    /// Any other bit, by number.
    Other(usize),
}

impl FailureInfo {
    /// The bit number.
    pub fn bit(self) -> usize {
        match self {
            Self::BadAlg => 0,
            Self::BadRequest => 2,
            Self::BadDataFormat => 5,
            Self::TimeNotAvailable => 14,
            Self::UnacceptedPolicy => 15,
            Self::UnacceptedExtension => 16,
            Self::AddInfoNotAvailable => 17,
            Self::SystemFailure => 25,
            Self::Other(n) => n,
        }
    }

    /// A `failInfo` BIT STRING with only this bit set (DER: no trailing zero bits).
    pub fn to_bit_string(self) -> der::Result<BitString> {
        let bit = self.bit();
        let mut bytes = vec![0u8; bit / 8 + 1];
        if let Some(b) = bytes.get_mut(bit / 8) {
            *b = 0x80 >> (bit % 8);
        }
        let unused = 7 - (bit % 8) as u8;
        BitString::new(unused, bytes)
    }
}

impl From<usize> for FailureInfo {
    fn from(bit: usize) -> Self {
        match bit {
            0 => Self::BadAlg,
            2 => Self::BadRequest,
            5 => Self::BadDataFormat,
            14 => Self::TimeNotAvailable,
            15 => Self::UnacceptedPolicy,
            16 => Self::UnacceptedExtension,
            17 => Self::AddInfoNotAvailable,
            25 => Self::SystemFailure,
            n => Self::Other(n),
        }
    }
}

impl std::fmt::Display for FailureInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadAlg => f.write_str("badAlg"),
            Self::BadRequest => f.write_str("badRequest"),
            Self::BadDataFormat => f.write_str("badDataFormat"),
            Self::TimeNotAvailable => f.write_str("timeNotAvailable"),
            Self::UnacceptedPolicy => f.write_str("unacceptedPolicy"),
            Self::UnacceptedExtension => f.write_str("unacceptedExtension"),
            Self::AddInfoNotAvailable => f.write_str("addInfoNotAvailable"),
            Self::SystemFailure => f.write_str("systemFailure"),
            Self::Other(n) => write!(f, "failure bit {n}"),
        }
    }
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }`.
///
/// The token is kept as the exact element received (a CMS `ContentInfo`).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp {
    /// The TSA's status.
    pub status: PkiStatusInfo,
    /// The token (`ContentInfo` of a `SignedData`), when granted.
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<Any>,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER (1..999) OPTIONAL,
/// micros [1] INTEGER (1..999) OPTIONAL }`.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Sequence)]
pub struct Accuracy {
    /// Whole seconds.
    #[asn1(optional = "true")]
    pub seconds: Option<u32>,
    /// Milliseconds.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    /// Microseconds.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

impl Accuracy {
    /// The accuracy as a duration (absent parts count as zero).
    pub fn as_duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.seconds.unwrap_or(0)))
            + std::time::Duration::from_millis(u64::from(self.millis.unwrap_or(0)))
            + std::time::Duration::from_micros(u64::from(self.micros.unwrap_or(0)))
    }
}

/// The `genTime` of a `TSTInfo`: a GeneralizedTime kept as received, fractional seconds
/// included (RFC 3161 §2.4.2 allows them; `der`'s own type refuses them).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GenTime {
    raw: String,
    at: time::OffsetDateTime,
}

impl GenTime {
    /// A whole-second time (what the development TSA emits).
    pub fn from_unix_seconds(secs: i64) -> der::Result<Self> {
        let at = time::OffsetDateTime::from_unix_timestamp(secs)
            .map_err(|_| der::Tag::GeneralizedTime.value_error())?;
        let raw = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        Ok(Self { raw, at })
    }

    /// The instant.
    pub fn instant(&self) -> time::OffsetDateTime {
        self.at
    }

    /// The characters as received (`YYYYMMDDhhmmss[.f*]Z`).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// RFC 3339 rendering (fractional digits kept when present).
    pub fn to_rfc3339(&self) -> String {
        self.at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| self.raw.clone())
    }

    fn parse(raw: &str) -> Option<time::OffsetDateTime> {
        let body = raw.strip_suffix('Z')?;
        let (whole, frac) = match body.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (body, None),
        };
        if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let num = |r: std::ops::Range<usize>| whole.get(r)?.parse::<u32>().ok();
        let month = time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
        let date = time::Date::from_calendar_date(
            i32::try_from(num(0..4)?).ok()?,
            month,
            u8::try_from(num(6..8)?).ok()?,
        )
        .ok()?;
        let mut nanos = 0u32;
        if let Some(f) = frac {
            // DER: at least one digit, no trailing zero; at most nanosecond precision here.
            if f.is_empty()
                || f.len() > 9
                || f.ends_with('0')
                || !f.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            let padded = format!("{f:0<9}");
            nanos = padded.parse().ok()?;
        }
        let t = time::Time::from_hms_nano(
            u8::try_from(num(8..10)?).ok()?,
            u8::try_from(num(10..12)?).ok()?,
            u8::try_from(num(12..14)?).ok()?,
            nanos,
        )
        .ok()?;
        Some(time::PrimitiveDateTime::new(date, t).assume_utc())
    }
}

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let bytes = reader.read_vec(header.length())?;
        let raw = String::from_utf8(bytes).map_err(|_| Tag::GeneralizedTime.value_error())?;
        let at = Self::parse(&raw).ok_or_else(|| Tag::GeneralizedTime.value_error())?;
        Ok(Self { raw, at })
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.raw.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(self.raw.as_bytes())
    }
}

/// `TSTInfo` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    /// Always 1.
    pub version: u8,
    /// The TSA policy under which the token was made.
    pub policy: ObjectIdentifier,
    /// What was time-stamped.
    pub message_imprint: MessageImprint,
    /// Unique per TSA.
    pub serial_number: Int,
    /// When.
    pub gen_time: GenTime,
    /// How precise `gen_time` is.
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    /// Whether tokens of this TSA can be ordered by `gen_time` alone.
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    /// The requester's nonce, echoed.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// The TSA's name.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    /// Extensions.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    /// The issuer of the certificate (a directoryName in practice).
    pub issuer: Vec<GeneralName>,
    /// The certificate's serial number.
    pub serial_number: Int,
}

/// `ESSCertIDv2` (RFC 5035): `hashAlgorithm` defaults to SHA-256.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// The digest algorithm; `None` means SHA-256 (the DEFAULT).
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// The digest of the whole certificate.
    pub cert_hash: OctetString,
    /// The certificate's issuer and serial number.
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    /// The first identifies the signer's certificate.
    pub certs: Vec<EssCertIdV2>,
    /// Policies (not interpreted).
    #[asn1(optional = "true")]
    pub policies: Option<Any>,
}

/// `ESSCertID` (RFC 2634): a SHA-1 digest of the certificate.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertId {
    /// SHA-1 of the whole certificate.
    pub cert_hash: OctetString,
    /// The certificate's issuer and serial number.
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies ... OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificate {
    /// The first identifies the signer's certificate.
    pub certs: Vec<EssCertId>,
    /// Policies (not interpreted).
    #[asn1(optional = "true")]
    pub policies: Option<Any>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Encode};

    #[test]
    fn gen_time_keeps_fractions() {
        let der = [
            0x18, 0x13, b'2', b'0', b'2', b'2', b'0', b'8', b'0', b'3', b'1', b'4', b'2', b'5',
            b'4', b'1', b'.', b'1', b'2', b'5', b'Z',
        ];
        let t = GenTime::from_der(&der).expect("parses");
        assert_eq!(t.as_str(), "20220803142541.125Z");
        assert_eq!(t.instant().millisecond(), 125);
        assert_eq!(t.to_der().expect("encodes"), der);
    }

    #[test]
    fn gen_time_refuses_local_time_and_trailing_zero() {
        assert!(GenTime::parse("20220803142541").is_none());
        assert!(GenTime::parse("20220803142541.10Z").is_none());
        assert!(GenTime::parse("20221303142541Z").is_none());
    }

    #[test]
    fn failure_bits_round_trip() {
        for f in [
            FailureInfo::BadAlg,
            FailureInfo::BadDataFormat,
            FailureInfo::SystemFailure,
        ] {
            let info = PkiStatusInfo {
                status: 2,
                status_string: None,
                fail_info: Some(f.to_bit_string().expect("bits")),
            };
            let back = PkiStatusInfo::from_der(&info.to_der().expect("enc")).expect("dec");
            assert_eq!(back.failure(), vec![f]);
            assert_eq!(back.status(), PkiStatus::Rejection);
        }
    }
}
