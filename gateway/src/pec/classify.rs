//! Classification of a message by its top-level PEC headers only (pec.md §1.2): `X-Ricevuta`
//! present → receipt or notice of that type; else `X-Trasporto: posta-certificata` → transport
//! envelope; `X-Trasporto: errore` → anomaly envelope; else plain mail. The subject is never
//! read. `X-Riferimento-Message-ID` alone does not make a receipt (envelopes carry it too).

use super::Error;
use super::values::{Ricevuta, TipoRicevuta, Trasporto, VerificaSicurezza};

/// The PEC headers of a message, values parsed case-insensitively, unknown values kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classification {
    /// `X-Ricevuta`.
    pub ricevuta: Option<Ricevuta>,
    /// `X-Trasporto`.
    pub trasporto: Option<Trasporto>,
    /// `X-TipoRicevuta`.
    pub tipo_ricevuta: Option<TipoRicevuta>,
    /// `X-VerificaSicurezza`.
    pub verifica_sicurezza: Option<VerificaSicurezza>,
    /// `X-Riferimento-Message-ID`, trimmed, angle brackets kept.
    pub riferimento_message_id: Option<String>,
}

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Busta di trasporto (`X-Trasporto: posta-certificata`).
    BustaTrasporto,
    /// Busta di anomalia (`X-Trasporto: errore`).
    BustaAnomalia,
    /// Ricevuta di accettazione.
    Accettazione,
    /// Avviso di non accettazione; `virus` for the virus variant.
    NonAccettazione {
        /// Refused because a virus was found (`X-VerificaSicurezza: errore` or daticert `errore="virus"`).
        virus: bool,
    },
    /// Ricevuta di presa in carico.
    PresaInCarico,
    /// Ricevuta di avvenuta consegna, with its flavour (`completa` when not stated).
    AvvenutaConsegna {
        /// completa / breve / sintetica (from `X-TipoRicevuta`, else daticert, else completa).
        ricevuta: TipoRicevuta,
    },
    /// Avviso di mancata consegna; `virus` for the virus variant.
    ErroreConsegna {
        /// Not delivered because of a virus.
        virus: bool,
    },
    /// Preavviso di mancata consegna (12 h) or, with `final_notice`, the 24 h final notice.
    PreavvisoErroreConsegna {
        /// The 24 h notice: daticert `errore-esteso` starts with `5.4.1`. Only known once the
        /// daticert is read; header-only classification says `false`.
        final_notice: bool,
    },
    /// Avviso di rilevazione virus.
    RilevazioneVirus,
    /// An `X-Ricevuta` value outside the rules, carried as received.
    OtherRicevuta(String),
    /// An `X-Trasporto` value outside the rules, carried as received.
    OtherTrasporto(String),
    /// Not a PEC message: no `X-Ricevuta`, no `X-Trasporto`.
    Mail,
}

impl Kind {
    /// The name used in reports: the daticert `tipo` spelling, `anomalia` for the anomaly
    /// envelope, `mail` for plain mail, the received value for unknown ones.
    pub fn name(&self) -> &str {
        match self {
            Kind::BustaTrasporto => "posta-certificata",
            Kind::BustaAnomalia => "anomalia",
            Kind::Accettazione => "accettazione",
            Kind::NonAccettazione { .. } => "non-accettazione",
            Kind::PresaInCarico => "presa-in-carico",
            Kind::AvvenutaConsegna { .. } => "avvenuta-consegna",
            Kind::ErroreConsegna { .. } => "errore-consegna",
            Kind::PreavvisoErroreConsegna { .. } => "preavviso-errore-consegna",
            Kind::RilevazioneVirus => "rilevazione-virus",
            Kind::OtherRicevuta(v) | Kind::OtherTrasporto(v) => v,
            Kind::Mail => "mail",
        }
    }

    /// Whether the message is PEC (anything but plain mail).
    pub fn is_pec(&self) -> bool {
        !matches!(self, Kind::Mail)
    }
}

impl Classification {
    /// Reads the PEC headers from `(name, value)` pairs (names case-insensitive; the first
    /// occurrence wins; values unfolded and trimmed).
    pub fn from_headers<'a, I>(headers: I) -> Classification
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut c = Classification::default();
        for (name, value) in headers {
            let value = unfold(value);
            let n = name.trim();
            if n.eq_ignore_ascii_case("X-Ricevuta") && c.ricevuta.is_none() {
                c.ricevuta = Some(Ricevuta::parse(&value));
            } else if n.eq_ignore_ascii_case("X-Trasporto") && c.trasporto.is_none() {
                c.trasporto = Some(Trasporto::parse(&value));
            } else if n.eq_ignore_ascii_case("X-TipoRicevuta") && c.tipo_ricevuta.is_none() {
                c.tipo_ricevuta = Some(TipoRicevuta::parse(&value));
            } else if n.eq_ignore_ascii_case("X-VerificaSicurezza")
                && c.verifica_sicurezza.is_none()
            {
                c.verifica_sicurezza = Some(VerificaSicurezza::parse(&value));
            } else if n.eq_ignore_ascii_case("X-Riferimento-Message-ID")
                && c.riferimento_message_id.is_none()
            {
                c.riferimento_message_id = Some(value.trim().to_string());
            }
        }
        c
    }

    /// The kind these headers say, before the daticert is read.
    pub fn kind(&self) -> Kind {
        let virus = self.verifica_sicurezza == Some(VerificaSicurezza::Errore);
        if let Some(r) = &self.ricevuta {
            return match r {
                Ricevuta::Accettazione => Kind::Accettazione,
                Ricevuta::NonAccettazione => Kind::NonAccettazione { virus },
                Ricevuta::PresaInCarico => Kind::PresaInCarico,
                Ricevuta::AvvenutaConsegna => Kind::AvvenutaConsegna {
                    ricevuta: self.tipo_ricevuta.clone().unwrap_or(TipoRicevuta::Completa),
                },
                Ricevuta::ErroreConsegna => Kind::ErroreConsegna { virus },
                Ricevuta::PreavvisoErroreConsegna => Kind::PreavvisoErroreConsegna {
                    final_notice: false,
                },
                Ricevuta::RilevazioneVirus => Kind::RilevazioneVirus,
                Ricevuta::Other(v) => Kind::OtherRicevuta(v.clone()),
            };
        }
        match &self.trasporto {
            Some(Trasporto::PostaCertificata) => Kind::BustaTrasporto,
            Some(Trasporto::Errore) => Kind::BustaAnomalia,
            Some(Trasporto::Other(v)) => Kind::OtherTrasporto(v.clone()),
            None => Kind::Mail,
        }
    }
}

/// Unfolds a header value (drops CR/LF of continuation lines) and trims it.
pub(crate) fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c != '\r' && c != '\n' {
            out.push(c);
        }
    }
    out.trim().to_string()
}

/// Classifies raw message bytes by their top-level header block only.
pub fn classify(raw: &[u8]) -> Result<(Classification, Kind), Error> {
    let c = classify_headers(raw)?;
    let k = c.kind();
    Ok((c, k))
}

/// Reads the PEC headers of the top-level header block of `raw` (up to the first empty line).
/// Fails only when the bytes do not start with a header block at all.
pub fn classify_headers(raw: &[u8]) -> Result<Classification, Error> {
    let fields = header_fields(raw).ok_or(Error::MessageUnreadable)?;
    Ok(Classification::from_headers(
        fields.iter().map(|(n, v)| (n.as_str(), v.as_str())),
    ))
}

/// Splits the top-level header block into `(name, raw value)` pairs (values keep their folding).
/// `None` when the first line is not a header field.
pub(crate) fn header_fields(raw: &[u8]) -> Option<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = raw;
    let mut first = true;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(rest.len());
        let (line, tail) = rest.split_at(end);
        rest = tail;
        let text = String::from_utf8_lossy(line);
        let trimmed = text.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.starts_with([' ', '\t']) {
            match out.last_mut() {
                Some((_, v)) => {
                    v.push_str("\r\n");
                    v.push_str(trimmed);
                }
                None => return None,
            }
            continue;
        }
        match trimmed.split_once(':') {
            Some((name, value)) if !name.is_empty() && !name.contains([' ', '\t']) => {
                out.push((name.to_string(), value.to_string()));
            }
            _ if first => return None,
            // A malformed line inside the block: skipped, as mail readers do.
            _ => {}
        }
        first = false;
    }
    if out.is_empty() { None } else { Some(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ricevuta_wins_over_trasporto_and_subject_is_ignored() {
        let raw = b"Subject: POSTA CERTIFICATA: ACCETTAZIONE: x\r\nX-Ricevuta: Errore-Consegna\r\nX-VerificaSicurezza: errore\r\n\r\nbody";
        let (_, k) = classify(raw).unwrap();
        assert_eq!(k, Kind::ErroreConsegna { virus: true });
        let (_, k) = classify(b"Subject: POSTA CERTIFICATA: x\r\n\r\n").unwrap();
        assert_eq!(k, Kind::Mail);
    }

    #[test]
    fn folded_and_unknown_values() {
        let raw = b"X-Trasporto:\r\n  posta-certificata\r\nX-Riferimento-Message-ID: <a@b>\r\n\r\n";
        let (c, k) = classify(raw).unwrap();
        assert_eq!(k, Kind::BustaTrasporto);
        assert_eq!(c.riferimento_message_id.as_deref(), Some("<a@b>"));
        let (_, k) = classify(b"X-Ricevuta: mancata-consegna\n\n").unwrap();
        assert_eq!(k, Kind::OtherRicevuta("mancata-consegna".into()));
        assert_eq!(k.name(), "mancata-consegna");
    }

    #[test]
    fn not_a_header_block() {
        assert!(classify(b"\x00\x01 garbage").is_err());
    }
}
