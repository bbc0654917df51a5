//! The service's metrics, rendered as text for `GET /metrics` (OpenMetrics, which Prometheus
//! reads). Counters and histograms are updated where things happen; the gauges that describe
//! the queue and the index are set from the spool's and the index's figures at each scrape.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `ponte_messages_total` | counter | `direction` (`pec-to-rem`, `rem-to-pec`), `outcome` (`accepted`, `refused-smtp`, `translated`, `refused`, `delivered`, `failed`, `quarantined`, `duplicate`, `tempfail`) |
//! | `ponte_deliveries_total` | counter | `destination` (`pec`, `rem`, `outbox`), `outcome` (`delivered`, `deferred`, `failed`) |
//! | `ponte_queue_depth` | gauge | messages not in a final state |
//! | `ponte_queue_oldest_seconds` | gauge | age of the oldest of them |
//! | `ponte_deliveries_queued` | gauge | deliveries waiting |
//! | `ponte_timers` | gauge | PEC timers waiting |
//! | `ponte_index_age_seconds` | gauge | age of the index's last full read (or its snapshot) |
//! | `ponte_tsa_request_seconds` | histogram | time-stamp requests to the TSA |
//! | `ponte_smtp_sessions` | gauge | SMTP sessions open now |
//! | `ponte_notices_total` | counter | `kind` (`warning`, `final`, `non-delivery`, `rejection`) |
//! | `ponte_trusted_list_age_seconds` | gauge | `list` (its source): age of the copy in use of each trusted list (`[trust] lists` set) |
//! | `ponte_trusted_list_loads_total` | counter | `trigger` of a load of the trusted lists: `start`, `refresh` (the `[trust] refresh` timer), `reload` (`SIGHUP`) |
//! | `ponte_capabilities_total` | counter | `outcome` of reading a discovered REM service's capability document (CSI) before relaying, once per delivery and service: `verified` (signed by the service, fresh, REM baseline), `not-baseline` (verified, says no REM baseline: not relayed to), `not-verified` (unsigned, another signer, bad signature, stale, unreadable), `unavailable` (not fetched), `none` (no http(s) supply point) |
//! | `ponte_discovery_total` | counter | `outcome` of a REM peer discovery (`[trust] lists` set, no route): `peer-found` (once per delivery, not again at its retries), `no-mx`, `not-a-supply-point`, `not-qualified`, `tls-identity-mismatch`, `csi-not-baseline` (a verified capability document says no REM baseline), `deferred` (DNS failed, no list loaded), `no-mail` (null MX) |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `direction` and `outcome` of `ponte_messages_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageLabels {
    /// `pec-to-rem` or `rem-to-pec`.
    pub direction: String,
    /// What happened.
    pub outcome: String,
}

/// `destination` and `outcome` of `ponte_deliveries_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `pec`, `rem` or `outbox`.
    pub destination: String,
    /// `delivered`, `deferred` or `failed`.
    pub outcome: String,
}

/// `kind` of `ponte_notices_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NoticeLabels {
    /// `warning`, `final`, `non-delivery`, `rejection`.
    pub kind: String,
}

/// `outcome` of `ponte_discovery_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiscoveryLabels {
    /// `peer-found`, or the refusal's kind.
    pub outcome: String,
}

/// `list` of `ponte_trusted_list_age_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListLabels {
    /// The list's source (file or URL).
    pub list: String,
}

/// `outcome` of `ponte_capabilities_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CapabilityLabels {
    /// `verified`, `not-baseline`, `not-verified`, `unavailable`, `none`.
    pub outcome: String,
}

/// `trigger` of `ponte_trusted_list_loads_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoadLabels {
    /// `start`, `refresh` or `reload`.
    pub trigger: String,
}

/// Every metric of the service, registered once.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `ponte_messages_total`.
    pub messages: Family<MessageLabels, Counter>,
    /// `ponte_deliveries_total`.
    pub deliveries: Family<DeliveryLabels, Counter>,
    /// `ponte_notices_total`.
    pub notices: Family<NoticeLabels, Counter>,
    /// `ponte_discovery_total`.
    pub discovery: Family<DiscoveryLabels, Counter>,
    /// `ponte_trusted_list_age_seconds`.
    pub trusted_list_age_seconds: Family<ListLabels, Gauge>,
    /// `ponte_trusted_list_loads_total`.
    pub trusted_list_loads: Family<LoadLabels, Counter>,
    /// `ponte_capabilities_total`.
    pub capabilities: Family<CapabilityLabels, Counter>,
    /// `ponte_queue_depth`.
    pub queue_depth: Gauge,
    /// `ponte_queue_oldest_seconds`.
    pub queue_oldest_seconds: Gauge,
    /// `ponte_deliveries_queued`.
    pub deliveries_queued: Gauge,
    /// `ponte_timers`.
    pub timers: Gauge,
    /// `ponte_index_age_seconds`.
    pub index_age_seconds: Gauge,
    /// `ponte_tsa_request_seconds`.
    pub tsa_request_seconds: Histogram,
    /// `ponte_smtp_sessions`.
    pub smtp_sessions: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ponte");
        let messages = Family::<MessageLabels, Counter>::default();
        registry.register(
            "messages",
            "Messages by direction and outcome",
            messages.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by destination and outcome",
            deliveries.clone(),
        );
        let notices = Family::<NoticeLabels, Counter>::default();
        registry.register(
            "notices",
            "Notices the gateway issued on its own (PEC timers, non-delivery, REM rejections)",
            notices.clone(),
        );
        let discovery = Family::<DiscoveryLabels, Counter>::default();
        registry.register(
            "discovery",
            "REM peer discoveries (MX, trusted lists, TLS identity) by outcome",
            discovery.clone(),
        );
        let trusted_list_age_seconds = Family::<ListLabels, Gauge>::default();
        registry.register(
            "trusted_list_age_seconds",
            "Age of the copy in use of each trusted list",
            trusted_list_age_seconds.clone(),
        );
        let trusted_list_loads = Family::<LoadLabels, Counter>::default();
        registry.register(
            "trusted_list_loads",
            "Loads of the trusted lists by trigger (start, refresh, reload)",
            trusted_list_loads.clone(),
        );
        let capabilities = Family::<CapabilityLabels, Counter>::default();
        registry.register(
            "capabilities",
            "Capability documents of discovered REM services read before relaying, by outcome",
            capabilities.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Messages not in a final state",
            queue_depth.clone(),
        );
        let queue_oldest_seconds = Gauge::default();
        registry.register(
            "queue_oldest_seconds",
            "Age of the oldest message not in a final state",
            queue_oldest_seconds.clone(),
        );
        let deliveries_queued = Gauge::default();
        registry.register(
            "deliveries_queued",
            "Deliveries waiting for an attempt",
            deliveries_queued.clone(),
        );
        let timers = Gauge::default();
        registry.register("timers", "PEC timers waiting", timers.clone());
        let index_age_seconds = Gauge::default();
        registry.register(
            "index_age_seconds",
            "Age of the providers' index data",
            index_age_seconds.clone(),
        );
        let tsa_request_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        registry.register(
            "tsa_request_seconds",
            "Time-stamp requests to the TSA",
            tsa_request_seconds.clone(),
        );
        let smtp_sessions = Gauge::default();
        registry.register("smtp_sessions", "SMTP sessions open", smtp_sessions.clone());
        Metrics {
            registry,
            messages,
            deliveries,
            notices,
            discovery,
            trusted_list_age_seconds,
            trusted_list_loads,
            capabilities,
            queue_depth,
            queue_oldest_seconds,
            deliveries_queued,
            timers,
            index_age_seconds,
            tsa_request_seconds,
            smtp_sessions,
        }
    }

    /// Counts a message outcome.
    pub fn message(&self, direction: &str, outcome: &str) {
        self.messages
            .get_or_create(&MessageLabels {
                direction: direction.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts a delivery attempt.
    pub fn delivery(&self, destination: &str, outcome: &str) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                destination: destination.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts a notice.
    pub fn notice(&self, kind: &str) {
        self.notices
            .get_or_create(&NoticeLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Counts a discovery decision.
    pub fn discovery(&self, outcome: &str) {
        self.discovery
            .get_or_create(&DiscoveryLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts what a discovered service's capability document said.
    pub fn capabilities(&self, outcome: &str) {
        self.capabilities
            .get_or_create(&CapabilityLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts a load of the trusted lists (`start`, `refresh`, `reload`).
    pub fn list_load(&self, trigger: &str) {
        self.trusted_list_loads
            .get_or_create(&LoadLabels {
                trigger: trigger.to_owned(),
            })
            .inc();
    }

    /// Sets `ponte_trusted_list_age_seconds` to these (source, age in seconds), dropping
    /// lists no longer in use.
    pub fn list_ages(&self, ages: &[(String, u64)]) {
        self.trusted_list_age_seconds.clear();
        for (list, age) in ages {
            self.trusted_list_age_seconds
                .get_or_create(&ListLabels { list: list.clone() })
                .set(i64::try_from(*age).unwrap_or(i64::MAX));
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_name() {
        let m = Metrics::new();
        m.message("pec-to-rem", "translated");
        m.delivery("rem", "delivered");
        m.discovery("not-a-supply-point");
        m.queue_depth.set(3);
        m.list_ages(&[("tl.xml".into(), 42)]);
        m.list_load("reload");
        m.capabilities("verified");
        m.tsa_request_seconds.observe(0.004);
        let text = m.render();
        for needle in [
            "ponte_messages_total{direction=\"pec-to-rem\",outcome=\"translated\"} 1",
            "ponte_deliveries_total{destination=\"rem\",outcome=\"delivered\"} 1",
            "ponte_discovery_total{outcome=\"not-a-supply-point\"} 1",
            "ponte_queue_depth 3",
            "ponte_trusted_list_age_seconds{list=\"tl.xml\"} 42",
            "ponte_trusted_list_loads_total{trigger=\"reload\"} 1",
            "ponte_capabilities_total{outcome=\"verified\"} 1",
            "ponte_queue_oldest_seconds 0",
            "ponte_index_age_seconds 0",
            "ponte_tsa_request_seconds_count 1",
            "ponte_smtp_sessions 0",
        ] {
            assert!(text.contains(needle), "{needle} not in\n{text}");
        }
    }
}
