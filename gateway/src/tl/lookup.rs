//! The index of accepted lists and the questions the gateway asks it.
//!
//! A certificate is the digital identity of a service when it is one of the service's
//! `X509Certificate`s (same DER) or carries the same public key, in the current information
//! or in a `ServiceHistoryInstance`. For a time-stamping service the TSU certificate may
//! also be issued by the identity (a CA certificate), as TS 119 612 allows for QTST.
//! Subject names and SKIs alone never identify (anyone can copy them into a certificate).
//!
//! The status at an instant T is the one of the latest period (current or historical) whose
//! `StatusStartingTime` is at or before T: "granted at T" means that period is `granted` and
//! its service type is the one asked for.

use std::sync::Arc;

use time::OffsetDateTime;

use super::load::Loaded;
use super::model::{Provider, Service, ServiceStatus, ServiceType, StatusPeriod};
use crate::x509::{self, Certificate, Usage};

/// What kind of qualified service the caller asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// A qualified REM service (`.../Svctype/EDS/REM/Q`).
    QualifiedRem,
    /// A qualified time-stamping unit (`.../Svctype/TSA/QTST`).
    QualifiedTsa,
    /// Either (what `ponte trust check` asks).
    RemOrTsa,
}

impl Wanted {
    fn accepts(self, t: &ServiceType) -> bool {
        match self {
            Wanted::QualifiedRem => *t == ServiceType::QualifiedRem,
            Wanted::QualifiedTsa => *t == ServiceType::QualifiedTimestamp,
            Wanted::RemOrTsa => {
                *t == ServiceType::QualifiedRem || *t == ServiceType::QualifiedTimestamp
            }
        }
    }

    fn allows_issued(self) -> bool {
        !matches!(self, Wanted::QualifiedRem)
    }
}

/// How the certificate was tied to the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// It is one of the identity's certificates.
    Certificate,
    /// It has the public key of one of them.
    PublicKey,
    /// It is issued by one of them (time-stamping units only).
    IssuedBy,
}

impl Match {
    /// `certificate`, `public-key`, `issued-by`.
    pub fn as_str(self) -> &'static str {
        match self {
            Match::Certificate => "certificate",
            Match::PublicKey => "public-key",
            Match::IssuedBy => "issued-by",
        }
    }
}

/// Why a certificate is not a qualified service of the wanted kind at the instant.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotQualified {
    /// No accepted list has a service with this digital identity.
    NotListed,
    /// The service is listed but did not exist yet at the instant.
    NotYetListed {
        /// When its first status starts.
        first: OffsetDateTime,
    },
    /// The service's status at the instant is not granted.
    NotGranted {
        /// The status then.
        status: ServiceStatus,
    },
    /// The service is granted but of another type than asked.
    OtherType {
        /// Its type then.
        service_type: ServiceType,
    },
}

impl std::fmt::Display for NotQualified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotQualified::NotListed => {
                f.write_str("not the digital identity of any service of the trusted lists")
            }
            NotQualified::NotYetListed { first } => {
                write!(
                    f,
                    "the service's first status starts at {first}, after the instant"
                )
            }
            NotQualified::NotGranted { status } => {
                write!(
                    f,
                    "the service's status at the instant is {status}, not granted"
                )
            }
            NotQualified::OtherType { service_type } => {
                write!(
                    f,
                    "the service is of type {service_type}, not the type asked for"
                )
            }
        }
    }
}

/// The service a certificate was tied to, as it was at the instant asked about.
#[derive(Clone, Debug)]
pub struct ServiceInfo {
    /// The service type at the instant (the current one when the instant precedes the service).
    pub service_type: ServiceType,
    /// Its status at the instant (the current one when the instant precedes the service).
    pub status: ServiceStatus,
    /// Since when that status holds.
    pub status_since: OffsetDateTime,
    /// The service name.
    pub service_name: String,
    /// The trust service provider's name.
    pub tsp_name: String,
    /// The source of the list that says so (URL or file).
    pub list: String,
    /// That list's territory.
    pub territory: String,
    /// That list's sequence number.
    pub sequence: u64,
    /// Whether that list's signature was verified (false: unsigned lists allowed).
    pub list_verified: bool,
    /// The service's supply points.
    pub supply_points: Vec<String>,
    /// How the certificate was tied to it.
    pub matched: Match,
    /// The digital identity certificates of the service at the instant.
    pub identities: Vec<Certificate>,
}

impl ServiceInfo {
    /// `""`, or `" (list NOT verified)"` when the list that says so was accepted unsigned.
    pub fn unverified_mark(&self) -> &'static str {
        if self.list_verified {
            ""
        } else {
            " (list NOT verified)"
        }
    }
}

/// The answer about one certificate.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// `None`: qualified; else why not.
    pub not_qualified: Option<NotQualified>,
    /// The service it was tied to, when any.
    pub service: Option<ServiceInfo>,
    /// The instant judged.
    pub at: OffsetDateTime,
}

impl Verdict {
    /// Whether the certificate is a qualified service of the kind asked for at the instant.
    pub fn qualified(&self) -> bool {
        self.not_qualified.is_none()
    }

    /// This answer about `signer` as a chain verdict, the lists acting as anchors: trusted
    /// when qualified, the path ending in the service it is the digital identity of (`what`
    /// it is, e.g. "a granted qualified REM service"); else not trusted, the reason the
    /// lists give after `previous` (what the PEM anchors said, when they were asked).
    pub fn as_trust(
        &self,
        signer: &Certificate,
        what: &str,
        previous: Option<&str>,
    ) -> x509::TrustVerdict {
        match (&self.not_qualified, &self.service) {
            (None, Some(s)) => x509::TrustVerdict {
                trusted: true,
                reason: None,
                path: vec![
                    signer.subject.clone(),
                    format!(
                        "the digital identity ({}) of \"{}\" of \"{}\", {what} in {}{}",
                        s.matched.as_str(),
                        s.service_name,
                        s.tsp_name,
                        s.list,
                        s.unverified_mark()
                    ),
                ],
            },
            (why, _) => x509::TrustVerdict {
                trusted: false,
                reason: Some(format!(
                    "{}trusted lists: {}",
                    previous.map(|p| format!("{p}; ")).unwrap_or_default(),
                    why.as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| format!("not {what}"))
                )),
                path: Vec::new(),
            },
        }
    }

    /// Whether the answer rests on a list whose signature was not verified: the list that
    /// says so, or, when no service was found, any list loaded (`lists`).
    pub fn unverified(&self, lists: &TrustedLists) -> bool {
        self.service
            .as_ref()
            .map(|s| !s.list_verified)
            .unwrap_or_else(|| lists.has_unverified())
    }

    /// The JSON of the answer, as `ponte trust check --json` and every `trusted_list` object
    /// print it: `qualified`, `service_type`, `status`, `status_since`, `service_name`,
    /// `tsp_name`, `list`, `list_territory`, `list_sequence`, `list_verified`,
    /// `supply_points`, `matched_by`, `at`, `reason`, `unsigned_lists` (`unverified`) and
    /// `warnings`.
    pub fn to_json(&self, unverified: bool) -> serde_json::Value {
        let rfc3339 = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        let s = self.service.as_ref();
        let mut warnings = Vec::new();
        if unverified {
            warnings.push(
                "answered from a trusted list whose signature was NOT verified (unsigned lists allowed: tests only)"
                    .to_owned(),
            );
        }
        serde_json::json!({
            "qualified": self.qualified(),
            "service_type": s.map(|s| s.service_type.uri().to_owned()),
            "status": s.map(|s| s.status.uri().to_owned()),
            "status_since": s.map(|s| rfc3339(s.status_since)),
            "service_name": s.map(|s| s.service_name.clone()),
            "tsp_name": s.map(|s| s.tsp_name.clone()),
            "list": s.map(|s| s.list.clone()),
            "list_territory": s.map(|s| s.territory.clone()),
            "list_sequence": s.map(|s| s.sequence),
            "list_verified": s.map(|s| s.list_verified),
            "supply_points": s.map(|s| s.supply_points.clone()).unwrap_or_default(),
            "matched_by": s.map(|s| s.matched.as_str()),
            "at": rfc3339(self.at),
            "reason": self.not_qualified.as_ref().map(ToString::to_string),
            "unsigned_lists": unverified,
            "warnings": warnings,
        })
    }
}

/// The accepted lists. Cheap to clone; immutable (a refresh makes a new one).
#[derive(Clone, Debug, Default)]
pub struct TrustedLists {
    lists: Arc<Vec<Loaded>>,
}

fn tie(
    cert: &Certificate,
    period: &StatusPeriod,
    issued: bool,
    at: OffsetDateTime,
) -> Option<Match> {
    for id in &period.identity.certificates {
        if id.der() == cert.der() {
            return Some(Match::Certificate);
        }
        if id.spki_der == cert.spki_der {
            return Some(Match::PublicKey);
        }
    }
    if issued {
        for id in &period.identity.certificates {
            if id.subject_der == cert.issuer_der
                && x509::verify_chain(cert, &[], std::slice::from_ref(id), at, Usage::Any).trusted
            {
                return Some(Match::IssuedBy);
            }
        }
    }
    None
}

fn rank(n: &Option<NotQualified>) -> u8 {
    match n {
        None => 0,
        Some(NotQualified::OtherType { .. }) => 2,
        Some(NotQualified::NotGranted { .. }) => 1,
        Some(NotQualified::NotYetListed { .. }) => 3,
        Some(NotQualified::NotListed) => 4,
    }
}

impl TrustedLists {
    pub(crate) fn new(lists: Vec<Loaded>) -> Self {
        TrustedLists {
            lists: Arc::new(lists),
        }
    }

    /// The accepted lists.
    pub fn lists(&self) -> &[Loaded] {
        &self.lists
    }

    /// Whether no list is loaded.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// Whether some accepted list is not verified (unsigned lists allowed).
    pub fn has_unverified(&self) -> bool {
        self.lists.iter().any(|l| !l.trust.is_verified())
    }

    fn services(&self) -> impl Iterator<Item = (&Loaded, &Provider, &Service)> {
        self.lists.iter().flat_map(|l| {
            l.list
                .providers
                .iter()
                .flat_map(move |p| p.services.iter().map(move |s| (l, p, s)))
        })
    }

    fn info(l: &Loaded, p: &Provider, s: &Service, at: OffsetDateTime, m: Match) -> ServiceInfo {
        let period = s.period_at(at).unwrap_or(&s.current);
        ServiceInfo {
            service_type: period.service_type.clone(),
            status: period.status.clone(),
            status_since: period.from,
            service_name: period.name.clone(),
            tsp_name: p.name.clone(),
            list: l.source.clone(),
            territory: l.list.territory.clone(),
            sequence: l.list.sequence,
            list_verified: l.trust.is_verified(),
            supply_points: s.supply_points.clone(),
            matched: m,
            identities: period.identity.certificates.clone(),
        }
    }

    fn judge(s: &Service, at: OffsetDateTime, wanted: Wanted) -> Option<NotQualified> {
        let Some(period) = s.period_at(at) else {
            let first = s.timeline().first().map(|p| p.from).unwrap_or(at);
            return Some(NotQualified::NotYetListed { first });
        };
        if period.status != ServiceStatus::Granted {
            Some(NotQualified::NotGranted {
                status: period.status.clone(),
            })
        } else if !wanted.accepts(&period.service_type) {
            Some(NotQualified::OtherType {
                service_type: period.service_type.clone(),
            })
        } else {
            None
        }
    }

    /// Whether `cert` is the digital identity of a granted service of the `wanted` kind at
    /// `at`. The best explanation is returned when it is not.
    pub fn check(&self, cert: &Certificate, at: OffsetDateTime, wanted: Wanted) -> Verdict {
        let mut best: Option<(Option<NotQualified>, ServiceInfo)> = None;
        for (l, p, s) in self.services() {
            let m = s
                .timeline()
                .into_iter()
                .find_map(|period| tie(cert, period, wanted.allows_issued(), at));
            let Some(m) = m else { continue };
            let verdict = Self::judge(s, at, wanted);
            let better = match &best {
                None => true,
                Some((b, bi)) => {
                    rank(&verdict) < rank(b)
                        || (rank(&verdict) == rank(b)
                            && bi.matched != Match::Certificate
                            && m == Match::Certificate)
                }
            };
            if better {
                best = Some((verdict, Self::info(l, p, s, at, m)));
            }
        }
        match best {
            Some((not_qualified, info)) => Verdict {
                not_qualified,
                service: Some(info),
                at,
            },
            None => Verdict {
                not_qualified: Some(NotQualified::NotListed),
                service: None,
                at,
            },
        }
    }

    /// [`Self::check`] for a qualified REM service, from a DER certificate (an unreadable
    /// certificate is not listed).
    pub fn qualified_rem_service(&self, cert_der: &[u8], at: OffsetDateTime) -> Verdict {
        match Certificate::from_der(cert_der) {
            Ok(c) => self.check(&c, at, Wanted::QualifiedRem),
            Err(_) => Verdict {
                not_qualified: Some(NotQualified::NotListed),
                service: None,
                at,
            },
        }
    }

    /// [`Self::check`] for a qualified time-stamping unit.
    pub fn qualified_tsu(&self, cert_der: &[u8], at: OffsetDateTime) -> Verdict {
        match Certificate::from_der(cert_der) {
            Ok(c) => self.check(&c, at, Wanted::QualifiedTsa),
            Err(_) => Verdict {
                not_qualified: Some(NotQualified::NotListed),
                service: None,
                at,
            },
        }
    }

    /// Every REM service (any type, any status) with an `smtp:` supply point on `host`
    /// (case-insensitive, trailing dot ignored), judged at `at` as a qualified REM service.
    pub fn supply_points_for(&self, host: &str, at: OffsetDateTime) -> Vec<Verdict> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let mut out: Vec<Verdict> = self
            .services()
            .filter(|(_, _, s)| s.smtp_hosts().contains(&host))
            .map(|(l, p, s)| Verdict {
                not_qualified: Self::judge(s, at, Wanted::QualifiedRem),
                service: Some(Self::info(l, p, s, at, Match::Certificate)),
                at,
            })
            .collect();
        out.sort_by_key(|v| rank(&v.not_qualified));
        out
    }

    /// The digital identity certificates of every qualified REM service granted at `at`: the
    /// certificates whose signatures on REM messages and evidence are trusted then.
    pub fn rem_identities_at(&self, at: OffsetDateTime) -> Vec<Certificate> {
        let mut out: Vec<Certificate> = Vec::new();
        for (_, _, s) in self.services() {
            if Self::judge(s, at, Wanted::QualifiedRem).is_none()
                && let Some(p) = s.period_at(at)
            {
                for c in &p.identity.certificates {
                    if !out.iter().any(|o| o.der() == c.der()) {
                        out.push(c.clone());
                    }
                }
            }
        }
        out
    }
}
