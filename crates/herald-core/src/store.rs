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
