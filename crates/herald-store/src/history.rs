//! [`HistoryStore`] over SQLite: the `streams` and `publications` tables.
//!
//! Semantics match `herald_core::MemoryStore`: a stream keeps at most
//! `Retention.size` publications (the newest offsets), expired publications
//! are never read, and `top` only grows.

use std::sync::Arc;

use async_trait::async_trait;
use herald_core::{ChannelName, HistoryQuery, HistoryStore, Publication, Retention, StoreError, StreamMeta};

use crate::history_batch::{ChannelRows, expires_ms, group, top_and_cutoff};
use crate::sql_int::{offset_i64, sat_i64, stored_u64};
use crate::statements::{HistorySql, Pools};
use crate::{SqliteStore, db_err};

const SELECT_TOP: &str = "SELECT top FROM streams WHERE channel = ?1";
const UPSERT_TOP: &str = "INSERT INTO streams (channel, epoch, top) VALUES (?1, ?2, ?3) \
     ON CONFLICT (channel) DO UPDATE SET top = excluded.top";
const INSERT_PUBLICATION: &str = "INSERT INTO publications \
     (channel, \"offset\", epoch, time_ms, expires_ms, data, publisher_client, publisher_user, idempotency_key) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const SQL: HistorySql = HistorySql {
    select_stream: "SELECT epoch, top FROM streams WHERE channel = ?1",
    create_stream: "INSERT INTO streams (channel, epoch, top) VALUES (?1, ?2, 0) ON CONFLICT (channel) DO NOTHING",
    read_forward: "SELECT \"offset\", epoch, time_ms, data, publisher_client, publisher_user, idempotency_key \
        FROM publications WHERE channel = ?1 AND \"offset\" > ?2 AND (expires_ms IS NULL OR expires_ms > ?3) \
        ORDER BY \"offset\" ASC LIMIT ?4",
    read_backward: "SELECT \"offset\", epoch, time_ms, data, publisher_client, publisher_user, idempotency_key \
        FROM publications WHERE channel = ?1 AND \"offset\" < ?2 AND (expires_ms IS NULL OR expires_ms > ?3) \
        ORDER BY \"offset\" DESC LIMIT ?4",
    // In chunks, so that expiry never holds the single writer for long
    // while publishes wait.
    remove_expired: "DELETE FROM publications WHERE (channel, \"offset\") IN \
        (SELECT channel, \"offset\" FROM publications WHERE expires_ms IS NOT NULL AND expires_ms <= ?1 LIMIT ?2)",
    trim: "DELETE FROM publications WHERE channel = ?1 AND \"offset\" <= ?2",
};

impl SqliteStore {
    /// Apply one channel's part of a batch inside the append transaction.
    async fn append_channel(
        &self,
        conn: &mut sqlx::SqliteConnection,
        group: &ChannelRows<'_>,
    ) -> Result<(), StoreError> {
        let stored: Option<i64> = sqlx::query_scalar(SELECT_TOP)
            .bind(group.channel)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("read top"))?;
        let stored_top = stored.map(|t| stored_u64(t, "top")).transpose()?.unwrap_or(0);
        let (top, cutoff) = top_and_cutoff(stored_top, &group.rows);
        sqlx::query(UPSERT_TOP)
            .bind(group.channel)
            .bind(group.epoch)
            .bind(offset_i64(top)?)
            .execute(&mut *conn)
            .await
            .map_err(db_err("update stream top"))?;
        for (p, r) in &group.rows {
            // Rows the retention drops within this batch are never written.
            if p.offset <= cutoff {
                continue;
            }
            let publisher = p.publisher.as_ref();
            sqlx::query(INSERT_PUBLICATION)
                .bind(group.channel)
                .bind(offset_i64(p.offset)?)
                .bind(p.epoch.as_str())
                .bind(sat_i64(p.time_ms))
                .bind(expires_ms(p, r))
                .bind(p.data.as_str())
                .bind(publisher.map(|x| &*x.client))
                .bind(publisher.and_then(|x| x.user.as_deref()))
                .bind(p.idempotency_key.as_deref())
                .execute(&mut *conn)
                .await
                .map_err(db_err("insert publication"))?;
        }
        Pools::<sqlx::Sqlite>::trim_history(conn, &SQL, group.channel, cutoff).await
    }
}

#[async_trait]
impl HistoryStore for SqliteStore {
    /// Reads on a reader connection; a missing stream is created on the
    /// writer, so concurrent callers all get the epoch that was inserted first.
    async fn stream_meta(&self, channel: &ChannelName) -> Result<StreamMeta, StoreError> {
        self.pools().stream_meta(&SQL, channel).await
    }

    /// One transaction for the whole batch: all publications or none.
    async fn append(&self, batch: &[(Arc<Publication>, Retention)]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let groups = group(batch);
        let mut tx = self.writer.begin().await.map_err(db_err("begin append"))?;
        for g in &groups {
            // On error the transaction rolls back when dropped.
            self.append_channel(&mut tx, g).await?;
        }
        tx.commit().await.map_err(db_err("commit append"))
    }

    async fn read(&self, channel: &ChannelName, q: &HistoryQuery) -> Result<Vec<Arc<Publication>>, StoreError> {
        self.pools().read_history(&SQL, channel, q).await
    }

    async fn remove_expired(&self, now_ms: u64) -> Result<u64, StoreError> {
        self.pools().remove_expired_history(&SQL, now_ms).await
    }

    /// Checkpoints the WAL into the database file and closes every
    /// connection; later calls fail with a [`StoreError`]. Idempotent.
    async fn close(&self) {
        if self.writer.is_closed() {
            return;
        }
        self.readers.close().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.writer).await {
            tracing::warn!(error = %e, path = %self.path.display(), "wal checkpoint at close failed");
        }
        self.writer.close().await;
        tracing::info!(path = %self.path.display(), "sqlite store closed");
    }
}
