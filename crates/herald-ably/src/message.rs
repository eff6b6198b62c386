//! Messages and presence messages, and their `data`: a string, bytes
//! (MessagePack `bin`; base64 text with `encoding: "base64"` in JSON) or,
//! from clients that do not encode it, any JSON value.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A message's `data`.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Data {
    /// None.
    #[default]
    None,
    /// A string (its `encoding` says what it holds: JSON, base64…).
    Text(String),
    /// Bytes (MessagePack only).
    Binary(Vec<u8>),
    /// A JSON value other than a string (a client that sent it unencoded).
    Json(serde_json::Value),
}

impl Data {
    /// Whether there is no data.
    pub fn is_none(&self) -> bool {
        matches!(self, Data::None)
    }

    /// Its size as Ably counts it (bytes of the string or binary, JSON text otherwise).
    pub fn size(&self) -> usize {
        match self {
            Data::None => 0,
            Data::Text(s) => s.len(),
            Data::Binary(b) => b.len(),
            Data::Json(v) => v.to_string().len(),
        }
    }
}

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Data::None => s.serialize_none(),
            Data::Text(t) => s.serialize_str(t),
            Data::Binary(b) => s.serialize_bytes(b),
            Data::Json(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DataVisitor)
    }
}

struct DataVisitor;

impl<'de> Visitor<'de> for DataVisitor {
    type Value = Data;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("message data: a string, bytes or JSON")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Data, E> {
        Ok(Data::None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Data, E> {
        Ok(Data::None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Data, D::Error> {
        d.deserialize_any(DataVisitor)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Data, E> {
        Ok(Data::Text(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Data, E> {
        Ok(Data::Text(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Data, E> {
        Ok(Data::Binary(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Data, E> {
        Ok(Data::Binary(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Data, E> {
        Ok(Data::Json(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Data, E> {
        Ok(Data::Json(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Data, E> {
        Ok(Data::Json(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Data, E> {
        Ok(Data::Json(v.into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Data, A::Error> {
        let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Data::Json(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Data, A::Error> {
        let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Data::Json(v))
    }
}

/// A message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Unique id (`connectionId:msgSerial:index` for realtime publishes;
    /// chosen by the client for idempotent REST publishes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The event name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The payload.
    #[serde(default, skip_serializing_if = "Data::is_none")]
    pub data: Data,
    /// How `data` is encoded (`json`, `utf-8`, `base64`, `cipher+…`, joined by `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Who published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The publisher's connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// When the server received it, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// Metadata (headers, push…), passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<serde_json::Value>,
}

/// Presence actions.
pub mod presence_action {
    /// Not present (never sent).
    pub const ABSENT: u8 = 0;
    /// Present (SYNC, `presence.get()`).
    pub const PRESENT: u8 = 1;
    /// Entered.
    pub const ENTER: u8 = 2;
    /// Left.
    pub const LEAVE: u8 = 3;
    /// Changed its data.
    pub const UPDATE: u8 = 4;
}

/// A presence message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceMessage {
    /// [`presence_action`].
    #[serde(default)]
    pub action: u8,
    /// `connectionId:msgSerial:index`: ably-js orders a member's changes by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The member's connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// The member's data.
    #[serde(default, skip_serializing_if = "Data::is_none")]
    pub data: Data,
    /// How `data` is encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// When, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// Metadata, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<serde_json::Value>,
}
