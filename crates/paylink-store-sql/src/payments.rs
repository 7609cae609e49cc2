//! Payments on SQL: recording a successful charge (one round trip, or a transaction when
//! stock, a limit or an order is involved), failed payments, refunds.

use crate::sql::*;
use async_trait::async_trait;
use paylink_domain::id::*;
use sqlx::Row;

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use paylink_domain::catalog::Order;
use paylink_domain::checkout::{
    receipt_number, CheckoutSession, Payment, PaymentStatus, Refund, SessionStatus,
};
use paylink_domain::email::Email;
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{PaymentId, PaymentLinkId};
use paylink_domain::link::{LinkStatus, PaymentLink};
use paylink_domain::money::Amount;
use paylink_domain::states::{self, RefundRefusal};
use paylink_store::*;

use crate::catalog::{doc_insert, json};
use crate::checkout::{record, text, SESSION_COLS, STILL_OPEN};
use crate::counters::{shard_add, Counts};
use crate::dialect::Guarded;
use crate::events::{event_writes_numbered, insert_events};
use crate::links::{link, LINK_COLS};
use crate::sql::{int, json_col, opt_int, refused, Arg, Batch, Sql};
use crate::{backend, SqlStore};

pub(crate) const PAYMENT_COLS: &str =
    "status, amount_refunded, receipt_seq, receipt_token, merchant_id, livemode, data";

pub(crate) fn payment(row: &AnyRow) -> StoreResult<Payment> {
    let mut p: Payment = json_col(row, "data")?;
    let status = text(row, "status")?;
    p.status = PaymentStatus::parse(&status)
        .ok_or_else(|| backend(format!("unknown payment status `{status}`")))?;
    p.amount_refunded = paylink_domain::money::Amount::new(int(row, "amount_refunded")?)
        .ok_or_else(|| backend("bad amount_refunded"))?;
    // Payments recorded before migration 0014 keep their number in their JSON.
    if let Some(seq) = opt_int(row, "receipt_seq")? {
        p.receipt_number = Some(receipt_number(seq));
    }
    Ok(p)
}

/// The merchant's next receipt number, in the caller's transaction (see
/// [`Dialect::next_receipt`](crate::Dialect::next_receipt)).
pub(crate) async fn receipt_seq(conn: &mut AnyConnection, t: &Tenant) -> StoreResult<i64> {
    let q = crate::Dialect::of(conn).next_receipt(t.merchant_id().as_str());
    int(
        &q.query().fetch_one(&mut *conn).await.map_err(backend)?,
        "receipt_seq",
    )
}

pub(crate) async fn insert_payment(
    conn: &mut AnyConnection,
    t: &Tenant,
    p: &Payment,
    receipt_token: Option<&str>,
) -> StoreResult<()> {
    payment_insert(t, p, receipt_token, Arg::Int(None))?
        .exec(conn)
        .await?;
    Ok(())
}

/// The payment's row; `receipt_seq` is its receipt number's (a value, or an expression of
/// the write that takes it), none for a failed payment.
pub(crate) fn payment_insert(
    t: &Tenant,
    p: &Payment,
    receipt_token: Option<&str>,
    receipt_seq: Arg,
) -> StoreResult<Sql> {
    Ok(doc_insert(
        "payments",
        t,
        p.id.as_str(),
        p.created_at,
        json(p)?,
        vec![
            ("payment_link_id", p.payment_link_id.as_str().into()),
            ("checkout_session_id", p.checkout_session_id.as_str().into()),
            ("status", p.status.as_str().into()),
            ("amount", p.amount.minor().into()),
            ("amount_refunded", p.amount_refunded.minor().into()),
            ("currency", p.currency.code().into()),
            ("receipt_token", receipt_token.into()),
            ("receipt_seq", receipt_seq),
            (
                "subscription_id",
                p.subscription_id.as_ref().map(|s| s.to_string()).into(),
            ),
        ],
    ))
}

/// A successful payment's row and its two events (`payment.succeeded`,
/// `checkout_session.completed` with the completed `session`), the order it makes with its
/// two (`order.created`, `order.paid`), and its receipt e-mail in the outbox. The payment
/// and its event keep `receipt_seq`, the number it took (readers format it). (The receipt
/// e-mail names its payment and is composed when sent, so it needs no number.)
#[allow(clippy::too_many_arguments)]
fn succeeded_writes(
    b: &mut Batch,
    t: &Tenant,
    payment: &Payment,
    receipt_token: Option<&str>,
    receipt_seq: Arg,
    session: &CheckoutSession,
    order: Option<&Order>,
    receipt: Option<&Email>,
    subscription: Option<&NewSubscription<'_>>,
) -> StoreResult<()> {
    let now = payment.created_at;
    b.push(payment_insert(
        t,
        payment,
        receipt_token,
        receipt_seq.clone(),
    )?);
    let succeeded = Event::new(EventType::PaymentSucceeded, payment, t.livemode(), now);
    let completed = Event::new(
        EventType::CheckoutSessionCompleted,
        session,
        t.livemode(),
        now,
    );
    let mut events = vec![succeeded, completed];
    if let Some(o) = order {
        b.push(crate::orders::paid_order_insert(t, o)?);
        events.push(Event::new(EventType::OrderCreated, o, t.livemode(), now));
        events.push(Event::new(EventType::OrderPaid, o, t.livemode(), now));
    }
    event_writes_numbered(b, t, &events, receipt_seq)?;
    if let Some(e) = receipt {
        b.push(crate::emails::email_insert(t, e)?);
    }
    if let Some(n) = subscription {
        crate::subscriptions::subscription_writes(b, t, n)?;
    }
    Ok(())
}

/// `UPDATE checkout_sessions …` completing the session if it is still open at this attempt
/// (the caller adds its guards and `RETURNING`).
fn session_completion(t: &Tenant, c: &Completing<'_>) -> Sql {
    let mut q = Sql::new(
        "UPDATE checkout_sessions SET status = 'complete', attempt_status = NULL, payment_id = ",
    );
    q.bind(c.payment.id.as_str())
        .push(", result_status = ")
        .bind(i64::from(c.response.status));
    q.push(", result = ")
        .bind(String::from_utf8_lossy(&c.response.body).into_owned());
    q.push(" WHERE id = ")
        .bind(c.session.id.as_str())
        .push(" AND ")
        .owned_by(t)
        .push(STILL_OPEN)
        .push(" AND attempt_no = ")
        .bind(c.attempt_no);
    q
}

/// The payment with its receipt number.
pub(crate) fn receipted(p: &Payment, seq: i64) -> Payment {
    let mut payment = p.clone();
    payment.receipt_number = Some(receipt_number(seq));
    payment
}

impl SqlStore {
    pub(crate) async fn complete_checkout_impl(
        &self,
        t: &Tenant,
        c: &Completing<'_>,
    ) -> StoreResult<Completion> {
        let id = &c.session.id;
        let now = c.payment.created_at;
        let pays_an_order = c.payment.order_id.is_some() && c.new_order.is_none();
        let plain = !c.link_limited
            && !pays_an_order
            && c.session.line_items.iter().all(|l| l.product_id.is_none());
        if plain {
            if let Some(done) = self.complete_in_one(t, c).await? {
                return Ok(done);
            }
        }
        let mut w = self.begin_write().await?;
        // The session, if it is still open at this attempt (see `record`: only its columns
        // change). Whether the link has a limit decides where it counts (see `counters`).
        let mut q = session_completion(t, c);
        q.push(&format!(" RETURNING stock, {SESSION_COLS}, (SELECT payments_limit FROM payment_links l WHERE l.id = checkout_sessions.payment_link_id) AS link_limit"));
        let Some(row) = q
            .query()
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(backend)?
        else {
            drop(w);
            // Paid already (answer as then), or no longer open at this attempt.
            let rec = self.get_checkout(id).await?;
            return match (rec.session.status, rec.result) {
                (SessionStatus::Complete, Some(result)) => Ok(Completion::AlreadyComplete(result)),
                (SessionStatus::Complete, None) => {
                    Err(backend("complete session without a result"))
                }
                _ => Err(StoreError::Conflict(Conflict::CheckoutNotOpen)),
            };
        };
        let session = record(&row)?.session;
        let stock: BTreeMap<String, u32> = json_col(&row, "stock")?;
        let limited = opt_int(&row, "link_limit")?.is_some();

        // Receipt numbers count up per merchant (see `receipt_seq`).
        let seq = receipt_seq(&mut w.tx, t).await?;
        let payment = receipted(c.payment, seq);

        // Products, then the link's counters last: the lock order of every transaction
        // here, and the hot row of a busy limited link is held only from there to the commit.
        for (product, units) in &stock {
            let mut q = Sql::new("UPDATE products SET inventory_held = inventory_held - ");
            q.bind(i64::from(*units))
                .push(" WHERE id = ")
                .bind(product.as_str());
            q.query().execute(&mut *w.tx).await.map_err(backend)?;
        }
        // The order it pays, between the products and the link (the lock order).
        let mut events = Vec::new();
        if let (Some(order_id), None) = (&payment.order_id, c.new_order) {
            events.extend(crate::orders::pay(&mut w.tx, t, order_id, &payment, now).await?);
        }
        let mut b = Batch::default();
        succeeded_writes(
            &mut b,
            t,
            c.payment,
            c.receipt_token,
            seq.into(),
            &session,
            c.new_order,
            c.receipt,
            c.subscription.as_ref(),
        )?;
        let link_id = payment.payment_link_id.as_str();
        let mut q = Sql::new("UPDATE payment_links SET payments_count = payments_count + 1, reserved_count = reserved_count - 1, amount_collected = amount_collected + ");
        q.bind(c.collected.minor())
            .push(", version = version + 1 WHERE id = ");
        q.bind(link_id);
        q.push(&format!(" RETURNING payments_limit, {LINK_COLS}"));
        let on_row = q;
        let link_row = if limited {
            b.push(on_row);
            Some(b.fetch_last(&mut w.tx).await?.ok_or(StoreError::NotFound)?)
        } else {
            let paid = Counts::paid(c.collected.minor());
            b.push(shard_add(self.dialect, link_id, paid, |_| {}));
            match b.fetch_last(&mut w.tx).await? {
                Some(_) => None,
                // The link has a limit now: its row counts, and may be paid up.
                None => Some(on_row.found(&mut w.tx).await?),
            }
        };
        if let Some(link_row) = link_row {
            let mut l: PaymentLink = link(&link_row)?.value;
            l.url = c.link_url.to_owned();
            // The column is the limit's truth (it is what the guards read).
            l.payments_limit = opt_int(&link_row, "payments_limit")?
                .map(u32::try_from)
                .transpose()
                .map_err(backend)?;
            // Whether this payment used the link up is the domain's rule; the row is
            // locked by the count above, so nobody changes its status meanwhile.
            let was = l.status;
            l.settle_paid_status();
            if l.status != was && l.status == LinkStatus::Paid {
                let mut q = Sql::new("UPDATE payment_links SET status = ");
                q.bind(l.status.as_str())
                    .push(", paid_from = ")
                    .bind(was.as_str())
                    .push(" WHERE id = ")
                    .bind(link_id)
                    .push(" AND status = ")
                    .bind(was.as_str());
                q.exec(&mut w.tx).await?;
                events.push(Event::new(
                    EventType::PaymentLinkPaid,
                    &l,
                    t.livemode(),
                    now,
                ));
            }
        }
        insert_events(&mut w.tx, t, &events).await?;
        w.commit().await?;
        Ok(Completion::Recorded(Box::new(payment)))
    }

    /// A completion that holds no stock and pays no order, on a link without a limit, in one
    /// round trip: the session, the link's shard, the payment with its receipt number and
    /// its events (instead of `BEGIN`, four statements and `COMMIT`), as one guarded write
    /// ([`Guarded`]). It keeps all of that only if the session was still open at this
    /// attempt with no stock held, and the link still had no limit (the shard write's
    /// guard); otherwise nothing stays and `None` sends the caller down the transactional
    /// path, which finds out what changed and answers for it.
    async fn complete_in_one(
        &self,
        t: &Tenant,
        c: &Completing<'_>,
    ) -> StoreResult<Option<Completion>> {
        let mut session = c.session.clone();
        session.status = SessionStatus::Complete;
        session.payment_id = Some(c.payment.id.clone());
        let link_id = c.payment.payment_link_id.as_str();
        let mut g = Guarded::new(self.dialect);
        let seq = g.take_receipt(t.merchant_id().as_str());
        let mut completion = session_completion(t, c);
        completion.push(" AND stock = '{}'");
        g.guard(completion);
        let paid = Counts::paid(c.collected.minor());
        g.guard(shard_add(self.dialect, link_id, paid, |_| {}));
        let mut b = Batch::default();
        succeeded_writes(
            &mut b,
            t,
            c.payment,
            c.receipt_token,
            seq.clone(),
            &session,
            c.new_order,
            c.receipt,
            c.subscription.as_ref(),
        )?;
        g.push_all(b);
        let mut answer = Sql::new("");
        answer.bind(seq).push(" AS receipt_seq");
        match self.write_guarded(g, Some(answer)).await {
            Ok(Some(row)) => {
                let payment = receipted(c.payment, int(&row, "receipt_seq")?);
                Ok(Some(Completion::Recorded(Box::new(payment))))
            }
            Ok(None) => Err(backend("no receipt number")),
            Err(e) if refused(&e) => Ok(None),
            Err(e) => Err(crate::on_constraint(e)),
        }
    }

    pub(crate) async fn insert_refund_impl(&self, t: &Tenant, r: &Refund) -> StoreResult<Payment> {
        let mut w = self.begin_write().await?;
        let amount = r.amount.minor();
        // The domain decides ([`states::refund`]); the write only checks that nobody
        // refunded meanwhile, and reads again if someone did.
        loop {
            let (status, paid, refunded) = refund_state(&mut w.tx, t, &r.payment_id).await?;
            let (total, after) = states::refund(status, paid, refunded, r.amount).map_err(|e| {
                StoreError::Conflict(match e {
                    RefundRefusal::NotRefundable => Conflict::PaymentNotRefundable,
                    RefundRefusal::ExceedsPayment => Conflict::RefundExceedsPayment,
                    RefundRefusal::Empty => return backend("a refund of nothing"),
                })
            })?;
            if set_refunded(&mut w.tx, &r.payment_id, (status, refunded), (after, total)).await? {
                break;
            }
        }
        let q = doc_insert(
            "refunds",
            t,
            r.id.as_str(),
            r.created_at,
            json(r)?,
            vec![
                ("payment_id", r.payment_id.as_str().into()),
                ("amount", amount.into()),
            ],
        );
        q.exec(&mut w.tx).await?;
        let mut q = Sql::new(&format!("SELECT {PAYMENT_COLS} FROM payments WHERE id = "));
        q.bind(r.payment_id.as_str());
        let p = payment(&q.query().fetch_one(&mut *w.tx).await.map_err(backend)?)?;
        let refunded = serde_json::json!({"payment": p, "refund": r});
        insert_events(
            &mut w.tx,
            t,
            &[Event::new(
                EventType::PaymentRefunded,
                &refunded,
                t.livemode(),
                r.created_at,
            )],
        )
        .await?;
        w.commit().await?;
        Ok(p)
    }

    pub(crate) async fn revert_refund_impl(&self, t: &Tenant, r: &Refund) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("DELETE FROM refunds WHERE id = ");
        q.bind(r.id.as_str()).push(" AND ").owned_by(t);
        if q.exec(&mut w.tx).await? == 1 {
            loop {
                let (status, paid, refunded) = refund_state(&mut w.tx, t, &r.payment_id).await?;
                let (total, after) = states::unrefund(paid, refunded, r.amount);
                if set_refunded(&mut w.tx, &r.payment_id, (status, refunded), (after, total))
                    .await?
                {
                    break;
                }
            }
        }
        w.commit().await
    }

    pub(crate) async fn get_payment_impl(
        &self,
        t: &Tenant,
        id: &PaymentId,
    ) -> StoreResult<Payment> {
        payment(
            &self
                .fetch_one("payments", PAYMENT_COLS, t, id.as_str(), "")
                .await?,
        )
    }

    pub(crate) async fn link_takings_impl(
        &self,
        t: &Tenant,
        link: &PaymentLinkId,
    ) -> StoreResult<Vec<(String, i64, i64)>> {
        let mut q = Sql::new(
            "SELECT currency, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS total FROM payments WHERE payment_link_id = ",
        );
        q.bind(link.as_str())
            .push(" AND status <> 'failed' AND ")
            .owned_by(t)
            .push(" GROUP BY currency ORDER BY currency");
        let rows = self.rows(&q).await.map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok((
                    crate::sql::opt_text(r, "currency")?.unwrap_or_default(),
                    crate::sql::int(r, "n")?,
                    crate::sql::int(r, "total")?,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl PaymentStore for SqlStore {
    async fn get_payment(&self, t: &Tenant, id: &PaymentId) -> StoreResult<Payment> {
        self.get_payment_impl(t, id).await
    }

    async fn get_payment_public(
        &self,
        id: &PaymentId,
    ) -> StoreResult<(Tenant, Payment, Option<String>)> {
        let mut q = Sql::new(&format!(
            "SELECT {} FROM payments WHERE id = ",
            crate::payments::PAYMENT_COLS
        ));
        q.bind(id.as_str());
        let row = self
            .row(&q)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        let t = Tenant::stored(
            MerchantId::from_trusted(row.try_get("merchant_id").map_err(backend)?),
            int(&row, "livemode")? != 0,
        );
        let token: Option<String> = row.try_get("receipt_token").map_err(backend)?;
        Ok((t, crate::payments::payment(&row)?, token))
    }

    async fn link_takings(
        &self,
        t: &Tenant,
        link: &PaymentLinkId,
    ) -> StoreResult<Vec<(String, i64, i64)>> {
        self.link_takings_impl(t, link).await
    }

    async fn payments_report(
        &self,
        t: &Tenant,
        since: paylink_domain::time::Timestamp,
        link: Option<&PaymentLinkId>,
        top: u32,
    ) -> StoreResult<PaymentsReport> {
        self.payments_report_impl(t, since, link, top).await
    }

    async fn attention(
        &self,
        t: &Tenant,
        now: paylink_domain::time::Timestamp,
        horizon: paylink_domain::time::Timestamp,
        low_stock: i64,
        limit: u32,
    ) -> StoreResult<Attention> {
        self.attention_impl(t, now, horizon, low_stock, limit).await
    }

    async fn list_payments(
        &self,
        t: &Tenant,
        f: &PaymentFilter,
        page: &Page,
    ) -> StoreResult<Listed<Payment>> {
        let mut q = Sql::default();
        if let Some(l) = &f.payment_link_id {
            q.push(" AND payment_link_id = ").bind(l.as_str());
        }
        if let Some(s) = &f.status {
            q.push(" AND status = ").bind(s.as_str());
        }
        created_filter(&mut q, &f.created);
        if let Some(e) = &f.customer_email {
            // The expression of the `payments_customer` index, word for word.
            q.push(match self.dialect {
                crate::Dialect::Sqlite => " AND lower(json_extract(data, '$.customer.email')) = ",
                crate::Dialect::Postgres => " AND lower(data::jsonb #>> '{customer,email}') = ",
            })
            .bind(e.to_ascii_lowercase());
        }
        let rows = self
            .list_rows("payments", crate::payments::PAYMENT_COLS, t, q, page, "")
            .await?;
        map_listed(rows, crate::payments::payment)
    }

    async fn insert_refund(&self, t: &Tenant, r: &Refund) -> StoreResult<Payment> {
        self.insert_refund_impl(t, r).await
    }

    async fn revert_refund(&self, t: &Tenant, r: &Refund) -> StoreResult<()> {
        self.revert_refund_impl(t, r).await
    }
}

/// A payment's status, amount and refunded total, read in the caller's transaction.
async fn refund_state(
    conn: &mut AnyConnection,
    t: &Tenant,
    id: &PaymentId,
) -> StoreResult<(PaymentStatus, Amount, Amount)> {
    let mut q = Sql::new("SELECT status, amount, amount_refunded FROM payments WHERE id = ");
    q.bind(id.as_str()).push(" AND ").owned_by(t);
    let row = q
        .query()
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    let status = text(&row, "status")?;
    let amount = |col: &str| {
        int(&row, col).and_then(|n| Amount::new(n).ok_or_else(|| backend(format!("bad {col}"))))
    };
    Ok((
        PaymentStatus::parse(&status)
            .ok_or_else(|| backend(format!("unknown payment status `{status}`")))?,
        amount("amount")?,
        amount("amount_refunded")?,
    ))
}

/// Moves a payment from `(status, refunded)` as read to `(status, refunded)` decided by
/// the domain; `false` if another refund changed it in between (read again).
async fn set_refunded(
    conn: &mut AnyConnection,
    id: &PaymentId,
    (was, was_refunded): (PaymentStatus, Amount),
    (now, refunded): (PaymentStatus, Amount),
) -> StoreResult<bool> {
    let mut q = Sql::new("UPDATE payments SET amount_refunded = ");
    q.bind(refunded.minor())
        .push(", status = ")
        .bind(now.as_str())
        .push(" WHERE id = ")
        .bind(id.as_str());
    q.push(" AND status = ")
        .bind(was.as_str())
        .push(" AND amount_refunded = ")
        .bind(was_refunded.minor());
    Ok(q.exec(conn).await? == 1)
}
