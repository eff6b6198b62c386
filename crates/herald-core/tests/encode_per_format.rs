//! A fan-out encodes once per wire *format*, not once per encoder instance:
//! a door that gives each connection its own encoder (the y-websocket door
//! does) still costs one encoding per event, not one per connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use herald_core::{
    Caller, ChannelEvent, ChannelName, Connection, ConnectionInit, EmbeddedBroker, EmbeddedBrokerOptions, Hub,
    HubConfig, Identity, MemoryStore, NamespaceOptions, Namespaces, Outgoing, Payload, QueueLimits, WireEncoder,
    WireFormat,
};

const ROOM_SIZE: usize = 1000;

/// One connection's encoder: a distinct instance per connection, counting
/// into a counter shared by every instance of its format.
struct PerConnection {
    format: WireFormat,
    encodings: Arc<AtomicUsize>,
}

impl WireEncoder for PerConnection {
    fn encode(&self, _ev: &ChannelEvent<'_>) -> Bytes {
        self.encodings.fetch_add(1, Ordering::Relaxed);
        Bytes::from_static(b"frame")
    }

    fn format(&self) -> WireFormat {
        self.format
    }
}

/// A hub whose `doc` namespace tracks presence, a member leaving at once.
fn hub() -> Arc<Hub> {
    let doc = NamespaceOptions { presence: true, presence_grace_ms: 0, ..NamespaceOptions::default() };
    let namespaces = Namespaces::new(NamespaceOptions::default(), HashMap::from([("doc".to_string(), doc)]), false);
    let broker = EmbeddedBroker::new(Arc::new(MemoryStore::new()), EmbeddedBrokerOptions::default());
    Hub::new(HubConfig::default(), namespaces, broker)
}

/// A connection with its own encoder instance of `format`, in `room`'s presence.
async fn join(hub: &Hub, room: &ChannelName, format: WireFormat, encodings: &Arc<AtomicUsize>) -> Arc<Connection> {
    let encoder = Arc::new(PerConnection { format, encodings: encodings.clone() });
    let init = ConnectionInit { identity: Identity::development(), encoder, queue: QueueLimits::default() };
    let conn = hub.connect(init).unwrap();
    hub.subscribe(&conn, room.clone(), None).await.unwrap().activate();
    conn
}

fn frames(conn: &Connection) -> usize {
    let mut batch: Vec<Outgoing> = Vec::new();
    conn.outbound.drain_now(&mut batch);
    batch.len()
}

#[tokio::test]
async fn a_room_of_1000_connections_with_their_own_encoders_encodes_each_event_once() {
    let hub = hub();
    let room = ChannelName::new("doc:room").unwrap();
    let yjs = WireFormat::door("yjs", 0);
    let encodings = Arc::new(AtomicUsize::new(0));
    let mut room_conns = Vec::new();
    for _ in 0..ROOM_SIZE {
        room_conns.push(join(&hub, &room, yjs, &encodings).await);
    }
    for c in &room_conns {
        frames(c);
    }

    // A join is pushed to the 1,000 already there: one encoding.
    encodings.store(0, Ordering::Relaxed);
    let newcomer = join(&hub, &room, yjs, &encodings).await;
    assert_eq!(encodings.load(Ordering::Relaxed), 1, "a presence join");
    assert!(room_conns.iter().all(|c| frames(c) == 1), "every member was told of the join");

    // A publication to the room: one encoding for 1,001 subscribers.
    encodings.store(0, Ordering::Relaxed);
    hub.publish(Caller::Server, room.clone(), Payload::from_json_text("1").unwrap(), None).await.unwrap();
    assert_eq!(encodings.load(Ordering::Relaxed), 1, "a publication");
    assert!(room_conns.iter().all(|c| frames(c) == 1), "every subscriber got the publication");

    // A presence state change and a leave: one encoding each.
    encodings.store(0, Ordering::Relaxed);
    hub.set_presence_state(&newcomer, &room, Payload::from_json_text("{\"cursor\":3}").unwrap()).unwrap();
    assert_eq!(encodings.load(Ordering::Relaxed), 1, "a presence update");
    encodings.store(0, Ordering::Relaxed);
    hub.disconnect(&newcomer);
    assert_eq!(encodings.load(Ordering::Relaxed), 1, "a presence leave");
    assert!(room_conns.iter().all(|c| frames(c) == 2), "every member got the update and the leave");
}

#[tokio::test]
async fn each_distinct_format_is_encoded_once() {
    let hub = hub();
    let room = ChannelName::new("doc:mixed").unwrap();
    let (plain, deflate) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut conns = Vec::new();
    for i in 0..ROOM_SIZE {
        let (variant, counter) = if i % 2 == 0 { (0, &plain) } else { (1, &deflate) };
        conns.push(join(&hub, &room, WireFormat::door("native", variant), counter).await);
    }
    plain.store(0, Ordering::Relaxed);
    deflate.store(0, Ordering::Relaxed);
    hub.publish(Caller::Server, room, Payload::from_json_text("1").unwrap(), None).await.unwrap();
    assert_eq!((plain.load(Ordering::Relaxed), deflate.load(Ordering::Relaxed)), (1, 1));
}
