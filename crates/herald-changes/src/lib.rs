//! PostgreSQL change feeds for Herald (`docs/changes.md`).
//!
//! Sans-IO, unit-tested:
//! - [`pgoutput`] decodes the messages of PostgreSQL's built-in `pgoutput`
//!   plugin (protocol version 1): Begin, Relation, Type, Insert, Update,
//!   Delete, Truncate, Commit, with tuple data (`n` null, `u` unchanged
//!   TOAST, `t` text, `b` binary).
//! - [`values`] turns a column's text value into JSON by its type OID.
//! - [`decoder`] keeps the relation cache and the open transaction and turns
//!   messages into [`ChangeEvent`]s (the JSON every subscriber receives),
//!   each with a [`ChangeId`] (commit LSN + index in the transaction).
//!
//! IO:
//! - [`setup`] checks the server (`wal_level`, the role's `REPLICATION`),
//!   creates the publication and the permanent slot when missing, and reads
//!   the published tables' columns.
//! - [`stream`] streams the slot over the replication protocol
//!   (`pgwire-replication`) and confirms positions the caller says are durable.

pub mod decoder;
pub mod pgoutput;
pub mod setup;
pub mod stream;
pub mod timestamp;
pub mod url;
pub mod values;

pub use decoder::{ChangeDecoder, ChangeEvent, ChangeId, ChangeKind, Decoded, TableColumns};
pub use pgoutput::{DecodeError, Lsn};
