//! The `Broker`: assigns offsets, keeps history and moves publications to
//! every node's hub. The embedded broker serves one node; the Redis broker
//! (scale-out) serves many. Either way, offset assignment, history append and
//! delivery are one ordered step per channel.

use std::sync::Arc;

use async_trait::async_trait;

use crate::channel::ChannelName;
use crate::error::HeraldError;
use crate::namespace::Retention;
use crate::node_event::NodeEvent;
use crate::position::Position;
use crate::publication::{Payload, Publication, PublisherInfo};

/// A request to publish one message.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// Target channel.
    pub channel: ChannelName,
    /// The body.
    pub data: Payload,
    /// How much history the channel keeps.
    pub retention: Retention,
    /// Who publishes, if a client.
    pub publisher: Option<PublisherInfo>,
    /// A key that makes retries of the same publish return the first result.
    pub idempotency_key: Option<Arc<str>>,
}

/// Which way a history page reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Oldest first, starting after `since`.
    #[default]
    Forward,
    /// Newest first, starting before `before`.
    Backward,
}

/// A history query.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Forward: only offsets greater than this.
    pub since: Option<u64>,
    /// Backward: only offsets smaller than this.
    pub before: Option<u64>,
    /// Most publications returned.
    pub limit: usize,
    /// Reading order.
    pub direction: Direction,
}

/// One page of history plus the stream's current top position.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The channel's current epoch and last offset.
    pub top: Position,
    /// Publications in the requested order.
    pub publications: Vec<Arc<Publication>>,
}

/// Receives publications a broker delivers to this node, in offset order per channel.
pub trait BrokerHandler: Send + Sync {
    /// A publication to fan out to local subscribers.
    fn on_publication(&self, publication: Arc<Publication>);

    /// An ephemeral event from another node ([`Broker::broadcast`]): deliver
    /// it to this node's connections.
    fn on_node_event(&self, _event: NodeEvent) {}

    /// The broker can no longer promise a continuous stream of `channel` to
    /// this node (its upstream connection was lost): end the channel's
    /// subscriptions with a temporary error so clients resubscribe and
    /// recover from history (or learn `recovered: false`).
    fn on_stream_lost(&self, _channel: &ChannelName) {}

    /// Whether this node still has a use for `channel`'s stream. A broker
    /// checks it before unsubscribing upstream, so an `unwatch` racing a new
    /// subscription never leaves that subscription deaf.
    fn wants(&self, _channel: &ChannelName) -> bool {
        true
    }
}

/// Moves publications between publishers, history and every node's hub.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Register the node's hub; publications are delivered to it from now on.
    fn attach(&self, handler: Arc<dyn BrokerHandler>);

    /// Assign the next offset, append to history and deliver to every node.
    /// Returns the stored publication once it is durable and ordered.
    async fn publish(&self, request: PublishRequest) -> Result<Arc<Publication>, HeraldError>;

    /// Read a page of history with the current top position.
    async fn history(&self, channel: &ChannelName, query: HistoryQuery) -> Result<HistoryPage, HeraldError>;

    /// This node now has subscribers of `channel` (scale-out brokers subscribe upstream).
    async fn watch(&self, channel: &ChannelName) -> Result<(), HeraldError>;

    /// This node no longer has subscribers of `channel`.
    async fn unwatch(&self, channel: &ChannelName);

    /// Whether the broker can serve requests now (for `/readyz`).
    async fn ready(&self) -> bool;

    /// Flush pending work before shutdown.
    async fn close(&self);

    /// Whether other nodes share this broker (ephemeral events are then
    /// handed to [`Broker::broadcast`]). The embedded broker: false.
    fn distributed(&self) -> bool {
        false
    }

    /// Send an ephemeral event to the other nodes (best effort, in order per
    /// node; never stored). The local node has delivered it already.
    fn broadcast(&self, _event: NodeEvent) {}
}
