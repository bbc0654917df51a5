//! The PEC notice a refused submission is answered with: the *avviso di non accettazione*
//! (RFC 6109 §3.1.2, pec.md §1.2 #4), signed with the PEC identity, to the sender of the
//! refused transport envelope, saying why in its text and in `errore-esteso`. The service
//! sends it (through `[pec] relay`) for the refusals it does not answer in the SMTP
//! dialogue ([`RefusalKind::is_authenticity`] false), such as
//! [`RefusalKind::HolderUnverified`].

use time::OffsetDateTime;

use super::context::Context;
use super::report::{Described, Output, Refusal, RefusalKind};
use crate::pec::build::{About, Extras, ReceiptInput, ReceiptKind};
use crate::pec::values::{Errore, TipoRicevuta};

/// The enhanced status code (RFC 3463) `errore-esteso` starts with for a refusal of `kind`:
/// `5.7.1` (delivery not authorized) for who-sent-it refusals, `5.6.0` for content that
/// cannot be read, `5.0.0` otherwise.
pub fn status_code(kind: RefusalKind) -> &'static str {
    match kind {
        RefusalKind::HolderUnverified => "5.7.1",
        k if k.is_authenticity() => "5.7.1",
        RefusalKind::Malformed | RefusalKind::Incomplete => "5.6.0",
        _ => "5.0.0",
    }
}

/// Why, in the Italian of the PEC texts, a submission was not accepted.
fn italian(kind: RefusalKind) -> &'static str {
    match kind {
        RefusalKind::HolderUnverified => {
            "l'identità del titolare della casella mittente non risulta confermata (SPID, CIE, CNS, firma digitale o riconoscimento video) come richiesto per l'inoltro verso i servizi europei di recapito certificato (REM)"
        }
        RefusalKind::NoMapping | RefusalKind::NotTranslatable => {
            "il messaggio non ha un equivalente nei servizi europei di recapito certificato (REM)"
        }
        RefusalKind::Malformed | RefusalKind::Incomplete => {
            "il messaggio è incompleto o illeggibile"
        }
        _ => {
            "il messaggio non supera i controlli del gateway verso i servizi europei di recapito certificato (REM)"
        }
    }
}

/// The non-accettazione for `refused` (the transport envelope as received, LF or CRLF) that
/// was refused with `refusal`, issued at `now` by Ponte's PEC provider: `To` the envelope's
/// sender, daticert `identificativo` / `msgid` of the envelope, `errore="altro"`,
/// `errore-esteso` = `<status> - <provider> - <the refusal's reason>`, and a text paragraph
/// saying why. `Err` when `refused` is not a message a notice can be about (no sender, not
/// MIME) or signing fails.
pub fn non_accettazione(
    cx: &Context,
    refused: &[u8],
    refusal: &Refusal,
    now: OffsetDateTime,
) -> Result<Output, super::Error> {
    let provider = cx.pec_provider();
    let detail = format!(
        "{} - {} - {}",
        status_code(refusal.kind),
        provider.name,
        refusal.reason()
    );
    let kind = ReceiptKind::NonAccettazione;
    let prefix = cx
        .tables
        .pec_subject_prefix(kind.subject_key(&Errore::Altro))
        .unwrap_or_default();
    let why = [
        format!("Motivo: {}.", italian(refusal.kind)),
        format!("Reason: {}.", refusal.reason()),
    ];
    let input = ReceiptInput {
        kind,
        about: About::Message(refused),
        provider: &provider,
        recipient: None,
        errore: Errore::Altro,
        detail: Some(&detail),
        ricevuta: TipoRicevuta::Sintetica,
        external: &[],
        to: None,
        at: now,
        subject_prefix: prefix,
        extra_parts: &[],
    };
    let mut ids = cx.pec_ids();
    let built = crate::pec::build::receipt_with(
        &input,
        &mut ids,
        &Extras {
            user_message_id: None,
            text_notes: &why,
        },
    )
    .map_err(|e| super::Error::Build(format!("the non-accettazione: {e}")))?;
    let id = &cx.config.identity;
    let bytes = built.sign(&id.pec_key, &id.pec_cert, &id.pec_chain)?;
    Ok(Output {
        described: Described {
            format: "pec",
            kind: built.kind.name().to_string(),
            event: None,
            reasons: Vec::new(),
            errore: built
                .daticert
                .as_ref()
                .map(|d| d.errore.as_str().to_string())
                .filter(|e| e != "nessuno"),
            message_id: Some(format!("<{}>", built.identifier)),
        },
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_and_texts_cover_every_kind() {
        for k in RefusalKind::ALL {
            let code = status_code(k);
            assert!(code.starts_with("5."), "{k}: {code}");
            assert!(!italian(k).is_empty());
        }
        assert_eq!(status_code(RefusalKind::HolderUnverified), "5.7.1");
        assert_eq!(status_code(RefusalKind::SignerUntrusted), "5.7.1");
        assert_eq!(status_code(RefusalKind::Malformed), "5.6.0");
        assert!(italian(RefusalKind::HolderUnverified).contains("identità"));
    }
}
