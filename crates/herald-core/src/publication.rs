//! Publications: what is published to a channel and fanned out.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::value::RawValue;

use crate::channel::ChannelName;
use crate::error::{ErrorCode, HeraldError};
use crate::position::Epoch;

/// A message body: validated JSON text, shared without copying.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(Bytes);

/// A foreign event carried as a Herald publication: `{"event": name,
/// "data": …}`, the envelope every protocol door reads and writes, so each
/// door sees every other door's events.
#[derive(serde::Deserialize)]
struct EventEnvelope<'a> {
    #[serde(borrow)]
    event: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The event name and data (JSON text) of publication data in the
/// `{"event", "data"}` envelope; `None` when `data` is something else.
pub fn split_event_envelope(data: &str) -> Option<(std::borrow::Cow<'_, str>, &str)> {
    serde_json::from_str::<EventEnvelope<'_>>(data).ok().map(|e| (e.event, e.data.get()))
}

impl Payload {
    /// Wrap JSON that was already validated (e.g. a `RawValue` from serde).
    pub fn from_raw(raw: &RawValue) -> Self {
        Payload(Bytes::copy_from_slice(raw.get().as_bytes()))
    }

    /// Validate `text` as JSON and wrap it.
    pub fn from_json_text(text: impl Into<Bytes>) -> Result<Self, HeraldError> {
        let bytes: Bytes = text.into();
        serde_json::from_slice::<&RawValue>(&bytes)
            .map_err(|e| HeraldError::new(ErrorCode::MalformedJson, format!("data is not valid JSON: {e}")))?;
        Ok(Payload(bytes))
    }

    /// Serialize a value as the payload.
    pub fn from_value(v: &serde_json::Value) -> Self {
        Payload(Bytes::from(v.to_string()))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        // Constructed only from valid JSON text, which is UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("null")
    }

    /// The JSON bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the payload is empty (never, for valid JSON).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who published, when known (a client connection; the HTTP API has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherInfo {
    /// The publishing connection's id.
    pub client: Arc<str>,
    /// The publishing user's id, if authenticated.
    pub user: Option<Arc<str>>,
}

/// A message stored in a channel's history at `offset` within `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The channel it was published to.
    pub channel: ChannelName,
    /// The channel history it belongs to.
    pub epoch: Epoch,
    /// Its offset (1-based, gap-free within the epoch).
    pub offset: u64,
    /// The body.
    pub data: Payload,
    /// Server time of publication, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Who published it.
    pub publisher: Option<PublisherInfo>,
    /// The publisher's idempotency key, if given.
    pub idempotency_key: Option<Arc<str>>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
