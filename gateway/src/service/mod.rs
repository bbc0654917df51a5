//! The gateway service, `ponte serve`: SMTP in, the spool, translation, SMTP out, the PEC
//! timers and the operators' API. This layer owns every side effect (network, disk, clock);
//! the layers below it are pure enough to run in the conformance runner and the fuzzers.
//!
//! ```text
//!  SMTP in (smtp::server) ──judge + translate──▶ spool ◀── processing retries (process)
//!        │ 250 after the spool has it                │
//!        ▼                                           ├──▶ delivery (SMTP out, outbox)
//!   554 for a message that is not a signed           ├──▶ timers (PEC 12 h / 24 h notices)
//!   PEC/REM message from a trusted provider          └──▶ ops API (queue, index, metrics)
//! ```
//!
//! [`Gateway`] is what every part shares: the translation context, the spool, the metrics and
//! the settings that `SIGHUP` reloads.

use std::sync::{Arc, RwLock};

use tokio::sync::{Notify, watch};

use crate::config::Service as Settings;
use crate::translate::Context;

pub mod delivery;
pub mod dev;
pub mod metrics;
pub mod ops;
pub mod process;
pub mod smtp;
pub mod spool;
pub mod tsa;

pub use metrics::Metrics;
pub use spool::Spool;

/// A shutdown signal: `true` once the service is stopping. Loops finish what they hold and
/// return; listeners stop accepting.
pub type Shutdown = watch::Receiver<bool>;

/// Waits until `s` says stop (or its sender is gone).
pub async fn stopping(s: &mut Shutdown) {
    while !*s.borrow() {
        if s.changed().await.is_err() {
            return;
        }
    }
}

/// The running gateway's shared state.
pub struct Gateway {
    /// Everything a translation needs (configuration, keys, tables, index, TSA).
    pub cx: Arc<Context>,
    /// The queue.
    pub spool: Arc<dyn Spool>,
    /// The metrics.
    pub metrics: Metrics,
    settings: RwLock<Arc<Settings>>,
    /// Woken when new work is queued (deliveries, processing retries, timers), so that the
    /// loops do not wait for their next tick.
    pub work: Notify,
    /// When the service started.
    pub started: std::time::Instant,
    /// The trusted lists (`[trust] lists`): MX delivery follows them while some are
    /// configured ([`crate::discovery::TrustStore::in_force`]); a reload replaces their
    /// sources.
    pub trust: Arc<crate::discovery::TrustStore>,
    /// `[trust] dns_servers` in force (a reload replaces them).
    dns_servers: RwLock<Arc<Vec<std::net::SocketAddr>>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("spool", &self.spool)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Assembles the shared state; the settings are the configuration's `[smtp]`, `[[route]]`,
    /// `[pec]`, `[delivery]`, `[timers]`, `[limits]` ... as loaded.
    pub fn new(cx: Arc<Context>, spool: Arc<dyn Spool>) -> Gateway {
        let settings = Arc::new(cx.config.service.clone());
        let dns_servers = RwLock::new(Arc::new(cx.config.trust.lists.dns_servers.clone()));
        Gateway {
            cx,
            spool,
            metrics: Metrics::new(),
            settings: RwLock::new(settings),
            work: Notify::new(),
            started: std::time::Instant::now(),
            trust: Arc::new(crate::discovery::TrustStore::unconfigured(
                crate::fetch::Fetcher::default(),
                time::OffsetDateTime::now_utc(),
            )),
            dns_servers,
        }
    }

    /// The same, answering from `trust` for discovery.
    pub fn with_trust(mut self, trust: Arc<crate::discovery::TrustStore>) -> Gateway {
        self.trust = trust;
        self
    }

    /// The DNS servers MX look-ups ask (`[trust] dns_servers`; empty: the system's).
    pub fn dns_servers(&self) -> Arc<Vec<std::net::SocketAddr>> {
        Arc::clone(&self.dns_servers.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The settings in force (a reload replaces them; holders of the old ones keep them).
    pub fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.settings.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Replaces the settings (`SIGHUP`).
    pub fn set_settings(&self, s: Settings) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
    }

    /// Wakes the loops: something new is due.
    pub fn wake(&self) {
        self.work.notify_waiters();
    }
}

/// Errors that stop the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SMTP listener failed.
    #[error("{0}")]
    Smtp(#[from] smtp::Error),
    /// The ops listener failed.
    #[error("ops API: {0}")]
    Ops(std::io::Error),
    /// A reloaded configuration was refused.
    #[error("{0}")]
    Config(#[from] crate::config::Error),
    /// The index could not be reloaded.
    #[error("index: {0}")]
    Index(String),
    /// The reloaded `[trust] lists` could not be loaded at all.
    #[error("[trust] lists: {0}")]
    Lists(#[from] crate::discovery::ReconfigureError),
}

/// Runs the gateway: SMTP in, processing retries, PEC timers, delivery and the ops API, until
/// `shutdown` says stop. Then the SMTP listener stops accepting and its sessions finish their
/// command; the loops finish what they hold; the spool keeps the rest for the next start.
pub async fn run(
    gw: Arc<Gateway>,
    smtp_listener: tokio::net::TcpListener,
    ops_listener: tokio::net::TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    shutdown: Shutdown,
) -> Result<(), Error> {
    let mut tasks = tokio::task::JoinSet::new();
    {
        let (gw, s) = (Arc::clone(&gw), shutdown.clone());
        tasks.spawn(async move { process::run(gw, s).await });
    }
    {
        let (gw, s) = (Arc::clone(&gw), shutdown.clone());
        tasks.spawn(async move { process::run_timers(gw, s).await });
    }
    {
        let (gw, s) = (Arc::clone(&gw), shutdown.clone());
        tasks.spawn(async move { delivery::run(gw, s).await });
    }
    if matches!(gw.cx.config.index, crate::config::IndexSource::Ldap { .. }) {
        let (gw, mut s) = (Arc::clone(&gw), shutdown.clone());
        tasks.spawn(async move {
            loop {
                match gw.cx.index.sync().await {
                    Ok(r) => tracing::info!(providers = r.providers, domains = r.domains, "index mirror refreshed"),
                    Err(e) => tracing::warn!(error = %e, "index refresh failed; the last mirror keeps answering"),
                }
                tokio::select! {
                    _ = stopping(&mut s) => return,
                    _ = tokio::time::sleep(INDEX_REFRESH) => {}
                }
            }
        });
    }
    {
        // The lists' refresh timer; idle while no list is configured, woken when a reload
        // changes the sources.
        let (gw, mut s) = (Arc::clone(&gw), shutdown.clone());
        tasks.spawn(async move {
            let store = Arc::clone(&gw.trust);
            loop {
                let wait = store
                    .refresh_in(time::OffsetDateTime::now_utc())
                    .max(TRUST_REFRESH_MIN);
                tokio::select! {
                    _ = stopping(&mut s) => return,
                    _ = store.changed() => continue,
                    _ = tokio::time::sleep(wait) => {}
                }
                if let Some(report) = store
                    .refresh_configured(time::OffsetDateTime::now_utc())
                    .await
                {
                    log_lists(&report, "refreshed");
                    gw.metrics.list_load("refresh");
                    gw.cx.set_trusted_lists(report.lists.clone());
                }
            }
        });
    }
    let ops = {
        let (gw, s) = (Arc::clone(&gw), shutdown.clone());
        tokio::spawn(async move { ops::serve(gw, ops_listener, s).await })
    };
    let smtp_result = smtp::serve(Arc::clone(&gw), smtp_listener, tls, shutdown.clone()).await;
    while tasks.join_next().await.is_some() {}
    let ops_result = ops.await;
    smtp_result?;
    match ops_result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::Ops(e)),
        Err(e) => Err(Error::Ops(std::io::Error::other(e.to_string()))),
    }
}

/// The shortest pause between two refreshes of the trusted lists.
const TRUST_REFRESH_MIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Logs what a load of the trusted lists did to each source: `what` is `loaded` or
/// `refreshed`; a source refused, or answering from its cached copy because the source is
/// unreachable or served a list that was refused, is a warning.
pub fn log_lists(report: &crate::tl::LoadReport, what: &str) {
    for st in &report.statuses {
        let sequence = st.loaded.as_ref().map(|l| l.list.sequence).unwrap_or(0);
        match &st.outcome {
            crate::tl::ListOutcome::Refused(r) => {
                tracing::warn!(list = %st.source, reason = %r, "trusted list refused ({what}); nothing cached answers")
            }
            crate::tl::ListOutcome::Cached { because: Some(b) } => {
                tracing::warn!(list = %st.source, sequence, reason = %b, "trusted list {what}: the cached copy answers")
            }
            _ => tracing::info!(list = %st.source, sequence, "trusted list {what}"),
        }
    }
}

/// How often a directory index is read again in full.
pub const INDEX_REFRESH: std::time::Duration = std::time::Duration::from_secs(3600);

/// `SIGHUP`: reads the configuration file again and applies what can change without a
/// restart — routes, `[pec]`, `[delivery]`, `[timers]`, `[limits]`, `[smtp]` limits for new
/// sessions, the trusted-list keys of `[trust]` (`lists`, `list_anchors`,
/// `allow_unsigned_lists`, `refresh`, `cache_dir`, `dns_servers`: every list read again at
/// once) — and reloads the index (the snapshot file again, or a full read of the directory).
/// Identities, the PEM trust anchors, listeners and the spool need a restart. A
/// configuration with problems is refused whole: the running one stays; so is one whose
/// lists cannot be loaded at all (none accepted, none cached). Lists appearing start MX
/// delivery by the lists and the judging of incoming REM signers by them; lists
/// disappearing stop both.
pub async fn reload(gw: &Gateway, path: &std::path::Path) -> Result<String, Error> {
    let config = crate::config::Config::load(path)?;
    let mut what = vec!["routes, limits, timers, delivery".to_owned()];
    // What can still fail comes before anything is applied: the snapshot is read, the
    // directory read again (the running index source: a refresh, harmless if the rest is
    // refused), the lists loaded.
    let snapshot = match &config.index {
        crate::config::IndexSource::Snapshot(p) => Some(crate::config::read_snapshot(p)?),
        crate::config::IndexSource::Ldap { .. } => {
            gw.cx
                .index
                .sync()
                .await
                .map_err(|e| Error::Index(e.to_string()))?;
            what.push("index (directory read again)".into());
            None
        }
        crate::config::IndexSource::Embedded => None,
    };
    let lists = &config.trust.lists;
    let had_lists = gw.trust.configured();
    let report = gw
        .trust
        .reconfigure(lists.sources(), time::OffsetDateTime::now_utc())
        .await?;
    if lists.lists.is_empty() {
        if had_lists {
            gw.cx.clear_trusted_lists();
            what.push(
                "trusted lists (none configured now: MX delivery no longer follows lists)".into(),
            );
        }
    } else {
        log_lists(&report, "reloaded");
        gw.metrics.list_load("reload");
        gw.cx.set_trusted_lists(report.lists.clone());
        what.push(format!(
            "trusted lists ({} loaded)",
            report.lists.lists().len()
        ));
    }
    *gw.dns_servers.write().unwrap_or_else(|p| p.into_inner()) =
        Arc::new(lists.dns_servers.clone());
    if let Some(s) = snapshot {
        gw.cx.index.load_snapshot(s);
        what.push("index snapshot".into());
    }
    gw.set_settings(config.service);
    gw.wake();
    Ok(what.join(", "))
}
