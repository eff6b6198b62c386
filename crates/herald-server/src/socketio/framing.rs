//! Connection state recovery on the way out: every Socket.IO frame a
//! connection writes passes here in queue order, so the recovery token
//! appended to publications (and `herald:subscribed`/`herald:unsubscribed`)
//! is this connection's position on each of its channels at that frame.

use bytes::Bytes;
use herald_core::Outgoing;
use herald_socketio::events::RecoveryVector;
use herald_ws::frame;

use crate::door::Framing;

/// One connection's recovery positions, carried from polling to WebSocket.
#[derive(Debug, Default)]
pub struct Stamper {
    vector: RecoveryVector,
    max_token: usize,
}

impl Stamper {
    /// Positions from `vector`; tokens over `max_token` bytes become `!`.
    pub fn new(vector: RecoveryVector, max_token: usize) -> Self {
        Stamper { vector, max_token }
    }

    /// The Engine.IO text of one queued item, with the token where it belongs.
    pub fn text(&mut self, item: &Outgoing) -> Bytes {
        match self.vector.stamp(&item.frame, item.publication.as_deref(), self.max_token) {
            Some(stamped) => Bytes::from(stamped),
            None => item.frame.clone(),
        }
    }
}

/// The WebSocket side: stamped text in a text frame.
impl Framing for Stamper {
    fn frame(&mut self, item: Outgoing) -> Bytes {
        if item.frame.is_empty() {
            return Bytes::new();
        }
        frame::text(&self.text(&item))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use herald_core::{ChannelName, Epoch, Payload, Publication};
    use herald_socketio::events::publication_event;
    use herald_socketio::events::requests::subscribed_event;

    use super::*;

    #[test]
    fn each_connection_appends_its_own_positions_in_queue_order() {
        let channel = ChannelName::new("chat:a").unwrap();
        let p = Arc::new(Publication {
            channel: channel.clone(),
            epoch: Epoch::from_string("e1"),
            offset: 4,
            data: Payload::from_json_text("1".to_string()).unwrap(),
            time_ms: 0,
            publisher: None,
            idempotency_key: None,
        });
        let shared = Bytes::from(publication_event(&p));
        let subscribed = Bytes::from(subscribed_event(
            &channel,
            &herald_core::Position { epoch: Epoch::from_string("e1"), offset: 3 },
        ));
        let mut s = Stamper::new(RecoveryVector::new(), 1024);
        let item = |frame: &Bytes, p: Option<Arc<Publication>>| Outgoing { frame: frame.clone(), publication: p };
        assert!(s.text(&item(&subscribed, None)).ends_with(br#","e1.3.chat:a"]"#));
        let stamped = s.text(&item(&shared, Some(p.clone())));
        assert!(stamped.ends_with(br#","e1.4.chat:a"]"#), "{stamped:?}");
        // Other frames pass as they are; the shared frame itself is untouched.
        assert_eq!(s.text(&item(&Bytes::from_static(b"2"), None)), Bytes::from_static(b"2"));
        assert!(!shared.ends_with(br#""e1.4.chat:a"]"#));
        // Framing wraps the stamped text in one WebSocket text frame.
        assert_eq!(s.frame(item(&Bytes::from_static(b"2"), None)), frame::text(b"2"));
        assert!(s.frame(item(&Bytes::new(), None)).is_empty());
    }
}
