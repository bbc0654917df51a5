//! The conformance suite of PEC and REM: clause-cited vectors as data, a judge, subjects that
//! talk to the implementation under test, waivers and reports.
//!
//! * [`case`]: the case format and the loader (`suite.toml`, case files, locators, fixtures);
//! * [`mutate`]: the changes made to an input before the subject sees it (negative cases
//!   derived from corpus artefacts without copying them);
//! * [`judge`]: observation paths and matchers;
//! * [`subject`]: the [`Subject`] trait; [`cli`] and [`smtp`] implement it for tools and live
//!   gateways (Ponte's in-process subject lives in the `ponte` binary);
//! * [`runner`]: running a suite, outcomes, the exit rule;
//! * [`waiver`]: `waivers.toml` and id patterns;
//! * [`report`]: JSON, JUnit XML and HTML.
//!
//! This crate knows nothing of Ponte's internals: it sees files, commands, sockets and JSON.
//! `conformance/README.md` documents the case format, the observation each operation gives,
//! and how to run the suite against another implementation.
#![forbid(unsafe_code)]

pub mod case;
pub mod cli;
pub mod judge;
pub mod mutate;
pub mod report;
pub mod runner;
pub mod smtp;
pub mod subject;
pub mod waiver;

pub use case::{Case, Suite, load};
pub use runner::{Outcome, Progress, Report, RunOptions, run};
pub use subject::{Request, Subject, SubjectError};
pub use waiver::Waivers;

use std::path::PathBuf;

/// Errors of loading a suite or a waiver file (a case that fails is a result, not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// Which.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not the TOML it should be (syntax, unknown key, wrong type).
    #[error("{}: {message}", path.display())]
    Toml {
        /// Which file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// `suite.toml` is not valid (a root name, a fixture).
    #[error("{}: {problem}", path.display())]
    Suite {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A case is not valid (id, clauses, locator, matcher, mutation); the case is named.
    #[error("{}: {problem}", path.display())]
    Case {
        /// The case file.
        path: PathBuf,
        /// What is wrong, naming the case.
        problem: String,
    },
}
