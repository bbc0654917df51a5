//! The answer cache: moka bounds its size; freshness is judged against an injectable
//! [`Clock`] so that TTLs are testable without sleeping.
//!
//! Like a DNS resolver's cache (hickory's `ResponseCache`), positive answers ("this domain is
//! certified, by this provider") and negative answers ("not certified") have separate TTLs,
//! the negative one shorter so that a newly certified domain is seen soon. An entry past its
//! TTL is not served as fresh, but it is kept for stale-if-error up to
//! [`CachePolicy::max_stale`]: when the directory is unreachable, the last good answer is
//! served with its age.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::model::Provider;

/// Where time comes from. The service passes [`SystemClock`]; tests pass [`ManualClock`].
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to (tests, replays).
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: SystemTime) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Cache and staleness bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// How long a positive answer (domain certified) is served without asking again.
    pub positive_ttl: Duration,
    /// How long a negative answer (domain not certified) is served without asking again.
    pub negative_ttl: Duration,
    /// At most this many cached answers (moka evicts beyond it).
    pub max_entries: u64,
    /// How old an answer may be when served because the directory is unreachable.
    pub max_stale: Duration,
}

impl Default for CachePolicy {
    /// One hour positive, five minutes negative, 100,000 answers, seven days of staleness
    /// (the index is refreshed at least daily, so a week rides out a long outage).
    fn default() -> Self {
        CachePolicy {
            positive_ttl: Duration::from_secs(3600),
            negative_ttl: Duration::from_secs(300),
            max_entries: 100_000,
            max_stale: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl CachePolicy {
    /// The TTL of an answer (positive or negative).
    pub fn ttl(&self, certified: bool) -> Duration {
        if certified {
            self.positive_ttl
        } else {
            self.negative_ttl
        }
    }
}

/// A cached answer: the provider (or none: not certified) and when it was fetched.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The provider managing the domain; `None` means "not certified".
    pub provider: Option<Arc<Provider>>,
    /// When the directory gave this answer.
    pub fetched_at: SystemTime,
}

impl Cached {
    /// Age at `now` (zero if the clock went backwards).
    pub fn age(&self, now: SystemTime) -> Duration {
        now.duration_since(self.fetched_at)
            .unwrap_or(Duration::ZERO)
    }
}

/// What the cache holds for a domain at a given instant.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Within its TTL.
    Fresh(Cached),
    /// Past its TTL but within [`CachePolicy::max_stale`]: only for stale-if-error.
    Stale(Cached),
    /// Nothing usable.
    Missing,
}

/// The bounded answer cache (normalised domain → answer).
#[derive(Debug, Clone)]
pub struct AnswerCache {
    inner: moka::sync::Cache<String, Cached>,
    policy: CachePolicy,
}

impl AnswerCache {
    /// An empty cache with `policy`.
    pub fn new(policy: CachePolicy) -> AnswerCache {
        // moka's own TTL (real time) only reclaims memory; freshness is judged by `get`.
        let reclaim = policy
            .positive_ttl
            .max(policy.negative_ttl)
            .saturating_add(policy.max_stale);
        AnswerCache {
            inner: moka::sync::Cache::builder()
                .max_capacity(policy.max_entries)
                .time_to_live(reclaim)
                .build(),
            policy,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    /// The answer for `domain` (normalised) as seen at `now`.
    pub fn get(&self, domain: &str, now: SystemTime) -> Lookup {
        let Some(c) = self.inner.get(domain) else {
            return Lookup::Missing;
        };
        let age = c.age(now);
        if age < self.policy.ttl(c.provider.is_some()) {
            Lookup::Fresh(c)
        } else if age <= self.policy.max_stale {
            Lookup::Stale(c)
        } else {
            Lookup::Missing
        }
    }

    /// Records the directory's answer for `domain` (normalised), fetched at `at`.
    pub fn insert(&self, domain: String, provider: Option<Arc<Provider>>, at: SystemTime) {
        self.inner.insert(
            domain,
            Cached {
                provider,
                fetched_at: at,
            },
        );
    }

    /// Forgets everything (after a full sync replaced the mirror).
    pub fn clear(&self) {
        self.inner.invalidate_all();
    }

    /// Number of cached answers (after pending maintenance has run).
    pub fn len(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.entry_count()
    }

    /// Whether the cache holds no answer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Arc<Provider> {
        Arc::new(Provider {
            dn: "providerName=A,o=postacert".into(),
            name: "A".into(),
            mail_receipt: "r@a.test".into(),
            domains: vec!["pec.a.test".into()],
            certificates: vec![],
            certificate_hashes: vec![],
            description: vec![],
            ldif_location_urls: vec![],
            units: vec![],
        })
    }

    fn policy() -> CachePolicy {
        CachePolicy {
            positive_ttl: Duration::from_secs(600),
            negative_ttl: Duration::from_secs(60),
            max_entries: 100,
            max_stale: Duration::from_secs(3600),
        }
    }

    #[test]
    fn positive_answers_expire_after_their_ttl() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        let cache = AnswerCache::new(policy());
        cache.insert("pec.a.test".into(), Some(provider()), clock.now());
        clock.advance(Duration::from_secs(599));
        assert!(
            matches!(cache.get("pec.a.test", clock.now()), Lookup::Fresh(c) if c.provider.is_some())
        );
        clock.advance(Duration::from_secs(1));
        assert!(matches!(
            cache.get("pec.a.test", clock.now()),
            Lookup::Stale(_)
        ));
    }

    #[test]
    fn negative_answers_have_a_shorter_ttl() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        let cache = AnswerCache::new(policy());
        cache.insert("pec.a.test".into(), Some(provider()), clock.now());
        cache.insert("nope.test".into(), None, clock.now());
        clock.advance(Duration::from_secs(61));
        assert!(
            matches!(cache.get("nope.test", clock.now()), Lookup::Stale(c) if c.provider.is_none())
        );
        assert!(matches!(
            cache.get("pec.a.test", clock.now()),
            Lookup::Fresh(_)
        ));
    }

    #[test]
    fn stale_answers_are_kept_only_up_to_max_stale() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        let cache = AnswerCache::new(policy());
        cache.insert("pec.a.test".into(), Some(provider()), clock.now());
        clock.advance(Duration::from_secs(3600));
        match cache.get("pec.a.test", clock.now()) {
            Lookup::Stale(c) => assert_eq!(c.age(clock.now()), Duration::from_secs(3600)),
            other => panic!("{other:?}"),
        }
        clock.advance(Duration::from_secs(1));
        assert!(matches!(
            cache.get("pec.a.test", clock.now()),
            Lookup::Missing
        ));
    }

    #[test]
    fn size_is_bounded() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let cache = AnswerCache::new(policy());
        for i in 0..1_000 {
            cache.insert(format!("d{i}.test"), None, now);
        }
        let n = cache.len();
        assert!(n <= 100, "{n} entries for a bound of 100");
        assert!(n > 0);
    }

    #[test]
    fn clock_going_backwards_is_age_zero() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let c = Cached {
            provider: None,
            fetched_at: now,
        };
        assert_eq!(c.age(now - Duration::from_secs(5)), Duration::ZERO);
    }
}
