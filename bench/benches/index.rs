//! Providers' index look-ups per second (criterion): the answer cache, the index behind it,
//! and a snapshot-only index, over a generated directory of 1,000 providers × 50 domains.
//! The full-sync time against a real slapd is measured by `tests/index.rs` (`--nocapture`)
//! and by `ponte index sync --json` (`seconds`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ponte::index::cache::{AnswerCache, Lookup};
use ponte::index::ldif::Snapshot;
use ponte::index::{CachePolicy, Directory, Index, LdapConfig, ManualClock, Provider};

const PROVIDERS: usize = 1_000;
const DOMAINS: usize = 50;
const BATCH: usize = 1_000;

fn directory() -> Directory {
    let providers = (0..PROVIDERS)
        .map(|i| Provider {
            dn: format!("providerName=Gestore {i:04},o=postacert"),
            name: format!("Gestore {i:04}"),
            mail_receipt: format!("posta-certificata@pec0.gestore{i:04}.test"),
            domains: (0..DOMAINS)
                .map(|j| format!("pec{j}.gestore{i:04}.test"))
                .collect(),
            certificates: vec![format!("certificate {i}").into_bytes()],
            certificate_hashes: vec![],
            description: vec![],
            ldif_location_urls: vec![],
            units: vec![],
        })
        .collect();
    Directory::new(providers)
}

/// Query names: mixed case, half of them with a trailing dot, one in ten absent.
fn queries() -> Vec<String> {
    (0..BATCH)
        .map(|k| {
            let (i, j) = ((k * 7919) % PROVIDERS, k % DOMAINS);
            if k % 10 == 0 {
                format!("absent{k}.example.test")
            } else if k % 2 == 0 {
                format!("PEC{j}.Gestore{i:04}.test.")
            } else {
                format!("pec{j}.gestore{i:04}.test")
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = directory();
    let qs = queries();
    let now = SystemTime::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let mut g = c.benchmark_group("index_lookup");
    g.throughput(Throughput::Elements(BATCH as u64));

    // The moka answer cache alone (normalised keys).
    let cache = AnswerCache::new(CachePolicy::default());
    let normalized: Vec<String> = qs
        .iter()
        .filter_map(|q| ponte::index::normalize_domain(q).ok())
        .collect();
    for d in &normalized {
        cache.insert(d.clone(), dir.provider_for_normalized(d).cloned(), now);
    }
    g.bench_function("answer_cache_get", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for d in &normalized {
                if let Lookup::Fresh(c) = cache.get(black_box(d), now) {
                    hits += usize::from(c.provider.is_some());
                }
            }
            hits
        })
    });

    // Index::lookup answered by fresh cache entries (the directory is never asked).
    let clock = Arc::new(ManualClock::new(now));
    let index = Index::with_ldap(
        LdapConfig::new("ldap://127.0.0.1:9"),
        CachePolicy::default(),
        clock.clone(),
    );
    for d in &normalized {
        index
            .cache()
            .insert(d.clone(), dir.provider_for_normalized(d).cloned(), now);
    }
    g.bench_function("index_lookup_cached", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut certified = 0usize;
                for q in &qs {
                    let a = index.lookup(black_box(q)).await.expect("cached answer");
                    certified += usize::from(a.certified());
                }
                certified
            })
        })
    });

    // Index::lookup from a snapshot (no directory).
    let snap_index = Index::from_snapshot(
        Snapshot {
            directory: dir.clone(),
            synced_at: Some(now - Duration::from_secs(60)),
        },
        CachePolicy::default(),
        clock,
    );
    g.bench_function("index_lookup_snapshot", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut certified = 0usize;
                for q in &qs {
                    let a = snap_index
                        .lookup(black_box(q))
                        .await
                        .expect("snapshot answer");
                    certified += usize::from(a.certified());
                }
                certified
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
