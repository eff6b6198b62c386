//! Positions in a channel's stream: `(epoch, offset)`.
//!
//! Every publication in a channel gets the next `offset` (1, 2, 3, …). The
//! `epoch` names one continuous history of the channel: when history is lost
//! (the store was wiped, a broker lost its data) the channel gets a new epoch,
//! so a client holding a position from the old epoch learns it cannot recover.

use std::fmt;
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Identifies one continuous history of a channel. Short, random, URL-safe.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Epoch(Arc<str>);

const EPOCH_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

impl Epoch {
    /// A fresh random epoch (8 characters of base62, ~47 bits).
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let s: String = (0..8).map(|_| EPOCH_ALPHABET[rng.random_range(0..EPOCH_ALPHABET.len())] as char).collect();
        Epoch(Arc::from(s))
    }

    /// An epoch from its stored or received text.
    pub fn from_string(s: impl Into<Arc<str>>) -> Self {
        Epoch(s.into())
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Epoch({})", self.0)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A position in a channel: the last offset seen within an epoch.
/// Offset 0 means "before the first publication".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Position {
    /// Which history this offset belongs to.
    pub epoch: Epoch,
    /// The offset of the last publication (0 = none yet).
    pub offset: u64,
}
