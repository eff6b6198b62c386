//! Pusher's HTTP API at `/apps/{app_id}/…`, signed as Pusher signs it
//! (`auth_key`, `auth_timestamp` within the tolerance, `auth_version=1.0`,
//! `body_md5`, `auth_signature`): trigger (one and batch, with `socket_id`
//! exclusion), channel list and info, presence users, and terminating a
//! user's connections. Errors are plain text with Pusher's statuses.
//! Channel lists and counts are the cluster's (`Hub::cluster_channels`,
//! `Hub::cluster_channel_info`), whichever node answers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{HeaderValue, Method, Response, StatusCode, Uri, header};
use axum::response::IntoResponse;
use herald_core::{Caller, ChannelInfo, ChannelName, DisconnectReason, ErrorCode, HeraldError};
use serde::Deserialize;
use serde_json::Value;

use super::PusherApp;
use super::channels::{self, Kind};
use super::frames::envelope;
use super::signature;
use crate::app::App;

/// A refused request in Pusher's shape: plain text with Pusher's status.
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

fn bad(m: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, m)
}

fn unauthorized(m: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::UNAUTHORIZED, m)
}

/// A hub error with the status Pusher would answer.
impl From<HeraldError> for Refusal {
    fn from(e: HeraldError) -> Self {
        let status = match e.code {
            ErrorCode::MessageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            c if c.temporary() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, e.message)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(Body::from(self.message));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        resp
    }
}

/// A request's query parameters, decoded.
type Params = Vec<(String, String)>;

/// A request signed as Pusher signs it, checked before the handler runs:
/// the app it is for, its query parameters and its body (empty for `GET`).
pub struct Signed {
    papp: Arc<PusherApp>,
    params: Params,
    body: Bytes,
}

impl FromRequest<Arc<App>> for Signed {
    type Rejection = Refusal;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Refusal> {
        let (mut parts, body) = req.into_parts();
        let Path(path) = Path::<HashMap<String, String>>::from_request_parts(&mut parts, app)
            .await
            .map_err(|e| Refusal::new(e.status(), e.body_text()))?;
        let app_id = path.get("app_id").map(String::as_str).unwrap_or_default();
        let (method, uri) = (parts.method.clone(), parts.uri.clone());
        let body = if method == Method::GET {
            Bytes::new()
        } else {
            Bytes::from_request(Request::from_parts(parts, body), app)
                .await
                .map_err(|e| Refusal::new(e.status(), e.body_text()))?
        };
        let (papp, params) = authenticate(app, app_id, &method, &uri, &body)?;
        Ok(Self { papp, params, body })
    }
}

impl Signed {
    /// A query parameter.
    fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Refusal> {
        serde_json::from_slice(&self.body).map_err(|e| bad(format!("invalid JSON body: {e}")))
    }
}

/// Check the request's signature; the app and the query parameters.
fn authenticate(
    app: &App,
    app_id: &str,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Result<(Arc<PusherApp>, Params), Refusal> {
    let papp = app
        .pusher
        .by_id(app_id)
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, format!("Unknown app id {app_id}")))?;
    let params: Params = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let cfg = &papp.config;
    if get("auth_key") != Some(cfg.key.as_str()) {
        return Err(unauthorized("Unknown auth_key"));
    }
    if get("auth_version") != Some("1.0") {
        return Err(unauthorized("auth_version must be 1.0"));
    }
    let ts: u64 =
        get("auth_timestamp").and_then(|t| t.parse().ok()).ok_or_else(|| unauthorized("auth_timestamp missing"))?;
    let now = herald_core::now_ms() / 1000;
    let tolerance = app.config.pusher.auth_timestamp_tolerance_secs;
    if ts.abs_diff(now) > tolerance {
        return Err(unauthorized(format!(
            "Timestamp expired: given {ts}, now {now}; requests must be within {tolerance} seconds"
        )));
    }
    if !body.is_empty() || get("body_md5").is_some() {
        let md5 = signature::body_md5(body);
        if get("body_md5") != Some(md5.as_str()) {
            return Err(unauthorized("body_md5 does not match the body"));
        }
    }
    let to_sign = signature::rest_string_to_sign(method.as_str(), uri.path(), &params);
    let sig = get("auth_signature").unwrap_or("");
    if !signature::verify(&cfg.secret, to_sign.as_bytes(), sig) {
        return Err(unauthorized(format!(
            "Invalid signature: you should have sent HmacSHA256Hex({to_sign:?}, your_secret)"
        )));
    }
    app.limits.check_api(&cfg.key)?;
    Ok((papp.clone(), params))
}

#[derive(Deserialize)]
struct Event {
    name: String,
    data: serde_json::Value,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    socket_id: Option<String>,
    #[serde(default)]
    info: Option<String>,
}

/// Which counts `info` asks for.
#[derive(Default, Clone, Copy)]
struct Info {
    users: bool,
    subscriptions: bool,
}

fn parse_info(info: Option<&str>) -> Result<Info, Refusal> {
    let mut i = Info::default();
    for attr in info.unwrap_or("").split(',').filter(|a| !a.is_empty()) {
        match attr {
            "user_count" => i.users = true,
            "subscription_count" => i.subscriptions = true,
            other => return Err(bad(format!("unknown info attribute {other:?}"))),
        }
    }
    Ok(i)
}

/// The asked-for counts of one channel, from every node.
fn counts(c: &ChannelInfo, name: &str, info: Info) -> serde_json::Value {
    let mut v = serde_json::Map::new();
    if info.users && name.starts_with("presence-") {
        v.insert("user_count".into(), c.presence.into());
    }
    if info.subscriptions {
        v.insert("subscription_count".into(), c.subscribers.into());
    }
    serde_json::Value::Object(v)
}

/// One channel's counts over the cluster (members only when `info` asks).
async fn channel_counts(app: &App, ch: &ChannelName, name: &str, info: Info) -> Result<ChannelInfo, Refusal> {
    let presence = info.users && name.starts_with("presence-");
    Ok(app.hub.cluster_channel_info(ch, presence).await?)
}

/// Validate and publish one event; the `info` answer per channel.
async fn publish(app: &App, papp: &PusherApp, e: Event) -> Result<serde_json::Value, Refusal> {
    let cfg = &papp.config;
    let names: Vec<String> = match (e.channels, e.channel) {
        (Some(list), None) => list,
        (None, Some(one)) => vec![one],
        _ => return Err(bad("give either channels (a list) or channel")),
    };
    if names.is_empty() || names.len() > cfg.max_trigger_channels {
        return Err(bad(format!("an event goes to 1 to {} channels", cfg.max_trigger_channels)));
    }
    if e.name.is_empty() || e.name.len() > channels::MAX_NAME {
        return Err(bad("event name must be 1 to 200 characters"));
    }
    let data = match &e.data {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if data.len() > cfg.max_event_payload_bytes {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("event data is {} bytes; at most {} allowed", data.len(), cfg.max_event_payload_bytes),
        ));
    }
    let info = parse_info(e.info.as_deref())?;
    let mut targets = Vec::with_capacity(names.len());
    for n in &names {
        if Kind::of(n) == Kind::Encrypted && names.len() > 1 {
            return Err(bad("an event to an encrypted channel must go to that channel only"));
        }
        if info.users && !n.starts_with("presence-") {
            return Err(bad("info=user_count is only for presence channels"));
        }
        targets.push(papp.channel(n).map_err(|e| bad(format!("{n}: {}", e.message)))?);
    }
    let exclude = match e.socket_id.as_deref() {
        Some(s) if !valid_socket_id(s) => return Err(bad(format!("invalid socket_id {s:?}"))),
        // The socket may be on another node: its connection answers to the socket id.
        Some(s) => Some(Arc::<str>::from(s)),
        None => None,
    };
    let payload = envelope(&e.name, &data).map_err(|e| bad(e.message))?;
    let mut answer = serde_json::Map::new();
    for (ch, name) in targets.into_iter().zip(&names) {
        let r = match &exclude {
            Some(conn) => app.hub.publish_on_behalf(ch.clone(), payload.clone(), conn.clone()).await,
            None => app.hub.publish(Caller::Server, ch.clone(), payload.clone(), None).await,
        };
        r?;
        if info.users || info.subscriptions {
            let c = channel_counts(app, &ch, name, info).await?;
            answer.insert(name.clone(), counts(&c, name, info));
        }
    }
    Ok(serde_json::Value::Object(answer))
}

fn valid_socket_id(s: &str) -> bool {
    s.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
    })
}

/// `POST /apps/{app_id}/events`.
pub async fn trigger(State(app): State<Arc<App>>, signed: Signed) -> Result<Json<Value>, Refusal> {
    let event: Event = signed.json()?;
    let wants_info = event.info.is_some();
    let channels = publish(&app, &signed.papp, event).await?;
    Ok(Json(if wants_info { serde_json::json!({ "channels": channels }) } else { serde_json::json!({}) }))
}

/// `POST /apps/{app_id}/batch_events`.
pub async fn batch_trigger(State(app): State<Arc<App>>, signed: Signed) -> Result<Json<Value>, Refusal> {
    #[derive(Deserialize)]
    struct Batch {
        batch: Vec<Event>,
    }
    let batch: Batch = signed.json()?;
    let max = signed.papp.config.max_batch_events;
    if batch.batch.len() > max {
        return Err(bad(format!("Batch too large: {} events; at most {max}", batch.batch.len())));
    }
    let mut answers = Vec::with_capacity(batch.batch.len());
    for event in batch.batch {
        if event.channels.is_some() {
            return Err(bad("each batch event names one channel"));
        }
        let name = event.channel.clone().unwrap_or_default();
        let info = publish(&app, &signed.papp, event).await?;
        answers.push(info.get(&name).cloned().unwrap_or(serde_json::json!({})));
    }
    Ok(Json(serde_json::json!({ "batch": answers })))
}

/// `GET /apps/{app_id}/channels?filter_by_prefix=…&info=user_count`.
pub async fn channels(State(app): State<Arc<App>>, signed: Signed) -> Result<Json<Value>, Refusal> {
    let prefix = signed.param("filter_by_prefix").unwrap_or("");
    let info = parse_info(signed.param("info"))?;
    if info.users && !prefix.starts_with("presence-") {
        return Err(bad("info=user_count needs filter_by_prefix=presence-"));
    }
    let ns = &signed.papp.config.namespace;
    let listed = app.hub.cluster_channels(&format!("{ns}:{prefix}"), info.users).await?;
    let mut out = serde_json::Map::new();
    for c in listed {
        let Some(name) = channels::from_herald(ns, &c.channel) else { continue };
        out.insert(name.to_string(), counts(&c, name, info));
    }
    Ok(Json(serde_json::json!({ "channels": out })))
}

/// `GET /apps/{app_id}/channels/{channel}?info=user_count,subscription_count`.
pub async fn channel(
    State(app): State<Arc<App>>,
    Path((_, name)): Path<(String, String)>,
    signed: Signed,
) -> Result<Json<Value>, Refusal> {
    let info = parse_info(signed.param("info"))?;
    if info.users && !name.starts_with("presence-") {
        return Err(bad("info=user_count is only for presence channels"));
    }
    let ch = signed.papp.channel(&name).map_err(|e| bad(e.message))?;
    // Occupied needs the subscription count even when `info` does not ask for it.
    let c = channel_counts(&app, &ch, &name, info).await?;
    let mut v = counts(&c, &name, info);
    v["occupied"] = (c.subscribers > 0).into();
    Ok(Json(v))
}

/// `GET /apps/{app_id}/channels/{channel}/users` (presence channels).
pub async fn users(
    State(app): State<Arc<App>>,
    Path((_, name)): Path<(String, String)>,
    signed: Signed,
) -> Result<Json<Value>, Refusal> {
    if !name.starts_with("presence-") {
        return Err(bad("users are only listed for presence channels"));
    }
    let ch = signed.papp.channel(&name).map_err(|e| bad(e.message))?;
    let members = app.hub.presence_all(Caller::Server, &ch).await?;
    let mut ids: Vec<String> = members.iter().map(|m| m.info.member_key().to_string()).collect();
    ids.sort();
    let users: Vec<_> = ids.into_iter().map(|id| serde_json::json!({ "id": id })).collect();
    Ok(Json(serde_json::json!({ "users": users })))
}

/// `POST /apps/{app_id}/users/{user_id}/terminate_connections`: close every
/// socket signed in as the user (4009: pusher-js does not reconnect).
pub async fn terminate(Path((_, user)): Path<(String, String)>, signed: Signed) -> Json<Value> {
    for conn in signed.papp.user_sockets(&user) {
        conn.outbound.close(DisconnectReason::Forbidden, true);
    }
    Json(serde_json::json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_ids_and_info() {
        assert!(valid_socket_id("123.456"));
        for bad in ["123", ".1", "1.", "a.1", "1.2.3"] {
            assert!(!valid_socket_id(bad), "{bad}");
        }
        let i = parse_info(Some("user_count,subscription_count")).unwrap();
        assert!(i.users && i.subscriptions);
        assert!(parse_info(Some("members")).is_err());
    }
}
