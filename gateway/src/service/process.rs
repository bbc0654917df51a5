//! Processing: what the gateway makes of a message — judged before the SMTP reply, translated,
//! routed — and the notices it owes when a message cannot go on (a refusal after acceptance, a
//! REM dispatch beyond the access point's limits, a delivery that failed for good, a PEC time
//! limit reached).
//!
//! | input | outputs | where they go |
//! |---|---|---|
//! | PEC envelope (foreign recipients) | REM dispatch; PEC timers start | each recipient's domain |
//! | PEC receipt about a REM dispatch made here | the mapped REM receipt | the REM sender's domain |
//! | REM dispatch for Italian PEC recipients | PEC envelope + RelayAcceptance evidence | `[pec] relay`; the REM sender's domain |
//! | REM receipt about a dispatch made here | the mapped PEC receipt(s); timers stop | `[pec] relay` |
//!
//! Refused after acceptance: a PEC envelope gets an avviso di mancata consegna per recipient,
//! a REM dispatch a RelayRejection evidence; a receipt that cannot be translated is kept as
//! `failed` (a notice about a notice would loop). A delivery that fails for good: PEC
//! non-delivery notices for a REM dispatch, a RelayFailure evidence for a PEC envelope.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::Gateway;
use super::smtp::Reply;
use super::spool::{
    Delivery, Destination, Envelope, Format, Incoming, NewOutput, NewTimer, Processed, Received,
    TimerKind, TimerStop,
};
use crate::pec::build::ReceiptKind;
use crate::pec::values::Errore;
use crate::rem::evidence::{Event, Reason};
use crate::smime::TrustTime;
use crate::translate::notices::{PecNotice, pec_notice, rem_about, rem_notice};
use crate::translate::to_rem::{ReceiptSpec, RemAbout, bare_address};
use crate::translate::{Judge, Output, Refusal, RefusalKind, Translation};
use mail_parser::MimeHeaders;

/// What a message is, read from its top header only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// PEC or REM.
    pub format: Format,
    /// The PEC type (`posta-certificata`, `avvenuta-consegna`, ...) or the REM message type
    /// (`dispatch`, `receipt`, ...).
    pub kind: String,
    /// The `Message-ID` (with `<>`).
    pub message_id: Option<String>,
}

/// Classifies by the top header: `X-Trasporto` / `X-Ricevuta` → PEC, `REM-MessageType` →
/// REM; `None` for anything else.
pub fn classify(raw: &[u8]) -> Option<Classified> {
    let fields = crate::pec::classify::header_fields(raw)?;
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    let message_id = get("Message-ID").filter(|m| !m.is_empty());
    if get("X-Trasporto").is_some() || get("X-Ricevuta").is_some() {
        let c = crate::pec::classify::classify_headers(raw).ok()?;
        return Some(Classified {
            format: Format::Pec,
            kind: c.kind().name().to_string(),
            message_id,
        });
    }
    let t = get(crate::rem::message::header::MESSAGE_TYPE)?;
    let kind = t.rsplit('/').next().unwrap_or(&t).to_string();
    Some(Classified {
        format: Format::Rem,
        kind,
        message_id,
    })
}

fn direction(f: Format) -> &'static str {
    match f {
        Format::Pec => "pec-to-rem",
        Format::Rem => "rem-to-pec",
    }
}

/// The end of a DATA phase: judge, translate, store, answer. `250` only once the spool has
/// the message; `554` for a message that is not a signed PEC/REM message from a trusted
/// provider; `451` when it cannot be judged or stored now.
pub async fn accept(gw: &Gateway, envelope: Envelope, body: Vec<u8>) -> Reply {
    let now = OffsetDateTime::now_utc();
    let Some(c) = classify(&body) else {
        let mut e = super::spool::LegalEvent::new(now, "refused", "554: not a PEC or REM message");
        e.from = Some(envelope.mail_from.clone());
        e.to = envelope.rcpt_to.clone();
        e.peer = Some(envelope.peer.clone());
        let _ = gw.spool.legal(e).await;
        gw.metrics.message("unknown", "refused-smtp");
        return Reply::new(
            554,
            "5.6.0",
            "Not a PEC or REM message (no X-Trasporto, X-Ricevuta or REM-MessageType header)",
        );
    };
    let dir = direction(c.format);
    // A peer's retry (the very bytes already stored) is answered at once. Anything else that
    // carries a known Message-ID is judged like any message first: a forgery reusing an
    // identifier gets its 554, and does not learn that the identifier is known.
    if let Some(mid) = &c.message_id {
        match gw.spool.by_message_id(mid).await {
            Ok(Some(id)) => match gw.spool.input(id).await {
                Ok(stored) if stored == body => {
                    gw.metrics.message(dir, "duplicate");
                    return Reply::new(
                        250,
                        "2.0.0",
                        format!("Already queued as {id} (same Message-ID)"),
                    );
                }
                Ok(_) => {}
                Err(e) => return store_failed(gw, dir, &e),
            },
            Ok(None) => {}
            Err(e) => return store_failed(gw, dir, &e),
        }
    }
    let judge = Judge {
        now,
        trust_at: TrustTime::At(now),
    };
    let outcome = translate(gw, c.format, &body, &judge, &envelope.peer).await;
    let processed = match outcome {
        Ok(Ok(t)) => match limits(gw, &c, &envelope, &body, &t).await {
            None => Some(outputs(gw, &c, &envelope, &body, &t, now).await),
            Some((code, why)) => Some(rejection(gw, &body, code, &why, now).await),
        },
        Ok(Err(r)) if r.kind.is_authenticity() => {
            let mut e = super::spool::LegalEvent::new(
                now,
                "refused",
                format!("554 {}: {}", r.kind, r.reason()),
            );
            e.message_id = c.message_id.clone();
            e.from = Some(envelope.mail_from.clone());
            e.to = envelope.rcpt_to.clone();
            e.peer = Some(envelope.peer.clone());
            e.kind = Some(format!("{} {}", c.format.as_str(), c.kind));
            let _ = gw.spool.legal(e).await;
            gw.metrics.message(dir, "refused-smtp");
            tracing::info!(peer = %envelope.peer, kind = %r.kind, reason = %r.reason(), "message refused (554)");
            return Reply::new(554, "5.7.1", r.reason());
        }
        Ok(Err(r)) => Some(refused(gw, &c, &envelope, &body, &r, now).await),
        Err(crate::translate::Error::Index(e)) => {
            gw.metrics.message(dir, "tempfail");
            return Reply::new(
                451,
                "4.4.3",
                format!("Cannot check the sender now (providers' index: {e}); try again later"),
            );
        }
        Err(e) => {
            // Judged authentic (every check comes before signing), but the translation cannot
            // be finished now (TSA, ...): stored as received, processed again later.
            tracing::warn!(error = %e, "translation deferred");
            None
        }
    };
    let deferred = processed.is_none();
    let refused_after = processed.as_ref().is_some_and(|p| p.refused.is_some());
    let incoming = Incoming {
        envelope,
        format: c.format,
        message_id: c.message_id.clone(),
        kind: c.kind.clone(),
        body,
    };
    match gw.spool.receive(incoming, processed, now).await {
        Ok(Received::New(id)) => {
            gw.metrics.message(dir, "accepted");
            if refused_after {
                gw.metrics.message(dir, "refused");
            } else if !deferred {
                gw.metrics.message(dir, "translated");
            }
            gw.wake();
            Reply::new(
                250,
                "2.0.0",
                if deferred {
                    format!("Queued as {id} (translation deferred)")
                } else {
                    format!("Queued as {id}")
                },
            )
        }
        Ok(Received::Duplicate(id)) => {
            gw.metrics.message(dir, "duplicate");
            Reply::new(
                250,
                "2.0.0",
                format!("Already queued as {id} (same Message-ID)"),
            )
        }
        Err(e) => store_failed(gw, dir, &e),
    }
}

fn store_failed(gw: &Gateway, dir: &str, e: &super::spool::Error) -> Reply {
    tracing::error!(error = %e, "spool write failed: message not accepted");
    gw.metrics.message(dir, "tempfail");
    if e.is_disk_full() {
        Reply::new(452, "4.3.1", "Insufficient storage, try again later")
    } else {
        Reply::new(
            451,
            "4.3.0",
            "Cannot store the message now, try again later",
        )
    }
}

/// Translates `body`. A PEC message's per-submission authentication header
/// (`X-Ponte-Sender-Authentication`) is believed only when `peer` (the SMTP client, `ip:port`)
/// is one of `[holders] platform_addresses`.
async fn translate(
    gw: &Gateway,
    format: Format,
    body: &[u8],
    judge: &Judge,
    peer: &str,
) -> crate::translate::Outcome {
    match format {
        Format::Pec => {
            let origin = peer_origin(peer);
            crate::translate::to_rem::translate_from(&gw.cx, body, judge, &origin).await
        }
        Format::Rem => crate::translate::to_pec::translate(&gw.cx, body, judge).await,
    }
}

/// The origin of a message received from `peer` (`ip:port` as the spool records it; a bare
/// address is accepted too). Anything else is an unknown origin, whose authentication header
/// is not believed.
fn peer_origin(peer: &str) -> crate::translate::assurance::Origin {
    use crate::translate::assurance::Origin;
    if let Ok(sa) = peer.parse::<std::net::SocketAddr>() {
        return Origin::Peer(sa.ip());
    }
    match peer.parse::<std::net::IpAddr>() {
        Ok(ip) => Origin::Peer(ip),
        Err(_) => Origin::Unknown,
    }
}

/// The addresses of a header value (`"A" <a@x>, b@y`), commas inside quotes respected.
pub fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut angle = 0u32;
    for ch in value.chars() {
        match ch {
            '"' => quoted = !quoted,
            '<' if !quoted => angle += 1,
            '>' if !quoted => angle = angle.saturating_sub(1),
            ',' if !quoted && angle == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur);
    out.into_iter()
        .map(|a| bare_address(&a))
        .filter(|a| a.contains('@'))
        .collect()
}

/// The `To` (and `Cc`) addresses of a message.
fn header_recipients(raw: &[u8]) -> Vec<String> {
    let Some(fields) = crate::pec::classify::header_fields(raw) else {
        return Vec::new();
    };
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("To") || n.eq_ignore_ascii_case("Cc"))
        .flat_map(|(_, v)| addresses(&v.replace("\r\n", " ")))
        .collect()
}

fn domain_of(addr: &str) -> String {
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default()
}

/// One route per recipient domain, in first-seen order.
fn by_domain(rcpts: &[String]) -> Vec<(Destination, Vec<String>)> {
    let mut out: Vec<(Destination, Vec<String>)> = Vec::new();
    for r in rcpts {
        let d = Destination::Domain(domain_of(r));
        match out.iter_mut().find(|(x, _)| *x == d) {
            Some((_, v)) => v.push(r.clone()),
            None => out.push((d, vec![r.clone()])),
        }
    }
    out
}

fn pec_output(gw: &Gateway, o: &Output, rcpts: Vec<String>) -> NewOutput {
    NewOutput {
        kind: format!("pec-{}", o.described.kind),
        message_id: o.described.message_id.clone().unwrap_or_default(),
        mail_from: gw.cx.pec_provider().system_address(),
        routes: vec![(Destination::Pec, rcpts)],
        body: o.bytes.clone(),
    }
}

fn rem_output(gw: &Gateway, o: &Output, rcpts: &[String]) -> NewOutput {
    let kind = match &o.described.event {
        Some(e) if o.described.kind != "dispatch" => format!("rem-{}:{e}", o.described.kind),
        _ => format!("rem-{}", o.described.kind),
    };
    NewOutput {
        kind,
        message_id: o.described.message_id.clone().unwrap_or_default(),
        mail_from: gw.cx.config.identity.rem_service_address.clone(),
        routes: by_domain(rcpts),
        body: o.bytes.clone(),
    }
}

/// The PEC kind and daticert facts of a PEC message Ponte made.
fn pec_facts(raw: &[u8]) -> Option<(String, String, Option<String>)> {
    let m = crate::pec::PecMessage::parse(raw).ok()?;
    let d = m.daticert()?;
    Some((
        m.kind().name().to_string(),
        d.identificativo.clone(),
        d.consegna.as_deref().map(bare_address),
    ))
}

/// Which timers a PEC receipt stops: delivery results stop both, a presa in carico the 12 h
/// warning only.
fn stops(kind: &str) -> Vec<TimerKind> {
    match kind {
        "avvenuta-consegna" | "errore-consegna" | "rilevazione-virus" => {
            vec![TimerKind::Warning, TimerKind::Final]
        }
        "presa-in-carico" => vec![TimerKind::Warning],
        _ => Vec::new(),
    }
}

/// Outputs, records and timers of a translated message.
async fn outputs(
    gw: &Gateway,
    c: &Classified,
    env: &Envelope,
    body: &[u8],
    t: &Translation,
    now: OffsetDateTime,
) -> Processed {
    let settings = gw.settings();
    let mut p = Processed {
        mapping: Some(t.mapping.clone()),
        notes: t.notes.clone(),
        records: vec![t.record.clone()],
        ..Processed::default()
    };
    let dispatch_in = matches!(
        c.kind.as_str(),
        "posta-certificata" | "anomalia" | "dispatch"
    );
    for o in &t.outputs {
        let rcpts = if dispatch_in {
            env.rcpt_to.clone()
        } else {
            header_recipients(&o.bytes)
        };
        match o.described.format {
            "rem" => p.outputs.push(rem_output(gw, o, &rcpts)),
            _ => {
                if c.format == Format::Rem
                    && !dispatch_in
                    && let Some((kind, ident, consegna)) = pec_facts(&o.bytes)
                {
                    let kinds = stops(&kind);
                    if !kinds.is_empty() {
                        p.stop_timers.push(TimerStop {
                            about: ident,
                            // No consegna: about the message as a whole (every recipient).
                            recipients: consegna.map(|r| vec![r]).unwrap_or_default(),
                            kinds,
                        });
                    }
                }
                p.outputs.push(pec_output(gw, o, rcpts));
            }
        }
    }
    // A PEC envelope became a dispatch: the PEC time limits start.
    if c.format == Format::Pec
        && c.kind == "posta-certificata"
        && let Some(about) = &t.record.pec_identificativo
    {
        for (kind, after) in [
            (TimerKind::Warning, settings.timers.warning),
            (TimerKind::Final, settings.timers.final_notice),
        ] {
            p.timers.push(NewTimer {
                kind,
                due: now + after,
                about: about.clone(),
                recipients: env.rcpt_to.clone(),
            });
        }
    }
    // A REM dispatch entered PEC: the sender's provider gets a RelayAcceptance at once.
    if c.format == Format::Rem && c.kind == "dispatch" {
        match relay_evidence(gw, body, "RB01", None, now).await {
            Ok((o, rcpts)) => p.outputs.push(rem_output(gw, &o, &rcpts)),
            Err(why) => p
                .notes
                .push(format!("no RelayAcceptance could be issued: {why}")),
        }
    }
    p
}

/// A REM relay evidence (RelayAcceptance RB01, RelayRejection RB02/RB06, RelayFailure
/// RB07/RB09) about the REM dispatch `body`, to its sender.
async fn relay_evidence(
    gw: &Gateway,
    body: &[u8],
    code: &str,
    details: Option<String>,
    now: OffsetDateTime,
) -> Result<(Output, Vec<String>), String> {
    let about: RemAbout = rem_about(body).ok_or("the dispatch cannot be read again")?;
    let reason = Reason::from_code(code).ok_or_else(|| format!("unknown reason {code}"))?;
    let event_name = match code {
        "RB01" => "RelayAcceptance",
        "RB07" | "RB08" | "RB09" | "RB22" => "RelayFailure",
        _ => "RelayRejection",
    };
    let event =
        Event::from_name(event_name).ok_or_else(|| format!("unknown event {event_name}"))?;
    let counterpart = sender_provider(body).unwrap_or_else(|| domain_of(&about.facts.sender));
    let spec = ReceiptSpec {
        event,
        reasons: vec![reason],
        details,
        refers_to: None,
        external_erds: Some(&counterpart),
        event_time: now,
    };
    let mut notes = Vec::new();
    match rem_notice(&gw.cx, &about, &spec, now, &mut notes).await {
        Ok(Ok(o)) => Ok((o, vec![about.facts.sender.clone()])),
        Ok(Err(why)) => Err(why),
        Err(e) => Err(e.to_string()),
    }
}

/// The legal name of the provider whose evidence the REM message carries.
fn sender_provider(body: &[u8]) -> Option<String> {
    let msg = crate::rem::message::parse::parse(body).ok()?;
    msg.evidences.iter().find_map(|e| {
        crate::rem::evidence::parse::parse(&e.bytes)
            .ok()
            .and_then(|ev| ev.issuer.legal_name_value().map(str::to_string))
    })
}

/// A REM dispatch this access point must not carry into PEC: a recipient outside the PEC
/// domains of the index (RB21), or beyond the limits (RB06). The reason code and why, or
/// `None`.
async fn limits(
    gw: &Gateway,
    c: &Classified,
    env: &Envelope,
    body: &[u8],
    t: &Translation,
) -> Option<(&'static str, String)> {
    if c.format != Format::Rem || c.kind != "dispatch" {
        return None;
    }
    let mut outside = Vec::new();
    for r in &env.rcpt_to {
        match gw.cx.index.lookup(&domain_of(r)).await {
            Ok(a) if a.certified() => {}
            Ok(_) => outside.push(r.clone()),
            Err(e) => outside.push(format!("{r} ({e})")),
        }
    }
    if !outside.is_empty() {
        return Some((
            "RB21",
            format!("not a PEC mailbox of the index: {}", outside.join(", ")),
        ));
    }
    within(gw, env, body, t).map(|w| ("RB06", w))
}

/// The access point's size, recipient and attachment limits.
fn within(gw: &Gateway, env: &Envelope, body: &[u8], t: &Translation) -> Option<String> {
    let l = gw.settings().limits.clone();
    let n = env.rcpt_to.len().max(1);
    if n > l.max_recipients {
        return Some(format!(
            "{n} recipients: the access point takes at most {}",
            l.max_recipients
        ));
    }
    let total = (body.len() as u64).saturating_mul(n as u64);
    if total > l.max_total_bytes {
        return Some(format!(
            "size × recipients is {total} bytes ({} × {n}): the access point takes at most {}",
            body.len(),
            l.max_total_bytes
        ));
    }
    if !l.refused_attachments.is_empty() {
        for o in &t.outputs {
            if let Some(bad) = refused_attachment(&o.bytes, &l.refused_attachments) {
                return Some(format!("attachment {bad} is of a refused type"));
            }
        }
    }
    None
}

/// The first attachment of `raw` (at any depth) whose MIME type or file name extension is
/// refused.
fn refused_attachment(raw: &[u8], refused: &[String]) -> Option<String> {
    let msg = crate::mime::parse::message(raw).ok()?;
    for part in msg.parts.iter() {
        let ct = part
            .content_type()
            .map(|c| {
                format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()).to_ascii_lowercase()
            })
            .unwrap_or_default();
        let name = part
            .attachment_name()
            .map(|n| n.to_ascii_lowercase())
            .unwrap_or_default();
        for r in refused {
            let hit = if r.starts_with('.') {
                !name.is_empty() && name.ends_with(r.as_str())
            } else if let Some(major) = r.strip_suffix("/*") {
                ct.split('/').next() == Some(major)
            } else {
                ct == *r
            };
            if hit {
                return Some(if name.is_empty() {
                    ct
                } else {
                    format!("{name} ({ct})")
                });
            }
        }
    }
    None
}

/// A refusal found after the message was accepted: the notices it owes.
async fn refused(
    gw: &Gateway,
    c: &Classified,
    env: &Envelope,
    body: &[u8],
    r: &Refusal,
    now: OffsetDateTime,
) -> Processed {
    match (c.format, c.kind.as_str()) {
        (Format::Pec, "posta-certificata") if r.kind == RefusalKind::HolderUnverified => {
            // The sender's identity is not confirmed: the submission is not accepted.
            let mut p = Processed {
                refused: Some((r.kind.as_str().to_string(), r.reason())),
                ..Processed::default()
            };
            match crate::translate::notice::non_accettazione(&gw.cx, body, r, now) {
                Ok(o) => {
                    gw.metrics.notice("non-acceptance");
                    let to = header_recipients(&o.bytes);
                    p.outputs.push(pec_output(gw, &o, to));
                }
                Err(e) => p.notes.push(format!("no non-accettazione could be issued: {e}")),
            }
            p
        }
        (Format::Pec, "posta-certificata") => {
            let mut p = Processed {
                refused: Some((r.kind.as_str().to_string(), r.reason())),
                ..Processed::default()
            };
            let detail = format!(
                "5.6.0 - {} - {}",
                gw.cx.config.identity.provider_name,
                r.reason()
            );
            for rcpt in &env.rcpt_to {
                let n = PecNotice {
                    kind: ReceiptKind::ErroreConsegna,
                    recipient: Some(rcpt),
                    errore: Errore::Altro,
                    detail: Some(detail.clone()),
                    extra_parts: &[],
                };
                match pec_notice(&gw.cx, body, &n, now) {
                    Ok(o) => {
                        gw.metrics.notice("non-delivery");
                        let to = header_recipients(&o.bytes);
                        p.outputs.push(pec_output(gw, &o, to));
                    }
                    Err(e) => p.notes.push(format!("no notice for {rcpt}: {e}")),
                }
            }
            p
        }
        (Format::Rem, "dispatch") => {
            let code = match r.kind {
                RefusalKind::Incomplete | RefusalKind::Malformed => "RB02",
                _ => "RB06",
            };
            let mut p = rejection(gw, body, code, &r.reason(), now).await;
            p.refused = Some((r.kind.as_str().to_string(), r.reason()));
            p
        }
        _ => Processed {
            refused: Some((r.kind.as_str().to_string(), r.reason())),
            notes: vec!["a receipt that cannot be translated gets no notice (it would loop); kept as failed".into()],
            ..Processed::default()
        },
    }
}

/// A REM dispatch refused after acceptance: the RelayRejection evidence (reason `code`:
/// RB02 format, RB06 policy or limits, RB21 recipient not registered) back to its sender.
async fn rejection(
    gw: &Gateway,
    body: &[u8],
    code: &str,
    why: &str,
    now: OffsetDateTime,
) -> Processed {
    let label = match code {
        "RB21" => "recipient-not-pec",
        "RB02" => "format",
        _ => "limits",
    };
    let mut p = Processed {
        refused: Some((label.to_string(), why.to_string())),
        ..Processed::default()
    };
    match relay_evidence(gw, body, code, Some(why.to_string()), now).await {
        Ok((o, rcpts)) => {
            gw.metrics.notice("rejection");
            p.outputs.push(rem_output(gw, &o, &rcpts));
        }
        Err(e) => p
            .notes
            .push(format!("no RelayRejection could be issued: {e}")),
    }
    p
}

/// The notices owed to the sender when `delivery` failed for good (`reason`: the peer's
/// reply, or the maximum age): for a REM dispatch made from a PEC envelope, the PEC
/// non-delivery notice (avviso di mancata consegna) per recipient, through `[pec] relay`, and
/// its timers stop — when the recipient's REM provider could not be identified (a discovery
/// refusal, [`crate::service::delivery::discovered::NOT_IDENTIFIED`]), each notice carries the
/// gateway's signed RelayFailure evidence (RB08 `R_ERDS_NotIdentified`) as `RelayFailure.xml`; for a PEC envelope made from a REM dispatch, a RelayFailure evidence back
/// to the sending REM provider; for a notice or receipt, nothing (a notice about a notice
/// would loop: the failure stays visible in the queue and the legal log).
pub async fn failure_notices(
    gw: &Gateway,
    delivery: &Delivery,
    reason: &str,
    now: OffsetDateTime,
) -> Processed {
    let mut p = Processed::default();
    let input = match gw.spool.input(delivery.message).await {
        Ok(b) => b,
        Err(e) => {
            p.notes
                .push(format!("no notice: the input cannot be read: {e}"));
            return p;
        }
    };
    if delivery.kind == "rem-dispatch" {
        let detail = format!(
            "5.4.0 - {} - not delivered to the REM provider: {reason}",
            gw.cx.config.identity.provider_name
        );
        // The recipient's ERDS could not be identified (discovery refused it, EN 319 532-4
        // C.2.3.3.3): as the sender's ERDS, the gateway issues the RelayFailure evidence
        // (R_ERDS_NotIdentified) and gives it to the PEC sender with the errore-consegna.
        let not_identified = reason.contains(crate::service::delivery::discovered::NOT_IDENTIFIED);
        let dispatch = if not_identified {
            gw.spool
                .output(delivery.message, delivery.output)
                .await
                .ok()
                .and_then(|b| rem_about(&b))
        } else {
            None
        };
        for rcpt in &delivery.rcpt_to {
            let mut extra = Vec::new();
            if let Some(about) = &dispatch {
                match not_identified_evidence(gw, about, rcpt, reason, now).await {
                    Ok(xml) => extra.push(crate::pec::build::ExtraPart {
                        filename: "RelayFailure.xml".into(),
                        content_type: "application/xml".into(),
                        content: xml,
                    }),
                    Err(e) => p
                        .notes
                        .push(format!("no RelayFailure evidence for {rcpt}: {e}")),
                }
            }
            let n = PecNotice {
                kind: ReceiptKind::ErroreConsegna,
                recipient: Some(rcpt),
                errore: Errore::Altro,
                detail: Some(detail.clone()),
                extra_parts: &extra,
            };
            match pec_notice(&gw.cx, &input, &n, now) {
                Ok(o) => {
                    gw.metrics.notice("non-delivery");
                    let to = header_recipients(&o.bytes);
                    p.outputs.push(pec_output(gw, &o, to));
                }
                Err(e) => p.notes.push(format!("no notice for {rcpt}: {e}")),
            }
        }
        if let Some((_, ident, _)) = pec_facts_of_envelope(&input) {
            p.stop_timers.push(TimerStop {
                about: ident,
                recipients: delivery.rcpt_to.clone(),
                kinds: vec![TimerKind::Warning, TimerKind::Final],
            });
        }
    } else if delivery.kind == "pec-posta-certificata" || delivery.kind == "pec-anomalia" {
        let code = if reason.starts_with("not delivered within") {
            "RB09"
        } else {
            "RB07"
        };
        match relay_evidence(gw, &input, code, Some(reason.to_string()), now).await {
            Ok((o, rcpts)) => {
                gw.metrics.notice("non-delivery");
                p.outputs.push(rem_output(gw, &o, &rcpts));
            }
            Err(e) => p
                .notes
                .push(format!("no RelayFailure could be issued: {e}")),
        }
    } else {
        p.notes.push(format!(
            "{} not delivered: no notice is sent about a {} (it would loop)",
            delivery.kind, delivery.kind
        ));
    }
    p
}

/// The RelayFailure evidence (reason RB08, `R_ERDS_NotIdentified`) about the dispatch
/// `about` for `rcpt`, whose ERDS could not be identified: signed (and time-stamped when a
/// TSA is configured) like every evidence of the gateway.
async fn not_identified_evidence(
    gw: &Gateway,
    about: &RemAbout,
    rcpt: &str,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Vec<u8>, String> {
    let code = Reason::from_code("RB08").ok_or("unknown reason RB08")?;
    let event = Event::from_name("RelayFailure").ok_or("unknown event RelayFailure")?;
    let domain = rcpt.rsplit_once('@').map(|(_, d)| d).unwrap_or(rcpt);
    let spec = ReceiptSpec {
        event,
        reasons: vec![code],
        details: Some(reason.to_string()),
        refers_to: Some(rcpt),
        external_erds: Some(domain),
        event_time: now,
    };
    let mut notes = Vec::new();
    match crate::translate::to_rem::receipt_evidence(&gw.cx, about, &spec, now, &mut notes).await {
        Ok(Ok((xml, _))) => Ok(xml),
        Ok(Err(why)) => Err(why),
        Err(e) => Err(e.to_string()),
    }
}

fn pec_facts_of_envelope(raw: &[u8]) -> Option<(String, String, Option<String>)> {
    pec_facts(raw)
}

/// The notices of a PEC timer that fired: one preavviso (warning) or final notice per
/// recipient still without delivery evidence.
pub async fn timer_notices(
    gw: &Gateway,
    timer: &super::spool::Timer,
    now: OffsetDateTime,
) -> Processed {
    let mut p = Processed::default();
    let input = match gw.spool.input(timer.message).await {
        Ok(b) => b,
        Err(e) => {
            p.notes
                .push(format!("no notice: the input cannot be read: {e}"));
            return p;
        }
    };
    let s = gw.settings();
    let name = &gw.cx.config.identity.provider_name;
    let detail = match timer.timer.kind {
        TimerKind::Warning => format!(
            "4.4.7 - {name} - nessuna ricevuta di presa in carico o di avvenuta consegna entro {}",
            crate::config::service::format_duration(s.timers.warning)
        ),
        TimerKind::Final => format!(
            "5.4.1 - {name} - nessuna ricevuta di avvenuta consegna entro {}",
            crate::config::service::format_duration(s.timers.final_notice)
        ),
    };
    for rcpt in &timer.timer.recipients {
        let n = PecNotice {
            kind: ReceiptKind::PreavvisoErroreConsegna,
            recipient: Some(rcpt),
            errore: Errore::Altro,
            detail: Some(detail.clone()),
            extra_parts: &[],
        };
        match pec_notice(&gw.cx, &input, &n, now) {
            Ok(o) => {
                gw.metrics.notice(timer.timer.kind.as_str());
                let to = header_recipients(&o.bytes);
                p.outputs.push(pec_output(gw, &o, to));
            }
            Err(e) => p.notes.push(format!("no notice for {rcpt}: {e}")),
        }
    }
    p
}

/// The wait before processing attempt `attempts + 1`: `[delivery] first_retry`, doubling, at
/// most `[delivery] max_retry` (the same schedule as deliveries, without jitter).
fn processing_backoff(attempts: u32, first: Duration, max: Duration) -> Duration {
    first.saturating_mul(1u32 << attempts.min(16)).min(max)
}

/// Processes the messages stored without a translation (the TSA was down, the translation
/// failed): claims them, translates, stores the result; failures wait and count, poison goes
/// to quarantine.
pub async fn run(gw: Arc<Gateway>, mut shutdown: super::Shutdown) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = OffsetDateTime::now_utc();
        let claimed = match gw
            .spool
            .claim_processing(now, gw.settings().spool.lease, 16)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim messages to process");
                Vec::new()
            }
        };
        for id in claimed {
            let gw2 = Arc::clone(&gw);
            // In its own task: a panic is caught and counts as poison.
            let r = tokio::spawn(async move { process_stored(&gw2, id).await }).await;
            let now = OffsetDateTime::now_utc();
            let (reason, poison, attempts) = match r {
                Ok(Ok(())) => {
                    gw.wake();
                    continue;
                }
                Ok(Err(Failure {
                    reason,
                    poison,
                    attempts,
                })) => (reason, poison, attempts),
                Err(e) => (format!("processing panicked: {e}"), true, 0),
            };
            let d = gw.settings().delivery.clone();
            let retry_at = now + processing_backoff(attempts, d.first_retry, d.max_retry);
            match gw
                .spool
                .processing_failed(id, &reason, poison, retry_at, now)
                .await
            {
                Ok(super::spool::State::Quarantined) => {
                    gw.metrics.message("any", "quarantined");
                    tracing::error!(message = id, %reason, "quarantined after repeated failures");
                }
                Ok(_) => tracing::warn!(message = id, %reason, "processing failed; will retry"),
                Err(e) => {
                    tracing::error!(message = id, error = %e, "cannot record a processing failure")
                }
            }
        }
        let wait = match gw.spool.next_due().await {
            Ok(Some(t)) => {
                let d = t - OffsetDateTime::now_utc();
                Duration::try_from(d)
                    .unwrap_or(Duration::ZERO)
                    .clamp(Duration::from_millis(50), Duration::from_secs(30))
            }
            _ => Duration::from_secs(30),
        };
        tokio::select! {
            _ = super::stopping(&mut shutdown) => return,
            _ = gw.work.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

struct Failure {
    reason: String,
    poison: bool,
    attempts: u32,
}

async fn process_stored(gw: &Gateway, id: super::spool::MessageId) -> Result<(), Failure> {
    let fail = |reason: String, poison: bool| Failure {
        reason,
        poison,
        attempts: 0,
    };
    let m = gw
        .spool
        .message(id)
        .await
        .map_err(|e| fail(e.to_string(), false))?;
    let body = gw
        .spool
        .input(id)
        .await
        .map_err(|e| fail(e.to_string(), false))?;
    let now = OffsetDateTime::now_utc();
    let judge = Judge {
        now,
        trust_at: TrustTime::At(now),
    };
    let c = classify(&body).ok_or_else(|| fail("no longer classifies".into(), true))?;
    let outcome = translate(gw, c.format, &body, &judge, &m.envelope.peer).await;
    let dir = direction(c.format);
    let p = match outcome {
        Ok(Ok(t)) => match limits(gw, &c, &m.envelope, &body, &t).await {
            None => {
                gw.metrics.message(dir, "translated");
                outputs(gw, &c, &m.envelope, &body, &t, now).await
            }
            Some((code, why)) => rejection(gw, &body, code, &why, now).await,
        },
        Ok(Err(r)) => {
            gw.metrics.message(dir, "refused");
            refused(gw, &c, &m.envelope, &body, &r, now).await
        }
        Err(e) => {
            let outage = matches!(
                e,
                crate::translate::Error::Tsp(_)
                    | crate::translate::Error::Index(_)
                    | crate::translate::Error::Store(_)
            );
            return Err(Failure {
                reason: e.to_string(),
                poison: !outage,
                attempts: m.attempts,
            });
        }
    };
    gw.spool
        .processed(id, p, now)
        .await
        .map_err(|e| fail(e.to_string(), false))
}

/// Fires the PEC timers that are due: the notices are stored with the timer's message and
/// delivered like any output.
pub async fn run_timers(gw: Arc<Gateway>, mut shutdown: super::Shutdown) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = OffsetDateTime::now_utc();
        match gw
            .spool
            .claim_timers(now, gw.settings().spool.lease, 64)
            .await
        {
            Ok(timers) => {
                for t in timers {
                    let p = timer_notices(&gw, &t, now).await;
                    tracing::info!(timer = t.id, message = t.message, kind = t.timer.kind.as_str(), recipients = ?t.timer.recipients, "PEC timer fired");
                    if let Err(e) = gw.spool.timer_fired(t.id, p, now).await {
                        tracing::error!(timer = t.id, error = %e, "cannot store a timer's notices");
                    }
                    gw.wake();
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot claim timers"),
        }
        let wait = match gw.spool.next_due().await {
            Ok(Some(t)) => Duration::try_from(t - OffsetDateTime::now_utc())
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(50), Duration::from_secs(30)),
            _ => Duration::from_secs(30),
        };
        tokio::select! {
            _ = super::stopping(&mut shutdown) => return,
            _ = gw.work.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_outside_quotes() {
        assert_eq!(
            addresses("\"Rossi, Anna\" <anna@a.test>, b@b.test ,  <c@c.test>"),
            vec!["anna@a.test", "b@b.test", "c@c.test"]
        );
        assert!(addresses("undisclosed-recipients:;").is_empty());
    }

    #[test]
    fn routes_group_by_domain() {
        let r = by_domain(&[
            "a@X.test".to_string(),
            "b@y.test".to_string(),
            "c@x.test".to_string(),
        ]);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, Destination::Domain("x.test".into()));
        assert_eq!(r[0].1, vec!["a@X.test".to_string(), "c@x.test".to_string()]);
    }

    #[test]
    fn classification_by_top_header() {
        let pec = b"X-Trasporto: posta-certificata\r\nMessage-ID: <a@b>\r\n\r\nbody";
        let c = classify(pec).unwrap_or_else(|| panic!("pec"));
        assert_eq!(c.format, Format::Pec);
        assert_eq!(c.kind, "posta-certificata");
        assert_eq!(c.message_id.as_deref(), Some("<a@b>"));
        let rem = b"REM-MessageType: http://uri.etsi.org/19522/v1#/ERDMessageType/dispatch\r\n\r\n";
        let c = classify(rem).unwrap_or_else(|| panic!("rem"));
        assert_eq!((c.format, c.kind.as_str()), (Format::Rem, "dispatch"));
        assert!(classify(b"Subject: hi\r\n\r\nplain").is_none());
        assert!(classify(b"\x00\x01").is_none());
    }

    #[test]
    fn processing_backs_off_like_deliveries() {
        let (f, m) = (Duration::from_secs(60), Duration::from_secs(3600));
        assert_eq!(processing_backoff(0, f, m), Duration::from_secs(60));
        assert_eq!(processing_backoff(1, f, m), Duration::from_secs(120));
        assert_eq!(processing_backoff(9, f, m), Duration::from_secs(3600));
        assert_eq!(processing_backoff(40, f, m), Duration::from_secs(3600));
    }
}
