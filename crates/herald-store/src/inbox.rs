//! [`InboxStore`] over SQLite: the `notifications` table. Semantics match
//! `herald_core::MemoryStore`: a batch is one transaction (all users or
//! none), a dedupe key is unique per user, and each inbox keeps its newest
//! `max_per_user` notifications.

use async_trait::async_trait;
use herald_core::{InboxError, InboxStore, NewNotifications, Notification, StoreError, Stored};

use crate::rows::{self, NOTIFICATION_COLUMNS};
use crate::{SqliteStore, db_err};

const INSERT: &str = "INSERT INTO notifications \
     (user_id, kind, title, body, data, created_ms, expires_ms, dedupe_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const TRIM: &str = "DELETE FROM notifications WHERE user_id = ?1 AND id NOT IN \
     (SELECT id FROM notifications WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2)";
const UNREAD: &str = "SELECT COUNT(*) FROM notifications WHERE user_id = ?1 AND read = 0 \
     AND (expires_ms IS NULL OR expires_ms > ?2)";
const MARK_ONE: &str = "UPDATE notifications SET read = 1 WHERE user_id = ?1 AND id = ?2";
const MARK_ALL: &str = "UPDATE notifications SET read = 1 WHERE user_id = ?1 AND read = 0";
const DELETE_ONE: &str = "DELETE FROM notifications WHERE user_id = ?1 AND id = ?2";
const REMOVE_EXPIRED: &str = "DELETE FROM notifications WHERE expires_ms IS NOT NULL AND expires_ms <= ?1";

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn insert_notifications(&self, new: NewNotifications<'_>) -> Result<Vec<Stored>, InboxError> {
        let mut tx = self.writer.begin().await.map_err(db_err("begin notifications"))?;
        let c = new.content;
        let mut out = Vec::with_capacity(new.users.len());
        for user in new.users {
            if let Some(key) = new.dedupe_key {
                let sql =
                    format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = ?1 AND dedupe_key = ?2");
                let row = sqlx::query(&sql)
                    .bind(user)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err("find dedupe key"))?;
                if let Some(row) = row {
                    let existing = rows::notification(&row)?;
                    if existing.content != *c {
                        // Dropping the transaction rolls back what this batch stored.
                        return Err(InboxError::Conflict { user: user.clone() });
                    }
                    out.push(Stored::Existing(existing));
                    continue;
                }
            }
            let done = sqlx::query(INSERT)
                .bind(user)
                .bind(&c.kind)
                .bind(&c.title)
                .bind(&c.body)
                .bind(&c.data)
                .bind(to_i64(new.now_ms))
                .bind(c.expires_at.map(to_i64))
                .bind(new.dedupe_key)
                .execute(&mut *tx)
                .await
                .map_err(db_err("insert notification"))?;
            sqlx::query(TRIM)
                .bind(user)
                .bind(to_i64(new.max_per_user.max(1) as u64))
                .execute(&mut *tx)
                .await
                .map_err(db_err("trim inbox"))?;
            out.push(Stored::Created(Notification {
                id: to_u64(done.last_insert_rowid()),
                user: user.clone(),
                content: c.clone(),
                dedupe_key: new.dedupe_key.map(str::to_string),
                created_ms: new.now_ms,
                read: false,
            }));
        }
        tx.commit().await.map_err(db_err("commit notifications"))?;
        Ok(out)
    }

    async fn list_notifications(
        &self,
        user: &str,
        before: Option<u64>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<Notification>, StoreError> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = ?1 AND id < ?2 \
             AND (expires_ms IS NULL OR expires_ms > ?3) ORDER BY id DESC LIMIT ?4"
        );
        let rows = sqlx::query(&sql)
            .bind(user)
            .bind(to_i64(before.unwrap_or(u64::MAX)))
            .bind(to_i64(now_ms))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.readers)
            .await
            .map_err(db_err("list notifications"))?;
        rows.iter().map(rows::notification).collect()
    }

    async fn mark_notification_read(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        let r = sqlx::query(MARK_ONE)
            .bind(user)
            .bind(to_i64(id))
            .execute(&self.writer)
            .await
            .map_err(db_err("mark notification read"))?;
        Ok(r.rows_affected() > 0)
    }

    async fn mark_all_notifications_read(&self, user: &str) -> Result<(), StoreError> {
        sqlx::query(MARK_ALL).bind(user).execute(&self.writer).await.map_err(db_err("mark notifications read"))?;
        Ok(())
    }

    async fn delete_notification(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        let r = sqlx::query(DELETE_ONE)
            .bind(user)
            .bind(to_i64(id))
            .execute(&self.writer)
            .await
            .map_err(db_err("delete notification"))?;
        Ok(r.rows_affected() > 0)
    }

    async fn unread_notifications(&self, user: &str, now_ms: u64) -> Result<u64, StoreError> {
        // On the writer: a count right after a change must see it.
        let n: i64 = sqlx::query_scalar(UNREAD)
            .bind(user)
            .bind(to_i64(now_ms))
            .fetch_one(&self.writer)
            .await
            .map_err(db_err("count unread notifications"))?;
        Ok(to_u64(n))
    }

    async fn remove_expired_notifications(&self, now_ms: u64) -> Result<u64, StoreError> {
        let r = sqlx::query(REMOVE_EXPIRED)
            .bind(to_i64(now_ms))
            .execute(&self.writer)
            .await
            .map_err(db_err("remove expired notifications"))?;
        Ok(r.rows_affected())
    }
}
