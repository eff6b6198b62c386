//! `DocumentBus`: how collaborative-document messages travel between the
//! nodes that have a document open (scale-out). A node joins a document's
//! bus topic while it has the document loaded, sends each update and
//! awareness message it accepted from its own connections, and receives the
//! other nodes' messages. The bytes are y-websocket messages; the bus never
//! interprets them. None installed (one node): documents stay local.
//!
//! The Redis implementation is `herald_redis::RedisDocumentBus`; the
//! document registry (`herald-docs`) is the handler.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::channel::ChannelName;
use crate::error::HeraldError;

/// Receives what other nodes sent about documents this node joined.
pub trait DocumentBusHandler: Send + Sync {
    /// A message another node (`origin`) accepted for `doc`.
    fn on_message(&self, doc: &ChannelName, origin: &str, message: &[u8]);

    /// Node `node` is gone (it stopped heart-beating): whatever it announced
    /// for `doc` (its connections' awareness states) no longer holds.
    fn on_node_gone(&self, doc: &ChannelName, node: &str);

    /// The bus can no longer promise that every message of `doc` arrived
    /// (its upstream connection was lost): catch up from the store once
    /// [`DocumentBus::join`] succeeds again.
    fn on_stream_lost(&self, doc: &ChannelName);

    /// Whether this node still has `doc` open; checked before leaving its
    /// topic, so a leave racing a new open never leaves the document deaf.
    fn wants(&self, doc: &ChannelName) -> bool;
}

/// A held compaction lease: release it with [`DocumentBus::release_compaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionLease(pub String);

/// Moves document messages between nodes and elects one compactor per document.
#[async_trait]
pub trait DocumentBus: Send + Sync + 'static {
    /// Register the handler that receives other nodes' messages.
    fn attach(&self, handler: Arc<dyn DocumentBusHandler>);

    /// Receive `doc`'s messages from now on; returns once every message
    /// another node sends after this call is sure to arrive.
    async fn join(&self, doc: &ChannelName) -> Result<(), HeraldError>;

    /// Stop receiving `doc`'s messages, unless the handler
    /// [`wants`](DocumentBusHandler::wants) it again.
    async fn leave(&self, doc: &ChannelName);

    /// Send `message` to the other nodes that joined `doc` (best effort, in
    /// order from this node; never stored: the store has the updates).
    fn send(&self, doc: &ChannelName, message: &[u8]);

    /// Try to become `doc`'s only compactor for up to `ttl`; `None` when
    /// another node holds the lease.
    async fn try_compaction(&self, doc: &ChannelName, ttl: Duration) -> Result<Option<CompactionLease>, HeraldError>;

    /// Give the lease back (only if it is still ours).
    async fn release_compaction(&self, doc: &ChannelName, lease: CompactionLease);
}
