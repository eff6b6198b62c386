//! Wire types, one concept per file: request options and typed replies
//! ([`results`]), pushes ([`push`]), and the parser of server → client
//! frames ([`incoming`]).

mod incoming;
mod push;
mod push_json;
mod results;

pub(crate) use incoming::{Incoming, parse_incoming, raw_to_value};
pub use push::{Member, Notification, Push};
pub use results::{
    Connected, Direction, HistoryOptions, HistoryResult, Position, PresenceMember, PresenceResult, Publication,
    PublishResult, Publisher, SubscribeResult,
};
