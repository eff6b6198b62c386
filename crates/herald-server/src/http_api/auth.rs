//! API key check. With `api_key` set, every `/api` call needs
//! `Authorization: Bearer <key>`. Without one (development), only callers on
//! the loopback interface are served. Before either, browsers are refused
//! unless their origin is listed: the API is for back ends.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Request, Response, header};
use axum::middleware::Next;
use herald_core::{ErrorCode, HeraldError};

use crate::api_error::ApiError;
use crate::app::App;

/// Constant-time comparison, so the key cannot be guessed byte by byte from timing.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A browser's request (it carries `Origin`; back ends' HTTP clients send
/// none) is served only from an origin listed in `auth.allowed_origins`,
/// and from none when the list is empty, so a page open in a developer's
/// browser cannot use the loopback trust of development mode.
fn refuse_foreign_origin(app: &App, headers: &HeaderMap) -> Result<(), HeraldError> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().unwrap_or("");
    if !app.config.auth.allowed_origins.is_empty() && app.auth.origins.allows(Some(origin)) {
        return Ok(());
    }
    metrics::counter!("herald_origin_refused_total").increment(1);
    Err(HeraldError::new(
        ErrorCode::PermissionDenied,
        format!("origin {origin:?} may not call the HTTP API, which is for back ends; list it in auth.allowed_origins"),
    ))
}

/// Middleware: refuse browsers from unlisted origins and calls without the API key.
pub async fn require_api_key(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
    next: Next,
) -> Result<Response<Body>, ApiError> {
    refuse_foreign_origin(&app, req.headers())?;
    let client_ip = app.proxies.client_ip(peer.ip(), req.headers());
    let allowed = match &app.config.api_key {
        Some(key) => req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| same(given.trim().as_bytes(), key.as_bytes())),
        None => client_ip.is_loopback(),
    };
    let limit_key = match &app.config.api_key {
        Some(_) => "api-key".to_string(),
        None => client_ip.to_string(),
    };
    if allowed {
        app.limits.check_api(&limit_key)?;
    }
    if !allowed {
        metrics::counter!("herald_api_unauthorized_total").increment(1);
        let msg = if app.config.api_key.is_some() {
            "missing or wrong API key: send Authorization: Bearer <api_key>"
        } else {
            "no API key is configured, so the HTTP API only answers loopback callers"
        };
        return Err(HeraldError::new(ErrorCode::Unauthorized, msg).into());
    }
    Ok(next.run(req).await)
}
