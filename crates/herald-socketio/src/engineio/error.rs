//! Engine.IO's refusals, with the codes and messages of the reference
//! server (`engine.io/lib/server.ts`: `Server.errors`, `errorMessages`,
//! `abortRequest`): HTTP 400 (403 for `Forbidden`) and the body
//! `{"code":N,"message":"…"}`.

/// Why an Engine.IO request, frame or payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// Code 0: `transport` is missing or not `polling`/`websocket`.
    #[error("Transport unknown")]
    UnknownTransport,
    /// Code 1: no session has this `sid` (never had, or closed).
    #[error("Session ID unknown")]
    UnknownSid,
    /// Code 2: a handshake (no `sid`) that is not a GET.
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    /// Code 3: anything else the server refuses; the text is for logs.
    #[error("Bad request: {0}")]
    BadRequest(String),
    /// Code 4: refused by policy (origin, address, limits); the text is sent.
    #[error("Forbidden: {0}")]
    Forbidden(String),
    /// Code 5: `EIO` is not `4` (Engine.IO 3 clients, i.e. Socket.IO 2).
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion,
    /// A packet or payload that does not parse (answered as code 3; the
    /// session is closed: Engine.IO's "parse error").
    #[error("malformed packet: {0}")]
    Malformed(String),
    /// A polling body longer than `maxPayload` (HTTP 413, as engine.io).
    #[error("payload of {len} bytes exceeds maxPayload ({max})")]
    PayloadTooLarge {
        /// The body's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl EngineError {
    /// A [`EngineError::BadRequest`].
    pub fn bad_request(why: impl Into<String>) -> Self {
        EngineError::BadRequest(why.into())
    }

    /// A [`EngineError::Malformed`].
    pub fn malformed(why: impl Into<String>) -> Self {
        EngineError::Malformed(why.into())
    }

    /// Engine.IO's numeric error code.
    pub const fn code(&self) -> u8 {
        match self {
            EngineError::UnknownTransport => 0,
            EngineError::UnknownSid => 1,
            EngineError::BadHandshakeMethod => 2,
            EngineError::BadRequest(_) | EngineError::Malformed(_) | EngineError::PayloadTooLarge { .. } => 3,
            EngineError::Forbidden(_) => 4,
            EngineError::UnsupportedProtocolVersion => 5,
        }
    }

    /// The HTTP status of the refusal.
    pub const fn http_status(&self) -> u16 {
        match self {
            EngineError::Forbidden(_) => 403,
            EngineError::PayloadTooLarge { .. } => 413,
            _ => 400,
        }
    }

    /// The message sent in the body: Engine.IO's fixed text for each code
    /// (details stay in logs), the policy's text for `Forbidden`.
    pub fn public_message(&self) -> &str {
        match self {
            EngineError::UnknownTransport => "Transport unknown",
            EngineError::UnknownSid => "Session ID unknown",
            EngineError::BadHandshakeMethod => "Bad handshake method",
            EngineError::BadRequest(_) | EngineError::Malformed(_) => "Bad request",
            EngineError::Forbidden(why) => why,
            EngineError::UnsupportedProtocolVersion => "Unsupported protocol version",
            EngineError::PayloadTooLarge { .. } => "Payload too large",
        }
    }

    /// The JSON body: `{"code":N,"message":"…"}` (`Content-Type: application/json`).
    pub fn body(&self) -> String {
        serde_json::json!({ "code": self.code(), "message": self.public_message() }).to_string()
    }

    /// Whether the session this happened on must be closed (a malformed
    /// packet, or two overlapping requests of one kind).
    pub const fn closes_session(&self) -> bool {
        matches!(self, EngineError::Malformed(_) | EngineError::BadRequest(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_engine_io_byte_for_byte() {
        // Captured from socket.io 4.8.4 (tests/fixtures/errors.txt).
        let cases = [
            (EngineError::UnsupportedProtocolVersion, r#"{"code":5,"message":"Unsupported protocol version"}"#),
            (EngineError::UnknownTransport, r#"{"code":0,"message":"Transport unknown"}"#),
            (EngineError::UnknownSid, r#"{"code":1,"message":"Session ID unknown"}"#),
            (EngineError::BadHandshakeMethod, r#"{"code":2,"message":"Bad handshake method"}"#),
            (EngineError::bad_request("overlapping GET"), r#"{"code":3,"message":"Bad request"}"#),
        ];
        for (err, body) in cases {
            assert_eq!(err.body(), body);
            assert_eq!(err.http_status(), 400);
        }
        assert_eq!(EngineError::Forbidden("origin not allowed".into()).http_status(), 403);
        assert_eq!(EngineError::PayloadTooLarge { len: 2, max: 1 }.http_status(), 413);
    }
}
