//! The hosted pages as a customer uses them: headless Chromium driven through chromedriver.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/test installs them). Without
//! them the tests skip with a message, except under `CI=true`, where they fail.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::helpers::TestApp;
use paylink_store_sql::testing::Backend;

pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    /// Chromium's profile, removed with the browser (each run left one behind in /tmp).
    profile: std::path::PathBuf,
}

impl Drop for Browser {
    /// Ends chromedriver and every Chromium process it started: they share its process
    /// group. (Killing chromedriver alone left hundreds of Chromium processes behind.)
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

pub(crate) async fn browser(width: u32) -> Option<Browser> {
    browser_in(width, "en-US").await
}

/// A browser whose language (`Accept-Language`, `navigator.language`) is `lang`.
pub(crate) async fn browser_in(width: u32, lang: &str) -> Option<Browser> {
    let missing = Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_err()
        || !std::path::Path::new("/usr/bin/chromium").exists();
    if missing {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium and chromium-driver are required under CI=true"
        );
        eprintln!("skipping: chromium/chromedriver not installed");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let profile = std::env::temp_dir().join(format!(
        "paylink-chrome-{}",
        paylink_domain::id::random_base62()
    ));
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        format!("--user-data-dir={}", profile.display()),
        format!("--window-size={width},1000"),
        format!("--lang={lang}"),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": args,
               "prefs": {"intl": {"accept_languages": lang}}}),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..50 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                // A page that never finishes loading fails its test instead of hanging it.
                let limits = fantoccini::wd::TimeoutConfiguration::new(
                    Some(Duration::from_secs(20)),
                    Some(Duration::from_secs(30)),
                    Some(Duration::ZERO),
                );
                client.update_timeouts(limits).await.unwrap();
                return Some(Browser {
                    client,
                    driver,
                    profile,
                });
            }
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("chromedriver did not start: {last:?}");
}

pub(crate) async fn fill(c: &Client, css: &str, text: &str) {
    let e = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

pub(crate) async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The text of `css`, waiting for it to appear. A page still loading after a click can
/// abort the lookup ("aborted by navigation"): that is retried, not a failure.
pub(crate) async fn text(c: &Client, css: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await,
            Err(e) => Err(e),
        };
        match found {
            Ok(text) => return text,
            Err(e) if std::time::Instant::now() >= deadline => panic!("{css}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until `css` shows `expected`: after a click the old page may still be showing.
pub(crate) async fn wait_text(c: &Client, css: &str, expected: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if now == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} shows {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An input's current value.
pub(crate) async fn value(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

pub(crate) async fn pay_with(c: &Client, card: &str) {
    fill(c, "#card_number", card).await;
    fill(c, "#card_exp", "12/34").await;
    fill(c, "#card_cvc", "123").await;
    click(c, "#pay").await;
}

pub(crate) async fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_changes_quantity_pays_and_sees_the_receipt() {
    let app = app().await;
    let Some(b) = browser(360).await else { return };
    let c = &b.client;
    app.patch(
        "/v1/settings",
        json!({"brand_color": "#0b7a3e", "support_email": "help@acme.test"}),
    )
    .await
    .ok(200);
    let prod = app
        .create(
            "/v1/products",
            json!({"name": "Notebook", "unit_amount": 1200, "inventory": {"available": 20}}),
        )
        .await;
    let link = app
        .create(
            "/v1/payment_links",
            json!({"title": "Notebooks", "line_items": [{"product_id": prod["id"], "adjustable_quantity": {"enabled": true, "minimum": 1, "maximum": 5}}],
                   "custom_fields": [{"key": "gift_note", "label": "Gift note", "type": "text", "optional": true}],
                   "confirmation_message": "Thanks! Your notebooks ship tomorrow."}),
        )
        .await;
    c.goto(link["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(text(c, "h1").await, "Notebooks");
    assert_eq!(text(c, "#total").await, "$12.00");
    fill(c, "#q0", "3").await;
    // The totals follow at once ("Update total" is for pages without JavaScript).
    wait_text(c, "#total", "$36.00").await;
    assert_eq!(text(c, "#line-total-0").await, "$36.00");
    assert_eq!(text(c, "#headline-total").await, "$36.00");
    fill(c, "#email", "reader@example.com").await;
    fill(c, "#name", "Rea Der").await;
    fill(c, "#cf_gift_note", "Happy birthday").await;
    pay_with(c, "4242 4242 4242 4242").await;
    assert_eq!(
        text(c, "#confirmation").await,
        "Thanks! Your notebooks ship tomorrow."
    );
    assert_eq!(text(c, "#receipt-number").await, "R-000001");
    assert_eq!(text(c, "#receipt-total").await, "$36.00");
    assert!(text(c, "#paid-with").await.contains("Visa •••• 4242"));
    let url = c.current_url().await.unwrap();
    assert!(
        url.path().starts_with("/r/pay_") && url.query().is_some_and(|q| q.starts_with("t=")),
        "{url}"
    );
    // The payment landed with what the customer chose.
    let payments = app.get("/v1/payments").await;
    let p = &payments.body["data"][0];
    assert_eq!(
        (
            p["amount"].as_i64(),
            p["line_items"][0]["quantity"].as_i64()
        ),
        (Some(3600), Some(3))
    );
    assert_eq!(p["custom_fields"][0]["value"], "Happy birthday");
    std::fs::write(
        std::env::temp_dir().join("paylink-receipt-360.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_shows_the_error_and_can_retry() {
    let app = app().await;
    let Some(b) = browser(1280).await else { return };
    let c = &b.client;
    let link = app
        .create(
            "/v1/payment_links",
            json!({"title": "Concert ticket", "amount": 4500, "payments_limit": 1}),
        )
        .await;
    c.goto(link["url"].as_str().unwrap()).await.unwrap();
    fill(c, "#email", "fan@example.com").await;
    pay_with(c, "4000000000000002").await;
    assert_eq!(
        text(c, "#card_number-error").await,
        "Your card was declined. Try another card."
    );
    assert!(text(c, "#error").await.contains("nothing was charged"));
    // Said at the card, which has the focus; the e-mail is as typed, the card number gone.
    let focused = c
        .execute("return document.activeElement.id", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "card_number");
    assert_eq!(value(c, "#email").await, "fan@example.com");
    // The only seat stays held for this customer, who retries with another card.
    fill(c, "#email", "fan@example.com").await;
    pay_with(c, "4242424242424242").await;
    assert_eq!(text(c, "#status").await, "Paid");
    let l = app
        .get(&format!(
            "/v1/payment_links/{}",
            link["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (l.body["status"].as_str(), l.body["payments_count"].as_i64()),
        (Some("paid"), Some(1))
    );
    assert_eq!(
        app.get("/v1/payments?status=failed").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_d_secure_challenge_is_approved() {
    let app = app().await;
    let Some(b) = browser(390).await else { return };
    let c = &b.client;
    let link = app
        .create(
            "/v1/payment_links",
            json!({"title": "Secure purchase", "amount": 9900}),
        )
        .await;
    c.goto(link["url"].as_str().unwrap()).await.unwrap();
    fill(c, "#email", "sec@example.com").await;
    pay_with(c, "4000 0000 0000 3220").await;
    wait_text(c, "h1", "Confirm your payment").await;
    click(c, "#approve").await;
    assert_eq!(text(c, "#status").await, "Paid");
    assert_eq!(text(c, "#receipt-total").await, "$99.00");
}

/// A failed 3-D Secure check comes back to this checkout with the reason at the payment
/// fields, and the customer pays with another card without typing anything else again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_three_d_secure_check_says_why_and_can_be_retried() {
    let app = app().await;
    let Some(b) = browser(390).await else { return };
    let c = &b.client;
    let link = app
        .create(
            "/v1/payment_links",
            json!({"title": "Secure purchase", "amount": 9900}),
        )
        .await;
    c.goto(link["url"].as_str().unwrap()).await.unwrap();
    fill(c, "#email", "sec@example.com").await;
    pay_with(c, "4000 0000 0000 3220").await;
    wait_text(c, "h1", "Confirm your payment").await;
    click(c, "#fail").await;
    wait_text(
        c,
        "fieldset #error",
        "The card's authentication failed. Try again, or use another card.",
    )
    .await;
    std::fs::write(
        std::env::temp_dir().join("paylink-3ds-failed-390.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    // Text in the URL is never shown: only known codes become words.
    let mut url = c.current_url().await.unwrap();
    let s = url
        .query_pairs()
        .find(|(k, _)| k == "s")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    url.set_query(Some(&format!("s={s}&error=Call+0800+FRAUD")));
    c.goto(url.as_str()).await.unwrap();
    assert_eq!(
        text(c, "#error").await,
        "Your card was declined. Try again, or use another card."
    );
    pay_with(c, "4242 4242 4242 4242").await;
    assert_eq!(text(c, "#status").await, "Paid");
    let p = app.get("/v1/payments?status=succeeded").await;
    assert_eq!(p.body["data"][0]["customer"]["email"], "sec@example.com");
}

/// The total and the Pay button follow a donation's preset and typed amount, and a taxed
/// cart's quantities, at once; what is charged is what they said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pay_button_names_what_is_charged() {
    let app = app().await;
    let Some(b) = browser(1280).await else { return };
    let c = &b.client;
    let give = app
        .create(
            "/v1/payment_links",
            json!({"title": "Give", "donation": {"minimum": 500, "maximum": 100000, "preset_amounts": [2500, 5000], "default_amount": 2500}}),
        )
        .await;
    c.goto(give["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(text(c, "#pay").await, "Pay $25.00");
    click(c, "input[name=preset][value='5000']").await;
    assert_eq!(text(c, "#total").await, "$50.00");
    assert_eq!(text(c, "#pay").await, "Pay $50.00");
    fill(c, "#amount", "12.34").await;
    assert_eq!(text(c, "#pay").await, "Pay $12.34");
    fill(c, "#email", "giver@example.com").await;
    pay_with(c, "4242 4242 4242 4242").await;
    assert_eq!(text(c, "#receipt-total").await, "$12.34");

    // Quantities with tax added on top, rounded half up per line as the server does.
    let rate = app
        .create(
            "/v1/tax_rates",
            json!({"display_name": "Sales tax", "percentage": "8.875"}),
        )
        .await;
    let p = app
        .create(
            "/v1/products",
            json!({"name": "Candle", "unit_amount": 1299, "tax_rate_id": rate["id"]}),
        )
        .await;
    let candles = app
        .create(
            "/v1/payment_links",
            json!({"title": "Candles", "line_items": [{"product_id": p["id"], "adjustable_quantity": {"enabled": true, "maximum": 50}}], "tax": {"collect": true}}),
        )
        .await;
    c.goto(candles["url"].as_str().unwrap()).await.unwrap();
    fill(c, "#q0", "7").await;
    // 7 × 12.99 = 90.93; tax 8.07001… → 8.07; total 99.00.
    assert_eq!(text(c, "#tax").await, "$8.07");
    assert_eq!(text(c, "#pay").await, "Pay $99.00");
    std::fs::write(
        std::env::temp_dir().join("paylink-live-total-1280.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    fill(c, "#email", "wax@example.com").await;
    pay_with(c, "4242 4242 4242 4242").await;
    assert_eq!(text(c, "#receipt-total").await, "$99.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_link_shows_its_message() {
    let app = app().await;
    let Some(b) = browser(360).await else { return };
    let c = &b.client;
    let link = app
        .create(
            "/v1/payment_links",
            json!({"title": "Early bird", "amount": 500, "expires_at": "2099-01-01T00:00:00Z", "inactive_message": "Early-bird tickets are gone."}),
        )
        .await;
    app.sql(&format!(
        "UPDATE payment_links SET expires_at = 1000 WHERE id = '{}'",
        link["id"].as_str().unwrap()
    ))
    .await;
    c.goto(link["url"].as_str().unwrap()).await.unwrap();
    wait_text(c, "h1", "This link has expired").await;
    assert_eq!(text(c, "#message").await, "Early-bird tickets are gone.");
    // Without JavaScript too, the server answers 410.
    let r = reqwest::get(link["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(r.status(), 410);
}

/// The buyer picks euros on a link sold in dollars and euros, pays, and the receipt is in
/// euros; on a phone and on a desktop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buyer_picks_the_currency() {
    for width in [390, 1280] {
        let app = app().await;
        let Some(b) = browser(width).await else {
            return;
        };
        let c = &b.client;
        let link = app
            .create(
                "/v1/payment_links",
                json!({"title": "Conference pass", "amount": 25000, "currency_options": {"EUR": {"amount": 23000}, "GBP": {"amount": 20000}}}),
            )
            .await;
        c.goto(link["url"].as_str().unwrap()).await.unwrap();
        assert_eq!(text(c, "#total").await, "$250.00");
        click(c, ".currencies a[href$='currency=EUR']").await;
        wait_text(c, "#total", "€230.00").await;
        std::fs::write(
            std::env::temp_dir().join(format!("paylink-currency-{width}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        fill(c, "#email", "visitor@example.com").await;
        pay_with(c, "4242 4242 4242 4242").await;
        assert_eq!(text(c, "#receipt-total").await, "€230.00");
        let p = app.get("/v1/payments").await;
        assert_eq!(p.body["data"][0]["currency"], "EUR");
    }
}

/// A second link of an order that was paid through the first tells the customer so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_s_other_link_says_so() {
    let app = app().await;
    let Some(b) = browser(390).await else { return };
    let c = &b.client;
    let o = app
        .create(
            "/v1/orders",
            json!({"line_items": [{"name": "Boiler service", "unit_amount": 12000}]}),
        )
        .await;
    let first = app
        .create(
            "/v1/payment_links",
            json!({"title": "Your invoice", "order_id": o["id"]}),
        )
        .await;
    let second = app
        .create(
            "/v1/payment_links",
            json!({"title": "Your invoice (resent)", "order_id": o["id"]}),
        )
        .await;
    c.goto(first["url"].as_str().unwrap()).await.unwrap();
    fill(c, "#email", "home@example.com").await;
    pay_with(c, "4242424242424242").await;
    assert_eq!(text(c, "#status").await, "Paid");
    c.goto(second["url"].as_str().unwrap()).await.unwrap();
    wait_text(c, "h1", "This order has already been paid").await;
    std::fs::write(
        std::env::temp_dir().join("paylink-order-paid-390.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
}

/// A German customer reads and types money the German way, and pays what the page said.
/// (WebDriver reads the no-break space before `€` as a space.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_german_customer_reads_and_types_euros_the_german_way() {
    let app = app().await;
    let Some(b) = browser_in(1280, "de-DE").await else {
        return;
    };
    let c = &b.client;
    let link = app
        .create(
            "/v1/payment_links",
            json!({"title": "Spende", "currency": "EUR", "donation": {"minimum": 500, "maximum": 500000, "preset_amounts": [2500, 100000], "default_amount": 2500}}),
        )
        .await;
    c.goto(link["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(text(c, "#total").await, "25,00 €");
    click(c, "input[name=preset][value='100000']").await;
    wait_text(c, "#pay", "Pay 1.000,00 €").await;
    fill(c, "#amount", "30,50").await;
    wait_text(c, "#total", "30,50 €").await;
    assert_eq!(text(c, "#headline-total").await, "30,50 €");
    fill(c, "#email", "spender@example.de").await;
    pay_with(c, "4242 4242 4242 4242").await;
    assert_eq!(text(c, "#receipt-total").await, "30,50 €");
    let paid = app.get("/v1/payments").await;
    assert_eq!(paid.body["data"][0]["amount"], 3050);
}
