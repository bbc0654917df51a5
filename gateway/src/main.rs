//! The `ponte` command. Exit codes everywhere: 0 = success / valid, 1 = refused / not valid,
//! 2 = unreadable input or usage error. Errors go to stderr as one line naming the input and the cause.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(&args);
    cli::run(args)
}
