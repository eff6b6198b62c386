//! `GET /sse`: one Server-Sent Events stream following several channels.
//!
//! Everything that can be refused is checked before the stream starts (HTTP
//! error + JSON body). Then the stream sends `retry:`, a `connected` event,
//! a `recovery-failed` event per channel whose recovery was refused, the
//! recovered publications, then live events, with `: ping` comments in
//! between. Every event's `id:` is the client's position on every channel
//! (`position_id`), so an automatic reconnect resumes all of them.
//!
//! A pump task writes the opening events, then moves the connection's
//! bounded outbound queue into the response body through a small channel.
//! A reader that falls behind fills the outbound queue and is cut like a
//! slow WebSocket consumer: the hub forgets it at once, and the stream ends
//! with an `event: disconnect`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Response, Uri, header};
use bytes::{Bytes, BytesMut};
use herald_core::{ChannelEvent, ChannelName, Connection, DisconnectReason, HeraldError, Outgoing, Position};
use herald_protocol::encode;
use serde_json::json;
use tokio::sync::mpsc;

use super::encoder::SseEncoder;
use super::position_id;
use super::request::{self, Opened, QueryParams, Registration};
use crate::accept::PendingConnection;
use crate::api_error::ApiError;
use crate::app::App;
use crate::door::admission::{self, Credentials};
use crate::door::slow_consumer::{self, Cause};

/// Chunks buffered between the pump and the response body. One slot is
/// always kept free for the final `disconnect` event.
const BODY_CHUNKS: usize = 2;

/// Opening events (mostly recovered publications) written per body chunk.
const OPENING_EVENTS_PER_CHUNK: usize = 64;

fn control(frame: Bytes) -> Outgoing {
    Outgoing { frame, publication: None }
}

/// `GET /sse?channel=…[&token=…][&lastEventId=…]`.
pub async fn sse(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    pending: Option<Extension<PendingConnection>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let opened = open(&app, peer, &uri, &headers).await.inspect_err(|e| {
        metrics::counter!("herald_sse_refused_total", "code" => e.code.name()).increment(1);
    })?;
    // The stream takes the connection over: it no longer counts as pending.
    if let Some(Extension(p)) = pending {
        p.release();
    }
    Ok(start(app, opened))
}

async fn open(app: &App, peer: SocketAddr, uri: &Uri, headers: &HeaderMap) -> Result<Opened, HeraldError> {
    let mut admitted = admission::admit(app, peer, uri, headers, Credentials::QueryHeaderOrCookie)?;
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
    let identity = admitted.take_identity()?;
    request::open(app, admitted.slot, identity, app.sse_encoder.clone(), app.config.connection.queue, channels, since)
        .await
}

/// Build the opening events, activate the subscriptions, start the pump.
///
/// The opening events (`connected`, `recovery-failed`, recovered
/// publications) go to the pump directly, not through the bounded outbound
/// queue: a recovery is written at the client's pace, and live publications
/// that arrive meanwhile wait in the queue, after it.
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
    let mut opening = vec![control(SseEncoder::lines("connected", connected.to_string().as_bytes()))];
    for c in &channels {
        let Some(rec) = &c.pending.recovery else { continue };
        if rec.recovered {
            for p in &rec.publications {
                let frame = conn.encoder.encode(&ChannelEvent::Publication(p));
                opening.push(Outgoing { frame, publication: Some(p.clone()) });
            }
        } else {
            let top = &c.pending.top;
            let failed = json!({ "channel": c.channel, "epoch": top.epoch.as_str(), "offset": top.offset });
            opening.push(control(SseEncoder::lines("recovery-failed", failed.to_string().as_bytes())));
        }
    }
    for c in channels {
        c.pending.activate();
    }
    metrics::counter!("herald_sse_streams_total").increment(1);

    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(BODY_CHUNKS);
    let _ = tx.try_send(Ok(Bytes::from(format!("retry: {}\n\n", app.config.sse.retry_ms))));
    let id = position_id::format(&starts);
    let writer = Writer { conn, tx, positions: starts, index, sent_id: id.clone(), id };
    tokio::spawn(pump(app, writer, registration, opening));
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

/// Writes events into the response body with the `id:` each needs.
struct Writer {
    conn: Arc<Connection>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    positions: Vec<Position>,
    index: HashMap<ChannelName, usize>,
    /// The id after the last event encoded.
    id: String,
    /// The id after the last event handed to the body.
    sent_id: String,
}

impl Writer {
    /// Append `events` with their ids to `chunk`, advancing positions.
    /// Returns whether one was a subscription error.
    fn encode<'a>(&mut self, events: impl Iterator<Item = &'a Outgoing>, chunk: &mut BytesMut) -> bool {
        let mut subscription_error = false;
        for o in events {
            if let Some(p) = &o.publication
                && let Some(&i) = self.index.get(&p.channel)
            {
                self.positions[i] = Position { epoch: p.epoch.clone(), offset: p.offset };
                self.id = position_id::format(&self.positions);
            }
            subscription_error |= SseEncoder::is_error(&o.frame);
            event_with_id(chunk, &o.frame, &self.id);
        }
        subscription_error
    }

    /// Hand `chunk` to the body once two slots are free, so one always stays
    /// free for the final event. Gives up when the connection is cut.
    async fn send(&mut self, chunk: BytesMut) -> Result<(), End> {
        tokio::select! {
            permits = self.tx.reserve_many(BODY_CHUNKS) => match permits {
                Ok(mut permits) => {
                    if let Some(p) = permits.next() {
                        p.send(Ok(chunk.freeze()));
                    }
                    self.sent_id.clone_from(&self.id);
                    Ok(())
                }
                Err(_) => Err(End::ClientGone),
            },
            reason = self.conn.outbound.aborted() => Err(End::Closed(reason)),
        }
    }

    /// The opening events, then queued events as they come, with heartbeats while idle.
    async fn run(&mut self, opening: Vec<Outgoing>, heartbeat_every: Duration) -> End {
        for events in opening.chunks(OPENING_EVENTS_PER_CHUNK) {
            let mut chunk = BytesMut::new();
            self.encode(events.iter(), &mut chunk);
            if let Err(end) = self.send(chunk).await {
                return end;
            }
        }
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat_every, heartbeat_every);
        // A stream cannot be given a new token: it ends when its token does,
        // with `disconnect` 4004, and the client reopens it with a fresh one.
        let expiry =
            self.conn.identity().expires_at_ms.map(|exp| {
                tokio::time::Instant::now() + Duration::from_millis(exp.saturating_sub(herald_core::now_ms()))
            });
        let expired = async {
            match expiry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        let mut expiry_fired = false;
        let mut batch: Vec<Outgoing> = Vec::with_capacity(64);
        loop {
            tokio::select! {
                _ = self.tx.closed() => return End::ClientGone,
                _ = &mut expired, if !expiry_fired => {
                    expiry_fired = true;
                    self.conn.outbound.close(DisconnectReason::TokenExpired, true);
                }
                r = self.conn.outbound.next_batch(&mut batch) => {
                    if let Err(reason) = r {
                        return End::Closed(reason);
                    }
                    let mut chunk = BytesMut::with_capacity(batch.iter().map(|o| o.frame.len() + self.id.len() + 6).sum());
                    let subscription_error = self.encode(batch.iter(), &mut chunk);
                    batch.clear();
                    if let Err(end) = self.send(chunk).await {
                        return end;
                    }
                    if subscription_error {
                        return End::SubscriptionError;
                    }
                }
                _ = heartbeat.tick() => {
                    if self.tx.capacity() >= BODY_CHUNKS {
                        let _ = self.tx.try_send(Ok(Bytes::from_static(b": ping\n\n")));
                    }
                }
            }
        }
    }
}

/// Write the opening events, then move queued events into the response
/// body; end the stream (with a `disconnect` event when the server closed
/// it) and unregister the connection when the connection ends.
async fn pump(app: Arc<App>, mut writer: Writer, registration: Registration, opening: Vec<Outgoing>) {
    let every = Duration::from_secs(app.config.sse.heartbeat_secs.max(1));
    let end = writer.run(opening, every).await;
    drop(registration);
    if let End::Closed(reason) = end {
        if reason == DisconnectReason::SlowConsumer {
            slow_consumer::record("sse", writer.conn.id(), Cause::QueueFull);
        }
        metrics::counter!("herald_disconnects_total", "reason" => reason.name(), "door" => "sse").increment(1);
        let mut chunk = BytesMut::new();
        event_with_id(&mut chunk, &SseEncoder::lines("disconnect", &encode::disconnect(reason)), &writer.sent_id);
        // The slot kept free: the event goes out if the client still reads.
        let _ = writer.tx.try_send(Ok(chunk.freeze()));
    }
    tracing::debug!(client = %writer.conn.id(), "sse stream ended");
}

fn event_with_id(chunk: &mut BytesMut, lines: &[u8], id: &str) {
    chunk.extend_from_slice(lines);
    chunk.extend_from_slice(b"id: ");
    chunk.extend_from_slice(id.as_bytes());
    chunk.extend_from_slice(b"\n\n");
}
