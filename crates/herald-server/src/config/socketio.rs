//! `[socketio]`: the Socket.IO door at `/socket.io/` (`docs/socketio.md`).
//! Engine.IO's settings keep engine.io's names and defaults.

use std::time::Duration;

use herald_socketio::engineio::{EngineConfig, handshake};
use herald_socketio::events::recovery::DEFAULT_MAX_TOKEN_LEN;
use herald_socketio::socketio::DEFAULT_MAX_ATTACHMENTS;
use serde::Deserialize;

/// `[socketio]`. Every limit has a documented default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketIoConfig {
    /// Serve `/socket.io/`. Default true.
    pub enabled: bool,
    /// Milliseconds between the server's pings (`pingInterval`). Default 25000.
    pub ping_interval_ms: u64,
    /// Milliseconds a client has to answer a ping (`pingTimeout`). Default 20000.
    pub ping_timeout_ms: u64,
    /// Largest polling body or WebSocket message, bytes (`maxPayload`);
    /// also the most one poll response carries. Default 1000000.
    pub max_payload: usize,
    /// Milliseconds from the upgrade WebSocket's open to the client's `5`. Default 10000.
    pub upgrade_timeout_ms: u64,
    /// Bytes waiting for a polling client before it is cut as a slow consumer. Default 4194304.
    pub max_buffered: usize,
    /// Let polling sessions upgrade to WebSocket. Default true.
    pub allow_upgrades: bool,
    /// Binary attachments per packet. Default 10.
    pub max_attachments: usize,
    /// Longest recovery token appended to events, bytes; longer sends `!`
    /// (the next reconnect is a fresh session). Default 8192.
    pub max_recovery_token: usize,
    /// Milliseconds a new session has to send its Socket.IO CONNECT. Default 45000 (socket.io's `connectTimeout`).
    pub connect_timeout_ms: u64,
    /// Milliseconds a closed polling session's sid stays known so its last
    /// poll can collect the final packets. Default 5000.
    pub closed_session_grace_ms: u64,
}

impl Default for SocketIoConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ping_interval_ms: handshake::DEFAULT_PING_INTERVAL.as_millis() as u64,
            ping_timeout_ms: handshake::DEFAULT_PING_TIMEOUT.as_millis() as u64,
            max_payload: handshake::DEFAULT_MAX_PAYLOAD,
            upgrade_timeout_ms: handshake::DEFAULT_UPGRADE_TIMEOUT.as_millis() as u64,
            max_buffered: handshake::DEFAULT_MAX_BUFFERED,
            allow_upgrades: true,
            max_attachments: DEFAULT_MAX_ATTACHMENTS,
            max_recovery_token: DEFAULT_MAX_TOKEN_LEN,
            connect_timeout_ms: 45_000,
            closed_session_grace_ms: 5_000,
        }
    }
}

impl SocketIoConfig {
    /// The Engine.IO session settings.
    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            ping_interval: Duration::from_millis(self.ping_interval_ms.max(1)),
            ping_timeout: Duration::from_millis(self.ping_timeout_ms.max(1)),
            max_payload: self.max_payload.max(64),
            upgrade_timeout: Duration::from_millis(self.upgrade_timeout_ms.max(1)),
            max_buffered: self.max_buffered,
            allow_upgrades: self.allow_upgrades,
        }
    }

    /// The time a new session has to connect.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.max(1))
    }
}
