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
        let mut q = Sql::new(
            "INSERT INTO events (id, merchant_id, livemode, type, created_at, data) VALUES (",
        );
        q.bind(e.id.as_str())
            .push(", ")
            .bind(t.merchant_id.as_str())
            .push(", ")
            .bind(t.livemode)
            .push(", ")
            .bind(e.kind.as_str())
            .push(", ")
            .bind(e.created_at.unix())
            .push(", ")
            .bind(to_json(e)?)
            .push(")");
        q.query().execute(&mut *conn).await.map_err(backend)?;
    }
    Ok(())
}

pub(crate) fn event(row: &AnyRow) -> StoreResult<Event> {
    json_col(row, "data")
}
