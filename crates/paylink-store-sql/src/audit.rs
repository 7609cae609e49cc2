//! Rows of `audit_log`: appended a batch a statement, listed per merchant (not per
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
        // Multi-row statements of a few fixed sizes, so that their texts stay prepared in
        // the drivers' caches (a text for every size pushed the hot statements out), and on
        // SQLite they join the group commit beside any other write. Rows go in the order
        // listed, so `seq` is the log's order.
        for chunk in chunks(entries) {
            let mut q = Sql::new(
                "INSERT INTO audit_log (id, merchant_id, actor_type, actor_id, action, object_id, \
                 ip, user_agent, created_at) VALUES ",
            );
            for (i, e) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                q.bind(e.id.as_str())
                    .push(", ")
                    .bind(e.merchant_id.as_str())
                    .push(", ")
                    .bind(e.actor.kind())
                    .push(", ")
                    .bind(e.actor.id())
                    .push(", ")
                    .bind(e.action.as_str())
                    .push(", ")
                    .bind(e.object_id.clone())
                    .push(", ")
                    .bind(e.ip.clone())
                    .push(", ")
                    .bind(e.user_agent.clone())
                    .push(", ")
                    .bind(e.created_at.unix())
                    .push(")");
            }
            self.write_one(&q).await?;
        }
        Ok(())
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

/// `entries` cut into runs of 64, 16, 4 and 1 (the sizes whose statements stay prepared).
fn chunks(entries: &[AuditEntry]) -> Vec<&[AuditEntry]> {
    let mut out = Vec::new();
    let mut rest = entries;
    while !rest.is_empty() {
        let n = [64, 16, 4, 1]
            .into_iter()
            .find(|n| *n <= rest.len())
            .unwrap_or(1);
        let (head, tail) = rest.split_at(n);
        out.push(head);
        rest = tail;
    }
    out
}
