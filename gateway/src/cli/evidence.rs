//! `ponte evidence ...` (to be written)

use super::Outcome;

/// `ponte evidence ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

pub fn run(cmd: Command) -> Outcome {
    match cmd {}
}
