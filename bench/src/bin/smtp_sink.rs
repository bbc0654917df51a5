//! The load benchmark's receiving MTA (`bench/gateway.sh`, `SINK=rust`, the default): an SMTP
//! server in a process of its own that stores every message the way a mail server must before
//! its `250` (written, fsync'd, renamed into place), and costs little CPU doing it, so that
//! the benchmark measures the gateway rather than its peer (tests/peers/smtp_sink.py, the
//! tests' sink, spends 1.6–2.7 ms of CPU per message in Python on the same two cores).
//!
//! ```text
//! smtp_sink --listen 127.0.0.1:PORT --dir DIR [--pipelining]
//! ```
//!
//! Prints `ready IP:PORT` once listening. Keeps, in DIR, `N.eml` (the DATA content after
//! dot-unstuffing) and then `N.json` (`{"n", "mail_from", "rcpt_tos"}`), each written to a
//! temporary name, fsync'd and renamed, so a present `N.json` means both are whole; the `250`
//! to DATA is sent after both. It speaks EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT
//! (commands parsed by smtp-proto, the crate the gateway's listener uses), advertises
//! PIPELINING with `--pipelining` and answers a pipelined group with one write. One thread per
//! connection: the gateway opens a handful.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use smtp_proto::Request;
use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};

fn die(m: &str) -> ! {
    eprintln!("smtp_sink: {m}");
    std::process::exit(2)
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

struct Sink {
    dir: PathBuf,
    next: AtomicU64,
    pipelining: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen = arg(&args, "--listen").unwrap_or_else(|| "127.0.0.1:0".into());
    let dir = PathBuf::from(arg(&args, "--dir").unwrap_or_else(|| die("--dir DIR is required")));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| die(&format!("{}: {e}", dir.display())));
    let sink = Arc::new(Sink {
        dir,
        next: AtomicU64::new(0),
        pipelining: args.iter().any(|a| a == "--pipelining"),
    });
    let listener =
        TcpListener::bind(&listen).unwrap_or_else(|e| die(&format!("--listen {listen}: {e}")));
    let bound = listener
        .local_addr()
        .unwrap_or_else(|e| die(&format!("local address: {e}")));
    println!("ready {bound}");
    let _ = std::io::stdout().flush();
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let sink = Arc::clone(&sink);
        std::thread::spawn(move || {
            if let Err(e) = session(&sink, conn) {
                eprintln!("smtp_sink: session: {e}");
            }
        });
    }
}

fn session(sink: &Sink, mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut out = b"220 sink.bench ESMTP ready\r\n".to_vec();
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut receiver = RequestReceiver::default();
    let mut from: Option<String> = None;
    let mut rcpt: Vec<String> = Vec::new();
    loop {
        // Parse every whole command already received; reply to all of them in one write.
        let mut progressed = true;
        while progressed && !pending.is_empty() {
            progressed = false;
            let (result, consumed) = {
                let mut it = pending.iter();
                let r = receiver.ingest(&mut it).map(Request::into_owned);
                (r, pending.len() - it.as_slice().len())
            };
            pending.drain(..consumed);
            match result {
                Err(smtp_proto::Error::NeedsMoreData { .. }) => {}
                Err(e) => {
                    out.extend_from_slice(format!("500 5.5.2 {e:?}\r\n").as_bytes());
                    progressed = true;
                }
                Ok(req) => {
                    progressed = true;
                    match req {
                        Request::Ehlo { .. } => {
                            from = None;
                            rcpt.clear();
                            out.extend_from_slice(b"250-sink.bench\r\n");
                            if sink.pipelining {
                                out.extend_from_slice(b"250-PIPELINING\r\n");
                            }
                            out.extend_from_slice(b"250-8BITMIME\r\n250 SIZE 0\r\n");
                        }
                        Request::Helo { .. } => out.extend_from_slice(b"250 sink.bench\r\n"),
                        Request::Mail { from: f } => {
                            from = Some(f.address);
                            out.extend_from_slice(b"250 2.1.0 OK\r\n");
                        }
                        Request::Rcpt { to } => {
                            rcpt.push(to.address);
                            out.extend_from_slice(b"250 2.1.5 OK\r\n");
                        }
                        Request::Data => {
                            if from.is_none() || rcpt.is_empty() {
                                out.extend_from_slice(b"503 5.5.1 MAIL and RCPT first\r\n");
                                continue;
                            }
                            out.extend_from_slice(b"354 go ahead\r\n");
                            conn.write_all(&out)?;
                            out.clear();
                            let mut data = DataReceiver::new();
                            let mut body = Vec::new();
                            loop {
                                let done = {
                                    let mut it = pending.iter();
                                    let done = data.ingest(&mut it, &mut body);
                                    let consumed = pending.len() - it.as_slice().len();
                                    pending.drain(..consumed);
                                    done
                                };
                                if done {
                                    break;
                                }
                                let n = conn.read(&mut buf)?;
                                if n == 0 {
                                    return Ok(());
                                }
                                pending.extend_from_slice(buf.get(..n).unwrap_or_default());
                            }
                            let n = sink.next.fetch_add(1, Ordering::SeqCst) + 1;
                            let meta =
                                serde_json::json!({"n": n, "mail_from": from, "rcpt_tos": rcpt})
                                    .to_string();
                            store(&sink.dir.join(format!("{n}.eml")), &body)?;
                            store(&sink.dir.join(format!("{n}.json")), meta.as_bytes())?;
                            from = None;
                            rcpt.clear();
                            out.extend_from_slice(
                                format!("250 2.0.0 queued as {n}\r\n").as_bytes(),
                            );
                        }
                        Request::Rset => {
                            from = None;
                            rcpt.clear();
                            out.extend_from_slice(b"250 2.0.0 OK\r\n");
                        }
                        Request::Noop { .. } => out.extend_from_slice(b"250 2.0.0 OK\r\n"),
                        Request::Quit => {
                            out.extend_from_slice(b"221 2.0.0 bye\r\n");
                            conn.write_all(&out)?;
                            return Ok(());
                        }
                        _ => out.extend_from_slice(b"502 5.5.1 not here\r\n"),
                    }
                }
            }
        }
        if !out.is_empty() {
            conn.write_all(&out)?;
            out.clear();
        }
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
}

/// Written under a temporary name, fsync'd, renamed into place.
fn store(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
