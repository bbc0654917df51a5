//! The typed model of `daticert.xml` (RFC 6109 / DM 2 Nov 2005), its hardened reader
//! ([`Daticert::parse`]) and its writer ([`Daticert::to_xml`], DTD order, UTF-8).

mod parse;
mod write;

use super::values::{Errore, TipoDaticert, TipoDestinatario, TipoRicevuta};
use time::OffsetDateTime;

pub use parse::{MAX_DEPTH, MAX_SIZE};

/// One `destinatari` element: an original recipient and whether it is a PEC mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinatario {
    /// The address (text of the element, trimmed).
    pub address: String,
    /// `certificato` or `esterno` (open).
    pub tipo: TipoDestinatario,
}

/// `daticert.xml`: the certification data attached to every PEC envelope and receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daticert {
    /// `postacert/@tipo`: what this message is.
    pub tipo: TipoDaticert,
    /// `postacert/@errore` (`nessuno` when absent).
    pub errore: Errore,
    /// `mittente`: the original sender.
    pub mittente: String,
    /// `destinatari`: the original recipients, in document order.
    pub destinatari: Vec<Destinatario>,
    /// `risposte`: the reply address (empty when the element was missing).
    pub risposte: String,
    /// `oggetto`: the original subject, if present.
    pub oggetto: Option<String>,
    /// `gestore-emittente`: the provider that issued this message.
    pub gestore_emittente: String,
    /// `data`: the instant, carrying the `zona` offset as written.
    pub data: OffsetDateTime,
    /// `identificativo`: the provider identifier of the original transport envelope.
    pub identificativo: String,
    /// `msgid`: the original user Message-ID, unescaped, with its angle brackets.
    pub msgid: Option<String>,
    /// `ricevuta/@tipo`: the receipt flavour requested or issued.
    pub ricevuta: Option<TipoRicevuta>,
    /// `consegna`: the recipient a delivery (or non-delivery) is about.
    pub consegna: Option<String>,
    /// `ricezione`: recipients taken in charge (presa in carico).
    pub ricezione: Vec<String>,
    /// `errore-esteso`: free-text error, usually `<enhanced status> - <provider> - <reason>`.
    pub errore_esteso: Option<String>,
}

impl Daticert {
    /// `data` in RFC 3339 (`2024-12-05T00:02:10+01:00`).
    pub fn data_rfc3339(&self) -> String {
        super::zone::rfc3339(self.data)
    }

    /// Whether this is the 24 h final timeout notice: `preavviso-errore-consegna` whose
    /// `errore-esteso` starts with the enhanced status `5.4.1` (Aruba, Namirial practice).
    pub fn is_final_timeout(&self) -> bool {
        self.tipo == TipoDaticert::PreavvisoErroreConsegna
            && self
                .errore_esteso
                .as_deref()
                .is_some_and(|e| e.trim_start().starts_with("5.4.1"))
    }
}
