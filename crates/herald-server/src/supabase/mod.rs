//! The Supabase Realtime door: Phoenix channels as `@supabase/realtime-js`
//! 2.x speaks them, at `/realtime/v1/websocket` and `/socket/websocket`,
//! and the REST broadcast at `/realtime/v1/api/broadcast`
//! (`docs/supabase.md`). Topic `realtime:X` is Herald channel
//! `{namespace}:X`; a broadcast is a publication `{"event","data"}` (the
//! envelope every foreign door uses), Supabase presence is Herald presence,
//! and `postgres_changes` bindings read the database change feed.
//!
//! `frames` (the Phoenix codec, sans IO), `join` (the join config),
//! `channel` (joining and leaving), `bindings` (`postgres_changes`),
//! `presence` (Herald members as Phoenix presences), `encoder` (hub events
//! as Phoenix messages, per socket), `session` (one socket on the door
//! runtime), `upgrade` (the handshake), `rest` (REST broadcast), `roles` (grants for Supabase tokens by `role`).

pub mod bindings;
mod channel;
pub mod encoder;
pub mod frames;
pub mod join;
pub mod presence;
pub mod rest;
pub mod roles;
mod session;
pub mod upgrade;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use herald_core::NamespaceOptions;

pub use channel::channel_of;

use crate::app::App;
use crate::config::supabase::SupabaseConfig;

/// The door's routes, on Herald's normal port.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/realtime/v1/websocket", get(upgrade::upgrade))
        .route("/socket/websocket", get(upgrade::upgrade))
        .route("/realtime/v1/api/broadcast", post(rest::broadcast))
}

/// Check `[supabase]` and give the door's namespace what Supabase channels
/// need, unless the operator configured it: presence on, a leave reported
/// at once (no grace).
pub fn add_namespace(cfg: &SupabaseConfig, named: &mut HashMap<String, NamespaceOptions>) -> Result<(), String> {
    roles::validate(cfg)?;
    if !cfg.enabled {
        return Ok(());
    }
    named.entry(cfg.namespace.clone()).or_insert_with(|| NamespaceOptions {
        presence: true,
        presence_grace_ms: 0,
        ..NamespaceOptions::default()
    });
    Ok(())
}
