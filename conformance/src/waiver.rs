//! Waivers: `conformance/waivers.toml`, a table `[waivers]` of case-id pattern → reason.
//! A waived case must still fail; a waived case that passes fails the run (the waiver is
//! stale and must be removed), and so does a pattern that matches no case of the suite.
//!
//! ```toml
//! [waivers]
//! "rem.message.kit.relay-to-non-erds-*" = "the kit's RF messages state another digest"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::Error;

/// The loaded waivers.
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    /// Pattern → reason, in file order (sorted by pattern).
    pub entries: Vec<(String, String)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    waivers: BTreeMap<String, String>,
}

impl Waivers {
    /// Reads a waiver file. Every reason must say something.
    pub fn load(path: &Path) -> Result<Waivers, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Waivers::parse(&text).map_err(|message| Error::Toml {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses the text of a waiver file.
    pub fn parse(text: &str) -> Result<Waivers, String> {
        let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
        for (p, r) in &f.waivers {
            if r.trim().is_empty() {
                return Err(format!("waiver {p:?} has no reason"));
            }
            if p.trim().is_empty() {
                return Err("an empty waiver pattern".into());
            }
        }
        Ok(Waivers {
            entries: f.waivers.into_iter().collect(),
        })
    }

    /// The waiver (pattern, reason) covering a case id, if any.
    pub fn find(&self, id: &str) -> Option<(&str, &str)> {
        self.entries
            .iter()
            .find(|(p, _)| glob(p, id))
            .map(|(p, r)| (p.as_str(), r.as_str()))
    }
}

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether a case id is selected by `--filter`: a glob when it holds `*` or `?`, else a
/// substring of the id.
pub fn selects(filter: &str, id: &str) -> bool {
    if filter.contains(['*', '?']) {
        glob(filter, id)
    } else {
        id.contains(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("rem.*", "rem.message.x"));
        assert!(glob("*.ra01", "rem.dispatch.ra01"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exact.more"));
        assert!(selects("kit", "rem.kit.x"));
        assert!(!selects("kit*", "rem.kit.x"));
    }

    #[test]
    fn waivers_need_reasons() {
        let w = Waivers::parse("[waivers]\n\"a.*\" = \"known: b\"\n").unwrap();
        assert_eq!(w.find("a.x"), Some(("a.*", "known: b")));
        assert_eq!(w.find("b.x"), None);
        assert!(
            Waivers::parse("[waivers]\n\"a.*\" = \" \"\n")
                .unwrap_err()
                .contains("no reason")
        );
        assert!(Waivers::parse("[waiver]\n").is_err());
        assert!(Waivers::parse("").unwrap().entries.is_empty());
    }
}
