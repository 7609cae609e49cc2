//! The merchant's subscriptions in the dashboard (issue 23) over HTTP on both backends: the
//! list and its filters, a subscription's page, cancelling at period end and now, the test
//! clock form, the subscription settings, a recurring donation made in the link form;
//! roles, CSRF, double submits and another merchant's ids. And in Chromium, the list and
//! a subscription's page at both widths through axe-core (`dashboard-subscription*`).

use serde_json::{json, Value};

use paylink_domain::access::Role;
use paylink_domain::time::Timestamp;

use crate::both;
use crate::dashboard::Desk;
use crate::dashboard_forms::api_get;
use crate::helpers::TestApp;
use crate::subscriptions::{events_of, monthly, only_subscription, payments_of, subscribe};

both!(
    subscriptions_are_listed_filtered_and_shown,
    cancel_at_period_end_then_now_each_once,
    the_test_clock_form_runs_a_trial_into_a_paid_period,
    subscription_settings_and_a_recurring_donation_in_forms,
    roles_csrf_and_other_merchants_subscriptions,
);

/// The ids of the subscriptions a list page links to, in its order.
fn listed(page: &str) -> Vec<String> {
    page.split("href=\"/dashboard/subscriptions/sub_")
        .skip(1)
        .map(|rest| format!("sub_{}", rest.split('"').next().unwrap()))
        .collect()
}

/// The `datetime-local` text of `t` (what the test clock's field sends).
fn local(t: Timestamp) -> String {
    t.to_rfc3339().chars().take(16).collect()
}

async fn subscriptions_of(app: &TestApp, query: &str) -> Vec<Value> {
    api_get(app, &format!("/v1/subscriptions?limit=100{query}")).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn subscriptions_are_listed_filtered_and_shown(app: TestApp) {
    let trial = monthly(&app, 1500, 14).await;
    let plain = app
        .create(
            "/v1/payment_links",
            json!({"title": "Coffee club", "amount": 900,
                   "subscription": {"interval": "week", "interval_count": 2}}),
        )
        .await;
    subscribe(&app, &trial, "4242424242424242").await;
    for _ in 0..2 {
        subscribe(&app, plain["slug"].as_str().unwrap(), "4242424242424242").await;
    }
    let all = subscriptions_of(&app, "").await;
    assert_eq!(all.len(), 3);
    let trialing = subscriptions_of(&app, "&status=trialing").await;
    let sub = trialing[0]["id"].as_str().unwrap().to_owned();

    let desk = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let list = desk.get("/dashboard/subscriptions").await;
    assert_eq!(list.status, 200);
    assert_eq!(listed(&list.page).len(), 3, "{}", list.page);
    for words in [
        "subscriber@example.com",
        "Monthly box",
        "$15.00 every month",
        "Coffee club",
        "$9.00 every 2 weeks",
        "status trialing",
        "status active",
        "aria-current=\"page\">Subscriptions",
    ] {
        assert!(list.page.contains(words), "{words}: {}", list.page);
    }
    // Filters: a status, a link, both; an unknown status is no filter; a link id that is
    // not one is the API's refusal, said on the page.
    let f = desk.get("/dashboard/subscriptions?status=trialing").await;
    assert_eq!(listed(&f.page), vec![sub.clone()]);
    let link = plain["id"].as_str().unwrap();
    let f = desk
        .get(&format!("/dashboard/subscriptions?payment_link_id={link}"))
        .await;
    assert_eq!(listed(&f.page).len(), 2);
    let f = desk
        .get(&format!(
            "/dashboard/subscriptions?payment_link_id={link}&status=trialing"
        ))
        .await;
    assert!(listed(&f.page).is_empty() && f.page.contains("match these filters"));
    let f = desk.get("/dashboard/subscriptions?status=paused").await;
    assert_eq!(listed(&f.page).len(), 3);
    let f = desk
        .get("/dashboard/subscriptions?payment_link_id=nope")
        .await;
    assert_eq!(f.status, 200);
    assert!(f.page.contains("id=\"error\""), "{}", f.page);
    // Pages of one: next, then previous, by cursor.
    let first = listed(&list.page);
    let p2 = desk
        .get(&format!(
            "/dashboard/subscriptions?starting_after={}",
            first[0]
        ))
        .await;
    assert_eq!(listed(&p2.page), first[1..].to_vec());
    assert!(p2.page.contains("id=\"previous\""));

    // The subscription's page.
    let page = desk.get(&format!("/dashboard/subscriptions/{sub}")).await;
    assert_eq!(page.status, 200, "{}", page.page);
    let s = &trialing[0];
    let trial_end = Timestamp::parse(s["trial_end"].as_str().unwrap()).unwrap();
    for words in [
        "Monthly box",
        "$15.00 every month",
        "status trialing",
        "subscriber@example.com",
        "ending 4242",
        "first payment",
        "$0.00",
    ] {
        assert!(page.page.contains(words), "{words}: {}", page.page);
    }
    let shown = |t: Timestamp| {
        let s = t.to_rfc3339();
        format!("{} {} UTC", &s[..10], &s[11..16])
    };
    assert!(page.page.contains(&shown(trial_end)), "{}", page.page);
    let payment = payments_first_id(&page.page);
    let p = desk.get(&format!("/dashboard/payments/{payment}")).await;
    assert!(
        p.page.contains(&format!(
            "<a href=\"/dashboard/subscriptions/{sub}\">Subscription {sub}</a> (first payment)"
        )),
        "{}",
        p.page
    );
    // The link's page counts its subscriptions and leads to them.
    let l = desk.get(&format!("/dashboard/links/{link}")).await;
    assert!(
        l.page.contains(&format!(
            "/dashboard/subscriptions?status=active&amp;payment_link_id={link}\">2</a>"
        )),
        "{}",
        l.page
    );
    assert!(l.page.contains("every 2 weeks"));
    // A link that does not recur says nothing of subscriptions.
    let once = app.custom_link("Once", 500).await;
    let l = desk
        .get(&format!(
            "/dashboard/links/{}",
            once["id"].as_str().unwrap()
        ))
        .await;
    assert!(!l.page.contains("subscriptions-count"));
}

/// The first payment a subscription's page links to.
fn payments_first_id(page: &str) -> String {
    let rest = page
        .split("href=\"/dashboard/payments/pay_")
        .nth(1)
        .unwrap_or_else(|| panic!("no payment: {page}"));
    format!("pay_{}", rest.split('"').next().unwrap())
}

async fn cancel_at_period_end_then_now_each_once(app: TestApp) {
    let slug = monthly(&app, 2000, 0).await;
    subscribe(&app, &slug, "4242424242424242").await;
    let sub = only_subscription(&app).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    let desk = Desk::signed_in(&app, Role::Support, "support@acme.example").await;
    let page = desk.get(&format!("/dashboard/subscriptions/{id}")).await;
    assert!(page.page.contains("id=\"cancel-at-period-end\""));
    assert!(
        page.page.contains("id=\"clock-form\""),
        "test mode has the clock"
    );
    // "Cancel now" asks first.
    assert!(page
        .page
        .contains("id=\"cancel-now\" class=\"danger\" data-confirm="));

    let r = desk
        .post(
            &format!("/dashboard/subscriptions/{id}/period_end"),
            &[("nonce", "end-1")],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    assert_eq!(
        r.location,
        format!("/dashboard/subscriptions/{id}?done=period_end")
    );
    let s = api_get(&app, &format!("/v1/subscriptions/{id}")).await;
    assert_eq!(
        (s["status"].as_str(), s["cancel_at_period_end"].as_bool()),
        (Some("active"), Some(true))
    );
    let page = desk.get(&r.location).await;
    assert!(page.page.contains("id=\"ending\""), "{}", page.page);
    assert!(page.page.contains("id=\"undo\""));
    assert!(!page.page.contains("id=\"cancel-at-period-end\""));

    // Now, twice with the same nonce (a double click): canceled once.
    for _ in 0..2 {
        let r = desk
            .post(
                &format!("/dashboard/subscriptions/{id}/now"),
                &[("nonce", "now-1")],
                true,
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.page);
    }
    let s = api_get(&app, &format!("/v1/subscriptions/{id}")).await;
    assert_eq!(s["status"], "canceled");
    let evs = events_of(&app, &id).await;
    assert_eq!(
        evs.iter().filter(|e| *e == "subscription.canceled").count(),
        1,
        "{evs:?}"
    );
    // Ended: nothing is offered, and a form sent anyway gets the API's words.
    let page = desk.get(&format!("/dashboard/subscriptions/{id}")).await;
    assert!(page.page.contains("status canceled"));
    for form in ["cancel-now", "undo", "cancel-at-period-end", "clock-form"] {
        assert!(!page.page.contains(&format!("id=\"{form}\"")), "{form}");
    }
    let r = desk
        .post(
            &format!("/dashboard/subscriptions/{id}/now"),
            &[("nonce", "now-2")],
            true,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.page);
    assert!(r.page.contains("id=\"error\""));
    assert_eq!(app.processor.charges_made(), 1);
}

async fn the_test_clock_form_runs_a_trial_into_a_paid_period(app: TestApp) {
    let slug = monthly(&app, 1500, 14).await;
    subscribe(&app, &slug, "4242424242424242").await;
    let sub = only_subscription(&app).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    let trial_end = Timestamp::parse(sub["trial_end"].as_str().unwrap()).unwrap();
    let desk = Desk::signed_in(&app, Role::Developer, "dev@acme.example").await;
    let page = desk.get(&format!("/dashboard/subscriptions/{id}")).await;
    // The field starts at the next charge (the trial's end), to the next whole minute.
    let start = Timestamp::from_unix((trial_end.unix() + 59) / 60 * 60);
    assert!(
        page.page.contains(&format!("value=\"{}\"", local(start))),
        "{}",
        page.page
    );
    let to = local(trial_end.plus_seconds(86_400));
    for _ in 0..2 {
        let r = desk
            .post(
                &format!("/dashboard/subscriptions/{id}/clock"),
                &[("to", to.as_str()), ("nonce", "clock-1")],
                true,
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.page);
        assert_eq!(
            r.location,
            format!("/dashboard/subscriptions/{id}?done=clock")
        );
    }
    assert_eq!(
        app.processor.charges_made(),
        1,
        "the double submit charged once"
    );
    let s = api_get(&app, &format!("/v1/subscriptions/{id}")).await;
    assert_eq!(s["status"], "active", "{s}");
    assert_eq!(
        payments_of(&app, &id).await,
        vec![(0, "succeeded".into()), (1500, "succeeded".into())]
    );
    let page = desk
        .get(&format!("/dashboard/subscriptions/{id}?done=clock"))
        .await;
    assert!(page.page.contains("status active") && page.page.contains("id=\"notice\""));
    assert!(page.page.contains("renewal") && page.page.contains("$15.00"));
    // The renewal's page says whose it is.
    let renewal = payments_first_id(&page.page);
    let p = desk.get(&format!("/dashboard/payments/{renewal}")).await;
    assert!(
        p.page.contains(&format!("Subscription {id}</a> (renewal)")),
        "{}",
        p.page
    );

    // A time that is not one is the form's refusal; one in the past the API's.
    let r = desk
        .post(
            &format!("/dashboard/subscriptions/{id}/clock"),
            &[("to", "next week"), ("nonce", "clock-2")],
            true,
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.page.contains("Enter the time to move to"));
    let r = desk
        .post(
            &format!("/dashboard/subscriptions/{id}/clock"),
            &[("to", local(trial_end).as_str()), ("nonce", "clock-3")],
            true,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.page);
    assert!(r.page.contains("must not be before"), "{}", r.page);
    // A year on, in a second: twelve more renewals.
    let r = desk
        .post(
            &format!("/dashboard/subscriptions/{id}/clock"),
            &[
                ("to", local(trial_end.plus_seconds(366 * 86_400)).as_str()),
                ("nonce", "clock-4"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    assert_eq!(app.processor.charges_made(), 13);
}

async fn subscription_settings_and_a_recurring_donation_in_forms(app: TestApp) {
    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let page = owner.get("/dashboard/settings").await;
    assert!(page.page.contains("value=\"1d,3d,5d\""), "{}", page.page);
    assert!(page.page.contains("value=\"cancel\" checked"));
    let r = owner
        .post(
            "/dashboard/settings/subscriptions",
            &[
                ("retry_schedule", "2d, 4d"),
                ("exhausted_action", "mark_unpaid"),
            ],
            true,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.location.as_str()),
        (303, "/dashboard/settings?saved=subscriptions")
    );
    let s = api_get(&app, "/v1/settings").await;
    assert_eq!(s["subscription_retry_schedule"], "2d,4d");
    assert_eq!(s["subscription_exhausted_action"], "mark_unpaid");
    // Only these two were sent: the rest stayed as it was.
    assert_eq!(s["default_currency"], "USD");
    // A schedule the API refuses: its words, the field marked, what was typed kept.
    let r = owner
        .post(
            "/dashboard/settings/subscriptions",
            &[("retry_schedule", "1m,3d"), ("exhausted_action", "cancel")],
            true,
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert!(
        r.page.contains("id=\"error\"") && r.page.contains("value=\"1m,3d\""),
        "{}",
        r.page
    );
    assert!(r.page.contains("retry schedule"), "{}", r.page);
    assert_eq!(
        api_get(&app, "/v1/settings").await["subscription_retry_schedule"],
        "2d,4d"
    );
    let viewer = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let v = viewer.get("/dashboard/settings").await;
    assert!(!v.page.contains("subscriptions-form") && v.page.contains("mark unpaid"));
    let r = viewer
        .post(
            "/dashboard/settings/subscriptions",
            &[("retry_schedule", "1d"), ("exhausted_action", "cancel")],
            true,
        )
        .await;
    assert_eq!(r.status, 403);

    // A recurring donation: the preview says how often, the link recurs.
    let form = [
        ("type", "donation"),
        ("title", "Monthly gift"),
        ("currency", "USD"),
        ("presets", "5 10 25"),
        ("repeat", "month"),
        ("nonce", "gift-1"),
    ];
    let drawn = owner.get("/dashboard/links/new?type=donation").await;
    assert!(drawn
        .page
        .contains("<option value=\"\">Once (no repeat)</option>"));
    let mut short = form.to_vec();
    short[1] = ("title", "");
    short[5] = ("nonce", "gift-0");
    let refused = owner.post("/dashboard/links/new", &short, true).await;
    assert!(
        refused.page.contains("You choose the amount, every month"),
        "{}",
        refused.page
    );
    let r = owner.post("/dashboard/links/new", &form, true).await;
    assert_eq!(r.status, 303, "{}", r.page);
    let again = owner.post("/dashboard/links/new", &form, true).await;
    assert_eq!(again.location, r.location, "the same nonce makes one link");
    let id = crate::dashboard_forms::id_in(&r.location, "links");
    let l = api_get(&app, &format!("/v1/payment_links/{id}")).await;
    assert_eq!(
        (l["type"].as_str(), l["subscription"]["interval"].as_str()),
        (Some("donation"), Some("month"))
    );
    // Off by default: a donation made once has no terms.
    let mut once = form.to_vec();
    once[4] = ("repeat", "");
    once[5] = ("nonce", "gift-2");
    let r = owner.post("/dashboard/links/new", &once, true).await;
    let id = crate::dashboard_forms::id_in(&r.location, "links");
    assert!(api_get(&app, &format!("/v1/payment_links/{id}")).await["subscription"].is_null());
    let mut odd = form.to_vec();
    odd[4] = ("repeat", "fortnight");
    odd[5] = ("nonce", "gift-3");
    let r = owner.post("/dashboard/links/new", &odd, true).await;
    assert_eq!(r.status, 422);
    assert!(r.page.contains("Choose how often it repeats"));
}

async fn roles_csrf_and_other_merchants_subscriptions(app: TestApp) {
    let slug = monthly(&app, 700, 0).await;
    subscribe(&app, &slug, "4242424242424242").await;
    let id = only_subscription(&app).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let viewer = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let page = viewer.get(&format!("/dashboard/subscriptions/{id}")).await;
    assert_eq!(page.status, 200);
    for form in ["cancel-now", "cancel-at-period-end", "clock-form"] {
        assert!(!page.page.contains(&format!("id=\"{form}\"")), "{form}");
    }
    // A form sent anyway: the API's refusal, nothing changed.
    for action in ["now", "period_end"] {
        let r = viewer
            .post(
                &format!("/dashboard/subscriptions/{id}/{action}"),
                &[],
                true,
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.page);
        assert!(r.page.contains("id=\"error\""));
    }
    let r = viewer
        .post(
            &format!("/dashboard/subscriptions/{id}/clock"),
            &[("to", "2099-01-01T00:00")],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    // Without the form token, or with the plain CSRF token: refused before the API.
    let r = owner
        .post(&format!("/dashboard/subscriptions/{id}/now"), &[], false)
        .await;
    assert_eq!(r.status, 403);
    let csrf = owner.csrf();
    let r = owner
        .post(
            &format!("/dashboard/subscriptions/{id}/now"),
            &[("csrf", csrf.as_str())],
            false,
        )
        .await;
    assert_eq!(r.status, 403);
    let s = api_get(&app, &format!("/v1/subscriptions/{id}")).await;
    assert_eq!(
        (s["status"].as_str(), s["cancel_at_period_end"].as_bool()),
        (Some("active"), Some(false))
    );
    // Unknown actions and ids that are not ids.
    let r = owner
        .post(&format!("/dashboard/subscriptions/{id}/explode"), &[], true)
        .await;
    assert_eq!(r.status, 404);
    // Ids that are not ids: not found (a NUL byte is refused before any page, `400`).
    for bad in ["sub_nope%00", "pay_123", "..", "sub_%2F..%2Fx", "sub_a%20b"] {
        let get = owner.get(&format!("/dashboard/subscriptions/{bad}")).await;
        let post = owner
            .post(&format!("/dashboard/subscriptions/{bad}/now"), &[], true)
            .await;
        for r in [get, post] {
            assert!(
                [400, 404].contains(&r.status.as_u16()),
                "{bad}: {}",
                r.status
            );
        }
    }
    assert_eq!(
        owner.get("/dashboard/subscriptions/pay_123").await.status,
        404
    );
    // Another merchant's subscription is not found, read or changed.
    let rival = app.other_merchant("Rival").await;
    let l = app
        .call(
            Some(&rival),
            reqwest::Method::POST,
            "/v1/payment_links",
            Some(
                json!({"title": "Rival box", "amount": 100, "subscription": {"interval": "month"}}),
            ),
            None,
        )
        .await;
    subscribe(
        &app,
        l.ok(201)["slug"].as_str().unwrap(),
        "4242424242424242",
    )
    .await;
    let theirs = app
        .call(
            Some(&rival),
            reqwest::Method::GET,
            "/v1/subscriptions",
            None,
            None,
        )
        .await
        .ok(200)["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        owner
            .get(&format!("/dashboard/subscriptions/{theirs}"))
            .await
            .status,
        404
    );
    for action in ["now", "period_end", "clock"] {
        let r = owner
            .post(
                &format!("/dashboard/subscriptions/{theirs}/{action}"),
                &[("to", "2099-01-01T00:00")],
                true,
            )
            .await;
        assert_eq!(r.status, 404, "{action}: {}", r.page);
    }
    let list = owner.get("/dashboard/subscriptions").await;
    assert_eq!(listed(&list.page), vec![id.clone()]);
    // Nor is a test subscription in live mode.
    let mut live = Desk::signed_in(&app, Role::Admin, "admin@acme.example").await;
    live.mode = Some("live");
    assert_eq!(
        live.get(&format!("/dashboard/subscriptions/{id}"))
            .await
            .status,
        404
    );
    assert!(listed(&live.get("/dashboard/subscriptions").await.page).is_empty());
    // Nor moved on a test clock from live mode (live subscriptions need a live processor,
    // which tests lack; the page offers the clock only when `livemode` is false).
    let r = live
        .post(
            &format!("/dashboard/subscriptions/{id}/clock"),
            &[("to", "2099-01-01T00:00")],
            true,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.page);
    assert_eq!(app.processor.charges_made(), 2);
}

mod undo;
mod walk;
