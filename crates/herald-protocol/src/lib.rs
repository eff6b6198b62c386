//! Herald's native protocol (JSON text frames; `docs/protocol.md`): parsing
//! of client requests and encoding of replies and pushes. No IO.

pub mod encode;
pub mod request;

pub use request::{Request, parse_request};
