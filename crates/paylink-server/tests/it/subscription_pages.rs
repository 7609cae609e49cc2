//! What the customer sees of a subscription: the self-service page (`/s/{token}`) and its
//! forms, the checkout and receipt of a trial, and the e-mails that carry the page's link
//! (sent, never kept in the outbox), on both backends; then the pages in Chromium.

use std::time::Duration;

use paylink_domain::time::Timestamp;
use paylink_store::SubscriptionStore;
use serde_json::{json, Value};

use crate::both;
use crate::email::{app_with_smtp, Sink};
use crate::helpers::{no_redirects, TestApp};
use crate::subscriptions::{advance, monthly, only_subscription, payments_of, subscribe};

/// The customer's self-service link of a subscription, as the e-mails write it.
pub async fn page_url(app: &TestApp, id: &str) -> String {
    let mut config = paylink_server::config::Config::for_database("sqlite://unused");
    config.master_key = Some(app.master_key.clone().into());
    config.public_url = Some(app.base.clone());
    let store: std::sync::Arc<dyn paylink_store::Store> = app.store.clone();
    let state =
        paylink_server::state::AppState::with(store, config, app.processor.clone()).unwrap();
    let id = paylink_domain::id::SubscriptionId::parse(id).unwrap();
    let r = app.store.get_subscription_public(&id).await.unwrap();
    paylink_server::subscriptions::mail::self_service_url(&state, &r.subscription)
}

/// The page's HTML (200, HTML, the strict policy).
async fn page(url: &str) -> String {
    let res = reqwest::get(url).await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let h = res.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    res.text().await.unwrap()
}

/// The form token of a rendered page.
fn form_of(html: &str) -> String {
    let at = html.find("name=\"f\" value=\"").unwrap() + "name=\"f\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// Posts a form of the page; the 303's `Location`.
async fn post(url: &str, fields: &[(&str, &str)]) -> String {
    let res = no_redirects().post(url).form(fields).send().await.unwrap();
    assert_eq!(res.status(), 303, "{:?}", res.text().await);
    res.headers()["location"].to_str().unwrap().to_owned()
}

async fn not_found(res: reqwest::Response) {
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = res.text().await.unwrap();
    assert!(body.contains("Subscription not found"), "{body}");
    assert!(!body.contains("\"error\""));
}

/// The subscription's test clock.
async fn clock(app: &TestApp, id: &str) -> Timestamp {
    let id = paylink_domain::id::SubscriptionId::parse(id).unwrap();
    let r = app.store.get_subscription_public(&id).await.unwrap();
    r.clock.unwrap_or_else(Timestamp::now)
}

both!(
    the_customer_changes_a_failing_card_and_the_retry_pays,
    cancel_at_period_end_and_undo_and_replays,
    forged_tokens_and_forms_from_elsewhere_are_refused,
    dunning_and_receipt_emails_carry_the_link_the_outbox_does_not,
    checkout_pages_say_what_is_due_today_and_what_recurs
);

async fn checkout_pages_say_what_is_due_today_and_what_recurs(app: TestApp) {
    let trial = monthly(&app, 1500, 14).await;
    let first = Timestamp::now().plus_seconds(14 * 86_400).to_rfc3339();
    let html = page(&format!("{}/l/{trial}", app.base)).await;
    assert!(
        html.contains(&format!(
            "<span id=\"due-today\">$0.00</span> due today, then <span id=\"recurring\">$15.00</span> every month from <time datetime=\"{}",
            &first[..10]
        )),
        "{html}"
    );
    assert!(html.contains(">Start free trial</button>"), "{html}");
    assert!(!html.contains("Pay $15.00") && !html.contains("$15.00</span> due today"));
    assert!(html.contains("data-trial=\"1\""));
    // The page of a session opened through the API says the same.
    let s = app
        .start_checkout(&trial, json!({"email": "ada@example.com"}))
        .await;
    let url = s.ok(201)["checkout_url"].as_str().unwrap().to_owned();
    let html = page(&url).await;
    assert!(
        html.contains("$0.00 due today, then $15.00 every month from"),
        "{html}"
    );
    assert!(html.contains(">Start free trial</button>") && !html.contains("Pay $15.00"));
    assert!(html.contains("<title>Start your free trial"));

    // Without a trial: due today, then the same every month.
    let plain = monthly(&app, 1500, 0).await;
    let html = page(&format!("{}/l/{plain}", app.base)).await;
    assert!(html.contains("<span id=\"due-today\">$15.00</span> due today, then <span id=\"recurring\">$15.00</span> every month. Cancel any time."));
    assert!(html.contains(">Pay $15.00</button>"));
    // A recurring donation: the amount chosen is what recurs.
    let d = app
        .create(
            "/v1/payment_links",
            json!({"title": "Monthly gift", "donation": {"minimum": 500, "maximum": 10000, "preset_amounts": [1000, 2500], "default_amount": 2500},
                   "subscription": {"interval": "month"}}),
        )
        .await;
    let slug = d["slug"].as_str().unwrap();
    let html = page(&format!("{}/l/{slug}?amount=1000", app.base)).await;
    assert!(
        html.contains("Choose an amount to give every month"),
        "{html}"
    );
    assert!(
        html.contains("<span id=\"recurring\">$10.00</span> every month"),
        "{html}"
    );
}

async fn the_customer_changes_a_failing_card_and_the_retry_pays(app: TestApp) {
    let slug = monthly(&app, 1500, 7).await;
    subscribe(&app, &slug, "4000000000000341").await;
    let sub = only_subscription(&app).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    let url = page_url(&app, &id).await;
    assert!(url.starts_with(&format!("{}/s/", app.base)), "{url}");
    let html = page(&url).await;
    assert!(html.contains("Monthly box"), "{html}");
    assert!(html.contains("$15.00") && html.contains("every month"));
    assert!(html.contains("Free trial"));
    assert!(
        html.contains("The trial ends and $15.00 is charged on"),
        "{html}"
    );
    assert!(html.contains("Visa •••• 0341, expires 12/99"), "{html}");
    assert!(html.contains("Trial started"));
    assert!(html.contains("id=\"cancel\""));

    // The trial ends; the card fails.
    let t = Timestamp::parse(sub["trial_end"].as_str().unwrap()).unwrap();
    let after = advance(&app, &id, &t.plus_seconds(3600).to_rfc3339()).await;
    assert_eq!(after["status"], "past_due");
    let html = page(&url).await;
    assert!(html.contains("Payment failed: we will try again"), "{html}");
    assert!(html.contains("Next try to charge $15.00"));
    assert!(html.contains(">Failed<"), "{html}");
    assert!(html.contains("Pay with another card"));

    // A card that cannot be saved: said, nothing changed.
    let f = form_of(&html);
    let to = post(
        &url,
        &[
            ("f", &f),
            ("action", "card"),
            ("card_number", "4000000000000002"),
            ("card_exp", "12/34"),
            ("card_cvc", "123"),
        ],
    )
    .await;
    assert!(to.contains("m=declined&d="), "{to}");
    let html = page(&format!("{}{to}", app.base)).await;
    assert!(
        html.contains("Your card was not changed; try another card."),
        "{html}"
    );
    assert!(html.contains("•••• 0341"));

    // A good card, sent twice (a double click): saved once, the retry made now.
    let f = form_of(&html);
    let good = [
        ("f", f.as_str()),
        ("action", "card"),
        ("card_number", "4242 4242 4242 4242"),
        ("card_exp", "11/33"),
        ("card_cvc", "123"),
    ];
    let to = post(&url, &good).await;
    assert!(to.ends_with("?m=card_updated_retry"), "{to}");
    assert_eq!(post(&url, &good).await, to);
    let html = page(&format!("{}{to}", app.base)).await;
    assert!(html.contains("will be tried again with it now"), "{html}");
    assert!(html.contains("Visa •••• 4242, expires 11/33"), "{html}");
    let api = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(api.ok(200)["payment_method"]["last4"], "4242");
    let charges = app.processor.charges_made();

    // The worker's next round (here the test clock) retries with the new card.
    let at = clock(&app, &id).await;
    let after = advance(&app, &id, &at.plus_seconds(60).to_rfc3339()).await;
    assert_eq!(after["status"], "active", "{after}");
    assert_eq!(app.processor.charges_made(), charges + 1);
    let pays = payments_of(&app, &id).await;
    assert_eq!(pays.last().unwrap(), &(1500, "succeeded".to_owned()));
    let html = page(&url).await;
    assert!(html.contains(">Active<"), "{html}");
    assert!(html.contains("Next charge of $15.00 on"));
    // Paid periods link to their receipts; a renewal's says when the next charge is.
    assert!(html.contains("(receipt)"));
    let at = html.find("href=\"http").unwrap() + "href=\"".len();
    let receipt = html[at..].split('"').next().unwrap().replace("&amp;", "&");
    assert!(receipt.contains("/r/pay_"), "{receipt}");
    let r = page(&receipt).await;
    assert!(r.contains(">Paid<") && r.contains("$15.00"), "{r}");
    assert!(r.contains("Next charge of $15.00 on <time"), "{r}");
}

async fn cancel_at_period_end_and_undo_and_replays(app: TestApp) {
    let slug = monthly(&app, 2000, 0).await;
    subscribe(&app, &slug, "4242424242424242").await;
    let id = only_subscription(&app).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = page_url(&app, &id).await;
    let html = page(&url).await;
    let cancel_form = form_of(&html);
    let to = post(&url, &[("f", &cancel_form), ("action", "cancel")]).await;
    assert!(to.ends_with("?m=canceling"), "{to}");
    let sub = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(sub.ok(200)["cancel_at_period_end"], true);
    assert_eq!(sub.body["status"], "active");
    let html = page(&format!("{}{to}", app.base)).await;
    assert!(html.contains("will end at the end of the current period"));
    assert!(html.contains("Ends on"));
    assert!(!html.contains("id=\"cancel\"") && html.contains("id=\"undo\""));

    // Undo; then the cancel form sent again (a replay) gets its first answer and does
    // nothing more.
    let to = post(&url, &[("f", &form_of(&html)), ("action", "undo")]).await;
    assert!(to.ends_with("?m=resumed"), "{to}");
    let replay = post(&url, &[("f", &cancel_form), ("action", "cancel")]).await;
    assert!(replay.ends_with("?m=canceling"), "{replay}");
    let sub = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(sub.ok(200)["cancel_at_period_end"], false);
    // The same form with another action is refused as stale.
    let other = post(&url, &[("f", &cancel_form), ("action", "undo")]).await;
    assert!(other.ends_with("?m=stale"), "{other}");
    let html = page(&url).await;
    assert!(html.contains("id=\"cancel\""));
    assert!(html.contains("Next charge of $20.00 on"));

    // Canceled for good (by the merchant): nothing to act on, no buttons.
    let before = form_of(&page(&url).await);
    app.post(&format!("/v1/subscriptions/{id}/cancel"), json!({}))
        .await
        .ok(200);
    let html = page(&url).await;
    assert!(html.contains(">Canceled<") && html.contains("Canceled on"));
    assert!(!html.contains("id=\"cancel\"") && !html.contains("id=\"undo\""));
    assert!(!html.contains("id=\"card-form\""));
    // A form of a page shown before is answered, but changes nothing.
    let late = post(&url, &[("f", &before), ("action", "undo")]).await;
    assert!(late.ends_with("?m=ended"), "{late}");
    let sub = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(sub.ok(200)["status"], "canceled");
}

async fn forged_tokens_and_forms_from_elsewhere_are_refused(app: TestApp) {
    let slug = monthly(&app, 1000, 3).await;
    subscribe(&app, &slug, "4242424242424242").await;
    subscribe(&app, &slug, "4242424242424242").await;
    let l = app.get("/v1/subscriptions").await;
    let ids: Vec<String> = l.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let url = page_url(&app, &ids[0]).await;
    let token = url.rsplit('/').next().unwrap().to_owned();
    let (_, sig) = token.rsplit_once('.').unwrap();
    let c = reqwest::Client::new();
    let get = |path: String| c.get(format!("{}{path}", app.base)).send();
    // Another subscription's id under this one's signature; no signature; junk; NUL.
    not_found(get(format!("/s/{}.{sig}", ids[1])).await.unwrap()).await;
    not_found(get(format!("/s/{}", ids[0])).await.unwrap()).await;
    not_found(get("/s/x.y".into()).await.unwrap()).await;
    // NUL bytes and bytes that are not UTF-8 in a path are refused before any page, as
    // everywhere on the server.
    for path in [
        "/s/%00".to_owned(),
        format!("/s/{token}%00"),
        "/s/%FF%FE".into(),
    ] {
        assert_eq!(get(path).await.unwrap().status(), 400);
    }
    not_found(get(format!("/s/{}", "a".repeat(5000))).await.unwrap()).await;
    // Nor can such a token post.
    let res = c
        .post(format!("{}/s/{}.{sig}", app.base, ids[1]))
        .form(&[("action", "cancel")])
        .send()
        .await
        .unwrap();
    not_found(res).await;

    // A form from another site.
    let html = page(&url).await;
    let f = form_of(&html);
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let res = no_redirects()
            .post(&url)
            .header(name, value)
            .form(&[("f", f.as_str()), ("action", "cancel")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{name}");
        assert!(res.text().await.unwrap().contains("another site"));
    }
    // From the page itself (a no-referrer page sends `Origin: null`).
    let res = no_redirects()
        .post(&url)
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[("f", f.as_str()), ("action", "bogus")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // The other subscription's form token does not pass for this one.
    let other = page(&page_url(&app, &ids[1]).await).await;
    let to = post(&url, &[("f", &form_of(&other)), ("action", "cancel")]).await;
    assert!(to.ends_with("?m=stale"), "{to}");
    // Forged, NUL-laden, missing.
    for f in ["", "x", "sub_x:y:1.AAAA", &format!("{f}x")] {
        let to = post(&url, &[("f", f), ("action", "cancel")]).await;
        assert!(to.ends_with("?m=stale"), "{f:?} {to}");
    }
    let res = no_redirects()
        .post(&url)
        .form(&[
            ("f", f.as_str()),
            ("action", "card"),
            ("card_number", "4242\u{0}4242"),
            ("card_exp", "12/34\u{0}"),
            ("card_cvc", "1\u{0}3"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // A body that is not a form at all.
    let res = no_redirects()
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"action\":\"cancel\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let sub = app.get(&format!("/v1/subscriptions/{}", ids[0])).await;
    assert_eq!(sub.ok(200)["cancel_at_period_end"], false);
    // The message codes are words the server chose: text in the URL is never shown.
    let html = page(&format!("{url}?m=<script>alert(1)</script>&d=<b>x</b>")).await;
    assert!(!html.contains("<script>alert") && !html.contains("<b>x</b>"));
    let html = page(&format!("{url}?m=declined&d=<b>x</b>")).await;
    assert!(html.contains("Your card was declined. Your card was not changed"));
}

/// A message's bodies as sent, with quoted-printable undone.
fn decoded(raw: &str) -> String {
    let s = raw.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first self-service link in a message, on this server (the tests' worker, which
/// sends, is not told the server's address: its links say `http://127.0.0.1:0`).
fn link_in(text: &str, base: &str) -> Option<String> {
    let at = text.find("/s/sub_")?;
    let host = text[..at].rfind("http")?;
    assert!(text[host..at].starts_with("http://127.0.0.1:"), "{text}");
    Some(
        base.to_owned()
            + text[at..]
                .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
                .next()
                .unwrap(),
    )
}

async fn wait_sent(app: &TestApp, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let l = app.get("/v1/emails?limit=100").await;
        let data = l.ok(200)["data"].as_array().unwrap().clone();
        if data.iter().filter(|e| e["status"] == "sent").count() >= n {
            return data;
        }
        assert!(std::time::Instant::now() < deadline, "{data:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn dunning_and_receipt_emails_carry_the_link_the_outbox_does_not(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let sink = Sink::start(0).await;
    let app = app_with_smtp(backend, &sink).await;
    let slug = monthly(&app, 1500, 7).await;
    subscribe(&app, &slug, "4000000000000341").await;
    let sub = only_subscription(&app).await;
    let id = sub["id"].as_str().unwrap().to_owned();

    // The trial's receipt: what comes next, and the link (only in what was sent).
    let mails = sink.wait_for(1).await;
    let receipt = decoded(&mails[0].data);
    assert!(receipt.contains("Subject: Receipt R-"), "{receipt}");
    let trial_end = &sub["trial_end"].as_str().unwrap()[..10];
    assert!(
        receipt.contains(&format!(
            "Your free trial has started. Then $15.00 every month from {trial_end}."
        )),
        "{receipt}"
    );
    let link = link_in(&receipt, &app.base).unwrap_or_else(|| panic!("no link: {receipt}"));
    assert!(page(&link).await.contains("Monthly box"));
    let listed = wait_sent(&app, 1).await;
    let stored = listed.iter().find(|e| e["kind"] == "receipt").unwrap();
    let text = stored["text_body"].as_str().unwrap();
    assert!(text.contains("Then $15.00 every month from"), "{stored}");
    assert!(!stored.to_string().contains("/s/"), "{stored}");

    // The trial ends and the card fails: the dunning e-mail's link works.
    let t = Timestamp::parse(sub["trial_end"].as_str().unwrap()).unwrap();
    advance(&app, &id, &t.plus_seconds(3600).to_rfc3339()).await;
    // The trial's end was announced, then the failure.
    let mails = sink.wait_for(3).await;
    let dunning = mails
        .iter()
        .map(|m| decoded(&m.data))
        .find(|m| m.contains("Subject: Your payment to Acme failed"))
        .expect("the dunning e-mail");
    assert!(
        dunning.contains("We could not charge $15.00 to your Visa card ending 0341"),
        "{dunning}"
    );
    assert!(dunning.contains("We will try again on"), "{dunning}");
    let link = link_in(&dunning, &app.base).expect("the dunning e-mail's link");
    let html = page(&link).await;
    assert!(html.contains("Payment failed: we will try again"), "{html}");
    // Its HTML version is in the merchant's dress, with the button.
    assert!(dunning.contains("Pay with another card"));
    // The outbox keeps it sealed: no link, in the list or in the database.
    let listed = wait_sent(&app, 3).await;
    let everything = Value::Array(listed).to_string();
    assert!(!everything.contains("/s/"), "{everything}");
    let token = link.rsplit('/').next().unwrap();
    assert!(!everything.contains(token));
}

// ---- in Chromium ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_s_checkout_receipt_and_self_service_page_look_right() {
    use crate::browser::{browser, click, fill, pay_with, text, wait_text};
    use crate::look::{axe_source, look};
    let app = crate::browser::app().await;
    let axe = axe_source();
    app.patch(
        "/v1/settings",
        json!({"business_name": "Acme Pottery", "brand_color": "#0b6e4f", "support_email": "help@acme.test"}),
    )
    .await
    .ok(200);
    let link = app
        .create(
            "/v1/payment_links",
            json!({"title": "Clay club", "description": "A box of clay and glazes every month.",
                   "amount": 1500, "subscription": {"interval": "month", "trial_period_days": 14}}),
        )
        .await;
    for (width, device) in [(1280, "desktop"), (390, "phone")] {
        let Some(b) = browser(width).await else {
            return;
        };
        let c = &b.client;
        let axe = axe.as_deref();
        c.goto(link["url"].as_str().unwrap()).await.unwrap();
        look(c, axe, "subscription-trial-checkout", device).await;
        let terms = text(c, "#subscription-terms").await;
        assert!(
            terms.starts_with("$0.00 due today, then $15.00 every month from "),
            "{terms}"
        );
        assert!(!terms.contains("$15.00 due today"));
        assert_eq!(text(c, "#headline-total").await, "$0.00");
        assert_eq!(text(c, "#total").await, "$0.00");
        assert_eq!(text(c, "#pay").await, "Start free trial");
        // Typing (the script recomputes the totals) leaves what is due today alone.
        fill(c, "#email", "ada@example.com").await;
        assert_eq!(text(c, "#pay").await, "Start free trial");
        assert_eq!(text(c, "#total").await, "$0.00");
        pay_with(c, "4242 4242 4242 4242").await;
        wait_text(c, "#status", "Trial started").await;
        let next = text(c, "#receipt-next").await;
        assert!(
            next.starts_with("Your free trial has started. Then $15.00 every month from "),
            "{next}"
        );
        look(c, axe, "subscription-trial-receipt", device).await;

        let l = app.get("/v1/subscriptions?limit=1").await;
        let id = l.ok(200)["data"][0]["id"].as_str().unwrap().to_owned();
        let url = page_url(&app, &id).await;
        c.goto(&url).await.unwrap();
        assert_eq!(text(c, "#plan").await, "Clay club");
        assert_eq!(text(c, "#status").await, "Free trial");
        look(c, axe, "subscription-self-service", device).await;
        // The forms work in a real browser (its Origin and Sec-Fetch-Site pass).
        click(c, "#cancel").await;
        wait_text(
            c,
            "#notice",
            "Your subscription will end at the end of the current period. Nothing more will be charged. You can undo this until then.",
        )
        .await;
        look(c, axe, "subscription-self-service-canceling", device).await;
        click(c, "#undo").await;
        wait_text(
            c,
            "#notice",
            "Your subscription continues: it renews as before.",
        )
        .await;
        fill(c, "#card_number", "5555 5555 5555 4444").await;
        fill(c, "#card_exp", "10/31").await;
        fill(c, "#card_cvc", "123").await;
        click(c, "#save-card").await;
        wait_text(
            c,
            "#notice",
            "Your new card is saved: the next payments will be charged to it.",
        )
        .await;
        assert!(text(c, "#card").await.contains("4444"));
    }
}
