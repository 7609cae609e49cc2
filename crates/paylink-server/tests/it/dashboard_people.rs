//! The dashboard's pages for people and developers (issue 22), over HTTP on both backends:
//! the team, one's own account, API keys; and every page in Chromium with axe-core.

use serde_json::json;

use paylink_domain::access::Role;

use crate::accounts::{member, token_of, PW};
use crate::both;
use crate::dashboard::Desk;
use crate::helpers::TestApp;

both!(
    the_developers_page_shows_a_new_key_once_within_the_role,
    the_account_page_ends_sessions_and_changes_the_password,
    the_team_page_invites_changes_roles_and_keeps_the_last_owner,
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
        // Signed out: the sign-in, which comes back here.
        crate::dashboard_day::sign_in_at(
            c,
            &app.base,
            "/dashboard/links",
            "owner@acme.example",
            PW,
        )
        .await;
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
