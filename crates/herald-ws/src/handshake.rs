//! Opening handshake: validation of the client's upgrade request, the
//! `Sec-WebSocket-Accept` key, and permessage-deflate negotiation.
//!
//! Only request headers are inspected. The caller is responsible for the
//! request line (method `GET`, HTTP/1.1 or later) and for sending the
//! `101 Switching Protocols` response, for which
//! [`Negotiated::response_headers`] provides the headers.

mod extensions;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::header::{
    CONNECTION, HeaderMap, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use sha1::{Digest, Sha1};

/// The GUID that RFC 6455 section 1.3 appends to the client's key.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Extensions` value sent when permessage-deflate is
/// accepted.
///
/// `server_no_context_takeover` makes every compressed server message
/// independent of the previous ones, so one compressed frame can be sent to
/// every subscriber. `client_no_context_takeover` (which RFC 7692 section
/// 7.1.1.2 lets the server add) lets the server reset its decompressor per
/// message too.
pub const DEFLATE_RESPONSE: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// Computes the `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key + GUID)) as defined in RFC 6455 section 4.2.2.
pub fn accept_key(sec_websocket_key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(sec_websocket_key.as_bytes());
    sha.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// Server-side permessage-deflate settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Whether permessage-deflate is offered to clients at all.
    pub enabled: bool,
    /// Payloads smaller than this many bytes are sent uncompressed.
    pub threshold: usize,
    /// zlib compression level, 0 (none) to 9 (best); larger values are
    /// clamped to 9.
    pub level: u32,
}

impl Default for DeflateConfig {
    /// Enabled, threshold 256 bytes, level 6.
    fn default() -> Self {
        Self { enabled: true, threshold: 256, level: 6 }
    }
}

/// The permessage-deflate parameters in force on a connection.
///
/// [`negotiate`] always produces the same agreement (no context takeover in
/// either direction, 15-bit windows); the fields exist so that readers and
/// encoders can be driven from an explicit description of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor for every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor for every message, so the server
    /// may reset its decompressor for every message.
    pub client_no_context_takeover: bool,
    /// LZ77 window size (base-2 logarithm) the server compresses with.
    pub server_max_window_bits: u8,
    /// Largest LZ77 window size (base-2 logarithm) the client may compress
    /// with. A 15-bit decompressor accepts any smaller window.
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// The agreement [`negotiate`] makes: no context takeover both ways,
    /// 15-bit windows.
    fn default() -> Self {
        Self {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// Result of a successful handshake negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Value of the `Sec-WebSocket-Accept` response header.
    pub accept: String,
    /// permessage-deflate agreement, if compression was negotiated.
    pub deflate: Option<DeflateParams>,
    /// Value of the `Sec-WebSocket-Extensions` response header, if any.
    pub response_extensions: Option<HeaderValue>,
}

impl Negotiated {
    /// Headers for the `101 Switching Protocols` response: `Upgrade`,
    /// `Connection`, `Sec-WebSocket-Accept` and, when compression was
    /// negotiated, `Sec-WebSocket-Extensions`.
    pub fn response_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        // The accept key is base64, which is always a valid header value.
        if let Ok(v) = HeaderValue::from_str(&self.accept) {
            headers.insert(SEC_WEBSOCKET_ACCEPT, v);
        }
        if let Some(ext) = &self.response_extensions {
            headers.insert(SEC_WEBSOCKET_EXTENSIONS, ext.clone());
        }
        headers
    }
}

/// Why an upgrade request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// No `Upgrade` header naming `websocket`.
    #[error("the request is not a WebSocket upgrade: it has no `Upgrade: websocket` header")]
    MissingUpgrade,
    /// No `Connection` header containing the `upgrade` token.
    #[error("the request's `Connection` header does not contain the `upgrade` token")]
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Version` header.
    #[error("the request has no `Sec-WebSocket-Version` header")]
    MissingVersion,
    /// A `Sec-WebSocket-Version` other than 13 (the caller should answer
    /// `426 Upgrade Required` with `Sec-WebSocket-Version: 13`).
    #[error("the client asked for WebSocket version {0:?}, but only version 13 is supported")]
    UnsupportedVersion(String),
    /// No `Sec-WebSocket-Key` header.
    #[error("the request has no `Sec-WebSocket-Key` header")]
    MissingKey,
    /// More than one `Sec-WebSocket-Key` header.
    #[error("the request has more than one `Sec-WebSocket-Key` header")]
    DuplicateKey,
    /// A key that is not the base64 encoding of exactly 16 bytes.
    #[error("the `Sec-WebSocket-Key` header is not the base64 encoding of 16 bytes")]
    InvalidKey,
}

/// Validates a WebSocket upgrade request and negotiates permessage-deflate.
///
/// Checks `Upgrade: websocket`, an `upgrade` token in `Connection`,
/// `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key` that decodes to 16
/// bytes. Then walks the client's permessage-deflate offers in order and
/// accepts the first one this server can honour; if none is acceptable,
/// or `deflate.enabled` is false, the connection runs uncompressed.
///
/// An offer is declined when it has an unknown or repeated parameter, an
/// invalid value, or `server_max_window_bits` below 15: the compressor
/// (flate2 with the miniz_oxide backend) always uses a 32 KiB window, so a
/// smaller server window cannot be honoured. `client_max_window_bits` with
/// or without a value is accepted; the client then uses whatever window it
/// likes up to 15 bits, which the decompressor handles.
pub fn negotiate(req_headers: &HeaderMap, deflate: &DeflateConfig) -> Result<Negotiated, HandshakeError> {
    if !has_token(req_headers, &UPGRADE, "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !has_token(req_headers, &CONNECTION, "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let version = req_headers.get(SEC_WEBSOCKET_VERSION).ok_or(HandshakeError::MissingVersion)?;
    if version.as_bytes().trim_ascii() != b"13" {
        let shown = String::from_utf8_lossy(version.as_bytes()).into_owned();
        return Err(HandshakeError::UnsupportedVersion(shown));
    }
    let mut keys = req_headers.get_all(SEC_WEBSOCKET_KEY).iter();
    let key = keys.next().ok_or(HandshakeError::MissingKey)?;
    if keys.next().is_some() {
        return Err(HandshakeError::DuplicateKey);
    }
    let key = key.to_str().map_err(|_| HandshakeError::InvalidKey)?.trim_matches([' ', '\t']);
    match BASE64.decode(key) {
        Ok(raw) if raw.len() == 16 => {}
        _ => return Err(HandshakeError::InvalidKey),
    }

    let accepted = deflate.enabled
        && req_headers
            .get_all(SEC_WEBSOCKET_EXTENSIONS)
            .iter()
            .any(|v| extensions::accepts_permessage_deflate(v.as_bytes()));
    Ok(Negotiated {
        accept: accept_key(key),
        deflate: accepted.then(DeflateParams::default),
        response_extensions: accepted.then(|| HeaderValue::from_static(DEFLATE_RESPONSE)),
    })
}

/// Whether any comma-separated element of any `name` header equals `token`
/// (ASCII case-insensitive).
fn has_token(headers: &HeaderMap, name: &http::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value.as_bytes().split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_accept_key_vector() {
        // RFC 6455 sections 1.3 and 4.2.2.
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn response_headers_carry_accept_and_extension() {
        let n = Negotiated {
            accept: "abc=".into(),
            deflate: Some(DeflateParams::default()),
            response_extensions: Some(HeaderValue::from_static(DEFLATE_RESPONSE)),
        };
        let h = n.response_headers();
        assert_eq!(h[SEC_WEBSOCKET_ACCEPT], "abc=");
        assert_eq!(h[SEC_WEBSOCKET_EXTENSIONS], DEFLATE_RESPONSE);
        assert_eq!(h[UPGRADE], "websocket");
    }
}
