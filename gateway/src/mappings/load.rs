//! Reading the tables: the compiled-in copy of `mappings/*.toml`, or a directory holding the
//! same four files. Reading does not validate (see [`mod@super::validate`]).

use std::path::Path;

use serde::de::DeserializeOwned;

use super::{Error, EventTable, HeaderTable, IntroTable, SubjectTable, Tables};

/// The file names of the four tables, in the order they are read.
pub const FILES: [&str; 4] = [EVENTS, HEADERS, SUBJECTS, INTRO];
/// File name of the event table.
pub const EVENTS: &str = "events.toml";
/// File name of the header table.
pub const HEADERS: &str = "headers.toml";
/// File name of the subject table.
pub const SUBJECTS: &str = "subjects.toml";
/// File name of the introduction texts.
pub const INTRO: &str = "intro.toml";

const BUILTIN_EVENTS: &str = include_str!("../../../mappings/events.toml");
const BUILTIN_HEADERS: &str = include_str!("../../../mappings/headers.toml");
const BUILTIN_SUBJECTS: &str = include_str!("../../../mappings/subjects.toml");
const BUILTIN_INTRO: &str = include_str!("../../../mappings/intro.toml");

/// The compiled-in tables. An error here means the release was built with unreadable tables
/// (the crate's tests exclude it); it names the file.
pub fn builtin() -> Result<Tables, Error> {
    from_texts(
        BUILTIN_EVENTS,
        BUILTIN_HEADERS,
        BUILTIN_SUBJECTS,
        BUILTIN_INTRO,
        |f| format!("(compiled-in) {f}"),
    )
}

/// The compiled-in text of one table file (`events.toml` ...), for operators who want a
/// starting copy to override; `None` for any other name.
pub fn builtin_text(file: &str) -> Option<&'static str> {
    match file {
        EVENTS => Some(BUILTIN_EVENTS),
        HEADERS => Some(BUILTIN_HEADERS),
        SUBJECTS => Some(BUILTIN_SUBJECTS),
        INTRO => Some(BUILTIN_INTRO),
        _ => None,
    }
}

/// Reads the tables from `dir`, which must hold all four files (`events.toml`,
/// `headers.toml`, `subjects.toml`, `intro.toml`): an override replaces the compiled-in tables
/// as a whole, never half of them. Errors name the file.
pub fn load_dir(dir: &Path) -> Result<Tables, Error> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
    };
    let events = read(EVENTS)?;
    let headers = read(HEADERS)?;
    let subjects = read(SUBJECTS)?;
    let intro = read(INTRO)?;
    from_texts(&events, &headers, &subjects, &intro, |f| {
        dir.join(f).display().to_string()
    })
}

/// Parses the four texts; `name` turns a file name into the name used in errors.
fn from_texts(
    events: &str,
    headers: &str,
    subjects: &str,
    intro: &str,
    name: impl Fn(&str) -> String,
) -> Result<Tables, Error> {
    Ok(Tables {
        events: parse::<EventTable>(events, &name(EVENTS))?,
        headers: parse::<HeaderTable>(headers, &name(HEADERS))?,
        subjects: parse::<SubjectTable>(subjects, &name(SUBJECTS))?,
        intro: parse::<IntroTable>(intro, &name(INTRO))?,
    })
}

fn parse<T: DeserializeOwned>(text: &str, file: &str) -> Result<T, Error> {
    toml::from_str(text).map_err(|e| Error::Toml {
        file: file.to_owned(),
        // toml's message spans several lines (a source excerpt); keep it on one.
        message: one_line(&e.to_string()),
    })
}

/// toml's message on one line, without its source excerpt (`69 | text`, `|  ^`): the line
/// and column are already in the first line.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_excerpt(l))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_excerpt(line: &str) -> bool {
    let rest = line.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.trim_start().starts_with('|')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_are_one_line_naming_file_and_position() {
        let err = parse::<EventTable>("[[row]]\nid = 1\n", "x/events.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("x/events.toml: "), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains('\n') && !err.contains(" | "), "{err}");
    }

    #[test]
    fn builtin_text_is_what_builtin_reads() {
        for f in FILES {
            assert!(builtin_text(f).is_some_and(|t| !t.is_empty()), "{f}");
        }
        assert!(builtin_text("other.toml").is_none());
    }
}
