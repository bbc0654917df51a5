//! The Italian human-readable text of each message (pec.md §1.3 wording), as text/plain and
//! text/html. Informative only: readers must use the daticert and the headers.

use super::ReceiptKind;
use crate::pec::daticert::Daticert;
use crate::pec::values::{Errore, TipoDestinatario, TipoRicevuta};
use crate::pec::zone;

/// What the texts talk about.
pub(super) struct Facts<'a> {
    pub daticert: &'a Daticert,
    pub anomaly: bool,
    pub receipt: Option<ReceiptKind>,
    /// Paragraphs added after the standard text (e.g. the sender's identity assurance of a
    /// message translated from REM).
    pub notes: &'a [String],
}

fn kind_label(t: &TipoDestinatario) -> &'static str {
    match t {
        TipoDestinatario::Esterno => "posta ordinaria",
        _ => "posta certificata",
    }
}

/// `(title, lines)`: the body as a title and paragraphs of plain lines.
fn content(f: &Facts<'_>) -> (String, Vec<String>) {
    let d = f.daticert;
    let when = format!(
        "Il giorno {} alle ore {} ({})",
        zone::giorno(d.data),
        zone::ora(d.data),
        zone::zona(d.data.offset())
    );
    let oggetto = d.oggetto.clone().unwrap_or_default();
    let id = format!("Identificativo messaggio: {}", d.identificativo);
    let recipients: Vec<String> = d
        .destinatari
        .iter()
        .map(|r| format!("{} (\"{}\")", r.address, kind_label(&r.tipo)))
        .collect();
    let consegna = d.consegna.clone().unwrap_or_default();
    let errore = d.errore_esteso.clone().unwrap_or_default();
    let mut lines = Vec::new();
    let title;
    if f.anomaly {
        title = "Anomalia nel messaggio".to_string();
        lines.push(format!(
            "{when} è stato ricevuto il messaggio \"{oggetto}\" inviato da \"{}\".",
            d.mittente
        ));
        lines.push(
            "Il messaggio non ha superato i controlli di posta certificata: è incluso in allegato."
                .into(),
        );
        lines.push(format!("Identificativo messaggio: {}", d.identificativo));
        return (title, lines);
    }
    match f.receipt {
        None => {
            title = "Messaggio di posta certificata".into();
            lines.push(format!(
                "{when} il messaggio \"{oggetto}\" è stato inviato da \"{}\"",
                d.mittente
            ));
            lines.push("indirizzato a:".into());
            lines.extend(d.destinatari.iter().map(|r| r.address.clone()));
            lines.push("Il messaggio originale è incluso in allegato.".into());
            lines.push(id);
        }
        Some(ReceiptKind::Accettazione) => {
            title = "Ricevuta di accettazione".into();
            lines.push(format!(
                "{when} il messaggio con Oggetto \"{oggetto}\" inviato da \"{}\"",
                d.mittente
            ));
            lines.push("ed indirizzato a:".into());
            lines.extend(recipients);
            lines.push("è stato accettato dal sistema ed inoltrato.".into());
            lines.push(id);
        }
        Some(ReceiptKind::NonAccettazione) => {
            title = if d.errore == Errore::Virus {
                "Avviso di non accettazione per virus".into()
            } else {
                "Avviso di non accettazione".into()
            };
            lines.push(format!(
                "{when} nel messaggio \"{oggetto}\" proveniente da \"{}\"",
                d.mittente
            ));
            lines.push("ed indirizzato a:".into());
            lines.extend(recipients);
            lines.push(format!(
                "è stato rilevato un problema che ne impedisce l'accettazione: {errore}"
            ));
            lines.push("Il messaggio non è stato accettato.".into());
            lines.push(id);
        }
        Some(ReceiptKind::PresaInCarico) => {
            title = "Ricevuta di presa in carico".into();
            lines.push(format!(
                "{when} il messaggio \"{oggetto}\" proveniente da \"{}\"",
                d.mittente
            ));
            lines.push("ed indirizzato a:".into());
            lines.extend(d.ricezione.iter().cloned());
            lines.push("è stato accettato dal sistema.".into());
            lines.push(id);
        }
        Some(ReceiptKind::AvvenutaConsegna) => {
            title = "Ricevuta di avvenuta consegna".into();
            lines.push(format!(
                "{when} il messaggio \"{oggetto}\" proveniente da \"{}\"",
                d.mittente
            ));
            lines.push(format!("ed indirizzato a \"{consegna}\""));
            lines.push("è stato consegnato nella casella di destinazione.".into());
            lines.push(id);
            match d.ricevuta {
                Some(TipoRicevuta::Breve) => lines.push(
                    "Il messaggio originale è incluso in allegato con gli allegati sostituiti dalla loro impronta."
                        .into(),
                ),
                Some(TipoRicevuta::Sintetica) => {}
                _ => lines.push("Il messaggio originale è incluso in allegato.".into()),
            }
        }
        Some(ReceiptKind::ErroreConsegna) => {
            title = if d.errore == Errore::Virus {
                "Avviso di mancata consegna per virus".into()
            } else {
                "Avviso di mancata consegna".into()
            };
            lines.push(format!(
                "{when} nel messaggio \"{oggetto}\" proveniente da \"{}\"",
                d.mittente
            ));
            lines.push(format!("e destinato all'utente \"{consegna}\""));
            lines.push(format!("è stato rilevato il seguente errore: {errore}"));
            lines.push("Il messaggio è stato rifiutato dal sistema.".into());
            lines.push(id);
        }
        Some(ReceiptKind::PreavvisoErroreConsegna) => {
            let last = d.is_final_timeout();
            title = if last {
                "Avviso di mancata consegna per superamento tempi massimi".into()
            } else {
                "Preavviso di mancata consegna".into()
            };
            lines.push(format!(
                "{when} il messaggio \"{oggetto}\" inviato da \"{}\"",
                d.mittente
            ));
            lines.push("ed indirizzato a:".into());
            lines.extend(recipients);
            if last {
                lines.push("non è stato consegnato nelle 24 ore successive al suo invio.".into());
            } else {
                lines.push("non è ancora stato consegnato dopo 12 ore dal suo invio.".into());
            }
            if !errore.is_empty() {
                lines.push(format!("Errore: {errore}"));
            }
            lines.push(id);
        }
        Some(ReceiptKind::RilevazioneVirus) => {
            title = "Avviso di rilevazione virus".into();
            lines.push(format!(
                "{when} nel messaggio \"{oggetto}\" proveniente da \"{}\"",
                d.mittente
            ));
            lines.push("è stato rilevato un virus; il messaggio non è stato consegnato.".into());
            if !errore.is_empty() {
                lines.push(format!("Errore: {errore}"));
            }
            lines.push(id);
        }
    }
    (title, lines)
}

/// The text/plain and text/html bodies (LF line breaks; the writer makes them CRLF).
pub(super) fn render(f: &Facts<'_>) -> (String, String) {
    let (title, mut lines) = content(f);
    lines.extend(f.notes.iter().cloned());
    let mut plain = format!("{title}\n\n");
    for l in &lines {
        plain.push_str(l);
        plain.push('\n');
    }
    if f.receipt.is_some() {
        plain.push_str(
            "L'allegato daticert.xml contiene informazioni di servizio sulla trasmissione\n",
        );
    }
    let mut html = format!(
        "<html>\n<head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body>\n<h3>{t}</h3>\n<hr><br>\n",
        t = crate::xml::escape(&title)
    );
    for l in &lines {
        html.push_str(&crate::xml::escape(l));
        html.push_str("<br>\n");
    }
    html.push_str("</body>\n</html>\n");
    (plain, html)
}
