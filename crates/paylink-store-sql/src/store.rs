//! `Store` for [`SqlStore`]: every method, on both backends.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use paylink_domain::catalog::{Customer, Inventory, Order, Product, TaxRate};
use paylink_domain::checkout::{Payment, Refund};
use paylink_domain::event::Event;
use paylink_domain::id::*;
use paylink_domain::link::{LinkStatus, PaymentLink};
use paylink_domain::settings::MerchantSettings;
use paylink_domain::time::Timestamp;
use paylink_domain::webhook::WebhookEndpoint;
use paylink_store::*;

use crate::catalog::{doc_insert, insert_doc, json};
use crate::checkout::STILL_OPEN;
use crate::counters::{lock_link, PAYMENTS_TOTAL, RESERVED_TOTAL};
use crate::events::{event_writes, insert_events, EVENT_COLS};
use crate::links::{link, link_columns, LINK_COLS};
use crate::merchants::{api_key, merchant, KEY_COLS, MERCHANT_COLS};
use crate::sql::{created_filter, int, json_col, map_listed, opt_int, Arg, Batch, Sql};
use crate::{backend, on_constraint, Dialect, SqlStore};

fn product_row(row: &AnyRow) -> StoreResult<Product> {
    let mut p: Product = json_col(row, "data")?;
    p.inventory = opt_int(row, "inventory_available")?
        .map(|n| {
            u32::try_from(n)
                .map(|available| Inventory { available })
                .map_err(backend)
        })
        .transpose()?;
    Ok(p)
}

fn product_cols(p: &Product, set_inventory: bool) -> Vec<(&'static str, Arg)> {
    let mut cols = vec![("active", Arg::from(p.active))];
    if set_inventory {
        cols.push((
            "inventory_available",
            p.inventory.map(|i| i64::from(i.available)).into(),
        ));
    }
    cols
}

fn data_row<T: serde::de::DeserializeOwned>(row: &AnyRow) -> StoreResult<T> {
    json_col(row, "data")
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    // ---- merchants and keys ------------------------------------------------------------

    async fn create_merchant(&self, m: &Merchant, keys: &[ApiKeyRecord]) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let q = Sql::insert(
            "merchants",
            vec![
                ("id", m.id.as_str().into()),
                ("name", m.name.as_str().into()),
                ("email", m.email.as_str().into()),
                ("password_hash", m.password_hash.clone().into()),
                ("settings", json(&m.settings)?.into()),
                ("version", m.version.into()),
                ("created_at", m.created_at.unix().into()),
            ],
        );
        q.exec(&mut w.tx).await?;
        if self.dialect == Dialect::Postgres {
            // The merchant's receipt numbers (migration 0009), from 1.
            let mut q = Sql::new("SELECT paylink_receipts_create(");
            q.bind(m.id.as_str()).push(", 1)");
            q.query().execute(&mut *w.tx).await.map_err(backend)?;
        }
        for k in keys {
            insert_key(&mut w.tx, k).await?;
        }
        w.commit().await
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Merchant> {
        let mut q = Sql::new(&format!(
            "SELECT {MERCHANT_COLS} FROM merchants WHERE id = "
        ));
        q.bind(id.as_str());
        let row = self.row(&q).await.map_err(backend)?;
        merchant(&row.ok_or(StoreError::NotFound)?)
    }

    async fn count_merchants(&self) -> StoreResult<i64> {
        let row = self
            .one(&Sql::new("SELECT COUNT(*) AS n FROM merchants"))
            .await
            .map_err(backend)?;
        int(&row, "n")
    }

    async fn update_settings(
        &self,
        id: &MerchantId,
        settings: &MerchantSettings,
        version: i64,
    ) -> StoreResult<Merchant> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("UPDATE merchants SET settings = ");
        q.bind(json(settings)?)
            .push(", version = version + 1 WHERE id = ")
            .bind(id.as_str());
        q.push(" AND version = ").bind(version);
        let done = q.query().execute(&mut *w.tx).await.map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("concurrent_update"));
        }
        w.commit().await?;
        self.get_merchant(id).await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        insert_key(&mut w.tx, key).await?;
        w.commit().await
    }

    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let mut q = Sql::new(&format!(
            "SELECT {KEY_COLS} FROM api_keys WHERE key_hash = "
        ));
        q.bind(key_hash).push(" AND revoked_at IS NULL");
        let row = self.row(&q).await.map_err(backend)?;
        row.as_ref().map(api_key).transpose()
    }

    async fn list_api_keys(&self, t: &Tenant, page: &Page) -> StoreResult<Listed<ApiKeyRecord>> {
        map_listed(
            self.list_rows("api_keys", KEY_COLS, t, Sql::default(), page, "")
                .await?,
            api_key,
        )
    }

    async fn revoke_api_key(
        &self,
        t: &Tenant,
        id: &ApiKeyId,
        now: Timestamp,
    ) -> StoreResult<ApiKeyRecord> {
        let mut w = self.begin_write().await?;
        if self.dialect == Dialect::Postgres {
            // Revocations of one merchant's keys take turns (SQLite's writes always do), so
            // two racing to revoke the last two secret keys cannot both see the other's.
            let mut q = Sql::new("SELECT id FROM merchants WHERE id = ");
            q.bind(t.merchant_id.as_str()).push(" FOR UPDATE");
            q.query().execute(&mut *w.tx).await.map_err(backend)?;
        }
        let mut q = Sql::new(&format!("SELECT {KEY_COLS} FROM api_keys WHERE id = "));
        q.bind(id.as_str())
            .push(" AND ")
            .tenant(t)
            .push(" AND revoked_at IS NULL");
        let row = q
            .query()
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(backend)?;
        let key = api_key(&row.ok_or(StoreError::NotFound)?)?;
        if key.kind == KeyKind::Secret {
            let mut q = Sql::new("SELECT COUNT(*) AS n FROM api_keys WHERE ");
            q.tenant(t)
                .push(" AND kind = 'secret' AND revoked_at IS NULL AND id <> ")
                .bind(id.as_str());
            let row = q.query().fetch_one(&mut *w.tx).await.map_err(backend)?;
            if int(&row, "n")? == 0 {
                return Err(StoreError::Conflict("last_secret_key"));
            }
        }
        let mut q = Sql::new("UPDATE api_keys SET revoked_at = ");
        q.bind(now.unix()).push(" WHERE id = ").bind(id.as_str());
        q.query().execute(&mut *w.tx).await.map_err(backend)?;
        w.commit().await?;
        Ok(ApiKeyRecord {
            revoked_at: Some(now),
            ..key
        })
    }

    // ---- this process and idempotency (see `idempotency.rs`) ----------------------

    async fn heartbeat(&self, now: Timestamp) -> StoreResult<()> {
        self.heartbeat_impl(now).await
    }

    async fn retire(&self) -> StoreResult<()> {
        self.retire_impl().await
    }

    async fn idempotency_begin(
        &self,
        t: &Tenant,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> StoreResult<IdempotencyBegin> {
        self.idempotency_begin_impl(t, key, fingerprint, now).await
    }

    async fn idempotency_known(&self, t: &Tenant, key: &str, now: Timestamp) -> StoreResult<bool> {
        self.idempotency_known_impl(t, key, now).await
    }

    async fn idempotency_record(&self, t: &Tenant, answer: &IdempotentAnswer) -> StoreResult<bool> {
        self.idempotency_record_impl(t, answer).await
    }

    async fn idempotency_finish(
        &self,
        t: &Tenant,
        key: &str,
        response: &StoredResponse,
    ) -> StoreResult<()> {
        self.idempotency_finish_impl(t, key, response).await
    }

    async fn idempotency_release(&self, t: &Tenant, key: &str) -> StoreResult<()> {
        self.idempotency_release_impl(t, key).await
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> StoreResult<u64> {
        self.purge_idempotency_keys_impl(before).await
    }

    // ---- catalog -----------------------------------------------------------------------

    async fn insert_product(&self, t: &Tenant, p: &Product) -> StoreResult<()> {
        self.insert_doc_alone(
            "products",
            t,
            p.id.as_str(),
            p.created_at,
            json(p)?,
            product_cols(p, true),
        )
        .await
    }

    async fn get_product(&self, t: &Tenant, id: &ProductId) -> StoreResult<Product> {
        product_row(
            &self
                .fetch_one("products", "data, inventory_available", t, id.as_str(), "")
                .await?,
        )
    }

    async fn update_product(
        &self,
        t: &Tenant,
        p: &Product,
        set_inventory: bool,
    ) -> StoreResult<()> {
        self.update_doc_alone(
            "products",
            t,
            p.id.as_str(),
            json(p)?,
            product_cols(p, set_inventory),
        )
        .await
    }

    async fn list_products(
        &self,
        t: &Tenant,
        f: &ProductFilter,
        page: &Page,
    ) -> StoreResult<Listed<Product>> {
        let mut q = Sql::default();
        if let Some(a) = f.active {
            q.push(" AND active = ").bind(a);
        }
        let rows = self
            .list_rows("products", "data, inventory_available", t, q, page, "")
            .await?;
        map_listed(rows, product_row)
    }

    async fn insert_customer(&self, t: &Tenant, c: &Customer) -> StoreResult<()> {
        let cols = vec![("email", c.email.clone().into())];
        self.insert_doc_alone("customers", t, c.id.as_str(), c.created_at, json(c)?, cols)
            .await
    }

    async fn get_customer(&self, t: &Tenant, id: &CustomerId) -> StoreResult<Customer> {
        data_row(
            &self
                .fetch_one("customers", "data", t, id.as_str(), "")
                .await?,
        )
    }

    async fn update_customer(&self, t: &Tenant, c: &Customer) -> StoreResult<()> {
        let cols = vec![("email", c.email.clone().into())];
        self.update_doc_alone("customers", t, c.id.as_str(), json(c)?, cols)
            .await
    }

    async fn delete_customer(&self, t: &Tenant, id: &CustomerId) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("DELETE FROM customers WHERE id = ");
        q.bind(id.as_str()).push(" AND ").owned_by(t);
        if q.exec(&mut w.tx).await? == 0 {
            return Err(StoreError::NotFound);
        }
        w.commit().await
    }

    async fn list_customers(
        &self,
        t: &Tenant,
        f: &CustomerFilter,
        page: &Page,
    ) -> StoreResult<Listed<Customer>> {
        let mut q = Sql::default();
        if let Some(e) = &f.email {
            q.push(" AND email = ").bind(e.as_str());
        }
        map_listed(
            self.list_rows("customers", "data", t, q, page, "").await?,
            data_row,
        )
    }

    async fn insert_tax_rate(&self, t: &Tenant, r: &TaxRate) -> StoreResult<()> {
        let cols = vec![("active", r.active.into())];
        self.insert_doc_alone("tax_rates", t, r.id.as_str(), r.created_at, json(r)?, cols)
            .await
    }

    async fn get_tax_rate(&self, t: &Tenant, id: &TaxRateId) -> StoreResult<TaxRate> {
        data_row(
            &self
                .fetch_one("tax_rates", "data", t, id.as_str(), "")
                .await?,
        )
    }

    async fn update_tax_rate(&self, t: &Tenant, r: &TaxRate) -> StoreResult<()> {
        let cols = vec![("active", r.active.into())];
        self.update_doc_alone("tax_rates", t, r.id.as_str(), json(r)?, cols)
            .await
    }

    async fn list_tax_rates(
        &self,
        t: &Tenant,
        f: &TaxRateFilter,
        page: &Page,
    ) -> StoreResult<Listed<TaxRate>> {
        let mut q = Sql::default();
        if let Some(a) = f.active {
            q.push(" AND active = ").bind(a);
        }
        map_listed(
            self.list_rows("tax_rates", "data", t, q, page, "").await?,
            data_row,
        )
    }

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

    // ---- payment links -----------------------------------------------------------------

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
        b.push(self.answer_insert(t, a));
        let again = b.clone();
        match self.write_answered(b, t, a).await {
            // A key older than the retention period is forgotten: drop it and try once more.
            Err(StoreError::Conflict("idempotency_key_in_use"))
                if self.forget_stale_key(t, &a.key, a.now).await? =>
            {
                self.write_answered(again, t, a).await
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
                return Err(StoreError::Conflict("payment_link_has_payments"));
            }
            return Err(StoreError::Conflict("concurrent_update"));
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
            return Err(StoreError::Conflict("payment_link_has_payments"));
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

    // ---- checkout ----------------------------------------------------------------------

    async fn find_link_by_slug(&self, slug: &str) -> StoreResult<Option<PublicLink>> {
        self.find_link_by_slug_impl(slug).await
    }

    async fn add_views(&self, views: &[(PaymentLinkId, i64)]) -> StoreResult<()> {
        if views.is_empty() {
            return Ok(());
        }
        let mut w = self.begin_write().await?;
        for (id, n) in views {
            let mut q = Sql::new("UPDATE payment_links SET views = views + ");
            q.bind(*n).push(" WHERE id = ").bind(id.as_str());
            q.exec(&mut w.tx).await?;
        }
        w.commit().await
    }

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
        let mut w = self.begin_write().await?;
        let mut q = Sql::new(
            "UPDATE checkout_sessions SET attempt_status = 'requires_action', attempt_reference = ",
        );
        q.bind(reference)
            .push(" WHERE id = ")
            .bind(id.as_str())
            .push(" AND attempt_no = ")
            .bind(attempt_no);
        q.push(STILL_OPEN);
        q.query().execute(&mut *w.tx).await.map_err(backend)?;
        w.commit().await
    }

    async fn claim_action(
        &self,
        id: &CheckoutSessionId,
        attempt_no: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new(
            "UPDATE checkout_sessions SET attempt_status = 'processing', attempt_started_at = ",
        );
        q.bind(now.unix())
            .push(" WHERE id = ")
            .bind(id.as_str())
            .push(" AND attempt_no = ")
            .bind(attempt_no);
        q.push(" AND attempt_status = 'requires_action'")
            .push(STILL_OPEN);
        let claimed = q.exec(&mut w.tx).await? == 1;
        w.commit().await?;
        Ok(claimed)
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
            let t = Tenant {
                merchant_id: MerchantId::from_trusted(row.try_get("merchant_id").map_err(backend)?),
                livemode: int(row, "livemode")? != 0,
            };
            let mut l = link(row)?.value;
            l.url = format!("{public_url}/l/{}", l.slug.as_str());
            l.refresh_status(now);
            let ev = Event::new(
                paylink_domain::event::EventType::PaymentLinkExpired,
                &l,
                t.livemode,
                now,
            );
            insert_events(&mut w.tx, &t, &[ev]).await?;
        }
        w.commit().await?;
        Ok(rows.len() as u64)
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
        let filter = " AND id IN (SELECT id FROM checkout_sessions WHERE status = 'open' AND expires_at <= $1 AND (attempt_status IS NULL OR attempt_status = 'requires_action') ORDER BY expires_at LIMIT $2)";
        let n = crate::checkout::expire_where(
            &mut w.tx,
            now,
            filter,
            vec![now.unix().into(), limit.into()],
        )
        .await?;
        w.commit().await?;
        Ok(n)
    }

    // ---- payments and refunds ----------------------------------------------------------

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
        let t = Tenant {
            merchant_id: MerchantId::from_trusted(row.try_get("merchant_id").map_err(backend)?),
            livemode: int(&row, "livemode")? != 0,
        };
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

    // ---- webhooks ----------------------------------------------------------------------

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

    // ---- e-mail outbox ------------------------------------------------------------------

    async fn queue_emails(
        &self,
        t: &Tenant,
        emails: &[paylink_domain::email::Email],
        events: &[Event],
    ) -> StoreResult<()> {
        self.queue_emails_impl(t, emails, events).await
    }

    async fn list_emails(
        &self,
        t: &Tenant,
        status: Option<&str>,
        page: &Page,
    ) -> StoreResult<Listed<paylink_domain::email::Email>> {
        let mut q = Sql::default();
        if let Some(s) = status {
            q.push(" AND status = ").bind(s);
        }
        map_listed(
            self.list_rows("emails", crate::emails::EMAIL_COLS, t, q, page, "")
                .await?,
            crate::emails::email,
        )
    }

    async fn claim_emails(
        &self,
        now: Timestamp,
        limit: i64,
        lock_secs: i64,
    ) -> StoreResult<Vec<paylink_domain::email::Email>> {
        self.claim_emails_impl(now, limit, lock_secs).await
    }

    async fn finish_email(
        &self,
        id: &EmailId,
        error: Option<&str>,
        retry_at: Option<Timestamp>,
        sent: Option<&paylink_domain::email::Email>,
    ) -> StoreResult<()> {
        self.finish_email_impl(id, error, retry_at, sent).await
    }

    // ---- events ------------------------------------------------------------------------

    async fn get_event(&self, t: &Tenant, id: &EventId) -> StoreResult<Event> {
        crate::events::event(
            &self
                .fetch_one("events", EVENT_COLS, t, id.as_str(), "")
                .await?,
        )
    }

    async fn list_events(
        &self,
        t: &Tenant,
        f: &EventFilter,
        page: &Page,
    ) -> StoreResult<Listed<Event>> {
        let mut q = Sql::default();
        if let Some(k) = &f.kind {
            q.push(" AND type = ").bind(k.as_str());
        }
        created_filter(&mut q, &f.created);
        map_listed(
            self.list_rows("events", EVENT_COLS, t, q, page, "").await?,
            crate::events::event,
        )
    }
}

async fn insert_key(conn: &mut sqlx::AnyConnection, k: &ApiKeyRecord) -> StoreResult<()> {
    let q = Sql::insert(
        "api_keys",
        vec![
            ("id", k.id.as_str().into()),
            ("merchant_id", k.merchant_id.as_str().into()),
            ("livemode", k.livemode.into()),
            ("kind", k.kind.as_str().into()),
            ("name", k.name.as_str().into()),
            ("scopes", json(&k.scopes)?.into()),
            ("key_hash", k.key_hash.as_str().into()),
            ("masked", k.masked.as_str().into()),
            ("created_at", k.created_at.unix().into()),
            ("revoked_at", k.revoked_at.map(|t| t.unix()).into()),
        ],
    );
    q.exec(conn).await?;
    Ok(())
}
