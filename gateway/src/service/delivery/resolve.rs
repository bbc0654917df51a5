//! Where a delivery goes: the configuration first ([`plan`], no I/O), then DNS for a domain
//! without a route ([`resolve`]).
//!
//! | destination | goes to |
//! |---|---|
//! | `pec` | `[pec] relay` with `[pec] tls`; else `[delivery] outbox`; else it waits in the queue (deferred, the reason shown) |
//! | `domain:D` | the first `[[route]]` whose `domain` covers D, with its `tls`; else `[delivery] outbox`; else D's MX hosts by preference, port 25 (`[delivery] mx_port`), `starttls` |
//!
//! MX (RFC 5321 §5.1): hosts are tried in order of preference (equal preferences in random
//! order); a domain without MX records is its own mail exchanger (implicit MX, its A/AAAA
//! records); a domain with neither, or with the null MX of RFC 7505 (`MX 0 .`), accepts no
//! mail: the delivery fails for good. A failed look-up (timeout, SERVFAIL) defers.

use std::net::IpAddr;
use std::path::PathBuf;

use super::discovered::{Pin, Refusal};
use crate::config::{Relay, Service, TlsMode};
use crate::fetch::{Fetcher, Mx, Resolver};
use crate::service::spool::Destination;
use crate::tl::TrustedLists;
use time::OffsetDateTime;

/// How a host's addresses are found.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// The host is an IP address.
    Literal(IpAddr),
    /// The system's resolver (`getaddrinfo`: the hosts file, then DNS): for configured relays.
    System,
    /// The DNS resolver that answered the MX look-up (`[trust] dns_servers`, else the
    /// system's DNS configuration): for MX hosts.
    Dns,
}

/// One host to try.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Host {
    /// Its name (or address), what its TLS certificate must name.
    pub name: String,
    /// The port.
    pub port: u16,
    /// How its addresses are found.
    pub lookup: Lookup,
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Relay {
            host: self.name.clone(),
            port: self.port,
        }
        .fmt(f)
    }
}

/// What sent a delivery to a peer (for logs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Via {
    /// `[pec] relay`.
    PecRelay,
    /// A `[[route]]` (its position in the file).
    Route(usize),
    /// The domain's MX records (or its implicit MX), without trusted lists.
    Mx,
    /// The domain's MX hosts found as supply points of granted qualified REM services in the
    /// trusted lists, one pin per host of the peer (the same order): each host's TLS
    /// certificate must be its service's identity.
    Discovered(Vec<Pin>),
}

/// An SMTP peer as resolved: the hosts to try in order and the TLS mode. Deliveries that
/// resolve to the same peer share its connections and its concurrency limit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// In order of preference.
    pub hosts: Vec<Host>,
    /// TLS towards it.
    pub tls: TlsMode,
    /// Why it is this peer.
    pub via: Via,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<String> = self.hosts.iter().map(Host::to_string).collect();
        write!(f, "{}", hosts.join(","))
    }
}

/// What the configuration says about a destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// A configured relay.
    Relay(Peer),
    /// The outbox folder.
    Outbox(PathBuf),
    /// Look up the domain's MX records; their hosts listen on this port (`[delivery]
    /// mx_port`, 25).
    Mx(String, u16),
    /// Nowhere for now: the delivery stays queued (deferred) with this reason.
    Hold(String),
}

/// Where a delivery goes, everything resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// SMTP to this peer.
    Smtp(Peer),
    /// Written into this folder.
    Outbox(PathBuf),
    /// Nowhere for now: deferred with the reason (a configuration missing, DNS failing).
    Hold(String),
    /// Nowhere ever: failed for good with the reason (null MX, no such domain).
    Fail(String),
    /// Nowhere ever: discovery found no trusted REM peer (failed for good).
    Refused(Refusal),
}

fn relay_host(r: &Relay) -> Host {
    let lookup = match r.host.parse::<IpAddr>() {
        Ok(ip) => Lookup::Literal(ip),
        Err(_) => Lookup::System,
    };
    Host {
        name: r.host.clone(),
        port: r.port,
        lookup,
    }
}

/// What the configuration says about `destination` (no I/O).
pub fn plan(settings: &Service, destination: &Destination) -> Plan {
    let outbox = settings.delivery.outbox.clone();
    match destination {
        Destination::Pec => match (&settings.pec.relay, outbox) {
            (Some(r), _) => Plan::Relay(Peer {
                hosts: vec![relay_host(r)],
                tls: settings.pec.tls,
                via: Via::PecRelay,
            }),
            (None, Some(dir)) => Plan::Outbox(dir),
            (None, None) => Plan::Hold(
                "no [pec] relay and no [delivery] outbox configured: waiting for one".into(),
            ),
        },
        Destination::Domain(d) => {
            if let Some((i, route)) = settings
                .routes
                .iter()
                .enumerate()
                .find(|(_, r)| r.matches(d))
            {
                return Plan::Relay(Peer {
                    hosts: vec![relay_host(&route.relay)],
                    tls: route.tls,
                    via: Via::Route(i),
                });
            }
            match outbox {
                Some(dir) => Plan::Outbox(dir),
                None => Plan::Mx(
                    d.trim_end_matches('.').to_ascii_lowercase(),
                    settings.delivery.mx_port,
                ),
            }
        }
    }
}

/// The hosts of a domain's MX records, in the order to try them (RFC 5321 §5.1), or why the
/// domain accepts no mail. `shuffle` orders hosts of equal preference (given the number of
/// hosts in the run, it returns an index below it). An empty list means no MX records
/// (then the domain itself is the implicit MX, if it has addresses).
pub fn mx_order(
    domain: &str,
    records: &[Mx],
    mut shuffle: impl FnMut(usize) -> usize,
) -> Result<Vec<String>, String> {
    // RFC 7505: a null MX is the only record, preference 0, exchange "." (the root).
    if records.iter().any(|m| m.host.is_empty()) {
        return Err(format!("{domain} accepts no mail (null MX, RFC 7505)"));
    }
    let mut sorted: Vec<&Mx> = records.iter().collect();
    sorted.sort_by_key(|m| m.preference);
    let mut out: Vec<String> = Vec::with_capacity(sorted.len());
    let mut i = 0;
    while i < sorted.len() {
        let pref = sorted[i].preference;
        let mut run: Vec<String> = sorted[i..]
            .iter()
            .take_while(|m| m.preference == pref)
            .map(|m| m.host.clone())
            .collect();
        i += run.len();
        // Fisher-Yates within the run of equal preference.
        for k in (1..run.len()).rev() {
            let j = shuffle(k + 1).min(k);
            run.swap(k, j);
        }
        for h in run {
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    Ok(out)
}

/// The trusted lists that MX delivery must follow (`[trust] lists` configured): the lists
/// in force at `at`, and the fetcher discovery may use.
#[derive(Clone, Copy, Debug)]
pub struct Trusted<'a> {
    /// The lists in force.
    pub lists: &'a TrustedLists,
    /// For capability documents.
    pub fetcher: &'a Fetcher,
    /// The instant judged (the delivery time).
    pub at: OffsetDateTime,
    /// Where the peers' capability documents are kept, and for how long (`None`: not read).
    pub capabilities: Option<(&'a super::discovered::CsiCache, std::time::Duration)>,
}

/// Resolves a plan: for `Mx`, asks DNS; with `trusted`, the MX host must be a supply point
/// of a granted qualified REM service ([`super::discovered`]).
pub async fn resolve(
    plan: Plan,
    resolver: Result<&Resolver, &str>,
    trusted: Option<Trusted<'_>>,
    shuffle: impl FnMut(usize) -> usize,
) -> Target {
    match plan {
        Plan::Relay(p) => Target::Smtp(p),
        Plan::Outbox(d) => Target::Outbox(d),
        Plan::Hold(r) => Target::Hold(r),
        Plan::Mx(domain, port) => {
            let resolver = match resolver {
                Ok(r) => r,
                Err(e) => return Target::Hold(format!("MX of {domain}: {e}")),
            };
            if let Some(t) = trusted {
                return super::discovered::resolve(
                    &domain,
                    port,
                    resolver,
                    t.fetcher,
                    t.lists,
                    t.at,
                    t.capabilities,
                )
                .await;
            }
            let records = match resolver.mx(&domain).await {
                Ok(r) => r,
                Err(e) => return Target::Hold(e.to_string()),
            };
            let hosts = match mx_order(&domain, &records, shuffle) {
                Ok(h) => h,
                Err(reason) => return Target::Fail(reason),
            };
            let hosts = if hosts.is_empty() {
                match resolver.addresses(&domain).await {
                    Ok(a) if a.is_empty() => {
                        return Target::Fail(format!(
                            "{domain} has no MX record and no address (A/AAAA): it accepts no mail"
                        ));
                    }
                    Ok(_) => vec![domain.clone()],
                    Err(e) => return Target::Hold(e.to_string()),
                }
            } else {
                hosts
            };
            Target::Smtp(Peer {
                hosts: hosts
                    .into_iter()
                    .map(|name| Host {
                        name,
                        port,
                        lookup: Lookup::Dns,
                    })
                    .collect(),
                tls: TlsMode::Starttls,
                via: Via::Mx,
            })
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{PecRelay, Route};

    fn settings(routes: &[(&str, &str, TlsMode)], pec: Option<&str>, outbox: bool) -> Service {
        let mut s = test_service();
        s.routes = routes
            .iter()
            .map(|(d, r, tls)| Route {
                domain: (*d).into(),
                relay: Relay::parse(r).unwrap_or_else(|e| panic!("{e}")),
                tls: *tls,
            })
            .collect();
        s.pec = PecRelay {
            relay: pec.map(|r| Relay::parse(r).unwrap_or_else(|e| panic!("{e}"))),
            tls: TlsMode::Required,
        };
        s.delivery.outbox = outbox.then(|| PathBuf::from("/var/outbox"));
        s
    }

    /// Service settings with every key at its default.
    pub(crate) fn test_service() -> Service {
        use crate::config::service::*;
        Service {
            smtp: Smtp {
                listen: DEFAULT_SMTP_LISTEN
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}")),
                hostname: None,
                tls: None,
                max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
                max_recipients: DEFAULT_SMTP_MAX_RECIPIENTS,
                max_connections: DEFAULT_MAX_CONNECTIONS,
                command_timeout: DEFAULT_COMMAND_TIMEOUT,
                data_timeout: DEFAULT_DATA_TIMEOUT,
            },
            routes: Vec::new(),
            pec: PecRelay {
                relay: None,
                tls: TlsMode::Starttls,
            },
            spool: Spool {
                path: PathBuf::from("spool"),
                shared: None,
                lease: crate::config::service::DEFAULT_LEASE,
            },
            ops: Ops {
                listen: DEFAULT_OPS_LISTEN.parse().unwrap_or_else(|e| panic!("{e}")),
                token_file: None,
            },
            timers: Timers {
                warning: DEFAULT_WARNING,
                final_notice: DEFAULT_FINAL,
            },
            limits: Limits {
                max_recipients: DEFAULT_LIMIT_RECIPIENTS,
                max_total_bytes: DEFAULT_LIMIT_TOTAL_BYTES,
                refused_attachments: Vec::new(),
            },
            delivery: Delivery {
                outbox: None,
                first_retry: DEFAULT_FIRST_RETRY,
                max_retry: DEFAULT_MAX_RETRY,
                max_age: DEFAULT_MAX_AGE,
                per_destination: DEFAULT_PER_DESTINATION,
                timeout: DEFAULT_DELIVERY_TIMEOUT,
                tls_anchors: Vec::new(),
                mx_port: 25,
            },
        }
    }

    #[test]
    fn pec_goes_to_the_relay_else_the_outbox_else_waits() {
        let dest = Destination::Pec;
        match plan(&settings(&[], Some("pec.test:2525"), true), &dest) {
            Plan::Relay(p) => {
                assert_eq!(p.hosts.len(), 1);
                assert_eq!(p.hosts[0].to_string(), "pec.test:2525");
                assert_eq!(p.hosts[0].lookup, Lookup::System);
                assert_eq!(p.tls, TlsMode::Required);
                assert_eq!(p.via, Via::PecRelay);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            plan(&settings(&[], None, true), &dest),
            Plan::Outbox(PathBuf::from("/var/outbox"))
        );
        assert!(matches!(
            plan(&settings(&[], None, false), &dest),
            Plan::Hold(r) if r.contains("[pec] relay")
        ));
    }

    #[test]
    fn domains_take_the_first_matching_route_else_the_outbox_else_mx() {
        let s = settings(
            &[
                ("rem.example.eu", "127.0.0.1:2526", TlsMode::None),
                ("*.example.eu", "[::1]:2527", TlsMode::Starttls),
                ("*.example.eu", "10.0.0.1:25", TlsMode::Required),
            ],
            None,
            false,
        );
        let d = |n: &str| Destination::Domain(n.into());
        match plan(&s, &d("REM.example.eu.")) {
            Plan::Relay(p) => {
                assert_eq!(p.via, Via::Route(0));
                assert_eq!(p.tls, TlsMode::None);
                assert_eq!(p.hosts[0].lookup, Lookup::Literal([127, 0, 0, 1].into()));
            }
            other => panic!("{other:?}"),
        }
        match plan(&s, &d("x.example.eu")) {
            Plan::Relay(p) => {
                assert_eq!(p.via, Via::Route(1));
                assert_eq!(p.hosts[0].to_string(), "[::1]:2527");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(plan(&s, &d("Other.EU")), Plan::Mx("other.eu".into(), 25));
        let with_outbox = settings(
            &[("rem.example.eu", "127.0.0.1:2526", TlsMode::None)],
            None,
            true,
        );
        assert!(matches!(
            plan(&with_outbox, &d("rem.example.eu")),
            Plan::Relay(_)
        ));
        assert_eq!(
            plan(&with_outbox, &d("other.eu")),
            Plan::Outbox(PathBuf::from("/var/outbox"))
        );
    }

    #[test]
    fn mx_hosts_go_by_preference_and_a_null_mx_refuses_mail() {
        let mx = |p, h: &str| Mx {
            preference: p,
            host: h.into(),
        };
        let records = [mx(20, "b.test"), mx(10, "a.test"), mx(30, "c.test")];
        assert_eq!(
            mx_order("d.test", &records, |_| 0),
            Ok(vec!["a.test".to_string(), "b.test".into(), "c.test".into()])
        );
        // Equal preferences are shuffled, each order possible, never losing a host.
        let equal = [mx(10, "x.test"), mx(10, "y.test"), mx(5, "first.test")];
        let keep = mx_order("d.test", &equal, |n| n - 1).unwrap_or_default();
        let swap = mx_order("d.test", &equal, |_| 0).unwrap_or_default();
        assert_eq!(keep[0], "first.test");
        assert_eq!(swap[0], "first.test");
        assert_ne!(keep, swap);
        let mut k = keep.clone();
        k.sort();
        let mut s = swap.clone();
        s.sort();
        assert_eq!(k, s);
        assert_eq!(mx_order("d.test", &[], |_| 0), Ok(vec![]));
        let null = mx_order("d.test", &[mx(0, "")], |_| 0);
        assert!(matches!(null, Err(r) if r.contains("null MX")));
    }
}
