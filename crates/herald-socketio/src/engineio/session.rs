//! One Engine.IO session as a state machine without IO. The door feeds it
//! requests, frames and the clock; it answers what to send, when to wake
//! and when the session is over. Behaviour follows the reference server
//! (`engine.io/lib/socket.ts`, `transports/polling.ts`):
//!
//! - **Outbox.** Everything for the client is queued here ([`EngineSession::send`]);
//!   on WebSocket the writer drains it ([`EngineSession::drain_websocket`]),
//!   on polling the pending GET does ([`EngineSession::take_poll_response`]),
//!   at most `maxPayload` bytes per response. More than `max_buffered`
//!   bytes waiting closes the session (a slow consumer).
//! - **Polling.** One GET and one POST at a time; a second one of either
//!   kind closes the session (the waiting GET is answered `1`). A malformed
//!   POST closes it ("parse error"); a client `1` ends the waiting GET with `6`.
//! - **Heartbeat.** The server pings every `pingInterval` after the last
//!   pong (or the open); no pong within `pingTimeout` closes the session.
//!   A ping from the client is an error (that is Engine.IO 3).
//! - **Upgrade.** A WebSocket with the session's sid begins it; `2probe` is
//!   answered `3probe` and from then a poll is answered at once (`6` when
//!   nothing waits), so the client can pause polling; `5` switches the
//!   session to the WebSocket. Anything else, or `upgradeTimeout`, fails
//!   the upgrade only: the session stays on polling.

use std::collections::VecDeque;
use std::time::Instant;

pub use super::message::{CloseReason, Inbound, Outgoing, TimerOutcome, UpgradeStep};
use super::packet::{PROBE, Packet};
use super::payload::{self, SEPARATOR};
use super::{EngineConfig, EngineError, Transport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    None,
    AwaitingProbe { deadline: Instant },
    Probed { deadline: Instant },
}

/// One Engine.IO session (see the module docs).
#[derive(Debug)]
pub struct EngineSession {
    sid: String,
    config: EngineConfig,
    transport: Transport,
    closed: Option<CloseReason>,
    outbox: VecDeque<Outgoing>,
    outbox_bytes: usize,
    poll_waiting: bool,
    /// The answer the waiting poll gets when nothing else is due (`1`/`6`).
    poll_final: Option<&'static str>,
    post_in_flight: bool,
    upgrade: Upgrade,
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
}

impl EngineSession {
    /// A session opened at `now` on `transport`; its `open` packet is the
    /// first thing in the outbox (the handshake GET's answer, or the first
    /// WebSocket frame).
    pub fn new(sid: String, transport: Transport, config: EngineConfig, now: Instant) -> Self {
        let open = config.open_packet(&sid, transport);
        let mut session = Self {
            next_ping: Some(now + config.ping_interval),
            sid,
            config,
            transport,
            closed: None,
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            poll_waiting: false,
            poll_final: None,
            post_in_flight: false,
            upgrade: Upgrade::None,
            pong_deadline: None,
        };
        session.push(Outgoing::text(open));
        session
    }

    /// The session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The session's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The transport the session runs on now.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Why the session ended, once it has.
    pub fn closed(&self) -> Option<CloseReason> {
        self.closed
    }

    /// Whether an upgrade to WebSocket is under way.
    pub fn upgrading(&self) -> bool {
        self.upgrade != Upgrade::None
    }

    /// Bytes waiting in the outbox.
    pub fn buffered_bytes(&self) -> usize {
        self.outbox_bytes
    }

    fn push(&mut self, packet: Outgoing) {
        self.outbox_bytes += packet.polling_len();
        self.outbox.push_back(packet);
    }

    /// Queue a packet for the client. A closed session refuses it; more
    /// than `max_buffered` bytes waiting closes the session (slow consumer).
    pub fn send(&mut self, packet: Outgoing) -> Result<(), CloseReason> {
        if let Some(reason) = self.closed {
            return Err(reason);
        }
        self.push(packet);
        if self.outbox_bytes > self.config.max_buffered {
            self.close(CloseReason::SlowConsumer);
            return Err(CloseReason::SlowConsumer);
        }
        Ok(())
    }

    /// Close the session. A server close is graceful: on polling the
    /// waiting (or next) GET gets what is queued, then `1`; on WebSocket the
    /// door writes what [`EngineSession::drain_websocket`] returns, then
    /// closes the socket. Any other reason drops what is queued; only a
    /// waiting GET is answered (`1`, or `6` when the client closed), and
    /// the sid is unknown from then on.
    pub fn close(&mut self, reason: CloseReason) {
        if self.closed.is_some() {
            return;
        }
        self.closed = Some(reason);
        self.upgrade = Upgrade::None;
        let graceful = reason == CloseReason::ServerClose;
        if !graceful {
            self.outbox.clear();
            self.outbox_bytes = 0;
        }
        if self.transport == Transport::Polling && (self.poll_waiting || graceful) {
            self.poll_final = Some(if reason == CloseReason::ClientClose { "6" } else { "1" });
        }
    }

    /// Whether the session is closed and has nothing left to deliver: the
    /// door forgets it (its sid is then unknown).
    pub fn finished(&self) -> bool {
        self.closed.is_some() && self.outbox.is_empty() && self.poll_final.is_none()
    }

    /// Everything queued, for the session's WebSocket (empty on polling,
    /// and during an upgrade until the client's `5`).
    pub fn drain_websocket(&mut self) -> Vec<Outgoing> {
        if self.transport != Transport::Websocket {
            return Vec::new();
        }
        self.outbox_bytes = 0;
        self.outbox.drain(..).collect()
    }

    fn polling_request(&self) -> Result<(), EngineError> {
        match (self.closed, self.transport) {
            (Some(_), _) if self.poll_final.is_none() && self.outbox.is_empty() => Err(EngineError::UnknownSid),
            (_, Transport::Websocket) => Err(EngineError::bad_request("polling request on an upgraded session")),
            _ => Ok(()),
        }
    }

    /// A polling GET arrived. `Some(body)` answers it at once; `None`
    /// means wait, then call [`EngineSession::take_poll_response`] when
    /// woken (a send, a ping, an upgrade step, a close). A second GET
    /// while one waits closes the session (the waiting one gets `1`).
    pub fn on_poll(&mut self) -> Result<Option<Vec<u8>>, EngineError> {
        self.polling_request()?;
        if self.poll_waiting {
            self.close(CloseReason::TransportError);
            return Err(EngineError::bad_request("overlapping GET requests"));
        }
        self.poll_waiting = true;
        Ok(self.take_poll_response())
    }

    /// The answer for the waiting GET, if one is due: queued packets (at
    /// most `maxPayload` bytes, at least one packet), else `6` during a
    /// probed upgrade or after the switch, else `1`/`6` once closed.
    pub fn take_poll_response(&mut self) -> Option<Vec<u8>> {
        if !self.poll_waiting {
            return None;
        }
        let body = if !self.outbox.is_empty() && self.transport == Transport::Polling {
            let mut body = Vec::new();
            while let Some(packet) = self.outbox.front() {
                let len = packet.polling_len();
                if !body.is_empty() && body.len() + 1 + len > self.config.max_payload {
                    break;
                }
                if !body.is_empty() {
                    body.push(SEPARATOR as u8);
                }
                packet.append_polling(&mut body);
                self.outbox_bytes -= len;
                self.outbox.pop_front();
            }
            if self.outbox.is_empty()
                && let Some(last) = self.poll_final.take()
            {
                body.push(SEPARATOR as u8);
                body.extend_from_slice(last.as_bytes());
            }
            body
        } else if let Some(last) = self.poll_final.take() {
            last.as_bytes().to_vec()
        } else if matches!(self.upgrade, Upgrade::Probed { .. }) || self.transport == Transport::Websocket {
            b"6".to_vec()
        } else {
            return None;
        };
        self.poll_waiting = false;
        Some(body)
    }

    /// The waiting GET's connection closed before it was answered: the
    /// session is closed, as engine.io does.
    pub fn on_poll_aborted(&mut self) {
        if self.poll_waiting {
            self.poll_waiting = false;
            self.close(CloseReason::TransportError);
        }
    }

    /// A polling POST arrived (before its body is read). A second one
    /// while one is in flight closes the session.
    pub fn begin_post(&mut self) -> Result<(), EngineError> {
        self.polling_request()?;
        if self.closed.is_some() {
            return Err(EngineError::UnknownSid);
        }
        if self.post_in_flight {
            self.close(CloseReason::TransportError);
            return Err(EngineError::bad_request("overlapping POST requests"));
        }
        self.post_in_flight = true;
        Ok(())
    }

    /// The POST's body (read up to `maxPayload + 1` bytes; `binary` if it
    /// came as `application/octet-stream`). Returns the client's messages;
    /// `Ok` is answered `ok`. Too long is 413 and keeps the session; a
    /// binary or malformed body closes it.
    pub fn on_post<'a>(&mut self, body: &'a [u8], binary: bool, now: Instant) -> Result<Vec<Inbound<'a>>, EngineError> {
        self.post_in_flight = false;
        if self.closed.is_some() {
            return Err(EngineError::UnknownSid);
        }
        let packets = if binary {
            Err(EngineError::malformed("Engine.IO 4 polling bodies are text"))
        } else {
            std::str::from_utf8(body)
                .map_err(|_| EngineError::malformed("polling body is not UTF-8"))
                .and_then(|text| payload::decode(text, self.config.max_payload))
        };
        let packets = match packets {
            Ok(packets) => packets,
            Err(e @ EngineError::PayloadTooLarge { .. }) => return Err(e),
            Err(e) => {
                self.close(CloseReason::ParseError);
                return Err(e);
            }
        };
        let mut messages = Vec::with_capacity(packets.len());
        for packet in packets {
            match self.on_packet(packet, now)? {
                Some(message) => messages.push(message),
                None if self.closed.is_some() => break,
                None => {}
            }
        }
        Ok(messages)
    }

    /// A frame on the session's own WebSocket (after the handshake on
    /// WebSocket, or after the upgrade; a message over `maxPayload` closes
    /// the session, though the door's reader should stop it sooner), decoded with
    /// [`Packet::decode_text`] (no base64) or [`Packet::decode_binary`].
    /// After `1` ([`EngineSession::closed`]) the door closes the socket.
    pub fn on_websocket_packet<'a>(
        &mut self,
        packet: Packet<'a>,
        now: Instant,
    ) -> Result<Option<Inbound<'a>>, EngineError> {
        if self.closed.is_some() {
            return Err(EngineError::UnknownSid);
        }
        if self.transport != Transport::Websocket {
            return Err(EngineError::bad_request("the session is not on WebSocket"));
        }
        let len = match &packet {
            Packet::Message(text) => text.len() + 1,
            Packet::Binary(bytes) => bytes.len(),
            _ => 0,
        };
        if len > self.config.max_payload {
            self.close(CloseReason::MessageTooLarge);
            return Err(EngineError::PayloadTooLarge { len, max: self.config.max_payload });
        }
        self.on_packet(packet, now)
    }

    fn on_packet<'a>(&mut self, packet: Packet<'a>, now: Instant) -> Result<Option<Inbound<'a>>, EngineError> {
        match packet {
            Packet::Message(text) => Ok(Some(Inbound::Text(text))),
            Packet::Binary(bytes) => Ok(Some(Inbound::Binary(bytes))),
            Packet::Pong(_) => {
                self.pong_deadline = None;
                self.next_ping = Some(now + self.config.ping_interval);
                Ok(None)
            }
            Packet::Close => {
                self.close(CloseReason::ClientClose);
                Ok(None)
            }
            Packet::Noop => Ok(None),
            Packet::Ping(_) => {
                self.close(CloseReason::TransportError);
                Err(EngineError::bad_request("invalid heartbeat direction: the server pings in Engine.IO 4"))
            }
            Packet::Open(_) | Packet::Upgrade => {
                self.close(CloseReason::ParseError);
                Err(EngineError::malformed("open and upgrade packets are not expected here"))
            }
        }
    }

    /// A WebSocket with this session's sid opened: the upgrade begins.
    pub fn begin_upgrade(&mut self, now: Instant) -> Result<(), EngineError> {
        if self.closed.is_some() {
            return Err(EngineError::UnknownSid);
        }
        if self.transport != Transport::Polling || !self.config.allow_upgrades || self.upgrading() {
            return Err(EngineError::bad_request("the session cannot upgrade (again)"));
        }
        self.upgrade = Upgrade::AwaitingProbe { deadline: now + self.config.upgrade_timeout };
        Ok(())
    }

    /// A frame on the upgrading WebSocket.
    pub fn on_upgrade_packet(&mut self, packet: &Packet<'_>) -> UpgradeStep {
        match (self.upgrade, packet) {
            (Upgrade::AwaitingProbe { deadline }, Packet::Ping(PROBE)) => {
                self.upgrade = Upgrade::Probed { deadline };
                UpgradeStep::SendProbe("3probe")
            }
            (Upgrade::Probed { .. }, Packet::Upgrade) if self.closed.is_none() => {
                self.upgrade = Upgrade::None;
                self.transport = Transport::Websocket;
                UpgradeStep::Upgraded
            }
            _ => {
                self.upgrade = Upgrade::None;
                UpgradeStep::Failed
            }
        }
    }

    /// The upgrading WebSocket closed before the switch.
    pub fn on_upgrade_aborted(&mut self) {
        self.upgrade = Upgrade::None;
    }

    /// When the door must call [`EngineSession::on_timer`] next.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.closed.is_some() {
            return None;
        }
        let upgrade = match self.upgrade {
            Upgrade::None => None,
            Upgrade::AwaitingProbe { deadline } | Upgrade::Probed { deadline } => Some(deadline),
        };
        [self.next_ping, self.pong_deadline, upgrade].into_iter().flatten().min()
    }

    /// Run the timers due at `now`: ping, ping timeout, upgrade timeout.
    pub fn on_timer(&mut self, now: Instant) -> TimerOutcome {
        let mut outcome = TimerOutcome::default();
        if self.closed.is_some() {
            return outcome;
        }
        if self.pong_deadline.is_some_and(|d| now >= d) {
            self.close(CloseReason::PingTimeout);
            outcome.closed = true;
            return outcome;
        }
        if let Upgrade::AwaitingProbe { deadline } | Upgrade::Probed { deadline } = self.upgrade
            && now >= deadline
        {
            self.upgrade = Upgrade::None;
            outcome.upgrade_timed_out = true;
        }
        if self.next_ping.is_some_and(|at| now >= at) {
            self.next_ping = None;
            self.pong_deadline = Some(now + self.config.ping_timeout);
            self.push(Outgoing::text("2"));
            outcome.pinged = true;
        }
        outcome
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
