//! What a merchant took over a window of days: the dashboard's charts and its best links.
//! The window is found from the newest payment back (`payments_list` is by `seq`, which
//! grows with time), so a report reads the window's payments, not the merchant's history.

use paylink_domain::id::{PaymentLinkId, ProductId, WebhookEndpointId};
use paylink_domain::time::Timestamp;
use paylink_store::*;

use sqlx::any::AnyRow;

use crate::counters::PAYMENTS_TOTAL;
use crate::sql::{int, opt_int, opt_text, Sql};
use crate::{backend, SqlStore};

const DAY: i64 = 86_400;

/// `… AND seq > (the newest payment before since)`: the window, by the list's index.
fn window(q: &mut Sql, t: &Tenant, since: Timestamp) {
    q.push(" AND created_at >= ")
        .bind(since.unix())
        .push(" AND seq > COALESCE((SELECT seq FROM payments WHERE ")
        .owned_by(t)
        .push(" AND created_at < ")
        .bind(since.unix())
        .push(" ORDER BY seq DESC LIMIT 1), 0)");
}

impl SqlStore {
    pub(crate) async fn payments_report_impl(
        &self,
        t: &Tenant,
        since: Timestamp,
        link: Option<&PaymentLinkId>,
        top: u32,
    ) -> StoreResult<PaymentsReport> {
        // A link's: by the `payments_link` index, from the window's first `seq` on.
        let of_link = |q: &mut Sql| {
            if let Some(l) = link {
                q.push(" AND payment_link_id = ").bind(l.as_str());
            }
        };
        let mut q = Sql::new(&format!(
            "SELECT created_at / {DAY} AS day, currency, COUNT(*) AS n, \
             CAST(SUM(amount) AS BIGINT) AS total, CAST(SUM(amount_refunded) AS BIGINT) AS refunded \
             FROM payments WHERE "
        ));
        q.owned_by(t).push(" AND status <> 'failed'");
        of_link(&mut q);
        window(&mut q, t, since);
        q.push(" GROUP BY created_at / 86400, currency ORDER BY day, currency");
        let days = self
            .rows(&q)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(DayTotal {
                    day: int(r, "day")?,
                    currency: opt_text(r, "currency")?.unwrap_or_default(),
                    count: int(r, "n")?,
                    amount: int(r, "total")?,
                    refunded: int(r, "refunded")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let mut q = Sql::new(
            "SELECT payment_link_id, currency, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS total \
             FROM payments WHERE ",
        );
        q.owned_by(t).push(" AND status <> 'failed'");
        of_link(&mut q);
        window(&mut q, t, since);
        q.push(" GROUP BY payment_link_id, currency ORDER BY total DESC, payment_link_id LIMIT ")
            .bind(i64::from(top.min(100)));
        let top_links = self
            .rows(&q)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(LinkTotal {
                    payment_link_id: PaymentLinkId::from_trusted(
                        opt_text(r, "payment_link_id")?.unwrap_or_default(),
                    ),
                    currency: opt_text(r, "currency")?.unwrap_or_default(),
                    count: int(r, "n")?,
                    amount: int(r, "total")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let funnel = match link {
            Some(_) => None,
            None => Some(Funnel {
                views: self.views_since(t, since).await?,
                checkouts_started: self.checkouts_since(t, since).await?,
                payments: days.iter().map(|d| d.count).sum(),
            }),
        };
        Ok(PaymentsReport {
            days,
            top_links,
            funnel,
        })
    }

    /// The merchant's views from `since`'s day on: a row a day.
    async fn views_since(&self, t: &Tenant, since: Timestamp) -> StoreResult<i64> {
        let mut q = Sql::new(
            "SELECT CAST(COALESCE(SUM(views), 0) AS BIGINT) AS n FROM merchant_daily_views WHERE ",
        );
        q.tenant(t)
            .push(" AND day >= ")
            .bind(since.unix().div_euclid(DAY));
        self.count(&q).await
    }

    /// Checkouts started at or after `since`, from the `checkout_sessions_started` index.
    async fn checkouts_since(&self, t: &Tenant, since: Timestamp) -> StoreResult<i64> {
        let mut q = Sql::new("SELECT COUNT(*) AS n FROM checkout_sessions WHERE ");
        q.tenant(t).push(" AND created_at >= ").bind(since.unix());
        self.count(&q).await
    }

    async fn count(&self, q: &Sql) -> StoreResult<i64> {
        match self.row(q).await.map_err(backend)? {
            Some(r) => int(&r, "n"),
            None => Ok(0),
        }
    }

    pub(crate) async fn attention_impl(
        &self,
        t: &Tenant,
        now: Timestamp,
        horizon: Timestamp,
        low_stock: i64,
        limit: u32,
    ) -> StoreResult<Attention> {
        let limit = i64::from(limit.clamp(1, 100));
        let uses = |r: &AnyRow| {
            Ok(LinkUses {
                payment_link_id: PaymentLinkId::from_trusted(
                    opt_text(r, "id")?.unwrap_or_default(),
                ),
                expires_at: opt_int(r, "expires_at")?.map(Timestamp::from_unix),
                payments_limit: opt_int(r, "payments_limit")?,
                payments_count: int(r, "paid")?,
            })
        };
        // Open links (active, not yet expired) that expire before the horizon.
        let mut q = Sql::new(&format!(
            "SELECT id, expires_at, payments_limit, {PAYMENTS_TOTAL} AS paid FROM payment_links WHERE "
        ));
        q.tenant(t)
            .push(" AND expires_at IS NOT NULL AND deleted_at IS NULL AND expires_at > ")
            .bind(now.unix())
            .push(" AND expires_at <= ")
            .bind(horizon.unix())
            .push(" AND status = 'active' ORDER BY expires_at LIMIT ")
            .bind(limit);
        let expiring = self
            .rows(&q)
            .await
            .map_err(backend)?
            .iter()
            .map(uses)
            .collect::<StoreResult<Vec<_>>>()?;
        // Links with a limit, fewest uses left first (the `payments_limit - payments_count`
        // of the index, word for word); kept when a fifth or less is left.
        let mut q = Sql::new(&format!(
            "SELECT id, expires_at, payments_limit, {PAYMENTS_TOTAL} AS paid FROM payment_links WHERE "
        ));
        q.tenant(t)
            .push(" AND payments_limit IS NOT NULL AND deleted_at IS NULL AND status = 'active'")
            .push(" AND (expires_at IS NULL OR expires_at > ")
            .bind(now.unix())
            .push(") ORDER BY (payments_limit - payments_count) LIMIT ")
            .bind(limit * 4);
        let selling_out = self
            .rows(&q)
            .await
            .map_err(backend)?
            .iter()
            .map(uses)
            .collect::<StoreResult<Vec<_>>>()?
            .into_iter()
            .filter(|l| {
                l.payments_limit.is_some_and(|max| {
                    max > l.payments_count && (max - l.payments_count).saturating_mul(5) <= max
                })
            })
            .take(usize::try_from(limit).unwrap_or(5))
            .collect();
        let mut q = Sql::new("SELECT id, inventory_available FROM products WHERE ");
        q.tenant(t)
            .push(
                " AND inventory_available IS NOT NULL AND active <> 0 AND inventory_available <= ",
            )
            .bind(low_stock)
            .push(" ORDER BY inventory_available LIMIT ")
            .bind(limit);
        let low_stock = self
            .rows(&q)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok((
                    ProductId::from_trusted(opt_text(r, "id")?.unwrap_or_default()),
                    int(r, "inventory_available")?,
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let mut q = Sql::new("SELECT id, url, status, failing_since FROM webhook_endpoints WHERE ");
        q.tenant(t)
            .push(" AND (status = 'disabled' OR failing_since IS NOT NULL) ORDER BY seq LIMIT ")
            .bind(limit);
        let endpoints = self
            .rows(&q)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(EndpointTrouble {
                    id: WebhookEndpointId::from_trusted(opt_text(r, "id")?.unwrap_or_default()),
                    url: opt_text(r, "url")?.unwrap_or_default(),
                    disabled: opt_text(r, "status")?.as_deref() == Some("disabled"),
                    failing_since: opt_int(r, "failing_since")?.map(Timestamp::from_unix),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let mut q = Sql::new("SELECT COUNT(*) AS n FROM (SELECT 1 FROM emails WHERE ");
        q.tenant(t).push(" AND status = 'held' LIMIT 100) AS held");
        let held_emails = self.count(&q).await?;
        Ok(Attention {
            expiring,
            selling_out,
            low_stock,
            endpoints,
            held_emails,
        })
    }
}
