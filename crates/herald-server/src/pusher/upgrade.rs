//! The WebSocket handshake for `/app/{key}`: the same origin and address
//! checks as the native door, no permessage-deflate (Pusher frames are small
//! JSON), then the socket is run by [`session`](super::session) — or, for an
//! unknown key, an unsupported protocol or an app over its connection
//! quota, refused with `pusher:error` and the close code pusher-js acts on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{Request, Response, StatusCode, header};
use herald_core::HeraldError;
use herald_ws::frame;
use herald_ws::handshake::{self, DeflateConfig};
use herald_ws::reader::{ReaderConfig, WsReader};
use herald_ws::writer::WsWriter;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use super::PusherApp;
use super::frames::error_frame;
use super::session::close;
use crate::app::App;
use crate::http_api::error_response;

/// The query pusher-js sends: `protocol=7&client=js&version=…`.
#[derive(Deserialize)]
pub struct ConnectQuery {
    protocol: Option<String>,
}

/// `GET /app/{key}`.
pub async fn upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(key): Path<String>,
    Query(q): Query<ConnectQuery>,
    mut req: Request<Body>,
) -> Response<Body> {
    if app.shutting_down() {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, &HeraldError::unavailable("server is shutting down"));
    }
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !app.auth.origins.allows(origin) {
        return error_response(
            StatusCode::FORBIDDEN,
            &HeraldError::new(herald_core::ErrorCode::PermissionDenied, "origin not allowed"),
        );
    }
    let client_ip = app.proxies.client_ip(peer.ip(), req.headers());
    let slot = match app.limits.admit_connection(client_ip) {
        Ok(s) => s,
        Err(e) => return crate::http_api::error(&e),
    };
    // Pusher frames are small JSON: no permessage-deflate.
    let no_deflate = DeflateConfig { enabled: false, threshold: 0, level: 1 };
    let negotiated = match handshake::negotiate(req.headers(), &no_deflate) {
        Ok(n) => n,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &HeraldError::bad_request(format!("{e}"))),
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return error_response(StatusCode::BAD_REQUEST, &HeraldError::bad_request("HTTP/1.1 upgrade required"));
    };
    let refusal = refusal(&app, &key, q.protocol.as_deref());
    tokio::spawn(
        async move {
            let Ok(upgraded) = on_upgrade.await else { return };
            let io = TokioIo::new(upgraded);
            match refusal {
                Ok(papp) => super::session::run(app, papp, io, slot).await,
                Err((code, message)) => refuse(&app, io, code, &message).await,
            }
        }
        .instrument(tracing::debug_span!("pusher", %client_ip)),
    );
    crate::native::upgrade::switching_protocols(negotiated)
}

/// The app for `key`, or the close code and message that refuse the socket.
fn refusal(app: &App, key: &str, protocol: Option<&str>) -> Result<Arc<PusherApp>, (u16, String)> {
    let Some(papp) = app.pusher.by_key(key) else {
        return Err((close::APP_UNKNOWN, format!("App key {key} not in this cluster")));
    };
    match protocol.map(str::parse::<u32>) {
        Some(Ok(5..=7)) => {}
        _ => return Err((close::BAD_PROTOCOL, "Unsupported protocol version (use protocol=7)".into())),
    }
    let max = papp.config.max_connections;
    if max > 0 && papp.socket_count() >= max {
        return Err((close::OVER_QUOTA, "App is over its connection quota".into()));
    }
    Ok(papp.clone())
}

/// Send `pusher:error` and close with `code`.
async fn refuse<S: AsyncRead + AsyncWrite + Send + Unpin>(app: &App, io: S, code: u16, message: &str) {
    let (rd, wr) = tokio::io::split(io);
    let mut reader = WsReader::new(rd, ReaderConfig { max_message_size: 4096, max_frame_size: 4096 }, None);
    let mut writer = WsWriter::new(wr);
    let t = Duration::from_secs(app.config.connection.write_timeout_secs.max(1));
    let frames = [error_frame(Some(code), message), frame::close(code, message)];
    let _ = tokio::time::timeout(t, writer.write_frames(&frames)).await;
    let _ = writer.shutdown().await;
    crate::native::session::linger(&mut reader).await;
}
