//! The native door: Herald's own protocol (`docs/protocol.md`) over WebSocket
//! at `/ws`. `upgrade` does the HTTP handshake, `session` runs a connection,
//! `encoder` turns channel events into frames.

pub mod dispatch;
mod documents;
pub mod encoder;
pub mod session;
pub mod upgrade;
