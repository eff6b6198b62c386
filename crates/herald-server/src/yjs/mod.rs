//! The y-websocket door (`docs/collaboration.md`): `GET /yjs/{room}` speaks
//! the protocol of the `y-websocket` npm package (sync step 1/2/update,
//! awareness, awareness query) for Yjs documents kept by `herald-docs`.
//! `upgrade` admits the request (the shared gate, the token from the query),
//! checks the rights and answers 101; `session` is the door's protocol on
//! the door runtime (messages into the document registry, WebSocket pings,
//! close reasons). A room is a Herald channel: a
//! room name without `:` is put in the `[yjs] namespace` (default `doc`).

pub mod session;
pub mod upgrade;

use std::time::Duration;

use herald_core::{ChannelName, HeraldError};
use herald_docs::DocOptions;
use serde::Deserialize;

/// `[yjs]`: collaborative documents. Every limit has a documented default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct YjsConfig {
    /// Serve `/yjs/{room}` and `/api/docs`. Default true.
    pub enabled: bool,
    /// Namespace of rooms named without one (`spec-42` → `doc:spec-42`). Default `doc`.
    pub namespace: String,
    /// Largest single document update (and y-websocket message), bytes. Default 1048576.
    pub max_update_bytes: usize,
    /// Largest stored document (snapshot + updates since), bytes; further updates are refused. Default 16777216.
    pub max_document_bytes: usize,
    /// Compact a document into a snapshot after this many updates. Default 500.
    pub compact_after_updates: usize,
    /// Compact a document after this many seconds without edits. Default 10.
    pub compact_idle_secs: u64,
    /// Keep a document in memory this many seconds after its last connection leaves. Default 30.
    pub unload_grace_secs: u64,
    /// With a scale-out broker: how long a node's lease to compact one
    /// document lasts (the other nodes leave it alone meanwhile). Default 30.
    pub compaction_lease_secs: u64,
}

impl Default for YjsConfig {
    fn default() -> Self {
        let d = DocOptions::default();
        Self {
            enabled: true,
            namespace: "doc".into(),
            max_update_bytes: d.max_update_bytes,
            max_document_bytes: d.max_document_bytes,
            compact_after_updates: d.compact_after_updates,
            compact_idle_secs: d.compact_idle.as_secs(),
            unload_grace_secs: d.unload_grace.as_secs(),
            compaction_lease_secs: d.compaction_lease.as_secs(),
        }
    }
}

impl YjsConfig {
    /// The registry's options.
    pub fn doc_options(&self) -> DocOptions {
        DocOptions {
            max_update_bytes: self.max_update_bytes,
            max_document_bytes: self.max_document_bytes,
            compact_after_updates: self.compact_after_updates.max(1),
            compact_idle: Duration::from_secs(self.compact_idle_secs.max(1)),
            unload_grace: Duration::from_secs(self.unload_grace_secs),
            compaction_lease: Duration::from_secs(self.compaction_lease_secs.max(1)),
        }
    }

    /// The channel of a room (or of an HTTP API document name): as is when
    /// it names a namespace, else in the `[yjs] namespace`.
    pub fn channel(&self, room: &str) -> Result<ChannelName, HeraldError> {
        if room.contains(':') || self.namespace.is_empty() {
            ChannelName::new(room)
        } else {
            ChannelName::new(&format!("{}:{room}", self.namespace))
        }
    }
}

/// A y-websocket message as a binary WebSocket frame.
pub fn frame(message: &[u8]) -> bytes::Bytes {
    herald_ws::frame::binary(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_without_a_namespace_go_into_the_yjs_namespace() {
        let cfg = YjsConfig::default();
        assert_eq!(cfg.channel("spec-42").unwrap().as_str(), "doc:spec-42");
        assert_eq!(cfg.channel("doc:spec-42").unwrap().as_str(), "doc:spec-42");
        assert_eq!(cfg.channel("team:plan").unwrap().as_str(), "team:plan");
        assert!(cfg.channel("bad name").is_err());
        let flat = YjsConfig { namespace: String::new(), ..YjsConfig::default() };
        assert_eq!(flat.channel("spec-42").unwrap().as_str(), "spec-42");
    }

    #[test]
    fn the_yjs_section_parses_and_refuses_unknown_keys() {
        let cfg: crate::config::Config =
            toml::from_str("[yjs]\nnamespace = \"notes\"\nmax_update_bytes = 4096\nunload_grace_secs = 0\n").unwrap();
        assert_eq!(cfg.yjs.namespace, "notes");
        let opts = cfg.yjs.doc_options();
        assert_eq!((opts.max_update_bytes, opts.unload_grace), (4096, Duration::ZERO));
        assert_eq!(opts.max_document_bytes, 16 * 1024 * 1024);
        assert!(toml::from_str::<crate::config::Config>("[yjs]\nmax_updates = 1\n").is_err());
    }
}
