//! Errors of the client, and the error object the server sends.

use std::fmt;

use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite;

/// An error reported by the server: `{"code":107,"message":"…","temporary":false}`.
///
/// Codes are stable numbers (100 internal, 101 unauthorized, 103 permission
/// denied, 107 bad request, 108 malformed JSON, 114 not connected, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerError {
    /// The stable numeric error code.
    pub code: u16,
    /// What went wrong, for a person.
    #[serde(default)]
    pub message: String,
    /// Whether retrying the same request later may succeed.
    #[serde(default)]
    pub temporary: bool,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {}", self.message, self.code)?;
        if self.temporary {
            f.write_str(", temporary")?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for ServerError {}

/// How the WebSocket ended: the close code and reason the server sent, or no
/// code when the connection ended without a close frame (reset, I/O error,
/// local shutdown).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CloseInfo {
    /// The WebSocket close code (e.g. 1000 normal, 4001 slow consumer,
    /// 4500 protocol violation), if a close frame carried one.
    pub code: Option<u16>,
    /// The close reason, or a description of how the connection ended.
    pub reason: String,
}

impl fmt::Display for CloseInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(c) => write!(f, "closed with code {c}: {}", self.reason),
            None => write!(f, "closed without a code: {}", self.reason),
        }
    }
}

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered the request with an error.
    #[error("server error: {0}")]
    Server(ServerError),
    /// The connection is closed (or closed while the request was waiting).
    #[error("connection closed (code {code:?}): {reason}")]
    Closed {
        /// The close code, if the server sent a close frame with one.
        code: Option<u16>,
        /// The close reason or how the connection ended.
        reason: String,
    },
    /// A socket error while connecting.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A WebSocket error (handshake refused, bad URL, …).
    #[error("websocket error: {0}")]
    WebSocket(#[source] Box<tungstenite::Error>),
    /// No reply (or no connection) within the configured time.
    #[error("timed out")]
    Timeout,
    /// The server sent something this client cannot read, or the caller asked
    /// for something the protocol cannot express.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The server's error code, when this is [`ClientError::Server`].
    pub fn server_code(&self) -> Option<u16> {
        match self {
            ClientError::Server(e) => Some(e.code),
            _ => None,
        }
    }

    /// The close code, when this is [`ClientError::Closed`] with one.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            ClientError::Closed { code, .. } => *code,
            _ => None,
        }
    }

    /// Whether this is [`ClientError::Closed`].
    pub fn is_closed(&self) -> bool {
        matches!(self, ClientError::Closed { .. })
    }
}

impl From<tungstenite::Error> for ClientError {
    fn from(e: tungstenite::Error) -> Self {
        ClientError::WebSocket(Box::new(e))
    }
}

impl From<ServerError> for ClientError {
    fn from(e: ServerError) -> Self {
        ClientError::Server(e)
    }
}

impl From<CloseInfo> for ClientError {
    fn from(c: CloseInfo) -> Self {
        ClientError::Closed { code: c.code, reason: c.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_error_is_lenient() {
        let e: ServerError = serde_json::from_str(r#"{"code":107}"#).unwrap();
        assert_eq!(e, ServerError { code: 107, message: String::new(), temporary: false });
        let e: ServerError =
            serde_json::from_str(r#"{"code":116,"message":"store down","temporary":true,"extra":1}"#).unwrap();
        assert!(e.temporary);
        assert_eq!(e.to_string(), "store down (code 116, temporary)");
    }

    #[test]
    fn helpers() {
        let e = ClientError::from(ServerError { code: 103, message: "no".into(), temporary: false });
        assert_eq!(e.server_code(), Some(103));
        assert_eq!(e.close_code(), None);
        let e = ClientError::from(CloseInfo { code: Some(4001), reason: "slow".into() });
        assert!(e.is_closed());
        assert_eq!(e.close_code(), Some(4001));
        assert!(size_of::<ClientError>() <= 64);
    }
}
