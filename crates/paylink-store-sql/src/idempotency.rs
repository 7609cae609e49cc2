//! Idempotency keys and this process's liveness, for `Store` on [`SqlStore`].
//!
//! A key is claimed by one atomic insert naming this process; a retry replays the kept
//! answer, the same key with another request is refused, and a claim left by a request or
//! a process that died is taken over (after `IDEMPOTENCY_LOCK_SECS`, or at once when its
//! process stops being seen: see `ProcessStore::heartbeat`).

use async_trait::async_trait;

use sqlx::Row;

use paylink_domain::time::Timestamp;
use paylink_store::*;

use crate::sql::{int, opt_int, opt_text, Batch, Sql};
use crate::{backend, SqlStore};

/// Idempotency keys are honoured for 24 hours.
const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

impl SqlStore {
    /// `INSERT` of a key with its answer already recorded.
    pub(crate) fn answer_insert(&self, scope: &IdempotencyScope, a: &IdempotentAnswer) -> Sql {
        let mut q = Sql::new(
            "INSERT INTO idempotency_keys (merchant_id, livemode, key, fingerprint, locked_at, created_at, response_status, response_body) VALUES (",
        );
        let (owner, livemode) = scope.owner();
        q.bind(owner.as_ref())
            .push(", ")
            .bind(livemode)
            .push(", ")
            .bind(a.key.as_str());
        q.push(", ")
            .bind(a.fingerprint.as_str())
            .push(", ")
            .bind(a.now.unix())
            .push(", ")
            .bind(a.now.unix());
        q.push(", ").bind(i64::from(a.response.status)).push(", ");
        self.body_blob(&mut q, &a.response.body);
        q.push(")");
        q
    }

    /// A response body as the `response_body` column holds it. Bodies are UTF-8 JSON,
    /// bound as text so both backends take the same type.
    fn body_blob(&self, q: &mut Sql, body: &[u8]) {
        self.dialect.bytes(q, body);
    }
}
impl SqlStore {
    /// Writes a batch that records `a`; a refusal caused by the key says so.
    pub(crate) async fn write_answered(
        &self,
        b: Batch,
        scope: &IdempotencyScope,
        a: &IdempotentAnswer,
    ) -> StoreResult<()> {
        match self.write_batch(b).await {
            // A request retrying (or racing) with a known key may meet the first one's slug
            // before its key (SQLite runs the batch in order): the key decides.
            Err(StoreError::Conflict(Conflict::SlugTaken))
                if self.idempotency_known(scope, &a.key, a.now).await? =>
            {
                Err(StoreError::Conflict(Conflict::IdempotencyKeyInUse))
            }
            r => r,
        }
    }

    /// Deletes `key` if it is older than the retention period; whether it did.
    pub(crate) async fn forget_stale_key(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut q = Sql::new("DELETE FROM idempotency_keys WHERE ");
        q.scope(scope)
            .push(" AND key = ")
            .bind(key)
            .push(" AND created_at < ")
            .bind(now.unix() - IDEMPOTENCY_TTL_SECS);
        Ok(self.write_one(&q).await? == 1)
    }
}

/// A claim not finished within this time is taken to be from a crashed request.
const IDEMPOTENCY_LOCK_SECS: i64 = 60;

impl SqlStore {
    pub(crate) async fn heartbeat_impl(&self, now: Timestamp) -> StoreResult<()> {
        let mut q = Sql::new("INSERT INTO instances (id, started_at, seen_at) VALUES (");
        q.bind(self.instance.as_str())
            .push(", ")
            .bind(now.unix())
            .push(", ")
            .bind(now.unix())
            .push(") ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at");
        self.write_one(&q).await?;
        if self
            .instances_swept
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        // Rows of processes long gone name no claim that is still kept: cleared once, as
        // each process starts.
        let mut q = Sql::new("DELETE FROM instances WHERE seen_at < ");
        q.bind(now.unix() - 7 * 86_400);
        self.write_one(&q).await.map(drop)
    }

    pub(crate) async fn retire_impl(&self) -> StoreResult<()> {
        // Last seen long enough ago to be dead, and recently enough not to be cleared.
        let mut q = Sql::new("UPDATE instances SET seen_at = ");
        q.bind(Timestamp::now().unix() - DEAD_AFTER_SECS - 1)
            .push(" WHERE id = ")
            .bind(self.instance.as_str());
        self.write_one(&q).await.map(drop)
    }

    pub(crate) async fn idempotency_begin_impl(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> StoreResult<IdempotencyBegin> {
        let (owner, livemode) = scope.owner();
        let mut claim = Sql::insert(
            "idempotency_keys",
            vec![
                ("merchant_id", owner.as_ref().into()),
                ("livemode", livemode.into()),
                ("key", key.into()),
                ("fingerprint", fingerprint.into()),
                ("locked_at", now.unix().into()),
                ("created_at", now.unix().into()),
                ("owner", self.instance.as_str().into()),
            ],
        );
        claim.push(" ON CONFLICT (merchant_id, livemode, key) DO NOTHING");
        // The usual case, a new key, is one statement.
        if self.write_one(&claim).await? == 1 {
            return Ok(IdempotencyBegin::Started);
        }
        let mut w = self.begin_write().await?;
        // A key older than the retention period is forgotten and may be used afresh.
        let mut q = Sql::new("DELETE FROM idempotency_keys WHERE ");
        q.scope(scope)
            .push(" AND key = ")
            .bind(key)
            .push(" AND created_at < ")
            .bind(now.unix() - IDEMPOTENCY_TTL_SECS);
        q.query().execute(&mut *w.tx).await.map_err(backend)?;
        if claim.exec(&mut w.tx).await? == 1 {
            w.commit().await?;
            return Ok(IdempotencyBegin::Started);
        }
        let mut q = Sql::new("SELECT fingerprint, response_status, response_body, locked_at, owner FROM idempotency_keys WHERE ");
        q.scope(scope).push(" AND key = ").bind(key);
        let row = q.query().fetch_one(&mut *w.tx).await.map_err(backend)?;
        let stored_fp: String = row.try_get("fingerprint").map_err(backend)?;
        let outcome = if stored_fp != fingerprint {
            IdempotencyBegin::Mismatch
        } else if let Some(status) = opt_int(&row, "response_status")? {
            let body: Option<Vec<u8>> = row.try_get("response_body").map_err(backend)?;
            IdempotencyBegin::Replay(StoredResponse {
                status: u16::try_from(status).map_err(backend)?,
                body: body.unwrap_or_default(),
            })
        } else if int(&row, "locked_at")? < now.unix() - IDEMPOTENCY_LOCK_SECS
            || owner_gone(&mut w.tx, opt_text(&row, "owner")?, now).await?
        {
            // The request that claimed it died (or its process did): take it over.
            let mut q = Sql::new("UPDATE idempotency_keys SET locked_at = ");
            q.bind(now.unix())
                .push(", owner = ")
                .bind(self.instance.as_str())
                .push(" WHERE ")
                .scope(scope)
                .push(" AND key = ")
                .bind(key);
            q.query().execute(&mut *w.tx).await.map_err(backend)?;
            IdempotencyBegin::Started
        } else {
            IdempotencyBegin::InFlight
        };
        w.commit().await?;
        Ok(outcome)
    }

    pub(crate) async fn idempotency_known_impl(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut q = Sql::new("SELECT created_at FROM idempotency_keys WHERE ");
        q.scope(scope)
            .push(" AND key = ")
            .bind(key)
            .push(" AND created_at >= ")
            .bind(now.unix() - IDEMPOTENCY_TTL_SECS);
        Ok(self.row(&q).await.map_err(backend)?.is_some())
    }

    pub(crate) async fn idempotency_record_impl(
        &self,
        scope: &IdempotencyScope,
        answer: &IdempotentAnswer,
    ) -> StoreResult<bool> {
        // A key older than the retention period is forgotten: this answer takes its place.
        let mut q = self.answer_insert(scope, answer);
        q.push(
            " ON CONFLICT (merchant_id, livemode, key) DO UPDATE SET fingerprint = excluded.fingerprint, \
             locked_at = excluded.locked_at, created_at = excluded.created_at, \
             response_status = excluded.response_status, response_body = excluded.response_body \
             WHERE idempotency_keys.created_at < ",
        )
        .bind(answer.now.unix() - IDEMPOTENCY_TTL_SECS);
        Ok(self.write_one(&q).await? == 1)
    }

    pub(crate) async fn idempotency_finish_impl(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        response: &StoredResponse,
    ) -> StoreResult<()> {
        let mut q = Sql::new("UPDATE idempotency_keys SET response_status = ");
        q.bind(i64::from(response.status))
            .push(", response_body = ");
        self.body_blob(&mut q, &response.body);
        q.push(" WHERE ").scope(scope).push(" AND key = ").bind(key);
        // Only while the claim is still this process's (not taken over as if it had died).
        q.push(" AND (owner IS NULL OR owner = ")
            .bind(self.instance.as_str())
            .push(")");
        self.write_one(&q).await.map(drop)
    }

    pub(crate) async fn idempotency_release_impl(
        &self,
        scope: &IdempotencyScope,
        key: &str,
    ) -> StoreResult<()> {
        let mut q = Sql::new("DELETE FROM idempotency_keys WHERE ");
        q.scope(scope)
            .push(" AND key = ")
            .bind(key)
            .push(" AND response_status IS NULL AND (owner IS NULL OR owner = ")
            .bind(self.instance.as_str())
            .push(")");
        self.write_one(&q).await.map(drop)
    }

    pub(crate) async fn purge_idempotency_keys_impl(&self, before: Timestamp) -> StoreResult<u64> {
        let mut w = self.begin_write().await?;
        let mut q = Sql::new("DELETE FROM idempotency_keys WHERE created_at < ");
        q.bind(before.unix());
        let n = q.exec(&mut w.tx).await?;
        w.commit().await?;
        Ok(n)
    }
}

/// Whether the process named by a claim has stopped being seen (see `ProcessStore::heartbeat`).
/// A claim without an owner (made before owners were kept) or whose owner has no row is
/// left to its lock's age.
pub(crate) async fn owner_gone(
    tx: &mut sqlx::AnyConnection,
    owner: Option<String>,
    now: Timestamp,
) -> StoreResult<bool> {
    let Some(owner) = owner else {
        return Ok(false);
    };
    let mut q = Sql::new("SELECT seen_at FROM instances WHERE id = ");
    q.bind(owner);
    let row = q.query().fetch_optional(&mut *tx).await.map_err(backend)?;
    Ok(match row {
        Some(r) => int(&r, "seen_at")? < now.unix() - DEAD_AFTER_SECS,
        None => false,
    })
}

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn idempotency_begin(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> StoreResult<IdempotencyBegin> {
        self.idempotency_begin_impl(scope, key, fingerprint, now)
            .await
    }

    async fn idempotency_known(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.idempotency_known_impl(scope, key, now).await
    }

    async fn idempotency_record(
        &self,
        scope: &IdempotencyScope,
        answer: &IdempotentAnswer,
    ) -> StoreResult<bool> {
        self.idempotency_record_impl(scope, answer).await
    }

    async fn idempotency_finish(
        &self,
        scope: &IdempotencyScope,
        key: &str,
        response: &StoredResponse,
    ) -> StoreResult<()> {
        self.idempotency_finish_impl(scope, key, response).await
    }

    async fn idempotency_release(&self, scope: &IdempotencyScope, key: &str) -> StoreResult<()> {
        self.idempotency_release_impl(scope, key).await
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> StoreResult<u64> {
        self.purge_idempotency_keys_impl(before).await
    }
}
