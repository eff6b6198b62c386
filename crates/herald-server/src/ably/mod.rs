//! The Ably door: the Ably realtime protocol (v6, what ably-js 2 speaks)
//! over WebSocket at `/` and Ably's REST API (`/channels/…`, `/time`,
//! `/keys/{keyName}/requestToken`), so unmodified ably-js works against
//! Herald (`docs/ably.md`). Ably channel `X` is Herald channel `X`; an Ably
//! message `{name, data}` is the publication `{"event": name, "data": …}`
//! (`herald_ably::envelope`), so every door sees the same events.
//!
//! The protocol types and codecs are `herald-ably` (no IO). Here:
//! `credentials` (keys and tokens → an identity), `upgrade` (`GET /` with
//! an upgrade; the handshake's refusals), `session` (one connection on the
//! door runtime: CONNECTED, heartbeats, AUTH, CLOSE, the close table),
//! `attach` (ATTACH/DETACH, modes, rewind, re-attach from a
//! `channelSerial`), `publish` (MESSAGE → ACK/NACK), `presence`
//! (enter/update/leave, SYNC), `resume` (connections resumed within
//! `connectionStateTtl`), `encoder` (hub events as protocol messages),
//! `rest` (the REST API).

mod attach;
pub mod credentials;
pub mod encoder;
mod presence;
mod publish;
pub mod rest;
pub mod resume;
mod session;
pub mod upgrade;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use herald_ably::error::code;
use herald_ably::{ErrorInfo, Format, ProtocolMessage};
use herald_core::{ErrorCode, HeraldError};
use herald_ws::frame as ws_frame;

use crate::app::App;

/// The door's routes: the realtime socket at `/` (upgrades only) and REST.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(upgrade::upgrade))
        .route("/time", get(rest::time))
        .route("/channels/{channel}/messages", get(rest::history).post(rest::publish))
        .route("/channels/{channel}/presence", get(rest::presence))
        .route("/keys/{key_name}/requestToken", post(rest::request_token))
}

/// A protocol message as a WebSocket frame: text for JSON, binary for MessagePack.
pub fn frame(format: Format, pm: &ProtocolMessage) -> Bytes {
    let bytes = format.encode(pm);
    match format {
        Format::Json => ws_frame::text(&bytes),
        Format::MsgPack => ws_frame::binary(&bytes),
    }
}

/// A hub error with the Ably code ably-js acts on.
pub fn error_info(e: &HeraldError) -> ErrorInfo {
    let c = match e.code {
        ErrorCode::PermissionDenied => code::CAPABILITY_REFUSED,
        ErrorCode::Unauthorized => code::INVALID_CREDENTIALS,
        ErrorCode::TokenExpired => code::TOKEN_EXPIRED,
        ErrorCode::MessageTooLarge => code::TOO_LARGE,
        ErrorCode::InvalidChannel | ErrorCode::UnknownNamespace => code::INVALID_CHANNEL_NAME,
        ErrorCode::MalformedJson => code::INVALID_DATA,
        ErrorCode::TooManyRequests | ErrorCode::LimitExceeded => code::RATE_LIMITED,
        ErrorCode::NotFound => code::NOT_FOUND,
        c if c.temporary() => code::INTERNAL,
        _ => code::BAD_REQUEST,
    };
    ErrorInfo::new(c, e.message.clone())
}
