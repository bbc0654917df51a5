//! `ponte index schema|lookup|sync|check-signer`: the providers' index (AgID IGPEC).
//!
//! - `ponte index schema [--format schema|ldif]`
//! - `ponte index lookup DOMAIN (--ldap URL [--base DN] [--bind DN --password-file F] | --ldif SNAPSHOT) [--json]`
//! - `ponte index sync --ldap URL [--base DN] [--bind DN --password-file F] [--ca-file PEM] -o SNAPSHOT.ldif [--json]`
//! - `ponte index check-signer CERT.pem (--ldap ... | --ldif ...) [--json]`
//!
//! With neither `--ldap` nor `--ldif`, the embedded default snapshot (test data) answers.
//! With both, the directory answers and the snapshot is the fallback when it is unreachable.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use serde_json::{Value, json};

use super::{Failure, Outcome, read_file, write_output};
use ponte::index::{self, CachePolicy, Index, LdapConfig, SystemClock, ldif, schema, signer};

/// `ponte index ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the IGPEC schema for OpenLDAP (slapd.conf `include` form, or cn=config LDIF).
    Schema {
        /// `schema` (slapd.conf form) or `ldif` (cn=config entry).
        #[arg(long, value_enum, default_value = "schema")]
        format: SchemaFormatArg,
    },
    /// Is DOMAIN a certified (PEC) domain, and which provider runs it?
    Lookup {
        /// The mail domain (any case; a trailing dot is ignored).
        domain: String,
        #[command(flatten)]
        source: SourceArgs,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Read the whole directory and write it as an LDIF snapshot.
    Sync {
        #[command(flatten)]
        ldap: LdapArgs,
        /// The snapshot to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Print one JSON object (`providers`, `domains`, `seconds`).
        #[arg(long)]
        json: bool,
    },
    /// Does this certificate belong to a PEC provider? Exit 0 when it does, 1 when not.
    CheckSigner {
        /// The certificate (PEM or DER).
        cert: PathBuf,
        #[command(flatten)]
        source: SourceArgs,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// The schema output form.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SchemaFormatArg {
    /// slapd.conf form (`attributetype` / `objectclass`), for `include`.
    Schema,
    /// cn=config LDIF (`cn=ponte-igpec,cn=schema,cn=config`).
    Ldif,
}

/// A directory connection, required.
#[derive(Debug, clap::Args)]
pub struct LdapArgs {
    /// Directory URL, `ldap://host:port` or `ldaps://host:port`.
    #[arg(long)]
    ldap: String,
    #[command(flatten)]
    conn: ConnArgs,
}

/// Where answers come from: a directory, a snapshot, or both (snapshot as fallback).
#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// Directory URL, `ldap://host:port` or `ldaps://host:port`.
    #[arg(long)]
    ldap: Option<String>,
    /// An LDIF snapshot (alone: answers from it; with --ldap: fallback when the directory fails).
    #[arg(long)]
    ldif: Option<PathBuf>,
    #[command(flatten)]
    conn: ConnArgs,
}

/// Connection options.
#[derive(Debug, clap::Args)]
pub struct ConnArgs {
    /// Search base.
    #[arg(long, default_value = index::DEFAULT_BASE)]
    base: String,
    /// Bind DN (simple bind); anonymous without it.
    #[arg(long, requires = "password_file")]
    bind: Option<String>,
    /// File holding the bind password (one trailing newline is ignored).
    #[arg(long, requires = "bind")]
    password_file: Option<PathBuf>,
    /// Trust anchors for ldaps:// (PEM, may hold several certificates); default: the system store.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Timeout of the connection and of each operation, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

impl ConnArgs {
    fn config(&self, url: &str) -> Result<LdapConfig, Failure> {
        let mut cfg = LdapConfig::new(url);
        cfg.base = self.base.clone();
        cfg.timeout = Duration::from_secs(self.timeout.max(1));
        if let Some(file) = &self.ca_file {
            let pem = read_file(file)?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| Failure::at(file, e))?;
                cfg.tls_roots.push(cert.as_ref().to_vec());
            }
            if cfg.tls_roots.is_empty() {
                return Err(Failure::at(file, "no CERTIFICATE in the file"));
            }
        }
        if let (Some(dn), Some(file)) = (&self.bind, &self.password_file) {
            let bytes = read_file(file)?;
            let pw =
                String::from_utf8(bytes).map_err(|_| Failure::at(file, "password is not UTF-8"))?;
            let pw = pw.strip_suffix('\n').unwrap_or(&pw);
            let pw = pw.strip_suffix('\r').unwrap_or(pw);
            cfg.bind = Some((dn.clone(), pw.to_owned()));
        }
        Ok(cfg)
    }
}

/// Runs `ponte index ...`.
pub fn run(cmd: Command) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("tokio runtime: {e}")))?;
    match cmd {
        Command::Schema { format } => {
            let f = match format {
                SchemaFormatArg::Schema => schema::SchemaFormat::SlapdConf,
                SchemaFormatArg::Ldif => schema::SchemaFormat::Ldif,
            };
            write_output(None, schema::render(f).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lookup {
            domain,
            source,
            json,
        } => rt.block_on(lookup(&domain, &source, json)),
        Command::Sync { ldap, output, json } => rt.block_on(sync(&ldap, &output, json)),
        Command::CheckSigner { cert, source, json } => {
            rt.block_on(check_signer(&cert, &source, json))
        }
    }
}

fn load_snapshot(path: &Path) -> Result<ldif::Snapshot, Failure> {
    let bytes = read_file(path)?;
    let text = String::from_utf8(bytes).map_err(|_| Failure::at(path, "LDIF is not UTF-8"))?;
    ldif::parse(&text).map_err(|e| Failure::at(path, e))
}

/// Builds the index for a command: directory, snapshot, or the embedded default.
/// Returns the index and a label naming the source for error messages.
fn open(source: &SourceArgs) -> Result<(Index, String), Failure> {
    let clock = Arc::new(SystemClock);
    let policy = CachePolicy::default();
    let snapshot = source.ldif.as_deref().map(load_snapshot).transpose()?;
    match &source.ldap {
        Some(url) => {
            let index = Index::with_ldap(source.conn.config(url)?, policy, clock);
            if let Some(s) = snapshot {
                index.load_snapshot(s);
            }
            Ok((index, url.clone()))
        }
        None => {
            let (s, label) = match (snapshot, &source.ldif) {
                (Some(s), Some(path)) => (s, path.display().to_string()),
                _ => (
                    ldif::parse(index::DEFAULT_SNAPSHOT)
                        .map_err(|e| Failure(format!("embedded default snapshot: {e}")))?,
                    "embedded default snapshot".to_owned(),
                ),
            };
            Ok((Index::from_snapshot(s, policy, clock), label))
        }
    }
}

fn print_json(v: &Value) -> Result<(), Failure> {
    let mut s = serde_json::to_string_pretty(v).map_err(|e| Failure(format!("json: {e}")))?;
    s.push('\n');
    write_output(None, s.as_bytes())
}

async fn lookup(domain: &str, source: &SourceArgs, json: bool) -> Outcome {
    let (index, label) = open(source)?;
    let a = match index.lookup(domain).await {
        Ok(a) => a,
        Err(e @ index::Error::InvalidDomain { .. }) => return Err(Failure(e.to_string())),
        Err(e) => return Err(Failure(format!("{label}: {e}"))),
    };
    if json {
        print_json(&a.to_json())?;
    } else {
        let what = match &a.provider {
            Some(p) => format!(
                "certified, provider {:?} (receipts to {})",
                p.name, p.mail_receipt
            ),
            None => "not certified".to_owned(),
        };
        let stale = if a.stale {
            format!(", stale: {}", a.directory_error.as_deref().unwrap_or(""))
        } else {
            String::new()
        };
        println!(
            "{}: {what} [source {}, age {} s{stale}]",
            a.domain,
            a.source.as_str(),
            a.age.as_secs()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn sync(args: &LdapArgs, output: &Path, json: bool) -> Outcome {
    let cfg = args.conn.config(&args.ldap)?;
    let started = Instant::now();
    let (dir, read) = cfg
        .fetch_directory_reported()
        .await
        .map_err(|e| Failure(format!("{}: {e}", args.ldap)))?;
    let seconds = started.elapsed().as_secs_f64();
    let text = ldif::write(&dir, Some(std::time::SystemTime::now()));
    // Write beside the target, then rename: a reader never sees a half-written snapshot.
    let mut tmp_name = output.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    write_output(Some(&tmp), text.as_bytes())?;
    std::fs::rename(&tmp, output).map_err(|e| Failure::at(output, e))?;
    if json {
        print_json(&json!({
            "providers": dir.providers().len(),
            "domains": dir.domain_count(),
            "seconds": seconds,
            "output": output.display().to_string(),
            "read": {
                "method": if read.split { "split-by-name" } else { "paged" },
                "searches": read.searches,
                "capped_searches": read.capped,
                "server_limit_seen": (read.capped > 0).then_some(read.largest_capped),
                "deepest_prefix": read.deepest_prefix,
                "page_size": cfg.page_size,
            },
        }))?;
    } else {
        let how = if read.split {
            format!(
                "the server capped the paged search at {} entries: read in {} searches by providerName prefix (up to {} characters)",
                read.largest_capped, read.searches, read.deepest_prefix
            )
        } else {
            format!("one paged search, pages of {}", cfg.page_size)
        };
        println!(
            "{}: {} providers, {} domains in {seconds:.3} s ({how})",
            output.display(),
            dir.providers().len(),
            dir.domain_count()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn check_signer(cert: &Path, source: &SourceArgs, json: bool) -> Outcome {
    let der = signer::certificate_der(&read_file(cert)?).map_err(|e| Failure::at(cert, e))?;
    let (index, label) = open(source)?;
    if source.ldap.is_some() {
        // A fresh full read; with a snapshot loaded, a failed read falls back to it.
        if let Err(e) = index.sync().await {
            if source.ldif.is_none() {
                return Err(Failure(format!("{label}: {e}")));
            }
            tracing::warn!(error = %e, "directory failed; checking against the snapshot");
        }
    }
    let ans = index
        .check_signer(&der)
        .await
        .map_err(|e| Failure(format!("{label}: {e}")))?;
    let fp = index::model::hex(&index::sha256_fingerprint(&der));
    let first = ans.owners.first();
    if json {
        print_json(&json!({
            "certificate": fp,
            "provider": first.map(|m| m.provider.to_json()),
            "matched_by": first.map(|m| m.by.as_str()),
            "owners": ans.owners.iter().map(|m| m.provider.name.clone()).collect::<Vec<_>>(),
            "source": ans.source.as_str(),
            "age_seconds": ans.age.as_secs(),
        }))?;
    } else {
        match first {
            Some(m) => println!(
                "{}: provider {:?} (by {}, sha256 {fp})",
                cert.display(),
                m.provider.name,
                m.by.as_str()
            ),
            None => println!(
                "{}: not a provider certificate (sha256 {fp})",
                cert.display()
            ),
        }
    }
    Ok(if first.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
