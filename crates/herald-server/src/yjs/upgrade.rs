//! The handshake for `/yjs/{room}`: the shared admission gate with the token
//! from the query (parameter `token`, which y-websocket's `params` option
//! sends), the rights (`subscribe` to read, `publish` to write, through
//! `Hub::authorize`), registration with the hub (which puts the connection
//! in the document's presence), then 101 and a session. Every refusal is an
//! HTTP error with a JSON body before the upgrade.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Request, Response};
use herald_core::{Connection, ConnectionInit, ErrorCode, HeraldError, Hub, Rights};

use crate::api_error::ApiError;
use crate::app::App;
use crate::door::admission::{self, Compression, Credentials};

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

/// `GET /yjs/{room}`.
pub async fn yjs_upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(room): Path<String>,
    mut req: Request<Body>,
) -> Result<Response<Body>, ApiError> {
    Ok(admit(app, peer, &room, &mut req).await?)
}

async fn admit(
    app: Arc<App>,
    peer: SocketAddr,
    room: &str,
    req: &mut Request<Body>,
) -> Result<Response<Body>, HeraldError> {
    let Some(docs) = app.docs.clone() else {
        return Err(HeraldError::new(ErrorCode::NotFound, "collaborative documents are disabled ([yjs] enabled)"));
    };
    let (mut admitted, upgrade) =
        admission::admit_websocket(&app, peer, req, Credentials::QueryParam, Compression::Off)?;
    let channel = app.config.yjs.channel(room)?;
    let identity = admitted.take_identity()?;
    let allow_client_publish = app.hub.authorize(&identity, &channel, Rights::SUBSCRIBE)?.allow_client_publish;
    let writable = allow_client_publish && app.hub.authorize(&identity, &channel, Rights::PUBLISH).is_ok();
    let init = ConnectionInit { identity, encoder: Arc::new(Silent), queue: app.config.connection.queue };
    let registered = Registered { hub: app.hub.clone(), conn: app.hub.connect(init)? };
    // Subscribing joins the document's presence (when its namespace tracks
    // presence), so "who is viewing" works like for any channel.
    let pending = app.hub.subscribe(&registered.conn, channel.clone(), None).await?;
    let client_ip = admitted.client_ip;
    let span = tracing::info_span!("yjs", id = %registered.conn.id(), doc = %channel, %client_ip, writable);
    let slot = admitted.slot;
    Ok(upgrade.start(span, move |io, _| async move {
        pending.activate();
        let session = super::session::Session { app, docs, registered, channel, writable };
        session.run(io, slot).await
    }))
}
