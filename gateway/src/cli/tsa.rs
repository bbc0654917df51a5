//! `ponte tsa ...` (to be written)

use super::Outcome;

/// `ponte tsa ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

pub fn run(cmd: Command) -> Outcome {
    match cmd {}
}
