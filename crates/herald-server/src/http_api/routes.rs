//! The `/api` routes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::Response;
use axum::routing::{get, post};
use herald_core::{
    Caller, ChannelName, Direction, DisconnectReason, ErrorCode, HeraldError, HistoryQuery, NotificationContent,
    Payload, Stored,
};
use herald_protocol::encode;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{error, json_response};
use crate::app::App;

/// Most channels in one broadcast.
pub const MAX_BROADCAST_CHANNELS: usize = 100;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/publish", post(publish))
        .route("/broadcast", post(broadcast))
        .route("/channels", get(channels))
        .route("/channels/{name}", get(channel_info))
        .route("/history/{channel}", get(history))
        .route("/presence/{channel}", get(presence))
        .route("/disconnect", post(disconnect))
        .route("/notifications", post(notify))
        .route("/users/{user}/unread", get(user_unread))
        .route("/read/{channel}", get(read_positions))
        .route("/nodes", get(crate::scale_out::nodes_route))
}

/// Parse a JSON request body: 108 when it is not JSON, 107 when its shape is wrong.
pub(crate) fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, HeraldError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() || e.is_eof() && !body.is_empty() {
            HeraldError::bad_request(format!("request body does not match the documented shape: {e}"))
        } else {
            HeraldError::new(ErrorCode::MalformedJson, format!("request body is not valid JSON: {e}"))
        }
    })
}

fn channel(name: &str) -> Result<ChannelName, HeraldError> {
    ChannelName::new(name)
}

/// `POST /api/publish` takes `channel` (one) or `channels` (several);
/// `POST /api/broadcast` takes `channels`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody<'a> {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(borrow)]
    data: &'a RawValue,
    #[serde(default)]
    idempotency_key: Option<String>,
}

async fn publish(State(app): State<Arc<App>>, body: Bytes) -> Response<Body> {
    let req: PublishBody<'_> = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    match (&req.channel, &req.channels) {
        (Some(name), None) => {
            let ch = match channel(name) {
                Ok(c) => c,
                Err(e) => return error(&e),
            };
            let key = req.idempotency_key.map(Arc::from);
            match app.hub.publish(Caller::Server, ch, Payload::from_raw(req.data), key).await {
                Ok(p) => json_response(
                    serde_json::json!({ "channel": p.channel, "epoch": p.epoch.as_str(), "offset": p.offset })
                        .to_string()
                        .into_bytes(),
                ),
                Err(e) => error(&e),
            }
        }
        (None, Some(_)) => publish_many(&app, req).await,
        _ => error(&HeraldError::bad_request("give either \"channel\" or \"channels\"")),
    }
}

async fn broadcast(State(app): State<Arc<App>>, body: Bytes) -> Response<Body> {
    match parse_body::<PublishBody<'_>>(&body) {
        Ok(req) if req.channel.is_none() => publish_many(&app, req).await,
        Ok(_) => error(&HeraldError::bad_request("broadcast takes \"channels\", a list")),
        Err(e) => error(&e),
    }
}

/// The same data to several channels; each succeeds or fails on its own.
async fn publish_many(app: &App, req: PublishBody<'_>) -> Response<Body> {
    let names = req.channels.unwrap_or_default();
    if names.is_empty() || names.len() > MAX_BROADCAST_CHANNELS {
        return error(&HeraldError::bad_request(format!(
            "\"channels\" must list 1 to {MAX_BROADCAST_CHANNELS} channels"
        )));
    }
    let channels = match names.iter().map(|c| channel(c)).collect::<Result<Vec<_>, _>>() {
        Ok(c) => c,
        Err(e) => return error(&e),
    };
    let data = Payload::from_raw(req.data);
    let mut results = Vec::with_capacity(channels.len());
    for ch in channels {
        let key = req.idempotency_key.as_deref().map(Arc::from);
        let r = app.hub.publish(Caller::Server, ch.clone(), data.clone(), key).await;
        results.push(match r {
            Ok(p) => serde_json::json!({ "channel": ch, "epoch": p.epoch.as_str(), "offset": p.offset }),
            Err(e) => serde_json::json!({ "channel": ch, "error": herald_core::ErrorBody::from(&e) }),
        });
    }
    json_response(serde_json::json!({ "results": results }).to_string().into_bytes())
}

async fn channels(State(app): State<Arc<App>>, Query(q): Query<HashMap<String, String>>) -> Response<Body> {
    let list = app.hub.channels(q.get("prefix").map(String::as_str));
    json_response(serde_json::json!({ "channels": list }).to_string().into_bytes())
}

async fn channel_info(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response<Body> {
    let ch = match channel(&name) {
        Ok(c) => c,
        Err(e) => return error(&e),
    };
    let info = app.hub.channel_info(&ch);
    let page = match app.hub.history(Caller::Server, &ch, HistoryQuery { limit: 0, ..Default::default() }).await {
        Ok(p) => p,
        Err(e) => return error(&e),
    };
    json_response(
        serde_json::json!({
            "channel": ch,
            "subscribers": info.subscribers,
            "presence": info.presence,
            "epoch": page.top.epoch.as_str(),
            "offset": page.top.offset,
        })
        .to_string()
        .into_bytes(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryParams {
    since: Option<u64>,
    before: Option<u64>,
    limit: Option<usize>,
    direction: Option<Direction>,
}

async fn history(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    q: Result<Query<HistoryParams>, axum::extract::rejection::QueryRejection>,
) -> Response<Body> {
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return error(&HeraldError::bad_request(format!("bad query: {e}"))),
    };
    let ch = match channel(&name) {
        Ok(c) => c,
        Err(e) => return error(&e),
    };
    let query = HistoryQuery {
        since: q.since,
        before: q.before,
        limit: q.limit.unwrap_or(100),
        direction: q.direction.unwrap_or_default(),
    };
    match app.hub.history(Caller::Server, &ch, query).await {
        Ok(page) => {
            let mut buf = Vec::new();
            encode::history_page(&mut buf, &page);
            json_response(buf)
        }
        Err(e) => error(&e),
    }
}

async fn presence(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response<Body> {
    let ch = match channel(&name) {
        Ok(c) => c,
        Err(e) => return error(&e),
    };
    match app.hub.presence_all(Caller::Server, &ch).await {
        Ok(members) => {
            let mut buf = Vec::new();
            encode::presence_members(&mut buf, &members);
            json_response(buf)
        }
        Err(e) => error(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisconnectBody {
    user: String,
}

async fn disconnect(State(app): State<Arc<App>>, body: Bytes) -> Response<Body> {
    let req: DisconnectBody = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let n = app.hub.disconnect_user(&req.user, DisconnectReason::Disconnected);
    json_response(serde_json::json!({ "disconnected": n }).to_string().into_bytes())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifyBody {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    users: Option<Vec<String>>,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    dedupe_key: Option<String>,
    #[serde(default)]
    expires_at: Option<u64>,
}

/// Default `kind` of a notification.
const DEFAULT_NOTIFICATION_KIND: &str = "notification";

async fn notify(State(app): State<Arc<App>>, body: Bytes) -> Response<Body> {
    let req: NotifyBody = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let users = match (req.user, req.users) {
        (Some(u), None) => vec![u],
        (None, Some(list)) => list,
        _ => return error(&HeraldError::bad_request("give either \"user\" or \"users\"")),
    };
    let content = NotificationContent {
        kind: req.kind.unwrap_or_else(|| DEFAULT_NOTIFICATION_KIND.to_string()),
        title: req.title,
        body: req.body,
        // Canonical text (keys sorted): a retry with reordered keys is the same content.
        data: req.data.unwrap_or(serde_json::Value::Null).to_string(),
        expires_at: req.expires_at,
    };
    match app.hub.notify(&users, content, req.dedupe_key.as_deref()).await {
        Ok(stored) => {
            let list: Vec<_> = stored
                .iter()
                .map(|s| {
                    let (n, created) = match s {
                        Stored::Created(n) => (n, true),
                        Stored::Existing(n) => (n, false),
                    };
                    serde_json::json!({ "user": n.user, "id": n.id, "created_at": n.created_ms, "created": created })
                })
                .collect();
            json_response(serde_json::json!({ "notifications": list }).to_string().into_bytes())
        }
        Err(e) => error(&e),
    }
}

async fn user_unread(State(app): State<Arc<App>>, Path(user): Path<String>) -> Response<Body> {
    let channels = match app.hub.unread(&user).await {
        Ok(c) => c,
        Err(e) => return error(&e),
    };
    match app.hub.notifications_unread(&user).await {
        Ok(n) => {
            json_response(serde_json::json!({ "channels": channels, "notifications": n }).to_string().into_bytes())
        }
        Err(e) => error(&e),
    }
}

async fn read_positions(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response<Body> {
    let ch = match channel(&name) {
        Ok(c) => c,
        Err(e) => return error(&e),
    };
    match app.hub.read_positions(Caller::Server, &ch).await {
        Ok((top, members)) => json_response(
            serde_json::json!({ "channel": ch, "epoch": top.epoch.as_str(), "offset": top.offset, "members": members })
                .to_string()
                .into_bytes(),
        ),
        Err(e) => error(&e),
    }
}
