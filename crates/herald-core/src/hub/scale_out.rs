//! What the hub does for scale-out brokers: ending a channel's
//! subscriptions when the broker can no longer deliver its stream
//! continuously to this node.

use super::*;

impl Hub {
    /// End every subscription of `channel` on this node with a temporary
    /// `unsubscribed` push: the client resubscribes with its position and
    /// either recovers everything from history or is told `recovered: false`.
    pub(crate) fn interrupt_channel(&self, channel: &ChannelName) {
        let entry = self.channels.read().get(channel).cloned();
        let Some(entry) = entry else { return };
        let subs: Vec<Arc<Subscription>> = entry.subscribers.read().values().cloned().collect();
        if subs.is_empty() {
            return;
        }
        tracing::warn!(channel = %channel, subscriptions = subs.len(), "stream interrupted: subscribers told to resubscribe");
        metrics::counter!("herald_stream_interruptions_total").increment(1);
        for sub in subs {
            if sub.interrupt() {
                self.remove_subscription(&sub.connection, channel);
            }
        }
    }
}
