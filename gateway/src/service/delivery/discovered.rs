//! REM peers found by discovery (EN 319 532-4 C.2.3.3.3, pre-relay validation): for a REM
//! recipient domain without a `[[route]]`, when `[trust] lists` is configured, the domain's
//! MX host must be an `smtp:` `ServiceSupplyPoint` of a granted qualified REM service
//! (`.../Svctype/EDS/REM/Q`) in the trusted lists loaded at the delivery time, and the
//! certificate its SMTP server presents under STARTTLS must be that service's digital
//! identity.
//!
//! [`resolve`] turns the domain into a pinned [`Peer`] (the MX host, the service's identity
//! certificates in a [`Pin`], with what its capability document said, [`Capabilities`]) or
//! a typed [`Refusal`]; [`judge_tls`] is the TLS judgement
//! (pure), [`PinnedVerifier`] the rustls verifier that applies it during the handshake.
//!
//! The TLS judgement: the peer's end-entity certificate must be valid at the instant, be one
//! of the service's identity certificates, have the public key of one of them, or be issued
//! (a path verified at the instant) by one of them; and it must name the MX host (its DNS
//! subject alternative names, as RFC 6125 / webpki read them).
//!
//! What is final and what is not. The lists' answer is final: no MX record, no MX host a
//! supply point, the service not granted ([`Refusal`]: the delivery fails for good, the
//! sender gets the notice owed). The network's is not: a failed MX look-up (timeout,
//! SERVFAIL), no trusted list loaded yet, an MX host that cannot be reached, or one that does
//! not offer STARTTLS (a peer judged by its TLS identity must show it; a missing STARTTLS may
//! be a stripping attack or a passing fault, as RFC 7672 §2.2 and RFC 8461 §5 treat it) defer
//! the delivery, retried until `[delivery] max_age`. The qualified MX hosts are tried in
//! order of preference; one whose certificate is not its service's identity is skipped
//! (nothing is sent to it), and when every host tried was such a host the delivery fails for
//! good ([`Refusal::TlsIdentity`]).

use std::sync::{Arc, Mutex};

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use time::OffsetDateTime;

use super::resolve::{Host, Lookup, Peer, Target, Via};
use crate::config::TlsMode;
use crate::discovery::{self, Discovery};
use crate::fetch::{Fetcher, Resolver};
use crate::tl::{Match, NotQualified, TrustedLists};
use crate::x509::{self, Certificate, Usage};

/// What every [`Refusal`] says first: the REM reason of EN 319 532-4 C.2.3.3.3 (RB08), which
/// the sender's non-delivery notice carries as a RelayFailure evidence.
pub const NOT_IDENTIFIED: &str = "REM peer not identified (R_ERDS_NotIdentified)";

/// The service a discovered peer must be: what its TLS certificate is judged against.
/// Two pins are the same peer when they name the same service from the same list: what its
/// capability document said is left out of equality and hashing, so that deliveries to a
/// service share one connection limit ([`super::resolve::Peer`]) whatever the CSI cache
/// answered for each of them.
#[derive(Clone, Debug)]
pub struct Pin {
    /// The DER of the service's digital identity certificates at the instant.
    pub identities: Vec<Vec<u8>>,
    /// The service's name in the list.
    pub service_name: String,
    /// The trust service provider's name.
    pub tsp_name: String,
    /// The source of the list that says so.
    pub list: String,
    /// Whether that list's signature was verified (false: unsigned lists allowed, tests).
    pub list_verified: bool,
    /// The service's `http(s)://` supply points: where its capability documents are.
    pub csi_urls: Vec<String>,
    /// What its capability document said at the delivery time ([`check_capabilities`];
    /// `None` until it was looked at).
    pub capabilities: Option<Capabilities>,
}

impl Pin {
    /// What identifies the service (every field but `capabilities`).
    fn key(&self) -> (&[Vec<u8>], &str, &str, &str, bool, &[String]) {
        (
            &self.identities,
            &self.service_name,
            &self.tsp_name,
            &self.list,
            self.list_verified,
            &self.csi_urls,
        )
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Pin) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Pin {}

impl std::hash::Hash for Pin {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl Pin {
    /// The identity certificates, parsed (an unreadable one is skipped: it cannot match).
    pub fn certificates(&self) -> Vec<Certificate> {
        self.identities
            .iter()
            .filter_map(|d| Certificate::from_der(d).ok())
            .collect()
    }

    /// One line for the history: which service, from which list.
    pub fn describe(&self) -> String {
        format!(
            "\"{}\" of \"{}\", a granted qualified REM service in {}{}",
            self.service_name,
            self.tsp_name,
            self.list,
            if self.list_verified {
                ""
            } else {
                " (list NOT verified: unsigned lists allowed)"
            }
        )
    }
}

/// What a discovered service's Capability and Security Information document (EN 319 532-4
/// C.2.3.4) said before relaying, as the gateway reads the clause: a document signed by the
/// service's digital identity (c.3.1.12), fresh (`CSINextUpdate` not passed, C.2.3.4.1 note
/// 4) and read from its signed octets is the service's own statement of its capabilities; when
/// it says the service does not support the REM baseline (the value-compared fields of tables
/// C.9 and C.12 deviate), the sender's ERDS cannot assess that the peer respects the REMID's
/// constraints (EN 319 522-2 9.4.4, c.3.1.3) and does not relay to it. Anything less than such
/// a document (none published, unreachable, unsigned, signed by another identity, a broken
/// signature, stale, unreadable) proves nothing either way: delivery goes on by the trusted
/// lists alone (the REMID membership, EN 319 522-2 9.4.4's trust-domain assessment), and the
/// outcome is recorded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capabilities {
    /// The service publishes no `http(s)://` supply point.
    NoDocument,
    /// The document could not be fetched.
    Unavailable {
        /// Where.
        url: String,
        /// Why.
        why: String,
    },
    /// Fetched, but not a verified document of the service (or stale, or unreadable).
    NotVerified {
        /// Where.
        url: String,
        /// Why not.
        why: String,
    },
    /// Verified and fresh, and it supports the REM baseline.
    Verified {
        /// Where.
        url: String,
        /// The signer's subject.
        signer: String,
        /// Its `ERDSDomain`.
        erds_domain: String,
        /// Whether `ERDSDomain` is the MX host (c.3.3.1).
        domain_matches: bool,
        /// Its other deviations from the trusted list (`ERDSDomain`, `ERDSGoverningBody`):
        /// noted, not refused.
        notes: Vec<String>,
    },
    /// Verified and fresh, and it deviates from the REM baseline: not relayed to.
    NotBaseline {
        /// Where.
        url: String,
        /// The signer's subject.
        signer: String,
        /// The deviations (tables C.9, C.12).
        deviations: Vec<String>,
    },
}

impl Capabilities {
    /// The `outcome` label of `ponte_capabilities_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            Capabilities::NoDocument => "none",
            Capabilities::Unavailable { .. } => "unavailable",
            Capabilities::NotVerified { .. } => "not-verified",
            Capabilities::Verified { .. } => "verified",
            Capabilities::NotBaseline { .. } => "not-baseline",
        }
    }
}

impl std::fmt::Display for Capabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Capabilities::NoDocument => f.write_str(
                "capabilities (CSI): none published (no http(s) ServiceSupplyPoint); relayed by the lists alone",
            ),
            Capabilities::Unavailable { url, why } => write!(
                f,
                "capabilities (CSI) {url}: not fetched ({why}); relayed by the lists alone"
            ),
            Capabilities::NotVerified { url, why } => write!(
                f,
                "capabilities (CSI) {url}: NOT verified ({why}); relayed by the lists alone"
            ),
            Capabilities::Verified {
                url,
                signer,
                erds_domain,
                domain_matches,
                notes,
            } => {
                write!(
                    f,
                    "capabilities (CSI) {url}: verified, signed by the service's digital identity ({signer}), REM baseline supported, ERDSDomain {erds_domain} {}",
                    if *domain_matches {
                        "is the MX host"
                    } else {
                        "is NOT the MX host"
                    }
                )?;
                if !notes.is_empty() {
                    write!(f, " (noted: {})", notes.join("; "))?;
                }
                Ok(())
            }
            Capabilities::NotBaseline {
                url,
                signer,
                deviations,
            } => write!(
                f,
                "capabilities (CSI) {url}, verified (signed by {signer}), say the service does not support the REM baseline: {}",
                deviations.join("; ")
            ),
        }
    }
}

/// How long a capability document that could not be fetched is not asked for again (at most
/// the cache's time to live).
pub const CSI_RETRY_FAILED: std::time::Duration = std::time::Duration::from_secs(60);

/// One cached fetch: when, and the body or why there is none.
type Fetched = (std::time::Instant, Result<Vec<u8>, String>);

/// Capability documents fetched from supply points, kept per URL for a time to live (`[trust]
/// refresh`; a failed fetch for [`CSI_RETRY_FAILED`] at most), so that a busy peer's document
/// is not fetched for every delivery. Each use judges the bytes again at the delivery time.
#[derive(Debug)]
pub struct CsiCache {
    fetcher: Fetcher,
    entries: Mutex<std::collections::HashMap<String, Fetched>>,
}

impl Default for CsiCache {
    fn default() -> Self {
        CsiCache::new(Fetcher::new(crate::fetch::HttpOptions {
            connect_timeout: std::time::Duration::from_secs(5),
            read_timeout: std::time::Duration::from_secs(10),
            attempts: 1,
            max_body: 1024 * 1024,
            ..crate::fetch::HttpOptions::default()
        }))
    }
}

impl CsiCache {
    /// A cache fetching with `fetcher`.
    pub fn new(fetcher: Fetcher) -> CsiCache {
        CsiCache {
            fetcher,
            entries: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The document at `url`: from the cache when fetched less than `ttl` ago, else fetched.
    pub async fn get(&self, url: &str, ttl: std::time::Duration) -> Result<Vec<u8>, String> {
        let now = std::time::Instant::now();
        {
            let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, r)) = map.get(url) {
                let keep = if r.is_ok() {
                    ttl
                } else {
                    ttl.min(CSI_RETRY_FAILED)
                };
                if now.duration_since(*at) < keep {
                    return r.clone();
                }
            }
        }
        let r = self
            .fetcher
            .get(url, "application/xml, text/xml, */*")
            .await
            .map(|f| f.body)
            .map_err(|e| e.to_string());
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 1024 {
            map.clear();
        }
        map.insert(url.to_owned(), (now, r.clone()));
        r
    }
}

/// Judges one capability document of the service `pin` reached at MX `host`, at `at`.
pub fn judge_capabilities(
    url: &str,
    fetched: Result<&[u8], &str>,
    pin: &Pin,
    host: &str,
    at: OffsetDateTime,
) -> Capabilities {
    use crate::rem::csi::{self, CsiSignature};
    let url = url.to_owned();
    let bytes = match fetched {
        Ok(b) => b,
        Err(why) => {
            return Capabilities::Unavailable {
                url,
                why: why.to_owned(),
            };
        }
    };
    let v = match csi::verify(
        bytes,
        &pin.certificates(),
        Some(host),
        Some(&pin.tsp_name),
        at,
    ) {
        Ok(v) => v,
        Err(e) => {
            return Capabilities::NotVerified {
                url,
                why: format!("cannot be read: {e}"),
            };
        }
    };
    let signer = match &v.signature {
        CsiSignature::Verified { signer } => signer.clone(),
        CsiSignature::Unsigned => {
            return Capabilities::NotVerified {
                url,
                why: "not signed".into(),
            };
        }
        CsiSignature::Invalid(why) => {
            return Capabilities::NotVerified {
                url,
                why: format!("the signature is not valid: {why}"),
            };
        }
        CsiSignature::UnknownSigner { signer, reason } => {
            return Capabilities::NotVerified {
                url,
                why: format!("signed by {signer}, not the service's digital identity: {reason}"),
            };
        }
    };
    let Some(doc) = &v.csi else {
        return Capabilities::NotVerified {
            url,
            why: format!(
                "the signed document cannot be read: {}",
                v.unreadable.as_deref().unwrap_or("unknown")
            ),
        };
    };
    if v.stale {
        return Capabilities::NotVerified {
            url,
            why: "CSINextUpdate has passed: a stale document is discarded (C.2.3.4.1 note 4)"
                .into(),
        };
    }
    let deviations = csi::verify::baseline_deviations(doc);
    if !deviations.is_empty() {
        return Capabilities::NotBaseline {
            url,
            signer,
            deviations,
        };
    }
    let erds_domain = doc.erds.domain.clone();
    let domain_matches = erds_domain.eq_ignore_ascii_case(host.trim_end_matches('.'));
    let notes = v
        .deviations
        .iter()
        .filter(|d| !deviations.contains(d))
        .cloned()
        .collect();
    Capabilities::Verified {
        url,
        signer,
        erds_domain,
        domain_matches,
        notes,
    }
}

/// Looks at the capability documents of every service `peer` is pinned to (through `cache`,
/// `ttl`) and keeps in `peer` the hosts whose service's verified document does not refuse the
/// REM baseline; each pin records what its document said. `Err`: every host's service said
/// it does not support the baseline (the refusal).
pub async fn check_capabilities(
    domain: &str,
    mut peer: Peer,
    cache: &CsiCache,
    ttl: std::time::Duration,
    at: OffsetDateTime,
) -> Result<Peer, Refusal> {
    let Via::Discovered(pins) = &mut peer.via else {
        return Ok(peer);
    };
    for (pin, host) in pins.iter_mut().zip(&peer.hosts) {
        let mut first: Option<Capabilities> = None;
        let mut decided: Option<Capabilities> = None;
        for url in &pin.csi_urls {
            let fetched = cache.get(url, ttl).await;
            let c = judge_capabilities(
                url,
                fetched.as_deref().map_err(String::as_str),
                pin,
                &host.name,
                at,
            );
            if matches!(
                c,
                Capabilities::Verified { .. } | Capabilities::NotBaseline { .. }
            ) {
                decided = Some(c);
                break;
            }
            first.get_or_insert(c);
        }
        pin.capabilities = Some(decided.or(first).unwrap_or(Capabilities::NoDocument));
    }
    let keep: Vec<bool> = pins
        .iter()
        .map(|p| !matches!(p.capabilities, Some(Capabilities::NotBaseline { .. })))
        .collect();
    if keep.iter().all(|k| *k) {
        return Ok(peer);
    }
    if !keep.iter().any(|k| *k) {
        let (host, pin) = (peer.hosts.first(), pins.first());
        return Err(Refusal::Capabilities {
            domain: domain.to_owned(),
            host: host.map(|h| h.name.clone()).unwrap_or_default(),
            service: pin.map(|p| p.service_name.clone()).unwrap_or_default(),
            said: pin
                .and_then(|p| p.capabilities.clone())
                .map(|c| c.to_string())
                .unwrap_or_default(),
        });
    }
    let mut k = keep.iter();
    let pins_kept: Vec<Pin> = pins
        .iter()
        .zip(keep.iter())
        .filter(|(_, k)| **k)
        .map(|(p, _)| p.clone())
        .collect();
    peer.hosts.retain(|_| *k.next().unwrap_or(&false));
    peer.via = Via::Discovered(pins_kept);
    Ok(peer)
}

/// Why the peer's TLS certificate is not the service's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// The peer presented no certificate, or one that cannot be read.
    Unreadable(String),
    /// The certificate is not valid at the instant.
    NotValidAt {
        /// Its notBefore.
        not_before: OffsetDateTime,
        /// Its notAfter.
        not_after: OffsetDateTime,
    },
    /// It is neither an identity certificate of the service, nor has its public key, nor is
    /// issued by one.
    NotTheIdentity {
        /// Its subject.
        subject: String,
    },
    /// It is the service's, but does not name the MX host.
    WrongName {
        /// Its subject.
        subject: String,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Unreadable(e) => write!(f, "the TLS certificate cannot be read: {e}"),
            Mismatch::NotValidAt {
                not_before,
                not_after,
            } => write!(
                f,
                "the TLS certificate is not valid now (valid from {not_before} to {not_after})"
            ),
            Mismatch::NotTheIdentity { subject } => write!(
                f,
                "the TLS certificate ({subject}) is not the service's digital identity (not one of its certificates, not its public key, not issued by it)"
            ),
            Mismatch::WrongName { subject } => write!(
                f,
                "the TLS certificate ({subject}) is the service's but does not name the MX host"
            ),
        }
    }
}

/// Why a discovered REM peer is not delivered to (the delivery fails for good and the sender
/// gets the notice owed; EN 319 532-4 C.2.3.3.3: `R_ERDS_NotIdentified`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The domain has no MX record and no address (no implicit MX either).
    NoMx {
        /// The domain.
        domain: String,
    },
    /// No MX host is a supply point of any service of the trusted lists.
    NotASupplyPoint {
        /// The domain.
        domain: String,
        /// Its MX hosts.
        hosts: Vec<String>,
    },
    /// The services of the MX hosts are not granted qualified REM services at the instant.
    NotQualified {
        /// The domain.
        domain: String,
        /// The MX host whose service is judged.
        host: String,
        /// The service's name.
        service: String,
        /// Why it is not qualified.
        why: NotQualified,
    },
    /// The peer's TLS certificate is not the service's digital identity.
    TlsIdentity {
        /// The MX host (and address).
        peer: String,
        /// The service's name.
        service: String,
        /// What is wrong.
        mismatch: Mismatch,
    },
    /// The verified capability document of every MX host's service says it does not
    /// support the REM baseline ([`Capabilities::NotBaseline`]).
    Capabilities {
        /// The domain.
        domain: String,
        /// The most preferred MX host.
        host: String,
        /// Its service's name.
        service: String,
        /// What its document said.
        said: String,
    },
}

impl Refusal {
    /// The `outcome` label of `ponte_discovery_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::NoMx { .. } => "no-mx",
            Refusal::NotASupplyPoint { .. } => "not-a-supply-point",
            Refusal::NotQualified { .. } => "not-qualified",
            Refusal::TlsIdentity { .. } => "tls-identity-mismatch",
            Refusal::Capabilities { .. } => "csi-not-baseline",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{NOT_IDENTIFIED}: ")?;
        match self {
            Refusal::NoMx { domain } => {
                write!(f, "{domain} has no MX record and no address (A/AAAA)")
            }
            Refusal::NotASupplyPoint { domain, hosts } => write!(
                f,
                "no MX host of {domain} ({}) is a ServiceSupplyPoint of a service of the trusted lists",
                hosts.join(", ")
            ),
            Refusal::NotQualified {
                domain,
                host,
                service,
                why,
            } => write!(
                f,
                "the MX host {host} of {domain} is a supply point of \"{service}\", which is not a granted qualified REM service now: {why}"
            ),
            Refusal::TlsIdentity {
                peer,
                service,
                mismatch,
            } => write!(f, "{peer} (\"{service}\"): {mismatch}"),
            Refusal::Capabilities {
                domain,
                host,
                service,
                said,
            } => write!(
                f,
                "the MX host {host} of {domain} is a supply point of \"{service}\", whose {said}: not relayed to (EN 319 522-2 9.4.4)"
            ),
        }
    }
}

/// Where a REM domain's deliveries go according to the trusted lists at `at`: the MX hosts
/// that are supply points of a granted qualified REM service, in order of preference, each
/// pinned to its service, STARTTLS required; else the refusal (failed for good). A failed
/// MX look-up (timeout, SERVFAIL) or lists not loaded yet defer; a null MX fails (the
/// domain accepts no mail).
///
/// With `capabilities` (the cache and its time to live), the capability documents of the
/// services found are read too ([`check_capabilities`]): a failure to fetch or verify them
/// never blocks the delivery; a verified document refusing the REM baseline does.
pub async fn resolve(
    domain: &str,
    port: u16,
    resolver: &Resolver,
    fetcher: &Fetcher,
    lists: &TrustedLists,
    at: OffsetDateTime,
    capabilities: Option<(&CsiCache, std::time::Duration)>,
) -> Target {
    if lists.is_empty() {
        return Target::Hold(format!(
            "MX of {domain}: no trusted list is loaded yet ([trust] lists): waiting for one"
        ));
    }
    let d = discovery::discover(domain, resolver, fetcher, lists, at, false).await;
    match (decide(&d, port), capabilities) {
        (Target::Smtp(peer), Some((cache, ttl))) => {
            match check_capabilities(domain, peer, cache, ttl, at).await {
                Ok(p) => Target::Smtp(p),
                Err(r) => Target::Refused(r),
            }
        }
        (t, _) => t,
    }
}

/// The decision for what discovery found (no I/O).
pub fn decide(d: &Discovery, port: u16) -> Target {
    let domain = &d.domain;
    if d.hosts.iter().any(|h| h.mx.host.is_empty()) {
        return Target::Fail(format!("{domain} accepts no mail (null MX, RFC 7505)"));
    }
    // Every MX host that is a supply point of a granted qualified REM service, in order of
    // preference, each pinned to its own service: tried in that order (RFC 5321 §5.1).
    let (hosts, pins): (Vec<Host>, Vec<Pin>) = d
        .hosts
        .iter()
        .filter_map(|h| {
            let v = h.verdict.as_ref().filter(|v| v.qualified())?;
            let s = v.service.as_ref()?;
            Some((
                Host {
                    name: h.mx.host.clone(),
                    port,
                    lookup: Lookup::Dns,
                },
                Pin {
                    identities: s.identities.iter().map(|c| c.der().to_vec()).collect(),
                    service_name: s.service_name.clone(),
                    tsp_name: s.tsp_name.clone(),
                    list: s.list.clone(),
                    list_verified: s.list_verified,
                    csi_urls: s
                        .supply_points
                        .iter()
                        .filter(|p| {
                            let l = p.to_ascii_lowercase();
                            l.starts_with("https://") || l.starts_with("http://")
                        })
                        .cloned()
                        .collect(),
                    capabilities: None,
                },
            ))
        })
        .unzip();
    if !hosts.is_empty() {
        // A peer judged by its TLS identity must show it: STARTTLS is required (a peer that
        // does not offer it is deferred, never sent to in plain text).
        return Target::Smtp(Peer {
            hosts,
            tls: TlsMode::Required,
            via: Via::Discovered(pins),
        });
    }
    let refusal = match &d.refusal {
        Some(discovery::Refusal::Dns(e)) => return Target::Hold(format!("MX of {domain}: {e}")),
        Some(discovery::Refusal::NoMx) => Refusal::NoMx {
            domain: domain.clone(),
        },
        Some(discovery::Refusal::NotQualified(_)) => {
            // The first MX host (by preference) with a listed service, and why it is not
            // qualified.
            let found = d.hosts.iter().find_map(|h| {
                let v = h.verdict.as_ref()?;
                Some((h, v.not_qualified.clone()?, v.service.as_ref()?))
            });
            match found {
                Some((h, why, s)) => Refusal::NotQualified {
                    domain: domain.clone(),
                    host: h.mx.host.clone(),
                    service: s.service_name.clone(),
                    why,
                },
                None => not_a_supply_point(d),
            }
        }
        _ => not_a_supply_point(d),
    };
    Target::Refused(refusal)
}

fn not_a_supply_point(d: &Discovery) -> Refusal {
    Refusal::NotASupplyPoint {
        domain: d.domain.clone(),
        hosts: d.hosts.iter().map(|h| h.mx.host.clone()).collect(),
    }
}

/// Judges the certificate a discovered peer presented (`end_entity`, with the
/// `intermediates` it sent) for `host` at `at` against the service's `identities`.
pub fn judge_tls(
    end_entity: &[u8],
    intermediates: &[Vec<u8>],
    host: &str,
    identities: &[Certificate],
    at: OffsetDateTime,
) -> Result<Match, Mismatch> {
    let leaf =
        Certificate::from_der(end_entity).map_err(|e| Mismatch::Unreadable(e.to_string()))?;
    if at < leaf.not_before || at > leaf.not_after {
        return Err(Mismatch::NotValidAt {
            not_before: leaf.not_before,
            not_after: leaf.not_after,
        });
    }
    let mut matched = None;
    for id in identities {
        if id.der() == leaf.der() {
            matched = Some(Match::Certificate);
            break;
        }
        if id.spki_der == leaf.spki_der {
            matched = Some(Match::PublicKey);
        }
    }
    if matched.is_none() {
        let inter: Vec<Certificate> = intermediates
            .iter()
            .filter_map(|d| Certificate::from_der(d).ok())
            .collect();
        if !identities.is_empty()
            && x509::verify_chain(&leaf, &inter, identities, at, Usage::Any).trusted
        {
            matched = Some(Match::IssuedBy);
        }
    }
    let Some(m) = matched else {
        return Err(Mismatch::NotTheIdentity {
            subject: leaf.subject.clone(),
        });
    };
    let named = ServerName::try_from(host.to_owned())
        .ok()
        .is_some_and(|name| {
            let der = CertificateDer::from(end_entity);
            webpki::EndEntityCert::try_from(&der)
                .ok()
                .is_some_and(|ee| ee.verify_is_valid_for_subject_name(&name).is_ok())
        });
    if !named {
        return Err(Mismatch::WrongName {
            subject: leaf.subject.clone(),
        });
    }
    Ok(m)
}

/// What the verifier of one connection concluded.
pub type Seen = Arc<Mutex<Option<Result<Match, Mismatch>>>>;

/// The rustls verifier of a discovered peer's certificate: [`judge_tls`] at a fixed
/// instant, the conclusion kept in [`Seen`] for the delivery's reason; the handshake
/// signatures are checked with ring's algorithms.
#[derive(Debug)]
pub struct PinnedVerifier {
    identities: Vec<Certificate>,
    at: OffsetDateTime,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Seen,
}

impl PinnedVerifier {
    /// A verifier for `pin` at `at`, reporting into `seen`.
    pub fn new(pin: &Pin, at: OffsetDateTime, seen: Seen) -> PinnedVerifier {
        PinnedVerifier {
            identities: pin.certificates(),
            at,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
            seen,
        }
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let host = match server_name {
            ServerName::DnsName(n) => n.as_ref().to_owned(),
            other => other.to_str().into_owned(),
        };
        let inter: Vec<Vec<u8>> = intermediates.iter().map(|c| c.as_ref().to_vec()).collect();
        let verdict = judge_tls(
            end_entity.as_ref(),
            &inter,
            &host,
            &self.identities,
            self.at,
        );
        let ok = verdict.is_ok();
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(verdict);
        if ok {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS client configuration of one connection to a discovered peer.
pub fn client_config(
    pin: &Pin,
    at: OffsetDateTime,
    seen: Seen,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedVerifier::new(pin, at, seen)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn leaf(names: &[&str], issuer: Option<&Issuer<'_, KeyPair>>) -> (Vec<u8>, KeyPair) {
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap_or_else(|e| panic!("{e}"));
        let cert = match issuer {
            Some(i) => params.signed_by(&key, i),
            None => params.self_signed(&key),
        }
        .unwrap_or_else(|e| panic!("{e}"));
        (cert.der().to_vec(), key)
    }

    fn cert(der: &[u8]) -> Certificate {
        Certificate::from_der(der).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn pins_of_one_service_are_one_peer_whatever_its_capabilities_said() {
        use std::hash::{BuildHasher, RandomState};
        let pin = Pin {
            identities: vec![vec![1, 2, 3]],
            service_name: "Altro REM".into(),
            tsp_name: "Altro".into(),
            list: "tl.xml".into(),
            list_verified: true,
            csi_urls: vec!["https://csi.altro.test/csi.xml".into()],
            capabilities: None,
        };
        let mut later = pin.clone();
        later.capabilities = Some(Capabilities::Unavailable {
            url: "https://csi.altro.test/csi.xml".into(),
            why: "timed out".into(),
        });
        let h = RandomState::new();
        assert_eq!(pin, later);
        assert_eq!(h.hash_one(&pin), h.hash_one(&later));
        let mut other = pin.clone();
        other.service_name = "Terzo REM".into();
        assert_ne!(pin, other);
        let mut relisted = pin.clone();
        relisted.list_verified = false;
        assert_ne!(pin, relisted);
    }

    #[test]
    fn the_tls_certificate_must_be_the_identity_and_name_the_host() {
        let (tls, _) = leaf(&["mx.rem.test"], None);
        let (other, _) = leaf(&["mx.rem.test"], None);
        let ids = [cert(&tls)];
        assert_eq!(
            judge_tls(&tls, &[], "mx.rem.test", &ids, now()),
            Ok(Match::Certificate)
        );
        assert!(matches!(
            judge_tls(&other, &[], "mx.rem.test", &ids, now()),
            Err(Mismatch::NotTheIdentity { .. })
        ));
        assert!(matches!(
            judge_tls(&tls, &[], "mx.elsewhere.test", &ids, now()),
            Err(Mismatch::WrongName { .. })
        ));
        assert!(matches!(
            judge_tls(&tls, &[], "mx.rem.test", &[], now()),
            Err(Mismatch::NotTheIdentity { .. })
        ));
        assert!(matches!(
            judge_tls(b"not a certificate", &[], "mx.rem.test", &ids, now()),
            Err(Mismatch::Unreadable(_))
        ));
        let later = now() + time::Duration::days(365 * 5000);
        assert!(matches!(
            judge_tls(&tls, &[], "mx.rem.test", &ids, later),
            Err(Mismatch::NotValidAt { .. })
        ));
    }

    #[test]
    fn a_certificate_issued_by_the_identity_is_the_service() {
        let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap_or_else(|e| panic!("{e}"));
        let issuer = Issuer::new(ca, ca_key);
        let (tls, _) = leaf(&["mx.rem.test"], Some(&issuer));
        let ids = [cert(ca_cert.der())];
        assert_eq!(
            judge_tls(&tls, &[], "mx.rem.test", &ids, now()),
            Ok(Match::IssuedBy)
        );
    }

    fn host(
        pref: u16,
        name: &str,
        service: Option<(&str, Option<NotQualified>)>,
    ) -> discovery::Host {
        use crate::tl::{ServiceInfo, ServiceStatus, ServiceType, Verdict};
        let (cert_der, _) = leaf(&[name], None);
        discovery::Host {
            mx: crate::fetch::Mx {
                preference: pref,
                host: name.into(),
            },
            verdict: service.map(|(svc, not_qualified)| Verdict {
                not_qualified,
                service: Some(ServiceInfo {
                    service_type: ServiceType::QualifiedRem,
                    status: ServiceStatus::Granted,
                    status_since: now(),
                    service_name: svc.into(),
                    tsp_name: "TSP".into(),
                    list: "tl.xml".into(),
                    territory: "IT".into(),
                    sequence: 1,
                    list_verified: true,
                    supply_points: vec![format!("smtp:{name}")],
                    matched: Match::Certificate,
                    identities: vec![cert(&cert_der)],
                }),
                at: now(),
            }),
            capabilities: Vec::new(),
        }
    }

    fn found(hosts: Vec<discovery::Host>, refusal: Option<discovery::Refusal>) -> Discovery {
        Discovery {
            domain: "d.test".into(),
            at: now(),
            peer: hosts
                .iter()
                .position(|h| h.verdict.as_ref().is_some_and(|v| v.qualified())),
            hosts,
            refusal,
            implicit_mx: false,
        }
    }

    #[test]
    fn every_qualified_mx_host_is_tried_by_preference_with_its_own_pin_and_tls_required() {
        let withdrawn = NotQualified::NotGranted {
            status: crate::tl::ServiceStatus::Withdrawn,
        };
        let d = found(
            vec![
                host(5, "mx0.d.test", Some(("Old", Some(withdrawn)))),
                host(10, "mx1.d.test", Some(("One", None))),
                host(20, "mx2.d.test", None),
                host(30, "mx3.d.test", Some(("Two", None))),
            ],
            None,
        );
        let Target::Smtp(p) = decide(&d, 2525) else {
            panic!("not a peer: {:?}", decide(&d, 2525));
        };
        let names: Vec<&str> = p.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["mx1.d.test", "mx3.d.test"]);
        assert!(
            p.hosts
                .iter()
                .all(|h| h.port == 2525 && h.lookup == Lookup::Dns)
        );
        assert_eq!(p.tls, TlsMode::Required);
        let Via::Discovered(pins) = &p.via else {
            panic!("{:?}", p.via);
        };
        let services: Vec<&str> = pins.iter().map(|p| p.service_name.as_str()).collect();
        assert_eq!(services, ["One", "Two"]);
        assert_ne!(pins[0].identities, pins[1].identities);
    }

    #[test]
    fn the_lists_answer_is_final_and_the_networks_is_not() {
        // A failed look-up waits; no MX, no supply point, a withdrawn service are refusals.
        let dns = found(Vec::new(), Some(discovery::Refusal::Dns("SERVFAIL".into())));
        assert!(matches!(decide(&dns, 25), Target::Hold(r) if r.contains("SERVFAIL")));
        let none = found(Vec::new(), Some(discovery::Refusal::NoMx));
        assert!(matches!(
            decide(&none, 25),
            Target::Refused(Refusal::NoMx { .. })
        ));
        let stranger = found(
            vec![host(10, "mx.d.test", None)],
            Some(discovery::Refusal::NotASupplyPoint),
        );
        assert!(matches!(
            decide(&stranger, 25),
            Target::Refused(Refusal::NotASupplyPoint { .. })
        ));
        let why = NotQualified::NotGranted {
            status: crate::tl::ServiceStatus::Withdrawn,
        };
        let old = found(
            vec![host(10, "mx.d.test", Some(("Old", Some(why.clone()))))],
            Some(discovery::Refusal::NotQualified(why)),
        );
        assert!(matches!(
            decide(&old, 25),
            Target::Refused(Refusal::NotQualified { service, .. }) if service == "Old"
        ));
        let null = found(vec![host(0, "", None)], None);
        assert!(matches!(decide(&null, 25), Target::Fail(r) if r.contains("null MX")));
    }

    fn pki(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/pki")
            .join(name)
    }

    fn pki_cert(name: &str) -> Certificate {
        let pem = std::fs::read(pki(name)).unwrap_or_else(|e| panic!("{e}"));
        crate::x509::load_pem(&pem)
            .unwrap_or_else(|e| panic!("{e}"))
            .remove(0)
    }

    /// A capability document for MX `domain` with `profile`, next update `next`.
    fn csi_doc(domain: &str, profile: &str, next: &str) -> String {
        use base64::Engine;
        let tls = base64::engine::general_purpose::STANDARD.encode(pki_cert("rem-ec.pem").der());
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<tns:CapabilityAndSecurityInformation xmlns:tns="http://uri.etsi.org/19532/v1#" xmlns:tl="http://uri.etsi.org/02231/v2#" xmlns:ci="http://uri.etsi.org/19522/v1#" xmlns:si="http://uri.etsi.org/19532/v1#" version="EN319532v1" Id="csi-1">
<tns:SchemeData><tns:CSIVersionIdentifier>1</tns:CSIVersionIdentifier><tns:CSISequenceNumber>1</tns:CSISequenceNumber>
<tns:CSISchemeOperatorName><tl:Name xml:lang="en">REMID</tl:Name></tns:CSISchemeOperatorName>
<tns:CSIPointerToTL>https://tl.test/tl.xml</tns:CSIPointerToTL><tns:CSIIssueDateTime>2026-01-01T00:00:00Z</tns:CSIIssueDateTime>
<tns:CSINextUpdate><tl:dateTime>{next}</tl:dateTime></tns:CSINextUpdate></tns:SchemeData>
<tns:CapabilityMetadata><ci:ERDSMetadata version="EN319522v1.1.1"><ERDSId IdentifierSchemeName="http">http://{domain}/id</ERDSId>
<ERDSDomain>{domain}</ERDSDomain><ERDSGoverningBody>TSP</ERDSGoverningBody><ERDSProfileSupported>{profile}</ERDSProfileSupported>
<ERDSExpiryDateAndTimeSupport>false</ERDSExpiryDateAndTimeSupport><ERDSScheduledDeliverySupport>false</ERDSScheduledDeliverySupport>
<ERDSAssuranceLevelsSupported><AssuranceLevel>http://eidas.europa.eu/LoA/substantial</AssuranceLevel></ERDSAssuranceLevelsSupported>
<ERDSSupportedConsignmentModes>http://uri.etsi.org/19522/v1#/consignment/basic</ERDSSupportedConsignmentModes></ci:ERDSMetadata></tns:CapabilityMetadata>
<tns:SecurityMetadata><si:CapabilityBasedSecurity version="EN319532v1"><si:TLSCertificate>{tls}</si:TLSCertificate></si:CapabilityBasedSecurity></tns:SecurityMetadata>
</tns:CapabilityAndSecurityInformation>
"#
        )
    }

    fn signed(xml: &str, who: &str) -> Vec<u8> {
        let key = crate::crypto::SigningKey::from_pkcs8_pem(
            &std::fs::read(pki(&format!("{who}.key.pem"))).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let signer = crate::xades::Signer::new(
            key,
            pki_cert(&format!("{who}.pem")),
            vec![pki_cert("provider-ca.pem")],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let opts = crate::xades::SignOptions {
            signing_time: now(),
            id: None,
        };
        crate::xades::sign_b_b(xml.as_bytes(), &signer, &opts).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_capability_document_refuses_only_when_verified_fresh_and_not_baseline() {
        let pin = Pin {
            identities: vec![pki_cert("rem-ec.pem").der().to_vec()],
            service_name: "Svc".into(),
            tsp_name: "TSP".into(),
            list: "tl.xml".into(),
            list_verified: true,
            csi_urls: vec!["http://csi.test/csi.xml".into()],
            capabilities: None,
        };
        let baseline = crate::rem::csi::REM_BASELINE;
        let fresh = "2126-01-01T00:00:00Z";
        let judge = |bytes: Result<&[u8], &str>, host: &str| {
            judge_capabilities("http://csi.test/csi.xml", bytes, &pin, host, now())
        };
        // Not fetched, unreadable, unsigned, another signer, stale: recorded, never refusing.
        assert_eq!(
            judge(Err("connection refused"), "mx.rem.test").kind(),
            "unavailable"
        );
        let garbage = judge(Ok(b"not xml <"), "mx.rem.test");
        assert!(
            matches!(&garbage, Capabilities::NotVerified { why, .. } if why.contains("cannot be read")),
            "{garbage:?}"
        );
        let doc = csi_doc("mx.rem.test", baseline, fresh);
        let unsigned = judge(Ok(doc.as_bytes()), "mx.rem.test");
        assert!(
            matches!(&unsigned, Capabilities::NotVerified { why, .. } if why == "not signed"),
            "{unsigned:?}"
        );
        let other = judge(Ok(&signed(&doc, "rem-rsa")), "mx.rem.test");
        assert!(
            matches!(&other, Capabilities::NotVerified { why, .. } if why.contains("not the service's digital identity")),
            "{other:?}"
        );
        // A stale document is discarded, even one that says it is not the baseline.
        let old = signed(
            &csi_doc("mx.rem.test", "urn:other", "2026-02-01T00:00:00Z"),
            "rem-ec",
        );
        let stale = judge(Ok(&old), "mx.rem.test");
        assert!(
            matches!(&stale, Capabilities::NotVerified { why, .. } if why.contains("CSINextUpdate")),
            "{stale:?}"
        );
        // Verified: the baseline delivers (ERDSDomain compared with the MX host, noted).
        let good = signed(&doc, "rem-ec");
        let ok = judge(Ok(&good), "mx.rem.test");
        assert!(
            matches!(&ok, Capabilities::Verified { domain_matches: true, notes, .. } if notes.is_empty()),
            "{ok:?}"
        );
        let elsewhere = judge(Ok(&good), "mx2.rem.test");
        assert!(
            matches!(&elsewhere, Capabilities::Verified { domain_matches: false, notes, .. } if !notes.is_empty()),
            "{elsewhere:?}"
        );
        assert!(elsewhere.to_string().contains("is NOT the MX host"));
        // Verified and not the baseline: the only refusal.
        let not = signed(&csi_doc("mx.rem.test", "urn:other", fresh), "rem-ec");
        let refused = judge(Ok(&not), "mx.rem.test");
        assert!(
            matches!(&refused, Capabilities::NotBaseline { deviations, .. } if deviations.iter().any(|d| d.contains("ERDSProfileSupported"))),
            "{refused:?}"
        );
        assert_eq!(refused.kind(), "not-baseline");
    }

    #[test]
    fn refusals_have_kinds_and_say_why() {
        let r = Refusal::NotASupplyPoint {
            domain: "x.test".into(),
            hosts: vec!["mx.x.test".into()],
        };
        assert_eq!(r.kind(), "not-a-supply-point");
        let text = r.to_string();
        assert!(
            text.contains("R_ERDS_NotIdentified") && text.contains("mx.x.test"),
            "{text}"
        );
        assert_eq!(
            Refusal::NoMx {
                domain: "x.test".into()
            }
            .kind(),
            "no-mx"
        );
    }
}
