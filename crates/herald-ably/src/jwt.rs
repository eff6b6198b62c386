//! Ably JWTs: HS256 tokens signed with an API key's secret, the key's name
//! as `kid`, the capability as JSON text in `x-ably-capability` and the
//! clientId in `x-ably-clientId`. Herald accepts those an app's back end
//! makes and issues the same kind for TokenRequests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{ErrorInfo, code};

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// What an Ably JWT says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issued, seconds since the Unix epoch.
    #[serde(default)]
    pub iat: u64,
    /// Expires, seconds since the Unix epoch.
    pub exp: u64,
    /// The capability, JSON text.
    #[serde(rename = "x-ably-capability", default = "no_capability")]
    pub capability: String,
    /// The clientId.
    #[serde(rename = "x-ably-clientId", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

fn no_capability() -> String {
    "{}".to_string()
}

fn invalid(why: &str) -> ErrorInfo {
    ErrorInfo::new(code::TOKEN_INVALID, format!("token is not a valid Ably JWT: {why}"))
}

/// The `kid` (the signing key's name) of a JWT, unverified; `None` when
/// `token` is not a JWT or names no key.
pub fn key_name(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let h: Header = serde_json::from_slice(&B64URL.decode(header).ok()?).ok()?;
    h.kid
}

fn mac(secret: &str, signed: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    m.update(signed.as_bytes());
    m
}

/// Verify `token` with `secret` at `now_ms`: its claims, or 40140 (not
/// valid) / 40142 (expired: the client renews).
pub fn verify(token: &str, secret: &str, now_ms: u64) -> Result<Claims, ErrorInfo> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(invalid("not three parts"));
    };
    let header: Header =
        serde_json::from_slice(&B64URL.decode(h).map_err(|_| invalid("header"))?).map_err(|_| invalid("header"))?;
    if header.alg != "HS256" {
        return Err(invalid("alg must be HS256"));
    }
    let sig = B64URL.decode(s).map_err(|_| invalid("signature"))?;
    mac(secret, &token[..h.len() + 1 + c.len()]).verify_slice(&sig).map_err(|_| invalid("bad signature"))?;
    let claims: Claims = serde_json::from_slice(&B64URL.decode(c).map_err(|_| invalid("claims"))?)
        .map_err(|e| invalid(&format!("claims: {e}")))?;
    if claims.exp.saturating_mul(1000) <= now_ms {
        return Err(ErrorInfo::new(code::TOKEN_EXPIRED, "Token expired"));
    }
    Ok(claims)
}

/// Sign `claims` with the key `key_name`/`secret`.
pub fn sign(key_name: &str, secret: &str, claims: &Claims) -> String {
    let header = Header { alg: "HS256".into(), kid: Some(key_name.to_string()), typ: Some("JWT".into()) };
    let h = B64URL.encode(serde_json::to_vec(&header).unwrap_or_default());
    let c = B64URL.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signed = format!("{h}.{c}");
    let sig = B64URL.encode(mac(secret, &signed).finalize().into_bytes());
    format!("{signed}.{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_verifies_and_expires() {
        let claims =
            Claims { iat: 1000, exp: 2000, capability: r#"{"*":["*"]}"#.into(), client_id: Some("ann".into()) };
        let t = sign("app.key", "secret", &claims);
        assert_eq!(key_name(&t).as_deref(), Some("app.key"));
        assert_eq!(verify(&t, "secret", 1_500_000).unwrap(), claims);
        assert_eq!(verify(&t, "wrong", 1_500_000).unwrap_err().code, code::TOKEN_INVALID);
        assert_eq!(verify(&t, "secret", 2_000_000).unwrap_err().code, code::TOKEN_EXPIRED);
        assert_eq!(key_name("not-a-jwt"), None);
        assert!(verify("a.b", "secret", 0).is_err());
    }
}
