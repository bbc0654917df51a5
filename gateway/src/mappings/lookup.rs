//! Finding the row that translates one message: [`Tables::pec_to_rem`] and
//! [`Tables::rem_to_pec`], and the subject prefixes of [`Tables::pec_subject_prefix`].
//!
//! The most specific row wins. Validation ([`super::validate`]) refuses two rows with the same
//! key in the same direction, and the specificity of a row depends only on which of its
//! optional fields are set, so a lookup never has two best candidates.

use crate::rem::evidence::{Event, Reason};

use super::{EventRow, Tables};

/// Specificity weights of the PEC side: an `errore-esteso` prefix beats an `errore` class,
/// which beats the `final` flag; distinct powers of two, so no two field sets tie.
const BY_ESTESO: u8 = 4;
const BY_ERRORE: u8 = 2;
const BY_FINAL: u8 = 1;

impl Tables {
    /// The row that translates a PEC message of Ponte's type `kind` (a daticert `tipo` or
    /// `anomalia`) towards REM, if any.
    ///
    /// `errore` is the daticert `errore` class, `errore_esteso` the `errore-esteso` text (its
    /// leading enhanced status code is what rows match), `final_notice` whether a
    /// `preavviso-errore-consegna` is the final (24 h) notice. Rows of direction `pec-to-rem`
    /// or `both` are considered; a row matches when each field it sets agrees with the input
    /// (a row marked `final` matches only a final notice); among the matching rows the most
    /// specific wins: `errore-esteso` prefix, then `errore`, then `final`, then kind only.
    pub fn pec_to_rem(
        &self,
        kind: &str,
        errore: Option<&str>,
        errore_esteso: Option<&str>,
        final_notice: bool,
    ) -> Option<&EventRow> {
        self.events
            .row
            .iter()
            .filter(|r| r.direction.pec_to_rem() && r.pec.kind == kind)
            .filter_map(|r| {
                let mut score = 0;
                if let Some(want) = &r.pec.errore {
                    if errore != Some(want.as_str()) {
                        return None;
                    }
                    score |= BY_ERRORE;
                }
                if let Some(prefix) = &r.pec.errore_esteso_prefix {
                    if !errore_esteso.is_some_and(|e| status_matches(e, prefix)) {
                        return None;
                    }
                    score |= BY_ESTESO;
                }
                if r.pec.is_final == Some(true) {
                    if !final_notice {
                        return None;
                    }
                    score |= BY_FINAL;
                }
                Some((score, r))
            })
            // max_by_key keeps the last of equals; equal scores cannot both match (see the
            // module documentation), so the order does not matter.
            .max_by_key(|(score, _)| *score)
            .map(|(_, r)| r)
    }

    /// Whether `row` (what [`Tables::pec_to_rem`] chose for a PEC message of `kind` with
    /// daticert `errore`) translates it without looking at that `errore` although it says
    /// something the row does not: a value other than `nessuno`, or any value when other
    /// rows of the kind depend on the errore class (`non-accettazione` with
    /// `errore="nessuno"`). The translation then says so in its notes: the message went
    /// through the kind-level row, as a REM reason without a row of its own goes through
    /// the event-level one.
    pub fn pec_errore_unmatched(&self, kind: &str, errore: Option<&str>, row: &EventRow) -> bool {
        let Some(errore) = errore else {
            return false;
        };
        if row.pec.errore.is_some() {
            return false;
        }
        errore != "nessuno"
            || self
                .events
                .row
                .iter()
                .any(|r| r.direction.pec_to_rem() && r.pec.kind == kind && r.pec.errore.is_some())
    }

    /// The row that translates a REM `message` (`dispatch` or `receipt`) carrying an evidence
    /// of `event` with `reasons` towards PEC, if any.
    ///
    /// Rows of direction `rem-to-pec` or `both` for this message type and event are
    /// considered: the first reason (in evidence order) that has a row of its own decides;
    /// else the event-level row (one without a reason) is the fallback for the event.
    /// Unknown events and reasons find only what the tables say about them: nothing.
    pub fn rem_to_pec(
        &self,
        event: &Event,
        reasons: &[Reason],
        message: &str,
    ) -> Option<&EventRow> {
        let candidates = || {
            self.events.row.iter().filter(move |r| {
                r.direction.rem_to_pec()
                    && r.rem.message == message
                    && event.is_known()
                    && r.rem.event.as_deref() == Some(event.name())
            })
        };
        reasons
            .iter()
            .filter_map(Reason::code)
            .find_map(|code| candidates().find(|r| r.rem.reason.as_deref() == Some(code)))
            .or_else(|| candidates().find(|r| r.rem.reason.is_none()))
    }

    /// The PEC subject prefix for `key` (a PEC kind, or a kind with a variant suffix such as
    /// `errore-consegna-virus`), as `subjects.toml` writes it.
    pub fn pec_subject_prefix(&self, key: &str) -> Option<&str> {
        self.subjects.pec.get(key).map(|s| s.prefix.as_str())
    }
}

/// Whether the `errore-esteso` text starts with the enhanced status code `prefix` (`5.1.1`,
/// or a class and subject such as `4.4`), ending at a number boundary: `5.1.1` matches
/// `5.1.1 - mailbox unknown` but not `5.1.10`; `4.4` matches `4.4.7`.
fn status_matches(esteso: &str, prefix: &str) -> bool {
    esteso
        .trim_start()
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Tables {
        match Tables::builtin() {
            Ok(t) => t,
            Err(e) => panic!("builtin tables: {e}"),
        }
    }

    fn id(row: Option<&EventRow>) -> Option<&str> {
        row.map(|r| r.id.as_str())
    }

    #[test]
    fn status_prefix_stops_at_number_boundary() {
        assert!(status_matches("5.1.1 - user unknown", "5.1.1"));
        assert!(status_matches(" 5.1.1", "5.1.1"));
        assert!(!status_matches("5.1.10", "5.1.1"));
        assert!(status_matches("4.4.7 timeout", "4.4"));
        assert!(!status_matches("5.2.2", "5.1.1"));
    }

    #[test]
    fn pec_to_rem_most_specific_row_wins() {
        let t = tables();
        assert_eq!(
            id(t.pec_to_rem(
                "errore-consegna",
                Some("altro"),
                Some("5.1.1 - no such user"),
                false
            )),
            Some("errore-consegna-altro-5.1.1")
        );
        assert_eq!(
            id(t.pec_to_rem("errore-consegna", Some("altro"), Some("4.4.1"), false)),
            Some("errore-consegna-altro")
        );
        assert_eq!(
            id(t.pec_to_rem("errore-consegna", Some("altro"), None, false)),
            Some("errore-consegna-altro")
        );
        assert_eq!(
            id(t.pec_to_rem("errore-consegna", Some("no-dest"), Some("5.1.1"), false)),
            Some("errore-consegna-no-dest")
        );
        assert_eq!(
            id(t.pec_to_rem("accettazione", None, None, false)),
            Some("accettazione")
        );
        // A row for another kind never matches; an unknown kind finds nothing.
        assert_eq!(id(t.pec_to_rem("sconosciuto", None, None, false)), None);
    }

    #[test]
    fn an_errore_without_a_row_goes_through_the_kind_level_row() {
        let t = tables();
        // A non-accettazione with errore="nessuno" (or outside the DTD): the kind-level row.
        for errore in ["nessuno", "no-dest", "sconosciuto"] {
            let row = t.pec_to_rem("non-accettazione", Some(errore), None, false);
            assert_eq!(id(row), Some("non-accettazione-any"), "{errore}");
            let row = row.expect("row");
            assert_eq!(row.rem.event.as_deref(), Some("SubmissionRejection"));
            assert!(t.pec_errore_unmatched("non-accettazione", Some(errore), row));
        }
        let row = t.pec_to_rem("errore-consegna", Some("nessuno"), None, false);
        assert_eq!(id(row), Some("errore-consegna-any"));
        assert!(t.pec_errore_unmatched("errore-consegna", Some("nessuno"), row.expect("row")));
        // The rows of their own still win, and are not noted.
        let row = t.pec_to_rem("non-accettazione", Some("virus"), None, false);
        assert_eq!(id(row), Some("non-accettazione-virus"));
        assert!(!t.pec_errore_unmatched("non-accettazione", Some("virus"), row.expect("row")));
        // A kind whose rows never look at errore: only an errore other than nessuno is noted.
        let row = t
            .pec_to_rem("accettazione", Some("nessuno"), None, false)
            .expect("row");
        assert!(!t.pec_errore_unmatched("accettazione", Some("nessuno"), row));
        assert!(t.pec_errore_unmatched("accettazione", Some("altro"), row));
        assert!(!t.pec_errore_unmatched("accettazione", None, row));
    }

    #[test]
    fn pec_to_rem_final_notice() {
        let t = tables();
        assert_eq!(
            id(t.pec_to_rem("preavviso-errore-consegna", None, Some("5.4.1"), true)),
            Some("preavviso-errore-consegna-24h")
        );
        assert_eq!(
            id(t.pec_to_rem("preavviso-errore-consegna", None, Some("5.4.1"), false)),
            Some("preavviso-errore-consegna")
        );
    }

    #[test]
    fn rem_to_pec_exact_then_event_level() {
        let t = tables();
        let code = |c: &str| Reason::from_code(c).into_iter().collect::<Vec<_>>();
        assert_eq!(
            id(t.rem_to_pec(&Event::RelayFailure, &code("RB08"), "receipt")),
            Some("errore-consegna-no-dominio")
        );
        assert_eq!(
            id(t.rem_to_pec(&Event::RelayFailure, &code("RB07"), "receipt")),
            Some("relay-failure-any")
        );
        assert_eq!(
            id(t.rem_to_pec(&Event::RelayFailure, &[], "receipt")),
            Some("relay-failure-any")
        );
        assert_eq!(
            id(t.rem_to_pec(&Event::SubmissionAcceptance, &code("RA01"), "dispatch")),
            Some("busta-trasporto")
        );
        assert_eq!(
            id(t.rem_to_pec(&Event::SubmissionAcceptance, &code("RA01"), "receipt")),
            Some("accettazione")
        );
        // No event-level row for ContentConsignmentFailure: an unmapped reason finds nothing.
        assert_eq!(
            id(t.rem_to_pec(&Event::ContentConsignmentFailure, &code("RD02"), "receipt")),
            None
        );
        let unknown = Event::from_uri("urn:example:event");
        assert_eq!(id(t.rem_to_pec(&unknown, &[], "receipt")), None);
    }

    #[test]
    fn subject_prefixes_come_from_the_table() {
        let t = tables();
        assert_eq!(t.pec_subject_prefix("accettazione"), Some("ACCETTAZIONE: "));
        assert_eq!(t.pec_subject_prefix("nothing"), None);
    }
}
