//! Tests of the correlation store: record and find by every identifier (file and memory
//! stores), persistence across reopening, concurrent writers (threads sharing one store and
//! threads each with its own handle, as separate processes would be), and a torn last line.

use std::io::Write as _;
use std::sync::Arc;

use ponte::correlate::{Direction, FileStore, MemoryStore, Record, Store};

fn record(tag: &str) -> Record {
    Record {
        direction: Direction::PecToRem,
        created: "2026-11-24T21:00:00Z".into(),
        pec_identificativo: Some(format!("opec.{tag}@pec.prova.test")),
        pec_msgid: Some(format!("<user.{tag}@mittente.test>")),
        rem_message_id: Some(format!("<rem.{tag}@rem.prova.test>")),
        rem_ua_message_id: Some(format!("<ua.{tag}@mittente.test>")),
        evidence_ids: vec![format!("evid-{tag}-1"), format!("evid-{tag}-2")],
        input: format!("{tag}.eml"),
        output_message_id: format!("<out.{tag}@rem.prova.test>"),
        kind: "dispatch".into(),
        dispatch: None,
        sender_assurance: None,
    }
}

/// Every identifier of `r`, in the form a later message would carry it (with and without <>).
fn ids(r: &Record) -> Vec<String> {
    let mut v = vec![
        r.pec_identificativo.clone().unwrap_or_default(),
        format!("<{}>", r.pec_identificativo.clone().unwrap_or_default()),
        r.pec_msgid.clone().unwrap_or_default(),
        r.pec_msgid
            .clone()
            .unwrap_or_default()
            .trim_matches(['<', '>'])
            .to_owned(),
        r.rem_message_id.clone().unwrap_or_default(),
        r.rem_ua_message_id
            .clone()
            .unwrap_or_default()
            .trim_matches(['<', '>'])
            .to_owned(),
        r.output_message_id.clone(),
    ];
    v.extend(r.evidence_ids.iter().cloned());
    v
}

fn record_and_find_by_each_id(store: &dyn Store) {
    let a = record("a");
    let mut b = record("b");
    b.direction = Direction::RemToPec;
    b.kind = "avvenuta-consegna".into();
    store.record(&a).expect("record a");
    store.record(&b).expect("record b");
    for (r, other) in [(&a, &b), (&b, &a)] {
        for id in ids(r) {
            let found = store.find(&id).expect("find");
            assert_eq!(found, vec![r.clone()], "find({id:?})");
            assert!(!found.contains(other));
        }
    }
    assert!(store.find("nobody@nowhere.test").expect("find").is_empty());
    assert!(
        store.find("a.eml").expect("find").is_empty(),
        "input is not an id"
    );
    // A receipt naming the same message twice (two records with one shared id) finds both.
    let mut a2 = record("a2");
    a2.rem_ua_message_id = a.rem_ua_message_id.clone();
    store.record(&a2).expect("record a2");
    let both = store.find("ua.a@mittente.test").expect("find");
    assert_eq!(both, vec![a.clone(), a2], "oldest first");
}

#[test]
fn memory_store_finds_by_every_id() {
    record_and_find_by_each_id(&MemoryStore::new());
}

#[test]
fn file_store_finds_by_every_id_and_persists_across_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("corr.jsonl");
    {
        let store = FileStore::open(&path).expect("open");
        record_and_find_by_each_id(&store);
    }
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.lines().count(), 3, "one line per record:\n{text}");
    assert!(text.ends_with('\n'));
    assert!(text.contains("\"direction\":\"rem-to-pec\""), "{text}");
    let reopened = FileStore::open(&path).expect("reopen");
    let found = reopened.find("<rem.b@rem.prova.test>").expect("find");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, "avvenuta-consegna");
    assert_eq!(found[0].direction, Direction::RemToPec);
    let scan = reopened.scan().expect("scan");
    assert_eq!(scan.records.len(), 3);
    assert!(scan.skipped.is_empty());
}

#[test]
fn opening_in_a_missing_folder_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("no/such/folder/corr.jsonl");
    let err = FileStore::open(&path).expect_err("must fail");
    assert!(
        err.to_string().contains("no/such/folder/corr.jsonl"),
        "{err}"
    );
}

#[test]
fn concurrent_writers_lose_nothing_and_never_interleave() {
    const THREADS: usize = 8;
    const EACH: usize = 25;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("corr.jsonl");
    let shared = Arc::new(FileStore::open(&path).expect("open"));
    let mut handles = Vec::new();
    for t in 0..THREADS {
        let shared = Arc::clone(&shared);
        let path = path.clone();
        handles.push(std::thread::spawn(move || {
            // Half the threads share one store (the Mutex), half open their own handle, as
            // separate processes do (O_APPEND, one write per line).
            let own = (t % 2 == 1).then(|| FileStore::open(&path).expect("open own"));
            for i in 0..EACH {
                let mut r = record(&format!("t{t}-{i}"));
                // Long lines make interleaving visible if writes were split.
                r.evidence_ids
                    .extend((0..50).map(|k| format!("evid-t{t}-{i}-{k:04}")));
                match &own {
                    Some(s) => s.record(&r).expect("record own"),
                    None => shared.record(&r).expect("record shared"),
                }
            }
        }));
    }
    for h in handles {
        h.join().expect("writer thread");
    }
    let scan = shared.scan().expect("scan");
    assert!(
        scan.skipped.is_empty(),
        "interleaved lines: {:?}",
        scan.skipped
    );
    assert_eq!(scan.records.len(), THREADS * EACH);
    // Every non-empty line is one whole record. An empty line may appear: a writer that
    // looks at the end of the file while another handle's append is in flight sees no final
    // newline and starts its own line with one (harmless, skipped by readers).
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), THREADS * EACH);
    for l in &lines {
        assert!(
            serde_json::from_str::<Record>(l).is_ok(),
            "not a whole record: {l}"
        );
    }
    for t in 0..THREADS {
        for i in 0..EACH {
            let tag = format!("t{t}-{i}");
            let found = shared
                .find(&format!("<out.{tag}@rem.prova.test>"))
                .expect("find");
            assert_eq!(found.len(), 1, "{tag}");
            assert_eq!(found[0].input, format!("{tag}.eml"));
        }
    }
}

/// The writer half of `separate_processes_append_whole_lines`, run in a child process
/// (`--ignored --exact`) with the store path and a tag in the environment. Run alone (e.g.
/// `--include-ignored`), it writes into a store of its own; either way it checks that its
/// own records are all there.
#[test]
#[ignore = "run as a child process by separate_processes_append_whole_lines"]
fn child_writer() {
    let own = tempfile::tempdir().expect("temp dir");
    let path = std::env::var_os("PONTE_CORR_PATH")
        .map_or_else(|| own.path().join("corr.jsonl"), std::path::PathBuf::from);
    let tag = std::env::var("PONTE_CORR_TAG").unwrap_or_else(|_| "alone".into());
    let store = FileStore::open(&path).expect("open");
    for i in 0..PROC_EACH {
        let mut r = record(&format!("{tag}-{i}"));
        r.evidence_ids
            .extend((0..50).map(|k| format!("evid-{tag}-{i}-{k:04}")));
        store.record(&r).expect("record");
    }
    for i in 0..PROC_EACH {
        let id = format!("<out.{tag}-{i}@rem.prova.test>");
        assert_eq!(store.find(&id).expect("find").len(), 1, "{id}");
    }
}

const PROCESSES: usize = 3;
const PROC_EACH: usize = 30;

#[test]
fn separate_processes_append_whole_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("corr.jsonl");
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            std::process::Command::new(&exe)
                .args(["--ignored", "--exact", "child_writer", "--test-threads=1"])
                .env("PONTE_CORR_PATH", &path)
                .env("PONTE_CORR_TAG", format!("p{p}"))
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn child writer")
        })
        .collect();
    for mut c in children {
        assert!(
            c.wait().expect("wait child").success(),
            "child writer failed"
        );
    }
    let store = FileStore::open(&path).expect("open");
    let scan = store.scan().expect("scan");
    assert!(scan.skipped.is_empty(), "{:?}", scan.skipped);
    assert_eq!(scan.records.len(), PROCESSES * PROC_EACH);
    for p in 0..PROCESSES {
        for i in 0..PROC_EACH {
            let id = format!("evid-p{p}-{i}-0049");
            assert_eq!(store.find(&id).expect("find").len(), 1, "{id}");
        }
    }
}

#[test]
fn torn_last_line_is_reported_not_fatal_and_the_next_record_survives() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("corr.jsonl");
    let store = FileStore::open(&path).expect("open");
    store.record(&record("before")).expect("record");
    // A writer that died in the middle of its line.
    let whole = serde_json::to_string(&record("torn")).expect("json");
    let cut = &whole[..whole.len() / 2];
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open append")
        .write_all(cut.as_bytes())
        .expect("write torn");

    let scan = store.scan().expect("scan tolerates the torn line");
    assert_eq!(scan.records.len(), 1);
    assert_eq!(scan.skipped.len(), 1);
    assert_eq!(scan.skipped[0].line, 2);
    assert!(scan.skipped[0].torn);
    assert_eq!(
        store.find("out.before@rem.prova.test").expect("find").len(),
        1
    );
    assert!(
        store
            .find("out.torn@rem.prova.test")
            .expect("find")
            .is_empty()
    );

    // The next append starts on a fresh line: the torn fragment does not swallow it.
    store.record(&record("after")).expect("record after");
    let scan = store.scan().expect("scan");
    assert_eq!(scan.records.len(), 2);
    assert_eq!(scan.skipped.len(), 1);
    assert_eq!(scan.skipped[0].line, 2);
    assert!(!scan.skipped[0].torn, "now a malformed line in the middle");
    assert_eq!(
        store
            .find("<out.after@rem.prova.test>")
            .expect("find")
            .len(),
        1
    );
    let reopened = FileStore::open(&path).expect("reopen");
    assert_eq!(reopened.find("evid-after-2").expect("find").len(), 1);
}

#[test]
fn unknown_fields_and_directions_from_other_versions_are_carried() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("corr.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"direction":"rem-to-rem","created":"2027-01-01T00:00:00Z","rem_message_id":"<x@y.test>","#,
            r#""evidence_ids":[],"input":"i","output_message_id":"<o@y.test>","kind":"relay","future":1}"#,
            "\n"
        ),
    )
    .expect("write");
    let store = FileStore::open(&path).expect("open");
    let found = store.find("x@y.test").expect("find");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].direction, Direction::Other("rem-to-rem".into()));
    assert_eq!(found[0].pec_msgid, None);
}

#[test]
fn records_with_line_breaks_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileStore::open(&dir.path().join("c.jsonl")).expect("open");
    let mut r = record("nl");
    r.output_message_id = "<a\r\nb@c>".into();
    assert!(store.record(&r).is_err());
    assert!(MemoryStore::new().record(&r).is_err());
    assert!(store.scan().expect("scan").records.is_empty());
}
