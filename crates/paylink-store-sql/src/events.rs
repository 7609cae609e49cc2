//! The outbox: events are inserted in the transaction of the change that caused them.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use paylink_domain::event::Event;
use paylink_store::{StoreResult, Tenant};

use crate::backend;
use crate::sql::{json_col, to_json, Sql};

pub(crate) const EVENT_COLS: &str = "data";

pub(crate) async fn insert_events(
    conn: &mut AnyConnection,
    t: &Tenant,
    events: &[Event],
) -> StoreResult<()> {
    for e in events {
        let q = Sql::insert(
            "events",
            vec![
                ("id", e.id.as_str().into()),
                ("merchant_id", t.merchant_id.as_str().into()),
                ("livemode", t.livemode.into()),
                ("type", e.kind.as_str().into()),
                ("created_at", e.created_at.unix().into()),
                ("data", to_json(e)?.into()),
            ],
        );
        q.exec(conn).await?;

        fan_out(
            conn,
            t,
            e.id.as_str(),
            e.kind.as_str(),
            &format!("{}:", e.id),
            e.created_at.unix(),
        )
        .await?;
    }
    Ok(())
}

/// Queues one delivery of the event for every enabled endpoint that takes its type, in the
/// transaction that wrote the event (the outbox): no change without its deliveries.
pub(crate) async fn fan_out(
    conn: &mut AnyConnection,
    t: &Tenant,
    event_id: &str,
    kind: &str,
    id_prefix: &str,
    now: i64,
) -> StoreResult<u64> {
    // `_` is a LIKE wildcard; event types contain it, so it is escaped.
    let pattern = format!("%,{},%", kind.replace('_', "\\_"));
    let mut q = Sql::new("INSERT INTO webhook_deliveries (id, merchant_id, livemode, event_id, endpoint_id, status, attempts, next_attempt_at, created_at) SELECT ");
    q.bind(id_prefix)
        .push(" || id, merchant_id, livemode, ")
        .bind(event_id)
        .push(", id, 'pending', 0, ")
        .bind(now)
        .push(", ")
        .bind(now);
    q.push(" FROM webhook_endpoints WHERE ")
        .tenant(t)
        .push(" AND status = 'enabled' AND (enabled_events = ',*,' OR enabled_events LIKE ");
    q.bind(pattern).push(" ESCAPE '\\')");
    Ok(q.query()
        .execute(conn)
        .await
        .map_err(backend)?
        .rows_affected())
}

pub(crate) fn event(row: &AnyRow) -> StoreResult<Event> {
    json_col(row, "data")
}
