//! The background worker: periodic jobs that keep the database tidy and, as features land,
//! deliver what the outbox holds. It runs inside `paylink serve` unless `--no-worker`, or
//! alone as `paylink worker`; every job is safe to run from several processes at once.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use paylink_domain::time::Timestamp;
use paylink_store::Store;

/// How long idempotency keys are kept (the contract asks for at least 24 hours).
pub const IDEMPOTENCY_RETENTION_SECS: i64 = 24 * 3600;

mod stuck;

pub struct WorkerConfig {
    /// Time between two rounds of the periodic jobs.
    pub tick: Duration,
    /// Time between two looks for due webhook deliveries.
    pub poll: Duration,
    pub deliverer: Arc<crate::webhooks::deliver::Deliverer>,
    /// Sends the e-mail outbox, when SMTP is configured.
    pub mailer: Option<Arc<crate::email::Mailer>>,
    /// What settling a payment needs (the processor, the store, URLs): the server's own
    /// state when the worker runs inside `serve`.
    pub app: crate::state::AppState,
}

impl WorkerConfig {
    pub fn from_config(
        store: Arc<dyn Store>,
        config: &crate::config::Config,
    ) -> anyhow::Result<Self> {
        let app = crate::state::AppState::new(store.clone(), config.clone())?;
        Self::for_state(app, config)
    }

    /// The worker of a server with this state (it settles with the server's processor).
    pub fn for_state(
        app: crate::state::AppState,
        config: &crate::config::Config,
    ) -> anyhow::Result<Self> {
        let store = app.store.clone();
        Ok(Self {
            app,
            tick: Duration::from_millis(config.worker_tick_ms),
            poll: Duration::from_millis(config.webhook_poll_ms),
            deliverer: Arc::new(crate::webhooks::deliver::Deliverer::from_config(
                store, config,
            )?),
            mailer: crate::email::Mailer::from_config(config)?.map(Arc::new),
        })
    }
}

/// Runs the periodic jobs and webhook delivery until `shutdown`.
pub async fn run(store: Arc<dyn Store>, config: WorkerConfig, shutdown: CancellationToken) {
    tracing::info!(tick_ms = config.tick.as_millis() as u64, "worker started");
    let mut ticker = tokio::time::interval(config.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut poll = tokio::time::interval(config.poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => {
                // Link URLs in events: the state's (one public URL for the process).
                round(store.as_ref(), &config.app.public_url).await;
                match stuck::settle_all(&config.app).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(settled = n, "stuck payment attempts settled"),
                    Err(e) => tracing::warn!(error = %e, "settling stuck payment attempts failed"),
                }
                // Stripe payments nobody told us about, and ended sessions' PaymentIntents.
                match crate::stripe::reconcile::round(&config.app).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(closed = n, "Stripe payments reconciled"),
                    Err(e) => tracing::warn!(error = %e, "reconciling Stripe payments failed"),
                }
                // Subscriptions due: renewals, retries, trial notices, ends.
                match crate::subscriptions::renew_due(&config.app, 5_000).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(subscriptions = n, "due subscriptions run"),
                    Err(e) => tracing::warn!(error = %e, "running due subscriptions failed"),
                }
            }
            _ = poll.tick() => {
                // Keep going while there is a backlog.
                while config.deliverer.run_once().await == 32 && !shutdown.is_cancelled() {}
                if let Some(m) = &config.mailer {
                    m.run_once(&config.app).await;
                }
            }
        }
    }
    tracing::info!("worker stopped");
}

/// One round of every periodic job. Failures are logged and retried next round.
pub async fn round(store: &dyn Store, public_url: &str) {
    // Links past `expires_at` already read `expired`; here they announce it, once.
    match store
        .emit_expired_links(Timestamp::now(), 500, public_url)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(expired = n, "payment_link.expired emitted"),
        Err(e) => tracing::warn!(error = %e, "emitting payment_link.expired failed"),
    }
    // Checkouts past their time give their held uses and stock back.
    match store.expire_checkouts(Timestamp::now(), 500).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(expired = n, "checkout sessions expired"),
        Err(e) => tracing::warn!(error = %e, "expiring checkout sessions failed"),
    }
    let cutoff = Timestamp::now().plus_seconds(-IDEMPOTENCY_RETENTION_SECS);
    match store.purge_idempotency_keys(cutoff).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "expired idempotency keys purged"),
        Err(e) => tracing::warn!(error = %e, "purging idempotency keys failed"),
    }
}
