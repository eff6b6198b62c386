//! Wire types: request options, typed results, pushes, and the parser of
//! server → client frames.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::ServerError;

/// A position in a channel's history: the epoch (which history) and the
/// offset of the last publication seen. Sent as `since` to recover missed
/// publications on subscribe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Position {
    /// Which history the offset belongs to.
    pub epoch: String,
    /// The offset of the last publication (0 = none yet).
    pub offset: u64,
}

/// The order in which a history request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Oldest first, starting after `since`.
    Forward,
    /// Newest first, starting before `before`.
    Backward,
}

/// Options of a history request; unset fields are left out of the frame so
/// the server's defaults apply (forward, limit 100).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HistoryOptions {
    /// Forward: return offsets after this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// Backward: return offsets before this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// Most publications to return (the server caps it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Reading order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

/// The publisher of a publication, when the server reveals it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Publisher {
    /// The publishing connection's id.
    pub client: String,
    /// The publishing user, if authenticated.
    pub user: Option<String>,
}

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

/// A member in a presence reply: a user/connection with the number of its
/// connections subscribed to the channel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PresenceMember {
    /// The connection id.
    pub client: String,
    /// The user id, if authenticated.
    pub user: Option<String>,
    /// Application-defined connection info.
    pub info: Option<Value>,
    /// How many connections this member has in the channel.
    pub connections: u64,
}

/// A publication as listed in history and recovery results (the channel is
/// the one of the request).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Publication {
    /// Its offset in the channel's history.
    pub offset: u64,
    /// Server time of publication, milliseconds since the Unix epoch.
    pub time: u64,
    /// The published JSON value.
    pub data: Value,
    /// Who published it, when the server reveals it.
    pub publisher: Option<Publisher>,
    /// The idempotency key it was published with, if any.
    pub idempotency_key: Option<String>,
}

/// The reply to `connect`. Fields are read leniently; the whole result is
/// kept in [`Connected::raw`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Connected {
    /// The connection id the server assigned (empty if absent).
    pub client: String,
    /// The server version, if sent.
    pub version: Option<String>,
    /// How often the server pings, if sent.
    pub ping_interval_ms: Option<u64>,
    /// How long the server waits for a pong, if sent.
    pub pong_timeout_ms: Option<u64>,
    /// The result object exactly as received.
    pub raw: Value,
}

impl Connected {
    /// Reads the fields it knows from a connect result, ignoring any that are
    /// missing or of another type.
    pub fn from_value(raw: Value) -> Self {
        let s = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_owned);
        let n = |k: &str| raw.get(k).and_then(Value::as_u64);
        Connected {
            client: s("client").unwrap_or_default(),
            version: s("version"),
            ping_interval_ms: n("ping_interval_ms"),
            pong_timeout_ms: n("pong_timeout_ms"),
            raw,
        }
    }
}

/// The reply to `subscribe`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SubscribeResult {
    /// The channel subscribed to.
    pub channel: String,
    /// The channel's current epoch.
    pub epoch: String,
    /// The channel's current top offset; the subscription continues after it.
    pub offset: u64,
    /// When `since` was given: whether every missed publication was recovered.
    pub recovered: Option<bool>,
    /// When `since` was given: the missed publications, oldest first.
    pub publications: Vec<Publication>,
}

impl SubscribeResult {
    /// The position the subscription continues from.
    pub fn position(&self) -> Position {
        Position { epoch: self.epoch.clone(), offset: self.offset }
    }
}

/// The reply to `publish`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PublishResult {
    /// The channel's epoch.
    pub epoch: String,
    /// The offset given to the publication.
    pub offset: u64,
}

impl PublishResult {
    /// The position of the new publication.
    pub fn position(&self) -> Position {
        Position { epoch: self.epoch.clone(), offset: self.offset }
    }
}

/// The reply to `history`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryResult {
    /// The channel's epoch.
    pub epoch: String,
    /// The channel's current top offset.
    pub offset: u64,
    /// The page of publications, in the requested order.
    pub publications: Vec<Publication>,
}

impl HistoryResult {
    /// The channel's current top position.
    pub fn position(&self) -> Position {
        Position { epoch: self.epoch.clone(), offset: self.offset }
    }
}

/// The reply to `presence`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PresenceResult {
    /// The channel's members.
    pub members: Vec<PresenceMember>,
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

/// A frame from the server, as the reader task sorts it.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// `{"id":N,"result":…}` or `{"id":N,"error":…}`.
    Reply { id: u64, result: Result<Box<RawValue>, ServerError> },
    /// A frame with an id that could not be read as a reply.
    BadReply { id: u64, problem: String },
    /// Anything else.
    Push(Push),
}

/// Every field any server frame may carry, read in one pass.
#[derive(Deserialize)]
struct WireFrame<'a> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<ServerError>,
    #[serde(default, borrow)]
    push: Option<Cow<'a, str>>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default)]
    time: Option<u64>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    publisher: Option<Publisher>,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    member: Option<Member>,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    reconnect: Option<bool>,
}

fn null_raw() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is valid JSON")
}

/// Sorts one text frame from the server.
pub(crate) fn parse_incoming(text: &str) -> Incoming {
    // A derived struct would also accept a JSON array (fields by position).
    if !text.trim_start().starts_with('{') {
        return Incoming::Push(other(text));
    }
    let frame: WireFrame<'_> = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => return unreadable(text, &e),
    };
    match (frame.push.clone(), frame.id) {
        (None, Some(id)) => {
            let result = match frame.error {
                Some(err) => Err(err),
                None => Ok(frame.result.map(RawValue::to_owned).unwrap_or_else(null_raw)),
            };
            Incoming::Reply { id, result }
        }
        (Some(kind), _) => Incoming::Push(build_push(&kind, frame).unwrap_or_else(|| other(text))),
        (None, None) => Incoming::Push(other(text)),
    }
}

/// A frame that did not fit [`WireFrame`]: a reply whose parts have the wrong
/// types becomes `BadReply`, anything else `Other`.
fn unreadable(text: &str, e: &serde_json::Error) -> Incoming {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => match v.get("id").and_then(Value::as_u64) {
            Some(id) if v.get("push").is_none() => Incoming::BadReply { id, problem: format!("unreadable reply: {e}") },
            _ => Incoming::Push(Push::Other(v)),
        },
        Err(_) => Incoming::Push(Push::Other(Value::String(text.to_owned()))),
    }
}

fn other(text: &str) -> Push {
    Push::Other(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())))
}

fn build_push(kind: &str, f: WireFrame<'_>) -> Option<Push> {
    Some(match kind {
        "publication" => Push::Publication {
            channel: f.channel?,
            offset: f.offset?,
            time: f.time.unwrap_or_default(),
            data: f.data.unwrap_or(Value::Null),
            publisher: f.publisher,
            idempotency_key: f.idempotency_key,
        },
        "join" => Push::Join { channel: f.channel?, member: f.member? },
        "leave" => Push::Leave { channel: f.channel?, member: f.member? },
        "unsubscribed" => Push::Unsubscribed { channel: f.channel?, error: f.error? },
        "ping" => Push::Ping,
        "disconnect" => Push::Disconnect {
            code: f.code?,
            reason: f.reason.unwrap_or_default(),
            reconnect: f.reconnect.unwrap_or(false),
        },
        "error" => Push::Error(f.error?),
        _ => return None,
    })
}

/// Converts a reply's raw result into a value, for [`Push::Reply`].
pub(crate) fn raw_to_value(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn push(text: &str) -> Push {
        match parse_incoming(text) {
            Incoming::Push(p) => p,
            other => panic!("expected a push, got {other:?}"),
        }
    }

    #[test]
    fn replies() {
        match parse_incoming(r#"{"id":3,"result":{"epoch":"e","offset":9}}"#) {
            Incoming::Reply { id: 3, result: Ok(raw) } => {
                let r: PublishResult = serde_json::from_str(raw.get()).unwrap();
                assert_eq!(r.position(), Position { epoch: "e".into(), offset: 9 });
            }
            other => panic!("{other:?}"),
        }
        match parse_incoming(r#"{"id":4,"error":{"code":103,"message":"denied","temporary":false}}"#) {
            Incoming::Reply { id: 4, result: Err(e) } => {
                assert_eq!(e, ServerError { code: 103, message: "denied".into(), temporary: false })
            }
            other => panic!("{other:?}"),
        }
        match parse_incoming(r#"{"id":5,"result":{}}"#) {
            Incoming::Reply { id: 5, result: Ok(raw) } => assert_eq!(raw.get(), "{}"),
            other => panic!("{other:?}"),
        }
        match parse_incoming(r#"{"id":6}"#) {
            Incoming::Reply { id: 6, result: Ok(raw) } => assert_eq!(raw.get(), "null"),
            other => panic!("{other:?}"),
        }
        match parse_incoming(r#"{"id":7,"error":"nope"}"#) {
            Incoming::BadReply { id: 7, .. } => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn typed_results_are_lenient() {
        let r: SubscribeResult = serde_json::from_str(
            r#"{"channel":"chat:a","epoch":"e1","offset":7,"recovered":true,
                "publications":[{"offset":6,"time":1,"data":{"x":1},"publisher":{"client":"c1","user":"u"}},
                                {"offset":7,"time":2,"data":null,"idempotency_key":"k"}]}"#,
        )
        .unwrap();
        assert_eq!(r.recovered, Some(true));
        assert_eq!(r.publications.len(), 2);
        assert_eq!(r.publications[0].publisher.as_ref().unwrap().user.as_deref(), Some("u"));
        assert_eq!(r.publications[1].idempotency_key.as_deref(), Some("k"));
        assert_eq!(r.position(), Position { epoch: "e1".into(), offset: 7 });
        let r: SubscribeResult = serde_json::from_str(r#"{"channel":"c","epoch":"e","offset":0}"#).unwrap();
        assert_eq!(r.recovered, None);
        assert!(r.publications.is_empty());

        let h: HistoryResult =
            serde_json::from_str(r#"{"epoch":"e","offset":2,"publications":[{"offset":1,"time":5,"data":[1]}]}"#)
                .unwrap();
        assert_eq!(h.publications[0].data, json!([1]));

        let p: PresenceResult = serde_json::from_str(
            r#"{"members":[{"client":"c1","user":"u1","info":{"n":1},"connections":2},{"client":"c2","connections":1}]}"#,
        )
        .unwrap();
        assert_eq!(p.members[0].connections, 2);
        assert_eq!(p.members[0].info, Some(json!({"n":1})));
        assert_eq!(p.members[1].user, None);

        let c = Connected::from_value(
            json!({"client":"abc","version":"0.1.0","ping_interval_ms":25000,"pong_timeout_ms":10000,"extra":true}),
        );
        assert_eq!(c.client, "abc");
        assert_eq!(c.version.as_deref(), Some("0.1.0"));
        assert_eq!((c.ping_interval_ms, c.pong_timeout_ms), (Some(25000), Some(10000)));
        assert_eq!(c.raw["extra"], true);
        let c = Connected::from_value(json!({"client":5}));
        assert_eq!(c.client, "");
        assert_eq!(c.version, None);
    }

    #[test]
    fn publication_push() {
        let p = push(
            r#"{"push":"publication","channel":"chat:a","offset":7,"time":1700000000000,"data":{"t":"hi \"x\""},"publisher":{"client":"c1","user":"u\"1"},"idempotency_key":"k"}"#,
        );
        assert_eq!(
            p,
            Push::Publication {
                channel: "chat:a".into(),
                offset: 7,
                time: 1_700_000_000_000,
                data: json!({"t":"hi \"x\""}),
                publisher: Some(Publisher { client: "c1".into(), user: Some("u\"1".into()) }),
                idempotency_key: Some("k".into()),
            }
        );
        assert_eq!(p.channel(), Some("chat:a"));
        assert_eq!(p.kind(), "publication");
        let p = push(r#"{"push":"publication","channel":"a","offset":1,"time":2,"data":null}"#);
        assert!(matches!(p, Push::Publication { data: Value::Null, publisher: None, .. }));
    }

    #[test]
    fn membership_pushes() {
        assert_eq!(
            push(r#"{"push":"join","channel":"a","member":{"client":"c","user":"u","info":{"k":1}}}"#),
            Push::Join {
                channel: "a".into(),
                member: Member { client: "c".into(), user: Some("u".into()), info: Some(json!({"k":1})) }
            }
        );
        assert_eq!(
            push(r#"{"push":"leave","channel":"a","member":{"client":"c"}}"#),
            Push::Leave { channel: "a".into(), member: Member { client: "c".into(), user: None, info: None } }
        );
    }

    #[test]
    fn control_pushes() {
        assert_eq!(push(r#"{"push":"ping"}"#), Push::Ping);
        assert_eq!(
            push(r#"{"push":"disconnect","code":4001,"reason":"slow consumer, reconnect","reconnect":true}"#),
            Push::Disconnect { code: 4001, reason: "slow consumer, reconnect".into(), reconnect: true }
        );
        assert_eq!(
            push(r#"{"push":"unsubscribed","channel":"a","error":{"code":103,"message":"revoked","temporary":false}}"#),
            Push::Unsubscribed {
                channel: "a".into(),
                error: ServerError { code: 103, message: "revoked".into(), temporary: false }
            }
        );
        assert_eq!(
            push(r#"{"push":"error","error":{"code":108,"message":"frame is not valid JSON","temporary":false}}"#),
            Push::Error(ServerError { code: 108, message: "frame is not valid JSON".into(), temporary: false })
        );
    }

    #[test]
    fn odd_frames_are_kept() {
        assert_eq!(push(r#"{"push":"future","x":1}"#), Push::Other(json!({"push":"future","x":1})));
        assert_eq!(push(r#"{"push":"join","channel":"a"}"#), Push::Other(json!({"push":"join","channel":"a"})));
        assert_eq!(push(r#"{"hello":1}"#), Push::Other(json!({"hello":1})));
        assert_eq!(push("[1,2]"), Push::Other(json!([1, 2])));
        assert_eq!(push("not json"), Push::Other(json!("not json")));
        assert_eq!(push(r#"{"push":5}"#), Push::Other(json!({"push":5})));
        assert_eq!(push(r#"{"push":"ping","id":"x"}"#), Push::Other(json!({"push":"ping","id":"x"})));
    }
}
