//! Typing indicators, as the hub runs them: `typing:true`/`false` pushes to
//! the channel's other subscribers (and the other nodes), the server-side
//! expiry timer, and the ends by publish, unsubscribe and disconnect. The
//! indicators themselves are [`Typing`](crate::typing::Typing).

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::typing::Started;

impl Hub {
    /// `conn`'s user is typing in `channel`. Needs the publish right and a
    /// subscription, like client events.
    pub fn typing(&self, conn: &Connection, channel: &ChannelName) -> Result<(), HeraldError> {
        let opts = self.authorize(&conn.identity(), channel, Rights::PUBLISH)?;
        if !opts.allow_client_publish {
            return Err(HeraldError::new(ErrorCode::PermissionDenied, format!("clients may not publish to {channel}")));
        }
        if !conn.is_subscribed(channel) {
            return Err(HeraldError::new(ErrorCode::NotSubscribed, format!("subscribe to {channel} before typing")));
        }
        let throttle = Duration::from_millis(opts.typing_throttle_ms);
        let timeout = Duration::from_millis(opts.typing_timeout_ms.max(1));
        let user = conn.client_info().member_key().clone();
        let started = self.typing.lock().start((channel.clone(), user.clone()), conn.id(), throttle, timeout);
        if matches!(started, Started::Quiet) {
            return Ok(());
        }
        self.push_typing(channel, &user, true);
        if matches!(started, Started::New) {
            self.spawn_typing_expiry(channel.clone(), user);
        }
        Ok(())
    }

    /// End `user`'s indicator in `channel`, if any (they published).
    pub(crate) fn typing_stopped(&self, channel: &ChannelName, user: &Arc<str>) {
        let ended = self.typing.lock().live.remove(&(channel.clone(), user.clone())).is_some();
        if ended {
            self.push_typing(channel, user, false);
        }
    }

    /// `conn` left `channel`: end the indicator it was keeping alive.
    pub(crate) fn typing_ended_by(&self, conn: &Connection, channel: &ChannelName) {
        let user = conn.client_info().member_key();
        let key = (channel.clone(), user.clone());
        let ended = {
            let mut typing = self.typing.lock();
            let mine = typing.live.get(&key).is_some_and(|i| i.connection == *conn.id());
            mine && typing.live.remove(&key).is_some()
        };
        if ended {
            self.push_typing(channel, user, false);
        }
    }

    fn push_typing(&self, channel: &ChannelName, user: &Arc<str>, typing: bool) {
        let entry = self.channels.read().get(channel).cloned();
        if let Some(entry) = entry {
            let ev = ChannelEvent::Typing { channel, user, typing };
            // Not to any connection of the typing user.
            self.broadcast_filtered(&entry, &ev, |c| c.client_info().member_key() != user);
        }
        self.share(|| {
            Some(crate::node_event::NodeEvent::Typing { channel: channel.clone(), user: user.to_string(), typing })
        });
    }

    fn spawn_typing_expiry(&self, channel: ChannelName, user: Arc<str>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let hub = self.me.clone();
        rt.spawn(async move {
            let key = (channel, user);
            loop {
                let Some(h) = hub.upgrade() else { return };
                let at = match h.typing.lock().live.get(&key) {
                    Some(ind) => ind.expires_at,
                    None => return,
                };
                drop(h);
                tokio::time::sleep_until(at).await;
                let Some(h) = hub.upgrade() else { return };
                let expired = {
                    let mut typing = h.typing.lock();
                    let due = typing.live.get(&key).is_some_and(|i| i.expires_at <= Instant::now());
                    due && typing.live.remove(&key).is_some()
                };
                if expired {
                    h.push_typing(&key.0, &key.1, false);
                    return;
                }
            }
        });
    }
}
