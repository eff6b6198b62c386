//! The connection: [`Client`], its options and the request/reply plumbing.
//! The socket set-up and the reader/writer tasks are in `tasks`.

mod tasks;

use tasks::{Reader, open_socket, writer_task};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

use crate::error::{ClientError, CloseInfo, ServerError};
use crate::frames;
use crate::types::{
    Connected, HistoryOptions, HistoryResult, Incoming, Position, PresenceResult, PublishResult, Push, SubscribeResult,
    parse_incoming, raw_to_value,
};

/// The default time a request waits for its reply (also bounds the TCP
/// connect and the WebSocket handshake).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The client name sent in `connect` by default.
pub const DEFAULT_CLIENT_NAME: &str = concat!("herald-rust/", env!("CARGO_PKG_VERSION"));

/// How long the reader waits for the closing handshake after the [`Client`]
/// was dropped before it drops the socket.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// Size of the in-memory read buffer of each socket; small so that a test can
/// open thousands of clients.
const READ_BUFFER_SIZE: usize = 16 * 1024;

type Ws = WebSocketStream<TcpStream>;
type ReplyResult = Result<Box<RawValue>, ClientError>;

/// Options of [`Client::connect`] (and, for the socket-level ones,
/// [`Client::connect_raw_with`]).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Connection token (JWT) sent in `connect`, if the server requires one.
    pub token: Option<String>,
    /// Client name and version sent in `connect`
    /// (default [`DEFAULT_CLIENT_NAME`]; `None` leaves the field out).
    pub client_name: Option<String>,
    /// Answer the server's `ping` pushes with `pong` automatically (default
    /// true). When false, pings are delivered as [`Push::Ping`].
    pub auto_pong: bool,
    /// How long each request waits for its reply (default 10 s); also bounds
    /// the TCP connect and the WebSocket handshake.
    pub request_timeout: Duration,
    /// Kernel receive buffer size (`SO_RCVBUF`) to ask for, so that a paused
    /// reader builds TCP backpressure on the server quickly. `None` keeps the
    /// system default.
    pub recv_buffer_size: Option<u32>,
    /// Extra HTTP headers for the WebSocket handshake request.
    pub headers: Vec<(String, String)>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            token: None,
            client_name: Some(DEFAULT_CLIENT_NAME.to_owned()),
            auto_pong: true,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            recv_buffer_size: None,
            headers: Vec::new(),
        }
    }
}

impl ConnectOptions {
    /// Sets the connection token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets whether pings are answered automatically.
    pub fn auto_pong(mut self, auto_pong: bool) -> Self {
        self.auto_pong = auto_pong;
        self
    }

    /// Sets the per-request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the kernel receive buffer size.
    pub fn recv_buffer_size(mut self, bytes: u32) -> Self {
        self.recv_buffer_size = Some(bytes);
        self
    }

    /// Adds an HTTP header to the handshake request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the writer task is asked to do.
enum Outgoing {
    Message(Message),
    /// The reader is done: drop the socket.
    Shutdown,
}

/// Replies awaited by id, and how the connection ended once it has.
#[derive(Default)]
struct State {
    pending: HashMap<u64, oneshot::Sender<ReplyResult>>,
    closed: Option<CloseInfo>,
}

struct Shared {
    state: Mutex<State>,
    closed_tx: watch::Sender<Option<CloseInfo>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes a pending request when its caller stops waiting (timeout or a
/// dropped future).
struct PendingGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().pending.remove(&self.id);
    }
}

/// A connection to a Herald server.
///
/// Request methods take `&self`, so one client can run many requests at once
/// (e.g. share it in an `Arc`); each waits for its own reply by id. Pushes are
/// read with [`Client::next_push`] and friends. Dropping the client closes the
/// socket (normal close) and ends its tasks.
pub struct Client {
    out: mpsc::UnboundedSender<Outgoing>,
    shared: Arc<Shared>,
    pushes: tokio::sync::Mutex<mpsc::UnboundedReceiver<Push>>,
    next_id: AtomicU64,
    request_timeout: Duration,
    /// `true` while reading is paused; dropping it tells the reader the client is gone.
    paused: watch::Sender<bool>,
    closed_rx: watch::Receiver<Option<CloseInfo>>,
    local_addr: SocketAddr,
    peer_addr: SocketAddr,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("local_addr", &self.local_addr)
            .field("peer_addr", &self.peer_addr)
            .field("closed", &self.close_info())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens the WebSocket at `url` (`ws://HOST:PORT/ws`), sends `connect`
    /// with the token and client name of `opts`, and waits for its reply.
    pub async fn connect(url: &str, opts: ConnectOptions) -> Result<(Client, Connected), ClientError> {
        let client = Client::connect_raw_with(url, &opts).await?;
        let connected = client.send_connect(opts.token.as_deref(), opts.client_name.as_deref()).await?;
        Ok((client, connected))
    }

    /// Opens the WebSocket without sending `connect`, with default options
    /// (for tests of protocol violations).
    pub async fn connect_raw(url: &str) -> Result<Client, ClientError> {
        Client::connect_raw_with(url, &ConnectOptions::default()).await
    }

    /// Opens the WebSocket without sending `connect`; `token` and
    /// `client_name` of `opts` are ignored, the other options apply.
    pub async fn connect_raw_with(url: &str, opts: &ConnectOptions) -> Result<Client, ClientError> {
        let ws = tokio::time::timeout(opts.request_timeout, open_socket(url, opts))
            .await
            .map_err(|_| ClientError::Timeout)??;
        let local_addr = ws.get_ref().local_addr()?;
        let peer_addr = ws.get_ref().peer_addr()?;
        let (sink, stream) = ws.split();

        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        let (paused_tx, paused_rx) = watch::channel(false);
        let (closed_tx, closed_rx) = watch::channel(None);
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), closed_tx });

        tokio::spawn(writer_task(sink, out_rx));
        tokio::spawn(
            Reader {
                stream,
                shared: shared.clone(),
                pushes: push_tx,
                out: out_tx.downgrade(),
                paused: paused_rx,
                auto_pong: opts.auto_pong,
            }
            .run(),
        );

        Ok(Client {
            out: out_tx,
            shared,
            pushes: tokio::sync::Mutex::new(push_rx),
            next_id: AtomicU64::new(1),
            request_timeout: opts.request_timeout,
            paused: paused_tx,
            closed_rx,
            local_addr,
            peer_addr,
        })
    }

    /// Sends `connect` and waits for its reply (what [`Client::connect`] does
    /// after opening the socket; useful after [`Client::connect_raw`], or to
    /// test a second `connect`).
    pub async fn send_connect(&self, token: Option<&str>, client_name: Option<&str>) -> Result<Connected, ClientError> {
        let id = self.next_id();
        let raw = self.roundtrip(id, frames::connect(id, token, client_name)?).await?;
        Ok(Connected::from_value(raw_to_value(&raw)))
    }

    /// Subscribes to `channel`; with `since`, asks the server to recover the
    /// publications after that position.
    pub async fn subscribe(&self, channel: &str, since: Option<Position>) -> Result<SubscribeResult, ClientError> {
        let id = self.next_id();
        let raw = self.roundtrip(id, frames::subscribe(id, channel, since.as_ref())?).await?;
        decode("subscribe", &raw)
    }

    /// Unsubscribes from `channel`; returns the (usually empty) result.
    pub async fn unsubscribe(&self, channel: &str) -> Result<Value, ClientError> {
        let id = self.next_id();
        let raw = self.roundtrip(id, frames::channel_op(id, "unsubscribe", channel)?).await?;
        Ok(raw_to_value(&raw))
    }

    /// Publishes `data` (any serializable value: a `serde_json::Value`, a
    /// `&RawValue` sent verbatim, a struct) to `channel`.
    ///
    /// The frame is encoded when this is called, so the returned future
    /// borrows neither `channel` nor `data` (`client.publish("c", &json!(…), None)`
    /// can be passed to `join!` as it is).
    pub fn publish<'s, T: Serialize + ?Sized>(
        &'s self,
        channel: &str,
        data: &T,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = Result<PublishResult, ClientError>> + Send + use<'s, T> {
        let id = self.next_id();
        let frame = frames::publish(id, channel, data, idempotency_key);
        async move {
            let raw = self.roundtrip(id, frame?).await?;
            decode("publish", &raw)
        }
    }

    /// Reads a page of `channel`'s history.
    pub async fn history(&self, channel: &str, opts: HistoryOptions) -> Result<HistoryResult, ClientError> {
        let id = self.next_id();
        let raw = self.roundtrip(id, frames::history(id, channel, &opts)?).await?;
        decode("history", &raw)
    }

    /// Lists `channel`'s presence members.
    pub async fn presence(&self, channel: &str) -> Result<PresenceResult, ClientError> {
        let id = self.next_id();
        let raw = self.roundtrip(id, frames::channel_op(id, "presence", channel)?).await?;
        decode("presence", &raw)
    }

    /// Sends any operation: `fields` (a JSON object, or null) plus a fresh
    /// `id` and `op` (an `id` or `op` in `fields` is replaced), and returns
    /// the reply's `result`.
    pub async fn request(&self, op: &str, fields: Value) -> Result<Value, ClientError> {
        let id = self.next_id();
        let raw = self.roundtrip(id, frames::generic(id, op, fields)?).await?;
        Ok(raw_to_value(&raw))
    }

    /// Sends `text` as is and waits for the reply carrying `id` (which the
    /// caller put in `text`; take it from [`Client::next_id`] to avoid
    /// clashing with other requests).
    pub async fn request_raw(&self, id: u64, text: String) -> Result<Value, ClientError> {
        let raw = self.roundtrip(id, text).await?;
        Ok(raw_to_value(&raw))
    }

    /// Reserves a request id no other request of this client will use.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a text frame as is. A reply to it arrives as [`Push::Reply`]
    /// (or [`Push::Error`] when the server could not read an id).
    pub fn send_raw_text(&self, text: impl Into<String>) -> Result<(), ClientError> {
        self.send(Message::text(text.into()))
    }

    /// Sends a binary frame (which the protocol does not allow).
    pub fn send_raw_binary(&self, data: impl Into<Vec<u8>>) -> Result<(), ClientError> {
        self.send(Message::Binary(Bytes::from(data.into())))
    }

    /// Sends `{"op":"pong"}` (needed only when auto-pong is off).
    pub fn pong(&self) -> Result<(), ClientError> {
        self.send(Message::text(frames::PONG))
    }

    /// Waits for the next push. `None` once the connection has closed and
    /// every push, ending with [`Push::Closed`], has been taken.
    pub async fn next_push(&self) -> Option<Push> {
        self.pushes.lock().await.recv().await
    }

    /// Waits at most `timeout` for the next push: [`ClientError::Timeout`] if
    /// none came, [`ClientError::Closed`] if none will come any more.
    pub async fn next_push_timeout(&self, timeout: Duration) -> Result<Push, ClientError> {
        match tokio::time::timeout(timeout, self.next_push()).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(self.closed_error()),
            Err(_) => Err(ClientError::Timeout),
        }
    }

    /// Waits at most `timeout` for a push that `pred` accepts, discarding the
    /// pushes before it. [`Push::Closed`] is returned as
    /// [`ClientError::Closed`] unless `pred` accepts it.
    pub async fn wait_push(&self, timeout: Duration, mut pred: impl FnMut(&Push) -> bool) -> Result<Push, ClientError> {
        let deadline = Instant::now() + timeout;
        let mut rx = match tokio::time::timeout_at(deadline, self.pushes.lock()).await {
            Ok(rx) => rx,
            Err(_) => return Err(ClientError::Timeout),
        };
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => return Err(ClientError::Timeout),
                Ok(None) => return Err(self.closed_error()),
                Ok(Some(p)) if pred(&p) => return Ok(p),
                Ok(Some(Push::Closed { code, reason })) => return Err(ClientError::Closed { code, reason }),
                Ok(Some(_)) => {}
            }
        }
    }

    /// Takes a push if one is waiting, without waiting.
    pub fn try_next_push(&self) -> Option<Push> {
        self.pushes.try_lock().ok()?.try_recv().ok()
    }

    /// The push queue itself, for `select!` loops and batch draining.
    pub fn pushes(&mut self) -> &mut mpsc::UnboundedReceiver<Push> {
        self.pushes.get_mut()
    }

    /// Stops reading the socket: no more frames are read (so no replies,
    /// pushes or automatic pongs arrive), the kernel buffers fill up and TCP
    /// backpressure builds on the server. Writing still works.
    pub fn pause_reading(&self) {
        self.paused.send_replace(true);
    }

    /// Resumes reading after [`Client::pause_reading`].
    pub fn resume_reading(&self) {
        self.paused.send_replace(false);
    }

    /// Whether reading is paused.
    pub fn is_reading_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Sends a normal close (1000) and waits (at most the request timeout)
    /// until the connection has closed. Returns at once if it already has.
    /// Resumes reading if it was paused, to complete the closing handshake.
    pub async fn close(&self) -> Result<(), ClientError> {
        if self.close_info().is_some() {
            return Ok(());
        }
        self.resume_reading();
        let frame = CloseFrame { code: CloseCode::Normal, reason: "client closed".into() };
        if self.out.send(Outgoing::Message(Message::Close(Some(frame)))).is_err() {
            return Ok(());
        }
        tokio::time::timeout(self.request_timeout, self.closed()).await.map(|_| ()).map_err(|_| ClientError::Timeout)
    }

    /// Waits until the connection has closed, and tells how.
    pub async fn closed(&self) -> CloseInfo {
        let mut rx = self.closed_rx.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(info) => info.clone().unwrap_or_default(),
            // The reader task is gone without a word (runtime shutting down).
            Err(_) => CloseInfo { code: None, reason: "client task ended".into() },
        }
    }

    /// How the connection closed, or `None` while it is open.
    pub fn close_info(&self) -> Option<CloseInfo> {
        self.closed_rx.borrow().clone()
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.closed_rx.borrow().is_some()
    }

    /// The per-request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Changes the per-request timeout.
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = timeout;
    }

    /// The local address of the socket.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    fn closed_error(&self) -> ClientError {
        self.close_info().unwrap_or_else(|| CloseInfo { code: None, reason: "connection is closing".into() }).into()
    }

    fn send(&self, msg: Message) -> Result<(), ClientError> {
        if let Some(info) = self.close_info() {
            return Err(info.into());
        }
        self.out.send(Outgoing::Message(msg)).map_err(|_| self.closed_error())
    }

    /// Registers `id`, sends `text`, and waits for the reply.
    async fn roundtrip(&self, id: u64, text: String) -> ReplyResult {
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.shared.lock();
            if let Some(info) = &st.closed {
                return Err(info.clone().into());
            }
            if st.pending.insert(id, tx).is_some() {
                return Err(ClientError::Protocol(format!("request id {id} is already waiting for a reply")));
            }
        }
        let _guard = PendingGuard { shared: &self.shared, id };
        self.send(Message::text(text))?;
        match tokio::time::timeout(self.request_timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(self.closed_error()),
            Err(_) => Err(ClientError::Timeout),
        }
    }
}

fn decode<T: DeserializeOwned>(op: &str, raw: &RawValue) -> Result<T, ClientError> {
    serde_json::from_str(raw.get()).map_err(|e| ClientError::Protocol(format!("unreadable {op} result: {e}")))
}
