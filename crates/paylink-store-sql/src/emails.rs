//! The e-mail outbox on SQL.

use crate::sql::*;
use async_trait::async_trait;

use sqlx::any::AnyRow;
use sqlx::Row;

use paylink_domain::email::{Email, EmailStatus};
use paylink_domain::event::Event;
use paylink_domain::id::EmailId;
use paylink_domain::time::Timestamp;
use paylink_store::*;

use crate::catalog::json;
use crate::events::insert_events;
use crate::sql::{int, json_col, Sql};
use crate::{backend, SqlStore};

pub(crate) const EMAIL_COLS: &str = "status, attempts, last_error, data";

pub(crate) fn email(row: &AnyRow) -> StoreResult<Email> {
    let mut e: Email = json_col(row, "data")?;
    let status: String = row.try_get("status").map_err(backend)?;
    e.status = EmailStatus::parse(&status)
        .ok_or_else(|| backend(format!("unknown email status `{status}`")))?;
    e.attempts = int(row, "attempts")?;
    e.last_error = row.try_get("last_error").map_err(backend)?;
    Ok(e)
}

impl SqlStore {
    pub(crate) async fn queue_emails_impl(
        &self,
        t: &Tenant,
        emails: &[Email],
        events: &[Event],
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        for e in emails {
            email_insert(t, e)?.exec(&mut w.tx).await?;
        }
        insert_events(&mut w.tx, t, events).await?;
        w.commit().await
    }

    pub(crate) async fn claim_emails_impl(
        &self,
        now: Timestamp,
        limit: i64,
        lock_secs: i64,
    ) -> StoreResult<Vec<Email>> {
        let mut w = self.begin_write().await?;
        let skip_locked = self.dialect.skip_locked();
        let mut q = Sql::new("UPDATE emails SET locked_until = ");
        q.bind(now.unix() + lock_secs)
            .push(" WHERE (locked_until IS NULL OR locked_until < ")
            .bind(now.unix());
        q.push(
            ") AND id IN (SELECT id FROM emails WHERE status = 'pending' AND next_attempt_at <= ",
        )
        .bind(now.unix());
        q.push(" AND (locked_until IS NULL OR locked_until < ")
            .bind(now.unix())
            .push(") ORDER BY next_attempt_at LIMIT ");
        q.bind(limit)
            .push(skip_locked)
            .push(&format!(") RETURNING {EMAIL_COLS}"));
        let rows = q.query().fetch_all(&mut *w.tx).await.map_err(backend)?;
        w.commit().await?;
        rows.iter().map(email).collect()
    }

    pub(crate) async fn finish_email_impl(
        &self,
        id: &EmailId,
        error: Option<&str>,
        retry_at: Option<Timestamp>,
        sent: Option<&Email>,
    ) -> StoreResult<()> {
        let mut w = self.begin_write().await?;
        let (status, at) = match (error, retry_at) {
            (None, _) => ("sent", None),
            (Some(_), Some(t)) => ("pending", Some(t.unix())),
            (Some(_), None) => ("failed", None),
        };
        let mut q =
            Sql::new("UPDATE emails SET attempts = attempts + 1, locked_until = NULL, status = ");
        q.bind(status)
            .push(", last_error = ")
            .bind(error.map(str::to_owned));
        if let Some(at) = at {
            q.push(", next_attempt_at = ").bind(at);
        }
        if let (None, Some(e)) = (error, sent) {
            q.push(", data = ").bind(json(e)?);
        }
        q.push(" WHERE id = ").bind(id.as_str());
        q.query().execute(&mut *w.tx).await.map_err(backend)?;
        w.commit().await
    }
}

/// An e-mail's row in the outbox.
pub(crate) fn email_insert(t: &Tenant, e: &Email) -> StoreResult<Sql> {
    Ok(Sql::insert(
        "emails",
        vec![
            ("id", e.id.as_str().into()),
            ("merchant_id", t.merchant_id().as_str().into()),
            ("livemode", t.livemode().into()),
            ("created_at", e.created_at.unix().into()),
            ("status", e.status.as_str().into()),
            // Sent from now on, even a message dated later (a test clock's).
            (
                "next_attempt_at",
                e.created_at.unix().min(Timestamp::now().unix()).into(),
            ),
            ("data", json(e)?.into()),
        ],
    ))
}

#[async_trait]
impl EmailStore for SqlStore {
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
        with_account_mail: bool,
        page: &Page,
    ) -> StoreResult<Listed<paylink_domain::email::Email>> {
        let mut q = Sql::default();
        if let Some(s) = status {
            q.push(" AND status = ").bind(s);
        }
        if !with_account_mail {
            let kind = self.dialect.json_text("data", "kind");
            q.push(&format!(
                " AND {kind} NOT IN ('password_reset', 'invitation')"
            ));
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
}
