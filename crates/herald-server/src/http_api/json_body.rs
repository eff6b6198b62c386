//! JSON request bodies of the HTTP routes: one parse with the protocol's
//! codes, so every route refuses a bad body the same way; and `JsonBody`,
//! the body of a JSON endpoint of `/api/*`, which must be sent as
//! `Content-Type: application/json`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use herald_core::{ErrorCode, HeraldError};
use serde::Deserialize;

use crate::api_error::ApiError;

/// Parse a JSON request body: 108 when it is not JSON (broken, truncated,
/// empty, text after the value), 107 when it is JSON of the wrong shape.
pub(crate) fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, HeraldError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            HeraldError::bad_request(format!("request body does not match the documented shape: {e}"))
        } else {
            HeraldError::new(ErrorCode::MalformedJson, format!("request body is not valid JSON: {e}"))
        }
    })
}

/// The body of a JSON endpoint of `/api/*`. Without
/// `Content-Type: application/json` the request is refused with 415 (error
/// 107) before the body is read: a browser sends a `text/plain`, form or
/// multipart body to another site without asking, but a JSON one only after
/// a CORS preflight, which the API never grants.
pub(crate) struct JsonBody(Bytes);

impl JsonBody {
    /// The body as `T` (see [`parse_body`]).
    pub(crate) fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, HeraldError> {
        parse_body(&self.0)
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::with_status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                HeraldError::bad_request("send the body as JSON, with Content-Type: application/json"),
            ));
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            let code = match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::MessageTooLarge,
                _ => ErrorCode::BadRequest,
            };
            ApiError::with_status(
                e.status(),
                HeraldError::new(code, format!("request body refused: {}", e.body_text())),
            )
        })?;
        Ok(Self(body))
    }
}

/// Whether the body is declared `application/json` (any case, with or
/// without parameters such as `; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    let declared = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    declared.split(';').next().is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}
