//! SMTP in: the listener providers point their mail routing at.
//!
//! The protocol is read with `smtp-proto` (requests, DATA dot-unstuffing); the session is
//! ours, because that is where the gateway's promises live:
//!
//! * `250` to DATA only after the message is in the spool, synced to disk; a message that
//!   cannot be stored gets `451` (`452` when the disk is full), never `250`.
//! * Before that reply the message is judged: a message that is not a signed PEC or REM message
//!   from a trusted provider gets `554` with the reason, and nothing is stored (the refusal is
//!   in the legal log). What can only fail later is answered with the mapped notice.
//! * Limits so a slow or hostile client cannot hold the service: connections at once
//!   (`421`), a timeout per command and one for the whole DATA, recipients per transaction
//!   (`452`), the message size (`SIZE`, `552`), line length (`500`), and a bound on errors.
//!
//! Extensions: `PIPELINING`, `SIZE`, `8BITMIME`, `ENHANCEDSTATUSCODES`, and `STARTTLS`
//! (rustls) when `[smtp] tls_cert` / `tls_key` are set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::spool::Envelope;
use super::{Gateway, Shutdown};

mod session;

pub use session::Reply;

/// Errors that end the listener (a session's errors only end that session).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The STARTTLS certificate or key could not be loaded.
    #[error("STARTTLS {}: {reason}", path.display())]
    Tls {
        /// The file.
        path: std::path::PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Accepting connections failed.
    #[error("SMTP listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Loads the STARTTLS configuration from the PEM files of `[smtp]`.
pub fn tls_config(
    files: &crate::config::TlsFiles,
) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &std::path::Path, reason: String| Error::Tls {
        path: path.to_path_buf(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad(&files.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&files.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(&files.cert, "no certificate".into()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| bad(&files.key, e.to_string()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let cfg = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&files.cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(&files.key, e.to_string()))?;
    Ok(Arc::new(cfg))
}

/// Accepts SMTP sessions on `listener` until `shutdown`; each session runs in its own task.
/// On shutdown the listener stops accepting and sessions end after their current command
/// (`421`); a message whose DATA is being processed is finished first.
pub async fn serve(
    gw: Arc<Gateway>,
    listener: TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    mut shutdown: Shutdown,
) -> Result<(), Error> {
    let limit = Arc::new(tokio::sync::Semaphore::new(
        gw.settings().smtp.max_connections,
    ));
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = super::stopping(&mut shutdown) => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: wait a little rather than spin.
                        tracing::warn!(error = %e, "SMTP accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                    tokio::spawn(too_many(stream));
                    continue;
                };
                let gw = Arc::clone(&gw);
                let tls = tls.clone();
                let shutdown = shutdown.clone();
                sessions.spawn(async move {
                    gw.metrics.smtp_sessions.inc();
                    let r = session::run(&gw, stream, peer, tls, shutdown).await;
                    gw.metrics.smtp_sessions.dec();
                    drop(permit);
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "SMTP session ended");
                    }
                });
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    // Let the sessions finish what they hold (they see the shutdown and say 421).
    while sessions.join_next().await.is_some() {}
    Ok(())
}

async fn too_many(mut stream: TcpStream) {
    let _ = stream
        .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
        .await;
    let _ = stream.shutdown().await;
}

/// A byte stream a session can run on: plain TCP, or TLS after STARTTLS.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The facts of a session a message carries into the spool.
pub(crate) fn envelope(
    peer: SocketAddr,
    helo: &str,
    tls: bool,
    from: &str,
    rcpt: &[String],
) -> Envelope {
    Envelope {
        mail_from: from.to_owned(),
        rcpt_to: rcpt.to_vec(),
        peer: peer.to_string(),
        helo: helo.to_owned(),
        tls,
    }
}

/// Reads once, with a timeout; `Ok(0)` at end of stream.
pub(crate) async fn read_some<S: AsyncRead + Unpin + ?Sized>(
    s: &mut S,
    buf: &mut [u8],
    timeout: Duration,
) -> std::io::Result<usize> {
    match tokio::time::timeout(timeout, s.read(buf)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "timeout")),
    }
}
