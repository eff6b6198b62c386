//! What a door supplies so the hub can encode channel events once per wire
//! variant (protocol × compression) instead of once per subscriber.

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

/// Encodes channel events into frames of one wire variant.
pub trait WireEncoder: Send + Sync {
    /// The complete frame for `event`.
    fn encode(&self, event: &ChannelEvent<'_>) -> Bytes;
}

/// Caches one event's frame per encoder during a fan-out, so each wire
/// variant is encoded once however many subscribers use it.
pub struct EncodeCache<'a> {
    event: ChannelEvent<'a>,
    frames: Vec<(usize, Bytes)>,
}

impl<'a> EncodeCache<'a> {
    /// A cache for `event`.
    pub fn new(event: ChannelEvent<'a>) -> Self {
        Self { event, frames: Vec::with_capacity(2) }
    }

    /// The frame for `encoder`, encoding it on first use.
    pub fn frame(&mut self, encoder: &Arc<dyn WireEncoder>) -> Bytes {
        let key = Arc::as_ptr(encoder) as *const () as usize;
        if let Some((_, f)) = self.frames.iter().find(|(k, _)| *k == key) {
            return f.clone();
        }
        let f = encoder.encode(&self.event);
        self.frames.push((key, f.clone()));
        f
    }
}
