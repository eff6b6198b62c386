//! The WebSocket handshake for `/realtime/v1/websocket` (and
//! `/socket/websocket`): the shared admission gate, then the `apikey` query
//! parameter (realtime-js always sends it) as the socket's credentials — in
//! development mode anything, with a token key a Herald token (anything
//! else: an anonymous socket, which a later `access_token` can sign in) —
//! and `vsn` (`1.0.0` or `2.0.0`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{Request, Response};
use herald_core::{ConnectionInit, ErrorCode, HeraldError, Identity, WireEncoder};
use herald_ws::frame;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use super::encoder::SupabaseEncoder;
use super::frames::Vsn;
use super::session::{Session, SupabaseClosing};
use crate::api_error::ApiError;
use crate::app::App;
use crate::door::admission::{self, Compression, Credentials};
use crate::door::runtime;
use crate::door::socket::Socket;
use crate::limits::IpSlot;

/// The query realtime-js sends: `apikey=…&vsn=2.0.0` (and `log_level`).
#[derive(Deserialize)]
pub struct ConnectQuery {
    apikey: Option<String>,
    vsn: Option<String>,
}

/// `GET /realtime/v1/websocket`.
pub async fn upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<ConnectQuery>,
    mut req: Request<Body>,
) -> Result<Response<Body>, ApiError> {
    if !app.config.supabase.enabled {
        return Err(HeraldError::new(ErrorCode::NotFound, "the Supabase door is off ([supabase] enabled)").into());
    }
    let Some(vsn) = Vsn::parse(q.vsn.as_deref()) else {
        return Err(HeraldError::bad_request("vsn must be 1.0.0 or 2.0.0").into());
    };
    let apikey = q.apikey.filter(|k| !k.is_empty());
    let Some(apikey) = apikey else {
        return Err(HeraldError::new(ErrorCode::Unauthorized, "apikey is required").into());
    };
    let (admitted, upgrade) = admission::admit_websocket(&app, peer, &mut req, Credentials::Later, Compression::Off)?;
    let identity = match app.auth.authenticate(Some(&apikey)) {
        Ok(identity) => super::roles::with_role_grants(&app.config.supabase, &apikey, identity),
        Err(_) => Identity::anonymous(),
    };
    let span = tracing::debug_span!("supabase", client_ip = %admitted.client_ip);
    let slot = admitted.slot;
    Ok(upgrade.start(span, move |io, _| run(app, io, identity, vsn, slot)))
}

/// Run one socket until it ends. `_slot` holds its place in its address's count.
async fn run<S>(app: Arc<App>, io: S, identity: Identity, vsn: Vsn, _slot: IpSlot)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let cc = &app.config.connection;
    let mut socket = Socket::new(&app, io, cc.max_message_size, None);
    let encoder = SupabaseEncoder::new(vsn);
    let wire: Arc<dyn WireEncoder> = encoder.clone();
    let conn = match app.hub.connect(ConnectionInit { identity, encoder: wire, queue: cc.queue }) {
        Ok(c) => c,
        Err(e) => return socket.refuse(&[frame::close(1013, &e.message)]).await,
    };
    encoder.set_connection(conn.id().clone());
    let span = tracing::info_span!("supabase_conn", id = %conn.id());
    let closing = Arc::new(SupabaseClosing { vsn, encoder: encoder.clone() });
    let mut session = Session {
        app: &app,
        conn: &conn,
        encoder,
        vsn,
        topics: Default::default(),
        next_binding: 1,
        limits: app.limits.for_connection(),
    };
    runtime::run(&app, &mut socket, &conn, closing, &mut session).instrument(span).await;
}
