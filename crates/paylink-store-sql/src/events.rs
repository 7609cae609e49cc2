//! The outbox: events are inserted in the transaction of the change that caused them,
//! with one delivery queued per webhook endpoint that takes them.

use crate::sql::*;
use crate::{backend, SqlStore};
use async_trait::async_trait;
use paylink_domain::id::*;
use paylink_store::*;

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use paylink_domain::event::Event;
use paylink_store::{StoreResult, Tenant};

use crate::sql::{json_col, to_json, Batch, Sql};

pub(crate) const EVENT_COLS: &str = "data, receipt_seq";

/// The writes of `events`: one multi-row insert and one fan-out for all of them, whatever
/// their number (two statements; on PostgreSQL part of the caller's one batched statement).
pub(crate) fn event_writes(b: &mut Batch, t: &Tenant, events: &[Event]) -> StoreResult<()> {
    event_writes_numbered(b, t, events, Arg::Int(None))
}

/// [`event_writes`], the first event (a payment's) keeping its payment's receipt number
/// (`receipt_seq`; see [`event`]).
pub(crate) fn event_writes_numbered(
    b: &mut Batch,
    t: &Tenant,
    events: &[Event],
    receipt_seq: Arg,
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut receipt_seq = Some(receipt_seq);
    let mut q = Sql::new(
        "INSERT INTO events (id, merchant_id, livemode, type, created_at, receipt_seq, data) VALUES ",
    );
    for (i, e) in events.iter().enumerate() {
        q.push(if i == 0 { "(" } else { ", (" })
            .bind(e.id.as_str())
            .push(", ")
            .bind(t.merchant_id().as_str());
        q.push(", ")
            .bind(t.livemode())
            .push(", ")
            .bind(e.kind.as_str())
            .push(", ")
            .bind(e.created_at.unix())
            .push(", ")
            .bind(receipt_seq.take().unwrap_or(Arg::Int(None)));
        q.push(", ").bind(to_json(e)?).push(")");
    }
    b.push(q);
    let fan: Vec<FanOut<'_>> = events
        .iter()
        .map(|e| FanOut {
            event_id: e.id.as_str(),
            kind: e.kind.as_str(),
            id_prefix: format!("{}:", e.id),
            // Delivered from now on, even for an event dated later (a test clock's).
            at: e
                .created_at
                .unix()
                .min(paylink_domain::time::Timestamp::now().unix()),
        })
        .collect();
    b.push(fan_out(t, &fan));
    Ok(())
}

/// Inserts events (and queues their deliveries) in the caller's transaction.
pub(crate) async fn insert_events(
    conn: &mut AnyConnection,
    t: &Tenant,
    events: &[Event],
) -> StoreResult<()> {
    let mut b = Batch::default();
    event_writes(&mut b, t, events)?;
    b.run(conn).await
}

/// One event to queue deliveries of; a delivery's id is `id_prefix` + the endpoint's id.
pub(crate) struct FanOut<'a> {
    pub event_id: &'a str,
    pub kind: &'a str,
    pub id_prefix: String,
    pub at: i64,
}

/// Queues one delivery of each event for every enabled endpoint that takes its type, in the
/// transaction that wrote the events (the outbox): no change without its deliveries.
pub(crate) fn fan_out(t: &Tenant, events: &[FanOut<'_>]) -> Sql {
    let mut q = Sql::new("INSERT INTO webhook_deliveries (id, merchant_id, livemode, event_id, endpoint_id, status, attempts, next_attempt_at, created_at) \
         SELECT ev.id_prefix || w.id, w.merchant_id, w.livemode, ev.event_id, w.id, 'pending', 0, ev.at, ev.at FROM webhook_endpoints w JOIN (");
    for (i, e) in events.iter().enumerate() {
        // `_` is a LIKE wildcard; event types contain it, so it is escaped.
        let pattern = format!("%,{},%", e.kind.replace('_', "\\_"));
        if i > 0 {
            q.push(" UNION ALL ");
        }
        q.push("SELECT ")
            .bind(e.event_id)
            .push(" AS event_id, ")
            .bind(pattern)
            .push(" AS pattern, ");
        q.bind(e.id_prefix.as_str())
            .push(" AS id_prefix, ")
            .bind(e.at)
            .push(" AS at");
    }
    q.push(") ev ON (w.enabled_events = ',*,' OR w.enabled_events LIKE ev.pattern ESCAPE '\\') WHERE w.");
    q.tenant(t).push(" AND w.status = 'enabled'");
    q
}

pub(crate) fn event(row: &AnyRow) -> StoreResult<Event> {
    let e: Event = json_col(row, "data")?;
    Ok(numbered(e, opt_int(row, "receipt_seq")?))
}

/// An event about a payment, with the receipt number its payment took (written beside it,
/// as `receipt_seq`, by the write that took it).
fn numbered(mut e: Event, receipt_seq: Option<i64>) -> Event {
    if let (Some(seq), Some(object)) = (receipt_seq, e.data.object.as_object_mut()) {
        object.insert(
            "receipt_number".into(),
            paylink_domain::checkout::receipt_number(seq).into(),
        );
    }
    e
}

/// An event's JSON as delivered: as written, or with its payment's receipt number.
pub(crate) fn event_body(data: String, receipt_seq: Option<i64>) -> StoreResult<String> {
    if receipt_seq.is_none() {
        return Ok(data);
    }
    let e: Event =
        serde_json::from_str(&data).map_err(|e| backend(format!("corrupt `events.data`: {e}")))?;
    to_json(&numbered(e, receipt_seq))
}

#[async_trait]
impl EventStore for SqlStore {
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
