//! Test helpers: unique temporary store directories and PostgreSQL
//! schemas, and publications.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use herald_core::{ChannelName, Epoch, Payload, Publication, PublisherInfo, Retention};
use herald_store::{PostgresOptions, PostgresStore, SqliteOptions, SqliteStore};

/// A unique directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name =
            format!("herald-store-{tag}-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        TempDir(std::env::temp_dir().join(name))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn open(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(dir.path(), SqliteOptions::default()).await.unwrap()
}

pub fn ch(name: &str) -> ChannelName {
    ChannelName::new(name).unwrap()
}

pub fn keep(size: usize) -> Retention {
    Retention { size, ttl: None }
}

pub fn keep_for(size: usize, ttl: Duration) -> Retention {
    Retention { size, ttl: Some(ttl) }
}

/// Publication `offset` of `channel` with data `{"n":offset}`, published now.
pub fn publication(channel: &ChannelName, epoch: &Epoch, offset: u64) -> Arc<Publication> {
    publication_at(channel, epoch, offset, herald_core::now_ms())
}

pub fn publication_at(channel: &ChannelName, epoch: &Epoch, offset: u64, time_ms: u64) -> Arc<Publication> {
    Arc::new(Publication {
        channel: channel.clone(),
        epoch: epoch.clone(),
        offset,
        data: Payload::from_json_text(format!(r#"{{"n":{offset},"s":"é\"x"}}"#)).unwrap(),
        time_ms,
        publisher: offset.is_multiple_of(2).then(|| PublisherInfo {
            client: Arc::from(format!("client-{offset}")),
            user: offset.is_multiple_of(4).then(|| Arc::from("alice")),
        }),
        idempotency_key: offset.is_multiple_of(3).then(|| Arc::from(format!("key-{offset}"))),
    })
}

pub fn offsets(pubs: &[Arc<Publication>]) -> Vec<u64> {
    pubs.iter().map(|p| p.offset).collect()
}

/// The PostgreSQL the tests use: `HERALD_TEST_POSTGRES_URL`, default the
/// local server (trust auth, database `test`).
pub fn postgres_url() -> String {
    std::env::var("HERALD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh PostgreSQL schema for one test, dropped (with everything in it)
/// when this guard drops, even if the test panicked.
pub struct PgSchema {
    pub name: String,
}

impl PgSchema {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        PgSchema { name: format!("herald_test_{tag}_{}_{n}_{nanos}", std::process::id()) }
    }

    pub fn options(&self) -> PostgresOptions {
        PostgresOptions { schema: self.name.clone(), max_connections: 4, ..PostgresOptions::default() }
    }

    /// A store on this schema: call twice for two "nodes" sharing it.
    pub async fn open(&self) -> PostgresStore {
        PostgresStore::connect(&postgres_url(), self.options())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is needed by this test: {e}", postgres_url()))
    }

    /// A raw pool on this schema, for tests that tamper with rows.
    pub async fn raw(&self) -> sqlx::PgPool {
        let opts: sqlx::postgres::PgConnectOptions = postgres_url().parse().unwrap();
        sqlx::PgPool::connect_with(opts.options([("search_path", self.name.as_str())])).await.unwrap()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        // Drop runs inside the test's runtime: use a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let pool = sqlx::PgPool::connect(&postgres_url()).await.ok()?;
                let done = sqlx::query(&sql).execute(&pool).await.ok();
                pool.close().await;
                done
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}
