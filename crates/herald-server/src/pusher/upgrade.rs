//! The WebSocket handshake for `/app/{key}`: the shared admission gate (no
//! token: Pusher sockets are anonymous), no permessage-deflate (Pusher frames
//! are small JSON), then the socket is run by [`session`](super::session) — or, for an
//! unknown key, an unsupported protocol or an app over its connection
//! quota, refused with `pusher:error` and the close code pusher-js acts on.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{Request, Response};
use herald_ws::frame;
use serde::Deserialize;

use super::PusherApp;
use super::frames::error_frame;
use super::session::close;
use crate::api_error::ApiError;
use crate::app::App;
use crate::door::admission::{self, Compression, Credentials};
use crate::door::socket::Socket;

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
) -> Result<Response<Body>, ApiError> {
    // Pusher frames are small JSON: no permessage-deflate.
    let (admitted, upgrade) = admission::admit_websocket(&app, peer, &mut req, Credentials::Later, Compression::Off)?;
    let refusal = refusal(&app, &key, q.protocol.as_deref());
    let span = tracing::debug_span!("pusher", client_ip = %admitted.client_ip);
    let slot = admitted.slot;
    Ok(upgrade.start(span, move |io, _| async move {
        match refusal {
            Ok(papp) => super::session::run(app, papp, io, slot).await,
            Err((code, message)) => {
                let frames = [error_frame(code, &message), frame::close(code, &message)];
                Socket::new(&app, io, REFUSED_MESSAGE_MAX, None).refuse(&frames).await;
            }
        }
    }))
}

/// Largest frame read from a refused socket while it closes.
const REFUSED_MESSAGE_MAX: usize = 4096;

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
