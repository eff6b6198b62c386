//! `/api/docs/{name}`: collaborative documents for app back ends
//! (`docs/http-api.md`). Read the state as one binary Yjs update or as JSON
//! of the root types; apply an update made on the server. Updates go
//! through the same registry as y-websocket peers: stored, then relayed to
//! every connected editor.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, Response, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use herald_core::{ChannelName, ErrorCode, HeraldError};
use herald_docs::{DocLease, DocRegistry};
use serde::Deserialize;
use serde_json::Value;

use super::json_body::JsonBody;
use crate::api_error::ApiError;
use crate::app::App;

pub(super) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/docs/{name}", get(read))
        // The body limit is checked in the handler, against yjs.max_update_bytes.
        .route("/docs/{name}/update", post(apply).layer(DefaultBodyLimit::disable()))
        .route("/docs/{name}/records", post(compare_and_set))
}

fn docs(app: &App) -> Result<&Arc<DocRegistry>, HeraldError> {
    app.docs.as_ref().ok_or_else(|| {
        HeraldError::new(ErrorCode::NotFound, "collaborative documents are disabled ([yjs] enabled = false)")
    })
}

async fn open(app: &App, name: &str) -> Result<DocLease, HeraldError> {
    let docs = docs(app)?;
    let channel: ChannelName = app.config.yjs.channel(name)?;
    app.hub.options(&channel)?;
    docs.open(&channel).await.map_err(|e| e.to_herald())
}

/// `GET /api/docs/{name}`: the whole state as one Yjs update
/// (`application/octet-stream`), or `?format=json`: the root types as JSON.
async fn read(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response<Body>, ApiError> {
    let lease = open(&app, &name).await?;
    match q.get("format").map(String::as_str) {
        None | Some("update") => {
            let mut resp = Response::new(Body::from(lease.snapshot()));
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            Ok(resp)
        }
        Some("json") => {
            let awareness: Vec<serde_json::Value> = lease
                .awareness()
                .into_iter()
                .map(|(client, state)| {
                    let state = serde_json::from_str::<serde_json::Value>(&state).unwrap_or(serde_json::Value::Null);
                    serde_json::json!({ "client": client, "state": state })
                })
                .collect();
            let body = serde_json::json!({ "name": lease.name(), "roots": lease.json(), "awareness": awareness });
            Ok(Json(body).into_response())
        }
        Some(other) => Err(HeraldError::bad_request(format!(
            "unknown format {other:?}: use \"update\" (binary, the default) or \"json\""
        ))
        .into()),
    }
}

/// `POST /api/docs/{name}/update` with a Yjs update (v1) as the body.
async fn apply(State(app): State<Arc<App>>, Path(name): Path<String>, body: Body) -> Result<Json<Value>, ApiError> {
    let limit = app.config.yjs.max_update_bytes;
    let bytes = match axum::body::to_bytes(body, limit + 1).await {
        Ok(b) if b.len() <= limit => b,
        _ => {
            return Err(HeraldError::new(
                ErrorCode::MessageTooLarge,
                format!("update is larger than yjs.max_update_bytes ({limit} bytes)"),
            )
            .into());
        }
    };
    if bytes.is_empty() {
        return Err(HeraldError::bad_request("the body must be a Yjs update (v1 encoding), not empty").into());
    }
    let lease = open(&app, &name).await?;
    lease.apply_update(&bytes).await.map_err(|e| e.to_herald())?;
    Ok(Json(serde_json::json!({ "name": lease.name(), "applied": true })))
}

/// `POST /api/docs/{name}/records`: compare-and-set on a versioned record.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareAndSet {
    /// The root map holding the records. Default `records`.
    #[serde(default = "default_root")]
    root: String,
    id: String,
    /// The version the caller read (0: the record must not exist yet).
    expect_version: u64,
    fields: serde_json::Map<String, serde_json::Value>,
}

fn default_root() -> String {
    "records".into()
}

async fn compare_and_set(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let req: CompareAndSet = body.parse()?;
    let lease = open(&app, &name).await?;
    let version =
        lease.compare_and_set(&req.root, &req.id, req.expect_version, &req.fields).await.map_err(|e| e.to_herald())?;
    Ok(Json(serde_json::json!({ "name": lease.name(), "id": req.id, "version": version })))
}
