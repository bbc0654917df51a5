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
/// is young), refreshed on the caller's timer ([`TrustStore::due`], [`TrustStore::refresh`]),
/// given other sources by a reload ([`TrustStore::reconfigure`]); readers get a cheap
/// immutable snapshot ([`TrustStore::lists`]). A store whose sources name no list is
/// unconfigured: [`TrustStore::in_force`] answers `None` (MX delivery does not follow lists).
#[derive(Debug)]
pub struct TrustStore {
    sources: RwLock<Sources>,
    fetcher: Fetcher,
    state: RwLock<(TrustedLists, OffsetDateTime)>,
    /// Held across each load, so that a refresh and a reload do not overwrite each other.
    loading: tokio::sync::Mutex<()>,
    /// Notified when the sources change (the refresh timer waits for the new interval); a
    /// notification given while nobody waits is kept for the next wait.
    changed: tokio::sync::Notify,
}

/// Why a reload's lists were not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReconfigureError {
    /// Lists are configured, yet none was accepted and no cached copy answers for any: the
    /// running lists stay (one line per list: its source and why).
    #[error("no trusted list could be loaded: {}", .0.join("; "))]
    NothingLoaded(Vec<String>),
}

fn read<T: Clone>(l: &RwLock<T>) -> T {
    match l.read() {
        Ok(s) => s.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

fn write<T>(l: &RwLock<T>, v: T) {
    match l.write() {
        Ok(mut s) => *s = v,
        Err(poisoned) => *poisoned.into_inner() = v,
    }
}

impl TrustStore {
    /// Loads the lists of `sources` at `now` (young cached copies are used as they are).
    pub async fn open(
        sources: Sources,
        fetcher: Fetcher,
        now: OffsetDateTime,
    ) -> (TrustStore, LoadReport) {
        let report = tl::load(&sources, &fetcher, LoadMode::PreferCache, now).await;
        let store = TrustStore::with(sources, fetcher, report.lists.clone(), now);
        (store, report)
    }

    /// A store without lists (until a reload gives it some).
    pub fn unconfigured(fetcher: Fetcher, now: OffsetDateTime) -> TrustStore {
        let sources = Sources {
            lists: Vec::new(),
            anchors: Vec::new(),
            allow_unsigned: false,
            cache_dir: None,
            refresh: std::time::Duration::from_secs(6 * 3600),
            base_dir: None,
        };
        TrustStore::with(sources, fetcher, TrustedLists::new(Vec::new()), now)
    }

    fn with(
        sources: Sources,
        fetcher: Fetcher,
        lists: TrustedLists,
        now: OffsetDateTime,
    ) -> TrustStore {
        TrustStore {
            sources: RwLock::new(sources),
            fetcher,
            state: RwLock::new((lists, now)),
            loading: tokio::sync::Mutex::new(()),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// Whether lists are configured (the sources name at least one).
    pub fn configured(&self) -> bool {
        match self.sources.read() {
            Ok(s) => !s.lists.is_empty(),
            Err(poisoned) => !poisoned.into_inner().lists.is_empty(),
        }
    }

    /// The lists now in use.
    pub fn lists(&self) -> TrustedLists {
        read(&self.state).0
    }

    /// The lists now in use when lists are configured, else `None`.
    pub fn in_force(&self) -> Option<TrustedLists> {
        self.configured().then(|| self.lists())
    }

    /// The sources now in use.
    pub fn sources(&self) -> Sources {
        read(&self.sources)
    }

    /// Whether `refresh` is due at `now` (the configured refresh interval has passed).
    pub fn due(&self, now: OffsetDateTime) -> bool {
        self.refresh_in(now).is_zero()
    }

    /// How long from `now` until `refresh` is due (zero when it is).
    pub fn refresh_in(&self, now: OffsetDateTime) -> std::time::Duration {
        let last = read(&self.state).1;
        let elapsed = std::time::Duration::try_from(now - last).unwrap_or_default();
        self.sources().refresh.saturating_sub(elapsed)
    }

    /// Waits until the sources change ([`TrustStore::reconfigure`]; one waiter: the refresh
    /// timer).
    pub async fn changed(&self) {
        self.changed.notified().await
    }

    /// Fetches every list again and swaps the result in (a list that is refused or unreachable
    /// keeps answering from its cached copy; the report says which).
    pub async fn refresh(&self, now: OffsetDateTime) -> LoadReport {
        let _one = self.loading.lock().await;
        let report = tl::load(&self.sources(), &self.fetcher, LoadMode::Fetch, now).await;
        write(&self.state, (report.lists.clone(), now));
        report
    }

    /// [`TrustStore::refresh`] when lists are configured (decided under the same lock as the
    /// load, so that a reload removing them is not undone); `None` when none is.
    pub async fn refresh_configured(&self, now: OffsetDateTime) -> Option<LoadReport> {
        let _one = self.loading.lock().await;
        let sources = self.sources();
        if sources.lists.is_empty() {
            return None;
        }
        let report = tl::load(&sources, &self.fetcher, LoadMode::Fetch, now).await;
        write(&self.state, (report.lists.clone(), now));
        Some(report)
    }

    /// Replaces the sources (a reload of the configuration) and loads them at once, every
    /// source read again (a list refused or unreachable answers from its cached copy, as in
    /// [`TrustStore::refresh`]). Refused, leaving the sources and lists in use as they were,
    /// when lists are configured and not one of them could be loaded. Sources naming no list
    /// make the store unconfigured (its lists are emptied).
    pub async fn reconfigure(
        &self,
        sources: Sources,
        now: OffsetDateTime,
    ) -> Result<LoadReport, ReconfigureError> {
        let _one = self.loading.lock().await;
        let report = if sources.lists.is_empty() {
            LoadReport {
                lists: TrustedLists::new(Vec::new()),
                statuses: Vec::new(),
            }
        } else {
            let report = tl::load(&sources, &self.fetcher, LoadMode::Fetch, now).await;
            if report.lists.lists().is_empty() {
                return Err(ReconfigureError::NothingLoaded(
                    report
                        .statuses
                        .iter()
                        .map(|s| match &s.outcome {
                            tl::ListOutcome::Refused(r) => format!("{}: {r}", s.source),
                            _ => s.source.clone(),
                        })
                        .collect(),
                ));
            }
            report
        };
        write(&self.sources, sources);
        write(&self.state, (report.lists.clone(), now));
        self.changed.notify_one();
        Ok(report)
    }
}
