//! The primitives under every translation, measured with ring itself (what Ponte signs and
//! digests with), so that `bench/report.sh` can state the bound of a translation in the same
//! sitting: RSA-2048 PKCS#1 v1.5 SHA-256 signing and verification with the test PKI's
//! `rem-rsa` key (the REM identity), and SHA-256 over 1 MiB.
//!
//! Run: `cargo bench -p ponte-bench --bench ring`.

use base64::Engine;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ponte_bench::CpuTime;
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair, RsaKeyPair, UnparsedPublicKey};
use std::hint::black_box;

const KEY: &str = include_str!("../../tests/pki/rem-rsa.key.pem");

/// The DER inside the first PEM block of `pem`.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    match base64::engine::general_purpose::STANDARD.decode(body) {
        Ok(d) => d,
        Err(e) => panic!("rem-rsa.key.pem: {e}"),
    }
}

fn bench(c: &mut Criterion<CpuTime>) {
    let key = match RsaKeyPair::from_pkcs8(&pem_der(KEY)) {
        Ok(k) => k,
        Err(e) => panic!("rem-rsa.key.pem: {e}"),
    };
    let rng = SystemRandom::new();
    // About the size of the CMS signed attributes / an XML-DSig SignedInfo.
    let message = [0x5au8; 256];
    let mut sig = vec![0u8; key.public().modulus_len()];
    if key
        .sign(&signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
        .is_err()
    {
        panic!("ring cannot sign");
    }
    let public = UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        key.public_key().as_ref().to_vec(),
    );
    assert!(public.verify(&message, &sig).is_ok(), "own signature");

    let mut group = c.benchmark_group("ring");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rsa2048_sign", |b| {
        b.iter(|| {
            key.sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                black_box(&message),
                &mut sig,
            )
        })
    });
    group.bench_function("rsa2048_verify", |b| {
        b.iter(|| public.verify(black_box(&message), black_box(&sig)))
    });
    let mib = vec![0xa5u8; 1 << 20];
    group.throughput(Throughput::Bytes(mib.len() as u64));
    group.bench_function("sha256_1MiB", |b| {
        b.iter(|| ring::digest::digest(&ring::digest::SHA256, black_box(&mib)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = ponte_bench::cpu_criterion();
    targets = bench
}
criterion_main!(benches);
