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
