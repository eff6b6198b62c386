//! Dispatch of one native-protocol request to the hub, with the
//! connection's rate limits applied.

use std::sync::Arc;

use herald_core::{Caller, Connection, DisconnectReason, ErrorCode, HeraldError, Payload};
use herald_protocol::encode;
use herald_protocol::request::{Op, parse_request};
use tracing::Instrument;

use super::documents::ConnectionDocuments;
use super::encoder::NativeEncoder;
use crate::app::App;
use crate::client_requests;
use crate::door::Flow;
use crate::limits::{ConnectionLimit, ConnectionLimits};

/// One connection's request handler.
pub(super) struct Dispatcher<'a> {
    pub app: &'a App,
    pub conn: &'a Arc<Connection>,
    pub encoder: &'a Arc<NativeEncoder>,
    pub limits: ConnectionLimits,
    /// Collaborative documents this connection opened.
    pub documents: ConnectionDocuments,
}

impl Dispatcher<'_> {
    pub fn push(&self, json: &[u8]) {
        let _ = self.conn.outbound.push_frame(self.encoder.frame(json));
    }

    fn refuse(&self, id: Option<u64>, e: &HeraldError) -> Flow {
        self.push(&encode::reply_error(id, e));
        if e.code == ErrorCode::TooManyRequests && self.limits.record_refusal() {
            return DisconnectReason::TooManyRequests.into();
        }
        Flow::Continue
    }

    /// Handle one text frame.
    pub async fn handle(&self, text: &str) -> Flow {
        let req = match parse_request(text) {
            Ok(r) => r,
            Err((id, e)) => return self.refuse(id, &e),
        };
        if matches!(req.op, Op::Pong) {
            return Flow::Continue;
        }
        if let Err(e) = self.limits.check(ConnectionLimit::Request) {
            return self.refuse(req.id, &e);
        }
        let id = req.id.unwrap_or(0);
        let (hub, conn) = (&self.app.hub, self.conn);
        let result: Result<Vec<u8>, HeraldError> = match req.op {
            Op::Pong => return Flow::Continue,
            Op::Connect { .. } => Err(HeraldError::new(ErrorCode::AlreadyConnected, "already connected")),
            Op::Refresh { token } => match self.app.auth.refresh(&conn.identity(), &token) {
                Ok(identity) => {
                    let expires_at = identity.expires_at_ms;
                    conn.refresh_identity(identity);
                    self.push(&encode::reply(id, &serde_json::json!({ "expires_at": expires_at })));
                    return Flow::Refreshed;
                }
                Err(e) => Err(e),
            },
            Op::Subscribe { channel, since, filter, events } => {
                if let Err(e) = self.limits.check(ConnectionLimit::Subscribe) {
                    return self.refuse(req.id, &e);
                }
                let filter = match herald_core::ChangeFilter::parse(filter.as_deref(), events.as_deref()) {
                    Ok(f) => f,
                    Err(e) => return self.refuse(req.id, &e),
                };
                let span = tracing::debug_span!("subscribe", channel = %channel);
                match hub.subscribe_filtered(conn, channel.clone(), since, filter).instrument(span).await {
                    Ok(pending) => {
                        self.push(&encode::subscribe_result(
                            id,
                            &channel,
                            &pending.top,
                            pending.recovery.as_ref(),
                            pending.presence_snapshot.as_deref(),
                        ));
                        pending.activate();
                        return Flow::Continue;
                    }
                    Err(e) => Err(e),
                }
            }
            Op::Unsubscribe { channel } => {
                hub.unsubscribe(conn, &channel).map(|()| encode::reply(id, &serde_json::json!({})))
            }
            Op::Publish { channel, data, idempotency_key } => {
                if let Some(user) = conn.user()
                    && let Err(e) = self.app.limits.check_publish(user)
                {
                    return self.refuse(req.id, &e);
                }
                let span = tracing::debug_span!("publish", channel = %channel);
                let key = idempotency_key.map(Arc::from);
                hub.publish(Caller::Client(conn), channel, Payload::from_raw(data), key)
                    .instrument(span)
                    .await
                    .map(|p| encode::reply(id, &serde_json::json!({ "epoch": p.epoch.as_str(), "offset": p.offset })))
            }
            Op::Event { channel, event, data } => {
                if let Err(e) = self.limits.check(ConnectionLimit::ClientEvent) {
                    return self.refuse(req.id, &e);
                }
                let data = data.map(Payload::from_raw).unwrap_or_else(|| Payload::from_value(&serde_json::Value::Null));
                hub.client_event(conn, &channel, &event, &data).map(|()| encode::reply(id, &serde_json::json!({})))
            }
            Op::PresenceState { channel, state } => {
                if let Err(e) = self.limits.check(ConnectionLimit::ClientEvent) {
                    return self.refuse(req.id, &e);
                }
                hub.set_presence_state(conn, &channel, Payload::from_raw(state)).map(|()| empty(id))
            }
            Op::Typing { channel } => {
                if let Err(e) = self.limits.check(ConnectionLimit::ClientEvent) {
                    return self.refuse(req.id, &e);
                }
                hub.typing(conn, &channel).map(|()| empty(id))
            }
            Op::DocOpen { channel } => match self.documents.open(self.app, conn, self.encoder, &channel).await {
                Ok((writable, lease)) => {
                    // The reply first, then the document's greeting.
                    self.push(&encode::reply(id, &serde_json::json!({ "channel": channel, "writable": writable })));
                    lease.greet();
                    return Flow::Continue;
                }
                Err(e) => Err(e),
            },
            Op::Doc { channel, message } => self.documents.message(&channel, &message).await.map(|()| empty(id)),
            Op::DocClose { channel } => self.documents.close(&channel).map(|()| empty(id)),
            // History, presence, read receipts, inbox: the same answers as over HTTP.
            op => client_requests::answer(hub, Caller::Client(conn), &conn.identity(), id, op).await,
        };
        match result {
            Ok(reply) => {
                self.push(&reply);
                Flow::Continue
            }
            Err(e) => self.refuse(req.id, &e),
        }
    }
}

fn empty(id: u64) -> Vec<u8> {
    encode::reply(id, &serde_json::json!({}))
}
