//! Wire values of PEC headers and daticert attributes, as open enums: every known value has a
//! variant, anything else is carried in `Other` with its original spelling (never rejected).
//! Parsing trims surrounding whitespace and ignores ASCII case.

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value not in the rules, kept as received (trimmed).
            Other(String),
        }

        impl $name {
            /// Reads a wire value (trimmed, case-insensitive); unknown values become `Other`.
            pub fn parse(value: &str) -> Self {
                let v = value.trim();
                $( if v.eq_ignore_ascii_case($wire) { return Self::$variant; } )+
                Self::Other(v.to_string())
            }

            /// The wire spelling (the received one for `Other`).
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(s) => s,
                }
            }

            /// Whether the value is one the rules define.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum! {
    /// `X-Ricevuta`: the kind of receipt or notice (RFC 6109, 7 values).
    Ricevuta {
        /// `accettazione`: ricevuta di accettazione.
        Accettazione => "accettazione",
        /// `non-accettazione`: avviso di non accettazione (formal or virus).
        NonAccettazione => "non-accettazione",
        /// `presa-in-carico`: ricevuta di presa in carico.
        PresaInCarico => "presa-in-carico",
        /// `avvenuta-consegna`: ricevuta di avvenuta consegna.
        AvvenutaConsegna => "avvenuta-consegna",
        /// `errore-consegna`: avviso di mancata consegna.
        ErroreConsegna => "errore-consegna",
        /// `preavviso-errore-consegna`: 12 h warning, or the 24 h final notice.
        PreavvisoErroreConsegna => "preavviso-errore-consegna",
        /// `rilevazione-virus`: avviso di rilevazione virus.
        RilevazioneVirus => "rilevazione-virus",
    }
}

open_enum! {
    /// `X-Trasporto`: present on envelopes.
    Trasporto {
        /// `posta-certificata`: busta di trasporto.
        PostaCertificata => "posta-certificata",
        /// `errore`: busta di anomalia.
        Errore => "errore",
    }
}

open_enum! {
    /// `X-TipoRicevuta` and daticert `ricevuta/@tipo`: the delivery receipt flavour.
    TipoRicevuta {
        /// `completa`: carries the original.
        Completa => "completa",
        /// `breve`: carries the original with attachments replaced by their hashes.
        Breve => "breve",
        /// `sintetica`: text and daticert only.
        Sintetica => "sintetica",
    }
}

open_enum! {
    /// `X-VerificaSicurezza`: set on virus notices.
    VerificaSicurezza {
        /// `errore`: a virus was found.
        Errore => "errore",
    }
}

open_enum! {
    /// daticert `postacert/@tipo` (8 values of the DTD).
    TipoDaticert {
        /// `accettazione`.
        Accettazione => "accettazione",
        /// `non-accettazione`.
        NonAccettazione => "non-accettazione",
        /// `presa-in-carico`.
        PresaInCarico => "presa-in-carico",
        /// `avvenuta-consegna`.
        AvvenutaConsegna => "avvenuta-consegna",
        /// `posta-certificata`: the transport envelope.
        PostaCertificata => "posta-certificata",
        /// `errore-consegna`.
        ErroreConsegna => "errore-consegna",
        /// `preavviso-errore-consegna`.
        PreavvisoErroreConsegna => "preavviso-errore-consegna",
        /// `rilevazione-virus`.
        RilevazioneVirus => "rilevazione-virus",
    }
}

open_enum! {
    /// daticert `postacert/@errore` (5 values of the DTD; `nessuno` when absent).
    Errore {
        /// `nessuno`: no error.
        Nessuno => "nessuno",
        /// `no-dest`: recipient unknown.
        NoDest => "no-dest",
        /// `no-dominio`: recipient domain unknown.
        NoDominio => "no-dominio",
        /// `virus`: a virus was found.
        Virus => "virus",
        /// `altro`: any other error (the reason is in `errore-esteso`).
        Altro => "altro",
    }
}

open_enum! {
    /// daticert `destinatari/@tipo`.
    TipoDestinatario {
        /// `certificato`: a PEC mailbox.
        Certificato => "certificato",
        /// `esterno`: an ordinary mailbox.
        Esterno => "esterno",
    }
}

impl From<&Ricevuta> for TipoDaticert {
    fn from(r: &Ricevuta) -> Self {
        TipoDaticert::parse(r.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_are_case_insensitive_and_trimmed() {
        assert_eq!(
            Ricevuta::parse(" Avvenuta-Consegna\r\n"),
            Ricevuta::AvvenutaConsegna
        );
        assert_eq!(Trasporto::parse("ERRORE"), Trasporto::Errore);
        assert_eq!(Errore::parse("no-dominio").as_str(), "no-dominio");
    }

    #[test]
    fn unknown_values_are_carried() {
        let r = Ricevuta::parse("mancata-consegna");
        assert_eq!(r, Ricevuta::Other("mancata-consegna".into()));
        assert_eq!(r.as_str(), "mancata-consegna");
        assert!(!r.is_known());
    }
}
