//! `GET /sse`: one Server-Sent Events stream following several channels.
//!
//! Everything that can be refused is checked before the stream starts (HTTP
//! error + JSON body). Then the stream sends `retry:`, a `connected` event,
//! a `recovery-failed` event per channel whose recovery was refused, the
//! recovered publications, then live events, with `: ping` comments in
//! between. Every event's `id:` is the client's position on every channel
//! (`position_id`), so an automatic reconnect resumes all of them.
//!
//! A pump task moves the connection's bounded outbound queue into the
//! response body through a small channel. A reader that falls behind fills
//! the outbound queue and is cut like a slow WebSocket consumer: the hub
//! forgets it at once, and the stream ends with an `event: disconnect`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, Uri, header};
use bytes::{Bytes, BytesMut};
use herald_core::{ChannelEvent, ChannelName, Connection, DisconnectReason, HeraldError, Outgoing, Position};
use herald_protocol::encode;
use serde_json::json;
use tokio::sync::mpsc;

use super::encoder::SseEncoder;
use super::position_id;
use super::request::{self, Opened, QueryParams, Registration};
use crate::app::App;
use crate::http_api::{error, error_response};

/// Chunks buffered between the pump and the response body. One slot is
/// always kept free for the final `disconnect` event.
const BODY_CHUNKS: usize = 2;

/// `GET /sse?channel=…[&token=…][&lastEventId=…]`.
pub async fn sse(State(app): State<Arc<App>>, uri: Uri, headers: HeaderMap) -> Response<Body> {
    if app.shutting_down() {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeraldError::unavailable("server is shutting down; connect to another node"),
        );
    }
    match open(&app, &uri, &headers).await {
        Ok(opened) => start(app, opened),
        Err(e) => {
            metrics::counter!("herald_sse_refused_total", "code" => e.code.name()).increment(1);
            error(&e)
        }
    }
}

async fn open(app: &App, uri: &Uri, headers: &HeaderMap) -> Result<Opened, HeraldError> {
    let query = QueryParams::parse(uri.query());
    let channels = query.channels(app.config.connection.max_channels)?;
    let header_id = headers
        .get("last-event-id")
        .map(|v| v.to_str().map_err(|_| HeraldError::bad_request("malformed event id (Last-Event-ID): not ASCII")));
    let id = match header_id {
        Some(Ok(h)) if !h.is_empty() => Some(h),
        Some(Err(e)) => return Err(e),
        _ => query.one("lastEventId")?,
    };
    let since = request::positions(id, channels.len())?;
    let identity = request::identity(app, &query, headers)?;
    request::open(app, identity, app.sse_encoder.clone(), app.config.connection.queue, channels, since).await
}

/// Queue the opening events, activate the subscriptions, start the pump.
fn start(app: Arc<App>, opened: Opened) -> Response<Body> {
    let Opened { conn, channels, registration } = opened;
    let starts: Vec<Position> = channels.iter().map(|c| c.start.clone()).collect();
    let index: HashMap<ChannelName, usize> = channels.iter().enumerate().map(|(i, c)| (c.channel.clone(), i)).collect();
    let listed: Vec<_> = channels
        .iter()
        .map(|c| {
            let mut v = json!({ "channel": c.channel, "epoch": c.start.epoch.as_str(), "offset": c.start.offset });
            if let Some(r) = c.recovered() {
                v["recovered"] = json!(r);
            }
            v
        })
        .collect();
    let connected = json!({ "client": conn.id().as_ref(), "channels": listed });
    let _ = conn.outbound.push_frame(SseEncoder::lines("connected", connected.to_string().as_bytes()));
    for c in channels {
        if let Some(rec) = &c.pending.recovery {
            if rec.recovered {
                for p in &rec.publications {
                    let frame = conn.encoder.encode(&ChannelEvent::Publication(p));
                    let _ = conn.outbound.push(Outgoing { frame, publication: Some(p.clone()) });
                }
            } else {
                let top = &c.pending.top;
                let failed = json!({ "channel": c.channel, "epoch": top.epoch.as_str(), "offset": top.offset });
                let _ = conn.outbound.push_frame(SseEncoder::lines("recovery-failed", failed.to_string().as_bytes()));
            }
        }
        c.pending.activate();
    }
    metrics::counter!("herald_sse_streams_total").increment(1);

    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(BODY_CHUNKS);
    let _ = tx.try_send(Ok(Bytes::from(format!("retry: {}\n\n", app.config.sse.retry_ms))));
    tokio::spawn(pump(app, conn, registration, tx, starts, index));
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

enum End {
    /// The response body was dropped: the client went away.
    ClientGone,
    /// The connection was closed by the server (slow consumer, shutdown, kicked).
    Closed(DisconnectReason),
    /// A subscription ended with an error event (stream gap): reconnecting recovers.
    SubscriptionError,
}

/// Move queued events into the response body, adding each event's `id:`,
/// and heartbeats while idle; end the stream when the connection ends.
async fn pump(
    app: Arc<App>,
    conn: Arc<Connection>,
    registration: Registration,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    mut positions: Vec<Position>,
    index: HashMap<ChannelName, usize>,
) {
    let every = Duration::from_secs(app.config.sse.heartbeat_secs.max(1));
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut batch: Vec<Outgoing> = Vec::with_capacity(64);
    let mut id = position_id::format(&positions);
    let mut sent_id = id.clone();
    let end = loop {
        tokio::select! {
            _ = tx.closed() => break End::ClientGone,
            r = conn.outbound.next_batch(&mut batch) => {
                if let Err(reason) = r {
                    break End::Closed(reason);
                }
                let mut chunk = BytesMut::with_capacity(batch.iter().map(|o| o.frame.len() + id.len() + 6).sum());
                let mut subscription_error = false;
                for o in batch.drain(..) {
                    if let Some(p) = &o.publication
                        && let Some(&i) = index.get(&p.channel)
                    {
                        positions[i] = Position { epoch: p.epoch.clone(), offset: p.offset };
                        id = position_id::format(&positions);
                    }
                    subscription_error |= SseEncoder::is_error(&o.frame);
                    event_with_id(&mut chunk, &o.frame, &id);
                }
                // Wait for two free slots, so one stays free for the final event.
                tokio::select! {
                    permits = tx.reserve_many(BODY_CHUNKS) => match permits {
                        Ok(mut permits) => {
                            if let Some(p) = permits.next() {
                                p.send(Ok(chunk.freeze()));
                            }
                            sent_id.clone_from(&id);
                        }
                        Err(_) => break End::ClientGone,
                    },
                    reason = conn.outbound.aborted() => break End::Closed(reason),
                }
                if subscription_error {
                    break End::SubscriptionError;
                }
            }
            _ = heartbeat.tick() => {
                if tx.capacity() >= BODY_CHUNKS {
                    let _ = tx.try_send(Ok(Bytes::from_static(b": ping\n\n")));
                }
            }
        }
    };
    drop(registration);
    match end {
        End::Closed(reason) => {
            metrics::counter!("herald_disconnects_total", "reason" => reason.name()).increment(1);
            let mut chunk = BytesMut::new();
            event_with_id(&mut chunk, &SseEncoder::lines("disconnect", &encode::disconnect(reason)), &sent_id);
            // The slot kept free: the event goes out if the client still reads.
            let _ = tx.try_send(Ok(chunk.freeze()));
        }
        End::ClientGone | End::SubscriptionError => {}
    }
    tracing::debug!(client = %conn.id(), "sse stream ended");
}

fn event_with_id(chunk: &mut BytesMut, lines: &[u8], id: &str) {
    chunk.extend_from_slice(lines);
    chunk.extend_from_slice(b"id: ");
    chunk.extend_from_slice(id.as_bytes());
    chunk.extend_from_slice(b"\n\n");
}
