//! The network edge for trust material: HTTP(S) GET and POST ([`http`]) for trusted lists,
//! capability documents, CRLs and OCSP, and DNS MX look-ups ([`dns`]).
//!
//! Everything above (trusted lists, revocation, discovery) takes the bytes this module fetched
//! as values; nothing else in the crate opens a socket for them. The model is the RFC 3161
//! client of [`crate::tsp::client`]: hyper over tokio, per-attempt timeouts, bounded retries
//! with exponential backoff for connection failures, timeouts and 5xx answers, a size limit.
//! `https://` goes through rustls with the ring provider; the server certificate is judged
//! against the system's certificate store (rustls-native-certs, which honours
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`) plus any roots the caller adds. What is fetched is signed
//! (lists, CSI, CRLs, OCSP responses), so TLS protects privacy and freshness, not authenticity.

pub mod dns;
pub mod http;
pub mod validation;

pub use dns::{Mx, Resolver};
pub use http::{Fetcher, HttpOptions};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not one this client can use.
    #[error("{url}: {why}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The server could not be reached (connection, TLS handshake, timeout, 5xx) after all
    /// retries.
    #[error("{url} unreachable after {attempts} attempt(s): {last}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The server answered with a client-error status (not retried), or too many redirects.
    #[error("{url} answered HTTP {status}")]
    HttpStatus {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The answer is larger than accepted.
    #[error("{url}: answer larger than {max} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        max: usize,
    },
    /// The TLS client could not be set up (no usable root certificate).
    #[error("TLS set-up: {0}")]
    Tls(String),
    /// A DNS name that cannot be looked up (syntax).
    #[error("DNS name {name:?}: {reason}")]
    DnsName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The DNS resolver could not be configured (system configuration unreadable, bad server).
    #[error("DNS resolver: {0}")]
    DnsConfig(String),
    /// The look-up failed (server unreachable, SERVFAIL, ...). A name without the record is
    /// not an error: it is an empty answer.
    #[error("DNS {record} {name}: {reason}")]
    Dns {
        /// The record type.
        record: &'static str,
        /// The name.
        name: String,
        /// What the resolver said.
        reason: String,
    },
}
