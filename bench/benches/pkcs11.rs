//! Signing in a PKCS#11 token (SoftHSM2) against ring with the same key loaded from PKCS#8,
//! measured in the same run: RSA-2048 (`pec-rsa`) and ECDSA P-256 (`pec-ec`) over a
//! 200-byte message (the size of CMS signed attributes), one thread; the token also with two
//! threads sharing the key (its session pool), and a 10 KB S/MIME signature both ways.
//!
//! Run: `cargo bench -p ponte-bench --bench pkcs11`. Needs `softhsm2-util` and the SoftHSM2
//! module (Debian `softhsm2`; `PONTE_BENCH_PKCS11_MODULE` overrides the module path). The
//! bench makes its own token in a temporary folder and re-runs itself with `SOFTHSM2_CONF`
//! naming it (SoftHSM reads that variable once, at `C_Initialize`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use ponte::crypto::SigningKey;
use ponte::smime::{SignRequest, SmimeProtocol, sign};
use ponte::x509::load_pem;
use std::hint::black_box;

const PIN: &str = "1234";
const CHILD: &str = "PONTE_BENCH_HSM_DIR";

fn pki(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/pki")
        .join(name)
}

fn module() -> PathBuf {
    if let Some(m) = std::env::var_os("PONTE_BENCH_PKCS11_MODULE") {
        return PathBuf::from(m);
    }
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .unwrap_or_else(|| panic!("no libsofthsm2.so: install softhsm2"))
}

fn softhsm2_util(args: &[&str]) {
    let ok = Command::new("softhsm2-util")
        .args(args)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "softhsm2-util {args:?} failed");
}

fn uri(dir: &Path, object: &str) -> String {
    format!(
        "pkcs11:token=bench;object={object}?module-path={}&pin-source={}",
        module().display(),
        dir.join("pin").display()
    )
}

fn load(name: &str) -> SigningKey {
    let pem = std::fs::read(pki(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    SigningKey::from_pkcs8_pem(&pem).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn bench(c: &mut Criterion) {
    let Some(dir) = std::env::var_os(CHILD).map(PathBuf::from) else {
        return;
    };
    let msg = [0x42u8; 200];
    let pairs = [
        ("rsa2048", load("pec-rsa.key.pem"), "pec"),
        ("ecdsa_p256", load("pec-ec.key.pem"), "pec-ec"),
    ];
    let mut group = c.benchmark_group("sign_200B");
    for (label, file_key, object) in &pairs {
        let token = SigningKey::open(&uri(&dir, object), Path::new("/"))
            .unwrap_or_else(|e| panic!("{object}: {e}"));
        group.bench_function(format!("ring_pkcs8/{label}"), |b| {
            b.iter(|| file_key.sign(black_box(&msg)))
        });
        group.bench_function(format!("softhsm/{label}"), |b| {
            b.iter(|| token.sign(black_box(&msg)))
        });
        // Two threads sharing the key: the time per signature of the pair.
        group.bench_function(format!("softhsm_2threads/{label}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..2 {
                        s.spawn(|| {
                            for _ in 0..iters.div_ceil(2) {
                                let _ = black_box(token.sign(&msg));
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
        if let Some(stats) = token.session_stats() {
            eprintln!("{object}: {stats:?}");
        }
    }
    group.finish();

    // A 10 KB S/MIME signature (CMS assembly and digests included) with each key.
    let (Ok(mut cert), Ok(chain)) = (
        load_pem(&std::fs::read(pki("pec-rsa.pem")).unwrap_or_default()),
        load_pem(&std::fs::read(pki("provider-ca.pem")).unwrap_or_default()),
    ) else {
        panic!("test PKI unreadable");
    };
    let signer = cert.remove(0);
    let mut inner = b"Content-Type: text/plain\r\n\r\n".to_vec();
    inner.resize(10 * 1024, b'a');
    let file_key = load("pec-rsa.key.pem");
    let token = SigningKey::open(&uri(&dir, "pec"), Path::new("/")).expect("token key");
    let mut group = c.benchmark_group("smime_sign_10KB");
    for (label, key) in [
        ("ring_pkcs8/rsa2048", &file_key),
        ("softhsm/rsa2048", &token),
    ] {
        let req = SignRequest {
            headers: &[("From", "posta-certificata@pec.prova.test")],
            inner: &inner,
            key,
            signer: &signer,
            chain: &chain,
            signing_time: signer.not_before,
            protocol: SmimeProtocol::Pec,
        };
        group.bench_function(label, |b| b.iter(|| sign(black_box(&req))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        let dir = PathBuf::from(std::env::var_os(CHILD).unwrap_or_default());
        softhsm2_util(&[
            "--init-token",
            "--free",
            "--label",
            "bench",
            "--pin",
            PIN,
            "--so-pin",
            "5678",
        ]);
        for (label, id, name) in [("pec", "01", "pec-rsa"), ("pec-ec", "02", "pec-ec")] {
            let key = pki(&format!("{name}.key.pem"));
            softhsm2_util(&[
                "--import",
                &key.display().to_string(),
                "--token",
                "bench",
                "--label",
                label,
                "--id",
                id,
                "--pin",
                PIN,
            ]);
        }
        std::fs::write(dir.join("pin"), PIN).expect("pin file");
        benches();
        Criterion::default().configure_from_args().final_summary();
        return;
    }
    // The parent: a token store in a temporary folder, then the same bench with SOFTHSM2_CONF.
    let tmp = tempfile::tempdir().expect("tempdir");
    let tokens = tmp.path().join("tokens");
    std::fs::create_dir(&tokens).expect("tokens");
    let conf = tmp.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("conf");
    let status = Command::new(std::env::current_exe().expect("bench binary"))
        .args(std::env::args_os().skip(1))
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD, tmp.path())
        .status()
        .expect("re-run the bench");
    std::process::exit(status.code().unwrap_or(1));
}
