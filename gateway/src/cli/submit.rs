//! `ponte submit`: hands a message file to an SMTP server (the gateway, a relay), as a PEC
//! platform or a harness would: one transaction, the message byte-exact (CRLF), the server's
//! reply printed. The same SMTP client the gateway delivers with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ponte::config::TlsMode;
use ponte::service::delivery::smtp::{Dial, Session, Settled};

use super::{Failure, Outcome};

/// TLS towards the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Tls {
    /// Plain SMTP.
    None,
    /// STARTTLS when offered (certificate not verified: for loopback tests and dev).
    Starttls,
}

/// `ponte submit FILE --smtp HOST:PORT --from ADDR --to ADDR...`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The message (LF line endings become CRLF).
    file: PathBuf,
    /// The SMTP server (IP:PORT).
    #[arg(long)]
    smtp: SocketAddr,
    /// MAIL FROM.
    #[arg(long)]
    from: String,
    /// RCPT TO (repeat for several).
    #[arg(long, required = true)]
    to: Vec<String>,
    /// TLS towards the server.
    #[arg(long, value_enum, default_value = "none")]
    tls: Tls,
    /// Seconds to wait for each exchange (the reply to DATA comes after the gateway has
    /// judged and stored the message).
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Exit 0 when every recipient was accepted, 1 when the server refused (its reply printed),
/// 2 when the file cannot be read or the server cannot be reached.
pub fn run(args: SubmitArgs) -> Outcome {
    let raw = super::read_file(&args.file)?;
    let body = crlf(&raw);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("submit: cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let host = args.smtp.ip().to_string();
        let tls_config = match args.tls {
            Tls::None => None,
            Tls::Starttls => insecure_tls(),
        };
        let tls_config_ref = tls_config.clone();
        let dial = Dial {
            host: &host,
            addr: args.smtp,
            tls: match args.tls {
                Tls::None => TlsMode::None,
                Tls::Starttls => TlsMode::Starttls,
            },
            tls_config,
            tls_error: (args.tls == Tls::Starttls && tls_config_ref.is_none())
                .then(|| "no TLS client configuration".to_string()),
            helo: "ponte-submit.localhost",
            timeout: Duration::from_secs(args.timeout.max(1)),
        };
        let mut s = Session::open(&dial)
            .await
            .map_err(|e| Failure(format!("submit: {}: {e}", args.smtp)))?;
        let out = s.send(&args.from, &args.to, &body).await;
        s.close().await;
        let mut worst = 0u8;
        for (rcpt, settled) in &out.recipients {
            match settled {
                Settled::Delivered(r) => println!("{rcpt}: accepted: {r}"),
                Settled::Deferred(r) => {
                    println!("{rcpt}: deferred: {r}");
                    worst = worst.max(1);
                }
                Settled::Failed(r) => {
                    println!("{rcpt}: refused: {r}");
                    worst = worst.max(1);
                }
            }
        }
        Ok(ExitCode::from(worst))
    })
}

fn crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 40);
    let mut prev = 0u8;
    for &c in b {
        if c == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// A TLS client that accepts any certificate: `submit --tls starttls` is for loopback and
/// development gateways, whose certificates nobody else trusts.
fn insecure_tls() -> Option<std::sync::Arc<rustls::ClientConfig>> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    #[derive(Debug)]
    struct Any(std::sync::Arc<rustls::crypto::CryptoProvider>);
    impl ServerCertVerifier for Any {
        fn verify_server_cert(
            &self,
            _: &rustls_pki_types::CertificateDer<'_>,
            _: &[rustls_pki_types::CertificateDer<'_>],
            _: &rustls_pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls_pki_types::UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &rustls_pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &rustls_pki_types::CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(std::sync::Arc::new(Any(provider)))
                .with_no_client_auth()
        });
    cfg.ok().map(std::sync::Arc::new)
}
