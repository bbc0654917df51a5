//! `ponte queue list|show|retry|discard`: the running gateway's queue, through its ops API.
//!
//! - `ponte queue list [--state S]... [--limit N] [--json]`
//! - `ponte queue show ID [--json]`
//! - `ponte queue retry ID [--json]`
//! - `ponte queue discard ID [--reason TEXT] [--json]` (moves it to quarantine)
//!
//! each with `--ops URL` (default `http://127.0.0.1:9025`) and `--token-file FILE`.
//! Exit 0 when the server did it; 1 when it refused (unknown message 404, a state where the
//! action does not apply 409, a bad request 400); 2 when it could not be asked (usage, the
//! token file, connection, authentication 401/403, a server failure 5xx), naming the URL.
//! `--json` prints the server's JSON as it came (also for refusals).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use hyper::Method;
use serde_json::Value;

use super::{Failure, Outcome, read_file, write_output};
use ponte::service::ops::client::{Answer, Client};

/// Where the API is and how to authenticate.
#[derive(Debug, clap::Args)]
pub struct Conn {
    /// The ops API's base URL (`[ops] listen` of the gateway).
    #[arg(
        long = "ops",
        value_name = "URL",
        default_value = "http://127.0.0.1:9025"
    )]
    ops: String,
    /// A file holding the bearer token (the gateway's `[ops] token_file`).
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
}

/// A state to list.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StateArg {
    /// Stored, not processed yet.
    Received,
    /// Processed; deliveries pending.
    Queued,
    /// Every delivery delivered.
    Delivered,
    /// Refused after acceptance, or a delivery failed.
    Failed,
    /// Put aside.
    Quarantined,
    /// Every state.
    All,
}

impl StateArg {
    fn as_str(self) -> &'static str {
        match self {
            StateArg::Received => "received",
            StateArg::Queued => "queued",
            StateArg::Delivered => "delivered",
            StateArg::Failed => "failed",
            StateArg::Quarantined => "quarantined",
            StateArg::All => "all",
        }
    }
}

/// `ponte queue ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List messages, newest first (default: those not in a final state).
    List {
        /// Only messages in this state (repeatable, or comma-separated; `all` for every one).
        #[arg(long = "state", value_enum, value_delimiter = ',')]
        states: Vec<StateArg>,
        /// At most this many (1 to 1000; the server's default is 100).
        #[arg(long)]
        limit: Option<usize>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Show one message: its envelope, outputs, deliveries, timers and history.
    Show {
        /// The message's spool number.
        id: u64,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Process or deliver a message again (quarantined, failed, or queued: at once).
    Retry {
        /// The message's spool number.
        id: u64,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Move a message to quarantine: its deliveries and timers stop. It is kept, never
    /// deleted; `retry` brings it back.
    Discard {
        /// The message's spool number.
        id: u64,
        /// Why (kept in the message's history and the legal log).
        #[arg(long)]
        reason: Option<String>,
        /// Print the server's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        conn: Conn,
    },
}

/// Runs `ponte queue ...`.
pub fn run(cmd: Command) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("tokio runtime: {e}")))?;
    let (conn, method, path, json, shape) = match &cmd {
        Command::List {
            states,
            limit,
            json,
            conn,
        } => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if !states.is_empty() {
                let s: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
                q.append_pair("state", &s.join(","));
            }
            if let Some(n) = limit {
                q.append_pair("limit", &n.to_string());
            }
            let q = q.finish();
            let path = if q.is_empty() {
                "/api/queue".to_owned()
            } else {
                format!("/api/queue?{q}")
            };
            (conn, Method::GET, path, *json, Shape::List)
        }
        Command::Show { id, json, conn } => (
            conn,
            Method::GET,
            format!("/api/queue/{id}"),
            *json,
            Shape::Show,
        ),
        Command::Retry { id, json, conn } => (
            conn,
            Method::POST,
            format!("/api/queue/{id}/retry"),
            *json,
            Shape::Retry,
        ),
        Command::Discard {
            id,
            reason,
            json,
            conn,
        } => {
            let path = match reason {
                Some(r) => format!(
                    "/api/queue/{id}?{}",
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair("reason", r)
                        .finish()
                ),
                None => format!("/api/queue/{id}"),
            };
            (conn, Method::DELETE, path, *json, Shape::Discard)
        }
    };
    let token = token(&conn.token_file)?;
    let client = Client::new(&conn.ops, &token).map_err(|e| Failure(e.to_string()))?;
    let url = client.url(&path);
    let answer = rt
        .block_on(client.request(method, &path))
        .map_err(|e| Failure(e.to_string()))?;
    finish(&url, &answer, json, shape)
}

/// What the answer is, for the human rendering.
#[derive(Debug, Clone, Copy)]
enum Shape {
    List,
    Show,
    Retry,
    Discard,
}

fn token(path: &PathBuf) -> Result<String, Failure> {
    let bytes = read_file(path)?;
    let text = String::from_utf8(bytes).map_err(|_| Failure::at(path, "token is not UTF-8"))?;
    let t = text.trim();
    if t.is_empty() {
        return Err(Failure::at(path, "the token file is empty"));
    }
    Ok(t.to_owned())
}

fn finish(url: &str, a: &Answer, json: bool, shape: Shape) -> Outcome {
    let v: Option<Value> = serde_json::from_slice(&a.body).ok();
    if !(200..300).contains(&a.status) {
        let (kind, text) = match &v {
            Some(v) => (
                v["kind"].as_str().unwrap_or("?").to_owned(),
                v["error"].as_str().unwrap_or("").to_owned(),
            ),
            None => (
                "?".to_owned(),
                String::from_utf8_lossy(&a.body).trim().to_owned(),
            ),
        };
        if json {
            write_output(None, &a.body)?;
        }
        let line = format!("{url}: HTTP {} {kind}: {text}", a.status);
        // Refused by the server (the request reached it and was judged) → 1; could not be
        // asked (authentication, server failure) → 2.
        return if matches!(a.status, 401 | 403) || a.status >= 500 {
            Err(Failure(line))
        } else {
            eprintln!("ponte: {line}");
            Ok(ExitCode::from(1))
        };
    }
    if json {
        write_output(None, &a.body)?;
        return Ok(ExitCode::SUCCESS);
    }
    let v = v.ok_or_else(|| Failure(format!("{url}: the answer is not JSON")))?;
    let text = match shape {
        Shape::List => list(&v),
        Shape::Show => show(&v),
        Shape::Retry => format!(
            "message {}: {} -> {}\n",
            v["id"],
            s(&v["previous_state"]),
            s(&v["state"])
        ),
        Shape::Discard => format!(
            "message {}: {} ({})\n",
            v["id"],
            s(&v["state"]),
            s(&v["reason"])
        ),
    };
    write_output(None, text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// A JSON value as text: strings without quotes, `null` as `-`.
fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(t) => t.clone(),
        other => other.to_string(),
    }
}

/// An RFC 3339 time to the second (the API gives nanoseconds), UTC shown as `Z`.
fn t(v: &Value) -> String {
    use time::format_description::well_known::Rfc3339;
    match v.as_str() {
        Some(text) => time::OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .and_then(|at| at.replace_nanosecond(0).ok())
            .and_then(|at| at.format(&Rfc3339).ok())
            .unwrap_or_else(|| text.to_owned()),
        None => s(v),
    }
}

fn addresses(v: &Value) -> String {
    match v.as_array() {
        Some(a) if !a.is_empty() => a.iter().map(s).collect::<Vec<_>>().join(", "),
        _ => "-".to_owned(),
    }
}

fn list(v: &Value) -> String {
    let mut out = String::new();
    let empty = Vec::new();
    let messages = v["messages"].as_array().unwrap_or(&empty);
    if messages.is_empty() {
        let states = match v["states"].as_array() {
            Some(a) if !a.is_empty() => a.iter().map(s).collect::<Vec<_>>().join(", "),
            _ => "not final".to_owned(),
        };
        let _ = writeln!(out, "no messages ({states})");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<8} {:<12} {:<4} {:<30} {:<20} {:>9} {:>3} {:>3}  FROM -> TO",
        "ID", "STATE", "FMT", "KIND", "RECEIVED", "BYTES", "ATT", "OUT"
    );
    for m in messages {
        let line = format!(
            "{:<8} {:<12} {:<4} {:<30} {:<20} {:>9} {:>3} {:>3}  {} -> {}",
            s(&m["id"]),
            s(&m["state"]),
            s(&m["format"]),
            s(&m["kind"]),
            t(&m["received_at"]),
            s(&m["size"]),
            s(&m["attempts"]),
            s(&m["output_count"]),
            s(&m["envelope"]["mail_from"]),
            addresses(&m["envelope"]["rcpt_to"]),
        );
        let _ = writeln!(out, "{}", line.trim_end());
        if let Some(e) = m["last_error"].as_str() {
            let _ = writeln!(out, "{:<8} last error: {e}", "");
        }
    }
    let _ = writeln!(out, "{} message(s)", messages.len());
    out
}

fn show(v: &Value) -> String {
    let mut out = String::new();
    let m = &v["message"];
    let e = &m["envelope"];
    let _ = writeln!(
        out,
        "message {}: {} ({} {})",
        s(&m["id"]),
        s(&m["state"]),
        s(&m["format"]),
        s(&m["kind"])
    );
    let row = |out: &mut String, k: &str, val: String| {
        let _ = writeln!(out, "  {k:<12} {val}");
    };
    row(&mut out, "Message-ID", s(&m["message_id"]));
    row(
        &mut out,
        "received",
        format!(
            "{} from {} (HELO {}, TLS {})",
            t(&m["received_at"]),
            s(&e["peer"]),
            s(&e["helo"]),
            if e["tls"] == Value::Bool(true) {
                "yes"
            } else {
                "no"
            }
        ),
    );
    row(&mut out, "MAIL FROM", format!("<{}>", s(&e["mail_from"])));
    row(&mut out, "RCPT TO", addresses(&e["rcpt_to"]));
    row(&mut out, "size", format!("{} bytes", s(&m["size"])));
    row(&mut out, "updated", t(&m["updated_at"]));
    row(&mut out, "mapping", s(&m["mapping"]));
    if let Some(r) = m["refused"].as_array() {
        row(
            &mut out,
            "refused",
            r.iter().map(s).collect::<Vec<_>>().join(": "),
        );
    }
    if !m["last_error"].is_null() {
        row(&mut out, "last error", s(&m["last_error"]));
    }
    row(
        &mut out,
        "attempts",
        match &m["next_attempt"] {
            Value::Null => s(&m["attempts"]),
            next => format!("{} (next {})", s(&m["attempts"]), t(next)),
        },
    );
    let empty = Vec::new();
    let outputs = m["outputs"].as_array().unwrap_or(&empty);
    let _ = writeln!(out, "outputs ({}):", outputs.len());
    for o in outputs {
        let _ = writeln!(
            out,
            "  {:<3} {:<36} {} ({} bytes)",
            s(&o["index"]),
            s(&o["kind"]),
            s(&o["message_id"]),
            s(&o["size"])
        );
    }
    let deliveries = v["deliveries"].as_array().unwrap_or(&empty);
    let _ = writeln!(out, "deliveries ({}):", deliveries.len());
    for d in deliveries {
        let dest = &d["destination"];
        let dest = match &dest["value"] {
            Value::Null => s(&dest["kind"]),
            val => format!("{}:{}", s(&dest["kind"]), s(val)),
        };
        let line = format!(
            "  {:<6} out {:<3} {:<11} {:<28} attempts {:<3} next {} to {}",
            s(&d["id"]),
            s(&d["output"]),
            s(&d["state"]),
            dest,
            s(&d["attempts"]),
            t(&d["next_attempt"]),
            addresses(&d["rcpt_to"])
        );
        let _ = writeln!(out, "{}", line.trim_end());
        if !d["last_result"].is_null() {
            let _ = writeln!(out, "         last: {}", s(&d["last_result"]));
        }
    }
    let timers = v["timers"].as_array().unwrap_or(&empty);
    let _ = writeln!(out, "timers ({}):", timers.len());
    for tm in timers {
        let _ = writeln!(
            out,
            "  {:<6} {:<8} due {} about {} for {}",
            s(&tm["id"]),
            s(&tm["timer"]["kind"]),
            t(&tm["timer"]["due"]),
            s(&tm["timer"]["about"]),
            addresses(&tm["timer"]["recipients"])
        );
    }
    let history = m["history"].as_array().unwrap_or(&empty);
    let _ = writeln!(out, "history ({}):", history.len());
    for h in history {
        let _ = writeln!(
            out,
            "  {} {:<18} {}",
            t(&h["at"]),
            s(&h["event"]),
            s(&h["detail"])
        );
    }
    out
}
