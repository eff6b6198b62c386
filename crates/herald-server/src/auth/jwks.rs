//! Keys from a JWKS URL (the identity provider's published key set),
//! fetched at start, refreshed every `jwks_refresh_secs`, and refetched
//! (at most every few seconds) when a token names an unknown `kid`. Only
//! asymmetric keys (RSA, EC, OKP) are used: a JWKS never supplies an HMAC
//! secret.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use parking_lot::{Mutex, RwLock};

use crate::http_client::HttpClient;

/// Shortest time between two fetches triggered by unknown key ids.
pub const JWKS_MIN_REFETCH: Duration = Duration::from_secs(5);
/// How long one fetch may take.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The key family a JWK belongs to, to match the token's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// RSA (RS256).
    Rsa,
    /// Elliptic curve (ES256).
    Ec,
    /// Ed25519 (EdDSA).
    Okp,
}

/// A cached key set.
pub struct JwksCache {
    url: String,
    keys: RwLock<HashMap<String, (DecodingKey, KeyFamily)>>,
    last_fetch: Mutex<Option<Instant>>,
    http: HttpClient,
}

impl JwksCache {
    /// A cache for `url` (empty until the first fetch).
    pub fn new(url: String) -> Arc<Self> {
        Arc::new(Self { url, keys: RwLock::new(HashMap::new()), last_fetch: Mutex::new(None), http: HttpClient::new() })
    }

    /// The key with id `kid`, if known.
    pub fn key(&self, kid: &str) -> Option<(DecodingKey, KeyFamily)> {
        self.keys.read().get(kid).cloned()
    }

    /// Fetch and replace the key set.
    pub async fn fetch(&self) -> Result<usize, String> {
        *self.last_fetch.lock() = Some(Instant::now());
        let req = http::Request::get(&self.url).body(Full::new(Bytes::new())).map_err(|e| e.to_string())?;
        let (status, body) = self.http.send(req, JWKS_FETCH_TIMEOUT).await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("JWKS endpoint answered {status}"));
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("JWKS is not a key set: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let family = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => KeyFamily::Rsa,
                AlgorithmParameters::EllipticCurve(_) => KeyFamily::Ec,
                AlgorithmParameters::OctetKeyPair(_) => KeyFamily::Okp,
                AlgorithmParameters::OctetKey(_) => continue,
            };
            let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) else { continue };
            keys.insert(kid, (key, family));
        }
        let n = keys.len();
        *self.keys.write() = keys;
        metrics::counter!("herald_jwks_fetches_total").increment(1);
        Ok(n)
    }

    /// Ask for a fetch soon because a token named an unknown key (debounced).
    pub fn refetch_soon(self: &Arc<Self>) {
        let due = self.last_fetch.lock().is_none_or(|t| t.elapsed() >= JWKS_MIN_REFETCH);
        if due && let Ok(rt) = tokio::runtime::Handle::try_current() {
            let me = self.clone();
            rt.spawn(async move {
                if let Err(e) = me.fetch().await {
                    tracing::warn!(url = %me.url, error = %e, "JWKS refetch failed");
                }
            });
        }
    }

    /// Fetch now and then every `every` in the background.
    pub fn start_refreshing(self: &Arc<Self>, every: Duration) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
            loop {
                tick.tick().await;
                let Some(me) = me.upgrade() else { return };
                match me.fetch().await {
                    Ok(n) => tracing::debug!(url = %me.url, keys = n, "JWKS fetched"),
                    Err(e) => tracing::warn!(url = %me.url, error = %e, "JWKS fetch failed; keeping the previous keys"),
                }
            }
        });
    }
}
