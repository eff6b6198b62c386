//! Two nodes (two `DocRegistry`s, each with its own `PostgresStore` on one
//! schema and its own `RedisBroker` + `RedisDocumentBus` under one key
//! prefix) with the same document open. Four editors, two per node, write
//! at the same time while both nodes compact every few updates, and a fifth
//! editor's updates are appended to the store by a node whose messages
//! never arrive (the slowest possible relay): every relayed edit reaches
//! the other node's copy, and after the last compaction the store rebuilds
//! a document holding every edit exactly once — compaction never drops an
//! update the compacting node had not seen.
//!
//! A second test cuts Redis (a private `redis-server`) while a node edits:
//! the edit is stored but cannot reach the other node; once Redis is back,
//! the other node catches up from the store and holds it.
//!
//! Needs the machine's PostgreSQL (`HERALD_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`) and Redis (127.0.0.1:6379).

use std::sync::Arc;
use std::time::Duration;

use herald_core::{ChannelName, DocumentStore};
use herald_docs::{DocOptions, DocRegistry, Document};
use herald_redis::{RedisBroker, RedisBrokerOptions, RedisDocumentBus};
use herald_store::{PostgresOptions, PostgresStore};
use yrs::{Doc, GetString, Options, ReadTxn, Text, Transact};

const EDITORS_PER_NODE: u32 = 2;
const EDITS_PER_EDITOR: u32 = 40;

fn postgres_url() -> String {
    std::env::var("HERALD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema and a Redis key prefix of this test's own, removed at the end.
struct Isolation {
    schema: String,
    prefix: String,
}

impl Drop for Isolation {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        let pattern = format!("{}:*", self.prefix);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await {
                    let _ = sqlx::query(&sql).execute(&pool).await;
                    pool.close().await;
                }
            });
            let client = redis::Client::open("redis://127.0.0.1:6379").ok()?;
            let mut conn = client.get_connection().ok()?;
            let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut conn).ok()?;
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
            Some(())
        })
        .join();
    }
}

fn frame(m: &[u8]) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(m)
}

async fn node(iso: &Isolation) -> (Arc<DocRegistry>, Arc<PostgresStore>) {
    node_on(iso, "redis://127.0.0.1:6379").await
}

async fn node_on(iso: &Isolation, redis_url: &str) -> (Arc<DocRegistry>, Arc<PostgresStore>) {
    let opts = PostgresOptions { schema: iso.schema.clone(), max_connections: 4, ..PostgresOptions::default() };
    let store = Arc::new(
        PostgresStore::connect(&postgres_url(), opts)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is needed by this test: {e}", postgres_url())),
    );
    let mut o = RedisBrokerOptions::new(redis_url);
    o.key_prefix = iso.prefix.clone();
    o.command_timeout = Duration::from_millis(500);
    o.pubsub_ping_interval = Duration::from_millis(200);
    o.reconnect_max_delay = Duration::from_millis(200);
    let broker = RedisBroker::connect(o).await.expect("Redis at 127.0.0.1:6379 is needed by this test");
    let options = DocOptions {
        compact_after_updates: 4,
        compact_idle: Duration::from_secs(3600),
        unload_grace: Duration::from_secs(3600),
        ..DocOptions::default()
    };
    let registry = DocRegistry::new(store.clone(), options, frame);
    registry.set_bus(RedisDocumentBus::new(broker));
    (registry, store)
}

fn text(doc: &Document) -> String {
    doc.doc().get_or_insert_text("t").get_string(&doc.doc().transact())
}

/// Every `e{editor}i{edit};` token in `s`, sorted (duplicates kept).
fn tokens(s: &str) -> Vec<String> {
    let mut t: Vec<String> = s.split(';').filter(|t| !t.is_empty()).map(str::to_string).collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compactions_on_two_nodes_racing_appends_lose_no_edit() {
    let n: u64 = rand::random();
    let iso = Isolation {
        schema: format!("herald_test_doc_nodes_{}_{:x}", std::process::id(), n as u32),
        prefix: format!("herald-test-docs-{n:x}"),
    };
    let nodes = [node(&iso).await, node(&iso).await];
    let name = ChannelName::new("doc:race").unwrap();
    let leases = [Arc::new(nodes[0].0.open(&name).await.unwrap()), Arc::new(nodes[1].0.open(&name).await.unwrap())];

    let mut editors = Vec::new();
    for e in 0..2 * EDITORS_PER_NODE {
        let lease = leases[(e % 2) as usize].clone();
        editors.push(tokio::spawn(async move {
            let doc =
                Doc::with_options(Options { client_id: yrs::ClientID::new(1000 + u64::from(e)), ..Options::default() });
            let t = doc.get_or_insert_text("t");
            for i in 0..EDITS_PER_EDITOR {
                let before = doc.transact().state_vector();
                t.insert(&mut doc.transact_mut(), 0, &format!("e{e}i{i};"));
                let update = doc.transact().encode_state_as_update_v1(&before);
                lease.apply_update(&update).await.unwrap();
                if i % 8 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    let silent = PostgresStore::connect(
        &postgres_url(),
        PostgresOptions { schema: iso.schema.clone(), max_connections: 2, ..PostgresOptions::default() },
    )
    .await
    .unwrap();
    let silent_editor = {
        let name = name.clone();
        tokio::spawn(async move {
            let e = 2 * EDITORS_PER_NODE;
            let doc =
                Doc::with_options(Options { client_id: yrs::ClientID::new(1000 + u64::from(e)), ..Options::default() });
            let t = doc.get_or_insert_text("t");
            for i in 0..EDITS_PER_EDITOR {
                let before = doc.transact().state_vector();
                t.insert(&mut doc.transact_mut(), 0, &format!("e{e}i{i};"));
                let update = doc.transact().encode_state_as_update_v1(&before);
                silent.append_document_update(&name, &update).await.unwrap();
                tokio::task::yield_now().await;
            }
            herald_core::HistoryStore::close(&silent).await;
        })
    };
    for e in editors {
        e.await.unwrap();
    }
    silent_editor.await.unwrap();
    let edits = |editors: u32| {
        let mut t: Vec<String> =
            (0..editors).flat_map(|e| (0..EDITS_PER_EDITOR).map(move |i| format!("e{e}i{i}"))).collect();
        t.sort();
        t
    };
    let wanted = edits(2 * EDITORS_PER_NODE);

    // Each node's copy gets the other node's edits through the bus.
    let copy = |k: usize| {
        let d = Document::new();
        d.apply_update(&leases[k].snapshot()).unwrap();
        text(&d)
    };
    for _ in 0..500 {
        if tokens(&copy(0)) == wanted && copy(0) == copy(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(tokens(&copy(0)), wanted, "node 0 has every edit once");
    assert_eq!(copy(0), copy(1), "both nodes converged");

    // Compactions ran while editing; one more on each node, then the store alone.
    nodes[0].0.flush().await;
    nodes[1].0.flush().await;
    let stored = nodes[1].1.load_document(&name).await.unwrap();
    assert!(stored.snapshot.is_some(), "the document was compacted");
    let rebuilt = Document::from_stored(&stored).unwrap();
    assert_eq!(tokens(&text(&rebuilt)), edits(2 * EDITORS_PER_NODE + 1), "the stored document has every edit once");
    drop(leases);
    for (_, store) in &nodes {
        herald_core::HistoryStore::close(&**store).await;
    }
}

/// A `redis-server` of this test's own (no persistence), killed on drop.
struct PrivateRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    async fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut r = PrivateRedis { port, child: None };
        r.launch().await;
        r
    }

    async fn launch(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is needed by this test");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not start");
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_catches_up_from_the_store_after_redis_was_away() {
    let mut redis = PrivateRedis::start().await;
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let n: u64 = rand::random();
    let iso = Isolation {
        schema: format!("herald_test_doc_outage_{}_{:x}", std::process::id(), n as u32),
        prefix: format!("herald-test-docs-outage-{n:x}"),
    };
    let (a, _sa) = node_on(&iso, &url).await;
    let (b, _sb) = node_on(&iso, &url).await;
    let name = ChannelName::new("doc:outage").unwrap();
    let (la, lb) = (a.open(&name).await.unwrap(), b.open(&name).await.unwrap());
    let editor = Doc::with_options(Options { client_id: yrs::ClientID::new(77), ..Options::default() });
    let t = editor.get_or_insert_text("t");
    let edit = |s: &str| {
        let before = editor.transact().state_vector();
        t.insert(&mut editor.transact_mut(), 0, s);
        editor.transact().encode_state_as_update_v1(&before)
    };
    let copy = |lease: &herald_docs::DocLease| {
        let d = Document::new();
        d.apply_update(&lease.snapshot()).unwrap();
        text(&d)
    };
    la.apply_update(&edit("before;")).await.unwrap();
    for _ in 0..250 {
        if copy(&lb) == "before;" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(copy(&lb), "before;", "relayed while Redis is up");

    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    la.apply_update(&edit("during;")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(copy(&lb), "before;", "nothing can be relayed while Redis is away");
    redis.launch().await;
    for _ in 0..500 {
        if copy(&lb) == "during;before;" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(copy(&lb), "during;before;", "node B caught up from the store once Redis was back");
    // And relaying works again, at once (a message the first attempt could
    // not send is sent again).
    la.apply_update(&edit("after;")).await.unwrap();
    for _ in 0..250 {
        if copy(&lb) == "after;during;before;" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(copy(&lb), "after;during;before;");
}
