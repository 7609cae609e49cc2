//! The account forms as a person uses them, in headless Chromium at desktop and phone
//! width: screenshots into `target/screenshots/` (`account-*`) and axe-core on each, and a
//! sign-in through `/login` that ends on `/dashboard` with the session cookie.

use fantoccini::Locator;
use serde_json::json;

use paylink_domain::access::Role;

use crate::accounts::{member, person, token_of, PW};
use crate::browser::{app, browser, click, fill, text, wait_text};
use crate::look::{axe_source, look};
use crate::team::mailed_token;

/// Waits until the browser is at `path` (after a click the old page may still be showing).
async fn wait_path(c: &fantoccini::Client, path: &str) {
    for _ in 0..200 {
        if c.current_url().await.unwrap().path() == path {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never reached {path}: {}", c.current_url().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_pages_pass_axe_and_the_form_signs_in() {
    let app = app().await;
    let axe = axe_source();
    member(&app, None, Role::Owner, "owner@acme.example").await;
    let owner = token_of(&app, "owner@acme.example").await;
    person(&app, &owner)
        .post(
            "/v1/team/invitations",
            json!({"email": "new@acme.example", "role": "developer"}),
        )
        .await
        .ok(201);
    let invite = mailed_token(&app, "invitation", "new@acme.example").await;
    app.call(
        None,
        reqwest::Method::POST,
        "/auth/forgot",
        Some(json!({"email": "owner@acme.example"})),
        None,
    )
    .await;
    let reset = mailed_token(&app, "password_reset", "owner@acme.example").await;
    for (width, device) in [(1280, "desktop"), (390, "phone")] {
        let Some(b) = browser(width).await else {
            return;
        };
        let c = &b.client;
        let axe = axe.as_deref();
        c.goto(&format!("{}/login", app.base)).await.unwrap();
        look(c, axe, "account-login", device).await;
        fill(c, "#email", "owner@acme.example").await;
        fill(c, "#password", "not my password").await;
        click(c, "#submit").await;
        wait_text(c, "#error", "Incorrect e-mail or password").await;
        look(c, axe, "account-login-error", device).await;
        // The e-mail stays filled in; the password does not.
        fill(c, "#password", PW).await;
        click(c, "#submit").await;
        wait_path(c, "/dashboard").await;
        let cookie = c.get_named_cookie("paylink_session").await.unwrap();
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.path(), Some("/"));
        c.goto(&format!("{}/forgot", app.base)).await.unwrap();
        look(c, axe, "account-forgot", device).await;
        fill(c, "#email", "owner@acme.example").await;
        click(c, "#submit").await;
        wait_text(c, "#heading", "Check your e-mail").await;
        assert!(text(c, "#intro").await.contains("on its way"));
        look(c, axe, "account-forgot-sent", device).await;
        c.goto(&format!("{}/reset/{reset}", app.base))
            .await
            .unwrap();
        look(c, axe, "account-reset", device).await;
        c.goto(&format!("{}/invite/{invite}", app.base))
            .await
            .unwrap();
        assert!(text(c, "#intro").await.contains("as developer"));
        look(c, axe, "account-invite", device).await;
        c.goto(&format!("{}/invite/{}", app.base, "x".repeat(44)))
            .await
            .unwrap();
        assert!(c.find(Locator::Css("#error")).await.is_ok());
        look(c, axe, "account-link-invalid", device).await;
    }
    // The invitation, accepted through its form, makes an account that signs in.
    let Some(b) = browser(1280).await else {
        return;
    };
    let c = &b.client;
    c.goto(&format!("{}/invite/{invite}", app.base))
        .await
        .unwrap();
    fill(c, "#name", "Nia").await;
    fill(c, "#password", "the newcomer's own passphrase").await;
    click(c, "#submit").await;
    wait_path(c, "/login").await;
    crate::accounts::login(&app, "new@acme.example", "the newcomer's own passphrase")
        .await
        .ok(200);
}
