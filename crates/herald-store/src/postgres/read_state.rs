//! [`ReadStateStore`] over PostgreSQL: the `read_state` table. Semantics
//! match `SqliteStore` and `herald_core::MemoryStore`: a mark only moves
//! forward within an epoch, and a mark of another epoch replaces it.
//!
//! Two nodes racing on one mark: PostgreSQL runs each upsert under the
//! row's lock and checks the `WHERE` against the newest row version, so a
//! smaller mark arriving second is kept out whichever node sends it.

use async_trait::async_trait;
use herald_core::{ChannelName, ReadMark, ReadStateStore, StoreError};

use super::{PostgresStore, could_be_stored, no_nul};
use crate::sql_int::sat_i64;
use crate::{db_err, rows};

/// The upsert keeps the stored mark unless the new one has another epoch or
/// a larger offset; it returns the row only when it wrote one.
const ADVANCE: &str = "INSERT INTO read_state (user_id, channel, epoch, \"offset\", updated_ms) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, channel) DO UPDATE SET \
     epoch = EXCLUDED.epoch, \"offset\" = EXCLUDED.\"offset\", updated_ms = EXCLUDED.updated_ms \
     WHERE read_state.epoch <> EXCLUDED.epoch OR read_state.\"offset\" < EXCLUDED.\"offset\" \
     RETURNING epoch, \"offset\", updated_ms";
const SELECT_ONE: &str = "SELECT epoch, \"offset\", updated_ms FROM read_state WHERE user_id = $1 AND channel = $2";
const OF_USER: &str = "SELECT channel, epoch, \"offset\", updated_ms FROM read_state WHERE user_id = $1 \
     ORDER BY channel LIMIT $2";
const OF_CHANNEL: &str = "SELECT user_id, epoch, \"offset\", updated_ms FROM read_state WHERE channel = $1 \
     ORDER BY updated_ms DESC, user_id LIMIT $2";

#[async_trait]
impl ReadStateStore for PostgresStore {
    async fn advance_read(
        &self,
        user: &str,
        channel: &ChannelName,
        m: ReadMark,
    ) -> Result<(ReadMark, bool), StoreError> {
        no_nul("user id", user)?;
        let written = sqlx::query(ADVANCE)
            .bind(user)
            .bind(channel.as_str())
            .bind(m.epoch.as_str())
            .bind(sat_i64(m.offset))
            .bind(sat_i64(m.updated_ms))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("store read position"))?;
        if let Some(row) = written {
            return Ok((rows::read_mark(&row, 0)?, true));
        }
        // Kept: a new statement (a new snapshot) sees the mark that won,
        // even if another node wrote it a moment ago.
        let row = sqlx::query(SELECT_ONE)
            .bind(user)
            .bind(channel.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("read read position"))?;
        Ok((rows::read_mark(&row, 0)?, false))
    }

    async fn read_marks_of_user(&self, user: &str, limit: usize) -> Result<Vec<(ChannelName, ReadMark)>, StoreError> {
        if !could_be_stored(user) {
            return Ok(Vec::new());
        }
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
