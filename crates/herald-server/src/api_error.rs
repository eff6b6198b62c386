//! One error type for every HTTP route that has no error shape of its own
//! (`/api/*`, `POST /sse/publish`, `POST /sse/request`, and the refusals of
//! the WebSocket and SSE doors before they upgrade or stream). Handlers
//! return `Result<_, ApiError>` and use `?` on a `HeraldError`; the response
//! is always `{"error":{"code","message","temporary"[,"retry_after_ms"]}}`
//! with the HTTP status the code maps to (`docs/http-api.md`), plus
//! `Retry-After` for rate limits. Pusher's REST API keeps Pusher's own shape
//! (`pusher/http_api.rs`).

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use herald_core::{ErrorBody, ErrorCode, HeraldError};

/// A refused HTTP request: the error and the status it is sent with.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: HeraldError,
}

impl ApiError {
    /// `error` with a status other than the one its code maps to
    /// (`503` for a node that is shutting down, `415` for a body that is not JSON).
    pub fn with_status(status: StatusCode, error: HeraldError) -> Self {
        Self { status, error }
    }

    /// The HTTP status it is sent with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error it carries.
    pub fn error(&self) -> &HeraldError {
        &self.error
    }
}

impl From<HeraldError> for ApiError {
    fn from(error: HeraldError) -> Self {
        Self { status: status_for(error.code), error }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response<Body> {
        let body = serde_json::json!({ "error": ErrorBody::from(&self.error) }).to_string();
        let mut resp = JsonBytes(body.into_bytes()).into_response();
        *resp.status_mut() = self.status;
        if let Some(ms) = self.error.retry_after_ms {
            // Whole seconds, rounded up: a client that waits this long is admitted.
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000).max(1)));
        }
        resp
    }
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

/// A JSON body that is already encoded (the protocol's encoders write
/// bytes): `200` with `Content-Type: application/json`.
pub struct JsonBytes(pub Vec<u8>);

impl IntoResponse for JsonBytes {
    fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(Body::from(self.0));
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        resp
    }
}
