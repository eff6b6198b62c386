//! The channel-kind rule, as a matrix of grant pattern × channel kind,
//! checked through `Hub::authorize` (the one check every door goes
//! through): a pattern opens a private, presence or server-to-user channel
//! only when it names that prefix itself, and `#server-to-user-{id}` only
//! ever opens for the token whose `sub` is `{id}`. Every namespace here is
//! `public`, so a public name is readable by anyone and the matrix shows
//! that a private name never is, whatever the pattern.

use std::collections::HashMap;
use std::sync::Arc;

use herald_core::{
    ChannelName, ChannelPattern, EmbeddedBroker, EmbeddedBrokerOptions, Grant, Grants, Hub, HubConfig, Identity,
    MemoryStore, NamespaceOptions, Namespaces, Rights,
};

/// Every kind of channel name: public ones, then each private marker, bare
/// and after a namespace.
const CHANNELS: [&str; 16] = [
    "plain",
    "room:a",
    "room:presence",
    "room:privacy-policy",
    "pusher:a",
    "private-x",
    "presence-x",
    "private:secret",
    "room:private-x",
    "room:presence-x",
    "pusher:private-x",
    "pusher:private-encrypted-x",
    "pusher:presence-x",
    "pusher:#server-to-user-u1",
    "pusher:#server-to-user-u2",
    "#server-to-user-u1",
];

/// Pattern → the channels of [`CHANNELS`] it opens for user `u1`.
const MATRIX: [(&str, &[&str]); 17] = [
    ("*", &["plain", "room:a", "room:presence", "room:privacy-policy", "pusher:a"]),
    ("room:*", &["room:a", "room:presence", "room:privacy-policy"]),
    ("room:priv*", &["room:privacy-policy"]),
    ("pusher:*", &["pusher:a"]),
    ("pusher:private*", &[]),
    ("private-*", &["private-x"]),
    ("presence-*", &["presence-x"]),
    ("private:*", &["private:secret"]),
    ("room:private-*", &["room:private-x"]),
    ("room:presence-*", &["room:presence-x"]),
    ("pusher:private-*", &["pusher:private-x", "pusher:private-encrypted-x"]),
    ("pusher:presence-*", &["pusher:presence-x"]),
    ("pusher:#server-to-user-*", &["pusher:#server-to-user-u1"]),
    ("#server-to-user-*", &["#server-to-user-u1"]),
    ("pusher:#server-to-user-u2", &[]),
    ("room:private-x", &["room:private-x"]),
    ("private:secret", &["private:secret"]),
];

fn hub() -> Arc<Hub> {
    let broker = EmbeddedBroker::new(Arc::new(MemoryStore::new()), EmbeddedBrokerOptions::default());
    let public = NamespaceOptions { public: true, ..NamespaceOptions::default() };
    Hub::new(HubConfig::default(), Namespaces::new(public, HashMap::new(), false), broker)
}

fn token(user: Option<&str>, pattern: &str, rights: Rights) -> Identity {
    Identity {
        user: user.map(Arc::from),
        info: None,
        grants: Grants::Only(vec![Grant { pattern: ChannelPattern::parse(pattern), rights }]),
        expires_at_ms: None,
    }
}

fn ch(name: &str) -> ChannelName {
    ChannelName::new(name).unwrap()
}

/// The channels of [`CHANNELS`] on which `identity` may do `right`.
fn opened(hub: &Hub, identity: &Identity, right: Rights) -> Vec<&'static str> {
    CHANNELS.into_iter().filter(|c| hub.authorize(identity, &ch(c), right).is_ok()).collect()
}

#[tokio::test]
async fn a_pattern_opens_a_private_channel_only_when_it_names_the_prefix() {
    let hub = hub();
    for (pattern, want) in MATRIX {
        // Publishing needs the grant (public namespaces are read-only for
        // everyone else), so it shows exactly what the pattern covers.
        let id = token(Some("u1"), pattern, Rights::ALL);
        assert_eq!(opened(&hub, &id, Rights::PUBLISH), want, "publish with pattern {pattern:?}");
        // Reading: what the pattern covers, plus every public name.
        for right in [Rights::SUBSCRIBE, Rights::HISTORY, Rights::PRESENCE] {
            let expected: Vec<&str> =
                CHANNELS.into_iter().enumerate().filter(|(i, c)| *i < 5 || want.contains(c)).map(|(_, c)| c).collect();
            assert_eq!(opened(&hub, &id, right), expected, "{} with pattern {pattern:?}", right.name());
        }
    }
}

#[tokio::test]
async fn a_users_own_channel_needs_that_sub_even_with_an_exact_grant() {
    let hub = hub();
    for name in ["pusher:#server-to-user-u1", "#server-to-user-u1"] {
        let c = ch(name);
        assert!(hub.authorize(&token(Some("u1"), name, Rights::SUBSCRIBE), &c, Rights::SUBSCRIBE).is_ok(), "{name}");
        for other in [Some("u2"), Some("u10"), Some(""), None] {
            let id = token(other, name, Rights::ALL);
            assert!(hub.authorize(&id, &c, Rights::SUBSCRIBE).is_err(), "{name} for {other:?}");
            let id = token(other, "*", Rights::ALL);
            assert!(hub.authorize(&id, &c, Rights::SUBSCRIBE).is_err(), "{name} for {other:?} with *");
        }
    }
}

#[tokio::test]
async fn development_mode_and_anonymous_visitors_open_no_private_channel() {
    let hub = hub();
    let public: Vec<&str> = CHANNELS.into_iter().take(5).collect();
    assert_eq!(opened(&hub, &Identity::development(), Rights::SUBSCRIBE), public);
    assert_eq!(opened(&hub, &Identity::development(), Rights::PUBLISH), public);
    assert_eq!(opened(&hub, &Identity::anonymous(), Rights::SUBSCRIBE), public);
    assert!(opened(&hub, &Identity::anonymous(), Rights::PUBLISH).is_empty());
}
