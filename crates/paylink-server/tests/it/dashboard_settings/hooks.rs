//! An endpoint's page (its deliveries, redelivering an event), the events log, and making
//! and deleting an endpoint, from the dashboard, on both backends.

use std::time::{Duration, Instant};

use serde_json::json;

use paylink_domain::access::Role;

use super::{invalid, says, tag, unescape};
use crate::both;
use crate::dashboard::Desk;
use crate::helpers::TestApp;
use crate::webhooks::{Received, Receiver};

both!(webhook_deliveries_are_listed_and_events_redelivered);

async fn webhook_deliveries_are_listed_and_events_redelivered(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_for_webhooks(backend).await;
    let rx = Receiver::start().await;
    let desk = Desk::signed_in(&app, Role::Developer, "dev@acme.example").await;
    // The API's refusals, the field marked and the form kept.
    let r = desk
        .post(
            "/dashboard/developers/webhooks",
            &[("url", "not a url"), ("event", "payment_link.created")],
            true,
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert!(invalid(&r.page, "hook-url"), "{}", r.page);
    let r = desk
        .post(
            "/dashboard/developers/webhooks",
            &[("url", &rx.url), ("description", "kept")],
            true,
        )
        .await;
    assert!(r.status.is_client_error());
    assert!(says(&r.page, "List 1–50 event types"), "{}", r.page);
    assert!(tag(&r.page, "hook-description").contains("value=\"kept\""));
    // Made once with its secret shown once, even when the form is sent twice.
    let form = [
        ("url", rx.url.as_str()),
        ("event", "payment_link.created"),
        ("nonce", "hook-form-1"),
    ];
    let made = desk
        .post("/dashboard/developers/webhooks", &form, true)
        .await;
    assert_eq!(made.status, 200, "{}", made.page);
    assert!(tag(&made.page, "new-secret").contains("value=\"whsec_"));
    let again = desk
        .post("/dashboard/developers/webhooks", &form, true)
        .await;
    assert!(!again.page.contains("whsec_"), "the secret is shown once");
    assert!(again.page.contains("id=\"error\""), "{}", again.page);
    let hooks = app.get("/v1/webhook_endpoints").await.ok(200).clone();
    assert_eq!(hooks["data"].as_array().unwrap().len(), 1);
    let hook = hooks["data"][0]["id"].as_str().unwrap().to_owned();
    let shown = desk.get("/dashboard/developers").await.page;
    assert!(shown.contains(&format!("/dashboard/developers/webhooks/{hook}")));
    assert!(!shown.contains("whsec_"), "the secret is shown once");

    // A delivery, listed with its event's type, answer and attempt.
    app.start_worker(|_| {});
    app.custom_link("Hooked", 1500).await;
    wait_for(&rx, 1).await;
    let event = app.get("/v1/events?type=payment_link.created").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = format!("/dashboard/developers/webhooks/{hook}");
    let detail = wait_page(&desk, &page, "1 of 1").await;
    assert!(detail.contains("payment_link.created"));
    assert!(detail.contains(&event));
    assert!(detail.contains("<td>200</td>"));
    assert!(detail.contains("status delivered"));
    // Redelivered from the endpoint's page: back there, saying so, and it arrives again;
    // clicked twice (the page's nonce), once.
    let nonce = detail
        .split("name=\"nonce\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        let r = desk
            .post(
                &format!("/dashboard/developers/events/{event}/redeliver"),
                &[("endpoint", hook.as_str()), ("nonce", nonce.as_str())],
                true,
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.page);
        assert_eq!(r.location, format!("{page}?queued=1&event={event}"));
    }
    let shown = desk.get(&format!("{page}?queued=1&event={event}")).await;
    assert!(shown.page.contains("Queued again for one endpoint."));
    let got = wait_for(&rx, 2).await;
    assert_eq!(got[1].id, event);
    wait_page(&desk, &page, "2 of 2").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.received().len(), 2, "the second click queued nothing");
    // From the event's own page: back to it.
    let r = desk
        .post(
            &format!("/dashboard/developers/events/{event}/redeliver"),
            &[],
            true,
        )
        .await;
    assert_eq!(
        r.location,
        format!("/dashboard/developers/events/{event}?queued=1")
    );
    wait_for(&rx, 3).await;

    // The log: each event's JSON, a filter by type, cursor pages.
    let log = desk.get("/dashboard/developers/events").await;
    assert_eq!(log.status, 200);
    assert!(log
        .page
        .contains(&format!("/dashboard/developers/events/{event}")));
    assert!(says(&log.page, "\"title\": \"Hooked\""), "{}", log.page);
    let none = desk
        .get("/dashboard/developers/events?type=payment.succeeded")
        .await;
    assert!(none.page.contains("id=\"empty\""));
    let unknown = desk.get("/dashboard/developers/events?type=bogus").await;
    assert!(
        unknown.page.contains(&event),
        "an unknown type is no filter"
    );
    let one = desk
        .get(&format!("/dashboard/developers/events/{event}"))
        .await;
    assert_eq!(one.status, 200);
    assert!(one.page.contains("id=\"event-json\""));

    // A viewer reads it all and is offered no button; a forged one is refused.
    let viewer = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let seen = viewer.get(&page).await.page;
    assert!(seen.contains(&event));
    assert!(!seen.contains("/redeliver") && !seen.contains("id=\"delete-hook\""));
    assert!(!viewer
        .get("/dashboard/developers")
        .await
        .page
        .contains("id=\"hook-form\""));
    let r = viewer
        .post(
            "/dashboard/developers/webhooks",
            &[("url", "https://93.184.216.34/x"), ("event", "*")],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.page.contains("id=\"error\""));
    let before = rx.received().len();
    let r = viewer
        .post(
            &format!("/dashboard/developers/events/{event}/redeliver"),
            &[],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = viewer.post(&format!("{page}/delete"), &[], true).await;
    assert_eq!(r.status, 403);
    // No token, or the other mode's: refused.
    let r = desk
        .post(
            &format!("/dashboard/developers/events/{event}/redeliver"),
            &[],
            false,
        )
        .await;
    assert_eq!(r.status, 403);
    let live_token = paylink_server::dashboard::form_token(&desk.csrf(), true);
    let r = desk
        .post(
            &format!("/dashboard/developers/events/{event}/redeliver"),
            &[("csrf", &live_token)],
            false,
        )
        .await;
    assert_eq!(r.status, 403);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.received().len(), before, "nothing was queued");

    for i in 0..26 {
        app.custom_link(&format!("Link {i}"), 100).await;
    }
    let first = desk.get("/dashboard/developers/events").await.page;
    assert!(!first.contains(&format!("/dashboard/developers/events/{event}\"")));
    let next = first.split("id=\"next\"").next().unwrap();
    let href = next
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let second = desk.get(&unescape(href)).await;
    assert!(second
        .page
        .contains(&format!("/dashboard/developers/events/{event}\"")));
    // Another merchant's endpoint and event, ids that are not ids, and the other mode.
    let rival = app.other_merchant("Rival").await;
    let theirs = app
        .call(
            Some(&rival),
            reqwest::Method::POST,
            "/v1/webhook_endpoints",
            Some(json!({"url": "https://93.184.216.34/hooks", "enabled_events": ["*"]})),
            None,
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call(
        Some(&rival),
        reqwest::Method::POST,
        "/v1/payment_links",
        Some(json!({"title": "Theirs", "amount": 100})),
        None,
    )
    .await
    .ok(201);
    let their_event = app
        .call(Some(&rival), reqwest::Method::GET, "/v1/events", None, None)
        .await
        .body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/dashboard/developers/webhooks/{theirs}"),
        format!("/dashboard/developers/events/{their_event}"),
        "/dashboard/developers/webhooks/we_nothere".to_owned(),
        "/dashboard/developers/events/evt_a%20b".to_owned(),
        "/dashboard/developers/events/..%2F..%2Fv1%2Fsettings".to_owned(),
        "/dashboard/developers/webhooks/we_x%3Fy".to_owned(),
        "/dashboard/developers/webhooks/we_x%23y".to_owned(),
    ] {
        let r = desk.get(&path).await;
        assert_eq!(r.status, 404, "{path}");
    }
    assert_eq!(
        desk.get("/dashboard/developers/events/evt_x%00")
            .await
            .status
            .as_u16()
            / 100,
        4
    );
    for (path, fields) in [
        (
            format!("/dashboard/developers/events/{their_event}/redeliver"),
            vec![],
        ),
        (
            format!("/dashboard/developers/webhooks/{theirs}/delete"),
            vec![],
        ),
    ] {
        let r = desk.post(&path, &fields, true).await;
        assert_eq!(r.status, 404, "{path}");
    }
    let mut live = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    live.mode = Some("live");
    assert_eq!(live.get(&page).await.status, 404, "a test endpoint in live");
    assert!(!live
        .get("/dashboard/developers/events")
        .await
        .page
        .contains(&event));

    // Turned off: a redelivery queues nothing, and the page says so; on again; an action
    // that is none is no page.
    let r = desk.post(&format!("{page}/disable"), &[], true).await;
    assert_eq!(
        (r.status.as_u16(), r.location.as_str()),
        (303, page.as_str())
    );
    let shown = desk.get(&page).await.page;
    assert!(shown.contains("id=\"enable-hook\"") && shown.contains("status disabled"));
    let r = desk
        .post(
            &format!("/dashboard/developers/events/{event}/redeliver"),
            &[("endpoint", hook.as_str())],
            true,
        )
        .await;
    assert_eq!(r.location, format!("{page}?queued=0&event={event}"));
    assert!(desk
        .get(&r.location)
        .await
        .page
        .contains("nothing was queued"));
    desk.post(&format!("{page}/enable"), &[], true).await;
    assert_eq!(
        app.get(&format!("/v1/webhook_endpoints/{hook}")).await.body["status"],
        "enabled"
    );
    assert_eq!(
        desk.post(&format!("{page}/explode"), &[], true)
            .await
            .status,
        404
    );
    assert_eq!(
        viewer
            .post(&format!("{page}/disable"), &[], true)
            .await
            .status,
        403
    );
    // Deleted: gone from the list.
    let r = desk.post(&format!("{page}/delete"), &[], true).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.get("/v1/webhook_endpoints").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

pub(super) async fn wait_for(rx: &Receiver, n: usize) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while rx.received().len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} arrived",
            rx.received().len()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    rx.received()
}

/// The page, once it shows `text` (the worker records an attempt just after sending it).
async fn wait_page(desk: &Desk<'_>, path: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = desk.get(path).await.page;
        if page.contains(text) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed {text}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

both!(a_key_form_sent_twice_makes_one_key_and_a_secret_rotates);

/// A key form sent twice (a double click, a reload) makes one key, shown once; an
/// endpoint's signing secret is rotated from its page, the new one shown once and both
/// signing meanwhile; a viewer may do neither.
async fn a_key_form_sent_twice_makes_one_key_and_a_secret_rotates(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_for_webhooks(backend).await;
    let rx = Receiver::start().await;
    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let form = [
        ("name", "Deploy"),
        ("kind", "secret"),
        ("nonce", "key-form-1"),
    ];
    let first = owner.post("/dashboard/developers/keys", &form, true).await;
    assert_eq!(first.status, 200, "{}", first.page);
    assert!(tag(&first.page, "new-key").contains("value=\"sk_test_"));
    let again = owner.post("/dashboard/developers/keys", &form, true).await;
    assert!(
        !again.page.contains("value=\"sk_test_"),
        "a key is shown once"
    );
    let keys = app.get("/v1/api_keys?limit=100").await.ok(200).clone();
    let named = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == "Deploy")
        .count();
    assert_eq!(named, 1, "{keys}");
    // A nonce that is not one (a newline would break the header) is replaced, not a 500.
    let odd = owner
        .post(
            "/dashboard/developers/keys",
            &[("name", "Odd"), ("kind", "secret"), ("nonce", "a\nb\u{0}")],
            true,
        )
        .await;
    assert!(odd.status == 200 || odd.status == 400, "{}", odd.status);
    // Rotation.
    let hook = app
        .create(
            "/v1/webhook_endpoints",
            json!({"url": rx.url, "enabled_events": ["payment_link.created"]}),
        )
        .await;
    let id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap().to_owned();
    let r = owner
        .post(
            &format!("/dashboard/developers/webhooks/{id}/rotate"),
            &[],
            true,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.page);
    let shown = tag(&r.page, "new-secret");
    assert!(
        shown.contains("value=\"whsec_") && !shown.contains(&old),
        "{shown}"
    );
    let page = owner
        .get(&format!("/dashboard/developers/webhooks/{id}"))
        .await;
    assert!(!page.page.contains("whsec_"), "shown on that answer only");
    let viewer = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let r = viewer
        .post(
            &format!("/dashboard/developers/webhooks/{id}/rotate"),
            &[],
            true,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.page);
    let r = owner
        .post(
            &format!("/dashboard/developers/webhooks/{id}/rotate"),
            &[],
            false,
        )
        .await;
    assert_eq!(r.status, 403);
}
