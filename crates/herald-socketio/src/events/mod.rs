//! Herald ↔ Socket.IO events: the conventions of `docs/socketio.md`.

pub mod connect;
pub mod outgoing;
pub mod recovery;
pub mod requests;

pub use connect::{ConnectAuth, connect_refused, parse_connect};
pub use outgoing::{SocketIoEncoder, encode_event, publication_event};
pub use recovery::{RecoveryVector, with_token};
pub use requests::{ClientRequest, parse_client_event};
