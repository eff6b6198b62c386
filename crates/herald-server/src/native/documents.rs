//! Collaborative documents over the native protocol (`doc_open`, `doc`,
//! `doc_close`): the same documents as the y-websocket door (`/yjs`), with
//! the y-websocket messages carried in base64 inside JSON frames, so a
//! `@herald/client` user needs no second socket (`@herald/yjs`). The
//! documents a connection opened close with it.

use std::collections::HashMap;
use std::sync::Arc;

use herald_core::{ChannelName, Connection, ErrorCode, HeraldError, Rights};
use herald_docs::{DocLease, Framer};
use herald_protocol::encode;
use parking_lot::Mutex;

use super::encoder::NativeEncoder;
use crate::app::App;

/// An open document of this connection.
struct OpenDocument {
    lease: Arc<DocLease>,
    writable: bool,
}

/// The documents one native connection has open.
#[derive(Default)]
pub(super) struct ConnectionDocuments {
    open: Mutex<HashMap<ChannelName, OpenDocument>>,
}

impl ConnectionDocuments {
    /// `doc_open`: check the rights (subscribe to read, publish to write)
    /// and join the document with the native framing. Returns whether the
    /// connection may write, and the lease to [`DocLease::greet`] with once
    /// the reply is queued.
    pub async fn open(
        &self,
        app: &App,
        conn: &Arc<Connection>,
        encoder: &Arc<NativeEncoder>,
        channel: &ChannelName,
    ) -> Result<(bool, Arc<DocLease>), HeraldError> {
        let Some(docs) = app.docs.clone() else {
            return Err(HeraldError::new(ErrorCode::NotFound, "collaborative documents are disabled ([yjs] enabled)"));
        };
        let identity = conn.identity();
        let opts = app.hub.authorize(&identity, channel, Rights::SUBSCRIBE)?;
        let writable = opts.allow_client_publish && app.hub.authorize(&identity, channel, Rights::PUBLISH).is_ok();
        if self.open.lock().contains_key(channel) {
            return Err(HeraldError::new(ErrorCode::AlreadySubscribed, format!("{channel} is already open")));
        }
        let (enc, name) = (encoder.clone(), channel.to_string());
        let frame: Framer = Arc::new(move |message: &[u8]| enc.frame(&encode::doc_push(&name, message)));
        // Every native peer of this document with the same encoder frames alike: one framing per relay.
        let format = herald_core::WireEncoder::format(&**encoder);
        let lease = docs.join_formatted(channel, conn.clone(), format, frame).await.map_err(|e| e.to_herald())?;
        let mut open = self.open.lock();
        if open.contains_key(channel) {
            // Opened twice at once: the second lease drops here.
            return Err(HeraldError::new(ErrorCode::AlreadySubscribed, format!("{channel} is already open")));
        }
        let lease = Arc::new(lease);
        open.insert(channel.clone(), OpenDocument { lease: lease.clone(), writable });
        Ok((writable, lease))
    }

    /// `doc`: one y-websocket message for an open document. A refused
    /// update (read-only, too large) is an error reply; nothing was applied.
    pub async fn message(&self, channel: &ChannelName, message: &[u8]) -> Result<(), HeraldError> {
        let (lease, writable) = {
            let open = self.open.lock();
            let doc = open.get(channel).ok_or_else(|| not_open(channel))?;
            (doc.lease.clone(), doc.writable)
        };
        lease.handle(message, writable).await.map_err(|e| e.to_herald())
    }

    /// `doc_close`: leave the document (its awareness states go with it).
    pub fn close(&self, channel: &ChannelName) -> Result<(), HeraldError> {
        self.open.lock().remove(channel).map(|_| ()).ok_or_else(|| not_open(channel))
    }
}

fn not_open(channel: &ChannelName) -> HeraldError {
    HeraldError::new(ErrorCode::NotSubscribed, format!("{channel} is not open on this connection (doc_open first)"))
}
