//! The WebSocket transport on the door runtime: a session opened on
//! WebSocket (`transport=websocket`, no sid: the `open` packet, then
//! CONNECT), or the upgrade of a polling session (`2probe`/`3probe`, the
//! waiting poll ended with `6`, then `5`; what the session had queued is
//! written first). Either way the runtime then runs the socket: Engine.IO
//! pings as its keep-alive, the writer stamping recovery tokens
//! ([`Stamper`]), Socket.IO's close table ([`SocketIoClosing`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use bytes::Bytes;
use herald_core::DisconnectReason;
use herald_socketio::engineio::{
    EngineError, EngineSession, Outgoing as EngineOut, Packet as EnginePacket, Transport, UpgradeStep, generate_sid,
};
use herald_socketio::events::RecoveryVector;
use herald_ws::frame;
use herald_ws::reader::Message;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use super::events::SocketIoSocket;
use super::framing::Stamper;
use super::sessions::PollingSession;
use super::{DOOR, SocketIoClosing, engine_error};
use crate::api_error::ApiError;
use crate::app::App;
use crate::door::admission::{self, Compression, Credentials};
use crate::door::socket::Socket;
use crate::door::{Closing, DoorSession, Ending, Flow, KeepAlive, read_error_reason, runtime};
use crate::limits::IpSlot;

/// A new session on WebSocket.
pub fn open(
    app: Arc<App>,
    peer: SocketAddr,
    mut req: Request<Body>,
    token: Option<String>,
) -> Result<Response<Body>, ApiError> {
    let (admitted, upgrade) = admission::admit_websocket(&app, peer, &mut req, Credentials::Later, Compression::Off)?;
    let span = tracing::debug_span!("socketio", client_ip = %admitted.client_ip);
    let slot = admitted.slot;
    Ok(upgrade.start(span, move |io, _| serve_new(app, io, slot, token)))
}

async fn serve_new<S>(app: Arc<App>, io: S, _slot: IpSlot, token: Option<String>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let cfg = app.config.socketio.engine();
    let mut socket = Socket::new(&app, io, cfg.max_payload, None);
    let mut engine = EngineSession::new(generate_sid(), Transport::Websocket, cfg, Instant::now());
    let open: Vec<Bytes> = engine.drain_websocket().iter().map(ws_frame).collect();
    if !socket.send(&open).await {
        return;
    }
    let stamper = Stamper::new(RecoveryVector::new(), app.config.socketio.max_recovery_token);
    let sock = SocketIoSocket::new(app.clone(), token);
    serve(app, socket, sock, stamper).await;
}

/// The upgrade of polling session `sid` to WebSocket.
pub fn upgrade(app: Arc<App>, mut req: Request<Body>, sid: &str) -> Response<Body> {
    let Some(session) = app.socketio.sessions.get(sid) else {
        return engine_error(&EngineError::UnknownSid);
    };
    if let Err(e) = admission::check_origin(&app, req.headers()) {
        return ApiError::from(e).into_response();
    }
    let upgrade = match admission::upgrade(&app, &mut req, Compression::Off) {
        Ok(u) => u,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let begun = session.engine.lock().begin_upgrade(Instant::now());
    if let Err(e) = begun {
        return engine_error(&e);
    }
    let span = tracing::debug_span!("socketio", sid = %session.sid);
    upgrade.start(span, move |io, _| serve_upgrade(app, io, session))
}

async fn serve_upgrade<S>(app: Arc<App>, io: S, session: Arc<PollingSession>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let cfg = app.config.socketio.engine();
    let mut socket = Socket::new(&app, io, cfg.max_payload, None);
    let deadline = tokio::time::Instant::now() + cfg.upgrade_timeout;
    loop {
        let msg = tokio::time::timeout_at(deadline, socket.reader.next()).await;
        let step = match msg {
            Ok(Ok(Some(Message::Text(text)))) => {
                match EnginePacket::decode_text(std::str::from_utf8(&text).unwrap_or(""), false) {
                    Ok(packet) => session.engine.lock().on_upgrade_packet(&packet),
                    Err(_) => UpgradeStep::Failed,
                }
            }
            Ok(Ok(Some(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => UpgradeStep::Failed,
        };
        match step {
            UpgradeStep::SendProbe(probe) => {
                if !socket.send(&[frame::text(probe.as_bytes())]).await {
                    session.engine.lock().on_upgrade_aborted();
                    return;
                }
                session.wake.notify_waiters();
            }
            UpgradeStep::Upgraded => break,
            UpgradeStep::Failed => {
                session.engine.lock().on_upgrade_aborted();
                session.poke();
                return socket.refuse(&[frame::close(1000, "upgrade failed")]).await;
            }
        }
    }
    // The waiting poll ends with `6`; the pump hands over the recovery positions.
    session.wake.notify_waiters();
    let Some(stamper) = session.hand_over().await else {
        app.socketio.sessions.remove(&session.sid);
        return socket.refuse(&[frame::close(1000, "")]).await;
    };
    let queued: Vec<Bytes> = session.engine.lock().drain_websocket().iter().map(ws_frame).collect();
    let sock = session.socket.lock().await.take();
    if let Some(sock) = sock
        && socket.send(&queued).await
    {
        serve(app.clone(), socket, sock, stamper).await;
    }
    app.socketio.sessions.remove(&session.sid);
}

fn ws_frame(packet: &EngineOut) -> Bytes {
    match packet {
        EngineOut::Text(t) => frame::text(t),
        EngineOut::Binary(b) => frame::binary(b),
    }
}

/// Until CONNECT (unless it came on polling), then the runtime.
async fn serve<S>(app: Arc<App>, mut socket: Socket<S>, mut sock: SocketIoSocket, stamper: Stamper)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    if sock.conn.is_none()
        && let Err(reason) = await_connect(&app, &mut socket, &mut sock).await
    {
        if let Some(reason) = reason {
            socket.refuse(&SocketIoClosing.frames(reason)).await;
        }
        return;
    }
    let Some(conn) = sock.conn.clone() else { return };
    let span = tracing::info_span!("conn", id = %conn.id(), user = conn.user().map(|u| u.to_string()));
    let mut session = WsSession { app: app.clone(), sock };
    let closing = Arc::new(SocketIoClosing);
    runtime::run_framed(&app, &mut socket, &conn, closing, &mut session, Some(Box::new(stamper)))
        .instrument(span)
        .await;
}

/// Read until a CONNECT succeeds (refusals are answered and the wait goes
/// on, as socket.io's), within `connect_timeout_ms`. `Err(None)`: the peer left.
async fn await_connect<S>(
    app: &App,
    socket: &mut Socket<S>,
    sock: &mut SocketIoSocket,
) -> Result<(), Option<DisconnectReason>>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let deadline = tokio::time::Instant::now() + app.config.socketio.connect_timeout();
    while sock.conn.is_none() {
        let msg = match tokio::time::timeout_at(deadline, socket.reader.next()).await {
            Err(_) => return Err(Some(DisconnectReason::ConnectTimeout)),
            Ok(Err(e)) => return Err(read_error_reason(&e)),
            Ok(Ok(None)) => return Err(None),
            Ok(Ok(Some(m))) => m,
        };
        let mut direct = Vec::new();
        let flow = match msg {
            Message::Text(text) => on_engine_text(sock, std::str::from_utf8(&text).unwrap_or(""), &mut direct).await,
            Message::Binary(bytes) => sock.on_binary(&bytes),
            Message::Ping(p) => {
                socket.send(&[frame::pong(&p)]).await;
                Flow::Continue
            }
            Message::Pong(_) => Flow::Continue,
            Message::Close(_) => return Err(None),
        };
        if let Flow::Close(end) = flow {
            return Err(Some(end.reason));
        }
        let frames: Vec<Bytes> = direct.iter().map(|p| frame::text(p)).collect();
        if !frames.is_empty() && !socket.send(&frames).await {
            return Err(None);
        }
    }
    Ok(())
}

/// One Engine.IO text frame: a message for the Socket.IO layer, a pong,
/// or the client's close.
async fn on_engine_text(sock: &mut SocketIoSocket, text: &str, direct: &mut Vec<Bytes>) -> Flow {
    match EnginePacket::decode_text(text, false) {
        Ok(EnginePacket::Message(t)) => sock.on_text(t, direct).await,
        Ok(EnginePacket::Pong(_) | EnginePacket::Noop) => Flow::Continue,
        Ok(EnginePacket::Close) => Flow::Close(Ending::with_detail(DisconnectReason::Disconnected, 1000, "")),
        Ok(_) | Err(_) => {
            tracing::debug!("malformed or unexpected engine.io packet");
            DisconnectReason::ProtocolViolation.into()
        }
    }
}

/// A connected socket on the door runtime.
struct WsSession {
    app: Arc<App>,
    sock: SocketIoSocket,
}

impl DoorSession for WsSession {
    const DOOR: &'static str = DOOR;

    fn keep_alive(&self) -> KeepAlive {
        let cfg = self.app.config.socketio.engine();
        KeepAlive::Interval { every: cfg.ping_interval, timeout: cfg.ping_timeout, ping: Bytes::from_static(b"2") }
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        let mut direct = Vec::new();
        let flow = on_engine_text(&mut self.sock, text, &mut direct).await;
        if let Some(conn) = &self.sock.conn {
            for packet in direct {
                let _ = conn.outbound.push_frame(packet);
            }
        }
        flow
    }

    async fn on_binary(&mut self, bytes: &[u8]) -> Flow {
        self.sock.on_binary(bytes)
    }
}
