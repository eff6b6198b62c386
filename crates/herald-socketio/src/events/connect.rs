//! The client's CONNECT: credentials and a recovery request.
//!
//! `io(url, { auth: { token } })` sends `40{"token":"…"}`; after a
//! disconnection with recovery on, the client adds `pid` and `offset`
//! (`40{"pid":"…","offset":"…","token":"…"}`). Other `auth` fields are the
//! app's and are ignored here. The token may also come from the `token`
//! query parameter of the Engine.IO request.

use herald_core::{ErrorBody, HeraldError};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::recovery::{RecoveryVector, valid_pid};
use crate::socketio::server;

/// What a CONNECT's `auth` object carries for Herald.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectAuth {
    /// Herald's JWT (`auth.token`).
    pub token: Option<String>,
    /// The private session id of the previous session (recovery).
    pub pid: Option<String>,
    /// The last recovery token the client received (recovery).
    pub offset: Option<String>,
}

#[derive(Deserialize)]
struct Auth {
    #[serde(default)]
    token: Option<serde_json::Value>,
    #[serde(default)]
    pid: Option<serde_json::Value>,
    #[serde(default)]
    offset: Option<serde_json::Value>,
}

fn string_field(value: Option<serde_json::Value>, name: &str) -> Result<Option<String>, HeraldError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(HeraldError::bad_request(format!("auth.{name} must be a string"))),
    }
}

/// Read the CONNECT payload (the packet's JSON object, if any).
pub fn parse_connect(data: Option<&str>) -> Result<ConnectAuth, HeraldError> {
    let Some(data) = data else {
        return Ok(ConnectAuth::default());
    };
    let auth: Auth =
        serde_json::from_str(data).map_err(|e| HeraldError::bad_request(format!("auth must be an object: {e}")))?;
    Ok(ConnectAuth {
        token: string_field(auth.token, "token")?,
        pid: string_field(auth.pid, "pid")?,
        offset: string_field(auth.offset, "offset")?,
    })
}

impl ConnectAuth {
    /// The token: `auth.token`, else the query's `token`.
    pub fn token_or<'a>(&'a self, query_token: Option<&'a str>) -> Option<&'a str> {
        self.token.as_deref().or(query_token)
    }

    /// A recovery request: a well-formed `pid` and the positions its
    /// `offset` holds (none when the client got no token yet: it had no
    /// subscriptions). `None` means a fresh session; the door echoes the
    /// `pid` only once every channel was restored and replayed completely.
    pub fn recovery(&self, max_channels: usize) -> Option<(&str, RecoveryVector)> {
        let pid = self.pid.as_deref().filter(|p| valid_pid(p))?;
        let vector = match self.offset.as_deref() {
            None => RecoveryVector::new(),
            Some(token) => RecoveryVector::parse(token, max_channels).ok()?,
        };
        Some((pid, vector))
    }
}

/// CONNECT_ERROR for a refused connection: `message` is Herald's message,
/// `data` the error body (`{code, message, temporary}`), so
/// `socket.on("connect_error", (err) => err.data.code)` works.
pub fn connect_refused(namespace: &str, err: &HeraldError) -> String {
    let body = serde_json::to_string(&ErrorBody::from(err)).unwrap_or_default();
    let data = serde_json::from_str::<&RawValue>(&body).ok();
    server::connect_error(namespace, &err.message, data)
}

#[cfg(test)]
mod tests {
    use herald_core::ErrorCode;

    use super::*;

    #[test]
    fn reads_auth_as_socket_io_client_sends_it() {
        // tests/fixtures/recovery.txt: first connect, then the reconnect.
        let first = parse_connect(Some(r#"{"token":"abc"}"#)).unwrap();
        assert_eq!(first, ConnectAuth { token: Some("abc".into()), pid: None, offset: None });
        assert!(first.recovery(10).is_none());
        let again =
            parse_connect(Some(r#"{"pid":"RuN2eN54w4hfKeliAAAG","offset":"e1.5.chat:a","token":"abc"}"#)).unwrap();
        let (pid, vector) = again.recovery(10).unwrap();
        assert_eq!(pid, "RuN2eN54w4hfKeliAAAG");
        assert_eq!(vector.entries().len(), 1);
        assert_eq!(parse_connect(None).unwrap(), ConnectAuth::default());
        let other = parse_connect(Some(r#"{"room":"x","token":null}"#)).unwrap();
        assert_eq!(other.token_or(Some("q")), Some("q"));
    }

    #[test]
    fn recovery_is_refused_unless_everything_is_readable() {
        let pid_only = parse_connect(Some(r#"{"pid":"p1"}"#)).unwrap();
        assert!(pid_only.recovery(10).unwrap().1.is_empty());
        for data in [
            r#"{"pid":"p 1","offset":""}"#,
            r#"{"pid":"p1","offset":"!"}"#,
            r#"{"pid":"p1","offset":"garbage"}"#,
            r#"{"offset":"e1.5.a"}"#,
        ] {
            assert!(parse_connect(Some(data)).unwrap().recovery(10).is_none(), "{data}");
        }
        assert!(parse_connect(Some(r#"{"token":1}"#)).is_err());
        assert!(parse_connect(Some("[1]")).is_err());
    }

    #[test]
    fn refusals_carry_the_error_body() {
        let err = HeraldError::new(ErrorCode::Unauthorized, "token required");
        assert_eq!(
            connect_refused("/", &err),
            r#"44{"message":"token required","data":{"code":101,"message":"token required","temporary":false}}"#
        );
    }
}
