//! Property test of the core: random interleavings of publish, subscribe,
//! disconnect and recover never show a client a gap or a duplicate, except
//! where the server said so with `recovered: false`.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use herald_core::{
    Caller, ChannelEvent, ChannelName, Connection, ConnectionInit, EmbeddedBroker, EmbeddedBrokerOptions, HistoryQuery,
    HistoryStore, Hub, HubConfig, MemoryStore, NamespaceOptions, Namespaces, Outgoing, Payload, Position, Publication,
    QueueLimits, Retention, StoreError, StreamMeta, WireEncoder,
};
use proptest::prelude::*;

/// Encodes events as `P <channel> <offset>` / `U <channel>`.
struct TestEncoder;

impl WireEncoder for TestEncoder {
    fn encode(&self, ev: &ChannelEvent<'_>) -> Bytes {
        match ev {
            ChannelEvent::Publication(p) => Bytes::from(format!("P {} {}", p.channel, p.offset)),
            ChannelEvent::Unsubscribed(c, _) => Bytes::from(format!("U {c}")),
            _ => Bytes::from_static(b"other"),
        }
    }
}

/// A memory store that yields to other tasks inside every call, so that
/// publications are committed and delivered while a subscription is reading
/// history (the window buffer-then-merge must cover).
struct YieldingStore(MemoryStore);

async fn yield_a_few() {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
}

#[async_trait::async_trait]
impl HistoryStore for YieldingStore {
    async fn stream_meta(&self, channel: &ChannelName) -> Result<StreamMeta, StoreError> {
        yield_a_few().await;
        let r = self.0.stream_meta(channel).await;
        yield_a_few().await;
        r
    }
    async fn append(&self, batch: &[(Arc<Publication>, Retention)]) -> Result<(), StoreError> {
        yield_a_few().await;
        self.0.append(batch).await
    }
    async fn read(&self, channel: &ChannelName, q: &HistoryQuery) -> Result<Vec<Arc<Publication>>, StoreError> {
        yield_a_few().await;
        let r = self.0.read(channel, q).await;
        yield_a_few().await;
        r
    }
    async fn remove_expired(&self, now_ms: u64) -> Result<u64, StoreError> {
        self.0.remove_expired(now_ms).await
    }
    async fn close(&self) {}
}

#[derive(Debug, Clone)]
enum Op {
    /// Publish `n` messages to channel `ch`, concurrently with what follows.
    Publish { ch: usize, n: usize },
    /// Client `c` (re)connects and subscribes to `ch`, recovering if it has a position.
    Subscribe { c: usize, ch: usize },
    /// Client `c` disconnects, keeping its positions.
    Disconnect { c: usize },
    /// Let spawned work run.
    Yield,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, 1..6usize).prop_map(|(ch, n)| Op::Publish { ch, n }),
        3 => (0..3usize, 0..2usize).prop_map(|(c, ch)| Op::Subscribe { c, ch }),
        2 => (0..3usize).prop_map(|c| Op::Disconnect { c }),
        2 => Just(Op::Yield),
    ]
}

struct Client {
    conn: Option<Arc<Connection>>,
    /// Last position per channel, as the client would store it.
    positions: HashMap<usize, Position>,
    /// Channels subscribed on the current connection.
    subscribed: Vec<usize>,
}

fn channel(ch: usize) -> ChannelName {
    ChannelName::new(&format!("room:{ch}")).unwrap()
}

/// Apply the frames queued for a client, checking continuity.
fn drain(client: &mut Client, gaps: &mut usize) -> Result<(), TestCaseError> {
    let Some(conn) = &client.conn else { return Ok(()) };
    let mut batch: Vec<Outgoing> = Vec::new();
    conn.outbound.drain_now(&mut batch);
    for item in batch {
        let text = String::from_utf8(item.frame.to_vec()).unwrap();
        let parts: Vec<&str> = text.split(' ').collect();
        match parts[0] {
            "P" => {
                let ch: usize = parts[1].trim_start_matches("room:").parse().unwrap();
                let offset: u64 = parts[2].parse().unwrap();
                let pos = client.positions.get_mut(&ch).expect("publication on a channel never subscribed");
                prop_assert_eq!(offset, pos.offset + 1, "gap or duplicate on room:{}", ch);
                pos.offset = offset;
            }
            "U" => {
                // The server reported a gap: the client must resubscribe.
                *gaps += 1;
                let ch: usize = parts[1].trim_start_matches("room:").parse().unwrap();
                client.subscribed.retain(|c| *c != ch);
            }
            _ => {}
        }
    }
    Ok(())
}

async fn run(ops: Vec<Op>, history_size: usize) -> Result<(), TestCaseError> {
    let broker = EmbeddedBroker::new(Arc::new(YieldingStore(MemoryStore::new())), EmbeddedBrokerOptions::default());
    let ns = NamespaceOptions { history_size, history_ttl_secs: 0, recovery_max: 1000, ..Default::default() };
    let hub = Hub::new(HubConfig::default(), Namespaces::new(ns, HashMap::new(), false), broker);
    let encoder: Arc<dyn WireEncoder> = Arc::new(TestEncoder);
    let mut clients: Vec<Client> =
        (0..3).map(|_| Client { conn: None, positions: HashMap::new(), subscribed: Vec::new() }).collect();
    let mut tasks = Vec::new();
    let mut gaps = 0usize;
    for op in ops {
        match op {
            Op::Publish { ch, n } => {
                let hub = hub.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..n {
                        let data = Payload::from_json_text(format!("{i}")).unwrap();
                        hub.publish(Caller::Server, channel(ch), data, None).await.unwrap();
                        tokio::task::yield_now().await;
                    }
                }));
            }
            Op::Subscribe { c, ch } => {
                let client = &mut clients[c];
                drain(client, &mut gaps)?;
                if client.conn.is_none() {
                    let init = ConnectionInit {
                        identity: herald_core::Identity::development(),
                        encoder: encoder.clone(),
                        queue: QueueLimits { max_messages: 100_000, max_bytes: 100 << 20 },
                    };
                    client.conn = Some(hub.connect(init).unwrap());
                }
                if client.subscribed.contains(&ch) {
                    continue;
                }
                let conn = client.conn.clone().unwrap();
                let since = client.positions.get(&ch).cloned();
                let pending = hub.subscribe(&conn, channel(ch), since.clone()).await.unwrap();
                // The reply: recovered publications, or a fresh position.
                match (&since, &pending.recovery) {
                    (Some(since), Some(rec)) if rec.recovered => {
                        let offsets: Vec<u64> = rec.publications.iter().map(|p| p.offset).collect();
                        let expected: Vec<u64> = (since.offset + 1..=pending.top.offset).collect();
                        prop_assert_eq!(offsets, expected, "recovered: true must be complete");
                    }
                    (Some(_), Some(rec)) => prop_assert!(rec.publications.is_empty(), "never a partial replay"),
                    _ => {}
                }
                client.positions.insert(ch, pending.top.clone());
                client.subscribed.push(ch);
                pending.activate();
            }
            Op::Disconnect { c } => {
                let client = &mut clients[c];
                drain(client, &mut gaps)?;
                if let Some(conn) = client.conn.take() {
                    hub.disconnect(&conn);
                }
                client.subscribed.clear();
            }
            Op::Yield => {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
            }
        }
        for client in clients.iter_mut() {
            drain(client, &mut gaps)?;
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Let the broker's writer deliver everything, then check every live
    // subscriber reached the channel's top: nothing lost at the tail.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    hub.broker().close().await;
    for client in clients.iter_mut() {
        drain(client, &mut gaps)?;
        for ch in client.subscribed.clone() {
            let top = hub.history(Caller::Server, &channel(ch), Default::default()).await.unwrap().top;
            prop_assert_eq!(client.positions[&ch].offset, top.offset, "subscriber missed the tail of room:{}", ch);
        }
    }
    prop_assert_eq!(gaps, 0, "the embedded broker never has gaps");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn no_silent_gap_or_duplicate(ops in prop::collection::vec(op(), 1..40), history_size in prop_oneof![Just(3usize), Just(1000usize)]) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops, history_size))?;
    }
}
