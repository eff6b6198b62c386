//! The statements both SQL stores run the same way: the same binds, the
//! same error wording and the same decoding ([`crate::rows`]), generic over
//! the database. Each store passes its own SQL text (placeholders, dialect)
//! and pools; what really differs (group commit, notification batches,
//! locks, PostgreSQL's NUL rules) stays in each store.

use std::sync::Arc;

use herald_core::{
    ChannelName, Direction, Epoch, HistoryQuery, Notification, Publication, StoreError, StoredDocument, StreamMeta,
};
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, Pool, Row, Type};

use crate::db_err;
use crate::rows::{self, Decodes};
use crate::sql_int::{lenient_u64, offset_i64, sat_i64};

/// Expired publications are deleted at most this many at a time, so expiry
/// never holds a writer for long while publishes wait.
const EXPIRY_CHUNK: i64 = 2000;

/// `rows_affected` of a statement's result (sqlx has no trait for it).
pub(crate) trait RowsAffected {
    /// Rows the statement inserted, updated or deleted.
    fn affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// A store's pools: `read` for reads that may lag a write a moment,
/// `write` for writes and for reads that must see them (SQLite: its
/// readers and its single writer; PostgreSQL: one pool for both).
pub(crate) struct Pools<'a, DB: Database> {
    /// Reads.
    pub(crate) read: &'a Pool<DB>,
    /// Writes.
    pub(crate) write: &'a Pool<DB>,
}

/// The shared history statements in one store's dialect.
pub(crate) struct HistorySql {
    /// `epoch, top` of channel `1`.
    pub(crate) select_stream: &'static str,
    /// Creates stream `1` with epoch `2` unless it exists.
    pub(crate) create_stream: &'static str,
    /// Publications of channel `1` after offset `2`, unexpired at `3`, at most `4`, oldest first.
    pub(crate) read_forward: &'static str,
    /// Publications of channel `1` before offset `2`, unexpired at `3`, at most `4`, newest first.
    pub(crate) read_backward: &'static str,
    /// Deletes at most `2` publications expired at `1`.
    pub(crate) remove_expired: &'static str,
    /// Deletes channel `1`'s publications at or below offset `2`.
    pub(crate) trim: &'static str,
}

/// The shared notification statements in one store's dialect.
pub(crate) struct InboxSql {
    /// `COUNT(*)` of user `1`'s unread notifications unexpired at `2`.
    pub(crate) unread: &'static str,
    /// Marks notification `2` of user `1` read.
    pub(crate) mark_one: &'static str,
    /// Marks every notification of user `1` read.
    pub(crate) mark_all: &'static str,
    /// Deletes notification `2` of user `1`.
    pub(crate) delete_one: &'static str,
    /// Deletes notifications expired at `1`.
    pub(crate) remove_expired: &'static str,
}

/// The shared document statements in one store's dialect.
pub(crate) struct DocumentSql {
    /// Statement run first in the load's transaction (its isolation), if any.
    pub(crate) begin_read: Option<&'static str>,
    /// `snapshot, through_seq` of document `1`.
    pub(crate) select_snapshot: &'static str,
    /// `seq, data` of document `1`'s updates after `2`, in order.
    pub(crate) select_updates: &'static str,
    /// Stores snapshot `2` of document `1` through `3` at time `4` unless a newer one is stored.
    pub(crate) upsert_snapshot: &'static str,
    /// Deletes document `1`'s updates through `2`.
    pub(crate) drop_compacted: &'static str,
}

impl<DB> Pools<'_, DB>
where
    DB: Database,
    DB::QueryResult: RowsAffected,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB>,
    usize: ColumnIndex<DB::Row>,
    i64: Decodes<DB>,
    bool: Decodes<DB>,
    String: Decodes<DB>,
    Vec<u8>: Decodes<DB>,
    Option<i64>: Decodes<DB>,
    Option<String>: Decodes<DB>,
    Option<Vec<u8>>: Decodes<DB>,
{
    /// A stream's epoch and top, read on `read`; a missing stream is created
    /// on `write` (`INSERT .. ON CONFLICT DO NOTHING`, then `SELECT`), so
    /// concurrent callers (on every node) all get the epoch inserted first.
    pub(crate) async fn stream_meta(&self, sql: &HistorySql, channel: &ChannelName) -> Result<StreamMeta, StoreError> {
        let row = sqlx::query(sql.select_stream)
            .bind(channel.as_str())
            .fetch_optional(self.read)
            .await
            .map_err(db_err("read stream"))?;
        let row = match row {
            Some(row) => row,
            None => {
                let mut conn = self.write.acquire().await.map_err(db_err("acquire writer"))?;
                sqlx::query(sql.create_stream)
                    .bind(channel.as_str())
                    .bind(Epoch::generate().as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err("create stream"))?;
                sqlx::query(sql.select_stream)
                    .bind(channel.as_str())
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err("read created stream"))?
            }
        };
        rows::stream_meta(&row)
    }

    /// A page of history. A corrupt row (not JSON, negative offset) fails
    /// the whole read rather than being skipped: recovery must never return
    /// a page with a silent hole in it.
    pub(crate) async fn read_history(
        &self,
        sql: &HistorySql,
        channel: &ChannelName,
        q: &HistoryQuery,
    ) -> Result<Vec<Arc<Publication>>, StoreError> {
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let (text, bound) = match q.direction {
            Direction::Forward => (sql.read_forward, sat_i64(q.since.unwrap_or(0))),
            Direction::Backward => (sql.read_backward, sat_i64(q.before.unwrap_or(u64::MAX))),
        };
        let rows = sqlx::query(text)
            .bind(channel.as_str())
            .bind(bound)
            .bind(sat_i64(herald_core::now_ms()))
            .bind(sat_i64(q.limit as u64))
            .fetch_all(self.read)
            .await
            .map_err(db_err("read history"))?;
        rows.iter().map(|row| rows::publication(channel, row)).collect()
    }

    /// Inside an append: drop channel `channel`'s publications at or below
    /// `cutoff` (what its retention no longer keeps), if any.
    pub(crate) async fn trim_history(
        conn: &mut DB::Connection,
        sql: &HistorySql,
        channel: &str,
        cutoff: u64,
    ) -> Result<(), StoreError> {
        if cutoff > 0 {
            sqlx::query(sql.trim)
                .bind(channel)
                .bind(offset_i64(cutoff)?)
                .execute(conn)
                .await
                .map_err(db_err("trim history"))?;
        }
        Ok(())
    }

    /// Deletes expired publications in chunks, each its own short statement.
    pub(crate) async fn remove_expired_history(&self, sql: &HistorySql, now_ms: u64) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        loop {
            let n = sqlx::query(sql.remove_expired)
                .bind(sat_i64(now_ms))
                .bind(EXPIRY_CHUNK)
                .execute(self.write)
                .await
                .map_err(db_err("remove expired"))?
                .affected();
            removed += n;
            if n < EXPIRY_CHUNK as u64 {
                return Ok(removed);
            }
        }
    }

    /// The read-mark rows `sql` selects for `key` (a user or a channel), at most `limit`.
    pub(crate) async fn read_marks(&self, sql: &str, key: &str, limit: usize) -> Result<Vec<DB::Row>, StoreError> {
        sqlx::query(sql)
            .bind(key)
            .bind(sat_i64(limit as u64))
            .fetch_all(self.read)
            .await
            .map_err(db_err("read read positions"))
    }

    /// A page of `user`'s notifications (`sql`: user, before id, now, limit).
    pub(crate) async fn list_notifications(
        &self,
        sql: &str,
        user: &str,
        before: Option<u64>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(sql)
            .bind(user)
            .bind(sat_i64(before.unwrap_or(u64::MAX)))
            .bind(sat_i64(now_ms))
            .bind(sat_i64(limit as u64))
            .fetch_all(self.read)
            .await
            .map_err(db_err("list notifications"))?;
        rows.iter().map(rows::notification).collect()
    }

    /// `user`'s unread notifications, counted on the writer: a count right
    /// after a change must see it.
    pub(crate) async fn unread_notifications(
        &self,
        sql: &InboxSql,
        user: &str,
        now_ms: u64,
    ) -> Result<u64, StoreError> {
        let row = sqlx::query(sql.unread)
            .bind(user)
            .bind(sat_i64(now_ms))
            .fetch_one(self.write)
            .await
            .map_err(db_err("count unread notifications"))?;
        Ok(lenient_u64(row.try_get(0).map_err(db_err("count unread notifications"))?))
    }

    /// Mark notification `id` of `user` read; whether it exists.
    pub(crate) async fn mark_notification_read(&self, sql: &InboxSql, user: &str, id: u64) -> Result<bool, StoreError> {
        self.on_notification(sql.mark_one, user, id, "mark notification read").await
    }

    /// Delete notification `id` of `user`; whether it existed.
    pub(crate) async fn delete_notification(&self, sql: &InboxSql, user: &str, id: u64) -> Result<bool, StoreError> {
        self.on_notification(sql.delete_one, user, id, "delete notification").await
    }

    async fn on_notification(&self, sql: &str, user: &str, id: u64, what: &'static str) -> Result<bool, StoreError> {
        let r = sqlx::query(sql).bind(user).bind(sat_i64(id)).execute(self.write).await.map_err(db_err(what))?;
        Ok(r.affected() > 0)
    }

    /// Mark every notification of `user` read.
    pub(crate) async fn mark_all_notifications_read(&self, sql: &InboxSql, user: &str) -> Result<(), StoreError> {
        sqlx::query(sql.mark_all).bind(user).execute(self.write).await.map_err(db_err("mark notifications read"))?;
        Ok(())
    }

    /// Delete the notifications expired at `now_ms`; how many.
    pub(crate) async fn remove_expired_notifications(&self, sql: &InboxSql, now_ms: u64) -> Result<u64, StoreError> {
        let r = sqlx::query(sql.remove_expired)
            .bind(sat_i64(now_ms))
            .execute(self.write)
            .await
            .map_err(db_err("remove expired notifications"))?;
        Ok(r.affected())
    }

    /// A document's snapshot and the updates after it, read in one
    /// transaction on `read` (both seen at the same instant).
    pub(crate) async fn load_document(
        &self,
        sql: &DocumentSql,
        name: &ChannelName,
    ) -> Result<StoredDocument, StoreError> {
        let mut tx = self.read.begin().await.map_err(db_err("begin document read"))?;
        if let Some(begin) = sql.begin_read {
            sqlx::query(begin).execute(&mut *tx).await.map_err(db_err("begin document read"))?;
        }
        let snap = sqlx::query(sql.select_snapshot)
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
        let rows = sqlx::query(sql.select_updates)
            .bind(name.as_str())
            .bind(through)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err("read document updates"))?;
        let updates = rows::document_updates(&rows)?;
        tx.commit().await.map_err(db_err("end document read"))?;
        Ok(StoredDocument { snapshot, updates })
    }

    /// Store `snapshot` of `name` through `through_seq` (unless a newer one
    /// is stored) and drop the updates it covers, in one transaction. The
    /// updates go also when a newer snapshot was kept: it covers them too.
    pub(crate) async fn compact_document(
        &self,
        sql: &DocumentSql,
        name: &ChannelName,
        snapshot: &[u8],
        through_seq: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await.map_err(db_err("begin compaction"))?;
        sqlx::query(sql.upsert_snapshot)
            .bind(name.as_str())
            .bind(snapshot)
            .bind(sat_i64(through_seq))
            .bind(sat_i64(herald_core::now_ms()))
            .execute(&mut *tx)
            .await
            .map_err(db_err("store document snapshot"))?;
        sqlx::query(sql.drop_compacted)
            .bind(name.as_str())
            .bind(sat_i64(through_seq))
            .execute(&mut *tx)
            .await
            .map_err(db_err("drop compacted updates"))?;
        tx.commit().await.map_err(db_err("commit compaction"))
    }
}
