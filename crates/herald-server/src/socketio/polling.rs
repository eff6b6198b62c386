//! The polling transport: the handshake GET (admission through the door
//! runtime's gate; the session holds the address's connection slot), the
//! long-poll GET, and the POST of the client's packets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, header};
use herald_socketio::engineio::{EngineSession, Inbound, Transport};

use super::events::SocketIoSocket;
use super::sessions::PollingSession;
use super::{DOOR, engine_error};
use crate::api_error::ApiError;
use crate::app::App;
use crate::door::Flow;
use crate::door::admission::{self, Credentials};

fn text(body: impl Into<Body>, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(body.into());
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn payload(body: Vec<u8>) -> Response<Body> {
    let packets = 1 + body.iter().filter(|b| **b == 0x1e).count();
    metrics::counter!("herald_frames_sent_total", "door" => DOOR).increment(packets as u64);
    text(body, "text/plain; charset=UTF-8")
}

/// A handshake on polling: a new session, answered with its `open` packet.
pub fn handshake(
    app: &Arc<App>,
    peer: SocketAddr,
    req: &Request<Body>,
    token: Option<String>,
) -> Result<Response<Body>, ApiError> {
    let admitted = admission::admit(app, peer, req.uri(), req.headers(), Credentials::Later)?;
    let mut engine =
        EngineSession::new(app.socketio.new_sid(), Transport::Polling, app.config.socketio.engine(), Instant::now());
    let open = engine.on_poll().ok().flatten().unwrap_or_default();
    let socket = SocketIoSocket::new(app.clone(), token);
    let session = PollingSession::open(app, engine, socket, admitted.slot);
    tracing::debug!(sid = %session.sid, client_ip = %admitted.client_ip, "polling session opened");
    Ok(payload(open))
}

/// Ends a waiting GET that is dropped before its answer (the client went
/// away): the session closes, as engine.io's does.
struct WaitingPoll<'a>(&'a PollingSession, bool);

impl Drop for WaitingPoll<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.engine.lock().on_poll_aborted();
            self.0.poke();
        }
    }
}

/// A long-poll GET: what is queued, or wait for it.
pub async fn poll(session: Arc<PollingSession>) -> Response<Body> {
    let first = session.engine.lock().on_poll();
    match first {
        Err(e) => {
            session.poke();
            return engine_error(&e);
        }
        Ok(Some(body)) => return payload(body),
        Ok(None) => {}
    }
    let mut waiting = WaitingPoll(&session, false);
    loop {
        let notified = session.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(body) = session.engine.lock().take_poll_response() {
            waiting.1 = true;
            return payload(body);
        }
        notified.await;
    }
}

/// Whether a POST's body is `application/octet-stream` (Engine.IO 3's binary polling).
pub fn binary_body(req: &Request<Body>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"))
}

/// A POST's body, read up to one byte more than `max_payload` (enough to
/// know it is too long: then `max_payload + 1` filler bytes stand for it).
pub async fn read_body(req: Request<Body>, max_payload: usize) -> bytes::Bytes {
    match axum::body::to_bytes(req.into_body(), max_payload + 1).await {
        Ok(b) => b,
        Err(_) => bytes::Bytes::from(vec![b'6'; max_payload + 1]),
    }
}

/// A POST with the client's packets.
pub async fn post(session: Arc<PollingSession>, req: Request<Body>) -> Response<Body> {
    let binary = binary_body(&req);
    let max = session.engine.lock().config().max_payload;
    let body = read_body(req, max).await;
    post_body(session, &body, binary).await
}

/// A POST's body (read by this node, or by the node that forwarded it).
pub async fn post_body(session: Arc<PollingSession>, body: &[u8], binary: bool) -> Response<Body> {
    let begun = session.engine.lock().begin_post();
    if let Err(e) = begun {
        session.poke();
        return engine_error(&e);
    }
    let now = Instant::now();
    let messages = session.engine.lock().on_post(body, binary, now);
    let messages = match messages {
        Ok(m) => m,
        Err(e) => {
            session.poke();
            return engine_error(&e);
        }
    };
    metrics::counter!("herald_messages_received_total", "door" => DOOR).increment(messages.len() as u64);
    let mut direct = Vec::new();
    let mut ending = None;
    {
        let mut guard = session.socket.lock().await;
        let Some(socket) = guard.as_mut() else {
            return text("ok", "text/html");
        };
        let had_conn = socket.conn.is_some();
        for message in messages {
            let flow = match message {
                Inbound::Text(t) => socket.on_text(t, &mut direct).await,
                Inbound::Binary(b) => socket.on_binary(&b),
            };
            if let Flow::Close(end) = flow {
                ending = Some(end);
                break;
            }
        }
        if !had_conn && let Some(conn) = &socket.conn {
            session.connected(socket.app(), conn.clone());
        }
    }
    session.send(direct);
    match ending {
        Some(end) => session.end(end.reason),
        None => session.poke(),
    }
    text("ok", "text/html")
}
