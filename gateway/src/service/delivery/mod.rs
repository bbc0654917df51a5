//! Delivery: what the gateway made goes out — over SMTP to the provider's PEC platform, to
//! REM providers (a `[[route]]`, else the domain's MX), or into the outbox folder — with
//! retries, a maximum age, per-peer concurrency limits and connection reuse.
//!
//! [`run`] is the loop: it claims the deliveries that are due from the spool, resolves each
//! one's destination ([`resolve`]), groups them by peer, sends them, and records each outcome
//! with [`Spool::delivery_done`](crate::service::Spool::delivery_done); then it sleeps until
//! the spool's next due time, a [`Gateway::wake`], or shutdown.
//!
//! **Nothing lost, nothing recorded early.** An outcome is recorded only after the peer's
//! final reply to DATA (or the outbox file is renamed into place and its folder synced). A
//! crash, a kill or a lost connection before that leaves the delivery due in the spool: it is
//! sent again. Delivery is therefore *at least once*: if the gateway dies after the peer's
//! `250` and before the spool has recorded it, or the connection breaks after the final dot
//! and before the reply arrives, the peer gets the message a second time (the same
//! Message-ID: REM and PEC peers can recognise the duplicate). Postfix and every
//! store-and-forward MTA behave the same way (RFC 1047).
//!
//! **Replies.** `2xx` to DATA: delivered. `4xx`, a refused or broken connection, a timeout,
//! a TLS failure: deferred. `5xx`: failed for good, and the notices owed to the sender
//! ([`process::failure_notices`]) are stored with the failure. Per recipient: when the peer
//! accepts some `RCPT TO` and refuses others, the message is sent to those accepted and each
//! group is recorded on its own ([`Attempt::Partial`]): delivered recipients are never sent
//! the message again, recipients refused for good fail (their notices name exactly them),
//! recipients refused for now stay queued, alone, for the next attempt.
//!
//! **Retries.** After the n-th deferral the next attempt is `first_retry × 2ⁿ⁻¹`, at most
//! `max_retry`, with ±20 % jitter so that a peer coming back is not hit by every queued
//! message at once; never later than `created + max_age`. A deferral at or after
//! `created + max_age` is a failure: "not delivered within MAX_AGE (last: REASON)".
//!
//! **Connections.** Deliveries resolved to the same peer (the same hosts, in order, and TLS
//! mode) share connections: one connection carries up to [`MESSAGES_PER_CONNECTION`]
//! messages, at most `[delivery] per_destination` connections are open to one peer at once,
//! and a further connection is opened for every [`MESSAGES_PER_WORKER`] messages waiting.
//! When the peer offers PIPELINING (RFC 2920) a message's envelope (MAIL, every RCPT, DATA)
//! goes in one write and its replies are read together; RSET comes first only when the
//! previous transaction did not end with its final reply. While a connection carries the
//! next message, the spool records the previous ones (a few at a time; all of them before
//! the connection is given back). A peer that cannot be reached defers everything
//! queued for it with the reason, without trying a connection per message. `[delivery]
//! timeout` bounds connecting and each exchange (writing a body gets one more second per
//! 64 KiB).
//!
//! **TLS** (rustls, ring): `none` — plain; `starttls` — STARTTLS when the peer offers it, with
//! its certificate verified against the system's roots plus `[delivery] tls_anchors` (a
//! certificate that does not verify fails the connection: it does not fall back to plain);
//! plain only when STARTTLS is not offered; `required` — STARTTLS must be offered and succeed
//! with the certificate verified, else the delivery is deferred with the reason. MX delivery
//! uses `starttls`; MX delivery that follows the trusted lists ([`discovered`]) uses
//! `required`, each host's certificate judged against its service's digital identity
//! instead of the roots.
//!
//! **Shutdown.** Once the shutdown signal is given, nothing more is claimed; each connection
//! finishes the transaction it is in (bounded by the timeout) and closes; deliveries claimed
//! but not started are left as they are: unrecorded, so due again (the embedded spool's
//! claims do not outlive the process; a shared spool's lease expires). [`run`] returns when
//! every connection is closed.

pub mod discovered;
pub mod outbox;
pub mod resolve;
pub mod smtp;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::config::service::format_duration;
use crate::config::{Service, TlsMode};
use crate::fetch::{Fetcher, Resolver};
use crate::service::spool::{Attempt, Delivery, Destination, Processed};
use crate::service::{Gateway, Shutdown, process, stopping};
use crate::tl::Match;
use discovered::Refusal;
use resolve::{Host, Lookup, Peer, Target, Via};
use smtp::{Dial, Session, Settled};

/// Messages one connection carries before it is closed and, if more wait, another opened.
pub const MESSAGES_PER_CONNECTION: u32 = 100;
/// Messages waiting for a peer per connection opened to it (up to `per_destination`).
pub const MESSAGES_PER_WORKER: usize = 8;
/// Attempts of one connection being recorded while it carries the next messages.
const RECORDING_PER_CONNECTION: usize = 4;
/// Deliveries claimed at once.
const BATCH: usize = 256;
/// Deliveries held (claimed and not yet recorded) at most.
const MAX_IN_FLIGHT: usize = 2048;
/// The longest the loop sleeps without looking at the spool.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// The shortest and longest pause when something is due that is not a delivery (a message
/// waiting for processing, a timer: other loops take those).
const IDLE_MIN: Duration = Duration::from_millis(50);
const IDLE_MAX: Duration = Duration::from_secs(2);
/// Addresses tried per host.
const ADDRESSES_PER_HOST: usize = 4;
/// The jitter of retries: ±20 %.
const JITTER: f64 = 0.2;

/// Why a connection to a peer could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection could not be made (refused, unreachable, timed out).
    #[error("{peer}: cannot connect: {reason}")]
    Connect {
        /// `host[address]`.
        peer: String,
        /// What the OS said.
        reason: String,
    },
    /// The greeting, EHLO/HELO or STARTTLS got a reply that is not positive.
    #[error("{peer}: {stage}: {reply}")]
    Refused {
        /// `host[address]`.
        peer: String,
        /// `greeting`, `EHLO`, `HELO`, `STARTTLS`.
        stage: &'static str,
        /// The reply.
        reply: smtp::Reply,
    },
    /// `tls = required` and the peer does not offer STARTTLS.
    #[error("{peer} does not offer STARTTLS (tls = required)")]
    NoStarttls {
        /// `host[address]`.
        peer: String,
    },
    /// The TLS handshake failed, or the peer's certificate was not verified.
    #[error("{peer}: TLS: {reason}")]
    Tls {
        /// `host[address]`.
        peer: String,
        /// What rustls said.
        reason: String,
    },
    /// The connection broke, or a reply did not come in time, during the session set-up.
    #[error("{peer}: {stage}: {reason}")]
    Broken {
        /// `host[address]`.
        peer: String,
        /// Where.
        stage: &'static str,
        /// What happened.
        reason: String,
    },
    /// A host's addresses could not be found.
    #[error("{host}: no address ({reason})")]
    NoAddress {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// No host of a peer took the connection; what each said.
    #[error("{}", .errors.join("; "))]
    Unreachable {
        /// One line per host or address tried.
        errors: Vec<String>,
    },
    /// A discovered peer's TLS certificate is not its service's digital identity: nothing
    /// is sent to it (the deliveries fail for good).
    #[error("{0}")]
    PeerIdentity(Box<Refusal>),
}

/// The wait before the next attempt after `attempts` attempts (≥ 1): `first × 2^(attempts-1)`,
/// at most `max`, times `1 + 0.2 × jitter` (`jitter` in `[-1, 1]`), still at most `max`.
pub fn backoff(attempts: u32, first: Duration, max: Duration, jitter: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(31);
    let base = first.saturating_mul(1u32 << doublings).min(max);
    let factor = 1.0 + JITTER * jitter.clamp(-1.0, 1.0);
    base.mul_f64(factor).min(max).max(Duration::from_millis(1))
}

/// When a delivery deferred now (its `attempts` not counting this one) is tried next, or,
/// when it has reached `max_age`, the reason it fails.
pub fn next_attempt(
    d: &Delivery,
    settings: &crate::config::service::Delivery,
    reason: &str,
    now: OffsetDateTime,
    jitter: f64,
) -> Result<OffsetDateTime, String> {
    let deadline = d.created + settings.max_age;
    if now >= deadline {
        return Err(format!(
            "not delivered within {} (last: {reason})",
            format_duration(settings.max_age)
        ));
    }
    let wait = backoff(
        d.attempts.saturating_add(1),
        settings.first_retry,
        settings.max_retry,
        jitter,
    );
    Ok((now + wait).min(deadline))
}

/// The delivery loop; returns once `shutdown` is given and what was in flight is finished
/// (see the module documentation).
pub async fn run(gw: Arc<Gateway>, mut shutdown: Shutdown) {
    let shared = Arc::new(Shared::new(Arc::clone(&gw)));
    let mut batches: JoinSet<()> = JoinSet::new();
    let mut idle = IDLE_MIN;
    info!("delivery: started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        // Armed before looking at the spool, so that a wake-up in between is not missed.
        let notified = gw.work.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        while let Some(done) = batches.try_join_next() {
            if let Err(e) = done {
                error!(error = %e, "delivery: a batch task ended abnormally");
            }
        }
        let room = MAX_IN_FLIGHT.saturating_sub(shared.in_flight.load(Ordering::SeqCst));
        if room > 0 {
            match gw
                .spool
                .claim_deliveries(now(), gw.settings().spool.lease, room.min(BATCH))
                .await
            {
                Ok(ds) if !ds.is_empty() => {
                    debug!(count = ds.len(), "delivery: claimed");
                    let claimed: Vec<Claimed> = ds.into_iter().map(|d| shared.claimed(d)).collect();
                    let sh = Arc::clone(&shared);
                    let sd = shutdown.clone();
                    batches.spawn(batch(sh, claimed, sd));
                    idle = IDLE_MIN;
                    continue;
                }
                Ok(_) => {}
                Err(e) => error!(error = %e, "delivery: cannot claim from the spool"),
            }
        }
        let wait = match gw.spool.next_due().await {
            Ok(Some(at)) => {
                let left = at - now();
                if left.is_positive() {
                    idle = IDLE_MIN;
                    Duration::try_from(left).unwrap_or(MAX_SLEEP).min(MAX_SLEEP)
                } else {
                    // Due, yet nothing to claim: another loop's work, or ours in flight.
                    let w = idle;
                    idle = (idle * 2).min(IDLE_MAX);
                    w
                }
            }
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                error!(error = %e, "delivery: cannot read the spool's next due time");
                IDLE_MAX
            }
        };
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stopping(&mut shutdown) => {}
            Some(_) = batches.join_next(), if !batches.is_empty() => {}
        }
    }
    info!(
        in_flight = shared.in_flight.load(Ordering::SeqCst),
        "delivery: stopping, finishing the transactions in progress"
    );
    while let Some(done) = batches.join_next().await {
        if let Err(e) = done {
            error!(error = %e, "delivery: a batch task ended abnormally");
        }
    }
    info!("delivery: stopped");
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// What the delivery tasks share.
struct Shared {
    gw: Arc<Gateway>,
    /// The resolver for the `[trust] dns_servers` it was made for (made again when a reload
    /// changes them).
    resolver: Mutex<Option<ResolverFor>>,
    fetcher: Fetcher,
    /// The discovered peers' capability documents.
    csi: discovered::CsiCache,
    tls: Mutex<Option<(Vec<PathBuf>, Arc<rustls::ClientConfig>)>>,
    limits: Mutex<HashMap<Peer, (usize, Arc<Semaphore>)>>,
    in_flight: Arc<AtomicUsize>,
    rng: ring::rand::SystemRandom,
    /// Deliveries whose discovered peer was counted (`peer-found`), until they are settled:
    /// a retry is not counted again.
    found: Mutex<std::collections::HashSet<crate::service::spool::DeliveryId>>,
}

/// A resolver, or why there is none, for these DNS servers.
type ResolverFor = (
    Arc<Vec<std::net::SocketAddr>>,
    Result<Arc<Resolver>, String>,
);

/// A claimed delivery; counted in flight until dropped (recorded or abandoned).
struct Claimed {
    d: Delivery,
    in_flight: Arc<AtomicUsize>,
}

impl Drop for Claimed {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    fn new(gw: Arc<Gateway>) -> Shared {
        Shared {
            gw,
            resolver: Mutex::new(None),
            fetcher: Fetcher::default(),
            csi: discovered::CsiCache::default(),
            tls: Mutex::new(None),
            limits: Mutex::new(HashMap::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            rng: ring::rand::SystemRandom::new(),
            found: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// The resolver for the DNS servers in force (`[trust] dns_servers`, else the system's).
    fn resolver(&self) -> Result<Arc<Resolver>, String> {
        let servers = self.gw.dns_servers();
        let mut cache = self.resolver.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, r)) = cache.as_ref()
            && *s == servers
        {
            return r.clone();
        }
        let r = Resolver::new(&servers).map(Arc::new).map_err(|e| {
            warn!(error = %e, "delivery: no DNS resolver; MX delivery waits");
            e.to_string()
        });
        *cache = Some((servers, r.clone()));
        r
    }

    fn claimed(&self, d: Delivery) -> Claimed {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Claimed {
            d,
            in_flight: Arc::clone(&self.in_flight),
        }
    }

    /// A uniform number in `[-1, 1]` (the system's random generator; 0 if it fails).
    fn jitter(&self) -> f64 {
        use ring::rand::SecureRandom;
        let mut b = [0u8; 4];
        if self.rng.fill(&mut b).is_err() {
            return 0.0;
        }
        f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX) * 2.0 - 1.0
    }

    /// A number below `n` (for ordering MX hosts of equal preference).
    fn below(&self, n: usize) -> usize {
        let x = (self.jitter() + 1.0) / 2.0;
        ((x * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// The TLS client configuration: the system's roots plus `anchors`; kept while the
    /// anchors do not change.
    fn tls_config(&self, anchors: &[PathBuf]) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut cache = self.tls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((a, c)) = cache.as_ref()
            && a.as_slice() == anchors
        {
            return Ok(Arc::clone(c));
        }
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(c);
        }
        for path in anchors {
            let ders = crate::config::service::read_anchor_file(path)
                .map_err(|m| format!("[delivery] tls_anchors {}: {m}", path.display()))?;
            for der in ders {
                roots
                    .add(rustls_pki_types::CertificateDer::from(der))
                    .map_err(|e| format!("[delivery] tls_anchors {}: {e}", path.display()))?;
            }
        }
        if roots.is_empty() {
            return Err(
                "no root certificate to verify the peer with (the system store is empty and [delivery] tls_anchors is unset)"
                    .into(),
            );
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let config = Arc::new(config);
        *cache = Some((anchors.to_vec(), Arc::clone(&config)));
        Ok(config)
    }

    /// The connection limit of a peer (`per_destination` as configured when first needed;
    /// a changed value applies to connections opened after the change).
    fn limit(&self, peer: &Peer, per_destination: usize) -> Arc<Semaphore> {
        let mut map = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 1024 {
            map.retain(|_, (n, s)| Arc::strong_count(s) > 1 || s.available_permits() < *n);
        }
        let entry = map
            .entry(peer.clone())
            .or_insert_with(|| (per_destination, Arc::new(Semaphore::new(per_destination))));
        if entry.0 != per_destination {
            *entry = (per_destination, Arc::new(Semaphore::new(per_destination)));
        }
        Arc::clone(&entry.1)
    }
}

/// The `destination` label of the metrics.
fn label(d: &Delivery, target: &Target) -> &'static str {
    match (target, &d.destination) {
        (Target::Outbox(_), _) => "outbox",
        (_, Destination::Pec) => "pec",
        (_, Destination::Domain(_)) => "rem",
    }
}

/// Resolves, groups and delivers one claimed batch.
async fn batch(sh: Arc<Shared>, claimed: Vec<Claimed>, shutdown: Shutdown) {
    let settings = sh.gw.settings();
    // The target of each destination, and whether discovery decided it (counted).
    let mut targets: HashMap<Destination, (Target, bool)> = HashMap::new();
    let mut groups: Vec<(Target, Vec<Claimed>)> = Vec::new();
    // The trusted lists in force now, when configured: MX delivery follows them.
    let lists = sh.gw.trust.in_force();
    let resolver = sh.resolver();
    let csi_ttl = sh.gw.trust.sources().refresh;
    let at = now();
    for c in claimed {
        let (target, discovered) = match targets.get(&c.d.destination) {
            Some(t) => t.clone(),
            None => {
                let plan = resolve::plan(&settings, &c.d.destination);
                let by_mx = matches!(plan, resolve::Plan::Mx(..));
                let resolver = resolver.as_deref().map_err(String::as_str);
                let trusted = lists.as_ref().map(|l| resolve::Trusted {
                    lists: l,
                    fetcher: &sh.fetcher,
                    at,
                    capabilities: Some((&sh.csi, csi_ttl)),
                });
                let t = resolve::resolve(plan, resolver, trusted, |n| sh.below(n)).await;
                let discovered = by_mx && trusted.is_some();
                targets.insert(c.d.destination.clone(), (t.clone(), discovered));
                (t, discovered)
            }
        };
        if discovered {
            discovery_outcome(&sh, &c.d, &target);
        }
        match groups.iter_mut().find(|(t, _)| *t == target) {
            Some((_, v)) => v.push(c),
            None => groups.push((target, vec![c])),
        }
    }
    let mut tasks = JoinSet::new();
    for (target, items) in groups {
        match target {
            Target::Smtp(peer) => {
                let n = items.len();
                let group = Arc::new(Group {
                    peer,
                    queue: Mutex::new(items.into_iter().collect()),
                    live: AtomicUsize::new(0),
                });
                let per = settings.delivery.per_destination.max(1);
                let workers = n.div_ceil(MESSAGES_PER_WORKER).clamp(1, per);
                for _ in 0..workers {
                    tasks.spawn(peer_worker(
                        Arc::clone(&sh),
                        Arc::clone(&group),
                        Arc::clone(&settings),
                        shutdown.clone(),
                    ));
                }
            }
            Target::Outbox(dir) => {
                tasks.spawn(outbox_worker(Arc::clone(&sh), dir, items, shutdown.clone()));
            }
            Target::Hold(reason) => {
                let sh = Arc::clone(&sh);
                tasks.spawn(async move {
                    for c in items {
                        let s = Settled::Deferred(reason.clone());
                        record(&sh, &c.d, all(&c.d, &s), "-", &Target::Hold(String::new())).await;
                    }
                });
            }
            Target::Fail(reason) => {
                let sh = Arc::clone(&sh);
                tasks.spawn(async move {
                    for c in items {
                        let s = Settled::Failed(reason.clone());
                        record(&sh, &c.d, all(&c.d, &s), "-", &Target::Fail(String::new())).await;
                    }
                });
            }
            Target::Refused(refusal) => {
                let sh = Arc::clone(&sh);
                tasks.spawn(async move {
                    let target = Target::Refused(refusal.clone());
                    for c in items {
                        let s = Settled::Failed(refusal.to_string());
                        record(&sh, &c.d, all(&c.d, &s), "-", &target).await;
                    }
                });
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            error!(error = %e, "delivery: a worker ended abnormally");
        }
    }
}

/// Counts and logs what discovery decided for a delivery's domain: a peer found once per
/// delivery (not again at each retry while it waits, e.g. for a host without STARTTLS); the
/// other outcomes at each decision (a refusal is final, so once too).
fn discovery_outcome(sh: &Shared, d: &Delivery, t: &Target) {
    let gw = &sh.gw;
    let outcome = match t {
        Target::Smtp(_)
            if !sh
                .found
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(d.id) =>
        {
            return;
        }
        Target::Smtp(p) => {
            if let Via::Discovered(pins) = &p.via {
                let services: Vec<String> = pins.iter().map(discovered::Pin::describe).collect();
                info!(delivery = d.id, destination = %d.destination, peer = %p, service = %services.join("; "), "discovery: REM peer found");
                // What each service's capability document said (once per service).
                let mut seen: Vec<&discovered::Pin> = Vec::new();
                for pin in pins {
                    if seen
                        .iter()
                        .any(|s| s.service_name == pin.service_name && s.list == pin.list)
                    {
                        continue;
                    }
                    seen.push(pin);
                    if let Some(c) = &pin.capabilities {
                        info!(delivery = d.id, destination = %d.destination, service = %pin.service_name, outcome = c.kind(), "discovery: {c}");
                        gw.metrics.capabilities(c.kind());
                    }
                }
            }
            "peer-found"
        }
        Target::Refused(r) => {
            warn!(delivery = d.id, destination = %d.destination, kind = r.kind(), reason = %r, "discovery: no trusted REM peer");
            if matches!(r, Refusal::Capabilities { .. }) {
                gw.metrics.capabilities("not-baseline");
            }
            r.kind()
        }
        Target::Hold(_) => "deferred",
        Target::Fail(_) => "no-mail",
        Target::Outbox(_) => return,
    };
    gw.metrics.discovery(outcome);
}

/// The same settlement for every recipient.
fn all(d: &Delivery, s: &Settled) -> Vec<(String, Settled)> {
    d.rcpt_to.iter().map(|r| (r.clone(), s.clone())).collect()
}

/// Deliveries to one peer and the connections working on them.
struct Group {
    peer: Peer,
    queue: Mutex<VecDeque<Claimed>>,
    /// Connections open now.
    live: AtomicUsize,
}

impl Group {
    fn pop(&self) -> Option<Claimed> {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    fn is_empty(&self) -> bool {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    fn drain(&self) -> Vec<Claimed> {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect()
    }
}

/// One connection at a time to the group's peer, carrying its queued messages.
async fn peer_worker(
    sh: Arc<Shared>,
    group: Arc<Group>,
    settings: Arc<Service>,
    mut shutdown: Shutdown,
) {
    let sem = sh.limit(&group.peer, settings.delivery.per_destination.max(1));
    let target = Target::Smtp(group.peer.clone());
    loop {
        if *shutdown.borrow() || group.is_empty() {
            return;
        }
        let permit = tokio::select! {
            p = Arc::clone(&sem).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = stopping(&mut shutdown) => return,
        };
        if group.is_empty() {
            return;
        }
        let (mut session, tls_match, host) = match open(&sh, &group.peer, &settings).await {
            Ok(s) => s,
            Err(Error::PeerIdentity(refusal)) => {
                drop(permit);
                // Not the service the lists name: nothing is sent, everything queued fails
                // (`open` counted each host refused).
                warn!(peer = %group.peer, kind = refusal.kind(), reason = %refusal, "discovery: the peer's TLS identity does not match");
                let s = Settled::Failed(refusal.to_string());
                let target = Target::Refused(*refusal);
                for c in group.drain() {
                    record(&sh, &c.d, all(&c.d, &s), &group.peer.to_string(), &target).await;
                }
                return;
            }
            Err(e) => {
                drop(permit);
                if group.live.load(Ordering::SeqCst) > 0 {
                    // Another connection to this peer works: the rest is left to it.
                    debug!(peer = %group.peer, error = %e, "delivery: extra connection refused");
                    return;
                }
                // The peer cannot be reached: everything queued for it waits, with the reason.
                let reason = e.to_string();
                for c in group.drain() {
                    let s = Settled::Deferred(reason.clone());
                    record(&sh, &c.d, all(&c.d, &s), &group.peer.to_string(), &target).await;
                }
                return;
            }
        };
        group.live.fetch_add(1, Ordering::SeqCst);
        debug!(peer = %session.peer, tls = session.tls, "delivery: connected");
        // The spool records an attempt while the next message goes out; a handful at most
        // wait at once, and all of them before the connection's permit is given back.
        let mut recording: JoinSet<()> = JoinSet::new();
        while session.transactions() < MESSAGES_PER_CONNECTION && !*shutdown.borrow() {
            let Some(c) = group.pop() else { break };
            let body = match sh.gw.spool.output(c.d.message, c.d.output).await {
                Ok(b) => b,
                Err(e) => {
                    let s = Settled::Deferred(format!("the output cannot be read: {e}"));
                    record(&sh, &c.d, all(&c.d, &s), &session.peer, &target).await;
                    continue;
                }
            };
            // A discovered peer: the service it is is recorded before anything is sent, so
            // that evidence coming back about the output is judged against it.
            if let Via::Discovered(pins) = &group.peer.via
                && let (Some(h), Some(pin)) = (group.peer.hosts.get(host), pins.get(host))
                && let Err(e) = sh.gw.spool.bind_service(bound(&c.d, h, pin)).await
            {
                let s =
                    Settled::Deferred(format!("the service delivered to cannot be recorded: {e}"));
                record(&sh, &c.d, all(&c.d, &s), &session.peer, &target).await;
                continue;
            }
            let mut out = session.send(&c.d.mail_from, &c.d.rcpt_to, &body).await;
            drop(body);
            let peer = session.peer.clone();
            if let Via::Discovered(pins) = &group.peer.via
                && let (Some(h), Some(pin)) = (group.peer.hosts.get(host), pins.get(host))
            {
                let how = decision(h, pin, tls_match);
                for (_, s) in out.recipients.iter_mut() {
                    if let Settled::Delivered(t) = s {
                        *s = Settled::Delivered(format!("{t} ({how})"));
                    }
                }
            }
            while recording.len() >= RECORDING_PER_CONNECTION {
                recording.join_next().await;
            }
            let (sh2, target2) = (Arc::clone(&sh), target.clone());
            recording.spawn(async move {
                record(&sh2, &c.d, out.recipients, &peer, &target2).await;
                drop(c);
            });
            if !out.reusable {
                break;
            }
        }
        group.live.fetch_sub(1, Ordering::SeqCst);
        session.close().await;
        while let Some(done) = recording.join_next().await {
            if let Err(e) = done {
                error!(error = %e, "delivery: recording an attempt ended abnormally");
            }
        }
        drop(permit);
    }
}

/// The service delivery `d` goes to: the pinned service of the discovered MX `host`.
fn bound(d: &Delivery, host: &Host, pin: &discovered::Pin) -> crate::correlate::DeliveredService {
    use base64::Engine;
    crate::correlate::DeliveredService {
        delivery: d.id,
        message_id: d.message_id.clone(),
        recipients: d.rcpt_to.clone(),
        host: host.name.clone(),
        service_name: pin.service_name.clone(),
        tsp_name: pin.tsp_name.clone(),
        list: pin.list.clone(),
        identities: pin
            .identities
            .iter()
            .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
            .collect(),
        at: crate::pec::zone::rfc3339(now()),
    }
}

/// What discovery decided, for the history of a delivered message (sent to `host`, under
/// TLS: discovered peers require it).
fn decision(host: &Host, pin: &discovered::Pin, m: Option<Match>) -> String {
    let tls = match m {
        Some(m) => format!(
            "TLS certificate is the service's digital identity ({})",
            m.as_str()
        ),
        None => "TLS".to_owned(),
    };
    let csi = pin
        .capabilities
        .as_ref()
        .map(|c| format!("; {c}"))
        .unwrap_or_default();
    format!(
        "discovered: MX {host} is a ServiceSupplyPoint of {}; {tls}{csi}",
        pin.describe()
    )
}

/// Opens a session to the first host of `peer` (and address) that takes it; for a
/// discovered peer, also how its TLS certificate matched the service's identity. Returns the
/// index in `peer.hosts` of the host connected to.
///
/// A discovered host whose certificate is not its service's identity is skipped (nothing is
/// sent); when every host tried was such a host, [`Error::PeerIdentity`]; when others only
/// could not be reached, [`Error::Unreachable`] naming all (the delivery waits).
async fn open(
    sh: &Shared,
    peer: &Peer,
    settings: &Service,
) -> Result<(Session, Option<Match>, usize), Error> {
    let helo = settings
        .smtp
        .hostname
        .clone()
        .unwrap_or_else(|| sh.gw.cx.config.identity.domain.clone());
    let (tls_config, tls_error) = match peer.tls {
        TlsMode::None => (None, None),
        TlsMode::Starttls | TlsMode::Required => {
            match sh.tls_config(&settings.delivery.tls_anchors) {
                Ok(c) => (Some(c), None),
                Err(e) => (None, Some(e)),
            }
        }
    };
    let timeout = settings.delivery.timeout;
    let mut errors = Vec::new();
    let mut refused: Option<Refusal> = None;
    for (i, host) in peer.hosts.iter().enumerate() {
        let pin = match &peer.via {
            Via::Discovered(pins) => pins.get(i),
            _ => None,
        };
        let addrs = match addresses(sh, host, timeout).await {
            Ok(a) => a,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        for addr in addrs.into_iter().take(ADDRESSES_PER_HOST) {
            // A discovered host: its certificate is judged against its service's identity,
            // on a configuration of this connection's own that keeps the verdict.
            let seen: discovered::Seen = Arc::default();
            let (tls_config, tls_error) = match pin {
                Some(pin) => match discovered::client_config(pin, now(), Arc::clone(&seen)) {
                    Ok(c) => (Some(c), None),
                    Err(e) => (None, Some(e)),
                },
                None => (tls_config.clone(), tls_error.clone()),
            };
            let dial = Dial {
                host: &host.name,
                addr,
                tls: peer.tls,
                tls_config,
                tls_error,
                helo: &helo,
                timeout,
            };
            let opened = Session::open(&dial).await;
            let verdict = seen.lock().unwrap_or_else(|p| p.into_inner()).take();
            match (opened, verdict, pin) {
                (Ok(s), v, _) => return Ok((s, v.and_then(Result::ok), i)),
                (Err(_), Some(Err(mismatch)), Some(pin)) => {
                    let r = Refusal::TlsIdentity {
                        peer: format!("{}[{addr}]", host.name),
                        service: pin.service_name.clone(),
                        mismatch,
                    };
                    sh.gw.metrics.discovery(r.kind());
                    warn!(peer = %host, reason = %r, "discovery: skipping an MX host whose TLS identity does not match");
                    refused.get_or_insert(r);
                }
                (Err(e), _, _) => {
                    debug!(error = %e, "delivery: connection failed");
                    errors.push(e.to_string());
                }
            }
        }
    }
    match refused {
        Some(r) if errors.is_empty() => Err(Error::PeerIdentity(Box::new(r))),
        Some(r) => {
            errors.insert(0, r.to_string());
            Err(Error::Unreachable { errors })
        }
        None => Err(Error::Unreachable { errors }),
    }
}

/// A host's socket addresses.
async fn addresses(
    sh: &Shared,
    host: &Host,
    timeout: Duration,
) -> Result<Vec<std::net::SocketAddr>, Error> {
    let no = |reason: String| Error::NoAddress {
        host: host.to_string(),
        reason,
    };
    let found: Vec<std::net::SocketAddr> = match &host.lookup {
        Lookup::Literal(ip) => vec![std::net::SocketAddr::new(*ip, host.port)],
        Lookup::System => {
            let q = tokio::net::lookup_host((host.name.as_str(), host.port));
            match tokio::time::timeout(timeout, q).await {
                Ok(Ok(a)) => a.collect(),
                Ok(Err(e)) => return Err(no(e.to_string())),
                Err(_) => return Err(no("look-up timed out".into())),
            }
        }
        Lookup::Dns => {
            let r = sh.resolver().map_err(no)?;
            r.addresses(&host.name)
                .await
                .map_err(|e| no(e.to_string()))?
                .into_iter()
                .map(|ip| std::net::SocketAddr::new(ip, host.port))
                .collect()
        }
    };
    if found.is_empty() {
        return Err(no("no A/AAAA record".into()));
    }
    Ok(found)
}

/// Writes each delivery into the outbox folder.
async fn outbox_worker(sh: Arc<Shared>, dir: PathBuf, items: Vec<Claimed>, shutdown: Shutdown) {
    let target = Target::Outbox(dir.clone());
    let shown = dir.display().to_string();
    for c in items {
        if *shutdown.borrow() {
            return;
        }
        let s = match sh.gw.spool.output(c.d.message, c.d.output).await {
            Err(e) => Settled::Deferred(format!("the output cannot be read: {e}")),
            Ok(body) => {
                let d = dir.clone();
                let id = c.d.id;
                let t = now().unix_timestamp();
                match tokio::task::spawn_blocking(move || outbox::write(&d, t, id, &body)).await {
                    Ok(Ok(path)) => Settled::Delivered(format!("written to {}", path.display())),
                    Ok(Err(e)) => Settled::Deferred(format!("outbox {shown}: {e}")),
                    Err(e) => Settled::Deferred(format!("outbox {shown}: {e}")),
                }
            }
        };
        record(&sh, &c.d, all(&c.d, &s), &shown, &target).await;
    }
}

/// `text` when every entry says the same, else `rcpt: text; ...`.
fn joined(parts: &[(String, String)]) -> String {
    match parts.first() {
        Some((_, first)) if parts.iter().all(|(_, t)| t == first) => first.clone(),
        _ => parts
            .iter()
            .map(|(r, t)| format!("{r}: {t}"))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// What the spool is told about an attempt, from how each recipient settled.
pub async fn attempt_for(
    gw: &Gateway,
    d: &Delivery,
    settled: Vec<(String, Settled)>,
    now: OffsetDateTime,
    jitter: f64,
) -> Attempt {
    let settings = gw.settings();
    let mut delivered = Vec::new();
    let mut reply = String::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut deferred: Vec<(String, String)> = Vec::new();
    for (r, s) in settled {
        match s {
            Settled::Delivered(t) => {
                if reply.is_empty() {
                    reply = t;
                }
                delivered.push(r);
            }
            Settled::Failed(t) => failed.push((r, t)),
            Settled::Deferred(t) => deferred.push((r, t)),
        }
    }
    let mut retry_at = now;
    let mut reason = String::new();
    if !deferred.is_empty() {
        reason = joined(&deferred);
        match next_attempt(d, &settings.delivery, &reason, now, jitter) {
            Ok(at) => retry_at = at,
            Err(too_old) => {
                failed.extend(deferred.drain(..).map(|(r, _)| (r, too_old.clone())));
                reason.clear();
            }
        }
    }
    let failure = joined(&failed);
    let notices = if failed.is_empty() {
        Processed::default()
    } else {
        let mut about = d.clone();
        about.rcpt_to = failed.iter().map(|(r, _)| r.clone()).collect();
        process::failure_notices(gw, &about, &failure, now).await
    };
    let failed: Vec<String> = failed.into_iter().map(|(r, _)| r).collect();
    let deferred: Vec<String> = deferred.into_iter().map(|(r, _)| r).collect();
    match (delivered.is_empty(), failed.is_empty(), deferred.is_empty()) {
        (false, true, true) => Attempt::Delivered(reply),
        (true, false, true) => Attempt::Failed {
            reason: failure,
            notices,
        },
        (true, true, false) => Attempt::Deferred { reason, retry_at },
        // Nothing at all (a delivery without recipients): nothing will ever be sent.
        (true, true, true) => Attempt::Failed {
            reason: "the delivery has no recipient".into(),
            notices,
        },
        _ => Attempt::Partial {
            delivered,
            reply,
            failed,
            failure,
            notices,
            deferred,
            reason,
            retry_at,
        },
    }
}

/// Records an attempt in the spool (retrying a failing spool a few times: the peer has the
/// message, forgetting that would send it again), counts it and logs it.
async fn record(
    sh: &Shared,
    d: &Delivery,
    settled: Vec<(String, Settled)>,
    peer: &str,
    target: &Target,
) {
    let gw = &sh.gw;
    let t = now();
    let attempt = attempt_for(gw, d, settled, t, sh.jitter()).await;
    let dest = label(d, target);
    let log = |a: &Attempt| match a {
        Attempt::Delivered(reply) => {
            gw.metrics.delivery(dest, "delivered");
            info!(delivery = d.id, message = d.message, message_id = %d.message_id, destination = %d.destination, peer, reply = %reply, "delivered");
        }
        Attempt::Deferred { reason, retry_at } => {
            gw.metrics.delivery(dest, "deferred");
            warn!(delivery = d.id, message = d.message, message_id = %d.message_id, destination = %d.destination, peer, reply = %reason, retry_at = %crate::pec::zone::rfc3339(*retry_at), "deferred");
        }
        Attempt::Failed { reason, .. } => {
            gw.metrics.delivery(dest, "failed");
            warn!(delivery = d.id, message = d.message, message_id = %d.message_id, destination = %d.destination, peer, reply = %reason, "failed for good");
        }
        Attempt::Partial {
            delivered,
            reply,
            failed,
            failure,
            deferred,
            reason,
            retry_at,
            ..
        } => {
            if !delivered.is_empty() {
                gw.metrics.delivery(dest, "delivered");
                info!(delivery = d.id, message = d.message, message_id = %d.message_id, destination = %d.destination, peer, recipients = %delivered.join(","), reply = %reply, "delivered (part)");
            }
            if !failed.is_empty() {
                gw.metrics.delivery(dest, "failed");
                warn!(delivery = d.id, message = d.message, message_id = %d.message_id, destination = %d.destination, peer, recipients = %failed.join(","), reply = %failure, "failed for good (part)");
            }
            if !deferred.is_empty() {
                gw.metrics.delivery(dest, "deferred");
                warn!(delivery = d.id, message = d.message, message_id = %d.message_id, destination = %d.destination, peer, recipients = %deferred.join(","), reply = %reason, retry_at = %crate::pec::zone::rfc3339(*retry_at), "deferred (part)");
            }
        }
    };
    log(&attempt);
    if matches!(attempt, Attempt::Delivered(_) | Attempt::Failed { .. }) {
        sh.found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&d.id);
    }
    let mut pause = Duration::from_millis(100);
    for round in 1..=5 {
        match gw.spool.delivery_done(d.id, attempt.clone(), t).await {
            Ok(()) => return,
            Err(e) if round < 5 => {
                error!(delivery = d.id, error = %e, "delivery: the spool cannot record the attempt; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(e) => {
                error!(delivery = d.id, error = %e, "delivery: the spool cannot record the attempt; it will be made again");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_first_retry_up_to_max_retry_with_jitter() {
        let s = Duration::from_secs;
        assert_eq!(backoff(1, s(60), s(3600), 0.0), s(60));
        assert_eq!(backoff(2, s(60), s(3600), 0.0), s(120));
        assert_eq!(backoff(4, s(60), s(3600), 0.0), s(480));
        assert_eq!(backoff(7, s(60), s(3600), 0.0), s(3600));
        assert_eq!(backoff(u32::MAX, s(60), s(3600), 0.0), s(3600));
        assert_eq!(backoff(1, s(60), s(3600), 1.0), s(72));
        assert_eq!(backoff(1, s(60), s(3600), -1.0), s(48));
        assert_eq!(backoff(9, s(60), s(3600), 1.0), s(3600), "never above max");
        assert_eq!(backoff(9, s(60), s(3600), -1.0), s(2880));
        assert_eq!(backoff(1, s(60), s(3600), 7.0), s(72), "jitter clamped");
    }

    #[test]
    fn a_deferral_past_max_age_is_a_failure_and_none_is_scheduled_past_it() {
        use crate::service::spool::DeliveryState;
        let created = time::macros::datetime!(2026-12-06 12:00 UTC);
        let mut d = Delivery {
            id: 7,
            message: 3,
            output: 0,
            kind: "rem-dispatch".into(),
            message_id: "<m@x>".into(),
            destination: Destination::Domain("rem.test".into()),
            mail_from: "a@x".into(),
            rcpt_to: vec!["b@rem.test".into()],
            state: DeliveryState::Queued,
            attempts: 0,
            created,
            next_attempt: created,
            last_result: None,
        };
        let mut s = resolve::tests::test_service().delivery;
        s.first_retry = Duration::from_secs(60);
        s.max_retry = Duration::from_secs(3600);
        s.max_age = Duration::from_secs(600);
        let m = time::Duration::minutes;
        assert_eq!(
            next_attempt(&d, &s, "451", created, 0.0),
            Ok(created + m(1))
        );
        d.attempts = 2;
        assert_eq!(
            next_attempt(&d, &s, "451", created + m(3), 0.0),
            Ok(created + m(7))
        );
        d.attempts = 4;
        // 16 minutes would pass the deadline: the last attempt is at the deadline.
        assert_eq!(
            next_attempt(&d, &s, "451", created + m(8), 0.0),
            Ok(created + m(10))
        );
        assert_eq!(
            next_attempt(&d, &s, "451 4.3.2 down", created + m(10), 0.0),
            Err("not delivered within 10m (last: 451 4.3.2 down)".to_string())
        );
    }

    #[test]
    fn reasons_are_joined_per_recipient_only_when_they_differ() {
        let p = |r: &str, t: &str| (r.to_string(), t.to_string());
        assert_eq!(joined(&[p("a", "x"), p("b", "x")]), "x");
        assert_eq!(joined(&[p("a", "x"), p("b", "y")]), "a: x; b: y");
        assert_eq!(joined(&[]), "");
    }
}
