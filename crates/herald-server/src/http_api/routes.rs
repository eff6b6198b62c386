//! The `/api` routes. Each handler answers JSON or an [`ApiError`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use herald_core::{
    Caller, ChannelName, Direction, DisconnectReason, HeraldError, HistoryQuery, NotificationContent, Payload, Stored,
};
use herald_protocol::encode;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::json_body::JsonBody;
use crate::api_error::{ApiError, JsonBytes};
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

async fn publish(State(app): State<Arc<App>>, body: JsonBody) -> Result<Json<Value>, ApiError> {
    let req: PublishBody<'_> = body.parse()?;
    match (&req.channel, &req.channels) {
        (Some(name), None) => {
            let ch = channel(name)?;
            let key = req.idempotency_key.map(Arc::from);
            let p = app.hub.publish(Caller::Server, ch, Payload::from_raw(req.data), key).await?;
            Ok(Json(serde_json::json!({ "channel": p.channel, "epoch": p.epoch.as_str(), "offset": p.offset })))
        }
        (None, Some(_)) => publish_many(&app, req).await,
        _ => Err(HeraldError::bad_request("give either \"channel\" or \"channels\"").into()),
    }
}

async fn broadcast(State(app): State<Arc<App>>, body: JsonBody) -> Result<axum::response::Response, ApiError> {
    // Supabase Realtime's REST broadcast (`{"messages":[…]}`) shares this
    // path: realtime-js posts here when its URL ends in `/socket`.
    if let Ok(messages) = body.parse::<crate::supabase::rest::BroadcastBody>() {
        return crate::supabase::rest::publish(&app, &crate::supabase::rest::Sender::Server, &messages).await;
    }
    let req: PublishBody<'_> = body.parse()?;
    if req.channel.is_some() {
        return Err(HeraldError::bad_request("broadcast takes \"channels\", a list").into());
    }
    publish_many(&app, req).await.map(axum::response::IntoResponse::into_response)
}

/// The same data to several channels; each succeeds or fails on its own.
async fn publish_many(app: &App, req: PublishBody<'_>) -> Result<Json<Value>, ApiError> {
    let names = req.channels.unwrap_or_default();
    if names.is_empty() || names.len() > MAX_BROADCAST_CHANNELS {
        return Err(
            HeraldError::bad_request(format!("\"channels\" must list 1 to {MAX_BROADCAST_CHANNELS} channels")).into()
        );
    }
    let channels = names.iter().map(|c| channel(c)).collect::<Result<Vec<_>, _>>()?;
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
    Ok(Json(serde_json::json!({ "results": results })))
}

async fn channels(State(app): State<Arc<App>>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let list = app.hub.channels(q.get("prefix").map(String::as_str));
    Json(serde_json::json!({ "channels": list }))
}

async fn channel_info(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let ch = channel(&name)?;
    let info = app.hub.channel_info(&ch);
    let page = app.hub.history(Caller::Server, &ch, HistoryQuery { limit: 0, ..Default::default() }).await?;
    Ok(Json(serde_json::json!({
        "channel": ch,
        "subscribers": info.subscribers,
        "presence": info.presence,
        "epoch": page.top.epoch.as_str(),
        "offset": page.top.offset,
    })))
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
    q: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<JsonBytes, ApiError> {
    let Query(q) = q.map_err(|e| HeraldError::bad_request(format!("bad query: {e}")))?;
    let ch = channel(&name)?;
    let query = HistoryQuery {
        since: q.since,
        before: q.before,
        limit: q.limit.unwrap_or(100),
        direction: q.direction.unwrap_or_default(),
    };
    let page = app.hub.history(Caller::Server, &ch, query).await?;
    let mut buf = Vec::new();
    encode::history_page(&mut buf, &page);
    Ok(JsonBytes(buf))
}

async fn presence(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<JsonBytes, ApiError> {
    let ch = channel(&name)?;
    let members = app.hub.presence_all(Caller::Server, &ch).await?;
    let mut buf = Vec::new();
    encode::presence_members(&mut buf, &members);
    Ok(JsonBytes(buf))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisconnectBody {
    user: String,
}

async fn disconnect(State(app): State<Arc<App>>, body: JsonBody) -> Result<Json<Value>, ApiError> {
    let req: DisconnectBody = body.parse()?;
    let n = app.hub.disconnect_user(&req.user, DisconnectReason::Disconnected);
    Ok(Json(serde_json::json!({ "disconnected": n })))
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

async fn notify(State(app): State<Arc<App>>, body: JsonBody) -> Result<Json<Value>, ApiError> {
    let req: NotifyBody = body.parse()?;
    let users = match (req.user, req.users) {
        (Some(u), None) => vec![u],
        (None, Some(list)) => list,
        _ => return Err(HeraldError::bad_request("give either \"user\" or \"users\"").into()),
    };
    let content = NotificationContent {
        kind: req.kind.unwrap_or_else(|| DEFAULT_NOTIFICATION_KIND.to_string()),
        title: req.title,
        body: req.body,
        // Canonical text (keys sorted): a retry with reordered keys is the same content.
        data: req.data.unwrap_or(serde_json::Value::Null).to_string(),
        expires_at: req.expires_at,
    };
    let stored = app.hub.notify(&users, content, req.dedupe_key.as_deref()).await?;
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
    Ok(Json(serde_json::json!({ "notifications": list })))
}

async fn user_unread(State(app): State<Arc<App>>, Path(user): Path<String>) -> Result<Json<Value>, ApiError> {
    let channels = app.hub.unread(&user).await?;
    let n = app.hub.notifications_unread(&user).await?;
    Ok(Json(serde_json::json!({ "channels": channels, "notifications": n })))
}

async fn read_positions(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let ch = channel(&name)?;
    let (top, members) = app.hub.read_positions(Caller::Server, &ch).await?;
    Ok(Json(
        serde_json::json!({ "channel": ch, "epoch": top.epoch.as_str(), "offset": top.offset, "members": members }),
    ))
}
