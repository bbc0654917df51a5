//! DNS MX look-ups (hickory-resolver), against the system's resolvers or the servers given
//! (a loopback test server, a provider's own resolver).

use std::net::SocketAddr;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use super::Error;

/// One MX record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mx {
    /// The preference (lower is preferred).
    pub preference: u16,
    /// The exchange host, lower case, without the trailing dot.
    pub host: String,
}

/// A resolver.
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

impl Resolver {
    /// The system's configuration (`/etc/resolv.conf`) when `servers` is empty, else exactly
    /// those servers (UDP, then TCP, on the port given).
    pub fn new(servers: &[SocketAddr]) -> Result<Self, Error> {
        let provider = TokioRuntimeProvider::default();
        let builder = if servers.is_empty() {
            TokioResolver::builder(provider).map_err(|e| Error::DnsConfig(e.to_string()))?
        } else {
            let mut config = ResolverConfig::from_name_servers(Vec::new());
            for s in servers {
                let mut udp = ConnectionConfig::udp();
                udp.port = s.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = s.port();
                config.add_name_server(NameServerConfig::new(s.ip(), true, vec![udp, tcp]));
            }
            TokioResolver::builder_with_config(config, provider)
        };
        let inner = builder
            .build()
            .map_err(|e| Error::DnsConfig(e.to_string()))?;
        Ok(Resolver { inner })
    }

    /// The MX records of `domain`, by preference then host. A domain without MX records (or
    /// that does not exist) gives an empty list; a failed look-up is an error.
    pub async fn mx(&self, domain: &str) -> Result<Vec<Mx>, Error> {
        let name = domain.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '@') {
            return Err(Error::DnsName {
                name: domain.to_owned(),
                reason: "not a domain name".into(),
            });
        }
        let fqdn = format!("{name}.");
        match self.inner.mx_lookup(fqdn.as_str()).await {
            Ok(lookup) => {
                let mut out: Vec<Mx> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some(Mx {
                            preference: mx.preference,
                            host: mx
                                .exchange
                                .to_ascii()
                                .trim_end_matches('.')
                                .to_ascii_lowercase(),
                        }),
                        _ => None,
                    })
                    .collect();
                out.sort();
                out.dedup();
                Ok(out)
            }
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(Error::Dns {
                record: "MX",
                name,
                reason: e.to_string(),
            }),
        }
    }

    /// The IPv4 and IPv6 addresses of `host` (A and AAAA records). A name without them (or
    /// that does not exist) gives an empty list; a failed look-up is an error.
    pub async fn addresses(&self, host: &str) -> Result<Vec<std::net::IpAddr>, Error> {
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '@') {
            return Err(Error::DnsName {
                name: host.to_owned(),
                reason: "not a host name".into(),
            });
        }
        let fqdn = format!("{name}.");
        match self.inner.lookup_ip(fqdn.as_str()).await {
            Ok(lookup) => {
                let mut out: Vec<std::net::IpAddr> = lookup.iter().collect();
                out.dedup();
                Ok(out)
            }
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(Error::Dns {
                record: "A/AAAA",
                name,
                reason: e.to_string(),
            }),
        }
    }
}
