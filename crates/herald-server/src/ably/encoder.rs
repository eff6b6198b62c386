//! Hub events as Ably protocol messages: a publication is a MESSAGE (its
//! position is the `channelSerial`), presence joins, leaves and updates are
//! PRESENCE, a subscription the server ended is DETACHED (ably-js
//! re-attaches from its `channelSerial`). One encoder per connection, whose
//! format is shared by every connection of the same wire format, so a
//! fan-out encodes once per format — unless the connection attached a
//! channel under a qualified name (`[?rewind=10]x`), which its frames must
//! use: then its format is its own.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use herald_ably::error::code;
use herald_ably::message::presence_action;
use herald_ably::{Data, ErrorInfo, Format, Message, PresenceMessage, ProtocolMessage, action, envelope};
use herald_core::{ChannelEvent, ChannelName, ClientInfo, Payload, Publication, WireEncoder, WireFormat, now_ms};
use parking_lot::RwLock;

use super::frame;

/// Encodes hub events for one Ably connection.
pub struct AblyEncoder {
    format: Format,
    /// Channels attached under another name than Herald's (a qualifier).
    names: RwLock<HashMap<ChannelName, String>>,
}

impl AblyEncoder {
    /// An encoder for `format`.
    pub fn new(format: Format) -> Self {
        Self { format, names: RwLock::new(HashMap::new()) }
    }

    /// Frames of `channel` name it `client_name` (`None`: Herald's name).
    pub fn set_name(&self, channel: &ChannelName, client_name: Option<&str>) {
        let mut names = self.names.write();
        match client_name.filter(|n| *n != channel.as_str()) {
            Some(n) => names.insert(channel.clone(), n.to_string()),
            None => names.remove(channel),
        };
    }

    /// The name the client knows `channel` by.
    pub fn name<'a>(&self, channel: &'a ChannelName) -> Cow<'a, str> {
        match self.names.read().get(channel) {
            Some(n) => Cow::Owned(n.clone()),
            None => Cow::Borrowed(channel.as_str()),
        }
    }

    /// A publication as a MESSAGE.
    pub fn message(&self, p: &Publication) -> ProtocolMessage {
        let name = self.name(&p.channel);
        message_on(&name, p, self.format)
    }
}

/// The Ably message of a publication (id, timestamp and publisher filled
/// from the publication where the stored envelope has none).
pub fn message_of(p: &Publication, format: Format) -> Message {
    let mut m = envelope::from_publication(p.data.as_str(), format);
    if m.id.is_none() {
        m.id = Some(format!("{}:{}", p.epoch, p.offset));
    }
    m.timestamp = Some(p.time_ms);
    if let Some(publisher) = &p.publisher {
        m.connection_id.get_or_insert_with(|| publisher.client.to_string());
        if m.client_id.is_none() {
            m.client_id = publisher.user.as_deref().map(str::to_string);
        }
    }
    m
}

/// MESSAGE for `p` on the channel the client calls `name`.
pub fn message_on(name: &str, p: &Publication, format: Format) -> ProtocolMessage {
    let m = message_of(p, format);
    ProtocolMessage {
        action: action::MESSAGE,
        channel: Some(name.to_string()),
        channel_serial: Some(herald_ably::channel::serial(p.epoch.as_str(), p.offset)),
        id: m.id.clone(),
        connection_id: m.connection_id.clone(),
        timestamp: Some(p.time_ms),
        messages: Some(vec![m]),
        ..Default::default()
    }
}

/// A presence member's data as Herald stores it: `{"data", "encoding"?,
/// "connectionId"}` in the member's info (and state, after an update), so
/// other doors read `info.data`.
pub fn member_info(data: &Data, encoding: Option<&str>, connection_id: &str) -> Result<Payload, ErrorInfo> {
    let (value, encoding) = envelope::store_data(data, encoding)?;
    let mut m = serde_json::Map::new();
    m.insert("data".into(), value);
    if let Some(e) = encoding {
        m.insert("encoding".into(), e.into());
    }
    m.insert("connectionId".into(), connection_id.into());
    Ok(Payload::from_value(&serde_json::Value::Object(m)))
}

/// Presence ids must grow per member (ably-js keeps the newer of two
/// messages by the `msgSerial` part of `connectionId:msgSerial:index`):
/// a node-wide counter that starts at the time in microseconds.
fn next_presence_serial() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = now_ms().saturating_mul(1000);
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

/// A presence message for `member` (with `state`, its data after an update).
pub fn presence_of(member: &ClientInfo, state: Option<&Payload>, act: u8, format: Format) -> PresenceMessage {
    let info: Option<serde_json::Value> =
        state.or(member.info.as_ref()).and_then(|p| serde_json::from_str(p.as_str()).ok());
    let ably =
        info.as_ref().and_then(|v| v.as_object()).filter(|o| o.contains_key("connectionId") && o.contains_key("data"));
    let (data, encoding, connection_id) = match ably {
        Some(o) => {
            let (d, e) = envelope::wire_data(&o["data"], o.get("encoding").and_then(|e| e.as_str()), format);
            (d, e, o["connectionId"].as_str().unwrap_or(&member.client).to_string())
        }
        // A member from another door: its info is the data.
        None => {
            let (d, e) = info.map_or((Data::None, None), |v| envelope::wire_data(&v, None, format));
            (d, e, member.client.to_string())
        }
    };
    PresenceMessage {
        action: act,
        id: Some(format!("{connection_id}:{}:0", next_presence_serial())),
        client_id: Some(member.member_key().to_string()),
        connection_id: Some(connection_id),
        data,
        encoding,
        timestamp: Some(now_ms()),
        extras: None,
    }
}

impl WireEncoder for AblyEncoder {
    fn encode(&self, event: &ChannelEvent<'_>) -> Bytes {
        let presence = |ch: &ChannelName, pm: PresenceMessage| ProtocolMessage {
            action: action::PRESENCE,
            channel: Some(self.name(ch).into_owned()),
            presence: Some(vec![pm]),
            timestamp: Some(now_ms()),
            ..Default::default()
        };
        let pm = match event {
            ChannelEvent::Publication(p) => self.message(p),
            ChannelEvent::Join(ch, m) => presence(ch, presence_of(m, None, presence_action::ENTER, self.format)),
            ChannelEvent::Leave(ch, m) => presence(ch, presence_of(m, None, presence_action::LEAVE, self.format)),
            ChannelEvent::PresenceUpdate(ch, m) => {
                presence(ch, presence_of(&m.info, m.state.as_ref(), presence_action::UPDATE, self.format))
            }
            ChannelEvent::Unsubscribed(ch, e) => ProtocolMessage {
                error: Some(ErrorInfo::new(code::CONTINUITY_LOST, e.message.clone())),
                ..ProtocolMessage::on_channel(action::DETACHED, &self.name(ch))
            },
            // Herald-only events (typing, read marks, notifications, client events) have no Ably form.
            _ => return Bytes::new(),
        };
        frame(self.format, &pm)
    }

    fn format(&self) -> WireFormat {
        if self.names.read().is_empty() {
            WireFormat::door("ably", self.format as u32)
        } else {
            WireFormat::instance(self)
        }
    }
}
