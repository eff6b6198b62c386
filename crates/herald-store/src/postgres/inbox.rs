//! [`InboxStore`] over PostgreSQL: the `notifications` table. Semantics
//! match `SqliteStore` and `herald_core::MemoryStore`: a batch is one
//! transaction (all users or none), a dedupe key is unique per user, and
//! each inbox keeps its newest `max_per_user` notifications.
//!
//! Several nodes inserting for the same user (a retried POST reaching two
//! nodes, say) are serialized by a transaction-scoped advisory lock per
//! user, taken for every user of a batch in one statement and one fixed
//! order: the second transaction waits, then finds the first one's
//! notification and answers `Existing` (or `Conflict`). Retention is exact
//! for the same reason. The unique index on `(user_id, dedupe_key)` backs
//! the rule should a writer ever skip the lock.
//!
//! Ids come from one sequence, drawn under the user's lock, so a user's
//! notifications also become visible in id order: a client that has seen
//! id N never later finds a new notification below N (a plain sequence
//! alone would not promise that, as transactions commit out of order).

use std::collections::HashMap;

use async_trait::async_trait;
use herald_core::{InboxError, InboxStore, NewNotifications, Notification, StoreError, Stored};
use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::{PostgresStore, could_be_stored, no_nul, retryable};
use crate::db_err;
use crate::rows::{self, NOTIFICATION_COLUMNS};
use crate::sql_int::{lenient_u64, sat_i64};
use crate::statements::InboxSql;

/// The first key of Herald's inbox advisory locks ("HRLD"); the second is
/// the user id's hash. Other users of the database pick other classes.
const INBOX_LOCK_CLASS: i32 = 0x4852_4c44;
/// How often a batch is run again after PostgreSQL aborted it for a
/// deadlock or a serialization failure.
const RETRIES: usize = 5;

/// Locks every user of the batch, in hash order (the same order on every
/// node: no deadlock). The key includes the schema, so deployments sharing
/// a database never wait for each other.
const LOCK_USERS: &str = "SELECT pg_advisory_xact_lock($1, h) FROM \
     (SELECT DISTINCT hashtext($3 || '/' || u) AS h FROM UNNEST($2::text[]) AS u) AS users ORDER BY h";
const INSERT: &str = "INSERT INTO notifications (user_id, kind, title, body, data, created_ms, expires_ms, dedupe_key) \
     SELECT u, $2, $3, $4, $5, $6, $7, $8 FROM UNNEST($1::text[]) WITH ORDINALITY AS t(u, i) ORDER BY i \
     ON CONFLICT (user_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING id, user_id";
/// Drops each listed user's notifications beyond the newest `$2`.
const TRIM: &str = "DELETE FROM notifications WHERE id IN (SELECT id FROM \
     (SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY id DESC) AS n \
      FROM notifications WHERE user_id = ANY($1)) AS ranked WHERE n > $2)";

const SQL: InboxSql = InboxSql {
    unread: "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND NOT read \
        AND (expires_ms IS NULL OR expires_ms > $2)",
    mark_one: "UPDATE notifications SET read = TRUE WHERE user_id = $1 AND id = $2",
    mark_all: "UPDATE notifications SET read = TRUE WHERE user_id = $1 AND NOT read",
    delete_one: "DELETE FROM notifications WHERE user_id = $1 AND id = $2",
    remove_expired: "DELETE FROM notifications WHERE expires_ms IS NOT NULL AND expires_ms <= $1",
};

/// Why one attempt at a batch failed.
enum Attempt {
    /// Refused for good (conflict, bad text) or a store error to report.
    Fail(InboxError),
    /// PostgreSQL aborted it (deadlock, serialization), or another writer
    /// got in first: run it again.
    Again(String),
}

impl Attempt {
    fn db(what: &'static str) -> impl Fn(sqlx::Error) -> Attempt {
        move |e| {
            if retryable(&e) {
                Attempt::Again(format!("{what}: {e}"))
            } else {
                Attempt::Fail(InboxError::Store(db_err(what)(e)))
            }
        }
    }
}

/// Check the text PostgreSQL must hold.
fn check_text(new: &NewNotifications<'_>) -> Result<(), StoreError> {
    let c = new.content;
    for user in new.users {
        no_nul("user id", user)?;
    }
    no_nul("notification kind", &c.kind)?;
    no_nul("notification title", &c.title)?;
    no_nul("notification body", &c.body)?;
    no_nul("notification data", &c.data)?;
    new.dedupe_key.map_or(Ok(()), |k| no_nul("dedupe key", k))
}

/// One attempt at storing a batch, in the transaction on `conn`.
async fn insert_batch(
    conn: &mut PgConnection,
    schema: &str,
    new: &NewNotifications<'_>,
) -> Result<Vec<Stored>, Attempt> {
    let c = new.content;
    sqlx::query(LOCK_USERS)
        .bind(INBOX_LOCK_CLASS)
        .bind(new.users)
        .bind(schema)
        .execute(&mut *conn)
        .await
        .map_err(Attempt::db("lock inboxes"))?;
    // Under the locks: whatever another node stored for these users is committed and visible.
    let mut existing: HashMap<String, Notification> = HashMap::new();
    if let Some(key) = new.dedupe_key {
        let sql =
            format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE dedupe_key = $1 AND user_id = ANY($2)");
        let rows = sqlx::query(&sql)
            .bind(key)
            .bind(new.users)
            .fetch_all(&mut *conn)
            .await
            .map_err(Attempt::db("find dedupe key"))?;
        for row in &rows {
            let n = rows::notification(row).map_err(|e| Attempt::Fail(e.into()))?;
            existing.insert(n.user.clone(), n);
        }
        // The first user in batch order whose notification differs names the conflict.
        if let Some(user) = new.users.iter().find(|u| existing.get(*u).is_some_and(|n| n.content != *c)) {
            return Err(Attempt::Fail(InboxError::Conflict { user: user.clone() }));
        }
    }
    let fresh: Vec<&String> = new.users.iter().filter(|u| !existing.contains_key(*u)).collect();
    let mut ids: HashMap<String, u64> = HashMap::new();
    if !fresh.is_empty() {
        let rows = sqlx::query(INSERT)
            .bind(&fresh)
            .bind(&c.kind)
            .bind(&c.title)
            .bind(&c.body)
            .bind(&c.data)
            .bind(sat_i64(new.now_ms))
            .bind(c.expires_at.map(sat_i64))
            .bind(new.dedupe_key)
            .fetch_all(&mut *conn)
            .await
            .map_err(Attempt::db("insert notifications"))?;
        for row in &rows {
            let id: i64 = row.try_get(0).map_err(Attempt::db("decode notification id"))?;
            let user: String = row.try_get(1).map_err(Attempt::db("decode notification user"))?;
            ids.insert(user, lenient_u64(id));
        }
        if ids.len() != fresh.len() {
            // Only a writer that skipped the locks gets here; the next attempt sees its row.
            return Err(Attempt::Again("a notification with this dedupe key was stored concurrently".into()));
        }
        sqlx::query(TRIM)
            .bind(&fresh)
            .bind(sat_i64(new.max_per_user.max(1) as u64))
            .execute(&mut *conn)
            .await
            .map_err(Attempt::db("trim inboxes"))?;
    }
    let out = new
        .users
        .iter()
        .map(|user| match (existing.remove(user), ids.get(user)) {
            (Some(n), _) => Stored::Existing(n),
            (None, id) => Stored::Created(Notification {
                id: id.copied().unwrap_or(0),
                user: user.clone(),
                content: c.clone(),
                dedupe_key: new.dedupe_key.map(str::to_string),
                created_ms: new.now_ms,
                read: false,
            }),
        })
        .collect();
    Ok(out)
}

#[async_trait]
impl InboxStore for PostgresStore {
    async fn insert_notifications(&self, new: NewNotifications<'_>) -> Result<Vec<Stored>, InboxError> {
        check_text(&new)?;
        let mut tries = 0;
        loop {
            let mut tx = self.pool.begin().await.map_err(db_err("begin notifications"))?;
            // On failure, dropping the transaction rolls back what this batch stored.
            match insert_batch(&mut tx, &self.schema, &new).await {
                Ok(out) => match tx.commit().await {
                    Ok(()) => return Ok(out),
                    Err(e) if retryable(&e) && tries < RETRIES => tracing::debug!(error = %e, "notifications retried"),
                    Err(e) => return Err(db_err("commit notifications")(e).into()),
                },
                Err(Attempt::Again(e)) if tries < RETRIES => tracing::debug!(error = %e, "notifications retried"),
                Err(Attempt::Again(e)) => return Err(StoreError(format!("store notifications: {e}")).into()),
                Err(Attempt::Fail(e)) => return Err(e),
            }
            tries += 1;
        }
    }

    async fn list_notifications(
        &self,
        user: &str,
        before: Option<u64>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<Notification>, StoreError> {
        if !could_be_stored(user) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = $1 AND id < $2 \
             AND (expires_ms IS NULL OR expires_ms > $3) ORDER BY id DESC LIMIT $4"
        );
        self.pools().list_notifications(&sql, user, before, limit, now_ms).await
    }

    async fn mark_notification_read(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        Ok(could_be_stored(user) && self.pools().mark_notification_read(&SQL, user, id).await?)
    }

    async fn mark_all_notifications_read(&self, user: &str) -> Result<(), StoreError> {
        if !could_be_stored(user) {
            return Ok(());
        }
        self.pools().mark_all_notifications_read(&SQL, user).await
    }

    async fn delete_notification(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        Ok(could_be_stored(user) && self.pools().delete_notification(&SQL, user, id).await?)
    }

    async fn unread_notifications(&self, user: &str, now_ms: u64) -> Result<u64, StoreError> {
        if !could_be_stored(user) {
            return Ok(0);
        }
        self.pools().unread_notifications(&SQL, user, now_ms).await
    }

    async fn remove_expired_notifications(&self, now_ms: u64) -> Result<u64, StoreError> {
        self.pools().remove_expired_notifications(&SQL, now_ms).await
    }
}
