//! Reading daticert.xml with quick-xml, hardened: no DOCTYPE, no entity other than the five
//! predefined ones and character references, bounded size and depth. Tolerates what real
//! providers write (pec.md §2.5, §5 item 9): stray text between elements, any element order,
//! missing optional elements, `<ricevuta tipo="completa" />`, unknown extra elements.

use super::{Daticert, Destinatario};
use crate::pec::Error;
use crate::pec::values::{Errore, TipoDaticert, TipoDestinatario, TipoRicevuta};
use quick_xml::events::{BytesStart, Event};

/// Largest daticert.xml accepted, in bytes (a daticert with thousands of recipients fits).
pub const MAX_SIZE: usize = 1 << 20;
/// Deepest element nesting accepted (a valid daticert nests 4 levels).
pub const MAX_DEPTH: usize = 16;

#[derive(Default)]
struct Fields {
    tipo: Option<TipoDaticert>,
    errore: Option<Errore>,
    mittente: Option<String>,
    destinatari: Vec<Destinatario>,
    risposte: Option<String>,
    oggetto: Option<String>,
    gestore: Option<String>,
    zona: Option<String>,
    giorno: Option<String>,
    ora: Option<String>,
    identificativo: Option<String>,
    msgid: Option<String>,
    ricevuta: Option<TipoRicevuta>,
    consegna: Option<String>,
    ricezione: Vec<String>,
    errore_esteso: Option<String>,
    /// `destinatari/@tipo` of the element being read.
    pending_dest: Option<String>,
    /// `ricevuta/@tipo` of the element being read.
    pending_ricevuta: Option<String>,
}

impl Daticert {
    /// Reads daticert.xml. Refuses DOCTYPE and undeclared entities, documents over
    /// [`MAX_SIZE`] bytes or nested deeper than [`MAX_DEPTH`]; requires `postacert/@tipo`,
    /// `mittente`, `gestore-emittente`, `data` (with `giorno`, `ora`, `zona`) and `identificativo`.
    pub fn parse(xml: &[u8]) -> Result<Daticert, Error> {
        if xml.len() > MAX_SIZE {
            return Err(Error::DaticertTooLarge {
                size: xml.len(),
                limit: MAX_SIZE,
            });
        }
        let text = std::str::from_utf8(xml).map_err(|e| Error::DaticertNotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = quick_xml::Reader::from_str(text);
        let mut stack: Vec<String> = Vec::new();
        let mut buf = String::new();
        let mut f = Fields::default();
        let mut seen_root = false;
        loop {
            let malformed = |reader: &quick_xml::Reader<&[u8]>, e: &dyn std::fmt::Display| {
                Error::DaticertMalformed {
                    position: reader.error_position(),
                    message: e.to_string(),
                }
            };
            let event = reader.read_event().map_err(|e| malformed(&reader, &e))?;
            match event {
                Event::DocType(_) => return Err(Error::DaticertDoctype),
                Event::Start(start) => {
                    let name = open(&start, &stack, &mut seen_root, &mut f)?;
                    stack.push(name);
                    if stack.len() > MAX_DEPTH {
                        return Err(Error::DaticertTooDeep { limit: MAX_DEPTH });
                    }
                    buf.clear();
                }
                Event::Empty(start) => {
                    let name = open(&start, &stack, &mut seen_root, &mut f)?;
                    if stack.len() + 1 > MAX_DEPTH {
                        return Err(Error::DaticertTooDeep { limit: MAX_DEPTH });
                    }
                    let parent = stack.last().map(String::as_str).unwrap_or("");
                    close(&name, parent, "", &mut f);
                    buf.clear();
                }
                Event::End(_) => {
                    let name = stack.pop().unwrap_or_default();
                    let parent = stack.last().map(String::as_str).unwrap_or("");
                    close(&name, parent, &buf, &mut f);
                    buf.clear();
                }
                Event::Text(t) => buf.push_str(&t.xml10_content()),
                Event::CData(t) => buf.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    if r.is_char_ref() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) => buf.push(c),
                            Ok(None) | Err(_) => {
                                return Err(Error::DaticertEntity(r.xml10_content().into_owned()));
                            }
                        }
                    } else {
                        let name = r.xml10_content();
                        buf.push(
                            predefined(&name)
                                .ok_or_else(|| Error::DaticertEntity(name.into_owned()))?,
                        );
                    }
                }
                Event::Eof => break,
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            }
        }
        if !seen_root {
            return Err(Error::DaticertMissing("root element `postacert`"));
        }
        let data = crate::pec::zone::from_daticert(
            f.giorno
                .as_deref()
                .ok_or(Error::DaticertMissing("element `data/giorno`"))?,
            f.ora
                .as_deref()
                .ok_or(Error::DaticertMissing("element `data/ora`"))?,
            f.zona
                .as_deref()
                .ok_or(Error::DaticertMissing("attribute `data/@zona`"))?,
        )?;
        Ok(Daticert {
            tipo: f
                .tipo
                .ok_or(Error::DaticertMissing("attribute `postacert/@tipo`"))?,
            errore: f.errore.unwrap_or(Errore::Nessuno),
            mittente: f
                .mittente
                .ok_or(Error::DaticertMissing("element `mittente`"))?,
            destinatari: f.destinatari,
            risposte: f.risposte.unwrap_or_default(),
            oggetto: f.oggetto,
            gestore_emittente: f
                .gestore
                .ok_or(Error::DaticertMissing("element `gestore-emittente`"))?,
            data,
            identificativo: f
                .identificativo
                .ok_or(Error::DaticertMissing("element `identificativo`"))?,
            msgid: f.msgid,
            ricevuta: f.ricevuta,
            consegna: f.consegna,
            ricezione: f.ricezione,
            errore_esteso: f.errore_esteso,
        })
    }
}

/// The five entities XML predefines.
fn predefined(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// Unescapes an attribute value by the same rules as text.
fn unescape(raw: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 1..).unwrap_or("");
        let Some(end) = after.find(';') else {
            return Err(Error::DaticertEntity(after.chars().take(16).collect()));
        };
        let name = after.get(..end).unwrap_or("");
        let c = if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            code.and_then(char::from_u32).filter(|c| *c != '\0')
        } else {
            predefined(name)
        };
        out.push(c.ok_or_else(|| Error::DaticertEntity(name.to_string()))?);
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

fn attr(start: &BytesStart<'_>, name: &str) -> Result<Option<String>, Error> {
    for a in start.attributes().with_checks(false) {
        let a = a.map_err(|e| Error::DaticertMalformed {
            position: 0,
            message: e.to_string(),
        })?;
        if a.key.local_name().as_ref() == name {
            return Ok(Some(
                unescape(&a.value)?
                    .chars()
                    .filter(|&c| xml_char(c))
                    .collect(),
            ));
        }
    }
    Ok(None)
}

/// Handles an opening tag: records attributes; returns the element's local name.
fn open(
    start: &BytesStart<'_>,
    stack: &[String],
    seen_root: &mut bool,
    f: &mut Fields,
) -> Result<String, Error> {
    let name = start.local_name().as_ref().to_string();
    if stack.is_empty() {
        if *seen_root || name != "postacert" {
            return Err(Error::DaticertRoot(name));
        }
        *seen_root = true;
        f.tipo = attr(start, "tipo")?.map(|v| TipoDaticert::parse(&v));
        f.errore = attr(start, "errore")?.map(|v| Errore::parse(&v));
    } else {
        match name.as_str() {
            "data" => f.zona = attr(start, "zona")?,
            "destinatari" => f.pending_dest = attr(start, "tipo")?,
            "ricevuta" => f.pending_ricevuta = attr(start, "tipo")?,
            _ => {}
        }
    }
    Ok(name)
}

/// Whether XML 1.0 can carry `c` (production `Char`); others are dropped when reading, so a
/// model always writes back to well-formed XML.
pub(super) fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

/// Handles a closing tag with the text collected inside it.
fn close(name: &str, parent: &str, text: &str, f: &mut Fields) {
    let kept: String = text.chars().filter(|&c| xml_char(c)).collect();
    let value = kept.trim().to_string();
    match (parent, name) {
        ("intestazione", "mittente") => f.mittente = Some(value),
        ("intestazione", "destinatari") => {
            let tipo = f.pending_dest.take().unwrap_or_default();
            f.destinatari.push(Destinatario {
                address: value,
                tipo: TipoDestinatario::parse(&tipo),
            });
        }
        ("intestazione", "risposte") => f.risposte = Some(value),
        ("intestazione", "oggetto") => f.oggetto = Some(value),
        ("dati", "gestore-emittente") => f.gestore = Some(value),
        ("data", "giorno") => f.giorno = Some(value),
        ("data", "ora") => f.ora = Some(value),
        ("dati", "identificativo") => f.identificativo = Some(value),
        ("dati", "msgid") => f.msgid = Some(value),
        ("dati", "ricevuta") => {
            // The DTD default of `tipo` is `completa`.
            let tipo = f.pending_ricevuta.take();
            f.ricevuta = Some(
                tipo.map(|t| TipoRicevuta::parse(&t))
                    .unwrap_or(TipoRicevuta::Completa),
            );
        }
        ("dati", "consegna") => f.consegna = Some(value),
        ("dati", "ricezione") => f.ricezione.push(value),
        ("dati", "errore-esteso") => f.errore_esteso = Some(value),
        _ => {}
    }
}
