//! Pusher channel names: their kinds (public, `private-`, `presence-`,
//! `private-encrypted-`, `cache-`, `#server-to-user-`) and the mapping into
//! Herald's channels: Pusher channel `X` of an app is Herald channel
//! `{namespace}:X`, so both protocols share one hub.

use herald_core::channel::MAX_CHANNEL_LEN;
use herald_core::{ChannelName, ErrorCode, HeraldError};

/// Longest Pusher channel name (Pusher's limit; the namespace prefix must
/// fit in Herald's 200 too, see [`to_herald`]).
pub const MAX_NAME: usize = 200;

/// `name` as it may be echoed back to a client: a name over [`MAX_NAME`]
/// (refused anyway) is cut to its first [`MAX_NAME`] bytes (at a character
/// boundary) and marked with `…`, so a huge name is never sent back whole.
pub fn echoed(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= MAX_NAME {
        return std::borrow::Cow::Borrowed(name);
    }
    let end = (0..=MAX_NAME).rev().find(|&i| name.is_char_boundary(i)).unwrap_or(0);
    std::borrow::Cow::Owned(format!("{}…", &name[..end]))
}

/// What a channel's name makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anyone with the app key may subscribe.
    Public,
    /// `private-…`: needs the app's signature.
    Private,
    /// `private-encrypted-…`: signed; the server relays ciphertext; no client events.
    Encrypted,
    /// `presence-…`: signed with the member's `channel_data`.
    Presence,
    /// `#server-to-user-{id}`: only the socket signed in as `id`.
    ServerToUser,
}

impl Kind {
    /// The kind of `name`.
    pub fn of(name: &str) -> Kind {
        if name.starts_with("private-encrypted-") {
            Kind::Encrypted
        } else if name.starts_with("private-") {
            Kind::Private
        } else if name.starts_with("presence-") {
            Kind::Presence
        } else if name.starts_with("#server-to-user-") {
            Kind::ServerToUser
        } else {
            Kind::Public
        }
    }

    /// Whether clients may send `client-` events here.
    pub fn allows_client_events(self) -> bool {
        matches!(self, Kind::Private | Kind::Presence)
    }
}

/// Whether `name` is a cache channel (the last event is kept and sent to new subscribers).
pub fn is_cache(name: &str) -> bool {
    ["cache-", "private-cache-", "presence-cache-", "private-encrypted-cache-"].iter().any(|p| name.starts_with(p))
}

/// Check a Pusher channel name: `[A-Za-z0-9_\-=@,.;]`, 1 to 200 characters
/// (or `#server-to-user-` followed by such characters).
pub fn validate(name: &str) -> Result<(), HeraldError> {
    let body = name.strip_prefix("#server-to-user-").unwrap_or(name);
    if body.is_empty() || name.len() > MAX_NAME {
        return Err(HeraldError::new(ErrorCode::InvalidChannel, "channel name must be 1 to 200 characters long"));
    }
    if let Some(bad) = body.chars().find(|c| !(c.is_ascii_alphanumeric() || "_-=@,.;".contains(*c))) {
        return Err(HeraldError::new(
            ErrorCode::InvalidChannel,
            format!("channel name contains {bad:?}; allowed are letters, digits and _ - = @ , . ;"),
        ));
    }
    Ok(())
}

/// The Herald channel of Pusher channel `name` in `namespace`.
pub fn to_herald(namespace: &str, name: &str) -> Result<ChannelName, HeraldError> {
    validate(name)?;
    ChannelName::new(&format!("{namespace}:{name}")).map_err(|_| {
        HeraldError::new(
            ErrorCode::InvalidChannel,
            format!("channel name must be at most {} characters long here", MAX_CHANNEL_LEN - namespace.len() - 1),
        )
    })
}

/// The Pusher name of Herald channel `channel` if it is in `namespace`.
pub fn from_herald<'a>(namespace: &str, channel: &'a ChannelName) -> Option<&'a str> {
    channel.as_str().strip_prefix(namespace)?.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_mapping() {
        assert_eq!(Kind::of("private-encrypted-x"), Kind::Encrypted);
        assert_eq!(Kind::of("private-x"), Kind::Private);
        assert_eq!(Kind::of("presence-x"), Kind::Presence);
        assert_eq!(Kind::of("#server-to-user-7"), Kind::ServerToUser);
        assert_eq!(Kind::of("x"), Kind::Public);
        assert!(is_cache("presence-cache-x") && !is_cache("x-cache-"));
        let h = to_herald("pusher", "presence-room-1").unwrap();
        assert_eq!(h.as_str(), "pusher:presence-room-1");
        assert_eq!(from_herald("pusher", &h), Some("presence-room-1"));
        assert_eq!(from_herald("other", &h), None);
        assert!(to_herald("pusher", "#server-to-user-42").is_ok());
        for bad in ["", "a:b", "a b", "#server-to-user-", "a#b"] {
            assert!(to_herald("pusher", bad).is_err(), "{bad}");
        }
        assert!(to_herald("pusher", &"x".repeat(193)).is_ok());
        let err = to_herald("pusher", &"x".repeat(194)).unwrap_err();
        assert!(err.message.contains("at most 193"), "{}", err.message);
    }
}
