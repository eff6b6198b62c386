//! Native-protocol requests a client can make with its identity alone, with
//! no connection behind it: history, presence, read receipts, unread counts
//! and the notification inbox. The WebSocket dispatcher
//! (`native/dispatch.rs`) and `POST /sse/request` (SSE and long-poll clients,
//! `sse/request_op.rs`) answer them with this one function, so both doors
//! give the same replies and errors.

use herald_core::{Caller, ErrorCode, HeraldError, HistoryQuery, Hub, Identity, MarkRead};
use herald_protocol::encode;
use herald_protocol::request::Op;

/// The reply frame (`{"id":…,"result":…}`) to `op` for `identity`, or the
/// error to send. Operations that need a connection (subscribe, typing,
/// client events, presence state…) are refused with 104.
pub async fn answer(
    hub: &Hub,
    caller: Caller<'_>,
    identity: &Identity,
    id: u64,
    op: Op<'_>,
) -> Result<Vec<u8>, HeraldError> {
    match op {
        Op::History { channel, since, before, limit, direction } => {
            let query = HistoryQuery { since, before, limit, direction };
            hub.history(caller, &channel, query).await.map(|page| encode::history_result(id, &page))
        }
        Op::Presence { channel } => {
            hub.presence_all(caller, &channel).await.map(|members| encode::presence_result(id, &members))
        }
        Op::ReadPositions { channel } => hub.read_positions(caller, &channel).await.map(|(top, members)| {
            encode::reply(
                id,
                &serde_json::json!({
                    "channel": channel, "epoch": top.epoch.as_str(), "offset": top.offset, "members": members
                }),
            )
        }),
        Op::MarkRead { channel, offset } => hub
            .mark_read(identity, &channel, offset)
            .await
            .map(|offset| encode::reply(id, &serde_json::json!({ "channel": channel, "offset": offset }))),
        Op::Unread => match identity.user.as_deref() {
            Some(user) => {
                hub.unread(user).await.map(|list| encode::reply(id, &serde_json::json!({ "channels": list })))
            }
            None => Err(HeraldError::new(ErrorCode::Unauthorized, "sign in (a token with `sub`) first")),
        },
        Op::Notifications { before, limit } => {
            hub.notifications(identity, before, limit).await.map(|(list, unread)| {
                let mut buf = format!("{{\"id\":{id},\"result\":").into_bytes();
                encode::notifications_page(&mut buf, &list, unread);
                buf.push(b'}');
                buf
            })
        }
        Op::NotificationRead { notification } => {
            let which = notification.map_or(MarkRead::All, MarkRead::One);
            hub.notification_read(identity, which)
                .await
                .map(|unread| encode::reply(id, &serde_json::json!({ "unread": unread })))
        }
        Op::NotificationDelete { notification } => hub
            .notification_delete(identity, notification)
            .await
            .map(|unread| encode::reply(id, &serde_json::json!({ "unread": unread }))),
        other => Err(HeraldError::new(
            ErrorCode::UnknownOperation,
            format!("{} needs a WebSocket connection (/ws)", other.name()),
        )),
    }
}
