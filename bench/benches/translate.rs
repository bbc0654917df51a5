//! Translation through the library, one thread, for signed transport envelopes of about 10 KB,
//! 1 MB and 25 MB: PEC → REM (S/MIME verification and trust of the envelope, the index look-up
//! of its signer, the mapping row, the REM dispatch: evidence built and XAdES-signed, message
//! S/MIME-sealed) and REM → PEC of that dispatch (S/MIME and XAdES verification and trust, the
//! digests, the PEC transport envelope signed); and the evidence alone (XAdES-B-B sign of the
//! dispatch's evidence model, and its verification with trust, as REM → PEC does it).
//!
//! Groups (what `bench/report.sh` reads):
//! - `translate/to_rem/<size>`, `translate/to_pec/<size>`: no `[tsa]`, so every evidence stays
//!   **XAdES-B-B**: the cost of the translation itself;
//! - `evidence/sign`, `evidence/verify`;
//! - `translate/to_rem_tsa/<size>` (10KB, 1MB): `[tsa]` points at an in-process development
//!   TSA (`ponte::tsp::server::DevTsa`) on a loopback port of the same runtime, so every
//!   evidence gets an RFC 3161 time-stamp over HTTP (XAdES-B-T); the difference is the TSA's.
//!
//! The context is built from a configuration in a temporary folder (the test PKI: `pec-rsa`
//! signs the envelopes, `rem-rsa` seals the output; `[index]` absent, so the embedded snapshot,
//! which lists `pec-rsa`), with a store that keeps nothing (the correlation store is the
//! service's: a store growing by one record per iteration would measure its look-ups). Every
//! instant is fixed ([`WHEN`]); the inputs are made once, before measuring.
//!
//! Run (short measurements, as `bench/report.sh` does):
//! `cargo bench -p ponte-bench --bench translate -- --warm-up-time 1 --measurement-time 3`.

use std::path::Path;
use std::sync::Arc;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use ponte::config::Config;
use ponte::correlate::{Record, Store};
use ponte::crypto::SigningKey;
use ponte::mappings::Tables;
use ponte::pec::build::{self, EnvelopeInput, Provider, SequenceIdentifiers};
use ponte::smime::{SignRequest, SmimeProtocol, TrustTime};
use ponte::translate::{Context, Judge, to_pec, to_rem};
use ponte::tsp::server::DevTsa;
use ponte::x509::load_pem;
use ponte_bench::CpuTime;
use std::hint::black_box;
use time::OffsetDateTime;
use time::macros::datetime;

/// The instant of everything: envelope acceptance, translation, trust, the TSA's clock (the
/// test PKI is valid from 2026-11-24).
const WHEN: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

/// The test PKI folder.
fn pki(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/pki")
        .join(name)
        .display()
        .to_string()
}

fn read(name: &str) -> Vec<u8> {
    match std::fs::read(pki(name)) {
        Ok(b) => b,
        Err(e) => panic!("{}: {e}", pki(name)),
    }
}

/// A user's CRLF message of about `size` bytes: a text part and a base64 attachment.
fn original(size: usize) -> Vec<u8> {
    let mut v = b"From: Mario Rossi <mario.rossi@pec.prova.test>\r\nTo: anna@r2-rems-only-for-test.it\r\nSubject: Contratto di prova\r\nMessage-ID: <bench-1@pec.prova.test>\r\nDate: Wed, 25 Nov 2026 13:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nBuongiorno, in allegato il contratto.\r\n--b\r\nContent-Type: application/octet-stream; name=\"contratto.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    while v.len() < size {
        v.extend_from_slice(line);
    }
    v.extend_from_slice(b"--b--\r\n");
    v
}

/// A signed transport envelope of about `size` bytes (the original is made smaller by what the
/// envelope adds: its text part, daticert.xml and the signature, about 7.7 KB).
fn envelope(size: usize, tables: &Tables) -> Vec<u8> {
    let added = wrap(&original(0), tables)
        .len()
        .saturating_sub(original(0).len());
    wrap(&original(size.saturating_sub(added)), tables)
}

/// The signed transport envelope of `body`, as `ponte pec wrap` makes it (signed by `pec-rsa`
/// with `provider-ca` in the chain).
fn wrap(body: &[u8], tables: &Tables) -> Vec<u8> {
    let (Ok(key), Ok(mut cert), Ok(chain)) = (
        SigningKey::from_pkcs8_pem(&read("pec-rsa.key.pem")),
        load_pem(&read("pec-rsa.pem")),
        load_pem(&read("provider-ca.pem")),
    ) else {
        panic!("test PKI unreadable");
    };
    let signer = cert.remove(0);
    let provider = Provider {
        name: "Gestore Prova S.p.A.".into(),
        domain: "pec.prova.test".into(),
    };
    let Some(prefix) = tables.pec_subject_prefix(build::SUBJECT_KEY_ENVELOPE) else {
        panic!("no envelope subject prefix in the tables");
    };
    let built = match build::envelope(
        &EnvelopeInput {
            original: body,
            provider: &provider,
            external: &[],
            at: WHEN,
            subject_prefix: prefix,
            extra_parts: &[],
        },
        &mut SequenceIdentifiers {
            seed: "bench".into(),
            next: 1,
        },
    ) {
        Ok(b) => b,
        Err(e) => panic!("envelope: {e}"),
    };
    let headers: Vec<(&str, &str)> = built
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    match ponte::smime::sign(&SignRequest {
        headers: &headers,
        inner: &built.inner,
        key: &key,
        signer: &signer,
        chain: &chain,
        signing_time: built.date,
        protocol: SmimeProtocol::Pec,
    }) {
        Ok(m) => m,
        Err(e) => panic!("sign the envelope: {e}"),
    }
}

/// A configuration in `dir` (test PKI identities and anchors, embedded index), with `[tsa]`
/// when `tsa` is given as `(url, certificate)`.
fn config(dir: &Path, tsa: Option<(&str, &str)>) -> Config {
    let mut text = format!(
        r#"[identity]
provider_name = "Gestore Prova S.p.A."
domain = "pec.prova.test"
pec_key = "{pec_key}"
pec_cert = "{pec_cert}"
pec_chain = ["{ca}"]
rem_key = "{rem_key}"
rem_cert = "{rem_cert}"
rem_chain = ["{ca}"]

[trust]
pec_anchors = ["{root}"]
rem_anchors = ["{root}"]
tsa_anchors = ["{tsa_anchor}"]

[policy]
applicable = ["http://uri.etsi.org/19532/v1#/REMbaseline", "https://eidas.agid.gov.it/REM/rem-policy-it"]

[correlation]
path = "correlation.jsonl"
"#,
        pec_key = pki("pec-rsa.key.pem"),
        pec_cert = pki("pec-rsa.pem"),
        ca = pki("provider-ca.pem"),
        rem_key = pki("rem-rsa.key.pem"),
        rem_cert = pki("rem-rsa.pem"),
        root = pki("root-ca.pem"),
        tsa_anchor = tsa.map_or_else(|| pki("tsa.pem"), |(_, c)| c.to_string()),
    );
    if let Some((url, _)) = tsa {
        text.push_str(&format!("\n[tsa]\nurl = \"{url}\"\n"));
    }
    let path = dir.join("ponte.toml");
    if let Err(e) = std::fs::write(&path, text) {
        panic!("{}: {e}", path.display());
    }
    match Config::load_at(&path, WHEN) {
        Ok(c) => c,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// Keeps nothing, finds nothing.
struct Discard;

impl Store for Discard {
    fn record(&self, _: &Record) -> Result<(), ponte::correlate::Error> {
        Ok(())
    }
    fn find(&self, _: &str) -> Result<Vec<Record>, ponte::correlate::Error> {
        Ok(Vec::new())
    }
}

fn context(config: Config) -> Context {
    let tables = match Tables::load(config.mappings_dir.as_deref()) {
        Ok(t) => t,
        Err(e) => panic!("tables: {e}"),
    };
    let index = match config.index.open() {
        Ok(i) => i,
        Err(e) => panic!("index: {e}"),
    };
    match Context::new(config, tables, index, Box::new(Discard), "bench".into()) {
        Ok(c) => c,
        Err(e) => panic!("context: {e}"),
    }
}

/// Translates once and checks that one message came out, time-stamped iff `tsa` (a benchmark
/// of refusals would measure nothing useful); returns it.
fn check(
    rt: &tokio::runtime::Runtime,
    cx: &Context,
    raw: &[u8],
    judge: &Judge,
    to: &str,
    tsa: bool,
) -> Vec<u8> {
    let outcome = match to {
        "rem" => rt.block_on(to_rem::translate(cx, raw, judge)),
        _ => rt.block_on(to_pec::translate(cx, raw, judge)),
    };
    match outcome {
        Ok(Ok(mut t)) => {
            assert_eq!(t.outputs.len(), 1, "one message out");
            if to == "rem" {
                let stamped = !t.notes.iter().any(|n| n.contains("XAdES-B-B"));
                assert_eq!(
                    stamped, tsa,
                    "time-stamped evidence iff a TSA: {:?}",
                    t.notes
                );
            }
            t.outputs.remove(0).bytes
        }
        Ok(Err(refusal)) => panic!("to {to}: refused: {}", refusal.reason()),
        Err(e) => panic!("to {to}: translation failed: {e}"),
    }
}

/// The XML evidence of a REM message (its `*.xml` section, by plain byte search).
fn evidence_of(rem: &[u8]) -> Vec<u8> {
    let parsed = match ponte::rem::message::parse::parse(rem) {
        Ok(p) => p,
        Err(e) => panic!("REM output unreadable: {e}"),
    };
    match parsed.evidences.into_iter().next() {
        Some(e) => e.bytes,
        None => panic!("no evidence in the REM output"),
    }
}

fn bench(c: &mut Criterion<CpuTime>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("runtime: {e}"),
    };
    let Ok(dir) = tempfile::tempdir() else {
        panic!("tempdir");
    };
    let judge = Judge {
        now: WHEN,
        trust_at: TrustTime::At(WHEN),
    };
    let plain = context(config(dir.path(), None));
    // PONTE_BENCH_SIZES=10KB,1MB limits the sizes (default: all three).
    let wanted = std::env::var("PONTE_BENCH_SIZES").unwrap_or_default();
    let sizes: Vec<(&str, usize)> = [
        ("10KB", 10 * 1024),
        ("1MB", 1024 * 1024),
        ("25MB", 25 * 1024 * 1024),
    ]
    .into_iter()
    .filter(|(l, _)| wanted.is_empty() || wanted.split(',').any(|w| w == *l))
    .collect();
    // (label, envelope, its REM dispatch)
    let inputs: Vec<(&str, Vec<u8>, Vec<u8>)> = sizes
        .iter()
        .map(|(label, size)| {
            let env = envelope(*size, &plain.tables);
            let rem = check(&rt, &plain, &env, &judge, "rem", false);
            check(&rt, &plain, &rem, &judge, "pec", false);
            (*label, env, rem)
        })
        .collect();

    let mut group = c.benchmark_group("translate");
    for (label, env, rem) in &inputs {
        if env.len() > 8 << 20 {
            // About a second an iteration: ten of them, one each.
            group.sample_size(10);
            group.sampling_mode(SamplingMode::Flat);
        }
        group.throughput(Throughput::Bytes(env.len() as u64));
        group.bench_with_input(BenchmarkId::new("to_rem", label), env, |b, raw| {
            b.iter(|| rt.block_on(to_rem::translate(&plain, black_box(raw), &judge)))
        });
        group.throughput(Throughput::Bytes(rem.len() as u64));
        group.bench_with_input(BenchmarkId::new("to_pec", label), rem, |b, raw| {
            b.iter(|| rt.block_on(to_pec::translate(&plain, black_box(raw), &judge)))
        });
    }
    group.finish();

    // The evidence of a dispatch: signed (model → XML → XAdES-B-B) and verified with trust.
    let Some((_, _, rem)) = inputs.first() else {
        return;
    };
    let signed = evidence_of(rem);
    let model = match ponte::rem::evidence::parse(&signed) {
        Ok(m) => m,
        Err(e) => panic!("evidence unreadable: {e}"),
    };
    let vopts = ponte::xades::VerifyOptions {
        anchors: plain.config.trust.rem_anchors.clone(),
        intermediates: Vec::new(),
        tsa_anchors: plain.config.trust.tsa_anchors.clone(),
        at: ponte::xades::At::Instant(WHEN),
    };
    match ponte::xades::verify(&signed, &vopts) {
        Ok(r) if r.signature.valid() => {}
        other => panic!("the dispatch's evidence does not verify: {other:?}"),
    }
    let mut group = c.benchmark_group("evidence");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign", |b| {
        b.iter(|| {
            ponte::translate::evidence::sign(black_box(&model), plain.xades_signer(), None, WHEN)
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| ponte::xades::verify(black_box(&signed), &vopts))
    });
    group.finish();

    // The development TSA, served by the same runtime on a loopback port.
    let tsa_dir = dir.path().join("tsa");
    let tsa = match DevTsa::open(&tsa_dir, WHEN) {
        Ok(t) => Arc::new(t),
        Err(e) => panic!("dev TSA: {e}"),
    };
    let listener = match rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")) {
        Ok(l) => l,
        Err(e) => panic!("bind: {e}"),
    };
    let url = match listener.local_addr() {
        Ok(a) => format!("http://{a}/"),
        Err(e) => panic!("local address: {e}"),
    };
    let cert = tsa.cert_path().display().to_string();
    let server = rt.spawn(ponte::service::tsa::serve(
        listener,
        tsa,
        Arc::new(|| WHEN),
        Arc::new(|_line: String| {}),
    ));
    let tsa_dir2 = dir.path().join("with-tsa");
    if let Err(e) = std::fs::create_dir_all(&tsa_dir2) {
        panic!("{}: {e}", tsa_dir2.display());
    }
    let stamped = context(config(&tsa_dir2, Some((&url, &cert))));
    let mut group = c.benchmark_group("translate");
    for (label, raw, _) in inputs.iter().filter(|(_, e, _)| e.len() <= 8 << 20) {
        check(&rt, &stamped, raw, &judge, "rem", true);
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_with_input(BenchmarkId::new("to_rem_tsa", label), raw, |b, raw| {
            b.iter(|| rt.block_on(to_rem::translate(&stamped, black_box(raw), &judge)))
        });
    }
    group.finish();
    server.abort();
}

criterion_group! {
    name = benches;
    config = ponte_bench::cpu_criterion();
    targets = bench
}
criterion_main!(benches);
