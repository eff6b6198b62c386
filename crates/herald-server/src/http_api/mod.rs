//! The HTTP API for app back ends (`docs/http-api.md`): publish, broadcast,
//! channels, history, presence, disconnect. Every route goes through the hub;
//! errors are JSON with the protocol's codes (`crate::api_error`).

mod auth;
mod docs;
mod json_body;
mod routes;

pub(crate) use json_body::parse_body;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use herald_core::HeraldError;

pub use crate::api_error::status_for;
use crate::api_error::{ApiError, JsonBytes};
use crate::app::App;

/// The `/api` router.
pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    routes::router().merge(docs::router()).layer(axum::middleware::from_fn_with_state(app, auth::require_api_key))
}

/// `{"error":{"code","message","temporary"}}` with `status`. The doors'
/// upgrade handlers still call it; new code returns [`ApiError`].
pub fn error_response(status: StatusCode, e: &HeraldError) -> Response<Body> {
    ApiError::with_status(status, e.clone()).into_response()
}

/// An error with the status its code maps to (see [`ApiError`]).
pub fn error(e: &HeraldError) -> Response<Body> {
    ApiError::from(e.clone()).into_response()
}

/// A JSON body with status 200 (see [`JsonBytes`]).
pub fn json_response(body: Vec<u8>) -> Response<Body> {
    JsonBytes(body).into_response()
}
