//! The native door's handshake extra: after the 101 the client sends a
//! `connect` request with its token; until then every other frame is
//! answered with an error, and without one in `connect_timeout_secs` the
//! socket closes with 4007.

use std::time::Duration;

use herald_core::{Connection, DisconnectReason, ErrorCode, HeraldError, Identity};
use herald_protocol::encode;
use herald_protocol::request::{Op, parse_request};
use herald_ws::frame;
use herald_ws::reader::Message;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};

use super::encoder::NativeEncoder;
use crate::app::App;
use crate::door::read_error_reason;
use crate::door::socket::Socket;

#[derive(Serialize)]
struct ConnectResult<'a> {
    client: &'a str,
    version: &'static str,
    ping_interval_ms: u64,
    pong_timeout_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

/// The reply to `connect` request `id` for the registered `conn`.
pub(super) fn reply(app: &App, conn: &Connection, id: u64) -> Vec<u8> {
    let cc = &app.config.connection;
    let identity = conn.identity();
    let result = ConnectResult {
        client: conn.id(),
        version: env!("CARGO_PKG_VERSION"),
        ping_interval_ms: cc.ping_interval_secs * 1000,
        pong_timeout_ms: cc.pong_timeout_secs * 1000,
        user: conn.user().map(|u| &**u),
        expires_at: identity.expires_at_ms,
    };
    encode::reply(id, &result)
}

/// Wait for `connect`, answering other frames with errors. Returns the
/// request id and the authenticated identity, or the reason to close
/// (`None`: the peer left).
pub(super) async fn await_connect<S>(
    app: &App,
    socket: &mut Socket<S>,
    encoder: &NativeEncoder,
) -> Result<(u64, Identity), Option<DisconnectReason>>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let wait = Duration::from_secs(app.config.connection.connect_timeout_secs.max(1));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let msg = match tokio::time::timeout_at(deadline, socket.reader.next()).await {
            Err(_) => return Err(Some(DisconnectReason::ConnectTimeout)),
            Ok(Err(e)) => return Err(read_error_reason(&e)),
            Ok(Ok(None)) => return Err(None),
            Ok(Ok(Some(m))) => m,
        };
        let reply = match msg {
            Message::Text(text) => match parse_request(std::str::from_utf8(&text).unwrap_or("")) {
                Ok(req) => match req.op {
                    Op::Connect { token, .. } => {
                        let id = req.id.ok_or(Some(DisconnectReason::ProtocolViolation))?;
                        match app.auth.authenticate(token.as_deref()) {
                            Ok(identity) => return Ok((id, identity)),
                            Err(e) => {
                                socket.send(&[encoder.frame(&encode::reply_error(Some(id), &e))]).await;
                                return Err(Some(if e.code == ErrorCode::TokenExpired {
                                    DisconnectReason::TokenExpired
                                } else {
                                    DisconnectReason::Unauthorized
                                }));
                            }
                        }
                    }
                    _ => encode::reply_error(
                        req.id,
                        &HeraldError::new(ErrorCode::NotConnected, "send \"connect\" first"),
                    ),
                },
                Err((id, e)) => encode::reply_error(id, &e),
            },
            Message::Binary(_) => encode::reply_error(None, &super::session::binary_error()),
            Message::Ping(p) => {
                socket.send(&[frame::pong(&p)]).await;
                continue;
            }
            Message::Pong(_) => continue,
            Message::Close(_) => return Err(None),
        };
        if !socket.send(&[encoder.frame(&reply)]).await {
            return Err(None);
        }
    }
}
