//! [`DocumentStore`] over SQLite: the `document_snapshots` and
//! `document_updates` tables (`migrations/0003_documents.sql`). Each append
//! is its own committed transaction, so an update is durable (against a
//! process crash) once the call returns.

use async_trait::async_trait;
use herald_core::{ChannelName, DocumentStore, StoreError, StoredDocument, now_ms};

use crate::{SqliteStore, db_err, rows};

const SELECT_SNAPSHOT: &str = "SELECT snapshot, through_seq FROM document_snapshots WHERE name = ?1";
const SELECT_UPDATES: &str = "SELECT seq, data FROM document_updates WHERE name = ?1 AND seq > ?2 ORDER BY seq";
const INSERT_UPDATE: &str = "INSERT INTO document_updates (name, data) VALUES (?1, ?2)";
const UPSERT_SNAPSHOT: &str = "INSERT INTO document_snapshots (name, snapshot, through_seq, updated_ms) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot, \
     through_seq = excluded.through_seq, updated_ms = excluded.updated_ms \
     WHERE document_snapshots.through_seq <= excluded.through_seq";
const DROP_COMPACTED: &str = "DELETE FROM document_updates WHERE name = ?1 AND seq <= ?2";

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn load_document(&self, name: &ChannelName) -> Result<StoredDocument, StoreError> {
        let mut conn = self.readers.acquire().await.map_err(db_err("acquire reader"))?;
        // One read transaction: the snapshot and the tail are seen at the same instant.
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(db_err("begin document read"))?;
        let snap = sqlx::query(SELECT_SNAPSHOT)
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err("read document snapshot"))?;
        let (snapshot, through) = match snap {
            Some(row) => {
                let (data, through) = rows::document_snapshot(&row)?;
                (Some(data), through)
            }
            None => (None, 0),
        };
        let rows = sqlx::query(SELECT_UPDATES)
            .bind(name.as_str())
            .bind(through)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err("read document updates"))?;
        let updates = rows::document_updates(&rows)?;
        tx.commit().await.map_err(db_err("end document read"))?;
        Ok(StoredDocument { snapshot, updates })
    }

    async fn append_document_update(&self, name: &ChannelName, update: &[u8]) -> Result<u64, StoreError> {
        let mut conn = self.writer.acquire().await.map_err(db_err("acquire writer"))?;
        let done = sqlx::query(INSERT_UPDATE)
            .bind(name.as_str())
            .bind(update)
            .execute(&mut *conn)
            .await
            .map_err(db_err("append document update"))?;
        Ok(u64::try_from(done.last_insert_rowid()).unwrap_or(0))
    }

    async fn compact_document(&self, name: &ChannelName, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await.map_err(db_err("acquire writer"))?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(db_err("begin compaction"))?;
        sqlx::query(UPSERT_SNAPSHOT)
            .bind(name.as_str())
            .bind(snapshot)
            .bind(to_i64(through_seq))
            .bind(to_i64(now_ms()))
            .execute(&mut *tx)
            .await
            .map_err(db_err("store document snapshot"))?;
        sqlx::query(DROP_COMPACTED)
            .bind(name.as_str())
            .bind(to_i64(through_seq))
            .execute(&mut *tx)
            .await
            .map_err(db_err("drop compacted updates"))?;
        tx.commit().await.map_err(db_err("commit compaction"))?;
        Ok(())
    }
}
