//! The typed model of a trusted list (ETSI TS 119 612 v2): what Ponte reads from a
//! `TrustServiceStatusList`. Wire values (list types, service types, statuses) are open: an
//! unknown URI is carried as it is.

use time::OffsetDateTime;

use crate::x509::Certificate;

/// A URI-valued field of the list, open: the known ones have a variant, any other is kept.
macro_rules! open_uri {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident => $uri:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $var,)*
            /// Another URI, as written in the list.
            Other(String),
        }

        impl $name {
            /// The value named by `uri`.
            pub fn from_uri(uri: &str) -> Self {
                match uri.trim() {
                    $($uri => Self::$var,)*
                    other => Self::Other(other.to_owned()),
                }
            }

            /// The URI.
            pub fn uri(&self) -> &str {
                match self {
                    $(Self::$var => $uri,)*
                    Self::Other(u) => u,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.uri())
            }
        }
    };
}

open_uri!(
    /// `TSLType` (TS 119 612 §5.3.3).
    TslType {
        /// An EU member state's trusted list.
        EuGeneric => "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric",
        /// The EU list of the lists (LOTL).
        EuListOfTheLists => "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUlistofthelists",
    }
);

impl TslType {
    /// Whether the list points at other lists (a list of lists, EU or not).
    pub fn is_list_of_lists(&self) -> bool {
        match self {
            TslType::EuListOfTheLists => true,
            TslType::EuGeneric => false,
            TslType::Other(u) => u.to_ascii_lowercase().ends_with("listofthelists"),
        }
    }
}

open_uri!(
    /// `ServiceTypeIdentifier` (TS 119 612 §5.5.1; EN 319 532-4 Table C.3).
    ServiceType {
        /// A qualified electronic registered mail delivery service (EN 319 532-4 b.2.2.1).
        QualifiedRem => "http://uri.etsi.org/TrstSvc/Svctype/EDS/REM/Q",
        /// A (non-qualified) REM service.
        Rem => "http://uri.etsi.org/TrstSvc/Svctype/EDS/REM",
        /// A qualified electronic registered delivery service.
        QualifiedErds => "http://uri.etsi.org/TrstSvc/Svctype/EDS/Q",
        /// A (non-qualified) electronic registered delivery service.
        Erds => "http://uri.etsi.org/TrstSvc/Svctype/EDS",
        /// A qualified electronic time-stamp service.
        QualifiedTimestamp => "http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST",
        /// A (non-qualified) time-stamp service.
        Timestamp => "http://uri.etsi.org/TrstSvc/Svctype/TSA",
        /// A CA issuing qualified certificates.
        QualifiedCa => "http://uri.etsi.org/TrstSvc/Svctype/CA/QC",
    }
);

open_uri!(
    /// `ServiceStatus` (TS 119 612 §5.5.4).
    ServiceStatus {
        /// Granted (qualified status given by the supervisory body).
        Granted => "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted",
        /// Withdrawn.
        Withdrawn => "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/withdrawn",
        /// Recognised at national level.
        RecognisedAtNationalLevel => "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/recognisedatnationallevel",
        /// Deprecated at national level.
        DeprecatedAtNationalLevel => "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/deprecatedatnationallevel",
    }
);

/// A `ServiceDigitalIdentity`: the certificates, subject names and key identifiers that
/// identify a service (TS 119 612 §5.5.3).
#[derive(Clone, Debug, Default)]
pub struct DigitalIdentity {
    /// The `X509Certificate` values that read as certificates.
    pub certificates: Vec<Certificate>,
    /// `X509Certificate` values that do not (base64 or DER unreadable): the reason.
    pub unreadable: Vec<String>,
    /// `X509SubjectName` values, as written.
    pub subject_names: Vec<String>,
    /// `X509SKI` values, decoded.
    pub skis: Vec<Vec<u8>>,
}

impl DigitalIdentity {
    /// Whether nothing usable identifies the service.
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty() && self.skis.is_empty()
    }
}

/// A status of a service from a given instant: the current one (`ServiceInformation`) or one
/// of `ServiceHistory`.
#[derive(Clone, Debug)]
pub struct StatusPeriod {
    /// The service type during that period.
    pub service_type: ServiceType,
    /// The service name during that period.
    pub name: String,
    /// The status.
    pub status: ServiceStatus,
    /// `StatusStartingTime`.
    pub from: OffsetDateTime,
    /// The digital identity during that period.
    pub identity: DigitalIdentity,
}

/// A `TSPService`.
#[derive(Clone, Debug)]
pub struct Service {
    /// The current information.
    pub current: StatusPeriod,
    /// `ServiceSupplyPoints`, as written (e.g. `smtp:mx.example.rem:25`, an https CSI URL).
    pub supply_points: Vec<String>,
    /// `ServiceHistory` instances, as listed.
    pub history: Vec<StatusPeriod>,
}

impl Service {
    /// Every period, current and historical, oldest first.
    pub fn timeline(&self) -> Vec<&StatusPeriod> {
        let mut all: Vec<&StatusPeriod> = std::iter::once(&self.current)
            .chain(self.history.iter())
            .collect();
        all.sort_by_key(|p| p.from);
        all
    }

    /// The period in force at `at` (the latest that started at or before `at`), if any.
    pub fn period_at(&self, at: OffsetDateTime) -> Option<&StatusPeriod> {
        self.timeline().into_iter().rev().find(|p| p.from <= at)
    }

    /// The host names of the `smtp:` / `smtp://` supply points (lower case).
    pub fn smtp_hosts(&self) -> Vec<String> {
        self.supply_points
            .iter()
            .filter_map(|s| smtp_host(s))
            .collect()
    }

    /// The `https://` (or `http://`) supply points: where the capability document is.
    pub fn http_supply_points(&self) -> Vec<&str> {
        self.supply_points
            .iter()
            .map(String::as_str)
            .filter(|s| {
                let l = s.to_ascii_lowercase();
                l.starts_with("https://") || l.starts_with("http://")
            })
            .collect()
    }
}

/// The host of an `smtp:host[:port]` or `smtp://host[:port]` supply point (EN 319 532-4
/// b.2.4.2), lower case, without a trailing dot.
pub fn smtp_host(supply_point: &str) -> Option<String> {
    let s = supply_point.trim();
    let (scheme, rest) = s.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("smtp") {
        return None;
    }
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let host = match rest.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => rest,
    };
    let host = host.trim_end_matches('/').trim_end_matches('.');
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// A `TrustServiceProvider`.
#[derive(Clone, Debug)]
pub struct Provider {
    /// `TSPName`, the English form when there is one (else the first).
    pub name: String,
    /// `TSPTradeName` values.
    pub trade_names: Vec<String>,
    /// Its services.
    pub services: Vec<Service>,
}

/// An `OtherTSLPointer`: where another list is and who signs it.
#[derive(Clone, Debug)]
pub struct Pointer {
    /// `TSLLocation`.
    pub location: String,
    /// `AdditionalInformation/OtherInformation/TSLType`.
    pub tsl_type: Option<TslType>,
    /// `SchemeTerritory` of the pointed list.
    pub territory: Option<String>,
    /// `MimeType` (additional types namespace), e.g. `application/vnd.etsi.tsl+xml`.
    pub mime_type: Option<String>,
    /// The keys allowed to sign the pointed list.
    pub signers: DigitalIdentity,
}

impl Pointer {
    /// Whether the pointed list is XML (by MIME type, else by the location's extension).
    pub fn is_xml(&self) -> bool {
        match &self.mime_type {
            Some(m) => m.to_ascii_lowercase().contains("xml"),
            None => self.location.to_ascii_lowercase().ends_with(".xml"),
        }
    }
}

/// A trusted list.
#[derive(Clone, Debug)]
pub struct TrustedList {
    /// `TSLSequenceNumber`.
    pub sequence: u64,
    /// `TSLType`.
    pub tsl_type: TslType,
    /// `SchemeOperatorName` (English when present).
    pub operator: String,
    /// `SchemeTerritory`.
    pub territory: String,
    /// `ListIssueDateTime`.
    pub issued: OffsetDateTime,
    /// `NextUpdate/dateTime` (absent when the list is closed).
    pub next_update: Option<OffsetDateTime>,
    /// `PointersToOtherTSL`.
    pub pointers: Vec<Pointer>,
    /// `DistributionPoints`.
    pub distribution_points: Vec<String>,
    /// `TrustServiceProviderList`.
    pub providers: Vec<Provider>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_supply_points() {
        assert_eq!(
            smtp_host("smtp:mx.sa-rems.rem:25").as_deref(),
            Some("mx.sa-rems.rem")
        );
        assert_eq!(
            smtp_host("smtp://MX.Example.rem").as_deref(),
            Some("mx.example.rem")
        );
        assert_eq!(
            smtp_host("smtp://mx.example.rem.:2525").as_deref(),
            Some("mx.example.rem")
        );
        assert_eq!(smtp_host("https://x/csi.xml"), None);
        assert_eq!(smtp_host("smtp:"), None);
    }

    #[test]
    fn open_values_keep_unknown_uris() {
        assert_eq!(
            ServiceType::from_uri("http://uri.etsi.org/TrstSvc/Svctype/EDS/REM/Q"),
            ServiceType::QualifiedRem
        );
        let other = ServiceType::from_uri("http://example.test/x");
        assert_eq!(other.uri(), "http://example.test/x");
        assert!(TslType::from_uri("http://x/TSLType/CClistofthelists").is_list_of_lists());
        assert!(!TslType::EuGeneric.is_list_of_lists());
    }
}
