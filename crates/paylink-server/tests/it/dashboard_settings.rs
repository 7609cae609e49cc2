//! The dashboard's settings page, webhook deliveries and events log, and the second factor
//! on the account page (issue 22), over HTTP on both backends; and those pages in Chromium
//! with axe-core at both widths.

use serde_json::{json, Value};

use paylink_domain::access::Role;

use crate::accounts::PW;
use crate::both;
use crate::dashboard::Desk;
use crate::helpers::TestApp;

mod hooks;
mod walk;

both!(
    settings_forms_save_through_the_api_and_show_its_refusals,
    settings_are_read_only_below_admin_and_forged_writes_are_refused,
    the_second_factor_is_enrolled_and_turned_off_on_the_account_page,
);

/// The opening tag of the element whose id is `id`.
pub(crate) fn tag<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let start = page[..at].rfind('<').unwrap();
    let end = at + page[at..].find('>').unwrap();
    &page[start..=end]
}

pub(crate) fn invalid(page: &str, id: &str) -> bool {
    let t = tag(page, id);
    t.contains("aria-invalid=\"true\"") && t.contains("aria-describedby=\"error\"")
}

/// Text as the page writes it (askama escapes these).
pub(crate) fn unescape(s: &str) -> String {
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
pub(crate) fn says(page: &str, message: &str) -> bool {
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
        .contains(":root{--preview-brand:#0b7a3e;--preview-ink:#ffffff}"));
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
