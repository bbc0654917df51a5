//! Writing daticert.xml: DTD element order, UTF-8, LF line endings, 4-space indentation (the
//! layout of the opec platform used by Aruba and Namirial).

use super::Daticert;
use crate::pec::zone;

/// Escapes text or attribute content (`&`, `<`, `>`, `"`; CR, and in attributes tab and LF,
/// as character references so no reader normalises them away); characters XML 1.0 cannot
/// carry are dropped (the reader drops them too).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

impl Daticert {
    /// Serializes to daticert.xml (UTF-8, with the XML declaration, no DOCTYPE), valid against
    /// the DTD when the open enums hold known values and `destinatari` is not empty.
    pub fn to_xml(&self) -> Vec<u8> {
        let mut x = String::with_capacity(1024);
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(&format!(
            "<postacert tipo=\"{}\" errore=\"{}\">\n",
            esc(self.tipo.as_str()),
            esc(self.errore.as_str())
        ));
        x.push_str("    <intestazione>\n");
        x.push_str(&format!(
            "        <mittente>{}</mittente>\n",
            esc(&self.mittente)
        ));
        for d in &self.destinatari {
            x.push_str(&format!(
                "        <destinatari tipo=\"{}\">{}</destinatari>\n",
                esc(d.tipo.as_str()),
                esc(&d.address)
            ));
        }
        x.push_str(&format!(
            "        <risposte>{}</risposte>\n",
            esc(&self.risposte)
        ));
        if let Some(o) = &self.oggetto {
            x.push_str(&format!("        <oggetto>{}</oggetto>\n", esc(o)));
        }
        x.push_str("    </intestazione>\n    <dati>\n");
        x.push_str(&format!(
            "        <gestore-emittente>{}</gestore-emittente>\n",
            esc(&self.gestore_emittente)
        ));
        x.push_str(&format!(
            "        <data zona=\"{}\">\n            <giorno>{}</giorno>\n            <ora>{}</ora>\n        </data>\n",
            zone::zona(self.data.offset()),
            zone::giorno(self.data),
            zone::ora(self.data)
        ));
        x.push_str(&format!(
            "        <identificativo>{}</identificativo>\n",
            esc(&self.identificativo)
        ));
        if let Some(m) = &self.msgid {
            x.push_str(&format!("        <msgid>{}</msgid>\n", esc(m)));
        }
        if let Some(r) = &self.ricevuta {
            x.push_str(&format!(
                "        <ricevuta tipo=\"{}\" />\n",
                esc(r.as_str())
            ));
        }
        if let Some(c) = &self.consegna {
            x.push_str(&format!("        <consegna>{}</consegna>\n", esc(c)));
        }
        for r in &self.ricezione {
            x.push_str(&format!("        <ricezione>{}</ricezione>\n", esc(r)));
        }
        if let Some(e) = &self.errore_esteso {
            x.push_str(&format!(
                "        <errore-esteso>{}</errore-esteso>\n",
                esc(e)
            ));
        }
        x.push_str("    </dati>\n</postacert>\n");
        x.into_bytes()
    }
}
