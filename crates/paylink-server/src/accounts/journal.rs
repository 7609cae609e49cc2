//! The audit log's writer. Entries are queued by the request that made them and written in
//! batches (up to 10 ms of them) by one task, off the request's path: a link created costs
//! its answer no audit round trip, and a burst of writes costs the database one statement
//! per batch instead of one per entry (per-entry writes cost link creation a third of its
//! rate).
//!
//! Reading the log first waits for everything this process queued before (`flush`), so a
//! client reads its own writes; a clean shutdown flushes too. What a crash loses is the
//! entries of the last few milliseconds' answers: the actions themselves are committed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use paylink_store::{AuditEntry, Store};

/// The most entries written in one transaction.
const BATCH: usize = 256;

/// How long a batch stays open for more after its first entry. Without it, under load the
/// writer took entries one or two at a time, as fast as they came: a statement for nearly
/// every write, which cost PostgreSQL a fifth of link creation's rate. Open 10 ms, a batch
/// takes in all of them.
const LINGER: std::time::Duration = std::time::Duration::from_millis(10);

pub struct Journal {
    queue: mpsc::UnboundedSender<Vec<AuditEntry>>,
    /// Entries queued so far, and written so far (as the writer reports them).
    queued: AtomicU64,
    written: watch::Receiver<u64>,
}

impl Journal {
    /// Starts the writer on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        let (done, written) = watch::channel(0);
        tokio::spawn(write(store, rx, done));
        Self {
            queue,
            queued: AtomicU64::new(0),
            written,
        }
    }

    /// Queues entries; they are written within milliseconds.
    pub fn append(&self, entries: Vec<AuditEntry>) {
        let n = entries.len() as u64;
        if self.queue.send(entries).is_ok() {
            self.queued.fetch_add(n, Ordering::SeqCst);
        }
    }

    /// Waits until every entry queued before this call is written (or failed and logged).
    pub async fn flush(&self) {
        let target = self.queued.load(Ordering::SeqCst);
        let mut written = self.written.clone();
        let _ = written.wait_for(|w| *w >= target).await;
    }
}

async fn write(
    store: Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Vec<AuditEntry>>,
    done: watch::Sender<u64>,
) {
    let mut written = 0u64;
    while let Some(first) = rx.recv().await {
        let mut batch = first;
        let closes = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(closes, rx.recv()).await {
                Ok(Some(more)) => batch.extend(more),
                // Closed (the process is stopping), or the batch's time is up.
                Ok(None) | Err(_) => break,
            }
        }
        let mut result = store.append_audit(&batch).await;
        if result.is_err() {
            // Once more, after a moment: a connection may have been lost under it.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            result = store.append_audit(&batch).await;
        }
        if let Err(e) = result {
            tracing::error!(error = %e, entries = batch.len(), "writing the audit log failed");
        }
        written += batch.len() as u64;
        done.send_replace(written);
    }
}
