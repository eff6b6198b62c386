//! Publishing, ephemeral client events and history reads.

use super::*;

impl Hub {
    /// Publish `data` to `channel` as the app's back end, attributed to the
    /// connection `client` (which does not receive it if it opted out of
    /// echo with [`Connection::set_echo`]): Pusher's trigger with `socket_id`.
    pub async fn publish_on_behalf(
        &self,
        channel: ChannelName,
        data: Payload,
        client: Arc<str>,
    ) -> Result<Arc<Publication>, HeraldError> {
        let publisher = PublisherInfo { client, user: None };
        self.publish_as(Caller::Server, Some(publisher), channel, data, None).await
    }

    /// Publish `data` to `channel`.
    pub async fn publish(
        &self,
        publisher: Caller<'_>,
        channel: ChannelName,
        data: Payload,
        idempotency_key: Option<Arc<str>>,
    ) -> Result<Arc<Publication>, HeraldError> {
        self.publish_as(publisher, None, channel, data, idempotency_key).await
    }

    async fn publish_as(
        &self,
        publisher: Caller<'_>,
        on_behalf: Option<PublisherInfo>,
        channel: ChannelName,
        data: Payload,
        idempotency_key: Option<Arc<str>>,
    ) -> Result<Arc<Publication>, HeraldError> {
        let opts = self.authorize_caller(publisher, &channel, Rights::PUBLISH)?;
        if data.len() > opts.max_message_size {
            return Err(HeraldError::new(
                ErrorCode::MessageTooLarge,
                format!("data is {} bytes; {} allows at most {}", data.len(), channel, opts.max_message_size),
            ));
        }
        opts.check_encrypted(&channel, &data)?;
        if let Some(policy) = self.policy.get() {
            policy.check_payload(&channel, &data)?;
        }
        if !matches!(publisher, Caller::Server) && !opts.allow_client_publish {
            return Err(HeraldError::new(ErrorCode::PermissionDenied, format!("clients may not publish to {channel}")));
        }
        let publisher_info = match publisher {
            Caller::Client(conn) => Some(PublisherInfo { client: conn.id().clone(), user: conn.user().cloned() }),
            Caller::Identity(identity) => {
                Some(PublisherInfo { client: Arc::from(HTTP_CLIENT_ID), user: identity.user.clone() })
            }
            Caller::Server => on_behalf,
        };
        let req =
            PublishRequest { channel, data, retention: opts.retention(), publisher: publisher_info, idempotency_key };
        let started = std::time::Instant::now();
        let result = self.broker.publish(req).await;
        metrics::histogram!("herald_publish_seconds").record(started.elapsed().as_secs_f64());
        if let Ok(p) = &result {
            metrics::counter!("herald_messages_published_total").increment(1);
            if let Caller::Client(conn) = publisher {
                self.typing_stopped(&p.channel, conn.client_info().member_key());
            }
        }
        result
    }

    /// Send an ephemeral client event to the channel's other subscribers on
    /// this node. Needs the publish right and a subscription; never stored,
    /// never echoed to the sender.
    pub fn client_event(
        &self,
        conn: &Connection,
        channel: &ChannelName,
        event: &str,
        data: &Payload,
    ) -> Result<(), HeraldError> {
        let entry = self.channels.read().get(channel).cloned();
        let sub = entry.as_ref().and_then(|e| e.subscribers.read().get(conn.id()).cloned());
        let opts = match &sub {
            Some(s) if s.granted.contains(Rights::PUBLISH) => self.namespaces.options(channel)?,
            _ => self.authorize(&conn.identity(), channel, Rights::PUBLISH)?,
        };
        if !opts.allow_client_publish {
            return Err(HeraldError::new(ErrorCode::PermissionDenied, format!("clients may not publish to {channel}")));
        }
        if data.len() > opts.max_message_size {
            return Err(HeraldError::new(
                ErrorCode::MessageTooLarge,
                format!("event data over {} bytes", opts.max_message_size),
            ));
        }
        let (Some(entry), Some(sub)) = (entry, sub) else {
            return Err(HeraldError::new(
                ErrorCode::NotSubscribed,
                format!("subscribe to {channel} before sending events"),
            ));
        };
        let ev = ChannelEvent::Client { channel, event, data, from: &sub.member };
        self.broadcast_event(&entry, &ev, Some(conn.id()));
        self.share_client_event(channel, event, data, &sub.member);
        self.emit(|| ServerEvent::ClientEvent {
            channel: channel.clone(),
            event: Arc::from(event),
            data: data.clone(),
            client: conn.id().clone(),
            user: sub.member.user.clone(),
        });
        metrics::counter!("herald_client_events_total").increment(1);
        Ok(())
    }

    /// A page of history, capped at the configured page size.
    pub async fn history(
        &self,
        caller: Caller<'_>,
        channel: &ChannelName,
        mut query: HistoryQuery,
    ) -> Result<HistoryPage, HeraldError> {
        let opts = self.authorize_caller(caller, channel, Rights::HISTORY)?;
        query.limit = query.limit.min(self.config.history_page_max);
        // A namespace row filter bound to the user hides others' rows here too.
        let user = match caller {
            Caller::Client(conn) => conn.user().cloned(),
            Caller::Identity(identity) => identity.user.clone(),
            Caller::Server => return self.broker.history(channel, query).await,
        };
        let filter = crate::row_filter::with_policy(opts.row_filter.as_deref(), user.as_deref(), channel, None)?;
        let mut page = self.broker.history(channel, query).await?;
        if filter.is_some() {
            page.publications.retain(|p| crate::row_filter::ChangeView::new(&p.data).passes(filter.as_ref()));
        }
        Ok(page)
    }
}
