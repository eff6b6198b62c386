//! The HTTP API for app back ends (`docs/http-api.md`): publish, broadcast,
//! channels, history, presence, disconnect. Every route goes through the hub;
//! errors are JSON with the protocol's codes (`crate::api_error`).

pub(crate) mod auth;
mod docs;
mod json_body;
mod routes;

pub(crate) use json_body::parse_body;

use std::sync::Arc;

use axum::Router;

use crate::app::App;

/// The `/api` router.
pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    routes::router().merge(docs::router()).layer(axum::middleware::from_fn_with_state(app, auth::require_api_key))
}
