//! Socket.IO CONNECT: the token (`auth.token`, else the `token` query
//! parameter), the hub connection, and connection state recovery.
//!
//! Recovery is all or nothing: with `{pid, offset}` every channel of the
//! offset token is subscribed again with `since`; only when each one can
//! replay everything it missed are the missed publications queued (then
//! CONNECT `{sid, pid}` with the same pid: `socket.recovered === true`).
//! Otherwise every one of those subscriptions is dropped and CONNECT
//! carries a new pid (`recovered === false`). Nothing is kept per session
//! on the server, so this works on any node that reads the same history.

use std::sync::Arc;

use bytes::Bytes;
use herald_core::{ChannelName, Connection, ConnectionInit, HeraldError, Outgoing, PendingSubscription, Position};
use herald_socketio::engineio::generate_sid;
use herald_socketio::events::requests::subscribed_event;
use herald_socketio::events::{ConnectAuth, RecoveryVector, connect_refused, parse_connect, publication_event};
use herald_socketio::socketio::{MAIN_NAMESPACE, Packet, server};
use tracing::Instrument;

use crate::app::App;

/// Answer a CONNECT packet: the hub connection (with CONNECT's reply, and
/// any recovered events before it, already queued on it), or the Engine.IO
/// text packet that refuses it (the session stays open, as socket.io's).
pub async fn connect(app: &App, packet: &Packet<'_>, query_token: Option<&str>) -> Result<Arc<Connection>, Bytes> {
    if packet.namespace != MAIN_NAMESPACE {
        return Err(Bytes::from(server::invalid_namespace(packet.namespace)));
    }
    let refused = |e: &HeraldError| {
        tracing::debug!(error = %e, "socket.io connect refused");
        Bytes::from(connect_refused(MAIN_NAMESPACE, e))
    };
    let auth = parse_connect(packet.data).map_err(|e| refused(&e))?;
    let identity = app.auth.authenticate(auth.token_or(query_token)).map_err(|e| refused(&e))?;
    let encoder = app.socketio.encoder.clone();
    let conn = app
        .hub
        .connect(ConnectionInit { identity, encoder, queue: app.config.connection.queue })
        .map_err(|e| refused(&e))?;
    let span = tracing::debug_span!("socketio", conn = %conn.id());
    let pid = recover(app, &conn, &auth).instrument(span).await.unwrap_or_else(generate_sid);
    let _ = conn.outbound.push_frame(Bytes::from(server::connect_ok(MAIN_NAMESPACE, conn.id(), Some(&pid))));
    Ok(conn)
}

/// Restore the subscriptions of `auth`'s recovery request, queue what each
/// missed, and return its pid; `None` when anything cannot be restored
/// completely (nothing is restored then).
async fn recover(app: &App, conn: &Arc<Connection>, auth: &ConnectAuth) -> Option<String> {
    let (pid, vector) = auth.recovery(app.config.connection.max_channels)?;
    let restored = resubscribe(app, conn, &vector).await;
    metrics::counter!("herald_socketio_recoveries_total", "recovered" => if restored.is_some() { "true" } else { "false" })
        .increment(1);
    let restored = restored?;
    for (channel, since, pending) in restored {
        let _ = conn.outbound.push_frame(Bytes::from(subscribed_event(&channel, &since)));
        for p in pending.recovery.iter().flat_map(|r| r.publications.iter()) {
            let frame = Bytes::from(publication_event(p));
            let _ = conn.outbound.push(Outgoing { frame, publication: Some(p.clone()) });
        }
        pending.activate();
    }
    Some(pid.to_string())
}

async fn resubscribe(
    app: &App,
    conn: &Arc<Connection>,
    vector: &RecoveryVector,
) -> Option<Vec<(ChannelName, Position, PendingSubscription)>> {
    let mut restored = Vec::with_capacity(vector.entries().len());
    for (channel, since) in vector.entries() {
        match app.hub.subscribe(conn, channel.clone(), Some(since.clone())).await {
            Ok(pending) if pending.recovery.as_ref().is_some_and(|r| r.recovered) => {
                restored.push((channel.clone(), since.clone(), pending));
            }
            Ok(_) => {
                tracing::debug!(%channel, "recovery refused: history cannot replay everything");
                return None;
            }
            Err(e) => {
                tracing::debug!(%channel, error = %e, "recovery refused");
                return None;
            }
        }
    }
    Some(restored)
}
