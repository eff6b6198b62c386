//! `POST /sse/publish`: the upstream half for SSE and long-poll clients.
//! Same token as the stream; publishes as that client, so the namespace's
//! client rules and the identity's grants apply (`Caller::Identity`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use herald_core::{Caller, ChannelName, Payload};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::request;
use crate::api_error::ApiError;
use crate::app::App;
use crate::http_api::parse_body;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody<'a> {
    channel: String,
    #[serde(borrow)]
    data: &'a RawValue,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// `POST /sse/publish` with `{"channel","data","idempotency_key"?}` → `{"epoch","offset"}`.
/// Rate-limited per client address (like one WebSocket connection's
/// requests) and per user (publishes across every door).
pub async fn publish(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let identity = request::upstream(&app, peer, &uri, &headers)?;
    if let Some(user) = &identity.user {
        app.limits.check_publish(user)?;
    }
    let req: PublishBody<'_> = parse_body(&body)?;
    let channel = ChannelName::new(&req.channel)?;
    let key = req.idempotency_key.map(Arc::from);
    let p = app.hub.publish(Caller::Identity(&identity), channel, Payload::from_raw(req.data), key).await?;
    Ok(Json(serde_json::json!({ "epoch": p.epoch.as_str(), "offset": p.offset })))
}
