//! Herald ↔ Socket.IO events: the conventions of `docs/socketio.md`.

pub mod outgoing;
pub mod recovery;

pub use outgoing::{encode_event, publication_event};
pub use recovery::{RecoveryVector, with_token};
