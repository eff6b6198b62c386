//! Scale-out on Redis: several Herald nodes behave as one system.
//!
//! - [`RedisBroker`] implements herald-core's [`Broker`](herald_core::Broker):
//!   offset assignment, history append and fan-out are one Lua script per
//!   publish (`HINCRBY` + `XADD` + `PUBLISH`), so two nodes never assign the
//!   same offset and every node receives a channel's publications in offset
//!   order. Epochs, history and idempotency keys live in Redis, so a client
//!   may reconnect to any node and recover.
//! - A node subscribes to a channel's Redis pub/sub only while it has local
//!   subscribers, over a configurable number of pub/sub connections
//!   (shards); losing one ends the affected subscriptions with a temporary
//!   error instead of silently missing messages.
//! - [`RedisDocumentBus`] carries collaborative documents' updates and
//!   awareness between the nodes that have a document open, on the same
//!   shards, and elects one compactor per document with a lease.
//!
//! Key layout (every key starts with the configured prefix, and the parts
//! of one channel share a `{channel}` hash tag): see [`keys`].

pub mod broker;
pub mod codec;
pub mod document_bus;
pub mod event_queue;
pub mod handoff;
pub mod keys;
pub mod mailbox;
pub mod nodes;
pub mod occupancy;
pub mod options;
pub mod presence;
mod pubsub;
mod scripts;

pub use broker::RedisBroker;
pub use document_bus::RedisDocumentBus;
pub use event_queue::{EventQueue, EventQueueOptions, QueuedEvent};
pub use handoff::Handoffs;
pub use mailbox::NodeMailbox;
pub use nodes::{NodeInfo, NodeRegistry};
pub use occupancy::RedisOccupancy;
pub use options::RedisBrokerOptions;
pub use presence::RedisPresence;

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedisStartError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL {url:?}: {message}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it is refused.
        message: String,
    },
    /// Redis did not answer.
    #[error("cannot reach Redis at {url}: {message}")]
    Connect {
        /// The URL given (without password).
        url: String,
        /// Why.
        message: String,
    },
}
