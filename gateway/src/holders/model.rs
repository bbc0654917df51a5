//! One holder's record and its JSON form (one line of the JSON Lines file, the HTTP
//! endpoint's answer):
//!
//! ```json
//! {"mailbox": "mario.rossi@pec.example.it", "verified": true, "method": "spid",
//!  "verified_at": "2026-10-01T09:30:00Z", "loa": "substantial", "two_factor": true}
//! ```
//!
//! `mailbox` and `verified` are required; `method` (`spid`, `cie`, `cns`, `signature`,
//! `video`, `other`), `verified_at` (RFC 3339), `loa` (`low`, `substantial`, `high`) and
//! `two_factor` (default false) are optional. Other members are ignored (a platform may keep
//! more). Methods and levels are open values: one Ponte does not know is kept as written.

use serde::Deserialize;
use time::OffsetDateTime;

/// How the holder's identity was confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// SPID (the Italian public digital identity system).
    Spid,
    /// CIE (the electronic identity card).
    Cie,
    /// CNS (the national services card) or the health card.
    Cns,
    /// A qualified electronic signature (digital or remote signature).
    Signature,
    /// A recorded video session with an operator.
    Video,
    /// Another method.
    Other,
    /// A value Ponte does not know, as written.
    Unknown(String),
}

impl Method {
    /// The six methods named by the holders' record format, in that order.
    pub const KNOWN: [Method; 6] = [
        Method::Spid,
        Method::Cie,
        Method::Cns,
        Method::Signature,
        Method::Video,
        Method::Other,
    ];

    /// The method written `s` (case and surrounding space ignored).
    pub fn parse(s: &str) -> Method {
        let t = s.trim();
        Method::KNOWN
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(t))
            .unwrap_or_else(|| Method::Unknown(t.to_owned()))
    }

    /// Its name (`spid`, ...; an unknown value as written).
    pub fn as_str(&self) -> &str {
        match self {
            Method::Spid => "spid",
            Method::Cie => "cie",
            Method::Cns => "cns",
            Method::Signature => "signature",
            Method::Video => "video",
            Method::Other => "other",
            Method::Unknown(s) => s,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The eIDAS level of assurance of the holder's identification (Regulation 2015/1502).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Loa {
    /// Low.
    Low,
    /// Substantial (what the REM baseline asks, EN 319 532-4 C.3.4 p).
    Substantial,
    /// High.
    High,
    /// A value Ponte does not know, as written (a URI is kept as the level's URI).
    Unknown(String),
}

/// The eIDAS level URIs' common prefix (`http://eidas.europa.eu/LoA/substantial`).
pub const EIDAS_LOA_PREFIX: &str = "http://eidas.europa.eu/LoA/";

impl Loa {
    /// The level written `s`: `low`, `substantial`, `high` (case ignored) or the eIDAS URI of
    /// one of them.
    pub fn parse(s: &str) -> Loa {
        let t = s.trim();
        let name = t.strip_prefix(EIDAS_LOA_PREFIX).unwrap_or(t);
        match name.to_ascii_lowercase().as_str() {
            "low" => Loa::Low,
            "substantial" => Loa::Substantial,
            "high" => Loa::High,
            _ => Loa::Unknown(t.to_owned()),
        }
    }

    /// `low`, `substantial`, `high`, or the unknown value.
    pub fn as_str(&self) -> &str {
        match self {
            Loa::Low => "low",
            Loa::Substantial => "substantial",
            Loa::High => "high",
            Loa::Unknown(s) => s,
        }
    }

    /// The URI the evidence carries (`http://eidas.europa.eu/LoA/<level>`); an unknown value
    /// that is already an absolute URI is kept, else `None`.
    pub fn uri(&self) -> Option<String> {
        match self {
            Loa::Unknown(s) if s.contains(':') => Some(s.clone()),
            Loa::Unknown(_) => None,
            known => Some(format!("{EIDAS_LOA_PREFIX}{}", known.as_str())),
        }
    }
}

/// What the PEC platform records about one mailbox's holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The mailbox (as recorded).
    pub mailbox: String,
    /// Whether the holder's identity was confirmed.
    pub verified: bool,
    /// How.
    pub method: Option<Method>,
    /// When.
    pub verified_at: Option<OffsetDateTime>,
    /// At which eIDAS level.
    pub loa: Option<Loa>,
    /// Whether access to the mailbox uses two factors.
    pub two_factor: bool,
}

#[derive(Deserialize)]
struct Wire {
    mailbox: String,
    verified: bool,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    verified_at: Option<String>,
    #[serde(default)]
    loa: Option<String>,
    #[serde(default)]
    two_factor: Option<bool>,
}

impl Holder {
    /// A holder from its JSON object; the error names what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Holder, String> {
        let w: Wire = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if w.mailbox.trim().is_empty() {
            return Err("empty mailbox".into());
        }
        let verified_at = match w.verified_at.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => Some(
                parse_time(t)
                    .ok_or_else(|| format!("verified_at {t:?} is not an RFC 3339 date-time"))?,
            ),
        };
        Ok(Holder {
            mailbox: w.mailbox.trim().to_owned(),
            verified: w.verified,
            method: w
                .method
                .as_deref()
                .filter(|m| !m.trim().is_empty())
                .map(Method::parse),
            verified_at,
            loa: w
                .loa
                .as_deref()
                .filter(|l| !l.trim().is_empty())
                .map(Loa::parse),
            two_factor: w.two_factor.unwrap_or(false),
        })
    }
}

/// An RFC 3339 date-time, or an LDAP GeneralizedTime (`20261001093000Z`, with optional
/// fraction and offset), as directories store times.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    generalized_time(s)
}

fn generalized_time(s: &str) -> Option<OffsetDateTime> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 10 {
        return None;
    }
    let num = |a: usize, b: usize| digits.get(a..b).and_then(|d| d.parse::<u32>().ok());
    let year = i32::try_from(num(0, 4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(4, 6)?).ok()?).ok()?;
    let day = u8::try_from(num(6, 8)?).ok()?;
    let hour = u8::try_from(num(8, 10)?).ok()?;
    let minute = if digits.len() >= 12 {
        u8::try_from(num(10, 12)?).ok()?
    } else {
        0
    };
    let second = if digits.len() >= 14 {
        u8::try_from(num(12, 14)?).ok()?
    } else {
        0
    };
    let mut rest = s.get(digits.len()..)?;
    if let Some(r) = rest.strip_prefix(['.', ',']) {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => time::UtcOffset::UTC,
        r if r.len() == 5 && (r.starts_with('+') || r.starts_with('-')) => {
            let h = r.get(1..3)?.parse::<i8>().ok()?;
            let m = r.get(3..5)?.parse::<i8>().ok()?;
            let (h, m) = if r.starts_with('-') { (-h, -m) } else { (h, m) };
            time::UtcOffset::from_hms(h, m, 0).ok()?
        }
        _ => return None,
    };
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(hour, minute, second).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_with_every_field() {
        let h = Holder::from_json(
            br#"{"mailbox":" Mario.Rossi@pec.example.it ","verified":true,"method":"SPID","verified_at":"2026-10-01T09:30:00+02:00","loa":"substantial","two_factor":true,"extra":1}"#,
        )
        .expect("holder");
        assert_eq!(h.mailbox, "Mario.Rossi@pec.example.it");
        assert!(h.verified && h.two_factor);
        assert_eq!(h.method, Some(Method::Spid));
        assert_eq!(h.loa, Some(Loa::Substantial));
        assert_eq!(
            h.verified_at,
            Some(time::macros::datetime!(2026-10-01 07:30:00 UTC))
        );
        assert_eq!(
            Loa::Substantial.uri().as_deref(),
            Some("http://eidas.europa.eu/LoA/substantial")
        );
    }

    #[test]
    fn defaults_open_values_and_errors() {
        let h = Holder::from_json(br#"{"mailbox":"a@b.test","verified":false}"#).expect("holder");
        assert!(!h.two_factor && h.method.is_none() && h.loa.is_none());
        let h = Holder::from_json(
            br#"{"mailbox":"a@b.test","verified":true,"method":"eidas-node","loa":"http://eidas.europa.eu/LoA/high"}"#,
        )
        .expect("holder");
        assert_eq!(h.method, Some(Method::Unknown("eidas-node".into())));
        assert_eq!(h.loa, Some(Loa::High));
        assert_eq!(Loa::parse("gold").uri(), None);
        for bad in [
            &br#"{"verified":true}"#[..],
            br#"{"mailbox":"a@b.test"}"#,
            br#"{"mailbox":"","verified":true}"#,
            br#"{"mailbox":"a@b.test","verified":"yes"}"#,
            br#"{"mailbox":"a@b.test","verified":true,"verified_at":"yesterday"}"#,
            b"not json",
        ] {
            assert!(
                Holder::from_json(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn generalized_times() {
        let t = parse_time("20261001093000Z").expect("time");
        assert_eq!(t, time::macros::datetime!(2026-10-01 09:30:00 UTC));
        let t = parse_time("20261001113000.5+0200").expect("time");
        assert_eq!(t, time::macros::datetime!(2026-10-01 09:30:00 UTC));
        assert!(parse_time("2026100109Z").is_some());
        assert!(parse_time("20261301093000Z").is_none());
        assert!(parse_time("20261001093000").is_none());
    }
}
