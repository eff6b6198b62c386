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

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use herald_core::{Caller, HeraldError};
use herald_protocol::request::{Op, parse_frame};
use tracing::Instrument;

use super::request;
use crate::api_error::{ApiError, JsonBytes};
use crate::app::App;
use crate::client_requests;

/// `POST /sse/request` with one native request frame.
pub async fn client_request(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonBytes, ApiError> {
    let identity = request::upstream(&app, peer, &uri, &headers)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| HeraldError::bad_request("the body must be a UTF-8 JSON request frame"))?;
    let req = parse_frame(text).map_err(|(_, e)| e)?;
    if matches!(req.op, Op::Publish { .. }) {
        return Err(HeraldError::bad_request("publish with POST /sse/publish").into());
    }
    let span = tracing::debug_span!("sse_request", op = req.op.name(), user = identity.user.as_deref());
    let answer = client_requests::answer(&app.hub, Caller::Identity(&identity), &identity, req.id.unwrap_or(0), req.op);
    Ok(JsonBytes(answer.instrument(span).await?))
}
