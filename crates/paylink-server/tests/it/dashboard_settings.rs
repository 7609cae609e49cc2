//! The dashboard's settings page, webhook deliveries and events log, and the second factor
//! on the account page (issue 22), over HTTP on both backends; and those pages in Chromium
//! with axe-core at both widths.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use paylink_domain::access::Role;

use crate::accounts::{member, PW};
use crate::both;
use crate::dashboard::Desk;
use crate::helpers::TestApp;
use crate::webhooks::Receiver;

both!(
    settings_forms_save_through_the_api_and_show_its_refusals,
    settings_are_read_only_below_admin_and_forged_writes_are_refused,
    webhook_deliveries_are_listed_and_events_redelivered,
    the_second_factor_is_enrolled_and_turned_off_on_the_account_page,
);

/// The opening tag of the element whose id is `id`.
fn tag<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let start = page[..at].rfind('<').unwrap();
    let end = at + page[at..].find('>').unwrap();
    &page[start..=end]
}

fn invalid(page: &str, id: &str) -> bool {
    let t = tag(page, id);
    t.contains("aria-invalid=\"true\"") && t.contains("aria-describedby=\"error\"")
}

/// Text as the page writes it (askama escapes these).
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#96;", "`")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the form field named `name`.
fn field(page: &str, name: &str) -> String {
    let v = page
        .split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no field {name} in {page}"));
    unescape(v.split('"').next().unwrap())
}

/// Whether the page says `message` (escaped or not).
fn says(page: &str, message: &str) -> bool {
    unescape(page).contains(message)
}

async fn settings(app: &TestApp) -> Value {
    app.get("/v1/settings").await.ok(200).clone()
}

async fn settings_forms_save_through_the_api_and_show_its_refusals(app: TestApp) {
    let mut desk = Desk::signed_in(&app, Role::Admin, "admin@acme.example").await;
    let shown = desk.get("/dashboard/settings").await;
    assert_eq!(shown.status, 200);
    for form in [
        "branding-form",
        "defaults-form",
        "bounds-form",
        "redirects-form",
    ] {
        assert!(shown.page.contains(&format!("id=\"{form}\"")), "{form}");
    }
    assert!(shown.page.contains("aria-current=\"page\">Settings"));

    // Branding: saved, and the preview and its stylesheet show it.
    let branding = [
        ("business_name", "Acme Shop"),
        ("support_email", "help@acme.example"),
        ("brand_color", "#0b7a3e"),
        ("logo_url", ""),
    ];
    let r = desk
        .post("/dashboard/settings/branding", &branding, false)
        .await;
    assert_eq!(r.status, 403, "no token");
    let r = desk
        .post("/dashboard/settings/branding", &branding, true)
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    assert_eq!(r.location, "/dashboard/settings?saved=branding");
    let s = settings(&app).await;
    assert_eq!(
        (&s["business_name"], &s["brand_color"], &s["support_email"]),
        (
            &json!("Acme Shop"),
            &json!("#0b7a3e"),
            &json!("help@acme.example")
        )
    );
    assert!(s["logo_url"].is_null());
    let page = desk.get(&r.location).await.page;
    assert!(page.contains("id=\"notice\""));
    assert!(page.contains("data-brand=\"#0b7a3e\""));
    assert!(page.contains("id=\"preview-name\">Acme Shop</span>"));
    let css = desk.get("/dashboard/settings/preview.css").await;
    assert_eq!(css.status, 200);
    assert!(css
        .page
        .contains(".preview{--preview-brand:#0b7a3e;--preview-ink:#ffffff}"));
    // Empty fields are "none": the e-mail goes.
    let r = desk
        .post(
            "/dashboard/settings/branding",
            &[
                ("business_name", "Acme Shop"),
                ("support_email", " "),
                ("brand_color", "#f2b705"),
                ("logo_url", "https://cdn.acme.example/logo.png"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let s = settings(&app).await;
    assert!(s["support_email"].is_null());
    assert_eq!(s["logo_url"], "https://cdn.acme.example/logo.png");
    let css = desk.get("/dashboard/settings/preview.css").await.page;
    assert!(css.contains("--preview-ink:#16181d"), "dark text on yellow");

    // The API's refusal, at the top, its field marked and what was typed kept.
    let api = app
        .patch("/v1/settings", json!({"brand_color": "green"}))
        .await;
    let r = desk
        .post(
            "/dashboard/settings/branding",
            &[("business_name", "Acme Shop"), ("brand_color", "green")],
            true,
        )
        .await;
    assert_eq!(r.status, api.status);
    assert!(says(
        &r.page,
        api.body["error"]["message"].as_str().unwrap()
    ));
    assert!(invalid(&r.page, "brand_color"));
    assert!(!invalid(&r.page, "business_name") && !invalid(&r.page, "logo_url"));
    assert!(tag(&r.page, "brand_color").contains("value=\"green\""));
    assert_eq!(settings(&app).await["brand_color"], "#f2b705");

    // Defaults.
    let r = desk
        .post(
            "/dashboard/settings/defaults",
            &[
                ("default_currency", "EUR"),
                ("default_link_expiry", "30d"),
                ("checkout_session_ttl", "45m"),
                ("pricing_mode", "inclusive"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let s = settings(&app).await;
    assert_eq!(
        (
            &s["default_currency"],
            &s["default_link_expiry"],
            &s["checkout_session_ttl"],
            &s["pricing_mode"]
        ),
        (
            &json!("EUR"),
            &json!("30d"),
            &json!("45m"),
            &json!("inclusive")
        )
    );
    for (ttl, expiry, bad) in [
        ("2d", "30d", "checkout_session_ttl"),
        ("45m", "soon", "default_link_expiry"),
    ] {
        let r = desk
            .post(
                "/dashboard/settings/defaults",
                &[
                    ("default_currency", "EUR"),
                    ("default_link_expiry", expiry),
                    ("checkout_session_ttl", ttl),
                    ("pricing_mode", "inclusive"),
                ],
                true,
            )
            .await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.status);
        assert!(r.page.contains("id=\"error\""));
        assert!(invalid(&r.page, bad), "{bad} marked: {}", r.page);
    }
    // No expiry: links never expire.
    desk.post(
        "/dashboard/settings/defaults",
        &[
            ("default_currency", "EUR"),
            ("default_link_expiry", ""),
            ("checkout_session_ttl", "45m"),
            ("pricing_mode", "exclusive"),
        ],
        true,
    )
    .await;
    assert!(settings(&app).await["default_link_expiry"].is_null());

    // Amount bounds, typed in major units and sent exactly in minor units.
    for (currency, min, max) in [("USD", "1.00", "5,000.50"), ("JPY", "100", "90000")] {
        let r = desk
            .post(
                "/dashboard/settings/bounds",
                &[("currency", currency), ("minimum", min), ("maximum", max)],
                true,
            )
            .await;
        assert_eq!(r.status, 303, "{currency}: {}", r.page);
    }
    let s = settings(&app).await;
    assert_eq!(
        s["amount_bounds"],
        json!({"USD": {"minimum": 100, "maximum": 500050}, "JPY": {"minimum": 100, "maximum": 90000}})
    );
    let page = desk.get("/dashboard/settings").await.page;
    assert!(
        page.contains("<td>USD</td><td>1.00</td><td>5000.50</td>"),
        "{page}"
    );
    assert!(page.contains("<td>JPY</td><td>100</td><td>90000</td>"));
    // Too many decimals: the dashboard's own words; minimum above maximum: the API's.
    let r = desk
        .post(
            "/dashboard/settings/bounds",
            &[("currency", "USD"), ("minimum", "1.005"), ("maximum", "9")],
            true,
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.page.contains("at most 2 decimals"), "{}", r.page);
    assert!(invalid(&r.page, "bound_minimum") && !invalid(&r.page, "bound_maximum"));
    assert!(tag(&r.page, "bound_minimum").contains("value=\"1.005\""));
    let api = app
        .patch(
            "/v1/settings",
            json!({"amount_bounds": {"USD": {"minimum": 500, "maximum": 100}}}),
        )
        .await;
    let r = desk
        .post(
            "/dashboard/settings/bounds",
            &[
                ("currency", "USD"),
                ("minimum", "5.00"),
                ("maximum", "1.00"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, api.status);
    assert!(says(
        &r.page,
        api.body["error"]["message"].as_str().unwrap()
    ));
    assert!(invalid(&r.page, "bound_minimum") && invalid(&r.page, "bound_maximum"));
    // Removing one keeps the other.
    let r = desk
        .post("/dashboard/settings/bounds/USD/remove", &[], true)
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    assert_eq!(
        settings(&app).await["amount_bounds"],
        json!({"JPY": {"minimum": 100, "maximum": 90000}})
    );
    for bad in ["US%00", "..%2F", "a%20b"] {
        let r = desk
            .post(
                &format!("/dashboard/settings/bounds/{bad}/remove"),
                &[],
                true,
            )
            .await;
        assert!(r.status == 404 || r.status == 400, "{bad}: {}", r.status);
    }

    // The allowlist: one host a line, blank lines skipped, a bad line named.
    let r = desk
        .post(
            "/dashboard/settings/redirects",
            &[(
                "allowlist",
                "shop.example.com\r\n\r\n  Pay.Example.org \r\n",
            )],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    assert_eq!(
        settings(&app).await["redirect_allowlist"],
        json!(["shop.example.com", "pay.example.org"])
    );
    let r = desk
        .post(
            "/dashboard/settings/redirects",
            &[("allowlist", "ok.example.com\n\nbad host!")],
            true,
        )
        .await;
    assert!(r.status.is_client_error());
    assert!(
        says(
            &r.page,
            "Line 3: Each entry must be a host name such as shop.example.com"
        ),
        "{}",
        r.page
    );
    assert!(invalid(&r.page, "allowlist"));
    assert!(r.page.contains("bad host!</textarea>"));

    // One set for both modes: live shows and changes the same settings; a form shown in
    // test is refused after a switch to live (another tab), and the other way round.
    desk.mode = Some("live");
    let live = desk.get("/dashboard/settings").await;
    assert!(live.page.contains("value=\"Acme Shop\""));
    let test_token = paylink_server::dashboard::form_token(&desk.csrf(), false);
    let r = desk
        .post(
            "/dashboard/settings/branding",
            &[("business_name", "Sneaky"), ("csrf", &test_token)],
            false,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = desk
        .post(
            "/dashboard/settings/branding",
            &[("business_name", "Acme Live")],
            true,
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(settings(&app).await["business_name"], "Acme Live");
}

async fn settings_are_read_only_below_admin_and_forged_writes_are_refused(app: TestApp) {
    app.patch(
        "/v1/settings",
        json!({"business_name": "Acme", "redirect_allowlist": ["shop.example.com"],
               "amount_bounds": {"EUR": {"minimum": 50, "maximum": 100000}}}),
    )
    .await
    .ok(200);
    for (role, email) in [
        (Role::Viewer, "viewer@acme.example"),
        (Role::Developer, "dev@acme.example"),
        (Role::Support, "support@acme.example"),
    ] {
        let desk = Desk::signed_in(&app, role, email).await;
        let page = desk.get("/dashboard/settings").await;
        assert_eq!(page.status, 200, "{role:?}");
        assert!(!page
            .page
            .contains("<form method=\"post\" action=\"/dashboard/settings"));
        assert!(page.page.contains("<dd>Acme</dd>"));
        assert!(page.page.contains("shop.example.com"));
        assert!(page
            .page
            .contains("<td>EUR</td><td>0.50</td><td>1000.00</td>"));
        // A forged form with a good token: the API's refusal, nothing changed.
        let api = app.get("/v1/settings").await;
        assert_eq!(api.status, 200);
        for (path, fields) in [
            (
                "/dashboard/settings/branding",
                vec![("business_name", "Hijacked")],
            ),
            (
                "/dashboard/settings/redirects",
                vec![("allowlist", "evil.example")],
            ),
            (
                "/dashboard/settings/bounds",
                vec![("currency", "EUR"), ("minimum", "1"), ("maximum", "2")],
            ),
            ("/dashboard/settings/bounds/EUR/remove", vec![]),
        ] {
            let r = desk.post(path, &fields, true).await;
            assert_eq!(r.status, 403, "{role:?} {path}: {}", r.page);
            assert!(r.page.contains("id=\"error\""));
        }
    }
    let s = settings(&app).await;
    assert_eq!(s["business_name"], "Acme");
    assert_eq!(s["redirect_allowlist"], json!(["shop.example.com"]));
    assert_eq!(s["amount_bounds"]["EUR"]["minimum"], 50);
}

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
    desk.post("/dashboard/developers/webhooks", &form, true)
        .await;
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
    // Redelivered from the endpoint's page: back there, saying so, and it arrives again.
    let r = desk
        .post(
            &format!("/dashboard/developers/events/{event}/redeliver"),
            &[("endpoint", hook.as_str())],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    assert_eq!(r.location, format!("{page}?queued=1&event={event}"));
    assert!(desk
        .get(&r.location)
        .await
        .page
        .contains("Queued again for one endpoint."));
    let got = wait_for(&rx, 2).await;
    assert_eq!(got[1].id, event);
    wait_page(&desk, &page, "2 of 2").await;
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

async fn wait_for(rx: &Receiver, n: usize) -> Vec<crate::webhooks::Received> {
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

async fn the_second_factor_is_enrolled_and_turned_off_on_the_account_page(app: TestApp) {
    let desk = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let page = desk.get("/dashboard/account").await.page;
    assert!(page.contains("id=\"totp-start\""));
    assert_eq!(
        desk.post("/dashboard/account/totp", &[], false)
            .await
            .status,
        403
    );
    let started = desk.post("/dashboard/account/totp", &[], true).await;
    assert_eq!(started.status, 200, "{}", started.page);
    assert!(started.page.contains("<svg role=\"img\""));
    assert!(!started.page.contains("<?xml"));
    let secret = field(&started.page, "secret");
    let otpauth = field(&started.page, "otpauth_url");
    let enrollment = field(&started.page, "enrollment");
    assert!(started
        .page
        .contains(&format!("id=\"totp-secret\">{secret}</p>")));
    assert!(otpauth.starts_with("otpauth://totp/Paylink%3Aviewer%40acme.example?secret="));
    let confirm = |code: String, password: &'static str| {
        let (secret, otpauth, enrollment) = (secret.clone(), otpauth.clone(), enrollment.clone());
        let desk = &desk;
        async move {
            desk.post(
                "/dashboard/account/totp/confirm",
                &[
                    ("secret", secret.as_str()),
                    ("otpauth_url", otpauth.as_str()),
                    ("enrollment", enrollment.as_str()),
                    ("code", code.as_str()),
                    ("password", password),
                ],
                true,
            )
            .await
        }
    };
    // A wrong code, then a wrong password: the API's words, the field marked, the same
    // enrolment shown again.
    let r = confirm("000000".into(), PW).await;
    assert_eq!(r.status, 422);
    assert!(says(&r.page, "That code is not right"), "{}", r.page);
    assert!(invalid(&r.page, "totp_code") && !invalid(&r.page, "totp_password"));
    assert_eq!(field(&r.page, "enrollment"), enrollment);
    assert!(r.page.contains("<svg role=\"img\""));
    let r = confirm(crate::totp::code_of(&secret), "not the password at all").await;
    assert_eq!(r.status, 422);
    assert!(says(&r.page, "The password is not right"));
    assert!(invalid(&r.page, "totp_password"));
    // A forged secret or URL sent back is not drawn.
    let r = desk
        .post(
            "/dashboard/account/totp/confirm",
            &[
                ("secret", "<script>"),
                ("otpauth_url", "javascript:alert(1)"),
                ("enrollment", enrollment.as_str()),
                ("code", "000000"),
                ("password", PW),
            ],
            true,
        )
        .await;
    assert!(!r.page.contains("<script>") && !r.page.contains("javascript:"));
    assert!(!r.page.contains("id=\"totp-confirm-form\""));
    // Right: on, and the ten recovery codes shown this once.
    let r = confirm(crate::totp::code_of(&secret), PW).await;
    assert_eq!(r.status, 200, "{}", r.page);
    let codes = r.page.split("id=\"recovery-codes\">").nth(1).unwrap();
    let codes = codes.split("</ul>").next().unwrap();
    assert_eq!(codes.matches("<li>").count(), 10);
    assert!(r.page.contains("<dd id=\"totp\">on</dd>"));
    let me =
        crate::accounts::as_person(&app, &desk.token, reqwest::Method::GET, "/v1/me", None, &[])
            .await;
    assert_eq!(me.body["totp_enabled"], true);
    let page = desk.get("/dashboard/account").await.page;
    assert!(!page.contains("recovery-codes") && page.contains("id=\"totp-disable\""));
    // Sent again (a reload): already on.
    let r = confirm(crate::totp::code_of(&secret), PW).await;
    assert_eq!(r.status, 409);
    assert!(!r.page.contains("id=\"totp-confirm-form\""));
    // Off needs the password.
    let r = desk
        .post(
            "/dashboard/account/totp/disable",
            &[("password", "wrong password here")],
            true,
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(invalid(&r.page, "disable_password"));
    assert_eq!(
        desk.post(
            "/dashboard/account/totp/disable",
            &[("password", PW)],
            false
        )
        .await
        .status,
        403
    );
    let r = desk
        .post("/dashboard/account/totp/disable", &[("password", PW)], true)
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, "/dashboard/account?totp=off");
    assert!(desk
        .get(&r.location)
        .await
        .page
        .contains("<dd id=\"totp\">off</dd>"));
    let me =
        crate::accounts::as_person(&app, &desk.token, reqwest::Method::GET, "/v1/me", None, &[])
            .await;
    assert_eq!(me.body["totp_enabled"], false);
}

/// Asserts the page is no wider than the window (nothing but a table's own scroll box
/// scrolls sideways), naming what sticks out if it is.
async fn fits(c: &fantoccini::Client, name: &str) {
    let out = c
        .execute(
            "const w = document.documentElement.clientWidth;
             const wide = [...document.querySelectorAll('body *')]
               .filter(e => e.getBoundingClientRect().right > w + 1 && !(e.parentElement && e.parentElement.closest('.scroll')) && getComputedStyle(e).position !== 'fixed')
               .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
             return [document.documentElement.scrollWidth, w, wide.slice(0, 8).join(' | ')];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, width) = (out[0].as_i64().unwrap(), out[1].as_i64().unwrap());
    assert!(scroll <= width, "{name}: {scroll} > {width}: {}", out[2]);
}

/// Every page of this area in Chromium at 1280 and 390 px, through axe-core, with a
/// screenshot each: settings (and a refusal), an endpoint's deliveries, the events log and
/// an event, and the account page enrolling a second factor and showing its codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_developers_and_totp_pages_pass_axe_at_both_widths() {
    use crate::browser::{browser, click, fill, text, wait_text};
    use crate::look::{axe_source, look};
    let app = TestApp::spawn_for_webhooks(paylink_store_sql::testing::Backend::Sqlite).await;
    let axe = axe_source();
    member(&app, None, Role::Owner, "owner@acme.example").await;
    app.patch(
        "/v1/settings",
        json!({"business_name": "Acme Coffee Roasters", "brand_color": "#7a3e0b",
               "support_email": "help@acme.example", "redirect_allowlist": ["shop.acme.example"],
               "amount_bounds": {"USD": {"minimum": 100, "maximum": 500000}}}),
    )
    .await
    .ok(200);
    let rx = Receiver::start().await;
    let hook = app
        .create(
            "/v1/webhook_endpoints",
            json!({"url": rx.url, "enabled_events": ["*"], "description": "Shop backend"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.start_worker(|_| {});
    let link = app.custom_link("Summer tee", 2500).await;
    app.buy(link["slug"].as_str().unwrap()).await;
    wait_for(&rx, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let event = app.get("/v1/events?type=payment.succeeded").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (width, device) in [(1280, "desktop"), (390, "phone")] {
        let Some(b) = browser(width).await else {
            return;
        };
        let c = &b.client;
        let axe = axe.as_deref();
        c.goto(&format!("{}/dashboard/settings", app.base))
            .await
            .unwrap();
        fill(c, "#email", "owner@acme.example").await;
        fill(c, "#password", PW).await;
        click(c, "#submit").await;
        for _ in 0..200 {
            if c.current_url().await.unwrap().path() == "/dashboard/settings" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(c.current_url().await.unwrap().path(), "/dashboard/settings");
        look(c, axe, "dashboard-settings", device).await;
        fits(c, "settings").await;
        // The preview follows the name as it is typed.
        fill(c, "#business_name", "Acme Tea").await;
        wait_text(c, "#preview-name", "Acme Tea").await;
        // A refusal: at the top, the field marked.
        fill(c, "#brand_color", "brown").await;
        click(c, "#save-branding").await;
        wait_text(c, "#error", "`brand_color` must look like #1a2b3c").await;
        look(c, axe, "dashboard-settings-error", device).await;
        for (path, name) in [
            (
                format!("/dashboard/developers/webhooks/{hook}"),
                "dashboard-webhook",
            ),
            (
                "/dashboard/developers/events".to_owned(),
                "dashboard-events",
            ),
            (
                format!("/dashboard/developers/events/{event}"),
                "dashboard-event",
            ),
            (
                "/dashboard/developers".to_owned(),
                "dashboard-developers-hooks",
            ),
        ] {
            c.goto(&format!("{}{path}", app.base)).await.unwrap();
            look(c, axe, name, device).await;
            fits(c, name).await;
        }
        // The second factor: the QR code and secret, then the codes, then off again (so the
        // next width signs in with the password alone).
        c.goto(&format!("{}/dashboard/account", app.base))
            .await
            .unwrap();
        click(c, "#totp-start").await;
        let secret = text(c, "#totp-secret").await;
        look(c, axe, "dashboard-account-totp", device).await;
        fits(c, "account-totp").await;
        fill(c, "#totp_code", &crate::totp::code_of(&secret)).await;
        fill(c, "#totp_password", PW).await;
        click(c, "#totp-confirm").await;
        text(c, "#recovery-codes").await;
        look(c, axe, "dashboard-account-codes", device).await;
        c.goto(&format!("{}/dashboard/account", app.base))
            .await
            .unwrap();
        fill(c, "#disable_password", PW).await;
        click(c, "#totp-disable").await;
        text(c, "#notice").await;
    }
}
