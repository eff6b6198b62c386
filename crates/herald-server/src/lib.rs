//! The `herald` server: wires the core hub to its doors (native WebSocket,
//! SSE and long-polling, HTTP API), its store, and operations (health, metrics, shutdown).

pub mod app;
pub mod auth;
pub mod config;
pub mod http_api;
pub mod native;
pub mod observability;
pub mod server;
pub mod sse;
