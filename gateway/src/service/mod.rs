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

pub mod metrics;
pub mod ops;
pub mod process;
pub mod spool;

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
        }
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
