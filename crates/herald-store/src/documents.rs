//! [`DocumentStore`] over SQLite: the `document_snapshots` and
//! `document_updates` tables (`migrations/0003_documents.sql`). Each append
//! is its own committed transaction, so an update is durable (against a
//! process crash) once the call returns.

use async_trait::async_trait;
use herald_core::{ChannelName, DocumentStore, StoreError, StoredDocument};

use crate::sql_int::lenient_u64;
use crate::statements::DocumentSql;
use crate::{SqliteStore, db_err};

const INSERT_UPDATE: &str = "INSERT INTO document_updates (name, data) VALUES (?1, ?2)";

const SQL: DocumentSql = DocumentSql {
    begin_read: None,
    select_snapshot: "SELECT snapshot, through_seq FROM document_snapshots WHERE name = ?1",
    select_updates: "SELECT seq, data FROM document_updates WHERE name = ?1 AND seq > ?2 ORDER BY seq",
    upsert_snapshot: "INSERT INTO document_snapshots (name, snapshot, through_seq, updated_ms) \
        VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot, \
        through_seq = excluded.through_seq, updated_ms = excluded.updated_ms \
        WHERE document_snapshots.through_seq <= excluded.through_seq",
    drop_compacted: "DELETE FROM document_updates WHERE name = ?1 AND seq <= ?2",
};

#[async_trait]
impl DocumentStore for SqliteStore {
    /// One read transaction on a reader: the snapshot and the tail are seen at the same instant.
    async fn load_document(&self, name: &ChannelName) -> Result<StoredDocument, StoreError> {
        self.pools().load_document(&SQL, name).await
    }

    async fn append_document_update(&self, name: &ChannelName, update: &[u8]) -> Result<u64, StoreError> {
        let mut conn = self.writer.acquire().await.map_err(db_err("acquire writer"))?;
        let done = sqlx::query(INSERT_UPDATE)
            .bind(name.as_str())
            .bind(update)
            .execute(&mut *conn)
            .await
            .map_err(db_err("append document update"))?;
        Ok(lenient_u64(done.last_insert_rowid()))
    }

    async fn compact_document(&self, name: &ChannelName, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError> {
        self.pools().compact_document(&SQL, name, snapshot, through_seq).await
    }
}
