//! API keys (`appId.keyId:secret`), capabilities
//! (`{"channel":["publish","subscribe","presence","history"]}`) and
//! TokenRequests (a request for a token signed with a key's secret, as
//! ably-js' `createTokenRequest` makes them).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{ErrorInfo, code};

/// An API key: its name (`appId.keyId`) and secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// `appId.keyId`.
    pub name: String,
    /// The secret.
    pub secret: String,
}

impl ApiKey {
    /// Parse `appId.keyId:secret`.
    pub fn parse(s: &str) -> Option<ApiKey> {
        let (name, secret) = s.split_once(':')?;
        (!name.is_empty() && !secret.is_empty()).then(|| ApiKey { name: name.to_string(), secret: secret.to_string() })
    }
}

/// A capability: resource (channel name or pattern ending in `*`) → operations.
pub type Capability = BTreeMap<String, Vec<String>>;

/// Every operation on every channel.
pub fn all_rights() -> Capability {
    BTreeMap::from([("*".to_string(), vec!["*".to_string()])])
}

/// Parse a capability's JSON text.
pub fn parse_capability(json: &str) -> Result<Capability, ErrorInfo> {
    serde_json::from_str(json)
        .map_err(|e| ErrorInfo::new(code::BAD_REQUEST, format!("capability must be {{\"resource\":[\"op\",…]}}: {e}")))
}

/// Whether `have` allows everything `want` asks for (a token's capability
/// never exceeds its key's).
pub fn covers(have: &Capability, want: &Capability) -> bool {
    want.iter().all(|(resource, ops)| {
        have.iter().any(|(r, allowed)| {
            let resource_ok = r == resource || r.strip_suffix('*').is_some_and(|p| resource.starts_with(p));
            resource_ok && ops.iter().all(|op| allowed.iter().any(|a| a == "*" || a == op))
        })
    })
}

/// A TokenRequest (ably-js `createTokenRequest`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    /// The key it is signed with.
    pub key_name: String,
    /// Requested life, ms (absent: the key's default).
    #[serde(default)]
    pub ttl: Option<serde_json::Value>,
    /// Requested capability (JSON text; absent: the key's).
    #[serde(default)]
    pub capability: Option<String>,
    /// The token's clientId.
    #[serde(default)]
    pub client_id: Option<String>,
    /// When it was made, ms since the Unix epoch.
    pub timestamp: serde_json::Value,
    /// A random string, used once.
    pub nonce: String,
    /// base64 HMAC-SHA256 of the fields with the key's secret.
    pub mac: String,
}

fn text(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl TokenRequest {
    /// The signed text: `keyName\nttl\ncapability\nclientId\ntimestamp\nnonce\n`.
    pub fn sign_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n",
            self.key_name,
            text(self.ttl.as_ref()),
            self.capability.as_deref().unwrap_or(""),
            self.client_id.as_deref().unwrap_or(""),
            text(Some(&self.timestamp)),
            self.nonce
        )
    }

    /// The request's ttl in ms, if given.
    pub fn ttl_ms(&self) -> Option<u64> {
        text(self.ttl.as_ref()).parse().ok()
    }

    /// The request's timestamp in ms.
    pub fn timestamp_ms(&self) -> Option<u64> {
        text(Some(&self.timestamp)).parse().ok()
    }

    /// Check the mac with `secret`.
    pub fn verify(&self, secret: &str) -> Result<(), ErrorInfo> {
        let bad = || ErrorInfo::new(code::INVALID_CREDENTIALS, "TokenRequest mac does not match the key's secret");
        let mac = B64.decode(&self.mac).map_err(|_| bad())?;
        let mut h = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| bad())?;
        h.update(self.sign_text().as_bytes());
        h.verify_slice(&mac).map_err(|_| bad())
    }

    /// Sign with `secret` (tests; clients sign their own).
    pub fn sign(&mut self, secret: &str) {
        if let Ok(mut h) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
            h.update(self.sign_text().as_bytes());
            self.mac = B64.encode(h.finalize().into_bytes());
        }
    }
}

/// A token as Ably's REST API answers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenDetails {
    /// The token (Herald issues Ably JWTs).
    pub token: String,
    /// The key that signed it.
    pub key_name: String,
    /// Issued, ms.
    pub issued: u64,
    /// Expires, ms.
    pub expires: u64,
    /// Its capability (JSON text).
    pub capability: String,
    /// Its clientId.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_request_mac_matches_ably_js() {
        // Made by ably-js 2.28 `createTokenRequest` with key "app.key:secret".
        let mut tr = TokenRequest {
            key_name: "app.key".into(),
            ttl: Some(serde_json::json!(60000)),
            capability: Some(r#"{"chat:*":["publish","subscribe"]}"#.into()),
            client_id: Some("ann".into()),
            timestamp: serde_json::json!(1764700000000u64),
            nonce: "abc".into(),
            mac: String::new(),
        };
        assert_eq!(
            tr.sign_text(),
            "app.key\n60000\n{\"chat:*\":[\"publish\",\"subscribe\"]}\nann\n1764700000000\nabc\n"
        );
        tr.sign("secret");
        assert!(tr.verify("secret").is_ok());
        assert_eq!(tr.verify("wrong").unwrap_err().code, code::INVALID_CREDENTIALS);
        tr.client_id = Some("eve".into());
        assert!(tr.verify("secret").is_err());
    }

    #[test]
    fn keys_and_capabilities() {
        assert_eq!(ApiKey::parse("app.key:s3").unwrap().name, "app.key");
        assert!(ApiKey::parse("app.key").is_none());
        let key = parse_capability(r#"{"chat:*":["publish","subscribe"],"news":["subscribe"]}"#).unwrap();
        assert!(covers(&key, &parse_capability(r#"{"chat:lobby":["subscribe"]}"#).unwrap()));
        assert!(!covers(&key, &parse_capability(r#"{"news":["publish"]}"#).unwrap()));
        assert!(!covers(&key, &parse_capability(r#"{"other":["subscribe"]}"#).unwrap()));
        assert!(covers(&all_rights(), &key));
        assert!(parse_capability("[1]").is_err());
    }
}
