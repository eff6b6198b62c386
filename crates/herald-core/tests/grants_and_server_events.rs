//! The core APIs a protocol door builds on: a per-subscription grant (its
//! rights and presence member), a connection that opts out of echo (so a
//! publication made on its behalf skips it), and the server events the hub
//! reports (occupied, member added/removed, client event, vacated).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use herald_core::{
    Caller, ChannelEvent, ChannelName, Connection, ConnectionInit, EmbeddedBroker, EmbeddedBrokerOptions, Hub,
    HubConfig, Identity, MemoryStore, NamespaceOptions, Namespaces, Outgoing, Payload, QueueLimits, Rights,
    ServerEvent, ServerEventSink, SubscriptionGrant, WireEncoder,
};
use parking_lot::Mutex;

/// Frames name the event kind (and the member for joins), so tests can read them.
struct NamingEncoder;

impl WireEncoder for NamingEncoder {
    fn encode(&self, ev: &ChannelEvent<'_>) -> Bytes {
        Bytes::from(match ev {
            ChannelEvent::Publication(p) => format!("pub {}", p.data.as_str()),
            ChannelEvent::Join(_, m) => format!("join {}", m.member_key()),
            ChannelEvent::Leave(_, m) => format!("leave {}", m.member_key()),
            ChannelEvent::Client { event, from, .. } => format!("client {event} {}", from.member_key()),
            _ => "other".to_string(),
        })
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<ServerEvent>>);

impl ServerEventSink for Recorder {
    fn emit(&self, event: ServerEvent) {
        self.0.lock().push(event);
    }
}

fn hub() -> Arc<Hub> {
    let broker = EmbeddedBroker::new(Arc::new(MemoryStore::new()), EmbeddedBrokerOptions::default());
    let ns = NamespaceOptions { presence: true, presence_grace_ms: 0, ..NamespaceOptions::default() };
    Hub::new(HubConfig::default(), Namespaces::new(ns, HashMap::new(), false), broker)
}

fn anonymous(hub: &Hub) -> Arc<Connection> {
    let init = ConnectionInit {
        identity: Identity::anonymous(),
        encoder: Arc::new(NamingEncoder),
        queue: QueueLimits::default(),
    };
    hub.connect(init).unwrap()
}

fn frames(conn: &Connection) -> Vec<String> {
    let mut batch: Vec<Outgoing> = Vec::new();
    conn.outbound.drain_now(&mut batch);
    batch.iter().map(|o| String::from_utf8_lossy(&o.frame).to_string()).collect()
}

fn member(user: &str) -> SubscriptionGrant {
    let rights = Rights::SUBSCRIBE.union(Rights::PUBLISH).union(Rights::PRESENCE);
    SubscriptionGrant { rights, user: Some(user.into()), info: Some(Payload::from_json_text(r#"{"n":1}"#).unwrap()) }
}

#[tokio::test]
async fn a_grant_names_the_presence_member_and_allows_what_identity_does_not() {
    let hub = hub();
    let events = Arc::new(Recorder::default());
    hub.set_server_event_sink(events.clone());
    let ch = ChannelName::new("pusher:presence-room").unwrap();
    let (a, b) = (anonymous(&hub), anonymous(&hub));
    // Without a grant an anonymous connection may not subscribe to a private channel.
    assert!(hub.subscribe(&a, ch.clone(), None).await.is_err());
    hub.subscribe_granted(&a, ch.clone(), None, Some(member("alice"))).await.unwrap().activate();
    let pending = hub.subscribe_granted(&b, ch.clone(), None, Some(member("bob"))).await.unwrap();
    let snapshot: Vec<_> =
        pending.presence_snapshot.iter().flatten().map(|m| m.info.member_key().to_string()).collect();
    assert_eq!(snapshot, ["alice"]);
    pending.activate();
    assert_eq!(frames(&a), ["join bob"]);
    let members = hub.presence(Caller::Server, &ch).unwrap();
    assert_eq!(members.len(), 2);

    hub.client_event(&b, &ch, "client-wave", &Payload::from_json_text("{}").unwrap()).unwrap();
    assert_eq!(frames(&a), ["client client-wave bob"]);
    assert!(frames(&b).is_empty(), "client events are not echoed");

    hub.unsubscribe(&b, &ch).unwrap();
    assert_eq!(frames(&a), ["leave bob"]);
    hub.disconnect(&a);
    let got = events.0.lock().clone();
    let user = |u: &str| Arc::<str>::from(u);
    assert_eq!(
        got,
        [
            ServerEvent::ChannelOccupied { channel: ch.clone() },
            ServerEvent::MemberAdded { channel: ch.clone(), user: user("alice") },
            ServerEvent::MemberAdded { channel: ch.clone(), user: user("bob") },
            ServerEvent::ClientEvent {
                channel: ch.clone(),
                event: "client-wave".into(),
                data: Payload::from_json_text("{}").unwrap(),
                client: b.id().clone(),
                user: Some(user("bob")),
            },
            ServerEvent::MemberRemoved { channel: ch.clone(), user: user("bob") },
            ServerEvent::MemberRemoved { channel: ch.clone(), user: user("alice") },
            ServerEvent::ChannelVacated { channel: ch.clone() },
        ]
    );
}

#[tokio::test]
async fn publish_on_behalf_skips_a_connection_that_opted_out_of_echo() {
    let hub = hub();
    let ch = ChannelName::new("pusher:news").unwrap();
    let grant = SubscriptionGrant { rights: Rights::SUBSCRIBE, user: None, info: None };
    let (quiet, other) = (anonymous(&hub), anonymous(&hub));
    quiet.set_echo(false);
    for c in [&quiet, &other] {
        hub.subscribe_granted(c, ch.clone(), None, Some(grant.clone())).await.unwrap().activate();
    }
    let data = |n: &str| Payload::from_json_text(n.to_string()).unwrap();
    hub.publish_on_behalf(ch.clone(), data("1"), quiet.id().clone()).await.unwrap();
    hub.publish(Caller::Server, ch.clone(), data("2"), None).await.unwrap();
    hub.publish_on_behalf(ch.clone(), data("3"), other.id().clone()).await.unwrap();
    assert_eq!(frames(&quiet), ["pub 2", "pub 3"]);
    assert_eq!(frames(&other), ["pub 1", "pub 2", "pub 3"], "echo is on by default");
    // The skipped offset is not a gap: the next publication still arrives.
    hub.publish(Caller::Server, ch, data("4"), None).await.unwrap();
    assert_eq!(frames(&quiet), ["pub 4"]);
}
