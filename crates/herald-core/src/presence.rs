//! Presence of one channel on this node: members keyed by user id (or
//! connection id for anonymous clients), each counted once however many
//! connections (tabs) they have open.

use std::collections::HashMap;
use std::sync::Arc;

use crate::wire::ClientInfo;

struct Member {
    info: ClientInfo,
    connections: usize,
}

/// Members of one channel.
#[derive(Default)]
pub struct ChannelPresence {
    members: HashMap<Arc<str>, Member>,
}

impl ChannelPresence {
    /// Add a connection; returns true when its member is new (a join).
    pub fn add(&mut self, info: &ClientInfo) -> bool {
        match self.members.get_mut(info.member_key()) {
            Some(m) => {
                m.connections += 1;
                false
            }
            None => {
                self.members.insert(info.member_key().clone(), Member { info: info.clone(), connections: 1 });
                true
            }
        }
    }

    /// Remove a connection; returns true when its member is gone (a leave).
    pub fn remove(&mut self, info: &ClientInfo) -> bool {
        let key = info.member_key();
        let Some(m) = self.members.get_mut(key) else { return false };
        m.connections -= 1;
        if m.connections == 0 {
            self.members.remove(key);
            true
        } else {
            false
        }
    }

    /// Current members with their connection counts.
    pub fn members(&self) -> Vec<(ClientInfo, usize)> {
        self.members.values().map(|m| (m.info.clone(), m.connections)).collect()
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
        assert!(!p.remove(&conn("c1", Some("u1"))));
        assert!(p.remove(&conn("c2", Some("u1"))));
        assert_eq!(p.len(), 1);
    }
}
