//! Rows of `audit_log`: appended one statement an entry, listed per merchant (not per
//! mode) newest first with the usual cursor.

use sqlx::any::AnyRow;
use sqlx::Row;

use paylink_domain::id::{AuditEntryId, MerchantId};
use paylink_domain::time::Timestamp;
use paylink_store::*;

use crate::sql::{created_filter, int, map_listed, opt_text, page_rows, page_tail, Sql};
use crate::{backend, SqlStore};

const AUDIT_COLS: &str =
    "id, merchant_id, actor_type, actor_id, action, object_id, ip, user_agent, created_at";

fn text(row: &AnyRow, col: &str) -> StoreResult<String> {
    row.try_get(col).map_err(backend)
}

fn audit(row: &AnyRow) -> StoreResult<AuditEntry> {
    let kind = text(row, "actor_type")?;
    let id = opt_text(row, "actor_id")?;
    let actor = match (kind.as_str(), id) {
        ("api_key", Some(id)) => Actor::ApiKey(id),
        ("user", Some(id)) => Actor::User(id),
        _ => Actor::Anonymous,
    };
    Ok(AuditEntry {
        id: AuditEntryId::from_trusted(text(row, "id")?),
        merchant_id: MerchantId::from_trusted(text(row, "merchant_id")?),
        actor,
        action: text(row, "action")?,
        object_id: opt_text(row, "object_id")?,
        ip: opt_text(row, "ip")?,
        user_agent: opt_text(row, "user_agent")?,
        created_at: Timestamp::from_unix(int(row, "created_at")?),
    })
}

impl SqlStore {
    pub(crate) async fn audit_append(&self, entries: &[AuditEntry]) -> StoreResult<()> {
        // One statement each, in order: the entries' `seq` is the log's order (PostgreSQL's
        // data-modifying `WITH` clauses would insert in no set order).
        let row = |e: &AuditEntry| {
            Sql::insert(
                "audit_log",
                vec![
                    ("id", e.id.as_str().into()),
                    ("merchant_id", e.merchant_id.as_str().into()),
                    ("actor_type", e.actor.kind().into()),
                    ("actor_id", e.actor.id().into()),
                    ("action", e.action.as_str().into()),
                    ("object_id", e.object_id.clone().into()),
                    ("ip", e.ip.clone().into()),
                    ("user_agent", e.user_agent.clone().into()),
                    ("created_at", e.created_at.unix().into()),
                ],
            )
        };
        // The common case, an entry of a request: one statement in the group commit.
        if let [e] = entries {
            self.write_one(&row(e)).await?;
            return Ok(());
        }
        let mut w = self.begin_write().await?;
        for e in entries {
            row(e).exec(&mut w.tx).await?;
        }
        w.commit().await
    }

    pub(crate) async fn audit_list(
        &self,
        merchant: &MerchantId,
        filter: &AuditFilter,
        page: &Page,
    ) -> StoreResult<Listed<AuditEntry>> {
        let limit = i64::from(page.limit.clamp(1, 100));
        let cursor = match (&page.starting_after, &page.ending_before) {
            (Some(id), _) => Some((id, true)),
            (None, Some(id)) => Some((id, false)),
            (None, None) => None,
        };
        let cursor = match cursor {
            Some((id, after)) => {
                let mut q = Sql::new("SELECT seq FROM audit_log WHERE id = ");
                q.bind(id.as_str())
                    .push(" AND merchant_id = ")
                    .bind(merchant.as_str());
                let row = self.row(&q).await.map_err(backend)?;
                let row = row.ok_or(StoreError::InvalidCursor)?;
                Some((int(&row, "seq")?, after))
            }
            None => None,
        };
        let mut q = Sql::new(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE merchant_id = "
        ));
        q.bind(merchant.as_str());
        if let Some(a) = &filter.actor_id {
            q.push(" AND actor_id = ").bind(a.as_str());
        }
        if let Some(a) = &filter.action {
            q.push(" AND action = ").bind(a.as_str());
        }
        created_filter(&mut q, &filter.created);
        let ascending = page_tail(&mut q, cursor, limit);
        let rows = self.rows(&q).await.map_err(backend)?;
        map_listed(page_rows(rows, limit, ascending), audit)
    }
}
