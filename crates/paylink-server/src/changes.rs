//! Caches across instances. Every instance keeps links' pages, merchants' settings and
//! resolved API keys for `public_cache_ms`; a change made through one instance drops them
//! there at once, and here it is announced to the others (PostgreSQL NOTIFY), which drop
//! theirs when they hear it. The timed cache stays as the backstop for an announcement
//! lost with a connection (and the feed says when that may have happened).
//!
//! Announcements are coalesced: a write only wakes the announcer, which sends one NOTIFY
//! for however many writes came while it was sending the last, so a burst of writes costs
//! the database a statement per round trip, not one per write, and no request waits for it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// Marks that a merchant's data changed through this instance (the announcer tells the
/// others).
pub fn changed(state: &AppState) {
    state.changed.notify_one();
}

/// Announces this instance's changes and hears the others' until `shutdown`. Returns at
/// once where there are no others (SQLite).
pub async fn run(state: AppState, shutdown: CancellationToken) {
    let feed = match state.store.watch_changes().await {
        Ok(Some(feed)) => feed,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "listening for other instances' changes failed; caches expire on their own");
            return;
        }
    };
    let announcing = tokio::spawn(announce(state.clone(), shutdown.clone()));
    hear(state, feed, shutdown).await;
    let _ = announcing.await;
}

async fn announce(state: AppState, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = state.changed.notified() => {}
        }
        if let Err(e) = state.store.announce_change().await {
            tracing::warn!(error = %e, "telling other instances of a change failed");
        }
    }
}

async fn hear(
    state: AppState,
    mut feed: Box<dyn paylink_store::ChangeFeed>,
    shutdown: CancellationToken,
) {
    loop {
        let heard = tokio::select! {
            _ = shutdown.cancelled() => return,
            heard = feed.next() => heard,
        };
        match heard {
            // Its own announcement: this instance dropped what changed when it changed it.
            Ok(false) => {}
            // Another's, or possibly missed: nothing cached can be trusted.
            Ok(true) => state.forget_everything(),
            Err(e) => {
                state.forget_everything();
                tracing::warn!(error = %e, "the change feed failed; listening again in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
