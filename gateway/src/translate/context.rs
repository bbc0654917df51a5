//! What a translation needs, loaded once: the configuration (identities, anchors, policies),
//! the mapping tables, the providers' index, the correlation store and the time-stamping
//! authority. Built by the service or the CLI, shared by every translation (it is `Sync`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use time::OffsetDateTime;

use crate::config::Config;
use crate::correlate::Store;
use crate::index::Index;
use crate::mappings::Tables;
use crate::pec::build::{IdentifierSource, Provider, SequenceIdentifiers};
use crate::smime::TrustTime;
use crate::tsp::ClientOptions;

/// Where evidence time-stamps come from.
#[derive(Debug, Clone)]
pub enum TimeStamps {
    /// An RFC 3161 TSA over HTTP (`[tsa] url`).
    Http {
        /// The TSA's URL.
        url: String,
        /// Timeouts and retries.
        options: ClientOptions,
    },
    /// None: evidences stay XAdES-B-B. Only when `[tsa]` is absent from the configuration;
    /// reported in every translation's notes.
    None,
}

/// The loaded gateway.
pub struct Context {
    /// The configuration, with its keys and certificates loaded.
    pub config: Config,
    /// The PEC ⇄ REM tables.
    pub tables: Tables,
    /// The providers' index (PEC signers are checked against it).
    pub index: Index,
    /// Where translated messages are recorded.
    pub store: Box<dyn Store + Send + Sync>,
    /// Evidence time-stamps.
    pub time_stamps: TimeStamps,
    /// The holders' identity source (`[holders]`), with its cache; `None` without `[holders]`.
    pub holders: Option<crate::holders::Holders>,
    /// The trusted lists incoming REM signers are judged against besides `rem_anchors`
    /// (`[trust] lists`), as the service or the CLI loaded them; `None`: not loaded.
    lists: RwLock<Option<crate::tl::TrustedLists>>,
    xades: crate::xades::Signer,
    ids: Mutex<SequenceIdentifiers>,
    rem_counter: AtomicU64,
    seed: String,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config.path)
            .field("time_stamps", &self.time_stamps)
            .finish_non_exhaustive()
    }
}

/// When a translation happens and at which instant the input's signatures are judged.
#[derive(Debug, Clone, Copy)]
pub struct Judge {
    /// The translation's own clock: Date of the output, EventTime of new evidence, signing time.
    pub now: OffsetDateTime,
    /// The instant certificate paths of the input are judged at (`--at`).
    pub trust_at: TrustTime,
}

impl Context {
    /// Assembles a context. `seed` distinguishes this process's identifiers (random hex in
    /// production, fixed in tests).
    pub fn new(
        config: Config,
        tables: Tables,
        index: Index,
        store: Box<dyn Store + Send + Sync>,
        seed: String,
    ) -> Result<Context, super::Error> {
        let time_stamps = match &config.tsa {
            Some(t) => TimeStamps::Http {
                url: t.url.clone(),
                options: ClientOptions::default(),
            },
            None => TimeStamps::None,
        };
        let id = &config.identity;
        let xades = crate::xades::Signer::new(
            id.rem_key.clone(),
            id.rem_cert.clone(),
            id.rem_chain.clone(),
        )
        .map_err(|e| super::Error::Build(format!("REM identity: {e}")))?;
        let holders = config.holders.as_ref().map(|h| h.open()).transpose()?;
        Ok(Context {
            xades,
            holders,
            lists: RwLock::new(None),
            config,
            tables,
            index,
            store,
            time_stamps,
            ids: Mutex::new(SequenceIdentifiers {
                seed: seed.clone(),
                next: 1,
            }),
            rem_counter: AtomicU64::new(1),
            seed,
        })
    }

    /// Sets the trusted lists incoming REM signers are judged against (at load, and after
    /// each refresh of `[trust] lists`).
    pub fn set_trusted_lists(&self, lists: crate::tl::TrustedLists) {
        match self.lists.write() {
            Ok(mut l) => *l = Some(lists),
            Err(poisoned) => *poisoned.into_inner() = Some(lists),
        }
    }

    /// No trusted lists any more (a reload removed `[trust] lists`): incoming REM signers are
    /// judged by the PEM anchors alone.
    pub fn clear_trusted_lists(&self) {
        match self.lists.write() {
            Ok(mut l) => *l = None,
            Err(poisoned) => *poisoned.into_inner() = None,
        }
    }

    /// The trusted lists in force, when loaded.
    pub fn trusted_lists(&self) -> Option<crate::tl::TrustedLists> {
        match self.lists.read() {
            Ok(l) => l.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads everything a translation needs from a configuration file: the configuration
    /// (keys, certificates, anchors), the mapping tables (`[mappings] dir` or the compiled-in
    /// ones), the index (`[index]`), and the correlation store: `store`, or the
    /// `[correlation] path` file when `None`. `seed` as in [`Context::new`].
    pub fn load(
        path: &std::path::Path,
        store: Option<Box<dyn Store + Send + Sync>>,
        seed: String,
    ) -> Result<Context, super::Error> {
        let config = Config::load(path)?;
        Context::from_config(config, store, seed)
    }

    /// [`Context::load`] from a configuration already loaded.
    pub fn from_config(
        config: Config,
        store: Option<Box<dyn Store + Send + Sync>>,
        seed: String,
    ) -> Result<Context, super::Error> {
        let tables = Tables::load(config.mappings_dir.as_deref())?;
        let index = config
            .index
            .open()
            .map_err(|e| super::Error::Index(e.to_string()))?;
        let store = match store {
            Some(s) => s,
            None => Box::new(crate::correlate::FileStore::open(&config.correlation_path)?),
        };
        Context::new(config, tables, index, store, seed)
    }

    /// A random seed for [`Context::new`]: 16 hex digits from the system's generator.
    pub fn random_seed() -> Result<String, super::Error> {
        use ring::rand::SecureRandom;
        let mut seed = [0u8; 8];
        ring::rand::SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| super::Error::Build("the system random generator failed".into()))?;
        Ok(seed.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The XAdES signer of the REM identity.
    pub fn xades_signer(&self) -> &crate::xades::Signer {
        &self.xades
    }

    /// The PEC provider Ponte signs PEC messages as.
    pub fn pec_provider(&self) -> Provider {
        Provider {
            name: self.config.identity.provider_name.clone(),
            domain: self.config.identity.domain.clone(),
        }
    }

    /// A fresh PEC identifier source view (shared counter).
    pub fn pec_ids(&self) -> SharedIds<'_> {
        SharedIds(&self.ids)
    }

    /// A fresh REM identifier `ponte.rem.<unix seconds>.<seed>.<n>@<domain>` (no `<>`).
    pub fn rem_identifier(&self, at: OffsetDateTime) -> String {
        let n = self.rem_counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "ponte.rem.{}.{}.{n}@{}",
            at.unix_timestamp(),
            self.seed,
            self.config.identity.domain
        )
    }
}

/// The context's PEC identifier counter, usable where `pec::build` wants an
/// [`IdentifierSource`].
#[derive(Debug)]
pub struct SharedIds<'a>(&'a Mutex<SequenceIdentifiers>);

impl IdentifierSource for SharedIds<'_> {
    fn identifier(&mut self, provider: &Provider, at: OffsetDateTime) -> String {
        match self.0.lock() {
            Ok(mut g) => g.identifier(provider, at),
            Err(poisoned) => poisoned.into_inner().identifier(provider, at),
        }
    }
}
