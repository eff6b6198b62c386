//! What the hub does for scale-out: handing its ephemeral events
//! ([`NodeEvent`]) to the broker for the other nodes, delivering theirs to
//! this node's connections, and ending a channel's subscriptions when the
//! broker can no longer deliver its stream continuously to this node.

use serde_json::value::RawValue;

use super::*;
use crate::node_event::{NodeEvent, WireMember};
use crate::wire::ClientInfo;

fn raw(p: &Payload) -> Option<Box<RawValue>> {
    RawValue::from_string(p.as_str().to_string()).ok()
}

impl Hub {
    /// Hand `event` to the broker for the other nodes (this node has
    /// delivered it already).
    pub(crate) fn share(&self, event: impl FnOnce() -> Option<NodeEvent>) {
        if self.broker.distributed()
            && let Some(e) = event()
        {
            self.broker.broadcast(e);
        }
    }

    pub(crate) fn share_presence_update(&self, channel: &ChannelName, m: &PresenceMember) {
        self.share(|| {
            Some(NodeEvent::PresenceUpdate {
                channel: channel.clone(),
                member: WireMember::from_info(&m.info),
                connections: m.connections,
                state: m.state.as_ref().and_then(raw),
            })
        });
    }

    pub(crate) fn share_client_event(&self, channel: &ChannelName, event: &str, data: &Payload, from: &ClientInfo) {
        self.share(|| {
            Some(NodeEvent::Client {
                channel: channel.clone(),
                event: event.to_string(),
                data: raw(data)?,
                from: WireMember::from_info(from),
            })
        });
    }

    /// Deliver an event from another node to this node's connections.
    pub(crate) fn deliver_node_event(&self, event: NodeEvent) {
        if let Some(channel) = event.channel() {
            let entry = self.channels.read().get(channel).cloned();
            let Some(entry) = entry else { return };
            match &event {
                NodeEvent::Join { channel, member } => {
                    self.broadcast_event(&entry, &ChannelEvent::Join(channel, &member.to_info()), None)
                }
                NodeEvent::Leave { channel, member } => {
                    self.broadcast_event(&entry, &ChannelEvent::Leave(channel, &member.to_info()), None)
                }
                NodeEvent::PresenceUpdate { channel, member, connections, state } => {
                    let m = PresenceMember {
                        info: member.to_info(),
                        connections: *connections,
                        state: state.as_ref().and_then(|s| Payload::from_json_text(s.get().to_string()).ok()),
                    };
                    self.broadcast_event(&entry, &ChannelEvent::PresenceUpdate(channel, &m), None)
                }
                NodeEvent::Typing { channel, user, typing } => {
                    let ev = ChannelEvent::Typing { channel, user, typing: *typing };
                    self.broadcast_filtered(&entry, &ev, |c| c.client_info().member_key().as_ref() != user.as_str());
                }
                NodeEvent::Client { channel, event, data, from } => {
                    let Ok(data) = Payload::from_json_text(data.get().to_string()) else { return };
                    let from = from.to_info();
                    let ev = ChannelEvent::Client { channel, event, data: &data, from: &from };
                    self.broadcast_event(&entry, &ev, None);
                }
                NodeEvent::Read { channel, user, offset } => {
                    self.broadcast_event(&entry, &ChannelEvent::Read { channel, user, offset: *offset }, None)
                }
                NodeEvent::Notification { .. } | NodeEvent::Unread { .. } => {}
            }
            return;
        }
        match &event {
            NodeEvent::Notification { notification, unread } => {
                send_to(&self.user_connections(&notification.user), ChannelEvent::Notification(notification, *unread))
            }
            NodeEvent::Unread { user, unread } => send_to(&self.user_connections(user), ChannelEvent::Unread(*unread)),
            _ => {}
        }
    }

    /// End every subscription of `channel` on this node with a temporary
    /// `unsubscribed` push: the client resubscribes with its position and
    /// either recovers everything from history or is told `recovered: false`.
    pub(crate) fn interrupt_channel(&self, channel: &ChannelName) {
        let entry = self.channels.read().get(channel).cloned();
        let Some(entry) = entry else { return };
        let subs: Vec<Arc<Subscription>> = entry.subscribers.read().values().cloned().collect();
        if subs.is_empty() {
            return;
        }
        tracing::warn!(channel = %channel, subscriptions = subs.len(), "stream interrupted: subscribers told to resubscribe");
        metrics::counter!("herald_stream_interruptions_total").increment(1);
        for sub in subs {
            if sub.interrupt() {
                self.remove_subscription(&sub.connection, channel);
            }
        }
    }
}
