//! Client → server frames, serialized straight to JSON text.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ClientError;
use crate::types::{HistoryOptions, Position};

#[derive(Serialize)]
struct ConnectFrame<'a> {
    id: u64,
    op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
}

#[derive(Serialize)]
struct ChannelFrame<'a> {
    id: u64,
    op: &'static str,
    channel: &'a str,
}

#[derive(Serialize)]
struct SubscribeFrame<'a> {
    id: u64,
    op: &'static str,
    channel: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<&'a Position>,
}

#[derive(Serialize)]
struct PublishFrame<'a, T: ?Sized> {
    id: u64,
    op: &'static str,
    channel: &'a str,
    data: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<&'a str>,
}

#[derive(Serialize)]
struct HistoryFrame<'a> {
    id: u64,
    op: &'static str,
    channel: &'a str,
    #[serde(flatten)]
    opts: &'a HistoryOptions,
}

fn to_text<T: Serialize + ?Sized>(frame: &T) -> Result<String, ClientError> {
    serde_json::to_string(frame).map_err(|e| ClientError::Protocol(format!("cannot encode frame: {e}")))
}

/// `{"id":…,"op":"connect","token":…?,"client":…?}`
pub(crate) fn connect(id: u64, token: Option<&str>, client: Option<&str>) -> Result<String, ClientError> {
    to_text(&ConnectFrame { id, op: "connect", token, client })
}

/// `{"id":…,"op":"subscribe","channel":…,"since":{"epoch":…,"offset":…}?}`
pub(crate) fn subscribe(id: u64, channel: &str, since: Option<&Position>) -> Result<String, ClientError> {
    to_text(&SubscribeFrame { id, op: "subscribe", channel, since })
}

/// `{"id":…,"op":OP,"channel":…}` for unsubscribe and presence.
pub(crate) fn channel_op(id: u64, op: &'static str, channel: &str) -> Result<String, ClientError> {
    to_text(&ChannelFrame { id, op, channel })
}

/// `{"id":…,"op":"publish","channel":…,"data":…,"idempotency_key":…?}`
pub(crate) fn publish<T: Serialize + ?Sized>(
    id: u64,
    channel: &str,
    data: &T,
    idempotency_key: Option<&str>,
) -> Result<String, ClientError> {
    to_text(&PublishFrame { id, op: "publish", channel, data, idempotency_key })
}

/// `{"id":…,"op":"history","channel":…,"since"?,"before"?,"limit"?,"direction"?}`
pub(crate) fn history(id: u64, channel: &str, opts: &HistoryOptions) -> Result<String, ClientError> {
    to_text(&HistoryFrame { id, op: "history", channel, opts })
}

/// `{"op":"pong"}`
pub(crate) const PONG: &str = r#"{"op":"pong"}"#;

/// A generic request: `fields` (an object, or null for none) plus `id` and
/// `op`. An `id` or `op` inside `fields` is replaced.
pub(crate) fn generic(id: u64, op: &str, fields: Value) -> Result<String, ClientError> {
    let mut map = match fields {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            return Err(ClientError::Protocol(format!("request fields must be a JSON object, not {other}")));
        }
    };
    map.insert("id".into(), Value::from(id));
    map.insert("op".into(), Value::from(op));
    to_text(&map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use serde_json::value::RawValue;

    use super::*;
    use crate::types::Direction;

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn connect_frames() {
        assert_eq!(parse(&connect(1, None, None).unwrap()), json!({"id":1,"op":"connect"}));
        assert_eq!(
            parse(&connect(1, Some("t.k.n"), Some("herald-rust/0.1")).unwrap()),
            json!({"id":1,"op":"connect","token":"t.k.n","client":"herald-rust/0.1"})
        );
    }

    #[test]
    fn subscribe_frames() {
        assert_eq!(parse(&subscribe(2, "c", None).unwrap()), json!({"id":2,"op":"subscribe","channel":"c"}));
        let pos = Position { epoch: "e".into(), offset: 5 };
        assert_eq!(
            parse(&subscribe(2, "c", Some(&pos)).unwrap()),
            json!({"id":2,"op":"subscribe","channel":"c","since":{"epoch":"e","offset":5}})
        );
        assert_eq!(
            parse(&channel_op(3, "unsubscribe", "c").unwrap()),
            json!({"id":3,"op":"unsubscribe","channel":"c"})
        );
        assert_eq!(parse(&channel_op(6, "presence", "c").unwrap()), json!({"id":6,"op":"presence","channel":"c"}));
    }

    #[test]
    fn publish_frames_keep_data_verbatim() {
        let raw = RawValue::from_string(r#"{"b":1,"a":[1, 2]}"#.into()).unwrap();
        let text = publish(4, "c", &*raw, None).unwrap();
        assert_eq!(text, r#"{"id":4,"op":"publish","channel":"c","data":{"b":1,"a":[1, 2]}}"#);
        assert_eq!(
            parse(&publish(4, "c", &json!("x"), Some("k1")).unwrap()),
            json!({"id":4,"op":"publish","channel":"c","data":"x","idempotency_key":"k1"})
        );
    }

    #[test]
    fn history_frames() {
        assert_eq!(
            parse(&history(5, "c", &HistoryOptions::default()).unwrap()),
            json!({"id":5,"op":"history","channel":"c"})
        );
        let opts =
            HistoryOptions { since: Some(3), before: Some(9), limit: Some(10), direction: Some(Direction::Backward) };
        assert_eq!(
            parse(&history(5, "c", &opts).unwrap()),
            json!({"id":5,"op":"history","channel":"c","since":3,"before":9,"limit":10,"direction":"backward"})
        );
    }

    #[test]
    fn generic_frames() {
        assert_eq!(
            parse(&generic(7, "subscribe", json!({"channel":"c","id":99})).unwrap()),
            json!({"id":7,"op":"subscribe","channel":"c"})
        );
        assert_eq!(parse(&generic(8, "dance", Value::Null).unwrap()), json!({"id":8,"op":"dance"}));
        assert!(matches!(generic(9, "x", json!([1])), Err(ClientError::Protocol(_))));
        assert_eq!(parse(PONG), json!({"op":"pong"}));
    }
}
