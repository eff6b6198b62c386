//! What only `PostgresStore` has: a schema of its own (created, checked,
//! isolated), state that outlives the connection, clear connection errors
//! that never show the password, and text PostgreSQL cannot hold. The
//! behaviour every store shares, and the two-node races, are in `contract.rs`.

mod common;

use std::sync::Arc;

use common::*;
use herald_core::{
    DocumentStore, Epoch, HistoryQuery, HistoryStore, InboxError, InboxStore, NewNotifications, NotificationContent,
    Payload, Publication, PublisherInfo, ReadMark, ReadStateStore, StoreError,
};
use herald_store::{PostgresOptions, PostgresStore, check_schema_name};

fn all() -> HistoryQuery {
    HistoryQuery { limit: 100, ..Default::default() }
}

fn note(title: &str) -> NotificationContent {
    NotificationContent { kind: "k".into(), title: title.into(), body: "b".into(), data: "{}".into(), expires_at: None }
}

async fn connect_err(url: &str, opts: PostgresOptions) -> String {
    match PostgresStore::connect(url, opts).await {
        Ok(_) => panic!("connected to {url}"),
        Err(StoreError(message)) => message,
    }
}

#[tokio::test]
async fn reconnecting_keeps_streams_rows_marks_and_inboxes() {
    let schema = PgSchema::new("reconnect");
    let c = ch("chat:keep");
    let store = schema.open().await;
    let meta = store.stream_meta(&c).await.unwrap();
    let batch: Vec<_> = (1..=5).map(|o| (publication(&c, &meta.epoch, o), keep(100))).collect();
    store.append(&batch).await.unwrap();
    let read = ReadMark { epoch: meta.epoch.clone(), offset: 3, updated_ms: 7 };
    store.advance_read("u", &c, read.clone()).await.unwrap();
    let who = vec!["u".to_string()];
    let content = note("kept");
    let n = NewNotifications { users: &who, content: &content, dedupe_key: Some("d"), now_ms: 9, max_per_user: 5 };
    store.insert_notifications(n.clone()).await.unwrap();
    let d = ch("doc:keep");
    let s1 = store.append_document_update(&d, b"one").await.unwrap();
    store.compact_document(&d, b"snap", s1).await.unwrap();
    let s2 = store.append_document_update(&d, b"two").await.unwrap();
    store.close().await;
    assert!(store.read(&c, &all()).await.is_err(), "a closed store fails");
    store.close().await; // idempotent
    drop(store);

    // Connecting again finds the schema migrated and everything in it.
    let store = schema.open().await;
    let again = store.stream_meta(&c).await.unwrap();
    assert_eq!((again.epoch, again.top), (meta.epoch, 5));
    assert_eq!(store.read(&c, &all()).await.unwrap(), batch.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
    assert_eq!(store.read_marks_of_user("u", 10).await.unwrap(), vec![(c.clone(), read)]);
    let retry = store.insert_notifications(n).await.unwrap();
    assert!(matches!(&retry[0], herald_core::Stored::Existing(x) if x.content == content && x.created_ms == 9));
    let doc = store.load_document(&d).await.unwrap();
    assert_eq!((doc.snapshot.as_deref(), doc.updates), (Some(&b"snap"[..]), vec![(s2, b"two".to_vec())]));
    assert!(store.append_document_update(&d, b"three").await.unwrap() > s2, "sequence numbers go on");
    let raw = schema.raw().await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&raw).await.unwrap();
    assert_eq!(applied, 3, "migrations are recorded in the store's own schema");
    raw.close().await;
    store.close().await;
}

#[tokio::test]
async fn schemas_are_isolated() {
    let (one, two) = (PgSchema::new("iso_one"), PgSchema::new("iso_two"));
    let (a, b) = (one.open().await, two.open().await);
    let c = ch("chat:same-name");
    assert_ne!(a.stream_meta(&c).await.unwrap().epoch, b.stream_meta(&c).await.unwrap().epoch);
    let who = vec!["u".to_string()];
    let content = note("only in one");
    let n = NewNotifications { users: &who, content: &content, dedupe_key: None, now_ms: 1, max_per_user: 5 };
    a.insert_notifications(n).await.unwrap();
    assert_eq!(a.unread_notifications("u", 0).await.unwrap(), 1);
    assert_eq!(b.unread_notifications("u", 0).await.unwrap(), 0);
    assert_eq!((a.schema(), b.schema()), (one.name.as_str(), two.name.as_str()));
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn schema_names_are_checked_before_connecting() {
    for bad in ["", "Herald", "1abc", "pg_herald", "a-b", "a b", "x\"; DROP SCHEMA public; --", &"a".repeat(64)] {
        assert!(check_schema_name(bad).is_err(), "{bad:?} accepted");
        // Port 1: nothing listens there, so the error can only come from the name check.
        let opts = PostgresOptions { schema: bad.to_string(), ..PostgresOptions::default() };
        assert!(
            connect_err("postgres://postgres@127.0.0.1:1/test", opts).await.contains("invalid PostgreSQL schema name")
        );
    }
    for good in ["herald", "_h", "herald_2", &"a".repeat(63)] {
        check_schema_name(good).unwrap();
    }
}

#[tokio::test]
async fn connection_errors_are_clear_and_never_show_the_password() {
    let opts = || PostgresOptions { schema: "herald".into(), ..PostgresOptions::default() };
    let down = connect_err("postgres://herald:s3cret-pw@127.0.0.1:1/chatdb", opts()).await;
    assert!(down.contains("cannot connect to PostgreSQL at 127.0.0.1:1/chatdb"), "{down}");
    assert!(!down.contains("s3cret-pw"), "{down}");
    let bad = connect_err("mysql://herald:s3cret-pw@127.0.0.1/chatdb", opts()).await;
    assert!(bad.contains("invalid PostgreSQL url"), "{bad}");
    assert!(!bad.contains("s3cret-pw"), "{bad}");
    // A database that does not exist: the server's own words.
    let url = postgres_url().rsplit_once('/').map(|(base, _)| format!("{base}/herald_no_such_db")).unwrap();
    let missing = connect_err(&url, opts()).await;
    assert!(missing.contains("herald_no_such_db"), "{missing}");
}

#[tokio::test]
async fn a_corrupt_row_fails_the_read() {
    let schema = PgSchema::new("corrupt");
    let store = schema.open().await;
    let (c, e) = (ch("corrupt"), Epoch::generate());
    store.append(&[(publication(&c, &e, 1), keep(10)), (publication(&c, &e, 2), keep(10))]).await.unwrap();
    let raw = schema.raw().await;
    sqlx::query("UPDATE publications SET data = '{not json' WHERE \"offset\" = 2").execute(&raw).await.unwrap();
    raw.close().await;
    assert!(store.read(&c, &all()).await.is_err());
    assert_eq!(offsets(&store.read(&c, &HistoryQuery { limit: 1, ..Default::default() }).await.unwrap()), [1]);
    store.close().await;
}

/// PostgreSQL text cannot hold NUL. Client strings riding in a publication
/// (publisher, idempotency key) are stored as bytes, so one odd key never
/// fails a group commit; notification text with NUL is refused with an
/// error that says why, and nothing is stored.
#[tokio::test]
async fn nul_characters_never_fail_a_batch_of_publications() {
    let schema = PgSchema::new("nul");
    let store = Arc::new(schema.open().await);
    let (c, e) = (ch("nul:1"), Epoch::generate());
    let odd = Arc::new(Publication {
        channel: c.clone(),
        epoch: e.clone(),
        offset: 2,
        data: Payload::from_json_text(r#"{"t":"\u0000"}"#.to_string()).unwrap(),
        time_ms: 5,
        publisher: Some(PublisherInfo { client: Arc::from("c\0lient"), user: Some(Arc::from("u\0ser")) }),
        idempotency_key: Some(Arc::from("key\0with-nul")),
    });
    let batch = [(publication(&c, &e, 1), keep(10)), (odd.clone(), keep(10)), (publication(&c, &e, 3), keep(10))];
    store.append(&batch).await.unwrap();
    let read = store.read(&c, &all()).await.unwrap();
    assert_eq!(offsets(&read), [1, 2, 3]);
    assert_eq!(read[1], odd, "round-trips byte for byte");

    let who = vec!["a".to_string(), "b\0".to_string()];
    let content = note("hello");
    let n = NewNotifications { users: &who, content: &content, dedupe_key: None, now_ms: 1, max_per_user: 5 };
    match store.insert_notifications(n).await {
        Err(InboxError::Store(StoreError(m))) => assert!(m.contains("NUL"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.unread_notifications("a", 0).await.unwrap(), 0, "all or nothing");
    let title = note("t\0itle");
    let who = vec!["a".to_string()];
    let n = NewNotifications { users: &who, content: &title, dedupe_key: None, now_ms: 1, max_per_user: 5 };
    assert!(
        matches!(store.insert_notifications(n).await, Err(InboxError::Store(StoreError(m))) if m.contains("title"))
    );
    let mark = ReadMark { epoch: e, offset: 1, updated_ms: 1 };
    assert!(store.advance_read("u\0", &c, mark).await.unwrap_err().0.contains("NUL"));
    store.close().await;
}

/// PostgreSQL dropping every connection (a restart, a failover, an admin)
/// costs no state and needs no restart of Herald: the pool checks a
/// connection before handing it out and opens a new one.
#[tokio::test]
async fn the_store_carries_on_after_postgres_drops_its_connections() {
    let schema = PgSchema::new("dropped");
    let store = schema.open().await;
    let (c, e) = (ch("drop:1"), Epoch::generate());
    store.append(&[(publication(&c, &e, 1), keep(10))]).await.unwrap();
    let raw = schema.raw().await;
    let killed: Vec<bool> =
        sqlx::query_scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
            .bind(format!("herald:{}", schema.name))
            .fetch_all(&raw)
            .await
            .unwrap();
    assert!(!killed.is_empty() && killed.iter().all(|k| *k), "the store's connections were terminated");
    // Terminating is a signal: wait until the backends are gone.
    for _ in 0..100 {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(format!("herald:{}", schema.name))
            .fetch_one(&raw)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    raw.close().await;
    store.append(&[(publication(&c, &e, 2), keep(10))]).await.unwrap();
    assert_eq!(offsets(&store.read(&c, &all()).await.unwrap()), [1, 2]);
    store.close().await;
}

/// A lock held elsewhere (a stuck session, an operator's transaction) fails
/// an append after `statement_timeout` instead of stalling the broker's
/// writer for good; once it is released, appends go through again.
#[tokio::test]
async fn a_stuck_lock_fails_an_append_after_the_statement_timeout() {
    let schema = PgSchema::new("stuck");
    let opts = PostgresOptions { statement_timeout: std::time::Duration::from_millis(500), ..schema.options() };
    let store = PostgresStore::connect(&postgres_url(), opts).await.unwrap();
    let (c, e) = (ch("stuck:1"), Epoch::generate());
    store.append(&[(publication(&c, &e, 1), keep(10))]).await.unwrap();
    let raw = schema.raw().await;
    let mut blocker = raw.begin().await.unwrap();
    sqlx::query("SELECT top FROM streams WHERE channel = $1 FOR UPDATE")
        .bind(c.as_str())
        .execute(&mut *blocker)
        .await
        .unwrap();
    // The outer timeout only keeps a broken build from hanging the test run.
    let stuck =
        tokio::time::timeout(std::time::Duration::from_secs(20), store.append(&[(publication(&c, &e, 2), keep(10))]))
            .await
            .expect("the append must be cancelled by PostgreSQL, not wait on the lock for ever");
    let err = stuck.expect_err("the append waited on the lock and was cancelled");
    assert!(err.0.contains("statement timeout"), "{err}");
    blocker.rollback().await.unwrap();
    store.append(&[(publication(&c, &e, 2), keep(10))]).await.unwrap();
    assert_eq!(offsets(&store.read(&c, &all()).await.unwrap()), [1, 2]);
    raw.close().await;
    store.close().await;
}

/// A lookup for a user id PostgreSQL could not hold finds nothing (such a
/// user cannot have stored state) instead of failing.
#[tokio::test]
async fn lookups_of_a_user_with_nul_find_nothing() {
    let schema = PgSchema::new("nul_lookup");
    let store = schema.open().await;
    let user = "no\0ra";
    assert!(store.read_marks_of_user(user, 10).await.unwrap().is_empty());
    assert!(store.list_notifications(user, None, 10, 0).await.unwrap().is_empty());
    assert_eq!(store.unread_notifications(user, 0).await.unwrap(), 0);
    assert!(!store.mark_notification_read(user, 1).await.unwrap());
    store.mark_all_notifications_read(user).await.unwrap();
    assert!(!store.delete_notification(user, 1).await.unwrap());
    store.close().await;
}
