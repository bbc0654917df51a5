//! Certificate path validation at a given instant, to given trust anchors, for a given usage.
//!
//! Written on x509-parser + ring rather than rustls-webpki: webpki 0.103 rejects every
//! `directoryName` name constraint (rustls/webpki#19), and the CA that signs every Italian PEC
//! provider today (AgID CA1) carries such constraints, so webpki refuses the real chains.
//!
//! Checked on every certificate of the path below the anchor: signature by the issuer's key
//! (RSA PKCS#1 v1.5 or ECDSA via [`crate::crypto`]), validity at the instant, no unknown
//! critical extension; for issuers: basicConstraints cA, pathLenConstraint, keyUsage
//! keyCertSign when keyUsage is present, and name constraints (rfc822Name and directoryName;
//! other name forms fail closed when both constrained and present). For the end entity: the
//! requested extended key usage and, for signing uses, keyUsage digitalSignature or
//! nonRepudiation when keyUsage is present. Trust anchors are trusted as given (their own
//! validity and signature are not judged). Revocation (CRL/OCSP) is not checked here.

use super::Certificate;
use crate::crypto::{SignatureAlgorithm, oids, verify_signature};
use const_oid::ObjectIdentifier;
use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, NameConstraints};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// What the end-entity certificate must be good for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// S/MIME: EKU emailProtection required when the extension is present.
    EmailProtection,
    /// RFC 3161 time-stamping unit: EKU timeStamping required (RFC 3161 §2.3).
    TimeStamping,
    /// No EKU requirement (e.g. XAdES e-seals).
    Any,
}

/// The outcome of a path validation: a value, never an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustVerdict {
    /// Whether a valid path to one of the anchors was found.
    pub trusted: bool,
    /// Why not, when not trusted (the reason of the most promising path tried).
    pub reason: Option<String>,
    /// The subjects of the path, end entity first, trust anchor last; empty when untrusted.
    pub path: Vec<String>,
}

const MAX_DEPTH: usize = 8;

const KNOWN_CRITICAL: [&str; 10] = [
    "2.5.29.19", // basicConstraints
    "2.5.29.15", // keyUsage
    "2.5.29.37", // extKeyUsage
    "2.5.29.17", // subjectAltName
    "2.5.29.30", // nameConstraints
    "2.5.29.32", // certificatePolicies
    "2.5.29.36", // policyConstraints
    "2.5.29.54", // inhibitAnyPolicy
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.35", // authorityKeyIdentifier
];

/// Validates `leaf` at instant `at` against `anchors`, using `intermediates` (in any order,
/// extra or duplicate ones ignored) to build the path, for `usage`.
pub fn verify_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    at: OffsetDateTime,
    usage: Usage,
) -> TrustVerdict {
    if anchors.is_empty() {
        return refused("no trust anchors given".into());
    }
    if let Err(reason) = check_end_entity(leaf, usage) {
        return refused(reason);
    }
    let mut path = vec![leaf];
    let mut best: Option<String> = None;
    match extend(&mut path, intermediates, anchors, at, usage, &mut best) {
        Some(anchor) => {
            let mut names: Vec<String> = path.iter().map(|c| c.subject.clone()).collect();
            names.push(anchor.subject.clone());
            TrustVerdict {
                trusted: true,
                reason: None,
                path: names,
            }
        }
        None => refused(best.unwrap_or_else(|| {
            format!("no path to a trust anchor: issuer {} unknown", leaf.issuer)
        })),
    }
}

fn refused(reason: String) -> TrustVerdict {
    TrustVerdict {
        trusted: false,
        reason: Some(reason),
        path: Vec::new(),
    }
}

/// Depth-first path building: tries anchors first, then intermediates. On success `path`
/// holds the non-anchor certificates and the anchor is returned.
fn extend<'a>(
    path: &mut Vec<&'a Certificate>,
    intermediates: &'a [Certificate],
    anchors: &'a [Certificate],
    at: OffsetDateTime,
    usage: Usage,
    best: &mut Option<String>,
) -> Option<&'a Certificate> {
    let current = *path.last()?;
    for anchor in anchors
        .iter()
        .filter(|a| a.subject_der == current.issuer_der)
    {
        match check_path(path, anchor, at, usage) {
            Ok(()) => return Some(anchor),
            Err(e) => record(best, e),
        }
    }
    if path.len() >= MAX_DEPTH {
        record(best, format!("path longer than {MAX_DEPTH} certificates"));
        return None;
    }
    for cand in intermediates
        .iter()
        .filter(|c| c.subject_der == current.issuer_der)
    {
        if path.iter().any(|p| p.der() == cand.der())
            || anchors.iter().any(|a| a.der() == cand.der())
        {
            continue;
        }
        path.push(cand);
        if let Some(a) = extend(path, intermediates, anchors, at, usage, best) {
            return Some(a);
        }
        path.pop();
    }
    None
}

fn record(best: &mut Option<String>, e: String) {
    if best.is_none() {
        *best = Some(e);
    }
}

fn parse(c: &Certificate) -> Result<X509Certificate<'_>, String> {
    X509Certificate::from_der(c.der())
        .map(|(_, x)| x)
        .map_err(|e| format!("{}: unreadable: {e}", c.subject))
}

/// Checks made once per set of certificates: the outcome of [`check_end_entity`] and of the
/// time-independent part of [`check_path`] depends only on the certificates' bytes and the
/// usage, so a success is remembered (by the SHA-256 of those bytes) and not recomputed: a
/// gateway meets the same few provider chains in every message, and each check costs the
/// issuers' signature verifications and a parse of every certificate. Only successes are
/// kept (a failure is rare and recomputed), at most `MEMO_MAX` of them (then forgotten at
/// once). The validity of each certificate at the instant is always checked again.
mod memo {
    use std::collections::HashSet;
    use std::sync::Mutex;

    /// How many successes are kept before the memo starts over.
    pub(super) const MEMO_MAX: usize = 4096;

    static SEEN: Mutex<Option<HashSet<[u8; 32]>>> = Mutex::new(None);

    /// The key of a check: what it is (`kind`), the usage, then each certificate's length
    /// and bytes.
    pub(super) fn key(kind: u8, usage: super::Usage, certs: &[&[u8]]) -> [u8; 32] {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(&[kind, usage as u8]);
        for c in certs {
            ctx.update(&(c.len() as u64).to_be_bytes());
            ctx.update(c);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    pub(super) fn known(key: &[u8; 32]) -> bool {
        SEEN.lock()
            .ok()
            .is_some_and(|s| s.as_ref().is_some_and(|s| s.contains(key)))
    }

    pub(super) fn remember(key: [u8; 32]) {
        if let Ok(mut s) = SEEN.lock() {
            let set = s.get_or_insert_with(HashSet::new);
            if set.len() >= MEMO_MAX {
                set.clear();
            }
            set.insert(key);
        }
    }
}

fn check_end_entity(leaf: &Certificate, usage: Usage) -> Result<(), String> {
    let key = memo::key(0, usage, &[leaf.der()]);
    if memo::known(&key) {
        return Ok(());
    }
    check_end_entity_uncached(leaf, usage)?;
    memo::remember(key);
    Ok(())
}

fn check_end_entity_uncached(leaf: &Certificate, usage: Usage) -> Result<(), String> {
    let x = parse(leaf)?;
    let eku_ok = match usage {
        Usage::EmailProtection => leaf.allows_eku(&oids::KP_EMAIL_PROTECTION.to_string()),
        Usage::TimeStamping => leaf
            .ekus
            .iter()
            .any(|e| *e == oids::KP_TIME_STAMPING.to_string()),
        Usage::Any => true,
    };
    if !eku_ok {
        return Err(format!(
            "{}: extended key usage does not allow {usage:?} (has {:?})",
            leaf.subject, leaf.ekus
        ));
    }
    if let Ok(Some(ku)) = x.key_usage()
        && !(ku.value.digital_signature() || ku.value.non_repudiation())
    {
        return Err(format!(
            "{}: keyUsage allows neither digitalSignature nor nonRepudiation",
            leaf.subject
        ));
    }
    Ok(())
}

/// Checks a complete candidate path: `path[0]` is the end entity, each next one its issuer,
/// and `anchor` issued the last one.
fn check_path(
    path: &[&Certificate],
    anchor: &Certificate,
    at: OffsetDateTime,
    usage: Usage,
) -> Result<(), String> {
    let ders: Vec<&[u8]> = path
        .iter()
        .map(|c| c.der())
        .chain(std::iter::once(anchor.der()))
        .collect();
    let key = memo::key(1, usage, &ders);
    if memo::known(&key) {
        // Every other check passed for these certificates: only the instant remains, and its
        // first failure is the one the full check would report first.
        for c in path {
            if !c.is_valid_at(at) {
                return Err(not_valid_at(c, at));
            }
        }
        return Ok(());
    }
    check_path_uncached(path, anchor, at, usage)?;
    memo::remember(key);
    Ok(())
}

fn not_valid_at(c: &Certificate, at: OffsetDateTime) -> String {
    format!(
        "{}: not valid at {at} (valid {} to {})",
        c.subject, c.not_before, c.not_after
    )
}

fn check_path_uncached(
    path: &[&Certificate],
    anchor: &Certificate,
    at: OffsetDateTime,
    usage: Usage,
) -> Result<(), String> {
    let parsed: Vec<X509Certificate<'_>> =
        path.iter().map(|c| parse(c)).collect::<Result<_, _>>()?;
    let anchor_x = parse(anchor)?;
    for (i, (c, x)) in path.iter().zip(&parsed).enumerate() {
        if !c.is_valid_at(at) {
            return Err(not_valid_at(c, at));
        }
        for ext in x.extensions() {
            let id = ext.oid.to_id_string();
            if ext.critical && !KNOWN_CRITICAL.contains(&id.as_str()) {
                return Err(format!("{}: unknown critical extension {id}", c.subject));
            }
        }
        let (issuer, issuer_x) = match (path.get(i + 1), parsed.get(i + 1)) {
            (Some(ic), Some(ix)) => (*ic, ix),
            _ => (anchor, &anchor_x),
        };
        check_signature(x, issuer)?;
        // Issuer constraints: intermediates below the anchor must be CAs; the anchor itself is
        // trusted as configured, but its pathLen and name constraints still apply.
        // `i` = number of CA certificates of the path below that issuer (path[1..=i]).
        check_issuer(issuer, issuer_x, i, i + 1 == path.len(), usage)?;
        // Name constraints of every issuer above apply to this certificate.
        let ancestors = parsed.iter().skip(i + 1).chain(std::iter::once(&anchor_x));
        for anc in ancestors {
            if let Ok(Some(nc)) = anc.name_constraints() {
                check_name_constraints(x, nc.value).map_err(|e| format!("{}: {e}", c.subject))?;
            }
        }
    }
    Ok(())
}

fn check_issuer(
    issuer: &Certificate,
    x: &X509Certificate<'_>,
    intermediates_below: usize,
    is_anchor: bool,
    usage: Usage,
) -> Result<(), String> {
    let bc = x
        .basic_constraints()
        .map_err(|e| format!("{}: basicConstraints: {e}", issuer.subject))?;
    match bc {
        Some(bc) if bc.value.ca => {
            if let Some(len) = bc.value.path_len_constraint
                && intermediates_below > len as usize
            {
                return Err(format!(
                    "{}: pathLenConstraint {len} exceeded ({intermediates_below} CA certificates below)",
                    issuer.subject
                ));
            }
        }
        _ if is_anchor && x.version().0 < 2 => {} // v1 root: accepted as a configured anchor
        _ => {
            return Err(format!(
                "{}: issues certificates but is not a CA (basicConstraints)",
                issuer.subject
            ));
        }
    }
    if let Ok(Some(ku)) = x.key_usage()
        && !ku.value.key_cert_sign()
    {
        return Err(format!("{}: keyUsage lacks keyCertSign", issuer.subject));
    }
    if !is_anchor {
        let eku_ok = match usage {
            Usage::EmailProtection => issuer.allows_eku(&oids::KP_EMAIL_PROTECTION.to_string()),
            Usage::TimeStamping => issuer.allows_eku(&oids::KP_TIME_STAMPING.to_string()),
            Usage::Any => true,
        };
        if !eku_ok && !issuer.ekus.iter().any(|e| e == "2.5.29.37.0") {
            return Err(format!(
                "{}: intermediate's extended key usage excludes {usage:?}",
                issuer.subject
            ));
        }
    }
    Ok(())
}

fn check_signature(x: &X509Certificate<'_>, issuer: &Certificate) -> Result<(), String> {
    let oid: ObjectIdentifier = x
        .signature_algorithm
        .algorithm
        .to_id_string()
        .parse()
        .map_err(|_| "signature algorithm OID unreadable".to_string())?;
    let alg = SignatureAlgorithm::from_oid(&oid, None)
        .ok_or_else(|| format!("{}: unsupported signature algorithm {oid}", x.subject()))?;
    match verify_signature(
        &issuer.spki_der,
        alg,
        x.tbs_certificate.as_ref(),
        &x.signature_value.data,
    ) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(f)) => Err(format!(
            "{}: signature by {} does not verify: {f}",
            x.subject(),
            issuer.subject
        )),
        Err(e) => Err(format!("{}: issuer key unreadable: {e}", issuer.subject)),
    }
}

fn check_name_constraints(x: &X509Certificate<'_>, nc: &NameConstraints<'_>) -> Result<(), String> {
    let mut names: Vec<GeneralName<'_>> = Vec::new();
    // The subject DN is a directoryName when not empty.
    if x.subject().iter().next().is_some() {
        names.push(GeneralName::DirectoryName(x.subject().clone()));
    }
    if let Ok(Some(san)) = x.subject_alternative_name() {
        names.extend(san.value.general_names.iter().cloned());
    }
    for name in &names {
        if let Some(permitted) = &nc.permitted_subtrees {
            let same_form: Vec<_> = permitted
                .iter()
                .filter(|s| same_kind(&s.base, name))
                .collect();
            if !same_form.is_empty() {
                let mut ok = false;
                for s in same_form {
                    if matches(name, &s.base)? {
                        ok = true;
                        break;
                    }
                }
                if !ok {
                    return Err(format!(
                        "name {} outside the permitted subtrees",
                        show(name)
                    ));
                }
            }
        }
        if let Some(excluded) = &nc.excluded_subtrees {
            for s in excluded.iter().filter(|s| same_kind(&s.base, name)) {
                if matches(name, &s.base)? {
                    return Err(format!("name {} inside an excluded subtree", show(name)));
                }
            }
        }
    }
    Ok(())
}

fn same_kind(a: &GeneralName<'_>, b: &GeneralName<'_>) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn show(n: &GeneralName<'_>) -> String {
    match n {
        GeneralName::DirectoryName(d) => format!("directoryName {d}"),
        GeneralName::RFC822Name(m) => format!("rfc822Name {m}"),
        other => format!("{other:?}"),
    }
}

fn matches(name: &GeneralName<'_>, base: &GeneralName<'_>) -> Result<bool, String> {
    match (name, base) {
        (GeneralName::DirectoryName(n), GeneralName::DirectoryName(b)) => Ok(dn_has_prefix(n, b)),
        (GeneralName::RFC822Name(n), GeneralName::RFC822Name(b)) => Ok(rfc822_matches(n, b)),
        (other, _) => Err(format!(
            "name constraint on {} not implemented (fail closed)",
            show(other)
        )),
    }
}

/// RFC 5280 §7.1: the base's RDNs are the first RDNs of the name. Attribute values are compared
/// byte-exact, after ASCII case folding and trimming for string types.
fn dn_has_prefix(name: &X509Name<'_>, base: &X509Name<'_>) -> bool {
    let n: Vec<_> = name.iter().collect();
    let b: Vec<_> = base.iter().collect();
    if b.len() > n.len() {
        return false;
    }
    n.iter().zip(&b).all(|(nr, br)| {
        let na: Vec<_> = nr.iter().collect();
        let ba: Vec<_> = br.iter().collect();
        na.len() == ba.len()
            && na.iter().zip(&ba).all(|(x, y)| {
                x.attr_type() == y.attr_type()
                    && match (x.as_str(), y.as_str()) {
                        (Ok(s), Ok(t)) => fold(s) == fold(t),
                        _ => x.attr_value().data == y.attr_value().data,
                    }
            })
    })
}

fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// RFC 5280 §4.2.1.10 rfc822Name constraints: a full mailbox, a host, or `.domain` (any
/// subdomain).
fn rfc822_matches(name: &str, base: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let base = base.to_ascii_lowercase();
    if base.contains('@') {
        return name == base;
    }
    let Some((_, host)) = name.rsplit_once('@') else {
        return false;
    };
    if base.starts_with('.') {
        host.ends_with(&base)
    } else {
        host == base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::load_pem;
    use time::macros::datetime;

    fn cert(name: &str) -> Certificate {
        let path = format!("{}/../tests/pki/{name}", env!("CARGO_MANIFEST_DIR"));
        load_pem(&std::fs::read(path).expect("test PKI file"))
            .expect("pem")
            .remove(0)
    }

    const AT: OffsetDateTime = datetime!(2030-01-01 00:00 UTC);

    #[test]
    fn test_pki_paths_and_usages() {
        let (roots, cas) = ([cert("root-ca.pem")], [cert("provider-ca.pem")]);
        let v = verify_chain(
            &cert("pec-rsa.pem"),
            &cas,
            &roots,
            AT,
            Usage::EmailProtection,
        );
        assert!(v.trusted, "{v:?}");
        assert_eq!(v.path.len(), 3);
        // The TSA is good for time-stamping only.
        let tsa = cert("tsa.pem");
        assert!(verify_chain(&tsa, &cas, &roots, AT, Usage::TimeStamping).trusted);
        assert!(!verify_chain(&tsa, &cas, &roots, AT, Usage::EmailProtection).trusted);
        assert!(!verify_chain(&cert("pec-rsa.pem"), &cas, &roots, AT, Usage::TimeStamping).trusted);
        // Before the certificates' validity.
        let early = verify_chain(
            &cert("pec-rsa.pem"),
            &cas,
            &roots,
            datetime!(2020-01-01 0:00 UTC),
            Usage::Any,
        );
        assert!(
            !early.trusted
                && early
                    .reason
                    .as_deref()
                    .unwrap_or("")
                    .contains("not valid at")
        );
        // Rogue signer, no anchors, and a leaf acting as a CA.
        assert!(!verify_chain(&cert("rogue.pem"), &cas, &roots, AT, Usage::Any).trusted);
        assert!(!verify_chain(&cert("pec-rsa.pem"), &cas, &[], AT, Usage::Any).trusted);
        let fake = verify_chain(
            &cert("pec-rsa.pem"),
            &[],
            &[cert("pec-ec.pem")],
            AT,
            Usage::Any,
        );
        assert!(!fake.trusted);
    }

    #[test]
    fn rfc822_constraints() {
        assert!(rfc822_matches(
            "posta-certificata@sicurezzapostale.it",
            "sicurezzapostale.it"
        ));
        assert!(!rfc822_matches(
            "a@pro.sicurezzapostale.it",
            "sicurezzapostale.it"
        ));
        assert!(rfc822_matches(
            "a@pro.sicurezzapostale.it",
            ".sicurezzapostale.it"
        ));
        assert!(rfc822_matches("A@X.IT", "a@x.it"));
        assert!(!rfc822_matches("no-at-sign", "x.it"));
    }
}
