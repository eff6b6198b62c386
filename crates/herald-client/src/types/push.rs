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
    pub user: Option<String>,
    /// Application-defined connection info.
    pub info: Option<Value>,
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
