//! `ponte pec wrap` and `ponte pec receipt`.

use super::{Failure, Outcome};

/// `ponte pec ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

pub fn run(cmd: Command) -> Outcome {
    match cmd {}
}

#[allow(dead_code)]
fn unused() -> Failure {
    Failure(String::new())
}
