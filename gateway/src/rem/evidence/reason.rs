//! Event reason codes: EN 319 522-2 cl. 8.3.3 with the URIs of EN 319 522-3 Table 3, the REM
//! baseline additions of EN 319 532-4 Table C.28 (RB21, RB22, RD21) and the Italian Policy-IT
//! additions of the AgID kit (RA51, RF51), as an open enum.
//!
//! On the wire a reason is an `EventReason` with `Code` = the reason URI and any number of
//! `Details`; the REM baseline (EN 319 532-4 C.3.4 d) puts the short code (`RA01`) in the
//! first `Details` and an English text in the second. [`EventReason`] reads that convention.

use std::fmt;

/// The prefix of every reason URI of EN 319 522-3 Table 3.
pub const REASON_URI_PREFIX: &str = "http://uri.etsi.org/19522/EventReason/";

/// A reason URI that is not in the tables, carried as read.
///
/// It can only be made by [`Reason::from_uri`], so it never holds a known URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownReasonUri(String);

impl UnknownReasonUri {
    /// The URI as read.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a reason code is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReasonSource {
    /// EN 319 522-2 cl. 8.3.3 / EN 319 522-3 Table 3.
    Erds,
    /// REM baseline, EN 319 532-4 Table C.28.
    RemBaseline,
    /// AgID REM Services Policy-IT (the Italian profile's example kit).
    PolicyIt,
}

macro_rules! reasons {
    ($( $code:literal $variant:ident $segment:literal $source:ident $meaning:literal; )*) => {
        /// An event reason (`EventReason/Code`): a known code of the tables, the generic
        /// `Other`, or an unknown URI carried unchanged.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Reason {
            $(
                #[doc = concat!("`", $code, "` (`", $segment, "`): ", $meaning, ".")]
                $variant,
            )*
            /// `http://uri.etsi.org/19522/EventReason/Other`: a reason the tables do not name
            /// (EN 319 522-2 code `xXX`); it has no short code.
            Other,
            /// A reason URI not defined by the tables, kept as read.
            Unknown(UnknownReasonUri),
        }

        /// Known reasons: variant, short code, URI, source, meaning.
        const KNOWN: &[(Reason, &str, &str, ReasonSource, &str)] = &[
            $(
                (
                    Reason::$variant,
                    $code,
                    concat!("http://uri.etsi.org/19522/EventReason/", $segment),
                    ReasonSource::$source,
                    $meaning,
                ),
            )*
        ];
    };
}

reasons! {
    "RA01" MessageAccepted "MessageAccepted" Erds "message accepted";
    "RA02" InvalidMessageFormat "InvalidMessageFormat" Erds "invalid message format";
    "RA03" MalwareFound "MalwareFound" Erds "malware found in the original message";
    "RA04" SenderSigningCertExpiredOrRevoked "SenderSigningCertExpiredOrRevoked" Erds "sender's signing certificate expired or revoked";
    "RA05" SErdsPolicyViolation "S_ERDS_PolicyViolation" Erds "sender's ERDS policy violation";
    "RA51" SErdsMalfunction "S_ERDS_Malfunction" PolicyIt "sender's ERDSP malfunction";
    "RB01" SErdsMessageSuccessfullyRelayed "S_ERDS_MessageSuccessfullyRelayed" Erds "message successfully relayed";
    "RB02" RErdsMessageRejected "R_ERDS_MessageRejected" Erds "rejected by the recipient's ERDS: invalid format";
    "RB03" RErdsMessageRejectedForMalware "R_ERDS_MessageRejectedForMalware" Erds "rejected by the recipient's ERDS: malware";
    "RB04" RErdsMessageRejectedForInvalidSignature "R_ERDS_MessageRejectedForInvalidSignature" Erds "rejected by the recipient's ERDS: invalid ERDS signature or signature policy";
    "RB05" RErdsMessageRejectedForInvalidCertificate "R_ERDS_MessageRejectedForInvalidCertificate" Erds "rejected by the recipient's ERDS: ERDS certificate expired or revoked";
    "RB06" RErdsPolicyViolation "R_ERDS_PolicyViolation" Erds "rejected by the recipient's ERDS: policy violation";
    "RB07" RErdsMalfunction "R_ERDS_Malfunction" Erds "not relayed: recipient's ERDS malfunction";
    "RB08" RErdsNotIdentified "R_ERDS_NotIdentified" Erds "not relayed: recipient's ERDS not identified";
    "RB09" RErdsUnreachable "R_ERDS_Unreachable" Erds "not relayed: recipient's ERDS unreachable";
    "RB10" UnknownRecipient "UnknownRecipient" Erds "not relayed: unknown recipient";
    "RB21" MessageNotAcceptedForUnregisteredRecipient "MessageNotAcceptedForUnregisteredRecipient" RemBaseline "recipient not registered at the recipient's REMS";
    "RB22" SErdspReceivedNoRelayAcceptanceInfoFromRErdsp "S_ERDSP_ReceivedNoRelayAcceptanceInfoFromR_ERDSP" RemBaseline "no relay acceptance information received in time";
    "RC01" NotificationForAcceptanceSent "NotificationForAcceptanceSent" Erds "notification for acceptance sent";
    "RC02" SubsequentNotificationForAcceptanceSent "SubsequentNotificationForAcceptanceSent" Erds "subsequent notification for acceptance sent";
    "RC03" NotificationForAcceptanceError "NotificationForAcceptenceError" Erds "notification for acceptance error (the URI keeps the standard's spelling `Acceptence`)";
    "RC04" SubsequentNotificationForAcceptanceError "SubsequentNotificationForAcceptanceError" Erds "subsequent notification for acceptance error";
    "RC05" NotificationForAcceptanceMultipleError "NotificationForAcceptanceMultipleError" Erds "notification for acceptance: multiple errors";
    "RC06" SubsequentNotificationForAcceptanceMultipleError "SubsequentNotificationForAcceptanceMultipleError" Erds "subsequent notification for acceptance: multiple errors";
    "RC07" MessageAcceptedByRecipient "MessageAcceptedByRecipient" Erds "message accepted by the recipient";
    "RC08" MessageRejectedByRecipient "MessageRejectedByRecipient" Erds "message rejected by the recipient";
    "RC09" MessageNotAcceptedInTimeByRecipient "MessageNotAcceptedInTimeByRecipient" Erds "message not accepted in time by the recipient";
    "RD01" MessageConsignedToRecipient "MessageConsignedToRecipient" Erds "message consigned to the recipient";
    "RD02" MessageConsignedToDelegate "MessageConsignedToDelegate" Erds "message consigned to a delegate";
    "RD03" SErdspReceivedNoDeliveryInfoFromRErdsp "S_ERDSP_ReceivedNoDeliveryInfoFromR_ERDSP" Erds "no consignment information received in time";
    "RD04" MessageNotConsignedForQuota "MessageNotConsignedForQuota" Erds "not consigned: recipient quota";
    "RD05" MessageNotConsignedForMalfunction "MessageNotConsignedForMalfunction" Erds "not consigned: technical malfunction";
    "RD06" MessageNotConsignedForUnallowedType "MessageNotConsignedForUnallowedType" Erds "not consigned: type not accepted by the recipient";
    "RD21" MessageNotConsignedForUnregisteredRecipient "MessageNotConsignedForUnregisteredRecipient" RemBaseline "not consigned: recipient not registered";
    "RE01" MessageHandedOver "MessageHandedOver" Erds "message handed over";
    "RE02" MessageHandedOverToDelegate "MessageHandedOverToDelegate" Erds "message handed over to a delegate";
    "RE03" MessageNotHandedOverForUnallowedType "MessageNotHandedOverForUnallowedType" Erds "not handed over: type not allowed";
    "RE04" MessageHandoverTimeout "MessageHandoverTimeout" Erds "handover timed out";
    "RF01" MessageRelayedToNonERDS "MessageRelayedToNonERDS" Erds "message relayed to a non-ERDS system";
    "RF02" ExternalSystemUnreachable "ExternalSystemUnreachable" Erds "external system unreachable";
    "RF03" MessageRejectedByExternalSystem "MessageRejectedByExternalSystem" Erds "message rejected by the external system";
    "RF04" MessageReceivedFromNonERDS "MessageReceivedFromNonERDS" Erds "message received from a non-ERDS system";
    "RF51" RelayToNonERDSNotAllowed "RelayToNonERDSNotAllowed" PolicyIt "relay to non-ERDS not allowed by configuration";
}

/// The URI of [`Reason::Other`].
const OTHER_URI: &str = "http://uri.etsi.org/19522/EventReason/Other";

impl Reason {
    /// Every reason with a short code (RA01 ... RF51), in table order; `Other` is not listed.
    pub fn all() -> impl Iterator<Item = &'static Reason> {
        KNOWN.iter().map(|(r, ..)| r)
    }

    /// The reason named by `uri`; an unknown URI is carried as [`Reason::Unknown`].
    pub fn from_uri(uri: &str) -> Reason {
        if uri == OTHER_URI {
            return Reason::Other;
        }
        KNOWN
            .iter()
            .find(|(_, _, u, _, _)| *u == uri)
            .map(|(r, ..)| r.clone())
            .unwrap_or_else(|| Reason::Unknown(UnknownReasonUri(uri.to_owned())))
    }

    /// The known reason with this short code (e.g. `"RB05"`), if any.
    pub fn from_code(code: &str) -> Option<Reason> {
        KNOWN
            .iter()
            .find(|(_, c, ..)| *c == code)
            .map(|(r, ..)| r.clone())
    }

    fn entry(
        &self,
    ) -> Option<&'static (
        Reason,
        &'static str,
        &'static str,
        ReasonSource,
        &'static str,
    )> {
        KNOWN.iter().find(|(r, ..)| r == self)
    }

    /// The reason URI.
    pub fn uri(&self) -> &str {
        match self {
            Reason::Other => OTHER_URI,
            Reason::Unknown(u) => u.as_str(),
            known => known.entry().map(|(_, _, u, _, _)| *u).unwrap_or_default(),
        }
    }

    /// The short code (`"RA01"`); `None` for `Other` and unknown reasons.
    pub fn code(&self) -> Option<&'static str> {
        self.entry().map(|(_, c, ..)| *c)
    }

    /// Where the code is defined; `None` for `Other` and unknown reasons.
    pub fn source(&self) -> Option<ReasonSource> {
        self.entry().map(|(_, _, _, s, _)| *s)
    }

    /// A short English meaning from the tables (not the evidence's own text); `None` for
    /// `Other` and unknown reasons.
    pub fn meaning(&self) -> Option<&'static str> {
        self.entry().map(|(_, _, _, _, m)| *m)
    }

    /// Whether the URI is one of the tables (including `Other`).
    pub fn is_known(&self) -> bool {
        !matches!(self, Reason::Unknown(_))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code() {
            Some(c) => f.write_str(c),
            None => f.write_str(self.uri()),
        }
    }
}

/// Whether `s` has the shape of a short reason code: two upper-case letters, two digits
/// (`RA01`; the standard's generic form is `xXX`).
pub fn looks_like_short_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 4
        && b.iter().take(2).all(u8::is_ascii_uppercase)
        && b.iter().skip(2).all(u8::is_ascii_digit)
}

/// One `EventReason` of an evidence: the reason (`Code`) and its `Details`, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReason {
    /// The reason named by `Code`.
    pub reason: Reason,
    /// The `Details` elements, in order, as read (REM baseline: `[0]` short code, `[1]` text).
    pub details: Vec<String>,
}

impl EventReason {
    /// A reason written the REM baseline way: `Details` = the short code (when the reason has
    /// one) and then `text`.
    pub fn baseline(reason: Reason, text: impl Into<String>) -> EventReason {
        let mut details = Vec::with_capacity(2);
        if let Some(code) = reason.code() {
            details.push(code.to_owned());
        }
        details.push(text.into());
        EventReason { reason, details }
    }

    /// The reason URI (`Code`).
    pub fn uri(&self) -> &str {
        self.reason.uri()
    }

    /// The short code the evidence declares in its first `Details` when that has the shape of a
    /// code (`RA01`), else `None`.
    pub fn declared_code(&self) -> Option<&str> {
        self.details
            .first()
            .map(String::as_str)
            .filter(|d| looks_like_short_code(d))
    }

    /// The short code: the table's code for a known URI, else the code the evidence declares
    /// in its first `Details`, else `None`.
    pub fn code(&self) -> Option<&str> {
        self.reason.code().or_else(|| self.declared_code())
    }

    /// Whether the declared short code (if any) agrees with the table's code for the URI.
    /// A mismatch (`Code` says RB05, `Details` says RB06) means the issuer wrote an
    /// inconsistent evidence; the URI is what counts.
    pub fn code_is_consistent(&self) -> bool {
        match (self.reason.code(), self.declared_code()) {
            (Some(table), Some(declared)) => table == declared,
            _ => true,
        }
    }

    /// The human-readable text: the first `Details` after the short code (or the first one
    /// when there is no short code), as written by the issuer.
    pub fn text(&self) -> Option<&str> {
        let skip = usize::from(self.declared_code().is_some());
        self.details.get(skip).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_families_and_profile_additions_are_present() {
        let codes: Vec<_> = Reason::all().filter_map(Reason::code).collect();
        for family in ["RA", "RB", "RC", "RD", "RE", "RF"] {
            assert!(codes.iter().any(|c| c.starts_with(family)), "{family}");
        }
        for c in ["RB21", "RB22", "RD21"] {
            assert_eq!(
                Reason::from_code(c).and_then(|r| r.source()),
                Some(ReasonSource::RemBaseline),
                "{c}"
            );
        }
        for c in ["RA51", "RF51"] {
            assert_eq!(
                Reason::from_code(c).and_then(|r| r.source()),
                Some(ReasonSource::PolicyIt),
                "{c}"
            );
        }
        let mut uniq = codes.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), codes.len());
        assert_eq!(codes.len(), 43);
        for r in Reason::all() {
            assert_eq!(&Reason::from_uri(r.uri()), r);
            assert!(r.uri().starts_with(REASON_URI_PREFIX));
        }
    }

    #[test]
    fn spelling_of_the_standard_is_kept() {
        assert_eq!(
            Reason::NotificationForAcceptanceError.uri(),
            "http://uri.etsi.org/19522/EventReason/NotificationForAcceptenceError"
        );
        assert_eq!(
            Reason::from_uri(
                "http://uri.etsi.org/19522/EventReason/S_ERDSP_ReceivedNoRelayAcceptanceInfoFromR_ERDSP"
            ),
            Reason::SErdspReceivedNoRelayAcceptanceInfoFromRErdsp
        );
    }

    #[test]
    fn other_and_unknown() {
        let other = Reason::from_uri("http://uri.etsi.org/19522/EventReason/Other");
        assert_eq!(other, Reason::Other);
        assert_eq!(other.code(), None);
        assert!(other.is_known());
        let unknown = Reason::from_uri("urn:example:reason:solar-flare");
        assert!(!unknown.is_known());
        assert_eq!(unknown.uri(), "urn:example:reason:solar-flare");
    }

    #[test]
    fn baseline_details_convention() {
        let r = EventReason::baseline(Reason::RErdsUnreachable, "unreachable");
        assert_eq!(r.details, ["RB09", "unreachable"]);
        assert_eq!(r.code(), Some("RB09"));
        assert_eq!(r.text(), Some("unreachable"));
        assert!(r.code_is_consistent());

        let unknown = EventReason {
            reason: Reason::from_uri("urn:x:y"),
            details: vec!["ZZ99".into(), "zapped".into()],
        };
        assert_eq!(unknown.code(), Some("ZZ99"));
        assert_eq!(unknown.text(), Some("zapped"));

        let text_only = EventReason {
            reason: Reason::MessageAccepted,
            details: vec!["fine".into()],
        };
        assert_eq!(text_only.code(), Some("RA01"));
        assert_eq!(text_only.text(), Some("fine"));

        let liar = EventReason {
            reason: Reason::RErdsMessageRejectedForInvalidCertificate,
            details: vec!["RB06".into()],
        };
        assert!(!liar.code_is_consistent());
        assert_eq!(liar.code(), Some("RB05"));
        assert_eq!(liar.text(), None);
    }
}
