//! `HistoryStore` cases: streams, append, read, trim, expiry, atomic
//! batches, racing stream creation, and a differential run against
//! `MemoryStore`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Backend;
use crate::common::*;
use herald_core::{Direction, Epoch, HistoryQuery, HistoryStore, MemoryStore, Publication, Retention};

fn forward(since: Option<u64>, limit: usize) -> HistoryQuery {
    HistoryQuery { since, before: None, limit, direction: Direction::Forward }
}

fn backward(before: Option<u64>, limit: usize) -> HistoryQuery {
    HistoryQuery { since: None, before, limit, direction: Direction::Backward }
}

pub async fn stream_meta_is_created_once<S: Backend>(store: Arc<S>) {
    let a = store.stream_meta(&ch("chat:a")).await.unwrap();
    assert_eq!(a.top, 0);
    assert_eq!(store.stream_meta(&ch("chat:a")).await.unwrap(), a);
    let b = store.stream_meta(&ch("chat:b")).await.unwrap();
    assert_ne!(a.epoch, b.epoch, "each stream gets its own epoch");
    assert!(store.read(&ch("chat:a"), &forward(None, 10)).await.unwrap().is_empty());
}

pub async fn append_then_read_both_ways<S: Backend>(store: Arc<S>) {
    let c = ch("chat:read");
    let epoch = store.stream_meta(&c).await.unwrap().epoch;
    let pubs: Vec<_> = (1..=10).map(|o| publication(&c, &epoch, o)).collect();
    let batch: Vec<_> = pubs.iter().map(|p| (p.clone(), keep(100))).collect();
    store.append(&batch[..4]).await.unwrap();
    store.append(&batch[4..]).await.unwrap();
    assert_eq!(store.stream_meta(&c).await.unwrap().top, 10);
    assert_eq!(store.stream_meta(&c).await.unwrap().epoch, epoch);

    let all = store.read(&c, &forward(None, 100)).await.unwrap();
    assert_eq!(all, pubs, "every field round-trips");
    assert_eq!(offsets(&store.read(&c, &forward(Some(3), 4)).await.unwrap()), [4, 5, 6, 7]);
    assert_eq!(offsets(&store.read(&c, &forward(Some(10), 4)).await.unwrap()), Vec::<u64>::new());
    assert_eq!(offsets(&store.read(&c, &backward(None, 3)).await.unwrap()), [10, 9, 8]);
    assert_eq!(offsets(&store.read(&c, &backward(Some(5), 10)).await.unwrap()), [4, 3, 2, 1]);
    assert_eq!(offsets(&store.read(&c, &backward(Some(u64::MAX), 2)).await.unwrap()), [10, 9]);
    assert!(store.read(&c, &forward(None, 0)).await.unwrap().is_empty());
    assert!(store.read(&ch("chat:other"), &forward(None, 10)).await.unwrap().is_empty());
}

pub async fn append_creates_a_missing_stream_with_the_publication_epoch<S: Backend>(store: Arc<S>) {
    let c = ch("implicit");
    let epoch = Epoch::from_string("fromPub1");
    store.append(&[(publication(&c, &epoch, 7), keep(10))]).await.unwrap();
    let meta = store.stream_meta(&c).await.unwrap();
    assert_eq!((meta.epoch, meta.top), (epoch, 7));
}

pub async fn history_is_trimmed_to_its_size<S: Backend>(store: Arc<S>) {
    let (c, e) = (ch("trim:a"), Epoch::generate());
    for o in 1..=12 {
        store.append(&[(publication(&c, &e, o), keep(5))]).await.unwrap();
    }
    assert_eq!(offsets(&store.read(&c, &forward(None, 100)).await.unwrap()), [8, 9, 10, 11, 12]);

    // Within one batch too, and a smaller size applies at once.
    let batch: Vec<_> = (13..=20).map(|o| (publication(&c, &e, o), keep(3))).collect();
    store.append(&batch).await.unwrap();
    assert_eq!(offsets(&store.read(&c, &forward(None, 100)).await.unwrap()), [18, 19, 20]);

    // Size 0 keeps nothing but still advances the top.
    let z = ch("trim:zero");
    store.append(&[(publication(&z, &e, 1), keep(0)), (publication(&z, &e, 2), keep(0))]).await.unwrap();
    assert!(store.read(&z, &forward(None, 100)).await.unwrap().is_empty());
    assert_eq!(store.stream_meta(&z).await.unwrap().top, 2);
    store.append(&[(publication(&c, &e, 21), keep(0))]).await.unwrap();
    assert!(store.read(&c, &forward(None, 100)).await.unwrap().is_empty());
    assert_eq!(store.stream_meta(&c).await.unwrap().top, 21);
}

pub async fn expired_publications_are_hidden_then_removed<S: Backend>(store: Arc<S>) {
    let (c, e) = (ch("ttl:a"), Epoch::generate());
    let now = herald_core::now_ms();
    let ttl = Duration::from_secs(5);
    let batch = vec![
        (publication_at(&c, &e, 1, now - 10_000), keep_for(100, ttl)), // expired
        (publication_at(&c, &e, 2, now - 6_000), keep_for(100, ttl)),  // expired
        (publication_at(&c, &e, 3, now), keep_for(100, ttl)),          // live for 5 s
        (publication_at(&c, &e, 4, now - 60_000), keep(100)),          // no ttl: forever
    ];
    store.append(&batch).await.unwrap();
    assert_eq!(offsets(&store.read(&c, &forward(None, 100)).await.unwrap()), [3, 4]);
    assert_eq!(offsets(&store.read(&c, &backward(None, 1)).await.unwrap()), [4]);
    assert_eq!(offsets(&store.read(&c, &forward(None, 1)).await.unwrap()), [3], "limit counts live rows only");

    assert_eq!(store.remove_expired(now).await.unwrap(), 2);
    assert_eq!(store.remove_expired(now).await.unwrap(), 0);
    assert_eq!(store.remove_expired(now + 5_000).await.unwrap(), 1, "expiry is inclusive");
    assert_eq!(store.remove_expired(u64::MAX).await.unwrap(), 0, "rows without ttl stay");
    assert_eq!(store.stream_meta(&c).await.unwrap().top, 4);
}

pub async fn expiry_removes_large_backlogs_in_chunks<S: Backend>(store: Arc<S>) {
    let (c, e) = (ch("ttl:many"), Epoch::generate());
    let batch: Vec<_> =
        (1..=4500).map(|o| (publication_at(&c, &e, o, 1_000), keep_for(10_000, Duration::from_secs(1)))).collect();
    store.append(&batch).await.unwrap();
    assert_eq!(store.remove_expired(2_000).await.unwrap(), 4500);
}

pub async fn a_batch_of_500_across_3_channels_is_one_call<S: Backend>(store: Arc<S>) {
    let chans = [ch("b:one"), ch("b:two"), ch("b:three")];
    let mut epochs = Vec::new();
    for c in &chans {
        epochs.push(store.stream_meta(c).await.unwrap().epoch);
    }
    let mut next = [0u64; 3];
    let batch: Vec<_> = (0..500)
        .map(|i| {
            let k = i % 3;
            next[k] += 1;
            (publication(&chans[k], &epochs[k], next[k]), keep(1000))
        })
        .collect();
    let started = Instant::now();
    store.append(&batch).await.unwrap();
    eprintln!("500 publications in one append: {:?}", started.elapsed());
    for (k, c) in chans.iter().enumerate() {
        assert_eq!(store.stream_meta(c).await.unwrap().top, next[k]);
        let read = store.read(c, &forward(None, 1000)).await.unwrap();
        assert_eq!(offsets(&read), (1..=next[k]).collect::<Vec<_>>());
    }
    assert_eq!(next.iter().sum::<u64>(), 500);
}

pub async fn a_failing_batch_changes_nothing<S: Backend>(store: Arc<S>) {
    let (a, b, e) = (ch("atomic:a"), ch("atomic:b"), Epoch::generate());
    store.append(&[(publication(&a, &e, 1), keep(10))]).await.unwrap();
    // b's rows are fine, but a's offset 1 is already stored.
    let bad = vec![
        (publication(&b, &e, 1), keep(10)),
        (publication(&a, &e, 2), keep(10)),
        (publication(&a, &e, 1), keep(10)),
    ];
    assert!(store.append(&bad).await.is_err());
    assert_eq!(store.stream_meta(&a).await.unwrap().top, 1);
    assert_eq!(offsets(&store.read(&a, &forward(None, 10)).await.unwrap()), [1]);
    assert!(store.read(&b, &forward(None, 10)).await.unwrap().is_empty());
    assert_ne!(store.stream_meta(&b).await.unwrap().epoch, e, "b was never created by the failed batch");
    // The store is usable afterwards.
    store.append(&[(publication(&a, &e, 2), keep(10))]).await.unwrap();
    assert_eq!(store.stream_meta(&a).await.unwrap().top, 2);
}

pub async fn concurrent_stream_meta_callers_get_one_epoch<S: Backend>(store: Arc<S>) {
    for round in 0..5 {
        let c = ch(&format!("race:{round}"));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (store, c) = (store.clone(), c.clone());
                tokio::spawn(async move { store.stream_meta(&c).await.unwrap() })
            })
            .collect();
        let mut metas = Vec::new();
        for t in tasks {
            metas.push(t.await.unwrap());
        }
        assert!(metas.iter().all(|m| *m == metas[0]), "round {round}: {metas:?}");
    }
}

/// A small deterministic generator (no rand dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

pub async fn answers_like_the_memory_store<S: Backend>(sql: Arc<S>) {
    let mem = MemoryStore::new();
    let chans = [ch("d:a"), ch("d:b"), ch("d:c")];
    let mut epochs = Vec::new();
    for c in &chans {
        // The memory store creates each stream from its first publication's epoch.
        epochs.push(sql.stream_meta(c).await.unwrap().epoch);
    }
    let mut rng = Lcg(42);
    let mut tops = [0u64; 3];
    for _ in 0..60 {
        let n = rng.next(20) as usize;
        let mut batch: Vec<(Arc<Publication>, Retention)> = Vec::new();
        for _ in 0..n {
            let k = rng.next(3) as usize;
            tops[k] += 1;
            let size = [0, 1, 5, 30][rng.next(4) as usize];
            batch.push((publication(&chans[k], &epochs[k], tops[k]), keep(size)));
        }
        sql.append(&batch).await.unwrap();
        mem.append(&batch).await.unwrap();
        for (k, c) in chans.iter().enumerate() {
            let q = match rng.next(2) {
                0 => forward((rng.next(3) > 0).then(|| rng.next(tops[k] + 2)), rng.next(40) as usize),
                _ => backward((rng.next(3) > 0).then(|| rng.next(tops[k] + 2)), rng.next(40) as usize),
            };
            let (s, m) = (sql.read(c, &q).await.unwrap(), mem.read(c, &q).await.unwrap());
            assert_eq!(offsets(&s), offsets(&m), "{c} {q:?}");
            assert_eq!(s, m);
            assert_eq!(sql.stream_meta(c).await.unwrap().top, tops[k]);
            assert_eq!(mem.stream_meta(c).await.unwrap().top, tops[k]);
        }
    }
}
