//! MESSAGE from the client: each message becomes a Herald publication
//! (`envelope::to_publication`, id `connectionId:msgSerial:index`, also its
//! idempotency key, so a message re-sent after a resume is published once), then
//! one ACK for the protocol message — or a NACK with the Ably code of the
//! first refusal (40160 capability, 40009 too large, 40013 bad data,
//! 40012 clientId, 42910 rate).

use std::sync::Arc;

use herald_ably::envelope::{self, Origin};
use herald_ably::error::code;
use herald_ably::{ErrorInfo, Message, ProtocolMessage};
use herald_core::{Caller, ChannelName, Payload};

use super::session::Session;

impl Session<'_> {
    pub(super) async fn publish(&mut self, pm: ProtocolMessage) {
        let serial = pm.msg_serial.unwrap_or(0);
        match self.publish_all(&pm, serial).await {
            Ok(()) => self.ack(serial),
            Err(e) => self.nack(serial, e),
        }
    }

    /// The clientId a message is published as: the connection's, or (for
    /// a key holder or a `*` token) the one the message names.
    pub(super) fn message_client_id<'m>(&'m self, asked: Option<&'m str>) -> Result<Option<&'m str>, ErrorInfo> {
        let mine = self.auth.client_id.as_deref();
        match asked {
            None => Ok(mine),
            Some(a) if Some(a) == mine || (mine.is_none() && self.auth.any_client_id) => Ok(Some(a)),
            Some(a) => {
                Err(ErrorInfo::new(code::INVALID_CLIENT_ID, format!("this connection may not publish as clientId {a}")))
            }
        }
    }

    async fn publish_all(&self, pm: &ProtocolMessage, serial: i64) -> Result<(), ErrorInfo> {
        let name = pm.channel.as_deref().ok_or_else(|| ErrorInfo::new(code::BAD_REQUEST, "MESSAGE needs a channel"))?;
        let ch = self.herald_channel(name)?;
        if let Some(user) = self.conn.user() {
            self.app.limits.check_publish(user).map_err(|e| super::error_info(&e))?;
        }
        for (i, m) in pm.messages.iter().flatten().enumerate() {
            let id = format!("{}:{serial}:{i}", self.connection_id);
            self.publish_one(&ch, m, &id).await?;
        }
        Ok(())
    }

    async fn publish_one(&self, ch: &ChannelName, m: &Message, id: &str) -> Result<(), ErrorInfo> {
        let max = self.app.config.default_namespace.max_message_size;
        let size = m.data.size()
            + m.name.as_ref().map_or(0, String::len)
            + m.extras.as_ref().map_or(0, |x| x.to_string().len());
        if size > max {
            return Err(ErrorInfo::new(code::TOO_LARGE, format!("message is {size} bytes; at most {max} allowed")));
        }
        let client_id = self.message_client_id(m.client_id.as_deref())?;
        let id = m.id.as_deref().unwrap_or(id);
        let origin = Origin { id: Some(id), client_id, connection_id: Some(&self.connection_id) };
        let json = envelope::to_publication(m, &origin)?;
        let payload = Payload::from_json_text(json).map_err(|e| ErrorInfo::new(code::INVALID_DATA, e.message))?;
        // The id is the idempotency key: a message ably-js sends again after a
        // resume (its ACK was lost with the transport) is published once.
        let key = Some(Arc::from(id));
        self.app
            .hub
            .publish(Caller::Client(self.conn), ch.clone(), payload, key)
            .await
            .map_err(|e| super::error_info(&e))?;
        Ok(())
    }
}
