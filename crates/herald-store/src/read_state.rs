//! [`ReadStateStore`] over SQLite: the `read_state` table. Semantics match
//! `herald_core::MemoryStore`: a mark only moves forward within an epoch,
//! and a mark of another epoch is replaced.

use async_trait::async_trait;
use herald_core::{ChannelName, ReadMark, ReadStateStore, StoreError};

use crate::sql_int::sat_i64;
use crate::{SqliteStore, db_err, rows};

/// The upsert keeps the stored mark unless the new one has another epoch or a larger offset.
const ADVANCE: &str = "INSERT INTO read_state (user_id, channel, epoch, \"offset\", updated_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id, channel) DO UPDATE SET \
     epoch = excluded.epoch, \"offset\" = excluded.\"offset\", updated_ms = excluded.updated_ms \
     WHERE read_state.epoch <> excluded.epoch OR read_state.\"offset\" < excluded.\"offset\"";
const SELECT_ONE: &str = "SELECT epoch, \"offset\", updated_ms FROM read_state WHERE user_id = ?1 AND channel = ?2";
const OF_USER: &str = "SELECT channel, epoch, \"offset\", updated_ms FROM read_state WHERE user_id = ?1 \
     ORDER BY channel LIMIT ?2";
const OF_CHANNEL: &str = "SELECT user_id, epoch, \"offset\", updated_ms FROM read_state WHERE channel = ?1 \
     ORDER BY updated_ms DESC, user_id LIMIT ?2";

#[async_trait]
impl ReadStateStore for SqliteStore {
    async fn advance_read(
        &self,
        user: &str,
        channel: &ChannelName,
        m: ReadMark,
    ) -> Result<(ReadMark, bool), StoreError> {
        let mut conn = self.writer.acquire().await.map_err(db_err("acquire writer"))?;
        // An insert or an update that passed its WHERE affects one row; a kept mark none.
        let moved = sqlx::query(ADVANCE)
            .bind(user)
            .bind(channel.as_str())
            .bind(m.epoch.as_str())
            .bind(sat_i64(m.offset))
            .bind(sat_i64(m.updated_ms))
            .execute(&mut *conn)
            .await
            .map_err(db_err("store read position"))?
            .rows_affected()
            > 0;
        let row = sqlx::query(SELECT_ONE)
            .bind(user)
            .bind(channel.as_str())
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err("read read position"))?;
        Ok((rows::read_mark(&row, 0)?, moved))
    }

    async fn read_marks_of_user(&self, user: &str, limit: usize) -> Result<Vec<(ChannelName, ReadMark)>, StoreError> {
        rows::marks_by_channel(&self.pools().read_marks(OF_USER, user, limit).await?)
    }

    async fn read_marks_of_channel(
        &self,
        channel: &ChannelName,
        limit: usize,
    ) -> Result<Vec<(String, ReadMark)>, StoreError> {
        rows::marks_by_user(&self.pools().read_marks(OF_CHANNEL, channel.as_str(), limit).await?)
    }
}
