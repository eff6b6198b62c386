//! [`DocumentStore`] over PostgreSQL: the `document_heads`,
//! `document_snapshots` and `document_updates` tables
//! (`migrations-postgres/0003_documents.sql`), shared by every node.
//!
//! Several nodes append to one document and compact it at once:
//! - an append is one statement: it locks the document's head row, takes
//!   the next number of one sequence and inserts the update, then commits.
//!   One document's updates therefore commit in sequence order, so a reader
//!   that sees update `n` sees every update of the document before it;
//! - a load reads the snapshot and the tail in one `REPEATABLE READ`
//!   transaction: a compaction committing in between cannot make the tail
//!   miss what the old snapshot lacked;
//! - a compaction writes the snapshot only if it is newer than the stored
//!   one (checked under the snapshot row's lock) and drops the updates it
//!   covers, in one transaction. Given a snapshot that includes every
//!   update up to `through_seq` (built from a load, see herald-docs), no
//!   update is lost whichever node compacts, or if two do at once.

use async_trait::async_trait;
use herald_core::{ChannelName, DocumentStore, StoreError, StoredDocument};

use super::PostgresStore;
use crate::db_err;
use crate::sql_int::lenient_u64;
use crate::statements::DocumentSql;

/// The head row's lock is held from taking the number until the commit.
const APPEND: &str = "WITH head AS ( \
       INSERT INTO document_heads (name, last_seq) VALUES ($1, nextval('document_update_seq')) \
       ON CONFLICT (name) DO UPDATE SET last_seq = nextval('document_update_seq') \
       RETURNING last_seq) \
     INSERT INTO document_updates (name, seq, data) SELECT $1, last_seq, $2 FROM head RETURNING seq";
const SQL: DocumentSql = DocumentSql {
    // One snapshot of the database for both reads.
    begin_read: Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
    select_snapshot: "SELECT snapshot, through_seq FROM document_snapshots WHERE name = $1",
    select_updates: "SELECT seq, data FROM document_updates WHERE name = $1 AND seq > $2 ORDER BY seq",
    upsert_snapshot: "INSERT INTO document_snapshots (name, snapshot, through_seq, updated_ms) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET snapshot = EXCLUDED.snapshot, \
        through_seq = EXCLUDED.through_seq, updated_ms = EXCLUDED.updated_ms \
        WHERE document_snapshots.through_seq <= EXCLUDED.through_seq",
    drop_compacted: "DELETE FROM document_updates WHERE name = $1 AND seq <= $2",
};

#[async_trait]
impl DocumentStore for PostgresStore {
    async fn load_document(&self, name: &ChannelName) -> Result<StoredDocument, StoreError> {
        self.pools().load_document(&SQL, name).await
    }

    async fn append_document_update(&self, name: &ChannelName, update: &[u8]) -> Result<u64, StoreError> {
        let seq: i64 = sqlx::query_scalar(APPEND)
            .bind(name.as_str())
            .bind(update)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("append document update"))?;
        Ok(lenient_u64(seq))
    }

    async fn compact_document(&self, name: &ChannelName, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError> {
        self.pools().compact_document(&SQL, name, snapshot, through_seq).await
    }
}
