//! Channel listings and counts for the HTTP API and metrics.

use super::*;

/// Counts for the HTTP API and metrics.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChannelInfo {
    /// Channel name.
    pub channel: ChannelName,
    /// Local subscriptions.
    pub subscribers: usize,
    /// Distinct presence members.
    pub presence: usize,
}

impl Hub {
    /// Channels with local subscribers, optionally filtered by prefix.
    pub fn channels(&self, prefix: Option<&str>) -> Vec<ChannelInfo> {
        let channels = self.channels.read();
        let mut out: Vec<_> = channels
            .iter()
            .filter(|(name, _)| prefix.is_none_or(|p| name.as_str().starts_with(p)))
            .map(|(name, e)| ChannelInfo {
                channel: name.clone(),
                subscribers: e.subscribers.read().len(),
                presence: e.presence.lock().len(),
            })
            .collect();
        out.sort_by(|a, b| a.channel.cmp(&b.channel));
        out
    }

    /// Counts for one channel (zeros when nobody is subscribed here).
    pub fn channel_info(&self, channel: &ChannelName) -> ChannelInfo {
        let channels = self.channels.read();
        let (subscribers, presence) =
            channels.get(channel).map(|e| (e.subscribers.read().len(), e.presence.lock().len())).unwrap_or((0, 0));
        ChannelInfo { channel: channel.clone(), subscribers, presence }
    }
}
