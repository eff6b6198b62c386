//! Read receipts: each signed-in user's read position per channel, kept in
//! the [`ReadStateStore`](crate::store::ReadStateStore) with the channel's
//! epoch, moving only forward. Marking pushes `read` to the channel's
//! subscribers ("seen by"); unread counts are the channel's top offset
//! minus the mark (the whole top when the epoch changed). The hub's side
//! (`Hub::mark_read`, `Hub::unread`, `Hub::read_positions`) is `hub/read_state.rs`.

use crate::channel::ChannelName;

/// A channel's unread count for one user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unread {
    /// The channel.
    pub channel: ChannelName,
    /// Publications after the user's read position.
    pub unread: u64,
    /// The user's read position (0 when it belongs to an older epoch).
    pub offset: u64,
}

/// One user's read position, for "seen by".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadPosition {
    /// The user.
    pub user: String,
    /// The last offset they read (in the channel's current epoch).
    pub offset: u64,
    /// When they marked it, ms since the Unix epoch.
    pub updated_at: u64,
}
