//! What `/sse`, `/poll` and `/sse/publish` share: reading the query string
//! (the credentials are read by the shared admission gate,
//! `crate::door::admission`), and opening a hub connection subscribed to every
//! requested channel (with recovery) before anything is streamed, so every
//! refusal is an HTTP error with the protocol's JSON body.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, Uri};
use herald_core::{ChannelName, WireEncoder};
use herald_core::{
    Connection, ConnectionInit, ErrorCode, HeraldError, Hub, Identity, PendingSubscription, Position, QueueLimits,
};

use super::position_id;
use crate::app::App;
use crate::door::admission;
use crate::limits::IpSlot;

/// The decoded query string, in order (repeated keys kept).
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Decode `query` (`application/x-www-form-urlencoded`).
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
        Self(pairs)
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// The value of `key`; more than one is a bad request.
    pub fn one(&self, key: &str) -> Result<Option<&str>, HeraldError> {
        match self.all(key)[..] {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            _ => Err(HeraldError::bad_request(format!("{key:?} given more than once"))),
        }
    }

    /// The `channel=` values: 1 to `max` valid names.
    pub fn channels(&self, max: usize) -> Result<Vec<ChannelName>, HeraldError> {
        let names = self.all("channel");
        if names.is_empty() {
            return Err(HeraldError::bad_request("name at least one channel: ?channel=a&channel=b"));
        }
        if names.len() > max {
            return Err(HeraldError::new(ErrorCode::LimitExceeded, format!("at most {max} channels per connection")));
        }
        names.into_iter().map(ChannelName::new).collect()
    }
}

/// An upstream HTTP request of an SSE or long-poll client (`POST
/// /sse/request`): its identity, once the address's request rate (one
/// WebSocket connection's) admitted it.
pub fn upstream(app: &App, peer: SocketAddr, uri: &Uri, headers: &HeaderMap) -> Result<Identity, HeraldError> {
    admission::check_origin(app, headers)?;
    let identity = app.auth.authenticate(admission::request_token(uri, headers)?.as_deref())?;
    app.limits.check_http_request(admission::client_ip(app, peer, headers))?;
    Ok(identity)
}

/// One subscribed channel of an [`Opened`] connection, not yet live.
pub struct OpenedChannel {
    /// The channel.
    pub channel: ChannelName,
    /// Activate after queueing what comes before live publications.
    pub pending: PendingSubscription,
    /// The client's position before the recovered publications (if any):
    /// its `since` when recovered, else the channel's current position.
    pub start: Position,
}

impl OpenedChannel {
    /// `Some(false)` when recovery was asked and refused.
    pub fn recovered(&self) -> Option<bool> {
        self.pending.recovery.as_ref().map(|r| r.recovered)
    }
}

/// Unregisters a connection from the hub when dropped, so a request that
/// is abandoned half-way (the client left while it waited) leaves nothing behind.
pub struct Registration {
    hub: Arc<Hub>,
    conn: Arc<Connection>,
    _slot: IpSlot,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.disconnect(&self.conn);
    }
}

/// A hub connection subscribed (pending) to every requested channel.
pub struct Opened {
    /// The hub connection.
    pub conn: Arc<Connection>,
    /// In request order.
    pub channels: Vec<OpenedChannel>,
    /// Keep while the connection is in use.
    pub registration: Registration,
}

impl Opened {
    /// The start positions, in request order.
    pub fn starts(&self) -> Vec<Position> {
        self.channels.iter().map(|c| c.start.clone()).collect()
    }
}

/// Register a connection for `identity` and subscribe it to `channels`,
/// recovering from `since` (one position per channel) when given. On any
/// refusal, or if the future is dropped, nothing stays registered.
pub async fn open(
    app: &App,
    slot: IpSlot,
    identity: Identity,
    encoder: Arc<dyn WireEncoder>,
    queue: QueueLimits,
    channels: Vec<ChannelName>,
    since: Option<Vec<Position>>,
) -> Result<Opened, HeraldError> {
    let conn = app.hub.connect(ConnectionInit { identity, encoder, queue })?;
    let registration = Registration { hub: app.hub.clone(), conn: conn.clone(), _slot: slot };
    let channels = subscribe_all(app, &conn, channels, since).await?;
    Ok(Opened { conn, channels, registration })
}

async fn subscribe_all(
    app: &App,
    conn: &Arc<Connection>,
    channels: Vec<ChannelName>,
    since: Option<Vec<Position>>,
) -> Result<Vec<OpenedChannel>, HeraldError> {
    let mut since = since.map(Vec::into_iter);
    let mut opened = Vec::with_capacity(channels.len());
    for channel in channels {
        let from = since.as_mut().and_then(Iterator::next);
        let pending = app.hub.subscribe(conn, channel.clone(), from.clone()).await?;
        let start = match (&from, &pending.recovery) {
            (Some(from), _) if from.epoch == pending.top.epoch && from.offset > pending.top.offset => {
                return Err(HeraldError::bad_request(format!(
                    "event id is ahead of {channel} (offset {} > {}): it was not issued by this server",
                    from.offset, pending.top.offset
                )));
            }
            (Some(from), Some(r)) if r.recovered => from.clone(),
            _ => pending.top.clone(),
        };
        opened.push(OpenedChannel { channel, pending, start });
    }
    Ok(opened)
}

/// Parse an event id for `channels` channels (empty counts as absent).
pub fn positions(id: Option<&str>, channels: usize) -> Result<Option<Vec<Position>>, HeraldError> {
    match id {
        None | Some("") => Ok(None),
        Some(id) => position_id::parse(id, channels).map(Some),
    }
}
