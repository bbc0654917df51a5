//! End-to-end tests of the PEC <-> REM tables: `ponte mappings check [DIR]` on the
//! compiled-in tables and on a directory copy with one fault each, `ponte mappings show
//! [--json]`, and the library's `Tables::load`.

mod common;

use std::path::Path;
use std::process::Output;

use common::{repo, run_ponte};
use ponte::mappings::{self, Error, ProblemKind, Tables};

const FILES: [&str; 4] = ["events.toml", "headers.toml", "subjects.toml", "intro.toml"];

/// A temporary copy of the repository's `mappings/` tables.
fn copy_of_tables() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in FILES {
        std::fs::copy(repo().join("mappings").join(f), dir.path().join(f)).expect("copy table");
    }
    dir
}

/// Replaces `old` (which must occur exactly once) by `new` in `dir/file`.
fn edit(dir: &Path, file: &str, old: &str, new: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read table");
    assert_eq!(
        text.matches(old).count(),
        1,
        "{old:?} must occur once in {file}"
    );
    std::fs::write(&path, text.replace(old, new)).expect("write table");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn check(dir: &Path) -> Output {
    run_ponte(["mappings".as_ref(), "check".as_ref(), dir.as_os_str()])
}

/// Runs `check` on `dir`, expects exit 1 and a stderr line with every `needles` part.
fn expect_invalid(dir: &Path, needles: &[&str]) {
    let out = check(dir);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.lines().any(|l| needles.iter().all(|n| l.contains(n))),
        "no stderr line with {needles:?} in:\n{err}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout when invalid");
}

#[test]
fn compiled_in_tables_validate() {
    let out = run_ponte(["mappings", "check"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let t = mappings::builtin().expect("compiled-in tables");
    assert!(
        text.contains(&format!("{} event rows", t.events.row.len())),
        "{text}"
    );
    assert!(Tables::load(None).is_ok());
}

#[test]
fn repository_copy_validates_and_equals_compiled_in() {
    let dir = copy_of_tables();
    let out = check(dir.path());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let loaded = mappings::load_dir(dir.path()).expect("load copy");
    assert_eq!(loaded, mappings::builtin().expect("compiled-in tables"));
}

#[test]
fn duplicate_id_is_named() {
    let dir = copy_of_tables();
    edit(
        dir.path(),
        "events.toml",
        "id = \"presa-in-carico\"",
        "id = \"accettazione\"",
    );
    expect_invalid(
        dir.path(),
        &["events.toml", "row \"accettazione\"", "duplicate id"],
    );
}

#[test]
fn unknown_event_is_named() {
    let dir = copy_of_tables();
    edit(
        dir.path(),
        "events.toml",
        "event = \"RelayAcceptance\"",
        "event = \"RelayAccepted\"",
    );
    expect_invalid(
        dir.path(),
        &[
            "events.toml",
            "row \"presa-in-carico\"",
            "unknown REM event \"RelayAccepted\"",
        ],
    );
}

#[test]
fn unknown_reason_and_pec_kind_are_named() {
    let dir = copy_of_tables();
    edit(
        dir.path(),
        "events.toml",
        "reason = \"RB08\"",
        "reason = \"RB99\"",
    );
    edit(
        dir.path(),
        "events.toml",
        "pec = { kind = \"presa-in-carico\" }",
        "pec = { kind = \"presa-in-consegna\" }",
    );
    expect_invalid(
        dir.path(),
        &[
            "row \"errore-consegna-no-dominio\"",
            "unknown REM reason code \"RB99\"",
        ],
    );
    expect_invalid(
        dir.path(),
        &[
            "row \"presa-in-carico\"",
            "unknown PEC kind \"presa-in-consegna\"",
        ],
    );
    // The real kind is now untranslated too.
    expect_invalid(
        dir.path(),
        &["PEC kind \"presa-in-carico\" has no pec-to-rem row"],
    );
}

#[test]
fn missing_source_is_named() {
    let dir = copy_of_tables();
    edit(
        dir.path(),
        "events.toml",
        "sources = [\"RFC 6109 §3.1.3\", \"522-2 cl. 8.3.3 RA03 MalwareFound\"]",
        "sources = []",
    );
    expect_invalid(
        dir.path(),
        &[
            "events.toml",
            "row \"non-accettazione-virus\"",
            "no source cited",
        ],
    );
}

#[test]
fn uncovered_tipo_is_named() {
    let dir = copy_of_tables();
    // The only pec-to-rem row of rilevazione-virus now works the other way only.
    let text = std::fs::read_to_string(dir.path().join("events.toml")).expect("read");
    let row = text
        .split("[[row]]")
        .find(|r| r.contains("id = \"rilevazione-virus\""))
        .expect("rilevazione-virus row");
    let new_row = row.replace("direction = \"both\"", "direction = \"rem-to-pec\"");
    assert_ne!(row, new_row);
    std::fs::write(dir.path().join("events.toml"), text.replace(row, &new_row)).expect("write");
    expect_invalid(
        dir.path(),
        &[
            "events.toml",
            "PEC kind \"rilevazione-virus\" has no pec-to-rem row",
        ],
    );
}

#[test]
fn ambiguous_translation_is_named() {
    let dir = copy_of_tables();
    edit(
        dir.path(),
        "events.toml",
        "id = \"errore-consegna-virus\"\ndirection = \"pec-to-rem\"",
        "id = \"errore-consegna-virus\"\ndirection = \"both\"",
    );
    expect_invalid(
        dir.path(),
        &[
            "row \"rilevazione-virus\"",
            "receipt RelayRejection RB03",
            "rem-to-pec like row \"errore-consegna-virus\"",
        ],
    );
}

#[test]
fn uncovered_event_subject_and_intro_are_named() {
    let dir = copy_of_tables();
    edit(
        dir.path(),
        "subjects.toml",
        "\"rilevazione-virus\" = { prefix = \"PROBLEMA DI SICUREZZA: \", sources = [\"pec.md §1.2 #13\"] }\n",
        "",
    );
    edit(
        dir.path(),
        "intro.toml",
        "message = \"receipt\"",
        "message = \"dispatch\"",
    );
    expect_invalid(
        dir.path(),
        &[
            "subjects.toml",
            "PEC kind \"rilevazione-virus\" has no subject prefix",
        ],
    );
    expect_invalid(
        dir.path(),
        &["intro.toml", "row \"dispatch\"", "duplicate introduction"],
    );
    expect_invalid(
        dir.path(),
        &[
            "intro.toml",
            "REM message type \"receipt\" has no introduction",
        ],
    );
}

#[test]
fn library_load_returns_every_problem() {
    let dir = copy_of_tables();
    edit(
        dir.path(),
        "events.toml",
        "id = \"presa-in-carico\"",
        "id = \"accettazione\"",
    );
    edit(
        dir.path(),
        "events.toml",
        "event = \"RelayAcceptance\"",
        "event = \"RelayAccepted\"",
    );
    match Tables::load(Some(dir.path())) {
        Err(Error::Invalid { problems }) => {
            assert!(problems.iter().any(|p| p.kind == ProblemKind::DuplicateId));
            assert!(
                problems
                    .iter()
                    .any(|p| p.kind == ProblemKind::UnknownEvent("RelayAccepted".into()))
            );
            assert!(problems.iter().all(|p| p.file == "events.toml"));
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn unreadable_tables_exit_2_naming_the_file() {
    let dir = copy_of_tables();
    edit(
        dir.path(),
        "headers.toml",
        "[[row]]\npec = \"Reply-To\"",
        "[[row]\npec = \"Reply-To\"",
    );
    let out = check(dir.path());
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("headers.toml"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    std::fs::remove_file(dir.path().join("intro.toml")).expect("remove");
    let out = check(dir.path());
    assert_eq!(out.status.code(), Some(2));
    // All four files are read before any is parsed: the missing one is named first.
    assert!(stderr(&out).contains("intro.toml"), "{}", stderr(&out));

    let out = run_ponte(["mappings", "check", "/nonexistent-ponte-mappings"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent-ponte-mappings"));
}

#[test]
fn unknown_field_is_unreadable() {
    let dir = copy_of_tables();
    edit(
        dir.path(),
        "events.toml",
        "id = \"presa-in-carico\"",
        "id = \"presa-in-carico\"\nreviewd = \"yes\"",
    );
    let out = check(dir.path());
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("reviewd"), "{}", stderr(&out));
}

#[test]
fn show_json_round_trips() {
    let out = run_ponte(["mappings", "show", "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let shown: Tables = serde_json::from_slice(&out.stdout).expect("show --json is the model");
    assert_eq!(shown, mappings::builtin().expect("compiled-in tables"));
    assert!(mappings::validate(&shown).is_empty());

    // An override directory is shown as loaded, not as compiled in.
    let dir = copy_of_tables();
    edit(
        dir.path(),
        "subjects.toml",
        "\"CONSEGNA: \"",
        "\"AVVENUTA CONSEGNA: \"",
    );
    let out = run_ponte([
        "mappings".as_ref(),
        "show".as_ref(),
        "--json".as_ref(),
        "--dir".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let shown: Tables = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        shown
            .subjects
            .pec
            .get("avvenuta-consegna")
            .map(|s| s.prefix.as_str()),
        Some("AVVENUTA CONSEGNA: ")
    );
}

#[test]
fn show_prints_every_row() {
    let out = run_ponte(["mappings", "show"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let t = mappings::builtin().expect("compiled-in tables");
    for r in &t.events.row {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{} ", r.id))),
            "row {} missing",
            r.id
        );
    }
    for h in &t.headers.row {
        assert!(text.contains(&h.key()), "header {} missing", h.key());
    }
    for i in &t.intro.intro {
        assert!(text.contains(&i.it) && text.contains(&i.en));
    }
    assert!(text.contains("\"POSTA CERTIFICATA: \""));
}
