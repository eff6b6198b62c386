//! Presence a subscriber enters and leaves while staying subscribed
//! (Supabase Realtime's `track`/`untrack`): the member joins with `info`
//! as its public info, later tracks update its state, an untrack or the
//! end of the subscription makes it leave. Every subscriber of the channel
//! is told, the tracking connection too.

use std::sync::atomic::Ordering;

use super::*;
use crate::wire::ClientInfo;

impl Hub {
    /// Enter `channel`'s presence as `conn`'s subscription's member, with
    /// `info` (the tracked payload); when already in, replace the member's
    /// state with `info` (a `presence_update` to every subscriber).
    /// Needs the presence right and a subscription to `channel`.
    pub fn track_presence(
        &self,
        conn: &Arc<Connection>,
        channel: &ChannelName,
        info: Payload,
    ) -> Result<(), HeraldError> {
        let (entry, sub, opts) = self.tracking(conn, channel)?;
        if info.len() > opts.presence_state_max_bytes {
            return Err(HeraldError::new(
                ErrorCode::MessageTooLarge,
                format!("presence payload is {} bytes; at most {} allowed", info.len(), opts.presence_state_max_bytes),
            ));
        }
        if sub.in_presence.swap(true, Ordering::AcqRel) {
            let member = entry.presence.lock().set_state(&sub.member, info);
            if let Some(member) = member {
                self.broadcast_event(&entry, &ChannelEvent::PresenceUpdate(channel, &member), None);
                self.share_presence_update(channel, &member);
                self.presence_changed(channel, sub.member.member_key());
            }
            return Ok(());
        }
        let member = ClientInfo { info: Some(info), ..sub.member.clone() };
        let joined = entry.presence.lock().add(&member);
        if joined {
            self.announce_presence(channel, &member, true, None);
        } else {
            self.presence_changed(channel, member.member_key());
        }
        Ok(())
    }

    /// Leave `channel`'s presence entered by [`Hub::track_presence`] (or at
    /// subscribe), staying subscribed. Not in presence: nothing happens.
    pub fn untrack_presence(&self, conn: &Arc<Connection>, channel: &ChannelName) -> Result<(), HeraldError> {
        let (entry, sub, opts) = self.tracking(conn, channel)?;
        if !sub.in_presence.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let grace = opts.presence_grace_ms;
        let removal = entry.presence.lock().remove(&sub.member, grace > 0);
        match removal {
            Removal::Stays => self.presence_changed(channel, sub.member.member_key()),
            Removal::Left => self.announce_presence(channel, &sub.member, false, None),
            Removal::Leaving(generation) => {
                self.presence_changed(channel, sub.member.member_key());
                self.spawn_presence_expiry(channel, sub.member.member_key(), generation, grace)
            }
        }
        Ok(())
    }

    /// The channel entry, `conn`'s subscription and the namespace options,
    /// when the namespace tracks presence and `conn` may appear in it.
    fn tracking(
        &self,
        conn: &Arc<Connection>,
        channel: &ChannelName,
    ) -> Result<(Arc<ChannelEntry>, Arc<Subscription>, NamespaceOptions), HeraldError> {
        let entry = self.channels.read().get(channel).cloned();
        let sub = entry.as_ref().and_then(|e| e.subscribers.read().get(conn.id()).cloned());
        let (Some(entry), Some(sub)) = (entry, sub) else {
            return Err(HeraldError::new(ErrorCode::NotSubscribed, format!("subscribe to {channel} first")));
        };
        let opts = match sub.granted.contains(Rights::PRESENCE) {
            true => self.namespaces.options(channel)?,
            false => self.authorize(&conn.identity(), channel, Rights::PRESENCE)?,
        };
        if !opts.presence {
            return Err(HeraldError::new(
                ErrorCode::PermissionDenied,
                format!("presence is not enabled for {channel}'s namespace"),
            ));
        }
        Ok((entry, sub, opts.clone()))
    }
}
