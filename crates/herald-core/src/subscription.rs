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

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::auth::Rights;
use crate::channel::ChannelName;
use crate::connection::Connection;
use crate::error::{DisconnectReason, ErrorCode, HeraldError};
use crate::outbound::Outgoing;
use crate::position::Epoch;
use crate::publication::Publication;
use crate::row_filter::{ChangeFilterSet, ChangeView};
use crate::wire::{ChannelEvent, ClientInfo, EncodeCache};

/// What a subscription holds back until its subscribe reply is queued.
enum Buffered {
    Publication(Arc<Publication>),
    /// Another event for the channel (presence join/leave, typing, read…),
    /// already encoded for this connection.
    Event(Bytes, Option<MemberChange>),
}

/// A presence join or leave, by member key: checked against the presence
/// snapshot of the subscribe reply when the buffer is flushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MemberChange {
    Joined(Arc<str>),
    Left(Arc<str>),
}

impl MemberChange {
    pub(crate) fn of(event: &ChannelEvent<'_>) -> Option<MemberChange> {
        match event {
            ChannelEvent::Join(_, who) => Some(MemberChange::Joined(who.member_key().clone())),
            ChannelEvent::Leave(_, who) => Some(MemberChange::Left(who.member_key().clone())),
            _ => None,
        }
    }
}

enum State {
    /// Between registration and the subscribe reply: publications and
    /// events wait here, so none reaches the client before the reply.
    Buffering(Vec<Buffered>),
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
    /// Whether this subscription counts in the channel's presence (joined
    /// at activation, or tracked later with `Hub::track_presence`).
    pub(crate) in_presence: std::sync::atomic::AtomicBool,
    state: Mutex<State>,
    buffer_max: usize,
    /// Database change filter: publications that fail it are skipped (their
    /// offsets still count, so skipping is never a gap).
    filter: Option<Arc<ChangeFilterSet>>,
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
        Self {
            channel,
            connection,
            member,
            granted,
            in_presence: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(State::Buffering(Vec::new())),
            buffer_max,
            filter: None,
        }
    }

    /// Only deliver publications that pass `filter` (database change feeds).
    pub(crate) fn with_filter(mut self, filter: Option<Arc<ChangeFilterSet>>) -> Self {
        self.filter = filter;
        self
    }

    /// Deliver a live publication.
    pub(crate) fn deliver(
        &self,
        p: &Arc<Publication>,
        cache: &mut EncodeCache<'_>,
        view: &mut ChangeView<'_>,
    ) -> Delivered {
        let mut st = self.state.lock();
        match &mut *st {
            State::Buffering(buf) => {
                if buf.len() >= self.buffer_max {
                    *st = State::Ended;
                    drop(st);
                    self.connection.outbound.close(DisconnectReason::SlowConsumer, false);
                    return Delivered::ConnectionClosed;
                }
                buf.push(Buffered::Publication(p.clone()));
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
                if !self.connection.wants(p) || !view.passes(self.filter.as_ref()) {
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
    /// publications after `last` and the buffered events, in order. Returns
    /// false if a gap was found (the client was told to resubscribe).
    ///
    /// `members`: the member keys of the presence snapshot the reply carried,
    /// if it carried one. A buffered join of someone the snapshot already
    /// lists, or a leave of someone it does not, is not news: it is dropped,
    /// so the client sees each change once.
    pub(crate) fn go_live(&self, epoch: Epoch, mut last: u64, members: Option<HashSet<Arc<str>>>) -> bool {
        let mut members = members;
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
        for item in buffered {
            let p = match item {
                Buffered::Publication(p) => p,
                Buffered::Event(frame, change) => {
                    if let (Some(members), Some(change)) = (members.as_mut(), change) {
                        let news = match change {
                            MemberChange::Joined(key) => members.insert(key),
                            MemberChange::Left(key) => members.remove(&key),
                        };
                        if !news {
                            continue;
                        }
                    }
                    if self.connection.outbound.push_frame(frame).is_err() {
                        return true;
                    }
                    continue;
                }
            };
            if p.epoch != epoch || p.offset > last + 1 {
                drop(st);
                self.tell_gap();
                return false;
            }
            if p.offset <= last {
                continue;
            }
            last = p.offset;
            if !self.connection.wants(&p) || !ChangeView::new(&p.data).passes(self.filter.as_ref()) {
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

    /// Send a channel event other than a publication (`frame`, encoded for
    /// this connection): queued now when live, after the subscribe reply
    /// while buffering, dropped once ended.
    pub(crate) fn send_event(&self, frame: Bytes, change: Option<MemberChange>) {
        let mut st = self.state.lock();
        match &mut *st {
            State::Buffering(buf) => {
                if buf.len() >= self.buffer_max {
                    *st = State::Ended;
                    drop(st);
                    self.connection.outbound.close(DisconnectReason::SlowConsumer, false);
                    return;
                }
                buf.push(Buffered::Event(frame, change));
            }
            State::Live { .. } => {
                let _ = self.connection.outbound.push_frame(frame);
            }
            State::Lost | State::Ended => {}
        }
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::connection::ConnectionInit;
    use crate::outbound::QueueLimits;
    use crate::{EmbeddedBroker, EmbeddedBrokerOptions, Hub, HubConfig, Identity, MemoryStore, Namespaces};

    struct TextEncoder;

    impl crate::wire::WireEncoder for TextEncoder {
        fn encode(&self, ev: &ChannelEvent<'_>) -> Bytes {
            match ev {
                ChannelEvent::Publication(p) => Bytes::from(format!("pub {}", p.offset)),
                _ => Bytes::from_static(b"other"),
            }
        }
    }

    fn connection() -> (Arc<Hub>, Arc<Connection>) {
        let broker = EmbeddedBroker::new(Arc::new(MemoryStore::new()), EmbeddedBrokerOptions::default());
        let hub = Hub::new(HubConfig::default(), Namespaces::new(Default::default(), HashMap::new(), false), broker);
        let init = ConnectionInit {
            identity: Identity::anonymous(),
            encoder: Arc::new(TextEncoder),
            queue: QueueLimits::default(),
        };
        let conn = hub.connect(init).unwrap();
        (hub, conn)
    }

    fn frames(conn: &Connection) -> Vec<String> {
        let mut batch: Vec<Outgoing> = Vec::new();
        conn.outbound.drain_now(&mut batch);
        batch.iter().map(|o| String::from_utf8_lossy(&o.frame).to_string()).collect()
    }

    fn event(text: &'static str) -> Bytes {
        Bytes::from_static(text.as_bytes())
    }

    #[tokio::test]
    async fn events_wait_for_the_reply_and_presence_changes_the_snapshot_shows_are_dropped() {
        let (_hub, conn) = connection();
        let sub = Subscription::buffering(ChannelName::new("room:1").unwrap(), conn.clone(), None, 100);
        let key = |s: &str| -> Arc<str> { Arc::from(s) };
        sub.send_event(event("join carol"), Some(MemberChange::Joined(key("carol")))); // already in the snapshot
        sub.send_event(event("join dave"), Some(MemberChange::Joined(key("dave"))));
        sub.send_event(event("leave erin"), Some(MemberChange::Left(key("erin")))); // never in it
        sub.send_event(event("leave carol"), Some(MemberChange::Left(key("carol"))));
        sub.send_event(event("join carol"), Some(MemberChange::Joined(key("carol")))); // back again: news
        sub.send_event(event("typing dave"), None);
        assert!(frames(&conn).is_empty(), "nothing may precede the subscribe reply");

        let snapshot = HashSet::from([key("carol")]);
        assert!(sub.go_live(Epoch::from_string("e"), 0, Some(snapshot)));
        assert_eq!(frames(&conn), ["join dave", "leave carol", "join carol", "typing dave"]);
        // Live: events go straight out.
        sub.send_event(event("leave dave"), Some(MemberChange::Left(key("dave"))));
        assert_eq!(frames(&conn), ["leave dave"]);
    }

    #[tokio::test]
    async fn without_a_snapshot_every_buffered_event_is_delivered_in_order_with_publications() {
        let (_hub, conn) = connection();
        let sub = Subscription::buffering(ChannelName::new("room:1").unwrap(), conn.clone(), None, 100);
        let p = |offset: u64| {
            Arc::new(Publication {
                channel: ChannelName::new("room:1").unwrap(),
                epoch: Epoch::from_string("e"),
                offset,
                data: crate::publication::Payload::from_json_text("1").unwrap(),
                time_ms: 0,
                publisher: None,
                idempotency_key: None,
            })
        };
        let (p1, p2) = (p(1), p(2));
        sub.deliver(&p1, &mut EncodeCache::new(ChannelEvent::Publication(&p1)), &mut ChangeView::new(&p1.data));
        sub.send_event(event("join x"), Some(MemberChange::Joined(Arc::from("x"))));
        sub.deliver(&p2, &mut EncodeCache::new(ChannelEvent::Publication(&p2)), &mut ChangeView::new(&p2.data));
        assert!(frames(&conn).is_empty());
        assert!(sub.go_live(Epoch::from_string("e"), 0, None));
        assert_eq!(frames(&conn), ["pub 1", "join x", "pub 2"]);
    }
}
