//! `Subscription`: one connection's subscription to one channel, and the
//! buffer-then-merge step that makes recovery lossless.
//!
//! A subscription starts *buffering*: it is registered with the channel, so
//! every live publication from then on is kept, before history is read. When
//! the door has sent the subscribe reply (with any recovered publications),
//! [`Subscription::go_live`] sends the buffered publications newer than the
//! reply's position, in order, and from then on publications go straight to
//! the connection's queue. Offsets are checked on the way: a duplicate is
//! dropped; a gap ends the subscription with a temporary error so the client
//! resubscribes and recovers, instead of silently missing a message.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::auth::Rights;
use crate::channel::ChannelName;
use crate::connection::Connection;
use crate::error::{DisconnectReason, ErrorCode, HeraldError};
use crate::outbound::Outgoing;
use crate::position::Epoch;
use crate::publication::Publication;
use crate::wire::{ChannelEvent, ClientInfo, EncodeCache};

enum State {
    Buffering(Vec<Arc<Publication>>),
    Live {
        epoch: Epoch,
        last: u64,
    },
    /// Interrupted while buffering: fails at `go_live`.
    Lost,
    Ended,
}

/// What a delivery did.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Queued or buffered (or skipped as a duplicate).
    Ok,
    /// The subscription saw a gap and must be ended; the client was told.
    Gap,
    /// The connection is gone or was cut as a slow consumer.
    ConnectionClosed,
}

/// One connection's subscription to one channel.
pub struct Subscription {
    /// The channel.
    pub channel: ChannelName,
    /// The subscribed connection.
    pub connection: Arc<Connection>,
    /// Who the subscription is in presence: the connection's identity, or
    /// the member named by its [`SubscriptionGrant`](crate::SubscriptionGrant).
    pub member: ClientInfo,
    /// Rights on this channel from the subscription's own grant, if any.
    pub granted: Rights,
    state: Mutex<State>,
    buffer_max: usize,
}

impl Subscription {
    pub(crate) fn buffering(
        channel: ChannelName,
        connection: Arc<Connection>,
        grant: Option<&crate::auth::SubscriptionGrant>,
        buffer_max: usize,
    ) -> Self {
        let mut member = connection.client_info().clone();
        let mut granted = Rights::NONE;
        if let Some(g) = grant {
            granted = g.rights;
            if g.user.is_some() {
                member.user = g.user.clone();
                member.info = g.info.clone();
            }
        }
        Self { channel, connection, member, granted, state: Mutex::new(State::Buffering(Vec::new())), buffer_max }
    }

    /// Deliver a live publication.
    pub(crate) fn deliver(&self, p: &Arc<Publication>, cache: &mut EncodeCache<'_>) -> Delivered {
        let mut st = self.state.lock();
        match &mut *st {
            State::Buffering(buf) => {
                if buf.len() >= self.buffer_max {
                    *st = State::Ended;
                    drop(st);
                    self.connection.outbound.close(DisconnectReason::SlowConsumer, false);
                    return Delivered::ConnectionClosed;
                }
                buf.push(p.clone());
                Delivered::Ok
            }
            State::Live { epoch, last } => {
                if *epoch == p.epoch && p.offset <= *last {
                    return Delivered::Ok;
                }
                if *epoch != p.epoch || p.offset != *last + 1 {
                    *st = State::Ended;
                    drop(st);
                    self.tell_gap();
                    return Delivered::Gap;
                }
                *last = p.offset;
                if !self.connection.wants(p) {
                    return Delivered::Ok;
                }
                let frame = cache.frame(&self.connection.encoder);
                match self.connection.outbound.push(Outgoing { frame, publication: Some(p.clone()) }) {
                    Ok(()) => Delivered::Ok,
                    Err(_) => {
                        *st = State::Ended;
                        Delivered::ConnectionClosed
                    }
                }
            }
            State::Lost | State::Ended => Delivered::Ok,
        }
    }

    /// Switch from buffering to live at `(epoch, last)`: queue buffered
    /// publications after `last`, in order. Returns false if a gap was found
    /// (the client was told to resubscribe).
    pub(crate) fn go_live(&self, epoch: Epoch, mut last: u64) -> bool {
        let mut st = self.state.lock();
        let buffered = match std::mem::replace(&mut *st, State::Ended) {
            State::Buffering(buf) => buf,
            State::Lost => {
                drop(st);
                self.tell_gap();
                return false;
            }
            other => {
                *st = other;
                return true;
            }
        };
        for p in buffered {
            if p.epoch != epoch || p.offset > last + 1 {
                drop(st);
                self.tell_gap();
                return false;
            }
            if p.offset <= last {
                continue;
            }
            last = p.offset;
            if !self.connection.wants(&p) {
                continue;
            }
            let frame = self.connection.encoder.encode(&ChannelEvent::Publication(&p));
            if self.connection.outbound.push(Outgoing { frame, publication: Some(p) }).is_err() {
                return true;
            }
        }
        *st = State::Live { epoch, last };
        true
    }

    /// Stop delivering.
    pub(crate) fn end(&self) {
        *self.state.lock() = State::Ended;
    }

    /// The stream can no longer be continuous (a broker lost its upstream).
    /// A live subscription ends and the client is told to resubscribe
    /// (returns true: remove it now); a buffering one is told right after
    /// its subscribe reply, when [`Subscription::go_live`] fails.
    pub(crate) fn interrupt(&self) -> bool {
        let mut st = self.state.lock();
        match &*st {
            State::Buffering(_) => {
                *st = State::Lost;
                false
            }
            State::Live { .. } => {
                *st = State::Ended;
                drop(st);
                self.tell_gap();
                true
            }
            State::Lost | State::Ended => false,
        }
    }

    fn tell_gap(&self) {
        let err = HeraldError::new(ErrorCode::Unavailable, "the channel's stream had a gap; resubscribe to recover");
        let frame = self.connection.encoder.encode(&ChannelEvent::Unsubscribed(&self.channel, &err));
        let _ = self.connection.outbound.push_frame(frame);
    }
}
