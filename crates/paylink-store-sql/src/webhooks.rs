//! Webhook endpoints, delivery jobs and attempts on SQL.

use crate::sql::*;
use async_trait::async_trait;

use sqlx::any::AnyRow;
use sqlx::Row;

use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{random_base62, EventId, MerchantId, WebhookEndpointId};
use paylink_domain::time::Timestamp;
use paylink_domain::webhook::{EndpointStatus, WebhookEndpoint};
use paylink_store::*;

use crate::catalog::json;
use crate::events::{fan_out, insert_events, FanOut};
use crate::sql::{int, json_col, opt_int, Sql};
use crate::{backend, SqlStore};

pub(crate) const ENDPOINT_COLS: &str = "status, data";

pub(crate) fn endpoint(row: &AnyRow) -> StoreResult<WebhookEndpoint> {
    let mut e: WebhookEndpoint = json_col(row, "data")?;
    let status: String = row.try_get("status").map_err(backend)?;
    e.status = if status == "enabled" {
        EndpointStatus::Enabled
    } else {
        EndpointStatus::Disabled
    };
    Ok(e)
}

pub(crate) fn attempt(row: &AnyRow) -> StoreResult<DeliveryAttempt> {
    Ok(DeliveryAttempt {
        event_id: row.try_get("event_id").map_err(backend)?,
        attempted_at: Timestamp::from_unix(int(row, "attempted_at")?),
        status_code: opt_int(row, "status_code")?.and_then(|c| u16::try_from(c).ok()),
        latency_ms: int(row, "latency_ms")?,
        error: row.try_get("error").map_err(backend)?,
    })
}

impl SqlStore {
    pub(crate) async fn insert_endpoint_impl(
        &self,
        t: &Tenant,
        e: &WebhookEndpoint,
        secret: &str,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let q = Sql::insert(
            "webhook_endpoints",
            vec![
                ("id", e.id.as_str().into()),
                ("merchant_id", t.merchant_id().as_str().into()),
                ("livemode", t.livemode().into()),
                ("created_at", e.created_at.unix().into()),
                ("url", e.url.as_str().into()),
                ("status", e.status.as_str().into()),
                ("enabled_events", e.events_key().into()),
                ("secret", secret.into()),
                ("data", json(e)?.into()),
            ],
        );
        q.exec(&mut w.tx).await?;
        w.commit().await
    }

    pub(crate) async fn update_endpoint_impl(
        &self,
        t: &Tenant,
        e: &WebhookEndpoint,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("UPDATE webhook_endpoints SET url = ");
        q.bind(e.url.as_str())
            .push(", status = ")
            .bind(e.status.as_str())
            .push(", enabled_events = ")
            .bind(e.events_key());
        q.push(", data = ").bind(json(e)?);
        if e.status == EndpointStatus::Enabled {
            q.push(", failing_since = NULL");
        }
        q.push(" WHERE id = ")
            .bind(e.id.as_str())
            .push(" AND ")
            .owned_by(t);
        if q.exec(&mut w.tx).await? == 0 {
            return Err(StoreError::NotFound);
        }
        w.commit().await
    }

    pub(crate) async fn delete_endpoint_impl(
        &self,
        t: &Tenant,
        id: &WebhookEndpointId,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("SELECT id FROM webhook_endpoints WHERE id = ");
        q.bind(id.as_str()).push(" AND ").owned_by(t);
        q.found(&mut w.tx).await?;
        for sql in [
            "DELETE FROM webhook_attempts WHERE endpoint_id = ",
            "DELETE FROM webhook_deliveries WHERE endpoint_id = ",
            "DELETE FROM webhook_endpoints WHERE id = ",
        ] {
            let mut q = Sql::new(sql);
            q.bind(id.as_str());
            q.query().execute(&mut *w.tx).await.map_err(backend)?;
        }
        w.commit().await
    }

    pub(crate) async fn rotate_impl(
        &self,
        t: &Tenant,
        id: &WebhookEndpointId,
        secret: &str,
        overlap_until: Timestamp,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = ",
        );
        q.bind(overlap_until.unix())
            .push(", secret = ")
            .bind(secret)
            .push(" WHERE id = ")
            .bind(id.as_str())
            .push(" AND ")
            .owned_by(t);
        if q.exec(&mut w.tx).await? == 0 {
            return Err(StoreError::NotFound);
        }
        w.commit().await
    }

    pub(crate) async fn redeliver_impl(
        &self,
        t: &Tenant,
        id: &EventId,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("SELECT type FROM events WHERE id = ");
        q.bind(id.as_str()).push(" AND ").owned_by(t);
        let row = q.found(&mut w.tx).await?;
        let kind: String = row.try_get("type").map_err(backend)?;
        let prefix = format!("{id}:{}:", random_base62());
        let q = fan_out(
            t,
            &[FanOut {
                event_id: id.as_str(),
                kind: &kind,
                id_prefix: prefix,
                at: now.unix(),
            }],
        );
        let n = q.exec(&mut w.tx).await?;
        w.commit().await?;
        Ok(n)
    }

    pub(crate) async fn claim_impl(
        &self,
        now: Timestamp,
        limit: i64,
        lock_secs: i64,
    ) -> StoreResult<Vec<DeliveryJob>> {
        let mut w = self.begin_write().await?;
        let skip_locked = self.dialect.skip_locked();
        let mut q = Sql::new("UPDATE webhook_deliveries SET locked_until = ");
        q.bind(now.unix() + lock_secs);
        q.push(" WHERE (locked_until IS NULL OR locked_until < ")
            .bind(now.unix());
        q.push(") AND id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ").bind(now.unix());
        q.push(" AND (locked_until IS NULL OR locked_until < ")
            .bind(now.unix());
        q.push(") ORDER BY next_attempt_at LIMIT ")
            .bind(limit)
            .push(skip_locked)
            .push(")");
        q.push(" RETURNING id, merchant_id, livemode, event_id, endpoint_id, attempts");
        let claimed = q.query().fetch_all(&mut *w.tx).await.map_err(backend)?;
        let mut jobs = Vec::with_capacity(claimed.len());
        for row in &claimed {
            let event_id: String = row.try_get("event_id").map_err(backend)?;
            let endpoint_id: String = row.try_get("endpoint_id").map_err(backend)?;
            let mut q = Sql::new("SELECT e.data AS body, e.receipt_seq, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at, w.failing_since \
                 FROM events e, webhook_endpoints w WHERE e.id = ");
            q.bind(event_id.as_str())
                .push(" AND w.id = ")
                .bind(endpoint_id.as_str());
            let Some(d) = q
                .query()
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(backend)?
            else {
                continue;
            };
            let mut secrets = vec![d.try_get::<String, _>("secret").map_err(backend)?];
            if let (Some(prev), Some(until)) = (
                d.try_get::<Option<String>, _>("previous_secret")
                    .map_err(backend)?,
                opt_int(&d, "previous_secret_expires_at")?,
            ) {
                if until > now.unix() {
                    secrets.push(prev);
                }
            }
            jobs.push(DeliveryJob {
                delivery_id: row.try_get("id").map_err(backend)?,
                tenant: Tenant::stored(
                    MerchantId::from_trusted(row.try_get("merchant_id").map_err(backend)?),
                    int(row, "livemode")? != 0,
                ),
                event_id,
                body: crate::events::event_body(
                    d.try_get("body").map_err(backend)?,
                    opt_int(&d, "receipt_seq")?,
                )?,
                endpoint_id,
                url: d.try_get("url").map_err(backend)?,
                secrets,
                attempts: int(row, "attempts")?,
                failing_since: opt_int(&d, "failing_since")?.map(Timestamp::from_unix),
            });
        }
        w.commit().await?;
        Ok(jobs)
    }

    pub(crate) async fn finish_impl(
        &self,
        job: &DeliveryJob,
        a: &DeliveryAttempt,
        next: DeliveryNext,
        disable: bool,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let q = Sql::insert(
            "webhook_attempts",
            vec![
                ("delivery_id", job.delivery_id.as_str().into()),
                ("endpoint_id", job.endpoint_id.as_str().into()),
                ("event_id", job.event_id.as_str().into()),
                ("attempted_at", a.attempted_at.unix().into()),
                ("status_code", a.status_code.map(i64::from).into()),
                ("latency_ms", a.latency_ms.into()),
                ("error", a.error.clone().into()),
            ],
        );
        q.exec(&mut w.tx).await?;

        let (status, at) = match next {
            DeliveryNext::Succeeded => ("succeeded", a.attempted_at.unix()),
            DeliveryNext::RetryAt(t) => ("pending", t.unix()),
            DeliveryNext::Failed => ("failed", a.attempted_at.unix()),
        };
        let mut q = Sql::new(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, locked_until = NULL, status = ",
        );
        q.bind(status)
            .push(", next_attempt_at = ")
            .bind(at)
            .push(" WHERE id = ")
            .bind(job.delivery_id.as_str());
        q.query().execute(&mut *w.tx).await.map_err(backend)?;
        let mut q = Sql::new("UPDATE webhook_endpoints SET failing_since = ");
        if next == DeliveryNext::Succeeded {
            q.push("NULL");
        } else {
            q.push("COALESCE(failing_since, ")
                .bind(a.attempted_at.unix())
                .push(")");
        }
        q.push(" WHERE id = ").bind(job.endpoint_id.as_str());
        q.query().execute(&mut *w.tx).await.map_err(backend)?;
        if disable {
            let mut q = Sql::new("UPDATE webhook_endpoints SET status = 'disabled' WHERE status = 'enabled' AND id = ");
            q.bind(job.endpoint_id.as_str()).push(" RETURNING data");
            if let Some(row) = q
                .query()
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(backend)?
            {
                let mut e: WebhookEndpoint = json_col(&row, "data")?;
                e.status = EndpointStatus::Disabled;
                let ev = Event::new(
                    EventType::WebhookEndpointDisabled,
                    &e,
                    job.tenant.livemode(),
                    a.attempted_at,
                );
                insert_events(&mut w.tx, &job.tenant, &[ev]).await?;
                // Its pending deliveries stop with it.
                let mut q = Sql::new("UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'pending' AND endpoint_id = ");
                q.bind(job.endpoint_id.as_str());
                q.query().execute(&mut *w.tx).await.map_err(backend)?;
            }
        }
        w.commit().await
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn insert_webhook_endpoint(
        &self,
        t: &Tenant,
        e: &WebhookEndpoint,
        secret: &str,
    ) -> StoreResult<()> {
        self.insert_endpoint_impl(t, e, secret).await
    }

    async fn get_webhook_endpoint(
        &self,
        t: &Tenant,
        id: &WebhookEndpointId,
    ) -> StoreResult<WebhookEndpoint> {
        crate::webhooks::endpoint(
            &self
                .fetch_one(
                    "webhook_endpoints",
                    crate::webhooks::ENDPOINT_COLS,
                    t,
                    id.as_str(),
                    "",
                )
                .await?,
        )
    }

    async fn list_webhook_endpoints(
        &self,
        t: &Tenant,
        page: &Page,
    ) -> StoreResult<Listed<WebhookEndpoint>> {
        let rows = self
            .list_rows(
                "webhook_endpoints",
                crate::webhooks::ENDPOINT_COLS,
                t,
                Sql::default(),
                page,
                "",
            )
            .await?;
        map_listed(rows, crate::webhooks::endpoint)
    }

    async fn update_webhook_endpoint(&self, t: &Tenant, e: &WebhookEndpoint) -> StoreResult<()> {
        self.update_endpoint_impl(t, e).await
    }

    async fn delete_webhook_endpoint(&self, t: &Tenant, id: &WebhookEndpointId) -> StoreResult<()> {
        self.delete_endpoint_impl(t, id).await
    }

    async fn rotate_webhook_secret(
        &self,
        t: &Tenant,
        id: &WebhookEndpointId,
        secret: &str,
        overlap_until: Timestamp,
    ) -> StoreResult<()> {
        self.rotate_impl(t, id, secret, overlap_until).await
    }

    async fn list_delivery_attempts(
        &self,
        t: &Tenant,
        id: &WebhookEndpointId,
        page: &Page,
    ) -> StoreResult<Listed<DeliveryAttempt>> {
        // The endpoint must be the tenant's; attempts are then listed newest first.
        self.get_webhook_endpoint(t, id).await?;
        let limit = i64::from(page.limit.clamp(1, 100));
        let mut q = Sql::new("SELECT event_id, attempted_at, status_code, latency_ms, error FROM webhook_attempts WHERE endpoint_id = ");
        q.bind(id.as_str())
            .push(" ORDER BY seq DESC LIMIT ")
            .bind(limit + 1);
        let mut rows = self.rows(&q).await.map_err(backend)?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(100));
        Ok(Listed {
            data: rows
                .iter()
                .map(crate::webhooks::attempt)
                .collect::<StoreResult<_>>()?,
            has_more,
        })
    }

    async fn redeliver_event(&self, t: &Tenant, id: &EventId, now: Timestamp) -> StoreResult<u64> {
        self.redeliver_impl(t, id, now).await
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        limit: i64,
        lock_secs: i64,
    ) -> StoreResult<Vec<DeliveryJob>> {
        self.claim_impl(now, limit, lock_secs).await
    }

    async fn finish_delivery(
        &self,
        job: &DeliveryJob,
        attempt: &DeliveryAttempt,
        next: DeliveryNext,
        disable: bool,
    ) -> StoreResult<()> {
        self.finish_impl(job, attempt, next, disable).await
    }
}
