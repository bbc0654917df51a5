//! The SMTP client side of delivery: one session to a peer (greeting, EHLO, STARTTLS as the
//! route says), then transactions on it (MAIL, RCPT per recipient, DATA), each answering per
//! recipient. The protocol work (reply parsing, EHLO capabilities, dot-stuffing, the TLS
//! upgrade) is `mail-send`'s; what is decided here is how each reply settles each recipient.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mail_send::SmtpClient;
use smtp_proto::{EXT_8BIT_MIME, EXT_PIPELINING, EXT_SIZE, EXT_START_TLS, EhloResponse, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::Error;
use crate::config::TlsMode;

/// An SMTP reply: code, enhanced status code (when the peer gave one) and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code (RFC 3463), `[0, 0, 0]` when absent.
    pub esc: [u8; 3],
    /// The text, lines joined with ` / `.
    pub text: String,
}

/// What a reply code means for the message (RFC 5321 §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// 2xx (and 3xx where one is expected).
    Positive,
    /// 4xx, or a reply that makes no sense at that point: try again later.
    Transient,
    /// 5xx: refused for good.
    Permanent,
}

impl Reply {
    fn from_response(r: Response<String>) -> Reply {
        Reply {
            code: r.code,
            esc: r.esc,
            text: r
                .message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" / "),
        }
    }

    /// What the code means.
    pub fn class(&self) -> Class {
        match self.code {
            200..=399 => Class::Positive,
            500..=599 => Class::Permanent,
            _ => Class::Transient,
        }
    }

    /// `421`: the peer is closing the connection.
    fn closes(&self) -> bool {
        self.code == 421
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if self.esc != [0, 0, 0] {
            write!(f, " {}.{}.{}", self.esc[0], self.esc[1], self.esc[2])?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

/// How one recipient came out of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The peer took the message for it (after the final reply to DATA), with that reply.
    Delivered(String),
    /// Try again later, and why.
    Deferred(String),
    /// Refused for good, and why.
    Failed(String),
}

/// The outcome of one transaction: per recipient, in the delivery's order, and whether the
/// connection can carry another message.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Each recipient and how it settled.
    pub recipients: Vec<(String, Settled)>,
    /// False when the connection broke, timed out or the peer said `421`.
    pub reusable: bool,
}

impl Outcome {
    /// Every recipient settled the same way.
    fn all(rcpts: &[String], s: &Settled, reusable: bool) -> Outcome {
        Outcome {
            recipients: rcpts.iter().map(|r| (r.clone(), s.clone())).collect(),
            reusable,
        }
    }
}

/// A session in either state of the TLS upgrade.
enum Client {
    Plain(SmtpClient<TcpStream>),
    Tls(Box<SmtpClient<TlsStream<TcpStream>>>),
}

/// The same call on either kind of client.
macro_rules! on {
    ($client:expr, $c:ident => $e:expr) => {
        match $client {
            Client::Plain($c) => $e,
            Client::Tls($c) => $e,
        }
    };
}

/// Where to connect and how.
#[derive(Clone, Debug)]
pub struct Dial<'a> {
    /// The host's name (or address) as configured or found in DNS: what its certificate
    /// must name.
    pub host: &'a str,
    /// The address to connect to.
    pub addr: SocketAddr,
    /// The route's TLS mode.
    pub tls: TlsMode,
    /// The TLS client configuration (system roots plus `[delivery] tls_anchors`); `None` when
    /// it could not be built (then STARTTLS fails with `tls_error`).
    pub tls_config: Option<Arc<rustls::ClientConfig>>,
    /// Why there is no TLS configuration.
    pub tls_error: Option<String>,
    /// The name said in EHLO.
    pub helo: &'a str,
    /// Connecting, and each exchange.
    pub timeout: Duration,
}

/// An open session, ready for a transaction.
pub struct Session {
    client: Client,
    ehlo: EhloResponse<String>,
    /// `host[addr]`, for logs and reasons.
    pub peer: String,
    /// Whether the session is under TLS.
    pub tls: bool,
    timeout: Duration,
    transactions: u32,
    /// A transaction was begun and did not end with the final reply to DATA: the next one
    /// starts with RSET.
    open: bool,
}

/// One command of a transaction's envelope.
enum Command {
    Rset,
    Mail(String),
    Rcpt(String),
    Data,
}

impl Command {
    fn line(&self) -> String {
        match self {
            Command::Rset => "RSET\r\n".to_owned(),
            Command::Mail(l) | Command::Rcpt(l) => l.clone(),
            Command::Data => "DATA\r\n".to_owned(),
        }
    }

    /// The stage a failure is reported at.
    fn stage(&self) -> &'static str {
        match self {
            Command::Rset => "RSET",
            Command::Mail(_) => "MAIL FROM",
            Command::Rcpt(_) => "RCPT TO",
            Command::Data => "DATA",
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

fn io_reason(e: &mail_send::Error) -> String {
    match e {
        mail_send::Error::Timeout => "timed out".to_owned(),
        mail_send::Error::UnparseableReply => "connection closed or unreadable reply".to_owned(),
        other => other.to_string(),
    }
}

impl Session {
    /// Connects, reads the greeting, says EHLO and upgrades to TLS as `dial.tls` says.
    pub async fn open(dial: &Dial<'_>) -> Result<Session, Error> {
        let peer = format!("{}[{}]", dial.host, dial.addr);
        let broken = |stage: &'static str, e: &mail_send::Error| Error::Broken {
            peer: peer.clone(),
            stage,
            reason: io_reason(e),
        };
        let mut plain = SmtpClient::connect(dial.addr, dial.timeout)
            .await
            .map_err(|e| Error::Connect {
                peer: peer.clone(),
                reason: io_reason(&e),
            })?;
        // The client writes the end of DATA (`CRLF . CRLF`) apart from the body: with Nagle's
        // algorithm on, those five bytes wait for the peer's (delayed) acknowledgement of the
        // body, tens of milliseconds per message on a reused connection.
        if let Err(e) = plain.stream.set_nodelay(true) {
            tracing::debug!(peer = %peer, error = %e, "delivery: TCP_NODELAY refused");
        }
        let greeting = tokio::time::timeout(dial.timeout, plain.read())
            .await
            .map_err(|_| broken("greeting", &mail_send::Error::Timeout))?
            .map_err(|e| broken("greeting", &e))?;
        let greeting = Reply::from_response(greeting);
        if greeting.code != 220 {
            return Err(Error::Refused {
                peer,
                stage: "greeting",
                reply: greeting,
            });
        }
        let ehlo = hello(&mut plain, dial.helo, &peer).await?;
        let offers_tls = ehlo.has_capability(EXT_START_TLS);
        let wants_tls = match dial.tls {
            TlsMode::None => false,
            TlsMode::Starttls => offers_tls,
            TlsMode::Required if offers_tls => true,
            TlsMode::Required => return Err(Error::NoStarttls { peer }),
        };
        if !wants_tls {
            return Ok(Session {
                client: Client::Plain(plain),
                ehlo,
                peer,
                tls: false,
                timeout: dial.timeout,
                transactions: 0,
                open: false,
            });
        }
        let Some(config) = &dial.tls_config else {
            return Err(Error::Tls {
                peer,
                reason: dial
                    .tls_error
                    .clone()
                    .unwrap_or_else(|| "no TLS configuration".into()),
            });
        };
        let connector = TlsConnector::from(Arc::clone(config));
        let tls = plain
            .start_tls(&connector, dial.host)
            .await
            .map_err(|e| match e {
                mail_send::Error::UnexpectedReply(r) => Error::Refused {
                    peer: peer.clone(),
                    stage: "STARTTLS",
                    reply: Reply::from_response(r),
                },
                mail_send::Error::Tls(t) => Error::Tls {
                    peer: peer.clone(),
                    reason: t.to_string(),
                },
                mail_send::Error::InvalidTLSName => Error::Tls {
                    peer: peer.clone(),
                    reason: format!("{:?} is not a name a certificate can have", dial.host),
                },
                other => Error::Tls {
                    peer: peer.clone(),
                    reason: io_reason(&other),
                },
            })?;
        let mut tls = tls;
        // RFC 3207 §4.2: everything learnt before TLS is forgotten; EHLO again.
        let ehlo = hello(&mut tls, dial.helo, &peer).await?;
        let client = Client::Tls(Box::new(tls));
        Ok(Session {
            client,
            ehlo,
            peer,
            tls: true,
            timeout: dial.timeout,
            transactions: 0,
            open: false,
        })
    }

    /// Transactions done on this session.
    pub fn transactions(&self) -> u32 {
        self.transactions
    }

    async fn command(&mut self, line: String) -> Result<Reply, mail_send::Error> {
        let r = on!(&mut self.client, c => c.cmd(line.as_bytes()).await)?;
        Ok(Reply::from_response(r))
    }

    /// Sends one message to `rcpts`; the outcome per recipient. `body` is the message as it
    /// must arrive (CRLF lines): it is sent byte-exact (see [`wire_body`]).
    ///
    /// When the peer offers PIPELINING (RFC 2920) the envelope goes in one group (`RSET` when
    /// the previous transaction did not end with its final reply, `MAIL`, every `RCPT`,
    /// `DATA`) and the replies are read together: two round trips per message instead of one
    /// per command. Otherwise the commands go one by one, stopping at the first refusal that
    /// decides. Either way each reply settles what it settles, as below.
    pub async fn send(&mut self, mail_from: &str, rcpts: &[String], body: &[u8]) -> Outcome {
        let peer = self.peer.clone();
        let broken = |stage: &str, e: &mail_send::Error| {
            Settled::Deferred(format!("{peer}: {stage}: {}", io_reason(e)))
        };
        // A transaction left open (refused after MAIL, or broken off) is reset first.
        let rset = std::mem::replace(&mut self.open, true);
        self.transactions += 1;

        let mut params = String::new();
        if self.ehlo.has_capability(EXT_SIZE) {
            params.push_str(&format!(" SIZE={}", body.len()));
        }
        if self.ehlo.has_capability(EXT_8BIT_MIME) && body.iter().any(|b| *b >= 0x80) {
            params.push_str(" BODY=8BITMIME");
        }
        let mut commands = Vec::with_capacity(rcpts.len() + 3);
        if rset {
            commands.push(Command::Rset);
        }
        commands.push(Command::Mail(format!(
            "MAIL FROM:<{mail_from}>{params}\r\n"
        )));
        for rcpt in rcpts {
            commands.push(Command::Rcpt(format!("RCPT TO:<{rcpt}>\r\n")));
        }
        commands.push(Command::Data);
        let pipelined = self.ehlo.has_capability(EXT_PIPELINING);
        let replies = if pipelined {
            // One write for the group, so that it travels in one segment.
            let group: String = commands.iter().map(Command::line).collect();
            let n = commands.len();
            let read = tokio::time::timeout(self.timeout, async {
                on!(&mut self.client, c => {
                    c.stream.write_all(group.as_bytes()).await?;
                    c.stream.flush().await?;
                    c.read_many(n).await
                })
            })
            .await
            .unwrap_or(Err(mail_send::Error::Timeout));
            match read {
                Ok(rs) => rs.into_iter().map(Reply::from_response).collect::<Vec<_>>(),
                Err(e) => return Outcome::all(rcpts, &broken("MAIL FROM .. DATA", &e), false),
            }
        } else {
            let mut replies = Vec::with_capacity(commands.len());
            let mut accepted = 0;
            for command in &commands {
                if matches!(command, Command::Data) && accepted == 0 {
                    break; // no recipient accepted: no DATA
                }
                let r = match self.command(command.line()).await {
                    Ok(r) => r,
                    Err(e) => return Outcome::all(rcpts, &broken(command.stage(), &e), false),
                };
                let positive = r.class() == Class::Positive;
                let closes = r.closes();
                replies.push(r);
                match command {
                    Command::Rcpt(_) if positive => accepted += 1,
                    Command::Rcpt(_) if !closes => {}
                    _ if positive => {}
                    _ => break,
                }
            }
            replies
        };
        let mut replies = replies.into_iter();

        // The envelope's replies, in the order of the commands.
        let mut settled: Vec<Option<Settled>> = Vec::with_capacity(rcpts.len());
        let mut stop: Option<(Settled, bool)> = None;
        let mut data_reply: Option<Reply> = None;
        for command in &commands {
            let Some(r) = replies.next() else { break };
            if stop.is_some() {
                if matches!(command, Command::Data) {
                    data_reply = Some(r);
                }
                continue;
            }
            match command {
                Command::Rset | Command::Mail(_) if r.class() == Class::Positive => {}
                Command::Rset => {
                    let s = Settled::Deferred(format!("{}: RSET: {r}", self.peer));
                    stop = Some((s, false));
                }
                Command::Mail(_) => {
                    stop = Some((settle_refusal(&self.peer, "MAIL FROM", &r), !r.closes()));
                }
                Command::Rcpt(_) if r.class() == Class::Positive => settled.push(None),
                Command::Rcpt(_) => {
                    settled.push(Some(settle_refusal(&self.peer, "RCPT TO", &r)));
                    if r.closes() {
                        // DATA is not sent: those accepted, and those not asked yet, wait.
                        let s = Settled::Deferred(format!("{}: closed the connection", self.peer));
                        stop = Some((s, false));
                    }
                }
                Command::Data => data_reply = Some(r),
            }
        }
        if stop.is_none() && settled.len() < rcpts.len() {
            // Fewer replies than commands: the peer broke the pipeline.
            let s = Settled::Deferred(format!("{}: RCPT TO: no reply", self.peer));
            stop = Some((s, false));
        }
        if stop.is_none() && settled.iter().all(Option::is_some) {
            stop = Some((Settled::Deferred(String::new()), true));
        }
        if let Some((rest, reusable)) = stop {
            // A peer that said 354 anyway waits for a message: it gets an empty one ended at
            // once, and the connection is not trusted further.
            let reusable = match data_reply {
                Some(r) if r.code == 354 => {
                    let _ = self.command(".\r\n".into()).await;
                    false
                }
                _ => reusable,
            };
            return finish(settled, rcpts, &rest, reusable);
        }
        match data_reply {
            Some(r) if r.code == 354 => {}
            Some(r) => {
                let s = settle_refusal(&self.peer, "DATA", &r);
                return finish(settled, rcpts, &s, !r.closes());
            }
            None => {
                let s = Settled::Deferred(format!("{}: DATA: no reply", self.peer));
                return finish(settled, rcpts, &s, false);
            }
        }
        let wire = wire_body(body);
        let write_timeout = self.timeout + Duration::from_secs((body.len() / (64 * 1024)) as u64);
        let written = tokio::time::timeout(write_timeout, async {
            on!(&mut self.client, c => c.write_message(&wire).await)
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let e = mail_send::Error::Io(e);
                return Outcome::all(rcpts, &broken("DATA", &e), false);
            }
            Err(_) => {
                let e = mail_send::Error::Timeout;
                return Outcome::all(rcpts, &broken("DATA", &e), false);
            }
        }
        // The only reply that settles the message: until it is read, nothing is recorded.
        let reply = tokio::time::timeout(self.timeout, async {
            on!(&mut self.client, c => c.read().await)
        })
        .await;
        match reply {
            Ok(Ok(r)) => {
                let r = Reply::from_response(r);
                // The transaction is over, whatever the reply: the next needs no RSET.
                self.open = false;
                let s = match r.class() {
                    Class::Positive => Settled::Delivered(format!("{}: {r}", self.peer)),
                    _ => settle_refusal(&self.peer, "end of DATA", &r),
                };
                finish(settled, rcpts, &s, !r.closes())
            }
            Ok(Err(e)) => Outcome::all(rcpts, &broken("end of DATA", &e), false),
            Err(_) => {
                let e = mail_send::Error::Timeout;
                Outcome::all(rcpts, &broken("end of DATA", &e), false)
            }
        }
    }

    /// Says QUIT (best effort, briefly) and closes.
    pub async fn close(self) {
        let t = self.timeout.min(Duration::from_secs(5));
        let mut client = self.client;
        let _ = tokio::time::timeout(t, async { on!(&mut client, c => c.cmd(b"QUIT\r\n").await) })
            .await;
    }
}

/// EHLO, falling back to HELO when the peer refuses EHLO with a 5xx (then no extensions).
async fn hello<T>(
    c: &mut SmtpClient<T>,
    helo: &str,
    peer: &str,
) -> Result<EhloResponse<String>, Error>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match c.ehlo(helo).await {
        Ok(e) => Ok(e),
        Err(mail_send::Error::UnexpectedReply(r)) if (500..600).contains(&r.code) => {
            let r = c
                .cmd(format!("HELO {helo}\r\n").as_bytes())
                .await
                .map_err(|e| Error::Broken {
                    peer: peer.to_owned(),
                    stage: "HELO",
                    reason: io_reason(&e),
                })?;
            let r = Reply::from_response(r);
            if r.class() != Class::Positive {
                return Err(Error::Refused {
                    peer: peer.to_owned(),
                    stage: "HELO",
                    reply: r,
                });
            }
            Ok(EhloResponse::default())
        }
        Err(mail_send::Error::UnexpectedReply(r)) => Err(Error::Refused {
            peer: peer.to_owned(),
            stage: "EHLO",
            reply: Reply::from_response(r),
        }),
        Err(e) => Err(Error::Broken {
            peer: peer.to_owned(),
            stage: "EHLO",
            reason: io_reason(&e),
        }),
    }
}

/// A refusal of MAIL, RCPT or DATA as a recipient's settlement: 5xx fails, anything else
/// defers.
fn settle_refusal(peer: &str, stage: &str, r: &Reply) -> Settled {
    let text = format!("{peer}: {stage}: {r}");
    match r.class() {
        Class::Permanent => Settled::Failed(text),
        Class::Transient | Class::Positive => Settled::Deferred(text),
    }
}

/// The recipients refused at RCPT keep their refusal; the others (accepted at RCPT, or not
/// asked because the peer closed the connection) get `rest`.
fn finish(
    settled: Vec<Option<Settled>>,
    rcpts: &[String],
    rest: &Settled,
    reusable: bool,
) -> Outcome {
    let mut settled = settled.into_iter();
    Outcome {
        recipients: rcpts
            .iter()
            .map(|r| {
                let s = settled.next().flatten().unwrap_or_else(|| rest.clone());
                (r.clone(), s)
            })
            .collect(),
        reusable,
    }
}

/// The body as handed to the client, so that it arrives byte-exact: the client appends
/// `CRLF . CRLF` to what it is given and dot-stuffs every line but the first, so one trailing
/// CRLF is taken off (it is the CRLF before the final dot) and a first line starting with a
/// dot gets its extra dot here. A body that does not end with CRLF arrives with one added
/// (SMTP cannot carry it otherwise).
pub fn wire_body(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let trimmed = body.strip_suffix(b"\r\n").unwrap_or(body);
    if trimmed.first() == Some(&b'.') {
        let mut v = Vec::with_capacity(trimmed.len() + 1);
        v.push(b'.');
        v.extend_from_slice(trimmed);
        std::borrow::Cow::Owned(v)
    } else {
        std::borrow::Cow::Borrowed(trimmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_body_arrives_byte_exact() {
        assert_eq!(&*wire_body(b"A: b\r\n\r\nx\r\n"), b"A: b\r\n\r\nx");
        assert_eq!(&*wire_body(b"A: b\r\n\r\nx"), b"A: b\r\n\r\nx");
        assert_eq!(&*wire_body(b"A: b\r\n\r\n\r\n"), b"A: b\r\n\r\n");
        assert_eq!(&*wire_body(b".x\r\n"), b"..x");
    }

    #[test]
    fn replies_are_classed_and_shown() {
        let r = |code, esc, text: &str| Reply {
            code,
            esc,
            text: text.into(),
        };
        assert_eq!(r(250, [2, 0, 0], "ok").class(), Class::Positive);
        assert_eq!(r(451, [4, 3, 2], "later").class(), Class::Transient);
        assert_eq!(r(550, [5, 1, 1], "no").class(), Class::Permanent);
        assert_eq!(r(999, [0, 0, 0], "").class(), Class::Transient);
        assert_eq!(
            r(550, [5, 1, 1], "no such user").to_string(),
            "550 5.1.1 no such user"
        );
        assert_eq!(r(250, [0, 0, 0], "ok").to_string(), "250 ok");
        assert!(matches!(
            settle_refusal("p", "RCPT TO", &r(550, [5, 1, 1], "no")),
            Settled::Failed(t) if t == "p: RCPT TO: 550 5.1.1 no"
        ));
        assert!(matches!(
            settle_refusal("p", "DATA", &r(452, [4, 3, 1], "full")),
            Settled::Deferred(_)
        ));
    }
}
