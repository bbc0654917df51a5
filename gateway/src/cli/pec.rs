//! `ponte pec wrap` (the access point's transport envelope) and `ponte pec receipt` (the
//! receipts and notices about an envelope), each signed with the provider's key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use time::OffsetDateTime;

use super::{Failure, Outcome, load_cert, load_certs, load_key, read_file, write_output};
use ponte::mappings::Tables;
use ponte::pec::build::{
    self, About, Built, EnvelopeInput, Provider, ReceiptInput, ReceiptKind, SequenceIdentifiers,
};
use ponte::pec::{Errore, TipoRicevuta};

/// `ponte pec ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Act as the access point: the signed transport envelope (busta di trasporto) of a message.
    Wrap(WrapArgs),
    /// Emit the receipt or notice of a daticert `tipo` about an envelope.
    Receipt(ReceiptArgs),
}

/// The provider's signing identity, shared by both commands.
#[derive(Debug, clap::Args)]
pub struct Identity {
    /// The provider's private key: a PKCS#8 PEM file (RSA or ECDSA P-256), or a `pkcs11:` URI
    /// (RFC 7512) naming a key in a token.
    #[arg(long)]
    pub key: PathBuf,
    /// The provider's signing certificate (PEM).
    #[arg(long)]
    pub cert: PathBuf,
    /// Intermediate certificates to include in the signature (PEM); repeatable.
    #[arg(long)]
    pub chain: Vec<PathBuf>,
    /// The provider's name, as written in daticert `gestore-emittente`.
    #[arg(long)]
    pub provider: String,
    /// The provider's mail domain (system messages come from `posta-certificata@DOMAIN`).
    /// Default: the domain of the certificate's e-mail address.
    #[arg(long)]
    pub domain: Option<String>,
    /// Write here instead of stdout.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

/// Arguments of `ponte pec wrap`.
#[derive(Debug, clap::Args)]
pub struct WrapArgs {
    /// The original message as submitted by the user (.eml).
    pub original: PathBuf,
    /// A recipient that is not a PEC mailbox (`destinatari tipo="esterno"`); repeatable.
    #[arg(long)]
    pub external: Vec<String>,
    #[command(flatten)]
    pub identity: Identity,
}

/// Arguments of `ponte pec receipt`.
#[derive(Debug, clap::Args)]
pub struct ReceiptArgs {
    /// The daticert `tipo`: accettazione, non-accettazione, presa-in-carico, avvenuta-consegna,
    /// errore-consegna, preavviso-errore-consegna, rilevazione-virus.
    #[arg(long = "type")]
    pub tipo: String,
    /// The transport envelope (or the original message) the receipt is about.
    #[arg(long = "for")]
    pub about: PathBuf,
    /// The recipient the receipt is about (daticert `consegna`).
    #[arg(long)]
    pub recipient: Option<String>,
    /// The error class: no-dest, no-dominio, virus, altro.
    #[arg(long)]
    pub error: Option<String>,
    /// `errore-esteso`: the enhanced status code and reason (e.g. "5.1.1 - Gestore - indirizzo non valido").
    #[arg(long)]
    pub detail: Option<String>,
    /// The delivery receipt kind: completa, breve, sintetica.
    #[arg(long)]
    pub receipt: Option<String>,
    /// A recipient that is not a PEC mailbox; repeatable.
    #[arg(long)]
    pub external: Vec<String>,
    #[command(flatten)]
    pub identity: Identity,
}

pub fn run(cmd: Command) -> Outcome {
    match cmd {
        Command::Wrap(args) => wrap(args),
        Command::Receipt(args) => receipt(args),
    }
}

fn wrap(args: WrapArgs) -> Outcome {
    let original = read_file(&args.original)?;
    let signer = Loaded::new(&args.identity)?;
    let now = OffsetDateTime::now_utc();
    let tables = tables()?;
    let built = build::envelope(
        &EnvelopeInput {
            original: &original,
            provider: &signer.provider,
            external: &args.external,
            at: now,
            subject_prefix: prefix(&tables, build::SUBJECT_KEY_ENVELOPE)?,
            extra_parts: &[],
        },
        &mut identifiers()?,
    )
    .map_err(|e| Failure::at(&args.original, e))?;
    signer.sign_and_write(&built, &args.identity, &args.original)
}

fn receipt(args: ReceiptArgs) -> Outcome {
    let kind = ReceiptKind::from_tipo(&args.tipo).ok_or_else(|| {
        Failure(format!(
            "--type {}: not a receipt tipo (accettazione, non-accettazione, presa-in-carico, \
             avvenuta-consegna, errore-consegna, preavviso-errore-consegna, rilevazione-virus)",
            args.tipo
        ))
    })?;
    let errore = match args.error.as_deref() {
        None => Errore::parse("nessuno"),
        Some(v @ ("no-dest" | "no-dominio" | "virus" | "altro")) => Errore::parse(v),
        Some(v) => {
            return Err(Failure(format!(
                "--error {v}: expected no-dest, no-dominio, virus or altro"
            )));
        }
    };
    let ricevuta = match args.receipt.as_deref() {
        None => TipoRicevuta::parse("completa"),
        Some(v @ ("completa" | "breve" | "sintetica")) => TipoRicevuta::parse(v),
        Some(v) => {
            return Err(Failure(format!(
                "--receipt {v}: expected completa, breve or sintetica"
            )));
        }
    };
    let about = read_file(&args.about)?;
    let signer = Loaded::new(&args.identity)?;
    let tables = tables()?;
    let subject_prefix = prefix(&tables, kind.subject_key(&errore))?;
    let built = build::receipt(
        &ReceiptInput {
            kind,
            about: About::Message(&about),
            provider: &signer.provider,
            recipient: args.recipient.as_deref(),
            errore,
            detail: args.detail.as_deref(),
            ricevuta,
            external: &args.external,
            to: None,
            at: OffsetDateTime::now_utc(),
            subject_prefix,
            extra_parts: &[],
        },
        &mut identifiers()?,
    )
    .map_err(|e| Failure::at(&args.about, e))?;
    signer.sign_and_write(&built, &args.identity, &args.about)
}

/// The compiled-in mapping tables (subject prefixes), validated.
fn tables() -> Result<Tables, Failure> {
    Tables::load(None).map_err(|e| Failure(format!("mapping tables: {e}")))
}

/// The subject prefix of `key` in the tables.
fn prefix<'t>(tables: &'t Tables, key: &str) -> Result<&'t str, Failure> {
    tables
        .pec_subject_prefix(key)
        .ok_or_else(|| Failure(format!("mapping tables: no subject prefix for {key}")))
}

/// The identity loaded once: key, certificate, chain, and the provider it speaks for.
struct Loaded {
    key: ponte::crypto::SigningKey,
    cert: ponte::x509::Certificate,
    chain: Vec<ponte::x509::Certificate>,
    provider: Provider,
}

impl Loaded {
    fn new(id: &Identity) -> Result<Self, Failure> {
        let key = load_key(&id.key)?;
        let cert = load_cert(&id.cert)?;
        if !key.matches_spki(&cert.spki_der) {
            return Err(Failure(format!(
                "{}: this key does not belong to the certificate {}",
                super::key_label(&id.key),
                id.cert.display()
            )));
        }
        let chain = load_certs(&id.chain)?;
        let domain = match &id.domain {
            Some(d) => d.clone(),
            None => cert
                .email_sans
                .iter()
                .find_map(|e| e.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
                .ok_or_else(|| {
                    Failure::at(
                        &id.cert,
                        "no e-mail address in the certificate to take the provider domain from: give --domain",
                    )
                })?,
        };
        Ok(Loaded {
            key,
            cert,
            chain,
            provider: Provider {
                name: id.provider.clone(),
                domain,
            },
        })
    }

    fn sign_and_write(&self, built: &Built, id: &Identity, input: &Path) -> Outcome {
        let signed = built
            .sign(&self.key, &self.cert, &self.chain)
            .map_err(|e| Failure::at(input, e))?;
        write_output(id.output.as_ref(), &signed)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// A fresh identifier source: 8 random bytes as the per-process part.
fn identifiers() -> Result<SequenceIdentifiers, Failure> {
    Ok(SequenceIdentifiers {
        seed: super::random_seed()?,
        next: 1,
    })
}
