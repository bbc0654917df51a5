//! The mailbox holders' identity assurance: whether the holder of a PEC mailbox had their
//! identity confirmed (SPID, CIE, CNS, a qualified signature, a recorded video session), how,
//! when, at which eIDAS level of assurance, and whether access to the mailbox uses two
//! factors. This is what a REM evidence states about the sender (`SenderDetails /
//! AssuranceLevelsDetails`, EN 319 522-3 §4.3.14, rem.md §3.6) and what "PEC valid in
//! Europe" requires of every holder.
//!
//! The answer comes from the PEC platform's records, through one of three sources
//! ([`Source`]): a JSON Lines file, an LDAP directory (attribute names configurable), or an
//! HTTP endpoint answering a GET with the same JSON object. Answers are cached (moka) with a
//! positive and a negative TTL and served stale when the source fails, as the providers'
//! index is ([`crate::index`]): [`Holders::lookup`].
//!
//! - [`model`]: [`Holder`], its method and level of assurance (open values), the JSON form.
//! - [`source`]: the three sources.
//!
//! Time is a parameter: lookups take the instant they are judged at.

pub mod model;
pub mod source;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use model::{Holder, Loa, Method};
pub use source::{LdapAttributes, LdapSource, Source};

/// Errors of the holders' source. A mailbox the source does not know is an answer
/// ([`Answer::holder`] `None`), not an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The JSON Lines file could not be read.
    #[error("holders file {path}: {reason}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A line of the JSON Lines file (or the HTTP answer) is not a holder record.
    #[error("{what}: {reason}")]
    Record {
        /// Where (`holders.jsonl line 3`, the URL, the LDAP entry's DN).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The LDAP directory could not be reached, refused the bind or the search.
    #[error("holders directory {url}: {reason}")]
    Ldap {
        /// The directory URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The directory lists the mailbox more than once.
    #[error("holders directory {url}: {count} entries for {mailbox}")]
    Ambiguous {
        /// The directory URL.
        url: String,
        /// The mailbox asked for.
        mailbox: String,
        /// How many entries matched.
        count: usize,
    },
    /// The HTTP endpoint could not be reached or answered an error.
    #[error("holders endpoint: {0}")]
    Http(#[from] crate::fetch::Error),
    /// A mailbox that cannot be asked for (empty, control characters).
    #[error("mailbox {0:?} cannot be looked up")]
    Mailbox(String),
    /// The source failed and no cached answer is young enough to serve instead.
    #[error("{source} (no cached answer within {max_stale_s} s)")]
    Unavailable {
        /// What the source said.
        source: Box<Error>,
        /// The staleness bound.
        max_stale_s: u64,
    },
}

/// Cache bounds: as the index's ([`crate::index::CachePolicy`]), for holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// How long a known holder is served without asking the source again.
    pub positive_ttl: Duration,
    /// How long "not a holder the source knows" is served without asking again.
    pub negative_ttl: Duration,
    /// How old an answer may be when served because the source fails.
    pub max_stale: Duration,
    /// At most this many cached answers.
    pub max_entries: u64,
}

impl Default for CachePolicy {
    /// Ten minutes positive (a holder whose confirmation is withdrawn is seen soon), one
    /// minute negative (a newly confirmed holder can send at once), one day of staleness,
    /// 100,000 answers.
    fn default() -> Self {
        CachePolicy {
            positive_ttl: Duration::from_secs(600),
            negative_ttl: Duration::from_secs(60),
            max_stale: Duration::from_secs(24 * 3600),
            max_entries: 100_000,
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFrom {
    /// The source, just now.
    Source,
    /// The cache, within its TTL.
    Cache,
    /// The cache, past its TTL, because the source failed (stale-if-error).
    Stale,
}

impl AnswerFrom {
    /// `source`, `cache` or `stale`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerFrom::Source => "source",
            AnswerFrom::Cache => "cache",
            AnswerFrom::Stale => "stale",
        }
    }
}

/// What the holders' source says about a mailbox.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The holder's record; `None`: the source does not know the mailbox.
    pub holder: Option<Arc<Holder>>,
    /// Where the answer came from.
    pub from: AnswerFrom,
    /// The answer's age (zero when from the source).
    pub age: Duration,
    /// For a stale answer: why the source was not used.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
struct Cached {
    holder: Option<Arc<Holder>>,
    fetched_at: SystemTime,
}

/// The holders' source with its cache.
pub struct Holders {
    source: Source,
    cache: moka::sync::Cache<String, Cached>,
    policy: CachePolicy,
}

impl std::fmt::Debug for Holders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Holders")
            .field("source", &self.source)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The cache key of a mailbox: trimmed, ASCII lower case (PEC providers treat addresses
/// case-insensitively).
pub fn mailbox_key(mailbox: &str) -> String {
    mailbox.trim().to_ascii_lowercase()
}

impl Holders {
    /// The holders of `source`, cached by `policy`.
    pub fn new(source: Source, policy: CachePolicy) -> Holders {
        // moka's own TTL only reclaims memory; freshness is judged by `lookup`'s instant.
        let reclaim = policy
            .positive_ttl
            .max(policy.negative_ttl)
            .saturating_add(policy.max_stale);
        Holders {
            source,
            cache: moka::sync::Cache::builder()
                .max_capacity(policy.max_entries)
                .time_to_live(reclaim)
                .build(),
            policy,
        }
    }

    /// The source.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The cache policy.
    pub fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    /// What the source says about `mailbox`, judged at `now`: a cached answer within its TTL
    /// (positive or negative), else the source's (then cached), else — when the source fails
    /// — a cached answer up to [`CachePolicy::max_stale`] old, else the source's error
    /// ([`Error::Unavailable`]).
    pub async fn lookup(&self, mailbox: &str, now: SystemTime) -> Result<Answer, Error> {
        let key = mailbox_key(mailbox);
        if key.is_empty() || key.chars().any(char::is_control) {
            return Err(Error::Mailbox(mailbox.to_owned()));
        }
        let cached = self.cache.get(&key);
        if let Some(c) = &cached {
            let age = now.duration_since(c.fetched_at).unwrap_or(Duration::ZERO);
            let ttl = if c.holder.is_some() {
                self.policy.positive_ttl
            } else {
                self.policy.negative_ttl
            };
            if age < ttl {
                return Ok(Answer {
                    holder: c.holder.clone(),
                    from: AnswerFrom::Cache,
                    age,
                    error: None,
                });
            }
        }
        match self.source.fetch(&key).await {
            Ok(h) => {
                let holder = h.map(Arc::new);
                self.cache.insert(
                    key,
                    Cached {
                        holder: holder.clone(),
                        fetched_at: now,
                    },
                );
                Ok(Answer {
                    holder,
                    from: AnswerFrom::Source,
                    age: Duration::ZERO,
                    error: None,
                })
            }
            Err(e) => {
                if let Some(c) = cached {
                    let age = now.duration_since(c.fetched_at).unwrap_or(Duration::ZERO);
                    if age <= self.policy.max_stale {
                        tracing::warn!(mailbox = %key, error = %e, age_s = age.as_secs(), "holders' source failed; serving the cached answer");
                        return Ok(Answer {
                            holder: c.holder,
                            from: AnswerFrom::Stale,
                            age,
                            error: Some(e.to_string()),
                        });
                    }
                }
                Err(Error::Unavailable {
                    source: Box::new(e),
                    max_stale_s: self.policy.max_stale.as_secs(),
                })
            }
        }
    }
}
