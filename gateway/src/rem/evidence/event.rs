//! The 19 ERDS events of EN 319 522-1 Table 1 (clauses A.1 to F.3) and their URIs
//! (EN 319 522-3 Table 2), as an open enum.

use std::fmt;

/// The prefix of every event URI of EN 319 522-3 Table 2 (note: no `v1#`).
pub const EVENT_URI_PREFIX: &str = "http://uri.etsi.org/19522/Event/";

/// An event URI that is not one of the 19 of EN 319 522-1, carried as read.
///
/// It can only be made by [`Event::from_uri`], so it never holds a known URI: two events
/// compare equal exactly when their URIs are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownEventUri(String);

impl UnknownEventUri {
    /// The URI as read.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! events {
    ($( $clause:literal $variant:ident; )*) => {
        /// An ERDS event (`ERDSEventId`): one of the 19 of EN 319 522-1, or an unknown URI
        /// carried unchanged.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Event {
            $(
                #[doc = concat!("EN 319 522-1 ", $clause, ": `", stringify!($variant), "`.")]
                $variant,
            )*
            /// An event URI not defined by EN 319 522-1, kept as read.
            Unknown(UnknownEventUri),
        }

        /// The known events: variant, name, URI, clause letter of EN 319 522-1.
        const KNOWN: &[(Event, &str, &str, &str)] = &[
            $(
                (
                    Event::$variant,
                    stringify!($variant),
                    concat!("http://uri.etsi.org/19522/Event/", stringify!($variant)),
                    $clause,
                ),
            )*
        ];
    };
}

events! {
    "A.1" SubmissionAcceptance;
    "A.2" SubmissionRejection;
    "B.1" RelayAcceptance;
    "B.2" RelayRejection;
    "B.3" RelayFailure;
    "C.1" NotificationForAcceptance;
    "C.2" NotificationForAcceptanceFailure;
    "C.3" ConsignmentAcceptance;
    "C.4" ConsignmentRejection;
    "C.5" AcceptanceRejectionExpiry;
    "D.1" ContentConsignment;
    "D.2" ContentConsignmentFailure;
    "D.3" ConsignmentNotification;
    "D.4" ConsignmentNotificationFailure;
    "E.1" ContentHandover;
    "E.2" ContentHandoverFailure;
    "F.1" RelayToNonERDS;
    "F.2" RelayToNonERDSFailure;
    "F.3" ReceivedFromNonERDS;
}

impl Event {
    /// The 19 events of EN 319 522-1, in clause order.
    pub fn all() -> impl Iterator<Item = &'static Event> {
        KNOWN.iter().map(|(e, ..)| e)
    }

    /// The event named by `uri`; an unknown URI is carried as [`Event::Unknown`].
    ///
    /// The comparison is exact (URIs are case-sensitive); surrounding XML whitespace is the
    /// parser's business, not this function's.
    pub fn from_uri(uri: &str) -> Event {
        KNOWN
            .iter()
            .find(|(_, _, u, _)| *u == uri)
            .map(|(e, ..)| e.clone())
            .unwrap_or_else(|| Event::Unknown(UnknownEventUri(uri.to_owned())))
    }

    /// The known event with this name (e.g. `"RelayFailure"`), if any.
    pub fn from_name(name: &str) -> Option<Event> {
        KNOWN
            .iter()
            .find(|(_, n, _, _)| *n == name)
            .map(|(e, ..)| e.clone())
    }

    fn entry(&self) -> Option<&'static (Event, &'static str, &'static str, &'static str)> {
        KNOWN.iter().find(|(e, ..)| e == self)
    }

    /// The event URI (`http://uri.etsi.org/19522/Event/<Name>` for the known ones).
    pub fn uri(&self) -> &str {
        match self {
            Event::Unknown(u) => u.as_str(),
            known => known.entry().map(|(_, _, u, _)| *u).unwrap_or_default(),
        }
    }

    /// The event name of EN 319 522-1 (e.g. `"SubmissionAcceptance"`); for an unknown event,
    /// its whole URI.
    pub fn name(&self) -> &str {
        match self {
            Event::Unknown(u) => u.as_str(),
            known => known.entry().map(|(_, n, _, _)| *n).unwrap_or_default(),
        }
    }

    /// The clause of EN 319 522-1 Table 1 (`"A.1"` ... `"F.3"`); `None` for an unknown event.
    pub fn clause(&self) -> Option<&'static str> {
        self.entry().map(|(_, _, _, c)| *c)
    }

    /// Whether this is one of the 19 events of EN 319 522-1.
    pub fn is_known(&self) -> bool {
        !matches!(self, Event::Unknown(_))
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nineteen_events_with_distinct_uris_and_clauses() {
        let all: Vec<_> = Event::all().collect();
        assert_eq!(all.len(), 19);
        let mut uris: Vec<_> = all.iter().map(|e| e.uri()).collect();
        uris.sort_unstable();
        uris.dedup();
        assert_eq!(uris.len(), 19);
        for e in all {
            assert_eq!(e.uri(), format!("{EVENT_URI_PREFIX}{}", e.name()));
            assert_eq!(&Event::from_uri(e.uri()), e);
            assert!(e.clause().is_some());
        }
    }

    #[test]
    fn clause_letters() {
        assert_eq!(Event::SubmissionAcceptance.clause(), Some("A.1"));
        assert_eq!(Event::RelayFailure.clause(), Some("B.3"));
        assert_eq!(Event::ConsignmentNotificationFailure.clause(), Some("D.4"));
        assert_eq!(Event::ReceivedFromNonERDS.clause(), Some("F.3"));
        assert_eq!(
            Event::NotificationForAcceptanceFailure.uri(),
            "http://uri.etsi.org/19522/Event/NotificationForAcceptanceFailure"
        );
    }

    #[test]
    fn unknown_uri_is_carried() {
        let uri = "http://example.test/Event/Teleported";
        let e = Event::from_uri(uri);
        assert!(!e.is_known());
        assert_eq!(e.uri(), uri);
        assert_eq!(e.name(), uri);
        assert_eq!(e.clause(), None);
        // Case matters: a near miss is not the known event.
        assert!(!Event::from_uri("http://uri.etsi.org/19522/Event/relayfailure").is_known());
    }
}
