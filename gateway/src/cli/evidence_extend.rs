//! `ponte evidence extend FILE --to B-LT|B-LTA [--tsa URL] [--chain PEM]... [--trust PEM]... [-o OUT]`:
//! embeds the validation data (certificates, CRLs and OCSP responses fetched over HTTP from
//! the certificates' pointers) and, for B-LTA, an archive time-stamp from `--tsa`. A B-B
//! evidence is time-stamped first (B-T) when `--tsa` is given. A B-LTA evidence extended to
//! B-LTA again gets the validation data of its last archive time-stamp and a new one (renewal).
//! Exit 0 extended, 2 unreadable input, unreachable service or usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Failure, Outcome, load_certs, read_file, rfc3339, write_output};
use ponte::fetch::Fetcher;
use ponte::fetch::validation::collect;
use ponte::revocation::{self, Status};
use ponte::x509::Certificate;
use ponte::xades::extend::{self, ValidationData};
use ponte::xades::longterm::LongTerm;
use ponte::xades::{self, At, VerifyOptions};

/// Arguments of `ponte evidence extend`.
#[derive(Debug, clap::Args)]
pub struct ExtendArgs {
    /// The signed evidence (XAdES-B-T, or B-B with --tsa).
    pub file: PathBuf,
    /// The level to reach: B-LT or B-LTA.
    #[arg(long = "to", value_parser = ["B-LT", "B-LTA"])]
    pub to: String,
    /// The RFC 3161 TSA (http URL) for the archive time-stamp (B-LTA), and for the signature
    /// time-stamp of a B-B evidence.
    #[arg(long)]
    pub tsa: Option<String>,
    /// Certificates completing the paths (intermediates, the TSU's CA; PEM); repeatable.
    #[arg(long)]
    pub chain: Vec<PathBuf>,
    /// Trust anchors (PEM): embedded too, so the whole path travels with the signature.
    #[arg(long)]
    pub trust: Vec<PathBuf>,
    /// Where to write the extended evidence (default: stdout).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

fn token_certs(token: &[u8]) -> Vec<Certificate> {
    ponte::cms::parse(token)
        .map(|sd| sd.certificates)
        .unwrap_or_default()
}

async fn timestamp(url: &str, data: &[u8]) -> Result<Vec<u8>, Failure> {
    ponte::tsp::timestamp(
        url,
        ponte::tsp::Imprint::sha256(data),
        &ponte::tsp::RequestOptions::default(),
        &ponte::tsp::ClientOptions::default(),
    )
    .await
    .map(|(t, _)| t)
    .map_err(|e| Failure(format!("{url}: {e}")))
}

/// Runs `ponte evidence extend`.
pub fn extend(a: ExtendArgs) -> Outcome {
    let mut signed = read_file(&a.file)?;
    let chain = load_certs(&a.chain)?;
    let anchors = load_certs(&a.trust)?;
    let fail = |e: ponte::xades::Error| Failure::at(&a.file, e);
    let report = xades::verify(
        &signed,
        &VerifyOptions {
            anchors: Vec::new(),
            intermediates: Vec::new(),
            tsa_anchors: Vec::new(),
            at: At::Instant(OffsetDateTime::now_utc()),
        },
    )
    .map_err(fail)?;
    if let Some(why) = &report.signature.invalid {
        return Err(Failure::at(
            &a.file,
            format!("the signature is not valid: {why}"),
        ));
    }
    let fetcher = Fetcher::default();
    let run = async {
        if !report.timestamp.present {
            let Some(url) = &a.tsa else {
                return Err(Failure::at(
                    &a.file,
                    "no SignatureTimeStamp (B-B): give --tsa to time-stamp it first",
                ));
            };
            let data = xades::timestamp_data(&signed).map_err(fail)?;
            let token = timestamp(url, &data).await?;
            signed = xades::augment_b_t(&signed, &token).map_err(fail)?;
        }
        let doc = ponte::xml::parse(&signed).map_err(|e| Failure::at(&a.file, e))?;
        let sig_node =
            ponte::xades::wrapping::locate_signature(&doc).map_err(|e| Failure::at(&a.file, e))?;
        let parsed = ponte::xades::structure::parse_signature(&doc, sig_node)
            .map_err(|e| Failure::at(&a.file, e))?;
        let embedded = extend::embedded(&doc, sig_node);
        let keyinfo: Vec<Certificate> = parsed
            .certificates
            .iter()
            .filter_map(|d| Certificate::from_der(d).ok())
            .collect();
        let mut pool: Vec<Certificate> = keyinfo.clone();
        pool.extend(chain.iter().cloned());
        pool.extend(anchors.iter().cloned());
        if !embedded.has_lt_values {
            let mut data = ValidationData::default();
            let mut leaves: Vec<Certificate> = keyinfo.first().cloned().into_iter().collect();
            for ts in parsed.qualifying.iter().flat_map(|q| q.timestamps.iter()) {
                for t in &ts.tokens {
                    let certs = token_certs(t);
                    pool.extend(certs.iter().cloned());
                    leaves.extend(certs);
                }
            }
            for anchor in &anchors {
                data.add_certificate(anchor.der());
            }
            collect(&fetcher, &leaves, &pool, &mut data)
                .await
                .map_err(|e| Failure::at(&a.file, e))?;
            signed = extend::augment_b_lt(&signed, &data).map_err(fail)?;
        } else if a.to == "B-LT" {
            return Err(Failure::at(
                &a.file,
                "already B-LT (CertificateValues present)",
            ));
        }
        if a.to == "B-LTA" {
            let Some(url) = &a.tsa else {
                return Err(Failure(
                    "--to B-LTA needs --tsa URL for the archive time-stamp".into(),
                ));
            };
            if let Some((_, _, tokens)) = embedded.archive_timestamps.last() {
                // Renewal: the previous archive time-stamp's validation data first.
                let mut data = ValidationData::default();
                let mut leaves = Vec::new();
                for t in tokens {
                    let certs = token_certs(t);
                    pool.extend(certs.iter().cloned());
                    leaves.extend(certs);
                }
                collect(&fetcher, &leaves, &pool, &mut data)
                    .await
                    .map_err(|e| Failure::at(&a.file, e))?;
                signed = extend::add_timestamp_validation_data(&signed, &data).map_err(fail)?;
            }
            let data = extend::archive_timestamp_data(&signed).map_err(fail)?;
            let token = timestamp(url, &data).await?;
            signed = extend::augment_b_lta(&signed, &token).map_err(fail)?;
        }
        Ok(())
    };
    Fetcher::block_on(run).map_err(|e| Failure(e.to_string()))??;
    write_output(a.output.as_ref(), &signed)?;
    Ok(ExitCode::SUCCESS)
}

/// Adds the long-term verdict to `ponte evidence verify --json`'s object: `signature.level`
/// (`B-LT`/`B-LTA` when earned), `signature.chain_trusted`, `judged_at`, `reason`, and
/// `long_term` {`level`, `poe`, `judged_at`, `archive_timestamps`, `revocation`, `revoked`,
/// `incomplete`}.
pub fn describe_long_term(out: &mut Value, lt: &LongTerm, judged: bool) {
    if let Some(level) = lt.level {
        out["signature"]["level"] = Value::String(level.to_string());
    }
    out["signature"]["judged_at"] = Value::String(rfc3339(lt.judged_at));
    if judged {
        out["signature"]["chain_trusted"] = Value::Bool(lt.trusted());
        out["signature"]["chain"] = json!(lt.chain.as_ref().map(|c| c.path.clone()));
    }
    if let Some(r) = lt.reason() {
        out["signature"]["reason"] = Value::String(r);
    } else if out["signature"]["valid"] == true {
        out["signature"]["reason"] = Value::Null;
    }
    out["long_term"] = json!({
        "level": lt.level.map(|l| l.to_string()),
        "poe": lt.poe.map(rfc3339),
        "judged_at": rfc3339(lt.judged_at),
        "archive_timestamps": lt.archive_timestamps.iter().map(|a| json!({
            "valid": a.valid, "trusted": a.trusted, "time": a.time.map(rfc3339),
            "judged_at": rfc3339(a.judged_at), "reason": a.reason,
        })).collect::<Vec<_>>(),
        "revocation": lt.revocation.iter().map(|c| json!({
            "subject": c.subject,
            "status": c.evidence.as_ref().map(|e| match &e.status {
                Status::Good => "good".to_owned(),
                Status::Revoked { .. } => "revoked".to_owned(),
                Status::Unknown => "unknown".to_owned(),
            }),
            "revoked_at": c.evidence.as_ref().and_then(|e| match &e.status {
                Status::Revoked { at, .. } => Some(rfc3339(*at)),
                _ => None,
            }),
            "reason": c.evidence.as_ref().and_then(|e| match &e.status {
                Status::Revoked { reason: Some(r), .. } => Some(revocation::reason_name(*r)),
                _ => None,
            }),
            "source": c.evidence.as_ref().map(|e| e.source),
            "this_update": c.evidence.as_ref().map(|e| rfc3339(e.this_update)),
            "note": c.note,
        })).collect::<Vec<_>>(),
        "revoked": lt.revoked.as_ref().map(|(s, at, _)| json!({"subject": s, "at": rfc3339(*at)})),
        "incomplete": lt.incomplete,
        "unusable": lt.unusable,
    });
}
