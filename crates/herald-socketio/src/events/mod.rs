//! Herald ↔ Socket.IO events.
