//! Presence of one channel on this node: members keyed by user id (or
//! connection id for anonymous clients), each counted once however many
//! connections (tabs) they have open, with an optional client-set `state`
//! ("idle", "viewing record 42"…).
//!
//! A member whose last connection leaves is not dropped at once: it stays
//! *leaving* for the namespace's grace period, so a page reload (leave,
//! then re-join within the grace) pushes neither `leave` nor `join`. The hub
//! runs the timer and calls [`ChannelPresence::expire`] when it fires; a
//! generation number tells a stale timer from the current one.
//!
//! This is plain data, owned by one node's hub. A shared backend (Redis:
//! one hash per channel of member → {info, state, connections per node},
//! with a per-node heartbeat key expiring after the grace) would implement
//! the same four transitions: add, remove, set_state, expire.

use std::collections::HashMap;
use std::sync::Arc;

use crate::publication::Payload;
use crate::wire::ClientInfo;

struct Member {
    info: ClientInfo,
    connections: usize,
    state: Option<Payload>,
    /// Set while leaving (no connections, within the grace): the timer's generation.
    leaving: Option<u64>,
}

/// A member as presence queries and snapshots show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceMember {
    /// Who (the connection that joined first, the user, the token's info).
    pub info: ClientInfo,
    /// Connections of this member subscribed here (0 while leaving within the grace).
    pub connections: usize,
    /// The state the member set, if any.
    pub state: Option<Payload>,
}

/// What removing a connection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The member has other connections, or was not there.
    Stays,
    /// The member's last connection left and there is no grace: push `leave`.
    Left,
    /// The member's last connection left: call [`ChannelPresence::expire`]
    /// with this generation when the grace is over.
    Leaving(u64),
}

/// Members of one channel.
#[derive(Default)]
pub struct ChannelPresence {
    members: HashMap<Arc<str>, Member>,
    generation: u64,
}

impl ChannelPresence {
    /// Add a connection; returns true when its member is new (a join). A
    /// member coming back within its grace is not new.
    pub fn add(&mut self, info: &ClientInfo) -> bool {
        match self.members.get_mut(info.member_key()) {
            Some(m) => {
                m.connections += 1;
                m.leaving = None;
                false
            }
            None => {
                let member = Member { info: info.clone(), connections: 1, state: None, leaving: None };
                self.members.insert(info.member_key().clone(), member);
                true
            }
        }
    }

    /// Remove a connection. With `grace` the member's last connection makes
    /// it leaving rather than gone.
    pub fn remove(&mut self, info: &ClientInfo, grace: bool) -> Removal {
        let key = info.member_key();
        let Some(m) = self.members.get_mut(key) else { return Removal::Stays };
        if m.connections == 0 {
            return Removal::Stays;
        }
        m.connections -= 1;
        if m.connections > 0 {
            return Removal::Stays;
        }
        if grace {
            self.generation += 1;
            m.leaving = Some(self.generation);
            Removal::Leaving(self.generation)
        } else {
            self.members.remove(key);
            Removal::Left
        }
    }

    /// The grace of `key`'s member, started as `generation`, is over: drop
    /// it if it is still leaving. Returns its info when it left (push `leave`).
    pub fn expire(&mut self, key: &str, generation: u64) -> Option<ClientInfo> {
        let m = self.members.get(key)?;
        if m.leaving != Some(generation) {
            return None;
        }
        self.members.remove(key).map(|m| m.info)
    }

    /// Set the state of `info`'s member; returns the member as it is now,
    /// or `None` when it is not present.
    pub fn set_state(&mut self, info: &ClientInfo, state: Payload) -> Option<PresenceMember> {
        let m = self.members.get_mut(info.member_key())?;
        if m.connections == 0 {
            return None;
        }
        m.state = Some(state);
        Some(PresenceMember { info: m.info.clone(), connections: m.connections, state: m.state.clone() })
    }

    /// The member with presence key `key`, if present (also while leaving).
    pub fn member(&self, key: &str) -> Option<PresenceMember> {
        self.members.get(key).map(|m| PresenceMember {
            info: m.info.clone(),
            connections: m.connections,
            state: m.state.clone(),
        })
    }

    /// Whether `info`'s member has a connection here.
    pub fn contains(&self, info: &ClientInfo) -> bool {
        self.members.get(info.member_key()).is_some_and(|m| m.connections > 0)
    }

    /// Current members (including those leaving within their grace).
    pub fn members(&self) -> Vec<PresenceMember> {
        self.members
            .values()
            .map(|m| PresenceMember { info: m.info.clone(), connections: m.connections, state: m.state.clone() })
            .collect()
    }

    /// Number of distinct members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(client: &str, user: Option<&str>) -> ClientInfo {
        ClientInfo { client: client.into(), user: user.map(Into::into), info: None }
    }

    #[test]
    fn two_tabs_of_one_user_are_one_member() {
        let mut p = ChannelPresence::default();
        assert!(p.add(&conn("c1", Some("u1"))));
        assert!(!p.add(&conn("c2", Some("u1"))));
        assert!(p.add(&conn("c3", Some("u2"))));
        assert_eq!(p.len(), 2);
        assert_eq!(p.remove(&conn("c1", Some("u1")), false), Removal::Stays);
        assert_eq!(p.remove(&conn("c2", Some("u1")), false), Removal::Left);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn a_reload_within_the_grace_is_neither_leave_nor_join() {
        let mut p = ChannelPresence::default();
        assert!(p.add(&conn("c1", Some("u1"))));
        let Removal::Leaving(g) = p.remove(&conn("c1", Some("u1")), true) else { panic!("not leaving") };
        assert!(!p.add(&conn("c2", Some("u1"))));
        assert_eq!(p.expire("u1", g), None);
        let Removal::Leaving(g2) = p.remove(&conn("c2", Some("u1")), true) else { panic!("not leaving") };
        assert_eq!(p.expire("u1", g), None, "a stale timer does nothing");
        assert!(p.expire("u1", g2).is_some());
        assert!(p.is_empty());
    }
}

mod hub_ops {
    use std::sync::Arc;

    use super::PresenceMember;
    use crate::auth::Rights;
    use crate::channel::ChannelName;
    use crate::connection::Connection;
    use crate::error::{ErrorCode, HeraldError};
    use crate::hub::{Caller, Hub};
    use crate::publication::Payload;
    use crate::subscription::Subscription;
    use crate::wire::ChannelEvent;

    impl Hub {
        pub(crate) fn spawn_presence_expiry(
            &self,
            channel: &ChannelName,
            key: &Arc<str>,
            generation: u64,
            grace_ms: u64,
        ) {
            let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
            let (hub, channel, key) = (self.me.clone(), channel.clone(), key.clone());
            rt.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(grace_ms)).await;
                let Some(hub) = hub.upgrade() else { return };
                let entry = hub.channels.read().get(&channel).cloned();
                let Some(entry) = entry else { return };
                let left = entry.presence.lock().expire(&key, generation);
                if let Some(info) = left {
                    hub.announce_presence(&channel, &info, false, None);
                }
                hub.drop_entry_if_unused(&channel, &entry);
            });
        }

        pub(crate) fn presence_join(&self, sub: &Arc<Subscription>) {
            let entry = self.channels.read().get(&sub.channel).cloned();
            let Some(entry) = entry else { return };
            let joined = entry.presence.lock().add(&sub.member);
            if joined {
                let except = Some(sub.connection.id().clone());
                self.announce_presence(&sub.channel, &sub.member, true, except);
            } else {
                self.presence_changed(&sub.channel, sub.member.member_key());
            }
        }

        /// Presence members of `channel` on this node, with connection counts and states.
        pub fn presence(&self, caller: Caller<'_>, channel: &ChannelName) -> Result<Vec<PresenceMember>, HeraldError> {
            let opts = self.authorize_caller(caller, channel, Rights::PRESENCE)?;
            if !opts.presence {
                return Err(HeraldError::new(
                    ErrorCode::PermissionDenied,
                    format!("presence is not enabled for {channel}'s namespace"),
                ));
            }
            Ok(self.channels.read().get(channel).map(|e| e.presence.lock().members()).unwrap_or_default())
        }

        /// Presence members of `channel` on every node (on this node only
        /// without a shared presence backend), with connection counts and states.
        pub async fn presence_all(
            &self,
            caller: Caller<'_>,
            channel: &ChannelName,
        ) -> Result<Vec<PresenceMember>, HeraldError> {
            let opts = self.authorize_caller(caller, channel, Rights::PRESENCE)?;
            if !opts.presence {
                return Err(HeraldError::new(
                    ErrorCode::PermissionDenied,
                    format!("presence is not enabled for {channel}'s namespace"),
                ));
            }
            self.presence_members(channel).await
        }

        /// Set the state of `conn`'s member in `channel` and push
        /// `presence_update` to the channel's other connections. The
        /// connection must be in the channel's presence.
        pub fn set_presence_state(
            &self,
            conn: &Connection,
            channel: &ChannelName,
            state: Payload,
        ) -> Result<(), HeraldError> {
            let opts = self.authorize(&conn.identity(), channel, Rights::SUBSCRIBE)?;
            if !opts.presence {
                return Err(HeraldError::new(
                    ErrorCode::PermissionDenied,
                    format!("presence is not enabled for {channel}'s namespace"),
                ));
            }
            if state.len() > opts.presence_state_max_bytes {
                return Err(HeraldError::new(
                    ErrorCode::MessageTooLarge,
                    format!(
                        "presence state is {} bytes; at most {} allowed",
                        state.len(),
                        opts.presence_state_max_bytes
                    ),
                ));
            }
            let entry = if conn.is_subscribed(channel) { self.channels.read().get(channel).cloned() } else { None };
            let member = entry.as_ref().and_then(|e| {
                let me = e.subscribers.read().get(conn.id()).map(|s| s.member.clone());
                let me = me.unwrap_or_else(|| conn.client_info().clone());
                e.presence.lock().set_state(&me, state)
            });
            let (Some(entry), Some(member)) = (entry, member) else {
                return Err(HeraldError::new(
                    ErrorCode::NotSubscribed,
                    format!("not in {channel}'s presence: subscribe first (with the presence right)"),
                ));
            };
            self.broadcast_event(&entry, &ChannelEvent::PresenceUpdate(channel, &member), Some(conn.id()));
            self.share_presence_update(channel, &member);
            self.presence_changed(channel, conn.client_info().member_key());
            Ok(())
        }
    }
}
