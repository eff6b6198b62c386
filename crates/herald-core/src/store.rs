//! Storage traits: what Herald keeps across restarts. One trait per concern
//! so a backend (embedded SQLite, Postgres, memory) implements what it can.

use std::sync::Arc;

use async_trait::async_trait;

use crate::broker::HistoryQuery;
use crate::channel::ChannelName;
use crate::namespace::Retention;
use crate::position::Epoch;
use crate::publication::Publication;

/// A storage failure. Reported to clients as a temporary `unavailable` error.
#[derive(Debug, thiserror::Error)]
#[error("store error: {0}")]
pub struct StoreError(pub String);

/// The persisted state of a channel's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMeta {
    /// The stream's epoch.
    pub epoch: Epoch,
    /// The last offset assigned and stored (0 = none).
    pub top: u64,
}

/// Channel history with epochs and offsets.
#[async_trait]
pub trait HistoryStore: Send + Sync + 'static {
    /// The stream's epoch and top offset; creates the stream with a fresh
    /// epoch if it does not exist.
    async fn stream_meta(&self, channel: &ChannelName) -> Result<StreamMeta, StoreError>;

    /// Append publications atomically (all or none), advancing each stream's
    /// top offset and trimming history to its retention.
    async fn append(&self, batch: &[(Arc<Publication>, Retention)]) -> Result<(), StoreError>;

    /// Read publications (not yet expired) matching the query.
    async fn read(&self, channel: &ChannelName, query: &HistoryQuery) -> Result<Vec<Arc<Publication>>, StoreError>;

    /// Delete expired publications; returns how many were removed.
    async fn remove_expired(&self, now_ms: u64) -> Result<u64, StoreError>;

    /// Flush and close.
    async fn close(&self);
}

/// A user's read position in one channel: the last offset they have read,
/// within the channel's epoch at the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMark {
    /// The channel's epoch when the mark was set.
    pub epoch: Epoch,
    /// The last offset read.
    pub offset: u64,
    /// When the mark was set, ms since the Unix epoch.
    pub updated_ms: u64,
}

/// Per-(user, channel) read positions ("read receipts").
#[async_trait]
pub trait ReadStateStore: Send + Sync + 'static {
    /// Set the mark if it moves forward: the stored mark is replaced when it
    /// has another epoch or a smaller offset, and kept otherwise. Returns
    /// the mark stored afterwards and whether it changed.
    async fn advance_read(
        &self,
        user: &str,
        channel: &ChannelName,
        mark: ReadMark,
    ) -> Result<(ReadMark, bool), StoreError>;

    /// The user's marks, by channel name, at most `limit`.
    async fn read_marks_of_user(&self, user: &str, limit: usize) -> Result<Vec<(ChannelName, ReadMark)>, StoreError>;

    /// Every user's mark in `channel`, at most `limit`, most recently updated first.
    async fn read_marks_of_channel(
        &self,
        channel: &ChannelName,
        limit: usize,
    ) -> Result<Vec<(String, ReadMark)>, StoreError>;
}

/// What a notification says, as the app's back end sent it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NotificationContent {
    /// App-defined kind (`mention`, `invite`…).
    pub kind: String,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// App-defined JSON (canonical text: keys sorted, no spaces).
    pub data: String,
    /// When it disappears from the inbox, ms since the Unix epoch.
    pub expires_at: Option<u64>,
}

/// One notification in a user's inbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notification {
    /// Store-assigned id, increasing with time.
    pub id: u64,
    /// The recipient.
    pub user: String,
    /// What it says.
    pub content: NotificationContent,
    /// The key retries are recognized by, if any.
    pub dedupe_key: Option<String>,
    /// When it was created, ms since the Unix epoch.
    pub created_ms: u64,
    /// Whether the user has read it.
    pub read: bool,
}

/// A notification to store for several users at once.
#[derive(Debug, Clone)]
pub struct NewNotifications<'a> {
    /// The recipients (distinct).
    pub users: &'a [String],
    /// What it says.
    pub content: &'a NotificationContent,
    /// The key retries are recognized by, per user.
    pub dedupe_key: Option<&'a str>,
    /// Creation time, ms since the Unix epoch.
    pub now_ms: u64,
    /// Inbox size per user; the oldest notifications beyond it are dropped.
    pub max_per_user: usize,
}

/// The outcome of storing a notification for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Newly stored.
    Created(Notification),
    /// A notification with the same dedupe key and content already existed.
    Existing(Notification),
}

/// Why a batch of notifications was refused (nothing was stored).
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// A user already has this dedupe key with different content.
    #[error("dedupe key already used for user {user:?} with different content")]
    Conflict {
        /// The user whose inbox holds the other notification.
        user: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Per-user notification inboxes.
#[async_trait]
pub trait InboxStore: Send + Sync + 'static {
    /// Store one notification per user, all or nothing: with a dedupe key,
    /// a user who has it with the same content gets the existing one back,
    /// with different content the whole batch is refused.
    async fn insert_notifications(&self, new: NewNotifications<'_>) -> Result<Vec<Stored>, InboxError>;

    /// The user's unexpired notifications with ids below `before`, newest first, at most `limit`.
    async fn list_notifications(
        &self,
        user: &str,
        before: Option<u64>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<Notification>, StoreError>;

    /// Mark one of the user's notifications read; false when the user has no such notification.
    async fn mark_notification_read(&self, user: &str, id: u64) -> Result<bool, StoreError>;

    /// Mark all of the user's notifications read.
    async fn mark_all_notifications_read(&self, user: &str) -> Result<(), StoreError>;

    /// Delete one of the user's notifications; false when the user has no such notification.
    async fn delete_notification(&self, user: &str, id: u64) -> Result<bool, StoreError>;

    /// How many unread, unexpired notifications the user has.
    async fn unread_notifications(&self, user: &str, now_ms: u64) -> Result<u64, StoreError>;

    /// Delete expired notifications; returns how many.
    async fn remove_expired_notifications(&self, now_ms: u64) -> Result<u64, StoreError>;
}

/// A collaborative document as stored: the last compacted snapshot (a
/// Yjs update holding the whole state) and the updates appended since,
/// oldest first. Applying the snapshot, then every update, rebuilds the
/// document; updates commute, so a crash between steps loses nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDocument {
    /// The snapshot, if the document was ever compacted.
    pub snapshot: Option<Vec<u8>>,
    /// Updates appended after the snapshot, oldest first, with their sequence numbers.
    pub updates: Vec<(u64, Vec<u8>)>,
}

impl StoredDocument {
    /// Bytes held: the snapshot plus every update.
    pub fn size(&self) -> usize {
        self.snapshot.as_ref().map_or(0, Vec::len) + self.updates.iter().map(|(_, u)| u.len()).sum::<usize>()
    }

    /// The highest sequence number in the tail (0 if none).
    pub fn last_seq(&self) -> u64 {
        self.updates.last().map_or(0, |(s, _)| *s)
    }
}

/// Collaborative documents (Yjs): an append-only log of binary updates per
/// document, compacted into a snapshot from time to time. The store never
/// interprets the bytes.
#[async_trait]
pub trait DocumentStore: Send + Sync + 'static {
    /// The document's snapshot and tail; empty if it was never written.
    async fn load_document(&self, name: &ChannelName) -> Result<StoredDocument, StoreError>;

    /// Append one update durably; returns its sequence number (increasing
    /// per document, never reused). One document's updates become visible
    /// in sequence order, also when several nodes append at once: a load
    /// that sees update `n` sees every earlier update of the document.
    async fn append_document_update(&self, name: &ChannelName, update: &[u8]) -> Result<u64, StoreError>;

    /// Replace the snapshot with `snapshot`, which includes every update up
    /// to and including `through_seq`, and drop those updates, atomically.
    /// A snapshot through an older sequence number than the stored one is
    /// not kept (a late compactor never undoes a newer one).
    async fn compact_document(&self, name: &ChannelName, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError>;
}
