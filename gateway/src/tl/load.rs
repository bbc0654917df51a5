//! Getting the lists: from files or URLs, following a list of lists to the lists it points
//! at, with the disk [cache](super::cache).
//!
//! For each configured source (a LOTL or a TL), then for each XML list a list of lists points
//! at (one level: a TL's pointer back to the LOTL is not followed):
//! 1. with [`LoadMode::PreferCache`], a cached copy younger than `refresh` is used as it is;
//! 2. otherwise the source is read (file) or fetched (http/https) and judged
//!    ([`super::verify::judge`]): the keys are the configured anchors for a configured source,
//!    the pointer's certificates for a pointed one. An accepted copy replaces the cached one;
//! 3. when the source is unreachable, or serves a list that is refused, or a list with a
//!    lower `TSLSequenceNumber` than the cached one (a replay), the cached copy answers, and
//!    the status says why and how old it is. Without a cached copy, the list is refused.

use std::path::PathBuf;
use std::time::Duration;

use time::OffsetDateTime;

use super::cache::Cache;
use super::lookup::TrustedLists;
use super::model::TrustedList;
use super::verify::{self, ListTrust, Refused};
use crate::fetch::Fetcher;
use crate::x509::Certificate;

/// What to load and how to judge it.
#[derive(Clone, Debug)]
pub struct Sources {
    /// Files or `http(s)://` URLs: lists of lists and/or lists.
    pub lists: Vec<String>,
    /// Who may sign a list given directly (a LOTL or a TL of `lists`).
    pub anchors: Vec<Certificate>,
    /// Accept unsigned lists and lists signed by an unknown key (tests only).
    pub allow_unsigned: bool,
    /// Where accepted copies are kept; `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// How long a cached copy is used without fetching again ([`LoadMode::PreferCache`]).
    pub refresh: Duration,
    /// The folder relative file names are read from.
    pub base_dir: Option<PathBuf>,
}

/// Whether to use young cached copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadMode {
    /// A cached copy younger than `refresh` is used without fetching.
    PreferCache,
    /// Every source is fetched; the cache answers only when that fails.
    Fetch,
}

/// An accepted list.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Its source (URL or file, as configured or as the pointer says).
    pub source: String,
    /// The list.
    pub list: TrustedList,
    /// How far it is trusted.
    pub trust: ListTrust,
    /// When the copy in use was fetched.
    pub fetched_at: OffsetDateTime,
    /// Whether the copy in use comes from the cache.
    pub from_cache: bool,
    /// The list of lists that pointed at it, if it was found that way.
    pub pointed_by: Option<String>,
}

/// What happened to one source.
#[derive(Clone, Debug)]
pub enum ListOutcome {
    /// Fetched (or read) now and accepted.
    Fetched,
    /// The cached copy answers; why, when it is not simply young enough.
    Cached {
        /// Why the cache answers (the source unreachable, the fetched copy refused).
        because: Option<String>,
    },
    /// Refused, and nothing cached answers.
    Refused(Refused),
}

/// The status of one source after a load.
#[derive(Clone, Debug)]
pub struct ListStatus {
    /// The source.
    pub source: String,
    /// The list of lists that pointed at it.
    pub pointed_by: Option<String>,
    /// What happened.
    pub outcome: ListOutcome,
    /// The list in use (when one is).
    pub loaded: Option<Loaded>,
    /// The age of the copy in use.
    pub age: Option<Duration>,
    /// Whether the list in use is past its `NextUpdate`.
    pub stale: bool,
}

/// Everything a load produced.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// The accepted lists.
    pub lists: TrustedLists,
    /// One status per source, configured first, then pointed ones.
    pub statuses: Vec<ListStatus>,
}

impl LoadReport {
    /// Whether every source was fetched now and accepted.
    pub fn all_fresh(&self) -> bool {
        self.statuses
            .iter()
            .all(|s| matches!(s.outcome, ListOutcome::Fetched))
    }
}

fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

async fn read_source(sources: &Sources, fetcher: &Fetcher, src: &str) -> Result<Vec<u8>, String> {
    if is_url(src) {
        fetcher
            .get(
                src,
                "application/vnd.etsi.tsl+xml, application/xml, text/xml, */*",
            )
            .await
            .map(|f| f.body)
            .map_err(|e| e.to_string())
    } else {
        let path = match &sources.base_dir {
            Some(b) => b.join(src),
            None => PathBuf::from(src),
        };
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

struct Job {
    source: String,
    keys: Vec<Certificate>,
    key_from: String,
    pointed_by: Option<String>,
}

fn age(now: OffsetDateTime, then: OffsetDateTime) -> Duration {
    let secs = (now - then).whole_seconds().max(0);
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

async fn one(
    job: &Job,
    sources: &Sources,
    fetcher: &Fetcher,
    cache: Option<&Cache>,
    mode: LoadMode,
    now: OffsetDateTime,
) -> ListStatus {
    let judge =
        |bytes: &[u8]| verify::judge(bytes, &job.keys, &job.key_from, sources.allow_unsigned);
    let cached = cache.and_then(|c| match c.get(&job.source) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    });
    let cached_judged = cached
        .as_ref()
        .and_then(|e| judge(&e.bytes).ok().map(|j| (j, e.fetched_at)));
    let done = |outcome: ListOutcome, accepted: Option<(verify::Judged, OffsetDateTime, bool)>| {
        let loaded = accepted.map(|(j, at, from_cache)| Loaded {
            source: job.source.clone(),
            list: j.list,
            trust: j.trust,
            fetched_at: at,
            from_cache,
            pointed_by: job.pointed_by.clone(),
        });
        ListStatus {
            source: job.source.clone(),
            pointed_by: job.pointed_by.clone(),
            outcome,
            age: loaded.as_ref().map(|l| age(now, l.fetched_at)),
            stale: loaded
                .as_ref()
                .is_some_and(|l| l.list.next_update.is_some_and(|n| n < now)),
            loaded,
        }
    };
    if mode == LoadMode::PreferCache
        && let Some((j, at)) = &cached_judged
        && age(now, *at) < sources.refresh
    {
        return done(
            ListOutcome::Cached { because: None },
            Some((j.clone(), *at, true)),
        );
    }
    let fallback = |because: String, refused: Refused| match &cached_judged {
        Some((j, at)) => done(
            ListOutcome::Cached {
                because: Some(because),
            },
            Some((j.clone(), *at, true)),
        ),
        None => done(ListOutcome::Refused(refused), None),
    };
    let bytes = match read_source(sources, fetcher, &job.source).await {
        Ok(b) => b,
        Err(e) => return fallback(format!("unreachable: {e}"), Refused::Unreachable(e)),
    };
    match judge(&bytes) {
        Ok(j) => {
            if let Some((c, _)) = &cached_judged
                && j.list.sequence < c.list.sequence
            {
                let r = Refused::Older {
                    sequence: j.list.sequence,
                    cached: c.list.sequence,
                };
                return fallback(format!("fetched copy refused: {r}"), r);
            }
            if let Some(c) = cache
                && let Err(e) = c.put(&job.source, &bytes, now)
            {
                tracing::warn!("{e}");
            }
            done(ListOutcome::Fetched, Some((j, now, false)))
        }
        Err(r) => fallback(format!("fetched copy refused: {r}"), r),
    }
}

/// Loads every list of `sources` (see the module documentation), judging at `now`.
pub async fn load(
    sources: &Sources,
    fetcher: &Fetcher,
    mode: LoadMode,
    now: OffsetDateTime,
) -> LoadReport {
    let cache = sources.cache_dir.as_ref().map(Cache::new);
    let mut statuses: Vec<ListStatus> = Vec::new();
    let mut queue: Vec<Job> = sources
        .lists
        .iter()
        .map(|s| Job {
            source: s.clone(),
            keys: sources.anchors.clone(),
            key_from: "list_anchors".to_owned(),
            pointed_by: None,
        })
        .collect();
    let mut i = 0;
    while let Some(job) = queue.get(i) {
        i += 1;
        if statuses.iter().any(|s| s.source == job.source) {
            continue;
        }
        let status = one(job, sources, fetcher, cache.as_ref(), mode, now).await;
        // A list of lists given directly: follow its pointers to XML lists (one level).
        let mut pointed = Vec::new();
        if job.pointed_by.is_none()
            && let Some(l) = &status.loaded
            && l.list.tsl_type.is_list_of_lists()
        {
            for p in &l.list.pointers {
                let to_lotl = p.tsl_type.as_ref().is_some_and(|t| t.is_list_of_lists());
                if !to_lotl && p.is_xml() {
                    pointed.push(Job {
                        source: p.location.clone(),
                        keys: p.signers.certificates.clone(),
                        key_from: format!("the pointer in {}", job.source),
                        pointed_by: Some(job.source.clone()),
                    });
                }
            }
        }
        statuses.push(status);
        queue.extend(pointed);
    }
    let lists = statuses.iter().filter_map(|s| s.loaded.clone()).collect();
    LoadReport {
        lists: TrustedLists::new(lists),
        statuses,
    }
}
