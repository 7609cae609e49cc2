//! Page views, counted in memory and written in one batch per second.
//!
//! A view is a read: making it a write per request would serialize every visit to a popular
//! link on that link's row. Counts are added to the row by [`flush`] (every second, and at
//! shutdown); until then this process adds its pending count to what it shows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use paylink_domain::id::PaymentLinkId;
use paylink_store::Store;

#[derive(Default)]
pub struct Views(Mutex<HashMap<PaymentLinkId, i64>>);

impl Views {
    pub fn add(&self, id: &PaymentLinkId) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(id.clone()).or_insert(0) += 1;
        }
    }

    /// Views of `id` counted here and not yet written.
    pub fn pending(&self, id: &PaymentLinkId) -> i64 {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(id).copied())
            .unwrap_or(0)
    }

    fn take(&self) -> Vec<(PaymentLinkId, i64)> {
        self.0
            .lock()
            .map(|mut m| m.drain().collect())
            .unwrap_or_default()
    }

    /// Puts counts back after a failed write, so none is lost.
    fn restore(&self, batch: Vec<(PaymentLinkId, i64)>) {
        if let Ok(mut m) = self.0.lock() {
            for (id, n) in batch {
                *m.entry(id).or_insert(0) += n;
            }
        }
    }

    pub async fn flush(&self, store: &dyn Store) {
        let batch = self.take();
        if let Err(e) = store.add_views(&batch).await {
            tracing::warn!(error = %e, "writing page views failed; keeping them for the next flush");
            self.restore(batch);
        }
    }
}

/// Flushes every second until `shutdown`, then once more.
pub async fn run(
    views: std::sync::Arc<Views>,
    store: std::sync::Arc<dyn Store>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => views.flush(store.as_ref()).await,
        }
    }
    views.flush(store.as_ref()).await;
}
