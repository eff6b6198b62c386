//! The WebSocket handshake for `/ws`: the shared admission gate (the token
//! comes later, in the `connect` frame), permessage-deflate as configured,
//! 101, and the upgraded socket goes to a session.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Request, Response};

use crate::api_error::ApiError;
use crate::app::App;
use crate::door::admission::{self, Compression, Credentials};

/// `GET /ws`.
pub async fn ws_upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request<Body>,
) -> Result<Response<Body>, ApiError> {
    let (admitted, upgrade) =
        admission::admit_websocket(&app, peer, &mut req, Credentials::Later, Compression::Configured)?;
    let span = tracing::debug_span!("ws", client_ip = %admitted.client_ip);
    let slot = admitted.slot;
    Ok(upgrade.start(span, move |io, deflate| super::session::run(app, io, deflate, slot)))
}
