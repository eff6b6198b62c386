//! `GET /` with a WebSocket upgrade: the shared admission gate (the
//! credentials are Ably's, read from the query), then the session — or,
//! for bad credentials or an unknown format, an ERROR the client acts on
//! (40101 fails it; 40140–40149 make it renew its token) and a close.
//! `GET /` without an upgrade is not this door's: 404, as before it existed.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use herald_ably::error::code;
use herald_ably::{ErrorInfo, Format, ProtocolMessage, action};
use herald_ws::frame as ws_frame;
use serde::Deserialize;

use super::credentials;
use crate::api_error::ApiError;
use crate::app::App;
use crate::door::admission::{self, Compression, Credentials};
use crate::door::socket::Socket;

/// ably-js' connection query.
#[derive(Debug, Default, Deserialize)]
pub struct ConnectQuery {
    /// An API key (basic auth).
    pub key: Option<String>,
    /// A token (token auth).
    pub access_token: Option<String>,
    /// `json` or `msgpack`.
    pub format: Option<String>,
    /// `true`: the client wants HEARTBEAT messages (browsers, which cannot see WebSocket pings).
    pub heartbeats: Option<String>,
    /// `false`: do not deliver the connection's own messages back to it.
    pub echo: Option<String>,
    /// The clientId a key holder asks for.
    #[serde(rename = "clientId")]
    pub client_id: Option<String>,
    /// The connectionKey of a connection to resume.
    pub resume: Option<String>,
    /// The connectionKey of a connection to recover (another process's).
    pub recover: Option<String>,
}

/// `GET /`.
pub async fn upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<ConnectQuery>,
    mut req: Request<Body>,
) -> Result<Response<Body>, ApiError> {
    let wants_ws = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !wants_ws {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    let (admitted, upgrade) = admission::admit_websocket(&app, peer, &mut req, Credentials::Later, Compression::Off)?;
    let span = tracing::debug_span!("ably", client_ip = %admitted.client_ip);
    let slot = admitted.slot;
    let format = Format::from_param(q.format.as_deref());
    let auth = match format {
        Some(_) => credentials::connect(&app, q.key.as_deref(), q.access_token.as_deref(), q.client_id.as_deref()),
        None => Err(ErrorInfo::new(code::BAD_REQUEST, "format must be json or msgpack")),
    };
    Ok(upgrade.start(span, move |io, _| async move {
        let format = format.unwrap_or(Format::Json);
        match auth {
            Ok(auth) => super::session::run(app, io, slot, format, auth, q).await,
            Err(error) => {
                tracing::debug!(code = error.code, "refused: {}", error.message);
                let pm = ProtocolMessage { error: Some(error), ..ProtocolMessage::new(action::ERROR) };
                let frames = [super::frame(format, &pm), ws_frame::close(1000, "")];
                Socket::new(&app, io, REFUSED_MESSAGE_MAX, None).refuse(&frames).await;
            }
        }
    }))
}

/// Largest frame read from a refused socket while it closes.
const REFUSED_MESSAGE_MAX: usize = 4096;
