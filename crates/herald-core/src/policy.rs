//! `ChannelPolicy`: checks the app adds on top of grants — an authorization
//! callback asked per subscription, a schema for published data. The hub
//! calls it on every door's behalf, so no door can skip it.

use async_trait::async_trait;

use crate::auth::Identity;
use crate::channel::ChannelName;
use crate::error::HeraldError;
use crate::publication::Payload;

/// App-defined checks the hub runs after the grant check.
#[async_trait]
pub trait ChannelPolicy: Send + Sync + 'static {
    /// May `identity` subscribe to `channel`? Runs after the grants allowed it.
    async fn check_subscribe(&self, identity: &Identity, channel: &ChannelName) -> Result<(), HeraldError>;

    /// Is `data` acceptable on `channel` (client and server publishes alike)?
    fn check_payload(&self, channel: &ChannelName, data: &Payload) -> Result<(), HeraldError>;
}
