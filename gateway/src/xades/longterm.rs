//! Verifying a signature with its embedded validation data (B-LT, B-LTA) at an instant T,
//! possibly after its certificates have expired.
//!
//! After the checks of [`super::verify()`] (integrity, signature time-stamp):
//! 1. the archive time-stamps, last first: the last one is judged at T (its TSU path to the TSA
//!    anchors, valid then), each earlier one at the time of the next one; each token's imprint
//!    must cover what [`super::extend`] says it covers. When every one holds, the time of the
//!    first is the proof of existence (POE) of what it covers;
//! 2. the signature time-stamp is judged at that POE (or at T without archive time-stamps):
//!    when it is valid and its TSU trusted, its genTime is the POE of the signature;
//! 3. the signer's chain is judged at T; when it does not hold at T (certificates expired) and
//!    the signature has a POE, it is judged at the POE instead, with the embedded certificates
//!    as intermediates;
//! 4. revocation, from the embedded CRLs and OCSP responses (each verified under the issuer of
//!    the certificate it speaks about): a certificate of the signer's path revoked at R makes
//!    the signature invalid at every T ≥ R. Ponte does not rescue signatures made before a
//!    revocation: the reason may be a key compromise that started before R. A certificate
//!    that names revocation pointers (CRL distribution point, OCSP) but has no embedded data
//!    makes the validation data incomplete: the level is not B-LT then.

use time::OffsetDateTime;

use super::extend::{self, Embedded};
use super::structure::{self, ParsedSignature};
use super::verify::{At, Report, VerifyOptions, signature_value_octets, verify_document};
use super::{Error, wrapping};
use crate::revocation::{self, Crl, Evidence, OcspResponse, Status};
use crate::tsp;
use crate::x509::{self, Certificate, TrustVerdict, Usage};
use crate::xml::{self, Document};

/// The long-term level earned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LtLevel {
    /// B-T plus complete validation data.
    BLt,
    /// B-LT plus a valid archive time-stamp.
    BLta,
}

impl std::fmt::Display for LtLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LtLevel::BLt => "B-LT",
            LtLevel::BLta => "B-LTA",
        })
    }
}

/// The verdict on one archive time-stamp.
#[derive(Clone, Debug)]
pub struct ArchiveVerdict {
    /// Whether the token is valid and covers what it should.
    pub valid: bool,
    /// Whether its TSU is trusted at the instant it was judged (`None`: no TSA anchors).
    pub trusted: Option<bool>,
    /// Its genTime.
    pub time: Option<OffsetDateTime>,
    /// The instant it was judged at.
    pub judged_at: OffsetDateTime,
    /// Why not, when not.
    pub reason: Option<String>,
}

/// The revocation status of one certificate of the signer's path.
#[derive(Clone, Debug)]
pub struct CertStatus {
    /// Its subject.
    pub subject: String,
    /// What the embedded data says (the most severe verified statement).
    pub evidence: Option<Evidence>,
    /// Why there is none, when there is none.
    pub note: Option<String>,
}

/// Everything the long-term validation says.
#[derive(Clone, Debug)]
pub struct LongTerm {
    /// The level earned (`None`: validation data present but incomplete).
    pub level: Option<LtLevel>,
    /// The archive time-stamps, in document order.
    pub archive_timestamps: Vec<ArchiveVerdict>,
    /// The signature's proof of existence: the genTime of its trusted signature time-stamp.
    pub poe: Option<OffsetDateTime>,
    /// The instant the signer's chain was judged at (T, or the POE when expired at T).
    pub judged_at: OffsetDateTime,
    /// The signer's chain (`None` without anchors).
    pub chain: Option<TrustVerdict>,
    /// Revocation status of each certificate of the signer's path below the anchor.
    pub revocation: Vec<CertStatus>,
    /// The revoked certificate that makes the signature invalid at T: subject, time, reason.
    pub revoked: Option<(String, OffsetDateTime, Option<u8>)>,
    /// Certificates that name revocation pointers but have no embedded revocation data.
    pub incomplete: Vec<String>,
    /// Embedded validation data that could not be read or does not verify: why.
    pub unusable: Vec<String>,
}

impl LongTerm {
    /// Trusted at T: the chain holds (when judged) and no certificate of it is revoked by T.
    pub fn trusted(&self) -> bool {
        self.revoked.is_none() && self.chain.as_ref().is_none_or(|c| c.trusted)
    }

    /// Why not trusted, when not.
    pub fn reason(&self) -> Option<String> {
        if let Some((s, at, r)) = &self.revoked {
            return Some(format!(
                "{s} is revoked since {at}{}",
                r.map(|c| format!(" ({})", revocation::reason_name(c)))
                    .unwrap_or_default()
            ));
        }
        self.chain
            .as_ref()
            .filter(|c| !c.trusted)
            .and_then(|c| c.reason.clone())
    }
}

fn token_verdict(
    token: &[u8],
    data: &[u8],
    opts: &VerifyOptions,
    extra: &[Certificate],
    at: OffsetDateTime,
) -> Result<tsp::TokenVerdict, String> {
    let tst = tsp::verify::read_tst_info(token).map_err(|e| e.to_string())?;
    let hash = tsp::HashAlg::from_oid(&tst.message_imprint.hash_algorithm.oid)
        .ok_or("unsupported imprint algorithm")?;
    let expected = tsp::Expected {
        imprint: tsp::Imprint::of(hash, data),
        nonce: None,
    };
    let mut extra_certs = extra.to_vec();
    extra_certs.extend(opts.intermediates.iter().cloned());
    let topts = tsp::VerifyOptions {
        anchors: opts.tsa_anchors.clone(),
        extra_certs,
        at: Some(at),
    };
    tsp::verify::verify_token(token, &expected, &topts).map_err(|e| e.to_string())
}

fn trusted_of(v: &tsp::TokenVerdict) -> Option<bool> {
    v.trusted.as_ref().map(|t| matches!(t, tsp::Trust::Trusted))
}

fn archive(
    doc: &Document,
    sig: &ParsedSignature,
    emb: &Embedded,
    opts: &VerifyOptions,
    extra: &[Certificate],
    at: OffsetDateTime,
) -> Result<(Vec<ArchiveVerdict>, Option<OffsetDateTime>), Error> {
    let mut out = Vec::new();
    let mut instant = at;
    let mut holds = true;
    for (node, alg, tokens) in emb.archive_timestamps.iter().rev() {
        let mut v = ArchiveVerdict {
            valid: false,
            trusted: None,
            time: None,
            judged_at: instant,
            reason: None,
        };
        match (alg, tokens.first()) {
            (Err(u), _) => v.reason = Some(format!("canonicalization {u} not supported")),
            (Ok(_), None) => v.reason = Some("no EncapsulatedTimeStamp".to_owned()),
            (Ok(a), Some(token)) => {
                let data = extend::archive_input(doc, sig, Some(*node), *a)?;
                match token_verdict(token, &data, opts, extra, instant) {
                    Err(e) => v.reason = Some(format!("token unreadable: {e}")),
                    Ok(tv) => {
                        v.valid = tv.valid();
                        v.trusted = trusted_of(&tv);
                        v.time = tv.info.as_ref().map(|i| i.gen_time.instant());
                        v.reason =
                            tv.invalid.as_ref().map(ToString::to_string).or_else(|| {
                                match &tv.trusted {
                                    Some(tsp::Trust::NotTrusted(r)) => {
                                        Some(format!("TSA not trusted: {r}"))
                                    }
                                    _ => None,
                                }
                            });
                    }
                }
            }
        }
        if v.valid && v.trusted == Some(true) {
            if let Some(t) = v.time {
                instant = t;
            }
        } else {
            holds = false;
        }
        out.push(v);
    }
    out.reverse();
    let poe = (holds && !out.is_empty()).then_some(instant);
    Ok((out, poe))
}

/// The signer's path: (certificate, issuer) pairs up to an anchor (or as far as issuers are
/// known).
fn path<'a>(
    signer: &'a Certificate,
    pool: &'a [Certificate],
    anchors: &'a [Certificate],
) -> Vec<(&'a Certificate, &'a Certificate)> {
    let mut out = Vec::new();
    let mut cur = signer;
    for _ in 0..8 {
        if cur.subject_der == cur.issuer_der || anchors.iter().any(|a| a.der() == cur.der()) {
            break;
        }
        let issuer = anchors
            .iter()
            .chain(pool.iter())
            .find(|c| c.subject_der == cur.issuer_der && c.der() != cur.der());
        let Some(issuer) = issuer else { break };
        out.push((cur, issuer));
        if anchors.iter().any(|a| a.der() == issuer.der()) {
            break;
        }
        cur = issuer;
    }
    out
}

fn status_of(
    cert: &Certificate,
    issuer: &Certificate,
    crls: &[Crl],
    ocsps: &[OcspResponse],
    at: OffsetDateTime,
    unusable: &mut Vec<String>,
) -> Option<Evidence> {
    let mut all: Vec<Evidence> = Vec::new();
    for c in crls.iter().filter(|c| c.covers(cert)) {
        match c.verify(issuer) {
            Ok(()) => all.push(c.status_of(cert)),
            Err(why) => unusable.push(format!("CRL of {}: {why}", c.issuer)),
        }
    }
    for o in ocsps {
        if let Some(e) = o.status_of(cert, issuer) {
            match o.verify(issuer, at) {
                Ok(()) => all.push(e),
                Err(why) => unusable.push(format!("OCSP response about {}: {why}", cert.subject)),
            }
        }
    }
    let revoked = all
        .iter()
        .filter_map(|e| match e.status {
            Status::Revoked { at, .. } => Some((at, e)),
            _ => None,
        })
        .min_by_key(|(at, _)| *at)
        .map(|(_, e)| e.clone());
    revoked
        .or_else(|| all.iter().find(|e| e.status == Status::Good).cloned())
        .or_else(|| all.first().cloned())
}

/// Verifies `xml` like [`super::verify()`], then, when the signature carries long-term
/// validation data, validates it as the module documentation says. The second value is `None`
/// when there is no such data (or the signature is not valid).
pub fn verify(xml: &[u8], opts: &VerifyOptions) -> Result<(Report, Option<LongTerm>), Error> {
    let doc = xml::parse(xml)?;
    let report = verify_document(&doc, opts)?;
    if !report.signature.valid() {
        return Ok((report, None));
    }
    let Ok(sig_node) = wrapping::locate_signature(&doc) else {
        return Ok((report, None));
    };
    let Ok(sig) = structure::parse_signature(&doc, sig_node) else {
        return Ok((report, None));
    };
    let emb = extend::embedded(&doc, sig_node);
    if !emb.has_lt_values && emb.archive_timestamps.is_empty() {
        return Ok((report, None));
    }
    let at = match opts.at {
        At::Instant(t) => t,
        At::SigningTime => report
            .signature
            .judged_at
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
    };
    let embedded_certs: Vec<Certificate> = emb
        .data
        .certificates
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    let mut unusable = Vec::new();
    let mut crls: Vec<Crl> = Vec::new();
    for d in &emb.data.crls {
        match Crl::from_der(d) {
            Ok(c) => crls.push(c),
            Err(e) => unusable.push(e.to_string()),
        }
    }
    let mut ocsps: Vec<OcspResponse> = Vec::new();
    for d in &emb.data.ocsps {
        match OcspResponse::from_der(d) {
            Ok(o) => ocsps.push(o),
            Err(e) => unusable.push(e.to_string()),
        }
    }
    let (archive_timestamps, poe_archive) = archive(&doc, &sig, &emb, opts, &embedded_certs, at)?;

    // The signature time-stamp, judged at the archive POE (or T).
    let ts_at = poe_archive.unwrap_or(at);
    let mut poe = None;
    let mut ts_valid = false;
    if let Some(q) = &sig.qualifying {
        'ts: for ts in &q.timestamps {
            let Ok(alg) = ts.c14n else { continue };
            let data = signature_value_octets(&doc, sig.signature_value_node, alg)?;
            for token in &ts.tokens {
                if let Ok(tv) = token_verdict(token, &data, opts, &embedded_certs, ts_at)
                    && tv.valid()
                {
                    ts_valid = true;
                    if trusted_of(&tv) == Some(true) {
                        poe = tv.info.as_ref().map(|i| i.gen_time.instant());
                        break 'ts;
                    }
                }
            }
        }
    }

    // The signer's chain: at T, else at the POE.
    let keyinfo: Vec<Certificate> = sig
        .certificates
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    let Some(signer) = keyinfo.first().cloned() else {
        return Ok((report, None));
    };
    let mut pool: Vec<Certificate> = keyinfo.iter().skip(1).cloned().collect();
    pool.extend(embedded_certs.iter().cloned());
    pool.extend(opts.intermediates.iter().cloned());
    let (chain, judged_at) = if opts.anchors.is_empty() {
        (None, at)
    } else {
        let now = x509::verify_chain(&signer, &pool, &opts.anchors, at, Usage::EmailProtection);
        match poe {
            Some(t) if !now.trusted => (
                Some(x509::verify_chain(
                    &signer,
                    &pool,
                    &opts.anchors,
                    t,
                    Usage::EmailProtection,
                )),
                t,
            ),
            _ => (Some(now), at),
        }
    };

    // Revocation of the path, as of T.
    let mut revocation = Vec::new();
    let mut revoked = None;
    let mut incomplete = Vec::new();
    for (c, issuer) in path(&signer, &pool, &opts.anchors) {
        let evidence = status_of(c, issuer, &crls, &ocsps, judged_at, &mut unusable);
        let note = if evidence.is_some() {
            None
        } else if revocation::pointers::crl_urls(c).is_empty()
            && revocation::pointers::ocsp_urls(c).is_empty()
        {
            Some("the certificate names no revocation service".to_owned())
        } else {
            incomplete.push(c.subject.clone());
            Some("no embedded revocation data for it".to_owned())
        };
        if let Some(Evidence {
            status: Status::Revoked { at: r, reason },
            ..
        }) = &evidence
            && *r <= at
            && revoked.is_none()
        {
            revoked = Some((c.subject.clone(), *r, *reason));
        }
        revocation.push(CertStatus {
            subject: c.subject.clone(),
            evidence,
            note,
        });
    }
    let level = if ts_valid && emb.has_lt_values && incomplete.is_empty() {
        if !archive_timestamps.is_empty() && poe_archive.is_some() {
            Some(LtLevel::BLta)
        } else {
            Some(LtLevel::BLt)
        }
    } else {
        None
    };
    Ok((
        report,
        Some(LongTerm {
            level,
            archive_timestamps,
            poe,
            judged_at,
            chain,
            revocation,
            revoked,
            incomplete,
            unusable,
        }),
    ))
}
