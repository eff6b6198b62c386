//! The protocol message: one frame of the realtime connection, in either
//! direction, with an `action` saying what it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ErrorInfo;
use crate::message::{Message, PresenceMessage};

/// Protocol message actions.
pub mod action {
    /// Keep-alive, either way.
    pub const HEARTBEAT: u8 = 0;
    /// Messages up to `msgSerial + count - 1` were accepted.
    pub const ACK: u8 = 1;
    /// Messages up to `msgSerial + count - 1` were refused (`error`).
    pub const NACK: u8 = 2;
    /// (Comet transports only.)
    pub const CONNECT: u8 = 3;
    /// The connection is open: the first frame the server sends.
    pub const CONNECTED: u8 = 4;
    /// Client: drop this transport. Server: the connection is interrupted (the client reconnects).
    pub const DISCONNECT: u8 = 5;
    /// The server ends the transport; the client reconnects (resuming).
    pub const DISCONNECTED: u8 = 6;
    /// The client closes the connection for good.
    pub const CLOSE: u8 = 7;
    /// The answer to CLOSE.
    pub const CLOSED: u8 = 8;
    /// An error: of the connection (fatal) without `channel`, else of that channel.
    pub const ERROR: u8 = 9;
    /// Attach to a channel.
    pub const ATTACH: u8 = 10;
    /// The channel is attached.
    pub const ATTACHED: u8 = 11;
    /// Detach from a channel.
    pub const DETACH: u8 = 12;
    /// The channel is detached.
    pub const DETACHED: u8 = 13;
    /// Presence changes.
    pub const PRESENCE: u8 = 14;
    /// Messages.
    pub const MESSAGE: u8 = 15;
    /// The presence set, in pages (`channelSerial` = `syncId:cursor`; an empty cursor ends it).
    pub const SYNC: u8 = 16;
    /// Client: a new token. Server: please re-authenticate.
    pub const AUTH: u8 = 17;
}

/// Protocol message flags: channel state and channel modes.
pub mod flags {
    /// ATTACHED: the channel has presence members; a SYNC follows.
    pub const HAS_PRESENCE: u64 = 1 << 0;
    /// ATTACHED: messages from before the attach follow (rewind).
    pub const HAS_BACKLOG: u64 = 1 << 1;
    /// ATTACHED: the attachment continues the previous one without a gap.
    pub const RESUMED: u64 = 1 << 2;
    /// ATTACH: the client was attached before (a re-attach).
    pub const ATTACH_RESUME: u64 = 1 << 5;
    /// Mode: enter presence.
    pub const PRESENCE: u64 = 1 << 16;
    /// Mode: publish.
    pub const PUBLISH: u64 = 1 << 17;
    /// Mode: receive messages.
    pub const SUBSCRIBE: u64 = 1 << 18;
    /// Mode: receive presence.
    pub const PRESENCE_SUBSCRIBE: u64 = 1 << 19;
    /// Every mode Herald has.
    pub const MODES: u64 = PRESENCE | PUBLISH | SUBSCRIBE | PRESENCE_SUBSCRIBE;
}

/// One protocol message. Absent fields are left out of the encoding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolMessage {
    /// What this is ([`action`]).
    pub action: u8,
    /// HEARTBEAT's id (echoed); MESSAGE's id (the messages' ids derive from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The channel position after this message (ATTACHED, MESSAGE, PRESENCE),
    /// the position to continue from (ATTACH), or `syncId:cursor` (SYNC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_serial: Option<String>,
    /// CONNECTED: the connection; MESSAGE: the publisher's connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// CONNECTED: the connection's details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_details: Option<ConnectionDetails>,
    /// MESSAGE/PRESENCE from the client, ACK/NACK: the serial of the (first) message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_serial: Option<i64>,
    /// ACK/NACK: how many messages from `msgSerial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// [`flags`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u64>,
    /// When the server sent it, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// MESSAGE: the messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// PRESENCE/SYNC: the presence messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<Vec<PresenceMessage>>,
    /// ATTACH/ATTACHED: channel params (`rewind`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<BTreeMap<String, String>>,
    /// AUTH from the client: the new credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthDetails>,
}

impl ProtocolMessage {
    /// A message with only `action`.
    pub fn new(action: u8) -> Self {
        ProtocolMessage { action, ..Default::default() }
    }

    /// A message with `action` on `channel`.
    pub fn on_channel(action: u8, channel: &str) -> Self {
        ProtocolMessage { action, channel: Some(channel.to_string()), ..Default::default() }
    }

    /// Whether `flag` is set.
    pub fn has_flag(&self, flag: u64) -> bool {
        self.flags.unwrap_or(0) & flag == flag
    }
}

/// CONNECTED's details: what the client must know about its connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDetails {
    /// The identity the connection publishes and enters presence as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The secret that resumes this connection.
    pub connection_key: String,
    /// Largest message (name + data + extras + clientId), bytes.
    pub max_message_size: u64,
    /// Largest frame, bytes.
    pub max_frame_size: u64,
    /// Most messages per second the client should send.
    pub max_inbound_rate: u64,
    /// The server sends something at least this often (ms); the client
    /// gives up on a silent transport after it plus its request timeout.
    pub max_idle_interval: u64,
    /// How long after a drop the connection can be resumed, ms.
    pub connection_state_ttl: u64,
    /// Which server (node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
}

/// AUTH's credentials.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthDetails {
    /// The new token (an Ably token, an Ably JWT or a Herald token).
    #[serde(default)]
    pub access_token: Option<String>,
}
