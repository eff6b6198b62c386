//! `SqliteStore` as a `ReadStateStore` and an `InboxStore`, checked against
//! `MemoryStore` with the same calls: marks move only forward (or to a new
//! epoch), inbox batches are all or nothing, and users never touch each
//! other's notifications.

mod common;

use common::*;
use herald_core::{
    Epoch, InboxError, InboxStore, MemoryStore, NewNotifications, NotificationContent, ReadMark, ReadStateStore, Stored,
};

fn mark(epoch: &str, offset: u64) -> ReadMark {
    ReadMark { epoch: Epoch::from_string(epoch), offset, updated_ms: offset }
}

fn content(title: &str) -> NotificationContent {
    NotificationContent {
        kind: "k".into(),
        title: title.into(),
        body: String::new(),
        data: "null".into(),
        expires_at: None,
    }
}

fn users(list: &[&str]) -> Vec<String> {
    list.iter().map(|u| u.to_string()).collect()
}

async fn read_marks_move_forward(store: &dyn ReadStateStore) {
    let c = ch("room:1");
    assert_eq!(store.advance_read("u", &c, mark("e1", 5)).await.unwrap(), (mark("e1", 5), true));
    assert_eq!(store.advance_read("u", &c, mark("e1", 3)).await.unwrap(), (mark("e1", 5), false));
    assert!(!store.advance_read("u", &c, mark("e1", 5)).await.unwrap().1);
    assert_eq!(store.advance_read("u", &c, mark("e1", 8)).await.unwrap(), (mark("e1", 8), true));
    // A new epoch replaces the mark even with a smaller offset.
    assert_eq!(store.advance_read("u", &c, mark("e2", 1)).await.unwrap(), (mark("e2", 1), true));
    store.advance_read("u", &ch("room:0"), mark("e", 2)).await.unwrap();
    store.advance_read("v", &c, mark("e2", 1)).await.unwrap();
    let of_user = store.read_marks_of_user("u", 10).await.unwrap();
    let names: Vec<_> = of_user.iter().map(|(c, _)| c.as_str().to_string()).collect();
    assert_eq!(names, ["room:0", "room:1"]);
    assert_eq!(store.read_marks_of_user("u", 1).await.unwrap().len(), 1);
    assert_eq!(store.read_marks_of_channel(&c, 10).await.unwrap().len(), 2);
}

async fn inbox_rules(store: &dyn InboxStore) {
    let new = |u: &'static [&'static str], c: &'static str, key: Option<&'static str>| (users(u), content(c), key);
    let insert = |(u, c, key): (Vec<String>, NotificationContent, Option<&'static str>)| async move {
        store
            .insert_notifications(NewNotifications {
                users: &u,
                content: &c,
                dedupe_key: key,
                now_ms: 1,
                max_per_user: 3,
            })
            .await
    };
    let first = insert(new(&["a", "b"], "hello", Some("k1"))).await.unwrap();
    let Stored::Created(a1) = &first[0] else { panic!("not created") };
    // Same key and content: the existing notification.
    let again = insert(new(&["a"], "hello", Some("k1"))).await.unwrap();
    assert_eq!(again, vec![Stored::Existing(a1.clone())]);
    // Same key, other content, for a batch whose first user is new: nothing stored.
    let err = insert(new(&["0", "a"], "changed", Some("k1"))).await.unwrap_err();
    assert!(matches!(err, InboxError::Conflict { ref user } if user == "a"), "{err:?}");
    assert!(store.list_notifications("0", None, 10, 0).await.unwrap().is_empty());
    // Retention keeps the newest 3.
    for t in ["n1", "n2", "n3"] {
        insert(new(&["a"], t, None)).await.unwrap();
    }
    let list = store.list_notifications("a", None, 10, 0).await.unwrap();
    let titles: Vec<_> = list.iter().map(|n| n.content.title.as_str()).collect();
    assert_eq!(titles, ["n3", "n2", "n1"]);
    let page = store.list_notifications("a", Some(list[0].id), 1, 0).await.unwrap();
    assert_eq!(page[0].content.title, "n2");
    // Users only touch their own.
    assert!(!store.mark_notification_read("b", list[0].id).await.unwrap());
    assert!(!store.delete_notification("b", list[0].id).await.unwrap());
    assert_eq!(store.unread_notifications("a", 0).await.unwrap(), 3);
    assert!(store.mark_notification_read("a", list[0].id).await.unwrap());
    assert!(store.delete_notification("a", list[1].id).await.unwrap());
    assert_eq!(store.unread_notifications("a", 0).await.unwrap(), 1);
    store.mark_all_notifications_read("a").await.unwrap();
    assert_eq!(store.unread_notifications("a", 0).await.unwrap(), 0);
    assert_eq!(store.unread_notifications("b", 0).await.unwrap(), 1);
    // Expiry hides, then removes.
    let mut soon = content("soon");
    soon.expires_at = Some(10);
    let u = users(&["c"]);
    let n = NewNotifications { users: &u, content: &soon, dedupe_key: None, now_ms: 1, max_per_user: 3 };
    store.insert_notifications(n).await.unwrap();
    assert_eq!(store.unread_notifications("c", 5).await.unwrap(), 1);
    assert_eq!(store.unread_notifications("c", 10).await.unwrap(), 0);
    assert!(store.list_notifications("c", None, 10, 10).await.unwrap().is_empty());
    assert_eq!(store.remove_expired_notifications(10).await.unwrap(), 1);
}

#[tokio::test]
async fn sqlite_read_marks_move_forward_and_survive_a_reopen() {
    let dir = TempDir::new("reads");
    let store = open(&dir).await;
    read_marks_move_forward(&store).await;
    herald_core::HistoryStore::close(&store).await;
    let store = open(&dir).await;
    assert_eq!(store.read_marks_of_user("u", 10).await.unwrap()[1].1, mark("e2", 1));
}

#[tokio::test]
async fn memory_read_marks_move_forward() {
    read_marks_move_forward(&MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_inbox_rules() {
    let dir = TempDir::new("inbox");
    inbox_rules(&open(&dir).await).await;
}

#[tokio::test]
async fn memory_inbox_rules() {
    inbox_rules(&MemoryStore::new()).await;
}
