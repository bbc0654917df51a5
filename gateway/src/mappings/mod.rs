//! The PEC ⇄ REM correspondence tables of `mappings/` as data: event rows (PEC `tipo` /
//! `errore` / `errore-esteso` ⇄ REM message, ERDS event and reason code), header fields,
//! subject prefixes and the bilingual introduction texts.
//!
//! The tables are compiled in as the default ([`Tables::builtin`]) and can be replaced by a
//! directory holding the same four files ([`load::load_dir`]). [`validate::validate`] checks
//! them and returns every problem found as a value; [`Tables::load`] does both, as start-up
//! does.

use std::path::{Path, PathBuf};

pub mod load;
mod lookup;
mod model;
pub mod validate;

pub use load::{builtin, load_dir};
pub use model::*;
pub use validate::{Problem, ProblemKind, validate};

/// Errors of this module: a table that cannot be read at all, or (from [`Tables::load`]) tables
/// that were read but do not validate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A table file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A table file is not the expected TOML (syntax, a missing or unknown field, a wrong type).
    #[error("{file}: {message}")]
    Toml {
        /// The file (a path, or the file name of a compiled-in table).
        file: String,
        /// The TOML reader's description, with line and column.
        message: String,
    },
    /// The tables were read but do not validate: every problem found.
    #[error("{} problem(s) in the mapping tables, first: {}", problems.len(),
        problems.first().map(|p| p.to_string()).unwrap_or_default())]
    Invalid {
        /// The problems, in table order.
        problems: Vec<Problem>,
    },
}

impl Tables {
    /// The tables compiled into the binary (the reviewed `mappings/*.toml` of this release).
    pub fn builtin() -> Result<Tables, Error> {
        load::builtin()
    }

    /// The tables as start-up uses them: the directory `dir` when given (see
    /// [`load::load_dir`]), else the compiled-in ones; validated, with
    /// [`Error::Invalid`] listing every problem when they do not validate.
    pub fn load(dir: Option<&Path>) -> Result<Tables, Error> {
        let tables = match dir {
            Some(d) => load::load_dir(d)?,
            None => load::builtin()?,
        };
        let problems = validate::validate(&tables);
        if problems.is_empty() {
            Ok(tables)
        } else {
            Err(Error::Invalid { problems })
        }
    }

    /// The tables as pretty-printed JSON (the model, field for field), ending with a newline:
    /// what `ponte mappings show --json` prints and `GET /api/mappings` answers.
    pub fn to_json(&self) -> serde_json::Result<String> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }
}
