//! The two wire formats of the realtime connection and the REST API: JSON
//! (text frames, `application/json`) and MessagePack (binary frames,
//! `application/x-msgpack`; what ably-js uses in Node by default). Structs
//! are MessagePack maps keyed by field name, as ably-js writes them.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON text.
    Json,
    /// MessagePack.
    MsgPack,
}

/// A frame or body that is not a valid protocol message.
#[derive(Debug, thiserror::Error)]
#[error("not a valid {format} protocol message: {reason}")]
pub struct DecodeError {
    /// The format it was read as.
    pub format: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl Format {
    /// The connection's `format` query parameter (absent: JSON, as Ably).
    pub fn from_param(p: Option<&str>) -> Option<Format> {
        match p {
            None | Some("json") => Some(Format::Json),
            Some("msgpack") => Some(Format::MsgPack),
            Some(_) => None,
        }
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::MsgPack => "application/x-msgpack",
        }
    }

    /// The format of an HTTP content type (JSON unless it names MessagePack).
    pub fn from_content_type(ct: &str) -> Format {
        if ct.contains("msgpack") { Format::MsgPack } else { Format::Json }
    }

    /// The name (`json`, `msgpack`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::MsgPack => "msgpack",
        }
    }

    /// Encode `value`.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Vec<u8> {
        match self {
            // Our types serialize infallibly to both formats (string keys, no NaN).
            Format::Json => serde_json::to_vec(value).unwrap_or_default(),
            Format::MsgPack => rmp_serde::to_vec_named(value).unwrap_or_default(),
        }
    }

    /// Decode a `T`.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, DecodeError> {
        match self {
            Format::Json => {
                serde_json::from_slice(bytes).map_err(|e| DecodeError { format: "JSON", reason: e.to_string() })
            }
            Format::MsgPack => {
                rmp_serde::from_slice(bytes).map_err(|e| DecodeError { format: "MessagePack", reason: e.to_string() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Data, Message};
    use crate::protocol::{ProtocolMessage, action};

    #[test]
    fn binary_data_stays_binary_in_msgpack_and_both_formats_round_trip() {
        let pm = ProtocolMessage {
            action: action::MESSAGE,
            channel: Some("chat".into()),
            msg_serial: Some(3),
            messages: Some(vec![
                Message { name: Some("b".into()), data: Data::Binary(vec![0, 1, 255]), ..Default::default() },
                Message {
                    name: Some("j".into()),
                    data: Data::Text("{\"a\":1}".into()),
                    encoding: Some("json".into()),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let bytes = Format::MsgPack.encode(&pm);
        // A MessagePack map (fixmap), keyed by field name, with a bin 8 value.
        assert_eq!(bytes[0] & 0xf0, 0x80);
        assert!(bytes.windows(5).any(|w| w == [0xc4, 3, 0, 1, 255]));
        assert_eq!(Format::MsgPack.decode::<ProtocolMessage>(&bytes).unwrap(), pm);
        let mut text = pm.clone();
        text.messages.as_mut().unwrap().remove(0);
        let json = Format::Json.encode(&text);
        assert_eq!(Format::Json.decode::<ProtocolMessage>(&json).unwrap(), text);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"action":15,"channel":"chat","msgSerial":3,
            "messages":[{"name":"j","data":"{\"a\":1}","encoding":"json"}]})
        );
    }

    #[test]
    fn unencoded_json_data_nulls_and_unknown_fields_are_accepted() {
        let pm: ProtocolMessage = Format::Json
            .decode(br#"{"action":15,"channel":"c","messages":[{"data":{"x":[1]}},{"data":null}],"future":1}"#)
            .unwrap();
        let msgs = pm.messages.unwrap();
        assert_eq!(msgs[0].data, Data::Json(serde_json::json!({"x":[1]})));
        assert_eq!(msgs[1].data, Data::None);
        assert!(Format::Json.decode::<ProtocolMessage>(b"[1,2").is_err());
        assert!(Format::MsgPack.decode::<ProtocolMessage>(&[0xc1]).is_err());
    }
}
