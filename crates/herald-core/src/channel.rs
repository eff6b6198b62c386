//! Channel names and the namespace they belong to.
//!
//! The naming rule, in one place for every door: a channel name is 1 to
//! [`MAX_CHANNEL_LEN`] characters from `A-Z a-z 0-9` and `_ - = @ , . ; : #`.
//! The namespace is the part before the first `:` (`chat:lobby` is in `chat`);
//! a name without `:` is in the default namespace `""`.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, HeraldError};

/// Longest channel name accepted, in bytes (Pusher's limit, so its channels fit).
pub const MAX_CHANNEL_LEN: usize = 200;

/// A validated channel name. Cheap to clone (shared string).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ChannelName(Arc<str>);

impl ChannelName {
    /// Validate `name` against the naming rule.
    pub fn new(name: &str) -> Result<Self, HeraldError> {
        if name.is_empty() || name.len() > MAX_CHANNEL_LEN {
            return Err(HeraldError::new(
                ErrorCode::InvalidChannel,
                format!("channel name must be 1 to {MAX_CHANNEL_LEN} characters long"),
            ));
        }
        if let Some(bad) = name.chars().find(|c| !is_channel_char(*c)) {
            return Err(HeraldError::new(
                ErrorCode::InvalidChannel,
                format!("channel name contains {bad:?}; allowed are letters, digits and _ - = @ , . ; : #"),
            ));
        }
        Ok(Self(Arc::from(name)))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The namespace: the part before the first `:`, or `""`.
    pub fn namespace(&self) -> &str {
        self.0.split_once(':').map(|(ns, _)| ns).unwrap_or("")
    }
}

fn is_channel_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '=' | '@' | ',' | '.' | ';' | ':' | '#')
}

impl fmt::Debug for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ChannelName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ChannelName::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in ["chat:lobby", "a", "private-foo", "#server-to-user-42", "x=1,y@z.w;q", "ns:sub:deep"] {
            assert!(ChannelName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_bad_names_with_invalid_channel() {
        for bad in ["", "has space", "slash/no", "ünï", &"x".repeat(201)] {
            let err = ChannelName::new(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidChannel, "{bad}");
        }
        assert!(ChannelName::new(&"x".repeat(200)).is_ok());
    }

    #[test]
    fn namespace_is_prefix_before_first_colon() {
        assert_eq!(ChannelName::new("chat:a:b").unwrap().namespace(), "chat");
        assert_eq!(ChannelName::new("lobby").unwrap().namespace(), "");
    }
}
