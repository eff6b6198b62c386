//! Typing indicators: `typing` from a user in a channel pushes
//! `typing:true` to the channel's other subscribers, throttled per user and
//! channel; the indicator ends with `typing:false` when the user goes
//! silent past the namespace's timeout, publishes in the channel, or the
//! connection that started it goes away. Never stored, never echoed to the
//! sender's connections. This module keeps the indicators; the hub's side
//! (pushes, the expiry timer) is `hub/typing.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::channel::ChannelName;

pub(crate) struct Indicator {
    /// The connection whose `typing` started or last refreshed it.
    pub(crate) connection: Arc<str>,
    /// When `typing:true` was last sent.
    sent_at: Instant,
    /// When it ends without another `typing`.
    pub(crate) expires_at: Instant,
}

/// The live typing indicators of this node, by (channel, user).
#[derive(Default)]
pub struct Typing {
    pub(crate) live: HashMap<(ChannelName, Arc<str>), Indicator>,
}

/// What a `typing` request should do.
pub(crate) enum Started {
    /// New indicator: push `typing:true` and start its timer.
    New,
    /// Refreshed after the throttle: push `typing:true` again.
    Again,
    /// Refreshed within the throttle: nothing to send.
    Quiet,
}

impl Typing {
    /// A `typing` from `conn` for `key`: start or refresh its indicator.
    pub(crate) fn start(
        &mut self,
        key: (ChannelName, Arc<str>),
        conn: &Arc<str>,
        throttle: Duration,
        timeout: Duration,
    ) -> Started {
        let now = Instant::now();
        match self.live.get_mut(&key) {
            Some(ind) => {
                ind.expires_at = now + timeout;
                ind.connection = conn.clone();
                if now.duration_since(ind.sent_at) < throttle {
                    Started::Quiet
                } else {
                    ind.sent_at = now;
                    Started::Again
                }
            }
            None => {
                self.live.insert(key, Indicator { connection: conn.clone(), sent_at: now, expires_at: now + timeout });
                Started::New
            }
        }
    }
}
