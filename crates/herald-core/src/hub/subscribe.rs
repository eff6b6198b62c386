//! Subscribing and unsubscribing, and `PendingSubscription`: a subscribe
//! that goes live only once its reply is queued.

use super::*;
use crate::row_filter::ChangeFilterSet;

/// The result of a subscribe, before the subscription goes live.
pub struct PendingSubscription {
    hub: Weak<Hub>,
    sub: Option<Arc<Subscription>>,
    /// The channel's position the subscription continues from.
    pub top: Position,
    /// The recovery outcome, when the client asked to recover.
    pub recovery: Option<Recovery>,
    /// Whether this connection joins the channel's presence on activation.
    pub presence: bool,
    /// Presence members at subscribe time, when the namespace tracks presence
    /// (and the connection may read it).
    pub presence_snapshot: Option<Vec<PresenceMember>>,
}

impl PendingSubscription {
    /// Call after the subscribe reply is queued: buffered publications
    /// follow it, then live ones.
    pub fn activate(mut self) {
        let Some(sub) = self.sub.take() else { return };
        let Some(hub) = self.hub.upgrade() else { return };
        let members =
            self.presence_snapshot.as_ref().map(|list| list.iter().map(|m| m.info.member_key().clone()).collect());
        if !sub.go_live(self.top.epoch.clone(), self.top.offset, members) {
            let conn = sub.connection.clone();
            let channel = sub.channel.clone();
            hub.remove_subscription(&conn, &channel);
            return;
        }
        if self.presence {
            hub.presence_join(&sub);
        }
    }
}

impl Drop for PendingSubscription {
    fn drop(&mut self) {
        if let (Some(sub), Some(hub)) = (self.sub.take(), self.hub.upgrade()) {
            hub.remove_subscription(&sub.connection, &sub.channel);
        }
    }
}

impl Hub {
    /// Subscribe `conn` to `channel`, recovering from `since` if given.
    /// Queue the reply, then call [`PendingSubscription::activate`].
    pub async fn subscribe(
        &self,
        conn: &Arc<Connection>,
        channel: ChannelName,
        since: Option<Position>,
    ) -> Result<PendingSubscription, HeraldError> {
        self.subscribe_granted(conn, channel, since, None).await
    }

    /// [`Hub::subscribe`] with a grant the door verified for this one
    /// subscription (Pusher's channel auth): its rights add to the
    /// connection's, and with the presence right and a user it names the
    /// presence member (instead of the connection's identity).
    pub async fn subscribe_granted(
        &self,
        conn: &Arc<Connection>,
        channel: ChannelName,
        since: Option<Position>,
        grant: Option<SubscriptionGrant>,
    ) -> Result<PendingSubscription, HeraldError> {
        self.subscribe_with(conn, channel, since, grant, None).await
    }

    /// The one subscribe path: [`Hub::subscribe_granted`] plus an optional
    /// database change filter, applied to live and recovered publications.
    pub(crate) async fn subscribe_with(
        &self,
        conn: &Arc<Connection>,
        channel: ChannelName,
        since: Option<Position>,
        grant: Option<SubscriptionGrant>,
        filter: Option<Arc<ChangeFilterSet>>,
    ) -> Result<PendingSubscription, HeraldError> {
        let identity = conn.identity();
        let granted = grant.as_ref().map_or(Rights::NONE, |g| g.rights);
        let opts = if granted.contains(Rights::SUBSCRIBE) {
            self.namespaces.options(&channel)?.clone()
        } else {
            self.authorize(&identity, &channel, Rights::SUBSCRIBE)?.clone()
        };
        // A presence channel that is not publicly readable lists who is in it,
        // so its subscribers must be someone: a user id (the token's `sub`).
        // A door's per-subscription grant (Pusher's channel auth) decided that itself.
        let public_read = opts.public && !is_private(&channel);
        if grant.is_none() && opts.presence && !public_read && identity.user.is_none() && !identity.is_development() {
            metrics::counter!("herald_permission_denied_total", "right" => "presence").increment(1);
            return Err(HeraldError::new(
                ErrorCode::PermissionDenied,
                format!("{channel} is a presence channel: subscribing needs a user id (the token's sub)"),
            ));
        }
        if let Some(policy) = self.policy.get() {
            policy.check_subscribe(&identity, &channel).await?;
        }
        // A namespace row filter bound to the user (database change channels).
        let user = grant.as_ref().and_then(|g| g.user.clone()).or_else(|| identity.user.clone());
        let filter = crate::row_filter::with_policy(opts.row_filter.as_deref(), user.as_deref(), &channel, filter)?;
        // Appear in presence only with a user id (or in development mode) and the right.
        let in_presence = opts.presence
            && match &grant {
                Some(g) if g.user.is_some() => g.rights.contains(Rights::PRESENCE),
                _ => {
                    identity.is_development()
                        || (identity.user.is_some() && identity.granted(&channel, Rights::PRESENCE))
                }
            };
        {
            let mut chans = conn.channels.lock();
            if chans.contains(&channel) {
                return Err(HeraldError::new(ErrorCode::AlreadySubscribed, format!("already subscribed to {channel}")));
            }
            if chans.len() >= self.config.max_channels_per_connection {
                return Err(HeraldError::new(
                    ErrorCode::LimitExceeded,
                    format!("at most {} channels per connection", self.config.max_channels_per_connection),
                ));
            }
            chans.insert(channel.clone());
        }
        let sub = Arc::new(
            Subscription::buffering(channel.clone(), conn.clone(), grant.as_ref(), self.config.recovery_buffer_max)
                .with_filter(filter.clone()),
        );
        let occupied = {
            let mut channels = self.channels.write();
            let entry = channels.entry(channel.clone()).or_default();
            let mut subscribers = entry.subscribers.write();
            let before = subscribers.len();
            subscribers.insert(conn.id().clone(), sub.clone());
            self.subscriptions_changed(&channel, before, subscribers.len());
            before == 0
        };
        // With a shared occupancy backend, it reports occupied once for the cluster.
        if occupied && !self.shares_occupancy() {
            self.emit(|| ServerEvent::ChannelOccupied { channel: channel.clone() });
        }
        metrics::gauge!("herald_subscriptions").increment(1.0);
        // From here on, dropping `pending` unregisters the subscription.
        let mut pending = PendingSubscription {
            hub: self.me.clone(),
            sub: Some(sub),
            top: Position { epoch: crate::position::Epoch::from_string(""), offset: 0 },
            recovery: None,
            presence: in_presence,
            presence_snapshot: None,
        };
        self.broker.watch(&channel).await?;
        let limit = if since.is_some() { opts.recovery_max + 1 } else { 0 };
        let query = HistoryQuery {
            since: since.as_ref().map(|s| s.offset),
            before: None,
            limit,
            direction: Direction::Forward,
        };
        let page = self.broker.history(&channel, query).await?;
        pending.top = page.top.clone();
        if let Some(since) = since {
            let mut rec = recovery::decide(&since, page, opts.recovery_max);
            if let Some(f) = &filter {
                rec.publications.retain(|p| crate::row_filter::ChangeView::new(&p.data).passes(Some(f)));
            }
            metrics::counter!("herald_recoveries_total", "recovered" => if rec.recovered { "true" } else { "false" })
                .increment(1);
            pending.recovery = Some(rec);
        }
        let may_read_presence = in_presence
            || granted.contains(Rights::PRESENCE)
            || identity.granted(&channel, Rights::PRESENCE)
            || public_read;
        if opts.presence && may_read_presence {
            pending.presence_snapshot = Some(self.presence_members(&channel).await?);
        }
        Ok(pending)
    }

    /// Unsubscribe `conn` from `channel`.
    pub fn unsubscribe(&self, conn: &Arc<Connection>, channel: &ChannelName) -> Result<(), HeraldError> {
        if !conn.is_subscribed(channel) {
            return Err(HeraldError::new(ErrorCode::NotSubscribed, format!("not subscribed to {channel}")));
        }
        self.remove_subscription(conn, channel);
        Ok(())
    }

    pub(crate) fn remove_subscription(&self, conn: &Arc<Connection>, channel: &ChannelName) {
        if !conn.channels.lock().remove(channel) {
            return;
        }
        let entry = self.channels.read().get(channel).cloned();
        let Some(entry) = entry else { return };
        let (removed, vacated) = {
            let mut subscribers = entry.subscribers.write();
            let removed = subscribers.remove(conn.id());
            if removed.is_some() {
                self.subscriptions_changed(channel, subscribers.len() + 1, subscribers.len());
            }
            (removed, subscribers.is_empty())
        };
        if let Some(sub) = removed {
            sub.end();
            metrics::gauge!("herald_subscriptions").decrement(1.0);
            self.typing_ended_by(conn, channel);
            let (presence, grace) =
                self.options(channel).map(|o| (o.presence, o.presence_grace_ms)).unwrap_or((false, 0));
            // Only a subscription that joined presence leaves it.
            let removal = if sub.in_presence.swap(false, std::sync::atomic::Ordering::AcqRel) {
                entry.presence.lock().remove(&sub.member, grace > 0)
            } else {
                Removal::Stays
            };
            match removal {
                Removal::Stays => {
                    if presence {
                        self.presence_changed(channel, sub.member.member_key());
                    }
                }
                Removal::Left => self.announce_presence(channel, &sub.member, false, None),
                Removal::Leaving(generation) => {
                    self.presence_changed(channel, sub.member.member_key());
                    self.spawn_presence_expiry(channel, sub.member.member_key(), generation, grace)
                }
            }
            if vacated && !self.shares_occupancy() {
                self.emit(|| ServerEvent::ChannelVacated { channel: channel.clone() });
            }
        }
        self.drop_entry_if_unused(channel, &entry);
    }

    /// Forget a channel's entry once it has neither subscribers nor members
    /// within their presence grace.
    pub(crate) fn drop_entry_if_unused(&self, channel: &ChannelName, entry: &Arc<ChannelEntry>) {
        let mut channels = self.channels.write();
        if entry.subscribers.read().is_empty()
            && entry.presence.lock().is_empty()
            && channels.get(channel).is_some_and(|e| Arc::ptr_eq(e, entry))
        {
            channels.remove(channel);
            drop(channels);
            let broker = self.broker.clone();
            let channel = channel.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { broker.unwatch(&channel).await });
            }
        }
    }
}
