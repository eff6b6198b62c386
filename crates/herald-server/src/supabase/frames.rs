//! Phoenix channel frames as realtime-js speaks them, without IO: any bytes
//! in, a message or a [`FrameError`] out, never a panic (so it can be fuzzed).
//!
//! - `vsn=1.0.0`: text frames holding a JSON object
//!   `{"join_ref","ref","topic","event","payload"}`.
//! - `vsn=2.0.0` (realtime-js's default): text frames holding a JSON array
//!   `[join_ref, ref, topic, event, payload]`, and **binary** frames for the
//!   client's broadcasts — kind 3, "user broadcast push":
//!   `u8 3, u8 join_ref_len, u8 ref_len, u8 topic_len, u8 event_len,
//!   u8 meta_len, u8 encoding (0 binary, 1 JSON)`, then those strings, then
//!   the payload. It decodes to event `broadcast` with payload
//!   `{"type":"broadcast","event","payload"}`, as a text broadcast would.
//!
//! The server always answers with text frames (realtime-js decodes text and
//! binary kind 4 only).

use bytes::Bytes;
use herald_ws::frame;
use serde::Deserialize;
use serde_json::Value;

/// The serializer version of a socket (`vsn` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vsn {
    /// `1.0.0`: JSON objects.
    V1,
    /// `2.0.0`: JSON arrays, binary broadcasts.
    V2,
}

impl Vsn {
    /// From the `vsn` query parameter (absent: 1.0.0, as Phoenix assumes).
    pub fn parse(vsn: Option<&str>) -> Option<Vsn> {
        match vsn {
            None | Some("1.0.0") => Some(Vsn::V1),
            Some("2.0.0") => Some(Vsn::V2),
            _ => None,
        }
    }
}

/// One client message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The channel's join reference (null outside a channel).
    pub join_ref: Option<String>,
    /// The push's reference, echoed in the reply.
    pub msg_ref: Option<String>,
    /// `realtime:…` or `phoenix`.
    pub topic: String,
    /// `phx_join`, `broadcast`, `presence`, `heartbeat`, …
    pub event: String,
    /// The payload (an object for every event realtime-js sends).
    pub payload: Value,
}

/// Why a frame is not a message. The text goes back to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON of the socket's serializer.
    #[error("not a Phoenix message: expected {0}")]
    Malformed(&'static str),
    /// A binary frame of a kind clients do not send.
    #[error("binary frames of kind {0} are not accepted (only 3, a broadcast push)")]
    BinaryKind(u8),
    /// A binary frame shorter than its header says.
    #[error("binary frame shorter than its header says")]
    Truncated,
    /// A binary broadcast whose payload is raw bytes (encoding 0).
    #[error("binary broadcast payloads are not supported; send JSON")]
    BinaryPayload,
    /// A binary frame on a 1.0.0 socket.
    #[error("binary frames need vsn=2.0.0")]
    BinaryOnV1,
}

#[derive(Deserialize)]
struct ObjectMessage {
    #[serde(default)]
    join_ref: Option<Value>,
    #[serde(default, rename = "ref")]
    msg_ref: Option<Value>,
    topic: String,
    event: String,
    #[serde(default)]
    payload: Value,
}

/// A reference as text: Phoenix sends strings, some clients numbers.
fn reference(v: Option<Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Decode a text frame.
pub fn decode_text(vsn: Vsn, text: &str) -> Result<Message, FrameError> {
    match vsn {
        Vsn::V1 => {
            let m: ObjectMessage = serde_json::from_str(text)
                .map_err(|_| FrameError::Malformed("{\"topic\",\"event\",\"payload\",\"ref\",\"join_ref\"}"))?;
            Ok(Message {
                join_ref: reference(m.join_ref),
                msg_ref: reference(m.msg_ref),
                topic: m.topic,
                event: m.event,
                payload: m.payload,
            })
        }
        Vsn::V2 => {
            let (join_ref, msg_ref, topic, event, payload): (Option<Value>, Option<Value>, String, String, Value) =
                serde_json::from_str(text)
                    .map_err(|_| FrameError::Malformed("[join_ref, ref, topic, event, payload]"))?;
            Ok(Message { join_ref: reference(join_ref), msg_ref: reference(msg_ref), topic, event, payload })
        }
    }
}

/// Kind of a client's binary broadcast push.
const USER_BROADCAST_PUSH: u8 = 3;
/// Header bytes of a kind 3 frame before its strings.
const PUSH_HEADER: usize = 7;

/// Decode a binary frame (kind 3 only).
pub fn decode_binary(vsn: Vsn, bytes: &[u8]) -> Result<Message, FrameError> {
    if vsn == Vsn::V1 {
        return Err(FrameError::BinaryOnV1);
    }
    let kind = *bytes.first().ok_or(FrameError::Truncated)?;
    if kind != USER_BROADCAST_PUSH {
        return Err(FrameError::BinaryKind(kind));
    }
    let header = bytes.get(..PUSH_HEADER).ok_or(FrameError::Truncated)?;
    let lens = [header[1], header[2], header[3], header[4], header[5]].map(usize::from);
    let encoding = header[6];
    let mut at = PUSH_HEADER;
    let mut take = |len: usize| -> Result<String, FrameError> {
        let s = bytes.get(at..at + len).ok_or(FrameError::Truncated)?;
        at += len;
        Ok(String::from_utf8_lossy(s).into_owned())
    };
    let join_ref = take(lens[0])?;
    let msg_ref = take(lens[1])?;
    let topic = take(lens[2])?;
    let event = take(lens[3])?;
    let meta = take(lens[4])?;
    let body = &bytes[at..];
    if encoding != 1 {
        return Err(FrameError::BinaryPayload);
    }
    let user_payload: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).map_err(|_| FrameError::Malformed("a JSON payload"))?
    };
    let mut payload = serde_json::json!({ "type": "broadcast", "event": event, "payload": user_payload });
    if !meta.is_empty()
        && let Ok(meta) = serde_json::from_str::<Value>(&meta)
    {
        payload["meta"] = meta;
    }
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    Ok(Message {
        join_ref: non_empty(join_ref),
        msg_ref: non_empty(msg_ref),
        topic,
        event: "broadcast".into(),
        payload,
    })
}

/// A server message as a text frame, in the socket's serializer.
/// `payload_json` must be valid JSON.
pub fn text_frame(
    vsn: Vsn,
    join_ref: Option<&str>,
    msg_ref: Option<&str>,
    topic: &str,
    event: &str,
    payload_json: &str,
) -> Bytes {
    let s = |v: Option<&str>| v.map_or_else(|| "null".to_string(), |v| Value::from(v).to_string());
    let (join_ref, msg_ref, topic, event) = (s(join_ref), s(msg_ref), s(Some(topic)), s(Some(event)));
    let text = match vsn {
        Vsn::V1 => format!(
            "{{\"join_ref\":{join_ref},\"ref\":{msg_ref},\"topic\":{topic},\"event\":{event},\"payload\":{payload_json}}}"
        ),
        Vsn::V2 => format!("[{join_ref},{msg_ref},{topic},{event},{payload_json}]"),
    };
    frame::text(text.as_bytes())
}

/// The reply to `to`: `phx_reply` with `{"status","response"}`.
pub fn reply(vsn: Vsn, to: &Message, ok: bool, response: &Value) -> Bytes {
    let status = if ok { "ok" } else { "error" };
    let payload = serde_json::json!({ "status": status, "response": response });
    text_frame(vsn, to.join_ref.as_deref(), to.msg_ref.as_deref(), &to.topic, "phx_reply", &payload.to_string())
}

/// An error reply with `{"reason": reason}`.
pub fn error_reply(vsn: Vsn, to: &Message, reason: &str) -> Bytes {
    reply(vsn, to, false, &serde_json::json!({ "reason": reason }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(join_ref: &str, msg_ref: &str, topic: &str, event: &str, meta: &str, encoding: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![3, join_ref.len() as u8, msg_ref.len() as u8, topic.len() as u8, event.len() as u8];
        v.extend([meta.len() as u8, encoding]);
        for s in [join_ref, msg_ref, topic, event, meta] {
            v.extend(s.as_bytes());
        }
        v.extend(body);
        v
    }

    #[test]
    fn both_text_serializers_decode_to_one_message() {
        let v2 = decode_text(Vsn::V2, r#"["1","2","realtime:room","phx_join",{"config":{}}]"#).unwrap();
        let v1 = decode_text(
            Vsn::V1,
            r#"{"join_ref":"1","ref":"2","topic":"realtime:room","event":"phx_join","payload":{"config":{}}}"#,
        )
        .unwrap();
        assert_eq!(v1, v2);
        assert_eq!((v2.join_ref.as_deref(), v2.msg_ref.as_deref()), (Some("1"), Some("2")));
        let hb = decode_text(Vsn::V2, r#"[null,"3","phoenix","heartbeat",{}]"#).unwrap();
        assert_eq!((hb.join_ref, hb.topic.as_str()), (None, "phoenix"));
    }

    #[test]
    fn a_binary_broadcast_push_decodes_like_a_text_broadcast() {
        let bytes = push("1", "5", "realtime:room", "cursor", "", 1, br#"{"x":1}"#);
        let m = decode_binary(Vsn::V2, &bytes).unwrap();
        assert_eq!(
            (m.topic.as_str(), m.event.as_str(), m.msg_ref.as_deref()),
            ("realtime:room", "broadcast", Some("5"))
        );
        assert_eq!(m.payload, serde_json::json!({"type":"broadcast","event":"cursor","payload":{"x":1}}));
        let no_refs = decode_binary(Vsn::V2, &push("", "", "realtime:r", "e", "", 1, b"1")).unwrap();
        assert_eq!((no_refs.join_ref, no_refs.msg_ref), (None, None));
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        assert!(decode_text(Vsn::V2, "garbage").is_err());
        assert!(decode_text(Vsn::V2, r#"[1,2,3]"#).is_err());
        assert!(decode_text(Vsn::V1, r#"{"topic":"t"}"#).is_err());
        assert_eq!(decode_binary(Vsn::V2, &[]), Err(FrameError::Truncated));
        assert_eq!(decode_binary(Vsn::V2, &[4, 1, 1, 1, 1]), Err(FrameError::BinaryKind(4)));
        assert_eq!(decode_binary(Vsn::V2, &[3, 200, 0, 0, 0, 0, 1, b'x']), Err(FrameError::Truncated));
        assert_eq!(decode_binary(Vsn::V2, &[3, 0]), Err(FrameError::Truncated));
        assert_eq!(decode_binary(Vsn::V2, &push("", "", "t", "e", "", 0, b"raw")), Err(FrameError::BinaryPayload));
        assert_eq!(decode_binary(Vsn::V1, &push("", "", "t", "e", "", 1, b"{}")), Err(FrameError::BinaryOnV1));
        // Every prefix of a valid frame, and every single-byte change, decodes or errs.
        let good = push("12", "34", "realtime:room", "cursor", r#"{"a":1}"#, 1, br#"{"x":[1,2]}"#);
        for n in 0..good.len() {
            let _ = decode_binary(Vsn::V2, &good[..n]);
            for b in [0u8, 1, 3, 0xff] {
                let mut bad = good.clone();
                bad[n] = b;
                let _ = decode_binary(Vsn::V2, &bad);
            }
        }
    }

    #[test]
    fn server_messages_follow_the_socket_serializer() {
        // Short unmasked text frames: two header bytes, then the JSON.
        let json = |f: Bytes| String::from_utf8(f[2..].to_vec()).unwrap();
        assert_eq!(
            json(text_frame(Vsn::V2, None, Some("3"), "phoenix", "phx_reply", "{}")),
            r#"[null,"3","phoenix","phx_reply",{}]"#
        );
        let v1: Value =
            serde_json::from_str(&json(text_frame(Vsn::V1, Some("1"), None, "realtime:a", "broadcast", "[1]")))
                .unwrap();
        assert_eq!(
            v1,
            serde_json::json!({"join_ref":"1","ref":null,"topic":"realtime:a","event":"broadcast","payload":[1]})
        );
    }
}
