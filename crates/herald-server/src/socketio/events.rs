//! One Socket.IO socket's packets, whatever the transport: CONNECT
//! (`connect.rs`), DISCONNECT, and client events as hub requests answered
//! by acks (`subscribe`, `unsubscribe`, `publish`, `presence`, `broadcast`,
//! `typing`), with `[limits]` applied. Binary events are assembled and
//! refused (113): Herald's publications are JSON.

use std::sync::Arc;

use bytes::Bytes;
use herald_core::{Caller, Connection, DisconnectReason, ErrorCode, HeraldError, Outgoing, Payload};
use herald_socketio::events::requests::{
    OK, ack_message, binary_refused, error_body, error_event, presence_ok, publish_ok, subscribe_ok, subscribed_event,
    unsubscribed_event,
};
use herald_socketio::events::{ClientRequest, parse_client_event, publication_event};
use herald_socketio::socketio::{Assembler, BinaryPacket, MAIN_NAMESPACE, Packet, PacketKind};
use tracing::Instrument;

use crate::app::App;
use crate::door::{Ending, Flow};
use crate::limits::{ConnectionLimit, ConnectionLimits};

/// The Socket.IO layer of one Engine.IO session.
pub struct SocketIoSocket {
    app: Arc<App>,
    /// The hub connection, once CONNECT succeeded.
    pub conn: Option<Arc<Connection>>,
    query_token: Option<String>,
    assembler: Assembler,
    limits: ConnectionLimits,
}

impl SocketIoSocket {
    /// A socket not yet connected; `query_token` is the `token` query parameter.
    pub fn new(app: Arc<App>, query_token: Option<String>) -> Self {
        let limits = app.limits.for_connection();
        SocketIoSocket { app, conn: None, query_token, assembler: Assembler::default(), limits }
    }

    /// The server state it runs on.
    pub fn app(&self) -> &App {
        &self.app
    }

    fn push(&self, text: String) {
        if let Some(conn) = &self.conn {
            let _ = conn.outbound.push_frame(Bytes::from(text));
        }
    }

    /// A text message (a Socket.IO packet). Packets for a socket that has no
    /// hub connection yet (CONNECT's refusals) go to `direct`.
    pub async fn on_text(&mut self, text: &str, direct: &mut Vec<Bytes>) -> Flow {
        let max = self.app.config.socketio.max_attachments;
        let packet = match Packet::decode(text, max) {
            Ok(p) => p,
            Err(e) => return protocol_error(&e),
        };
        match self.assembler.on_packet(&packet) {
            Ok(Some(binary)) => return self.on_binary_packet(binary),
            Ok(None) if packet.kind.is_binary() => return Flow::Continue,
            Ok(None) => {}
            Err(e) => return protocol_error(&e),
        }
        match packet.kind {
            PacketKind::Connect if self.conn.is_none() => {
                match super::connect::connect(&self.app, &packet, self.query_token.as_deref()).await {
                    Ok(conn) => self.conn = Some(conn),
                    Err(refusal) => direct.push(refusal),
                }
                Flow::Continue
            }
            PacketKind::Connect if packet.namespace != MAIN_NAMESPACE => {
                direct_or_queue(self, direct, herald_socketio::socketio::server::invalid_namespace(packet.namespace));
                Flow::Continue
            }
            PacketKind::Connect => Flow::Continue,
            PacketKind::Disconnect if packet.namespace == MAIN_NAMESPACE => {
                Flow::Close(Ending::with_detail(DisconnectReason::Disconnected, 1000, ""))
            }
            PacketKind::Event if packet.namespace == MAIN_NAMESPACE && self.conn.is_some() => {
                self.on_event(&packet).await
            }
            PacketKind::ConnectError => protocol_error("CONNECT_ERROR from a client"),
            // Acks (the server asks none), packets of namespaces not connected.
            _ => Flow::Continue,
        }
    }

    /// A binary message (an attachment).
    pub fn on_binary(&mut self, bytes: &[u8]) -> Flow {
        match self.assembler.on_attachment(Bytes::copy_from_slice(bytes)) {
            Ok(Some(binary)) => self.on_binary_packet(binary),
            Ok(None) => Flow::Continue,
            Err(e) => protocol_error(&e),
        }
    }

    fn on_binary_packet(&mut self, packet: BinaryPacket) -> Flow {
        if packet.kind == PacketKind::BinaryEvent && packet.namespace == MAIN_NAMESPACE && self.conn.is_some() {
            let name = serde_json::from_str::<Vec<serde_json::Value>>(&packet.data)
                .ok()
                .and_then(|v| v.first().and_then(|n| n.as_str().map(str::to_string)))
                .unwrap_or_default();
            self.answer(packet.id, &name, Err(binary_refused()));
        }
        Flow::Continue
    }

    async fn on_event(&mut self, packet: &Packet<'_>) -> Flow {
        let (name, args) = match packet.event() {
            Ok(e) => e,
            Err(e) => return protocol_error(&e),
        };
        let Some(conn) = self.conn.clone() else { return Flow::Continue };
        let result = match self.limits.check(ConnectionLimit::Request) {
            Ok(()) => match parse_client_event(&name, &args) {
                Ok(request) => self.request(&conn, packet.id, request).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match result {
            Ok(None) => Flow::Continue,
            Ok(Some(body)) => {
                self.answer(packet.id, &name, Ok(body));
                Flow::Continue
            }
            Err(e) => {
                let abusive = e.code == ErrorCode::TooManyRequests && self.limits.record_refusal();
                self.answer(packet.id, &name, Err(e));
                if abusive { DisconnectReason::TooManyRequests.into() } else { Flow::Continue }
            }
        }
    }

    /// The ack (or, without an ack id, `herald:error` for a failure).
    fn answer(&self, id: Option<u64>, event: &str, result: Result<String, HeraldError>) {
        match (id, result) {
            (Some(id), Ok(body)) => self.push(ack_message(id, &body)),
            (Some(id), Err(e)) => self.push(ack_message(id, &error_body(&e))),
            (None, Ok(_)) => {}
            (None, Err(e)) => self.push(error_event(event, &e)),
        }
    }

    /// Run one request; `Ok(None)` when it queued its own answer.
    async fn request(
        &self,
        conn: &Arc<Connection>,
        id: Option<u64>,
        request: ClientRequest,
    ) -> Result<Option<String>, HeraldError> {
        let hub = &self.app.hub;
        let body = match request {
            ClientRequest::Subscribe { channel, since } => {
                self.limits.check(ConnectionLimit::Subscribe)?;
                let span = tracing::debug_span!("subscribe", %channel);
                let pending = hub.subscribe(conn, channel.clone(), since.clone()).instrument(span).await?;
                let recovered = pending.recovery.as_ref().map(|r| r.recovered);
                // The recovery token follows what this connection has: `since`
                // when it is continued from there, else the channel's top.
                let from = match (since, recovered) {
                    (Some(since), Some(true)) => since,
                    _ => pending.top.clone(),
                };
                self.push(subscribed_event(&channel, &from));
                if let Some(id) = id {
                    self.push(ack_message(id, &subscribe_ok(&channel, &pending.top, recovered)));
                }
                for p in pending.recovery.iter().flat_map(|r| r.publications.iter()) {
                    let frame = Bytes::from(publication_event(p));
                    let _ = conn.outbound.push(Outgoing { frame, publication: Some(p.clone()) });
                }
                pending.activate();
                return Ok(None);
            }
            ClientRequest::Unsubscribe { channel } => {
                hub.unsubscribe(conn, &channel)?;
                self.push(unsubscribed_event(&channel));
                OK.to_string()
            }
            ClientRequest::Publish { channel, data, idempotency_key } => {
                if let Some(user) = conn.user() {
                    self.app.limits.check_publish(user)?;
                }
                let span = tracing::debug_span!("publish", %channel);
                let key = idempotency_key.map(Arc::from);
                let p = hub.publish(Caller::Client(conn), channel, data, key).instrument(span).await?;
                publish_ok(&p)
            }
            ClientRequest::Presence { channel } => {
                let members = hub.presence(Caller::Client(conn), &channel)?;
                presence_ok(&channel, &members)
            }
            ClientRequest::Broadcast { channel, event, data } => {
                self.limits.check(ConnectionLimit::ClientEvent)?;
                let data = data.unwrap_or_else(|| Payload::from_value(&serde_json::Value::Null));
                hub.client_event(conn, &channel, &event, &data)?;
                OK.to_string()
            }
            ClientRequest::Typing { channel } => {
                self.limits.check(ConnectionLimit::ClientEvent)?;
                hub.typing(conn, &channel)?;
                OK.to_string()
            }
        };
        Ok(Some(body))
    }
}

fn direct_or_queue(socket: &SocketIoSocket, direct: &mut Vec<Bytes>, text: String) {
    match &socket.conn {
        Some(_) => socket.push(text),
        None => direct.push(Bytes::from(text)),
    }
}

/// A packet socket.io's parser refuses: the session ends, as socket.io's does.
fn protocol_error(e: impl std::fmt::Display) -> Flow {
    tracing::debug!(error = %e, "malformed socket.io packet");
    DisconnectReason::ProtocolViolation.into()
}
