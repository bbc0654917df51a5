//! `ponte tsa serve|stamp|verify`: the development time-stamping authority (RFC 3161, NOT
//! qualified), a client, and a token verifier.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use der::Decode;
use ponte::tsp::asn1::TimeStampReq;
use ponte::tsp::verify::{self, Expected, Trust, VerifyOptions};
use ponte::tsp::{
    ClientOptions, HashAlg, Imprint, RequestOptions, TimeStampRequest, client, server,
};

use super::{Failure, Outcome, load_certs, read_file, write_output};

/// `ponte tsa ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the development TSA (NOT qualified) until interrupted. Prints the listening address.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:3180 (port 0: any free port).
        #[arg(long)]
        listen: String,
        /// Directory keeping its key, certificate and serial counter
        /// (default: `ponte-tsa` under the OS temporary directory); only the serial counter
        /// with --key.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Sign with this key instead of the one made in --data: a PKCS#8 PEM file, or a
        /// `pkcs11:` URI (RFC 7512) naming a key in a token. Needs --cert.
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// The certificate of --key (PEM, with the timeStamping extended key usage).
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
    },
    /// Get a time-stamp for FILE (SHA-256 imprint, random nonce, certReq) or send a DER
    /// query made elsewhere (--query); checks the answer, writes the TimeStampResp (or the
    /// bare token with --token).
    Stamp {
        /// The data to time-stamp.
        #[arg(required_unless_present = "query")]
        file: Option<PathBuf>,
        /// A DER TimeStampReq to send as it is (e.g. from `openssl ts -query`).
        #[arg(long, conflicts_with = "file")]
        query: Option<PathBuf>,
        /// The TSA URL (http:// only).
        #[arg(long)]
        tsa: String,
        /// Imprint digest: sha256, sha384 or sha512.
        #[arg(long, default_value = "sha256")]
        digest: String,
        /// Write the bare token (CMS ContentInfo) instead of the TimeStampResp.
        #[arg(long)]
        token: bool,
        /// Output file (default: stdout).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
    },
    /// Verify a TimeStampResp or a bare token against the data it should cover.
    /// Exit 0: valid (and trusted when --tsa-trust or trusted lists are given); 1: not;
    /// 2: unreadable. With trusted lists the TSU is also trusted when it is a granted
    /// qualified time-stamping unit (TSA/QTST) at the token's genTime.
    Verify {
        /// The TimeStampResp (.tsr) or token (DER ContentInfo).
        file: PathBuf,
        /// The time-stamped data.
        #[arg(long, required_unless_present = "digest", conflicts_with = "digest")]
        data: Option<PathBuf>,
        /// The imprint digest in hex, instead of --data.
        #[arg(long)]
        digest: Option<String>,
        /// The imprint algorithm: sha256 (default), sha384, sha512, sha1 (legacy tokens).
        #[arg(long, default_value = "sha256")]
        alg: String,
        /// The nonce that was sent, in hex (checked when given).
        #[arg(long)]
        nonce: Option<String>,
        /// TSA trust anchors (PEM); repeatable. Without: trust is not judged.
        #[arg(long = "tsa-trust")]
        tsa_trust: Vec<PathBuf>,
        /// Extra certificates (PEM): intermediates, or the TSU certificate; repeatable.
        #[arg(long)]
        untrusted: Vec<PathBuf>,
        /// Trusted lists as a further source of trust (as `ponte trust check` takes them).
        #[command(flatten)]
        lists: super::trust::ListArgs,
        /// Instant to judge the TSU path at (RFC 3339). Default: the token's genTime.
        #[arg(long)]
        at: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `ponte tsa` command.
pub fn run(cmd: Command) -> Outcome {
    match cmd {
        Command::Serve {
            listen,
            data,
            key,
            cert,
        } => serve(&listen, data, key.as_deref().zip(cert.as_deref())),
        Command::Stamp {
            file,
            query,
            tsa,
            digest,
            token,
            out,
        } => stamp(
            file.as_deref(),
            query.as_deref(),
            &tsa,
            &digest,
            token,
            out.as_ref(),
        ),
        Command::Verify {
            file,
            data,
            digest,
            alg,
            nonce,
            tsa_trust,
            untrusted,
            lists,
            at,
            json,
        } => verify_cmd(
            &file,
            data.as_deref(),
            digest.as_deref(),
            &alg,
            nonce.as_deref(),
            &tsa_trust,
            &untrusted,
            &lists,
            at.as_deref(),
            json,
        ),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("tokio runtime: {e}")))
}

fn serve(listen: &str, data: Option<PathBuf>, identity: Option<(&Path, &Path)>) -> Outcome {
    let dir = data.unwrap_or_else(server::default_data_dir);
    let now = time::OffsetDateTime::now_utc();
    let tsa = match identity {
        None => server::DevTsa::open(&dir, now).map_err(|e| Failure::at(&dir, e))?,
        Some((key, cert)) => {
            let signing_key = super::load_key(key)?;
            server::DevTsa::with_key(&dir, signing_key, cert)
                .map_err(|e| Failure(format!("{}: {e}", super::key_label(key))))?
        }
    };
    let tsa = Arc::new(tsa);
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Failure(format!("--listen {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure(format!("--listen {listen}: {e}")))?;
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "ponte development TSA (NOT qualified) listening on http://{addr}/ \
                 certificate {} policy {}",
                tsa.cert_path().display(),
                tsa.tsu().policy()
            );
            let _ = out.flush();
        }
        let clock: ponte::service::tsa::Clock = Arc::new(time::OffsetDateTime::now_utc);
        let log: ponte::service::tsa::Log = Arc::new(|line| eprintln!("ponte tsa: {line}"));
        ponte::service::tsa::serve(listener, tsa, clock, log)
            .await
            .map_err(|e| Failure(format!("serve: {e}")))?;
        Ok(ExitCode::SUCCESS)
    })
}

fn hash_alg(name: &str) -> Result<HashAlg, Failure> {
    HashAlg::from_name(name).ok_or_else(|| Failure(format!("unknown digest algorithm {name:?}")))
}

fn stamp(
    file: Option<&Path>,
    query: Option<&Path>,
    url: &str,
    digest: &str,
    token_only: bool,
    out: Option<&PathBuf>,
) -> Outcome {
    let (input, query_der, expected) = match (file, query) {
        (_, Some(q)) => {
            let der = read_file(q)?;
            let req = TimeStampReq::from_der(&der)
                .map_err(|e| Failure::at(q, format!("not a DER TimeStampReq: {e}")))?;
            let alg_oid = req.message_imprint.hash_algorithm.oid;
            let alg = HashAlg::from_oid(&alg_oid)
                .ok_or_else(|| Failure::at(q, format!("imprint algorithm {alg_oid} unknown")))?;
            let imprint =
                Imprint::from_digest(alg, req.message_imprint.hashed_message.as_bytes().to_vec())
                    .map_err(|e| Failure::at(q, e))?;
            (
                q.to_path_buf(),
                der,
                Expected {
                    imprint,
                    nonce: req.nonce,
                },
            )
        }
        (Some(f), None) => {
            let alg = hash_alg(digest)?;
            let data = read_file(f)?;
            let req = TimeStampRequest::new(Imprint::of(alg, &data), &RequestOptions::default())
                .map_err(|e| Failure::at(f, e))?;
            let der = req.to_der().map_err(|e| Failure::at(f, e))?;
            (f.to_path_buf(), der, req.expected())
        }
        (None, None) => return Err(Failure("stamp: give FILE or --query".into())),
    };
    let rt = runtime()?;
    let answer = rt
        .block_on(client::post(url, &query_der, &ClientOptions::default()))
        .map_err(|e| Failure::at(&input, e))?;
    let verdict = verify::verify_response(&answer, &expected, &VerifyOptions::default())
        .map_err(|e| Failure::at(&input, format!("answer of {url}: {e}")))?;
    if let Some(why) = &verdict.invalid {
        eprintln!("ponte: {}: answer of {url} refused: {why}", input.display());
        return Ok(ExitCode::from(1));
    }
    let bytes = if token_only {
        verify::token_of_response(&answer).map_err(|e| Failure::at(&input, e))?
    } else {
        answer
    };
    write_output(out, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn verify_cmd(
    file: &Path,
    data: Option<&Path>,
    digest: Option<&str>,
    alg: &str,
    nonce: Option<&str>,
    tsa_trust: &[PathBuf],
    untrusted: &[PathBuf],
    lists: &super::trust::ListArgs,
    at: Option<&str>,
    json: bool,
) -> Outcome {
    let alg = hash_alg(alg)?;
    let imprint = match (data, digest) {
        (Some(d), _) => Imprint::of(alg, &read_file(d)?),
        (None, Some(h)) => {
            let bytes = unhex(h).ok_or_else(|| Failure(format!("--digest {h:?}: not hex")))?;
            Imprint::from_digest(alg, bytes).map_err(|e| Failure(format!("--digest: {e}")))?
        }
        (None, None) => return Err(Failure("verify: give --data or --digest".into())),
    };
    let nonce = match nonce {
        Some(h) => {
            let bytes = unhex(h).ok_or_else(|| Failure(format!("--nonce {h:?}: not hex")))?;
            Some(der::asn1::Int::new(&bytes).map_err(|e| Failure(format!("--nonce: {e}")))?)
        }
        None => None,
    };
    let at = match at {
        Some(s) => Some(
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|e| Failure(format!("--at {s:?}: {e}")))?,
        ),
        None => None,
    };
    let opts = VerifyOptions {
        anchors: load_certs(tsa_trust)?,
        extra_certs: load_certs(untrusted)?,
        at,
    };
    let lists = super::trust::optional_lists(lists)?;
    let der = read_file(file)?;
    let mut v = verify::verify(&der, &Expected { imprint, nonce }, &opts)
        .map_err(|e| Failure::at(file, e))?;
    // The lists as anchors: a qualified TSU at genTime is trusted; PEM anchors that trust
    // stay the override.
    let listed = match (&lists, &v.tsu, &v.info) {
        (Some(l), Some(tsu), Some(info)) if v.valid() => {
            let (q, why, j) = super::trust::tsu_by_lists(l, &tsu.der, info.gen_time.instant());
            if q {
                v.trusted = Some(Trust::Trusted);
            } else if !matches!(v.trusted, Some(Trust::Trusted)) {
                let before = match &v.trusted {
                    Some(Trust::NotTrusted(r)) => format!("{r}; "),
                    _ => String::new(),
                };
                v.trusted = Some(Trust::NotTrusted(format!(
                    "{before}{}",
                    why.unwrap_or_default()
                )));
            }
            Some((q, j))
        }
        _ => None,
    };
    let ok = v.valid() && !matches!(v.trusted, Some(Trust::NotTrusted(_)));
    if json {
        let info = v.info.as_ref();
        let obj = serde_json::json!({
            "valid": v.valid(),
            "reason": v.invalid.as_ref().map(ToString::to_string),
            "time": info.map(|i| i.gen_time.to_rfc3339()),
            "policy": info.map(|i| i.policy.to_string()),
            "serial": info.map(|i| hex(&i.serial)),
            "accuracy_ms": info.and_then(|i| i.accuracy).map(|a| a.as_duration().as_millis() as u64),
            "nonce": info.and_then(|i| i.nonce.as_deref().map(hex)),
            "imprint": info.map(|i| serde_json::json!({"alg": i.imprint_alg.to_string(), "digest": hex(&i.imprint)})),
            "tsu": v.tsu.as_ref().map(|t| serde_json::json!({"subject": t.subject, "issuer": t.issuer})),
            "trusted": v.trusted.as_ref().map(|t| matches!(t, Trust::Trusted)),
            "trust_reason": match &v.trusted { Some(Trust::NotTrusted(r)) => Some(r.clone()), _ => None },
            "qualified": v.qualified,
            "qualified_tsu": listed.as_ref().map(|(q, _)| *q),
            "trusted_list": listed.as_ref().map(|(_, j)| j),
        });
        println!("{obj}");
    } else {
        match &v.invalid {
            None => println!("{}: valid time-stamp", file.display()),
            Some(why) => println!("{}: NOT valid: {why}", file.display()),
        }
        if let Some(i) = &v.info {
            println!("  time    {}", i.gen_time.to_rfc3339());
            println!("  policy  {}", i.policy);
            println!("  serial  {}", hex(&i.serial));
        }
        if let Some(t) = &v.tsu {
            println!("  TSU     {}", t.subject);
        }
        match &v.trusted {
            None => println!("  trust   not judged (no --tsa-trust)"),
            Some(Trust::Trusted) => println!("  trust   trusted"),
            Some(Trust::NotTrusted(r)) => println!("  trust   NOT trusted: {r}"),
        }
        println!("  qualified {}", v.qualified);
        if let Some((_, j)) = &listed {
            println!("  trusted list: TSU {}", super::trust::list_line(j));
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
