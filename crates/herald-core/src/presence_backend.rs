//! `PresenceBackend`: where presence is answered from. The hub keeps each
//! channel's members on this node ([`ChannelPresence`](crate::presence::ChannelPresence):
//! connections, states, leave grace) and reports every change of a member's
//! record on this node to the backend; presence queries go to the backend.
//!
//! Without one (a single node), the hub's own records are the answer. A
//! shared backend (Redis) stores each node's record per member and answers
//! with every live node's members, counting a member once.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::channel::ChannelName;
use crate::error::HeraldError;
use crate::hub::Hub;
use crate::node_event::{NodeEvent, WireMember};
use crate::presence::PresenceMember;
use crate::server_events::ServerEvent;
use crate::wire::{ChannelEvent, ClientInfo};

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

    /// `info`'s member joined (its first connection on this node; `except`:
    /// the joining connection, not told) or left (its last one gone): push
    /// `join`/`leave` here and to the other nodes — with a shared backend,
    /// only when it is the member's first (last) connection on any node.
    pub(crate) fn announce_presence(
        &self,
        channel: &ChannelName,
        info: &ClientInfo,
        joined: bool,
        except: Option<Arc<str>>,
    ) {
        let Some(backend) = self.presence_backend.get() else {
            self.push_presence(channel, info, joined, except.as_ref());
            return;
        };
        let key = info.member_key();
        let member =
            if joined { self.channels.read().get(channel).and_then(|e| e.presence.lock().member(key)) } else { None };
        let rx = backend.transition(channel, key, member.as_ref());
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let (hub, channel, info) = (self.me.clone(), channel.clone(), info.clone());
        rt.spawn(async move {
            // Unknown (Redis away): rather a repeated join/leave than a missing one.
            let everywhere = rx.await.unwrap_or(true);
            if let (true, Some(hub)) = (everywhere, hub.upgrade()) {
                hub.push_presence(&channel, &info, joined, except.as_ref());
            }
        });
    }

    fn push_presence(&self, channel: &ChannelName, info: &ClientInfo, joined: bool, except: Option<&Arc<str>>) {
        let entry = self.channels.read().get(channel).cloned();
        if let Some(entry) = entry {
            let ev = if joined { ChannelEvent::Join(channel, info) } else { ChannelEvent::Leave(channel, info) };
            self.broadcast_event(&entry, &ev, except);
        }
        // Once per cluster: only the node where the member came or went gets here.
        let user = info.member_key().clone();
        self.emit(|| match joined {
            true => ServerEvent::MemberAdded { channel: channel.clone(), user },
            false => ServerEvent::MemberRemoved { channel: channel.clone(), user },
        });
        self.share(|| {
            let member = WireMember::from_info(info);
            let channel = channel.clone();
            Some(if joined { NodeEvent::Join { channel, member } } else { NodeEvent::Leave { channel, member } })
        });
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
