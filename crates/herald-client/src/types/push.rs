//! Pushes: what the server sends that is not the reply to a waiting
//! request (publications, presence joins and leaves, control pushes), plus
//! the final [`Push::Closed`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Publisher;
use crate::error::ServerError;

/// A member of a channel, as carried by `join` and `leave` pushes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Member {
    /// The connection id.
    pub client: String,
    /// The user id, if authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Application-defined connection info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Value>,
    /// How many connections the member holds (`presence_update`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<u32>,
    /// The state the member set (`presence_update`), e.g. `{"status":"idle"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
}

/// A notification in the user's inbox, as a `notification` push carries it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Notification {
    /// Its id in the inbox.
    pub id: u64,
    /// The app's kind (e.g. `"mention"`), if any.
    pub kind: Option<String>,
    /// The title.
    pub title: String,
    /// The body, if any.
    pub body: Option<String>,
    /// Application data, if any.
    pub data: Option<Value>,
    /// When it was created, ms since the Unix epoch.
    pub created_at: u64,
    /// Whether the user has read it.
    pub read: bool,
    /// When it expires, ms since the Unix epoch, if it does.
    pub expires_at: Option<u64>,
}

/// Something the server sent that is not the reply to a waiting request,
/// plus the final [`Push::Closed`].
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    /// A publication on a subscribed channel.
    Publication {
        /// The channel.
        channel: String,
        /// Its offset in the channel's history.
        offset: u64,
        /// Server time of publication, milliseconds since the Unix epoch.
        time: u64,
        /// The published JSON value.
        data: Value,
        /// Who published it, when the server reveals it.
        publisher: Option<Publisher>,
        /// The idempotency key it was published with, if any.
        idempotency_key: Option<String>,
    },
    /// A member joined a subscribed channel.
    Join {
        /// The channel.
        channel: String,
        /// Who joined.
        member: Member,
    },
    /// A member left a subscribed channel.
    Leave {
        /// The channel.
        channel: String,
        /// Who left.
        member: Member,
    },
    /// Another subscriber's client event (`Client::event`): not stored, never echoed.
    Event {
        /// The channel.
        channel: String,
        /// The event's name (e.g. `"cursor"`).
        event: String,
        /// Its data.
        data: Value,
        /// Who sent it (set by the server).
        from: Member,
    },
    /// A member set its presence state; `member.state` is the new state.
    PresenceUpdate {
        /// The channel.
        channel: String,
        /// The member, with `connections` and `state`.
        member: Member,
    },
    /// Someone started or stopped typing.
    Typing {
        /// The channel.
        channel: String,
        /// The user id (the connection id for anonymous clients).
        user: String,
        /// Started (`true`) or stopped (`false`).
        typing: bool,
    },
    /// A user's read position moved ("seen by").
    Read {
        /// The channel.
        channel: String,
        /// The user.
        user: String,
        /// The offset the user has read up to.
        offset: u64,
    },
    /// A new notification in your inbox.
    Notification {
        /// The notification.
        notification: Notification,
        /// Your unread count after it.
        unread: u64,
    },
    /// Your unread notification count (after `connect` and every inbox change).
    Unread {
        /// The count.
        unread: u64,
    },
    /// The token expires soon: send `refresh` with a new one.
    TokenExpiring {
        /// When it expires, ms since the Unix epoch.
        expires_at: u64,
    },
    /// A collaborative document's update or awareness message (`doc_open`).
    Doc {
        /// The document's channel.
        channel: String,
        /// The y-protocols message, base64.
        data: String,
    },
    /// The server ended a subscription.
    Unsubscribed {
        /// The channel.
        channel: String,
        /// Why.
        error: ServerError,
    },
    /// The server is about to close the connection.
    Disconnect {
        /// The close code that follows (4000–4499: reconnect; 4500–4999: do not).
        code: u16,
        /// Why, for a person.
        reason: String,
        /// Whether the client should reconnect.
        reconnect: bool,
    },
    /// An error for a frame whose id could not be read.
    Error(ServerError),
    /// An application-level ping; delivered only when auto-pong is off
    /// (answer it with [`Client::pong`](crate::Client::pong)).
    Ping,
    /// A reply whose id matched no waiting request: the answer to a frame sent
    /// with [`Client::send_raw_text`](crate::Client::send_raw_text), or a reply
    /// that arrived after its request timed out.
    Reply {
        /// The id the reply carries.
        id: u64,
        /// The result, or the error the server answered with (code 0 when
        /// the reply itself could not be read).
        result: Result<Value, ServerError>,
    },
    /// Any other frame (unknown push kind, missing fields, not JSON — then a
    /// JSON string holding the text): kept as received.
    Other(Value),
    /// The connection closed; always the last push.
    Closed {
        /// The WebSocket close code, if the server's close frame had one.
        code: Option<u16>,
        /// The close reason, or how the connection ended.
        reason: String,
    },
}

impl Push {
    /// The channel the push is about, if any.
    pub fn channel(&self) -> Option<&str> {
        match self {
            Push::Publication { channel, .. }
            | Push::Join { channel, .. }
            | Push::Leave { channel, .. }
            | Push::Event { channel, .. }
            | Push::PresenceUpdate { channel, .. }
            | Push::Typing { channel, .. }
            | Push::Read { channel, .. }
            | Push::Doc { channel, .. }
            | Push::Unsubscribed { channel, .. } => Some(channel),
            _ => None,
        }
    }

    /// A short name of the kind of push (`"publication"`, `"join"`, …,
    /// `"closed"`), for assertions and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Push::Publication { .. } => "publication",
            Push::Join { .. } => "join",
            Push::Leave { .. } => "leave",
            Push::Event { .. } => "event",
            Push::PresenceUpdate { .. } => "presence_update",
            Push::Typing { .. } => "typing",
            Push::Read { .. } => "read",
            Push::Notification { .. } => "notification",
            Push::Unread { .. } => "unread",
            Push::TokenExpiring { .. } => "token_expiring",
            Push::Doc { .. } => "doc",
            Push::Unsubscribed { .. } => "unsubscribed",
            Push::Disconnect { .. } => "disconnect",
            Push::Error(_) => "error",
            Push::Ping => "ping",
            Push::Reply { .. } => "reply",
            Push::Other(_) => "other",
            Push::Closed { .. } => "closed",
        }
    }

    /// Whether this is the final [`Push::Closed`].
    pub fn is_closed(&self) -> bool {
        matches!(self, Push::Closed { .. })
    }
}
