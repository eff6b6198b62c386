//! Hub events as Socket.IO events (server → client), each a complete
//! Engine.IO message text (`42[…]`) encoded once per fan-out.
//!
//! - A publication whose data is `{"event": E, "data": D}` (the envelope
//!   the Pusher door stores; extra keys are ignored, as there) arrives as
//!   event `E` with `(D, meta)`; any other data as event `message` with
//!   `(data, meta)`. `meta` is `{channel, epoch, offset, time, publisher?}`.
//!   With connection state recovery the door appends the connection's
//!   token (`recovery::with_token`) as the last argument.
//! - An ephemeral client event named `E` arrives as `E` with
//!   `(data, {channel, from, ephemeral: true})`.
//! - Everything else is Herald's own: `herald:<push>` with one argument,
//!   the native protocol's push object without its `push` field
//!   (`docs/protocol.md`): `herald:join`, `herald:leave`,
//!   `herald:presence_update`, `herald:typing`, `herald:read`,
//!   `herald:notification`, `herald:unread`, `herald:unsubscribed`.
//!
//! A name the client would choke on (Socket.IO's reserved names) or that
//! could pass for Herald's (`herald:` prefix) is never used for `E`: such a
//! publication arrives as `message` with its whole data, such a client
//! event as `herald:event`. No event but a publication or
//! `herald:unsubscribed` ends with a string argument, so none of them moves
//! the client's recovery offset.

use std::borrow::Cow;

use bytes::Bytes;
use herald_core::{ChannelEvent, ClientInfo, Publication, WireEncoder, WireFormat};

use crate::json_str;
use crate::socketio::{MAIN_NAMESPACE, RESERVED_EVENTS, server};

/// The event of publications without an `{event, data}` envelope.
pub const MESSAGE_EVENT: &str = "message";

/// The prefix of Herald's own events.
pub const HERALD_PREFIX: &str = "herald:";

/// Longest event name a client may publish or send.
pub const MAX_EVENT_NAME_LEN: usize = 64;

/// Whether `name` may be delivered as an event name of its own.
pub fn deliverable_name(name: &str) -> bool {
    !name.is_empty() && !RESERVED_EVENTS.contains(&name) && !name.starts_with(HERALD_PREFIX)
}

/// The event name and first argument (JSON) of a publication's data.
pub fn unwrap_publication(data: &str) -> (Cow<'_, str>, &str) {
    match herald_core::split_event_envelope(data) {
        Some((event, args)) if deliverable_name(&event) => (event, args),
        _ => (Cow::Borrowed(MESSAGE_EVENT), data),
    }
}

/// `{"channel","epoch","offset","time","publisher"?}`.
pub fn publication_meta(p: &Publication) -> String {
    let mut meta = String::from("{\"channel\":");
    json_str(&mut meta, p.channel.as_str());
    meta.push_str(",\"epoch\":");
    json_str(&mut meta, p.epoch.as_str());
    meta.push_str(&format!(",\"offset\":{},\"time\":{}", p.offset, p.time_ms));
    if let Some(publisher) = &p.publisher {
        meta.push_str(",\"publisher\":{\"client\":");
        json_str(&mut meta, &publisher.client);
        if let Some(user) = &publisher.user {
            meta.push_str(",\"user\":");
            json_str(&mut meta, user);
        }
        meta.push('}');
    }
    meta.push('}');
    meta
}

/// The event for a publication: `42["E",D,meta]` or `42["message",data,meta]`.
pub fn publication_event(p: &Publication) -> String {
    let (name, data) = unwrap_publication(p.data.as_str());
    server::event(MAIN_NAMESPACE, None, &name, &[data, &publication_meta(p)])
}

fn client_info(info: &ClientInfo) -> String {
    let mut out = String::from("{\"client\":");
    json_str(&mut out, &info.client);
    if let Some(user) = &info.user {
        out.push_str(",\"user\":");
        json_str(&mut out, user);
    }
    if let Some(extra) = &info.info {
        out.push_str(",\"info\":");
        out.push_str(extra.as_str());
    }
    out.push('}');
    out
}

/// A native push object without its `push` field, and the push's name.
fn native_push(event: &ChannelEvent<'_>) -> Option<(String, String)> {
    let push = herald_protocol::encode::event(event);
    let text = String::from_utf8(push).ok()?;
    let rest = text.strip_prefix("{\"push\":\"")?;
    let (name, fields) = rest.split_once('"')?;
    let body = match fields.strip_prefix(',') {
        Some(fields) => format!("{{{fields}"),
        None => "{}".to_string(),
    };
    Some((format!("{HERALD_PREFIX}{name}"), body))
}

/// The Socket.IO event for a hub event (see the module docs).
pub fn encode_event(event: &ChannelEvent<'_>) -> String {
    match event {
        ChannelEvent::Publication(p) => publication_event(p),
        ChannelEvent::Client { channel, event: name, data, from } if deliverable_name(name) => {
            let mut meta = String::from("{\"channel\":");
            json_str(&mut meta, channel.as_str());
            meta.push_str(",\"from\":");
            meta.push_str(&client_info(from));
            meta.push_str(",\"ephemeral\":true}");
            server::event(MAIN_NAMESPACE, None, name, &[data.as_str(), &meta])
        }
        other => match native_push(other) {
            Some((name, body)) => server::event(MAIN_NAMESPACE, None, &name, &[&body]),
            None => server::event(MAIN_NAMESPACE, None, "herald:unknown", &[]),
        },
    }
}

/// The hub's encoder for Socket.IO connections: each event once per
/// fan-out, as Engine.IO message text. The door's writer frames it for
/// its transport and, with recovery on, appends the connection's token
/// (`RecoveryVector::stamp`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SocketIoEncoder;

impl WireEncoder for SocketIoEncoder {
    fn encode(&self, event: &ChannelEvent<'_>) -> Bytes {
        Bytes::from(encode_event(event))
    }

    fn format(&self) -> WireFormat {
        WireFormat::door("socketio", 0)
    }
}

#[cfg(test)]
#[path = "outgoing_tests.rs"]
mod tests;
