//! `ponte index ...` (to be written)

use super::Outcome;

/// `ponte index ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

pub fn run(cmd: Command) -> Outcome {
    match cmd {}
}
