//! An async client for Herald's native WebSocket protocol.
//!
//! The protocol is JSON text frames over a WebSocket at `ws://HOST:PORT/ws`.
//! The client sends requests carrying a numeric `id`; the server answers each
//! with `{"id":N,"result":…}` or `{"id":N,"error":{…}}`, and sends pushes
//! at any time. Every push of docs/protocol.md is a typed [`Push`] variant
//! (publication, join, leave, event, presence_update, typing, read,
//! notification, unread, token_expiring, doc, unsubscribed, ping, error,
//! disconnect); a push kind this client does not know arrives as
//! [`Push::Other`], and [`Push::to_json`] gives any push back in its wire shape.
//!
//! This crate is a consumer of the documented wire format only: it does not
//! depend on the server's crates. It is used by the server's integration
//! tests and by the benchmark tool, so it also offers ways to break the
//! protocol on purpose ([`Client::connect_raw`], [`Client::send_raw_text`],
//! [`Client::send_raw_binary`]) and to read slowly ([`Client::pause_reading`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), herald_client::ClientError> {
//! use herald_client::{Client, ConnectOptions, Push};
//!
//! let (client, connected) = Client::connect("ws://127.0.0.1:8000/ws", ConnectOptions::default()).await?;
//! println!("connected as {}", connected.client);
//! client.subscribe("chat:lobby", None).await?;
//! client.publish("chat:lobby", &serde_json::json!({"text": "hi"}), None).await?;
//! if let Some(Push::Publication { data, .. }) = client.next_push().await {
//!     println!("got {data}");
//! }
//! client.close().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Internally each client runs one reader task, which dispatches replies to
//! the waiting request by id and pushes to an unbounded queue, and one writer
//! task fed through an unbounded channel. Both end when the socket closes or
//! the [`Client`] is dropped.

#![warn(missing_docs)]

mod client;
mod error;
mod frames;
mod types;

pub use client::{Client, ConnectOptions, DEFAULT_CLIENT_NAME, DEFAULT_REQUEST_TIMEOUT};
pub use error::{ClientError, CloseInfo, ServerError};
pub use types::{
    Connected, Direction, HistoryOptions, HistoryResult, Member, Notification, Position, PresenceMember,
    PresenceResult, Publication, PublishResult, Publisher, Push, SubscribeResult,
};

/// The WebSocket library this client is built on, re-exported so callers can
/// inspect [`ClientError::WebSocket`] without naming the dependency.
pub use tokio_tungstenite::tungstenite;
