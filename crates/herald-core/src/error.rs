//! Errors every door reports the same way: a stable numeric code, a message a
//! person understands, and whether retrying later may succeed (`temporary`).
//! Also the close codes, split into a "reconnect" range and a "do not
//! reconnect" range that the SDKs depend on.

use std::fmt;

use serde::Serialize;

/// Stable error codes. The numbers never change meaning; `docs/protocol.md`
/// lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Something failed inside the server; retry later.
    Internal,
    /// The request needs credentials that were missing or invalid.
    Unauthorized,
    /// The channel's namespace is not configured.
    UnknownNamespace,
    /// The connection may not do this on this channel.
    PermissionDenied,
    /// The operation is not part of the protocol.
    UnknownOperation,
    /// The connection is already subscribed to this channel.
    AlreadySubscribed,
    /// A configured limit was reached (channels per connection, ...).
    LimitExceeded,
    /// The request is malformed (missing or wrong fields).
    BadRequest,
    /// The frame was not valid JSON.
    MalformedJson,
    /// The channel name breaks the naming rule.
    InvalidChannel,
    /// The message is larger than allowed.
    MessageTooLarge,
    /// The connection is not subscribed to this channel.
    NotSubscribed,
    /// Too many requests; retry after a while.
    TooManyRequests,
    /// A binary frame arrived where the protocol expects text.
    BinaryNotSupported,
    /// The first frame must be `connect`.
    NotConnected,
    /// `connect` was sent twice.
    AlreadyConnected,
    /// A backing service (store, broker) is unavailable; retry later.
    Unavailable,
    /// The credentials have expired.
    TokenExpired,
    /// The requested thing does not exist.
    NotFound,
    /// The request contradicts what is stored (e.g. a dedupe key reused with different content).
    Conflict,
    /// A subscription's change filter is malformed or does not fit the table.
    InvalidFilter,
}

impl ErrorCode {
    /// The stable number sent on the wire.
    pub const fn number(self) -> u16 {
        match self {
            ErrorCode::Internal => 100,
            ErrorCode::Unauthorized => 101,
            ErrorCode::UnknownNamespace => 102,
            ErrorCode::PermissionDenied => 103,
            ErrorCode::UnknownOperation => 104,
            ErrorCode::AlreadySubscribed => 105,
            ErrorCode::LimitExceeded => 106,
            ErrorCode::BadRequest => 107,
            ErrorCode::MalformedJson => 108,
            ErrorCode::InvalidChannel => 109,
            ErrorCode::MessageTooLarge => 110,
            ErrorCode::NotSubscribed => 111,
            ErrorCode::TooManyRequests => 112,
            ErrorCode::BinaryNotSupported => 113,
            ErrorCode::NotConnected => 114,
            ErrorCode::AlreadyConnected => 115,
            ErrorCode::Unavailable => 116,
            ErrorCode::TokenExpired => 117,
            ErrorCode::NotFound => 118,
            ErrorCode::Conflict => 119,
            ErrorCode::InvalidFilter => 120,
        }
    }

    /// Whether the same request may succeed if retried later.
    pub const fn temporary(self) -> bool {
        matches!(self, ErrorCode::Internal | ErrorCode::TooManyRequests | ErrorCode::Unavailable)
    }

    /// A short machine-friendly name (used in metrics labels and logs).
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Internal => "internal",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::UnknownNamespace => "unknown_namespace",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::UnknownOperation => "unknown_operation",
            ErrorCode::AlreadySubscribed => "already_subscribed",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidChannel => "invalid_channel",
            ErrorCode::MessageTooLarge => "message_too_large",
            ErrorCode::NotSubscribed => "not_subscribed",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::BinaryNotSupported => "binary_not_supported",
            ErrorCode::NotConnected => "not_connected",
            ErrorCode::AlreadyConnected => "already_connected",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidFilter => "invalid_filter",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.number())
    }
}

/// An error as every door reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {})", code.number())]
pub struct HeraldError {
    /// The stable code.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// For rate limits: when a retry may succeed, in milliseconds.
    pub retry_after_ms: Option<u64>,
}

impl HeraldError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after_ms: None }
    }

    /// A `too_many_requests` error saying when to retry.
    pub fn rate_limited(what: &str, retry_after_ms: u64) -> Self {
        Self {
            code: ErrorCode::TooManyRequests,
            message: format!("too many {what}; retry after {retry_after_ms} ms"),
            retry_after_ms: Some(retry_after_ms),
        }
    }

    /// Shorthand for [`ErrorCode::BadRequest`].
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// Shorthand for [`ErrorCode::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
}

/// The wire form of an error: `{"code":107,"message":"…","temporary":false}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// Stable numeric code.
    pub code: u16,
    /// Message for a person.
    pub message: &'a str,
    /// Whether retrying may succeed.
    pub temporary: bool,
    /// For rate limits: milliseconds until a retry may succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl<'a> From<&'a HeraldError> for ErrorBody<'a> {
    fn from(e: &'a HeraldError) -> Self {
        ErrorBody {
            code: e.code.number(),
            message: &e.message,
            temporary: e.code.temporary(),
            retry_after_ms: e.retry_after_ms,
        }
    }
}

/// Why the server ends a connection. Codes 4000–4499 mean "reconnect"
/// (with backoff); 4500–4999 mean "do not reconnect with the same
/// credentials or input".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The server is shutting down; reconnect (to another node).
    Shutdown,
    /// The connection's outbound queue overflowed; reconnect and recover.
    SlowConsumer,
    /// No pong within the ping timeout.
    PingTimeout,
    /// An internal error; reconnect.
    ServerError,
    /// The token expired; get a new one and reconnect.
    TokenExpired,
    /// Disconnected by the operator or the app's back end (HTTP API); may reconnect.
    Disconnected,
    /// Repeated abuse of rate limits; reconnect after a back-off.
    TooManyRequests,
    /// `connect` was not sent in time.
    ConnectTimeout,
    /// The client broke the protocol; fix the client.
    ProtocolViolation,
    /// Credentials refused; do not retry with the same ones.
    Unauthorized,
    /// The connection was refused for good by the operator (e.g. user banned).
    Forbidden,
    /// The client sent a message larger than allowed.
    MessageTooLarge,
}

impl DisconnectReason {
    /// The WebSocket close code.
    pub const fn code(self) -> u16 {
        match self {
            DisconnectReason::Shutdown => 4000,
            DisconnectReason::SlowConsumer => 4001,
            DisconnectReason::PingTimeout => 4002,
            DisconnectReason::ServerError => 4003,
            DisconnectReason::TokenExpired => 4004,
            DisconnectReason::Disconnected => 4005,
            DisconnectReason::TooManyRequests => 4006,
            DisconnectReason::ConnectTimeout => 4007,
            DisconnectReason::ProtocolViolation => 4500,
            DisconnectReason::Unauthorized => 4501,
            DisconnectReason::Forbidden => 4502,
            DisconnectReason::MessageTooLarge => 4503,
        }
    }

    /// Whether the client should reconnect.
    pub const fn reconnect(self) -> bool {
        self.code() < 4500
    }

    /// Text sent as the close reason.
    pub const fn message(self) -> &'static str {
        match self {
            DisconnectReason::Shutdown => "server going away, reconnect",
            DisconnectReason::SlowConsumer => "slow consumer, reconnect",
            DisconnectReason::PingTimeout => "no pong in time, reconnect",
            DisconnectReason::ServerError => "internal server error, reconnect",
            DisconnectReason::TokenExpired => "token expired, refresh it and reconnect",
            DisconnectReason::Disconnected => "disconnected by the server",
            DisconnectReason::TooManyRequests => "too many requests, back off and reconnect",
            DisconnectReason::ConnectTimeout => "connect frame not sent in time",
            DisconnectReason::ProtocolViolation => "protocol violation, do not reconnect",
            DisconnectReason::Unauthorized => "unauthorized, do not reconnect",
            DisconnectReason::Forbidden => "forbidden, do not reconnect",
            DisconnectReason::MessageTooLarge => "message too large, do not reconnect",
        }
    }

    /// A short name for metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            DisconnectReason::Shutdown => "shutdown",
            DisconnectReason::SlowConsumer => "slow_consumer",
            DisconnectReason::PingTimeout => "ping_timeout",
            DisconnectReason::ServerError => "server_error",
            DisconnectReason::TokenExpired => "token_expired",
            DisconnectReason::Disconnected => "disconnected",
            DisconnectReason::TooManyRequests => "too_many_requests",
            DisconnectReason::ConnectTimeout => "connect_timeout",
            DisconnectReason::ProtocolViolation => "protocol_violation",
            DisconnectReason::Unauthorized => "unauthorized",
            DisconnectReason::Forbidden => "forbidden",
            DisconnectReason::MessageTooLarge => "message_too_large",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_code_ranges_split_reconnect_from_terminal() {
        assert!(DisconnectReason::Shutdown.reconnect());
        assert!(DisconnectReason::SlowConsumer.reconnect());
        assert!(DisconnectReason::TokenExpired.reconnect());
        assert!(!DisconnectReason::ProtocolViolation.reconnect());
        assert!(!DisconnectReason::Unauthorized.reconnect());
    }

    #[test]
    fn temporary_flag() {
        assert!(ErrorCode::TooManyRequests.temporary());
        assert!(!ErrorCode::PermissionDenied.temporary());
    }
}
