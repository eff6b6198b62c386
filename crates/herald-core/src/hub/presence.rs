//! Presence, as the hub runs it: members join when a subscription goes
//! live and leave after the namespace's grace; `join`/`leave`/
//! `presence_update` pushes, here and to the other nodes; presence queries;
//! the shared [`PresenceBackend`] (scale-out) told of every record change.
//! The per-channel records are [`ChannelPresence`](crate::presence::ChannelPresence).

use super::*;
use crate::node_event::{NodeEvent, WireMember};
use crate::presence_backend::PresenceBackend;
use crate::wire::ClientInfo;

impl Hub {
    pub(crate) fn spawn_presence_expiry(&self, channel: &ChannelName, key: &Arc<str>, generation: u64, grace_ms: u64) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let (hub, channel, key) = (self.me.clone(), channel.clone(), key.clone());
        rt.spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(grace_ms)).await;
            let Some(hub) = hub.upgrade() else { return };
            let entry = hub.channels.read().get(&channel).cloned();
            let Some(entry) = entry else { return };
            let left = entry.presence.lock().expire(&key, generation);
            if let Some(info) = left {
                hub.announce_presence(&channel, &info, false, None);
            }
            hub.drop_entry_if_unused(&channel, &entry);
        });
    }

    pub(crate) fn presence_join(&self, sub: &Arc<Subscription>) {
        let entry = self.channels.read().get(&sub.channel).cloned();
        let Some(entry) = entry else { return };
        if sub.in_presence.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let joined = entry.presence.lock().add(&sub.member);
        if joined {
            let except = Some(sub.connection.id().clone());
            self.announce_presence(&sub.channel, &sub.member, true, except);
        } else {
            self.presence_changed(&sub.channel, sub.member.member_key());
        }
    }

    /// Presence members of `channel` on this node, with connection counts and states.
    pub fn presence(&self, caller: Caller<'_>, channel: &ChannelName) -> Result<Vec<PresenceMember>, HeraldError> {
        let opts = self.authorize_caller(caller, channel, Rights::PRESENCE)?;
        if !opts.presence {
            return Err(HeraldError::new(
                ErrorCode::PermissionDenied,
                format!("presence is not enabled for {channel}'s namespace"),
            ));
        }
        Ok(self.channels.read().get(channel).map(|e| e.presence.lock().members()).unwrap_or_default())
    }

    /// Presence members of `channel` on every node (on this node only
    /// without a shared presence backend), with connection counts and states.
    pub async fn presence_all(
        &self,
        caller: Caller<'_>,
        channel: &ChannelName,
    ) -> Result<Vec<PresenceMember>, HeraldError> {
        let opts = self.authorize_caller(caller, channel, Rights::PRESENCE)?;
        if !opts.presence {
            return Err(HeraldError::new(
                ErrorCode::PermissionDenied,
                format!("presence is not enabled for {channel}'s namespace"),
            ));
        }
        self.presence_members(channel).await
    }

    /// Set the state of `conn`'s member in `channel` and push
    /// `presence_update` to the channel's other connections. The
    /// connection must be in the channel's presence.
    pub fn set_presence_state(
        &self,
        conn: &Connection,
        channel: &ChannelName,
        state: Payload,
    ) -> Result<(), HeraldError> {
        let opts = self.authorize(&conn.identity(), channel, Rights::SUBSCRIBE)?;
        if !opts.presence {
            return Err(HeraldError::new(
                ErrorCode::PermissionDenied,
                format!("presence is not enabled for {channel}'s namespace"),
            ));
        }
        if state.len() > opts.presence_state_max_bytes {
            return Err(HeraldError::new(
                ErrorCode::MessageTooLarge,
                format!("presence state is {} bytes; at most {} allowed", state.len(), opts.presence_state_max_bytes),
            ));
        }
        let entry = if conn.is_subscribed(channel) { self.channels.read().get(channel).cloned() } else { None };
        let member = entry.as_ref().and_then(|e| {
            let me = e.subscribers.read().get(conn.id()).map(|s| s.member.clone());
            let me = me.unwrap_or_else(|| conn.client_info().clone());
            e.presence.lock().set_state(&me, state)
        });
        let (Some(entry), Some(member)) = (entry, member) else {
            return Err(HeraldError::new(
                ErrorCode::NotSubscribed,
                format!("not in {channel}'s presence: subscribe first (with the presence right)"),
            ));
        };
        self.broadcast_event(&entry, &ChannelEvent::PresenceUpdate(channel, &member), Some(conn.id()));
        self.share_presence_update(channel, &member);
        self.presence_changed(channel, conn.client_info().member_key());
        Ok(())
    }

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
