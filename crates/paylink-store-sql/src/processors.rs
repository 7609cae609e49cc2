//! Processors on SQL: a merchant's credentials, the Stripe PaymentIntents of checkout
//! sessions (the first one made for a session kept; the open ones taken by the worker when
//! due, each by one worker), the Stripe events handled, and disputes.

use async_trait::async_trait;
use sqlx::any::AnyRow;

use paylink_domain::event::Event;
use paylink_domain::id::{CheckoutSessionId, MerchantId, PaymentId};
use paylink_domain::time::Timestamp;
use paylink_store::*;

use crate::checkout::{tenant_of, text};
use crate::events::insert_events;
use crate::sql::{int, Sql};
use crate::{backend, SqlStore};

const CREDENTIAL_COLS: &str =
    "processor, publishable_key, sealed, masked_secret_key, masked_webhook_secret, updated_at";

const INTENT_COLS: &str =
    "merchant_id, livemode, checkout_session_id, intent_id, client_secret_sealed, created_at, check_after";

fn credentials(row: &AnyRow) -> StoreResult<ProcessorCredentials> {
    Ok(ProcessorCredentials {
        processor: text(row, "processor")?,
        publishable_key: text(row, "publishable_key")?,
        sealed: text(row, "sealed")?,
        masked_secret_key: text(row, "masked_secret_key")?,
        masked_webhook_secret: text(row, "masked_webhook_secret")?,
        updated_at: Timestamp::from_unix(int(row, "updated_at")?),
    })
}

/// A PaymentIntent's row, with the tenant it names.
fn intent(row: &AnyRow) -> StoreResult<(Tenant, StripeIntent)> {
    Ok((
        tenant_of(row)?,
        StripeIntent {
            checkout_session_id: CheckoutSessionId::from_trusted(text(row, "checkout_session_id")?),
            intent_id: text(row, "intent_id")?,
            client_secret_sealed: text(row, "client_secret_sealed")?,
            created_at: Timestamp::from_unix(int(row, "created_at")?),
            check_after: Timestamp::from_unix(int(row, "check_after")?),
        },
    ))
}

#[async_trait]
impl ProcessorStore for SqlStore {
    async fn put_processor_credentials(
        &self,
        t: &Tenant,
        c: &ProcessorCredentials,
    ) -> StoreResult<()> {
        let mut q = Sql::new(&format!(
            "INSERT INTO processor_credentials (merchant_id, livemode, {CREDENTIAL_COLS}) VALUES ("
        ));
        q.bind(t.merchant_id().as_str())
            .push(", ")
            .bind(t.livemode());
        for v in [
            c.processor.as_str(),
            &c.publishable_key,
            &c.sealed,
            &c.masked_secret_key,
            &c.masked_webhook_secret,
        ] {
            q.push(", ").bind(v);
        }
        q.push(", ").bind(c.updated_at.unix()).push(
            ") ON CONFLICT (merchant_id, livemode, processor) DO UPDATE SET \
             publishable_key = excluded.publishable_key, sealed = excluded.sealed, \
             masked_secret_key = excluded.masked_secret_key, \
             masked_webhook_secret = excluded.masked_webhook_secret, \
             updated_at = excluded.updated_at",
        );
        self.write_one(&q).await?;
        Ok(())
    }

    async fn get_processor_credentials(
        &self,
        t: &Tenant,
        processor: &str,
    ) -> StoreResult<Option<ProcessorCredentials>> {
        let mut q = Sql::new(&format!(
            "SELECT {CREDENTIAL_COLS} FROM processor_credentials WHERE "
        ));
        q.tenant(t).push(" AND processor = ").bind(processor);
        self.row(&q)
            .await
            .map_err(backend)?
            .as_ref()
            .map(credentials)
            .transpose()
    }

    async fn put_stripe_intent(&self, t: &Tenant, i: &StripeIntent) -> StoreResult<StripeIntent> {
        // Only for a session of the tenant's; a session that has one keeps it.
        let session = i.checkout_session_id.as_str();
        let mut q = Sql::new(
            "INSERT INTO stripe_intents (checkout_session_id, merchant_id, livemode, intent_id, \
             client_secret_sealed, created_at, check_after) SELECT id, merchant_id, livemode, ",
        );
        q.bind(i.intent_id.as_str())
            .push(", ")
            .bind(i.client_secret_sealed.as_str())
            .push(", ")
            .bind(i.created_at.unix())
            .push(", ")
            .bind(i.check_after.unix())
            .push(" FROM checkout_sessions WHERE id = ")
            .bind(session)
            .push(" AND ")
            .owned_by(t)
            .push(" ON CONFLICT (checkout_session_id) DO NOTHING");
        self.write_one(&q).await?;
        let mut q = Sql::new(&format!(
            "SELECT {INTENT_COLS} FROM stripe_intents WHERE checkout_session_id = "
        ));
        q.bind(session).push(" AND ").owned_by(t);
        let row = self
            .row(&q)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        Ok(intent(&row)?.1)
    }

    async fn get_stripe_intent(
        &self,
        session: &CheckoutSessionId,
    ) -> StoreResult<Option<(Tenant, StripeIntent)>> {
        let mut q = Sql::new(&format!(
            "SELECT {INTENT_COLS} FROM stripe_intents WHERE checkout_session_id = "
        ));
        q.bind(session.as_str());
        self.row(&q)
            .await
            .map_err(backend)?
            .as_ref()
            .map(intent)
            .transpose()
    }

    async fn due_stripe_intents(
        &self,
        now: Timestamp,
        next: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<(Tenant, StripeIntent)>> {
        // The rows are taken earliest first and locked (PostgreSQL: a row another worker
        // holds is skipped, and one it moved meanwhile is read again and is no longer due;
        // SQLite: the writer's lock is held from here to the commit), then moved on. Two
        // statements rather than one `UPDATE … RETURNING`, which would return the rows in
        // no particular order and without the time each one was due.
        let mut w = self.begin_write().await?;
        let mut q = Sql::new(&format!(
            "SELECT {INTENT_COLS} FROM stripe_intents WHERE open = 1 AND check_after <= "
        ));
        q.bind(now.unix())
            .push(" ORDER BY check_after, checkout_session_id LIMIT ")
            .bind(i64::from(limit.clamp(1, 1000)))
            .push(self.dialect.skip_locked());
        let rows = q.query().fetch_all(&mut *w.tx).await.map_err(backend)?;
        let mut due = rows.iter().map(intent).collect::<StoreResult<Vec<_>>>()?;
        if due.is_empty() {
            return Ok(due);
        }
        let mut q = Sql::new("UPDATE stripe_intents SET check_after = ");
        q.bind(next.unix()).push(" WHERE checkout_session_id IN (");
        for (n, (_, i)) in due.iter_mut().enumerate() {
            q.push(if n == 0 { "" } else { ", " })
                .bind(i.checkout_session_id.as_str());
            i.check_after = next;
        }
        q.push(")");
        q.exec(&mut w.tx).await?;
        w.commit().await?;
        Ok(due)
    }

    async fn close_stripe_intent(&self, session: &CheckoutSessionId) -> StoreResult<()> {
        let mut q = Sql::new("UPDATE stripe_intents SET open = 0 WHERE checkout_session_id = ");
        q.bind(session.as_str()).push(" AND open = 1");
        self.write_one(&q).await?;
        Ok(())
    }

    async fn note_stripe_failure(
        &self,
        session: &CheckoutSessionId,
        key: &str,
    ) -> StoreResult<bool> {
        let mut q = Sql::new("UPDATE stripe_intents SET last_failure = ");
        q.bind(key)
            .push(" WHERE checkout_session_id = ")
            .bind(session.as_str())
            .push(" AND (last_failure IS NULL OR last_failure <> ")
            .bind(key)
            .push(")");
        Ok(self.write_one(&q).await? == 1)
    }

    async fn stripe_event_seen(&self, merchant: &MerchantId, event_id: &str) -> StoreResult<bool> {
        let mut q = Sql::new("SELECT 1 AS seen FROM stripe_events WHERE merchant_id = ");
        q.bind(merchant.as_str())
            .push(" AND event_id = ")
            .bind(event_id);
        Ok(self.row(&q).await.map_err(backend)?.is_some())
    }

    async fn record_stripe_event(
        &self,
        merchant: &MerchantId,
        event_id: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut q =
            Sql::new("INSERT INTO stripe_events (merchant_id, event_id, received_at) VALUES (");
        q.bind(merchant.as_str())
            .push(", ")
            .bind(event_id)
            .push(", ")
            .bind(now.unix())
            .push(") ON CONFLICT (merchant_id, event_id) DO NOTHING");
        self.write_one(&q).await?;
        Ok(())
    }

    async fn mark_payment_disputed(
        &self,
        t: &Tenant,
        id: &PaymentId,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut w = self.begin_write().await?;
        // Two reports of one dispute take turns: the second reads it disputed.
        if let Some(lock) = self.dialect.lock_row("payments", id.as_str()) {
            lock.query().execute(&mut *w.tx).await.map_err(backend)?;
        }
        let mut q = Sql::new("SELECT data FROM payments WHERE id = ");
        q.bind(id.as_str()).push(" AND ").owned_by(t);
        let row = q.found(&mut w.tx).await?;
        // The document as stored, changed in that one field only.
        let mut data: serde_json::Value = crate::sql::json_col(&row, "data")?;
        let Some(fields) = data.as_object_mut() else {
            return Err(backend("corrupt `payments.data`: not an object"));
        };
        if fields.get("disputed").and_then(serde_json::Value::as_bool) == Some(true) {
            return Ok(false);
        }
        fields.insert("disputed".into(), true.into());
        let mut q = Sql::new("UPDATE payments SET data = ");
        q.bind(crate::sql::to_json(&data)?)
            .push(" WHERE id = ")
            .bind(id.as_str());
        q.exec(&mut w.tx).await?;
        insert_events(&mut w.tx, t, std::slice::from_ref(event)).await?;
        w.commit().await?;
        Ok(true)
    }
}
