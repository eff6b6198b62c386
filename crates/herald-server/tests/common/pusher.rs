//! A Pusher protocol 7 test client over tokio-tungstenite: open
//! `/app/{key}`, read frames (with `data` decoded), answer the server's
//! `pusher:ping`, and sign subscriptions as the app's back end would.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

use super::Server;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn open(server: &Server, key: &str, query: &str) -> Ws {
    let url = format!("ws://{}/app/{key}{query}", server.addr);
    tokio_tungstenite::connect_async(url).await.expect("connect").0
}

/// The next Pusher frame other than `pusher:ping` (answered with
/// `pusher:pong`: the tests run with a 1 s activity timeout), or the close code.
pub async fn next(ws: &mut Ws) -> Result<Value, u16> {
    loop {
        let f = next_raw(ws).await?;
        if f["event"] != "pusher:ping" {
            return Ok(f);
        }
        send(ws, json!({"event": "pusher:pong", "data": {}})).await;
    }
}

/// The next Pusher frame (with `data` decoded when it is a string), or the close code.
pub async fn next_raw(ws: &mut Ws) -> Result<Value, u16> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time");
        match msg {
            Some(Ok(Message::Text(t))) => {
                let mut v: Value = serde_json::from_str(&t).expect("JSON frame");
                if let Some(s) = v["data"].as_str() {
                    v["data"] = serde_json::from_str(s).unwrap_or(Value::String(s.to_string()));
                }
                return Ok(v);
            }
            Some(Ok(Message::Close(c))) => return Err(c.map(|c| u16::from(c.code)).unwrap_or(1005)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(1006),
        }
    }
}

pub async fn established(ws: &mut Ws) -> String {
    let f = next(ws).await.expect("connection_established");
    assert_eq!(f["event"], "pusher:connection_established");
    f["data"]["socket_id"].as_str().expect("socket_id").to_string()
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.expect("send");
}

/// A `pusher:subscribe` for a presence channel as `user` (with `info`), signed with `secret`.
pub fn presence_subscribe(key: &str, secret: &str, socket: &str, channel: &str, user: &str, info: Value) -> Value {
    let cd = json!({"user_id": user, "user_info": info}).to_string();
    let sig = herald_server::pusher::signature::sign(secret, format!("{socket}:{channel}:{cd}").as_bytes());
    json!({"event": "pusher:subscribe", "data": {"channel": channel, "auth": format!("{key}:{sig}"), "channel_data": cd}})
}

/// A REST path signed as the pusher SDK signs it (`auth_key`,
/// `auth_timestamp` = now, `auth_version`, `body_md5`, then `auth_signature`).
pub fn signed_path(key: &str, secret: &str, method: &str, path: &str, body: &str, extra: &[(&str, &str)]) -> String {
    use herald_server::pusher::signature;
    let mut params: Vec<(String, String)> = vec![
        ("auth_key".into(), key.into()),
        ("auth_timestamp".into(), (herald_core::now_ms() / 1000).to_string()),
        ("auth_version".into(), "1.0".into()),
    ];
    if !body.is_empty() {
        params.push(("body_md5".into(), signature::body_md5(body.as_bytes())));
    }
    params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let sig = signature::sign(secret, signature::rest_string_to_sign(method, path, &params).as_bytes());
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{path}?{}&auth_signature={sig}", query.join("&"))
}

/// An app's webhook endpoint: checks each request's `X-Pusher-Key`,
/// `X-Pusher-Signature` (HMAC-SHA256 of the body with the secret) and
/// `Content-Type`, and keeps the events of the requests it accepted. While
/// `down`, it answers 503 and keeps nothing (the sender must retry).
pub struct WebhookReceiver {
    pub url: String,
    state: std::sync::Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

struct ReceiverState {
    key: String,
    secret: String,
    down: std::sync::atomic::AtomicBool,
    accepted: std::sync::Mutex<Vec<Value>>,
    refused: std::sync::atomic::AtomicUsize,
    badly_signed: std::sync::atomic::AtomicUsize,
}

impl WebhookReceiver {
    pub async fn start(key: &str, secret: &str) -> WebhookReceiver {
        use std::sync::atomic::Ordering;
        let state = std::sync::Arc::new(ReceiverState {
            key: key.to_string(),
            secret: secret.to_string(),
            down: std::sync::atomic::AtomicBool::new(false),
            accepted: std::sync::Mutex::new(Vec::new()),
            refused: std::sync::atomic::AtomicUsize::new(0),
            badly_signed: std::sync::atomic::AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/webhooks", listener.local_addr().expect("addr"));
        let s = state.clone();
        let handler = move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let s = s.clone();
            async move {
                let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let expected = herald_server::pusher::signature::sign(&s.secret, &body);
                if header("x-pusher-key") != s.key
                    || header("x-pusher-signature") != expected
                    || header("content-type") != "application/json"
                {
                    s.badly_signed.fetch_add(1, Ordering::SeqCst);
                    return axum::http::StatusCode::UNAUTHORIZED;
                }
                if s.down.load(Ordering::SeqCst) {
                    s.refused.fetch_add(1, Ordering::SeqCst);
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let v: Value = serde_json::from_slice(&body).expect("webhook body is JSON");
                let events = v["events"].as_array().cloned().unwrap_or_default();
                s.accepted.lock().expect("lock").extend(events);
                axum::http::StatusCode::OK
            }
        };
        let app = axum::Router::new().route("/webhooks", axum::routing::post(handler));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookReceiver { url, state, task }
    }

    /// Answer 503 (`true`) or accept again (`false`).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// Requests refused while down.
    pub fn refused(&self) -> usize {
        self.state.refused.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests whose key, signature or content type was wrong.
    pub fn badly_signed(&self) -> usize {
        self.state.badly_signed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many accepted events are named `name` for `channel`.
    pub fn count(&self, name: &str, channel: &str) -> usize {
        self.state
            .accepted
            .lock()
            .expect("lock")
            .iter()
            .filter(|e| e["name"] == name && e["channel"] == channel)
            .count()
    }

    /// Wait (up to `within`) until `count(name, channel) >= n`; returns the count.
    pub async fn wait_for(&self, name: &str, channel: &str, n: usize, within: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let c = self.count(name, channel);
            if c >= n || tokio::time::Instant::now() > deadline {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
