//! Turning a door's credentials into an [`Identity`]. Every door (native
//! WebSocket, SSE, long-poll, protocol adapters) calls
//! [`Authenticator::authenticate`]; the hub then checks the identity's grants
//! on every request.

use herald_core::{HeraldError, Identity};

/// Checks credentials. Without a token key configured, Herald runs in
/// development mode: every connection is anonymous and may use every
/// non-private channel.
pub struct Authenticator {
    development: bool,
}

impl Authenticator {
    /// Development mode (no token key configured).
    pub fn development() -> Self {
        Self { development: true }
    }

    /// Whether the server runs in development mode.
    pub fn is_development(&self) -> bool {
        self.development
    }

    /// The identity for a connection presenting `token` (if any).
    pub fn authenticate(&self, _token: Option<&str>) -> Result<Identity, HeraldError> {
        Ok(Identity::development())
    }
}
