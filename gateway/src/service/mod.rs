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
    /// The trusted lists (`[trust] lists`), when configured: MX delivery follows them.
    pub trust: Option<Arc<crate::discovery::TrustStore>>,
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
        Gateway {
            cx,
            spool,
            metrics: Metrics::new(),
            settings: RwLock::new(settings),
            work: Notify::new(),
            started: std::time::Instant::now(),
            trust: None,
        }
    }

    /// The same, answering from `trust` for discovery.
    pub fn with_trust(mut self, trust: Arc<crate::discovery::TrustStore>) -> Gateway {
        self.trust = Some(trust);
        self
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
    if let Some(store) = gw.trust.clone() {
        let (gw, mut s) = (Arc::clone(&gw), shutdown.clone());
        tasks.spawn(async move {
            loop {
                let wait = store
                    .refresh_in(time::OffsetDateTime::now_utc())
                    .max(TRUST_REFRESH_MIN);
                tokio::select! {
                    _ = stopping(&mut s) => return,
                    _ = tokio::time::sleep(wait) => {}
                }
                let report = store.refresh(time::OffsetDateTime::now_utc()).await;
                log_lists(&report, "refreshed");
                gw.cx.set_trusted_lists(report.lists.clone());
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
/// sessions — and reloads the index (the snapshot file again, or a full read of the
/// directory). Identities, trust anchors, listeners and the spool need a restart. A
/// configuration with problems is refused whole: the running one stays.
pub async fn reload(gw: &Gateway, path: &std::path::Path) -> Result<String, Error> {
    let config = crate::config::Config::load(path)?;
    let mut what = vec!["routes, limits, timers, delivery"];
    match &config.index {
        crate::config::IndexSource::Snapshot(p) => {
            let s = crate::config::read_snapshot(p)?;
            gw.cx.index.load_snapshot(s);
            what.push("index snapshot");
        }
        crate::config::IndexSource::Ldap { .. } => {
            gw.cx
                .index
                .sync()
                .await
                .map_err(|e| Error::Index(e.to_string()))?;
            what.push("index (directory read again)");
        }
        crate::config::IndexSource::Embedded => {}
    }
    gw.set_settings(config.service);
    gw.wake();
    Ok(what.join(", "))
}
