//! A document relay frames once per *format*, not once per peer: 1,000
//! peers, each with its own framing closure of one format (as the native
//! door joins them), cost one framing per awareness broadcast.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use herald_core::{
    ChannelEvent, ChannelName, Connection, ConnectionInit, EmbeddedBroker, EmbeddedBrokerOptions, Hub, HubConfig,
    Identity, MemoryStore, NamespaceOptions, Namespaces, Outgoing, QueueLimits, WireEncoder, WireFormat,
};
use herald_docs::{DocLease, DocOptions, DocRegistry, Framer};
use yrs::ClientID;
use yrs::sync::AwarenessUpdate;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::protocol::Message;
use yrs::updates::encoder::Encode;

const PEERS: usize = 1000;

struct Silent;

impl WireEncoder for Silent {
    fn encode(&self, _ev: &ChannelEvent<'_>) -> Bytes {
        Bytes::new()
    }
}

fn awareness(client: u64, clock: u32, json: &str) -> Vec<u8> {
    let entry = AwarenessUpdateEntry { clock, json: Arc::from(json) };
    Message::Awareness(AwarenessUpdate { clients: HashMap::from([(ClientID::new(client), entry)]) }).encode_v1()
}

fn frames(conn: &Connection) -> usize {
    let mut batch: Vec<Outgoing> = Vec::new();
    conn.outbound.drain_now(&mut batch);
    batch.len()
}

/// A hub and a document registry on one in-memory store.
fn hub_and_registry() -> (Arc<Hub>, Arc<DocRegistry>) {
    let store = Arc::new(MemoryStore::new());
    let broker = EmbeddedBroker::new(store.clone(), EmbeddedBrokerOptions::default());
    let namespaces = Namespaces::new(NamespaceOptions::default(), HashMap::new(), false);
    let hub = Hub::new(HubConfig::default(), namespaces, broker);
    (hub, DocRegistry::new(store, DocOptions::default(), |m: &[u8]| Bytes::copy_from_slice(m)))
}

/// A hub connection and a framer of its own that counts into `framings`.
fn counted_peer(hub: &Hub, framings: &Arc<AtomicUsize>) -> (Arc<Connection>, Framer) {
    let init =
        ConnectionInit { identity: Identity::development(), encoder: Arc::new(Silent), queue: QueueLimits::default() };
    let conn = hub.connect(init).unwrap();
    let counter = framings.clone();
    let frame: Framer = Arc::new(move |m: &[u8]| {
        counter.fetch_add(1, Ordering::Relaxed);
        Bytes::copy_from_slice(m)
    });
    (conn, frame)
}

#[tokio::test]
async fn an_awareness_broadcast_to_1000_peers_is_framed_once() {
    let (hub, registry) = hub_and_registry();
    let name = ChannelName::new("doc:room").unwrap();
    let framings = Arc::new(AtomicUsize::new(0));
    let mut peers: Vec<(Arc<Connection>, DocLease)> = Vec::new();
    for _ in 0..PEERS {
        // A closure of its own per peer, as a door that frames per connection makes.
        let (conn, frame) = counted_peer(&hub, &framings);
        let lease = registry.join_formatted(&name, conn.clone(), WireFormat::door("native", 0), frame).await.unwrap();
        peers.push((conn, lease));
    }

    // One peer's cursor moves: relayed to all 1,000 (the sender too), framed once.
    framings.store(0, Ordering::Relaxed);
    peers[0].1.handle(&awareness(1, 1, r#"{"cursor":1}"#), true).await.unwrap();
    assert_eq!(framings.load(Ordering::Relaxed), 1, "an awareness broadcast");
    assert!(peers.iter().all(|(c, _)| frames(c) == 1), "every peer got it");

    // The peer leaves: the removal of its state is framed once too.
    framings.store(0, Ordering::Relaxed);
    drop(peers.remove(0));
    assert_eq!(framings.load(Ordering::Relaxed), 1, "an awareness removal");
    assert!(peers.iter().all(|(c, _)| frames(c) == 1), "every remaining peer got it");
}

#[tokio::test]
async fn peers_joined_without_a_format_are_framed_each_for_themselves() {
    let (hub, registry) = hub_and_registry();
    let name = ChannelName::new("doc:own").unwrap();
    let framings = Arc::new(AtomicUsize::new(0));
    let mut peers = Vec::new();
    for _ in 0..3 {
        let (conn, frame) = counted_peer(&hub, &framings);
        peers.push(registry.join_framed(&name, conn, frame).await.unwrap());
    }
    framings.store(0, Ordering::Relaxed);
    peers[0].handle(&awareness(1, 1, r#"{"cursor":1}"#), true).await.unwrap();
    assert_eq!(framings.load(Ordering::Relaxed), 3, "one framing per peer-private framing");
}
