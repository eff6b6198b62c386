//! The app's channel policy: per-namespace JSON Schemas for published data
//! and an authorization callback asked before each subscription, with
//! answers cached for `authorize_cache_secs`. Time-outs and errors deny.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use herald_core::{ChannelName, ChannelPolicy, ErrorCode, HeraldError, Identity, Namespaces, Payload};
use http_body_util::Full;
use parking_lot::Mutex;

use crate::http_client::HttpClient;

/// Most cached authorization answers before the cache is emptied.
pub const AUTHORIZE_CACHE_MAX: usize = 100_000;

/// Why the policy could not be built.
#[derive(Debug, thiserror::Error)]
#[error("namespace {namespace:?}: {message}")]
pub struct PolicyError {
    namespace: String,
    message: String,
}

struct Callback {
    url: String,
    cache_for: Duration,
    timeout: Duration,
}

/// A cached answer of the authorization endpoint, by (user, channel).
type AnswerCache = HashMap<(Option<Arc<str>>, ChannelName), (Result<(), HeraldError>, Instant)>;

/// Schemas and callbacks by namespace.
pub struct AppPolicy {
    schemas: HashMap<String, jsonschema::Validator>,
    callbacks: HashMap<String, Callback>,
    cache: Mutex<AnswerCache>,
    http: HttpClient,
}

impl AppPolicy {
    /// Compile the configured schemas and collect the callbacks; `None` when
    /// no namespace uses either.
    pub fn from_namespaces(namespaces: &Namespaces) -> Result<Option<AppPolicy>, PolicyError> {
        let mut schemas = HashMap::new();
        let mut callbacks = HashMap::new();
        for (ns, opts) in namespaces.all() {
            let err = |message: String| PolicyError { namespace: ns.to_string(), message };
            if let Some(file) = &opts.schema_file {
                let text = std::fs::read_to_string(file).map_err(|e| err(format!("cannot read {file}: {e}")))?;
                let schema: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| err(format!("{file} is not JSON: {e}")))?;
                let validator = jsonschema::validator_for(&schema)
                    .map_err(|e| err(format!("{file} is not a valid schema: {e}")))?;
                schemas.insert(ns.to_string(), validator);
            }
            if let Some(url) = &opts.authorize_url {
                url.parse::<http::Uri>().map_err(|e| err(format!("authorize_url {url:?}: {e}")))?;
                callbacks.insert(
                    ns.to_string(),
                    Callback {
                        url: url.clone(),
                        cache_for: Duration::from_secs(opts.authorize_cache_secs),
                        timeout: Duration::from_millis(opts.authorize_timeout_ms.max(1)),
                    },
                );
            }
        }
        if schemas.is_empty() && callbacks.is_empty() {
            return Ok(None);
        }
        Ok(Some(AppPolicy { schemas, callbacks, cache: Mutex::new(HashMap::new()), http: HttpClient::new() }))
    }

    async fn ask(&self, cb: &Callback, identity: &Identity, channel: &ChannelName) -> Result<(), HeraldError> {
        let body = serde_json::json!({
            "user": identity.user.as_deref(),
            "info": identity.info.as_ref().and_then(|i| serde_json::from_str::<serde_json::Value>(i.as_str()).ok()),
            "channel": channel,
        });
        let req = http::Request::post(&cb.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| HeraldError::new(ErrorCode::Internal, format!("authorization request: {e}")))?;
        let denied = |why: String| {
            metrics::counter!("herald_authorize_callback_total", "result" => "error").increment(1);
            HeraldError::new(ErrorCode::Unavailable, format!("the app's authorization endpoint {why}; access denied"))
        };
        let (status, bytes) = self.http.send(req, cb.timeout).await.map_err(|e| denied(format!("failed ({e})")))?;
        if status.is_server_error() {
            return Err(denied(format!("answered {status}")));
        }
        let allow = status.is_success()
            && serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("allow").and_then(|a| a.as_bool()))
                .unwrap_or(false);
        metrics::counter!("herald_authorize_callback_total", "result" => if allow { "allow" } else { "deny" })
            .increment(1);
        if allow {
            Ok(())
        } else {
            Err(HeraldError::new(
                ErrorCode::PermissionDenied,
                format!("the app does not allow subscribing to {channel}"),
            ))
        }
    }
}

#[async_trait]
impl ChannelPolicy for AppPolicy {
    async fn check_subscribe(&self, identity: &Identity, channel: &ChannelName) -> Result<(), HeraldError> {
        let Some(cb) = self.callbacks.get(channel.namespace()) else { return Ok(()) };
        let key = (identity.user.clone(), channel.clone());
        if let Some((answer, at)) = self.cache.lock().get(&key)
            && at.elapsed() < cb.cache_for
        {
            return answer.clone();
        }
        let answer = self.ask(cb, identity, channel).await;
        // Only definite answers are cached; failures are asked again next time.
        if answer.as_ref().err().is_none_or(|e| e.code == ErrorCode::PermissionDenied) {
            let mut cache = self.cache.lock();
            if cache.len() >= AUTHORIZE_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, (answer.clone(), Instant::now()));
        }
        answer
    }

    fn check_payload(&self, channel: &ChannelName, data: &Payload) -> Result<(), HeraldError> {
        let Some(schema) = self.schemas.get(channel.namespace()) else { return Ok(()) };
        let value: serde_json::Value = serde_json::from_str(data.as_str())
            .map_err(|e| HeraldError::new(ErrorCode::MalformedJson, format!("data is not JSON: {e}")))?;
        match schema.iter_errors(&value).next() {
            None => Ok(()),
            Some(e) => {
                metrics::counter!("herald_schema_refused_total").increment(1);
                let path = e.instance_path().to_string();
                let at = if path.is_empty() { "/".to_string() } else { path };
                Err(HeraldError::bad_request(format!("data does not match the schema of {channel} at {at}: {e}")))
            }
        }
    }
}
