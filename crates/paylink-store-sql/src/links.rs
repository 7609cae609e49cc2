//! Rows of `payment_links`: the link's JSON plus the columns that are the truth for its
//! counters and stored status.

use crate::catalog::*;
use crate::counters::*;
use crate::events::*;
use crate::sql::*;
use crate::{on_constraint, SqlStore};
use async_trait::async_trait;
use paylink_domain::event::Event;
use paylink_domain::id::*;
use paylink_store::*;

use sqlx::any::AnyRow;
use sqlx::Row;

use paylink_domain::link::{LinkStats, LinkStatus, PaymentLink};
use paylink_store::{StoreResult, Versioned};

use crate::backend;
use crate::sql::{int, json_col, opt_int, Arg};
use paylink_domain::time::Timestamp;

pub(crate) use crate::counters::LINK_COLS;

pub(crate) fn link(row: &AnyRow) -> StoreResult<Versioned<PaymentLink>> {
    let mut l: PaymentLink = json_col(row, "data")?;
    let status: String = row.try_get("status").map_err(backend)?;
    l.status = LinkStatus::parse(&status)
        .ok_or_else(|| backend(format!("unknown link status `{status}`")))?;
    l.paid_from = match opt_text(row, "paid_from")? {
        None => None,
        Some(s) => Some(
            LinkStatus::parse(&s).ok_or_else(|| backend(format!("unknown link status `{s}`")))?,
        ),
    };
    // The column is what list filters judge `expired` by; reading it too keeps them in step.
    l.expires_at = opt_int(row, "expires_at")?.map(Timestamp::from_unix);
    let payments = int(row, "payments_count")?;
    l.payments_count = u32::try_from(payments).map_err(backend)?;
    l.stats = LinkStats {
        views: int(row, "views")?,
        checkouts_started: int(row, "checkouts_started")?,
        payments_count: payments,
        amount_collected: int(row, "amount_collected")?,
        currencies: Default::default(),
    };
    Ok(Versioned {
        value: l,
        version: int(row, "version")?,
    })
}

/// The columns a link write sets from the object, in a fixed order.
pub(crate) fn link_columns(l: &PaymentLink) -> Vec<(&'static str, Arg)> {
    vec![
        ("slug", l.slug.as_str().into()),
        // `expired` is computed on read and never stored; callers keep the stored status.
        ("status", l.status.as_str().into()),
        (
            "paid_from",
            l.paid_from.map(|s| s.as_str().to_owned()).into(),
        ),
        ("type", l.kind.as_str().into()),
        ("title_lower", l.title.to_lowercase().into()),
        ("reference_id", l.reference_id.clone().into()),
        (
            "customer_id",
            l.customer_id.as_ref().map(|c| c.to_string()).into(),
        ),
        ("expires_at", l.expires_at.map(|t| t.unix()).into()),
        ("opens_at", l.opens_at.map(|t| t.unix()).into()),
        ("payments_limit", l.payments_limit.map(i64::from).into()),
    ]
}

#[async_trait]
impl LinkStore for SqlStore {
    async fn insert_payment_link(
        &self,
        t: &Tenant,
        l: &PaymentLink,
        events: &[Event],
        answer: Option<&IdempotentAnswer>,
    ) -> StoreResult<()> {
        let mut b = Batch::default();
        b.push(doc_insert(
            "payment_links",
            t,
            l.id.as_str(),
            l.created_at,
            json(l)?,
            link_columns(l),
        ));
        event_writes(&mut b, t, events)?;
        let Some(a) = answer else {
            return self.write_batch(b).await;
        };
        // The answer last: PostgreSQL runs a batch's last statement before the others, so a
        // request racing with the same key stops there (waiting for the first to commit)
        // before writing anything; on SQLite the transaction simply rolls back.
        let scope = IdempotencyScope::of(t);
        b.push(self.answer_insert(&scope, a));
        let again = b.clone();
        match self.write_answered(b, &scope, a).await {
            // A key older than the retention period is forgotten: drop it and try once more.
            Err(StoreError::Conflict(Conflict::IdempotencyKeyInUse))
                if self.forget_stale_key(&scope, &a.key, a.now).await? =>
            {
                self.write_answered(again, &scope, a).await
            }
            r => r,
        }
    }

    async fn get_payment_link(
        &self,
        t: &Tenant,
        id: &PaymentLinkId,
    ) -> StoreResult<Versioned<PaymentLink>> {
        link(
            &self
                .fetch_one(
                    "payment_links",
                    LINK_COLS,
                    t,
                    id.as_str(),
                    " AND deleted_at IS NULL",
                )
                .await?,
        )
    }

    async fn update_payment_link(
        &self,
        t: &Tenant,
        l: &PaymentLink,
        version: i64,
        require_no_payments: bool,
        events: &[Event],
    ) -> StoreResult<()> {
        if l.status == LinkStatus::Expired {
            return Err(backend("refusing to store the computed status `expired`"));
        }
        let mut w = self.begin_write().await?;
        if let Some(lock) = lock_link(self.dialect, l.id.as_str()) {
            lock.exec(&mut w.tx).await?;
        }
        let cols = link_columns(l);
        // The version, and the payments a limit was checked against (purchases of a link
        // without a limit leave its version alone: see `counters`).
        let seen = match (require_no_payments, l.payments_limit) {
            (true, _) => Some(0),
            (false, Some(_)) => Some(i64::from(l.payments_count)),
            (false, None) => None,
        };
        let mut guard = Sql::new(" AND deleted_at IS NULL AND version = ");
        guard.bind(version);
        if let Some(n) = seen {
            guard.push(&format!(" AND {PAYMENTS_TOTAL} = ")).bind(n);
        }
        // A changed limit must leave room for the uses open checkouts hold: each of them
        // may still be paid, and completing a held checkout is never refused.
        if let Some(limit) = l.payments_limit {
            guard
                .push(" AND (payments_limit = ")
                .bind(i64::from(limit))
                .push(&format!(" OR {USED_TOTAL} <= "))
                .bind(i64::from(limit))
                .push(")");
        }
        let mut q = Sql::new("UPDATE payment_links SET data = ");
        q.bind(json(l)?);
        for (n, v) in cols {
            q.push(&format!(", {n} = ")).bind(v);
        }
        q.push(", version = version + 1 WHERE id = ")
            .bind(l.id.as_str())
            .push(" AND ")
            .owned_by(t);
        q.append_sql(guard);
        let done = q.query().execute(&mut *w.tx).await.map_err(on_constraint)?;
        if done.rows_affected() == 0 {
            drop(w);
            let current = self.get_payment_link(t, &l.id).await?;
            if require_no_payments && current.value.payments_count > 0 {
                return Err(StoreError::Conflict(Conflict::PaymentLinkHasPayments));
            }
            let unchanged = current.version == version
                && seen.is_none_or(|n| i64::from(current.value.payments_count) == n);
            if unchanged && l.payments_limit.is_some() {
                return Err(StoreError::Conflict(Conflict::PaymentsLimitBelowReserved));
            }
            return Err(StoreError::Conflict(Conflict::ConcurrentUpdate));
        }
        insert_events(&mut w.tx, t, events).await?;
        w.commit().await
    }

    async fn delete_payment_link(
        &self,
        t: &Tenant,
        id: &PaymentLinkId,
        now: Timestamp,
        events: &[Event],
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        if let Some(lock) = lock_link(self.dialect, id.as_str()) {
            lock.exec(&mut w.tx).await?;
        }
        let mut q = Sql::new("UPDATE payment_links SET deleted_at = ");
        q.bind(now.unix())
            .push(", version = version + 1 WHERE id = ")
            .bind(id.as_str())
            .push(" AND ")
            .owned_by(t);
        q.push(&format!(
            " AND deleted_at IS NULL AND {PAYMENTS_TOTAL} = 0 AND {RESERVED_TOTAL} = 0"
        ));
        if q.exec(&mut w.tx).await? == 0 {
            drop(w);
            // Not found stays not found; otherwise payments (or held checkouts) block it.
            self.get_payment_link(t, id).await?;
            return Err(StoreError::Conflict(Conflict::PaymentLinkHasPayments));
        }
        insert_events(&mut w.tx, t, events).await?;
        w.commit().await
    }

    async fn list_payment_links(
        &self,
        t: &Tenant,
        f: &LinkFilter,
        page: &Page,
    ) -> StoreResult<Listed<PaymentLink>> {
        let mut q = Sql::default();
        let now = f.now.unix();
        match f.status {
            None => &mut q,
            Some(LinkStatus::Expired) => q
                .push(" AND status IN ('active', 'inactive') AND expires_at IS NOT NULL AND expires_at <= ")
                .bind(now),
            Some(s @ (LinkStatus::Active | LinkStatus::Inactive)) => q
                .push(" AND status = ")
                .bind(s.as_str())
                .push(" AND (expires_at IS NULL OR expires_at > ")
                .bind(now)
                .push(")"),
            Some(s) => q.push(" AND status = ").bind(s.as_str()),
        };
        if let Some(k) = f.kind {
            q.push(" AND type = ").bind(k.as_str());
        }
        if let Some(r) = &f.reference_id {
            q.push(" AND reference_id = ").bind(r.as_str());
        }
        if let Some(c) = &f.customer_id {
            q.push(" AND customer_id = ").bind(c.as_str());
        }
        created_filter(&mut q, &f.created);
        if let Some(text) = &f.q {
            let escaped = text
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            q.push(" AND title_lower LIKE ")
                .bind(format!("%{escaped}%"))
                .push(" ESCAPE '\\'");
        }
        let rows = self
            .list_rows(
                "payment_links",
                LINK_COLS,
                t,
                q,
                page,
                " AND deleted_at IS NULL",
            )
            .await?;
        map_listed(rows, |r| link(r).map(|v| v.value))
    }

    async fn find_link_by_slug(&self, slug: &str) -> StoreResult<Option<PublicLink>> {
        self.find_link_by_slug_impl(slug).await
    }

    async fn add_views(&self, views: &[(PaymentLinkId, i64)]) -> StoreResult<()> {
        if views.is_empty() {
            return Ok(());
        }
        let mut w = self.begin_write().await?;
        // The merchant's views of the day too, for the dashboard's funnel: one row per
        // merchant and mode, added to once a flush (in merchant order, so two flushes take
        // the rows in the same order).
        let mut by_merchant: std::collections::BTreeMap<(String, i64), i64> = Default::default();
        for (id, n) in views {
            let mut q = Sql::new("UPDATE payment_links SET views = views + ");
            q.bind(*n)
                .push(" WHERE id = ")
                .bind(id.as_str())
                .push(" RETURNING merchant_id, livemode");
            let row = q
                .query()
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(backend)?;
            if let Some(row) = row {
                let merchant: String = row.try_get("merchant_id").map_err(backend)?;
                let sum = by_merchant
                    .entry((merchant, int(&row, "livemode")?))
                    .or_default();
                *sum = sum.saturating_add(*n);
            }
        }
        let day = Timestamp::now().unix().div_euclid(86_400);
        for ((merchant, livemode), n) in by_merchant {
            let mut q = Sql::new(
                "INSERT INTO merchant_daily_views (merchant_id, livemode, day, views) VALUES (",
            );
            q.bind(merchant.as_str())
                .push(", ")
                .bind(livemode != 0)
                .push(", ")
                .bind(day)
                .push(", ")
                .bind(n)
                .push(
                    ") ON CONFLICT (merchant_id, livemode, day) DO UPDATE SET \
                     views = merchant_daily_views.views + excluded.views",
                );
            q.exec(&mut w.tx).await?;
        }
        w.commit().await
    }

    async fn emit_expired_links(
        &self,
        now: Timestamp,
        limit: i64,
        public_url: &str,
    ) -> StoreResult<u64> {
        let mut w = self.begin_write().await?;
        // The guarded UPDATE claims each link once: a second worker finds it already marked.
        let mut q = Sql::new("UPDATE payment_links SET expired_event_at = ");
        q.bind(now.unix()).push(" WHERE id IN (SELECT id FROM payment_links WHERE expired_event_at IS NULL AND deleted_at IS NULL");
        q.push(" AND status IN ('active', 'inactive') AND expires_at <= ")
            .bind(now.unix())
            .push(" ORDER BY expires_at LIMIT ")
            .bind(limit);
        q.push(") AND expired_event_at IS NULL");
        q.push(&format!(" RETURNING merchant_id, livemode, {LINK_COLS}"));
        let rows = q.query().fetch_all(&mut *w.tx).await.map_err(backend)?;
        for row in &rows {
            let t = Tenant::stored(
                MerchantId::from_trusted(row.try_get("merchant_id").map_err(backend)?),
                int(row, "livemode")? != 0,
            );
            let mut l = link(row)?.value;
            l.url = format!("{public_url}/l/{}", l.slug.as_str());
            l.refresh_status(now);
            let ev = Event::new(
                paylink_domain::event::EventType::PaymentLinkExpired,
                &l,
                t.livemode(),
                now,
            );
            insert_events(&mut w.tx, &t, &[ev]).await?;
        }
        w.commit().await?;
        Ok(rows.len() as u64)
    }
}
