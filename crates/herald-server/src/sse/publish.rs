//! `POST /sse/publish`: the upstream half for SSE and long-poll clients.
//! Same token as the stream; publishes as that client, so the namespace's
//! client rules and the identity's grants apply (`Caller::Identity`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Response, Uri};
use herald_core::{Caller, ChannelName, Payload};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::request;
use crate::app::App;
use crate::http_api::{error, json_response, parse_body};

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
) -> Response<Body> {
    let identity = match request::upstream(&app, peer, &uri, &headers) {
        Ok(identity) => identity,
        Err(e) => return error(&e),
    };
    if let Some(user) = &identity.user
        && let Err(e) = app.limits.check_publish(user)
    {
        return error(&e);
    }
    let req: PublishBody<'_> = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let channel = match ChannelName::new(&req.channel) {
        Ok(c) => c,
        Err(e) => return error(&e),
    };
    let key = req.idempotency_key.map(Arc::from);
    match app.hub.publish(Caller::Identity(&identity), channel, Payload::from_raw(req.data), key).await {
        Ok(p) => {
            json_response(serde_json::json!({ "epoch": p.epoch.as_str(), "offset": p.offset }).to_string().into_bytes())
        }
        Err(e) => error(&e),
    }
}
