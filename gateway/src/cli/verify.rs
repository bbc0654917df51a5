//! `ponte verify FILE [--trust PEM]... [--at RFC3339|signing-time] [--json]`

use std::path::PathBuf;

use super::{Failure, Outcome};

/// Arguments of `ponte verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The message (.eml), CRLF or LF line endings.
    pub file: PathBuf,
    /// Trust anchors (PEM, may hold several certificates); repeatable.
    #[arg(long)]
    pub trust: Vec<PathBuf>,
    /// When to judge the chain: an RFC 3339 instant, or `signing-time` (the CMS signingTime). Default: now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print one JSON object describing the message and the verdicts.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Outcome {
    Err(Failure::at(&args.file, "verify: not yet implemented"))
}
