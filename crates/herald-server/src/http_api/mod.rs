//! The HTTP API for app back ends (`docs/http-api.md`): publish, broadcast,
//! channels, history, presence, disconnect. Every route goes through the hub;
//! errors are JSON with the protocol's codes.

mod auth;
mod docs;
mod routes;

pub(crate) use routes::parse_body;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Response, StatusCode, header};
use herald_core::{ErrorBody, ErrorCode, HeraldError};

use crate::app::App;

/// The `/api` router.
pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    routes::router().merge(docs::router()).layer(axum::middleware::from_fn_with_state(app, auth::require_api_key))
}

/// The HTTP status for an error code.
pub fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Unauthorized | ErrorCode::TokenExpired => StatusCode::UNAUTHORIZED,
        ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorCode::UnknownNamespace | ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MessageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::AlreadySubscribed | ErrorCode::AlreadyConnected | ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::UnknownOperation => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// `{"error":{"code","message","temporary"}}` with `status`.
pub fn error_response(status: StatusCode, e: &HeraldError) -> Response<Body> {
    let body = serde_json::json!({ "error": ErrorBody::from(e) }).to_string();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    if let Some(ms) = e.retry_after_ms {
        // Whole seconds, rounded up: a client that waits this long is admitted.
        resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(ms.div_ceil(1000).max(1)));
    }
    resp
}

/// An error with the status its code maps to.
pub fn error(e: &HeraldError) -> Response<Body> {
    error_response(status_for(e.code), e)
}

/// A JSON body with status 200.
pub fn json_response(body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    resp
}
