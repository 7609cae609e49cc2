//! The dashboard (issue 22) over HTTP on both backends: the sign-in guard, forms that go
//! through the API (its rules, messages and permissions), CSRF, the mode switch and
//! another merchant's ids; and in Chromium, every page at desktop and phone width with
//! axe-core (`dashboard-*` screenshots).

use reqwest::header::{COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::json;

use paylink_domain::access::Role;

use crate::accounts::{member, token_of};
use crate::both;
use crate::helpers::{no_redirects, TestApp};

/// A browser of the dashboard: a signed-in person's cookie, and the mode cookie if set.
pub(crate) struct Desk<'a> {
    app: &'a TestApp,
    pub(crate) token: String,
    pub(crate) mode: Option<&'static str>,
    client: reqwest::Client,
}

/// An answer: its status, `Location` and page.
pub(crate) struct Seen {
    pub(crate) status: StatusCode,
    pub(crate) location: String,
    pub(crate) page: String,
}

impl<'a> Desk<'a> {
    pub(crate) async fn signed_in(app: &'a TestApp, role: Role, email: &str) -> Self {
        member(app, None, role, email).await;
        Self {
            app,
            token: token_of(app, email).await,
            mode: None,
            client: no_redirects(),
        }
    }

    pub(crate) fn csrf(&self) -> String {
        paylink_server::accounts::tokens::csrf(&self.token)
    }

    fn cookies(&self) -> String {
        let mut c = format!("paylink_session={}", self.token);
        if let Some(m) = self.mode {
            c.push_str(&format!("; paylink_mode={m}"));
        }
        c
    }

    async fn seen(res: reqwest::Response) -> Seen {
        Seen {
            status: res.status(),
            location: res
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            page: res.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Seen {
        let res = self
            .client
            .get(format!("{}{path}", self.app.base))
            .header(COOKIE, self.cookies())
            .send()
            .await
            .unwrap();
        Self::seen(res).await
    }

    /// A form sent with this session's token (unless `csrf` is false): the dashboard's
    /// forms carry the CSRF token bound to the mode they were shown in, `/logout` the plain
    /// one.
    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)], csrf: bool) -> Seen {
        let live = self.mode == Some("live");
        let token = if path.starts_with("/dashboard") {
            paylink_server::dashboard::form_token(&self.csrf(), live)
        } else {
            self.csrf()
        };
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if csrf {
            form.push(("csrf", &token));
        }
        let res = self
            .client
            .post(format!("{}{path}", self.app.base))
            .header(COOKIE, self.cookies())
            .form(&form)
            .send()
            .await
            .unwrap();
        Self::seen(res).await
    }
}

both!(
    signed_out_visits_go_to_the_sign_in,
    a_member_creates_a_link_and_refunds_part_of_a_payment,
    roles_decide_what_is_offered_and_the_api_what_is_allowed,
    test_and_live_never_mix_and_other_merchants_ids_are_not_found,
    the_home_page_charts_what_payments_took,
    products_customers_and_orders_are_listed,
);

async fn products_customers_and_orders_are_listed(app: TestApp) {
    let mug = app.product("Blue mug", 1800).await;
    app.create(
        "/v1/customers",
        json!({"email": "ana@example.com", "name": "Ana"}),
    )
    .await;
    let link = app
        .create(
            "/v1/payment_links",
            json!({"title": "Mugs", "line_items": [{"product_id": mug["id"], "quantity": 2}]}),
        )
        .await;
    let (_, paid) = app.buy(link["slug"].as_str().unwrap()).await;
    let payment = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rival = app.other_merchant("Rival").await;
    app.call(
        Some(&rival),
        reqwest::Method::POST,
        "/v1/products",
        Some(json!({"name": "Rival mug", "unit_amount": 100})),
        None,
    )
    .await
    .ok(201);
    let desk = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let products = desk.get("/dashboard/products").await;
    assert_eq!(products.status, 200);
    assert!(products.page.contains("Blue mug") && products.page.contains("$18.00"));
    assert!(!products.page.contains("Rival mug"));
    let customers = desk.get("/dashboard/customers").await;
    assert!(customers.page.contains("ana@example.com"));
    let orders = desk.get("/dashboard/orders").await;
    assert!(orders.page.contains("$36.00"), "{}", orders.page);
    assert!(orders
        .page
        .contains(&format!("/dashboard/payments/{payment}")));
    // Pages of 25, by cursor.
    for i in 0..26 {
        app.create(
            "/v1/customers",
            json!({"email": format!("c{i}@example.com")}),
        )
        .await;
    }
    let first = desk.get("/dashboard/customers").await;
    let next = first.page.split("id=\"next\"").next().unwrap();
    let href = next
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let second = desk.get(&href.replace("&amp;", "&")).await;
    assert_eq!(second.status, 200);
    assert!(
        second.page.contains("ana@example.com"),
        "the oldest is on page two"
    );
}

async fn the_home_page_charts_what_payments_took(app: TestApp) {
    let tee = app.custom_link("Tee", 2500).await;
    let mug = app.custom_link("Mug", 1200).await;
    let mut paid = Vec::new();
    for l in [&tee, &tee, &mug] {
        let (_, p) = app.buy(l["slug"].as_str().unwrap()).await;
        paid.push(p.unwrap().body["payment_id"].as_str().unwrap().to_owned());
    }
    app.post(
        &format!("/v1/payments/{}/refunds", paid[0]),
        json!({"amount": 500}),
    )
    .await
    .ok(201);
    // The report: every day of the window, today's takings in it, the top link first.
    let r = app.get("/v1/reports/payments?days=7").await;
    let r = r.ok(200).clone();
    assert_eq!(r["days"], 7);
    let usd = &r["currencies"][0];
    assert_eq!(usd["currency"], "USD");
    assert_eq!(
        (usd["count"].as_i64(), usd["amount"].as_i64()),
        (Some(3), Some(6200))
    );
    assert_eq!(usd["amount_refunded"], 500);
    let daily = usd["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 7);
    assert_eq!(daily[6]["amount"], 6200);
    assert_eq!(
        daily[..6]
            .iter()
            .map(|d| d["amount"].as_i64().unwrap())
            .sum::<i64>(),
        0
    );
    assert_eq!(r["top_links"][0]["title"], "Tee");
    assert_eq!(r["top_links"][0]["amount"], 5000);
    assert_eq!(r["top_links"][1]["title"], "Mug");
    for bad in ["0", "367", "-1", "x"] {
        let s = app
            .get(&format!("/v1/reports/payments?days={bad}"))
            .await
            .status;
        assert!(s == 400 || s == 422, "days={bad}: {s}");
    }
    // Another merchant's report holds none of it; a key without `payments:read` none at all.
    let rival = app.other_merchant("Rival").await;
    let theirs = app
        .call(
            Some(&rival),
            reqwest::Method::GET,
            "/v1/reports/payments",
            None,
            None,
        )
        .await;
    assert_eq!(theirs.ok(200)["currencies"], json!([]));
    let links_only = app
        .create(
            "/v1/api_keys",
            json!({"name": "links", "kind": "restricted", "scopes": ["payment_links:read"]}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call(
        Some(&links_only),
        reqwest::Method::GET,
        "/v1/reports/payments",
        None,
        None,
    )
    .await
    .assert_error(403, "insufficient_permissions");
    // The home page: the total, a chart of bars with their tooltips, the top links.
    let desk = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let home = desk.get("/dashboard?days=7").await;
    assert_eq!(home.status, 200);
    assert!(home.page.contains("Takings, last 7 days"));
    assert!(home.page.contains("$62.00"), "{}", home.page);
    assert!(home.page.contains("<svg class=\"chart\" role=\"img\""));
    assert!(home.page.contains("$62.00 (3 payments)</title>"));
    assert!(home.page.contains("id=\"top-links\""));
    // Any other period is 30 days; a NUL is refused at the edge, as everywhere.
    assert!(desk
        .get("/dashboard?days=12")
        .await
        .page
        .contains("last 30 days"));
    assert_eq!(desk.get("/dashboard?days=%00").await.status, 400);
}

async fn signed_out_visits_go_to_the_sign_in(app: TestApp) {
    let client = no_redirects();
    for path in [
        "/dashboard",
        "/dashboard/links?q=tee&status=active",
        "/dashboard/payments",
    ] {
        let res = client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}");
        let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
        let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(to, format!("/login?next={next}"));
    }
    // A stale or made-up session is no session.
    let res = client
        .get(format!("{}/dashboard", app.base))
        .header(COOKIE, format!("paylink_session={}", "a".repeat(44)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // A form posted without a session changes nothing and goes to the sign-in.
    let res = client
        .post(format!("{}/dashboard/links/new", app.base))
        .form(&[("title", "Sneaky"), ("amount", "1.00"), ("currency", "USD")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let links = app.get("/v1/payment_links").await;
    assert_eq!(links.ok(200)["data"].as_array().unwrap().len(), 0);
}

async fn a_member_creates_a_link_and_refunds_part_of_a_payment(app: TestApp) {
    let desk = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let home = desk.get("/dashboard").await;
    assert_eq!(home.status, 200);
    assert!(home.page.contains("Welcome back"), "{}", home.page);
    assert!(home.page.contains("Test mode"));
    // Without the CSRF token nothing is made.
    let form = [
        ("title", "Team tee"),
        ("amount", "25.00"),
        ("currency", "USD"),
        ("description", "Our own tee"),
        ("nonce", "form-1"),
    ];
    let r = desk.post("/dashboard/links/new", &form, false).await;
    assert_eq!(r.status, 403);
    // An amount that is not one, and a title the API refuses, with the API's own words.
    let r = desk
        .post(
            "/dashboard/links/new",
            &[("title", "Tee"), ("amount", "12.345"), ("currency", "USD")],
            true,
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.page.contains("at most 2 decimals"), "{}", r.page);
    let api = app
        .post("/v1/payment_links", json!({"title": "T", "amount": 100}))
        .await;
    let r = desk
        .post(
            "/dashboard/links/new",
            &[("title", "T"), ("amount", "1.00"), ("currency", "USD")],
            true,
        )
        .await;
    assert_eq!(r.status, api.status);
    let message = api.body["error"]["message"].as_str().unwrap();
    let escaped = message.replace('`', "&#96;");
    assert!(
        r.page.contains(message) || r.page.contains(&escaped),
        "the API's message {message:?} in {}",
        r.page
    );
    // Made, then sent again (a double click): one link.
    let made = desk.post("/dashboard/links/new", &form, true).await;
    assert_eq!(made.status, 303, "{}", made.page);
    assert!(made.location.starts_with("/dashboard/links/plink_"));
    let again = desk.post("/dashboard/links/new", &form, true).await;
    assert_eq!(again.location, made.location);
    let id = made.location.rsplit('/').next().unwrap().to_owned();
    let link = app.get(&format!("/v1/payment_links/{id}")).await;
    let link = link.ok(200).clone();
    assert_eq!(link["line_items"][0]["unit_amount"], 2500);
    assert_eq!(link["created_by"]["type"], "user");
    assert_eq!(
        app.get("/v1/payment_links").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let detail = desk.get(&made.location).await;
    assert_eq!(detail.status, 200);
    assert!(detail.page.contains(link["url"].as_str().unwrap()));
    assert!(detail.page.contains("$25.00"));
    let qr = desk.get(&format!("{}/qr.svg", made.location)).await;
    assert_eq!(qr.status, 200);
    assert!(qr.page.starts_with("<svg") || qr.page.contains("<svg"));

    // A customer pays; the payment is listed and refunded in part.
    let (_, paid) = app.buy(link["slug"].as_str().unwrap()).await;
    let payment = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = desk.get("/dashboard/payments").await;
    assert!(list.page.contains(&payment), "{}", list.page);
    let path = format!("/dashboard/payments/{payment}");
    // A typo first, with the nonce of the form as shown: refused; the corrected form (a
    // new nonce on the answer) goes through.
    let shown = desk.get(&path).await;
    let nonce = shown.page.split("name=\"nonce\" value=\"").nth(1).unwrap();
    let nonce = nonce.split('"').next().unwrap().to_owned();
    let r = desk
        .post(
            &format!("{path}/refund"),
            &[("amount", "30.00"), ("nonce", &nonce)],
            true,
        )
        .await;
    assert_eq!(r.status, 422, "more than was paid: {}", r.page);
    assert!(r.page.contains("id=\"error\""));
    let fresh = r.page.split("name=\"nonce\" value=\"").nth(1).unwrap();
    assert!(!fresh.starts_with(&nonce), "a new nonce after a refusal");
    let r = desk
        .post(
            &format!("{path}/refund"),
            &[
                ("amount", "10.00"),
                ("reason", "requested_by_customer"),
                ("nonce", "refund-1"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    assert_eq!(r.location, path);
    // The same form again (a reload) refunds once.
    desk.post(
        &format!("{path}/refund"),
        &[
            ("amount", "10.00"),
            ("reason", "requested_by_customer"),
            ("nonce", "refund-1"),
        ],
        true,
    )
    .await;
    let p = app.get(&format!("/v1/payments/{payment}")).await;
    assert_eq!(p.ok(200)["amount_refunded"], 1000);
    assert_eq!(p.body["status"], "partially_refunded");
    let shown = desk.get(&path).await;
    assert!(shown.page.contains("partially_refunded"));
    assert!(shown.page.contains("$10.00"));
    // Deactivated from its page; the API agrees.
    let r = desk
        .post(&format!("{}/deactivate", made.location), &[], true)
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.get(&format!("/v1/payment_links/{id}")).await.body["status"],
        "inactive"
    );
    // The audit log says who did it.
    let log = app.get("/v1/audit_log?limit=100").await;
    let actions: Vec<String> = log.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["type"] == "user")
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for a in [
        "payment_links.create",
        "payments.refunds",
        "payment_links.deactivate",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

async fn roles_decide_what_is_offered_and_the_api_what_is_allowed(app: TestApp) {
    let link = app.custom_link("Viewer's view", 1500).await;
    let id = link["id"].as_str().unwrap();
    let (_, paid) = app.buy(link["slug"].as_str().unwrap()).await;
    let payment = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let viewer = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    // Sees, but is offered nothing to change…
    let links = viewer.get("/dashboard/links").await;
    assert_eq!(links.status, 200);
    assert!(links.page.contains("Viewer&#39;s view") || links.page.contains("Viewer's view"));
    assert!(!links.page.contains("New payment link"));
    let detail = viewer.get(&format!("/dashboard/links/{id}")).await;
    assert!(!detail.page.contains("Deactivate"));
    let p = viewer.get(&format!("/dashboard/payments/{payment}")).await;
    assert_eq!(p.status, 200);
    assert!(!p.page.contains("refund-form"));
    assert_eq!(viewer.get("/dashboard/links/new").await.status, 403);
    // …and a form sent anyway is refused by the API, changing nothing.
    let r = viewer
        .post(
            "/dashboard/links/new",
            &[
                ("title", "Not mine"),
                ("amount", "1.00"),
                ("currency", "USD"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = viewer
        .post(
            &format!("/dashboard/payments/{payment}/refund"),
            &[("amount", "1.00")],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = viewer
        .post(&format!("/dashboard/links/{id}/deactivate"), &[], true)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        app.get(&format!("/v1/payment_links/{id}")).await.body["status"],
        "active"
    );
    assert_eq!(
        app.get("/v1/payment_links").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Support refunds.
    let support = Desk::signed_in(&app, Role::Support, "support@acme.example").await;
    let r = support
        .post(
            &format!("/dashboard/payments/{payment}/refund"),
            &[("amount", "15.00")],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    assert_eq!(
        app.get(&format!("/v1/payments/{payment}")).await.body["status"],
        "refunded"
    );
    // An unknown action is no action.
    let r = support
        .post(&format!("/dashboard/links/{id}/explode"), &[], true)
        .await;
    assert_eq!(r.status, 404);
    // Signing out ends the session: the dashboard asks for a sign-in again.
    let out = support.post("/logout", &[], true).await;
    assert_eq!(out.status, 303);
    assert_eq!(support.get("/dashboard").await.status, 303);
}

async fn test_and_live_never_mix_and_other_merchants_ids_are_not_found(app: TestApp) {
    let link = app.custom_link("Test only", 1000).await;
    let id = link["id"].as_str().unwrap().to_owned();
    let mut desk = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let r = desk
        .post(
            "/dashboard/mode",
            &[("mode", "live"), ("back", "/dashboard/links")],
            true,
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, "/dashboard/links");
    // Somewhere else than the dashboard is not where the switch goes back to.
    let r = desk
        .post(
            "/dashboard/mode",
            &[("mode", "live"), ("back", "https://evil.example/")],
            true,
        )
        .await;
    assert_eq!(r.location, "/dashboard");
    desk.mode = Some("live");
    let live = desk.get("/dashboard/links").await;
    assert!(!live.page.contains("Test only"), "{}", live.page);
    assert!(!live.page.contains("mode-banner"));
    assert_eq!(
        desk.get(&format!("/dashboard/links/{id}")).await.status,
        404
    );
    // A form shown in test mode and sent after a switch to live (another tab) is refused:
    // its token is bound to the mode it was shown in.
    let test_form = paylink_server::dashboard::form_token(&desk.csrf(), false);
    let res = no_redirects()
        .post(format!("{}/dashboard/links/{id}/deactivate", app.base))
        .header(COOKIE, desk.cookies())
        .form(&[("csrf", test_form.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    desk.mode = Some("test");
    let test = desk.get("/dashboard/links").await;
    assert!(test.page.contains("Test only"));
    assert_eq!(
        app.get(&format!("/v1/payment_links/{id}")).await.body["status"],
        "active"
    );
    // Ids that are not ids never reach an API path (a `/`, `?` or `#` would name another
    // route).
    for path in [
        format!("/dashboard/links/{id}%2Fsend%23/activate"),
        format!("/dashboard/links/{id}%2Fpayments%3Flimit%3D100%23/qr.svg"),
        "/dashboard/payments/a%20b".to_owned(),
        "/dashboard/links/..%2F..%2Fapi_keys".to_owned(),
    ] {
        let r = if path.ends_with("/activate") {
            desk.post(&path, &[], true).await
        } else {
            desk.get(&path).await
        };
        assert_eq!(r.status, 404, "{path}");
    }
    // Another merchant's link is not found, in either mode.
    let rival_key = app.other_merchant("Rival").await;
    let theirs = app
        .call(
            Some(&rival_key),
            reqwest::Method::POST,
            "/v1/payment_links",
            Some(json!({"title": "Rival tee", "amount": 100})),
            None,
        )
        .await;
    let theirs = theirs.ok(201)["id"].as_str().unwrap().to_owned();
    assert_eq!(
        desk.get(&format!("/dashboard/links/{theirs}")).await.status,
        404
    );
    let r = desk
        .post(&format!("/dashboard/links/{theirs}/delete"), &[], true)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        desk.get(&format!("/dashboard/links/{theirs}/qr.svg"))
            .await
            .status,
        404
    );
    // Junk in ids and filters is the API's 4xx or an empty list, never a 500.
    for path in [
        "/dashboard/links/%00",
        "/dashboard/links?q=%00%01&status=nope&type=%FF",
        "/dashboard/links?starting_after=zzz",
        "/dashboard/payments?status=x&payment_link_id=%27",
        "/dashboard/payments/pay_%2e%2e",
    ] {
        let s = desk.get(path).await.status.as_u16();
        assert!(s < 500, "{path}: {s}");
    }
}
