//! The native door: Herald's own protocol (`docs/protocol.md`) over WebSocket
//! at `/ws`, on the door runtime (`crate::door`). `upgrade` admits the
//! request and answers 101, `connect` waits for the `connect` frame,
//! `session` registers the connection and runs it, `dispatch` turns each
//! request into hub calls, `encoder` turns channel events into frames.

mod connect;
pub mod dispatch;
mod documents;
pub mod encoder;
pub mod session;
pub mod upgrade;
