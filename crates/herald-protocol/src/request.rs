//! Client → server frames.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;

use herald_core::{ChannelName, Direction, ErrorCode, HeraldError, Position};

/// A parsed client frame. Borrowed from the frame text.
#[derive(Debug)]
pub struct Request<'a> {
    /// The request id, echoed in the reply (absent only for `pong`).
    pub id: Option<u64>,
    /// The operation.
    pub op: Op<'a>,
}

/// The operations of the native protocol.
#[derive(Debug)]
pub enum Op<'a> {
    /// Open the session; must be the first frame.
    Connect {
        /// Connection token (JWT), if the server requires one.
        token: Option<String>,
        /// Client name and version, for logs.
        client: Option<String>,
    },
    /// Subscribe, optionally recovering from a position.
    Subscribe {
        /// Channel name.
        channel: ChannelName,
        /// Last position seen; asks the server to recover what was missed.
        since: Option<Position>,
        /// Database change channels: a row filter `column=op.value` (`docs/changes.md`).
        filter: Option<String>,
        /// Database change channels: which events (`INSERT`, `UPDATE`, `DELETE`, `*`, comma list).
        events: Option<String>,
    },
    /// Unsubscribe.
    Unsubscribe {
        /// Channel name.
        channel: ChannelName,
    },
    /// Publish to a channel.
    Publish {
        /// Channel name.
        channel: ChannelName,
        /// Any JSON value.
        data: &'a RawValue,
        /// Retries with the same key return the first result.
        idempotency_key: Option<String>,
    },
    /// Read history.
    History {
        /// Channel name.
        channel: ChannelName,
        /// Forward: offsets after this.
        since: Option<u64>,
        /// Backward: offsets before this.
        before: Option<u64>,
        /// Most publications (the server caps it). Default 100.
        limit: usize,
        /// `forward` (default) or `backward`.
        direction: Direction,
    },
    /// Presence members.
    Presence {
        /// Channel name.
        channel: ChannelName,
    },
    /// Answer to a server `ping` push.
    Pong,
    /// Replace the connection's token before it expires.
    Refresh {
        /// The new token.
        token: String,
    },
    /// An ephemeral client event (typing…): not stored, not echoed to the sender.
    Event {
        /// Channel name (must be subscribed, with the publish right).
        channel: ChannelName,
        /// Event name, 1–64 characters.
        event: String,
        /// Any JSON value (default null).
        data: Option<&'a RawValue>,
    },
    /// Set this member's presence state (any JSON value, size-limited).
    PresenceState {
        /// Channel name (must be subscribed and in presence).
        channel: ChannelName,
        /// The state.
        state: &'a RawValue,
    },
    /// The user is typing in a channel.
    Typing {
        /// Channel name (must be subscribed, with the publish right).
        channel: ChannelName,
    },
    /// Mark a channel read up to an offset.
    MarkRead {
        /// Channel name.
        channel: ChannelName,
        /// The last offset read.
        offset: u64,
    },
    /// The read positions of a channel's users ("seen by").
    ReadPositions {
        /// Channel name (the subscribe right is needed).
        channel: ChannelName,
    },
    /// The user's unread counts per channel.
    Unread,
    /// A page of the user's notification inbox, newest first.
    Notifications {
        /// Only notifications with smaller ids.
        before: Option<u64>,
        /// Most notifications (the server caps it). Default 50.
        limit: usize,
    },
    /// Mark one notification (`notification`) or all (`all: true`) read.
    NotificationRead {
        /// The notification id; `None` means all.
        notification: Option<u64>,
    },
    /// Delete one notification.
    NotificationDelete {
        /// The notification id.
        notification: u64,
    },
    /// Open a collaborative document (Yjs) on this connection.
    DocOpen {
        /// The document's channel.
        channel: ChannelName,
    },
    /// One y-websocket message for an open document.
    Doc {
        /// The document's channel.
        channel: ChannelName,
        /// The message, decoded from the frame's base64 `data`.
        message: Vec<u8>,
    },
    /// Close a document opened on this connection.
    DocClose {
        /// The document's channel.
        channel: ChannelName,
    },
}

impl Op<'_> {
    /// The operation's name on the wire (`"subscribe"`, `"mark_read"`…).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Connect { .. } => "connect",
            Op::Subscribe { .. } => "subscribe",
            Op::Unsubscribe { .. } => "unsubscribe",
            Op::Publish { .. } => "publish",
            Op::History { .. } => "history",
            Op::Presence { .. } => "presence",
            Op::Pong => "pong",
            Op::Refresh { .. } => "refresh",
            Op::Event { .. } => "event",
            Op::PresenceState { .. } => "presence_state",
            Op::Typing { .. } => "typing",
            Op::MarkRead { .. } => "mark_read",
            Op::ReadPositions { .. } => "read_positions",
            Op::Unread => "unread",
            Op::Notifications { .. } => "notifications",
            Op::NotificationRead { .. } => "notification_read",
            Op::NotificationDelete { .. } => "notification_delete",
            Op::DocOpen { .. } => "doc_open",
            Op::Doc { .. } => "doc",
            Op::DocClose { .. } => "doc_close",
        }
    }
}

/// Every field any operation may carry; one pass over the frame.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Frame<'a> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    op: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    channel: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    since: Option<&'a RawValue>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    before: Option<u64>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    direction: Option<Direction>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default, borrow)]
    state: Option<&'a RawValue>,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default)]
    notification: Option<u64>,
    #[serde(default)]
    all: Option<bool>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    events: Option<String>,
}

/// Parse one client frame. Errors carry the request id when it could be read,
/// so the reply can echo it.
pub fn parse_request(text: &str) -> Result<Request<'_>, (Option<u64>, HeraldError)> {
    let req = parse_frame(text)?;
    if req.id.is_none() && !matches!(req.op, Op::Pong) {
        return Err((None, HeraldError::bad_request("request needs a numeric \"id\"")));
    }
    Ok(req)
}

/// Parse one request frame whose `id` may be absent: over HTTP
/// (`POST /sse/request`) the response is the reply, so no id is needed.
pub fn parse_frame(text: &str) -> Result<Request<'_>, (Option<u64>, HeraldError)> {
    let frame: Frame<'_> = serde_json::from_str(text).map_err(|e| (salvage_id(text), frame_error(&e)))?;
    let id = frame.id;
    let op = build_op(frame).map_err(|e| (id, e))?;
    Ok(Request { id, op })
}

fn frame_error(e: &serde_json::Error) -> HeraldError {
    if e.is_data() {
        HeraldError::bad_request(format!("frame must be a JSON object of the documented fields: {e}"))
    } else {
        HeraldError::new(ErrorCode::MalformedJson, format!("frame is not valid JSON: {e}"))
    }
}

/// Best effort: read `id` from a frame that failed to parse as a whole.
fn salvage_id(text: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct OnlyId {
        id: Option<u64>,
    }
    serde_json::from_str::<OnlyId>(text).ok().and_then(|f| f.id)
}

fn channel(name: Option<std::borrow::Cow<'_, str>>) -> Result<ChannelName, HeraldError> {
    let name = name.ok_or_else(|| HeraldError::bad_request("\"channel\" is required"))?;
    ChannelName::new(&name)
}

fn build_op(f: Frame<'_>) -> Result<Op<'_>, HeraldError> {
    let op = f.op.ok_or_else(|| HeraldError::bad_request("frame has no \"op\" field"))?;
    Ok(match &*op {
        "connect" => Op::Connect { token: f.token, client: f.client },
        "subscribe" => {
            let since = match f.since {
                None => None,
                Some(raw) => Some(serde_json::from_str::<Position>(raw.get()).map_err(|e| {
                    HeraldError::bad_request(format!("\"since\" must be {{\"epoch\":string,\"offset\":number}}: {e}"))
                })?),
            };
            Op::Subscribe { channel: channel(f.channel)?, since, filter: f.filter, events: f.events }
        }
        "unsubscribe" => Op::Unsubscribe { channel: channel(f.channel)? },
        "publish" => Op::Publish {
            channel: channel(f.channel)?,
            data: f.data.ok_or_else(|| HeraldError::bad_request("\"data\" is required"))?,
            idempotency_key: f.idempotency_key,
        },
        "history" => {
            let since = match f.since {
                None => None,
                Some(raw) => Some(serde_json::from_str::<u64>(raw.get()).map_err(|_| {
                    HeraldError::bad_request("\"since\" must be an offset (number) in a history request")
                })?),
            };
            Op::History {
                channel: channel(f.channel)?,
                since,
                before: f.before,
                limit: f.limit.unwrap_or(100),
                direction: f.direction.unwrap_or_default(),
            }
        }
        "presence" => Op::Presence { channel: channel(f.channel)? },
        "pong" => Op::Pong,
        "refresh" => Op::Refresh { token: f.token.ok_or_else(|| HeraldError::bad_request("\"token\" is required"))? },
        "event" => {
            let event = f.event.ok_or_else(|| HeraldError::bad_request("\"event\" is required"))?;
            if event.is_empty() || event.len() > 64 {
                return Err(HeraldError::bad_request("\"event\" must be 1 to 64 characters"));
            }
            Op::Event { channel: channel(f.channel)?, event, data: f.data }
        }
        "presence_state" => Op::PresenceState {
            channel: channel(f.channel)?,
            state: f.state.ok_or_else(|| HeraldError::bad_request("\"state\" is required"))?,
        },
        "typing" => Op::Typing { channel: channel(f.channel)? },
        "mark_read" => Op::MarkRead {
            channel: channel(f.channel)?,
            offset: f.offset.ok_or_else(|| HeraldError::bad_request("\"offset\" (a number) is required"))?,
        },
        "read_positions" => Op::ReadPositions { channel: channel(f.channel)? },
        "unread" => Op::Unread,
        "notifications" => Op::Notifications { before: f.before, limit: f.limit.unwrap_or(50) },
        "notification_read" => match (f.notification, f.all) {
            (Some(n), None | Some(false)) => Op::NotificationRead { notification: Some(n) },
            (None, Some(true)) => Op::NotificationRead { notification: None },
            _ => return Err(HeraldError::bad_request("give either \"notification\" (an id) or \"all\": true")),
        },
        "notification_delete" => Op::NotificationDelete {
            notification: f
                .notification
                .ok_or_else(|| HeraldError::bad_request("\"notification\" (an id) is required"))?,
        },
        "doc_open" => Op::DocOpen { channel: channel(f.channel)? },
        "doc" => {
            let not_base64 = || HeraldError::bad_request("\"data\" must be a y-websocket message in standard base64");
            let raw = f.data.ok_or_else(|| HeraldError::bad_request("\"data\" is required"))?;
            let text: &str = serde_json::from_str(raw.get()).map_err(|_| not_base64())?;
            let message = base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| not_base64())?;
            Op::Doc { channel: channel(f.channel)?, message }
        }
        "doc_close" => Op::DocClose { channel: channel(f.channel)? },
        other => {
            return Err(HeraldError::new(ErrorCode::UnknownOperation, format!("unknown operation {other:?}")));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_subscribe_with_since() {
        let r =
            parse_request(r#"{"id":2,"op":"subscribe","channel":"chat:a","since":{"epoch":"e1","offset":5}}"#).unwrap();
        assert_eq!(r.id, Some(2));
        match r.op {
            Op::Subscribe { channel, since, filter, events } => {
                assert_eq!(channel.as_str(), "chat:a");
                assert_eq!(since.unwrap().offset, 5);
                assert_eq!((filter, events), (None, None));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn subscribe_carries_a_change_filter() {
        let r = parse_request(
            r#"{"id":2,"op":"subscribe","channel":"db:public.todos","filter":"list_id=eq.7","events":"INSERT"}"#,
        )
        .unwrap();
        match r.op {
            Op::Subscribe { filter, events, .. } => {
                assert_eq!((filter.as_deref(), events.as_deref()), (Some("list_id=eq.7"), Some("INSERT")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn publish_keeps_raw_data() {
        let r = parse_request(r#"{"id":3,"op":"publish","channel":"a","data":{"x":[1,2]}}"#).unwrap();
        match r.op {
            Op::Publish { data, .. } => assert_eq!(data.get(), r#"{"x":[1,2]}"#),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_have_codes() {
        assert_eq!(parse_request("{nope").unwrap_err().1.code, ErrorCode::MalformedJson);
        assert_eq!(parse_request("[1]").unwrap_err().1.code, ErrorCode::BadRequest);
        let (id, e) = parse_request(r#"{"id":9,"op":"dance"}"#).unwrap_err();
        assert_eq!((id, e.code), (Some(9), ErrorCode::UnknownOperation));
        let (id, e) = parse_request(r#"{"id":4,"op":"subscribe","channel":"bad name"}"#).unwrap_err();
        assert_eq!((id, e.code), (Some(4), ErrorCode::InvalidChannel));
        let (_, e) = parse_request(r#"{"op":"subscribe","channel":"a"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        let (_, e) = parse_request(r#"{"id":1,"op":"subscribe"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        let (id, e) = parse_request(r#"{"id":5,"op":"subscribe","channel":"a","bogus":1}"#).unwrap_err();
        assert_eq!((id, e.code), (Some(5), ErrorCode::BadRequest));
    }

    #[test]
    fn pong_needs_no_id() {
        assert!(matches!(parse_request(r#"{"op":"pong"}"#).unwrap().op, Op::Pong));
    }
}
