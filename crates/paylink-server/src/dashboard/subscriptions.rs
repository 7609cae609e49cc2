//! Subscriptions: the list (filters by status and link, cursor pages), a subscription's
//! page (its terms, period, trial, next charge, card and payments), cancelling it now or
//! at the end of its period (and taking that back), and in test mode its test clock, which
//! runs a year of billing in a second.
//!
//! Every read and change goes through `/v1/subscriptions` as the signed-in person. The one
//! exception is the list of a subscription's payments, which `/v1/payments` cannot filter
//! by subscription: it is read from the store ([`paylink_store::SubscriptionStore::subscription_payments`])
//! for the merchant and mode of the session, after the API has answered the subscription
//! itself (so the person may read it, and it is this merchant's in this mode).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::json;

use paylink_domain::id::SubscriptionId;
use paylink_domain::link::Interval;
use paylink_domain::subscription::Subscription;
use paylink_domain::time::Timestamp;
use paylink_store::Tenant;

use super::client::{Api, Page, Refusal, Rows};
use super::view::{api_list, clean, money, one_of, pager, when};
use super::{page, problem, refused, see_other, Shell, Visit};
use crate::locale::Locale;
use crate::state::AppState;

/// How often a plan recurs: `every month`, `every 3 weeks`.
pub fn cadence(interval: Interval, count: u32) -> String {
    let unit = match interval {
        Interval::Day => "day",
        Interval::Week => "week",
        Interval::Month => "month",
        Interval::Year => "year",
    };
    if count == 1 {
        format!("every {unit}")
    } else {
        format!("every {count} {unit}s")
    }
}

/// `$15.00 every month`.
fn price(locale: &Locale, s: &Subscription) -> String {
    format!(
        "{} {}",
        money(locale, s.currency, s.amount),
        cadence(s.interval, s.interval_count)
    )
}

fn customer(s: &Subscription) -> String {
    s.customer
        .email
        .clone()
        .or_else(|| s.customer.name.clone())
        .unwrap_or_default()
}

/// A subscription as a row of the list.
pub struct Row {
    pub id: String,
    pub customer: String,
    pub plan: String,
    pub price: String,
    pub status: &'static str,
    pub next_charge: String,
    pub created: String,
}

fn row(locale: &Locale, s: &Subscription) -> Row {
    Row {
        id: s.id.to_string(),
        customer: customer(s),
        plan: s.description.clone(),
        price: price(locale, s),
        status: s.status.as_str(),
        next_charge: s.next_charge_at.map(when).unwrap_or_else(|| "—".into()),
        created: when(s.created_at),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    payment_link_id: Option<String>,
    starting_after: Option<String>,
    ending_before: Option<String>,
}

pub const STATUSES: [&str; 5] = ["trialing", "active", "past_due", "canceled", "unpaid"];

#[derive(Template)]
#[template(path = "dashboard/subscriptions.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<Row>,
    status: String,
    link: String,
    next: Option<String>,
    previous: Option<String>,
    error: Option<String>,
    error_param: String,
}

pub async fn list(
    v: Visit,
    Extension(api): Extension<Api>,
    Query(q): Query<ListQuery>,
) -> Response {
    let status = one_of(q.status.as_deref(), &STATUSES);
    // A link id that is not one is no filter the API could answer: it says so.
    let link = clean(q.payment_link_id.as_deref(), 64);
    let after = clean(q.starting_after.as_deref(), 64);
    let before = clean(q.ending_before.as_deref(), 64);
    let filters = [
        ("status", status.as_str()),
        ("payment_link_id", link.as_str()),
    ];
    let mut pairs = filters.to_vec();
    pairs.extend([
        ("starting_after", after.as_str()),
        ("ending_before", before.as_str()),
    ]);
    let path = api_list("/v1/subscriptions", &pairs);
    let locale = Locale::negotiate(None, "en-US");
    let Rows {
        rows,
        has_more,
        error,
        error_param,
    } = api
        .rows(&v.caller(), &path, |s: &Subscription| row(&locale, s))
        .await;
    let (next, previous) = pager(
        "/dashboard/subscriptions",
        &filters,
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
            shell: v.shell("Subscriptions", "subscriptions"),
            rows,
            status,
            link,
            next,
            previous,
            error,
            error_param,
        },
    )
}

/// A payment of the subscription, as a row.
pub struct PaymentRow {
    pub id: String,
    pub amount: String,
    pub status: &'static str,
    pub what: &'static str,
    pub created: String,
}

#[derive(Template)]
#[template(path = "dashboard/subscription.html")]
struct DetailPage {
    shell: Shell,
    sub: Subscription,
    customer: String,
    price: String,
    period: String,
    trial_end: String,
    next_charge: String,
    card: String,
    /// When a subscription set to cancel ends.
    ends: String,
    canceled: String,
    payments: Vec<PaymentRow>,
    may_write: bool,
    /// Whether a period is still to end (cancel at its end, or take that back).
    running: bool,
    /// The test clock's field: the next charge (or the period's end), to the minute.
    clock_to: String,
    nonce: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

/// `YYYY-MM-DDTHH:MM` of `t` in UTC, the next whole minute if `t` is within one (what a
/// `datetime-local` field shows).
fn minute_after(t: Timestamp) -> String {
    let up = t.plus_seconds((60 - t.unix().rem_euclid(60)) % 60);
    up.to_rfc3339().chars().take(16).collect()
}

/// Whether the payment was a renewal rather than the checkout's (which is made with the
/// subscription; renewals are a period, at least a day, later).
pub fn is_renewal(payment_at: Timestamp, sub: &Subscription) -> bool {
    payment_at.unix() >= sub.created_at.unix().saturating_add(3600)
}

/// The subscription's page; with a form's refusal, answered with its status.
async fn detail_page(
    state: &AppState,
    v: &Visit,
    api: &Api,
    id: &str,
    refusal: Option<Refusal>,
    notice: Option<&'static str>,
) -> Response {
    let sub = match api
        .get::<Subscription>(&v.caller(), &format!("/v1/subscriptions/{id}"))
        .await
    {
        Ok(s) => s,
        Err(r) => return refused(v, &r),
    };
    let locale = Locale::negotiate(None, "en-US");
    let tenant = Tenant::stored(v.merchant_id.clone(), v.live);
    let payments = state
        .store
        .subscription_payments(&tenant, &sub.id, 50)
        .await
        .map(|ps| {
            ps.iter()
                .map(|p| PaymentRow {
                    id: p.id.to_string(),
                    amount: money(&locale, p.currency, p.amount),
                    status: p.status.as_str(),
                    what: if is_renewal(p.created_at, &sub) {
                        "renewal"
                    } else {
                        "first payment"
                    },
                    created: when(p.created_at),
                })
                .collect()
        })
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading a subscription's payments failed");
            Vec::new()
        });
    let period = match (sub.current_period_start, sub.current_period_end) {
        (Some(a), Some(b)) => format!("{} – {}", when(a), when(b)),
        _ => "—".into(),
    };
    let ended = matches!(sub.status.as_str(), "canceled" | "unpaid");
    let clock_from = sub
        .next_charge_at
        .or(sub.current_period_end)
        .or(sub.trial_end)
        .unwrap_or_else(Timestamp::now);
    let card = sub.payment_method.as_ref().map_or_else(
        || "—".to_owned(),
        |c| {
            let mut brand = c.brand.clone();
            if let Some(first) = brand.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            format!(
                "{brand} ending {} (expires {:02}/{})",
                c.last4, c.exp_month, c.exp_year
            )
        },
    );
    let (status, error) = match refusal {
        Some(r) => (r.status, Some(r.message)),
        None => (StatusCode::OK, None),
    };
    page(
        status,
        &DetailPage {
            shell: v.shell(format!("Subscription {id}"), "subscriptions"),
            customer: customer(&sub),
            price: price(&locale, &sub),
            period,
            trial_end: sub.trial_end.map(when).unwrap_or_else(|| "—".into()),
            next_charge: sub.next_charge_at.map(when).unwrap_or_else(|| "—".into()),
            card,
            ends: sub.current_period_end.map(when).unwrap_or_default(),
            canceled: sub.canceled_at.map(when).unwrap_or_default(),
            payments,
            may_write: v.may("subscriptions:write"),
            running: !ended,
            clock_to: minute_after(clock_from),
            nonce: super::forms::fresh(),
            error,
            notice,
            sub,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    done: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let notice = match q.done.as_deref() {
        Some("period_end") => {
            Some("It ends when the current period ends: nothing more is charged.")
        }
        Some("undo") => Some("It renews again as before."),
        Some("now") => Some("Canceled: nothing more is charged."),
        Some("clock") => Some("The test clock moved: everything due until then has run."),
        _ => None,
    };
    detail_page(&state, &v, &api, &id, None, notice).await
}

/// Where "take the cancellation back" goes: an update of `cancel_at_period_end`.
fn undo_call(id: &str) -> (Method, String, serde_json::Value) {
    (
        Method::PATCH,
        format!("/v1/subscriptions/{id}"),
        json!({"cancel_at_period_end": false}),
    )
}

#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nonce: String,
    /// The test clock's time, `YYYY-MM-DDTHH:MM` in UTC.
    #[serde(default)]
    to: String,
}

/// Cancel at period end (`period_end`), take that back (`undo`), cancel now (`now`), or
/// move the test clock (`clock`): each the API's call, under the page's nonce, so a form
/// sent twice changes once.
pub async fn act(
    State(state): State<AppState>,
    v: Visit,
    Extension(api): Extension<Api>,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    if SubscriptionId::parse(&id).is_none() {
        return super::no_such(&v);
    }
    let cancel = |at_period_end: bool| {
        (
            Method::POST,
            format!("/v1/subscriptions/{id}/cancel"),
            json!({ "at_period_end": at_period_end }),
        )
    };
    let (method, path, body) = match action.as_str() {
        "period_end" => cancel(true),
        "now" => cancel(false),
        "undo" => undo_call(&id),
        "clock" => match super::link_form::utc_minute(&f.to) {
            Some(to) => (
                Method::POST,
                format!("/v1/subscriptions/{id}/test_clock/advance"),
                json!({ "to": to.to_rfc3339() }),
            ),
            None => {
                let r = super::forms::invalid(
                    "Enter the time to move to as a date and time (UTC)",
                    "to",
                );
                return detail_page(&state, &v, &api, &id, Some(r), None).await;
            }
        },
        _ => return problem(&v, StatusCode::NOT_FOUND, "There is no such action."),
    };
    let nonce = super::forms::nonce(&f.nonce);
    match api
        .call(&v.caller(), method, &path, Some(&body), Some(&nonce))
        .await
    {
        Ok(_) => see_other(&format!("/dashboard/subscriptions/{id}?done={action}")),
        Err(r) => detail_page(&state, &v, &api, &id, Some(r), None).await,
    }
}

/// How many of a link's subscriptions are active and in their trial (each counted to 100):
/// what the link's page says, beside a link to the list of them.
pub async fn counts(v: &Visit, api: &Api, link: &str) -> Option<(String, String)> {
    let mut out = Vec::new();
    for status in ["active", "trialing"] {
        let path = format!("/v1/subscriptions?limit=100&status={status}&payment_link_id={link}");
        let p = api
            .get::<Page<Subscription>>(&v.caller(), &path)
            .await
            .ok()?;
        out.push(format!(
            "{}{}",
            p.data.len(),
            if p.has_more { "+" } else { "" }
        ));
    }
    let trialing = out.pop()?;
    let active = out.pop()?;
    Some((active, trialing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_say_how_often_they_recur() {
        assert_eq!(cadence(Interval::Month, 1), "every month");
        assert_eq!(cadence(Interval::Week, 3), "every 3 weeks");
        assert_eq!(cadence(Interval::Year, 1), "every year");
    }

    #[test]
    fn the_clock_field_shows_the_next_whole_minute() {
        let t = Timestamp::parse("2027-01-31T10:15:00Z").unwrap_or_else(Timestamp::now);
        assert_eq!(minute_after(t), "2027-01-31T10:15");
        assert_eq!(minute_after(t.plus_seconds(1)), "2027-01-31T10:16");
    }
}
