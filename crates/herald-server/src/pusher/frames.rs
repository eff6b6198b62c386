//! Pusher protocol 7 frames: `{"event","channel"?,"data"}` where the
//! server's `data` is a JSON-encoded string. [`PusherEncoder`] turns hub
//! events into such frames (once per app, shared by its sockets), and
//! [`envelope`] is how a triggered Pusher event is stored as a Herald
//! publication.
//!
//! A Herald publication on a Pusher channel is `{"event": name, "data": d}`:
//! `d` is the triggered data when it is valid JSON, else that text as a JSON
//! string. pusher-js parses the `data` string it receives, so what it gets
//! equals what it would get from Pusher. A publication made by a native
//! Herald client in another shape reaches Pusher clients as event
//! `message` with the whole publication as data.

use std::borrow::Cow;

use bytes::Bytes;
use herald_core::{ChannelEvent, ChannelName, ClientInfo, ErrorCode, HeraldError, Payload, WireEncoder};
use herald_ws::frame;
use serde::Serialize;
use serde_json::value::RawValue;

/// The event name Pusher clients see for publications not made through the
/// Pusher door (whose data is not an `{event, data}` envelope).
pub const DEFAULT_EVENT: &str = "message";

#[derive(Serialize)]
struct Frame<'a> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    data: Data<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    /// A JSON-encoded string (how the server sends data).
    Text(&'a str),
    /// Raw JSON, relayed as the client sent it (client events).
    Raw(&'a RawValue),
}

/// A frame's JSON: `data` is sent as a string holding `data_json`.
pub fn event_json(event: &str, channel: Option<&str>, data_json: &str) -> Vec<u8> {
    let f = Frame { event, channel, data: Data::Text(data_json), user_id: None };
    serde_json::to_vec(&f).unwrap_or_default()
}

/// A text frame with [`event_json`].
pub fn event_frame(event: &str, channel: Option<&str>, data_json: &str) -> Bytes {
    frame::text(&event_json(event, channel, data_json))
}

/// `pusher:error` with `code` (one of Pusher's, see `session::close`) and `message`.
pub fn error_frame(code: u16, message: &str) -> Bytes {
    let data = serde_json::json!({ "code": code, "message": message });
    event_frame("pusher:error", None, &data.to_string())
}

/// The stored form of a triggered event (see the module docs).
pub fn envelope(event: &str, data: &str) -> Result<Payload, HeraldError> {
    let data_json: Cow<'_, str> = if serde_json::from_str::<&RawValue>(data).is_ok() {
        Cow::Borrowed(data)
    } else {
        Cow::Owned(serde_json::Value::from(data).to_string())
    };
    let event_json = serde_json::Value::from(event).to_string();
    Payload::from_json_text(format!("{{\"event\":{event_json},\"data\":{data_json}}}"))
        .map_err(|e| HeraldError::new(ErrorCode::MalformedJson, e.message))
}

/// The Pusher event name and data (JSON text) of a publication.
pub fn unwrap_publication(data: &Payload) -> (Cow<'_, str>, &str) {
    herald_core::split_event_envelope(data.as_str()).unwrap_or((Cow::Borrowed(DEFAULT_EVENT), data.as_str()))
}

/// A presence member as Pusher shows it: `user_id` and `user_info`.
pub fn member_json(member: &ClientInfo, with_info: bool) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("user_id".into(), serde_json::Value::from(&**member.member_key()));
    if with_info && let Some(info) = &member.info {
        m.insert("user_info".into(), serde_json::from_str(info.as_str()).unwrap_or(serde_json::Value::Null));
    }
    serde_json::Value::Object(m)
}

/// Encodes hub events as Pusher frames for one app (one namespace).
pub struct PusherEncoder {
    namespace: String,
}

impl PusherEncoder {
    /// An encoder for the app whose channels live in `namespace`.
    pub fn new(namespace: &str) -> Self {
        Self { namespace: namespace.to_string() }
    }

    fn name<'a>(&self, channel: &'a ChannelName) -> &'a str {
        super::channels::from_herald(&self.namespace, channel).unwrap_or(channel.as_str())
    }
}

impl WireEncoder for PusherEncoder {
    fn encode(&self, event: &ChannelEvent<'_>) -> Bytes {
        let json = match event {
            ChannelEvent::Publication(p) => {
                let (name, data) = unwrap_publication(&p.data);
                event_json(&name, Some(self.name(&p.channel)), data)
            }
            ChannelEvent::Join(ch, member) => {
                event_json("pusher_internal:member_added", Some(self.name(ch)), &member_json(member, true).to_string())
            }
            ChannelEvent::Leave(ch, member) => event_json(
                "pusher_internal:member_removed",
                Some(self.name(ch)),
                &member_json(member, false).to_string(),
            ),
            ChannelEvent::Client { channel, event, data, from } => {
                let name = self.name(channel);
                let user_id = if name.starts_with("presence-") { from.user.as_deref() } else { None };
                let raw = serde_json::from_str::<&RawValue>(data.as_str()).ok();
                let Some(raw) = raw else { return Bytes::new() };
                let f = Frame { event, channel: Some(name), data: Data::Raw(raw), user_id };
                serde_json::to_vec(&f).unwrap_or_default()
            }
            ChannelEvent::Unsubscribed(ch, err) => {
                let message = format!("{}: {}", self.name(ch), err.message);
                let data = serde_json::json!({ "code": super::session::close::OTHER_ERROR, "message": message });
                event_json("pusher:error", None, &data.to_string())
            }
            // Herald-only events (presence state, typing, read marks,
            // notifications) have no Pusher form: nothing is sent.
            _ => return Bytes::new(),
        };
        frame::text(&json)
    }

    /// Frames name channels relative to this app's namespace, so two apps
    /// encode differently: the format is this instance's (one per app,
    /// shared by the app's sockets).
    fn format(&self) -> herald_core::WireFormat {
        herald_core::WireFormat::instance(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(frame: &Bytes) -> serde_json::Value {
        // A short unmasked text frame: 2 header bytes (payloads < 126 bytes) or 4.
        let start = if frame[1] & 0x7f == 126 { 4 } else { 2 };
        serde_json::from_slice(&frame[start..]).unwrap()
    }

    #[test]
    fn envelopes_round_trip_as_pusher_js_sees_them() {
        for (data, seen) in
            [(r#"{"text":"hi"}"#, r#"{"text":"hi"}"#), ("hello", r#""hello""#), (r#""123""#, r#""123""#), ("42", "42")]
        {
            let p = envelope("message", data).unwrap();
            let (event, d) = unwrap_publication(&p);
            assert_eq!((&*event, d), ("message", seen), "{data}");
        }
        let native = Payload::from_json_text(r#"{"x":1}"#).unwrap();
        assert_eq!(unwrap_publication(&native), (Cow::Borrowed("message"), r#"{"x":1}"#));
    }

    #[test]
    fn join_frame_names_the_pusher_channel() {
        let enc = PusherEncoder::new("pusher");
        let ch = ChannelName::new("pusher:presence-a").unwrap();
        let info = Payload::from_json_text(r#"{"name":"Ann"}"#).unwrap();
        let member = ClientInfo { client: "c1".into(), user: Some("7".into()), info: Some(info) };
        let v = decode(&enc.encode(&ChannelEvent::Join(&ch, &member)));
        assert_eq!(v["event"], "pusher_internal:member_added");
        assert_eq!(v["channel"], "presence-a");
        let data: serde_json::Value = serde_json::from_str(v["data"].as_str().unwrap()).unwrap();
        assert_eq!(data, serde_json::json!({"user_id": "7", "user_info": {"name": "Ann"}}));
    }
}
