//! The RFC 3161 wire structures as `der` 0.8 types (the ESS signing-certificate attributes
//! are read by [`crate::cms::ess`]).
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
            // At least one digit, at most nanosecond precision. DER forbids trailing zeros;
            // they are tolerated here because the bytes are kept as signed and some TSAs
            // write fixed-width milliseconds.
            if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
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

/// A TSA policy identifier as received: any OBJECT IDENTIFIER, including ones whose arcs do
/// not fit the 32 bits of [`ObjectIdentifier`] (e.g. `2.25.<UUID>` OIDs), so such a token is
/// still read and its policy reported.
#[derive(Clone, Debug, Eq, PartialEq, Hash)]
pub struct PolicyId {
    /// The content octets of the OBJECT IDENTIFIER.
    bytes: Vec<u8>,
}

impl PolicyId {
    /// The content octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// As an [`ObjectIdentifier`], when its arcs fit.
    pub fn as_oid(&self) -> Option<ObjectIdentifier> {
        ObjectIdentifier::from_bytes(&self.bytes).ok()
    }

    /// The arcs, or `None` when the encoding is not a valid OID (empty, truncated arc, arc
    /// with a leading 0x80, or an arc over 128 bits).
    fn arcs(bytes: &[u8]) -> Option<Vec<u128>> {
        if bytes.is_empty() || bytes.last().is_some_and(|b| b & 0x80 != 0) {
            return None;
        }
        let mut out = Vec::new();
        let mut acc: u128 = 0;
        let mut start = true;
        for &b in bytes {
            if start && b == 0x80 {
                return None; // non-minimal arc
            }
            if acc.leading_zeros() < 7 {
                return None;
            }
            acc = (acc << 7) | u128::from(b & 0x7f);
            start = b & 0x80 == 0;
            if start {
                if out.is_empty() {
                    let (first, second) = match acc {
                        0..=39 => (0, acc),
                        40..=79 => (1, acc - 40),
                        _ => (2, acc - 80),
                    };
                    out.push(first);
                    out.push(second);
                } else {
                    out.push(acc);
                }
                acc = 0;
            }
        }
        Some(out)
    }
}

impl From<ObjectIdentifier> for PolicyId {
    fn from(oid: ObjectIdentifier) -> Self {
        Self {
            bytes: oid.as_bytes().to_vec(),
        }
    }
}

impl std::fmt::Display for PolicyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Decoding succeeded when the value was read, so `arcs` is `Some` here.
        let arcs = Self::arcs(&self.bytes).unwrap_or_default();
        let dotted: Vec<String> = arcs.iter().map(ToString::to_string).collect();
        f.write_str(&dotted.join("."))
    }
}

impl FixedTag for PolicyId {
    const TAG: Tag = Tag::ObjectIdentifier;
}

impl<'a> DecodeValue<'a> for PolicyId {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let bytes = reader.read_vec(header.length())?;
        if Self::arcs(&bytes).is_none() {
            return Err(Tag::ObjectIdentifier.value_error().into());
        }
        Ok(Self { bytes })
    }
}

impl EncodeValue for PolicyId {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.bytes.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.bytes)
    }
}

/// `TSTInfo` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    /// Always 1.
    pub version: u8,
    /// The TSA policy under which the token was made.
    pub policy: PolicyId,
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
    fn gen_time_refuses_local_time_and_bad_dates() {
        assert!(GenTime::parse("20220803142541").is_none());
        assert!(GenTime::parse("20220803142541.Z").is_none());
        assert!(GenTime::parse("20221303142541Z").is_none());
        assert!(GenTime::parse("20220230142541Z").is_none());
        assert!(GenTime::parse("2022080314254Z").is_none());
        // Fixed-width milliseconds (not DER, seen in the wild) are read, not rejected.
        let t = GenTime::parse("20220803142541.100Z").expect("tolerated");
        assert_eq!(t.millisecond(), 100);
    }

    #[test]
    fn policy_ids_beyond_32_bit_arcs_are_read() {
        // 2.25.329800735698586629295641978511506172918 (a UUID OID), DER.
        let oid = [
            0x06, 0x14, 0x69, 0x83, 0xF0, 0x9D, 0xA7, 0xEB, 0xCF, 0xDE, 0xE0, 0xC7, 0xA1, 0xA7,
            0xB2, 0xC0, 0x94, 0x8C, 0xC8, 0xF9, 0xD7, 0x76,
        ];
        let p = PolicyId::from_der(&oid).expect("reads");
        assert!(p.as_oid().is_none());
        assert_eq!(
            p.to_string(),
            "2.25.329800735698586629295641978511506172918"
        );
        assert_eq!(p.to_der().expect("enc"), oid);
        let small = PolicyId::from(ObjectIdentifier::new_unwrap("0.4.0.2023.1.1"));
        assert_eq!(small.to_string(), "0.4.0.2023.1.1");
        assert!(
            PolicyId::from_der(&[0x06, 0x02, 0x2a, 0x86]).is_err(),
            "truncated arc"
        );
        assert!(
            PolicyId::from_der(&[0x06, 0x02, 0x2a, 0x80]).is_err(),
            "truncated arc"
        );
        assert!(
            PolicyId::from_der(&[0x06, 0x03, 0x2a, 0x80, 0x01]).is_err(),
            "non-minimal"
        );
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
