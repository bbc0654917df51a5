//! The sender's identity assurance in both directions (issue 13; EN 319 522-2 §5.4, 522-3
//! §4.3.14, 532-4 C.3.4 p; rem.md §3.6).
//!
//! **PEC → REM.** The sender of a transport envelope is looked up in the holders' source
//! (`[holders]`, [`crate::holders`]). A holder whose identity was confirmed, with a level of
//! assurance (and two-factor access, when `two_factor_required`), gets
//! `SenderDetails/AssuranceLevelsDetails` in the evidence: `GlobalAssuranceLevel` with the
//! eIDAS level URI and `PolicyID` (`assurance_policy`), `AuthenticationDetails` with
//! `AuthenticationTime` and `AuthenticationMethod` (`method_uris`). The time and method are
//! the PEC platform's per-submission statement when it sent one ([`AUTH_HEADER`], accepted
//! only from `platform_addresses`), else the holder's confirmation (`verified_at`, `method`),
//! else the submission time. Any other sender is "unconfirmed": refused
//! (`unverified = "refuse"`, [`super::RefusalKind::HolderUnverified`]) or relayed with no
//! assurance stated ("basic", `unverified = "basic"`, the default). Without `[holders]`
//! nothing is stated, as before, and the notes say so.
//!
//! **REM → PEC.** The main evidence's sender assurance is read ([`from_evidence`]), kept in
//! the correlation record, reported as `sender_assurance`, and told in the text of the PEC
//! envelope ([`pec_text`]).
//!
//! **The per-submission header.** `X-Ponte-Sender-Authentication: method=spid;
//! time=2026-11-24T09:58:00Z` (method: `spid`, `cie`, `cns`, `signature`, `video`, `other`;
//! time: RFC 3339), in the top header of the envelope the PEC platform hands to Ponte (outside
//! the signed entity, like `Received`). It is believed only when the input's [`Origin`] is
//! the platform: the service checks the SMTP peer against `platform_addresses`; `ponte
//! translate`, which has no peer, believes it only with `--trust-authentication-header`.
//! Otherwise it is ignored and the notes say why. It never leaves Ponte: the top header is not
//! copied to the output, and a copy inside the carried original (where a user could write
//! one) is removed from it, in both directions ([`strip_header`]).

use std::net::IpAddr;

use time::OffsetDateTime;

use super::context::Context;
use crate::config::holders::Unverified;
use crate::correlate::SenderAssurance;
use crate::holders::{AnswerFrom, Loa, Method};
use crate::rem::evidence::{AssuranceLevelDetails, AssuranceLevelsDetails, AuthenticationDetails};

/// The header by which the PEC platform states, per submission, when and how the sender
/// authenticated.
pub const AUTH_HEADER: &str = "X-Ponte-Sender-Authentication";

/// Where an input came from, for the per-submission header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// Unknown (`ponte translate` without `--trust-authentication-header`): the header is not
    /// believed.
    #[default]
    Unknown,
    /// An SMTP peer: the header is believed when it is one of `[holders]
    /// platform_addresses`.
    Peer(IpAddr),
    /// The caller vouches that the input comes from the PEC platform (`ponte translate
    /// --trust-authentication-header`).
    Platform,
}

/// What the PEC platform said about one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionAuth {
    /// How the sender authenticated.
    pub method: Method,
    /// When.
    pub time: OffsetDateTime,
}

/// Reads a header value `method=<m>; time=<RFC 3339>` (keys in any order and case; other
/// keys ignored).
pub fn parse_auth_header(value: &str) -> Result<SubmissionAuth, String> {
    let mut method = None;
    let mut when = None;
    for part in value.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("{part:?} is not key=value"));
        };
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "method" => method = Some(Method::parse(v)),
            "time" => {
                when = Some(
                    OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| format!("time {v:?} is not an RFC 3339 date-time"))?,
                );
            }
            _ => {}
        }
    }
    match (method, when) {
        (Some(method), Some(time)) => Ok(SubmissionAuth { method, time }),
        (None, _) => Err("no method=".into()),
        (_, None) => Err("no time=".into()),
    }
}

/// The per-submission statement in the top header of `raw`, if believed; what became of it
/// goes to `notes`.
pub(super) fn read_auth_header(
    cx: &Context,
    raw: &[u8],
    origin: &Origin,
    notes: &mut Vec<String>,
) -> Option<SubmissionAuth> {
    let values: Vec<String> = crate::pec::classify::header_fields(raw)?
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(AUTH_HEADER))
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let value = match values.as_slice() {
        [] => return None,
        [one] => one,
        more => {
            notes.push(format!("{AUTH_HEADER} given {} times: ignored", more.len()));
            return None;
        }
    };
    let Some(h) = &cx.config.holders else {
        notes.push(format!("{AUTH_HEADER} ignored: no [holders] configured"));
        return None;
    };
    let trusted = match origin {
        Origin::Platform => true,
        Origin::Peer(ip) => h.is_platform(*ip),
        Origin::Unknown => false,
    };
    if !trusted {
        notes.push(match origin {
            Origin::Peer(ip) => format!(
                "{AUTH_HEADER} ignored: {ip} is not one of holders.platform_addresses"
            ),
            _ => format!(
                "{AUTH_HEADER} ignored: the input's origin is unknown (ponte translate believes it only with --trust-authentication-header)"
            ),
        });
        return None;
    }
    match parse_auth_header(value) {
        Ok(a) => {
            notes.push(format!(
                "the PEC platform states the sender authenticated with {} at {}",
                a.method,
                crate::pec::zone::rfc3339(a.time)
            ));
            Some(a)
        }
        Err(why) => {
            notes.push(format!("{AUTH_HEADER} ignored: {why}"));
            None
        }
    }
}

/// `bytes` without the header fields named `name` (their continuation lines included) in
/// its header block; `None` when it has none. Line endings are kept as they are.
pub fn strip_header(bytes: &[u8], name: &str) -> Option<Vec<u8>> {
    let lines = field_lines(bytes, name);
    if lines.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut pos = 0;
    for r in lines {
        out.extend_from_slice(bytes.get(pos..r.start)?);
        pos = r.end;
    }
    out.extend_from_slice(bytes.get(pos..)?);
    Some(out)
}

/// The byte ranges of the lines (continuation lines included) of the header fields named
/// `name`, in the header block of `bytes` (up to its first empty line; only that block is
/// read).
pub(crate) fn field_lines(bytes: &[u8], name: &str) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    let mut pos = 0;
    let mut skipping = false;
    while pos < bytes.len() {
        let end = bytes
            .get(pos..)
            .and_then(|r| memchr::memchr(b'\n', r))
            .map_or(bytes.len(), |i| pos + i + 1);
        let line = bytes.get(pos..end).unwrap_or_default();
        let bare = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(line);
        if bare.is_empty() {
            // The end of the header block: the rest is the body.
            break;
        }
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation {
            let field = bare
                .iter()
                .position(|&b| b == b':')
                .and_then(|i| bare.get(..i));
            skipping = field.is_some_and(|f| f.trim_ascii().eq_ignore_ascii_case(name.as_bytes()));
        }
        if skipping {
            match out.last_mut() {
                Some(last) if last.end == pos => last.end = end,
                _ => out.push(pos..end),
            }
        }
        pos = end;
    }
    out
}

/// Decides what the evidence of a dispatch from `sender` states about the sender:
/// `Ok(Ok(Some(_)))` the assurance, `Ok(Ok(None))` none (no `[holders]`, or an unconfirmed
/// sender relayed as basic), `Ok(Err(detail))` refused (unconfirmed, `unverified =
/// "refuse"`: the detail names the identity), `Err` the holders' source failed and nothing
/// cached could stand in.
pub(super) async fn decide(
    cx: &Context,
    sender: &str,
    auth: Option<&SubmissionAuth>,
    submitted: OffsetDateTime,
    now: OffsetDateTime,
    notes: &mut Vec<String>,
) -> Result<Result<Option<SenderAssurance>, String>, super::Error> {
    let (Some(cfg), Some(holders)) = (&cx.config.holders, &cx.holders) else {
        notes.push(
            "no [holders] configured: the evidence states no sender assurance (basic authentication)"
                .into(),
        );
        return Ok(Ok(None));
    };
    let answer = holders
        .lookup(sender, std::time::SystemTime::from(now))
        .await
        .map_err(super::Error::Holders)?;
    match answer.from {
        AnswerFrom::Source => {}
        AnswerFrom::Cache => notes.push(format!(
            "holder {sender}: cached answer ({} s old)",
            answer.age.as_secs()
        )),
        AnswerFrom::Stale => notes.push(format!(
            "holder {sender}: the holders' source failed ({}); cached answer {} s old",
            answer.error.as_deref().unwrap_or("?"),
            answer.age.as_secs()
        )),
    }
    let unconfirmed = match answer.holder.as_deref() {
        None => Some(format!(
            "{sender} is not in the holders' source ({})",
            holders.source().kind()
        )),
        Some(h) if !h.verified => Some(format!("{sender}: the holder's identity is not confirmed")),
        Some(h) if h.loa.as_ref().and_then(Loa::uri).is_none() => Some(format!(
            "{sender}: no eIDAS level of assurance recorded for the holder{}",
            h.loa
                .as_ref()
                .map(|l| format!(" ({:?} is not one)", l.as_str()))
                .unwrap_or_default()
        )),
        Some(h) if cfg.two_factor_required && !h.two_factor => Some(format!(
            "{sender}: access to the mailbox does not use two factors (holders.two_factor_required)"
        )),
        Some(_) => None,
    };
    if let Some(why) = unconfirmed {
        return match cfg.unverified {
            Unverified::Refuse => Ok(Err(why)),
            Unverified::Basic => {
                notes.push(format!(
                    "sender identity not confirmed ({why}): relayed with no assurance stated (holders.unverified = \"basic\")"
                ));
                Ok(Ok(None))
            }
        };
    }
    let Some(h) = answer.holder.as_deref() else {
        return Ok(Ok(None));
    };
    let Some(level) = h.loa.as_ref().and_then(Loa::uri) else {
        return Ok(Ok(None));
    };
    let method = auth
        .map(|a| a.method.clone())
        .or_else(|| h.method.clone())
        .unwrap_or(Method::Other);
    let when = match (auth, h.verified_at) {
        (Some(a), _) => a.time,
        (None, Some(t)) => t,
        (None, None) => {
            notes.push(format!(
                "holder {sender}: no authentication time known; the submission time stands in"
            ));
            submitted
        }
    };
    let loa = h.loa.as_ref().and_then(|l| match l {
        Loa::Unknown(_) => None,
        known => Some(known.as_str().to_owned()),
    });
    Ok(Ok(Some(SenderAssurance {
        level,
        loa,
        policy: Some(cfg.assurance_policy.clone()),
        authentication_time: Some(crate::pec::zone::rfc3339(
            when.to_offset(time::UtcOffset::UTC),
        )),
        authentication_method: Some(cfg.method_uri(&method).to_owned()),
        method: Some(method.as_str().to_owned()),
        two_factor: Some(h.two_factor),
        source: if auth.is_some() {
            "holders+platform".into()
        } else {
            "holders".into()
        },
        asserted_by: Some(cx.config.identity.provider_name.clone()),
    })))
}

/// The evidence element for `a` (the REM baseline form); `None` when `a` lacks the
/// authentication time or method that form needs.
pub fn to_evidence(a: &SenderAssurance) -> Option<AssuranceLevelsDetails> {
    let time = OffsetDateTime::parse(
        a.authentication_time.as_deref()?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?;
    Some(AssuranceLevelsDetails::Global {
        level: AssuranceLevelDetails {
            assurance_level: a.level.clone(),
            policy_id: a.policy.clone(),
            policy_id_details: None,
            policy_id_details_resources: None,
        },
        authentication: AuthenticationDetails::TimeAndMethod {
            time,
            method: a.authentication_method.clone()?,
        },
    })
}

/// What an incoming evidence (issued by `issuer`) states about its sender; `None` for the
/// split form (identity proofing and authentication levels apart), which Ponte does not read.
pub fn from_evidence(d: &AssuranceLevelsDetails, issuer: Option<&str>) -> Option<SenderAssurance> {
    let AssuranceLevelsDetails::Global {
        level,
        authentication,
    } = d
    else {
        return None;
    };
    let (time, method) = match authentication {
        AuthenticationDetails::TimeAndMethod { time, method } => (
            Some(crate::pec::zone::rfc3339(
                time.to_offset(time::UtcOffset::UTC),
            )),
            Some(method.clone()),
        ),
        AuthenticationDetails::Other(_) => (None, None),
    };
    let loa = match Loa::parse(&level.assurance_level) {
        Loa::Unknown(_) => None,
        known
            if level
                .assurance_level
                .starts_with(crate::holders::model::EIDAS_LOA_PREFIX) =>
        {
            Some(known.as_str().to_owned())
        }
        _ => None,
    };
    Some(SenderAssurance {
        level: level.assurance_level.clone(),
        loa,
        policy: level.policy_id.clone(),
        authentication_time: time,
        authentication_method: method,
        method: None,
        two_factor: None,
        source: "evidence".into(),
        asserted_by: issuer.map(str::to_owned),
    })
}

/// The sentence of a PEC message's text that says at which level the sender's identity was
/// asserted (Italian, as the rest of the text).
pub fn pec_text(a: Option<&SenderAssurance>, issuer: Option<&str>) -> String {
    let by = issuer.map(|i| format!(" da {i}")).unwrap_or_default();
    match a {
        Some(a) => {
            let level = a.loa.as_deref().unwrap_or(&a.level);
            let mut s = format!(
                "Identità del mittente asserita{by} con livello di garanzia eIDAS \"{level}\" ({})",
                a.level
            );
            if let Some(t) = &a.authentication_time {
                s.push_str(&format!(", autenticazione del {t}"));
            }
            if let Some(m) = &a.authentication_method {
                s.push_str(&format!(" con metodo {m}"));
            }
            s.push('.');
            s
        }
        None => format!(
            "Identità del mittente: nessun livello di garanzia asserito{by} (autenticazione di base)."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_value_is_read_strictly() {
        let a = parse_auth_header(" Method=SPID ; time=2026-11-24T09:58:00+01:00; ip=x")
            .expect("header");
        assert_eq!(a.method, Method::Spid);
        assert_eq!(a.time, time::macros::datetime!(2026-11-24 08:58:00 UTC));
        for bad in [
            "method=spid",
            "time=2026-11-24T09:58:00Z",
            "method=spid; time=ieri",
            "spid",
        ] {
            assert!(parse_auth_header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_header_is_stripped_with_its_continuation_lines_and_only_in_the_header() {
        let raw = b"From: a@x\r\nX-Ponte-Sender-Authentication: method=spid;\r\n time=2026-11-24T09:58:00Z\r\nSubject: s\r\n\r\nX-Ponte-Sender-Authentication: in the body\r\n";
        let out = strip_header(raw, AUTH_HEADER).expect("stripped");
        assert_eq!(
            out,
            b"From: a@x\r\nSubject: s\r\n\r\nX-Ponte-Sender-Authentication: in the body\r\n"
        );
        assert_eq!(
            strip_header(b"From: a@x\nSubject: s\n\nbody\n", AUTH_HEADER),
            None
        );
        let lf = strip_header(
            b"x-ponte-sender-authentication: a\nFrom: a@x\n\nb\n",
            AUTH_HEADER,
        );
        assert_eq!(lf.as_deref(), Some(&b"From: a@x\n\nb\n"[..]));
    }

    #[test]
    fn assurance_round_trips_through_the_evidence_model() {
        let a = SenderAssurance {
            level: "http://eidas.europa.eu/LoA/substantial".into(),
            loa: Some("substantial".into()),
            policy: Some(
                "https://eidas.agid.gov.it/REM/rem-policy-it#assurance-level-policy".into(),
            ),
            authentication_time: Some("2026-11-24T08:58:00Z".into()),
            authentication_method: Some("https://www.spid.gov.it/SpidL2".into()),
            method: Some("spid".into()),
            two_factor: Some(true),
            source: "holders".into(),
            asserted_by: Some("Gestore Prova S.p.A.".into()),
        };
        let d = to_evidence(&a).expect("evidence form");
        let back = from_evidence(&d, Some("Gestore Prova S.p.A.")).expect("read back");
        assert_eq!(back.level, a.level);
        assert_eq!(back.loa, a.loa);
        assert_eq!(back.policy, a.policy);
        assert_eq!(back.authentication_time, a.authentication_time);
        assert_eq!(back.authentication_method, a.authentication_method);
        assert_eq!(back.source, "evidence");
        let text = pec_text(Some(&back), Some("Gestore Prova S.p.A."));
        assert!(
            text.contains("\"substantial\"") && text.contains("Gestore Prova"),
            "{text}"
        );
        assert!(pec_text(None, None).contains("autenticazione di base"));
        let mut no_time = a.clone();
        no_time.authentication_time = None;
        assert!(to_evidence(&no_time).is_none());
    }
}
