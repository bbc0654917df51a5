//! Italian civil time for daticert and the text parts: Europe/Rome is CET (+01:00) in winter
//! and CEST (+02:00) from the last Sunday of March 01:00 UTC to the last Sunday of October
//! 01:00 UTC (the EU rule, Directive 2000/84/EC). Written out here on purpose: no tz database.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The last Sunday of `month` in `year`.
fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let last_day = time::util::days_in_month(month, year);
    let d = Date::from_calendar_date(year, month, last_day).ok()?;
    let back = i64::from(d.weekday().number_days_from_sunday());
    d.checked_sub(time::Duration::days(back))
}

/// The UTC offset of Europe/Rome at `instant`.
pub fn rome_offset(instant: OffsetDateTime) -> UtcOffset {
    let utc = instant.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let one = Time::from_hms(1, 0, 0).unwrap_or(Time::MIDNIGHT);
    let start =
        last_sunday(year, Month::March).map(|d| PrimitiveDateTime::new(d, one).assume_utc());
    let end =
        last_sunday(year, Month::October).map(|d| PrimitiveDateTime::new(d, one).assume_utc());
    let summer = matches!((start, end), (Some(s), Some(e)) if utc >= s && utc < e);
    let hours = if summer { 2 } else { 1 };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// `instant` expressed in Italian civil time (CET/CEST).
pub fn to_rome(instant: OffsetDateTime) -> OffsetDateTime {
    instant.to_offset(rome_offset(instant))
}

/// The daticert `zona` spelling of an offset: `+hhmm` / `-hhmm`.
pub fn zona(offset: UtcOffset) -> String {
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!("{sign}{:02}{:02}", h.unsigned_abs(), m.unsigned_abs())
}

/// `dd/mm/yyyy` (daticert `giorno`, text parts).
pub fn giorno(t: OffsetDateTime) -> String {
    format!("{:02}/{:02}/{:04}", t.day(), u8::from(t.month()), t.year())
}

/// `hh:mm:ss` (daticert `ora`, text parts).
pub fn ora(t: OffsetDateTime) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// RFC 3339 rendering (`2024-12-05T00:02:10+01:00`), second precision.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let off = zona(t.offset());
    let (sign, rest) = off.split_at(1);
    let (hh, mm) = rest.split_at(2);
    let off = if t.offset().is_utc() {
        "Z".to_string()
    } else {
        format!("{sign}{hh}:{mm}")
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{off}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// RFC 5322 `Date:` rendering (`Thu, 5 Dec 2024 00:02:10 +0100`).
pub fn rfc5322(t: OffsetDateTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = DAYS
        .get(usize::from(t.weekday().number_days_from_monday()))
        .copied()
        .unwrap_or("Mon");
    let month = MONTHS
        .get(usize::from(u8::from(t.month())) - 1)
        .copied()
        .unwrap_or("Jan");
    format!(
        "{day}, {} {month} {:04} {:02}:{:02}:{:02} {}",
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second(),
        zona(t.offset())
    )
}

/// Reads daticert `giorno` (`dd/mm/yyyy`), `ora` (`hh:mm:ss`) and `zona` (`±hhmm`) into an
/// instant carrying that offset.
pub fn from_daticert(giorno: &str, ora: &str, zona: &str) -> Result<OffsetDateTime, super::Error> {
    let bad = |field: &'static str, value: &str| super::Error::DaticertDate {
        field,
        value: value.to_string(),
    };
    let g = giorno.trim();
    let parts: Vec<&str> = g.split('/').collect();
    let [d, m, y] = parts.as_slice() else {
        return Err(bad("giorno", g));
    };
    let day = num(d, 2).ok_or_else(|| bad("giorno", g))?;
    let month = num(m, 2).ok_or_else(|| bad("giorno", g))?;
    let year = num(y, 4).ok_or_else(|| bad("giorno", g))?;
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| bad("giorno", g))?;
    let date = i32::try_from(year)
        .ok()
        .and_then(|y| Date::from_calendar_date(y, month, u8::try_from(day).ok()?).ok())
        .ok_or_else(|| bad("giorno", g))?;
    let o = ora.trim();
    let parts: Vec<&str> = o.split(':').collect();
    let [h, mi, s] = parts.as_slice() else {
        return Err(bad("ora", o));
    };
    let time = match (num(h, 2), num(mi, 2), num(s, 2)) {
        (Some(h), Some(mi), Some(s)) => Time::from_hms(
            u8::try_from(h).map_err(|_| bad("ora", o))?,
            u8::try_from(mi).map_err(|_| bad("ora", o))?,
            u8::try_from(s).map_err(|_| bad("ora", o))?,
        )
        .map_err(|_| bad("ora", o))?,
        _ => return Err(bad("ora", o)),
    };
    let z = zona.trim();
    let offset = parse_zona(z).ok_or_else(|| bad("zona", z))?;
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

fn parse_zona(z: &str) -> Option<UtcOffset> {
    let (neg, rest) = match z.as_bytes().first()? {
        b'+' => (false, z.get(1..)?),
        b'-' => (true, z.get(1..)?),
        _ => return None,
    };
    let rest = rest.replace(':', "");
    if rest.len() != 4 {
        return None;
    }
    let h = i8::try_from(num(rest.get(..2)?, 2)?).ok()?;
    let m = i8::try_from(num(rest.get(2..)?, 2)?).ok()?;
    let (h, m) = if neg { (-h, -m) } else { (h, m) };
    UtcOffset::from_hms(h, m, 0).ok()
}

/// Parses exactly `width` ASCII digits.
fn num(s: &str, width: usize) -> Option<u32> {
    if s.len() != width || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn winter_and_summer_offsets() {
        assert_eq!(
            zona(rome_offset(datetime!(2024-12-04 23:02:10 UTC))),
            "+0100"
        );
        assert_eq!(zona(rome_offset(datetime!(2024-07-01 12:00 UTC))), "+0200");
    }

    #[test]
    fn switch_instants_follow_the_eu_rule() {
        // 2024: last Sunday of March = 31 March, of October = 27 October.
        assert_eq!(
            zona(rome_offset(datetime!(2024-03-31 00:59:59 UTC))),
            "+0100"
        );
        assert_eq!(
            zona(rome_offset(datetime!(2024-03-31 01:00:00 UTC))),
            "+0200"
        );
        assert_eq!(
            zona(rome_offset(datetime!(2024-10-27 00:59:59 UTC))),
            "+0200"
        );
        assert_eq!(
            zona(rome_offset(datetime!(2024-10-27 01:00:00 UTC))),
            "+0100"
        );
        // 2026: 29 March and 25 October.
        assert_eq!(
            zona(rome_offset(datetime!(2026-03-29 01:00:00 UTC))),
            "+0200"
        );
        assert_eq!(
            zona(rome_offset(datetime!(2026-03-28 12:00:00 UTC))),
            "+0100"
        );
        assert_eq!(
            zona(rome_offset(datetime!(2026-10-25 01:00:00 UTC))),
            "+0100"
        );
    }

    #[test]
    fn daticert_date_round_trip() {
        let t = from_daticert("05/12/2024", "00:02:10", "+0100").unwrap();
        assert_eq!(rfc3339(t), "2024-12-05T00:02:10+01:00");
        assert_eq!(giorno(t), "05/12/2024");
        assert_eq!(ora(t), "00:02:10");
        assert_eq!(rfc5322(t), "Thu, 5 Dec 2024 00:02:10 +0100");
        assert_eq!(to_rome(datetime!(2024-12-04 23:02:10 UTC)), t);
    }

    #[test]
    fn bad_dates_are_named() {
        let e = from_daticert("32/12/2024", "00:02:10", "+0100").unwrap_err();
        assert!(e.to_string().contains("giorno `32/12/2024`"), "{e}");
        assert!(from_daticert("05/12/2024", "24:00:00", "+0100").is_err());
        assert!(from_daticert("05/12/2024", "00:00:00", "CET").is_err());
    }
}
