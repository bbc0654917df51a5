//! `ponte spool migrate|export|import`: the spool of a configuration, without the service.
//!
//! - `ponte spool migrate --config F`: applies the PostgreSQL spool's migrations not yet
//!   applied (`ponte serve` does it at start too); nothing to do for the embedded spool.
//! - `ponte spool export --config F [-o FILE]`: the whole spool as JSON Lines
//!   (`ponte::service::spool::transfer` documents the format), to FILE or stdout.
//! - `ponte spool import --config F FILE`: reads an export into the configuration's spool,
//!   which must hold no message (the file is checked whole before anything is written).
//!
//! An export from one configuration imported with another moves a queue between the embedded
//! spool and PostgreSQL. Stop the gateway first. Exit 0 when done, 2 otherwise (the cause
//! named: the configuration, the database, the file and its line).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ponte::service::spool::{Opened, transfer};

use super::{Failure, Outcome};

/// `ponte spool ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Apply the PostgreSQL spool's migrations not yet applied (serve does it at start).
    Migrate {
        /// The gateway configuration (its `[spool]`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Write the whole spool as JSON Lines (stop the gateway first).
    Export {
        /// The gateway configuration (its `[spool]`).
        #[arg(long)]
        config: PathBuf,
        /// The file to write (default: stdout).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
    },
    /// Read an export into the configuration's spool, which must hold no message.
    Import {
        /// The gateway configuration (its `[spool]`).
        #[arg(long)]
        config: PathBuf,
        /// The export (from `ponte spool export`).
        file: PathBuf,
    },
}

/// Runs a `spool` subcommand.
pub fn run(cmd: Command) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("spool: cannot start the runtime: {e}")))?;
    rt.block_on(async {
        match cmd {
            Command::Migrate { config } => migrate(&config).await,
            Command::Export { config, out } => export(&config, out.as_deref()).await,
            Command::Import { config, file } => import(&config, &file).await,
        }
    })
}

fn spool_config(path: &Path) -> Result<ponte::config::Spool, Failure> {
    let config = ponte::config::Config::load(path).map_err(|e| Failure(e.to_string()))?;
    Ok(config.service.spool)
}

async fn migrate(config: &Path) -> Outcome {
    let cfg = spool_config(config)?;
    let opened = Opened::open(&cfg, false)
        .await
        .map_err(|e| Failure(format!("spool migrate: {e}")))?;
    let Opened::Postgres(pg) = &opened else {
        println!("embedded spool {}: nothing to migrate", opened.describe());
        return Ok(ExitCode::SUCCESS);
    };
    let m = pg
        .migrate()
        .await
        .map_err(|e| Failure(format!("spool migrate: {e}")))?;
    if m.applied.is_empty() {
        println!("{}: schema version {}, up to date", pg.shown(), m.to);
    } else {
        let names: Vec<String> = m
            .applied
            .iter()
            .map(|(v, n)| format!("{v} ({n})"))
            .collect();
        println!(
            "{}: schema version {} -> {}: applied {}",
            pg.shown(),
            m.from,
            m.to,
            names.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the spool to read from it: it must exist (an embedded folder is not made; a
/// database must be at this build's schema version).
async fn open_existing(cfg: &ponte::config::Spool) -> Result<Opened, Failure> {
    if cfg.shared.is_none() && !cfg.path.join("state.redb").is_file() {
        return Err(Failure::at(
            &cfg.path,
            "no embedded spool here (no state.redb)",
        ));
    }
    let opened = Opened::open(cfg, false)
        .await
        .map_err(|e| Failure(format!("spool: {e}")))?;
    if let Opened::Postgres(pg) = &opened {
        let (have, want) = pg
            .schema_version()
            .await
            .map_err(|e| Failure(format!("spool: {e}")))?;
        if have != want {
            return Err(Failure(format!(
                "spool: {} is at schema version {have}, this ponte's is {want}: run `ponte spool migrate` (or `ponte serve`) first",
                pg.shown()
            )));
        }
    }
    Ok(opened)
}

async fn export(config: &Path, out: Option<&Path>) -> Outcome {
    let cfg = spool_config(config)?;
    let opened = open_existing(&cfg).await?;
    let now = time::OffsetDateTime::now_utc();
    let n = match out {
        Some(path) => {
            let tmp = path.with_extension("partial");
            let file = std::fs::File::create(&tmp).map_err(|e| Failure::at(&tmp, e))?;
            let mut w = std::io::BufWriter::new(file);
            let n = transfer::export(opened.portable(), &mut w, now)
                .await
                .map_err(|e| Failure(format!("spool export: {e}")))?;
            let file = w
                .into_inner()
                .map_err(|e| Failure::at(&tmp, e.error().to_string()))?;
            file.sync_all().map_err(|e| Failure::at(&tmp, e))?;
            std::fs::rename(&tmp, path).map_err(|e| Failure::at(path, e))?;
            n
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout());
            transfer::export(opened.portable(), &mut w, now)
                .await
                .map_err(|e| Failure(format!("spool export: {e}")))?
        }
    };
    eprintln!(
        "exported {} messages, {} correlation records, {} legal events from {}",
        n.messages,
        n.records,
        n.legal,
        opened.describe()
    );
    Ok(ExitCode::SUCCESS)
}

async fn import(config: &Path, file: &Path) -> Outcome {
    let cfg = spool_config(config)?;
    // Checked before the target is touched (an embedded folder is not made for a bad file).
    let check = std::fs::File::open(file).map_err(|e| Failure::at(file, e))?;
    transfer::check(&mut std::io::BufReader::new(check)).map_err(|e| Failure::at(file, e))?;
    let opened = Opened::open(&cfg, true)
        .await
        .map_err(|e| Failure(format!("spool import: {e}")))?;
    let path = file.to_path_buf();
    let open = move || -> std::io::Result<Box<dyn std::io::BufRead + Send>> {
        Ok(Box::new(std::io::BufReader::new(std::fs::File::open(
            &path,
        )?)))
    };
    let n = transfer::import(opened.portable(), &open)
        .await
        .map_err(|e| Failure(format!("spool import {}: {e}", file.display())))?;
    println!(
        "imported {} messages, {} correlation records, {} legal events into {}",
        n.messages,
        n.records,
        n.legal,
        opened.describe()
    );
    Ok(ExitCode::SUCCESS)
}
