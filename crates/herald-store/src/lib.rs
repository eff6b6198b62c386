//! Herald's durable stores, each implementing [`herald_core::HistoryStore`],
//! [`herald_core::ReadStateStore`], [`herald_core::InboxStore`] and
//! [`herald_core::DocumentStore`]:
//! - [`SqliteStore`], the embedded default: channel history, read positions,
//!   notification inboxes and collaborative documents
//!   ([`herald_core::DocumentStore`]) in one SQLite database,
//!   `<dir>/herald.db` (one node);
//! - [`PostgresStore`]: the same state in a PostgreSQL schema shared by
//!   several nodes (module `postgres`, migrations in `migrations-postgres/`).
//!
//! The rest of this page is about the SQLite store.
//!
//! # Durability
//!
//! The database runs in WAL mode with `synchronous = NORMAL`. A transaction
//! that [`HistoryStore::append`](herald_core::HistoryStore::append) reports as
//! committed survives a crash of the process (`kill -9`): its pages are in the
//! WAL file, written to the operating system before the commit returns. It may
//! be lost if the machine loses power or the OS crashes before the WAL is
//! synced (at the next checkpoint); the database is never corrupted by that,
//! it only loses the newest transactions. `synchronous = FULL` would close that
//! gap at the price of one fsync per commit.
//!
//! # Connections
//!
//! SQLite has one writer at a time, so the store keeps exactly one writer
//! connection (appends, stream creation, expiry) and a few read-only reader
//! connections, which WAL lets read concurrently with the writer.
//!
//! # Schema
//!
//! The schema is a set of numbered sqlx migrations embedded in this crate
//! (`migrations/`), applied at [`SqliteStore::open`]. New tables go in new
//! migration files.

mod documents;
mod history;
mod history_batch;
mod inbox;
mod postgres;
mod read_state;
mod rows;
mod sql_int;
mod statements;

pub use postgres::{PostgresOptions, PostgresStore, check_schema_name};

use std::path::{Path, PathBuf};
use std::time::Duration;

use herald_core::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// The database file's name inside the store directory.
pub const DB_FILE: &str = "herald.db";

/// The schema migrations, embedded at compile time and applied at open.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Options of [`SqliteStore`]. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Read-only connections for history reads (at least 1). Default 4.
    pub readers: u32,
    /// How long a statement waits for a lock held by another connection
    /// before failing with "database is locked". Default 5 s.
    pub busy_timeout: Duration,
    /// How long a caller waits for a free connection of the pool. Default 30 s.
    pub acquire_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self { readers: 4, busy_timeout: Duration::from_secs(5), acquire_timeout: Duration::from_secs(30) }
    }
}

/// The embedded SQLite store of channel history. Share it behind an `Arc`;
/// every method takes `&self`. Close it with
/// [`HistoryStore::close`](herald_core::HistoryStore::close), which
/// checkpoints the WAL.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    /// The single writer connection.
    writer: SqlitePool,
    /// Read-only connections.
    readers: SqlitePool,
}

/// Turns a sqlx error into a [`StoreError`] naming what failed.
pub(crate) fn db_err(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError(format!("{what}: {e}"))
}

impl SqliteStore {
    /// Open (or create) the store in `dir`: creates the directory if missing,
    /// opens `<dir>/herald.db` in WAL mode and applies the schema migrations.
    /// Must be called inside a Tokio runtime.
    pub async fn open(dir: &Path, opts: SqliteOptions) -> Result<SqliteStore, StoreError> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| StoreError(format!("cannot create store directory {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let base = SqliteConnectOptions::new()
            .filename(&path)
            .busy_timeout(opts.busy_timeout)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal);

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(opts.acquire_timeout)
            // Never retire the writer: its statement cache stays warm.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base.clone().create_if_missing(true).journal_mode(SqliteJournalMode::Wal))
            .await
            .map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        if let Err(e) = MIGRATOR.run(&writer).await {
            writer.close().await;
            return Err(StoreError(format!("cannot migrate {}: {e}", path.display())));
        }

        // Opened after the writer switched the file to WAL, which persists.
        let readers = match SqlitePoolOptions::new()
            .max_connections(opts.readers.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(base.read_only(true))
            .await
        {
            Ok(p) => p,
            Err(e) => {
                writer.close().await;
                return Err(StoreError(format!("cannot open readers of {}: {e}", path.display())));
            }
        };
        tracing::info!(path = %path.display(), "sqlite store open");
        Ok(SqliteStore { path, writer, readers })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pools of the statements shared with `PostgresStore`: reads on
    /// the readers, writes (and reads that must see them) on the writer.
    pub(crate) fn pools(&self) -> statements::Pools<'_, sqlx::Sqlite> {
        statements::Pools { read: &self.readers, write: &self.writer }
    }
}
