//! The parser of server → client frames: one pass over every field a frame
//! may carry, sorted into a reply (by id) or a [`Push`].

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Member, Notification, Publisher, Push};
use crate::error::ServerError;

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
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    from: Option<Member>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    typing: Option<bool>,
    #[serde(default)]
    notification: Option<Notification>,
    #[serde(default)]
    unread: Option<u64>,
    #[serde(default)]
    expires_at: Option<u64>,
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
        "event" => Push::Event {
            channel: f.channel?,
            event: f.event?,
            data: f.data.unwrap_or(Value::Null),
            from: f.from.unwrap_or_default(),
        },
        "presence_update" => Push::PresenceUpdate { channel: f.channel?, member: f.member? },
        "typing" => Push::Typing { channel: f.channel?, user: f.user?, typing: f.typing? },
        "read" => Push::Read { channel: f.channel?, user: f.user?, offset: f.offset? },
        "notification" => Push::Notification { notification: f.notification?, unread: f.unread.unwrap_or_default() },
        "unread" => Push::Unread { unread: f.unread? },
        "token_expiring" => Push::TokenExpiring { expires_at: f.expires_at? },
        "doc" => Push::Doc { channel: f.channel?, data: f.data?.as_str()?.to_owned() },
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
    use crate::types::{Position, PublishResult};

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
                member: Member {
                    client: "c".into(),
                    user: Some("u".into()),
                    info: Some(json!({"k":1})),
                    ..Default::default()
                }
            }
        );
        assert_eq!(
            push(r#"{"push":"leave","channel":"a","member":{"client":"c"}}"#),
            Push::Leave { channel: "a".into(), member: Member { client: "c".into(), ..Default::default() } }
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
    fn chat_pushes() {
        assert_eq!(
            push(r#"{"push":"event","channel":"a","event":"cursor","data":{"x":1},"from":{"client":"c","user":"u"}}"#),
            Push::Event {
                channel: "a".into(),
                event: "cursor".into(),
                data: json!({"x":1}),
                from: Member { client: "c".into(), user: Some("u".into()), ..Default::default() }
            }
        );
        assert_eq!(
            push(
                r#"{"push":"presence_update","channel":"a","member":{"client":"c","connections":2,"state":{"s":"idle"}}}"#
            ),
            Push::PresenceUpdate {
                channel: "a".into(),
                member: Member {
                    client: "c".into(),
                    connections: Some(2),
                    state: Some(json!({"s":"idle"})),
                    ..Default::default()
                }
            }
        );
        assert_eq!(
            push(r#"{"push":"typing","channel":"a","user":"u","typing":true}"#),
            Push::Typing { channel: "a".into(), user: "u".into(), typing: true }
        );
        assert_eq!(
            push(r#"{"push":"read","channel":"a","user":"u","offset":42}"#),
            Push::Read { channel: "a".into(), user: "u".into(), offset: 42 }
        );
        let n = push(
            r#"{"push":"notification","notification":{"id":7,"kind":"mention","title":"t","body":null,"data":{"r":1},"created_at":5,"read":false},"unread":3}"#,
        );
        let Push::Notification { notification, unread: 3 } = n else { panic!("{n:?}") };
        assert_eq!(
            (notification.id, notification.title.as_str(), notification.kind.as_deref()),
            (7, "t", Some("mention"))
        );
        assert_eq!(push(r#"{"push":"unread","unread":0}"#), Push::Unread { unread: 0 });
        assert_eq!(push(r#"{"push":"token_expiring","expires_at":9}"#), Push::TokenExpiring { expires_at: 9 });
        assert_eq!(
            push(r#"{"push":"doc","channel":"doc:x","data":"AAE="}"#),
            Push::Doc { channel: "doc:x".into(), data: "AAE=".into() }
        );
        // Missing required fields: kept as received.
        assert!(matches!(push(r#"{"push":"typing","channel":"a"}"#), Push::Other(_)));
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
