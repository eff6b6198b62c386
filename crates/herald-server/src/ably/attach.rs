//! ATTACH and DETACH. An attach subscribes through the hub (which decides
//! the rights) and answers ATTACHED with the channel's position as
//! `channelSerial` and the modes the connection's rights allow; then, in
//! this order, the backlog (the missed messages of a re-attach from a
//! `channelSerial` — flagged RESUMED only when it is complete — or the
//! `rewind`), the presence SYNC, and only then live messages (the hub
//! buffers them meanwhile, so none is lost or repeated).

use std::sync::Arc;

use herald_ably::channel::{self, Rewind};
use herald_ably::error::code;
use herald_ably::message::presence_action;
use herald_ably::{ErrorInfo, ProtocolMessage, action, flags};
use herald_core::{
    Caller, ChannelName, Direction, Epoch, HistoryQuery, Position, Publication, Rights, SubscriptionGrant, now_ms,
};

use super::encoder::presence_of;
use super::session::Session;

/// The cursor of a complete SYNC (`syncId:` with an empty cursor).
const SYNC_DONE: &str = "herald:";

impl Session<'_> {
    /// The Herald channel of a name the client uses (qualifier removed).
    pub(super) fn herald_channel(&self, name: &str) -> Result<ChannelName, ErrorInfo> {
        let (plain, _) = channel::split_qualifier(name)?;
        ChannelName::new(plain).map_err(|e| ErrorInfo::new(code::INVALID_CHANNEL_NAME, e.message))
    }

    /// The modes the connection's rights allow on `ch`, and the refusal
    /// of the subscribe right when it lacks it.
    fn modes(&self, ch: &ChannelName) -> (u64, Option<ErrorInfo>) {
        let identity = self.conn.identity();
        let check = |r| self.app.hub.authorize(&identity, ch, r).map_err(|e| super::error_info(&e));
        let mut modes = 0;
        let subscribe = check(Rights::SUBSCRIBE);
        if subscribe.is_ok() {
            modes |= flags::SUBSCRIBE;
        }
        if check(Rights::PUBLISH).is_ok() {
            modes |= flags::PUBLISH;
        }
        // Herald's presence right is both entering and reading the member list.
        if check(Rights::PRESENCE).is_ok() {
            modes |= flags::PRESENCE;
            if modes & flags::SUBSCRIBE != 0 {
                modes |= flags::PRESENCE_SUBSCRIBE;
            }
        }
        (modes, subscribe.err())
    }

    pub(super) async fn attach(&mut self, pm: ProtocolMessage) {
        let Some(name) = pm.channel.clone() else { return };
        let ch = match self.herald_channel(&name) {
            Ok(c) => c,
            Err(e) => return self.channel_error(&name, e),
        };
        let mut params = channel::split_qualifier(&name).map(|(_, p)| p).unwrap_or_default();
        params.extend(pm.params.clone().unwrap_or_default());
        // A re-attach (after the server detached it, or new params): start over
        // from its serial. The channel is attached under one name at a time: a
        // second name for it (`[?rewind=1]x` after `x`) takes its place.
        self.attached.retain(|_, c| c != &ch);
        if self.conn.is_subscribed(&ch) {
            let _ = self.app.hub.unsubscribe(self.conn, &ch);
        }
        let (granted, refused) = self.modes(&ch);
        let requested = match pm.flags.unwrap_or(0) & flags::MODES {
            0 => flags::MODES,
            m => m,
        };
        let modes = granted & requested;
        if modes == 0 {
            let e = refused.unwrap_or_else(|| ErrorInfo::new(code::CAPABILITY_REFUSED, format!("no rights on {ch}")));
            return self.channel_error(&name, ErrorInfo::new(code::CAPABILITY_REFUSED, e.message));
        }
        if modes & flags::SUBSCRIBE == 0 {
            // Publish or presence only: attached without receiving.
            self.attached.insert(name.clone(), ch);
            let reply = ProtocolMessage { flags: Some(modes), ..ProtocolMessage::on_channel(action::ATTACHED, &name) };
            return self.push(&reply);
        }
        let since = pm
            .channel_serial
            .as_deref()
            .and_then(channel::parse_serial)
            .map(|(epoch, offset)| Position { epoch: Epoch::from_string(epoch), offset });
        let rewind = match params.get("rewind").filter(|_| since.is_none()).map(|r| Rewind::parse(r)) {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => return self.channel_error(&name, e),
            None => None,
        };
        self.encoder.set_name(&ch, Some(&name));
        // Attaching is not entering presence (that is PRESENCE enter): a
        // grant naming a member without the presence right keeps the hub
        // from joining it, and lets clients without a clientId receive a
        // presence channel, as Ably does. The hub checked the subscribe right above.
        let member = self.conn.user().cloned().unwrap_or_else(|| self.conn.id().clone());
        let grant = SubscriptionGrant { rights: Rights::SUBSCRIBE, user: Some(member), info: None };
        let subscribed = self.app.hub.subscribe_granted(self.conn, ch.clone(), since.clone(), Some(grant)).await;
        let pending = match subscribed {
            Ok(p) => p,
            Err(e) => {
                self.encoder.set_name(&ch, None);
                return self.channel_error(&name, super::error_info(&e));
            }
        };
        let mut reply_flags = modes;
        let mut error = None;
        let backlog = match (&pending.recovery, rewind) {
            (Some(r), _) if r.recovered => {
                reply_flags |= flags::RESUMED;
                r.publications.clone()
            }
            (Some(_), _) => {
                error =
                    Some(ErrorInfo::new(code::CONTINUITY_LOST, "the channel's messages since channelSerial are gone"));
                Vec::new()
            }
            (None, Some(r)) => self.rewind(&ch, &pending.top, r).await,
            (None, None) => Vec::new(),
        };
        if rewind.is_some() && !backlog.is_empty() {
            reply_flags |= flags::HAS_BACKLOG;
        }
        let members = pending.presence_snapshot.clone().unwrap_or_default();
        if !members.is_empty() {
            reply_flags |= flags::HAS_PRESENCE;
        }
        self.push(&ProtocolMessage {
            channel_serial: Some(channel::serial(pending.top.epoch.as_str(), pending.top.offset)),
            flags: Some(reply_flags),
            params: (!params.is_empty()).then_some(params),
            error,
            ..ProtocolMessage::on_channel(action::ATTACHED, &name)
        });
        for p in backlog.iter().filter(|p| self.conn.wants(p)) {
            self.push(&self.encoder.message(p));
        }
        if !members.is_empty() {
            let present = members
                .iter()
                .map(|m| presence_of(&m.info, m.state.as_ref(), presence_action::PRESENT, self.format))
                .collect();
            self.push(&ProtocolMessage {
                channel_serial: Some(SYNC_DONE.to_string()),
                presence: Some(present),
                ..ProtocolMessage::on_channel(action::SYNC, &name)
            });
        }
        pending.activate();
        self.attached.insert(name, ch);
    }

    /// The publications a rewind replays, oldest first, none after `top`
    /// (those come live).
    async fn rewind(&self, ch: &ChannelName, top: &Position, rewind: Rewind) -> Vec<Arc<Publication>> {
        let max = self.app.config.ably.rewind_max;
        let q = match rewind {
            Rewind::Count(0) => return Vec::new(),
            Rewind::Count(n) => {
                let n = n.min(max);
                HistoryQuery {
                    since: Some(top.offset.saturating_sub(n as u64)),
                    before: None,
                    limit: n,
                    direction: Direction::Forward,
                }
            }
            Rewind::Millis(_) => {
                HistoryQuery { since: None, before: Some(top.offset + 1), limit: max, direction: Direction::Backward }
            }
        };
        // Part of the subscribe the hub just authorized, as recovery is.
        let Ok(page) = self.app.hub.history(Caller::Server, ch, q).await else { return Vec::new() };
        let mut pubs: Vec<_> =
            page.publications.into_iter().filter(|p| p.epoch == top.epoch && p.offset <= top.offset).collect();
        if let Rewind::Millis(ms) = rewind {
            let from = now_ms().saturating_sub(ms);
            pubs.retain(|p| p.time_ms >= from);
            pubs.reverse();
        }
        pubs
    }

    pub(super) fn detach(&mut self, pm: ProtocolMessage) {
        let Some(name) = pm.channel else { return };
        if let Some(ch) = self.attached.remove(&name) {
            self.leave_channel_presence(&ch);
            let _ = self.app.hub.unsubscribe(self.conn, &ch);
            self.encoder.set_name(&ch, None);
        }
        self.push(&ProtocolMessage::on_channel(action::DETACHED, &name));
    }
}
