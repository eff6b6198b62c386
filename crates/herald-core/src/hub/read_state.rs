//! Read receipts, as the hub runs them: marks in the
//! [`ReadStateStore`](crate::store::ReadStateStore) (only forward, refused
//! past the channel's top), `read` pushes here and to the other nodes,
//! unread counts and "seen by" lists.

use super::*;
use crate::publication::now_ms;
use crate::read_state::{ReadPosition, Unread};
use crate::store::ReadMark;

impl Hub {
    async fn top(&self, channel: &ChannelName) -> Result<Position, HeraldError> {
        Ok(self.broker.history(channel, HistoryQuery { limit: 0, ..Default::default() }).await?.top)
    }

    /// Mark `channel` read up to `offset` for `identity`'s user and, when
    /// the mark moved, push `read` to the channel's subscribers. Returns the
    /// stored mark (unchanged when `offset` is not newer than it).
    pub async fn mark_read(&self, identity: &Identity, channel: &ChannelName, offset: u64) -> Result<u64, HeraldError> {
        let user = signed_in(identity)?;
        self.authorize(identity, channel, Rights::SUBSCRIBE)?;
        let top = self.top(channel).await?;
        if offset > top.offset {
            return Err(HeraldError::bad_request(format!(
                "offset {offset} is beyond {channel}'s newest offset {}",
                top.offset
            )));
        }
        let mark = ReadMark { epoch: top.epoch.clone(), offset, updated_ms: now_ms() };
        let (stored, moved) = self.stores.read_state.advance_read(&user, channel, mark).await.map_err(unavailable)?;
        if moved {
            let entry = self.channels.read().get(channel).cloned();
            if let Some(entry) = entry {
                self.broadcast_event(&entry, &ChannelEvent::Read { channel, user: &user, offset }, None);
            }
            self.share(|| {
                Some(crate::node_event::NodeEvent::Read { channel: channel.clone(), user: user.to_string(), offset })
            });
        }
        Ok(if stored.epoch == top.epoch { stored.offset } else { 0 })
    }

    /// `user`'s unread counts across the channels they have read positions on.
    pub async fn unread(&self, user: &str) -> Result<Vec<Unread>, HeraldError> {
        let marks = self
            .stores
            .read_state
            .read_marks_of_user(user, self.config.unread_channels_max)
            .await
            .map_err(unavailable)?;
        let mut out = Vec::with_capacity(marks.len());
        for (channel, mark) in marks {
            let top = self.top(&channel).await?;
            let (unread, offset) = if top.epoch == mark.epoch {
                (top.offset.saturating_sub(mark.offset), mark.offset)
            } else {
                (top.offset, 0)
            };
            out.push(Unread { channel, unread, offset });
        }
        Ok(out)
    }

    /// The read positions of `channel`'s users (current epoch only), most
    /// recent first. A client needs the subscribe right on the channel.
    pub async fn read_positions(
        &self,
        caller: Caller<'_>,
        channel: &ChannelName,
    ) -> Result<(Position, Vec<ReadPosition>), HeraldError> {
        self.authorize_caller(caller, channel, Rights::SUBSCRIBE)?;
        let top = self.top(channel).await?;
        let marks = self
            .stores
            .read_state
            .read_marks_of_channel(channel, self.config.read_positions_max)
            .await
            .map_err(unavailable)?;
        let list = marks
            .into_iter()
            .filter(|(_, m)| m.epoch == top.epoch)
            .map(|(user, m)| ReadPosition { user, offset: m.offset, updated_at: m.updated_ms })
            .collect();
        Ok((top, list))
    }
}
