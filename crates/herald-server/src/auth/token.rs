//! Connection tokens: JWTs signed with HS256/384/512, RS256, ES256 or EdDSA,
//! checked for signature, `exp` (required), `nbf`, `iat`, and `aud`/`iss`
//! when configured. The algorithm in a token's header picks the key of its
//! family; a token whose algorithm has no configured key is refused, so an
//! RSA public key can never be used as an HMAC secret (algorithm
//! confusion), and `alg: none` is never accepted.
//!
//! Claims (see `docs/security.md`):
//! `{"sub":"user_42","exp":…,"iat":…,"info":{…},"capabilities":[{"channels":["chat:room-7","news:*"],"allow":["subscribe","publish","presence","history"]}]}`

use std::path::Path;
use std::sync::Arc;

use herald_core::{ChannelPattern, ErrorCode, Grant, Grants, HeraldError, Identity, Payload, Rights, now_ms};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::AuthConfig;

/// Longest user id accepted in `sub`.
pub const MAX_USER_ID_LEN: usize = 128;
/// Largest `info` claim accepted, bytes.
pub const MAX_INFO_SIZE: usize = 4096;

/// Why the token configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("cannot load the {what} from {path}: {message}")]
pub struct KeyError {
    what: &'static str,
    path: String,
    message: String,
}

#[derive(Deserialize)]
struct Capability {
    channels: Vec<String>,
    allow: Vec<String>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    info: Option<Box<RawValue>>,
    #[serde(default)]
    capabilities: Vec<Capability>,
}

/// Verifies connection tokens against the configured keys.
pub struct TokenVerifier {
    jwks: Option<Arc<super::jwks::JwksCache>>,
    hmac: Option<DecodingKey>,
    rsa: Option<DecodingKey>,
    ec: Option<DecodingKey>,
    ed: Option<DecodingKey>,
    audience: Option<String>,
    issuer: Option<String>,
    leeway: u64,
}

fn read_key(path: &Path, what: &'static str) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|e| KeyError { what, path: path.display().to_string(), message: e.to_string() })
}

fn key_error(path: &Path, what: &'static str, e: jsonwebtoken::errors::Error) -> KeyError {
    KeyError { what, path: path.display().to_string(), message: e.to_string() }
}

impl TokenVerifier {
    /// Keys from the configuration; `None` when no key is configured (development mode).
    pub fn from_config(cfg: &AuthConfig) -> Result<Option<TokenVerifier>, KeyError> {
        let hmac = cfg.token_secret.as_ref().map(|s| DecodingKey::from_secret(s.as_bytes()));
        let rsa = match &cfg.rsa_public_key_file {
            Some(p) => Some(
                DecodingKey::from_rsa_pem(&read_key(p, "RSA public key")?)
                    .map_err(|e| key_error(p, "RSA public key", e))?,
            ),
            None => None,
        };
        let ec = match &cfg.ec_public_key_file {
            Some(p) => Some(
                DecodingKey::from_ec_pem(&read_key(p, "EC public key")?)
                    .map_err(|e| key_error(p, "EC public key", e))?,
            ),
            None => None,
        };
        let ed = match &cfg.ed_public_key_file {
            Some(p) => Some(
                DecodingKey::from_ed_pem(&read_key(p, "Ed25519 public key")?)
                    .map_err(|e| key_error(p, "Ed25519 public key", e))?,
            ),
            None => None,
        };
        let jwks = cfg.jwks_url.clone().map(super::jwks::JwksCache::new);
        if hmac.is_none() && rsa.is_none() && ec.is_none() && ed.is_none() && jwks.is_none() {
            return Ok(None);
        }
        Ok(Some(TokenVerifier {
            jwks,
            hmac,
            rsa,
            ec,
            ed,
            audience: cfg.audience.clone(),
            issuer: cfg.issuer.clone(),
            leeway: cfg.leeway(),
        }))
    }

    /// Start fetching the JWKS (if configured) now and every `every`.
    pub fn start_jwks(&self, every: std::time::Duration) {
        if let Some(j) = &self.jwks {
            j.start_refreshing(every);
        }
    }

    /// The identity a valid token grants.
    pub fn verify(&self, token: &str) -> Result<Identity, HeraldError> {
        let header = decode_header(token).map_err(|e| unauthorized(format!("token is malformed: {e}")))?;
        let alg = header.alg;
        let from_jwks;
        let key = match (&header.kid, &self.jwks) {
            (Some(kid), Some(jwks)) => {
                let Some((key, family)) = jwks.key(kid) else {
                    jwks.refetch_soon();
                    return Err(unauthorized(format!("token key id {kid:?} is not in the key set; retry shortly")));
                };
                let matches = matches!(
                    (family, alg),
                    (super::jwks::KeyFamily::Rsa, Algorithm::RS256)
                        | (super::jwks::KeyFamily::Ec, Algorithm::ES256)
                        | (super::jwks::KeyFamily::Okp, Algorithm::EdDSA)
                );
                if !matches {
                    return Err(unauthorized(format!("token algorithm {alg:?} does not match key {kid:?}")));
                }
                from_jwks = key;
                &from_jwks
            }
            _ => match alg {
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => self.hmac.as_ref(),
                Algorithm::RS256 => self.rsa.as_ref(),
                Algorithm::ES256 => self.ec.as_ref(),
                Algorithm::EdDSA => self.ed.as_ref(),
                _ => None,
            }
            .ok_or_else(|| unauthorized(format!("token algorithm {alg:?} is not accepted by this server")))?,
        };
        let mut v = Validation::new(alg);
        v.leeway = self.leeway;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp"]);
        match &self.audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        if let Some(iss) = &self.issuer {
            v.set_issuer(&[iss]);
        }
        let claims = decode::<Claims>(token, key, &v).map_err(|e| token_error(e.kind()))?.claims;
        let now_s = now_ms() / 1000;
        if claims.iat.is_some_and(|iat| iat > now_s + self.leeway) {
            return Err(unauthorized("token was issued in the future (iat); check the clocks".to_string()));
        }
        identity(claims)
    }
}

fn unauthorized(message: String) -> HeraldError {
    HeraldError::new(ErrorCode::Unauthorized, message)
}

fn token_error(kind: &ErrorKind) -> HeraldError {
    match kind {
        ErrorKind::ExpiredSignature => HeraldError::new(ErrorCode::TokenExpired, "token has expired"),
        ErrorKind::InvalidSignature => unauthorized("token signature is invalid".into()),
        ErrorKind::ImmatureSignature => unauthorized("token is not valid yet (nbf)".into()),
        ErrorKind::InvalidAudience => unauthorized("token audience (aud) is not accepted".into()),
        ErrorKind::InvalidIssuer => unauthorized("token issuer (iss) is not accepted".into()),
        ErrorKind::MissingRequiredClaim(c) => unauthorized(format!("token lacks the required claim {c:?}")),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            unauthorized("token algorithm does not match the key".into())
        }
        other => unauthorized(format!("token is invalid: {other:?}")),
    }
}

fn identity(claims: Claims) -> Result<Identity, HeraldError> {
    let user = match claims.sub {
        Some(s) if s.is_empty() || s.len() > MAX_USER_ID_LEN => {
            return Err(unauthorized(format!("token sub must be 1 to {MAX_USER_ID_LEN} characters")));
        }
        // User ids key stored state (read marks, inboxes); PostgreSQL text cannot hold NUL.
        Some(s) if s.contains('\0') => return Err(unauthorized("token sub must not contain NUL characters".into())),
        other => other.map(Arc::<str>::from),
    };
    let info = match claims.info {
        Some(raw) if raw.get().len() > MAX_INFO_SIZE => {
            return Err(unauthorized(format!("token info is larger than {MAX_INFO_SIZE} bytes")));
        }
        Some(raw) => Some(Payload::from_raw(&raw)),
        None => None,
    };
    let mut grants = Vec::new();
    for cap in claims.capabilities {
        let mut rights = Rights::NONE;
        for r in &cap.allow {
            rights = rights.union(
                Rights::from_name(r)
                    .ok_or_else(|| unauthorized(format!("token capability names an unknown right {r:?}")))?,
            );
        }
        for ch in cap.channels {
            grants.push(Grant { pattern: ChannelPattern::parse(&ch), rights });
        }
    }
    Ok(Identity { user, info, grants: Grants::Only(grants), expires_at_ms: Some(claims.exp.saturating_mul(1000)) })
}
