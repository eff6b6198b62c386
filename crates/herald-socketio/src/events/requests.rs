//! Client events as Herald requests, and the ack bodies that answer them.
//!
//! Each request is one event with one object argument and, usually, an ack
//! callback: `socket.emit("subscribe", {channel: "chat:lobby"}, (r) => …)`.
//! The ack gets `{ok: true, …}` or `{ok: false, error: {code, message,
//! temporary}}` with Herald's error codes (`docs/protocol.md`). A request
//! without an ack that fails is reported as event `herald:error`
//! `({event, error})`.
//!
//! | event         | argument                                           | ack on success |
//! |---------------|----------------------------------------------------|----------------|
//! | `subscribe`   | `{channel, since?: {epoch, offset}}`               | `{ok, channel, epoch, offset, recovered?}` |
//! | `unsubscribe` | `{channel}`                                        | `{ok}` |
//! | `publish`     | `{channel, event?, data, idempotency_key?}`        | `{ok, channel, epoch, offset}` |
//! | `presence`    | `{channel}`                                        | `{ok, channel, members}` |
//! | `broadcast`   | `{channel, event, data?}` (ephemeral, not stored)  | `{ok}` |
//! | `typing`      | `{channel}`                                        | `{ok}` |
//!
//! `publish` with `event` stores `{"event": event, "data": data}`, the
//! envelope every door reads as a named event (Pusher clients get event
//! `event`, Socket.IO clients too).

use std::borrow::Cow;

use herald_core::{ChannelName, ErrorBody, ErrorCode, HeraldError, Payload, Position, PresenceMember, Publication};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::outgoing::{HERALD_PREFIX, MAX_EVENT_NAME_LEN, deliverable_name};
use crate::json_str;
use crate::socketio::{MAIN_NAMESPACE, server};

/// A client event as a Herald request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRequest {
    /// Subscribe, optionally recovering from a position.
    Subscribe {
        /// The channel.
        channel: ChannelName,
        /// The last position seen.
        since: Option<Position>,
    },
    /// Unsubscribe.
    Unsubscribe {
        /// The channel.
        channel: ChannelName,
    },
    /// Publish (stored, with an offset).
    Publish {
        /// The channel.
        channel: ChannelName,
        /// What is stored: the data, or the `{event, data}` envelope.
        data: Payload,
        /// Retries with the same key return the first result.
        idempotency_key: Option<String>,
    },
    /// The channel's presence members.
    Presence {
        /// The channel.
        channel: ChannelName,
    },
    /// An ephemeral event to the channel's other subscribers.
    Broadcast {
        /// The channel.
        channel: ChannelName,
        /// The event name they receive.
        event: String,
        /// The data, if any.
        data: Option<Payload>,
    },
    /// The user is typing.
    Typing {
        /// The channel.
        channel: ChannelName,
    },
}

/// Every field a request may carry; one pass, unknown fields refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields<'a> {
    #[serde(borrow)]
    channel: Option<Cow<'a, str>>,
    since: Option<Position>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    idempotency_key: Option<String>,
}

impl Fields<'_> {
    fn channel(&self) -> Result<ChannelName, HeraldError> {
        let name = self.channel.as_deref().ok_or_else(|| HeraldError::bad_request("\"channel\" is required"))?;
        ChannelName::new(name)
    }

    fn only(&self, allowed: &[&str], op: &str) -> Result<(), HeraldError> {
        let present = [
            ("since", self.since.is_some()),
            ("event", self.event.is_some()),
            ("data", self.data.is_some()),
            ("idempotency_key", self.idempotency_key.is_some()),
        ];
        match present.iter().find(|(name, set)| *set && !allowed.contains(name)) {
            Some((name, _)) => Err(HeraldError::bad_request(format!("\"{name}\" is not a field of {op}"))),
            None => Ok(()),
        }
    }
}

/// Check an event name a client chose for others to receive.
fn event_name(name: Option<Cow<'_, str>>) -> Result<String, HeraldError> {
    let name = name.ok_or_else(|| HeraldError::bad_request("\"event\" is required"))?;
    if name.is_empty() || name.len() > MAX_EVENT_NAME_LEN {
        return Err(HeraldError::bad_request(format!("\"event\" must be 1 to {MAX_EVENT_NAME_LEN} characters")));
    }
    if !deliverable_name(&name) {
        return Err(HeraldError::bad_request(format!(
            "\"event\" may not be a Socket.IO reserved name or start with {HERALD_PREFIX:?}"
        )));
    }
    Ok(name.into_owned())
}

/// The stored form of a publish with `event`: `{"event":…,"data":…}`.
pub fn envelope(event: &str, data: &RawValue) -> Result<Payload, HeraldError> {
    let name = serde_json::to_string(event).unwrap_or_default();
    Payload::from_json_text(format!("{{\"event\":{name},\"data\":{}}}", data.get()))
}

/// The refusal of a BINARY_EVENT (arguments with attachments): Herald's
/// publications and events are JSON. The door answers it in the ack
/// without parsing the event.
pub fn binary_refused() -> HeraldError {
    HeraldError::new(
        ErrorCode::BinaryNotSupported,
        "binary arguments are not supported: Herald's publications and events are JSON",
    )
}

/// Parse client event `name` with its arguments (the ack callback is not
/// an argument) from an EVENT packet; a BINARY_EVENT gets
/// [`binary_refused`] instead. Unknown events are refused with
/// `unknown_operation` (104).
pub fn parse_client_event(name: &str, args: &[&RawValue]) -> Result<ClientRequest, HeraldError> {
    const OPS: [&str; 6] = ["subscribe", "unsubscribe", "publish", "presence", "broadcast", "typing"];
    if !OPS.contains(&name) {
        return Err(HeraldError::new(ErrorCode::UnknownOperation, format!("unknown event {name:?}")));
    }
    let [arg] = args else {
        return Err(HeraldError::bad_request(format!("{name} takes one object argument (and an ack callback)")));
    };
    let f: Fields<'_> = serde_json::from_str(arg.get())
        .map_err(|e| HeraldError::bad_request(format!("{name} takes an object of the documented fields: {e}")))?;
    Ok(match name {
        "subscribe" => {
            f.only(&["since"], name)?;
            ClientRequest::Subscribe { channel: f.channel()?, since: f.since }
        }
        "unsubscribe" => {
            f.only(&[], name)?;
            ClientRequest::Unsubscribe { channel: f.channel()? }
        }
        "publish" => {
            f.only(&["event", "data", "idempotency_key"], name)?;
            let channel = f.channel()?;
            let raw = f.data.ok_or_else(|| HeraldError::bad_request("\"data\" is required"))?;
            let data = match f.event {
                Some(_) => envelope(&event_name(f.event)?, raw)?,
                None => Payload::from_raw(raw),
            };
            ClientRequest::Publish { channel, data, idempotency_key: f.idempotency_key }
        }
        "presence" => {
            f.only(&[], name)?;
            ClientRequest::Presence { channel: f.channel()? }
        }
        "broadcast" => {
            f.only(&["event", "data"], name)?;
            let channel = f.channel()?;
            ClientRequest::Broadcast { channel, event: event_name(f.event)?, data: f.data.map(Payload::from_raw) }
        }
        _ => {
            f.only(&[], name)?;
            ClientRequest::Typing { channel: f.channel()? }
        }
    })
}

fn position_fields(out: &mut String, channel: &ChannelName, position: &Position) {
    out.push_str("\"channel\":");
    json_str(out, channel.as_str());
    out.push_str(",\"epoch\":");
    json_str(out, position.epoch.as_str());
    out.push_str(&format!(",\"offset\":{}", position.offset));
}

/// `{"ok":true}`.
pub const OK: &str = r#"{"ok":true}"#;

/// `{"ok":true,"channel","epoch","offset","recovered"?}`: `recovered` when
/// the subscribe asked for it (`since`).
pub fn subscribe_ok(channel: &ChannelName, position: &Position, recovered: Option<bool>) -> String {
    let mut out = String::from("{\"ok\":true,");
    position_fields(&mut out, channel, position);
    if let Some(recovered) = recovered {
        out.push_str(&format!(",\"recovered\":{recovered}"));
    }
    out.push('}');
    out
}

/// `{"ok":true,"channel","epoch","offset"}` for a publication.
pub fn publish_ok(p: &Publication) -> String {
    let mut out = String::from("{\"ok\":true,");
    position_fields(&mut out, &p.channel, &Position { epoch: p.epoch.clone(), offset: p.offset });
    out.push('}');
    out
}

/// `{"ok":true,"channel","members":[…]}` (members as in the native protocol).
pub fn presence_ok(channel: &ChannelName, members: &[PresenceMember]) -> String {
    let mut list = Vec::new();
    herald_protocol::encode::presence_members(&mut list, members);
    let mut out = String::from("{\"ok\":true,\"channel\":");
    json_str(&mut out, channel.as_str());
    out.push(',');
    // `{"members":[…]}` without its opening brace.
    out.push_str(std::str::from_utf8(list.get(1..).unwrap_or_default()).unwrap_or("\"members\":[]}"));
    out
}

/// `{"ok":false,"error":{"code","message","temporary","retry_after_ms"?}}`.
pub fn error_body(err: &HeraldError) -> String {
    let error = serde_json::to_string(&ErrorBody::from(err)).unwrap_or_default();
    format!("{{\"ok\":false,\"error\":{error}}}")
}

/// The ACK packet (`43<id>[body]`) carrying an ack body.
pub fn ack_message(id: u64, body: &str) -> String {
    server::ack(MAIN_NAMESPACE, id, &[body])
}

/// `herald:error` `({event, error})`: a request without an ack failed.
pub fn error_event(event: &str, err: &HeraldError) -> String {
    let mut body = String::from("{\"event\":");
    json_str(&mut body, event);
    body.push_str(",\"error\":");
    body.push_str(&serde_json::to_string(&ErrorBody::from(err)).unwrap_or_default());
    body.push('}');
    server::event(MAIN_NAMESPACE, None, "herald:error", &[&body])
}

/// `herald:subscribed` `({channel, epoch, offset})`, sent just before a
/// subscribe's ack when recovery is on: the door appends the connection's
/// token, so the client's recovery offset includes the new channel.
pub fn subscribed_event(channel: &ChannelName, position: &Position) -> String {
    let mut body = String::from("{");
    position_fields(&mut body, channel, position);
    body.push('}');
    server::event(MAIN_NAMESPACE, None, "herald:subscribed", &[&body])
}

/// `herald:unsubscribed` `({channel})`, sent just before an unsubscribe's
/// ack when recovery is on (with the token appended), so a recovery does
/// not restore the channel.
pub fn unsubscribed_event(channel: &ChannelName) -> String {
    let mut body = String::from("{\"channel\":");
    json_str(&mut body, channel.as_str());
    body.push('}');
    server::event(MAIN_NAMESPACE, None, "herald:unsubscribed", &[&body])
}

#[cfg(test)]
#[path = "requests_tests.rs"]
mod tests;
