//! A throwaway PostgreSQL cluster with `wal_level=logical` for change feed
//! tests: `initdb` in a temp dir (as the `postgres` user when run as root:
//! initdb refuses root), a free port, started once per test binary. It is
//! stopped, and its directory removed, when the test binary exits: a shell
//! holds it and waits on a pipe from this process, which closes at exit.
//!
//! Without `initdb` the tests are skipped with a note, except under
//! `CI=true`, where that fails them.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The running cluster.
pub struct LogicalPg {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    _keeper: Mutex<Child>,
}

static CLUSTER: OnceLock<Option<LogicalPg>> = OnceLock::new();

fn bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("HERALD_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Run `program args` as the `postgres` user when we are root.
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// The shared cluster, started on first use; `None` (with a note) when
/// PostgreSQL's server binaries are missing and `CI` is not `true`.
pub fn cluster() -> Option<&'static LogicalPg> {
    CLUSTER.get_or_init(start).as_ref()
}

fn start() -> Option<LogicalPg> {
    let Some(bin) = bin_dir() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "initdb not found under /usr/lib/postgresql/*/bin (set HERALD_TEST_PG_BIN): change feed tests need it"
            );
        }
        eprintln!("NOTE: skipping change feed tests: initdb not found (install postgresql)");
        return None;
    };
    let root = is_root();
    let dir =
        std::env::temp_dir().join(format!("herald-logical-pg-{}-{:x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("create cluster dir");
    if root {
        let ok = Command::new("chown").arg("postgres:postgres").arg(&dir).status().map(|s| s.success());
        assert_eq!(ok.ok(), Some(true), "chown {} to postgres", dir.display());
    }
    let data = dir.join("data");
    let out = as_owner(root, &bin.join("initdb"))
        .current_dir(&dir)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .expect("run initdb");
    assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
    let port = free_port();
    let script = format!(
        "'{postgres}' -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 -c wal_level=logical \
         -c max_replication_slots=16 -c max_wal_senders=16 -c fsync=off >'{dir}/log' 2>&1 & P=$!; \
         read _; kill -INT $P; wait $P; rm -rf '{dir}'",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let keeper = as_owner(root, Path::new("sh"))
        .arg("-c")
        .arg(script)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start postgres");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "logical PostgreSQL did not start: {}",
            std::fs::read_to_string(dir.join("log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(LogicalPg { port, dir, _keeper: Mutex::new(keeper) })
}

impl LogicalPg {
    /// The URL of `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A new database of this test's own; returns its URL.
    pub async fn database(&self, tag: &str) -> String {
        let name = format!("t_{tag}_{:x}", rand::random::<u32>());
        let pool = sqlx::PgPool::connect(&self.url("postgres")).await.expect("connect to logical PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&pool).await.expect("create database");
        pool.close().await;
        self.url(&name)
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for LogicalPg {
    fn drop(&mut self) {
        if let Ok(mut k) = self._keeper.lock()
            && let Some(stdin) = k.stdin.as_mut()
        {
            let _ = stdin.write_all(b"stop\n");
        }
    }
}
