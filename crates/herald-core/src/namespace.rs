//! Namespaces: per-prefix channel options (`chat:` keeps history, `cursor:`
//! does not, ...). A channel's namespace is the part of its name before the
//! first `:`.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::channel::ChannelName;
use crate::error::{ErrorCode, HeraldError};
use crate::publication::Payload;

/// Options of one namespace. Every field has a documented default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamespaceOptions {
    /// Publications kept per channel for history and recovery (0 = none). Default 1000.
    pub history_size: usize,
    /// How long publications are kept, in seconds (0 = forever). Default 300.
    pub history_ttl_secs: u64,
    /// Most publications a recovering client may be sent; a longer gap
    /// answers `recovered: false`. Default 1000.
    pub recovery_max: usize,
    /// Whether subscribers are tracked in presence (join/leave pushes). Default false.
    pub presence: bool,
    /// Whether clients may publish (the HTTP API always may). Default true.
    pub allow_client_publish: bool,
    /// Largest `data` accepted, in bytes. Default 65536.
    pub max_message_size: usize,
    /// Anyone, even without a token, may subscribe and read history here
    /// (when tokens are required). Default false.
    pub public: bool,
    /// JSON Schema file every published `data` must satisfy. Default none.
    pub schema_file: Option<String>,
    /// The app's authorization endpoint, asked before each subscription
    /// (`POST` with the user and channel; see docs/security.md). Default none.
    pub authorize_url: Option<String>,
    /// How long an answer of the authorization endpoint is reused, seconds. Default 60.
    pub authorize_cache_secs: u64,
    /// How long to wait for the authorization endpoint, ms; slower means deny. Default 2000.
    pub authorize_timeout_ms: u64,
    /// With presence: how long a member whose last connection left stays
    /// listed before a `leave` is pushed, in ms, so a page reload (leave and
    /// re-join within it) pushes neither. Default 3000.
    pub presence_grace_ms: u64,
    /// With presence: the largest member `state` (JSON bytes). Default 1024.
    pub presence_state_max_bytes: usize,
    /// Repeated `typing` from one user in one channel within this many ms
    /// only extends the indicator; nothing is sent. Default 1000.
    pub typing_throttle_ms: u64,
    /// A typing indicator with no new `typing` for this many ms ends with a
    /// `typing:false` push. Default 5000.
    pub typing_timeout_ms: u64,
    /// End-to-end encrypted channels: every published `data` must be the
    /// SDK's envelope `{herald_e2e, kid, iv, ct}` (docs/encryption.md), so a
    /// misconfigured client cannot store plaintext. Default false.
    pub encrypted: bool,
    /// Database change channels: a row filter every subscription in this
    /// namespace must pass, AND-ed with the subscriber's own, `{sub}`
    /// replaced by the token's user id (`"owner_id=eq.{sub}"`). Default none.
    pub row_filter: Option<String>,
}

impl Default for NamespaceOptions {
    fn default() -> Self {
        Self {
            history_size: 1000,
            history_ttl_secs: 300,
            recovery_max: 1000,
            presence: false,
            allow_client_publish: true,
            max_message_size: 64 * 1024,
            public: false,
            schema_file: None,
            authorize_url: None,
            authorize_cache_secs: 60,
            authorize_timeout_ms: 2000,
            presence_grace_ms: 3000,
            presence_state_max_bytes: 1024,
            typing_throttle_ms: 1000,
            typing_timeout_ms: 5000,
            encrypted: false,
            row_filter: None,
        }
    }
}

impl NamespaceOptions {
    /// The history time-to-live, `None` for forever.
    pub fn history_ttl(&self) -> Option<Duration> {
        (self.history_ttl_secs > 0).then(|| Duration::from_secs(self.history_ttl_secs))
    }

    /// With `encrypted = true`, refuses `data` that is not an end-to-end
    /// envelope: exactly `{"herald_e2e": 1, "kid", "iv", "ct"}`, the key id
    /// at most [`ENVELOPE_KID_MAX_LEN`] bytes, `iv` and `ct` base64.
    pub fn check_encrypted(&self, channel: &ChannelName, data: &Payload) -> Result<(), HeraldError> {
        if !self.encrypted {
            return Ok(());
        }
        let refuse = |why: &str| {
            HeraldError::new(
                ErrorCode::BadRequest,
                format!(
                    "{channel} is in an encrypted namespace: data must be an end-to-end envelope \
                     {{\"herald_e2e\":1,\"kid\",\"iv\",\"ct\"}} ({why}); see docs/encryption.md"
                ),
            )
        };
        let envelope: Envelope =
            serde_json::from_str(data.as_str()).map_err(|_| refuse("not that shape, or extra fields"))?;
        if envelope.herald_e2e != 1 {
            return Err(refuse("unknown envelope version"));
        }
        if envelope.kid.is_empty() || envelope.kid.len() > ENVELOPE_KID_MAX_LEN {
            return Err(refuse("kid must be 1 to 128 bytes"));
        }
        if !is_base64(&envelope.iv) || !is_base64(&envelope.ct) {
            return Err(refuse("iv and ct must be base64"));
        }
        Ok(())
    }

    /// What a broker needs to know to keep this namespace's history.
    pub fn retention(&self) -> Retention {
        Retention { size: self.history_size, ttl: self.history_ttl() }
    }
}

/// The longest key id an encrypted namespace accepts in an envelope, bytes.
pub const ENVELOPE_KID_MAX_LEN: usize = 128;

/// The end-to-end envelope as an encrypted namespace checks it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    herald_e2e: u64,
    kid: String,
    iv: String,
    ct: String,
}

/// Non-empty standard base64 (padding optional).
fn is_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && s.len() - body.len() <= 2
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// How much history a channel keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Publications kept (0 = none).
    pub size: usize,
    /// Age limit, `None` for forever.
    pub ttl: Option<Duration>,
}

impl Namespaces {
    /// Every configured namespace with its name (`""` for the default).
    pub fn all(&self) -> impl Iterator<Item = (&str, &NamespaceOptions)> {
        std::iter::once(("", &self.default)).chain(self.named.iter().map(|(k, v)| (k.as_str(), v)))
    }
}

/// The namespace table: options for the default namespace and named ones.
#[derive(Debug, Clone, Default)]
pub struct Namespaces {
    default: NamespaceOptions,
    named: HashMap<String, NamespaceOptions>,
    /// When true, channels in namespaces that are not configured are refused.
    strict: bool,
}

impl Namespaces {
    /// A table with the given default, named namespaces, and whether unknown
    /// namespaces are refused (`strict`) or use the default options.
    pub fn new(default: NamespaceOptions, named: HashMap<String, NamespaceOptions>, strict: bool) -> Self {
        Self { default, named, strict }
    }

    /// The options that apply to `channel`.
    pub fn options(&self, channel: &ChannelName) -> Result<&NamespaceOptions, HeraldError> {
        let ns = channel.namespace();
        if ns.is_empty() {
            return Ok(&self.default);
        }
        match self.named.get(ns) {
            Some(o) => Ok(o),
            None if self.strict => {
                Err(HeraldError::new(ErrorCode::UnknownNamespace, format!("namespace {ns:?} is not configured")))
            }
            None => Ok(&self.default),
        }
    }
}
