//! The PEC receipt that says what a REM evidence says (REM → PEC, receipts).
//!
//! [`pec_receipt_input`] reads an evidence (already parsed, and verified by the caller), the
//! mapping row chosen for it ([`crate::mappings::Tables::rem_to_pec`]) and the facts of the
//! original message, and plans the PEC receipt(s): one per recipient the evidence is about
//! when the PEC kind is per recipient (avvenuta-consegna, errore-consegna), else one.
//! [`ReceiptPlan::input`] then gives the [`ReceiptInput`] for [`crate::pec::build::receipt`].
//!
//! What goes where (pec.md §2, §3; rem.md §3.6):
//! * `tipo` and `errore` from the row; `errore-esteso` =
//!   `<status> - <issuer> - REM <code>: <reason text>`, the status being the row's
//!   `errore_esteso_prefix` when it has one (so a final timeout notice starts `5.4.1`), else the
//!   class's usual one (`5.1.1` no-dest, `5.1.2` no-dominio, `5.7.1` virus, `5.0.0` altro);
//! * `consegna` = the recipient the evidence refers to (`EvidenceRefersToRecipient`, else
//!   `ext:RelayEvidenceRefersTo`, else every recipient);
//! * `identificativo` = the REM message identifier (`MessageIdentifier` of the evidence,
//!   else the one of the facts) — the identifier shared by both sides (pec.md §0: identificativo
//!   ⇔ REM message identifier); `msgid` = the user's Message-ID with `<>`;
//! * `data`/`ora`: the evidence's `EventTime`, written in Europe/Rome by the builder.

use time::OffsetDateTime;

use super::Error as TranslateError;
use crate::mappings::EventRow;
use crate::pec::build::{About, ExtraPart, Provider, ReceiptInput, ReceiptKind};
use crate::pec::daticert::{Daticert, Destinatario};
use crate::pec::values::{Errore, TipoDaticert, TipoDestinatario, TipoRicevuta};
use crate::rem::evidence::{Evidence, Extension};

/// The facts of the original message a receipt needs (from the correlation record or the
/// REM dispatch).
#[derive(Debug, Clone)]
pub struct OriginalFacts<'a> {
    /// The original subject.
    pub subject: Option<&'a str>,
    /// The sender's address.
    pub sender: &'a str,
    /// The recipients' addresses, in the order of the message.
    pub recipients: &'a [String],
    /// Recipients that are not PEC mailboxes (`destinatari tipo="esterno"`).
    pub external: &'a [String],
    /// The user's Message-ID, with `<>`.
    pub ua_message_id: &'a str,
    /// The REM message identifier (with or without `<>`), used when the evidence has no
    /// `MessageIdentifier`.
    pub rems_message_id: &'a str,
    /// When the original was submitted (the envelope's `data`).
    pub submission_time: OffsetDateTime,
    /// The original message, when still known (a completa avvenuta-consegna carries it;
    /// without it the receipt is sintetica).
    pub original: Option<&'a [u8]>,
    /// The delivery receipt kind the sender asked for (`X-TipoRicevuta` of the submission,
    /// kept by the correlation store); `None`: completa. Used only when `original` is known.
    pub ricevuta: Option<TipoRicevuta>,
}

/// One PEC receipt to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptPlan {
    /// The receipt kind (from the row's `pec.kind`).
    pub kind: ReceiptKind,
    /// The daticert error class (from the row's `pec.errore`; none: `nessuno`).
    pub errore: Errore,
    /// `errore-esteso`, for the kinds that carry one.
    pub errore_esteso: Option<String>,
    /// `consegna`: the recipient this receipt is about, when the kind names one.
    pub recipient: Option<String>,
    /// The delivery receipt flavour: the one asked for (default completa) when the original
    /// is known, else sintetica (completa and breve carry the original).
    pub ricevuta: TipoRicevuta,
    /// The transport envelope's daticert the receipt is about (its facts, not a message).
    pub envelope: Daticert,
    /// The instant of the receipt: the evidence's `EventTime`.
    pub at: OffsetDateTime,
    /// The key of its subject prefix in `mappings/subjects.toml`.
    pub subject_key: &'static str,
}

impl ReceiptPlan {
    /// The builder's input for this plan, issued by `provider` with `subject_prefix` (look
    /// [`Self::subject_key`] up in the tables) and `extra_parts` (the evidence as
    /// `<Event>.xml`, see [`evidence_part`]); `original` as in [`OriginalFacts::original`].
    pub fn input<'a>(
        &'a self,
        provider: &'a Provider,
        subject_prefix: &'a str,
        extra_parts: &'a [ExtraPart],
        original: Option<&'a [u8]>,
    ) -> ReceiptInput<'a> {
        ReceiptInput {
            kind: self.kind,
            about: About::Facts {
                daticert: &self.envelope,
                original,
            },
            provider,
            recipient: self.recipient.as_deref(),
            errore: self.errore.clone(),
            detail: self.errore_esteso.as_deref(),
            ricevuta: self.ricevuta.clone(),
            external: &[],
            to: None,
            at: self.at,
            subject_prefix,
            extra_parts,
        }
    }
}

/// The evidence as an attachment of the PEC message: `<Event>.xml`, `application/xml`, its
/// bytes as received (signed bytes are never re-serialized).
pub fn evidence_part(evidence: &Evidence, bytes: &[u8]) -> ExtraPart {
    // Unknown events are named by URI; keep the file name to the URI's last segment.
    let name = evidence.event.name();
    let stem = name.rsplit(['/', '#']).next().unwrap_or(name);
    let stem: String = stem
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    ExtraPart {
        filename: format!("{}.xml", if stem.is_empty() { "evidence" } else { &stem }),
        content_type: "application/xml".into(),
        content: bytes.to_vec(),
    }
}

/// Plans the PEC receipt(s) saying what `evidence` says, by `row` (a rem-to-pec row for it),
/// about the message of `facts`. Errors when the row does not name a receipt kind (a
/// dispatch's row becomes an envelope, not a receipt) or the evidence names a recipient it
/// does not list.
pub fn pec_receipt_input(
    evidence: &Evidence,
    row: &EventRow,
    facts: &OriginalFacts<'_>,
) -> Result<Vec<ReceiptPlan>, TranslateError> {
    let kind = ReceiptKind::from_tipo(&row.pec.kind)
        .filter(|k| k.tipo().as_str() == row.pec.kind)
        .ok_or_else(|| TranslateError::NotAReceipt(row.pec.kind.clone()))?;
    let errore = row
        .pec
        .errore
        .as_deref()
        .map_or(Errore::Nessuno, Errore::parse);
    let summary = evidence.summary();
    let reason_text = summary
        .reasons
        .iter()
        .map(|r| match (&r.code, &r.text) {
            (Some(c), Some(t)) => format!("REM {c}: {t}"),
            (Some(c), None) => format!("REM {c}"),
            (None, Some(t)) => format!("REM {}: {t}", r.uri),
            (None, None) => format!("REM {}", r.uri),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let issuer = evidence.issuer.legal_name_value().unwrap_or("REM provider");
    let status = row
        .pec
        .errore_esteso_prefix
        .clone()
        .unwrap_or_else(|| default_status(&errore).to_owned());
    let errore_esteso = match kind {
        ReceiptKind::ErroreConsegna
        | ReceiptKind::NonAccettazione
        | ReceiptKind::RilevazioneVirus
        | ReceiptKind::PreavvisoErroreConsegna => Some(one_line(&format!(
            "{status} - {issuer} - {}",
            if reason_text.is_empty() {
                format!("REM {}", summary.event)
            } else {
                reason_text
            }
        ))),
        _ => None,
    };

    let listed: Vec<&str> = evidence
        .recipients
        .iter()
        .filter_map(|r| r.mailto_address())
        .collect();
    let mut referred: Vec<String> = referred_positions(evidence)
        .into_iter()
        .map(|k| {
            usize::try_from(k)
                .ok()
                .and_then(|k| k.checked_sub(1))
                .and_then(|i| listed.get(i))
                .map(|a| (*a).to_owned())
                .ok_or(TranslateError::RecipientIndex(k))
        })
        .collect::<Result<_, _>>()?;
    // One receipt per recipient: a position repeated (several `RelayEvidenceRefersTo` naming
    // it) or two positions listing the same address must not make a second receipt.
    let mut seen = std::collections::HashSet::new();
    referred.retain(|a| seen.insert(a.clone()));
    let per_recipient = matches!(
        kind,
        ReceiptKind::AvvenutaConsegna | ReceiptKind::ErroreConsegna
    );
    let recipients: Vec<Option<String>> = match (per_recipient, referred.is_empty()) {
        (true, false) => referred.into_iter().map(Some).collect(),
        (true, true) => facts.recipients.iter().cloned().map(Some).collect(),
        (false, _) => vec![referred.into_iter().next()],
    };

    let rems_id = evidence
        .message_identifier
        .as_ref()
        .map_or(facts.rems_message_id, |m| m.value.as_str());
    let envelope = Daticert {
        tipo: TipoDaticert::PostaCertificata,
        errore: Errore::Nessuno,
        mittente: facts.sender.to_owned(),
        destinatari: facts
            .recipients
            .iter()
            .map(|a| Destinatario {
                address: a.clone(),
                tipo: if facts.external.iter().any(|e| e.eq_ignore_ascii_case(a)) {
                    TipoDestinatario::Esterno
                } else {
                    TipoDestinatario::Certificato
                },
            })
            .collect(),
        risposte: facts.sender.to_owned(),
        oggetto: facts.subject.map(str::to_owned),
        gestore_emittente: issuer.to_owned(),
        data: facts.submission_time,
        identificativo: rems_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned(),
        msgid: Some(angle(facts.ua_message_id)),
        ricevuta: None,
        consegna: None,
        ricezione: Vec::new(),
        errore_esteso: None,
    };
    let ricevuta = if facts.original.is_some() {
        facts.ricevuta.clone().unwrap_or(TipoRicevuta::Completa)
    } else {
        TipoRicevuta::Sintetica
    };
    let subject_key = kind.subject_key(&errore);
    Ok(recipients
        .into_iter()
        .map(|recipient| ReceiptPlan {
            kind,
            errore: errore.clone(),
            errore_esteso: errore_esteso.clone(),
            recipient,
            ricevuta: ricevuta.clone(),
            envelope: envelope.clone(),
            at: evidence.event_time,
            subject_key,
        })
        .collect())
}

/// The 1-based recipients the evidence is about: `EvidenceRefersToRecipient`, else every
/// `ext:RelayEvidenceRefersTo`; empty means all.
fn referred_positions(evidence: &Evidence) -> Vec<u64> {
    if let Some(k) = evidence.refers_to_recipient {
        return vec![k];
    }
    evidence
        .extensions
        .iter()
        .filter_map(|e| match e {
            Extension::Relay { info, .. } => Some(info.refers_to.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The usual enhanced status of a daticert error class (as Ponte's own notices write it).
fn default_status(errore: &Errore) -> &'static str {
    match errore {
        Errore::NoDest => "5.1.1",
        Errore::NoDominio => "5.1.2",
        Errore::Virus => "5.7.1",
        _ => "5.0.0",
    }
}

/// White space runs (line breaks in an issuer's text included) made one space: a daticert
/// value is one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn angle(id: &str) -> String {
    let t = id.trim();
    if t.starts_with('<') {
        t.to_owned()
    } else {
        format!("<{t}>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mappings::Tables;
    use crate::rem::evidence::{
        EntityDetails, Event, EventReason, Reason, RelayEvidenceInfo, UserDetails,
    };
    use time::macros::datetime;

    fn tables() -> Tables {
        match Tables::builtin() {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    fn evidence(event: Event, code: &str, text: &str) -> Evidence {
        let mut ev = Evidence::new(
            None,
            "e1@rem.test",
            event,
            datetime!(2027-03-01 08:00:00 UTC),
            EntityDetails::legal_name("Other REMS"),
            UserDetails::mailto("s@pec.test"),
            vec![
                UserDetails::mailto("a@rem.test"),
                UserDetails::mailto("b@rem.test"),
            ],
        );
        if let Some(r) = Reason::from_code(code) {
            ev.reasons.push(EventReason::baseline(r, text));
        }
        ev
    }

    fn plans(ev: &Evidence, message: &str) -> Result<Vec<ReceiptPlan>, TranslateError> {
        let t = tables();
        let reasons: Vec<Reason> = ev.reasons.iter().map(|r| r.reason.clone()).collect();
        let Some(row) = t.rem_to_pec(&ev.event, &reasons, message) else {
            panic!("no row for {}", ev.event.name());
        };
        let recipients = ["a@rem.test".to_string(), "b@rem.test".to_string()];
        pec_receipt_input(
            ev,
            row,
            &OriginalFacts {
                subject: Some("Oggetto"),
                sender: "s@pec.test",
                recipients: &recipients,
                external: &[],
                ua_message_id: "m1@client.test",
                rems_message_id: "<r1@ponte.test>",
                submission_time: datetime!(2027-03-01 07:59:00 UTC),
                original: None,
                ricevuta: None,
            },
        )
    }

    #[test]
    fn relay_failure_about_everyone_is_one_notice_per_recipient() {
        let ev = evidence(Event::RelayFailure, "RB09", "unreachable\n  now");
        let p = plans(&ev, "receipt").unwrap_or_default();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].recipient.as_deref(), Some("a@rem.test"));
        assert_eq!(p[1].recipient.as_deref(), Some("b@rem.test"));
        assert_eq!(p[0].kind, ReceiptKind::ErroreConsegna);
        assert_eq!(p[0].errore, Errore::Altro);
        assert_eq!(
            p[0].errore_esteso.as_deref(),
            Some("5.0.0 - Other REMS - REM RB09: unreachable now")
        );
        assert_eq!(p[0].envelope.identificativo, "r1@ponte.test");
        assert_eq!(p[0].envelope.msgid.as_deref(), Some("<m1@client.test>"));
        assert_eq!(p[0].ricevuta, TipoRicevuta::Sintetica);
        assert_eq!(p[0].subject_key, "errore-consegna");
    }

    #[test]
    fn consignment_refers_to_its_recipient_and_status_comes_from_the_row() {
        let mut ev = evidence(Event::ContentConsignmentFailure, "RD04", "quota");
        ev.refers_to_recipient = Some(2);
        let p = plans(&ev, "receipt").unwrap_or_default();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].recipient.as_deref(), Some("b@rem.test"));
        assert!(
            p[0].errore_esteso
                .as_deref()
                .is_some_and(|e| e.starts_with("5.2.2 - Other REMS - REM RD04: quota")),
            "{:?}",
            p[0].errore_esteso
        );
        ev.refers_to_recipient = Some(3);
        assert!(matches!(
            plans(&ev, "receipt"),
            Err(TranslateError::RecipientIndex(3))
        ));
    }

    #[test]
    fn a_recipient_referred_to_twice_gets_one_receipt() {
        // Found by fuzz/fuzz_targets/rem_receipt.rs: a kit RelayFailure evidence whose second
        // `ext:RelayEvidenceRefersTo` was changed to repeat the first planned two errore-consegna
        // receipts for the same recipient.
        let mut ev = evidence(Event::RelayFailure, "RB09", "unreachable");
        ev.extensions.push(Extension::Relay {
            is_critical: None,
            info: RelayEvidenceInfo {
                refers_to: vec![1, 1],
            },
        });
        let p = plans(&ev, "receipt").unwrap_or_default();
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].recipient.as_deref(), Some("a@rem.test"));
        // Two positions listing the same address: one receipt too.
        ev.recipients.push(UserDetails::mailto("a@rem.test"));
        ev.extensions.push(Extension::Relay {
            is_critical: None,
            info: RelayEvidenceInfo {
                refers_to: vec![3, 2],
            },
        });
        let p = plans(&ev, "receipt").unwrap_or_default();
        let to: Vec<_> = p.iter().map(|x| x.recipient.as_deref()).collect();
        assert_eq!(to, [Some("a@rem.test"), Some("b@rem.test")]);
    }

    #[test]
    fn a_dispatch_is_not_a_receipt() {
        let ev = evidence(Event::SubmissionAcceptance, "RA01", "accepted");
        assert!(matches!(
            plans(&ev, "dispatch"),
            Err(TranslateError::NotAReceipt(k)) if k == "posta-certificata"
        ));
        let p = plans(&ev, "receipt").unwrap_or_default();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind, ReceiptKind::Accettazione);
        assert_eq!(p[0].errore_esteso, None);
        assert_eq!(p[0].recipient, None);
    }

    #[test]
    fn evidence_part_is_named_after_the_event() {
        let ev = evidence(Event::RelayAcceptance, "RB01", "ok");
        let part = evidence_part(&ev, b"<x/>");
        assert_eq!(part.filename, "RelayAcceptance.xml");
        assert_eq!(part.content_type, "application/xml");
        let odd = evidence(Event::from_uri("urn:x:y/Strange Event"), "RB01", "ok");
        assert_eq!(evidence_part(&odd, b"").filename, "StrangeEvent.xml");
    }
}
