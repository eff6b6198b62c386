//! The WebSocket handshake for `/ws`: validate the upgrade request, negotiate
//! permessage-deflate, answer 101, and hand the upgraded socket to a session.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use herald_core::{ErrorCode, HeraldError};
use herald_ws::handshake::{self, DeflateConfig, Negotiated};
use hyper_util::rt::TokioIo;
use tracing::Instrument;

use crate::app::App;
use crate::http_api::error_response;

/// `GET /ws`.
pub async fn ws_upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request<Body>,
) -> Response<Body> {
    if app.shutting_down() {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeraldError::unavailable("server is shutting down; connect to another node"),
        );
    }
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !app.auth.origins.allows(origin) {
        metrics::counter!("herald_origin_refused_total").increment(1);
        return error_response(
            StatusCode::FORBIDDEN,
            &HeraldError::new(ErrorCode::PermissionDenied, format!("origin {} is not allowed", origin.unwrap_or(""))),
        );
    }
    let client_ip = app.proxies.client_ip(peer.ip(), req.headers());
    let slot = match app.limits.admit_connection(client_ip) {
        Ok(s) => s,
        Err(e) => return crate::http_api::error(&e),
    };
    let ws = &app.config.websocket;
    let deflate_cfg =
        DeflateConfig { enabled: ws.compression, threshold: ws.compression_threshold, level: ws.compression_level };
    let negotiated = match negotiate(req.headers(), &deflate_cfg) {
        Ok(n) => n,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &e),
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return error_response(
            StatusCode::BAD_REQUEST,
            &HeraldError::bad_request("connection cannot be upgraded (HTTP/1.1 required)"),
        );
    };
    let deflate = negotiated.deflate;
    tokio::spawn(
        async move {
            match on_upgrade.await {
                Ok(upgraded) => super::session::run(app, TokioIo::new(upgraded), deflate, slot).await,
                Err(e) => tracing::debug!(error = %e, "upgrade failed"),
            }
        }
        .instrument(tracing::debug_span!("ws", %client_ip)),
    );
    switching_protocols(negotiated)
}

/// Validate a WebSocket upgrade request and negotiate its extensions; a
/// clear `bad_request` when it is not a valid upgrade.
pub(crate) fn negotiate(headers: &HeaderMap, deflate: &DeflateConfig) -> Result<Negotiated, HeraldError> {
    handshake::negotiate(headers, deflate)
        .map_err(|e| HeraldError::new(ErrorCode::BadRequest, format!("not a valid WebSocket upgrade: {e}")))
}

/// The 101 answer for a negotiated handshake.
pub(crate) fn switching_protocols(negotiated: Negotiated) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&negotiated.accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(ext) = negotiated.response_extensions {
        h.insert(header::SEC_WEBSOCKET_EXTENSIONS, ext);
    }
    resp
}
