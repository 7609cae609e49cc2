//! Checkout on SQL: reservations, payment attempts, completion, expiry and refunds.
//!
//! Every reservation is a conditional `UPDATE` inside the session's transaction
//! (`… WHERE <payments and holds> < payments_limit`, `… WHERE inventory_available >= $q`).
//! PostgreSQL re-checks the condition after taking the row lock and SQLite runs one writer
//! at a time, so no interleaving can oversell. A link without a limit counts its purchases
//! on shards instead of its row (see `counters`). Locks are taken in one order everywhere
//! (products by id, then the link) so transactions never deadlock.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use paylink_domain::catalog::Order;
use paylink_domain::checkout::{CheckoutSession, Payment, PaymentStatus, Refund, SessionStatus};
use paylink_domain::email::Email;
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{
    random_base62, CheckoutSessionId, MerchantId, PaymentId, PaymentLinkId, ProductId,
};
use paylink_domain::link::{LinkStatus, PaymentLink};
use paylink_domain::time::Timestamp;
use paylink_store::*;

use crate::catalog::{doc_insert, json};
use crate::counters::{shard_add, Counts, PAYMENTS_TOTAL, RESERVED_TOTAL, USED_TOTAL};
use crate::events::{event_writes, insert_events};
use crate::idempotency::owner_gone;
use crate::links::{link, LINK_COLS};
use crate::sql::{
    changed_or_refuse, int, is_postgres, json_col, opt_int, opt_text, refused, Arg, Batch, Sql,
};
use crate::Dialect;
use crate::{backend, SqlStore};

/// ` AND …`: the session, found by its id, is still open. Written as a range rather than
/// `status = 'open'` so that PostgreSQL cannot serve these lookups from the partial index
/// `checkout_sessions_expiry` (`WHERE status = 'open'`), which `=` would qualify: on a
/// table the planner takes for small (fresh, not yet analyzed) that index is costed below
/// the id's, and a plan cached then scanned every open session, and every dead version of
/// one, on each claim and completion. The expirer, which wants that index, keeps `=`.
pub(crate) const STILL_OPEN: &str = " AND status BETWEEN 'open' AND 'open'";

pub(crate) const SESSION_COLS: &str =
    "merchant_id, livemode, status, payment_id, secret_hash, attempt_no, attempt_status, \
    attempt_reference, result_status, result, data";
pub(crate) const PAYMENT_COLS: &str =
    "status, amount_refunded, receipt_token, merchant_id, livemode, data";

fn text(row: &AnyRow, col: &str) -> StoreResult<String> {
    row.try_get(col).map_err(backend)
}

pub(crate) fn tenant_of(row: &AnyRow) -> StoreResult<Tenant> {
    Ok(Tenant {
        merchant_id: MerchantId::from_trusted(text(row, "merchant_id")?),
        livemode: int(row, "livemode")? != 0,
    })
}

fn session_status(s: &str) -> SessionStatus {
    match s {
        "complete" => SessionStatus::Complete,
        "expired" => SessionStatus::Expired,
        _ => SessionStatus::Open,
    }
}

/// A session row. Its JSON keeps the session as it was opened; its status and payment
/// are the columns' (completing a session writes only those).
pub(crate) fn record(row: &AnyRow) -> StoreResult<CheckoutRecord> {
    let mut session: CheckoutSession = json_col(row, "data")?;
    session.status = session_status(&text(row, "status")?);
    if let Some(p) = opt_text(row, "payment_id")? {
        session.payment_id = Some(PaymentId::from_trusted(p));
    }
    let result = match (opt_int(row, "result_status")?, opt_text(row, "result")?) {
        (Some(status), Some(body)) => Some(StoredResponse {
            status: u16::try_from(status).map_err(backend)?,
            body: body.into_bytes(),
        }),
        _ => None,
    };
    Ok(CheckoutRecord {
        tenant: tenant_of(row)?,
        session,
        secret_hash: text(row, "secret_hash")?,
        attempt_no: int(row, "attempt_no")?,
        attempt_status: opt_text(row, "attempt_status")?,
        attempt_reference: opt_text(row, "attempt_reference")?,
        result,
    })
}

pub(crate) fn payment(row: &AnyRow) -> StoreResult<Payment> {
    let mut p: Payment = json_col(row, "data")?;
    let status = text(row, "status")?;
    p.status = PaymentStatus::parse(&status)
        .ok_or_else(|| backend(format!("unknown payment status `{status}`")))?;
    p.amount_refunded = paylink_domain::money::Amount::new(int(row, "amount_refunded")?)
        .ok_or_else(|| backend("bad amount_refunded"))?;
    Ok(p)
}

/// The merchant's next receipt number, in the caller's transaction: on PostgreSQL from the
/// merchant's sequence (migration 0009), which holds no lock; on SQLite from
/// `merchants.receipt_seq`, under the one writer's lock anyway.
async fn receipt_seq(conn: &mut AnyConnection, t: &Tenant) -> StoreResult<i64> {
    let pg = is_postgres(conn);
    let mut q = Sql::new(if pg {
        "SELECT paylink_next_receipt("
    } else {
        "UPDATE merchants SET receipt_seq = receipt_seq + 1 WHERE id = "
    });
    q.bind(t.merchant_id.as_str()).push(if pg {
        ") AS receipt_seq"
    } else {
        " RETURNING receipt_seq"
    });
    int(
        &q.query().fetch_one(&mut *conn).await.map_err(backend)?,
        "receipt_seq",
    )
}

/// Expires open sessions past their time that match `filter` (SQL after `WHERE …`, with
/// its own `$1..` numbering), releasing their holds and writing their events.
pub(crate) async fn expire_where(
    conn: &mut AnyConnection,
    now: Timestamp,
    filter: &str,
    args: Vec<Arg>,
) -> StoreResult<u64> {
    end_where(conn, now, now, filter, args).await
}

/// Ends the open sessions that expire by `cutoff` and match `filter` as
/// [`expire_where`] does; a session being paid right now (its attempt `processing`) is
/// never ended, its payment decides.
pub(crate) async fn end_where(
    conn: &mut AnyConnection,
    now: Timestamp,
    cutoff: Timestamp,
    filter: &str,
    args: Vec<Arg>,
) -> StoreResult<u64> {
    let mut q = Sql::new(
        "UPDATE checkout_sessions SET status = 'expired' WHERE status = 'open' AND expires_at <= ",
    );
    q.bind(cutoff.unix());
    q.push(" AND (attempt_status IS NULL OR attempt_status = 'requires_action')");
    q.append(filter, args);
    q.push(" RETURNING id, merchant_id, livemode, payment_link_id, order_id, stock, data");
    let rows = q.query().fetch_all(&mut *conn).await.map_err(backend)?;
    for row in &rows {
        let t = tenant_of(row)?;
        let link_id = text(row, "payment_link_id")?;
        let stock: BTreeMap<String, u32> = json_col(row, "stock")?;
        let order = opt_text(row, "order_id")?;
        let session_id = text(row, "id")?;
        release(
            conn,
            &link_id,
            &stock,
            order.as_deref().map(|o| (o, session_id.as_str())),
        )
        .await?;
        let mut session: CheckoutSession = json_col(row, "data")?;
        session.status = SessionStatus::Expired;
        insert_events(
            conn,
            &t,
            &[Event::new(
                EventType::CheckoutSessionExpired,
                &session,
                t.livemode,
                now,
            )],
        )
        .await?;
    }
    Ok(rows.len() as u64)
}

/// Gives a session's held use, stock and order (`(order, session)`) back.
async fn release(
    conn: &mut AnyConnection,
    link_id: &str,
    stock: &BTreeMap<String, u32>,
    order: Option<(&str, &str)>,
) -> StoreResult<()> {
    // Products before the link: the lock order of every transaction here.
    for (product, units) in stock {
        let mut q = Sql::new("UPDATE products SET inventory_available = inventory_available + ");
        q.bind(i64::from(*units))
            .push(", inventory_held = inventory_held - ")
            .bind(i64::from(*units));
        q.push(" WHERE id = ")
            .bind(product.as_str())
            .push(" AND inventory_available IS NOT NULL");
        q.query().execute(&mut *conn).await.map_err(backend)?;
    }
    if let Some((order_id, session_id)) = order {
        crate::orders::unhold(conn, order_id, session_id).await?;
    }
    let mut q = Sql::new("UPDATE payment_links SET reserved_count = reserved_count - 1, version = version + 1 WHERE id = ");
    q.bind(link_id);
    q.query().execute(&mut *conn).await.map_err(backend)?;
    Ok(())
}

impl SqlStore {
    /// A checkout on a link that holds neither a use nor stock: the shard's count and the
    /// session in one round trip, which writes nothing unless the link is open (at the
    /// cart's version) and has no limit; `false` then, and the transactional path decides
    /// and says why.
    ///
    /// On PostgreSQL it is one statement that does not wait for its WAL flush: if
    /// PostgreSQL itself crashed within the next few hundred milliseconds, the session (and
    /// its count) could be lost together and the customer would start again. Nothing can be
    /// charged on a lost session: paying first records the attempt with a flushed commit,
    /// and that flush writes the session's WAL too. On SQLite it is one write of the group
    /// commit ([`SqlStore::sqlite_atomic`]), refused by `paylink_guard` if the shard counted
    /// nothing.
    async fn start_plain(&self, t: &Tenant, c: &NewCheckout) -> StoreResult<bool> {
        let link_id = c.session.payment_link_id.as_str();
        let open = |q: &mut Sql| open_at(q, t, c);
        match self.dialect {
            Dialect::Postgres => {
                let mut q = Sql::new("WITH c AS (");
                q.append_sql(shard_add(self.dialect, link_id, Counts::started(), open));
                q.push(") ")
                    .append_sql(session_insert(t, c, &BTreeMap::new(), Some("c"))?)
                    .push(
                        " RETURNING id, set_config('synchronous_commit', 'off', true) AS commit_mode",
                    );
                Ok(self.write_one_row(&q).await?.is_some())
            }
            Dialect::Sqlite => {
                let mut b = Batch::default();
                b.push(shard_add(self.dialect, link_id, Counts::started(), open));
                b.push(changed_or_refuse());
                b.push(session_insert(t, c, &BTreeMap::new(), None)?);
                match self.sqlite_atomic(b).await {
                    Ok(_) => Ok(true),
                    Err(e) if refused(&e) => Ok(false),
                    Err(e) => Err(crate::on_constraint(e)),
                }
            }
        }
    }

    pub(crate) async fn start_checkout_impl(&self, t: &Tenant, c: &NewCheckout) -> StoreResult<()> {
        let link_id = c.session.payment_link_id.as_str();
        if !c.limited_uses && c.stock.is_empty() && c.order_id.is_none() {
            if self.start_plain(t, c).await? {
                return Ok(());
            }
            if c.link_version.is_some() {
                return Err(StoreError::Conflict("link_changed"));
            }
        }
        let mut w = self.begin_write().await?;
        // Holds that ran out are released first, so they never block a new customer. Only
        // limited uses and stock are held; the worker expires the rest in its own time.
        if c.limited_uses || !c.stock.is_empty() {
            expire_where(
                &mut w.tx,
                c.now,
                " AND payment_link_id = $1",
                vec![link_id.into()],
            )
            .await?;
        }
        // And the order's, held through another of its links.
        if let Some(order_id) = &c.order_id {
            crate::orders::end_expired_holder(&mut w.tx, order_id, c.now).await?;
        }

        // Products in id order: the same lock order as every other transaction.
        let mut held: BTreeMap<String, u32> = BTreeMap::new();
        for (product, units) in &c.stock {
            let n = i64::from(*units);
            let mut q =
                Sql::new("UPDATE products SET inventory_available = inventory_available - ");
            q.bind(n)
                .push(", inventory_held = inventory_held + ")
                .bind(n);
            q.push(" WHERE id = ")
                .bind(product.as_str())
                .push(" AND ")
                .owned_by(t);
            q.push(" AND inventory_available IS NOT NULL AND inventory_available >= ")
                .bind(n);
            if q.exec(&mut w.tx).await? == 1 {
                held.insert(product.to_string(), *units);
                continue;
            }
            let mut q =
                Sql::new("SELECT inventory_available, inventory_held FROM products WHERE id = ");
            q.bind(product.as_str());
            let row = q
                .query()
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(backend)?;
            let Some(row) = row else { continue };
            let Some(available) = opt_int(&row, "inventory_available")? else {
                continue;
            };
            // Not enough: sold out, or only while other checkouts hold the rest.
            let reason = if available + int(&row, "inventory_held")? >= n {
                "stock_reserved"
            } else {
                "sold_out"
            };
            return Err(StoreError::Conflict(reason));
        }

        // The order, between the products and the link (the lock order).
        if let Some(order_id) = &c.order_id {
            crate::orders::hold(&mut w.tx, t, order_id, &c.session.id).await?;
        }

        let q = session_insert(t, c, &held, None)?;
        let mut b = Batch::default();
        b.push(q);

        // The link's counters last: a link without a limit counts on a shard (see
        // `counters`); one with a limit on its row, under the limit's guard. Every purchase
        // of a link takes that row, so it is held only for this statement and the commit.
        let open = |q: &mut Sql| open_at(q, t, c);
        let mut q = Sql::new(
            "UPDATE payment_links SET reserved_count = reserved_count + 1, checkouts_started = checkouts_started + 1, \
             version = version + 1 WHERE id = ",
        );
        q.bind(link_id);
        open(&mut q);
        q.push(&format!(
            " AND (payments_limit IS NULL OR {USED_TOTAL} < payments_limit) RETURNING id"
        ));
        let on_row = q;
        let counted = if c.limited_uses {
            b.push(on_row.clone());
            b.fetch_last(&mut w.tx).await?.is_some()
        } else {
            b.push(shard_add(self.dialect, link_id, Counts::started(), open));
            // Nothing counted: the link is closed, or it has a limit now (the row decides).
            b.fetch_last(&mut w.tx).await?.is_some()
                || on_row
                    .query()
                    .fetch_optional(&mut *w.tx)
                    .await
                    .map_err(backend)?
                    .is_some()
        };
        if !counted && c.link_version.is_some() {
            return Err(StoreError::Conflict("link_changed"));
        }
        if !counted {
            let mut q = Sql::new(&format!("SELECT status, payments_limit, {PAYMENTS_TOTAL} AS paid, {RESERVED_TOTAL} AS held FROM payment_links WHERE id = "));
            q.bind(link_id);
            let row = q
                .query()
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound)?;
            let limit = opt_int(&row, "payments_limit")?;
            let (paid, held) = (int(&row, "paid")?, int(&row, "held")?);
            let status = text(&row, "status")?;
            return Err(StoreError::Conflict(match limit {
                _ if status != "active" => "link_inactive",
                Some(l) if paid >= l => "link_used_up",
                Some(l) if paid + held >= l => "link_fully_reserved",
                _ => "link_inactive",
            }));
        }
        w.commit().await
    }

    pub(crate) async fn begin_attempt_impl(
        &self,
        id: &CheckoutSessionId,
        now: Timestamp,
        stale_after: i64,
    ) -> StoreResult<AttemptClaim> {
        // The usual case, an open session nobody is paying, is one statement.
        let mut q = Sql::new("UPDATE checkout_sessions SET attempt_no = attempt_no + 1, attempt_status = 'processing', \
             attempt_reference = NULL, attempt_started_at = ");
        q.bind(now.unix())
            .push(", attempt_owner = ")
            .bind(self.instance.as_str())
            .push(" WHERE id = ")
            .bind(id.as_str())
            .push(STILL_OPEN)
            .push(
                " AND (attempt_status IS NULL OR attempt_status <> 'processing') AND expires_at > ",
            )
            .bind(now.unix())
            .push(" RETURNING attempt_no");
        if let Some(row) = self.write_one_row(&q).await? {
            return Ok(AttemptClaim::Claimed {
                attempt_no: int(&row, "attempt_no")?,
            });
        }
        let mut w = self.begin_write().await?;
        let mut q = Sql::new(&format!("SELECT expires_at, attempt_started_at, attempt_owner, {SESSION_COLS} FROM checkout_sessions WHERE id = "));
        q.bind(id.as_str());
        let row = q
            .query()
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        let rec = record(&row)?;
        let attempt = rec.attempt_no;
        let claim = match rec.session.status {
            SessionStatus::Complete => AttemptClaim::Finished(
                rec.result
                    .ok_or_else(|| backend("complete session without a result"))?,
            ),
            SessionStatus::Expired => AttemptClaim::Expired,
            SessionStatus::Open if rec.attempt_status.as_deref() == Some("processing") => {
                let started = opt_int(&row, "attempt_started_at")?.unwrap_or(0);
                // Left behind by a request that died, or by a process that did.
                if started < now.unix() - stale_after
                    || owner_gone(&mut w.tx, opt_text(&row, "attempt_owner")?, now).await?
                {
                    let mut q = Sql::new("UPDATE checkout_sessions SET attempt_started_at = ");
                    q.bind(now.unix())
                        .push(", attempt_owner = ")
                        .bind(self.instance.as_str())
                        .push(" WHERE id = ")
                        .bind(id.as_str())
                        .push(" AND attempt_no = ")
                        .bind(attempt);
                    q.push(" AND attempt_started_at = ").bind(started);
                    match q.exec(&mut w.tx).await? {
                        1 => AttemptClaim::Resume {
                            attempt_no: attempt,
                        },
                        _ => AttemptClaim::Busy,
                    }
                } else {
                    AttemptClaim::Busy
                }
            }
            SessionStatus::Open if int(&row, "expires_at")? <= now.unix() => {
                expire_where(&mut w.tx, now, " AND id = $1", vec![id.as_str().into()]).await?;
                AttemptClaim::Expired
            }
            SessionStatus::Open => {
                let mut q = Sql::new("UPDATE checkout_sessions SET attempt_no = attempt_no + 1, attempt_status = 'processing', \
                     attempt_reference = NULL, attempt_started_at = ");
                q.bind(now.unix())
                    .push(", attempt_owner = ")
                    .bind(self.instance.as_str())
                    .push(" WHERE id = ")
                    .bind(id.as_str())
                    .push(" AND attempt_no = ")
                    .bind(attempt);
                q.push(STILL_OPEN);
                match q.exec(&mut w.tx).await? {
                    1 => AttemptClaim::Claimed {
                        attempt_no: attempt + 1,
                    },
                    _ => AttemptClaim::Busy,
                }
            }
        };
        w.commit().await?;
        Ok(claim)
    }

    pub(crate) async fn end_attempt_impl(
        &self,
        id: &CheckoutSessionId,
        attempt_no: i64,
        failed: Option<&Payment>,
        events: &[Event],
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("UPDATE checkout_sessions SET attempt_status = NULL, attempt_reference = NULL WHERE id = ");
        q.bind(id.as_str())
            .push(" AND attempt_no = ")
            .bind(attempt_no)
            .push(STILL_OPEN);
        q.push(" RETURNING merchant_id, livemode");
        let Some(row) = q
            .query()
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(backend)?
        else {
            return Ok(());
        };
        let t = tenant_of(&row)?;
        if let Some(p) = failed {
            insert_payment(&mut w.tx, &t, p, None).await?;
        }
        insert_events(&mut w.tx, &t, events).await?;
        w.commit().await
    }

    pub(crate) async fn claim_fresh_attempt_impl(
        &self,
        id: &CheckoutSessionId,
        secret_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(CheckoutRecord, Option<LinkConfig>, i64)>> {
        let mut q = Sql::new("UPDATE checkout_sessions SET attempt_no = attempt_no + 1, attempt_status = 'processing', \
             attempt_reference = NULL, attempt_started_at = ");
        q.bind(now.unix())
            .push(", attempt_owner = ")
            .bind(self.instance.as_str())
            .push(" WHERE id = ")
            .bind(id.as_str())
            .push(" AND secret_hash = ")
            .bind(secret_hash)
            .push(STILL_OPEN)
            .push(" AND attempt_status IS NULL AND expires_at > ")
            .bind(now.unix());
        q.push(&format!(" RETURNING {SESSION_COLS}, {LINK_CONFIG_COLS}"));
        let Some(row) = self.write_one_row(&q).await? else {
            return Ok(None);
        };
        let rec = record(&row)?;
        let attempt_no = rec.attempt_no;
        Ok(Some((rec, link_config(&row)?, attempt_no)))
    }

    pub(crate) async fn get_checkout_impl(
        &self,
        id: &CheckoutSessionId,
        with_link: bool,
    ) -> StoreResult<(CheckoutRecord, Option<LinkConfig>)> {
        // The link by its primary key, in the same statement: one round trip for both.
        let link_cols = if with_link {
            format!(", {LINK_CONFIG_COLS}")
        } else {
            String::new()
        };
        let mut q = Sql::new(&format!(
            "SELECT {SESSION_COLS}{link_cols} FROM checkout_sessions WHERE id = "
        ));
        q.bind(id.as_str());
        let row = self
            .row(&q)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        let link = if with_link { link_config(&row)? } else { None };
        Ok((record(&row)?, link))
    }

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
                _ => Err(StoreError::Conflict("checkout_not_open")),
            };
        };
        let session = record(&row)?.session;
        let stock: BTreeMap<String, u32> = json_col(&row, "stock")?;
        let limited = opt_int(&row, "link_limit")?.is_some();

        // Receipt numbers count up per merchant (see `receipt_seq`).
        let seq = receipt_seq(&mut w.tx, t).await?;
        let (payment, token) = receipted(c.payment, seq);

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
        let number = payment.receipt_number.as_deref().unwrap_or_default();
        let receipt = c.receipt.map(|e| with_receipt_number(e, number));
        succeeded_writes(
            &mut b,
            t,
            &payment,
            token,
            &session,
            c.new_order,
            receipt.as_ref(),
            None,
        )?;
        let link_id = payment.payment_link_id.as_str();
        let mut q = Sql::new("UPDATE payment_links SET payments_count = payments_count + 1, reserved_count = reserved_count - 1, amount_collected = amount_collected + ");
        q.bind(c.collected.minor()).push(&format!(", version = version + 1, status = CASE WHEN payments_limit IS NOT NULL AND {PAYMENTS_TOTAL} + 1 >= payments_limit AND status IN ('active', 'inactive') THEN 'paid' ELSE status END WHERE id = "));
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
                None => Some(
                    on_row
                        .query()
                        .fetch_optional(&mut *w.tx)
                        .await
                        .map_err(backend)?
                        .ok_or(StoreError::NotFound)?,
                ),
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
            if l.status == LinkStatus::Paid
                && l.payments_limit.is_some_and(|lim| l.payments_count == lim)
            {
                events.push(Event::new(EventType::PaymentLinkPaid, &l, t.livemode, now));
            }
        }
        insert_events(&mut w.tx, t, &events).await?;
        w.commit().await?;
        Ok(Completion::Recorded(Box::new(payment)))
    }

    /// A completion that holds no stock and pays no order, on a link without a limit, in one
    /// round trip: the session, the link's shard, the payment and its events (instead of
    /// `BEGIN`, three statements and `COMMIT`). It keeps all of that only if the session was
    /// still open at this attempt with no stock held, and the link still had no limit (the
    /// shard write's guard); otherwise nothing stays and `None` sends the caller down the
    /// transactional path, which finds out what changed and answers for it.
    ///
    /// Either way the receipt number is only known inside the write, so the payment and its
    /// event are built with a placeholder number (a random token no input can contain) that
    /// the write replaces as it writes their JSON (`replace()`, see `succeeded_writes`):
    /// - On PostgreSQL it is one autocommit statement. Its first clause takes the number
    ///   from the merchant's sequence (migration 0009); it ends with `paylink_refuse` when a
    ///   guard failed.
    /// - On SQLite it is one write of the group commit ([`SqlStore::sqlite_atomic`]) with
    ///   `paylink_guard` after each guarded write; the number is `merchants.receipt_seq`,
    ///   incremented just before.
    async fn complete_in_one(
        &self,
        t: &Tenant,
        c: &Completing<'_>,
    ) -> StoreResult<Option<Completion>> {
        let mut session = c.session.clone();
        session.status = SessionStatus::Complete;
        session.payment_id = Some(c.payment.id.clone());
        let (_, receipt_token) = receipted(c.payment, 0);
        let merchant = t.merchant_id.as_str();
        let paid = Counts::paid(c.collected.minor());
        let link_id = c.payment.payment_link_id.as_str();
        let mut completion = session_completion(t, c);
        completion.push(" AND stock = '{}'");
        let mut b = Batch::default();
        let placeholder = format!("R-pending-{}", random_base62());
        let mut pending = c.payment.clone();
        pending.receipt_number = Some(placeholder.clone());
        let receipt = c.receipt.map(|e| with_receipt_number(e, &placeholder));
        // What the placeholder is replaced by (`replace(json, a, b)`'s `a, b`), and the
        // statement that ends the write and returns its number.
        let (numbered, last) = match self.dialect {
            Dialect::Postgres => {
                // `b0` the number, `b1` the session, `b2` the shard (see `Batch::joined`).
                let mut number = Sql::new("SELECT ");
                number
                    .bind(placeholder)
                    .push("::text AS placeholder, n AS receipt_seq, paylink_receipt_number(n) AS number FROM (SELECT paylink_next_receipt(")
                    .bind(merchant)
                    .push(") AS n) s");
                b.push(number);
                completion.push(" RETURNING id");
                b.push(completion);
                b.push(shard_add(self.dialect, link_id, paid, |_| {}));
                (
                    Sql::new("(SELECT placeholder FROM b0), (SELECT number FROM b0)"),
                    Sql::new(
                        "SELECT CASE WHEN EXISTS (SELECT 1 FROM b1) AND EXISTS (SELECT 1 FROM b2) \
                         THEN (SELECT receipt_seq FROM b0) \
                         ELSE paylink_refuse('completion guards failed') END AS receipt_seq",
                    ),
                )
            }
            Dialect::Sqlite => {
                b.push(completion).push(changed_or_refuse());
                b.push(shard_add(self.dialect, link_id, paid, |_| {}));
                b.push(changed_or_refuse());
                let mut seq =
                    Sql::new("UPDATE merchants SET receipt_seq = receipt_seq + 1 WHERE id = ");
                seq.bind(merchant);
                b.push(seq);
                let mut numbered = Sql::new("");
                numbered
                    .bind(placeholder)
                    .push(", (SELECT printf('R-%06d', receipt_seq) FROM merchants WHERE id = ")
                    .bind(merchant)
                    .push(")");
                let mut last = Sql::new("SELECT receipt_seq FROM merchants WHERE id = ");
                last.bind(merchant);
                (numbered, last)
            }
        };
        succeeded_writes(
            &mut b,
            t,
            &pending,
            receipt_token,
            &session,
            c.new_order,
            receipt.as_ref(),
            Some(&numbered),
        )?;
        b.push(last);
        let done = match self.dialect {
            Dialect::Sqlite => self.sqlite_atomic(b).await.map(|mut rows| rows.pop()),
            Dialect::Postgres => {
                let q = b.joined().ok_or_else(|| backend("empty batch"))?;
                self.row(&q).await
            }
        };
        match done {
            Ok(Some(row)) => {
                let payment = receipted(c.payment, int(&row, "receipt_seq")?).0;
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
        let mut q = Sql::new("UPDATE payments SET amount_refunded = amount_refunded + ");
        q.bind(amount)
            .push(", status = CASE WHEN amount_refunded + ")
            .bind(amount);
        q.push(" >= amount THEN 'refunded' ELSE 'partially_refunded' END WHERE id = ")
            .bind(r.payment_id.as_str());
        q.push(" AND ")
            .owned_by(t)
            .push(" AND status IN ('succeeded', 'partially_refunded') AND amount_refunded + ")
            .bind(amount);
        q.push(" <= amount");
        if q.exec(&mut w.tx).await? == 0 {
            drop(w);
            let p = self.get_payment_impl(t, &r.payment_id).await?;
            return Err(StoreError::Conflict(match p.status {
                PaymentStatus::Failed | PaymentStatus::Refunded => "payment_not_refundable",
                _ => "refund_exceeds_payment",
            }));
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
                t.livemode,
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
            let mut q = Sql::new("UPDATE payments SET amount_refunded = amount_refunded - ");
            q.bind(r.amount.minor())
                .push(", status = CASE WHEN amount_refunded - ")
                .bind(r.amount.minor());
            q.push(" = 0 THEN 'succeeded' ELSE 'partially_refunded' END WHERE id = ")
                .bind(r.payment_id.as_str());
            q.query().execute(&mut *w.tx).await.map_err(backend)?;
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

    pub(crate) async fn find_link_by_slug_impl(
        &self,
        slug: &str,
    ) -> StoreResult<Option<PublicLink>> {
        let mut q = Sql::new(&format!("SELECT merchant_id, livemode, deleted_at, {RESERVED_TOTAL} AS reserved_count, {LINK_COLS} FROM payment_links WHERE slug = "));
        q.bind(slug);
        let Some(row) = self.row(&q).await.map_err(backend)? else {
            return Ok(None);
        };
        Ok(Some(PublicLink {
            tenant: tenant_of(&row)?,
            link: link(&row)?,
            deleted: opt_int(&row, "deleted_at")?.is_some(),
            reserved: int(&row, "reserved_count")?,
        }))
    }

    pub(crate) async fn stock_levels_impl(
        &self,
        t: &Tenant,
        products: &[ProductId],
    ) -> StoreResult<Vec<(ProductId, StockLevel)>> {
        let mut out = Vec::with_capacity(products.len());
        for p in products {
            let mut q =
                Sql::new("SELECT inventory_available, inventory_held FROM products WHERE id = ");
            q.bind(p.as_str()).push(" AND ").owned_by(t);
            if let Some(row) = self.row(&q).await.map_err(backend)? {
                out.push((
                    p.clone(),
                    StockLevel {
                        available: opt_int(&row, "inventory_available")?,
                        held: int(&row, "inventory_held")?,
                    },
                ));
            }
        }
        Ok(out)
    }

    pub(crate) async fn next_hold_expiry_impl(
        &self,
        link_id: &PaymentLinkId,
    ) -> StoreResult<Option<Timestamp>> {
        let mut q = Sql::new(
            "SELECT MIN(expires_at) AS next FROM checkout_sessions WHERE payment_link_id = ",
        );
        q.bind(link_id.as_str()).push(" AND status = 'open'");
        let row = self.one(&q).await.map_err(backend)?;
        Ok(opt_int(&row, "next")?.map(Timestamp::from_unix))
    }
}

/// ` AND …`: the link is open to buyers (active, not deleted, not expired).
fn open_to_buyers(q: &mut Sql, t: &Tenant, now: Timestamp) {
    q.push(" AND ").owned_by(t);
    q.push(
        " AND status = 'active' AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > ",
    )
    .bind(now.unix())
    .push(")");
}

/// ` AND …`: the link is open to buyers and, if the cart was priced from a cached link,
/// still at that version.
fn open_at(q: &mut Sql, t: &Tenant, c: &NewCheckout) {
    open_to_buyers(q, t, c.now);
    if let Some(v) = c.link_version {
        q.push(" AND version = ").bind(v);
    }
}

/// The new session's row, holding `held` stock (`from`: see [`Sql::insert_from`]).
fn session_insert(
    t: &Tenant,
    c: &NewCheckout,
    held: &BTreeMap<String, u32>,
    from: Option<&str>,
) -> StoreResult<Sql> {
    let s = &c.session;
    Ok(Sql::insert_from(
        "checkout_sessions",
        vec![
            ("id", s.id.as_str().into()),
            ("merchant_id", t.merchant_id.as_str().into()),
            ("livemode", t.livemode.into()),
            ("payment_link_id", s.payment_link_id.as_str().into()),
            ("created_at", s.created_at.unix().into()),
            ("expires_at", s.expires_at.unix().into()),
            ("status", "open".into()),
            ("secret_hash", c.secret_hash.as_str().into()),
            ("stock", json(held)?.into()),
            (
                "order_id",
                c.order_id.as_ref().map(|o| o.to_string()).into(),
            ),
            ("data", json(s)?.into()),
        ],
        from,
    ))
}

async fn insert_payment(
    conn: &mut AnyConnection,
    t: &Tenant,
    p: &Payment,
    receipt_token: Option<String>,
) -> StoreResult<()> {
    payment_insert(t, p, receipt_token)?.exec(conn).await?;
    Ok(())
}

fn payment_insert(t: &Tenant, p: &Payment, receipt_token: Option<String>) -> StoreResult<Sql> {
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
        ],
    ))
}

/// A successful payment's row and its two events (`payment.succeeded`,
/// `checkout_session.completed` with the completed `session`), the order it makes with its
/// two (`order.created`, `order.paid`), and its receipt e-mail in the outbox.
/// With `numbered` (`a, b`: SQL of the last two arguments to `replace(json, a, b)`), the
/// payment's JSON, its event's and the e-mail's are written with `a` replaced by `b`: how
/// a number only the write knows replaces a placeholder.
#[allow(clippy::too_many_arguments)]
fn succeeded_writes(
    b: &mut Batch,
    t: &Tenant,
    payment: &Payment,
    receipt_token: Option<String>,
    session: &CheckoutSession,
    order: Option<&Order>,
    receipt: Option<&Email>,
    numbered: Option<&Sql>,
) -> StoreResult<()> {
    let now = payment.created_at;
    let row = payment_insert(t, payment, receipt_token)?;
    let succeeded = Event::new(EventType::PaymentSucceeded, payment, t.livemode, now);
    let completed = Event::new(
        EventType::CheckoutSessionCompleted,
        session,
        t.livemode,
        now,
    );
    let mut events = vec![succeeded, completed];
    let at = b.len();
    b.push(row);
    if let Some(o) = order {
        b.push(crate::orders::paid_order_insert(t, o)?);
        events.push(Event::new(EventType::OrderCreated, o, t.livemode, now));
        events.push(Event::new(EventType::OrderPaid, o, t.livemode, now));
    }
    let events_at = b.len();
    event_writes(b, t, &events)?;
    let email_at = b.len();
    if let Some(e) = receipt {
        b.push(crate::emails::email_insert(t, e)?);
    }
    if let Some(numbered) = numbered {
        // `data` is the fifth argument of a document row (`doc_insert`), the sixth of the
        // first event's (`event_writes`), the payment's, and the seventh of an e-mail's
        // (`email_insert`).
        let mut after = Sql::new(", ");
        after.append_sql(numbered.clone()).push(")");
        let wrap = |b: &mut Batch, i: usize, n: usize| {
            b.get_mut(i)
                .is_some_and(|q| q.wrap_arg(n, "replace(", &after))
        };
        let email_ok = receipt.is_none() || wrap(b, email_at, 7);
        if !(wrap(b, at, 5) && wrap(b, events_at, 6) && email_ok) {
            return Err(backend("receipt number placeholder not found"));
        }
    }
    Ok(())
}

/// The receipt e-mail with its number where [`RECEIPT_NUMBER_SLOT`] stands.
fn with_receipt_number(e: &Email, number: &str) -> Email {
    let mut e = e.clone();
    e.subject = e.subject.replace(RECEIPT_NUMBER_SLOT, number);
    e.text_body = e.text_body.replace(RECEIPT_NUMBER_SLOT, number);
    e.html_body = e.html_body.replace(RECEIPT_NUMBER_SLOT, number);
    e
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

/// The payment with its receipt number, and its receipt URL's token.
fn receipted(p: &Payment, seq: i64) -> (Payment, Option<String>) {
    let mut payment = p.clone();
    payment.receipt_number = Some(format!("R-{seq:06}"));
    let token = payment
        .receipt_url
        .as_deref()
        .and_then(|u| u.split("t=").nth(1))
        .map(str::to_owned);
    (payment, token)
}

/// The session's link's configuration, beside a `checkout_sessions` row (see [`link_config`]).
const LINK_CONFIG_COLS: &str =
    "(SELECT l.data FROM payment_links l WHERE l.id = checkout_sessions.payment_link_id \
     AND l.deleted_at IS NULL) AS link_data, (SELECT l.status FROM payment_links l \
     WHERE l.id = checkout_sessions.payment_link_id) AS link_status";

/// The link's configuration read beside a session (`link_data`, `link_status`).
fn link_config(row: &AnyRow) -> StoreResult<Option<LinkConfig>> {
    let Some(data) = opt_text(row, "link_data")? else {
        return Ok(None);
    };
    let mut l: PaymentLink = serde_json::from_str(&data)
        .map_err(|e| backend(format!("corrupt `payment_links.data`: {e}")))?;
    if let Some(status) = opt_text(row, "link_status")? {
        l.status = LinkStatus::parse(&status)
            .ok_or_else(|| backend(format!("unknown link status `{status}`")))?;
    }
    Ok(Some(LinkConfig(l)))
}
