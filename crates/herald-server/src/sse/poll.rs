//! `GET /poll`: HTTP long-polling, for networks where even SSE is cut.
//!
//! Each request opens a short-lived hub connection subscribed to the listed
//! channels with `since` (the SSE event id format), so permissions and
//! recovery are exactly the stream's: the missed publications, or a
//! `recovery-failed` event per channel, come back at once; otherwise the
//! request waits up to `sse.poll_timeout_secs` for live events. The answer's
//! `id` is the `since` of the next request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use herald_core::{ChannelEvent, Connection, HeraldError, Outgoing, Position};
use serde_json::{Value, json};

use super::encoder::SseEncoder;
use super::position_id;
use super::request::{self, Opened, QueryParams};
use crate::api_error::{ApiError, JsonBytes};
use crate::app::App;
use crate::door::admission::{self, Credentials};

/// `GET /poll?channel=…[&since=…][&token=…]` → `{"events":[…],"id":"…"}`.
pub async fn poll(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<JsonBytes, ApiError> {
    Ok(JsonBytes(run(&app, peer, &uri, &headers).await?.to_string().into_bytes()))
}

async fn run(app: &App, peer: SocketAddr, uri: &Uri, headers: &HeaderMap) -> Result<Value, HeraldError> {
    let mut admitted = admission::admit(app, peer, uri, headers, Credentials::QueryHeaderOrCookie)?;
    let query = QueryParams::parse(uri.query());
    let channels = query.channels(app.config.connection.max_channels)?;
    let since = request::positions(query.one("since")?, channels.len())?;
    let waits = since.is_some();
    let identity = admitted.take_identity()?;
    let opened = request::open(
        app,
        admitted.slot,
        identity,
        app.sse_encoder.clone(),
        app.config.connection.queue,
        channels,
        since,
    )
    .await?;
    // Dropping `opened` (also when the client leaves mid-wait) unregisters the connection.
    Ok(collect(app, opened, waits).await)
}

/// The events for this poll and the position after them.
async fn collect(app: &App, opened: Opened, waits: bool) -> Value {
    let mut positions = opened.starts();
    let mut events = Vec::new();
    for (i, c) in opened.channels.iter().enumerate() {
        match &c.pending.recovery {
            Some(rec) if rec.recovered => {
                for p in &rec.publications {
                    let frame = opened.conn.encoder.encode(&ChannelEvent::Publication(p));
                    push_event(&mut events, &mut positions, Some(i), &Outgoing { frame, publication: Some(p.clone()) });
                }
            }
            Some(_) => events.push(json!({
                "event": "recovery-failed",
                "channel": c.channel,
                "epoch": c.pending.top.epoch.as_str(),
                "offset": c.pending.top.offset,
            })),
            None => {}
        }
    }
    if waits && events.is_empty() {
        let Opened { conn, channels, registration } = opened;
        let names: Vec<_> = channels.iter().map(|c| c.channel.clone()).collect();
        for mut c in channels {
            // A poll is a moment, not a member: no join/leave flapping for every request.
            c.pending.presence = false;
            c.pending.activate();
        }
        let timeout = Duration::from_secs(app.config.sse.poll_timeout_secs);
        let batch = wait(&conn, timeout).await;
        drop(registration);
        for o in batch {
            let i = o.publication.as_ref().and_then(|p| names.iter().position(|n| *n == p.channel));
            push_event(&mut events, &mut positions, i, &o);
        }
    }
    json!({ "events": events, "id": position_id::format(&positions) })
}

/// The first batch of live events, or nothing after `timeout`.
async fn wait(conn: &Connection, timeout: Duration) -> Vec<Outgoing> {
    let mut batch = Vec::new();
    let _ = tokio::time::timeout(timeout, conn.outbound.next_batch(&mut batch)).await;
    // An error event (stream gap) ends the batch: the next poll recovers from the id.
    if let Some(cut) = batch.iter().position(|o| SseEncoder::is_error(&o.frame)) {
        batch.truncate(cut + 1);
    }
    batch
}

/// Turn one SSE-encoded event into a poll event, advancing channel `i`'s position.
fn push_event(events: &mut Vec<Value>, positions: &mut [Position], i: Option<usize>, o: &Outgoing) {
    let Some((name, data)) = SseEncoder::split(&o.frame) else { return };
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(data) else { return };
    obj.remove("push");
    obj.insert("event".into(), Value::from(name));
    if let (Some(p), Some(slot)) = (&o.publication, i.and_then(|i| positions.get_mut(i))) {
        *slot = Position { epoch: p.epoch.clone(), offset: p.offset };
    }
    events.push(Value::Object(obj));
}
