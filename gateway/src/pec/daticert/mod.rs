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

impl Daticert {
    /// The JSON object `ponte verify --json` prints under `pec.daticert`: `tipo`, `errore`,
    /// `mittente`, `destinatari` [{`address`, `tipo`}], `risposte`, `oggetto`,
    /// `gestore_emittente`, `data` (RFC 3339), `identificativo`, `msgid`, `ricevuta`,
    /// `consegna`, `ricezione`, `errore_esteso`; absent optional elements are `null`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "tipo": self.tipo.as_str(),
            "errore": self.errore.as_str(),
            "mittente": self.mittente,
            "destinatari": self.destinatari.iter().map(|d| serde_json::json!({
                "address": d.address,
                "tipo": d.tipo.as_str(),
            })).collect::<Vec<_>>(),
            "risposte": self.risposte,
            "oggetto": self.oggetto,
            "gestore_emittente": self.gestore_emittente,
            "data": self.data_rfc3339(),
            "identificativo": self.identificativo,
            "msgid": self.msgid,
            "ricevuta": self.ricevuta.as_ref().map(|r| r.as_str()),
            "consegna": self.consegna,
            "ricezione": self.ricezione,
            "errore_esteso": self.errore_esteso,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<postacert tipo="errore-consegna" errore="no-dest">
    <intestazione>
        <mittente>a@x.it</mittente>
        <destinatari tipo="certificato">b@y.it</destinatari>
        <risposte>a@x.it</risposte>
        <oggetto>Prova &lt;1&gt; &amp; "due"</oggetto>
    </intestazione>
    <dati>
        <gestore-emittente>Gestore</gestore-emittente>
        <data zona="+0200"><giorno>01/07/2025</giorno><ora>12:00:00</ora></data>
        <identificativo>id@y.it</identificativo>
        <msgid>&lt;m@x&gt;</msgid>
        <consegna>b@y.it</consegna>
        <errore-esteso>5.1.1 - Gestore - indirizzo non valido</errore-esteso>
    </dati>
</postacert>
"#;

    #[test]
    fn json_names_the_fields_as_the_cli_promises() {
        let d = Daticert::parse(XML.as_bytes()).unwrap();
        let j = d.to_json();
        assert_eq!(j["tipo"], "errore-consegna");
        assert_eq!(j["errore"], "no-dest");
        assert_eq!(j["destinatari"][0]["address"], "b@y.it");
        assert_eq!(j["destinatari"][0]["tipo"], "certificato");
        assert_eq!(j["oggetto"], "Prova <1> & \"due\"");
        assert_eq!(j["gestore_emittente"], "Gestore");
        assert_eq!(j["data"], "2025-07-01T12:00:00+02:00");
        assert_eq!(j["msgid"], "<m@x>");
        assert_eq!(j["ricevuta"], serde_json::Value::Null);
        assert_eq!(j["errore_esteso"], "5.1.1 - Gestore - indirizzo non valido");
    }

    #[test]
    fn writer_escapes_and_round_trips() {
        let mut d = Daticert::parse(XML.as_bytes()).unwrap();
        d.oggetto = Some("a\tb\r\nc & <d>".into());
        let xml = String::from_utf8(d.to_xml()).unwrap();
        assert!(
            xml.contains("<oggetto>a&#9;b&#13;&#10;c &amp; &lt;d&gt;</oggetto>"),
            "{xml}"
        );
        assert!(xml.contains("<msgid>&lt;m@x&gt;</msgid>"));
        assert_eq!(Daticert::parse(xml.as_bytes()).unwrap(), d);
    }

    #[test]
    fn final_timeout_needs_both_tipo_and_5_4_1() {
        let mut d = Daticert::parse(XML.as_bytes()).unwrap();
        assert!(!d.is_final_timeout());
        d.tipo = TipoDaticert::PreavvisoErroreConsegna;
        assert!(!d.is_final_timeout());
        d.errore_esteso = Some(" 5.4.1 - G - superamento tempi massimi".into());
        assert!(d.is_final_timeout());
    }
}
