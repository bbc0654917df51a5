//! `smtp://HOST:PORT --collect ADDR`: the suite judges a live gateway. For each case the
//! input is sent to the gateway over SMTP (lettre); what the gateway sends on arrives at a
//! sink the runner opens at `ADDR` (the gateway's next hop must point there) and is
//! described from its header (no cryptography here: signatures are judged by the other
//! subjects, the gateway's own tests, or whoever reads the collected messages).
//!
//! Case parameters: `mail_from` (default: the input's `From` address), `rcpt_to` (a list;
//! default: the input's `To` and `Cc` addresses), `collect` (how many messages to wait for
//! when the gateway accepts, default 1), `collect_seconds` (how long, default 20), `before`
//! (inputs sent first, their outputs collected and set aside: an envelope before its receipts).
//!
//! A live gateway keeps what it received and is idempotent on the Message-ID: a `before`
//! input that the gateway already accepted in this run (as an earlier case's input or
//! `before`) is not sent again (`before` [{`sent`: false}]), and cases run one at a time (one
//! sink for all). A case whose own input was already sent gets the gateway's answer to a
//! duplicate; the suite's gateway cases use distinct messages.
//!
//! The observation: `exit` (0 accepted, 1 refused, 2 not delivered at all), `smtp` {`code`,
//! `reply`}, `translated` (accepted and at least one message collected), `collected`,
//! `outputs` and `output` (the first) {`format` (`rem` / `pec` / `mail`), `type`, `event`,
//! `envelope` {`from`, `to`}, `headers` {NAME: \[values\]} (the `REM-*`, `X-*`, `Subject`,
//! `From`, `To`, `Message-ID` fields), `size`}, `before` [{`file`, `sent`, `exit`, `smtp`,
//! `collected`}].

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use lettre::Transport;
use serde_json::{Value, json};

use crate::subject::{Request, Subject, SubjectError};

/// One message the sink received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// `MAIL FROM`.
    pub from: String,
    /// `RCPT TO`, in order.
    pub to: Vec<String>,
    /// The message (dot-unstuffed, as received).
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Inbox {
    messages: Mutex<Vec<Collected>>,
    arrived: Condvar,
}

/// The sink: an SMTP listener that accepts every message and keeps it for the subject.
pub struct Sink {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("addr", &self.addr).finish()
    }
}

impl Sink {
    /// Listens at `addr` (port 0: any free port) in background threads.
    pub fn open(addr: &str) -> Result<Sink, SubjectError> {
        let listener =
            TcpListener::bind(addr).map_err(|e| SubjectError(format!("--collect {addr}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SubjectError(format!("--collect {addr}: {e}")))?;
        let inbox = Arc::new(Inbox::default());
        let shared = Arc::clone(&inbox);
        std::thread::Builder::new()
            .name("conformance-sink".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let inbox = Arc::clone(&shared);
                    let _ = std::thread::Builder::new()
                        .name("conformance-sink-session".into())
                        .spawn(move || {
                            let _ = session(stream, &inbox);
                        });
                }
            })
            .map_err(|e| SubjectError(format!("sink thread: {e}")))?;
        Ok(Sink { addr, inbox })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Takes what arrived so far.
    pub fn drain(&self) -> Vec<Collected> {
        match self.inbox.messages.lock() {
            Ok(mut m) => std::mem::take(&mut *m),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    /// Waits until `n` messages are there or `timeout` passes, then `settle` more for
    /// stragglers; takes them all.
    pub fn wait_for(&self, n: usize, timeout: Duration, settle: Duration) -> Vec<Collected> {
        let deadline = Instant::now() + timeout;
        let mut guard = match self.inbox.messages.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        while guard.len() < n {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            guard = match self.inbox.arrived.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        drop(guard);
        if n > 0 {
            std::thread::sleep(settle);
        }
        self.drain()
    }
}

fn reply(w: &mut TcpStream, line: &str) -> std::io::Result<()> {
    w.write_all(line.as_bytes())?;
    w.write_all(b"\r\n")?;
    w.flush()
}

/// One SMTP session of the sink (commands parsed by smtp-proto).
fn session(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    reply(&mut w, "220 conformance sink ESMTP")?;
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut buf = [0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    let mut receiver = smtp_proto::request::receiver::RequestReceiver::default();
    loop {
        if pending.is_empty() {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            pending.extend_from_slice(&buf[..n]);
        }
        let data = std::mem::take(&mut pending);
        let mut it = data.iter();
        loop {
            let req = match receiver.ingest(&mut it) {
                Ok(req) => req.into_owned(),
                Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                Err(_) => {
                    // What is left of this read is not trusted to be a command either.
                    reply(&mut w, "500 5.5.2 syntax error")?;
                    break;
                }
            };
            match req {
                smtp_proto::Request::Ehlo { .. } | smtp_proto::Request::Helo { .. } => {
                    reply(&mut w, "250-conformance sink")?;
                    reply(&mut w, "250-8BITMIME")?;
                    reply(&mut w, "250 SIZE 104857600")?;
                }
                smtp_proto::Request::Mail { from: f } => {
                    from = f.address;
                    to.clear();
                    reply(&mut w, "250 2.1.0 ok")?;
                }
                smtp_proto::Request::Rcpt { to: t } => {
                    to.push(t.address);
                    reply(&mut w, "250 2.1.5 ok")?;
                }
                smtp_proto::Request::Data => {
                    reply(&mut w, "354 go ahead")?;
                    let mut message = Vec::new();
                    let mut dr = smtp_proto::request::receiver::DataReceiver::new();
                    let mut rest: Vec<u8> = it.as_slice().to_vec();
                    loop {
                        let mut di = rest.iter();
                        if dr.ingest(&mut di, &mut message) {
                            pending = di.as_slice().to_vec();
                            break;
                        }
                        let n = r.read(&mut buf)?;
                        if n == 0 {
                            return Ok(());
                        }
                        rest = buf[..n].to_vec();
                    }
                    if let Ok(mut m) = inbox.messages.lock() {
                        m.push(Collected {
                            from: std::mem::take(&mut from),
                            to: std::mem::take(&mut to),
                            data: message,
                        });
                    }
                    inbox.arrived.notify_all();
                    reply(&mut w, "250 2.0.0 collected")?;
                    // What followed the final dot (pipelined QUIT) is handled next round.
                    break;
                }
                smtp_proto::Request::Rset => {
                    from.clear();
                    to.clear();
                    reply(&mut w, "250 2.0.0 ok")?;
                }
                smtp_proto::Request::Noop { .. } => reply(&mut w, "250 2.0.0 ok")?,
                smtp_proto::Request::Quit => {
                    reply(&mut w, "221 2.0.0 bye")?;
                    return Ok(());
                }
                _ => reply(&mut w, "502 5.5.1 not implemented")?,
            }
        }
    }
}

/// The live-gateway subject.
pub struct SmtpSubject {
    host: String,
    port: u16,
    sink: Sink,
    /// The messages the gateway accepted in this run (their bytes).
    accepted: Mutex<HashSet<Vec<u8>>>,
    /// How long to wait after the expected messages for more (default 300 ms).
    pub settle: Duration,
}

impl std::fmt::Debug for SmtpSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSubject")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("sink", &self.sink)
            .finish()
    }
}

impl SmtpSubject {
    /// `target` is `smtp://HOST:PORT`; the sink opens at `collect`.
    pub fn new(target: &str, collect: &str) -> Result<SmtpSubject, SubjectError> {
        let rest = target
            .strip_prefix("smtp://")
            .ok_or_else(|| SubjectError(format!("{target}: expected smtp://HOST:PORT")))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| SubjectError(format!("{target}: expected smtp://HOST:PORT")))?;
        let port: u16 = port
            .trim_end_matches('/')
            .parse()
            .map_err(|_| SubjectError(format!("{target}: {port:?} is not a port")))?;
        if host.is_empty() {
            return Err(SubjectError(format!("{target}: no host")));
        }
        let sink = Sink::open(collect)?;
        Ok(SmtpSubject {
            host: host.trim_matches(['[', ']']).to_string(),
            port,
            sink,
            accepted: Mutex::new(HashSet::new()),
            settle: Duration::from_millis(300),
        })
    }

    /// The sink's address.
    pub fn collect_addr(&self) -> SocketAddr {
        self.sink.addr()
    }
}

/// The top header of a message: (name, unfolded value) in order.
pub fn header_fields(msg: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut r = BufReader::new(msg);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        if text.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(text.trim());
            }
        } else if let Some((n, v)) = text.split_once(':') {
            out.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn addresses(v: &str) -> Vec<String> {
    // Angle-bracketed addresses, else bare comma-separated ones.
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let Some(j) = after.find('>') else { break };
        out.push(after[..j].trim().to_string());
        rest = &after[j + 1..];
    }
    if out.is_empty() {
        out = v
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| s.contains('@'))
            .collect();
    }
    out
}

fn last_segment(uri: &str) -> String {
    uri.trim()
        .rsplit(['/', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// What the header of a collected message says.
pub fn describe(c: &Collected) -> Value {
    let fields = header_fields(&c.data);
    let first = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (n, v) in &fields {
        let keep = n.to_ascii_lowercase().starts_with("rem-")
            || n.to_ascii_lowercase().starts_with("x-")
            || ["subject", "from", "to", "cc", "message-id"]
                .contains(&n.to_ascii_lowercase().as_str());
        if keep {
            headers.entry(n.clone()).or_default().push(v.clone());
        }
    }
    let (format, kind, event) = if let Some(mt) = first("REM-MessageType") {
        (
            "rem",
            last_segment(&mt),
            first("REM-EventIdentifier").map(|e| last_segment(&e)),
        )
    } else if let Some(r) = first("X-Ricevuta") {
        ("pec", r.trim().to_string(), None)
    } else if let Some(t) = first("X-Trasporto") {
        let t = t.trim().to_ascii_lowercase();
        (
            "pec",
            if t == "errore" {
                "anomalia".to_string()
            } else {
                t
            },
            None,
        )
    } else {
        ("mail", "mail".to_string(), None)
    };
    json!({
        "format": format,
        "type": kind,
        "event": event,
        "envelope": {"from": c.from, "to": c.to},
        "headers": headers,
        "size": c.data.len(),
    })
}

impl Subject for SmtpSubject {
    fn name(&self) -> String {
        format!(
            "smtp://{}:{} --collect {}",
            self.host,
            self.port,
            self.sink.addr()
        )
    }

    fn kind(&self) -> &'static str {
        "smtp"
    }

    /// One sink for every case: what arrives belongs to the case being observed, so cases
    /// run one at a time.
    fn concurrent(&self) -> bool {
        false
    }

    fn observe(&self, req: &Request<'_>) -> Result<Value, SubjectError> {
        let secs = req
            .params
            .get("collect_seconds")
            .and_then(Value::as_u64)
            .unwrap_or(20);
        // The inputs sent first (the envelope before its receipts), each answered and its
        // output collected and set aside, so that the gateway knows them.
        let mut before = Vec::new();
        for b in req.strs("before") {
            let raw = std::fs::read(b).map_err(|e| SubjectError(format!("{b}: {e}")))?;
            if self.was_accepted(&raw) {
                before.push(json!({"file": b, "sent": false}));
                continue;
            }
            let (exit, code, _) = self.send(Path::new(b), None, &[])?;
            let got = if exit == 0 {
                self.sink
                    .wait_for(1, Duration::from_secs(secs), self.settle)
                    .len()
            } else {
                0
            };
            before.push(json!({"file": b, "sent": true, "exit": exit, "smtp": {"code": code}, "collected": got}));
        }
        let rcpt = req.strs("rcpt_to");
        let (exit, code, text) = self.send(req.input, req.str("mail_from"), &rcpt)?;
        let collect_n = req
            .params
            .get("collect")
            .and_then(Value::as_u64)
            .map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let collected = if exit == 0 {
            self.sink
                .wait_for(collect_n, Duration::from_secs(secs), self.settle)
        } else {
            Vec::new()
        };
        let outputs: Vec<Value> = collected.iter().map(describe).collect();
        Ok(json!({
            "exit": exit,
            "smtp": {"code": code, "reply": text},
            "translated": exit == 0 && !outputs.is_empty(),
            "collected": outputs.len(),
            "output": outputs.first().cloned().unwrap_or(Value::Null),
            "outputs": outputs,
            "before": before,
        }))
    }
}

impl SmtpSubject {
    fn was_accepted(&self, raw: &[u8]) -> bool {
        match self.accepted.lock() {
            Ok(a) => a.contains(raw),
            Err(p) => p.into_inner().contains(raw),
        }
    }

    /// Sends one file (envelope: `mail_from` / `rcpt_to`, else the file's From, To and Cc);
    /// what was collected before is set aside. (exit: 0 accepted, 1 refused, 2 not delivered;
    /// the reply code; its text.)
    fn send(
        &self,
        input: &Path,
        mail_from: Option<&str>,
        rcpt_to: &[&str],
    ) -> Result<(u8, Option<u16>, String), SubjectError> {
        let raw =
            std::fs::read(input).map_err(|e| SubjectError(format!("{}: {e}", input.display())))?;
        let fields = header_fields(&raw);
        let header = |name: &str| {
            fields
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .flat_map(|(_, v)| addresses(v))
                .collect::<Vec<_>>()
        };
        let from = match mail_from {
            Some(f) => f.to_string(),
            None => header("From").into_iter().next().unwrap_or_default(),
        };
        let mut to: Vec<String> = rcpt_to.iter().map(|s| s.to_string()).collect();
        if to.is_empty() {
            to = header("To");
            to.extend(header("Cc"));
        }
        let parse = |a: &str| {
            lettre::Address::from_str(a).map_err(|e| SubjectError(format!("address {a:?}: {e}")))
        };
        let envelope = lettre::address::Envelope::new(
            if from.is_empty() {
                None
            } else {
                Some(parse(&from)?)
            },
            to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?,
        )
        .map_err(|e| SubjectError(format!("envelope: {e}")))?;
        // lettre appends CRLF.CRLF: one trailing CRLF of the message is that CRLF.
        let body = raw.strip_suffix(b"\r\n").unwrap_or(&raw);
        let transport = lettre::SmtpTransport::builder_dangerous(self.host.clone())
            .port(self.port)
            .timeout(Some(Duration::from_secs(60)))
            .build();
        self.sink.drain();
        let sent = transport.send_raw(&envelope, body);
        if sent.is_ok() {
            match self.accepted.lock() {
                Ok(mut a) => a.insert(raw.clone()),
                Err(p) => p.into_inner().insert(raw.clone()),
            };
        }
        Ok(match sent {
            Ok(resp) => (
                0,
                resp.code().to_string().parse().ok(),
                resp.message().collect::<Vec<_>>().join(" "),
            ),
            Err(e) => match e.status() {
                Some(c) => (1, c.to_string().parse().ok(), e.to_string()),
                None => (2, None, e.to_string()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy gateway: accepts any message, answers 554 when it holds "REFUSE", and forwards
    /// the others to `next` with a REM-MessageType header added.
    const PREFIX: &[u8] = b"REM-MessageType: http://uri.etsi.org/19522/v1#/ERDMessageType/dispatch\r\nREM-EventIdentifier: http://uri.etsi.org/19522/Event/SubmissionAcceptance\r\n";

    fn toy_gateway(next: Arc<std::sync::OnceLock<SocketAddr>>) -> SocketAddr {
        let gw = Sink::open("127.0.0.1:0").unwrap();
        let addr = gw.addr();
        std::thread::spawn(move || {
            loop {
                for m in gw.wait_for(1, Duration::from_secs(3600), Duration::ZERO) {
                    let Some(next) = next.get().copied() else {
                        continue;
                    };
                    let mut out = PREFIX.to_vec();
                    out.extend_from_slice(&m.data);
                    let t = lettre::SmtpTransport::builder_dangerous(next.ip().to_string())
                        .port(next.port())
                        .build();
                    let env = lettre::address::Envelope::new(
                        Some("gw@example.test".parse().unwrap()),
                        vec!["r@example.test".parse().unwrap()],
                    )
                    .unwrap();
                    let _ = t.send_raw(&env, &out);
                }
            }
        });
        addr
    }

    #[test]
    fn send_and_collect() {
        // The toy gateway's next hop is the subject's sink, known once the subject exists.
        let next = Arc::new(std::sync::OnceLock::new());
        let gw = toy_gateway(Arc::clone(&next));
        let subject = SmtpSubject::new(&format!("smtp://{gw}"), "127.0.0.1:0").unwrap();
        next.set(subject.collect_addr()).unwrap();
        let work = tempfile::tempdir().unwrap();
        let input = work.path().join("in.eml");
        std::fs::write(
            &input,
            "From: \"A\" <a@example.test>\r\nTo: b@example.test\r\nSubject: hello\r\n\r\n.leading dot\r\nbody\r\n",
        )
        .unwrap();
        let params = serde_json::Map::new();
        let req = Request {
            id: "smtp.toy",
            op: "translate",
            input: &input,
            now: "2025-01-01T00:00:00Z",
            params: &params,
            work: work.path(),
        };
        let v = subject.observe(&req).unwrap();
        assert_eq!(v["exit"], 0, "{v}");
        assert_eq!(v["smtp"]["code"], 250);
        assert_eq!(v["translated"], true);
        assert_eq!(v["output"]["format"], "rem");
        assert_eq!(v["output"]["type"], "dispatch");
        assert_eq!(v["output"]["event"], "SubmissionAcceptance");
        assert_eq!(v["output"]["headers"]["Subject"][0], "hello");
        assert_eq!(v["output"]["envelope"]["to"][0], "r@example.test");
        // Dot-stuffing undone; the toy gateway does not strip the final CRLF before lettre
        // adds its own, so one more arrives.
        let expected_len = PREFIX.len() + std::fs::read(&input).unwrap().len() + 2;
        assert_eq!(v["output"]["size"], expected_len);
    }

    #[test]
    fn describing_headers() {
        let c = Collected {
            from: "a@x".into(),
            to: vec!["b@y".into()],
            data: b"X-Ricevuta: avvenuta-consegna\r\nSubject: CONSEGNA:\r\n  folded\r\n\r\nbody"
                .to_vec(),
        };
        let d = describe(&c);
        assert_eq!(d["format"], "pec");
        assert_eq!(d["type"], "avvenuta-consegna");
        assert_eq!(d["headers"]["Subject"][0], "CONSEGNA: folded");
        assert_eq!(addresses("\"A, B\" <a@x>, <b@y>"), ["a@x", "b@y"]);
        assert_eq!(addresses("a@x, b@y"), ["a@x", "b@y"]);
    }
}
