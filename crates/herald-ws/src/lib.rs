//! Server side of the WebSocket protocol (RFC 6455) with permessage-deflate
//! (RFC 7692), built for encode-once fan-out.
//!
//! Herald delivers one publication to many subscribers. This crate lets the
//! publisher build each outgoing frame exactly once — header and payload,
//! optionally compressed — as a [`bytes::Bytes`] that every connection shares,
//! and lets each connection write a batch of queued frames with one vectored
//! write.
//!
//! * [`handshake`] validates an HTTP upgrade request and negotiates
//!   permessage-deflate (always with `server_no_context_takeover`, so that one
//!   compressed frame is valid for every subscriber).
//! * [`frame`] builds unmasked server frames, compressed or not.
//! * [`reader`] parses and validates masked client frames into [`Message`]s.
//! * [`writer`] writes batches of pre-built frames with vectored writes.
//! * [`client`] is a small client-role helper for tests and benchmarks.
//!
//! The crate never performs the HTTP exchange itself: the caller (for example
//! a hyper upgrade) sends the `101 Switching Protocols` response built from
//! [`handshake::Negotiated`] and then hands the raw byte stream to
//! [`WsReader`] and [`WsWriter`].

#![warn(missing_docs)]

pub mod client;
pub mod error;
pub mod frame;
pub mod handshake;
mod inflate;
mod mask;
pub mod reader;
pub mod writer;

pub use error::WsError;
pub use frame::FrameEncoder;
pub use handshake::{DeflateConfig, DeflateParams, HandshakeError, Negotiated};
pub use reader::{Message, ReaderConfig, WsReader};
pub use writer::WsWriter;
