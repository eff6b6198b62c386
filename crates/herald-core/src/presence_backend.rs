//! `PresenceBackend`: where presence is answered from. The hub keeps each
//! channel's members on this node ([`ChannelPresence`](crate::presence::ChannelPresence):
//! connections, states, leave grace) and reports every change of a member's
//! record on this node to the backend; presence queries go to the backend.
//!
//! Without one (a single node), the hub's own records are the answer. A
//! shared backend (Redis) stores each node's record per member and answers
//! with every live node's members, counting a member once.

use async_trait::async_trait;

use crate::channel::ChannelName;
use crate::error::HeraldError;
use crate::hub::Hub;
use crate::presence::PresenceMember;

/// Presence shared by several nodes.
#[async_trait]
pub trait PresenceBackend: Send + Sync + 'static {
    /// This node's record of member `key` in `channel` is now `member`
    /// (`None`: the member is gone from this node). Called in order per
    /// channel; must not block (queue the write).
    fn store(&self, channel: &ChannelName, key: &str, member: Option<&PresenceMember>);

    /// Every member of `channel` on every live node, each once (connections summed).
    async fn members(&self, channel: &ChannelName) -> Result<Vec<PresenceMember>, HeraldError>;
}

impl Hub {
    /// Install a shared presence backend (scale-out). Set once, at start-up.
    pub fn set_presence_backend(&self, backend: std::sync::Arc<dyn PresenceBackend>) {
        let _ = self.presence_backend.set(backend);
    }

    /// Report the current record of `key`'s member in `channel` to the backend.
    pub(crate) fn presence_changed(&self, channel: &ChannelName, key: &str) {
        let Some(backend) = self.presence_backend.get() else { return };
        let entry = self.channels.read().get(channel).cloned();
        let member = entry.and_then(|e| e.presence.lock().member(key));
        backend.store(channel, key, member.as_ref());
    }

    /// Write every member record of this node to the backend again (after
    /// the backend lost them: a Redis restart, or this node was taken for
    /// dead). Returns how many records were written.
    pub fn resync_presence(&self) -> usize {
        let Some(backend) = self.presence_backend.get() else { return 0 };
        let entries: Vec<(ChannelName, Vec<PresenceMember>)> =
            self.channels.read().iter().map(|(c, e)| (c.clone(), e.presence.lock().members())).collect();
        let mut n = 0;
        for (channel, members) in entries {
            for m in members {
                backend.store(&channel, m.info.member_key(), Some(&m));
                n += 1;
            }
        }
        n
    }

    /// Members of `channel` on this node, or on every node with a shared backend.
    pub(crate) async fn presence_members(&self, channel: &ChannelName) -> Result<Vec<PresenceMember>, HeraldError> {
        match self.presence_backend.get() {
            Some(b) => b.members(channel).await,
            None => Ok(self.channels.read().get(channel).map(|e| e.presence.lock().members()).unwrap_or_default()),
        }
    }
}
