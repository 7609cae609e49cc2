//! The dashboard (issue 22) over HTTP on both backends: the sign-in guard, forms that go
//! through the API (its rules, messages and permissions), CSRF, the mode switch and
//! another merchant's ids; and in Chromium, every page at desktop and phone width with
//! axe-core (`dashboard-*` screenshots).

use reqwest::header::{COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::json;

use paylink_domain::access::Role;

use crate::accounts::{member, token_of, PW};
use crate::both;
use crate::helpers::{no_redirects, TestApp};

/// A browser of the dashboard: a signed-in person's cookie, and the mode cookie if set.
struct Desk<'a> {
    app: &'a TestApp,
    token: String,
    mode: Option<&'static str>,
    client: reqwest::Client,
}

/// An answer: its status, `Location` and page.
struct Seen {
    status: StatusCode,
    location: String,
    page: String,
}

impl<'a> Desk<'a> {
    async fn signed_in(app: &'a TestApp, role: Role, email: &str) -> Self {
        member(app, None, role, email).await;
        Self {
            app,
            token: token_of(app, email).await,
            mode: None,
            client: no_redirects(),
        }
    }

    fn csrf(&self) -> String {
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

    async fn get(&self, path: &str) -> Seen {
        let res = self
            .client
            .get(format!("{}{path}", self.app.base))
            .header(COOKIE, self.cookies())
            .send()
            .await
            .unwrap();
        Self::seen(res).await
    }

    /// A form sent with this session's CSRF token (unless `csrf` is false).
    async fn post(&self, path: &str, fields: &[(&str, &str)], csrf: bool) -> Seen {
        let token = self.csrf();
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
    the_team_page_invites_changes_roles_and_keeps_the_last_owner,
    the_account_page_ends_sessions_and_changes_the_password,
    the_developers_page_shows_a_new_key_once_within_the_role,
);

async fn the_developers_page_shows_a_new_key_once_within_the_role(app: TestApp) {
    let dev = Desk::signed_in(&app, Role::Developer, "dev@acme.example").await;
    // A secret key would make a developer more than a developer: the API's refusal.
    let r = dev
        .post(
            "/dashboard/developers/keys",
            &[("name", "ci"), ("kind", "secret")],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.page.contains("Only owners and admins"), "{}", r.page);
    let r = dev
        .post(
            "/dashboard/developers/keys",
            &[
                ("name", "links bot"),
                ("kind", "restricted"),
                ("scope", "payment_links:write"),
                ("scope", "payment_links:read"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.page);
    let key = r
        .page
        .split("id=\"new-key\" type=\"text\" readonly value=\"")
        .nth(1)
        .unwrap();
    let key = key.split('"').next().unwrap().to_owned();
    assert!(key.starts_with("rk_test_"), "{key}");
    // The key works, within its scopes; the page never shows it again.
    app.call(
        Some(&key),
        reqwest::Method::GET,
        "/v1/payment_links",
        None,
        None,
    )
    .await
    .ok(200);
    app.call(Some(&key), reqwest::Method::GET, "/v1/payments", None, None)
        .await
        .assert_error(403, "insufficient_permissions");
    let later = dev.get("/dashboard/developers").await;
    assert!(later.page.contains("links bot") && !later.page.contains(&key));
    // Revoked from the page.
    let listed = app.get("/v1/api_keys").await;
    let id = listed.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "links bot")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = dev
        .post(
            &format!("/dashboard/developers/keys/{id}/revoke"),
            &[],
            true,
        )
        .await;
    assert_eq!(r.status, 303);
    app.call(
        Some(&key),
        reqwest::Method::GET,
        "/v1/payment_links",
        None,
        None,
    )
    .await
    .assert_error(401, "api_key_invalid");
    // A viewer sees the keys, masked, and is offered no form.
    let viewer = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let page = viewer.get("/dashboard/developers").await;
    assert_eq!(page.status, 200);
    assert!(page.page.contains("links bot") && !page.page.contains("key-form"));
}

async fn the_account_page_ends_sessions_and_changes_the_password(app: TestApp) {
    let desk = Desk::signed_in(&app, Role::Developer, "dev@acme.example").await;
    let laptop = token_of(&app, "dev@acme.example").await;
    let phone = token_of(&app, "dev@acme.example").await;
    let page = desk.get("/dashboard/account").await;
    assert_eq!(page.status, 200);
    assert!(page.page.contains("(this one)"));
    // The laptop's session, ended from here.
    let sessions = crate::accounts::person(&app, &laptop)
        .get("/v1/me/sessions")
        .await;
    let laptop_id = sessions.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = desk
        .post(
            &format!("/dashboard/account/sessions/{laptop_id}/end"),
            &[],
            true,
        )
        .await;
    assert_eq!(r.status, 303);
    crate::accounts::person(&app, &laptop)
        .get("/v1/me")
        .await
        .assert_error(401, "session_invalid");
    // A wrong current password: the API's answer, nothing changed.
    let r = desk
        .post(
            "/dashboard/account/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", "a brand new passphrase here"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.page.contains("not right"), "{}", r.page);
    let r = desk
        .post(
            "/dashboard/account/password",
            &[
                ("current_password", PW),
                ("new_password", "a brand new passphrase here"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    // Every other session ended; this one goes on.
    crate::accounts::person(&app, &phone)
        .get("/v1/me")
        .await
        .assert_error(401, "session_invalid");
    let after = desk.get(&r.location).await;
    assert_eq!(after.status, 200);
    assert!(after.page.contains("every other session has ended"));
    crate::accounts::login(&app, "dev@acme.example", "a brand new passphrase here")
        .await
        .ok(200);
}

async fn the_team_page_invites_changes_roles_and_keeps_the_last_owner(app: TestApp) {
    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let dev_id = member(&app, None, Role::Developer, "dev@acme.example").await;
    let page = owner.get("/dashboard/team").await;
    assert_eq!(page.status, 200);
    assert!(page.page.contains("dev@acme.example") && page.page.contains("(you)"));
    // Invited through the form; refused with the API's words when already a member.
    let r = owner
        .post(
            "/dashboard/team/invitations",
            &[("email", "new@acme.example"), ("role", "support")],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let r = owner
        .post(
            "/dashboard/team/invitations",
            &[("email", "dev@acme.example"), ("role", "viewer")],
            true,
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(r.page.contains("already a member"), "{}", r.page);
    let invitations = app
        .call(
            Some(&app.live_key().await),
            reqwest::Method::GET,
            "/v1/team/invitations",
            None,
            None,
        )
        .await;
    let inv = invitations.ok(200)["data"][0].clone();
    assert_eq!(
        (inv["email"].as_str(), inv["role"].as_str()),
        (Some("new@acme.example"), Some("support"))
    );
    // A role changed, an invitation revoked.
    let r = owner
        .post(
            &format!("/dashboard/team/members/{dev_id}/role"),
            &[("role", "support")],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let inv_id = inv["id"].as_str().unwrap();
    let r = owner
        .post(
            &format!("/dashboard/team/invitations/{inv_id}/revoke"),
            &[],
            true,
        )
        .await;
    assert_eq!(r.status, 303);
    let shown = owner.get("/dashboard/team").await;
    assert!(!shown.page.contains("new@acme.example"));
    // The last owner stays, with the API's reason on the page.
    let me = token_user(&app, &owner.token).await;
    let r = owner
        .post(&format!("/dashboard/team/members/{me}/remove"), &[], true)
        .await;
    assert_eq!(r.status, 409);
    assert!(r.page.contains("last owner"), "{}", r.page);
    // A support member sees the team and is offered nothing; a form sent anyway is refused.
    let support = Desk::signed_in(&app, Role::Support, "support@acme.example").await;
    let page = support.get("/dashboard/team").await;
    assert!(!page.page.contains("invite-form") && !page.page.contains(">Remove<"));
    let r = support
        .post(
            &format!("/dashboard/team/members/{dev_id}/remove"),
            &[],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = support
        .post(
            "/dashboard/team/invitations",
            &[("email", "x@acme.example"), ("role", "viewer")],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    // Without the CSRF token, nothing happens.
    let r = owner
        .post(
            &format!("/dashboard/team/members/{dev_id}/remove"),
            &[],
            false,
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(owner
        .get("/dashboard/team")
        .await
        .page
        .contains("dev@acme.example"));
}

/// The user id behind a session token.
async fn token_user(app: &TestApp, token: &str) -> String {
    crate::accounts::person(app, token)
        .get("/v1/me")
        .await
        .ok(200)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

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
    let r = desk
        .post(&format!("{path}/refund"), &[("amount", "30.00")], true)
        .await;
    assert_eq!(r.status, 422, "more than was paid: {}", r.page);
    assert!(r.page.contains("id=\"error\""));
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
    desk.mode = Some("test");
    let test = desk.get("/dashboard/links").await;
    assert!(test.page.contains("Test only"));
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

/// Every dashboard page so far, in Chromium at desktop and phone width: screenshots
/// (`target/screenshots/dashboard-*`) and axe-core, signed in through the `/login` form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_pages_pass_axe_at_both_widths() {
    use crate::browser::{app, browser, click, fill};
    use crate::look::{axe_source, look};
    let app = app().await;
    let axe = axe_source();
    member(&app, None, Role::Owner, "owner@acme.example").await;
    let link = app
        .create(
            "/v1/payment_links",
            json!({"title": "Summer tee", "amount": 2500, "description": "Organic cotton, printed in Lisbon."}),
        )
        .await;
    let id = link["id"].as_str().unwrap().to_owned();
    app.custom_link("Gift card", 5000).await;
    let (_, paid) = app.buy(link["slug"].as_str().unwrap()).await;
    let payment = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (width, device) in [(1280, "desktop"), (390, "phone")] {
        let Some(b) = browser(width).await else {
            return;
        };
        let c = &b.client;
        let axe = axe.as_deref();
        c.goto(&format!("{}/dashboard/links", app.base))
            .await
            .unwrap();
        // Signed out: the sign-in, which comes back here.
        fill(c, "#email", "owner@acme.example").await;
        fill(c, "#password", PW).await;
        click(c, "#submit").await;
        for _ in 0..200 {
            if c.current_url().await.unwrap().path() == "/dashboard/links" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(c.current_url().await.unwrap().path(), "/dashboard/links");
        look(c, axe, "dashboard-links", device).await;
        for (path, name) in [
            ("/dashboard".to_owned(), "dashboard-home"),
            (format!("/dashboard/links/{id}"), "dashboard-link"),
            ("/dashboard/links/new".to_owned(), "dashboard-link-new"),
            ("/dashboard/payments".to_owned(), "dashboard-payments"),
            ("/dashboard/products".to_owned(), "dashboard-products"),
            ("/dashboard/customers".to_owned(), "dashboard-customers"),
            ("/dashboard/orders".to_owned(), "dashboard-orders"),
            ("/dashboard/team".to_owned(), "dashboard-team"),
            ("/dashboard/account".to_owned(), "dashboard-account"),
            ("/dashboard/developers".to_owned(), "dashboard-developers"),
            (
                format!("/dashboard/payments/{payment}"),
                "dashboard-payment",
            ),
        ] {
            c.goto(&format!("{}{path}", app.base)).await.unwrap();
            look(c, axe, name, device).await;
        }
        // A form the API refuses shows its message at the top, the fields kept.
        c.goto(&format!("{}/dashboard/links/new", app.base))
            .await
            .unwrap();
        fill(c, "#title", "Mug").await;
        fill(c, "#amount", "12.345").await;
        click(c, "#create").await;
        crate::browser::wait_text(
            c,
            "#error",
            "Enter the amount in USD with at most 2 decimals, such as 25.00",
        )
        .await;
        look(c, axe, "dashboard-link-new-error", device).await;
        // Live mode: one click, and a page without the test banner.
        click(c, "#mode-switch").await;
        for _ in 0..200 {
            if c.find(fantoccini::Locator::Css("#mode-banner"))
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        look(c, axe, "dashboard-live", device).await;
    }
}
