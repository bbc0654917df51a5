//! S/MIME sign and verify of 10 KB and 1 MB messages with the RSA-2048 test key.
//!
//! Run: `cargo bench -p ponte-bench --bench smime`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ponte::crypto::SigningKey;
use ponte::smime::{SignRequest, SmimeProtocol, sign, verify};
use ponte::x509::load_pem;
use std::hint::black_box;

const KEY: &[u8] = include_bytes!("../../tests/pki/pec-rsa.key.pem");
const CERT: &[u8] = include_bytes!("../../tests/pki/pec-rsa.pem");
const CA: &[u8] = include_bytes!("../../tests/pki/provider-ca.pem");

/// A CRLF inner entity of about `size` bytes: a text part and a base64 attachment.
fn inner(size: usize) -> Vec<u8> {
    let mut v = b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nCorpo del messaggio.\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    while v.len() < size {
        v.extend_from_slice(line);
    }
    v.extend_from_slice(b"--b--\r\n");
    v
}

fn bench(c: &mut Criterion) {
    let (Ok(key), Ok(mut cert), Ok(chain)) = (
        SigningKey::from_pkcs8_pem(KEY),
        load_pem(CERT),
        load_pem(CA),
    ) else {
        panic!("test PKI unreadable");
    };
    let signer = cert.remove(0);
    let when = signer.not_before;
    let mut group = c.benchmark_group("smime");
    for (label, size) in [("10KB", 10 * 1024), ("1MB", 1024 * 1024)] {
        let body = inner(size);
        let req = SignRequest {
            headers: &[
                ("From", "posta-certificata@pec.prova.test"),
                ("Subject", "bench"),
            ],
            inner: &body,
            key: &key,
            signer: &signer,
            chain: &chain,
            signing_time: when,
            protocol: SmimeProtocol::Pec,
        };
        let Ok(message) = sign(&req) else {
            panic!("sign failed");
        };
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("sign", label), &req, |b, r| {
            b.iter(|| sign(black_box(r)))
        });
        group.bench_with_input(BenchmarkId::new("verify", label), &message, |b, m| {
            b.iter(|| verify(black_box(m)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
