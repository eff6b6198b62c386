//! Occupancy, as the hub runs it: each change of a channel's subscription
//! count on this node told to the shared [`OccupancyBackend`] (scale-out),
//! occupied/vacated reported back as server events, and cluster-wide channel
//! listings and counts (this node's own without a backend).

use super::*;
use crate::occupancy::OccupancyBackend;

impl Hub {
    /// Install a shared occupancy backend (scale-out). Set once, at start-up.
    pub fn set_occupancy_backend(&self, backend: Arc<dyn OccupancyBackend>) {
        let _ = self.occupancy_backend.set(backend);
    }

    /// Whether a shared occupancy backend decides occupied/vacated.
    pub(crate) fn shares_occupancy(&self) -> bool {
        self.occupancy_backend.get().is_some()
    }

    /// This node's subscriptions to `channel` went from `before` to `after`:
    /// tell the backend (call under the channel's subscriber lock, so the
    /// backend sees the changes in order).
    pub(crate) fn subscriptions_changed(&self, channel: &ChannelName, before: usize, after: usize) {
        if let Some(b) = self.occupancy_backend.get() {
            b.store(channel, before, after);
        }
    }

    /// The occupancy backend found `channel` occupied (first subscription on
    /// any node) or vacated (last one gone, a dead node's included): report
    /// the server event, once for the cluster.
    pub fn occupancy_changed(&self, channel: ChannelName, occupied: bool) {
        self.emit(|| match occupied {
            true => ServerEvent::ChannelOccupied { channel },
            false => ServerEvent::ChannelVacated { channel },
        });
    }

    /// Write this node's subscription count of every channel to the backend
    /// again (after it lost them: a Redis restart, or this node was taken
    /// for dead and cleaned up). Returns how many channels were written.
    pub fn resync_occupancy(&self) -> usize {
        let Some(backend) = self.occupancy_backend.get() else { return 0 };
        let channels = self.channels.read();
        let mut n = 0;
        for (channel, entry) in channels.iter() {
            let subscribers = entry.subscribers.read();
            if !subscribers.is_empty() {
                backend.store(channel, 0, subscribers.len());
                n += 1;
            }
        }
        n
    }

    /// Channels starting with `prefix` that have subscribers, on every node
    /// with a shared backend (on this node otherwise). `presence`: also count
    /// each channel's distinct presence members (cluster-wide), else 0.
    pub async fn cluster_channels(&self, prefix: &str, presence: bool) -> Result<Vec<ChannelInfo>, HeraldError> {
        let Some(backend) = self.occupancy_backend.get() else {
            let mut local = self.channels(Some(prefix));
            local.retain(|c| c.subscribers > 0);
            if !presence {
                local.iter_mut().for_each(|c| c.presence = 0);
            }
            return Ok(local);
        };
        let mut out = Vec::new();
        for (channel, subscribers) in backend.occupied(prefix).await? {
            let presence = if presence { self.presence_members(&channel).await?.len() } else { 0 };
            out.push(ChannelInfo { channel, subscribers, presence });
        }
        Ok(out)
    }

    /// Subscriptions and distinct presence members of `channel`, on every
    /// node with a shared backend (on this node otherwise). `presence`: also
    /// count presence members, else 0.
    pub async fn cluster_channel_info(
        &self,
        channel: &ChannelName,
        presence: bool,
    ) -> Result<ChannelInfo, HeraldError> {
        let Some(backend) = self.occupancy_backend.get() else {
            let mut local = self.channel_info(channel);
            if !presence {
                local.presence = 0;
            }
            return Ok(local);
        };
        let subscribers = backend.subscriptions(channel).await?;
        let presence = if presence { self.presence_members(channel).await?.len() } else { 0 };
        Ok(ChannelInfo { channel: channel.clone(), subscribers, presence })
    }
}
