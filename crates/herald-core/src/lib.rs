//! Herald's core: channels, subscriptions, presence, history positions,
//! recovery and limits, as plain data structures and async traits
//! ([`Broker`], [`HistoryStore`]). No sockets and no HTTP: every door
//! (native WebSocket, SSE, HTTP API, protocol adapters) goes through [`Hub`].

pub mod auth;
pub mod broker;
pub mod channel;
pub mod connection;
pub mod document_bus;
pub mod embedded_broker;
pub mod error;
pub mod hub;
pub mod inbox;
pub mod memory_documents;
pub mod memory_store;
pub mod namespace;
pub mod node_event;
pub mod occupancy;
pub mod outbound;
pub mod policy;
pub mod position;
pub mod presence;
pub mod presence_backend;
pub mod publication;
pub mod read_state;
pub mod recovery;
pub mod row_filter;
pub mod server_events;
pub mod store;
pub mod subscription;
pub mod typing;
pub mod wire;

pub use auth::{ChannelPattern, Grant, Grants, Identity, Rights, SubscriptionGrant};
pub use broker::{Broker, BrokerHandler, Direction, HistoryPage, HistoryQuery, PublishRequest};
pub use channel::ChannelName;
pub use connection::{Connection, ConnectionInit};
pub use document_bus::{CompactionLease, DocumentBus, DocumentBusHandler};
pub use embedded_broker::{EmbeddedBroker, EmbeddedBrokerOptions};
pub use error::{DisconnectReason, ErrorBody, ErrorCode, HeraldError};
pub use hub::{Caller, ChannelInfo, HTTP_CLIENT_ID, Hub, HubConfig, HubStores, PendingSubscription};
pub use inbox::MarkRead;
pub use memory_store::MemoryStore;
pub use namespace::{NamespaceOptions, Namespaces, Retention};
pub use node_event::{NodeEvent, WireMember};
pub use occupancy::OccupancyBackend;
pub use outbound::{Outbound, Outgoing, QueueLimits};
pub use policy::ChannelPolicy;
pub use position::{Epoch, Position};
pub use presence::PresenceMember;
pub use presence_backend::PresenceBackend;
pub use publication::{Payload, Publication, PublisherInfo, now_ms, split_event_envelope};
pub use read_state::{ReadPosition, Unread};
pub use recovery::Recovery;
pub use row_filter::{CatalogAnswer, CatalogColumn, ChangeFilter, ChangeFilterSet, ColumnCatalog, ColumnKind};
pub use server_events::{ServerEvent, ServerEventSink};
pub use store::{
    DocumentStore, HistoryStore, InboxError, InboxStore, NewNotifications, Notification, NotificationContent, ReadMark,
    ReadStateStore, StoreError, Stored, StoredDocument, StreamMeta,
};
pub use wire::{ChannelEvent, ClientInfo, WireEncoder, WireFormat};
