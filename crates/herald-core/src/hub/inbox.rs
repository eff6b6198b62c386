//! Notification inboxes, as the hub runs them: `Hub::notify` (checks, store,
//! push to each recipient's connections with their unread count, share with
//! the other nodes), list, mark read, delete, and the `unread` push to every
//! connection of the user on each change.

use super::*;
use crate::inbox::{MAX_DEDUPE_KEY_LEN, MAX_NOTIFICATION_USERS, MarkRead};
use crate::node_event::NodeEvent;
use crate::publication::now_ms;
use crate::store::{InboxError, NewNotifications, Notification, NotificationContent, Stored};

fn not_found(id: u64) -> HeraldError {
    HeraldError::new(ErrorCode::NotFound, format!("no notification {id} in your inbox"))
}

impl Hub {
    /// Store `content` in each user's inbox and push it to their
    /// connections. All or nothing: a dedupe key reused with different
    /// content refuses the whole request with `conflict`.
    pub async fn notify(
        &self,
        users: &[String],
        content: NotificationContent,
        dedupe_key: Option<&str>,
    ) -> Result<Vec<Stored>, HeraldError> {
        if users.is_empty() || users.len() > MAX_NOTIFICATION_USERS {
            return Err(HeraldError::bad_request(format!("give 1 to {MAX_NOTIFICATION_USERS} users")));
        }
        if users.iter().any(|u| u.is_empty()) {
            return Err(HeraldError::bad_request("user ids must not be empty"));
        }
        let mut distinct = users.to_vec();
        distinct.sort();
        distinct.dedup();
        if dedupe_key.is_some_and(|k| k.is_empty() || k.len() > MAX_DEDUPE_KEY_LEN) {
            return Err(HeraldError::bad_request(format!("\"dedupe_key\" must be 1 to {MAX_DEDUPE_KEY_LEN} bytes")));
        }
        // One rule for every store: PostgreSQL text cannot hold NUL (JSON `data` escapes it).
        let texts = [content.kind.as_str(), content.title.as_str(), content.body.as_str()];
        if texts.into_iter().chain(dedupe_key).chain(users.iter().map(String::as_str)).any(|t| t.contains('\0')) {
            return Err(HeraldError::bad_request("notification text, user ids and dedupe_key must not contain NUL"));
        }
        let size = content.kind.len() + content.title.len() + content.body.len() + content.data.len();
        if size > self.config.notification_max_bytes {
            return Err(HeraldError::new(
                ErrorCode::MessageTooLarge,
                format!("notification is {size} bytes; at most {} allowed", self.config.notification_max_bytes),
            ));
        }
        let new = NewNotifications {
            users: &distinct,
            content: &content,
            dedupe_key,
            now_ms: now_ms(),
            max_per_user: self.config.inbox_max_per_user,
        };
        let stored = self.stores.inbox.insert_notifications(new).await.map_err(|e| match e {
            InboxError::Conflict { user } => HeraldError::new(
                ErrorCode::Conflict,
                format!("dedupe key {:?} was already used for user {user:?} with different content", dedupe_key),
            ),
            InboxError::Store(e) => unavailable(e),
        })?;
        for s in &stored {
            if let Stored::Created(n) = s {
                metrics::counter!("herald_notifications_total").increment(1);
                let conns = self.user_connections(&n.user);
                if conns.is_empty() && !self.broker.distributed() {
                    continue;
                }
                let unread = self.notifications_unread(&n.user).await?;
                send_to(&conns, ChannelEvent::Notification(n, unread));
                self.share(|| Some(NodeEvent::Notification { notification: n.clone(), unread }));
            }
        }
        Ok(stored)
    }

    /// `user`'s unread notification count.
    pub async fn notifications_unread(&self, user: &str) -> Result<u64, HeraldError> {
        self.stores.inbox.unread_notifications(user, now_ms()).await.map_err(unavailable)
    }

    /// A page of `identity`'s user's inbox, newest first, with ids below `before`.
    pub async fn notifications(
        &self,
        identity: &Identity,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Notification>, u64), HeraldError> {
        let user = signed_in(identity)?;
        let limit = limit.min(self.config.inbox_page_max);
        let list = self.stores.inbox.list_notifications(&user, before, limit, now_ms()).await.map_err(unavailable)?;
        Ok((list, self.notifications_unread(&user).await?))
    }

    /// Mark notifications of `identity`'s user read; returns the unread
    /// count, also pushed to every connection of the user.
    pub async fn notification_read(&self, identity: &Identity, which: MarkRead) -> Result<u64, HeraldError> {
        let user = signed_in(identity)?;
        match which {
            MarkRead::One(id) => {
                if !self.stores.inbox.mark_notification_read(&user, id).await.map_err(unavailable)? {
                    return Err(not_found(id));
                }
            }
            MarkRead::All => self.stores.inbox.mark_all_notifications_read(&user).await.map_err(unavailable)?,
        }
        self.push_unread(&user).await
    }

    /// Delete one notification of `identity`'s user; returns the unread
    /// count, also pushed to every connection of the user.
    pub async fn notification_delete(&self, identity: &Identity, id: u64) -> Result<u64, HeraldError> {
        let user = signed_in(identity)?;
        if !self.stores.inbox.delete_notification(&user, id).await.map_err(unavailable)? {
            return Err(not_found(id));
        }
        self.push_unread(&user).await
    }

    /// Push `user`'s unread count to each of their connections; returns it.
    pub async fn push_unread(&self, user: &str) -> Result<u64, HeraldError> {
        let unread = self.notifications_unread(user).await?;
        send_to(&self.user_connections(user), ChannelEvent::Unread(unread));
        self.share(|| Some(NodeEvent::Unread { user: user.to_string(), unread }));
        Ok(unread)
    }

    /// Push `conn`'s unread count to it alone (right after it connects).
    pub async fn greet(&self, conn: &Connection) -> Result<(), HeraldError> {
        let Some(user) = conn.user() else { return Ok(()) };
        let unread = self.notifications_unread(user).await?;
        let mut cache = EncodeCache::new(ChannelEvent::Unread(unread));
        let _ = conn.outbound.push_frame(cache.frame(&conn.encoder));
        Ok(())
    }
}
