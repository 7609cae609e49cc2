//! Checkout on SQL: reservations, payment attempts and expiry (a session's payment is
//! recorded in `payments`).
//!
//! Every reservation is a conditional `UPDATE` inside the session's transaction
//! (`… WHERE <payments and holds> < payments_limit`, `… WHERE inventory_available >= $q`).
//! PostgreSQL re-checks the condition after taking the row lock and SQLite runs one writer
//! at a time, so no interleaving can oversell. A link without a limit counts its purchases
//! on shards instead of its row (see `counters`). Locks are taken in one order everywhere
//! (products by id, then the link) so transactions never deadlock.

use async_trait::async_trait;

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use paylink_domain::checkout::{CheckoutSession, Payment, SessionStatus};
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{CheckoutSessionId, MerchantId, PaymentId, PaymentLinkId, ProductId};
use paylink_domain::link::{LinkStatus, PaymentLink};
use paylink_domain::states::AttemptState;
use paylink_domain::time::Timestamp;
use paylink_store::*;

use crate::catalog::json;
use crate::counters::{shard_add, Counts, PAYMENTS_TOTAL, RESERVED_TOTAL, USED_TOTAL};
use crate::dialect::Guarded;
use crate::events::insert_events;
use crate::guards::*;
use crate::links::{link, LINK_COLS};
use crate::sql::{int, json_col, opt_int, opt_text, refused, Arg, Batch, Sql};
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

pub(crate) fn text(row: &AnyRow, col: &str) -> StoreResult<String> {
    row.try_get(col).map_err(backend)
}

pub(crate) fn tenant_of(row: &AnyRow) -> StoreResult<Tenant> {
    Ok(Tenant::stored(
        MerchantId::from_trusted(text(row, "merchant_id")?),
        int(row, "livemode")? != 0,
    ))
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
        attempt: {
            let stored = opt_text(row, "attempt_status")?;
            AttemptState::from_stored(stored.as_deref())
                .ok_or_else(|| backend(format!("unknown attempt status {stored:?}")))?
        },
        attempt_reference: opt_text(row, "attempt_reference")?,
        result,
    })
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
    q.push(&MAY_END);
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
                t.livemode(),
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
    pub(crate) async fn end_checkout_impl(
        &self,
        t: &Tenant,
        id: &CheckoutSessionId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut w = self.begin_write().await?;
        let ended = end_where(
            &mut w.tx,
            now,
            Timestamp::from_unix(i64::MAX / 2),
            " AND id = $1 AND merchant_id = $2 AND livemode = $3",
            vec![
                id.as_str().into(),
                t.merchant_id().as_str().into(),
                t.livemode().into(),
            ],
        )
        .await?;
        w.commit().await?;
        Ok(ended == 1)
    }

    /// A checkout on a link that holds neither a use nor stock: the shard's count and the
    /// session in one round trip (a guarded write, [`Guarded`]), which writes nothing
    /// unless the link is open (at the cart's version) and has no limit; `false` then, and
    /// the transactional path decides and says why.
    ///
    /// On PostgreSQL the statement does not wait for its WAL flush
    /// ([`Dialect::unflushed_commit`]): if PostgreSQL itself crashed within the next few
    /// hundred milliseconds, the session (and its count) could be lost together and the
    /// customer would start again. Nothing can be charged on a lost session: paying first
    /// records the attempt with a flushed commit, and that flush writes the session's WAL too.
    async fn start_plain(&self, t: &Tenant, c: &NewCheckout) -> StoreResult<bool> {
        let link_id = c.session.payment_link_id.as_str();
        let mut g = Guarded::new(self.dialect);
        g.guard(shard_add(self.dialect, link_id, Counts::started(), |q| {
            open_at(q, t, c)
        }));
        g.push(session_insert(t, c, &BTreeMap::new())?);
        match self
            .write_guarded(g, self.dialect.unflushed_commit().map(Sql::new))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if refused(&e) => Ok(false),
            Err(e) => Err(crate::on_constraint(e)),
        }
    }

    pub(crate) async fn start_checkout_impl(&self, t: &Tenant, c: &NewCheckout) -> StoreResult<()> {
        let link_id = c.session.payment_link_id.as_str();
        if !c.limited_uses && c.stock.is_empty() && c.order_id.is_none() {
            if self.start_plain(t, c).await? {
                return Ok(());
            }
            if c.link_version.is_some() {
                return Err(StoreError::Conflict(Conflict::LinkChanged));
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
                Conflict::StockReserved
            } else {
                Conflict::SoldOut
            };
            return Err(StoreError::Conflict(reason));
        }

        // The order, between the products and the link (the lock order).
        if let Some(order_id) = &c.order_id {
            crate::orders::hold(&mut w.tx, t, order_id, &c.session.id).await?;
        }

        let q = session_insert(t, c, &held)?;
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
            return Err(StoreError::Conflict(Conflict::LinkChanged));
        }
        if !counted {
            let mut q = Sql::new(&format!("SELECT status, payments_limit, {PAYMENTS_TOTAL} AS paid, {RESERVED_TOTAL} AS held FROM payment_links WHERE id = "));
            q.bind(link_id);
            let row = q.found(&mut w.tx).await?;
            let limit = opt_int(&row, "payments_limit")?;
            let (paid, held) = (int(&row, "paid")?, int(&row, "held")?);
            let status = text(&row, "status")?;
            return Err(StoreError::Conflict(match limit {
                // Paid: its uses are used up (the limit may have been raised since, and the
                // link not yet settled by the merchant's edit).
                _ if status == LinkStatus::Paid.as_str() => Conflict::LinkUsedUp,
                _ if status != "active" => Conflict::LinkInactive,
                Some(l) if paid >= l => Conflict::LinkUsedUp,
                Some(l) if paid + held >= l => Conflict::LinkFullyReserved,
                _ => Conflict::LinkInactive,
            }));
        }
        w.commit().await
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

/// The new session's row, holding `held` stock.
fn session_insert(t: &Tenant, c: &NewCheckout, held: &BTreeMap<String, u32>) -> StoreResult<Sql> {
    let s = &c.session;
    Ok(Sql::insert(
        "checkout_sessions",
        vec![
            ("id", s.id.as_str().into()),
            ("merchant_id", t.merchant_id().as_str().into()),
            ("livemode", t.livemode().into()),
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
    ))
}

/// The session's link's configuration, beside a `checkout_sessions` row (see [`link_config`]).
pub(crate) const LINK_CONFIG_COLS: &str =
    "(SELECT l.data FROM payment_links l WHERE l.id = checkout_sessions.payment_link_id \
     AND l.deleted_at IS NULL) AS link_data, (SELECT l.status FROM payment_links l \
     WHERE l.id = checkout_sessions.payment_link_id) AS link_status";

/// The link's configuration read beside a session (`link_data`, `link_status`).
pub(crate) fn link_config(row: &AnyRow) -> StoreResult<Option<LinkConfig>> {
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

#[async_trait]
impl CheckoutStore for SqlStore {
    async fn stock_levels(
        &self,
        t: &Tenant,
        products: &[ProductId],
    ) -> StoreResult<Vec<(ProductId, StockLevel)>> {
        self.stock_levels_impl(t, products).await
    }

    async fn next_hold_expiry(&self, link_id: &PaymentLinkId) -> StoreResult<Option<Timestamp>> {
        self.next_hold_expiry_impl(link_id).await
    }

    async fn start_checkout(&self, t: &Tenant, c: &NewCheckout) -> StoreResult<()> {
        self.start_checkout_impl(t, c).await
    }

    async fn get_checkout(&self, id: &CheckoutSessionId) -> StoreResult<CheckoutRecord> {
        Ok(self.get_checkout_impl(id, false).await?.0)
    }

    async fn get_checkout_with_link(
        &self,
        id: &CheckoutSessionId,
    ) -> StoreResult<(CheckoutRecord, Option<LinkConfig>)> {
        self.get_checkout_impl(id, true).await
    }

    async fn claim_fresh_attempt(
        &self,
        id: &CheckoutSessionId,
        secret_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(CheckoutRecord, Option<LinkConfig>, i64)>> {
        self.claim_fresh_attempt_impl(id, secret_hash, now).await
    }

    async fn begin_attempt(
        &self,
        id: &CheckoutSessionId,
        now: Timestamp,
        stale_after_secs: i64,
    ) -> StoreResult<AttemptClaim> {
        self.begin_attempt_impl(id, now, stale_after_secs).await
    }

    async fn attempt_requires_action(
        &self,
        id: &CheckoutSessionId,
        attempt_no: i64,
        reference: &str,
    ) -> StoreResult<()> {
        self.attempt_requires_action_impl(id, attempt_no, reference)
            .await
    }

    async fn claim_action(
        &self,
        id: &CheckoutSessionId,
        attempt_no: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.claim_action_impl(id, attempt_no, now).await
    }

    async fn end_attempt(
        &self,
        id: &CheckoutSessionId,
        attempt_no: i64,
        failed: Option<&Payment>,
        events: &[Event],
    ) -> StoreResult<()> {
        self.end_attempt_impl(id, attempt_no, failed, events).await
    }

    async fn complete_checkout(&self, t: &Tenant, c: &Completing<'_>) -> StoreResult<Completion> {
        self.complete_checkout_impl(t, c).await
    }

    async fn stuck_attempts(
        &self,
        now: Timestamp,
        stale_before: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<CheckoutSessionId>> {
        self.stuck_attempts_impl(now, stale_before, limit).await
    }

    async fn end_checkout(
        &self,
        t: &Tenant,
        id: &CheckoutSessionId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.end_checkout_impl(t, id, now).await
    }

    async fn expire_checkouts(&self, now: Timestamp, limit: i64) -> StoreResult<u64> {
        let mut w = self.begin_write().await?;
        // Sessions being paid are not expired (their attempt decides); picking them here
        // would let a few stuck ones fill every batch.
        let filter = format!(
            " AND id IN (SELECT id FROM checkout_sessions WHERE status = 'open' AND expires_at <= $1{} \
             ORDER BY expires_at LIMIT $2)",
            *MAY_END
        );
        let n = crate::checkout::expire_where(
            &mut w.tx,
            now,
            &filter,
            vec![now.unix().into(), limit.into()],
        )
        .await?;
        w.commit().await?;
        Ok(n)
    }
}
