//! A session's payment attempts: claimed before the processor is called (one at a time,
//! taken over when the process that claimed one died), waiting for the customer's action,
//! ended without a charge. Which transitions exist is the domain's
//! ([`AttemptState`]); the guards here ([`crate::guards`]) only make each one atomic.
//! Completing a session with its payment is `payments`'.

use paylink_domain::checkout::{Payment, SessionStatus};
use paylink_domain::event::Event;
use paylink_domain::id::CheckoutSessionId;
use paylink_domain::states::AttemptState;
use paylink_domain::time::Timestamp;
use paylink_store::*;
use sqlx::Row;

use crate::checkout::{
    expire_where, link_config, record, tenant_of, LINK_CONFIG_COLS, SESSION_COLS, STILL_OPEN,
};
use crate::events::insert_events;
use crate::guards::*;
use crate::idempotency::owner_gone;
use crate::payments::insert_payment;
use crate::sql::{int, opt_int, opt_text, Sql};
use crate::{backend, SqlStore};

impl SqlStore {
    /// `UPDATE checkout_sessions SET` a new attempt, processing, claimed by this process
    /// `WHERE id = $` (the caller adds its guards).
    fn new_attempt(&self, id: &CheckoutSessionId, now: Timestamp) -> Sql {
        let mut q = Sql::new(&format!(
            "UPDATE checkout_sessions SET attempt_no = attempt_no + 1, attempt_status = '{}', \
             attempt_reference = NULL, attempt_started_at = ",
            AttemptState::Processing.as_stored().unwrap_or("processing")
        ));
        q.bind(now.unix())
            .push(", attempt_owner = ")
            .bind(self.instance.as_str())
            .push(" WHERE id = ")
            .bind(id.as_str());
        q
    }

    pub(crate) async fn begin_attempt_impl(
        &self,
        id: &CheckoutSessionId,
        now: Timestamp,
        stale_after: i64,
    ) -> StoreResult<AttemptClaim> {
        // The usual case, an open session nobody is paying, is one statement.
        let mut q = self.new_attempt(id, now);
        q.push(STILL_OPEN)
            .push(&MAY_BEGIN)
            .push(" AND expires_at > ")
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
        let row = q.found(&mut w.tx).await?;
        let rec = record(&row)?;
        let attempt = rec.attempt_no;
        let claim = match rec.session.status {
            SessionStatus::Complete => AttemptClaim::Finished(
                rec.result
                    .ok_or_else(|| backend("complete session without a result"))?,
            ),
            SessionStatus::Expired => AttemptClaim::Expired,
            SessionStatus::Open if rec.attempt == AttemptState::Processing => {
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
                let mut q = self.new_attempt(id, now);
                q.push(" AND attempt_no = ").bind(attempt);
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
        let mut q = self.new_attempt(id, now);
        q.push(" AND secret_hash = ")
            .bind(secret_hash)
            .push(STILL_OPEN)
            .push(&IDLE)
            .push(" AND expires_at > ")
            .bind(now.unix());
        q.push(&format!(" RETURNING {SESSION_COLS}, {LINK_CONFIG_COLS}"));
        let Some(row) = self.write_one_row(&q).await? else {
            return Ok(None);
        };
        let rec = record(&row)?;
        let attempt_no = rec.attempt_no;
        Ok(Some((rec, link_config(&row)?, attempt_no)))
    }

    pub(crate) async fn attempt_requires_action_impl(
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
        q.push(STILL_OPEN).push(&MAY_REQUIRE_ACTION);
        q.query().execute(&mut *w.tx).await.map_err(backend)?;
        w.commit().await
    }

    pub(crate) async fn claim_action_impl(
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
        q.push(&MAY_RESUME_ACTION).push(STILL_OPEN);
        let claimed = q.exec(&mut w.tx).await? == 1;
        w.commit().await?;
        Ok(claimed)
    }

    pub(crate) async fn stuck_attempts_impl(
        &self,
        now: Timestamp,
        stale_before: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<CheckoutSessionId>> {
        let mut q =
            Sql::new("SELECT id FROM checkout_sessions WHERE status = 'open' AND expires_at <= ");
        q.bind(now.unix())
            .push(&PROCESSING)
            .push(" AND attempt_started_at < ")
            .bind(stale_before.unix())
            .push(" ORDER BY expires_at LIMIT ")
            .bind(limit);
        let rows = self.rows(&q).await.map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(CheckoutSessionId::from_trusted(
                    r.try_get::<String, _>("id").map_err(backend)?,
                ))
            })
            .collect()
    }
}
