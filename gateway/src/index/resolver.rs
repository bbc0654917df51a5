//! [`Index`]: the directory, its in-memory mirror and the answer cache, behind one lookup.
//!
//! A lookup is answered, in order, by
//! 1. the mirror, when it came from the directory and is younger than the answer's TTL
//!    (positive or negative) — source `cache`;
//! 2. the answer cache, when the entry is within its TTL — source `cache`;
//! 3. the directory (one LDAP search) — source `ldap`, and the answer is cached;
//! 4. when the directory fails (stale-if-error): the newest of the stale cache entry and the
//!    mirror, if not older than [`CachePolicy::max_stale`] — source `cache` (or `snapshot`
//!    when the mirror was loaded from a snapshot), with its age and the directory's error.
//!
//! Without a directory, the mirror (a loaded snapshot) answers everything — source `snapshot`.
//! The mirror is replaced by [`Index::sync`] (a full paged read); [`Index::run_refresh`] calls
//! it on a schedule. A failed sync keeps the previous mirror.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use super::Error;
use super::cache::{AnswerCache, CachePolicy, Clock, Lookup};
use super::client::LdapConfig;
use super::ldif::Snapshot;
use super::model::{Directory, Provider, normalize_domain};
use super::signer::{self, SignerMatch};

/// Who gave an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerSource {
    /// The directory, just now.
    Ldap,
    /// Data fetched earlier from the directory (answer cache or mirror).
    Cache,
    /// A snapshot loaded from LDIF (a file or the embedded default).
    Snapshot,
}

impl AnswerSource {
    /// `ldap`, `cache` or `snapshot` (the JSON values of `ponte index lookup`).
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerSource::Ldap => "ldap",
            AnswerSource::Cache => "cache",
            AnswerSource::Snapshot => "snapshot",
        }
    }
}

/// Where the mirror came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A full read of the directory.
    Ldap,
    /// An LDIF snapshot.
    Snapshot,
}

/// The answer to "is this domain certified, and by whom?".
#[derive(Debug, Clone)]
pub struct Answer {
    /// The domain, normalised.
    pub domain: String,
    /// The provider managing it; `None`: not certified (esterno).
    pub provider: Option<Arc<Provider>>,
    /// Who answered.
    pub source: AnswerSource,
    /// Age of the data (zero for a live directory answer; unknown snapshot time gives zero).
    pub age: Duration,
    /// Whether the answer is served past its TTL because the directory failed.
    pub stale: bool,
    /// The directory's error when `stale`.
    pub directory_error: Option<String>,
}

impl Answer {
    /// Whether the domain is certified (PEC).
    pub fn certified(&self) -> bool {
        self.provider.is_some()
    }

    /// The answer as JSON, as `ponte index lookup --json` prints it and
    /// `GET /api/index/{domain}` answers: `domain`, `certified`, `provider` (see
    /// [`Provider::to_json`], `null` when not certified), `source` (`ldap`, `cache`,
    /// `snapshot`), `age_seconds`, `stale`, and `directory_error` when stale.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "domain": self.domain,
            "certified": self.certified(),
            "provider": self.provider.as_deref().map(Provider::to_json),
            "source": self.source.as_str(),
            "age_seconds": self.age.as_secs(),
            "stale": self.stale,
        });
        if let (Some(e), Some(obj)) = (&self.directory_error, v.as_object_mut()) {
            obj.insert("directory_error".into(), serde_json::json!(e));
        }
        v
    }
}

/// The signer check's answer.
#[derive(Debug, Clone)]
pub struct SignerAnswer {
    /// The owners (empty: the certificate is no provider's).
    pub owners: Vec<SignerMatch>,
    /// Who answered (the mirror: `cache`, or `snapshot`).
    pub source: AnswerSource,
    /// Age of the mirror.
    pub age: Duration,
}

#[derive(Debug, Clone)]
struct Mirror {
    directory: Arc<Directory>,
    taken_at: Option<SystemTime>,
    source: Source,
}

/// Statistics of one full sync.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncReport {
    /// Providers read.
    pub providers: usize,
    /// Distinct domains read.
    pub domains: usize,
    /// Wall-clock duration of the read and indexing.
    pub elapsed: Duration,
}

/// The providers' index: directory (optional), mirror, cache, clock.
#[derive(Debug)]
pub struct Index {
    ldap: Option<LdapConfig>,
    mirror: RwLock<Option<Mirror>>,
    cache: AnswerCache,
    clock: Arc<dyn Clock>,
}

impl Index {
    /// An index backed by a directory; cold until [`Index::sync`] or [`Index::load_snapshot`].
    pub fn with_ldap(ldap: LdapConfig, policy: CachePolicy, clock: Arc<dyn Clock>) -> Index {
        Index {
            ldap: Some(ldap),
            mirror: RwLock::new(None),
            cache: AnswerCache::new(policy),
            clock,
        }
    }

    /// An index answering from a snapshot only.
    pub fn from_snapshot(snapshot: Snapshot, policy: CachePolicy, clock: Arc<dyn Clock>) -> Index {
        let index = Index {
            ldap: None,
            mirror: RwLock::new(None),
            cache: AnswerCache::new(policy),
            clock,
        };
        index.load_snapshot(snapshot);
        index
    }

    /// Replaces the mirror with a snapshot (warm start, or an air-gapped index).
    pub fn load_snapshot(&self, snapshot: Snapshot) {
        self.set_mirror(Mirror {
            directory: Arc::new(snapshot.directory),
            taken_at: snapshot.synced_at,
            source: Source::Snapshot,
        });
    }

    fn set_mirror(&self, m: Mirror) {
        let mut guard = self.mirror.write().unwrap_or_else(|p| p.into_inner());
        *guard = Some(m);
    }

    fn mirror(&self) -> Option<Mirror> {
        self.mirror
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The current mirror's directory, when one is loaded.
    pub fn directory(&self) -> Option<Arc<Directory>> {
        self.mirror().map(|m| m.directory)
    }

    /// When the mirror's data was taken, and from where.
    pub fn mirror_taken_at(&self) -> Option<(Option<SystemTime>, Source)> {
        self.mirror().map(|m| (m.taken_at, m.source))
    }

    /// The answer cache (for inspection).
    pub fn cache(&self) -> &AnswerCache {
        &self.cache
    }

    fn age(&self, at: Option<SystemTime>, now: SystemTime) -> Duration {
        at.and_then(|t| now.duration_since(t).ok())
            .unwrap_or(Duration::ZERO)
    }

    /// Reads the whole directory and replaces the mirror (clearing the answer cache).
    /// On failure the previous mirror stays.
    pub async fn sync(&self) -> Result<SyncReport, Error> {
        let ldap = self
            .ldap
            .as_ref()
            .ok_or_else(|| Error::Unavailable("no directory configured".into()))?;
        let started = Instant::now();
        let dir = ldap.fetch_directory().await?;
        let report = SyncReport {
            providers: dir.providers().len(),
            domains: dir.domain_count(),
            elapsed: started.elapsed(),
        };
        self.set_mirror(Mirror {
            directory: Arc::new(dir),
            taken_at: Some(self.clock.now()),
            source: Source::Ldap,
        });
        self.cache.clear();
        Ok(report)
    }

    /// Syncs every `every`, forever; failures are logged and the old mirror keeps answering.
    /// The service spawns this (`tokio::spawn(index.clone().run_refresh(every))`).
    pub async fn run_refresh(self: Arc<Self>, every: Duration) {
        loop {
            match self.sync().await {
                Ok(r) => tracing::info!(
                    providers = r.providers,
                    domains = r.domains,
                    seconds = r.elapsed.as_secs_f64(),
                    "index mirror refreshed"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "index refresh failed; keeping the last mirror")
                }
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Is `domain` certified, and by which provider? Any case, trailing dot allowed.
    /// `Err` only for an invalid domain or when nothing can answer.
    pub async fn lookup(&self, domain: &str) -> Result<Answer, Error> {
        let d = normalize_domain(domain)?;
        let now = self.clock.now();
        let mirror = self.mirror();
        let policy = *self.cache.policy();
        let answer = |provider: Option<Arc<Provider>>, source, age, err: Option<&Error>| Answer {
            domain: d.clone(),
            provider,
            source,
            age,
            stale: err.is_some(),
            directory_error: err.map(|e| e.to_string()),
        };

        let Some(ldap) = &self.ldap else {
            let m =
                mirror.ok_or_else(|| Error::Unavailable("no directory and no snapshot".into()))?;
            let p = m.directory.provider_for_normalized(&d).cloned();
            return Ok(answer(
                p,
                AnswerSource::Snapshot,
                self.age(m.taken_at, now),
                None,
            ));
        };

        // 1. A fresh mirror read from the directory.
        if let Some(m) = mirror.as_ref().filter(|m| m.source == Source::Ldap) {
            let p = m.directory.provider_for_normalized(&d).cloned();
            let age = self.age(m.taken_at, now);
            if age < policy.ttl(p.is_some()) {
                return Ok(answer(p, AnswerSource::Cache, age, None));
            }
        }
        // 2. A fresh cached answer.
        let cached = self.cache.get(&d, now);
        if let Lookup::Fresh(c) = &cached {
            return Ok(answer(
                c.provider.clone(),
                AnswerSource::Cache,
                c.age(now),
                None,
            ));
        }
        // 3. The directory.
        match ldap.lookup_domain(&d).await {
            Ok(p) => {
                let p = p.map(Arc::new);
                self.cache.insert(d.clone(), p.clone(), now);
                Ok(answer(p, AnswerSource::Ldap, Duration::ZERO, None))
            }
            // 4. Stale-if-error.
            Err(e) => {
                let from_cache = match cached {
                    Lookup::Stale(c) => Some((c.provider.clone(), c.age(now), AnswerSource::Cache)),
                    _ => None,
                };
                let from_mirror = mirror.and_then(|m| {
                    let age = self.age(m.taken_at, now);
                    (age <= policy.max_stale).then(|| {
                        let src = match m.source {
                            Source::Ldap => AnswerSource::Cache,
                            Source::Snapshot => AnswerSource::Snapshot,
                        };
                        (m.directory.provider_for_normalized(&d).cloned(), age, src)
                    })
                });
                let best = match (from_cache, from_mirror) {
                    (Some(c), Some(m)) => Some(if c.1 <= m.1 { c } else { m }),
                    (c, m) => c.or(m),
                };
                match best {
                    Some((p, age, src)) => {
                        tracing::warn!(domain = %d, error = %e, age_s = age.as_secs(), "directory failed; serving stale answer");
                        Ok(answer(p, src, age, Some(&e)))
                    }
                    None => Err(Error::Unavailable(e.to_string())),
                }
            }
        }
    }

    /// Which provider owns the certificate `der`? Answered from the mirror (read from the
    /// directory first when there is none yet).
    pub async fn check_signer(&self, der: &[u8]) -> Result<SignerAnswer, Error> {
        if self.mirror().is_none() && self.ldap.is_some() {
            self.sync().await?;
        }
        let m = self
            .mirror()
            .ok_or_else(|| Error::Unavailable("no directory and no snapshot".into()))?;
        let now = self.clock.now();
        Ok(SignerAnswer {
            owners: signer::owners(&m.directory, der),
            source: match m.source {
                Source::Ldap => AnswerSource::Cache,
                Source::Snapshot => AnswerSource::Snapshot,
            },
            age: self.age(m.taken_at, now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::cache::ManualClock;
    use crate::index::ldif;

    const SNAP: &str = "\
dn: providerName=A,o=postacert
objectClass: provider
providerName: A
mailReceipt: r@pec.a.test
providerCertificateHash: 00
providerCertificate:: AQID
managedDomains: pec.a.test
";

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn down_index(clock: Arc<ManualClock>) -> Index {
        // Nothing listens on loopback port 9: the directory is down.
        let mut cfg = LdapConfig::new("ldap://127.0.0.1:9");
        cfg.timeout = Duration::from_secs(2);
        let policy = CachePolicy {
            positive_ttl: Duration::from_secs(600),
            negative_ttl: Duration::from_secs(60),
            max_entries: 100,
            max_stale: Duration::from_secs(86_400),
        };
        Index::with_ldap(cfg, policy, clock)
    }

    #[tokio::test]
    async fn directory_down_serves_the_last_good_cached_answer_with_its_age() {
        let clock = Arc::new(ManualClock::new(t0()));
        let index = down_index(clock.clone());
        let snap = ldif::parse(SNAP).unwrap_or_else(|e| panic!("{e}"));
        let p = snap.directory.providers().first().cloned();
        index.cache().insert("pec.a.test".into(), p, clock.now());
        // Within the TTL: a fresh cache answer, the directory is not asked.
        let a = index
            .lookup("PEC.A.TEST.")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((a.source, a.stale), (AnswerSource::Cache, false));
        // Past the TTL: the directory is asked, fails, the stale answer is served with its age.
        clock.advance(Duration::from_secs(3_000));
        let a = index
            .lookup("pec.a.test")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(a.certified() && a.stale);
        assert_eq!(a.age, Duration::from_secs(3_000));
        assert!(a.directory_error.is_some_and(|e| e.contains("127.0.0.1:9")));
        // Never asked before, no mirror: nothing can answer.
        assert!(matches!(
            index.lookup("other.test").await,
            Err(Error::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn directory_down_falls_back_to_the_snapshot_until_max_stale() {
        let clock = Arc::new(ManualClock::new(t0()));
        let index = down_index(clock.clone());
        let mut snap = ldif::parse(SNAP).unwrap_or_else(|e| panic!("{e}"));
        snap.synced_at = Some(t0());
        index.load_snapshot(snap);
        clock.advance(Duration::from_secs(7_200));
        let a = index
            .lookup("nope.test")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (a.certified(), a.source, a.stale),
            (false, AnswerSource::Snapshot, true)
        );
        assert_eq!(a.age, Duration::from_secs(7_200));
        clock.advance(Duration::from_secs(86_400));
        assert!(matches!(
            index.lookup("pec.a.test").await,
            Err(Error::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn snapshot_only_index_answers_from_the_snapshot() {
        let clock = Arc::new(ManualClock::new(t0()));
        let snap = ldif::parse(SNAP).unwrap_or_else(|e| panic!("{e}"));
        let index = Index::from_snapshot(snap, CachePolicy::default(), clock);
        let a = index
            .lookup("Pec.A.Test")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (a.certified(), a.source, a.stale),
            (true, AnswerSource::Snapshot, false)
        );
        let s = index
            .check_signer(&[1, 2, 3])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.owners.len(), 1);
        assert!(matches!(index.sync().await, Err(Error::Unavailable(_))));
    }
}
