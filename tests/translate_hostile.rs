//! Hostile inputs through `ponte translate`: truncations (every 1/20th), byte flips inside the
//! signed content and deletions of top header fields of AgID kit REM messages and of the real
//! Namirial envelope, both directions. Whatever the damage, the binary never panics (no exit
//! 101, no "panicked" on stderr), and a refusal is exit 1 or 2 with exactly one stderr line
//! naming the input.

mod common;

use std::path::{Path, PathBuf};

use common::{KIT, World, corpus_file, run_ponte};

/// The inputs: three kit REM messages (a dispatch, a delivery receipt, a relay to a non-ERDS) and the
/// Namirial envelope.
fn inputs() -> Vec<PathBuf> {
    vec![
        corpus_file(&format!("{KIT}/Intra-REM-flow/REM_Dispatch.RA01.eml")),
        corpus_file(&format!(
            "{KIT}/Intra-REM-flow/REM_ContentConsignment1.RD01.eml"
        )),
        corpus_file(&format!("{KIT}/Outflow/REM_RelayToNonERDS.RF01.eml")),
        corpus_file("pec/real/namirial-busta-trasporto-2024.crlf.eml"),
    ]
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Where the top header ends (after the empty line).
fn body_start(raw: &[u8]) -> usize {
    find(raw, b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| find(raw, b"\n\n").map(|i| i + 2))
        .unwrap_or(0)
}

/// The byte range of the signed content of a `multipart/signed` message: from the first
/// boundary line after the top header to the second one. Flips inside it must break the
/// signature (or the structure).
fn signed_range(raw: &[u8]) -> std::ops::Range<usize> {
    let body = body_start(raw);
    let first = find(&raw[body..], b"--").map_or(body, |i| body + i);
    let line_end = find(&raw[first..], b"\n").map_or(first, |i| first + i + 1);
    let delim = raw[first..line_end].trim_ascii_end().to_vec();
    let second = find(&raw[line_end..], &delim).map_or(raw.len(), |i| line_end + i);
    line_end..second
}

/// The names of the top header fields, in order, with their byte ranges (continuations
/// included).
fn top_fields(raw: &[u8]) -> Vec<(String, std::ops::Range<usize>)> {
    let end = body_start(raw);
    let mut out: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    let mut pos = 0;
    while pos < end {
        let len = find(&raw[pos..end], b"\n").map_or(end - pos, |i| i + 1);
        let line = &raw[pos..pos + len];
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(last) = out.last_mut() {
                last.1.end = pos + len;
            }
        } else if let Some(c) = line.iter().position(|&b| b == b':') {
            out.push((
                String::from_utf8_lossy(&line[..c]).into_owned(),
                pos..pos + len,
            ));
        }
        pos += len;
    }
    out
}

/// One damaged input: its name, its bytes, and whether it must be refused.
struct Case {
    name: String,
    bytes: Vec<u8>,
    must_refuse: bool,
}

fn cases(input: &Path) -> Vec<Case> {
    let raw = std::fs::read(input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    let stem = input
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("input")
        .replace('.', "_");
    let mut v = Vec::new();
    // Truncations at every 1/20th: the closing boundary (and so the signature) is cut.
    for k in 0..20 {
        let at = raw.len() * k / 20;
        v.push(Case {
            name: format!("{stem}-cut{k:02}.eml"),
            bytes: raw[..at].to_vec(),
            must_refuse: true,
        });
    }
    // Byte flips inside the signed content, at 12 spread positions.
    let signed = signed_range(&raw);
    assert!(
        signed.len() > 100,
        "{}: no signed content found",
        input.display()
    );
    for k in 0..12 {
        let at = signed.start + (signed.len() - 1) * k / 11;
        let mut b = raw.clone();
        b[at] ^= 0x01;
        if b[at] == b'\r' || b[at] == b'\n' || raw[at] == b'\r' || raw[at] == b'\n' {
            // Turning a line break into another byte (or the reverse) is still damage.
            b[at] = b'#';
        }
        v.push(Case {
            name: format!("{stem}-flip{k:02}.eml"),
            bytes: b,
            must_refuse: true,
        });
    }
    // Each top header field deleted in turn. Only the REM-* relay metadata and the MIME
    // structure fields are known to be necessary; others may translate (exit 0).
    for (i, (field, range)) in top_fields(&raw).into_iter().enumerate() {
        let mut b = raw[..range.start].to_vec();
        b.extend_from_slice(&raw[range.end..]);
        let lower = field.to_ascii_lowercase();
        let necessary = [
            "rem-metadataversion",
            "rem-messagetype",
            "rem-eventidentifier",
            "rem-evidence-id",
            "rem-digestalgorithm",
            "rem-digestvalue",
            "rem-uamessageidentifier",
            "rem-md08",
            "content-type",
        ]
        .contains(&lower.as_str());
        v.push(Case {
            name: format!(
                "{stem}-del{i:02}-{}.eml",
                lower.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            ),
            bytes: b,
            must_refuse: necessary,
        });
    }
    v
}

/// Runs one case in one direction; returns the exit code after checking the invariants.
fn run(w: &World, case: &Case, to: &str, must_refuse: bool) -> i32 {
    let path = w.path(&case.name);
    std::fs::write(&path, &case.bytes).expect("write case");
    let out = w.path(&format!("{}.{to}.out", case.name));
    let o = run_ponte([
        "translate".to_string(),
        path.display().to_string(),
        "--to".into(),
        to.into(),
        "--config".into(),
        w.config.display().to_string(),
        "--at".into(),
        "signing-time".into(),
        "-o".into(),
        out.display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let code = o.status.code();
    let what = format!("{} --to {to}: exit {code:?}, stderr {stderr:?}", case.name);
    assert!(code.is_some(), "{what}: killed by a signal");
    assert_ne!(code, Some(101), "{what}: panicked");
    assert!(!stderr.contains("panicked"), "{what}");
    let code = code.unwrap_or(-1);
    assert!((0..=2).contains(&code), "{what}");
    if code == 0 {
        assert!(!must_refuse, "{what}: damaged input translated");
        assert!(out.exists(), "{what}: exit 0 without output");
    } else {
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: not one stderr line");
        assert!(lines[0].contains(&case.name), "{what}: input not named");
        assert!(!out.exists(), "{what}: output written for a refusal");
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&out);
    code
}

#[test]
fn damaged_inputs_never_panic_and_refusals_name_the_input() {
    let w = World::new();
    let mut counts = [0usize; 3];
    let mut total = 0;
    for input in inputs() {
        let is_rem = input
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("REM_"));
        for case in cases(&input) {
            for to in ["pec", "rem"] {
                // The wrong direction is always a refusal; the right one when damaged.
                let wrong = (to == "pec") != is_rem;
                let code = run(&w, &case, to, case.must_refuse || wrong);
                counts[code as usize] += 1;
                total += 1;
            }
        }
    }
    eprintln!(
        "{total} runs: {} translated, {} refused, {} unreadable",
        counts[0], counts[1], counts[2]
    );
    assert!(counts[1] > 0, "nothing was refused: {counts:?}");
}

#[test]
fn the_undamaged_inputs_translate_in_their_direction() {
    // The control: without damage the same inputs translate, so refusals above are earned.
    let w = World::new();
    for input in inputs() {
        let raw = std::fs::read(&input).expect("read");
        let is_rem = input
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("REM_"));
        let case = Case {
            name: format!(
                "intact-{}",
                input.file_name().and_then(|n| n.to_str()).unwrap_or("x")
            ),
            bytes: raw,
            must_refuse: false,
        };
        let code = run(&w, &case, if is_rem { "pec" } else { "rem" }, false);
        assert_eq!(code, 0, "{}", input.display());
    }
}
