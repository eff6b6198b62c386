//! `PresenceBackend`: where presence is answered from. The hub keeps each
//! channel's members on this node ([`ChannelPresence`](crate::presence::ChannelPresence):
//! connections, states, leave grace) and reports every change of a member's
//! record on this node to the backend; presence queries go to the backend.
//!
//! Without one (a single node), the hub's own records are the answer. A
//! shared backend (Redis) stores each node's record per member and answers
//! with every live node's members, counting a member once.

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::channel::ChannelName;
use crate::error::HeraldError;
use crate::presence::PresenceMember;

/// Presence shared by several nodes.
#[async_trait]
pub trait PresenceBackend: Send + Sync + 'static {
    /// This node's record of member `key` in `channel` is now `member`
    /// (`None`: the member is gone from this node). Called in order per
    /// channel; must not block (queue the write).
    fn store(&self, channel: &ChannelName, key: &str, member: Option<&PresenceMember>);

    /// Like [`PresenceBackend::store`], for a member's first connection on
    /// this node (`member` given) or its last one gone (`None`); the answer
    /// says whether that is also the member's first (last) on every node,
    /// i.e. whether `join` (`leave`) should be pushed. Ordered with `store`.
    fn transition(&self, channel: &ChannelName, key: &str, member: Option<&PresenceMember>) -> oneshot::Receiver<bool> {
        self.store(channel, key, member);
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(true);
        rx
    }

    /// Every member of `channel` on every live node, each once (connections summed).
    async fn members(&self, channel: &ChannelName) -> Result<Vec<PresenceMember>, HeraldError>;
}
