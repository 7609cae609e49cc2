//! What customers see: every kind of hosted page at desktop (1280 px) and phone (390 px)
//! width, screenshotted into `target/screenshots/` (look at them before resolving a page
//! change) and checked by axe-core: no violation of any impact.
//!
//! axe-core comes from npm (`scripts/test` installs it under `target/axe/`, or point
//! `PAYLINK_AXE_JS` at `axe.min.js`); without it the checks skip, except under `CI=true`.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::browser::{app, browser, click, fill, pay_with, text, value, wait_text};

pub(crate) fn axe_source() -> Option<String> {
    let path = std::env::var("PAYLINK_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/axe/node_modules/axe-core/axe.min.js")
        });
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(_) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "axe-core is required under CI=true ({})",
                path.display()
            );
            eprintln!("skipping axe checks: {} missing", path.display());
            None
        }
    }
}

/// An element's `(x, y, width, height)` on the page.
async fn rect(c: &Client, css: &str) -> (f64, f64, f64, f64) {
    let r = c
        .execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();
             return [r.x, r.y, r.width, r.height];",
            vec![json!(css)],
        )
        .await
        .unwrap();
    let n = |i: usize| r[i].as_f64().unwrap();
    (n(0), n(1), n(2), n(3))
}

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots the page as `{name}-{device}.png` and runs axe-core on it (WebDriver's
/// scripts are not bound by the page's CSP): every violation fails the test.
pub(crate) async fn look(c: &Client, axe: Option<&str>, name: &str, device: &str) {
    tokio::time::sleep(Duration::from_millis(150)).await;
    let png = c.screenshot().await.unwrap();
    std::fs::write(shots_dir().join(format!("{name}-{device}.png")), png).unwrap();
    let Some(axe) = axe else { return };
    c.execute(&format!("{axe}\n;return true;"), vec![])
        .await
        .unwrap();
    let violations = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
                .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,
                    help: v.help, nodes: v.nodes.map(n => n.html)}))))
                .catch(e => done([{id: 'axe-error', help: String(e)}]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        violations,
        Value::Array(vec![]),
        "axe on {name} ({device}): {violations:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_customer_page_passes_axe_on_desktop_and_phone() {
    let app = app().await;
    let axe = axe_source();
    app.patch(
        "/v1/settings",
        json!({"business_name": "Acme Pottery", "brand_color": "#0b6e4f", "support_email": "help@acme.test"}),
    )
    .await
    .ok(200);
    let product = app.product("Stoneware mug", 1800).await;
    let cart = app
        .create(
            "/v1/payment_links",
            json!({"title": "Spring collection", "description": "Hand-thrown in our studio. **Ships in 3 days.**",
                   "line_items": [{"product_id": product["id"], "quantity": 2, "adjustable_quantity": {"enabled": true, "minimum": 1, "maximum": 10}}],
                   "collect": {"shipping_address": true},
                   "custom_fields": [{"key": "gift_note", "label": "Gift note", "type": "text", "optional": true}]}),
        )
        .await;
    let donation = app
        .create(
            "/v1/payment_links",
            json!({"title": "Support the studio", "donation": {"minimum": 500, "maximum": 100000, "preset_amounts": [1000, 2500, 5000], "default_amount": 2500}}),
        )
        .await;
    let subscription = app
        .create(
            "/v1/payment_links",
            json!({"title": "Clay club", "amount": 1900, "subscription": {"interval": "month"}}),
        )
        .await;
    let wallet = app
        .create(
            "/v1/payment_links",
            json!({"title": "Studio tote bag", "amount": 2400, "payment_method_types": ["card", "wallet"]}),
        )
        .await;
    let ended = app.custom_link("Last year's workshop", 4500).await;
    app.post(
        &format!(
            "/v1/payment_links/{}/deactivate",
            ended["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await
    .ok(200);
    let url = |l: &Value| l["url"].as_str().unwrap().to_owned();
    for (width, device) in [(1280, "desktop"), (390, "phone")] {
        let Some(b) = browser(width).await else {
            return;
        };
        let c = &b.client;
        let axe = axe.as_deref();
        c.goto(&url(&cart)).await.unwrap();
        look(c, axe, "link", device).await;
        // Amount first; on desktop the order beside the details, on a phone above them.
        let (summary, pay) = (rect(c, ".summary").await, rect(c, ".pay-column").await);
        if width == 1280 {
            assert!(pay.0 > summary.0 + summary.2 - 1.0, "{summary:?} {pay:?}");
        } else {
            assert!(pay.1 > summary.1 + summary.3 - 1.0, "{summary:?} {pay:?}");
        }
        assert_eq!(text(c, "#headline-total").await, "$36.00");
        assert_eq!(text(c, "#line-total-0").await, "$36.00");
        c.goto(&url(&donation)).await.unwrap();
        look(c, axe, "donation", device).await;
        c.goto(&url(&subscription)).await.unwrap();
        look(c, axe, "subscription", device).await;
        assert_eq!(
            text(c, "#subscription-terms").await,
            "$19.00 due today, then $19.00 every month. Cancel any time."
        );
        assert_eq!(text(c, ".line-price").await, "$19.00 / month");
        // Everything wrong at once: each said at its field, the first one focused.
        c.goto(&url(&cart)).await.unwrap();
        fill(c, "#email", "not-an-address").await;
        pay_with(c, "4242 4242 4242 4241").await;
        wait_text(c, "#error", "Check the 4 fields marked below.").await;
        let focused = c
            .execute("return document.activeElement.id", vec![])
            .await
            .unwrap();
        assert_eq!(focused, "email");
        look(c, axe, "errors", device).await;
        // The typed card is grouped with its brand, the expiry slashed.
        fill(c, "#card_number", "4000000000003220").await;
        assert_eq!(value(c, "#card_number").await, "4000 0000 0000 3220");
        assert_eq!(text(c, "#card-brand").await, "Visa");
        fill(c, "#email", "ada@example.com").await;
        fill(c, "#shipping_line1", "1 Kiln Lane").await;
        fill(c, "#shipping_city", "Stoke").await;
        c.find(Locator::Css("#shipping_country option[value='GB']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        fill(c, "#card_exp", "1234").await;
        assert_eq!(value(c, "#card_exp").await, "12/34");
        fill(c, "#cf_gift_note", "For Grace").await;
        fill(c, "#card_cvc", "123").await;
        click(c, "#pay").await;
        wait_text(c, "h1", "Confirm your payment").await;
        look(c, axe, "three-d-secure", device).await;
        // The merchant's colour on every page, not only the link's.
        assert!(c.source().await.unwrap().contains("--brand:#0b6e4f"));
        click(c, "#approve").await;
        assert_eq!(text(c, "#status").await, "Paid");
        assert_eq!(text(c, "#receipt-title").await, "Spring collection");
        assert!(text(c, "#receipt-shipping")
            .await
            .contains("United Kingdom"));
        assert!(text(c, "#receipt-answers").await.contains("For Grace"));
        // The date in the customer's own zone and language, not the server's UTC.
        let date = text(c, ".facts time").await;
        assert!(!date.is_empty() && !date.contains("UTC"), "{date}");
        assert!(c.source().await.unwrap().contains("--brand:#0b6e4f"));
        look(c, axe, "receipt", device).await;
        c.goto(&url(&wallet)).await.unwrap();
        fill(c, "#email", "tote@example.com").await;
        click(c, "#pay-wallet").await;
        wait_text(c, "#confirm-wallet", "Confirm and pay $24.00").await;
        look(c, axe, "wallet-confirmation", device).await;
        // The page of a checkout opened through the API (its checkout_url).
        let session = app
            .start_checkout(
                wallet["slug"].as_str().unwrap(),
                json!({"email": "api@example.com"}),
            )
            .await
            .ok(201)
            .clone();
        c.goto(session["checkout_url"].as_str().unwrap())
            .await
            .unwrap();
        look(c, axe, "session", device).await;
        c.goto(&url(&ended)).await.unwrap();
        look(c, axe, "gone", device).await;
        assert_eq!(text(c, "#contact").await, "Contact Acme Pottery");
        c.goto(&format!("{}/l/no-such-link", app.base))
            .await
            .unwrap();
        look(c, axe, "not-found", device).await;
    }
}
