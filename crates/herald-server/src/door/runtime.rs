//! One WebSocket connection with a hub connection, for any door: a writer
//! task draining the connection's bounded outbound queue in batches (the
//! hub cuts a consumer whose queue overflows; a write blocked past the write
//! timeout cuts it too), a read loop handing frames to the door, keep-alive
//! and idle timeout, the token's expiry, the close (the door's frames, or
//! 1000 when the client closed first) and a lingering close.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use herald_core::{Connection, DisconnectReason, now_ms};
use herald_ws::frame;
use herald_ws::reader::{Message, WsReader};
use herald_ws::writer::WsWriter;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};
use tracing::Instrument;

use super::slow_consumer::{Cause, Cut};
use super::socket::{Socket, linger, write_batch};
use super::{Closing, DoorSession, Ending, Flow, Framing, KeepAlive};
use crate::app::App;

/// Run `conn` (already registered with the hub) on `socket` with `door`'s
/// protocol until it ends; it has left the hub on return. Returns why the
/// server ended it (`None`: the client left).
pub async fn run<S, D>(
    app: &App,
    socket: &mut Socket<S>,
    conn: &Arc<Connection>,
    closing: Arc<dyn Closing>,
    door: &mut D,
) -> Option<Ending>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    D: DoorSession,
{
    run_framed(app, socket, conn, closing, door, None).await
}

/// [`run`] for a door whose queued items become WebSocket frames in the
/// writer, one connection at a time and in queue order ([`Framing`]).
pub async fn run_framed<S, D>(
    app: &App,
    socket: &mut Socket<S>,
    conn: &Arc<Connection>,
    closing: Arc<dyn Closing>,
    door: &mut D,
    framing: Option<Box<dyn Framing>>,
) -> Option<Ending>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    D: DoorSession,
{
    let write_timeout = socket.write_timeout;
    let Some(writer) = socket.take_writer() else {
        // Lent twice: the first run has the writer.
        app.hub.disconnect(conn);
        return None;
    };
    let reader = &mut socket.reader;
    let shared = Arc::new(CloseState::default());
    let write = write_loop(conn.clone(), writer, write_timeout, closing, shared.clone(), D::DOOR, framing);
    let mut writer_task = tokio::spawn(write.in_current_span());
    let (end, writer_result) = match door.start().await {
        Flow::Close(end) => (Some(end), None),
        Flow::Continue | Flow::Refreshed => read_loop(door, conn, reader, &mut writer_task).await,
    };
    door.left();
    app.hub.disconnect(conn);
    match &end {
        // Replies already queued (e.g. the errors that led to an abuse close) go out first.
        Some(end) => {
            *shared.detail.lock() = end.detail.clone();
            conn.outbound.close(end.reason, true);
        }
        None => {
            shared.client_closed.store(true, Ordering::Release);
            conn.outbound.close(DisconnectReason::Disconnected, false);
        }
    }
    let close_sent = match writer_result {
        Some(sent) => sent,
        None => match tokio::time::timeout(write_timeout, &mut writer_task).await {
            Ok(sent) => sent.unwrap_or(false),
            Err(_) => {
                writer_task.abort();
                false
            }
        },
    };
    if end.is_some() && close_sent {
        // The writer sent the close frame and FIN; read what the client still
        // sends until it closes too, so the kernel does not answer its unread
        // data with a reset that would discard our close frame.
        linger(reader).await;
    }
    tracing::debug!(reason = ?end, "closed");
    end
}

/// What the read side tells the writer about the close.
#[derive(Default)]
struct CloseState {
    /// The client closed first: answer with 1000.
    client_closed: AtomicBool,
    /// The door's own close code and text.
    detail: Mutex<Option<(u16, String)>>,
}

async fn read_loop<R: AsyncRead + Unpin, D: DoorSession>(
    door: &mut D,
    conn: &Connection,
    reader: &mut WsReader<R>,
    writer_task: &mut JoinHandle<bool>,
) -> (Option<Ending>, Option<bool>) {
    let mut keep_alive = KeepAliveTimer::new(door.keep_alive());
    let mut expiry = Expiry::of(conn, door.expiry_warning());
    let received = metrics::counter!("herald_messages_received_total", "door" => D::DOOR);
    loop {
        let flow = tokio::select! {
            msg = reader.next() => {
                let msg = match msg {
                    Ok(Some(m)) => m,
                    Ok(None) => return (None, None),
                    Err(e) => return (door.read_error(&e), None),
                };
                keep_alive.seen();
                received.increment(1);
                match msg {
                    Message::Text(text) => door.on_text(std::str::from_utf8(&text).unwrap_or("")).await,
                    Message::Binary(bytes) => door.on_binary(&bytes).await,
                    Message::Ping(p) => {
                        let _ = conn.outbound.push_frame(frame::pong(&p));
                        Flow::Continue
                    }
                    Message::Pong(_) => Flow::Continue,
                    Message::Close(_) => return (None, None),
                }
            }
            () = keep_alive.due() => match keep_alive.fire() {
                Some(ping) => {
                    let _ = conn.outbound.push_frame(ping);
                    Flow::Continue
                }
                None => DisconnectReason::PingTimeout.into(),
            },
            () = expiry.due() => {
                if expiry.warn_at.take().is_some() {
                    door.token_expiring();
                    Flow::Continue
                } else {
                    DisconnectReason::TokenExpired.into()
                }
            }
            sent = &mut *writer_task => return (conn.outbound.closed().map(Ending::from), Some(sent.unwrap_or(false))),
        };
        match flow {
            Flow::Continue => {}
            Flow::Refreshed => expiry = Expiry::of(conn, door.expiry_warning()),
            Flow::Close(end) => return (Some(end), None),
        }
    }
}

/// Drain the outbound queue in batches until it closes, then write the
/// closing frames and FIN. Returns whether the closing frames were written.
async fn write_loop<W: AsyncWrite + Unpin>(
    conn: Arc<Connection>,
    mut writer: WsWriter<W>,
    write_timeout: Duration,
    closing: Arc<dyn Closing>,
    shared: Arc<CloseState>,
    door: &'static str,
    mut framing: Option<Box<dyn Framing>>,
) -> bool {
    let mut batch = Vec::new();
    let mut frames: Vec<Bytes> = Vec::new();
    // Looked up once per connection, not once per write.
    let frames_sent = metrics::counter!("herald_frames_sent_total", "door" => door);
    let mut cut = Cut::new(door);
    loop {
        match conn.outbound.next_batch(&mut batch).await {
            Ok(()) => {
                // A door whose encoder has no frame for an event encodes it as nothing.
                match framing.as_mut() {
                    Some(framing) => frames.extend(batch.drain(..).map(|o| framing.frame(o)).filter(|f| !f.is_empty())),
                    None => frames.extend(batch.drain(..).map(|o| o.frame).filter(|f| !f.is_empty())),
                }
                if frames.is_empty() {
                    continue;
                }
                let n = frames.len() as u64;
                if !write_batch(&conn, &mut writer, &frames, write_timeout, &mut cut).await {
                    return false;
                }
                frames_sent.increment(n);
                frames.clear();
            }
            Err(reason) => {
                if reason == DisconnectReason::SlowConsumer {
                    cut.record(conn.id(), Cause::QueueFull);
                }
                let frames: Vec<Bytes> = if shared.client_closed.load(Ordering::Acquire) {
                    vec![frame::close(1000, "")]
                } else {
                    metrics::counter!("herald_disconnects_total", "reason" => reason.name(), "door" => door)
                        .increment(1);
                    match shared.detail.lock().take() {
                        Some((code, text)) => vec![frame::close(code, &text)],
                        None => closing.frames(reason),
                    }
                };
                let sent =
                    matches!(tokio::time::timeout(write_timeout, writer.write_frames(&frames)).await, Ok(Ok(())));
                let _ = tokio::time::timeout(write_timeout, writer.shutdown()).await;
                return sent;
            }
        }
    }
}

/// The keep-alive of a [`KeepAlive`] style: when to look next, and what to
/// do then. One timer, allocated once and moved to each next wake-up, so
/// the read loop's future holds no timer of its own.
struct KeepAliveTimer {
    style: KeepAlive,
    timer: Pin<Box<Sleep>>,
    last_seen: Instant,
    pinged_at: Option<Instant>,
}

impl KeepAliveTimer {
    fn new(style: KeepAlive) -> Self {
        let now = Instant::now();
        let first = match &style {
            KeepAlive::Interval { every, .. } => now + *every,
            KeepAlive::WhenIdle { idle, .. } => now + *idle,
        };
        KeepAliveTimer { style, timer: Box::pin(tokio::time::sleep_until(first)), last_seen: now, pinged_at: None }
    }

    /// A frame came from the peer.
    fn seen(&mut self) {
        self.last_seen = Instant::now();
        self.pinged_at = None;
    }

    async fn due(&mut self) {
        if let KeepAlive::WhenIdle { idle, timeout, .. } = &self.style {
            let wake = match self.pinged_at {
                Some(at) => at + *timeout,
                None => self.last_seen + *idle,
            };
            if self.timer.deadline() != wake {
                self.timer.as_mut().reset(wake);
            }
        }
        self.timer.as_mut().await;
    }

    /// The ping to send now, or `None`: the peer is dead.
    fn fire(&mut self) -> Option<Bytes> {
        match &self.style {
            KeepAlive::Interval { every, timeout, ping } => {
                // Every `every` from the start, like `tokio::time::interval`.
                let next = self.timer.deadline() + *every;
                self.timer.as_mut().reset(next);
                (self.last_seen.elapsed() <= *every + *timeout).then(|| ping.clone())
            }
            KeepAlive::WhenIdle { ping, .. } => {
                if self.pinged_at.is_some() {
                    return None;
                }
                self.pinged_at = Some(Instant::now());
                Some(ping.clone())
            }
        }
    }
}

/// When the token's expiry needs attention next: the warning, then the end.
struct Expiry {
    warn_at: Option<Instant>,
    end_at: Option<Instant>,
}

impl Expiry {
    fn of(conn: &Connection, warn_before: Option<Duration>) -> Expiry {
        let Some(exp) = conn.identity().expires_at_ms else { return Expiry { warn_at: None, end_at: None } };
        let now = Instant::now();
        let left = Duration::from_millis(exp.saturating_sub(now_ms()));
        Expiry { warn_at: warn_before.map(|before| now + left.saturating_sub(before)), end_at: Some(now + left) }
    }

    async fn due(&self) {
        match self.warn_at.or(self.end_at) {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }
}
