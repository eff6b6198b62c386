//! The Engine.IO settings a session runs with, and the `open` packet that
//! announces them: `0{"sid","upgrades","pingInterval","pingTimeout","maxPayload"}`
//! (keys in this order, as engine.io writes them).

use std::time::Duration;

use serde::Serialize;

use super::Transport;

/// Default `pingInterval` (engine.io's default): 25 s.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(25);
/// Default `pingTimeout` (engine.io's default): 20 s.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// Default `maxPayload` (engine.io's `maxHttpBufferSize`): 1,000,000 bytes.
pub const DEFAULT_MAX_PAYLOAD: usize = 1_000_000;
/// Default time a client has to finish an upgrade (engine.io's `upgradeTimeout`): 10 s.
pub const DEFAULT_UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit of bytes buffered for a polling client between two GETs: 4 MiB.
pub const DEFAULT_MAX_BUFFERED: usize = 4 << 20;

/// Engine.IO settings of a session (all named, with documented defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Time between the server's pings.
    pub ping_interval: Duration,
    /// Time the client has to answer a ping with a pong.
    pub ping_timeout: Duration,
    /// Largest polling body or WebSocket message accepted, in bytes; also the
    /// most the server puts in one polling response (at least one packet).
    pub max_payload: usize,
    /// Time from the upgrade WebSocket's open to the client's `5`.
    pub upgrade_timeout: Duration,
    /// Most bytes buffered for a polling client that is not polling; past
    /// it the session is closed (a slow consumer).
    pub max_buffered: usize,
    /// Whether polling sessions may upgrade to WebSocket.
    pub allow_upgrades: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_timeout: DEFAULT_PING_TIMEOUT,
            max_payload: DEFAULT_MAX_PAYLOAD,
            upgrade_timeout: DEFAULT_UPGRADE_TIMEOUT,
            max_buffered: DEFAULT_MAX_BUFFERED,
            allow_upgrades: true,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Handshake<'a> {
    sid: &'a str,
    upgrades: &'a [&'a str],
    ping_interval: u128,
    ping_timeout: u128,
    max_payload: usize,
}

impl EngineConfig {
    /// The transports a session opened on `transport` may upgrade to.
    pub fn upgrades(&self, transport: Transport) -> &'static [&'static str] {
        match transport {
            Transport::Polling if self.allow_upgrades => &["websocket"],
            _ => &[],
        }
    }

    /// The handshake JSON for session `sid` opened on `transport`.
    pub fn handshake_json(&self, sid: &str, transport: Transport) -> String {
        let handshake = Handshake {
            sid,
            upgrades: self.upgrades(transport),
            ping_interval: self.ping_interval.as_millis(),
            ping_timeout: self.ping_timeout.as_millis(),
            max_payload: self.max_payload,
        };
        serde_json::to_string(&handshake).unwrap_or_default()
    }

    /// The `open` packet (`0{…}`) for session `sid` opened on `transport`.
    pub fn open_packet(&self, sid: &str, transport: Transport) -> String {
        format!("0{}", self.handshake_json(sid, transport))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_packets_match_engine_io() {
        // Captured from socket.io 4.8.4 (tests/fixtures/polling.txt and websocket.txt).
        let config = EngineConfig::default();
        assert_eq!(
            config.open_packet("JgRjzoiTGcazn2Z_AAAA", Transport::Polling),
            r#"0{"sid":"JgRjzoiTGcazn2Z_AAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        let config = EngineConfig {
            ping_interval: Duration::from_millis(200),
            ping_timeout: Duration::from_millis(1000),
            ..EngineConfig::default()
        };
        assert_eq!(
            config.open_packet("HTosT8gRaosVNZLUAAAC", Transport::Websocket),
            r#"0{"sid":"HTosT8gRaosVNZLUAAAC","upgrades":[],"pingInterval":200,"pingTimeout":1000,"maxPayload":1000000}"#
        );
    }

    #[test]
    fn upgrades_can_be_turned_off() {
        let config = EngineConfig { allow_upgrades: false, ..EngineConfig::default() };
        assert!(config.upgrades(Transport::Polling).is_empty());
    }
}
