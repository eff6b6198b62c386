//! [`InboxStore`] over SQLite: the `notifications` table. Semantics match
//! `herald_core::MemoryStore`: a batch is one transaction (all users or
//! none), a dedupe key is unique per user, and each inbox keeps its newest
//! `max_per_user` notifications.

use async_trait::async_trait;
use herald_core::{InboxError, InboxStore, NewNotifications, Notification, StoreError, Stored};

use crate::rows::{self, NOTIFICATION_COLUMNS};
use crate::sql_int::{lenient_u64, sat_i64};
use crate::statements::InboxSql;
use crate::{SqliteStore, db_err};

const INSERT: &str = "INSERT INTO notifications \
     (user_id, kind, title, body, data, created_ms, expires_ms, dedupe_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const TRIM: &str = "DELETE FROM notifications WHERE user_id = ?1 AND id NOT IN \
     (SELECT id FROM notifications WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2)";

const SQL: InboxSql = InboxSql {
    unread: "SELECT COUNT(*) FROM notifications WHERE user_id = ?1 AND read = 0 \
        AND (expires_ms IS NULL OR expires_ms > ?2)",
    mark_one: "UPDATE notifications SET read = 1 WHERE user_id = ?1 AND id = ?2",
    mark_all: "UPDATE notifications SET read = 1 WHERE user_id = ?1 AND read = 0",
    delete_one: "DELETE FROM notifications WHERE user_id = ?1 AND id = ?2",
    remove_expired: "DELETE FROM notifications WHERE expires_ms IS NOT NULL AND expires_ms <= ?1",
};

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
                .bind(sat_i64(new.now_ms))
                .bind(c.expires_at.map(sat_i64))
                .bind(new.dedupe_key)
                .execute(&mut *tx)
                .await
                .map_err(db_err("insert notification"))?;
            sqlx::query(TRIM)
                .bind(user)
                .bind(sat_i64(new.max_per_user.max(1) as u64))
                .execute(&mut *tx)
                .await
                .map_err(db_err("trim inbox"))?;
            out.push(Stored::Created(Notification {
                id: lenient_u64(done.last_insert_rowid()),
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
        self.pools().list_notifications(&sql, user, before, limit, now_ms).await
    }

    async fn mark_notification_read(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        self.pools().mark_notification_read(&SQL, user, id).await
    }

    async fn mark_all_notifications_read(&self, user: &str) -> Result<(), StoreError> {
        self.pools().mark_all_notifications_read(&SQL, user).await
    }

    async fn delete_notification(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        self.pools().delete_notification(&SQL, user, id).await
    }

    async fn unread_notifications(&self, user: &str, now_ms: u64) -> Result<u64, StoreError> {
        self.pools().unread_notifications(&SQL, user, now_ms).await
    }

    async fn remove_expired_notifications(&self, now_ms: u64) -> Result<u64, StoreError> {
        self.pools().remove_expired_notifications(&SQL, now_ms).await
    }
}
