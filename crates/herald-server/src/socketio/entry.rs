//! The one route of the door, `/socket.io/`: Engine.IO's query checks (in
//! engine.io's order, refused with its error bodies), then a new WebSocket
//! session, an upgrade, a polling handshake, a poll or a POST.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Method as HttpMethod, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use herald_socketio::engineio::{EngineError, Method, Transport, parse_query};

use super::{engine_error, polling, relay, websocket};
use crate::app::App;

/// `GET`/`POST /socket.io/` (and the CORS preflight).
pub async fn entry(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    // A page of an allowed origin polls from another origin (a Next.js app
    // beside Herald): its answers carry CORS headers, as socket.io's `cors`
    // option does. Origins the gate refuses get none (and are refused).
    let origin = req.headers().get(header::ORIGIN).filter(|o| app.auth.origins.allows(o.to_str().ok())).cloned();
    let mut resp = if req.method() == HttpMethod::OPTIONS {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type, authorization"));
        resp
    } else {
        route(app, peer, req).await
    };
    if let Some(origin) = origin {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

async fn route(app: Arc<App>, peer: SocketAddr, req: Request<Body>) -> Response<Body> {
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
            None => match relay::owner(&app, sid) {
                Some((node, relay)) => relay::forward(&app, &relay, node, sid, req).await,
                None => engine_error(&EngineError::UnknownSid),
            },
            Some(session) if method == Method::Post => polling::post(session, req).await,
            Some(session) => polling::poll(session).await,
        },
    }
}
