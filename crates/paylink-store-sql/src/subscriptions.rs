//! Subscriptions on SQL: a claim (a token and the time it runs out) decides who may change
//! a subscription; every step is one transaction guarded by the claim.

use async_trait::async_trait;
use sqlx::any::AnyRow;

use paylink_domain::checkout::{Payment, PaymentStatus};
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{random_base62, SubscriptionId};
use paylink_domain::subscription::Subscription;
use paylink_domain::time::Timestamp;
use paylink_store::*;

use crate::catalog::{data_row, doc_insert, json};
use crate::checkout::tenant_of;
use crate::events::{event_writes, event_writes_numbered};
use crate::payments::{payment, payment_insert, receipt_seq, receipted, PAYMENT_COLS};
use crate::sql::{json_col, map_listed, opt_int, opt_text, Arg, Batch, Sql};
use crate::{backend, SqlStore};

const SUB_COLS: &str = "merchant_id, livemode, state, data, method_ref, clock";

fn record(row: &AnyRow) -> StoreResult<SubscriptionRecord> {
    Ok(SubscriptionRecord {
        tenant: tenant_of(row)?,
        subscription: json_col(row, "data")?,
        state: json_col(row, "state")?,
        method_ref: opt_text(row, "method_ref")?,
        clock: opt_int(row, "clock")?.map(Timestamp::from_unix),
    })
}

/// The row of a subscription a checkout makes, and its events (in the checkout's batch).
pub(crate) fn subscription_writes(
    b: &mut Batch,
    t: &Tenant,
    n: &NewSubscription<'_>,
) -> StoreResult<()> {
    let s = n.subscription;
    b.push(doc_insert(
        "subscriptions",
        t,
        s.id.as_str(),
        s.created_at,
        json(s)?,
        vec![
            ("payment_link_id", s.payment_link_id.as_str().into()),
            (
                "customer_id",
                s.customer_id.as_ref().map(|c| c.to_string()).into(),
            ),
            ("status", s.status.as_str().into()),
            (
                "next_due_at",
                n.state.next_due_at().map(|d| d.unix()).into(),
            ),
            ("method_ref", n.method_ref.into()),
            ("state", json(n.state)?.into()),
        ],
    ));
    event_writes(b, t, n.events)
}

impl SqlStore {
    async fn claim_where(
        &self,
        filter: Sql,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Vec<SubscriptionClaim>> {
        let token = random_base62();
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("UPDATE subscriptions SET claim = ");
        q.bind(token.as_str())
            .push(", claimed_until = ")
            .bind(until.unix())
            .push(" WHERE (claimed_until IS NULL OR claimed_until < ")
            .bind(now.unix())
            .push(") AND id IN (SELECT id FROM subscriptions WHERE (claimed_until IS NULL OR claimed_until < ")
            .bind(now.unix())
            .push(")")
            .append_sql(filter)
            .push(self.dialect.skip_locked())
            .push(&format!(") RETURNING {SUB_COLS}"));
        let rows = q.query().fetch_all(&mut *w.tx).await.map_err(backend)?;
        w.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(SubscriptionClaim {
                    record: record(r)?,
                    token: token.clone(),
                })
            })
            .collect()
    }
}

/// The payment a step made, written with its event: a successful one takes the merchant's
/// next receipt number.
async fn payment_writes(
    conn: &mut sqlx::AnyConnection,
    b: &mut Batch,
    t: &Tenant,
    p: &Payment,
    receipt_token: Option<&str>,
) -> StoreResult<Payment> {
    if p.status == PaymentStatus::Failed {
        b.push(payment_insert(t, p, None, Arg::Int(None))?);
        let ev = Event::new(EventType::PaymentFailed, p, t.livemode(), p.created_at);
        event_writes(b, t, &[ev])?;
        return Ok(p.clone());
    }
    let seq = receipt_seq(conn, t).await?;
    b.push(payment_insert(t, p, receipt_token, seq.into())?);
    let ev = Event::new(EventType::PaymentSucceeded, p, t.livemode(), p.created_at);
    event_writes_numbered(b, t, &[ev], seq.into())?;
    Ok(receipted(p, seq))
}

#[async_trait]
impl SubscriptionStore for SqlStore {
    async fn insert_subscription(&self, t: &Tenant, n: &NewSubscription<'_>) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let mut b = Batch::default();
        subscription_writes(&mut b, t, n)?;
        b.run(&mut w.tx).await?;
        w.commit().await
    }

    async fn get_subscription(
        &self,
        t: &Tenant,
        id: &SubscriptionId,
    ) -> StoreResult<SubscriptionRecord> {
        record(
            &self
                .fetch_one("subscriptions", SUB_COLS, t, id.as_str(), "")
                .await?,
        )
    }

    async fn get_subscription_public(
        &self,
        id: &SubscriptionId,
    ) -> StoreResult<SubscriptionRecord> {
        let mut q = Sql::new(&format!("SELECT {SUB_COLS} FROM subscriptions WHERE id = "));
        q.bind(id.as_str());
        record(
            &self
                .row(&q)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound)?,
        )
    }

    async fn list_subscriptions(
        &self,
        t: &Tenant,
        f: &SubscriptionFilter,
        page: &Page,
    ) -> StoreResult<Listed<Subscription>> {
        let mut q = Sql::default();
        if let Some(s) = f.status {
            q.push(" AND status = ").bind(s.as_str());
        }
        if let Some(l) = &f.payment_link_id {
            q.push(" AND payment_link_id = ").bind(l.as_str());
        }
        if let Some(c) = &f.customer_id {
            q.push(" AND customer_id = ").bind(c.as_str());
        }
        map_listed(
            self.list_rows("subscriptions", "data", t, q, page, "")
                .await?,
            data_row,
        )
    }

    async fn subscription_payments(
        &self,
        t: &Tenant,
        id: &SubscriptionId,
        limit: u32,
    ) -> StoreResult<Vec<Payment>> {
        let mut q = Sql::new(&format!(
            "SELECT {PAYMENT_COLS} FROM payments WHERE subscription_id = "
        ));
        q.bind(id.as_str())
            .push(" AND ")
            .tenant(t)
            .push(" ORDER BY seq DESC LIMIT ")
            .bind(i64::from(limit.min(1000)));
        let rows = self.rows(&q).await.map_err(backend)?;
        rows.iter().map(payment).collect()
    }

    async fn claim_subscription(
        &self,
        t: &Tenant,
        id: &SubscriptionId,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Option<SubscriptionClaim>> {
        let mut f = Sql::new(" AND id = ");
        f.bind(id.as_str()).push(" AND ").owned_by(t);
        if let Some(c) = self.claim_where(f, until, now).await?.pop() {
            return Ok(Some(c));
        }
        // Held by someone else, or not this tenant's.
        self.get_subscription(t, id).await?;
        Ok(None)
    }

    async fn claim_due_subscriptions(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<SubscriptionClaim>> {
        let mut f = Sql::new(" AND next_due_at <= ");
        f.bind(now.unix())
            .push(" ORDER BY next_due_at LIMIT ")
            .bind(i64::from(limit.clamp(1, 1000)));
        self.claim_where(f, until, now).await
    }

    async fn record_subscription_step(
        &self,
        c: &SubscriptionClaim,
        s: &SubscriptionStep<'_>,
    ) -> StoreResult<Option<Payment>> {
        let t = &c.record.tenant;
        let sub = s.subscription;
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("UPDATE subscriptions SET status = ");
        q.bind(sub.status.as_str())
            .push(", next_due_at = ")
            .bind(s.state.next_due_at().map(|d| d.unix()))
            .push(", state = ")
            .bind(json(s.state)?)
            .push(", data = ")
            .bind(json(sub)?)
            .push(", claimed_until = ")
            .bind(s.keep_until.map(|u| u.unix()));
        if s.keep_until.is_none() {
            q.push(", claim = NULL");
        }
        if let Some(m) = s.method_ref {
            q.push(", method_ref = ").bind(m);
        }
        if let Some(clock) = s.clock {
            q.push(", clock = ").bind(clock.unix());
        }
        q.push(" WHERE id = ")
            .bind(sub.id.as_str())
            .push(" AND claim = ")
            .bind(c.token.as_str());
        if q.exec(&mut w.tx).await? != 1 {
            return Err(StoreError::Conflict(Conflict::ConcurrentUpdate));
        }
        let mut b = Batch::default();
        let recorded = match s.payment {
            Some(p) => Some(payment_writes(&mut w.tx, &mut b, t, p, s.receipt_token).await?),
            None => None,
        };
        event_writes(&mut b, t, s.events)?;
        for e in s.emails {
            b.push(crate::emails::email_insert(t, e)?);
        }
        if b.len() > 0 {
            b.run(&mut w.tx).await?;
        }
        w.commit().await?;
        Ok(recorded)
    }

    async fn renew_subscription_claim(
        &self,
        c: &SubscriptionClaim,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let mut q = Sql::new("UPDATE subscriptions SET claimed_until = ");
        q.bind(until.unix())
            .push(" WHERE id = ")
            .bind(c.record.subscription.id.as_str())
            .push(" AND claim = ")
            .bind(c.token.as_str())
            .push(" AND claimed_until > ")
            .bind(now.unix());
        Ok(self.write_one(&q).await? == 1)
    }

    async fn release_subscription(&self, c: &SubscriptionClaim) -> StoreResult<()> {
        let mut q =
            Sql::new("UPDATE subscriptions SET claim = NULL, claimed_until = NULL WHERE id = ");
        q.bind(c.record.subscription.id.as_str())
            .push(" AND claim = ")
            .bind(c.token.as_str());
        self.write_one(&q).await?;
        Ok(())
    }
}
