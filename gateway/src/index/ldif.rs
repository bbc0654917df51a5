//! LDIF snapshots (RFC 2849).
//!
//! [`parse`] reads any LDIF of IGPEC entries: one written by Ponte, one exported by `slapcat`
//! (operational attributes are ignored), or one written by hand — attributes in any order,
//! base64 (`::`) values, folded lines, comments, `providerCertificate;binary`, CRLF or LF,
//! an optional `version: 1` and `changetype: add` records. Entries that are not
//! `objectClass: provider` are skipped. [`write()`] produces the snapshot Ponte exports: plain
//! LDIF whose header comments record when the mirror was taken (`# synced-at: RFC 3339`).

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::Error;
use super::model::{Directory, Provider};

/// The comment key recording when a snapshot's data was fetched from the directory.
pub const SYNCED_AT: &str = "# synced-at: ";

/// A loaded snapshot: the directory and, when the snapshot says so, when it was taken.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The providers.
    pub directory: Directory,
    /// When the data was fetched from the directory (from the `# synced-at:` comment).
    pub synced_at: Option<SystemTime>,
}

/// One LDIF record: its DN and its attributes in file order (names as written, options kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The DN.
    pub dn: String,
    /// `(attribute description, value)` pairs.
    pub attrs: Vec<(String, Vec<u8>)>,
}

/// Splits LDIF text into records (RFC 2849 content records, and `changetype: add`).
pub fn records(text: &str) -> Result<Vec<Record>, Error> {
    let mut out = Vec::new();
    let mut current: Option<Record> = None;
    let mut seen_first = false;
    for (line_no, line) in logical_lines(text) {
        let err = |reason: String| Error::Ldif {
            line: line_no,
            reason,
        };
        if line.is_empty() {
            if let Some(r) = current.take() {
                out.push(r);
            }
            continue;
        }
        let (name, value) = split_attr_value(&line).map_err(err)?;
        match current.as_mut() {
            None => {
                if !seen_first && name.eq_ignore_ascii_case("version") {
                    seen_first = true;
                    if value != b"1" {
                        return Err(err("unsupported LDIF version".to_owned()));
                    }
                    continue;
                }
                seen_first = true;
                if !name.eq_ignore_ascii_case("dn") {
                    return Err(err(format!("record starts with {name:?}, expected dn")));
                }
                let dn = String::from_utf8(value).map_err(|_| err("dn is not UTF-8".to_owned()))?;
                current = Some(Record {
                    dn,
                    attrs: Vec::new(),
                });
            }
            Some(rec) => {
                if name.eq_ignore_ascii_case("changetype") {
                    if value.eq_ignore_ascii_case(b"add") {
                        continue;
                    }
                    return Err(err(format!(
                        "changetype {:?} is not supported (only content records and add)",
                        String::from_utf8_lossy(&value)
                    )));
                }
                if name.eq_ignore_ascii_case("control") {
                    continue;
                }
                rec.attrs.push((name.to_owned(), value));
            }
        }
    }
    if let Some(r) = current.take() {
        out.push(r);
    }
    Ok(out)
}

/// Parses a snapshot: every `objectClass: provider` entry becomes a [`Provider`].
pub fn parse(text: &str) -> Result<Snapshot, Error> {
    let mut providers = Vec::new();
    for rec in records(text)? {
        if let Some(p) = Provider::from_attributes(&rec.dn, &rec.attrs)? {
            providers.push(p);
        }
    }
    Ok(Snapshot {
        directory: Directory::new(providers),
        synced_at: synced_at(text),
    })
}

/// The `# synced-at:` instant of a snapshot written by [`write`], if present and readable.
fn synced_at(text: &str) -> Option<SystemTime> {
    let line = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix(SYNCED_AT))?;
    let t =
        time::OffsetDateTime::parse(line.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    Some(SystemTime::from(t))
}

/// Joins folded lines and drops comments. Yields `(first physical line number, logical line)`;
/// an empty logical line separates records.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut in_comment = false;
    let mut continuable = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = line.strip_prefix(' ') {
            if in_comment {
                continue;
            }
            if continuable && let Some((_, last)) = out.last_mut() {
                last.push_str(rest);
                continue;
            }
            // A continuation with nothing to continue: keep it, the parser will complain.
            out.push((i + 1, line.to_owned()));
            continuable = true;
            continue;
        }
        if line.starts_with('#') {
            in_comment = true;
            continue;
        }
        in_comment = false;
        continuable = !line.is_empty();
        out.push((i + 1, line.to_owned()));
    }
    out
}

/// Splits `attr: value`, `attr:: base64` (and refuses `attr:< URL`).
fn split_attr_value(line: &str) -> Result<(&str, Vec<u8>), String> {
    let (name, rest) = line
        .split_once(':')
        .ok_or_else(|| format!("expected \"attribute: value\", found {line:?}"))?;
    if name.is_empty() || name.starts_with(' ') {
        return Err(format!("line {line:?} has no attribute name"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b';' || b == b'.')
    {
        return Err(format!("invalid attribute description {name:?}"));
    }
    if let Some(b64) = rest.strip_prefix(':') {
        let cleaned: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = B64
            .decode(cleaned.as_bytes())
            .map_err(|e| format!("{name}: invalid base64: {e}"))?;
        return Ok((name, bytes));
    }
    if rest.starts_with('<') {
        return Err(format!(
            "{name}: URL values (:<) are not supported in snapshots"
        ));
    }
    Ok((name, rest.trim_start_matches(' ').as_bytes().to_vec()))
}

/// Writes the directory as a snapshot. `synced_at` is recorded as a header comment.
pub fn write(dir: &Directory, synced_at: Option<SystemTime>) -> String {
    let mut out = String::with_capacity(256 + dir.domain_count() * 40);
    out.push_str("# Ponte providers' index snapshot (AgID IGPEC entries, RFC 2849 LDIF).\n");
    if let Some(t) = synced_at {
        let t = time::OffsetDateTime::from(t);
        if let Ok(s) = t.format(&time::format_description::well_known::Rfc3339) {
            out.push_str(SYNCED_AT);
            out.push_str(&s);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "# providers: {}, domains: {}\nversion: 1\n",
        dir.providers().len(),
        dir.domain_count()
    ));
    for p in dir.providers() {
        out.push('\n');
        push_attr(&mut out, "dn", p.dn.as_bytes());
        push_attr(&mut out, "objectClass", b"top");
        push_attr(&mut out, "objectClass", b"provider");
        if !p.ldif_location_urls.is_empty() {
            push_attr(&mut out, "objectClass", b"LDIFLocationURLObject");
        }
        push_attr(&mut out, "providerName", p.name.as_bytes());
        push_attr(&mut out, "mailReceipt", p.mail_receipt.as_bytes());
        for h in &p.certificate_hashes {
            push_attr(&mut out, "providerCertificateHash", h.as_bytes());
        }
        for c in &p.certificates {
            push_b64(&mut out, "providerCertificate;binary", c);
        }
        for v in &p.description {
            push_attr(&mut out, "description", v.as_bytes());
        }
        for v in &p.ldif_location_urls {
            push_attr(&mut out, "LDIFLocationURL", v.as_bytes());
        }
        for v in &p.units {
            push_attr(&mut out, "providerUnit", v.as_bytes());
        }
        for d in &p.domains {
            push_attr(&mut out, "managedDomains", d.as_bytes());
        }
    }
    out
}

/// RFC 2849 SAFE-STRING: printable ASCII without NUL/CR/LF, not starting with space, `:`
/// or `<`; we also base64 values ending in a space.
fn is_safe(value: &[u8]) -> bool {
    let first_ok = value
        .first()
        .is_none_or(|&b| !matches!(b, b' ' | b':' | b'<'));
    first_ok
        && value.last() != Some(&b' ')
        && value
            .iter()
            .all(|&b| b.is_ascii() && b != 0 && b != b'\r' && b != b'\n')
}

fn push_attr(out: &mut String, name: &str, value: &[u8]) {
    if is_safe(value) {
        let line = format!("{name}: {}", String::from_utf8_lossy(value));
        push_folded(out, &line);
    } else {
        push_b64(out, name, value);
    }
}

fn push_b64(out: &mut String, name: &str, value: &[u8]) {
    let line = format!("{name}:: {}", B64.encode(value));
    push_folded(out, &line);
}

/// Folds at 76 columns (the line is ASCII here: safe strings or base64).
fn push_folded(out: &mut String, line: &str) {
    const WIDTH: usize = 76;
    let mut rest = line;
    let mut first = true;
    while !rest.is_empty() {
        let take = if first { WIDTH } else { WIDTH - 1 };
        let cut = rest
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(rest.len()))
            .take_while(|&i| i <= take)
            .last()
            .unwrap_or(rest.len());
        let cut = if cut == 0 { rest.len() } else { cut };
        let (head, tail) = rest.split_at(cut);
        if !first {
            out.push(' ');
        }
        out.push_str(head);
        out.push('\n');
        rest = tail;
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HAND: &str = "\
# written by hand, attributes in any order
version: 1

dn: o=postacert
objectClass: organization
o: postacert

# a folded comment
 that continues here
dn: providerName=Gestore Uno,o=postacert
managedDomains: PEC.Uno.test.
providerCertificate;binary:: AQID
 BAU=
mailReceipt: ricevute@pec.uno.test
objectclass: provider
providerName:: R2VzdG9yZSBVbm8=
providerCertificateHash: AA:BB
managedDomains: pec2.uno
 .test
description: leading
  space inside
entryUUID: 1f7c9e6a-0000-0000-0000-000000000000
creatorsName: cn=admin,o=postacert
createTimestamp: 20261124120000Z

dn:: cHJvdmlkZXJOYW1lPUR1ZSxvPXBvc3RhY2VydA==
changetype: add
objectClass: top
objectClass: provider
providerName: Due
mailReceipt: r@due.test
providerCertificateHash: 00
providerCertificate:: BgcI
managedDomains: due.test
";

    #[test]
    fn hand_written_ldif_with_every_edge_case() {
        let snap = match parse(HAND) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let dir = snap.directory;
        assert_eq!(dir.providers().len(), 2);
        let uno = match dir.provider_for("pec2.uno.test") {
            Ok(Some(p)) => p.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(uno.name, "Gestore Uno");
        assert_eq!(uno.domains, ["pec.uno.test", "pec2.uno.test"]);
        assert_eq!(uno.certificates, [vec![1u8, 2, 3, 4, 5]]);
        assert_eq!(uno.description, ["leading space inside"]);
        let due = match dir.provider_for("DUE.test") {
            Ok(Some(p)) => p.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(due.dn, "providerName=Due,o=postacert");
        assert_eq!(due.certificates, [vec![6u8, 7, 8]]);
        assert!(snap.synced_at.is_none());
    }

    #[test]
    fn crlf_and_errors_name_the_line() {
        let crlf = HAND.replace('\n', "\r\n");
        assert!(matches!(parse(&crlf), Ok(s) if s.directory.providers().len() == 2));
        let bad = "dn: x\nobjectClass: provider\nproviderCertificate:: ***\n";
        assert!(matches!(parse(bad), Err(Error::Ldif { line: 3, .. })));
        let nodn = "objectClass: provider\n";
        assert!(matches!(parse(nodn), Err(Error::Ldif { line: 1, .. })));
        let modify = "dn: x\nchangetype: modify\n";
        assert!(matches!(parse(modify), Err(Error::Ldif { line: 2, .. })));
        let url = "dn: x\njpegPhoto:< file:///etc/passwd\n";
        assert!(matches!(parse(url), Err(Error::Ldif { line: 2, .. })));
        let nocolon = "dn: x\ngarbage\n";
        assert!(matches!(parse(nocolon), Err(Error::Ldif { line: 2, .. })));
    }

    #[test]
    fn write_then_parse_is_identity_and_lines_are_folded() {
        let dir = match parse(HAND) {
            Ok(s) => s.directory,
            Err(e) => panic!("{e}"),
        };
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        let text = write(&dir, Some(at));
        assert!(text.lines().all(|l| l.len() <= 76), "{text}");
        let again = match parse(&text) {
            Ok(s) => s,
            Err(e) => panic!("{e}\n{text}"),
        };
        assert_eq!(again.directory, dir);
        assert_eq!(again.synced_at, Some(at));
        // Non-ASCII and leading-space values go base64.
        assert!(text.contains("description: leading space inside"));
        let mut long = String::new();
        push_attr(&mut long, "description", "è ".repeat(60).as_bytes());
        assert!(long.starts_with("description:: "));
    }
}
