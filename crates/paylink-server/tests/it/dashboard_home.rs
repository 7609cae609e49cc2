//! The dashboard's home (issue 22) over HTTP on both backends: the funnel of a window,
//! what needs attention and where to fix it, the payments list's customer and date filters,
//! a payment's receipt sent again, and a link's chart; and in Chromium, those pages at
//! desktop and phone width with axe-core (`dashboard-home-*` screenshots).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use paylink_domain::access::Role;
use paylink_domain::time::Timestamp;

use crate::both;
use crate::dashboard::Desk;
use crate::helpers::TestApp;

use crate::email::{app_with_smtp, Sink};

both!(
    the_funnel_counts_views_checkouts_and_payments_of_the_mode,
    what_needs_attention_links_to_where_to_fix_it,
    payments_are_filtered_by_customer_and_dates,
    receipts_are_sent_again_and_a_viewer_cannot,
    a_links_page_charts_its_payments,
);

/// `YYYY-MM-DD` of today plus `days` (UTC).
fn day(days: i64) -> String {
    Timestamp::from_unix(Timestamp::now().unix() + days * 86_400).to_rfc3339()[..10].to_owned()
}

/// The report's funnel once the views of the last second are saved (they are written in a
/// batch every second): waits until `views` are counted.
async fn funnel_with(app: &TestApp, key: Option<&str>, views: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let key = key.unwrap_or(&app.key);
        let r = app
            .call(
                Some(key),
                Method::GET,
                "/v1/reports/payments?days=7",
                None,
                None,
            )
            .await;
        let f = r.ok(200)["funnel"].clone();
        if f["views"].as_i64() >= Some(views) || Instant::now() > deadline {
            return f;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn view(app: &TestApp, slug: &str) {
    let res = reqwest::get(format!("{}/l/{slug}", app.base))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn the_funnel_counts_views_checkouts_and_payments_of_the_mode(app: TestApp) {
    let tee = app.custom_link("Tee", 2500).await;
    let slug = tee["slug"].as_str().unwrap();
    // Four views, three checkouts started, two paid (one declined card in between).
    for _ in 0..4 {
        view(&app, slug).await;
    }
    app.buy(slug).await.1.unwrap().ok(200);
    app.buy(slug).await.1.unwrap().ok(200);
    let s = app
        .start_checkout(slug, json!({"email": "no@example.com"}))
        .await;
    assert_eq!(s.status, 201);
    let declined = app.pay_card(&s.body, "4000000000000002").await;
    assert!(declined.status.as_u16() >= 400, "{:?}", declined.body);
    let f = funnel_with(&app, None, 4).await;
    assert_eq!(
        f,
        json!({"views": 4, "checkouts_started": 3, "payments": 2})
    );
    // Live mode counted none of it.
    let live = app.live_key().await;
    assert_eq!(
        funnel_with(&app, Some(&live), 0).await,
        json!({"views": 0, "checkouts_started": 0, "payments": 0})
    );
    // Another merchant's funnel is its own.
    let rival = app.other_merchant("Rival").await;
    assert_eq!(funnel_with(&app, Some(&rival), 0).await["views"], 0);
    // A link's report has no funnel, and another merchant's link is not found.
    let id = tee["id"].as_str().unwrap();
    let one = app
        .get(&format!("/v1/reports/payments?payment_link_id={id}"))
        .await;
    assert_eq!(one.ok(200)["funnel"], Value::Null);
    app.call(
        Some(&rival),
        Method::GET,
        &format!("/v1/reports/payments?payment_link_id={id}"),
        None,
        None,
    )
    .await
    .assert_error(404, "resource_missing");

    // The home page: the counts and their shares, in the window chosen.
    let desk = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let home = desk.get("/dashboard?days=7").await;
    assert_eq!(home.status, 200);
    let p = &home.page;
    assert!(p.contains("From views to payments, last 7 days"), "{p}");
    assert!(p.contains("id=\"funnel-views\">4<"), "{p}");
    assert!(p.contains("id=\"funnel-checkouts\">3<"), "{p}");
    assert!(p.contains("id=\"funnel-payments\">2<"), "{p}");
    assert!(p.contains("75.0 % of views"), "{p}");
    assert!(p.contains("66.7 % of checkouts · 50.0 % of views"), "{p}");
    let mut live_desk = Desk::signed_in(&app, Role::Viewer, "viewer2@acme.example").await;
    live_desk.mode = Some("live");
    let live_home = live_desk.get("/dashboard?days=7").await.page;
    assert!(live_home.contains("id=\"funnel-views\">0<"), "{live_home}");
}

async fn what_needs_attention_links_to_where_to_fix_it(app: TestApp) {
    let soon = app
        .create(
            "/v1/payment_links",
            json!({"title": "Early bird", "amount": 1000,
                   "expires_at": Timestamp::from_unix(Timestamp::now().unix() + 3 * 86_400).to_rfc3339()}),
        )
        .await;
    app.create(
        "/v1/payment_links",
        json!({"title": "Next year", "amount": 1000,
               "expires_at": Timestamp::from_unix(Timestamp::now().unix() + 60 * 86_400).to_rfc3339()}),
    )
    .await;
    let seats = app
        .create(
            "/v1/payment_links",
            json!({"title": "Workshop seats", "amount": 4000, "payments_limit": 5}),
        )
        .await;
    for _ in 0..4 {
        app.buy(seats["slug"].as_str().unwrap())
            .await
            .1
            .unwrap()
            .ok(200);
    }
    app.create(
        "/v1/products",
        json!({"name": "Last mugs", "unit_amount": 900, "inventory": {"available": 2}}),
    )
    .await;
    let hook = app
        .create(
            "/v1/webhook_endpoints",
            json!({"url": "https://93.184.216.34/paylink", "enabled_events": ["*"]}),
        )
        .await;
    app.patch(
        &format!("/v1/webhook_endpoints/{}", hook["id"].as_str().unwrap()),
        json!({"status": "disabled"}),
    )
    .await
    .ok(200);

    // (No worker runs here: nothing is ever sent to the endpoint, which is disabled.)
    // The API: each list from its own index; receipts held for want of SMTP.
    let a = app.get("/v1/reports/attention").await.ok(200).clone();
    assert_eq!(a["expiring_links"].as_array().unwrap().len(), 1, "{a}");
    assert_eq!(a["expiring_links"][0]["payment_link_id"], soon["id"]);
    assert_eq!(a["selling_out_links"][0]["payment_link_id"], seats["id"]);
    assert_eq!(a["selling_out_links"][0]["payments_count"], 4);
    assert_eq!(a["low_stock_products"][0]["name"], "Last mugs");
    assert_eq!(a["webhook_endpoints"][0]["state"], "disabled");
    assert_eq!(a["held_emails"], 4);
    // None of it is another merchant's, or live mode's.
    let rival = app.other_merchant("Rival").await;
    let theirs = app
        .call(
            Some(&rival),
            Method::GET,
            "/v1/reports/attention",
            None,
            None,
        )
        .await;
    let theirs = theirs.ok(200);
    assert_eq!(
        (&theirs["expiring_links"], &theirs["held_emails"]),
        (&json!([]), &json!(0))
    );
    let live = app.live_key().await;
    let live_a = app
        .call(
            Some(&live),
            Method::GET,
            "/v1/reports/attention",
            None,
            None,
        )
        .await;
    assert_eq!(live_a.ok(200)["selling_out_links"], json!([]));

    // The home page: each item a link to where it is fixed.
    let desk = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let p = desk.get("/dashboard").await.page;
    assert!(
        p.contains("<h2 id=\"attention-heading\">Needs attention</h2>"),
        "{p}"
    );
    let soon_id = soon["id"].as_str().unwrap();
    let seats_id = seats["id"].as_str().unwrap();
    assert!(
        p.contains(&format!(
            "<a href=\"/dashboard/links/{soon_id}\">“Early bird” expires"
        )),
        "{p}"
    );
    let needs = p
        .split("id=\"attention\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap();
    assert!(!needs.contains("Next year"), "{needs}");
    assert!(
        p.contains(&format!(
            "<a href=\"/dashboard/links/{seats_id}\">“Workshop seats” has 1 of its 5 uses left</a>"
        )),
        "{p}"
    );
    assert!(p.contains("<a href=\"/dashboard/products\">“Last mugs” has 2 in stock</a>"));
    assert!(p.contains(
        "<a href=\"/dashboard/developers#hooks-heading\">The webhook endpoint https://93.184.216.34/paylink is disabled</a>"
    ));
    assert!(p.contains("4 e-mails are held"), "{p}");
    // A key that may not read webhook endpoints gets the report without them.
    let links_only = app
        .create(
            "/v1/api_keys",
            json!({"name": "links", "kind": "restricted", "scopes": ["payment_links:read"]}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .call(
            Some(&links_only),
            Method::GET,
            "/v1/reports/attention",
            None,
            None,
        )
        .await;
    let r = r.ok(200);
    assert_eq!(
        (&r["webhook_endpoints"], &r["selling_out_links"][0]["title"]),
        (&json!([]), &json!("Workshop seats"))
    );
}

async fn buy_as(app: &TestApp, slug: &str, email: &str) -> String {
    let s = app.start_checkout(slug, json!({"email": email})).await;
    assert_eq!(s.status, 201, "{:?}", s.body);
    let p = app.pay_card(&s.body, "4242424242424242").await;
    p.ok(200)["payment_id"].as_str().unwrap().to_owned()
}

async fn payments_are_filtered_by_customer_and_dates(app: TestApp) {
    let l = app.custom_link("Lessons", 3000).await;
    let slug = l["slug"].as_str().unwrap();
    let ana = buy_as(&app, slug, "ana@example.com").await;
    let bob = buy_as(&app, slug, "bob@example.com").await;
    let ana_again = buy_as(&app, slug, "Ana@Example.com").await;
    let cus = app
        .create("/v1/customers", json!({"email": "ana@example.com"}))
        .await;
    let cus_id = cus["id"].as_str().unwrap();
    let ids = |v: &Value| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    // By e-mail, without case, or by the customer's id.
    for who in ["ANA@example.com", cus_id] {
        let r = app.get(&format!("/v1/payments?customer={who}")).await;
        assert_eq!(
            ids(r.ok(200)),
            vec![ana_again.clone(), ana.clone()],
            "{who}"
        );
    }
    // Another merchant's customer, and a customer without payments, give nothing.
    let rival = app.other_merchant("Rival").await;
    let theirs = app
        .call(
            Some(&rival),
            Method::POST,
            "/v1/customers",
            Some(json!({"email": "bob@example.com"})),
            None,
        )
        .await;
    let their_id = theirs.ok(201)["id"].as_str().unwrap().to_owned();
    let r = app.get(&format!("/v1/payments?customer={their_id}")).await;
    assert!(ids(r.ok(200)).is_empty());
    let r = app
        .call(
            Some(&rival),
            Method::GET,
            "/v1/payments?customer=bob@example.com",
            None,
            None,
        )
        .await;
    assert!(ids(r.ok(200)).is_empty());
    // Text that is no e-mail matches nothing; a blank filter is none; a control character
    // is refused as the document says.
    let r = app.get("/v1/payments?customer=nobody").await;
    assert!(ids(r.ok(200)).is_empty());
    let all = app.get("/v1/payments").await;
    let blank = app.get("/v1/payments?customer=%20").await;
    assert_eq!(ids(blank.ok(200)), ids(all.ok(200)));
    app.get("/v1/payments?customer=a%01b")
        .await
        .assert_error(400, "parameter_invalid")
        .assert_param("customer");

    // The dashboard's list: the filters, kept in the form and in the next page's link.
    let desk = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let p = desk
        .get("/dashboard/payments?customer=bob%40example.com")
        .await;
    assert_eq!(p.status, 200);
    assert!(
        p.page.contains(&bob) && !p.page.contains(&ana),
        "{}",
        p.page
    );
    assert!(p.page.contains("value=\"bob@example.com\""));
    let (today, tomorrow, yesterday) = (day(0), day(1), day(-1));
    let p = desk
        .get(&format!("/dashboard/payments?from={today}&to={today}"))
        .await;
    for id in [&ana, &bob, &ana_again] {
        assert!(p.page.contains(id.as_str()), "{}", p.page);
    }
    assert!(p.page.contains(&format!(
        "id=\"from\" name=\"from\" type=\"date\" value=\"{today}\""
    )));
    for q in [format!("from={tomorrow}"), format!("to={yesterday}")] {
        let p = desk.get(&format!("/dashboard/payments?{q}")).await;
        assert!(p.page.contains("No payments match these filters"), "{q}");
    }
    // A date the field cannot hold is no filter; a customer that is nobody matches nothing.
    let p = desk.get("/dashboard/payments?from=2026-13&to=x").await;
    assert!(p.page.contains(&bob));
    let p = desk
        .get("/dashboard/payments?customer=a%2Fb%3F%23%20c")
        .await;
    assert!(!p.page.contains("id=\"error\""), "{}", p.page);
    assert!(
        p.page.contains("No payments match these filters"),
        "{}",
        p.page
    );
    let p = desk
        .get(&format!("/dashboard/payments?customer={their_id}"))
        .await;
    assert!(p.page.contains("No payments match these filters"));
}

async fn receipts_are_sent_again_and_a_viewer_cannot(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let sink = Sink::start(0).await;
    let app = app_with_smtp(backend, &sink).await;
    let l = app.custom_link("Lessons", 3000).await;
    let paid = buy_as(&app, l["slug"].as_str().unwrap(), "ana@example.com").await;
    assert_eq!(sink.recipients(1).await, ["ana@example.com"]);

    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let page = owner.get(&format!("/dashboard/payments/{paid}")).await.page;
    assert!(page.contains("Send the receipt again to ana@example.com."));
    assert!(page.contains("<dd id=\"refundable\">$30.00</dd>"), "{page}");
    let nonce = crate::helpers::page_nonce(&page);
    let path = format!("/dashboard/payments/{paid}/receipt");
    let sent = owner.post(&path, &[("nonce", &nonce)], true).await;
    assert_eq!(sent.status, 303);
    assert_eq!(
        sent.location,
        format!("/dashboard/payments/{paid}?sent=queued")
    );
    assert_eq!(
        sink.recipients(2).await,
        ["ana@example.com", "ana@example.com"]
    );
    assert!(owner
        .get(&sent.location)
        .await
        .page
        .contains("The receipt is on its way."));
    // The same form sent twice sends one e-mail.
    assert_eq!(
        owner.post(&path, &[("nonce", &nonce)], true).await.status,
        303
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.count(), 2);

    // A viewer is offered no button, and the API refuses the form sent anyway.
    let viewer = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let vp = viewer
        .get(&format!("/dashboard/payments/{paid}"))
        .await
        .page;
    assert!(!vp.contains("id=\"resend\""));
    let refused = viewer.post(&path, &[("nonce", "v1")], true).await;
    assert_eq!(refused.status, 403);
    // No token, a token of the other mode, another merchant's payment, an id that is none.
    assert_eq!(owner.post(&path, &[], false).await.status, 403);
    let test_token = paylink_server::dashboard::form_token(&owner.csrf(), false);
    let mut in_live = Desk::signed_in(&app, Role::Owner, "owner2@acme.example").await;
    in_live.mode = Some("live");
    let test_token_there = paylink_server::dashboard::form_token(&in_live.csrf(), false);
    assert_ne!(test_token, test_token_there);
    let other_mode = in_live
        .post(
            &path,
            &[("csrf", &test_token_there), ("nonce", "m1")],
            false,
        )
        .await;
    assert_eq!(other_mode.status, 403);
    let rival = app.other_merchant("Rival").await;
    let rl = app
        .call(
            Some(&rival),
            Method::POST,
            "/v1/payment_links",
            Some(json!({"title": "Theirs", "amount": 100})),
            None,
        )
        .await;
    let their_slug = rl.ok(201)["slug"].as_str().unwrap().to_owned();
    let theirs = buy_as(&app, &their_slug, "them@example.com").await;
    sink.recipients(3).await;
    for bad in [
        theirs.as_str(),
        "pay_nothere",
        "pay_x%2F..",
        "pay_%00",
        "pay_a%20b",
    ] {
        let s = owner
            .post(&format!("/dashboard/payments/{bad}/receipt"), &[], true)
            .await
            .status;
        assert!(s == 404 || s == 400, "{bad}: {s}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Two of ours, and the rival's own receipt: nothing sent again to anyone.
    assert_eq!(sink.count(), 3);
}

async fn a_links_page_charts_its_payments(app: TestApp) {
    let tee = app.custom_link("Tee", 2500).await;
    let mug = app.custom_link("Mug", 1200).await;
    for l in [&tee, &tee, &mug] {
        app.buy(l["slug"].as_str().unwrap())
            .await
            .1
            .unwrap()
            .ok(200);
    }
    let id = tee["id"].as_str().unwrap();
    let r = app
        .get(&format!(
            "/v1/reports/payments?days=30&payment_link_id={id}"
        ))
        .await;
    let usd = &r.ok(200)["currencies"][0];
    assert_eq!(
        (usd["count"].as_i64(), usd["amount"].as_i64()),
        (Some(2), Some(5000))
    );
    assert_eq!(usd["daily"].as_array().unwrap().len(), 30);
    let desk = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let p = desk.get(&format!("/dashboard/links/{id}")).await.page;
    assert!(
        p.contains("<h2 id=\"chart-heading\">Payments, last 30 days</h2>"),
        "{p}"
    );
    assert!(p.contains("$50.00 (2 payments)</title>"), "{p}");
    assert!(p.contains(&format!(
        "<tr><td>{}</td><td>$50.00</td><td>2</td></tr>",
        day(0)
    )));
    // A link without payments says so.
    let empty = app.custom_link("Quiet", 100).await;
    let p = desk
        .get(&format!(
            "/dashboard/links/{}",
            empty["id"].as_str().unwrap()
        ))
        .await
        .page;
    assert!(p.contains("id=\"no-chart\""));
}

async fn scroll_to(c: &fantoccini::Client, id: &str) {
    c.execute(
        "document.getElementById(arguments[0]).scrollIntoView();",
        vec![json!(id)],
    )
    .await
    .unwrap();
}

/// Home with its funnel and attention, payments filtered, a payment and a link with its
/// chart, in Chromium at 1280 and 390 px with axe-core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_payments_and_chart_pass_axe_at_both_widths() {
    use crate::browser::{app, browser, click, fill};
    use crate::look::{axe_source, look};
    let app = app().await;
    let axe = axe_source();
    crate::accounts::member(&app, None, Role::Owner, "owner@acme.example").await;
    let tee = app
        .create(
            "/v1/payment_links",
            json!({"title": "Summer tee", "amount": 2500, "payments_limit": 4,
                   "expires_at": Timestamp::from_unix(Timestamp::now().unix() + 2 * 86_400).to_rfc3339()}),
        )
        .await;
    let slug = tee["slug"].as_str().unwrap();
    for _ in 0..5 {
        view(&app, slug).await;
    }
    let paid = buy_as(&app, slug, "ana@example.com").await;
    buy_as(&app, slug, "bob@example.com").await;
    buy_as(&app, slug, "ana@example.com").await;
    funnel_with(&app, None, 5).await;
    let id = tee["id"].as_str().unwrap();
    for (width, device) in [(1280, "desktop"), (390, "phone")] {
        let Some(b) = browser(width).await else {
            return;
        };
        let c = &b.client;
        let axe = axe.as_deref();
        crate::dashboard_day::sign_in_at(
            c,
            &app.base,
            "/dashboard",
            "owner@acme.example",
            crate::accounts::PW,
        )
        .await;
        crate::browser::wait_text(c, "#funnel-views", "5").await;
        look(c, axe, "dashboard-home-funnel", device).await;
        scroll_to(c, "funnel").await;
        look(c, axe, "dashboard-home-funnel-scrolled", device).await;
        c.goto(&format!("{}/dashboard/payments", app.base))
            .await
            .unwrap();
        fill(c, "#customer", "ana@example.com").await;
        click(c, "#filter").await;
        for _ in 0..200 {
            if c.current_url().await.unwrap().query().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        look(c, axe, "dashboard-home-payments-filtered", device).await;
        c.goto(&format!("{}/dashboard/payments/{paid}", app.base))
            .await
            .unwrap();
        look(c, axe, "dashboard-home-payment", device).await;
        c.goto(&format!("{}/dashboard/links/{id}", app.base))
            .await
            .unwrap();
        scroll_to(c, "link-chart").await;
        look(c, axe, "dashboard-home-link-chart", device).await;
    }
}
