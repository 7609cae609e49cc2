//! Orders on SQL: an order is paid at most once.
//!
//! A checkout on any link of an order holds the order (`orders.held_by`, the session), as a
//! payments limit holds a use: a second checkout of the same order, on that link or on
//! another, is refused while the first may still pay. The hold is taken in the session's
//! own transaction, between the products and the link (the lock order of every transaction
//! here), and given back when the session ends unpaid (see `checkout::release`). Paying and
//! cancelling both need the hold: the payment that holds it marks the order paid; a
//! cancellation first ends the checkout that holds it, unless that checkout is being paid
//! right now.

use crate::catalog::*;
use crate::events::*;
use crate::sql::*;
use async_trait::async_trait;
use paylink_store::*;

use sqlx::AnyConnection;

use paylink_domain::catalog::{Order, OrderStatus};
use paylink_domain::checkout::Payment;
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{CheckoutSessionId, OrderId};
use paylink_domain::time::Timestamp;
use paylink_store::{Conflict, StoreError, StoreResult, Tenant};

use crate::catalog::json;
use crate::checkout::end_where;
use crate::sql::{json_col, opt_text, Sql};
use crate::{backend, SqlStore};

/// What stops a new hold of an order, as the store's conflict code.
fn refusal(status: &str) -> Conflict {
    match status {
        "paid" => Conflict::OrderPaid,
        "canceled" => Conflict::OrderCancelled,
        _ => Conflict::OrderReserved,
    }
}

/// Ends the checkout that holds `order_id` if it ran out of time and nobody has swept it
/// yet, giving its hold back. Called at the start of a checkout's transaction, before it
/// locks anything, as the link's own expired holds are: ending a session locks it, then its
/// stock, order and link, the order every transaction here takes them in.
pub(crate) async fn end_expired_holder(
    conn: &mut AnyConnection,
    order_id: &OrderId,
    now: Timestamp,
) -> StoreResult<()> {
    let filter = " AND id = (SELECT held_by FROM orders WHERE id = $1)";
    end_where(conn, now, now, filter, vec![order_id.as_str().into()]).await?;
    Ok(())
}

/// Takes the order for `session`, in the session's transaction (after
/// [`end_expired_holder`]). Conflicts: `order_paid`, `order_cancelled`, `order_reserved`
/// (another checkout holds it), `duplicate_object` (this very session, opened by a
/// concurrent request, holds it).
pub(crate) async fn hold(
    conn: &mut AnyConnection,
    t: &Tenant,
    order_id: &OrderId,
    session: &CheckoutSessionId,
) -> StoreResult<()> {
    for _ in 0..2 {
        let mut q = Sql::new("UPDATE orders SET held_by = ");
        q.bind(session.as_str())
            .push(" WHERE id = ")
            .bind(order_id.as_str())
            .push(" AND ")
            .owned_by(t)
            .push(" AND status = 'unpaid' AND held_by IS NULL");
        if q.exec(conn).await? == 1 {
            return Ok(());
        }
        let mut q = Sql::new("SELECT status, held_by FROM orders WHERE id = ");
        q.bind(order_id.as_str()).push(" AND ").owned_by(t);
        let row = q
            .query()
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?
            .ok_or(StoreError::Conflict(Conflict::OrderNotFound))?;
        let status = opt_text(&row, "status")?.unwrap_or_default();
        let Some(holder) = opt_text(&row, "held_by")?.filter(|_| status == "unpaid") else {
            return Err(StoreError::Conflict(refusal(&status)));
        };
        if holder == session.as_str() {
            return Err(StoreError::Conflict(Conflict::DuplicateObject));
        }
        // A hold whose checkout is no longer open is let go of (never left behind by this
        // code, but an order must not stay locked by one).
        let mut q = Sql::new("UPDATE orders SET held_by = NULL WHERE id = ");
        q.bind(order_id.as_str())
            .push(" AND held_by = ")
            .bind(holder.as_str())
            .push(" AND NOT EXISTS (SELECT 1 FROM checkout_sessions s WHERE s.id = ")
            .bind(holder.as_str())
            .push(" AND s.status = 'open')");
        if q.exec(conn).await? == 0 {
            return Err(StoreError::Conflict(Conflict::OrderReserved));
        }
    }
    Err(StoreError::Conflict(Conflict::OrderReserved))
}

/// Gives an order back when the checkout `session` that held it ends unpaid.
pub(crate) async fn unhold(
    conn: &mut AnyConnection,
    order_id: &str,
    session: &str,
) -> StoreResult<()> {
    let mut q = Sql::new("UPDATE orders SET held_by = NULL WHERE id = ");
    q.bind(order_id).push(" AND held_by = ").bind(session);
    q.exec(conn).await?;
    Ok(())
}

/// Marks the order that `payment` pays as paid, in the payment's transaction, and returns
/// its `order.paid` event. The payment's checkout holds the order (a session opened before
/// holds existed may not, and still pays an order nobody else holds).
pub(crate) async fn pay(
    conn: &mut AnyConnection,
    t: &Tenant,
    order_id: &OrderId,
    payment: &Payment,
    now: Timestamp,
) -> StoreResult<Option<Event>> {
    let session = payment.checkout_session_id.as_str();
    // The status first (one conditional write, so two payments can never both win), then
    // the document with it.
    let mut q = Sql::new("UPDATE orders SET status = 'paid', held_by = NULL WHERE id = ");
    q.bind(order_id.as_str())
        .push(" AND status = 'unpaid' AND (held_by = ")
        .bind(session)
        .push(" OR held_by IS NULL) RETURNING data");
    let Some(row) = q
        .query()
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
    else {
        // Only a checkout opened before orders were held (migration 0013) can get here:
        // the charge is made, so the payment is recorded, and the merchant refunds it.
        tracing::error!(order.id = %order_id, payment.id = %payment.id, "a payment succeeded for an order its checkout did not hold");
        return Ok(None);
    };
    let mut order: Order = json_col(&row, "data")?;
    order.status = OrderStatus::Paid;
    order.payment_id = Some(payment.id.clone());
    order.updated_at = now;
    let mut q = Sql::new("UPDATE orders SET data = ");
    q.bind(json(&order)?)
        .push(" WHERE id = ")
        .bind(order_id.as_str());
    q.exec(conn).await?;
    Ok(Some(Event::new(
        EventType::OrderPaid,
        &order,
        t.livemode(),
        now,
    )))
}

/// The row of an order made by a payment, already paid (see `Completing::new_order`).
pub(crate) fn paid_order_insert(t: &Tenant, o: &Order) -> StoreResult<Sql> {
    Ok(crate::catalog::doc_insert(
        "orders",
        t,
        o.id.as_str(),
        o.created_at,
        json(o)?,
        vec![
            ("status", o.status.as_str().into()),
            (
                "customer_id",
                o.customer_id.as_ref().map(|c| c.to_string()).into(),
            ),
        ],
    ))
}

impl SqlStore {
    pub(crate) async fn cancel_order_impl(
        &self,
        t: &Tenant,
        id: &OrderId,
        now: Timestamp,
    ) -> StoreResult<Order> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("SELECT status, held_by, data FROM orders WHERE id = ");
        q.bind(id.as_str()).push(" AND ").owned_by(t);
        let row = q.found(&mut w.tx).await?;
        let status = opt_text(&row, "status")?.unwrap_or_default();
        if status != "unpaid" {
            return Err(StoreError::Conflict(refusal(&status)));
        }
        // A checkout that holds the order ends now, whatever its time left; one being paid
        // right now is not ended, and its payment decides.
        if let Some(holder) = opt_text(&row, "held_by")? {
            end_where(
                &mut w.tx,
                now,
                Timestamp::from_unix(i64::MAX / 2),
                " AND id = $1",
                vec![holder.into()],
            )
            .await?;
        }
        let mut order: Order = json_col(&row, "data")?;
        order.status = OrderStatus::Canceled;
        order.updated_at = now;
        let mut q = Sql::new("UPDATE orders SET status = 'canceled', data = ");
        q.bind(json(&order)?)
            .push(" WHERE id = ")
            .bind(id.as_str())
            .push(" AND status = 'unpaid' AND held_by IS NULL");
        if q.exec(&mut w.tx).await? == 0 {
            // Being paid right now, paid meanwhile, or taken by a checkout since it was read
            // (PostgreSQL).
            let mut q = Sql::new("SELECT status FROM orders WHERE id = ");
            q.bind(id.as_str());
            let row = q.query().fetch_one(&mut *w.tx).await.map_err(backend)?;
            return Err(StoreError::Conflict(
                match opt_text(&row, "status")?.as_deref() {
                    Some("unpaid") | None => Conflict::OrderBeingPaid,
                    Some(other) => refusal(other),
                },
            ));
        }
        w.commit().await?;
        Ok(order)
    }
}

#[async_trait]
impl OrderStore for SqlStore {
    async fn insert_order(&self, t: &Tenant, o: &Order, events: &[Event]) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let cols = vec![
            ("status", o.status.as_str().into()),
            (
                "customer_id",
                o.customer_id.as_ref().map(|c| c.to_string()).into(),
            ),
        ];
        insert_doc(
            &mut w.tx,
            "orders",
            t,
            o.id.as_str(),
            o.created_at,
            json(o)?,
            cols,
        )
        .await?;
        insert_events(&mut w.tx, t, events).await?;
        w.commit().await
    }

    async fn get_order(&self, t: &Tenant, id: &OrderId) -> StoreResult<Order> {
        data_row(&self.fetch_one("orders", "data", t, id.as_str(), "").await?)
    }

    async fn cancel_order(&self, t: &Tenant, id: &OrderId, now: Timestamp) -> StoreResult<Order> {
        self.cancel_order_impl(t, id, now).await
    }

    async fn list_orders(
        &self,
        t: &Tenant,
        f: &OrderFilter,
        page: &Page,
    ) -> StoreResult<Listed<Order>> {
        let mut q = Sql::default();
        if let Some(s) = &f.status {
            q.push(" AND status = ").bind(s.as_str());
        }
        if let Some(c) = &f.customer_id {
            q.push(" AND customer_id = ").bind(c.as_str());
        }
        map_listed(
            self.list_rows("orders", "data", t, q, page, "").await?,
            data_row,
        )
    }
}
