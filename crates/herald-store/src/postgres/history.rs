//! [`HistoryStore`] over PostgreSQL: the `streams` and `publications`
//! tables. Semantics match `SqliteStore` and `herald_core::MemoryStore`: a
//! stream keeps at most `Retention.size` publications (the newest offsets),
//! expired publications are never read, and `top` only grows.

use std::sync::Arc;

use async_trait::async_trait;
use herald_core::{ChannelName, HistoryQuery, HistoryStore, Publication, Retention, StoreError, StreamMeta};
use sqlx::postgres::PgConnection;

use super::PostgresStore;
use crate::db_err;
use crate::history_batch::{ChannelRows, expires_ms, group, top_and_cutoff};
use crate::sql_int::{offset_i64, sat_i64, stored_u64};
use crate::statements::{HistorySql, Pools};

const CREATE_STREAM: &str =
    "INSERT INTO streams (channel, epoch, top) VALUES ($1, $2, 0) ON CONFLICT (channel) DO NOTHING";
/// Appends to one stream wait for each other here, whichever node they come from.
const LOCK_TOP: &str = "SELECT top FROM streams WHERE channel = $1 FOR UPDATE";
const SET_TOP: &str = "UPDATE streams SET top = $2 WHERE channel = $1";
/// One statement for all of a channel's rows in the batch.
const INSERT_PUBLICATIONS: &str = "INSERT INTO publications \
     (channel, \"offset\", epoch, time_ms, expires_ms, data, publisher_client, publisher_user, idempotency_key) \
     SELECT $1::text, * FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], \
     $7::bytea[], $8::bytea[], $9::bytea[])";
const SQL: HistorySql = HistorySql {
    select_stream: "SELECT epoch, top FROM streams WHERE channel = $1",
    create_stream: CREATE_STREAM,
    read_forward: "SELECT \"offset\", epoch, time_ms, data, publisher_client, publisher_user, idempotency_key \
        FROM publications WHERE channel = $1 AND \"offset\" > $2 AND (expires_ms IS NULL OR expires_ms > $3) \
        ORDER BY \"offset\" ASC LIMIT $4",
    read_backward: "SELECT \"offset\", epoch, time_ms, data, publisher_client, publisher_user, idempotency_key \
        FROM publications WHERE channel = $1 AND \"offset\" < $2 AND (expires_ms IS NULL OR expires_ms > $3) \
        ORDER BY \"offset\" DESC LIMIT $4",
    // In chunks (each its own transaction), so expiry never holds locks
    // for long while appends wait.
    remove_expired: "DELETE FROM publications WHERE (channel, \"offset\") IN \
        (SELECT channel, \"offset\" FROM publications WHERE expires_ms IS NOT NULL AND expires_ms <= $1 LIMIT $2)",
    trim: "DELETE FROM publications WHERE channel = $1 AND \"offset\" <= $2",
};

/// One channel's rows as column arrays for [`INSERT_PUBLICATIONS`].
#[derive(Default)]
struct Columns<'a> {
    offsets: Vec<i64>,
    epochs: Vec<&'a str>,
    times: Vec<i64>,
    expires: Vec<Option<i64>>,
    data: Vec<&'a str>,
    clients: Vec<Option<&'a [u8]>>,
    users: Vec<Option<&'a [u8]>>,
    keys: Vec<Option<&'a [u8]>>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, p: &'a Publication, r: &Retention) -> Result<(), StoreError> {
        let publisher = p.publisher.as_ref();
        self.offsets.push(offset_i64(p.offset)?);
        self.epochs.push(p.epoch.as_str());
        self.times.push(sat_i64(p.time_ms));
        self.expires.push(expires_ms(p, r));
        self.data.push(p.data.as_str());
        self.clients.push(publisher.map(|x| x.client.as_bytes()));
        self.users.push(publisher.and_then(|x| x.user.as_deref()).map(str::as_bytes));
        self.keys.push(p.idempotency_key.as_deref().map(str::as_bytes));
        Ok(())
    }
}

/// Apply one channel's part of a batch inside the append transaction.
async fn append_channel(conn: &mut PgConnection, group: &ChannelRows<'_>) -> Result<(), StoreError> {
    sqlx::query(CREATE_STREAM)
        .bind(group.channel)
        .bind(group.epoch)
        .execute(&mut *conn)
        .await
        .map_err(db_err("create stream"))?;
    let stored: i64 =
        sqlx::query_scalar(LOCK_TOP).bind(group.channel).fetch_one(&mut *conn).await.map_err(db_err("lock stream"))?;
    let (top, cutoff) = top_and_cutoff(stored_u64(stored, "top")?, &group.rows);
    sqlx::query(SET_TOP)
        .bind(group.channel)
        .bind(offset_i64(top)?)
        .execute(&mut *conn)
        .await
        .map_err(db_err("update stream top"))?;
    let mut cols = Columns::default();
    // Rows the retention drops within this batch are never written.
    for (p, r) in group.rows.iter().filter(|(p, _)| p.offset > cutoff) {
        cols.push(p, r)?;
    }
    if !cols.offsets.is_empty() {
        sqlx::query(INSERT_PUBLICATIONS)
            .bind(group.channel)
            .bind(&cols.offsets)
            .bind(&cols.epochs)
            .bind(&cols.times)
            .bind(&cols.expires)
            .bind(&cols.data)
            .bind(&cols.clients)
            .bind(&cols.users)
            .bind(&cols.keys)
            .execute(&mut *conn)
            .await
            .map_err(db_err("insert publications"))?;
    }
    Pools::<sqlx::Postgres>::trim_history(conn, &SQL, group.channel, cutoff).await
}

#[async_trait]
impl HistoryStore for PostgresStore {
    /// A missing stream is created with `INSERT .. ON CONFLICT DO NOTHING`,
    /// then read: concurrent callers on every node get the epoch that was
    /// inserted first.
    async fn stream_meta(&self, channel: &ChannelName) -> Result<StreamMeta, StoreError> {
        self.pools().stream_meta(&SQL, channel).await
    }

    /// One transaction for the whole batch: all publications or none.
    /// Streams are locked in channel-name order, so two nodes appending to
    /// the same channels never deadlock.
    async fn append(&self, batch: &[(Arc<Publication>, Retention)]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut groups = group(batch);
        groups.sort_by(|a, b| a.channel.cmp(b.channel));
        let mut tx = self.pool.begin().await.map_err(db_err("begin append"))?;
        for g in &groups {
            // On error the transaction rolls back when dropped.
            append_channel(&mut tx, g).await?;
        }
        tx.commit().await.map_err(db_err("commit append"))
    }

    async fn read(&self, channel: &ChannelName, q: &HistoryQuery) -> Result<Vec<Arc<Publication>>, StoreError> {
        self.pools().read_history(&SQL, channel, q).await
    }

    async fn remove_expired(&self, now_ms: u64) -> Result<u64, StoreError> {
        self.pools().remove_expired_history(&SQL, now_ms).await
    }

    /// Closes every connection; later calls fail with a [`StoreError`]. Idempotent.
    async fn close(&self) {
        if self.pool.is_closed() {
            return;
        }
        self.pool.close().await;
        tracing::info!(target = %self.target, schema = %self.schema, "postgres store closed");
    }
}
