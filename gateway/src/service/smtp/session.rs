//! One SMTP session: greeting, EHLO, STARTTLS, transactions, the DATA phase, limits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{Stream, read_some};
use crate::service::{Gateway, Shutdown};

/// Protocol errors tolerated before the session is closed (`421`).
const MAX_ERRORS: u32 = 10;
/// Transactions in one session before the client must reconnect.
const MAX_TRANSACTIONS: u32 = 10_000;

/// An SMTP reply: code, enhanced status code (RFC 3463), text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The basic code (`250`, `451`, `554`, ...).
    pub code: u16,
    /// The enhanced status code (`2.0.0`), or empty (`354`, the greeting).
    pub enhanced: &'static str,
    /// The text, one line.
    pub text: String,
}

impl Reply {
    /// A reply.
    pub fn new(code: u16, enhanced: &'static str, text: impl Into<String>) -> Reply {
        Reply {
            code,
            enhanced,
            text: text.into(),
        }
    }

    /// The wire form, one line, CRLF (line breaks and control characters in the text become
    /// spaces; the text is cut at 400 characters).
    pub fn wire(&self) -> Vec<u8> {
        let text: String = self
            .text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(400)
            .collect();
        let line = if self.enhanced.is_empty() {
            format!("{} {text}\r\n", self.code)
        } else {
            format!("{} {} {text}\r\n", self.code, self.enhanced)
        };
        line.into_bytes()
    }

    /// Whether the reply accepts (2xx).
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

struct Transaction {
    from: Option<String>,
    rcpt: Vec<String>,
}

impl Transaction {
    fn reset(&mut self) {
        self.from = None;
        self.rcpt.clear();
    }
}

enum Next {
    Continue,
    Close,
}

pub(super) async fn run(
    gw: &Gateway,
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let settings = gw.settings();
    let smtp = settings.smtp.clone();
    let hostname = smtp
        .hostname
        .clone()
        .unwrap_or_else(|| gw.cx.config.identity.domain.clone());
    let mut s = Session {
        gw,
        io: Box::new(tcp),
        peer,
        hostname,
        smtp,
        tls_config: tls,
        tls_active: false,
        helo: None,
        tx: Transaction {
            from: None,
            rcpt: Vec::new(),
        },
        pending: Vec::new(),
        receiver: RequestReceiver::default(),
        out: Vec::new(),
        errors: 0,
        transactions: 0,
        skip_line: false,
        shutdown,
    };
    s.run().await
}

struct Session<'g> {
    gw: &'g Gateway,
    io: Box<dyn Stream>,
    peer: SocketAddr,
    hostname: String,
    smtp: crate::config::Smtp,
    tls_config: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    tls_active: bool,
    helo: Option<String>,
    tx: Transaction,
    /// Input received and not yet parsed.
    pending: Vec<u8>,
    receiver: RequestReceiver,
    /// Replies not yet written (PIPELINING: written before the next read).
    out: Vec<u8>,
    errors: u32,
    transactions: u32,
    /// After an over-long line: discard input up to the next LF.
    skip_line: bool,
    shutdown: Shutdown,
}

impl Session<'_> {
    async fn run(&mut self) -> std::io::Result<()> {
        let greeting = Reply::new(
            220,
            "",
            format!("{} ESMTP Ponte PEC/REM gateway ready", self.hostname),
        );
        self.out.extend(greeting.wire());
        loop {
            if self.stopping() {
                self.reply(Reply::new(
                    421,
                    "4.3.2",
                    "Service shutting down, try again later",
                ));
                self.flush().await?;
                return Ok(());
            }
            match self.next_request().await? {
                None => {
                    self.flush().await?;
                    return Ok(());
                }
                Some(Err(e)) => {
                    if let Next::Close = self.protocol_error(e) {
                        self.flush().await?;
                        return Ok(());
                    }
                }
                Some(Ok(req)) => {
                    if let Next::Close = self.handle(req).await? {
                        self.flush().await?;
                        let _ = self.io.shutdown().await;
                        return Ok(());
                    }
                }
            }
        }
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    fn reply(&mut self, r: Reply) {
        self.out.extend(r.wire());
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        match tokio::time::timeout(self.smtp.command_timeout, async {
            self.io.write_all(&out).await?;
            self.io.flush().await
        })
        .await
        {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timeout writing a reply",
            )),
        }
    }

    /// Reads more input (after writing the replies owed). `Ok(false)` at end of stream.
    async fn fill(&mut self, deadline: Option<Instant>) -> std::io::Result<bool> {
        self.flush().await?;
        let mut buf = [0u8; 16 * 1024];
        let timeout = match deadline {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .min(self.smtp.command_timeout),
            None => self.smtp.command_timeout,
        };
        let mut shutdown = self.shutdown.clone();
        let n = tokio::select! {
            r = read_some(&mut self.io, &mut buf, timeout) => r?,
            // Only between commands: a DATA phase in progress is read to its end.
            _ = crate::service::stopping(&mut shutdown), if deadline.is_none() => return Ok(false),
        };
        if n == 0 {
            return Ok(false);
        }
        self.pending
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(true)
    }

    /// The next request, reading as needed. `None`: the client went away or timed out (the
    /// timeout is answered with `421`).
    async fn next_request(
        &mut self,
    ) -> std::io::Result<Option<Result<Request<String>, ProtoError>>> {
        loop {
            if self.skip_line {
                match self.pending.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.pending.drain(..=i);
                        self.skip_line = false;
                    }
                    None => self.pending.clear(),
                }
            }
            if !self.pending.is_empty() && !self.skip_line {
                let (result, consumed) = {
                    let mut it = self.pending.iter();
                    let r = self.receiver.ingest(&mut it).map(Request::into_owned);
                    (r, self.pending.len() - it.as_slice().len())
                };
                self.pending.drain(..consumed);
                match result {
                    Err(ProtoError::NeedsMoreData { .. }) => {}
                    Err(ProtoError::ResponseTooLong) => {
                        self.skip_line = true;
                        return Ok(Some(Err(ProtoError::ResponseTooLong)));
                    }
                    other => return Ok(Some(other)),
                }
            }
            match self.fill(None).await {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    self.reply(Reply::new(421, "4.4.2", "Timeout waiting for a command"));
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn protocol_error(&mut self, e: ProtoError) -> Next {
        self.errors += 1;
        let r = match e {
            ProtoError::UnknownCommand => Reply::new(500, "5.5.1", "Unknown command"),
            ProtoError::ResponseTooLong => Reply::new(500, "5.5.6", "Line too long"),
            ProtoError::InvalidSenderAddress => Reply::new(501, "5.1.7", "Invalid sender address"),
            ProtoError::InvalidRecipientAddress => {
                Reply::new(501, "5.1.3", "Invalid recipient address")
            }
            ProtoError::SyntaxError { syntax } => {
                Reply::new(501, "5.5.4", format!("Syntax: {syntax}"))
            }
            ProtoError::InvalidParameter { param } => {
                Reply::new(501, "5.5.4", format!("Invalid parameter {param}"))
            }
            ProtoError::UnsupportedParameter { param } => {
                Reply::new(504, "5.5.4", format!("Unsupported parameter {param}"))
            }
            other => Reply::new(500, "5.5.2", format!("Syntax error ({other:?})")),
        };
        self.reply(r);
        if self.errors >= MAX_ERRORS {
            self.reply(Reply::new(421, "4.7.0", "Too many errors, closing"));
            return Next::Close;
        }
        Next::Continue
    }

    fn bad_sequence(&mut self, text: &str) -> Next {
        self.errors += 1;
        self.reply(Reply::new(503, "5.5.1", text));
        if self.errors >= MAX_ERRORS {
            self.reply(Reply::new(421, "4.7.0", "Too many errors, closing"));
            return Next::Close;
        }
        Next::Continue
    }

    async fn handle(&mut self, req: Request<String>) -> std::io::Result<Next> {
        match req {
            Request::Ehlo { host } => {
                self.helo = Some(host);
                self.tx.reset();
                self.ehlo();
            }
            Request::Helo { host } => {
                self.helo = Some(host);
                self.tx.reset();
                let r = Reply::new(250, "", self.hostname.clone());
                self.reply(r);
            }
            Request::Lhlo { .. } => self.reply(Reply::new(502, "5.5.1", "LMTP is not spoken here")),
            Request::StartTls => return self.starttls().await,
            Request::Mail { from } => {
                if self.helo.is_none() {
                    return Ok(self.bad_sequence("Say EHLO first"));
                }
                if self.tx.from.is_some() {
                    return Ok(self.bad_sequence("Nested MAIL command"));
                }
                if self.transactions >= MAX_TRANSACTIONS {
                    self.reply(Reply::new(
                        421,
                        "4.7.0",
                        "Too many messages in one session, reconnect",
                    ));
                    return Ok(Next::Close);
                }
                if from.size > 0 && from.size as u64 > self.smtp.max_message_bytes {
                    self.reply(Reply::new(
                        552,
                        "5.3.4",
                        format!(
                            "Message size {} exceeds the limit of {} bytes",
                            from.size, self.smtp.max_message_bytes
                        ),
                    ));
                    return Ok(Next::Continue);
                }
                self.tx.from = Some(from.address);
                self.reply(Reply::new(250, "2.1.0", "Sender OK"));
            }
            Request::Rcpt { to } => {
                if self.tx.from.is_none() {
                    return Ok(self.bad_sequence("Need MAIL before RCPT"));
                }
                if !to.address.contains('@') {
                    self.reply(Reply::new(
                        550,
                        "5.1.3",
                        format!("{}: a recipient needs a domain", to.address),
                    ));
                    return Ok(Next::Continue);
                }
                if self.tx.rcpt.len() >= self.smtp.max_recipients {
                    self.reply(Reply::new(
                        452,
                        "4.5.3",
                        format!("Too many recipients (at most {})", self.smtp.max_recipients),
                    ));
                    return Ok(Next::Continue);
                }
                self.tx.rcpt.push(to.address);
                self.reply(Reply::new(250, "2.1.5", "Recipient OK"));
            }
            Request::Data => {
                if self.tx.from.is_none() {
                    return Ok(self.bad_sequence("Need MAIL before DATA"));
                }
                if self.tx.rcpt.is_empty() {
                    return Ok(self.bad_sequence("Need RCPT before DATA"));
                }
                return self.data().await;
            }
            Request::Bdat { .. } => {
                self.reply(Reply::new(502, "5.5.1", "CHUNKING is not offered"));
            }
            Request::Rset => {
                self.tx.reset();
                self.reply(Reply::new(250, "2.0.0", "Reset"));
            }
            Request::Noop { .. } => self.reply(Reply::new(250, "2.0.0", "OK")),
            Request::Quit => {
                self.reply(Reply::new(221, "2.0.0", "Bye"));
                return Ok(Next::Close);
            }
            Request::Vrfy { .. } => {
                self.reply(Reply::new(252, "2.5.0", "Cannot verify, send the message"))
            }
            Request::Auth { .. } => self.reply(Reply::new(502, "5.5.1", "AUTH is not offered")),
            other => {
                self.errors += 1;
                self.reply(Reply::new(
                    502,
                    "5.5.1",
                    format!("{} is not implemented", other.name()),
                ));
            }
        }
        Ok(Next::Continue)
    }

    fn ehlo(&mut self) {
        let mut lines = vec![
            self.hostname.clone(),
            "PIPELINING".to_string(),
            format!("SIZE {}", self.smtp.max_message_bytes),
            "8BITMIME".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
        ];
        if self.tls_config.is_some() && !self.tls_active {
            lines.push("STARTTLS".to_string());
        }
        let last = lines.len() - 1;
        for (i, l) in lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            self.out.extend(format!("250{sep}{l}\r\n").into_bytes());
        }
    }

    async fn starttls(&mut self) -> std::io::Result<Next> {
        let Some(cfg) = self.tls_config.clone().filter(|_| !self.tls_active) else {
            self.reply(Reply::new(
                502,
                "5.5.1",
                if self.tls_active {
                    "TLS already active"
                } else {
                    "STARTTLS is not offered"
                },
            ));
            return Ok(Next::Continue);
        };
        self.reply(Reply::new(220, "2.0.0", "Ready to start TLS"));
        self.flush().await?;
        // RFC 3207 §4: anything the client sent after STARTTLS in the clear is discarded
        // (command injection), and the session starts over.
        self.pending.clear();
        self.receiver = RequestReceiver::default();
        let plain = std::mem::replace(&mut self.io, Box::new(tokio::io::duplex(1).0));
        let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
        match tokio::time::timeout(self.smtp.command_timeout, acceptor.accept(plain)).await {
            Ok(Ok(tls)) => {
                self.io = Box::new(tls);
                self.tls_active = true;
                self.helo = None;
                self.tx.reset();
                Ok(Next::Continue)
            }
            Ok(Err(e)) => {
                tracing::info!(peer = %self.peer, error = %e, "TLS handshake failed");
                Ok(Next::Close)
            }
            Err(_) => Ok(Next::Close),
        }
    }

    async fn data(&mut self) -> std::io::Result<Next> {
        self.out.extend(b"354 End data with <CR><LF>.<CR><LF>\r\n");
        let deadline = Instant::now() + self.smtp.data_timeout;
        let max = usize::try_from(self.smtp.max_message_bytes).unwrap_or(usize::MAX);
        let mut dr = DataReceiver::new();
        let mut body = Vec::new();
        let mut scratch = Vec::new();
        let mut too_big = false;
        let mut seen: usize = 0;
        loop {
            let done = {
                let mut it = self.pending.iter();
                let done = if too_big {
                    scratch.clear();
                    let d = dr.ingest(&mut it, &mut scratch);
                    seen = seen.saturating_add(scratch.len());
                    d
                } else {
                    dr.ingest(&mut it, &mut body)
                };
                let consumed = self.pending.len() - it.as_slice().len();
                self.pending.drain(..consumed);
                done
            };
            if !too_big && body.len() > max {
                too_big = true;
                seen = body.len();
                body = Vec::new();
            }
            if done {
                break;
            }
            match self.fill(Some(deadline)).await {
                Ok(true) => {}
                Ok(false) => return Ok(Next::Close),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    self.reply(Reply::new(421, "4.4.2", "Timeout during DATA"));
                    return Ok(Next::Close);
                }
                Err(e) => return Err(e),
            }
        }
        let from = self.tx.from.take().unwrap_or_default();
        let rcpt = std::mem::take(&mut self.tx.rcpt);
        self.transactions += 1;
        if too_big {
            self.reply(Reply::new(
                552,
                "5.3.4",
                format!(
                    "Message of {seen} bytes or more exceeds the limit of {} bytes",
                    self.smtp.max_message_bytes
                ),
            ));
            return Ok(Next::Continue);
        }
        let envelope = super::envelope(
            self.peer,
            self.helo.as_deref().unwrap_or(""),
            self.tls_active,
            &from,
            &rcpt,
        );
        let reply = crate::service::process::accept(self.gw, envelope, body).await;
        self.reply(reply);
        Ok(Next::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_one_clean_line() {
        assert_eq!(
            Reply::new(554, "5.7.1", "bad\r\nsigner").wire(),
            b"554 5.7.1 bad  signer\r\n".to_vec()
        );
        assert_eq!(Reply::new(220, "", "hi").wire(), b"220 hi\r\n".to_vec());
        assert_eq!(
            Reply::new(250, "2.0.0", "x".repeat(1000)).wire().len(),
            400 + 12
        );
    }
}
