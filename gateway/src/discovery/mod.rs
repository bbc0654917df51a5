//! Finding and trusting a recipient domain's REM provider as EN 319 532-4 says (C.2.3.3.3
//! pre-relay validation, C.2.3.4 capabilities): MX records → the service whose `smtp:`
//! `ServiceSupplyPoint` is an MX host → its status at T in the trusted lists → its capability
//! and security information document.
//!
//! [`discover`] is what the gateway calls for a REM recipient without a static route; the
//! [`TrustStore`] holds the lists the gateway answers from and refreshes them. Both are used by
//! `ponte trust show` and `ponte trust sync` as well.

use std::sync::RwLock;

use time::OffsetDateTime;

use crate::fetch::{Fetcher, Mx, Resolver};
use crate::rem::csi::{self, CsiVerdict};
use crate::tl::{self, LoadMode, LoadReport, NotQualified, Sources, TrustedLists, Verdict};

/// Why a domain has no trusted REM peer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The MX look-up failed.
    Dns(String),
    /// The domain has no MX record, and no address that would make it its own (implicit) MX.
    NoMx,
    /// No MX host is a supply point of any service of the lists.
    NotASupplyPoint,
    /// The services found are not granted qualified REM services at the instant (the verdict
    /// of the preferred MX host).
    NotQualified(NotQualified),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Dns(e) => write!(f, "MX look-up failed: {e}"),
            Refusal::NoMx => f.write_str("the domain has no MX record and no address (A/AAAA)"),
            Refusal::NotASupplyPoint => f.write_str(
                "no MX host is a ServiceSupplyPoint of any service of the trusted lists",
            ),
            Refusal::NotQualified(n) => {
                write!(f, "no MX host is a granted qualified REM service: {n}")
            }
        }
    }
}

/// A capability document fetched from a supply point.
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// Where it was fetched.
    pub url: String,
    /// The verdict, or why it could not be fetched or read.
    pub verdict: Result<CsiVerdict, String>,
}

/// One MX host and what the lists say about it.
#[derive(Clone, Debug)]
pub struct Host {
    /// The MX record.
    pub mx: Mx,
    /// The best verdict among the services with this supply point (`None`: not a supply
    /// point).
    pub verdict: Option<Verdict>,
    /// The capability documents of the service, when it is qualified and they were asked for.
    pub capabilities: Vec<Capabilities>,
}

/// Everything found about a domain.
#[derive(Clone, Debug)]
pub struct Discovery {
    /// The domain asked about.
    pub domain: String,
    /// The instant judged.
    pub at: OffsetDateTime,
    /// Every MX host, by preference.
    pub hosts: Vec<Host>,
    /// The index in `hosts` of the peer to deliver to: the most preferred MX host that is a
    /// granted qualified REM service.
    pub peer: Option<usize>,
    /// Why there is no peer.
    pub refusal: Option<Refusal>,
    /// The domain has no MX record but has addresses (A/AAAA): it is its own mail exchanger
    /// (RFC 5321 §5.1, the implicit MX), the only host in `hosts` (preference 0), judged like
    /// any MX host (it must be a supply point of a granted qualified REM service).
    pub implicit_mx: bool,
}

impl Discovery {
    /// The peer's host and its verdict (service identities, supply points, TSP...).
    pub fn peer(&self) -> Option<&Host> {
        self.peer.and_then(|i| self.hosts.get(i))
    }
}

async fn capabilities(
    fetcher: &Fetcher,
    verdict: &Verdict,
    mx: &str,
    at: OffsetDateTime,
) -> Vec<Capabilities> {
    let Some(s) = &verdict.service else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for url in s
        .supply_points
        .iter()
        .filter(|p| p.to_ascii_lowercase().starts_with("http"))
    {
        let verdict = match fetcher.get(url, "application/xml, text/xml, */*").await {
            Ok(f) => csi::verify(&f.body, &s.identities, Some(mx), Some(&s.tsp_name), at)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        out.push(Capabilities {
            url: url.clone(),
            verdict,
        });
    }
    out
}

/// Discovers the REM peer of `domain` at `at`: MX look-up with `resolver`, supply points in
/// `lists`, and (with `with_capabilities`) the peer's capability documents through `fetcher`.
pub async fn discover(
    domain: &str,
    resolver: &Resolver,
    fetcher: &Fetcher,
    lists: &TrustedLists,
    at: OffsetDateTime,
    with_capabilities: bool,
) -> Discovery {
    let mut d = Discovery {
        domain: domain.to_owned(),
        at,
        hosts: Vec::new(),
        peer: None,
        refusal: None,
        implicit_mx: false,
    };
    let mut mx = match resolver.mx(domain).await {
        Ok(m) => m,
        Err(e) => {
            d.refusal = Some(Refusal::Dns(e.to_string()));
            return d;
        }
    };
    if mx.is_empty() {
        // No MX record: the domain's own addresses make it its own MX (RFC 5321 §5.1).
        match resolver.addresses(domain).await {
            Ok(a) if !a.is_empty() => {
                d.implicit_mx = true;
                mx.push(Mx {
                    preference: 0,
                    host: domain.trim_end_matches('.').to_ascii_lowercase(),
                });
            }
            Ok(_) => {}
            Err(e) => {
                d.refusal = Some(Refusal::Dns(e.to_string()));
                return d;
            }
        }
    }
    for m in mx {
        let verdict = lists.supply_points_for(&m.host, at).into_iter().next();
        let qualified = verdict.as_ref().is_some_and(Verdict::qualified);
        let caps = match (&verdict, qualified && with_capabilities) {
            (Some(v), true) => capabilities(fetcher, v, &m.host, at).await,
            _ => Vec::new(),
        };
        if qualified && d.peer.is_none() {
            d.peer = Some(d.hosts.len());
        }
        d.hosts.push(Host {
            mx: m,
            verdict,
            capabilities: caps,
        });
    }
    if d.peer.is_none() {
        d.refusal = Some(if d.hosts.is_empty() {
            Refusal::NoMx
        } else {
            match d
                .hosts
                .iter()
                .find_map(|h| h.verdict.as_ref().and_then(|v| v.not_qualified.clone()))
            {
                Some(n) => Refusal::NotQualified(n),
                None => Refusal::NotASupplyPoint,
            }
        });
    }
    d
}

/// The trusted lists a long-running gateway answers from: loaded once (from the cache when it
/// is young), refreshed on the caller's timer ([`TrustStore::due`], [`TrustStore::refresh`]);
/// readers get a cheap immutable snapshot ([`TrustStore::lists`]).
#[derive(Debug)]
pub struct TrustStore {
    sources: Sources,
    fetcher: Fetcher,
    state: RwLock<(TrustedLists, OffsetDateTime)>,
}

impl TrustStore {
    /// Loads the lists of `sources` at `now` (young cached copies are used as they are).
    pub async fn open(
        sources: Sources,
        fetcher: Fetcher,
        now: OffsetDateTime,
    ) -> (TrustStore, LoadReport) {
        let report = tl::load(&sources, &fetcher, LoadMode::PreferCache, now).await;
        let store = TrustStore {
            sources,
            fetcher,
            state: RwLock::new((report.lists.clone(), now)),
        };
        (store, report)
    }

    /// The lists now in use.
    pub fn lists(&self) -> TrustedLists {
        match self.state.read() {
            Ok(s) => s.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// Whether `refresh` is due at `now` (the configured refresh interval has passed).
    pub fn due(&self, now: OffsetDateTime) -> bool {
        let last = match self.state.read() {
            Ok(s) => s.1,
            Err(poisoned) => poisoned.into_inner().1,
        };
        (now - last).whole_seconds()
            >= i64::try_from(self.sources.refresh.as_secs()).unwrap_or(i64::MAX)
    }

    /// How long from `now` until `refresh` is due (zero when it is).
    pub fn refresh_in(&self, now: OffsetDateTime) -> std::time::Duration {
        let last = match self.state.read() {
            Ok(s) => s.1,
            Err(poisoned) => poisoned.into_inner().1,
        };
        let elapsed = std::time::Duration::try_from(now - last).unwrap_or_default();
        self.sources.refresh.saturating_sub(elapsed)
    }

    /// Fetches every list again and swaps the result in (a list that is refused or unreachable
    /// keeps answering from its cached copy; the report says which).
    pub async fn refresh(&self, now: OffsetDateTime) -> LoadReport {
        let report = tl::load(&self.sources, &self.fetcher, LoadMode::Fetch, now).await;
        match self.state.write() {
            Ok(mut s) => *s = (report.lists.clone(), now),
            Err(poisoned) => *poisoned.into_inner() = (report.lists.clone(), now),
        }
        report
    }
}
