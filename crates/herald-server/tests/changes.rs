//! Database change feeds against a real PostgreSQL with `wal_level=logical`
//! (a throwaway cluster: `common/logical_pg.rs`) and the real `herald`
//! binary: typed events on `db:schema.table`, every filter operator, live
//! before the subscribe reply, `kill -9` while rows are inserted (every row
//! exactly once, offsets gap-free), refused filters, and `/readyz` against
//! a server with `wal_level=replica`.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::logical_pg::{self, LogicalPg};
use common::{Server, connect, publications};
use herald_client::{Client, ClientError, Push};
use serde_json::{Value, json};

/// The cluster, or `None` (skipped with a note outside CI).
fn pg() -> Option<&'static LogicalPg> {
    logical_pg::cluster()
}

async fn sql(url: &str, statements: &[&str]) {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    for s in statements {
        sqlx::query(s).execute(&pool).await.unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    pool.close().await;
}

fn config(url: &str, slot: &str) -> String {
    format!("[changes]\nurl = \"{url}\"\nslot = \"{slot}\"\nstatus_interval_ms = 200\nlag_check_secs = 1\n")
}

/// Herald with a change feed on `url`, once `/readyz` says the feed streams.
async fn herald(url: &str, slot: &str) -> Server {
    let server = Server::start(&config(url, slot)).await;
    wait_ready(&server).await;
    server
}

async fn wait_ready(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = server.get("/readyz").await.expect("readyz");
        if r.status == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "feed never became ready: {}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn subscribe_filtered(
    c: &Client,
    channel: &str,
    filter: Option<&str>,
    events: Option<&str>,
) -> Result<Value, ClientError> {
    let mut fields = json!({ "channel": channel });
    if let Some(f) = filter {
        fields["filter"] = json!(f);
    }
    if let Some(e) = events {
        fields["events"] = json!(e);
    }
    c.request("subscribe", fields).await
}

/// Every publication that arrives on `channel` within `quiet` of the last one.
async fn drain(c: &Client, channel: &str, quiet: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(push) = c.wait_push(quiet, |p| matches!(p, Push::Publication { .. })).await {
        if let Push::Publication { channel: ch, data, .. } = push
            && ch == channel
        {
            out.push(data);
        }
    }
    out
}

#[tokio::test]
async fn typed_insert_update_delete_truncate_arrive_on_the_table_channel() {
    let Some(pg) = pg() else { return };
    let url = pg.database("typed").await;
    sql(
        &url,
        &["CREATE TABLE todos (id bigserial PRIMARY KEY, title text NOT NULL, done bool NOT NULL DEFAULT false, \
           tags text[], meta jsonb, price numeric, due timestamptz, big int8, note varchar(20))"],
    )
    .await;
    let server = herald(&url, "typed").await;
    let c = connect(&server).await;
    c.subscribe("db:public.todos", None).await.expect("subscribe");
    sql(
        &url,
        &[
            "INSERT INTO todos (title, tags, meta, price, due, big, note) VALUES \
             ('milk', '{a,\"b c\"}', '{\"k\": [1, true]}', 12345678901234567890.25, '2024-01-02 03:04:05.5+00', 9007199254740993, NULL)",
            "UPDATE todos SET done = true WHERE id = 1",
            "DELETE FROM todos WHERE id = 1",
            "TRUNCATE todos",
        ],
    )
    .await;
    let got: Vec<(u64, Value)> = publications(&c, "db:public.todos", 4).await;
    assert_eq!(got.iter().map(|(o, _)| *o).collect::<Vec<_>>(), [1, 2, 3, 4], "gap-free offsets");
    let ins = &got[0].1;
    assert_eq!(
        (ins["type"].as_str(), ins["schema"].as_str(), ins["table"].as_str()),
        (Some("INSERT"), Some("public"), Some("todos"))
    );
    assert_eq!(
        ins["new"],
        json!({"id": 1, "title": "milk", "done": false, "tags": ["a", "b c"], "meta": {"k": [1, true]},
               "price": "12345678901234567890.25", "due": "2024-01-02T03:04:05.5+00:00",
               "big": "9007199254740993", "note": null})
    );
    assert_eq!(ins["old"], Value::Null);
    assert_eq!(ins["columns"][0], json!({"name": "id", "type": "int8"}));
    assert_eq!(ins["columns"][3], json!({"name": "tags", "type": "_text"}));
    let ts = ins["commit_timestamp"].as_str().expect("commit_timestamp");
    assert!(ts.len() == 27 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "ISO 8601: {ts}");
    let upd = &got[1].1;
    assert_eq!(
        (upd["type"].as_str(), &upd["new"]["done"], &upd["old"]),
        (Some("UPDATE"), &json!(true), &json!({"id": 1}))
    );
    let del = &got[2].1;
    assert_eq!((del["type"].as_str(), &del["old"], &del["new"]), (Some("DELETE"), &json!({"id": 1}), &Value::Null));
    assert_eq!(got[3].1["type"], "TRUNCATE");

    // REPLICA IDENTITY FULL: whole old rows.
    sql(
        &url,
        &[
            "ALTER TABLE todos REPLICA IDENTITY FULL",
            "INSERT INTO todos (id, title) VALUES (5, 'x')",
            "DELETE FROM todos WHERE id = 5",
        ],
    )
    .await;
    let got = publications(&c, "db:public.todos", 2).await;
    assert_eq!(got[1].1["old"]["title"], "x");

    // The feed counts an event after its publish returned, which may be
    // after the subscriber already has it: wait for the count.
    let deadline = Instant::now() + Duration::from_secs(5);
    let metrics = loop {
        let m = server.get("/metrics").await.unwrap().body;
        if m.contains("herald_changes_events_total 6") || Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(metrics.contains("herald_changes_connected 1"), "{metrics}");
    assert!(metrics.contains("herald_changes_events_total 6"), "{metrics}");
    assert!(metrics.contains("herald_changes_confirmed_lsn"), "{metrics}");
    assert!(metrics.contains("herald_changes_lag_bytes"), "{metrics}");
}

#[tokio::test]
async fn every_filter_operator_and_event_filter() {
    let Some(pg) = pg() else { return };
    let url = pg.database("filters").await;
    sql(
        &url,
        &[
            "CREATE TABLE items (id int PRIMARY KEY, list int, name text, done bool, price numeric)",
            "ALTER TABLE items REPLICA IDENTITY FULL",
        ],
    )
    .await;
    let server = herald(&url, "filters").await;
    // (filter, events, ids expected in arrival order)
    let cases: Vec<(Option<&str>, Option<&str>, Vec<i64>)> = vec![
        (Some("list=eq.7"), None, vec![1, 3, 1, 1]),
        (Some("list=neq.7"), None, vec![2, 4]),
        (Some("id=lt.3"), None, vec![1, 2, 1, 1]),
        (Some("id=lte.3"), None, vec![1, 2, 3, 1, 1]),
        (Some("id=gt.3"), None, vec![4, 5]),
        (Some("id=gte.3"), None, vec![3, 4, 5]),
        (Some("name=in.(b,\"d\",zz)"), None, vec![2, 4]),
        (Some("list=is.null"), None, vec![5]),
        (Some("done=eq.true"), None, vec![3]),
        (Some("price=gt.10.5"), None, vec![4]),
        (None, Some("INSERT"), vec![1, 2, 3, 4, 5]),
        (Some("id=eq.1"), Some("UPDATE,DELETE"), vec![1, 1]),
        (None, Some("*"), vec![1, 2, 3, 4, 5, 1, 1]),
    ];
    let mut clients = Vec::new();
    for (filter, events, _) in &cases {
        let c = connect(&server).await;
        subscribe_filtered(&c, "db:public.items", *filter, *events).await.unwrap_or_else(|e| panic!("{filter:?}: {e}"));
        clients.push(c);
    }
    sql(
        &url,
        &[
            "INSERT INTO items VALUES (1, 7, 'a', false, 1), (2, 8, 'b', false, 2.5), (3, 7, 'c', true, 10.5), \
             (4, 9, 'd', false, 10.75), (5, NULL, 'e', false, NULL)",
            "UPDATE items SET name = 'aa' WHERE id = 1",
            "DELETE FROM items WHERE id = 1",
        ],
    )
    .await;
    // The unfiltered subscriber sees all 7; by then every other one was sent its share.
    let everything = publications(clients.last().unwrap(), "db:public.items", 7).await;
    assert_eq!(everything.len(), 7);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for ((filter, events, expected), c) in cases.iter().zip(&clients).take(cases.len() - 1) {
        let got: Vec<i64> = drain(c, "db:public.items", Duration::from_millis(200))
            .await
            .iter()
            .map(|d| {
                if d["type"] == "DELETE" { d["old"]["id"].as_i64() } else { d["new"]["id"].as_i64() }.unwrap_or(-1)
            })
            .collect();
        assert_eq!(&got, expected, "filter {filter:?} events {events:?}");
    }

    // Recovery replays only the changes that pass: from offset 0, list=eq.7 gets ids 1, 3 and
    // the UPDATE and DELETE of id 1 (list 7; REPLICA IDENTITY FULL puts it in `old`).
    let late = connect(&server).await;
    let top = late.subscribe("db:public.items", None).await.expect("plain subscribe");
    late.unsubscribe("db:public.items").await.expect("unsubscribe");
    let reply = late
        .request(
            "subscribe",
            json!({"channel": "db:public.items", "filter": "list=eq.7", "since": {"epoch": top.epoch, "offset": 0}}),
        )
        .await
        .expect("recovering subscribe");
    assert_eq!(reply["recovered"], true, "{reply}");
    let ids: Vec<(String, i64)> = reply["publications"]
        .as_array()
        .expect("publications")
        .iter()
        .map(|p| {
            let d = &p["data"];
            let row = if d["type"] == "DELETE" { &d["old"] } else { &d["new"] };
            (d["type"].as_str().unwrap_or("").to_string(), row["id"].as_i64().unwrap_or(-1))
        })
        .collect();
    assert_eq!(
        ids,
        [("INSERT".to_string(), 1), ("INSERT".to_string(), 3), ("UPDATE".to_string(), 1), ("DELETE".to_string(), 1)]
    );
}

#[tokio::test]
async fn a_row_inserted_right_after_the_subscribe_reply_arrives() {
    let Some(pg) = pg() else { return };
    let url = pg.database("live").await;
    sql(&url, &["CREATE TABLE live (id int PRIMARY KEY)"]).await;
    let server = herald(&url, "live").await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    for i in 0..5 {
        let c = connect(&server).await;
        subscribe_filtered(&c, "db:public.live", Some(&format!("id=eq.{i}")), None).await.expect("subscribe");
        // In the very moment the reply is seen.
        sqlx::query("INSERT INTO live VALUES ($1)").bind(i).execute(&pool).await.unwrap();
        let got = publications(&c, "db:public.live", 1).await;
        assert_eq!(got[0].1["new"]["id"], i);
    }
    pool.close().await;
}

#[tokio::test]
async fn kill_9_while_rows_are_inserted_loses_and_duplicates_nothing() {
    let Some(pg) = pg() else { return };
    let url = pg.database("crash").await;
    sql(&url, &["CREATE TABLE events (id int PRIMARY KEY)"]).await;
    let dir = common::temp_dir("changes-crash");
    let mut server = Server::start_in(&dir, &config(&url, "crash")).await;
    wait_ready(&server).await;
    const ROWS: i32 = 400;
    let writer = {
        let url = url.clone();
        tokio::spawn(async move {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            for i in 1..=ROWS {
                sqlx::query("INSERT INTO events VALUES ($1)").bind(i).execute(&pool).await.unwrap();
                tokio::time::sleep(Duration::from_millis(4)).await;
            }
            pool.close().await;
        })
    };
    // Kill twice while rows keep coming.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.restart().await;
        wait_ready(&server).await;
    }
    writer.await.unwrap();
    // Every row, once, in offset order with no gap.
    let deadline = Instant::now() + Duration::from_secs(30);
    let publications = loop {
        let r = server.get("/api/history/db:public.events?limit=1000").await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let list = r.json()["publications"].as_array().cloned().unwrap_or_default();
        if list.len() >= ROWS as usize || Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let offsets: Vec<u64> = publications.iter().map(|p| p["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, (1..=offsets.len() as u64).collect::<Vec<_>>(), "offsets gap-free from 1");
    let ids: Vec<i64> = publications.iter().map(|p| p["data"]["new"]["id"].as_i64().unwrap()).collect();
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no row published twice");
    assert_eq!(unique, (1..=ROWS as i64).collect::<BTreeSet<_>>(), "every row published");
    let metrics = server.get("/metrics").await.unwrap().body;
    eprintln!(
        "after two kill -9: {} rows, {} publications; replayed lines: {:?}",
        ROWS,
        publications.len(),
        metrics.lines().find(|l| l.starts_with("herald_changes_replayed_total"))
    );
}

#[tokio::test]
async fn bad_filters_are_refused_with_the_problem_named() {
    let Some(pg) = pg() else { return };
    let url = pg.database("badfilter").await;
    sql(&url, &["CREATE TABLE todos (id int PRIMARY KEY, title text, done bool, tags text[])"]).await;
    let server = herald(&url, "badfilter").await;
    let c = connect(&server).await;
    let cases: &[(&str, Option<&str>, Option<&str>, &str)] = &[
        ("db:public.todos", Some("title"), None, "malformed filter"),
        ("db:public.todos", Some("title=like.x"), None, "unknown filter operator \"like\""),
        ("db:public.todos", Some("nope=eq.1"), None, "unknown column \"nope\""),
        ("db:public.todos", Some("id=eq.abc"), None, "not a number"),
        ("db:public.todos", Some("done=gt.true"), None, "not ordered"),
        ("db:public.todos", Some("tags=eq.x"), None, "only is.null"),
        ("db:public.todos", None, Some("UPSERT"), "unknown event \"UPSERT\""),
        ("db:public.missing", Some("id=eq.1"), None, "public.missing is not in the change feed's publication"),
        ("chat:room", Some("id=eq.1"), None, "not a database change channel"),
    ];
    for (channel, filter, events, needle) in cases {
        match subscribe_filtered(&c, channel, *filter, *events).await {
            Err(ClientError::Server(e)) => {
                assert_eq!(e.code, 120, "{filter:?}: {}", e.message);
                assert!(e.message.contains(needle), "{filter:?}: {:?} lacks {needle:?}", e.message);
                assert!(!e.temporary);
            }
            other => panic!("{channel} {filter:?} {events:?} was not refused: {other:?}"),
        }
    }
    // The connection is still usable.
    subscribe_filtered(&c, "db:public.todos", Some("id=eq.1"), Some("INSERT")).await.expect("a good filter");
}

#[tokio::test]
async fn readyz_names_the_fix_when_postgres_is_not_ready_for_change_feeds() {
    // The system PostgreSQL has wal_level=replica.
    let system = common::postgres::url();
    let server = Server::start(&config(&system, "never")).await;
    let body = wait_not_ready_with(&server, "wal_level").await;
    assert!(body.contains("ALTER SYSTEM SET wal_level = logical"), "{body}");

    // A role without REPLICATION on a logical cluster.
    if let Some(pg) = pg() {
        let url = pg.database("norep").await;
        sql(
            &pg.url("postgres"),
            &["DO $$ BEGIN CREATE ROLE norep LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"],
        )
        .await;
        let norep = url.replace("postgres@", "norep@");
        let server = Server::start(&config(&norep, "norep")).await;
        let body = wait_not_ready_with(&server, "REPLICATION").await;
        assert!(body.contains("ALTER ROLE norep WITH REPLICATION"), "{body}");
    }

    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Server::start(&config(&format!("postgres://postgres@127.0.0.1:{port}/x"), "down")).await;
    let body = wait_not_ready_with(&server, "unreachable").await;
    assert!(body.contains("check [changes] url"), "{body}");
}

async fn wait_not_ready_with(server: &Server, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = server.get("/readyz").await.expect("readyz");
        if r.status == 503 && r.body.contains(needle) {
            return r.body;
        }
        assert!(Instant::now() < deadline, "readyz never said {needle:?}: {} {}", r.status, r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_namespace_row_filter_shows_each_user_only_their_own_rows() {
    let Some(pg) = pg() else { return };
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    const SECRET: &str = "changes-secret-0123456789";
    let url = pg.database("claims").await;
    sql(&url, &["CREATE TABLE notes (id int PRIMARY KEY, owner text, body text)"]).await;
    let cfg = format!(
        "{}[auth]\ntoken_secret = \"{SECRET}\"\n[namespaces.db]\nallow_client_publish = false\nrow_filter = \"owner=eq.{{sub}}\"\n",
        config(&url, "claims")
    );
    let server = Server::start(&cfg).await;
    wait_ready(&server).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let client_of = |sub: &'static str| {
        let claims = json!({"sub": sub, "iat": now, "exp": now + 600,
            "capabilities": [{"channels": ["db:*"], "allow": ["subscribe", "history"]}]});
        let token =
            encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
        let ws = server.ws_url();
        async move {
            let opts = herald_client::ConnectOptions { token: Some(token), ..Default::default() };
            herald_client::Client::connect(&ws, opts).await.expect("connect").0
        }
    };
    let (ann, bob) = (client_of("ann").await, client_of("bob").await);
    // Ann asks for everything; Bob narrows further with a filter of his own.
    subscribe_filtered(&ann, "db:public.notes", None, None).await.expect("ann subscribes");
    subscribe_filtered(&bob, "db:public.notes", Some("id=gt.2"), None).await.expect("bob subscribes");
    sql(
        &url,
        &["INSERT INTO notes VALUES (1, 'ann', 'a1'), (2, 'bob', 'b2'), (3, 'bob', 'b3'), (4, 'ann', 'a4'), (5, 'eve', 'e5')"],
    )
    .await;
    let ann_rows = publications(&ann, "db:public.notes", 2).await;
    assert_eq!(ann_rows.iter().map(|(_, d)| d["new"]["id"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 4]);
    let bob_rows = publications(&bob, "db:public.notes", 1).await;
    assert_eq!(bob_rows[0].1["new"]["id"], 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(drain(&ann, "db:public.notes", Duration::from_millis(200)).await.is_empty());
    assert!(drain(&bob, "db:public.notes", Duration::from_millis(200)).await.is_empty());
    // History is bound the same way.
    let h = ann.request("history", json!({"channel": "db:public.notes", "limit": 100})).await.expect("history");
    let owners: Vec<&str> =
        h["publications"].as_array().unwrap().iter().map(|p| p["data"]["new"]["owner"].as_str().unwrap()).collect();
    assert_eq!(owners, ["ann", "ann"]);
}
