//! The checks of a configuration that go beyond its syntax: a key that does not match its
//! certificate, certificates outside their validity at the instant judged, identities not
//! trusted by the configured anchors, URLs and URIs, the domain and addresses, the correlation
//! store's folder. Each check appends [`Problem`]s; none stops the others.
//!
//! Severity, as decided for Ponte:
//! - an identity certificate (or one of its chain) that is expired or not yet valid is an
//!   **error**: every signature Ponte makes with it would be refused by its peers;
//! - one that expires within [`EXPIRY_WARNING_DAYS`] days is a **warning**;
//! - an expired or not yet valid trust anchor is a **warning**: it is still needed to judge
//!   messages signed while it was valid (verification takes the instant as a parameter);
//! - an identity certificate that does not chain to the configured anchors of its side is a
//!   **warning**: peers may trust it through other anchors, but a loop-back test will fail.

use std::path::Path;

use time::{Duration, OffsetDateTime};

use super::{Identity, Problem, Trust};
use crate::crypto::{KeyKind, SigningKey};
use crate::x509::{Certificate, Usage, verify_chain};

/// How many days before an identity certificate expires `check` starts warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

fn date(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// The key of `side` (`pec` or `rem`) must be the private half of its certificate's public key:
/// the public keys are compared, then the key proves it by use (it signs a random challenge,
/// in the token for a PKCS#11 key, and ring verifies it with the certificate's public key), so
/// a token that logs in but refuses to sign, or a key not allowed to sign, is found here.
/// `key_path` is the key file (`None` for a `pkcs11:` URI, named in the message instead).
pub fn key_matches(
    side: &str,
    key: &SigningKey,
    key_path: Option<&Path>,
    cert: &Certificate,
    cert_path: &Path,
    out: &mut Vec<Problem>,
) {
    let kind = match key.kind() {
        KeyKind::Rsa => "an RSA key",
        KeyKind::EcdsaP256 => "an ECDSA P-256 key",
    };
    let what = match key.pkcs11_uri() {
        Some(uri) => format!("{kind} in the token {uri}"),
        None => kind.to_string(),
    };
    let mismatch = |how: &str| {
        Problem::error(
            format!("identity.{side}_key"),
            key_path,
            format!(
                "{what} that does not match the certificate of identity.{side}_cert ({}, subject {}): {how}",
                cert_path.display(),
                cert.subject
            ),
        )
    };
    if !key.matches_spki(&cert.spki_der) {
        out.push(mismatch("the public keys differ"));
        return;
    }
    match key.prove(&cert.spki_der) {
        Ok(Ok(())) => {}
        Ok(Err(failure)) => out.push(mismatch(&format!(
            "a challenge it signed does not verify with the certificate's key ({failure})"
        ))),
        Err(e) => out.push(Problem::error(
            format!("identity.{side}_key"),
            key_path,
            format!("{what} could not sign a challenge: {e}"),
        )),
    }
}

/// An identity certificate (or chain certificate) at `now`: errors outside validity, a warning
/// when it expires soon.
pub fn identity_validity(
    key: &str,
    cert: &Certificate,
    path: &Path,
    now: OffsetDateTime,
    out: &mut Vec<Problem>,
) {
    if now < cert.not_before {
        out.push(Problem::error(
            key,
            Some(path),
            format!(
                "certificate {} is not valid before {}",
                cert.subject,
                date(cert.not_before)
            ),
        ));
    } else if now > cert.not_after {
        out.push(Problem::error(
            key,
            Some(path),
            format!(
                "certificate {} expired on {}",
                cert.subject,
                date(cert.not_after)
            ),
        ));
    } else if cert.not_after - now < Duration::days(EXPIRY_WARNING_DAYS) {
        out.push(Problem::warning(
            key,
            Some(path),
            format!(
                "certificate {} expires on {}",
                cert.subject,
                date(cert.not_after)
            ),
        ));
    }
}

/// A trust anchor outside its validity at `now` is a warning (see the module documentation).
pub fn anchor_validity(
    key: &str,
    cert: &Certificate,
    path: &Path,
    now: OffsetDateTime,
    out: &mut Vec<Problem>,
) {
    if !cert.is_valid_at(now) {
        out.push(Problem::warning(
            key,
            Some(path),
            format!(
                "trust anchor {} is not valid now (valid {} to {}); kept for messages signed while it was",
                cert.subject,
                date(cert.not_before),
                date(cert.not_after)
            ),
        ));
    }
}

/// Whether the PEC and REM identities chain to the anchors of their side at `now`; warnings.
pub fn identity_against_anchors(
    id: &Identity,
    trust: &Trust,
    now: OffsetDateTime,
    out: &mut Vec<Problem>,
) {
    for (key, cert, chain, anchors, anchors_key, usage) in [
        (
            "identity.pec_cert",
            &id.pec_cert,
            &id.pec_chain,
            &trust.pec_anchors,
            "trust.pec_anchors",
            Usage::EmailProtection,
        ),
        (
            "identity.rem_cert",
            &id.rem_cert,
            &id.rem_chain,
            &trust.rem_anchors,
            "trust.rem_anchors",
            Usage::Any,
        ),
    ] {
        if anchors.is_empty() || !cert.is_valid_at(now) {
            continue; // already reported
        }
        let v = verify_chain(cert, chain, anchors, now, usage);
        if !v.trusted {
            out.push(Problem::warning(
                key,
                None,
                format!(
                    "{} does not chain to {anchors_key}: {}",
                    cert.subject,
                    v.reason.as_deref().unwrap_or("no path")
                ),
            ));
        }
    }
}

/// A mail domain: normalised (lower case, no trailing dot) or why not.
pub fn domain(d: &str) -> Result<String, String> {
    let n = crate::index::normalize_domain(d).map_err(|e| e.to_string())?;
    if !n.contains('.') {
        return Err(format!("{d:?} is not a fully qualified domain"));
    }
    if let Some(bad) = n
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(format!("{d:?} has the character {bad:?}"));
    }
    Ok(n)
}

/// ISO 3166-1 alpha-2 form: two upper-case ASCII letters.
pub fn country(c: &str) -> Result<String, String> {
    if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(c.to_owned())
    } else {
        Err(format!(
            "{c:?} is not an ISO 3166-1 alpha-2 code (two upper-case letters, e.g. \"IT\")"
        ))
    }
}

/// A mail address `local@domain` (the domain normalised).
pub fn address(a: &str) -> Result<String, String> {
    let (local, dom) = a
        .rsplit_once('@')
        .ok_or_else(|| format!("{a:?} is not an address (no '@')"))?;
    if local.is_empty() || local.contains('@') || local.chars().any(|c| c.is_whitespace()) {
        return Err(format!("{a:?}: the local part is empty or malformed"));
    }
    let dom = domain(dom).map_err(|m| format!("{a:?}: {m}"))?;
    Ok(format!("{local}@{dom}"))
}

/// An absolute URI (RFC 3986 §4.3): a scheme, `:`, something after it; no spaces, no controls,
/// no fragment-only or relative references.
pub fn absolute_uri(u: &str) -> Result<(), String> {
    let (scheme, rest) = u
        .split_once(':')
        .ok_or_else(|| format!("{u:?} is not an absolute URI (no scheme)"))?;
    let mut sc = scheme.chars();
    let scheme_ok = sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sc.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(format!(
            "{u:?} is not an absolute URI (bad scheme {scheme:?})"
        ));
    }
    if rest.is_empty() {
        return Err(format!(
            "{u:?} is not an absolute URI (nothing after the scheme)"
        ));
    }
    if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{u:?} contains whitespace or control characters"));
    }
    Ok(())
}

/// The host part of `scheme://host[:port][/...]`, checked: present, port numeric.
fn authority(u: &str, schemes: &[&str]) -> Result<(), String> {
    absolute_uri(u)?;
    let lower = u.to_ascii_lowercase();
    let rest = schemes
        .iter()
        .find_map(|s| lower.strip_prefix(&format!("{s}://")))
        .ok_or_else(|| format!("{u:?}: the scheme must be {}", schemes.join(" or ")))?;
    let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
    let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let (host, port) = if let Some(v6) = auth.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{u:?}: unclosed IPv6 literal"))?;
        (h, after.strip_prefix(':'))
    } else {
        match auth.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (auth, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{u:?}: no host"));
    }
    if let Some(p) = port
        && p.parse::<u16>().map_or(true, |n| n == 0)
    {
        return Err(format!(
            "{u:?}: the port {p:?} is not a number from 1 to 65535"
        ));
    }
    Ok(())
}

/// An RFC 3161 endpoint: `http://` with a host. `https://` is refused by name: the TSA client
/// ([`crate::tsp::client`]) speaks plain HTTP only (RFC 3161 tokens are signed; TLS adds
/// confidentiality of the digests only).
pub fn http_url(u: &str) -> Result<(), String> {
    if u.trim()
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
    {
        return Err(format!(
            "{u:?}: https:// is not supported by Ponte's time-stamp client yet (http:// only)"
        ));
    }
    authority(u, &["http"])
}

/// A directory: `ldap://` or `ldaps://` with a host.
pub fn ldap_url(u: &str) -> Result<(), String> {
    authority(u, &["ldap", "ldaps"])
}

/// The correlation store: its folder must exist; an existing file must be a file that can be
/// opened for appending (nothing is written, nothing is created).
pub fn correlation_path(path: &Path, out: &mut Vec<Problem>) {
    let key = "correlation.path";
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            out.push(Problem::error(
                key,
                Some(path),
                format!("the folder {} does not exist", dir.display()),
            ));
            return;
        }
        _ => {}
    }
    if path.exists() {
        if !path.is_file() {
            out.push(Problem::error(key, Some(path), "not a regular file"));
        } else if let Err(e) = std::fs::OpenOptions::new().append(true).open(path) {
            out.push(Problem::error(
                key,
                Some(path),
                format!("cannot be opened for appending: {e}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris() {
        assert!(absolute_uri("http://uri.etsi.org/19532/v1#/REMbaseline").is_ok());
        assert!(absolute_uri("urn:oid:1.2.3").is_ok());
        assert!(absolute_uri("rem-policy-it").is_err());
        assert!(absolute_uri("/REM/policy").is_err());
        assert!(absolute_uri("1http://x").is_err());
        assert!(absolute_uri("http://a b").is_err());
        assert!(absolute_uri("urn:").is_err());
    }

    #[test]
    fn urls() {
        assert!(http_url("http://127.0.0.1:3180/tsa").is_ok());
        assert!(http_url("https://[::1]:443/").is_err());
        assert!(http_url("ftp://tsa.test/").is_err());
        assert!(http_url("http://").is_err());
        assert!(http_url("http://tsa.test:99999/").is_err());
        assert!(http_url("http://tsa.test:/").is_err());
        assert!(ldap_url("ldaps://index.test:636").is_ok());
        assert!(ldap_url("http://index.test").is_err());
    }

    #[test]
    fn domains_countries_addresses() {
        assert_eq!(domain("PEC.Prova.Test.").as_deref(), Ok("pec.prova.test"));
        assert!(domain("localhost").is_err());
        assert!(domain("a_b.test").is_err());
        assert!(country("IT").is_ok());
        assert!(country("it").is_err());
        assert!(country("ITA").is_err());
        assert_eq!(address("rem@PEC.test").as_deref(), Ok("rem@pec.test"));
        assert!(address("rem.pec.test").is_err());
        assert!(address("@pec.test").is_err());
    }
}
