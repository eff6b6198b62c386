//! Fan-out encodes a publication once per wire variant, not once per subscriber.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use herald_core::{
    Caller, ChannelEvent, ChannelName, ConnectionInit, EmbeddedBroker, EmbeddedBrokerOptions, Hub, HubConfig, Identity,
    MemoryStore, NamespaceOptions, Namespaces, Outgoing, Payload, QueueLimits, WireEncoder,
};

#[derive(Default)]
struct CountingEncoder(AtomicUsize);

impl WireEncoder for CountingEncoder {
    fn encode(&self, _ev: &ChannelEvent<'_>) -> Bytes {
        self.0.fetch_add(1, Ordering::Relaxed);
        Bytes::from_static(b"frame")
    }
}

#[tokio::test]
async fn one_encode_per_wire_variant() {
    let broker = EmbeddedBroker::new(Arc::new(MemoryStore::new()), EmbeddedBrokerOptions::default());
    let hub =
        Hub::new(HubConfig::default(), Namespaces::new(NamespaceOptions::default(), HashMap::new(), false), broker);
    let plain = Arc::new(CountingEncoder::default());
    let deflate = Arc::new(CountingEncoder::default());
    let channel = ChannelName::new("chat:x").unwrap();
    let mut conns = Vec::new();
    for i in 0..100 {
        let encoder: Arc<dyn WireEncoder> = if i % 2 == 0 { plain.clone() } else { deflate.clone() };
        let conn = hub
            .connect(ConnectionInit { identity: Identity::development(), encoder, queue: QueueLimits::default() })
            .unwrap();
        hub.subscribe(&conn, channel.clone(), None).await.unwrap().activate();
        conns.push(conn);
    }
    hub.publish(Caller::Server, channel, Payload::from_json_text("1").unwrap(), None).await.unwrap();
    assert_eq!(plain.0.load(Ordering::Relaxed), 1);
    assert_eq!(deflate.0.load(Ordering::Relaxed), 1);
    for conn in &conns {
        let mut batch: Vec<Outgoing> = Vec::new();
        conn.outbound.drain_now(&mut batch);
        assert_eq!(batch.len(), 1, "every subscriber got the frame");
    }
}
