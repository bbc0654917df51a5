//! `ponte trust show DOMAIN...`: MX → supply point → service → status → capability document
//! (EN 319 532-4 C.2.3.3.3 pre-relay validation, C.2.3.4 capabilities).

use std::net::SocketAddr;
use std::process::ExitCode;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::trust::{ShowArgs, list_statuses, load, parse_at, sources};
use super::{Failure, Outcome, rfc3339};
use ponte::discovery::{Discovery, discover};
use ponte::fetch::{Fetcher, Resolver};
use ponte::rem::csi::{self, CsiSignature};

fn csi_json(v: &csi::CsiVerdict, url: &str) -> Value {
    let c = v.csi.as_ref();
    json!({
        "url": url,
        "signature": match &v.signature {
            CsiSignature::Verified { signer } => json!({"verified": true, "signer": signer}),
            CsiSignature::Unsigned => json!({"verified": false, "reason": "not signed"}),
            CsiSignature::Invalid(why) => json!({"verified": false, "reason": format!("signature not valid: {why}")}),
            CsiSignature::UnknownSigner { signer, reason } => json!({"verified": false, "signer": signer, "reason": reason}),
            _ => json!({"verified": false}),
        },
        "acceptable": v.acceptable(),
        "stale": v.stale,
        "unreadable": v.unreadable,
        "deviations": v.deviations,
        "sequence": c.map(|c| c.scheme.sequence),
        "issued": c.map(|c| rfc3339(c.scheme.issued)),
        "next_update": c.and_then(|c| c.scheme.next_update.map(rfc3339)),
        "erds_domain": c.map(|c| c.erds.domain.clone()),
        "governing_body": c.map(|c| c.erds.governing_body.clone()),
        "profiles": c.map(|c| c.erds.profiles.clone()),
        "assurance_levels": c.map(|c| c.erds.assurance_levels.clone()),
        "consignment_modes": c.map(|c| c.erds.consignment_modes.clone()),
        "expiry_support": c.and_then(|c| c.erds.expiry_support),
        "scheduled_delivery_support": c.and_then(|c| c.erds.scheduled_delivery_support),
        "tls_certificate": c.and_then(|c| c.security.tls_certificate.as_ref().ok().map(|t| t.subject.clone())),
        "tls_certificate_sha256": c.and_then(|c| c.security.tls_certificate.as_ref().ok().map(|t| t.fingerprint_hex())),
    })
}

fn one(d: &Discovery) -> Value {
    let mut hosts = Vec::new();
    for h in &d.hosts {
        let mut entry = json!({"host": h.mx.host, "preference": h.mx.preference});
        match &h.verdict {
            Some(v) => {
                let unverified = v.service.as_ref().is_some_and(|s| !s.list_verified);
                entry["service"] = v.to_json(unverified);
                if v.qualified() {
                    entry["csi"] = Value::Array(
                        h.capabilities
                            .iter()
                            .map(|c| match &c.verdict {
                                Ok(v) => csi_json(v, &c.url),
                                Err(e) => json!({"url": c.url, "acceptable": false, "error": e}),
                            })
                            .collect(),
                    );
                }
            }
            None => {
                entry["service"] = Value::Null;
                entry["reason"] = Value::String(
                    "not a ServiceSupplyPoint of any service of the trusted lists".into(),
                );
            }
        }
        hosts.push(entry);
    }
    json!({
        "domain": d.domain,
        "at": rfc3339(d.at),
        "qualified": d.peer.is_some(),
        "peer": d.peer().map(|h| h.mx.host.clone()),
        "mx": hosts,
        "implicit_mx": d.implicit_mx,
        "reason": d.refusal.as_ref().map(ToString::to_string),
    })
}

pub(crate) fn show(a: ShowArgs) -> Outcome {
    let at = parse_at(a.at.as_deref())?;
    let (sources, config_dns, mode) = sources(&a.lists)?;
    let mut dns: Vec<SocketAddr> = Vec::new();
    for d in &a.dns {
        let addr = d
            .parse::<SocketAddr>()
            .or_else(|_| {
                d.parse::<std::net::IpAddr>()
                    .map(|ip| SocketAddr::new(ip, 53))
            })
            .map_err(|_| {
                Failure(format!(
                    "--dns {d:?}: not an IP address (with or without :port)"
                ))
            })?;
        dns.push(addr);
    }
    if dns.is_empty() {
        dns = config_dns;
    }
    let report = load(&sources, mode, OffsetDateTime::now_utc())?;
    let fetcher = Fetcher::default();
    let results = Fetcher::block_on(async {
        let resolver = Resolver::new(&dns)?;
        let mut out = Vec::new();
        for d in &a.domains {
            let found = discover(d, &resolver, &fetcher, &report.lists, at, true).await;
            let mut v = one(&found);
            v["unsigned_lists"] = Value::Bool(report.lists.has_unverified());
            out.push(v);
        }
        Ok::<_, ponte::fetch::Error>(out)
    })
    .map_err(|e| Failure(e.to_string()))?
    .map_err(|e| Failure(e.to_string()))?;
    let all = results.iter().all(|r| r["qualified"] == true);
    for mut r in results {
        if a.json {
            r["lists"] = list_statuses(&report);
            println!("{r}");
        } else {
            println!(
                "{}: {}",
                r["domain"].as_str().unwrap_or("-"),
                if r["qualified"] == true {
                    "served by a granted qualified REM service"
                } else {
                    "NOT served by a qualified REM service"
                }
            );
            for m in r["mx"].as_array().into_iter().flatten() {
                let svc = &m["service"];
                println!(
                    "  MX {}{} {} -> {} ({}, {})",
                    m["preference"],
                    if r["implicit_mx"] == true {
                        " (implicit: no MX record, the domain's own A/AAAA)"
                    } else {
                        ""
                    },
                    m["host"].as_str().unwrap_or("-"),
                    svc["service_name"].as_str().unwrap_or("no service"),
                    svc["status"].as_str().unwrap_or("-"),
                    svc["list"].as_str().unwrap_or("-"),
                );
                for c in m["csi"].as_array().into_iter().flatten() {
                    println!(
                        "     CSI {}: acceptable={} {}",
                        c["url"].as_str().unwrap_or("-"),
                        c["acceptable"],
                        c["deviations"]
                    );
                }
            }
            if let Some(reason) = r["reason"].as_str() {
                println!("  reason: {reason}");
            }
            if r["unsigned_lists"] == true {
                println!(
                    "  WARNING: trusted lists NOT verified (unsigned lists allowed: tests only)"
                );
            }
        }
    }
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
