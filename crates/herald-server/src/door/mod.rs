//! The door runtime: what every protocol door shares, so a door is only its
//! protocol.
//!
//! - [`admission`] — the gate before a client is served (shutting down,
//!   origin, client address, per-address rate and slot, credentials) and,
//!   for WebSocket doors, the upgrade (permessage-deflate, 101).
//! - [`socket`] — an upgraded socket: reader and writer with limits, refusing
//!   before a hub connection exists, lingering close, the batched write.
//! - [`runtime`] — one WebSocket connection's life once it has a hub
//!   connection: the write loop draining the bounded outbound queue (the
//!   hub cuts a slow consumer), the read loop, keep-alive and idle timeout,
//!   the token's expiry, close frames, graceful shutdown (the hub's
//!   `close_all(Shutdown)` reaches every connection's queue: 4000 unless the
//!   door's [`Closing`] maps it), lingering close and per-door metrics.
//!
//! A WebSocket door implements [`DoorSession`] (decode an inbound frame into
//! hub calls, its keep-alive style, what to do at start, on a token about to
//! expire, and when the connection leaves the hub) and [`Closing`] (its
//! close-code table); its `WireEncoder` turns hub events into its frames.

pub mod admission;
pub mod runtime;
pub mod slow_consumer;
pub mod socket;

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use herald_core::DisconnectReason;
use herald_ws::WsError;

use crate::config::ConnectionConfig;

/// What the runtime does after a door handled something.
#[derive(Debug)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// The connection's token was replaced: recompute the expiry timers.
    Refreshed,
    /// End the connection.
    Close(Ending),
}

/// Why the server ends a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// The reason, as the hub and the metrics know it.
    pub reason: DisconnectReason,
    /// A close code and text of the door's own, sent instead of its
    /// [`Closing`] frames (y-websocket explains a malformed message).
    pub detail: Option<(u16, String)>,
}

impl From<DisconnectReason> for Ending {
    fn from(reason: DisconnectReason) -> Self {
        Ending { reason, detail: None }
    }
}

impl Ending {
    /// End with close `code` and `text` of the door's own.
    pub fn with_detail(reason: DisconnectReason, code: u16, text: impl Into<String>) -> Self {
        Ending { reason, detail: Some((code, text.into())) }
    }
}

impl From<DisconnectReason> for Flow {
    fn from(reason: DisconnectReason) -> Self {
        Flow::Close(reason.into())
    }
}

/// How a door keeps an idle connection alive and notices a dead one.
#[derive(Debug, Clone)]
pub enum KeepAlive {
    /// Send `ping` every `every`; the peer is dead when nothing came from it
    /// for `every + timeout` (native: JSON pings; y-websocket: WebSocket pings).
    Interval {
        /// Between pings.
        every: Duration,
        /// Grace after a ping.
        timeout: Duration,
        /// The ping frame.
        ping: Bytes,
    },
    /// Send `ping` after `idle` without a frame from the peer; it is dead
    /// when nothing comes within `timeout` of the ping (Pusher's
    /// `activity_timeout` and `pong_timeout`).
    WhenIdle {
        /// Silence before a ping.
        idle: Duration,
        /// Grace after a ping.
        timeout: Duration,
        /// The ping frame.
        ping: Bytes,
    },
}

impl KeepAlive {
    /// [`KeepAlive::Interval`] at `[connection] ping_interval_secs` and `pong_timeout_secs`.
    pub fn configured_interval(cc: &ConnectionConfig, ping: Bytes) -> Self {
        KeepAlive::Interval {
            every: Duration::from_secs(cc.ping_interval_secs.max(1)),
            timeout: Duration::from_secs(cc.pong_timeout_secs.max(1)),
            ping,
        }
    }
}

/// A door's close-code table: the frames that end a connection the server
/// closes. Runs in the writer task, so it owns what it needs.
pub trait Closing: Send + Sync + 'static {
    /// The frames (final pushes, then the close frame) for `reason`.
    fn frames(&self, reason: DisconnectReason) -> Vec<Bytes>;
}

/// A door whose queued items are not finished WebSocket frames: the writer
/// turns each into its frame, in queue order, with state of the connection's
/// own (the Socket.IO door appends its recovery token and frames the text).
/// Owned by the writer task.
pub trait Framing: Send + 'static {
    /// The WebSocket frame for one queued item (empty: nothing to write).
    fn frame(&mut self, item: herald_core::Outgoing) -> Bytes;
}

/// One connection's protocol: everything the runtime does not do.
pub trait DoorSession: Send {
    /// The door's name, the `door` label of its metrics.
    const DOOR: &'static str;

    /// How the connection is kept alive.
    fn keep_alive(&self) -> KeepAlive;

    /// How long before the token's expiry [`token_expiring`](Self::token_expiring)
    /// runs; `None`: the connection just ends when its token does.
    fn expiry_warning(&self) -> Option<Duration> {
        None
    }

    /// Once the writer runs, before the first frame is read.
    fn start(&mut self) -> impl Future<Output = Flow> + Send {
        async { Flow::Continue }
    }

    /// A text frame.
    fn on_text(&mut self, text: &str) -> impl Future<Output = Flow> + Send;

    /// A binary frame.
    fn on_binary(&mut self, bytes: &[u8]) -> impl Future<Output = Flow> + Send;

    /// The token expires in [`expiry_warning`](Self::expiry_warning).
    fn token_expiring(&mut self) {}

    /// The reader failed: the ending, when the failure calls for a close
    /// frame (`None`: the peer is gone). The default closes a too-large
    /// message with 4503 and any other protocol error with 4500.
    fn read_error(&self, e: &WsError) -> Option<Ending> {
        read_error_reason(e).map(Ending::from)
    }

    /// The connection just left the hub (before the close is written).
    fn left(&mut self) {}
}

/// Why a reader failure ends a connection: a too-large message 4503, any
/// other protocol error 4500; `None` when the peer is just gone.
pub fn read_error_reason(e: &WsError) -> Option<DisconnectReason> {
    e.close_frame()?;
    match e.close_code() {
        1009 => Some(DisconnectReason::MessageTooLarge),
        _ => Some(DisconnectReason::ProtocolViolation),
    }
}
