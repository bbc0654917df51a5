//! `ponte::mime::scan` against mail-parser's full parse: for every message of the corpus
//! (as stored and with LF endings), for Ponte's own outputs, and for mutations of them (cut
//! at every delimiter, delimiters glued to text), the scanner either gives exactly the
//! offsets of every part that mail-parser gives, or declines (the callers then parse in
//! full). It must never give other offsets: the signed bytes are sliced with them.

mod common;

use std::path::{Path, PathBuf};

use mail_parser::{MessageParser, PartType};
use ponte::mime::scan::{Body, Structure, scan};
use ponte::mime::source::{Bytes, FileSource};

type Outline = Vec<(usize, usize, usize, char)>;

fn full(raw: &[u8]) -> Option<Outline> {
    fn part(m: &mail_parser::Message<'_>, id: usize, out: &mut Outline) {
        let Some(p) = m.parts.get(id) else { return };
        let kind = match &p.body {
            PartType::Multipart(_) => 'M',
            PartType::Message(_) => 'R',
            _ => 'L',
        };
        out.push((
            p.offset_header as usize,
            p.offset_body as usize,
            p.offset_end as usize,
            kind,
        ));
        match &p.body {
            PartType::Multipart(ids) => {
                for i in ids {
                    part(m, *i as usize, out);
                }
            }
            PartType::Message(inner) => part(inner, 0, out),
            _ => {}
        }
    }
    let m = std::panic::catch_unwind(|| MessageParser::default().parse(raw)).ok()??;
    let mut out = Vec::new();
    part(&m, 0, &mut out);
    Some(out)
}

fn outline(s: &Structure) -> Outline {
    fn part(s: &Structure, id: usize, out: &mut Outline) {
        let Some(p) = s.part(id) else { return };
        let kind = match &p.body {
            Body::Multipart(_) => 'M',
            Body::Message(_) => 'R',
            Body::Leaf(_) => 'L',
        };
        out.push((p.offset_header, p.offset_body, p.offset_end, kind));
        match &p.body {
            Body::Multipart(ids) => {
                for i in ids {
                    part(s, *i, out);
                }
            }
            Body::Message(root) => part(s, *root, out),
            Body::Leaf(_) => {}
        }
    }
    let mut out = Vec::new();
    part(s, 0, &mut out);
    out
}

/// (scanned, declined) after checking one message; panics on a disagreement.
fn check(label: &str, raw: &[u8]) -> (usize, usize) {
    let Ok(s) = scan(&Bytes(raw)) else {
        return (0, 1);
    };
    let want = full(raw).unwrap_or_else(|| panic!("{label}: scanned but mail-parser fails"));
    let got = outline(&s);
    assert_eq!(got, want, "{label}: offsets differ");
    (1, 0)
}

fn emls(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            emls(&p, out);
        } else if p.extension().is_some_and(|x| x == "eml") {
            out.push(p);
        }
    }
}

fn lf(raw: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(raw)
        .replace("\r\n", "\n")
        .into_bytes()
}

/// Variants that exercise mail-parser's rules: cut right after each delimiter, and each
/// delimiter's line break removed (the delimiter glued to the previous line).
fn mutations(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut starts: Vec<usize> = memchr::memmem::find_iter(raw, b"\n--").collect();
    starts.truncate(12);
    for &i in &starts {
        out.push(raw[..i + 3].to_vec());
        let mut glued = raw.to_vec();
        glued.remove(i);
        out.push(glued);
    }
    out
}

#[test]
fn the_scanner_agrees_with_mail_parser_on_the_corpus() {
    let mut files = Vec::new();
    emls(&common::corpus(), &mut files);
    emls(&common::repo().join("tests"), &mut files);
    if files.is_empty() {
        assert!(std::env::var_os("CI").is_none(), "no corpus in CI");
        eprintln!("skipped: no corpus");
        return;
    }
    let (mut scanned, mut declined) = (0, 0);
    for f in &files {
        let raw = std::fs::read(f).expect("read");
        let label = f.display().to_string();
        for (l, bytes) in [
            (label.clone(), raw.clone()),
            (format!("{label} (LF)"), lf(&raw)),
        ] {
            let (s, d) = check(&l, &bytes);
            scanned += s;
            declined += d;
            for (k, m) in mutations(&bytes).iter().enumerate() {
                let (s, d) = check(&format!("{l} mutation {k}"), m);
                scanned += s;
                declined += d;
            }
        }
    }
    eprintln!(
        "{} files: {scanned} scanned, {declined} declined",
        files.len()
    );
    // What is declined, and why (fixtures include truncated and anonymised messages).
    for f in &files {
        let raw = std::fs::read(f).expect("read");
        if let Err(e) = scan(&Bytes(&raw)) {
            eprintln!("declined: {}: {}", f.display(), e.reason);
        }
    }
    assert!(scanned > files.len(), "the scanner reads most messages");
}

#[test]
fn a_file_source_gives_the_same_structure() {
    let mut files = Vec::new();
    emls(&common::corpus(), &mut files);
    let dir = tempfile::tempdir().expect("tempdir");
    for f in files.iter().take(20) {
        let raw = std::fs::read(f).expect("read");
        let Ok(mem) = scan(&Bytes(&raw)) else {
            continue;
        };
        let copy = dir.path().join("m.eml");
        std::fs::write(&copy, &raw).expect("write");
        let file = scan(&FileSource::open(&copy).expect("open")).expect("file scan");
        assert_eq!(outline(&mem), outline(&file), "{}", f.display());
        for (a, b) in mem.parts.iter().zip(&file.parts) {
            assert_eq!(a.media_type(), b.media_type(), "{}", f.display());
            assert_eq!(
                a.head.headers.len(),
                b.head.headers.len(),
                "{}",
                f.display()
            );
        }
    }
}
