//! The conformance of claims across processes: two handles on one database.

use paylink_domain::time::Timestamp;

use crate::*;

/// A change announced through one handle is heard through another: on PostgreSQL by
/// LISTEN/NOTIFY; SQLite, served by one process, has no one else to tell.
pub async fn changes_reach_other_processes(a: &dyn Store, b: &dyn Store) {
    let Some(mut feed) = b.watch_changes().await.unwrap() else {
        assert_eq!(b.backend(), "sqlite", "only SQLite has no change feed");
        a.announce_change().await.unwrap();
        return;
    };
    // The listener's own announcement is told apart from another's.
    b.announce_change().await.unwrap();
    assert!(!feed.next().await.unwrap(), "its own announcement");
    a.announce_change().await.unwrap();
    assert!(feed.next().await.unwrap(), "another process's announcement");
    a.announce_change().await.unwrap();
    assert!(feed.next().await.unwrap(), "and the next one");
}

/// Claims name their process: `a` and `b` are two processes' handles on one database.
/// A claim in flight stays its owner's while the owner is seen, and is taken over at once
/// when the owner stops being seen or shuts down cleanly.
pub async fn claims_of_dead_processes(a: &dyn Store, b: &dyn Store) {
    let now = Timestamp::now();
    a.heartbeat(now).await.unwrap();
    b.heartbeat(now).await.unwrap();
    let t = IdempotencyScope::Client("127.0.0.9".parse().unwrap());
    assert!(matches!(
        a.idempotency_begin(&t, "k1", "fp", now).await.unwrap(),
        IdempotencyBegin::Started
    ));
    assert!(matches!(
        b.idempotency_begin(&t, "k1", "fp", now).await.unwrap(),
        IdempotencyBegin::InFlight
    ));
    // Its owner seen a moment ago: still in flight.
    let soon = now.plus_seconds(DEAD_AFTER_SECS - 1);
    assert!(matches!(
        b.idempotency_begin(&t, "k1", "fp", soon).await.unwrap(),
        IdempotencyBegin::InFlight
    ));
    // Unseen for longer than DEAD_AFTER_SECS (killed): taken over, long before the lock
    // would lapse.
    let later = now.plus_seconds(DEAD_AFTER_SECS + 1);
    b.heartbeat(later).await.unwrap();
    assert!(matches!(
        b.idempotency_begin(&t, "k1", "fp", later).await.unwrap(),
        IdempotencyBegin::Started
    ));
    // Now b's, and b is alive.
    assert!(matches!(
        a.idempotency_begin(&t, "k1", "fp", later).await.unwrap(),
        IdempotencyBegin::InFlight
    ));
    // A clean shutdown frees its claims at once.
    assert!(matches!(
        b.idempotency_begin(&t, "k2", "fp", later).await.unwrap(),
        IdempotencyBegin::Started
    ));
    b.retire().await.unwrap();
    a.heartbeat(later).await.unwrap();
    assert!(matches!(
        a.idempotency_begin(&t, "k2", "fp", later).await.unwrap(),
        IdempotencyBegin::Started
    ));
    // A finished answer is replayed whoever asks, dead owner or not.
    a.idempotency_finish(
        &t,
        "k2",
        &StoredResponse {
            status: 201,
            body: b"{}".to_vec(),
        },
    )
    .await
    .unwrap();
    a.retire().await.unwrap();
    assert!(matches!(
        b.idempotency_begin(&t, "k2", "fp", later).await.unwrap(),
        IdempotencyBegin::Replay(_)
    ));
}
