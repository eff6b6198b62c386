//! Notification inboxes: the app's back end sends a notification to users;
//! each is kept in the user's inbox
//! ([`InboxStore`](crate::store::InboxStore)) and pushed at once to every
//! connection of the user on this node, with their unread count. Reading,
//! marking read and deleting go through here too, and every change pushes
//! the new unread count to all of the user's connections, so a phone and a
//! laptop agree. The hub's side (`Hub::notify` and the rest) is `hub/inbox.rs`.

/// Most recipients of one notification request.
pub const MAX_NOTIFICATION_USERS: usize = 1000;

/// Longest dedupe key, in bytes.
pub const MAX_DEDUPE_KEY_LEN: usize = 200;

/// What `notification_read` marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkRead {
    /// One notification, by id.
    One(u64),
    /// All of the user's notifications.
    All,
}
