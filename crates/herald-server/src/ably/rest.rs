//! Ably's REST API on Herald's port: `GET /time`, channel history
//! (`GET /channels/{name}/messages`: `limit`, `direction`, `start`, `end`,
//! pages linked with `Link: <./messages?…>; rel="next"`), publishing
//! (`POST /channels/{name}/messages`: one message or an array; a message
//! `id` is the idempotency key, so ably-js' idempotent retries publish
//! once), presence (`GET /channels/{name}/presence`) and the TokenRequest
//! exchange (`POST /keys/{keyName}/requestToken`: the mac checked, an Ably
//! JWT issued). Bodies in JSON or MessagePack (`Content-Type`), answers as
//! `Accept` asks; `Authorization: Basic base64(key)` or
//! `Bearer base64(token)`; errors are `{"error": {code, statusCode, message}}`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use herald_ably::auth::{self, TokenDetails, TokenRequest};
use herald_ably::envelope::{self, Origin};
use herald_ably::error::code;
use herald_ably::message::presence_action;
use herald_ably::{ErrorInfo, Format, Message, jwt};
use herald_core::{Caller, ChannelName, Direction, HistoryQuery, Payload, now_ms};
use serde::Serialize;

use super::credentials::{self, AblyAuth};
use super::encoder::{message_of, presence_of};
use crate::app::App;

/// A refused REST request: Ably's error body with its status.
pub struct Refusal {
    error: ErrorInfo,
    format: Format,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response<Body> {
        let status = StatusCode::from_u16(self.error.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a ErrorInfo,
        }
        reply(self.format, status, &Body { error: &self.error }, None)
    }
}

type Answer = Result<Response<Body>, Refusal>;

/// The format the client reads (`Accept`).
fn answer_format(headers: &HeaderMap) -> Format {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    Format::from_content_type(accept)
}

/// The format of the request body (`Content-Type`).
fn body_format(headers: &HeaderMap) -> Format {
    Format::from_content_type(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or(""))
}

fn reply<T: Serialize + ?Sized>(format: Format, status: StatusCode, body: &T, link: Option<String>) -> Response<Body> {
    let mut resp = Response::new(Body::from(format.encode(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, l);
    }
    resp
}

/// The request's credentials: `Basic base64(key)` or `Bearer base64(token)`.
fn authenticate(app: &App, headers: &HeaderMap) -> Result<AblyAuth, ErrorInfo> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let no = || ErrorInfo::new(code::NO_CREDENTIALS, "Authorization must be Basic base64(key) or Bearer base64(token)");
    let (scheme, cred) = value.and_then(|v| v.split_once(' ')).ok_or_else(no)?;
    let decoded = B64.decode(cred.trim()).ok().and_then(|b| String::from_utf8(b).ok());
    match scheme {
        "Basic" => credentials::with_key(app, &decoded.ok_or_else(no)?, None),
        // ably-js sends the token base64-encoded; accept it plain too.
        "Bearer" => credentials::with_token(app, decoded.as_deref().unwrap_or(cred.trim()), None),
        _ => Err(no()),
    }
}

fn channel(name: &str) -> Result<ChannelName, ErrorInfo> {
    ChannelName::new(name).map_err(|e| ErrorInfo::new(code::INVALID_CHANNEL_NAME, e.message))
}

/// `GET /time`: `[ms]`.
pub async fn time(headers: HeaderMap) -> Response<Body> {
    reply(answer_format(&headers), StatusCode::OK, &[now_ms()], None)
}

/// History's query parameters.
#[derive(Default)]
struct HistoryParams {
    limit: Option<usize>,
    forwards: bool,
    start: Option<u64>,
    end: Option<u64>,
    /// The next page's offset bound (from our `Link`).
    cursor: Option<u64>,
}

fn history_params(query: Option<&str>) -> Result<HistoryParams, ErrorInfo> {
    let mut p = HistoryParams::default();
    let bad = |k: &str| ErrorInfo::new(code::BAD_REQUEST, format!("invalid {k}"));
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let num = || v.parse::<u64>().map_err(|_| bad(&k));
        match &*k {
            "limit" => p.limit = Some(num()? as usize),
            "direction" => {
                p.forwards = match &*v {
                    "forwards" => true,
                    "backwards" => false,
                    _ => return Err(bad("direction")),
                }
            }
            "start" => p.start = Some(num()?),
            "end" => p.end = Some(num()?),
            "cursor" => p.cursor = Some(num()?),
            _ => {}
        }
    }
    Ok(p)
}

/// `GET /channels/{name}/messages`.
pub async fn history(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let format = answer_format(&headers);
    let refuse = |error| Refusal { error, format };
    let auth = authenticate(&app, &headers).map_err(refuse)?;
    let ch = channel(&name).map_err(refuse)?;
    let p = history_params(query.as_deref()).map_err(refuse)?;
    let limit = p.limit.unwrap_or(app.config.ably.history_default_limit).clamp(1, 1000);
    let q = match p.forwards {
        true => HistoryQuery { since: p.cursor, before: None, limit, direction: Direction::Forward },
        false => HistoryQuery { since: None, before: p.cursor, limit, direction: Direction::Backward },
    };
    let page =
        app.hub.history(Caller::Identity(&auth.identity), &ch, q).await.map_err(|e| refuse(super::error_info(&e)))?;
    let full = page.publications.len() >= limit;
    let link = page.publications.last().filter(|_| full).map(|last| {
        let mut next = format!(
            "./messages?limit={limit}&direction={}&cursor={}",
            if p.forwards { "forwards" } else { "backwards" },
            last.offset
        );
        for (k, v) in [("start", p.start), ("end", p.end)] {
            if let Some(v) = v {
                next.push_str(&format!("&{k}={v}"));
            }
        }
        format!("<{next}>; rel=\"next\"")
    });
    let in_range = |t: u64| p.start.is_none_or(|s| t >= s) && p.end.is_none_or(|e| t <= e);
    let messages: Vec<Message> =
        page.publications.iter().filter(|pb| in_range(pb.time_ms)).map(|pb| message_of(pb, format)).collect();
    Ok(reply(format, StatusCode::OK, &messages, link))
}

/// `POST /channels/{name}/messages`.
pub async fn publish(State(app): State<Arc<App>>, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> Answer {
    let format = answer_format(&headers);
    let refuse = |error| Refusal { error, format };
    let auth = authenticate(&app, &headers).map_err(refuse)?;
    let ch = channel(&name).map_err(refuse)?;
    let input = body_format(&headers);
    let messages: Vec<Message> = input
        .decode::<Vec<Message>>(&body)
        .or_else(|_| input.decode::<Message>(&body).map(|m| vec![m]))
        .map_err(|e| refuse(ErrorInfo::new(code::BAD_REQUEST, e.to_string())))?;
    let mut ids = Vec::new();
    for m in &messages {
        let mine = auth.client_id.as_deref();
        let client_id = match m.client_id.as_deref() {
            Some(c) if Some(c) != mine && !(mine.is_none() && auth.any_client_id) => {
                return Err(refuse(ErrorInfo::new(
                    code::INVALID_CLIENT_ID,
                    format!("may not publish as clientId {c}"),
                )));
            }
            Some(c) => Some(c),
            None => mine,
        };
        let origin = Origin { id: m.id.as_deref(), client_id, connection_id: None };
        let json = envelope::to_publication(m, &origin).map_err(refuse)?;
        let payload =
            Payload::from_json_text(json).map_err(|e| refuse(ErrorInfo::new(code::INVALID_DATA, e.message)))?;
        let key = m.id.as_deref().map(Arc::from);
        let p = app
            .hub
            .publish(Caller::Identity(&auth.identity), ch.clone(), payload, key)
            .await
            .map_err(|e| refuse(super::error_info(&e)))?;
        ids.push(m.id.clone().unwrap_or_else(|| format!("{}:{}", p.epoch, p.offset)));
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Published<'a> {
        channel: &'a str,
        message_ids: Vec<String>,
    }
    Ok(reply(format, StatusCode::CREATED, &Published { channel: &name, message_ids: ids }, None))
}

/// `GET /channels/{name}/presence`.
pub async fn presence(State(app): State<Arc<App>>, Path(name): Path<String>, headers: HeaderMap) -> Answer {
    let format = answer_format(&headers);
    let refuse = |error| Refusal { error, format };
    let auth = authenticate(&app, &headers).map_err(refuse)?;
    let ch = channel(&name).map_err(refuse)?;
    let members =
        app.hub.presence_all(Caller::Identity(&auth.identity), &ch).await.map_err(|e| refuse(super::error_info(&e)))?;
    let present: Vec<_> =
        members.iter().map(|m| presence_of(&m.info, m.state.as_ref(), presence_action::PRESENT, format)).collect();
    Ok(reply(format, StatusCode::OK, &present, None))
}

/// `POST /keys/{keyName}/requestToken`: a signed TokenRequest → TokenDetails with an Ably JWT.
pub async fn request_token(
    State(app): State<Arc<App>>,
    Path(key_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let format = answer_format(&headers);
    let refuse = |error| Refusal { error, format };
    let tr: TokenRequest =
        body_format(&headers).decode(&body).map_err(|e| refuse(ErrorInfo::new(code::BAD_REQUEST, e.to_string())))?;
    issue_token(&app, &key_name, &tr).map(|d| reply(format, StatusCode::OK, &d, None)).map_err(refuse)
}

/// Check a TokenRequest and issue its token.
pub fn issue_token(app: &App, key_name: &str, tr: &TokenRequest) -> Result<TokenDetails, ErrorInfo> {
    let cfg = &app.config.ably;
    let key = cfg
        .key(key_name)
        .filter(|_| tr.key_name == key_name)
        .ok_or_else(|| ErrorInfo::new(code::INVALID_CREDENTIALS, format!("unknown key {key_name}")))?;
    tr.verify(&key.secret)?;
    let now = now_ms();
    let ts = tr.timestamp_ms().ok_or_else(|| ErrorInfo::new(code::BAD_REQUEST, "TokenRequest needs a timestamp"))?;
    if ts.abs_diff(now) > cfg.token_request_tolerance_ms {
        return Err(ErrorInfo::new(code::INVALID_CREDENTIALS, "TokenRequest timestamp is not current"));
    }
    let key_cap = key.capability();
    let cap = match tr.capability.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => auth::parse_capability(c)?,
        None => key_cap.clone(),
    };
    if !auth::covers(&key_cap, &cap) {
        return Err(ErrorInfo::new(code::CAPABILITY_REFUSED, "the requested capability exceeds the key's"));
    }
    let ttl = tr.ttl_ms().unwrap_or(cfg.token_ttl_ms).min(cfg.max_token_ttl_ms);
    let capability = serde_json::to_string(&cap).unwrap_or_default();
    let client_id = tr.client_id.clone().filter(|c| !c.is_empty());
    let claims = jwt::Claims {
        iat: now / 1000,
        exp: (now + ttl).div_ceil(1000),
        capability: capability.clone(),
        client_id: client_id.clone(),
    };
    let token = jwt::sign(key_name, &key.secret, &claims);
    Ok(TokenDetails {
        token,
        key_name: key_name.to_string(),
        issued: now,
        expires: claims.exp * 1000,
        capability,
        client_id,
    })
}
