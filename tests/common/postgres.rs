//! A private PostgreSQL cluster for the tests (Debian `postgresql`): `initdb` in a temporary
//! folder, the server on a loopback port and a unix socket in that folder, run as an
//! unprivileged user when the tests run as root (`nobody`, through `setpriv`, which execs:
//! the child is the postmaster itself), stopped (fast shutdown, by its PID) when the last
//! holder drops it. One cluster per test binary, one database per test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::gateway::free_port;

/// Where Debian puts the server's programs.
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    child: Mutex<Option<Child>>,
    /// The unprivileged user it runs as (`None`: the tests' own user).
    run_as: Option<(u32, u32)>,
    databases: Mutex<u32>,
}

static CLUSTER: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());

/// Whether the PostgreSQL server programs are installed (required in CI).
pub fn have_postgres() -> bool {
    let found =
        Path::new(BIN).join("initdb").is_file() && Path::new(BIN).join("postgres").is_file();
    if !found && std::env::var_os("CI").is_some() {
        panic!(
            "PostgreSQL 15 ({BIN}) is required in CI but is not installed (.ci/run installs it)"
        );
    }
    if !found {
        eprintln!("skipped: PostgreSQL 15 is not installed ({BIN})");
    }
    found
}

/// The uid and gid of `nobody` when running as root.
fn unprivileged() -> Option<(u32, u32)> {
    let id = |flag: &str, who: &str| -> Option<u32> {
        let o = Command::new("id").args([flag, who]).output().ok()?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    let me = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return None;
    }
    Some((id("-u", "nobody")?, id("-g", "nobody")?))
}

impl Cluster {
    /// The cluster of this test binary (started by the first caller); `None` without
    /// PostgreSQL outside CI.
    pub fn get() -> Option<Arc<Cluster>> {
        if !have_postgres() {
            return None;
        }
        let mut g = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = g.upgrade() {
            return Some(c);
        }
        let c = Arc::new(Cluster::start(&[("fsync", "off")]));
        *g = Arc::downgrade(&c);
        Some(c)
    }

    /// A new cluster with these server settings (`-c name=value`).
    pub fn start(settings: &[(&str, &str)]) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let run_as = unprivileged();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let data = dir.path().join("data");
        let o = Cluster::command(run_as, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "ponte", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("spawn initdb");
        assert!(
            o.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("postgres.log")).expect("log");
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path().join("postgres.log"), Some(uid), Some(gid))
                .expect("chown log");
        }
        let mut cmd = Cluster::command(run_as, "postgres");
        cmd.arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
            ]);
        for (k, v) in settings {
            cmd.args(["-c", &format!("{k}={v}")]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn postgres");
        let c = Cluster {
            dir,
            port,
            child: Mutex::new(Some(child)),
            run_as,
            databases: Mutex::new(0),
        };
        c.wait_ready();
        c
    }

    fn command(run_as: Option<(u32, u32)>, program: &str) -> Command {
        let path = Path::new(BIN).join(program);
        match run_as {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new(Path::new(BIN).join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// The folder holding the unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The URL of database `db` (user `ponte`, no password: `trust` on loopback).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://ponte@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL with psql on database `db`; its stdout (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let o = Command::new(Path::new(BIN).join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "ponte",
            ])
            .args([
                "-d",
                db,
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .expect("spawn psql");
        assert!(
            o.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// A new, empty database; its name.
    pub fn database(&self, prefix: &str) -> String {
        let n = {
            let mut g = self.databases.lock().unwrap_or_else(|p| p.into_inner());
            *g += 1;
            *g
        };
        let name = format!("{prefix}_{n}");
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    /// Fast shutdown (SIGINT to the postmaster), waited for.
    pub fn stop(&self) {
        let Some(mut child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether it runs as an unprivileged user (as root: `nobody`).
    pub fn unprivileged(&self) -> bool {
        self.run_as.is_some()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
