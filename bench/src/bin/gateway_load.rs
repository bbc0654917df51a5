//! The gateway's load generator (`bench/gateway.sh` runs it): makes N signed PEC transport
//! envelopes of about SIZE bytes in memory (test PKI `pec-rsa`, each with its own Message-ID),
//! measures ring's one-core RSA-2048 signing rate with the same key, then sends the envelopes
//! to a running `ponte serve` over SMTP from C connections (one transaction after another on
//! each) and waits until the sink folder holds N messages.
//!
//! ```text
//! gateway_load --smtp 127.0.0.1:PORT[,IP:PORT...] --sink DIR [--n 1000] [--size 10240] [--clients 8]
//! ```
//!
//! With several `--smtp` addresses (gateway nodes sharing one spool) the connections are
//! spread over them in turn.
//!
//! Prints one line of `key=value` figures: `ring_sign_per_s`, `accepted_per_s` (N ÷ the time
//! from the first MAIL to the last `250`), `end_to_end_per_s` (N ÷ the time until the sink has
//! N), `p50_ms`, `p99_ms`, `max_ms` (MAIL → final reply to DATA), `refused`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ponte::crypto::SigningKey;
use ponte::pec::build::{self, EnvelopeInput, Provider, SequenceIdentifiers};
use ponte::x509::load_pem;

fn pki(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/pki")
        .join(name)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| die(&format!("{}: {e}", p.display())))
}

fn die(m: &str) -> ! {
    eprintln!("gateway_load: {m}");
    std::process::exit(2)
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn original(i: usize, size: usize) -> Vec<u8> {
    let mut v = format!(
        "From: Mario Rossi <mario.rossi@pec.prova.test>\r\nTo: anna@rem.example.eu\r\nSubject: Carico {i}\r\nMessage-ID: <load-{i}@pec.prova.test>\r\nDate: Sun, 06 Dec 2026 12:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    .into_bytes();
    let line =
        b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n";
    while v.len() < size {
        v.extend_from_slice(line);
    }
    v
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smtp: Vec<SocketAddr> = arg(&args, "--smtp")
        .unwrap_or_else(|| die("--smtp IP:PORT[,IP:PORT...] is required"))
        .split(',')
        .map(|a| {
            a.trim()
                .parse()
                .unwrap_or_else(|_| die(&format!("--smtp: {a:?} is not IP:PORT")))
        })
        .collect();
    let sink = PathBuf::from(arg(&args, "--sink").unwrap_or_else(|| die("--sink DIR is required")));
    let n: usize = arg(&args, "--n")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let size: usize = arg(&args, "--size")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10 * 1024);
    let clients: usize = arg(&args, "--clients")
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
        .max(1);

    let key = SigningKey::from_pkcs8_pem(&read(&pki("pec-rsa.key.pem")))
        .unwrap_or_else(|e| die(&format!("key: {e}")));
    let mut certs = load_pem(&read(&pki("pec-rsa.pem"))).unwrap_or_else(|e| die(&e.to_string()));
    let chain = load_pem(&read(&pki("provider-ca.pem"))).unwrap_or_else(|e| die(&e.to_string()));
    if certs.is_empty() {
        die("no certificate in pec-rsa.pem");
    }
    let cert = certs.remove(0);

    // ring's one-core RSA-2048 signing rate, with the same key, now.
    let msg = [7u8; 256];
    let t = Instant::now();
    let mut signs = 0u64;
    while t.elapsed() < Duration::from_secs(2) {
        key.sign(&msg)
            .unwrap_or_else(|e| die(&format!("sign: {e}")));
        signs += 1;
    }
    let ring_rate = signs as f64 / t.elapsed().as_secs_f64();

    let tables = ponte::mappings::Tables::load(None).unwrap_or_else(|e| die(&e.to_string()));
    let prefix = tables
        .pec_subject_prefix(build::SUBJECT_KEY_ENVELOPE)
        .unwrap_or_default()
        .to_string();
    let provider = Provider {
        name: "Gestore Prova S.p.A.".into(),
        domain: "pec.prova.test".into(),
    };
    let now = time::OffsetDateTime::now_utc();
    let mut ids = SequenceIdentifiers {
        seed: format!("load{}", now.unix_timestamp()),
        next: 1,
    };
    let envelopes: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let body = original(i, size.saturating_sub(7800));
            let built = build::envelope(
                &EnvelopeInput {
                    original: &body,
                    provider: &provider,
                    external: &[],
                    at: now,
                    subject_prefix: &prefix,
                    extra_parts: &[],
                },
                &mut ids,
            )
            .unwrap_or_else(|e| die(&format!("envelope: {e}")));
            built
                .sign(&key, &cert, &chain)
                .unwrap_or_else(|e| die(&format!("sign: {e}")))
        })
        .collect();
    let envelopes = Arc::new(envelopes);
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let refused = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let smtp = smtp[c % smtp.len()];
            let (envelopes, next, latencies, refused) = (
                Arc::clone(&envelopes),
                Arc::clone(&next),
                Arc::clone(&latencies),
                Arc::clone(&refused),
            );
            std::thread::spawn(move || {
                let mut conn = Conn::open(smtp);
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(body) = envelopes.get(i) else {
                        break;
                    };
                    let t = Instant::now();
                    match conn.send(body) {
                        Some(250) => {}
                        _ => {
                            refused.fetch_add(1, Ordering::SeqCst);
                            conn = Conn::open(smtp);
                        }
                    }
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    if let Ok(mut l) = latencies.lock() {
                        l.push(ms);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let accepted_s = start.elapsed().as_secs_f64();
    // End to end: until the sink has n messages (its N.json files). Both sinks number messages
    // in the order they arrive, so the folder is counted only once `{n}.json` exists (a listing
    // of thousands of entries every 10 ms would take CPU from the gateway being measured).
    let deadline = Instant::now() + Duration::from_secs(600);
    let last = sink.join(format!("{n}.json"));
    loop {
        if !last.exists() && Instant::now() <= deadline {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let count = std::fs::read_dir(&sink)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .count()
            })
            .unwrap_or(0);
        if count >= n || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let e2e_s = start.elapsed().as_secs_f64();
    let mut l = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    l.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "n={n} size={size} clients={clients} ring_sign_per_s={ring_rate:.0} accepted_per_s={:.1} end_to_end_per_s={:.1} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} refused={}",
        n as f64 / accepted_s,
        n as f64 / e2e_s,
        pct(0.50),
        pct(0.99),
        l.last().copied().unwrap_or(0.0),
        refused.load(Ordering::SeqCst)
    );
}

/// One SMTP connection, one transaction after another.
struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let w = TcpStream::connect(addr).unwrap_or_else(|e| die(&format!("{addr}: {e}")));
        let _ = w.set_nodelay(true);
        let r = BufReader::new(w.try_clone().unwrap_or_else(|e| die(&e.to_string())));
        let mut c = Conn { w, r };
        c.reply();
        let _ = c.w.write_all(b"EHLO load.localhost\r\n");
        c.reply();
        c
    }

    fn reply(&mut self) -> Option<u16> {
        loop {
            let mut line = String::new();
            if self.r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.get(..3).and_then(|c| c.parse().ok());
            }
        }
    }

    /// MAIL, RCPT, DATA pipelined in one write, then the message; the final reply's code.
    fn send(&mut self, body: &[u8]) -> Option<u16> {
        let mut out = b"MAIL FROM:<posta-certificata@pec.prova.test>\r\nRCPT TO:<anna@rem.example.eu>\r\nDATA\r\n".to_vec();
        self.w.write_all(&out).ok()?;
        for _ in 0..3 {
            let c = self.reply()?;
            if c >= 400 {
                return Some(c);
            }
        }
        out.clear();
        for line in body.split_inclusive(|&b| b == b'\n') {
            if line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(line);
        }
        out.extend_from_slice(b".\r\n");
        self.w.write_all(&out).ok()?;
        self.reply()
    }
}
