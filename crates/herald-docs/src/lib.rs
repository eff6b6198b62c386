//! Herald's collaborative documents: Yjs documents (through `yrs`) with
//! awareness, spoken over the y-websocket protocol, persisted through
//! herald-core's [`DocumentStore`](herald_core::DocumentStore).
//!
//! No sockets and no HTTP: a door (`herald-server`'s `/yjs`) authenticates,
//! frames and reads; this crate keeps document state.
//! - [`document`]: one document and its awareness, as synchronous state.
//! - [`registry`]: the node's open documents — lazy load, peers, relay
//!   (framed once per wire format), unload after a grace period.
//! - [`lease`]: a hold on an open document — reads, the write path
//!   (integrate, append, relay), a peer's y-websocket conversation.
//! - [`cluster`]: the same documents open on other nodes, through a
//!   [`DocumentBus`](herald_core::DocumentBus) (scale-out).
//! - [`compaction`]: snapshots built from the store, one compactor at a time.
//! - [`json`]: root types as JSON for the HTTP API.
//! - [`records`]: versioned records (a `Y.Map` per record) with compare-and-set.

pub mod cluster;
pub mod compaction;
pub mod document;
pub mod json;
pub mod lease;
pub mod records;
pub mod registry;

use std::time::Duration;

use herald_core::{ErrorCode, HeraldError, StoreError};
use yrs::sync::protocol::Message;
use yrs::updates::encoder::Encode;

pub use document::Document;
pub use lease::DocLease;
pub use registry::{DocRegistry, Framer};

/// Document limits and housekeeping. Every field has a documented default
/// (`[yjs]` in the server configuration).
#[derive(Debug, Clone)]
pub struct DocOptions {
    /// Largest single update accepted, bytes. Default 1 MiB.
    pub max_update_bytes: usize,
    /// Largest stored document (snapshot + updates since), bytes; updates
    /// past it are refused. Default 16 MiB.
    pub max_document_bytes: usize,
    /// Compact into a snapshot after this many appended updates. Default 500.
    pub compact_after_updates: usize,
    /// Compact a document with appended updates after this long without edits. Default 10 s.
    pub compact_idle: Duration,
    /// Keep a document loaded this long after its last connection leaves. Default 30 s.
    pub unload_grace: Duration,
    /// With several nodes: how long one node's compaction lease on a
    /// document lasts (others do not compact it meanwhile). Default 30 s.
    pub compaction_lease: Duration,
}

impl Default for DocOptions {
    fn default() -> Self {
        Self {
            max_update_bytes: 1024 * 1024,
            max_document_bytes: 16 * 1024 * 1024,
            compact_after_updates: 500,
            compact_idle: Duration::from_secs(10),
            unload_grace: Duration::from_secs(30),
            compaction_lease: Duration::from_secs(30),
        }
    }
}

/// Why a document operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// Not a valid y-websocket message or Yjs update.
    #[error("{0}")]
    Malformed(String),
    /// The connection may read the document but not change it.
    #[error("read-only access to {name}: updates are refused (the token lacks the publish right)")]
    ReadOnly {
        /// The document.
        name: String,
    },
    /// One update is larger than `yjs.max_update_bytes`.
    #[error("update of {size} bytes is larger than yjs.max_update_bytes ({limit}); refused")]
    UpdateTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The document would grow past `yjs.max_document_bytes`.
    #[error("document {name} would grow past yjs.max_document_bytes ({limit} bytes); update refused")]
    DocumentTooLarge {
        /// The document.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// A compare-and-set found another version than the caller expected.
    #[error("record {id:?} is at version {current}, not {expected}: read it again and retry")]
    VersionConflict {
        /// The record.
        id: String,
        /// The version the caller expected.
        expected: u64,
        /// The version found.
        current: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server is stopping.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The other nodes cannot be reached (scale-out bus), so the document
    /// cannot be opened here without missing their edits.
    #[error("{0}")]
    Unavailable(String),
}

impl DocError {
    /// A refusal of one update: the connection stays open and is told why.
    pub fn is_refusal(&self) -> bool {
        matches!(self, DocError::ReadOnly { .. } | DocError::UpdateTooLarge { .. } | DocError::DocumentTooLarge { .. })
    }

    /// As a Herald error (stable code + message) for the HTTP API.
    pub fn to_herald(&self) -> HeraldError {
        let code = match self {
            DocError::Malformed(_) => ErrorCode::BadRequest,
            DocError::ReadOnly { .. } => ErrorCode::PermissionDenied,
            DocError::UpdateTooLarge { .. } | DocError::DocumentTooLarge { .. } => ErrorCode::MessageTooLarge,
            DocError::VersionConflict { .. } => ErrorCode::Conflict,
            DocError::Store(_) | DocError::ShuttingDown | DocError::Unavailable(_) => ErrorCode::Unavailable,
        };
        HeraldError::new(code, self.to_string())
    }
}

/// The y-websocket "permission denied" message (type 2, auth) with a
/// reason; y-websocket clients log it.
pub fn denied_message(reason: &str) -> Vec<u8> {
    Message::Auth(Some(reason.to_string())).encode_v1()
}

/// Whether `update` changes nothing (no structs, empty delete set), as
/// y-websocket clients send in reply to sync step 1 when they have nothing new.
pub fn is_empty_update(update: &[u8]) -> bool {
    update == [0, 0]
}
