//! The `herald` server: wires the core hub to its doors (native WebSocket,
//! SSE and long-polling, HTTP API), its store, and operations (health, metrics, shutdown).

pub mod ably;
pub mod accept;
pub mod api_error;
pub mod app;
pub mod auth;
pub mod changes;
pub mod client_ip;
pub mod client_requests;
pub mod config;
pub mod door;
pub mod http_api;
pub mod http_client;
pub mod limits;
pub mod native;
pub mod observability;
pub mod policy;
pub mod pusher;
pub mod scale_out;
pub mod server;
pub mod socketio;
pub mod sse;
pub mod stores;
pub mod supabase;
pub mod tls;
pub mod yjs;
