//! The Ably realtime protocol (version 6, what ably-js 2 speaks) without
//! IO, for Herald's Ably door (`herald-server/src/ably/`, `docs/ably.md`):
//!
//! - [`protocol`] — `ProtocolMessage` and its actions, flags and details.
//! - [`message`] — messages, presence messages and their `data`.
//! - [`codec`] — the two wire formats: JSON (text frames) and MessagePack
//!   (binary frames, the Node client's default).
//! - [`error`] — `ErrorInfo` and the Ably error codes Herald answers with.
//! - [`envelope`] — an Ably message as a Herald publication
//!   (`{"event": name, "data": …}`, the envelope every foreign door uses) and back.
//! - [`channel`] — channel qualifiers (`[?rewind=10]name`), rewind, `channelSerial`.
//! - [`auth`] — API keys, capabilities, TokenRequests; [`jwt`] — Ably JWTs (HS256).

pub mod auth;
pub mod channel;
pub mod codec;
pub mod envelope;
pub mod error;
pub mod jwt;
pub mod message;
pub mod protocol;

pub use codec::Format;
pub use error::ErrorInfo;
pub use message::{Data, Message, PresenceMessage};
pub use protocol::{ConnectionDetails, ProtocolMessage, action, flags};
