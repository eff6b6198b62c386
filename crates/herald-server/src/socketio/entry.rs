//! The one route of the door, `/socket.io/`: Engine.IO's query checks (in
//! engine.io's order, refused with its error bodies), then a new WebSocket
//! session, an upgrade, a polling handshake, a poll or a POST.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Method as HttpMethod, Request, Response, header};
use axum::response::IntoResponse;
use herald_socketio::engineio::{EngineError, Method, Transport, parse_query};

use super::{engine_error, polling, websocket};
use crate::app::App;

/// `GET`/`POST /socket.io/`.
pub async fn entry(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    let method = match *req.method() {
        HttpMethod::GET => Method::Get,
        HttpMethod::POST => Method::Post,
        _ => Method::Other,
    };
    let ws = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let query = match parse_query(req.uri().query().unwrap_or(""), method, ws) {
        Ok(q) => q,
        Err(e) => return engine_error(&e),
    };
    match (query.transport, query.sid.as_deref()) {
        (Transport::Websocket, None) => {
            websocket::open(app, peer, req, query.token).unwrap_or_else(IntoResponse::into_response)
        }
        (Transport::Websocket, Some(sid)) => websocket::upgrade(app, req, sid),
        (Transport::Polling, None) => {
            polling::handshake(&app, peer, &req, query.token).unwrap_or_else(IntoResponse::into_response)
        }
        (Transport::Polling, Some(sid)) => match app.socketio.sessions.get(sid) {
            None => engine_error(&EngineError::UnknownSid),
            Some(session) if method == Method::Post => polling::post(session, req).await,
            Some(session) => polling::poll(session).await,
        },
    }
}
