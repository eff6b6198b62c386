//! The SSE door (`docs/sse.md`): Server-Sent Events at `/sse`, the upstream
//! `POST /sse/publish`, and HTTP long-polling at `/poll`. All three go
//! through the hub exactly like the WebSocket door, so permissions,
//! recovery and backpressure are the same.
//!
//! - `request` — query, credentials, opening a subscribed hub connection.
//! - `position_id` — the event id: a position on every channel.
//! - `encoder` — channel events as SSE lines, encoded once per fan-out.
//! - `stream` — `GET /sse`; `poll` — `GET /poll`; `publish` — `POST /sse/publish`;
//!   `client_request` — `POST /sse/request` (history, presence, read receipts, inbox).

pub mod client_request;
pub mod encoder;
pub mod poll;
pub mod position_id;
pub mod publish;
pub mod request;
pub mod stream;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, Method, header};
use axum::routing::{get, post};
use tower_http::cors::{Any, CorsLayer};

use crate::app::App;

/// The `/sse`, `/sse/publish`, `/sse/request` and `/poll` routes, open to any origin
/// (browsers on another origin use them; credentials travel as tokens).
pub fn router() -> Router<Arc<App>> {
    let cors = CorsLayer::new().allow_origin(Any).allow_methods([Method::GET, Method::POST]).allow_headers([
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        HeaderName::from_static("last-event-id"),
    ]);
    Router::new()
        .route("/sse", get(stream::sse))
        .route("/sse/publish", post(publish::publish))
        .route("/sse/request", post(client_request::client_request))
        .route("/poll", get(poll::poll))
        .layer(cors)
}
