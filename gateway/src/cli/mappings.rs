//! `ponte mappings show|check`: the PEC ⇄ REM tables, as operators read and check them.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use ponte::mappings::{self, Error, Tables};

use super::{Failure, Outcome, write_output};

/// `ponte mappings ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the tables in use: events, headers, subjects, introductions.
    Show {
        /// Print the model as JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Show the tables of this directory instead of the compiled-in ones.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Validate the tables of DIR (default: the compiled-in ones). Exit 0 valid, 1 invalid
    /// (each problem on stderr, naming file and row), 2 unreadable.
    Check {
        /// A directory with events.toml, headers.toml, subjects.toml and intro.toml.
        dir: Option<PathBuf>,
    },
}

/// Runs a `mappings` subcommand.
pub fn run(cmd: Command) -> Outcome {
    match cmd {
        Command::Show { json, dir } => show(json, dir),
        Command::Check { dir } => check(dir),
    }
}

fn read(dir: Option<&PathBuf>) -> Result<Tables, Failure> {
    let loaded = match dir {
        Some(d) if !d.is_dir() => return Err(Failure::at(d, "not a directory")),
        Some(d) => mappings::load_dir(d),
        None => mappings::builtin(),
    };
    loaded.map_err(|e| match e {
        Error::Io { path, source } => Failure::at(path, source),
        other => Failure(other.to_string()),
    })
}

fn show(json: bool, dir: Option<PathBuf>) -> Outcome {
    let tables = read(dir.as_ref())?;
    let text = if json {
        tables
            .to_json()
            .map_err(|e| Failure(format!("mappings: cannot write JSON: {e}")))?
    } else {
        human(&tables)
    };
    write_output(None, text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn check(dir: Option<PathBuf>) -> Outcome {
    let tables = read(dir.as_ref())?;
    let problems = mappings::validate(&tables);
    let place = |file: &str| match &dir {
        Some(d) => d.join(file).display().to_string(),
        None => format!("(compiled-in) {file}"),
    };
    if problems.is_empty() {
        let t = &tables;
        println!(
            "valid: {} event rows, {} header rows, {} PEC subject prefixes, {} introductions",
            t.events.row.len(),
            t.headers.row.len(),
            t.subjects.pec.len(),
            t.intro.intro.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        match &p.row {
            Some(row) => eprintln!("{}: row {row:?}: {}", place(p.file), p.kind),
            None => eprintln!("{}: {}", place(p.file), p.kind),
        }
    }
    Ok(ExitCode::from(1))
}

fn or_dash(s: Option<&str>) -> &str {
    s.unwrap_or("-")
}

/// The tables as text: one line per row, what is lost and the sources indented under it.
fn human(t: &Tables) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "EVENTS (events.toml)");
    let _ = writeln!(
        s,
        "{:<30} {:<10} {:<48} {:<10} {:<26} {:<6} reviewed",
        "id", "direction", "pec", "rem", "event", "reason"
    );
    for r in &t.events.row {
        let line = format!(
            "{:<30} {:<10} {:<48} {:<10} {:<26} {:<6} {:<8}{}",
            r.id,
            r.direction.as_str(),
            r.pec.key(),
            r.rem.message,
            or_dash(r.rem.event.as_deref()),
            or_dash(r.rem.reason.as_deref()),
            r.reviewed.as_str(),
            if r.per_recipient {
                " per-recipient"
            } else {
                ""
            }
        );
        let _ = writeln!(s, "{}", line.trim_end());
        if !r.lost.is_empty() {
            let _ = writeln!(s, "    lost: {}", r.lost);
        }
        if let Some(n) = &r.note {
            let _ = writeln!(s, "    note: {n}");
        }
        let _ = writeln!(s, "    sources: {}", r.sources.join("; "));
    }
    let _ = writeln!(s, "\nHEADERS (headers.toml)");
    for r in &t.headers.row {
        let _ = writeln!(s, "{}", r.key());
        let _ = writeln!(s, "    how: {}", r.how);
        let _ = writeln!(s, "    sources: {}", r.sources.join("; "));
    }
    let _ = writeln!(s, "\nSUBJECTS (subjects.toml)");
    for (k, p) in &t.subjects.pec {
        let _ = writeln!(
            s,
            "pec {k:<28} {:<52} sources: {}",
            format!("{:?}", p.prefix),
            p.sources.join("; ")
        );
    }
    let rem = &t.subjects.rem;
    let _ = writeln!(s, "rem receipt pattern          {:?}", rem.pattern);
    let _ = writeln!(s, "rem dispatch                 {:?}", rem.dispatch);
    let _ = writeln!(s, "rem from non-ERDS            {:?}", rem.from_non_erds);
    let _ = writeln!(s, "    sources: {}", rem.sources.join("; "));
    let _ = writeln!(s, "\nINTRODUCTIONS (intro.toml)");
    for i in &t.intro.intro {
        let _ = writeln!(s, "{}", i.message);
        let _ = writeln!(s, "    it: {}", i.it);
        let _ = writeln!(s, "    en: {}", i.en);
        let _ = writeln!(s, "    sources: {}", i.sources.join("; "));
    }
    s
}
