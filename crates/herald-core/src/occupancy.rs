//! `OccupancyBackend`: which channels have subscribers, and how many,
//! across every node. The hub reports each change of a channel's
//! subscription count on this node to the backend; the backend tells the
//! hub ([`Hub::occupancy_changed`](crate::Hub::occupancy_changed)) when that made the channel occupied
//! (its first subscription anywhere) or vacated (its last one anywhere gone),
//! and answers cluster-wide listings and counts.
//!
//! Without one (a single node), the hub's own subscriptions are the answer:
//! occupied and vacated follow this node's first and last subscription.
//! Any door (Pusher's REST API and webhooks today) reads through
//! [`Hub::cluster_channels`](crate::Hub::cluster_channels) and [`Hub::cluster_channel_info`](crate::Hub::cluster_channel_info).

use async_trait::async_trait;

use crate::channel::ChannelName;
use crate::error::HeraldError;

/// Subscription counts shared by several nodes.
#[async_trait]
pub trait OccupancyBackend: Send + Sync + 'static {
    /// This node's subscriptions to `channel` went from `before` to `after`.
    /// Called in order per channel (under the channel's lock): must not
    /// block (queue the write). When a change from or to zero makes the
    /// channel occupied or vacated on every node, the backend calls
    /// [`Hub::occupancy_changed`](crate::Hub::occupancy_changed), in the order of the changes.
    fn store(&self, channel: &ChannelName, before: usize, after: usize);

    /// Subscriptions to `channel` on every live node.
    async fn subscriptions(&self, channel: &ChannelName) -> Result<usize, HeraldError>;

    /// Channels whose name starts with `prefix` that have a subscription on
    /// a live node, with their subscription counts, in name order.
    async fn occupied(&self, prefix: &str) -> Result<Vec<(ChannelName, usize)>, HeraldError>;
}
