//! Who a connection is and what it may do. Every door turns its credentials
//! (a token, development mode) into an [`Identity`]; the hub checks it on
//! every subscribe, publish, presence and history request, so no door can
//! forget a check.
//!
//! Channel kinds, one rule for every door: a channel whose name (or the part
//! after its namespace) starts with `private-`, `presence-` or
//! `#server-to-user-`, or whose namespace is `private`, needs an explicit
//! grant, even in development mode. The prefixes are Pusher's, so a Pusher
//! channel mapped into a namespace (`pusher:private-x`) keeps its kind.
//!
//! Explicit means: an exact name, or a pattern that itself names the
//! private prefix (`private-*`, `room:private-*`, `private:*`). A wider
//! pattern (`*`, `room:*`, `pusher:*`) never covers a private name. A user's
//! `#server-to-user-{id}` channel is only ever granted to a token whose
//! `sub` is `{id}`, whatever the pattern.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::channel::ChannelName;
use crate::publication::Payload;

/// Rights on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rights(u8);

impl Rights {
    /// Receive publications.
    pub const SUBSCRIBE: Rights = Rights(1);
    /// Publish (and send client events).
    pub const PUBLISH: Rights = Rights(2);
    /// Appear in and read presence.
    pub const PRESENCE: Rights = Rights(4);
    /// Read history.
    pub const HISTORY: Rights = Rights(8);
    /// Everything.
    pub const ALL: Rights = Rights(15);
    /// Nothing.
    pub const NONE: Rights = Rights(0);

    /// Whether every right in `other` is included.
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union.
    pub const fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// Parse one right's name (`subscribe`, `publish`, `presence`, `history`).
    pub fn from_name(name: &str) -> Option<Rights> {
        Some(match name {
            "subscribe" => Rights::SUBSCRIBE,
            "publish" => Rights::PUBLISH,
            "presence" => Rights::PRESENCE,
            "history" => Rights::HISTORY,
            "*" | "all" => Rights::ALL,
            _ => return None,
        })
    }

    /// The name of a single right, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Rights::SUBSCRIBE => "subscribe",
            Rights::PUBLISH => "publish",
            Rights::PRESENCE => "presence",
            Rights::HISTORY => "history",
            _ => "these rights",
        }
    }
}

/// Which channels a grant covers: `chat:room-7` (exact), `chat:*` (prefix),
/// `*` (all). A pattern covers a private channel (see [`is_private`]) only
/// when it names the private prefix itself: `*` and `room:*` do not cover
/// `room:private-x`; `room:private-*` and the exact name do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelPattern {
    /// Every channel that is not private.
    Any,
    /// Channels starting with the prefix (private ones only when the prefix
    /// includes their private marker).
    Prefix(String),
    /// One channel.
    Exact(String),
}

impl ChannelPattern {
    /// Parse `*`, `prefix*` or an exact name.
    pub fn parse(s: &str) -> ChannelPattern {
        if s == "*" {
            ChannelPattern::Any
        } else if let Some(p) = s.strip_suffix('*') {
            ChannelPattern::Prefix(p.to_string())
        } else {
            ChannelPattern::Exact(s.to_string())
        }
    }

    /// Whether `channel` matches.
    pub fn matches(&self, channel: &ChannelName) -> bool {
        match self {
            ChannelPattern::Any => !is_private(channel),
            ChannelPattern::Prefix(p) => {
                channel.as_str().starts_with(p.as_str()) && private_marker_end(channel).is_none_or(|end| p.len() >= end)
            }
            ChannelPattern::Exact(e) => channel.as_str() == e,
        }
    }
}

/// Rights on the channels a pattern covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Covered channels.
    pub pattern: ChannelPattern,
    /// Rights there.
    pub rights: Rights,
}

/// A connection's grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grants {
    /// Development mode: everything except private channels.
    Development,
    /// Exactly these (a token's capabilities; empty for anonymous visitors).
    Only(Vec<Grant>),
}

/// Who a connection is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User id (`sub`), if signed in.
    pub user: Option<Arc<str>>,
    /// Public profile shown in presence (`info`).
    pub info: Option<Payload>,
    /// What it may do.
    pub grants: Grants,
    /// When the credentials expire, ms since the Unix epoch.
    pub expires_at_ms: Option<u64>,
}

impl Identity {
    /// An anonymous connection in development mode.
    pub fn development() -> Identity {
        Identity { user: None, info: None, grants: Grants::Development, expires_at_ms: None }
    }

    /// An anonymous visitor when tokens are required: public namespaces only.
    pub fn anonymous() -> Identity {
        Identity { user: None, info: None, grants: Grants::Only(Vec::new()), expires_at_ms: None }
    }

    /// Whether the grants (ignoring namespace rules) allow `right` on `channel`.
    pub fn granted(&self, channel: &ChannelName, right: Rights) -> bool {
        match &self.grants {
            Grants::Development => !is_private(channel),
            Grants::Only(list) => {
                if let Some(owner) = server_to_user_id(channel)
                    && self.user.as_deref() != Some(owner)
                {
                    return false;
                }
                let mut have = Rights::NONE;
                for g in list.iter().filter(|g| g.pattern.matches(channel)) {
                    have = have.union(g.rights);
                }
                have.contains(right)
            }
        }
    }

    /// Whether this identity came from development mode.
    pub fn is_development(&self) -> bool {
        matches!(self.grants, Grants::Development)
    }
}

/// Whether a channel is private: its name, or the part after its namespace,
/// starts with `private-`, `presence-` or `#server-to-user-`; or its
/// namespace is `private`.
pub fn is_private(channel: &ChannelName) -> bool {
    private_marker_end(channel).is_some()
}

/// Pusher's prefixes that make a channel private.
const PRIVATE_PREFIXES: [&str; 3] = ["private-", "presence-", "#server-to-user-"];

/// Prefix of a user's own channel: `#server-to-user-{id}`.
const SERVER_TO_USER: &str = "#server-to-user-";

/// Where the last private marker of `channel` ends (the length of the
/// shortest prefix of the name that shows every marker it has: `private-`
/// → 8, `room:private-` → 13, `private:` → 8), or `None` for a channel that
/// is not private. A pattern covers a private channel only when its prefix
/// is at least this long.
fn private_marker_end(channel: &ChannelName) -> Option<usize> {
    let name = channel.as_str();
    let marker = |n: &str| PRIVATE_PREFIXES.iter().find(|p| n.starts_with(**p)).map(|p| p.len());
    let whole = marker(name);
    let after_namespace = name.split_once(':').and_then(|(ns, local)| {
        let ns_private = (ns == "private").then_some(ns.len() + 1);
        marker(local).map(|m| ns.len() + 1 + m).or(ns_private)
    });
    whole.into_iter().chain(after_namespace).max()
}

/// The user a `#server-to-user-{id}` channel (also after a namespace:
/// `pusher:#server-to-user-{id}`) belongs to.
pub fn server_to_user_id(channel: &ChannelName) -> Option<&str> {
    let name = channel.as_str();
    name.strip_prefix(SERVER_TO_USER)
        .or_else(|| name.split_once(':').and_then(|(_, local)| local.strip_prefix(SERVER_TO_USER)))
}

/// A grant for one subscription that a door verified itself (Pusher's
/// per-channel auth signature, a per-channel subscription token): rights on
/// that one channel, and the presence member it subscribes as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionGrant {
    /// Rights on the subscribed channel (on top of the connection's grants).
    pub rights: Rights,
    /// The presence member's user id (joins presence when the grant has
    /// the presence right and the namespace tracks presence).
    pub user: Option<Arc<str>>,
    /// The presence member's public info.
    pub info: Option<Payload>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(s: &str) -> ChannelName {
        ChannelName::new(s).unwrap()
    }

    #[test]
    fn patterns_and_rights() {
        let id = Identity {
            user: Some("u".into()),
            info: None,
            grants: Grants::Only(vec![
                Grant {
                    pattern: ChannelPattern::parse("chat:room-7"),
                    rights: Rights::SUBSCRIBE.union(Rights::PUBLISH),
                },
                Grant { pattern: ChannelPattern::parse("news:*"), rights: Rights::SUBSCRIBE },
            ]),
            expires_at_ms: None,
        };
        assert!(id.granted(&ch("chat:room-7"), Rights::PUBLISH));
        assert!(!id.granted(&ch("chat:room-8"), Rights::SUBSCRIBE));
        assert!(id.granted(&ch("news:today"), Rights::SUBSCRIBE));
        assert!(!id.granted(&ch("news:today"), Rights::PUBLISH));
        assert!(!id.granted(&ch("chat:room-7"), Rights::HISTORY));
    }

    #[test]
    fn development_mode_excludes_private_channels() {
        let dev = Identity::development();
        assert!(dev.granted(&ch("chat:a"), Rights::ALL));
        assert!(!dev.granted(&ch("private-a"), Rights::SUBSCRIBE));
        assert!(!dev.granted(&ch("private:a"), Rights::SUBSCRIBE));
    }

    #[test]
    fn pusher_prefixes_are_private_inside_a_namespace_too() {
        for private in ["pusher:private-a", "pusher:presence-a", "presence-a", "pusher:#server-to-user-1"] {
            assert!(is_private(&ch(private)), "{private}");
        }
        for public in ["pusher:a", "chat:presence", "pusher:cache-a", "a:b:private-c"] {
            assert!(!is_private(&ch(public)), "{public}");
        }
    }
}
