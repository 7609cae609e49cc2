//! For developers: the mode's event log (newest first, by type, cursor pages), an event's
//! JSON as webhooks carry it, and queueing an event for delivery again.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::Value;

use paylink_domain::event::EventType;
use paylink_domain::time::Timestamp;

use super::client::{Api, Rows};
use super::view::{api_list, clean, one_of, pager, when};
use super::{page, refused, see_other, Shell, Visit};

/// An event as a row: its id, type, time and JSON.
pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub created: String,
    pub json: String,
}

fn row(e: &Value) -> EventRow {
    let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    EventRow {
        id: text("id"),
        kind: text("type"),
        created: e
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
            .map(when)
            .unwrap_or_default(),
        json: serde_json::to_string_pretty(e).unwrap_or_default(),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    starting_after: Option<String>,
    ending_before: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/developers_events.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<EventRow>,
    kind: String,
    types: Vec<&'static str>,
    next: Option<String>,
    previous: Option<String>,
    error: Option<String>,
}

pub async fn list(
    v: Visit,
    Extension(api): Extension<Api>,
    Query(q): Query<ListQuery>,
) -> Response {
    let types: Vec<&'static str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    let kind = one_of(q.kind.as_deref(), &types);
    let after = clean(q.starting_after.as_deref(), 64);
    let before = clean(q.ending_before.as_deref(), 64);
    let cursor = |c: &str| super::id(c).map_or_else(String::new, str::to_owned);
    let (after, before) = (cursor(&after), cursor(&before));
    let path = api_list(
        "/v1/events",
        &[
            ("type", kind.as_str()),
            ("starting_after", after.as_str()),
            ("ending_before", before.as_str()),
        ],
    );
    let Rows {
        rows,
        has_more,
        error,
        ..
    } = api.rows::<Value, _>(&v.caller(), &path, row).await;
    let (next, previous) = pager(
        "/dashboard/developers/events",
        &[("type", kind.as_str())],
        (
            rows.first().map(|r| r.id.as_str()),
            rows.last().map(|r| r.id.as_str()),
        ),
        (&after, &before),
        has_more,
    );
    page(
        StatusCode::OK,
        &ListPage {
            shell: v.shell("Events", "developers"),
            rows,
            kind,
            types,
            next,
            previous,
            error,
        },
    )
}

#[derive(Template)]
#[template(path = "dashboard/developers_event.html")]
struct EventPage {
    shell: Shell,
    event: EventRow,
    may_redeliver: bool,
    notice: Option<String>,
    nonce: String,
}

#[derive(Deserialize, Default)]
pub struct EventQuery {
    /// How many deliveries a redelivery queued (anything else is ignored, not refused).
    queued: Option<String>,
}

/// What a redelivery queued, as the page after it says.
pub fn queued_notice(n: Option<u32>) -> Option<String> {
    n.map(|n| match n {
        0 => "No enabled endpoint of this mode takes this event: nothing was queued.".to_owned(),
        1 => "Queued again for one endpoint.".to_owned(),
        n => format!("Queued again for {n} endpoints."),
    })
}

pub async fn detail(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Query(q): Query<EventQuery>,
) -> Response {
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let event = match api
        .get::<Value>(&v.caller(), &format!("/v1/events/{id}"))
        .await
    {
        Ok(e) => row(&e),
        Err(r) => return refused(&v, &r),
    };
    page(
        StatusCode::OK,
        &EventPage {
            shell: v.shell(format!("Event {}", event.kind), "developers"),
            event,
            may_redeliver: v.may("webhooks:write"),
            notice: queued_notice(q.queued.and_then(|n| n.parse().ok())),
            nonce: paylink_domain::id::random_base62(),
        },
    )
}

#[derive(Deserialize)]
pub struct RedeliverForm {
    #[serde(default)]
    csrf: String,
    /// The endpoint whose page the button was on, if any: the answer goes back there.
    #[serde(default)]
    endpoint: String,
    /// The page's nonce: with the event's id, the idempotency key, so a double click
    /// queues the event once (the page shown after it has a new one).
    #[serde(default)]
    nonce: String,
}

/// `POST /v1/events/{id}/redeliver`: one delivery queued per enabled endpoint that takes
/// the event; back to the page the button was on, saying how many.
pub async fn redeliver(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<RedeliverForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let nonce: String = f
        .nonce
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64)
        .collect();
    let key = (!nonce.is_empty()).then(|| format!("dashboard-redeliver-{id}-{nonce}"));
    match api
        .call(
            &v.caller(),
            Method::POST,
            &format!("/v1/events/{id}/redeliver"),
            None,
            key.as_deref(),
        )
        .await
    {
        Ok(out) => {
            let n = out
                .get("deliveries_queued")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            match super::id(&f.endpoint) {
                Some(e) => see_other(&format!(
                    "/dashboard/developers/webhooks/{e}?queued={n}&event={id}"
                )),
                None => see_other(&format!("/dashboard/developers/events/{id}?queued={n}")),
            }
        }
        Err(r) => refused(&v, &r),
    }
}
