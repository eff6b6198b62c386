//! Ably's `ErrorInfo` and the codes Herald answers with. ably-js acts on
//! the code: 40140–40149 make it renew its token and reconnect, 401xx
//! otherwise fail the connection, 80008 says a resume failed, and a
//! channel ERROR fails only that channel.

use serde::{Deserialize, Serialize};

/// Error codes.
pub mod code {
    /// Bad request.
    pub const BAD_REQUEST: u32 = 40000;
    /// A message is over the size limit.
    pub const TOO_LARGE: u32 = 40009;
    /// The channel name is invalid.
    pub const INVALID_CHANNEL_NAME: u32 = 40010;
    /// The message data or its encoding is invalid.
    pub const INVALID_DATA: u32 = 40013;
    /// Wrong credentials (unknown key, bad secret or signature).
    pub const INVALID_CREDENTIALS: u32 = 40101;
    /// A clientId the credentials do not allow.
    pub const INVALID_CLIENT_ID: u32 = 40102;
    /// No credentials.
    pub const NO_CREDENTIALS: u32 = 40103;
    /// The token is not valid (unparseable, bad signature).
    pub const TOKEN_INVALID: u32 = 40140;
    /// The token expired.
    pub const TOKEN_EXPIRED: u32 = 40142;
    /// The capability does not allow the operation.
    pub const CAPABILITY_REFUSED: u32 = 40160;
    /// The operation needs a clientId.
    pub const NO_CLIENT_ID: u32 = 40012;
    /// Not found.
    pub const NOT_FOUND: u32 = 40400;
    /// Too many requests.
    pub const RATE_LIMITED: u32 = 42910;
    /// Internal error.
    pub const INTERNAL: u32 = 50000;
    /// The server is going away: reconnect.
    pub const DISCONNECTED: u32 = 80003;
    /// The connection could not be resumed: a new connection.
    pub const UNABLE_TO_RESUME: u32 = 80008;
    /// The connection was cut for not reading (slow consumer).
    pub const SLOW_CONSUMER: u32 = 80020;
    /// The channel's continuity was lost (re-attached without RESUMED).
    pub const CONTINUITY_LOST: u32 = 91005;
}

/// An error as Ably sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    /// Ably's code ([`code`]).
    pub code: u32,
    /// The HTTP status it corresponds to.
    pub status_code: u16,
    /// What happened.
    pub message: String,
}

impl ErrorInfo {
    /// An error with `code`; the status is the code's first three digits.
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        let status_code = u16::try_from(code / 100).unwrap_or(500);
        ErrorInfo { code, status_code, message: message.into() }
    }

    /// Whether ably-js renews its token on this error.
    pub fn is_token_error(&self) -> bool {
        (40140..40150).contains(&self.code)
    }
}

impl std::fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ErrorInfo {}
