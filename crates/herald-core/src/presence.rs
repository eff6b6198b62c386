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
