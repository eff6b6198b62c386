//! Turning a door's credentials into an [`Identity`]. Every door (native
//! WebSocket, SSE, long-poll, protocol adapters) calls
//! [`Authenticator::authenticate`]; the hub then checks the identity's grants
//! on every request (`herald_core::Hub::authorize`).

pub mod jwks;
pub mod origin;
pub mod token;

use herald_core::{ErrorCode, HeraldError, Identity};

pub use origin::OriginPolicy;
pub use token::{KeyError, TokenVerifier};

use crate::config::AuthConfig;

/// Checks credentials. Without any token key configured, Herald runs in
/// development mode: every connection is anonymous and may use every
/// non-private channel.
pub struct Authenticator {
    tokens: Option<TokenVerifier>,
    /// Origins allowed to open browser connections.
    pub origins: OriginPolicy,
}

impl Authenticator {
    /// From the configuration. Starts fetching the JWKS, if one is configured.
    pub fn from_config(cfg: &AuthConfig) -> Result<Self, KeyError> {
        let tokens = TokenVerifier::from_config(cfg)?;
        if let Some(t) = &tokens {
            t.start_jwks(std::time::Duration::from_secs(cfg.jwks_refresh_secs.unwrap_or(300)));
        }
        Ok(Self { tokens, origins: OriginPolicy::new(&cfg.allowed_origins) })
    }

    /// Development mode, any origin.
    pub fn development() -> Self {
        Self { tokens: None, origins: OriginPolicy::default() }
    }

    /// Whether the server runs in development mode.
    pub fn is_development(&self) -> bool {
        self.tokens.is_none()
    }

    /// The identity for a connection presenting `token` (if any). With
    /// tokens required, a connection without one is an anonymous visitor
    /// (public namespaces only); a bad token is refused.
    pub fn authenticate(&self, token: Option<&str>) -> Result<Identity, HeraldError> {
        match (&self.tokens, token) {
            (None, _) => Ok(Identity::development()),
            (Some(_), None) => Ok(Identity::anonymous()),
            (Some(v), Some(t)) => {
                let r = v.verify(t);
                if let Err(e) = &r {
                    metrics::counter!("herald_auth_refused_total", "code" => e.code.name()).increment(1);
                }
                r
            }
        }
    }

    /// The identity for a token refresh on a live connection: the token must
    /// be valid and name the same user.
    pub fn refresh(&self, current: &Identity, token: &str) -> Result<Identity, HeraldError> {
        let next = self.authenticate(Some(token))?;
        if next.user != current.user {
            return Err(HeraldError::new(ErrorCode::Unauthorized, "a refreshed token must name the same user (sub)"));
        }
        Ok(next)
    }
}
