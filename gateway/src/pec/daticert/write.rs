//! Writing daticert.xml: DTD element order, UTF-8, LF line endings, 4-space indentation (the
//! layout of the opec platform used by Aruba and Namirial).

use super::Daticert;
use crate::pec::zone;

impl Daticert {
    /// Serializes to daticert.xml (UTF-8, with the XML declaration, no DOCTYPE), valid against
    /// the DTD when the open enums hold known values and `destinatari` is not empty.
    pub fn to_xml(&self) -> Vec<u8> {
        let mut x = String::with_capacity(1024);
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(&format!(
            "<postacert tipo=\"{}\" errore=\"{}\">\n",
            crate::xml::escape(self.tipo.as_str()),
            crate::xml::escape(self.errore.as_str())
        ));
        x.push_str("    <intestazione>\n");
        x.push_str(&format!(
            "        <mittente>{}</mittente>\n",
            crate::xml::escape(&self.mittente)
        ));
        for d in &self.destinatari {
            x.push_str(&format!(
                "        <destinatari tipo=\"{}\">{}</destinatari>\n",
                crate::xml::escape(d.tipo.as_str()),
                crate::xml::escape(&d.address)
            ));
        }
        x.push_str(&format!(
            "        <risposte>{}</risposte>\n",
            crate::xml::escape(&self.risposte)
        ));
        if let Some(o) = &self.oggetto {
            x.push_str(&format!(
                "        <oggetto>{}</oggetto>\n",
                crate::xml::escape(o)
            ));
        }
        x.push_str("    </intestazione>\n    <dati>\n");
        x.push_str(&format!(
            "        <gestore-emittente>{}</gestore-emittente>\n",
            crate::xml::escape(&self.gestore_emittente)
        ));
        x.push_str(&format!(
            "        <data zona=\"{}\">\n            <giorno>{}</giorno>\n            <ora>{}</ora>\n        </data>\n",
            zone::zona(self.data.offset()),
            zone::giorno(self.data),
            zone::ora(self.data)
        ));
        x.push_str(&format!(
            "        <identificativo>{}</identificativo>\n",
            crate::xml::escape(&self.identificativo)
        ));
        if let Some(m) = &self.msgid {
            x.push_str(&format!(
                "        <msgid>{}</msgid>\n",
                crate::xml::escape(m)
            ));
        }
        if let Some(r) = &self.ricevuta {
            x.push_str(&format!(
                "        <ricevuta tipo=\"{}\" />\n",
                crate::xml::escape(r.as_str())
            ));
        }
        if let Some(c) = &self.consegna {
            x.push_str(&format!(
                "        <consegna>{}</consegna>\n",
                crate::xml::escape(c)
            ));
        }
        for r in &self.ricezione {
            x.push_str(&format!(
                "        <ricezione>{}</ricezione>\n",
                crate::xml::escape(r)
            ));
        }
        if let Some(e) = &self.errore_esteso {
            x.push_str(&format!(
                "        <errore-esteso>{}</errore-esteso>\n",
                crate::xml::escape(e)
            ));
        }
        x.push_str("    </dati>\n</postacert>\n");
        x.into_bytes()
    }
}
