//! The query of an Engine.IO request (`/socket.io/?EIO=4&transport=…&sid=…`),
//! checked in the reference server's order (`engine.io/lib/server.ts`:
//! `verify`, then `handshake`): the transport first (code 0), then the
//! session or the handshake method (codes 1, 2, 3), then the protocol
//! version (code 5).

use super::{EngineError, Transport};

/// Longest `sid` accepted; Herald's sids are much shorter.
pub const MAX_SID_LEN: usize = 64;

/// The HTTP method of a request, as far as Engine.IO cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`: a handshake, a poll, or a WebSocket upgrade.
    Get,
    /// `POST`: packets from a polling client.
    Post,
    /// Anything else (refused).
    Other,
}

/// A checked Engine.IO query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineQuery {
    /// The transport the request is for.
    pub transport: Transport,
    /// The session, absent on a handshake. Whether it exists is the
    /// caller's question ([`EngineError::UnknownSid`] if not).
    pub sid: Option<String>,
    /// The `token` parameter (Herald's JWT), if given.
    pub token: Option<String>,
}

impl EngineQuery {
    /// Whether this request opens a new session.
    pub fn is_handshake(&self) -> bool {
        self.sid.is_none()
    }
}

/// Check the query of a request made with `method`; `websocket_upgrade`
/// says whether it asks for a WebSocket upgrade (`Upgrade: websocket`).
pub fn parse_query(query: &str, method: Method, websocket_upgrade: bool) -> Result<EngineQuery, EngineError> {
    let mut eio = Vec::new();
    let mut transports = Vec::new();
    let mut sids = Vec::new();
    let mut tokens = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "EIO" => eio.push(value.into_owned()),
            "transport" => transports.push(value.into_owned()),
            "sid" => sids.push(value.into_owned()),
            "token" => tokens.push(value.into_owned()),
            _ => {}
        }
    }
    let transport = match transports.as_slice() {
        [t] if t == "polling" => Transport::Polling,
        [t] if t == "websocket" => Transport::Websocket,
        _ => return Err(EngineError::UnknownTransport),
    };
    if (transport == Transport::Websocket) != websocket_upgrade {
        return Err(EngineError::bad_request(match transport {
            Transport::Websocket => "transport=websocket without a WebSocket upgrade",
            Transport::Polling => "a WebSocket upgrade for transport=polling",
        }));
    }
    let sid = match sids.as_slice() {
        [] => None,
        [sid] if valid_sid(sid) => Some(sid.clone()),
        [_] => return Err(EngineError::UnknownSid),
        _ => return Err(EngineError::bad_request("more than one sid")),
    };
    if sid.is_none() && method != Method::Get {
        return Err(EngineError::BadHandshakeMethod);
    }
    if sid.is_some() && method == Method::Other {
        return Err(EngineError::bad_request("polling requests are GET or POST"));
    }
    if !matches!(eio.as_slice(), [v] if v == "4") {
        return Err(EngineError::UnsupportedProtocolVersion);
    }
    let token = match tokens.as_slice() {
        [] => None,
        [token] => Some(token.clone()),
        _ => return Err(EngineError::bad_request("more than one token")),
    };
    Ok(EngineQuery { transport, sid, token })
}

fn valid_sid(sid: &str) -> bool {
    !sid.is_empty()
        && sid.len() <= MAX_SID_LEN
        && sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(query: &str) -> Result<EngineQuery, EngineError> {
        parse_query(query, Method::Get, false)
    }

    #[test]
    fn accepts_handshakes_polls_and_upgrades() {
        let q = get("EIO=4&transport=polling&t=N8hyd6w").unwrap();
        assert_eq!((q.transport, q.sid, q.token), (Transport::Polling, None, None));
        let q = parse_query("EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC", Method::Post, false).unwrap();
        assert_eq!(q.sid.as_deref(), Some("lv_VI97HAXpY6yYWAAAC"));
        let q = parse_query("EIO=4&transport=websocket&sid=abc&token=a.b.c", Method::Get, true).unwrap();
        assert_eq!((q.transport, q.token.as_deref()), (Transport::Websocket, Some("a.b.c")));
        assert!(parse_query("EIO=4&transport=websocket", Method::Get, true).unwrap().is_handshake());
    }

    #[test]
    fn refusals_follow_engine_io() {
        // The requests of tests/fixtures/errors.txt and the codes socket.io 4.8.4 answered.
        assert_eq!(get("EIO=3&transport=polling"), Err(EngineError::UnsupportedProtocolVersion));
        assert_eq!(get("transport=polling"), Err(EngineError::UnsupportedProtocolVersion));
        assert_eq!(get("EIO=4&transport=flash"), Err(EngineError::UnknownTransport));
        assert_eq!(get("EIO=4"), Err(EngineError::UnknownTransport));
        assert_eq!(parse_query("EIO=4&transport=polling", Method::Post, false), Err(EngineError::BadHandshakeMethod));
        assert_eq!(parse_query("EIO=4&transport=polling", Method::Other, false), Err(EngineError::BadHandshakeMethod));
        // The transport is checked before the version, as engine.io does.
        assert_eq!(get("EIO=3&transport=flash"), Err(EngineError::UnknownTransport));
    }

    #[test]
    fn refuses_odd_queries() {
        assert_eq!(get("EIO=4&transport=polling&transport=polling"), Err(EngineError::UnknownTransport));
        assert_eq!(get("EIO=4&EIO=4&transport=polling"), Err(EngineError::UnsupportedProtocolVersion));
        assert_eq!(get("EIO=4&transport=polling&sid=a%20b"), Err(EngineError::UnknownSid));
        assert_eq!(get(&format!("EIO=4&transport=polling&sid={}", "a".repeat(65))), Err(EngineError::UnknownSid));
        assert!(matches!(get("EIO=4&transport=polling&sid=a&sid=b"), Err(EngineError::BadRequest(_))));
        assert!(matches!(get("EIO=4&transport=websocket"), Err(EngineError::BadRequest(_))));
        assert!(matches!(parse_query("EIO=4&transport=polling", Method::Get, true), Err(EngineError::BadRequest(_))));
        assert!(matches!(
            parse_query("EIO=4&transport=polling&sid=a", Method::Other, false),
            Err(EngineError::BadRequest(_))
        ));
    }
}
