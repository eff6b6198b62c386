//! No sticky sessions for polling: with `[broker] url`, a polling session's
//! sid names the node that holds it (`{node}-{random}`), and a poll or POST
//! that reaches another node travels to that node through the broker
//! (`herald_redis::NodeMailbox`), is served there as if it had arrived
//! there, and the answer travels back. A session whose node does not
//! answer (gone, or Redis down) is unknown: code 1, and the client
//! reconnects and recovers. A WebSocket upgrade cannot travel: an upgrade
//! for another node's session is refused (code 1) and the client keeps
//! polling, which is what socket.io-client does after a failed upgrade.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use herald_redis::{NodeMailbox, RedisBroker};
use herald_socketio::engineio::EngineError;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::{engine_error, polling};
use crate::app::App;

/// The mailbox topic of the Socket.IO door.
const TOPIC: &str = "socketio";

/// A forwarded request, or its answer.
#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Message {
    Request { id: u64, from: String, sid: String, post: bool, binary: bool, body: String },
    Reply { id: u64, status: u16, content_type: String, body: String },
}

/// This node's side of the forwarding.
pub struct Relay {
    mailbox: Arc<NodeMailbox>,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Response<Body>>>>,
    next_id: AtomicU64,
}

impl Relay {
    /// The sid prefix of this node's sessions.
    pub fn node_id(&self) -> &str {
        self.mailbox.node_id()
    }
}

/// Start forwarding on `app` (its broker is `broker`).
pub fn start(app: &Arc<App>, broker: &RedisBroker) {
    let (mailbox, mut inbox) = match NodeMailbox::open(broker, TOPIC) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "socket.io polling requests will not be forwarded between nodes");
            return;
        }
    };
    let relay = Arc::new(Relay { mailbox, waiting: Mutex::new(HashMap::new()), next_id: AtomicU64::new(1) });
    if app.socketio.relay.set(relay.clone()).is_err() {
        return;
    }
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        while let Some(bytes) = inbox.recv().await {
            let Some(app) = weak.upgrade() else { return };
            match serde_json::from_slice::<Message>(&bytes) {
                Ok(Message::Request { id, from, sid, post, binary, body }) => {
                    let relay = relay.clone();
                    tokio::spawn(async move {
                        let resp = serve(&app, &sid, post, binary, body.as_bytes()).await;
                        relay.reply(&from, id, resp).await;
                    });
                }
                Ok(Message::Reply { id, status, content_type, body }) => {
                    if let Some(tx) = relay.waiting.lock().remove(&id) {
                        let _ = tx.send(response(status, &content_type, body));
                    }
                }
                Err(e) => tracing::debug!(error = %e, "malformed socket.io relay message"),
            }
        }
    });
}

/// The node a sid names, if it is another node's.
pub fn owner<'a>(app: &App, sid: &'a str) -> Option<(&'a str, Arc<Relay>)> {
    let relay = app.socketio.relay.get()?.clone();
    let (node, _) = sid.split_once('-')?;
    (node != relay.node_id() && !node.is_empty()).then_some((node, relay))
}

/// Serve a request that arrived here for `node`'s session `sid`.
pub async fn forward(app: &App, relay: &Relay, node: &str, sid: &str, req: Request<Body>) -> Response<Body> {
    let post = req.method() == axum::http::Method::POST;
    let (binary, body) = if post {
        let binary = polling::binary_body(&req);
        let body = polling::read_body(req, app.config.socketio.max_payload.max(64)).await;
        match String::from_utf8(body.to_vec()) {
            Ok(text) => (binary, text),
            // Not text: the owner refuses it as Engine.IO 3's binary body.
            Err(_) => (true, String::new()),
        }
    } else {
        (false, String::new())
    };
    let id = relay.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    relay.waiting.lock().insert(id, tx);
    let message = Message::Request { id, from: relay.node_id().to_string(), sid: sid.to_string(), post, binary, body };
    let sent = match serde_json::to_vec(&message) {
        Ok(bytes) => relay.mailbox.send(node, &bytes).await,
        Err(_) => Ok(false),
    };
    if !matches!(sent, Ok(true)) {
        relay.waiting.lock().remove(&id);
        return engine_error(&EngineError::UnknownSid);
    }
    // A poll waits at most until the owner's next ping.
    let engine = app.config.socketio.engine();
    let wait = engine.ping_interval + engine.ping_timeout + Duration::from_secs(5);
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(resp)) => resp,
        _ => {
            relay.waiting.lock().remove(&id);
            engine_error(&EngineError::UnknownSid)
        }
    }
}

/// Serve a forwarded request as if it had arrived here.
async fn serve(app: &App, sid: &str, post: bool, binary: bool, body: &[u8]) -> Response<Body> {
    match app.socketio.sessions.get(sid) {
        None => engine_error(&EngineError::UnknownSid),
        Some(session) if post => polling::post_body(session, body, binary).await,
        Some(session) => polling::poll(session).await,
    }
}

impl Relay {
    async fn reply(&self, to: &str, id: u64, resp: Response<Body>) {
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/plain; charset=UTF-8")
            .to_string();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
        let body = String::from_utf8_lossy(&body).into_owned();
        let message = Message::Reply { id, status, content_type, body };
        if let Ok(bytes) = serde_json::to_vec(&message)
            && let Err(e) = self.mailbox.send(to, &bytes).await
        {
            tracing::debug!(error = %e, "socket.io relay reply lost");
        }
    }
}

fn response(status: u16, content_type: &str, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}
