//! REST broadcast, `POST /realtime/v1/api/broadcast` with
//! `{"messages":[{"topic","event","payload","private"?}]}` → 202 and an
//! empty body (also `POST /api/broadcast` with that body, behind the HTTP
//! API's key: realtime-js posts there when its URL ends in `/socket`). Each message is published to the topic's channel as
//! `{"event","data"}`. Authorized by Herald's API key (`Authorization:
//! Bearer <api_key>` or the `apikey` header: published as the server), else
//! by a Herald token (Bearer or `apikey`) with the publish right; in
//! development mode by anyone. 401 without credentials, 422 for a body of
//! another shape, 429 over the rate limits.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Response, StatusCode, header};
use herald_core::{Caller, ErrorCode, HeraldError, Identity, Payload};
use serde::Deserialize;
use serde_json::{Value, json};

use super::channel_of;
use crate::api_error::ApiError;
use crate::app::App;
use crate::door::admission;
use crate::http_api::auth::same;

/// The body: `{"messages":[…]}`.
#[derive(Deserialize)]
pub struct BroadcastBody {
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Message {
    topic: String,
    event: String,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    private: bool,
}

/// Who is broadcasting.
pub enum Sender {
    /// The app's back end (the API key).
    Server,
    /// A client with a token (or anyone in development mode).
    Client(Identity),
}

/// The credentials: `Authorization: Bearer …`, else the `apikey` header.
fn credentials(headers: &HeaderMap) -> Vec<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let apikey = headers.get("apikey").and_then(|v| v.to_str().ok()).map(str::to_string);
    bearer.into_iter().chain(apikey).filter(|t| !t.is_empty()).collect()
}

fn sender(app: &App, headers: &HeaderMap) -> Result<Sender, HeraldError> {
    let given = credentials(headers);
    if let Some(key) = &app.config.api_key
        && given.iter().any(|g| same(g.as_bytes(), key.as_bytes()))
    {
        app.limits.check_api("api-key")?;
        return Ok(Sender::Server);
    }
    if app.auth.is_development() {
        return Ok(Sender::Client(Identity::development()));
    }
    let mut last =
        HeraldError::new(ErrorCode::Unauthorized, "send the API key or a token (Authorization: Bearer, or apikey)");
    for token in &given {
        match app.auth.authenticate(Some(token)) {
            Ok(identity) => {
                return Ok(Sender::Client(super::roles::with_role_grants(&app.config.supabase, token, identity)));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `POST /realtime/v1/api/broadcast`.
pub async fn broadcast(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    if !app.config.supabase.enabled {
        return Err(HeraldError::new(ErrorCode::NotFound, "the Supabase door is off ([supabase] enabled)").into());
    }
    let sender = sender(&app, &headers)?;
    if let Sender::Client(_) = &sender {
        app.limits.check_http_request(admission::client_ip(&app, peer, &headers))?;
    }
    let req: BroadcastBody = serde_json::from_slice(&body)
        .map_err(|e| unprocessable(format!("expected {{\"messages\":[{{\"topic\",\"event\",\"payload\"}}]}}: {e}")))?;
    publish(&app, &sender, &req).await
}

fn unprocessable(m: String) -> ApiError {
    ApiError::with_status(StatusCode::UNPROCESSABLE_ENTITY, HeraldError::new(ErrorCode::BadRequest, m))
}

/// Publish every message of `req` as `sender` → 202, or the first refusal.
/// Also `POST /api/broadcast` with this body (as the server: behind the API key),
/// the path realtime-js posts to when its URL ends in `/socket`.
pub async fn publish(app: &App, sender: &Sender, req: &BroadcastBody) -> Result<Response<Body>, ApiError> {
    let max = app.config.supabase.max_rest_messages;
    if req.messages.is_empty() || req.messages.len() > max {
        return Err(unprocessable(format!("\"messages\" must hold 1 to {max} messages")));
    }
    let ns = &app.config.supabase.namespace;
    let mut out = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        let channel = channel_of(ns, &m.topic, m.private).map_err(unprocessable)?;
        let data = Payload::from_value(&json!({ "event": m.event, "data": m.payload }));
        out.push((channel, data));
    }
    for (channel, data) in out {
        let caller = match sender {
            Sender::Server => Caller::Server,
            Sender::Client(identity) => Caller::Identity(identity),
        };
        app.hub.publish(caller, channel, data, None).await?;
    }
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    Ok(resp)
}
