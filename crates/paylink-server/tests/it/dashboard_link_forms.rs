//! The dashboard's link forms over HTTP on both backends: a link of every type, the edit
//! form, sending a link by e-mail and its QR code as PNG; with the API's rules and words,
//! roles, CSRF, the nonce that makes a form sent twice change once, and another merchant's
//! ids.

use serde_json::Value;

use paylink_domain::access::Role;

use crate::both;
use crate::dashboard::Desk;
use crate::dashboard_forms::{api_get, id_in};
use crate::helpers::TestApp;

both!(
    links_of_every_type_are_made_in_one_form,
    a_link_is_edited_sent_and_its_qr_code_downloaded,
);

async fn links_of_every_type_are_made_in_one_form(app: TestApp) {
    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let product = app
        .create(
            "/v1/products",
            serde_json::json!({"name": "Mug", "unit_amount": 900}),
        )
        .await;
    let pid = product["id"].as_str().unwrap();
    let order = app
        .create(
            "/v1/orders",
            serde_json::json!({"line_items": [{"name": "Repair", "unit_amount": 4000, "quantity": 1}]}),
        )
        .await;
    let oid = order["id"].as_str().unwrap();
    let page = owner
        .get(&format!("/dashboard/links/new?type=products&product={pid}"))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.page.contains("id=\"type-products\" checked"),
        "starts as asked"
    );
    assert!(page
        .page
        .contains(&format!("<option value=\"{pid}\" selected>")));
    assert!(page.page.contains(oid), "unpaid orders are offered");
    let make = |fields: Vec<(&'static str, String)>| {
        let owner = &owner;
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            owner.post("/dashboard/links/new", &f, true).await
        }
    };
    let link_of = |r: crate::dashboard::Seen| {
        let app = &app;
        async move {
            assert_eq!(r.status, 303, "{}", r.page);
            api_get(
                app,
                &format!("/v1/payment_links/{}", id_in(&r.location, "links")),
            )
            .await
        }
    };
    let s = |v: &str| v.to_owned();
    let custom = link_of(
        make(vec![
            ("type", s("custom")),
            ("title", s("Consulting")),
            ("amount", s("150.00")),
            ("currency", s("EUR")),
            ("nonce", s("l1")),
        ])
        .await,
    )
    .await;
    assert_eq!(
        (
            custom["type"].as_str(),
            custom["line_items"][0]["unit_amount"].as_i64(),
            custom["currency"].as_str()
        ),
        (Some("custom"), Some(15000), Some("EUR"))
    );
    let products = link_of(
        make(vec![
            ("type", s("products")),
            ("title", s("Mugs")),
            ("product_1", s(pid)),
            ("quantity_1", s("2")),
            ("product_2", s("")),
            ("nonce", s("l2")),
        ])
        .await,
    )
    .await;
    assert_eq!(
        (
            products["type"].as_str(),
            products["line_items"][0]["quantity"].as_i64()
        ),
        (Some("products"), Some(2))
    );
    let store = link_of(
        make(vec![
            ("type", s("storefront")),
            ("title", s("Our shop")),
            ("nonce", s("l3")),
        ])
        .await,
    )
    .await;
    assert_eq!(store["all_products"], true);
    let donation = link_of(
        make(vec![
            ("type", s("donation")),
            ("title", s("Roof fund")),
            ("currency", s("USD")),
            ("presets", s("5, 10; 25.50")),
            ("minimum", s("2")),
            ("nonce", s("l4")),
        ])
        .await,
    )
    .await;
    assert_eq!(
        donation["donation"]["preset_amounts"],
        serde_json::json!([500, 1000, 2550])
    );
    assert_eq!(donation["donation"]["minimum"], 200);
    let sub = link_of(
        make(vec![
            ("type", s("subscription")),
            ("title", s("Coffee club")),
            ("amount", s("19.00")),
            ("currency", s("USD")),
            ("interval", s("month")),
            ("interval_count", s("1")),
            ("trial_days", s("14")),
            ("nonce", s("l5")),
        ])
        .await,
    )
    .await;
    assert_eq!(
        sub["subscription"],
        serde_json::json!({"interval": "month", "interval_count": 1, "trial_period_days": 14})
    );
    let from_order = link_of(
        make(vec![
            ("type", s("order")),
            ("title", s("Your repair")),
            ("order_id", s(oid)),
            ("payments_limit", s("1")),
            ("expires_at", s("2031-01-02T03:04")),
            ("nonce", s("l6")),
        ])
        .await,
    )
    .await;
    assert_eq!(
        (
            from_order["type"].as_str(),
            from_order["expires_at"].as_str()
        ),
        (Some("order"), Some("2031-01-02T03:04:00Z"))
    );
    // A comma followed by digits is the decimal comma, as the amount field reads it:
    // "2,50" is one preset of 2.50, and "5,10,25" is refused rather than guessed.
    let euro = link_of(
        make(vec![
            ("type", s("donation")),
            ("title", s("Kaffeekasse")),
            ("currency", s("EUR")),
            ("presets", s("2,50 5")),
            ("nonce", s("l4b")),
        ])
        .await,
    )
    .await;
    assert_eq!(
        euro["donation"]["preset_amounts"],
        serde_json::json!([250, 500])
    );
    let r = make(vec![
        ("type", s("donation")),
        ("title", s("Guess")),
        ("currency", s("EUR")),
        ("presets", s("5,10,25")),
        ("nonce", s("l4c")),
    ])
    .await;
    assert_eq!(r.status, 422, "{}", r.page);
    // "5,100" would read as five thousand one hundred: asked, not guessed.
    let r = make(vec![
        ("type", s("donation")),
        ("title", s("Grouped")),
        ("currency", s("USD")),
        ("presets", s("5,100")),
        ("nonce", s("l4d")),
    ])
    .await;
    assert_eq!(r.status, 422, "{}", r.page);
    assert!(r.page.contains("one amount or two"), "{}", r.page);
    // A subscription renews its products or an amount, never both.
    let r = make(vec![
        ("type", s("subscription")),
        ("title", s("Both")),
        ("amount", s("5.00")),
        ("currency", s("USD")),
        ("product_1", s(pid)),
        ("interval", s("month")),
        ("nonce", s("l5b")),
    ])
    .await;
    assert_eq!(r.status, 422, "{}", r.page);
    assert!(r.page.contains("either its products or an amount"));
    // Sent twice with its nonce: still seven links.
    let again = make(vec![
        ("type", s("storefront")),
        ("title", s("Our shop")),
        ("nonce", s("l3")),
    ])
    .await;
    assert_eq!(again.status, 303);
    let all = api_get(&app, "/v1/payment_links?limit=100").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 7);
    // Refusals in the API's words, the field marked, what was typed kept, a fresh nonce.
    let r = make(vec![
        ("type", s("products")),
        ("title", s("Nothing")),
        ("nonce", s("l7")),
    ])
    .await;
    assert_eq!(r.status, 422);
    assert!(r.page.contains("Choose at least one product"));
    let r = make(vec![
        ("type", s("donation")),
        ("title", s("Odd")),
        ("currency", s("USD")),
        ("presets", s("5, x")),
        ("nonce", s("l8")),
    ])
    .await;
    assert_eq!(r.status, 422);
    assert!(r.page.contains("each preset") && r.page.contains("value=\"5, x\""));
    let r = make(vec![
        ("type", s("subscription")),
        ("title", s("Too long")),
        ("amount", s("1.00")),
        ("currency", s("USD")),
        ("interval", s("month")),
        ("interval_count", s("99")),
        ("nonce", s("l9")),
    ])
    .await;
    assert_eq!(r.status, 422, "{}", r.page);
    assert!(
        r.page.contains("aria-invalid") && !r.page.contains("value=\"l9\""),
        "{}",
        r.page
    );
    let r = make(vec![
        ("type", s("order")),
        ("title", s("Not ours")),
        ("order_id", s("ord_doesnotexist")),
        ("nonce", s("l10")),
    ])
    .await;
    assert!(
        r.status.is_client_error() && r.page.contains("id=\"error\""),
        "{}",
        r.page
    );
    let r = make(vec![
        ("type", s("weird")),
        ("title", s("Weird")),
        ("nonce", s("l11")),
    ])
    .await;
    assert_eq!(r.status, 422);
    let r = make(vec![
        ("type", s("custom")),
        ("title", s("Huge")),
        ("amount", s("99999999999999999999")),
        ("currency", s("USD")),
        ("nonce", s("l12")),
    ])
    .await;
    assert_eq!(r.status, 422);
    let r = make(vec![
        ("type", s("custom")),
        ("title", s("Neg")),
        ("amount", s("-5")),
        ("currency", s("USD")),
        ("nonce", s("l13")),
    ])
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        api_get(&app, "/v1/payment_links?limit=100").await["data"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    // Another merchant's product cannot be sold here.
    let other = app.other_merchant("Rival").await;
    let theirs = app
        .call(
            Some(&other),
            reqwest::Method::POST,
            "/v1/products",
            Some(serde_json::json!({"name": "Theirs", "unit_amount": 100})),
            None,
        )
        .await
        .ok(201)
        .clone();
    let r = make(vec![
        ("type", s("products")),
        ("title", s("Stolen")),
        ("product_1", s(theirs["id"].as_str().unwrap())),
        ("nonce", s("l14")),
    ])
    .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    // A developer may not make links (the API's scopes), a support member neither.
    let dev = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    assert_eq!(dev.get("/dashboard/links/new").await.status, 403);
    let r = dev
        .post(
            "/dashboard/links/new",
            &[
                ("type", "custom"),
                ("title", "Mine"),
                ("amount", "1"),
                ("currency", "USD"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
}

async fn a_link_is_edited_sent_and_its_qr_code_downloaded(app: TestApp) {
    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let link = app.custom_link("Gift card", 5000).await;
    let id = link["id"].as_str().unwrap().to_owned();
    let page = owner.get(&format!("/dashboard/links/{id}/edit")).await;
    assert_eq!(page.status, 200);
    assert!(page.page.contains("value=\"50.00\""));
    let r = owner
        .post(
            &format!("/dashboard/links/{id}/edit"),
            &[
                ("title", "Gift card 2027"),
                ("description", "Any amount of joy"),
                ("amount", "60.00"),
                ("payments_limit", "10"),
                ("expires_at", "2030-06-01T12:00"),
                ("confirmation_message", "Thanks!"),
            ],
            true,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.location.clone()),
        (303, format!("/dashboard/links/{id}"))
    );
    let l = api_get(&app, &format!("/v1/payment_links/{id}")).await;
    assert_eq!(
        (
            l["title"].as_str(),
            l["line_items"][0]["unit_amount"].as_i64(),
            l["payments_limit"].as_i64(),
            l["expires_at"].as_str(),
            l["confirmation_message"].as_str()
        ),
        (
            Some("Gift card 2027"),
            Some(6000),
            Some(10),
            Some("2030-06-01T12:00:00Z"),
            Some("Thanks!")
        )
    );
    // Emptied fields clear; the API's refusal is shown with the field marked.
    let r = owner
        .post(
            &format!("/dashboard/links/{id}/edit"),
            &[
                ("title", "Gift card 2027"),
                ("amount", "60.00"),
                ("payments_limit", ""),
                ("expires_at", ""),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let l = api_get(&app, &format!("/v1/payment_links/{id}")).await;
    assert!(
        l["payments_limit"].is_null() && l["expires_at"].is_null() && l["description"].is_null(),
        "{l}"
    );
    let r = owner
        .post(
            &format!("/dashboard/links/{id}/edit"),
            &[("title", "x"), ("amount", "60.00")],
            true,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.page);
    assert!(r.page.contains("aria-invalid") && r.page.contains("id=\"error\""));
    let r = owner
        .post(
            &format!("/dashboard/links/{id}/edit"),
            &[
                ("title", "Fine title"),
                ("amount", "60.00"),
                ("payments_limit", "-1"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 422);
    // Sent by e-mail: the page says so; the e-mail is queued for each address.
    let r = owner
        .post(
            &format!("/dashboard/links/{id}/send"),
            &[
                ("to", "ana@example.com, bo@example.com"),
                ("message", "Happy birthday"),
                ("nonce", "send-1"),
            ],
            true,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.location.clone()),
        (303, format!("/dashboard/links/{id}?sent=2"))
    );
    assert!(owner
        .get(&r.location)
        .await
        .page
        .contains("Sent to 2 addresses"));
    let again = owner
        .post(
            &format!("/dashboard/links/{id}/send"),
            &[
                ("to", "ana@example.com, bo@example.com"),
                ("message", "Happy birthday"),
                ("nonce", "send-1"),
            ],
            true,
        )
        .await;
    assert_eq!(again.status, 303);
    let emails = api_get(&app, "/v1/emails?limit=100").await;
    let sent: Vec<&Value> = emails["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "payment_link")
        .collect();
    assert_eq!(sent.len(), 2, "sent once, to two: {emails}");
    let r = owner
        .post(
            &format!("/dashboard/links/{id}/send"),
            &[("to", "not an address"), ("nonce", "send-2")],
            true,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.page);
    assert!(r.page.contains("id=\"error\"") && r.page.contains("Gift card 2027"));
    // The QR code as PNG.
    let res = reqwest::Client::new()
        .get(format!("{}/dashboard/links/{id}/qr.png", app.base))
        .header(
            reqwest::header::COOKIE,
            format!("paylink_session={}", owner.token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.bytes().await.unwrap().starts_with(b"\x89PNG"));
    // A viewer may look but not edit or send.
    let viewer = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let page = viewer.get(&format!("/dashboard/links/{id}")).await;
    assert!(!page.page.contains("send-form") && !page.page.contains("id=\"edit\""));
    assert_eq!(
        viewer
            .get(&format!("/dashboard/links/{id}/edit"))
            .await
            .status,
        403
    );
    let r = viewer
        .post(
            &format!("/dashboard/links/{id}/edit"),
            &[("title", "Mine now")],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = viewer
        .post(
            &format!("/dashboard/links/{id}/send"),
            &[("to", "x@example.com")],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    // Another merchant's link is not found, through any of these.
    let other = app.other_merchant("Rival").await;
    let theirs = app
        .call(
            Some(&other),
            reqwest::Method::POST,
            "/v1/payment_links",
            Some(serde_json::json!({"title": "Theirs", "amount": 100})),
            None,
        )
        .await
        .ok(201)
        .clone();
    let t = theirs["id"].as_str().unwrap();
    assert_eq!(
        owner
            .get(&format!("/dashboard/links/{t}/edit"))
            .await
            .status,
        404
    );
    assert_eq!(
        owner
            .post(
                &format!("/dashboard/links/{t}/edit"),
                &[("title", "Mine now")],
                true
            )
            .await
            .status,
        404
    );
    assert_eq!(
        owner
            .post(
                &format!("/dashboard/links/{t}/send"),
                &[("to", "x@example.com")],
                true
            )
            .await
            .status,
        404
    );
    assert_eq!(
        owner
            .get(&format!("/dashboard/links/{t}/qr.png"))
            .await
            .status,
        404
    );
}

both!(an_edit_sends_only_what_changed);

/// The edit form sends what the person changed: an order link's title changes (its limit
/// is not sent), an expired link's messages change (its expiry is not sent again), a sold
/// link's title changes with its price typed as "50" for "50.00".
async fn an_edit_sends_only_what_changed(app: TestApp) {
    use crate::dashboard_forms::shown_of;
    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let edit = |id: String, fields: Vec<(&'static str, &'static str)>| {
        let owner = &owner;
        async move {
            let page = owner.get(&format!("/dashboard/links/{id}/edit")).await;
            assert_eq!(page.status, 200, "{}", page.page);
            let shown = shown_of(&page.page);
            let mut form: Vec<(&str, &str)> = fields;
            form.push(("shown", shown.as_str()));
            owner
                .post(&format!("/dashboard/links/{id}/edit"), &form, true)
                .await
        }
    };
    let order = app
        .create(
            "/v1/orders",
            serde_json::json!({"line_items": [{"name": "Repair", "unit_amount": 4000}]}),
        )
        .await;
    let order_link = app
        .create(
            "/v1/payment_links",
            serde_json::json!({"title": "Your repair", "order_id": order["id"]}),
        )
        .await;
    let oid = order_link["id"].as_str().unwrap().to_owned();
    let page = owner.get(&format!("/dashboard/links/{oid}/edit")).await;
    assert!(!page.page.contains("id=\"payments_limit\""));
    let r = edit(oid.clone(), vec![("title", "Your bike repair")]).await;
    assert_eq!(r.status, 303, "{}", r.page);
    assert_eq!(
        api_get(&app, &format!("/v1/payment_links/{oid}")).await["title"],
        "Your bike repair"
    );
    // An expired link: its messages change, its expiry stays to the second.
    let soon = paylink_domain::time::Timestamp::now().plus_seconds(2);
    let expiring = app
        .create(
            "/v1/payment_links",
            serde_json::json!({"title": "Flash sale", "amount": 500, "expires_at": soon.to_rfc3339()}),
        )
        .await;
    let eid = expiring["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let page = owner.get(&format!("/dashboard/links/{eid}/edit")).await;
    let shown = shown_of(&page.page);
    let r = owner
        .post(
            &format!("/dashboard/links/{eid}/edit"),
            &[
                ("title", "Flash sale"),
                ("amount", "5.00"),
                ("expires_at", &soon.to_rfc3339()[..16]),
                ("inactive_message", "The sale is over; see you next month."),
                ("shown", shown.as_str()),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let l = api_get(&app, &format!("/v1/payment_links/{eid}")).await;
    assert_eq!(
        (
            l["inactive_message"].as_str(),
            l["expires_at"].as_str(),
            l["status"].as_str()
        ),
        (
            Some("The sale is over; see you next month."),
            Some(soon.to_rfc3339().as_str()),
            Some("expired")
        )
    );
    // A description of several lines comes back from the browser with `\r\n`: still
    // unchanged, so a colleague's change to it meanwhile stands.
    let multi = app
        .create(
            "/v1/payment_links",
            serde_json::json!({"title": "Notes", "amount": 700, "description": "Line one\nLine two"}),
        )
        .await;
    let mid = multi["id"].as_str().unwrap().to_owned();
    let page = owner.get(&format!("/dashboard/links/{mid}/edit")).await;
    let shown = shown_of(&page.page);
    app.patch(
        &format!("/v1/payment_links/{mid}"),
        serde_json::json!({"description": "A colleague's text"}),
    )
    .await
    .ok(200);
    let r = owner
        .post(
            &format!("/dashboard/links/{mid}/edit"),
            &[
                ("title", "Notes, renamed"),
                ("description", "Line one\r\nLine two"),
                ("amount", "7.00"),
                ("shown", shown.as_str()),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let l = api_get(&app, &format!("/v1/payment_links/{mid}")).await;
    assert_eq!(
        (l["title"].as_str(), l["description"].as_str()),
        (Some("Notes, renamed"), Some("A colleague's text"))
    );
    // A sold link: "50" is the price shown as "50.00", so only the title is sent.
    let sold = app.custom_link("Gift card", 5000).await;
    let sid = sold["id"].as_str().unwrap().to_owned();
    let (_, paid) = app.buy(sold["slug"].as_str().unwrap()).await;
    assert!(paid.is_some());
    let r = edit(
        sid.clone(),
        vec![("title", "Gift card (any occasion)"), ("amount", "50")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.page);
    // A new price after a sale is the API's refusal, in its words.
    let r = edit(
        sid.clone(),
        vec![("title", "Gift card (any occasion)"), ("amount", "55")],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.page);
    assert!(r.page.contains("id=\"error\""));
    assert_eq!(
        api_get(&app, &format!("/v1/payment_links/{sid}")).await["title"],
        "Gift card (any occasion)"
    );
}

/// Dashboard pages carry the hosted pages' CSP, with forms posting to the dashboard only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_forms_post_to_the_dashboard_only() {
    let app = crate::browser::app().await;
    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let res = reqwest::Client::new()
        .get(format!("{}/dashboard/links/new", app.base))
        .header(
            reqwest::header::COOKIE,
            format!("paylink_session={}", owner.token),
        )
        .send()
        .await
        .unwrap();
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action 'self';"), "{csp}");
    assert!(
        csp.contains("script-src 'self';") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
}
