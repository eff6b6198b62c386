//! The handshake for `/yjs/{room}`: origin and address checks, the token
//! (query parameter `token`, which y-websocket's `params` option sends),
//! the rights (`subscribe` to read, `publish` to write, through
//! `Hub::authorize`), registration with the hub (which puts the connection
//! in the document's presence), then 101 and a session. Every refusal is an
//! HTTP error with a JSON body before the upgrade.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Request, Response, header};
use herald_core::{Connection, ConnectionInit, ErrorCode, HeraldError, Hub, Rights};
use herald_ws::handshake::DeflateConfig;
use hyper_util::rt::TokioIo;
use tracing::Instrument;

use crate::app::App;
use crate::http_api::error;
use crate::native::upgrade::{negotiate, switching_protocols};

/// A hub connection that leaves the hub when dropped.
pub struct Registered {
    /// The hub.
    pub hub: Arc<Hub>,
    /// The connection.
    pub conn: Arc<Connection>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.hub.disconnect(&self.conn);
    }
}

/// Channel events (publications, presence pushes) are not part of the
/// y-websocket protocol: the hub connection of a y-websocket peer encodes
/// them as nothing, and the writer skips empty frames.
struct Silent;

impl herald_core::WireEncoder for Silent {
    fn encode(&self, _event: &herald_core::ChannelEvent<'_>) -> bytes::Bytes {
        bytes::Bytes::new()
    }

    /// One per connection, all alike: one format, so an event costs one
    /// (empty) encoding per room, not one per connection.
    fn format(&self) -> herald_core::WireFormat {
        herald_core::WireFormat::door("yjs", 0)
    }
}

fn token_param(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
}

/// `GET /yjs/{room}`.
pub async fn yjs_upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(room): Path<String>,
    mut req: Request<Body>,
) -> Response<Body> {
    let Some(docs) = app.docs.clone() else {
        return error(&HeraldError::new(ErrorCode::NotFound, "collaborative documents are disabled ([yjs] enabled)"));
    };
    if app.shutting_down() {
        return error(&HeraldError::unavailable("server is shutting down; connect to another node"));
    }
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !app.auth.origins.allows(origin) {
        metrics::counter!("herald_origin_refused_total").increment(1);
        return error(&HeraldError::new(
            ErrorCode::PermissionDenied,
            format!("origin {} is not allowed", origin.unwrap_or("")),
        ));
    }
    let channel = match app.config.yjs.channel(&room) {
        Ok(c) => c,
        Err(e) => return error(&e),
    };
    let client_ip = app.proxies.client_ip(peer.ip(), req.headers());
    let slot = match app.limits.admit_connection(client_ip) {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    let identity = match app.auth.authenticate(token_param(req.uri().query()).as_deref()) {
        Ok(i) => i,
        Err(e) => return error(&e),
    };
    let opts = match app.hub.authorize(&identity, &channel, Rights::SUBSCRIBE) {
        Ok(o) => o.clone(),
        Err(e) => return error(&e),
    };
    let writable = opts.allow_client_publish && app.hub.authorize(&identity, &channel, Rights::PUBLISH).is_ok();
    let no_deflate = DeflateConfig { enabled: false, ..DeflateConfig::default() };
    let negotiated = match negotiate(req.headers(), &no_deflate) {
        Ok(n) => n,
        Err(e) => return error(&e),
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return error(&HeraldError::bad_request("connection cannot be upgraded (HTTP/1.1 required)"));
    };
    let init = ConnectionInit { identity, encoder: Arc::new(Silent), queue: app.config.connection.queue };
    let registered = match app.hub.connect(init) {
        Ok(conn) => Registered { hub: app.hub.clone(), conn },
        Err(e) => return error(&e),
    };
    // Subscribing joins the document's presence (when its namespace tracks
    // presence), so "who is viewing" works like for any channel.
    let pending = match app.hub.subscribe(&registered.conn, channel.clone(), None).await {
        Ok(p) => p,
        Err(e) => return error(&e),
    };
    let span = tracing::info_span!("yjs", id = %registered.conn.id(), doc = %channel, %client_ip, writable);
    tokio::spawn(
        async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    pending.activate();
                    let s = super::session::Session { app, docs, registered, channel, writable };
                    s.run(TokioIo::new(upgraded), slot).await
                }
                Err(e) => tracing::debug!(error = %e, "upgrade failed"),
            }
        }
        .instrument(span),
    );
    switching_protocols(negotiated)
}
