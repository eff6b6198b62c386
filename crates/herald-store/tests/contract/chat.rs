//! `ReadStateStore` and `InboxStore` cases: marks move only forward (or to
//! a new epoch), also when many writers race; inbox batches are all or
//! nothing, dedupe keys store one notification per user even when the same
//! request is retried concurrently, ids increase, pages are newest first,
//! and users never touch each other's notifications.

use std::sync::Arc;

use crate::Backend;
use crate::common::*;
use herald_core::{Epoch, InboxError, NewNotifications, NotificationContent, ReadMark, Stored};

fn mark(epoch: &str, offset: u64) -> ReadMark {
    ReadMark { epoch: Epoch::from_string(epoch), offset, updated_ms: offset }
}

pub fn content(title: &str) -> NotificationContent {
    NotificationContent {
        kind: "k".into(),
        title: title.into(),
        body: String::new(),
        data: "null".into(),
        expires_at: None,
    }
}

pub fn users(list: &[&str]) -> Vec<String> {
    list.iter().map(|u| u.to_string()).collect()
}

pub async fn read_marks_move_forward<S: Backend>(store: Arc<S>) {
    let c = ch("room:1");
    assert_eq!(store.advance_read("u", &c, mark("e1", 5)).await.unwrap(), (mark("e1", 5), true));
    assert_eq!(store.advance_read("u", &c, mark("e1", 3)).await.unwrap(), (mark("e1", 5), false));
    assert!(!store.advance_read("u", &c, mark("e1", 5)).await.unwrap().1);
    assert_eq!(store.advance_read("u", &c, mark("e1", 8)).await.unwrap(), (mark("e1", 8), true));
    // A new epoch replaces the mark even with a smaller offset.
    assert_eq!(store.advance_read("u", &c, mark("e2", 1)).await.unwrap(), (mark("e2", 1), true));
    store.advance_read("u", &ch("room:0"), mark("e", 2)).await.unwrap();
    store.advance_read("u", &ch("Room:9"), mark("e", 2)).await.unwrap();
    store.advance_read("v", &c, mark("e2", 1)).await.unwrap();
    store.advance_read("w", &c, mark("e2", 9)).await.unwrap();
    // By channel name, byte order (upper case first), whatever the database's locale.
    let of_user = store.read_marks_of_user("u", 10).await.unwrap();
    let names: Vec<_> = of_user.iter().map(|(c, _)| c.as_str().to_string()).collect();
    assert_eq!(names, ["Room:9", "room:0", "room:1"]);
    assert_eq!(of_user[2].1, mark("e2", 1));
    assert_eq!(store.read_marks_of_user("u", 1).await.unwrap().len(), 1);
    assert!(store.read_marks_of_user("nobody", 10).await.unwrap().is_empty());
    // Most recently updated first, then by user.
    let of_channel = store.read_marks_of_channel(&c, 10).await.unwrap();
    let who: Vec<_> = of_channel.iter().map(|(u, m)| (u.as_str(), m.offset)).collect();
    assert_eq!(who, [("w", 9), ("u", 1), ("v", 1)]);
    assert_eq!(store.read_marks_of_channel(&c, 2).await.unwrap().len(), 2);
}

/// Many writers (tasks here; nodes in `tests/postgres.rs`) marking the same
/// channel with offsets in a scrambled order: the stored mark ends at the
/// largest, and no answer is ever below the offset asked for.
pub async fn read_marks_keep_the_largest_under_concurrent_writers<S: Backend>(store: Arc<S>) {
    race_read_marks(&[store.clone(), store]).await;
}

/// Shared with the two-node test: `stores` may be several handles on one database.
pub async fn race_read_marks<S: Backend>(stores: &[Arc<S>]) {
    let c = ch("race:marks");
    let mut order: Vec<u64> = (1..=120).collect();
    // A fixed shuffle: every writer gets a spread of small and large offsets.
    for i in (1..order.len()).rev() {
        order.swap(i, (i * 7919 + 13) % (i + 1));
    }
    let tasks: Vec<_> = order
        .into_iter()
        .enumerate()
        .map(|(i, offset)| {
            let (store, c) = (stores[i % stores.len()].clone(), c.clone());
            tokio::spawn(async move {
                let (stored, moved) = store.advance_read("racer", &c, mark("e", offset)).await.unwrap();
                assert!(stored.offset >= offset, "asked {offset}, answered {stored:?}");
                (offset, moved)
            })
        })
        .collect();
    let mut moved = Vec::new();
    for t in tasks {
        let (offset, m) = t.await.unwrap();
        if m {
            moved.push(offset);
        }
    }
    let final_mark = stores[0].read_marks_of_user("racer", 10).await.unwrap();
    assert_eq!(final_mark.len(), 1);
    assert_eq!(final_mark[0].1.offset, 120);
    assert!(moved.contains(&120), "the largest mark must have moved the stored one");
    // Every handle answers the same stored mark afterwards, and a stale mark moves nothing.
    for s in stores {
        assert_eq!(s.advance_read("racer", &c, mark("e", 1)).await.unwrap(), (mark("e", 120), false));
    }
}

pub async fn inbox_rules<S: Backend>(store: Arc<S>) {
    let new = |u: &'static [&'static str], c: &'static str, key: Option<&'static str>| (users(u), content(c), key);
    let insert = |(u, c, key): (Vec<String>, NotificationContent, Option<&'static str>)| {
        let store = store.clone();
        async move {
            store
                .insert_notifications(NewNotifications {
                    users: &u,
                    content: &c,
                    dedupe_key: key,
                    now_ms: 1,
                    max_per_user: 3,
                })
                .await
        }
    };
    let first = insert(new(&["a", "b"], "hello", Some("k1"))).await.unwrap();
    let Stored::Created(a1) = &first[0] else { panic!("not created") };
    assert_eq!((a1.user.as_str(), a1.dedupe_key.as_deref(), a1.read), ("a", Some("k1"), false));
    // Same key and content: the existing notification.
    let again = insert(new(&["a"], "hello", Some("k1"))).await.unwrap();
    assert_eq!(again, vec![Stored::Existing(a1.clone())]);
    // Same key, other content, for a batch whose first user is new: nothing stored.
    let err = insert(new(&["0", "a"], "changed", Some("k1"))).await.unwrap_err();
    assert!(matches!(err, InboxError::Conflict { ref user } if user == "a"), "{err:?}");
    assert!(store.list_notifications("0", None, 10, 0).await.unwrap().is_empty());
    // A mixed batch: existing for one user, created for the other, in the order asked.
    let mixed = insert(new(&["c", "a"], "hello", Some("k1"))).await.unwrap();
    assert!(matches!(&mixed[0], Stored::Created(n) if n.user == "c"), "{mixed:?}");
    assert_eq!(mixed[1], Stored::Existing(a1.clone()));
    store
        .delete_notification(
            "c",
            match &mixed[0] {
                Stored::Created(n) => n.id,
                _ => 0,
            },
        )
        .await
        .unwrap();
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
    assert!(store.list_notifications("a", None, 1, 0).await.unwrap()[0].read);
    assert!(store.delete_notification("a", list[1].id).await.unwrap());
    assert!(!store.delete_notification("a", list[1].id).await.unwrap(), "deleted once");
    assert_eq!(store.unread_notifications("a", 0).await.unwrap(), 1);
    store.mark_all_notifications_read("a").await.unwrap();
    assert_eq!(store.unread_notifications("a", 0).await.unwrap(), 0);
    assert_eq!(store.unread_notifications("b", 0).await.unwrap(), 1);
    // Expiry hides, then removes.
    let mut soon = content("soon");
    soon.expires_at = Some(10);
    soon.data = r#"{"a":1,"b":"é"}"#.into();
    let u = users(&["c"]);
    let n = NewNotifications { users: &u, content: &soon, dedupe_key: None, now_ms: 1, max_per_user: 3 };
    store.insert_notifications(n).await.unwrap();
    assert_eq!(store.list_notifications("c", None, 10, 5).await.unwrap()[0].content, soon, "content round-trips");
    assert_eq!(store.unread_notifications("c", 5).await.unwrap(), 1);
    assert_eq!(store.unread_notifications("c", 10).await.unwrap(), 0);
    assert!(store.list_notifications("c", None, 10, 10).await.unwrap().is_empty());
    assert_eq!(store.remove_expired_notifications(10).await.unwrap(), 1);
}

pub async fn notification_ids_increase_and_pages_are_newest_first<S: Backend>(store: Arc<S>) {
    let who = users(&["p", "q"]);
    let mut ids = Vec::new();
    for i in 0..7 {
        let c = content(&format!("t{i}"));
        let n = NewNotifications { users: &who, content: &c, dedupe_key: None, now_ms: 100 + i, max_per_user: 100 };
        for s in store.insert_notifications(n).await.unwrap() {
            let Stored::Created(n) = s else { panic!("not created") };
            ids.push(n.id);
        }
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    // Page through p's inbox three at a time.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.list_notifications("p", before, 3, 0).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        before = page.last().map(|n| n.id);
        seen.extend(page.into_iter().map(|n| (n.content.title, n.created_ms)));
    }
    let expected: Vec<_> = (0..7u64).rev().map(|i| (format!("t{i}"), 100 + i)).collect();
    assert_eq!(seen, expected);
}

/// The same request (same users, key and content) sent many times at once:
/// each user ends up with one notification, every answer names it, and the
/// same key with other content is refused while it exists.
pub async fn concurrent_identical_notifications_store_one<S: Backend>(store: Arc<S>) {
    race_identical_notifications(&[store.clone(), store]).await;
}

/// Shared with the two-node test.
pub async fn race_identical_notifications<S: Backend>(stores: &[Arc<S>]) {
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            tokio::spawn(async move {
                // Users in varying order: the store must not deadlock on them.
                let who = if i % 2 == 0 { users(&["x", "y", "z"]) } else { users(&["z", "y", "x"]) };
                let c = content("deploy done");
                let n = NewNotifications {
                    users: &who,
                    content: &c,
                    dedupe_key: Some("deploy-1"),
                    now_ms: 5,
                    max_per_user: 10,
                };
                let out = store.insert_notifications(n).await.unwrap();
                who.into_iter().zip(out).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut created = 0;
    let mut ids: std::collections::HashMap<String, std::collections::HashSet<u64>> = Default::default();
    for t in tasks {
        for (user, s) in t.await.unwrap() {
            let n = match s {
                Stored::Created(n) => {
                    created += 1;
                    n
                }
                Stored::Existing(n) => n,
            };
            assert_eq!(n.user, user);
            ids.entry(user).or_default().insert(n.id);
        }
    }
    assert_eq!(created, 3, "one notification created per user");
    assert!(ids.values().all(|s| s.len() == 1), "every answer names the same notification: {ids:?}");
    for u in ["x", "y", "z"] {
        assert_eq!(stores[0].list_notifications(u, None, 10, 0).await.unwrap().len(), 1);
        assert_eq!(stores[stores.len() - 1].unread_notifications(u, 0).await.unwrap(), 1);
    }
    let who = users(&["w", "x"]);
    let other = content("something else");
    let n =
        NewNotifications { users: &who, content: &other, dedupe_key: Some("deploy-1"), now_ms: 6, max_per_user: 10 };
    assert!(matches!(stores[0].insert_notifications(n).await, Err(InboxError::Conflict { .. })));
    assert!(stores[0].list_notifications("w", None, 10, 0).await.unwrap().is_empty());
}
