//! What a door supplies so the hub can encode channel events once per wire
//! format (door × variant, e.g. protocol × compression) instead of once per
//! subscriber: a [`WireEncoder`] that names its [`WireFormat`].

use std::sync::Arc;

use bytes::Bytes;

use crate::channel::ChannelName;
use crate::error::HeraldError;
use crate::presence::PresenceMember;
use crate::publication::{Payload, Publication};
use crate::store::Notification;

/// A presence member: one connection of a (possibly anonymous) user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Connection id.
    pub client: Arc<str>,
    /// User id, if authenticated.
    pub user: Option<Arc<str>>,
    /// Public profile from the token, if any.
    pub info: Option<Payload>,
}

impl ClientInfo {
    /// The presence key: the user id, or the connection id for anonymous clients.
    pub fn member_key(&self) -> &Arc<str> {
        self.user.as_ref().unwrap_or(&self.client)
    }
}

/// Something the hub sends to every subscriber of a channel.
#[derive(Debug, Clone, Copy)]
pub enum ChannelEvent<'a> {
    /// A publication.
    Publication(&'a Publication),
    /// A member joined the channel's presence.
    Join(&'a ChannelName, &'a ClientInfo),
    /// A member left the channel's presence.
    Leave(&'a ChannelName, &'a ClientInfo),
    /// The server ended this subscription (the client should resubscribe if
    /// the error is temporary).
    Unsubscribed(&'a ChannelName, &'a HeraldError),
    /// An ephemeral client event (typing…), with the sender as the server knows it.
    Client {
        /// The channel.
        channel: &'a ChannelName,
        /// The event name.
        event: &'a str,
        /// The event data.
        data: &'a Payload,
        /// Who sent it (trustworthy: set by the server).
        from: &'a ClientInfo,
    },
    /// A presence member changed its state.
    PresenceUpdate(&'a ChannelName, &'a PresenceMember),
    /// A user started (`typing: true`) or stopped typing.
    Typing {
        /// The channel.
        channel: &'a ChannelName,
        /// The user id (connection id for anonymous clients).
        user: &'a str,
        /// Whether the user is typing.
        typing: bool,
    },
    /// A user's read position moved.
    Read {
        /// The channel.
        channel: &'a ChannelName,
        /// The user id.
        user: &'a str,
        /// The last offset the user has read.
        offset: u64,
    },
    /// A new notification for the connection's user (not a channel event:
    /// sent to each of the user's connections), with their unread count.
    Notification(&'a Notification, u64),
    /// The user's unread notification count changed.
    Unread(u64),
}

/// What a frame's bytes depend on besides the event: two encoders with equal
/// formats produce interchangeable frames for every event, so a fan-out
/// encodes once per distinct format, however many connections (or encoder
/// instances) share it. A small `Copy` key, compared on every delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// Frames depend only on the door and a variant of its wire format
    /// (e.g. permessage-deflate on or off): every encoder of that door and
    /// variant may serve them.
    Door {
        /// The door (`"native"`, `"sse"`, `"yjs"`…).
        door: &'static str,
        /// The door's variant (its own numbering).
        variant: u32,
    },
    /// Frames depend on this one encoder instance's own state (e.g. the
    /// namespace of a Pusher app): shared only by the connections that
    /// share the instance.
    Instance(usize),
}

impl WireFormat {
    /// The format of `door`'s `variant`.
    pub const fn door(door: &'static str, variant: u32) -> Self {
        WireFormat::Door { door, variant }
    }

    /// The format private to the instance at `x` (its address: unique while it lives).
    pub fn instance<T: ?Sized>(x: &T) -> Self {
        WireFormat::Instance(x as *const T as *const () as usize)
    }
}

/// Encodes channel events into frames of one wire variant.
pub trait WireEncoder: Send + Sync {
    /// The complete frame for `event`.
    fn encode(&self, event: &ChannelEvent<'_>) -> Bytes;

    /// The format of this encoder's frames: encoders with equal formats are
    /// interchangeable, so a fan-out encodes once per format. By default
    /// private to this instance; a door that creates an encoder per
    /// connection must name a shared format, or every event costs one
    /// encoding per connection.
    fn format(&self) -> WireFormat {
        WireFormat::instance(self)
    }
}

/// Caches one event's frame per wire format during a fan-out, so each
/// format is encoded once however many subscribers (and encoder instances)
/// use it. A fan-out meets a few formats, so a short list scanned by key is
/// the cheapest lookup.
pub struct EncodeCache<'a> {
    event: ChannelEvent<'a>,
    frames: Vec<(WireFormat, Bytes)>,
}

impl<'a> EncodeCache<'a> {
    /// A cache for `event`.
    pub fn new(event: ChannelEvent<'a>) -> Self {
        Self { event, frames: Vec::with_capacity(2) }
    }

    /// The frame for `encoder`'s format, encoding it on first use.
    pub fn frame(&mut self, encoder: &Arc<dyn WireEncoder>) -> Bytes {
        let format = encoder.format();
        if let Some((_, f)) = self.frames.iter().find(|(k, _)| *k == format) {
            return f.clone();
        }
        let f = encoder.encode(&self.event);
        self.frames.push((format, f.clone()));
        f
    }
}
