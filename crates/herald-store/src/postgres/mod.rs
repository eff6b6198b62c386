//! `PostgresStore`: channel history, read positions, notification inboxes
//! and collaborative documents in PostgreSQL, shared by every Herald node
//! that points at the same database and schema. Implements
//! [`herald_core::HistoryStore`], [`herald_core::ReadStateStore`],
//! [`herald_core::InboxStore`] and [`herald_core::DocumentStore`] with the
//! same answers as `SqliteStore` and `MemoryStore` (the contract tests in
//! `tests/contract/` run one suite against all three).
//!
//! # Several nodes at once
//!
//! Every rule that must hold across nodes is enforced by PostgreSQL, not by
//! a node's memory:
//! - a read mark only moves forward: one `INSERT .. ON CONFLICT DO UPDATE
//!   .. WHERE` per mark, which PostgreSQL applies row by row under the row
//!   lock, so two nodes racing leave the larger mark;
//! - a dedupe key stores one notification per user: inserts for a user are
//!   serialized by a transaction-scoped advisory lock on the user (taken in
//!   one fixed order), backed by a unique index on `(user_id, dedupe_key)`;
//! - notification ids come from one sequence (an identity column), so they
//!   increase across nodes and "newest first" means the same everywhere;
//! - an append locks its streams' rows (`SELECT .. FOR UPDATE`, channels in
//!   name order) and a reused offset violates the primary key: two brokers
//!   assigning the same offset fail loudly instead of forking a history.
//!   Offsets themselves must come from one sequencer per channel (the
//!   embedded broker on one node, or the Redis broker across nodes);
//! - a document's updates commit in sequence order (an append holds the
//!   document's head row from numbering to commit), and a compaction only
//!   replaces an older snapshot (see `documents.rs`).
//!
//! # Schema
//!
//! All tables live in one PostgreSQL schema (default `herald`), created at
//! [`PostgresStore::connect`] if missing and set as every connection's
//! `search_path`, so Herald never collides with the app's own tables and
//! tests can each use a schema of their own. The tables are numbered sqlx
//! migrations in `migrations-postgres/`, applied at connect (sqlx holds an
//! advisory lock meanwhile, so nodes starting together migrate once).

mod documents;
mod history;
mod inbox;
mod read_state;

use std::str::FromStr;
use std::time::Duration;

use herald_core::StoreError;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// The PostgreSQL schema migrations, embedded at compile time and applied at connect.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-postgres");

/// Longest schema name PostgreSQL keeps (`NAMEDATALEN - 1`).
const MAX_SCHEMA_LEN: usize = 63;

/// Options of [`PostgresStore`]. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The schema holding Herald's tables: lowercase letters, digits and
    /// `_`, not starting with a digit or `pg_`, at most 63 bytes. Created if
    /// missing. Default `herald`.
    pub schema: String,
    /// Most connections this node opens to PostgreSQL. Default 10.
    pub max_connections: u32,
    /// How long a caller waits for a free connection of the pool. Default 30 s.
    pub acquire_timeout: Duration,
    /// Longest one statement may run (lock waits included) before
    /// PostgreSQL cancels it, so a stuck lock fails a request instead of
    /// stalling the broker's writer. Default 30 s.
    pub statement_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            schema: "herald".to_string(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// The PostgreSQL store. Share it behind an `Arc`; every method takes
/// `&self`. Close it with [`HistoryStore::close`](herald_core::HistoryStore::close).
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    schema: String,
    /// `host:port/database`, for logs (never the password).
    target: String,
}

/// Refuse a schema name that would need quoting or is reserved.
pub fn check_schema_name(name: &str) -> Result<(), StoreError> {
    let ok_first = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let ok_rest = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok_first || !ok_rest || name.len() > MAX_SCHEMA_LEN || name.starts_with("pg_") {
        return Err(StoreError(format!(
            "invalid PostgreSQL schema name {name:?}: use 1 to {MAX_SCHEMA_LEN} lowercase letters, digits and `_`, \
             not starting with a digit or `pg_`"
        )));
    }
    Ok(())
}

/// PostgreSQL text cannot hold a NUL character; say so rather than let the
/// database fail the statement with an encoding error.
pub(crate) fn no_nul(what: &str, value: &str) -> Result<(), StoreError> {
    if value.contains('\0') {
        return Err(StoreError(format!("{what} contains a NUL character, which PostgreSQL text cannot hold")));
    }
    Ok(())
}

/// Whether `user` can have stored state at all: no stored user id holds a
/// NUL, so a lookup for one answers "nothing" without asking PostgreSQL
/// (which would fail the statement).
pub(crate) fn could_be_stored(user: &str) -> bool {
    !user.contains('\0')
}

/// Whether PostgreSQL aborted a transaction that may simply be run again
/// (serialization failure, deadlock).
pub(crate) fn retryable(e: &sqlx::Error) -> bool {
    matches!(e.as_database_error().and_then(|d| d.code()).as_deref(), Some("40001" | "40P01"))
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user:password@host:port/database`),
    /// create the schema if missing and apply the migrations. Must be called
    /// inside a Tokio runtime.
    pub async fn connect(url: &str, opts: PostgresOptions) -> Result<PostgresStore, StoreError> {
        check_schema_name(&opts.schema)?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError("invalid PostgreSQL url: it must start with postgres:// or postgresql://".into()));
        }
        let base = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError(format!("invalid PostgreSQL url: {e}")))?
            // `pg_stat_activity` shows which deployment a connection serves.
            .application_name(&format!("herald:{}", opts.schema));
        let target =
            format!("{}:{}/{}", base.get_host(), base.get_port(), base.get_database().unwrap_or(base.get_username()));
        create_schema(&base, &opts.schema, &target).await?;
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(base.options([
                ("search_path", opts.schema.clone()),
                ("statement_timeout", format!("{}ms", opts.statement_timeout.as_millis().max(1))),
            ]))
            .await
            .map_err(|e| StoreError(format!("cannot connect to PostgreSQL at {target}: {e}")))?;
        if let Err(e) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(StoreError(format!("cannot migrate schema {} at {target}: {e}", opts.schema)));
        }
        tracing::info!(target = %target, schema = %opts.schema, "postgres store open");
        Ok(PostgresStore { pool, schema: opts.schema, target })
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// `host:port/database` (no credentials).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The pool of the statements shared with `SqliteStore` (one pool for reads and writes).
    pub(crate) fn pools(&self) -> crate::statements::Pools<'_, sqlx::Postgres> {
        crate::statements::Pools { read: &self.pool, write: &self.pool }
    }
}

/// Create `schema` unless it exists, on a connection of its own (the pool's
/// connections name it in their `search_path`). Checking first means a
/// user without `CREATE` on the database can use a schema made for it.
async fn create_schema(base: &PgConnectOptions, schema: &str, target: &str) -> Result<(), StoreError> {
    let mut conn =
        base.connect().await.map_err(|e| StoreError(format!("cannot connect to PostgreSQL at {target}: {e}")))?;
    let found = schema_exists(&mut conn, schema).await.map_err(crate::db_err("look up schema"))?;
    if !found {
        // The name was checked: lowercase identifier characters only.
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(&mut conn).await;
        // Two nodes creating it at once: the loser's error is fine if it now exists.
        if let Err(e) = created
            && !schema_exists(&mut conn, schema).await.unwrap_or(false)
        {
            return Err(StoreError(format!("cannot create schema {schema} at {target}: {e}")));
        }
    }
    let _ = sqlx::Connection::close(conn).await;
    Ok(())
}

async fn schema_exists(conn: &mut sqlx::PgConnection, schema: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(conn)
        .await
}
