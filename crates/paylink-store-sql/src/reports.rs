//! What a merchant took over a window of days: the dashboard's charts and its best links.
//! The window is found from the newest payment back (`payments_list` is by `seq`, which
//! grows with time), so a report reads the window's payments, not the merchant's history.

use paylink_domain::id::PaymentLinkId;
use paylink_domain::time::Timestamp;
use paylink_store::*;

use crate::sql::{int, opt_text, Sql};
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
        top: u32,
    ) -> StoreResult<PaymentsReport> {
        let mut q = Sql::new(&format!(
            "SELECT created_at / {DAY} AS day, currency, COUNT(*) AS n, \
             CAST(SUM(amount) AS BIGINT) AS total, CAST(SUM(amount_refunded) AS BIGINT) AS refunded \
             FROM payments WHERE "
        ));
        q.owned_by(t).push(" AND status <> 'failed'");
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
        Ok(PaymentsReport { days, top_links })
    }
}
