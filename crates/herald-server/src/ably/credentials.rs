//! Ably credentials → a Herald [`Identity`]: an API key (`key=` on the
//! socket, `Basic` on REST), an Ably JWT signed with a configured key's
//! secret (`kid` = the key's name; Herald issues these for TokenRequests
//! too), or a Herald token (its grants are the capability). A capability
//! `{"chat:*":["publish","subscribe"]}` becomes grants `chat:*` → those
//! rights, so `Hub::authorize` decides every operation, as for every door.

use std::sync::Arc;

use herald_ably::auth::{self, Capability};
use herald_ably::error::code;
use herald_ably::{ErrorInfo, jwt};
use herald_core::{ChannelPattern, ErrorCode, Grant, Grants, Identity, Rights, now_ms};

use crate::app::App;
use crate::config::ably::AblyKeyConfig;

/// Who an Ably client is.
#[derive(Debug, Clone)]
pub struct AblyAuth {
    /// Its identity (grants from the capability, user = clientId).
    pub identity: Identity,
    /// Its clientId.
    pub client_id: Option<String>,
    /// Whether its messages may name any clientId (an API key, or a token for `*`).
    pub any_client_id: bool,
}

/// Grants for a capability. Operations Herald does not have (push,
/// channel-metadata…) grant nothing.
pub fn grants(cap: &Capability) -> Grants {
    let list = cap
        .iter()
        .map(|(resource, ops)| Grant {
            pattern: ChannelPattern::parse(resource),
            rights: ops.iter().filter_map(|o| Rights::from_name(o)).fold(Rights::NONE, Rights::union),
        })
        .collect();
    Grants::Only(list)
}

fn identity(cap: &Capability, client_id: Option<&str>, expires_at_ms: Option<u64>) -> Identity {
    let user = client_id.filter(|c| *c != "*").map(Arc::from);
    Identity { user, info: None, grants: grants(cap), expires_at_ms }
}

/// The configured key `name:secret`, or 40101.
pub fn key<'a>(app: &'a App, key: &str) -> Result<&'a AblyKeyConfig, ErrorInfo> {
    let parsed =
        auth::ApiKey::parse(key).ok_or_else(|| ErrorInfo::new(code::INVALID_CREDENTIALS, "key must be name:secret"))?;
    app.config
        .ably
        .key(&parsed.name)
        .filter(|k| constant_time_eq(k.secret.as_bytes(), parsed.secret.as_bytes()))
        .ok_or_else(|| {
            ErrorInfo::new(code::INVALID_CREDENTIALS, format!("invalid key {} or wrong secret", parsed.name))
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Authenticate with an API key; `client_id` is what the key holder asked to be.
pub fn with_key(app: &App, key_text: &str, client_id: Option<&str>) -> Result<AblyAuth, ErrorInfo> {
    let k = key(app, key_text)?;
    Ok(AblyAuth {
        identity: identity(&k.capability(), client_id, None),
        client_id: client_id.filter(|c| *c != "*").map(str::to_string),
        any_client_id: true,
    })
}

/// Authenticate with a token: an Ably JWT of a configured key, else a
/// Herald token. `client_id`, when given, must match the token's.
pub fn with_token(app: &App, token: &str, client_id: Option<&str>) -> Result<AblyAuth, ErrorInfo> {
    let (identity, token_client) = match jwt::key_name(token).and_then(|kid| app.config.ably.key(&kid)) {
        Some(k) => {
            let claims = jwt::verify(token, &k.secret, now_ms())?;
            let cap = auth::parse_capability(&claims.capability)?;
            if !auth::covers(&k.capability(), &cap) {
                return Err(ErrorInfo::new(code::CAPABILITY_REFUSED, "the token's capability exceeds its key's"));
            }
            let exp = claims.exp.saturating_mul(1000);
            (identity(&cap, claims.client_id.as_deref(), Some(exp)), claims.client_id)
        }
        None => {
            let identity = app.auth.authenticate(Some(token)).map_err(|e| match e.code {
                ErrorCode::TokenExpired => ErrorInfo::new(code::TOKEN_EXPIRED, e.message),
                _ => ErrorInfo::new(code::INVALID_CREDENTIALS, e.message),
            })?;
            if identity.is_development() {
                return Err(ErrorInfo::new(
                    code::INVALID_CREDENTIALS,
                    "token is neither an Ably JWT of a configured key nor a Herald token (no [auth] token_secret)",
                ));
            }
            let user = identity.user.as_deref().map(str::to_string);
            (identity, user)
        }
    };
    let any = token_client.as_deref() == Some("*");
    if let (Some(asked), Some(tc)) = (client_id, token_client.as_deref())
        && asked != tc
        && !any
    {
        return Err(ErrorInfo::new(
            code::INVALID_CLIENT_ID,
            format!("clientId {asked} does not match the token's {tc}"),
        ));
    }
    let client_id = if any { client_id.map(str::to_string) } else { token_client };
    let mut identity = identity;
    if any {
        identity.user = client_id.as_deref().map(Arc::from);
    }
    Ok(AblyAuth { identity, client_id, any_client_id: any })
}

/// Authenticate a realtime connection from its query.
pub fn connect(
    app: &App,
    key: Option<&str>,
    token: Option<&str>,
    client_id: Option<&str>,
) -> Result<AblyAuth, ErrorInfo> {
    match (key, token) {
        (Some(k), _) => with_key(app, k, client_id),
        (None, Some(t)) => with_token(app, t, client_id),
        (None, None) => Err(ErrorInfo::new(code::NO_CREDENTIALS, "no key or access_token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_become_grants_the_hub_checks() {
        let cap =
            auth::parse_capability(r#"{"chat:*":["publish","subscribe"],"news":["subscribe","push-admin"]}"#).unwrap();
        let id = identity(&cap, Some("ann"), None);
        let ch = |n: &str| herald_core::ChannelName::new(n).unwrap();
        assert!(id.granted(&ch("chat:lobby"), Rights::PUBLISH));
        assert!(!id.granted(&ch("chat:lobby"), Rights::PRESENCE));
        assert!(id.granted(&ch("news"), Rights::SUBSCRIBE));
        assert!(!id.granted(&ch("news"), Rights::PUBLISH));
        assert_eq!(id.user.as_deref(), Some("ann"));
        assert_eq!(identity(&cap, Some("*"), None).user, None);
    }
}
