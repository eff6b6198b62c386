//! `POST /sse/request`: the requests an SSE or long-poll client makes
//! besides publishing — history, presence, read receipts, unread counts and
//! the notification inbox. The body is the native protocol's request frame
//! (`{"op":"history","channel":"room:1","limit":50}`), authenticated with the
//! stream's token; the answer is the native reply (`{"id":…,"result":…}`),
//! or `{"error":…}` with the HTTP status its code maps to. Answered by the
//! same code as on a WebSocket (`client_requests`), so replies and errors
//! are identical. Rate-limited per client address like one WebSocket
//! connection's requests.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Response, Uri};
use herald_core::{Caller, HeraldError};
use herald_protocol::request::{Op, parse_frame};
use tracing::Instrument;

use super::request;
use crate::app::App;
use crate::client_requests;
use crate::http_api::{error, json_response};

/// `POST /sse/request` with one native request frame.
pub async fn client_request(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let identity = match request::upstream(&app, peer, &uri, &headers) {
        Ok(identity) => identity,
        Err(e) => return error(&e),
    };
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(_) => return error(&HeraldError::bad_request("the body must be a UTF-8 JSON request frame")),
    };
    let req = match parse_frame(text) {
        Ok(r) => r,
        Err((_, e)) => return error(&e),
    };
    if matches!(req.op, Op::Publish { .. }) {
        return error(&HeraldError::bad_request("publish with POST /sse/publish"));
    }
    let span = tracing::debug_span!("sse_request", op = req.op.name(), user = identity.user.as_deref());
    let answer = client_requests::answer(&app.hub, Caller::Identity(&identity), &identity, req.id.unwrap_or(0), req.op);
    match answer.instrument(span).await {
        Ok(reply) => json_response(reply),
        Err(e) => error(&e),
    }
}
