//! Ably presence is Herald presence. A member an Ably connection enters is
//! held by a hidden hub connection of its own (user = the clientId, info =
//! `{"data", "encoding"?, "connectionId"}`), subscribed with the presence
//! right: entering joins it (every door sees the join), an update sets its
//! presence state, leaving (or detaching, or the connection ending)
//! disconnects it. That keeps Ably's model — members entered explicitly,
//! several clientIds per connection — on the hub's, where a subscription
//! is a member. The hidden connection's frames are discarded.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use herald_ably::error::code;
use herald_ably::message::presence_action;
use herald_ably::{ErrorInfo, PresenceMessage, ProtocolMessage};
use herald_core::{
    ChannelEvent, ChannelName, Connection, ConnectionInit, DisconnectReason, Identity, Rights, SubscriptionGrant,
    WireEncoder, WireFormat,
};

use super::encoder::member_info;
use super::session::Session;

/// The members a connection entered, by channel and clientId.
#[derive(Default)]
pub(super) struct Members(HashMap<(ChannelName, String), Arc<Connection>>);

/// The hidden member connections' encoder: nothing to send.
struct Silent;

impl WireEncoder for Silent {
    fn encode(&self, _: &ChannelEvent<'_>) -> Bytes {
        Bytes::new()
    }

    fn format(&self) -> WireFormat {
        WireFormat::door("ably-member", 0)
    }
}

impl Session<'_> {
    pub(super) async fn presence(&mut self, pm: ProtocolMessage) {
        let serial = pm.msg_serial.unwrap_or(0);
        let result = async {
            let name =
                pm.channel.as_deref().ok_or_else(|| ErrorInfo::new(code::BAD_REQUEST, "PRESENCE needs a channel"))?;
            let ch = self.herald_channel(name)?;
            for p in pm.presence.iter().flatten() {
                self.presence_one(&ch, p).await?;
            }
            Ok::<_, ErrorInfo>(())
        }
        .await;
        match result {
            Ok(()) => self.ack(serial),
            Err(e) => self.nack(serial, e),
        }
    }

    async fn presence_one(&mut self, ch: &ChannelName, p: &PresenceMessage) -> Result<(), ErrorInfo> {
        let client_id = self
            .message_client_id(p.client_id.as_deref())?
            .ok_or_else(|| ErrorInfo::new(code::NO_CLIENT_ID, "presence needs a clientId"))?
            .to_string();
        let key = (ch.clone(), client_id);
        match p.action {
            presence_action::ENTER | presence_action::UPDATE | presence_action::PRESENT => {
                let info = member_info(&p.data, p.encoding.as_deref(), &self.connection_id)?;
                match self.members.0.get(&key) {
                    Some(member) => {
                        self.app.hub.set_presence_state(member, ch, info).map_err(|e| super::error_info(&e))
                    }
                    None => self.enter(key, info).await,
                }
            }
            presence_action::LEAVE => {
                if let Some(member) = self.members.0.remove(&key) {
                    self.drop_member(&member);
                }
                Ok(())
            }
            other => Err(ErrorInfo::new(code::BAD_REQUEST, format!("unsupported presence action {other}"))),
        }
    }

    async fn enter(&mut self, key: (ChannelName, String), info: herald_core::Payload) -> Result<(), ErrorInfo> {
        let (ch, client_id) = &key;
        let identity = self.conn.identity();
        let opts = self.app.hub.authorize(&identity, ch, Rights::PRESENCE).map_err(|e| super::error_info(&e))?;
        if !opts.presence {
            let m = format!("presence is not enabled for {ch}'s namespace ([namespaces.X] presence = true)");
            return Err(ErrorInfo::new(code::BAD_REQUEST, m));
        }
        let member_identity = Identity {
            user: Some(Arc::from(client_id.as_str())),
            info: Some(info.clone()),
            grants: identity.grants.clone(),
            expires_at_ms: identity.expires_at_ms,
        };
        let init = ConnectionInit {
            identity: member_identity,
            encoder: Arc::new(Silent),
            queue: self.app.config.connection.queue,
        };
        let member = self.app.hub.connect(init).map_err(|e| super::error_info(&e))?;
        // Its frames are empty; drain them so its queue never fills.
        let drained = member.clone();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while drained.outbound.next_batch(&mut batch).await.is_ok() {
                batch.clear();
            }
        });
        let grant = SubscriptionGrant {
            rights: Rights::SUBSCRIBE.union(Rights::PRESENCE),
            user: Some(Arc::from(client_id.as_str())),
            info: Some(info),
        };
        match self.app.hub.subscribe_granted(&member, ch.clone(), None, Some(grant)).await {
            Ok(pending) => pending.activate(),
            Err(e) => {
                self.drop_member(&member);
                return Err(super::error_info(&e));
            }
        }
        self.members.0.insert(key, member);
        Ok(())
    }

    /// Leave every member this connection entered on `ch`.
    pub(super) fn leave_channel_presence(&mut self, ch: &ChannelName) {
        let gone: Vec<_> = self.members.0.keys().filter(|(c, _)| c == ch).cloned().collect();
        for key in gone {
            if let Some(m) = self.members.0.remove(&key) {
                self.drop_member(&m);
            }
        }
    }

    /// A member leaves: out of the hub, and its drain task ends.
    fn drop_member(&self, member: &Arc<Connection>) {
        self.app.hub.disconnect(member);
        member.outbound.close(DisconnectReason::Disconnected, false);
    }

    /// Leave every member (the connection ended).
    pub(super) fn leave_all_presence(&mut self) {
        let members: Vec<_> = self.members.0.drain().map(|(_, m)| m).collect();
        for m in members {
            self.drop_member(&m);
        }
    }
}
