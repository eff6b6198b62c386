//! An Ably message as a Herald publication, and a publication as an Ably
//! message. The stored form is the `{"event": name, "data": …}` envelope
//! every foreign door uses, so native subscribers and other doors see the
//! same event (`POST /api/publish {"event":"news","data":…}` reaches Ably
//! subscribers as message `news`), plus what only Ably clients read:
//! `encoding` (when the data is not plain JSON), `id`, `clientId`,
//! `connectionId`, `extras`.
//!
//! Data: JSON-encoded data (`encoding: "json"`) is stored as the JSON value
//! itself (native clients get the object); a string as a string; bytes as
//! base64 text with `base64` appended to the encoding — MessagePack
//! clients get bytes back, JSON clients the base64 text, exactly as Ably.
//! Anything else (cipher encodings…) is passed through untouched.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use crate::codec::Format;
use crate::error::{ErrorInfo, code};
use crate::message::{Data, Message};

/// Data in its stored form: a JSON value and the encoding still applied to it.
pub fn store_data(data: &Data, encoding: Option<&str>) -> Result<(Value, Option<String>), ErrorInfo> {
    let enc = encoding.filter(|e| !e.is_empty());
    Ok(match (data, enc) {
        (Data::None, e) => (Value::Null, e.map(str::to_string)),
        (Data::Text(s), Some("json")) => match serde_json::from_str(s) {
            Ok(v) => (v, None),
            Err(e) => {
                return Err(ErrorInfo::new(code::INVALID_DATA, format!("data with encoding json is not JSON: {e}")));
            }
        },
        (Data::Text(s), e) => (Value::String(s.clone()), e.map(str::to_string)),
        (Data::Binary(b), e) => (Value::String(B64.encode(b)), Some(push_encoding(e, "base64"))),
        (Data::Json(v), e) => (v.clone(), e.map(str::to_string)),
    })
}

/// Data as a client of `format` receives it.
pub fn wire_data(value: &Value, encoding: Option<&str>, format: Format) -> (Data, Option<String>) {
    let enc = encoding.filter(|e| !e.is_empty());
    match value {
        Value::Null => (Data::None, enc.map(str::to_string)),
        Value::String(s) => {
            if format == Format::MsgPack
                && let Some(rest) = enc.and_then(|e| e.strip_suffix("base64"))
                && let Ok(bytes) = B64.decode(s)
            {
                let rest = rest.strip_suffix('/').unwrap_or(rest);
                return (Data::Binary(bytes), Some(rest.to_string()).filter(|r| !r.is_empty()));
            }
            (Data::Text(s.clone()), enc.map(str::to_string))
        }
        other => (Data::Text(other.to_string()), Some(push_encoding(enc, "json"))),
    }
}

fn push_encoding(enc: Option<&str>, step: &str) -> String {
    match enc {
        Some(e) => format!("{e}/{step}"),
        None => step.to_string(),
    }
}

/// Who published a message, as the door knows it.
#[derive(Debug, Clone, Default)]
pub struct Origin<'a> {
    /// The message id (`connectionId:msgSerial:index`, or the client's own).
    pub id: Option<&'a str>,
    /// The publisher's clientId.
    pub client_id: Option<&'a str>,
    /// The publisher's Ably connectionId.
    pub connection_id: Option<&'a str>,
}

/// The publication JSON for `msg`.
pub fn to_publication(msg: &Message, origin: &Origin<'_>) -> Result<String, ErrorInfo> {
    let (data, encoding) = store_data(&msg.data, msg.encoding.as_deref())?;
    let mut m = Map::new();
    m.insert("event".into(), msg.name.clone().map_or(Value::Null, Value::String));
    m.insert("data".into(), data);
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v.to_string()));
        }
    };
    put("encoding", encoding.as_deref());
    put("id", origin.id.or(msg.id.as_deref()));
    put("clientId", origin.client_id);
    put("connectionId", origin.connection_id);
    if let Some(x) = &msg.extras {
        m.insert("extras".into(), x.clone());
    }
    Ok(Value::Object(m).to_string())
}

/// A stored publication read back: a message without the fields the
/// publication itself carries (the door adds id, timestamp and publisher
/// where the envelope has none).
pub fn from_publication(json: &str, format: Format) -> Message {
    let value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
    let envelope = match value {
        Value::Object(m) if m.contains_key("data") && m.get("event").is_some_and(|e| e.is_string() || e.is_null()) => m,
        // Not an envelope (a native publication): the whole publication is the data.
        other => {
            let (data, encoding) = wire_data(&other, None, format);
            return Message { data, encoding, ..Default::default() };
        }
    };
    let text = |k: &str| envelope.get(k).and_then(Value::as_str).map(str::to_string);
    let (data, encoding) = wire_data(&envelope["data"], envelope.get("encoding").and_then(Value::as_str), format);
    Message {
        id: text("id"),
        name: text("event"),
        data,
        encoding,
        client_id: text("clientId"),
        connection_id: text("connectionId"),
        timestamp: None,
        extras: envelope.get("extras").cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(data: Data, encoding: Option<&str>) -> Message {
        Message { name: Some("greeting".into()), data, encoding: encoding.map(str::to_string), ..Default::default() }
    }

    #[test]
    fn json_data_is_stored_as_the_value_native_clients_read() {
        let stored =
            to_publication(&msg(Data::Text(r#"{"text":"hi"}"#.into()), Some("json")), &Origin::default()).unwrap();
        let v: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(v, serde_json::json!({"event": "greeting", "data": {"text": "hi"}}));
        let back = from_publication(&stored, Format::Json);
        assert_eq!((back.data, back.encoding.as_deref()), (Data::Text(r#"{"text":"hi"}"#.into()), Some("json")));
    }

    #[test]
    fn binary_is_base64_for_json_clients_and_bytes_for_msgpack_ones() {
        let origin = Origin { id: Some("c1:0:0"), client_id: Some("ann"), connection_id: Some("c1") };
        let stored = to_publication(&msg(Data::Binary(vec![0, 159, 255]), None), &origin).unwrap();
        let v: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(v["data"], "AJ//");
        assert_eq!(v["encoding"], "base64");
        assert_eq!(v["clientId"], "ann");
        let m = from_publication(&stored, Format::MsgPack);
        assert_eq!((m.data, m.encoding), (Data::Binary(vec![0, 159, 255]), None));
        let j = from_publication(&stored, Format::Json);
        assert_eq!((j.data, j.encoding.as_deref()), (Data::Text("AJ//".into()), Some("base64")));
        assert_eq!((j.id.as_deref(), j.connection_id.as_deref()), (Some("c1:0:0"), Some("c1")));
    }

    #[test]
    fn cipher_encodings_pass_through_and_native_publications_are_data() {
        let enc = "utf-8/cipher+aes-128-cbc";
        let stored = to_publication(&msg(Data::Binary(vec![1, 2]), Some(enc)), &Origin::default()).unwrap();
        let m = from_publication(&stored, Format::MsgPack);
        assert_eq!((m.data, m.encoding.as_deref()), (Data::Binary(vec![1, 2]), Some(enc)));
        let j = from_publication(&stored, Format::Json);
        assert_eq!(j.encoding.as_deref(), Some("utf-8/cipher+aes-128-cbc/base64"));
        let native = from_publication(r#"{"x":1}"#, Format::Json);
        assert_eq!((native.name, native.data), (None, Data::Text(r#"{"x":1}"#.into())));
        let pusher = from_publication(r#"{"event":"news","data":"hello"}"#, Format::Json);
        assert_eq!((pusher.name.as_deref(), pusher.data), (Some("news"), Data::Text("hello".into())));
        assert!(to_publication(&msg(Data::Text("{".into()), Some("json")), &Origin::default()).is_err());
    }
}
