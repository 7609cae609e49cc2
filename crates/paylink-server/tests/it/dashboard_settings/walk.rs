//! The pages of settings, webhooks, events and the second factor in Chromium at both
//! widths, through axe-core, with a screenshot each.

use std::time::Duration;

use serde_json::json;

use paylink_domain::access::Role;

use super::hooks::wait_for;
use crate::accounts::{member, PW};
use crate::helpers::TestApp;
use crate::webhooks::Receiver;

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

async fn scroll_to(c: &fantoccini::Client, id: &str) {
    c.execute(
        "document.getElementById(arguments[0]).scrollIntoView();",
        vec![json!(id)],
    )
    .await
    .unwrap();
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
        crate::dashboard_day::sign_in_at(
            c,
            &app.base,
            "/dashboard/settings",
            "owner@acme.example",
            PW,
        )
        .await;
        look(c, axe, "dashboard-settings", device).await;
        fits(c, "settings").await;
        // The screenshots show the window: the sections further down, too.
        for section in ["defaults-heading", "bounds-heading"] {
            scroll_to(c, section).await;
            look(c, None, &format!("dashboard-settings-{section}"), device).await;
        }
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
            if name == "dashboard-developers-hooks" {
                scroll_to(c, "hooks-heading").await;
                look(c, None, "dashboard-developers-hooks-form", device).await;
            }
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
