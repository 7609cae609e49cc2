//! The hosted pages over plain HTTP: headers, escaping, prefill, and the no-JavaScript flow.

use serde_json::json;

use crate::both;
use crate::helpers::{page_nonce as nonce, TestApp};

both!(
    pages_are_locked_down_and_escape_input,
    the_form_works_without_javascript_and_pays_once,
    receipts_need_their_token,
    a_double_submit_shows_the_first_outcome,
    the_customer_is_prefilled,
    a_storefront_offers_the_catalog_as_it_is,
    the_amount_charged_is_the_amount_shown,
    a_subscription_says_what_is_due_today_and_what_recurs,
    a_shared_link_previews_well
);

/// A link shared in a chat or a post previews with its title, description and image; the
/// checkouts and receipts are kept out of search engines.
async fn a_shared_link_previews_well(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Pottery class", "amount": 4500, "image_url": "https://cdn.example.com/pot.jpg",
                   "description": "**Two hours** at the wheel, clay included. [Details](https://example.com) <b>x</b>"}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let (_, _, html) = page(&app, &format!("/l/{slug}")).await;
    for tag in [
        "<meta property=\"og:title\" content=\"Pottery class\">".to_owned(),
        "<meta property=\"og:description\" content=\"Two hours at the wheel, clay included. Details x\">".to_owned(),
        "<meta property=\"og:image\" content=\"https://cdn.example.com/pot.jpg\">".to_owned(),
        format!("<meta property=\"og:url\" content=\"{}/l/{slug}\">", app.base),
        "<meta name=\"description\" content=\"Two hours".to_owned(),
    ] {
        assert!(html.contains(&tag), "{tag} not in {html}");
    }
    // Without a description, the price and the merchant.
    let l = app.custom_link("Plain ticket", 1200).await;
    let (_, _, html) = page(&app, &format!("/l/{}", l["slug"].as_str().unwrap())).await;
    assert!(html.contains("<meta property=\"og:description\" content=\"$12.00 · Acme\">"));
    assert!(html.contains("<link rel=\"icon\" href=\"/static/favicon.svg\""));
    let (status, h, icon) = page(&app, "/static/favicon.svg").await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "image/svg+xml");
    assert!(icon.starts_with("<svg"));
    let (status, h, robots) = page(&app, "/robots.txt").await;
    assert_eq!(status, 200);
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(robots.contains("Disallow: /c/") && robots.contains("Disallow: /r/"));
}

/// A subscription's page says what is charged today and what recurs: nothing today during
/// a free trial, then the price from the day it ends.
async fn a_subscription_says_what_is_due_today_and_what_recurs(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Coffee club", "amount": 1900, "subscription": {"interval": "month", "trial_period_days": 14}}),
        )
        .await;
    let (status, _, html) = page(&app, &format!("/l/{}", l["slug"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<span id=\"due-today\">$0.00</span> due today, then <span id=\"recurring\">$19.00</span> every month from <time"),
        "{html}"
    );
    assert!(html.contains(">Start free trial</button>") && !html.contains("Pay $19.00"));
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Quarterly box", "amount": 4500, "subscription": {"interval": "month", "interval_count": 3}}),
        )
        .await;
    let (_, _, html) = page(&app, &format!("/l/{}", l["slug"].as_str().unwrap())).await;
    assert!(html.contains("every 3 months."));
}

/// Without JavaScript a picked preset cannot change the button's amount: the server prices
/// the submit, and a total other than the one the page showed is shown again with its new
/// amount, nothing charged; confirmed, that amount is charged.
async fn the_amount_charged_is_the_amount_shown(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Give", "donation": {"minimum": 500, "maximum": 100000, "preset_amounts": [2500, 5000], "default_amount": 2500}}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let (_, _, html) = page(&app, &format!("/l/{slug}")).await;
    assert!(
        html.contains("Pay $25.00")
            && html.contains("name=\"shown_total\" id=\"shown_total\" value=\"2500\"")
    );
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let n = nonce(&html);
    let form = |shown: &str| {
        vec![
            ("nonce", n.clone()),
            ("preset", "5000".to_owned()),
            ("shown_total", shown.to_owned()),
            ("email", "giver@example.com".to_owned()),
            ("card_number", "4242424242424242".to_owned()),
            ("card_exp", "12/30".to_owned()),
            ("card_cvc", "123".to_owned()),
            ("action", "pay".to_owned()),
        ]
    };
    let url = format!("{}/l/{slug}", app.base);
    for stale in ["2500", "", "abc"] {
        let r = no_redirects
            .post(&url)
            .form(&form(stale))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body = r.text().await.unwrap();
        assert!(body.contains("Your total is now $50.00"), "{body}");
        assert!(body.contains("Pay $50.00") && body.contains("value=\"5000\""));
    }
    assert_eq!(
        app.get("/v1/payments").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let r = no_redirects
        .post(&url)
        .form(&form("5000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.get("/v1/payments").await.body["data"][0]["amount"],
        5000
    );
}

async fn page(app: &TestApp, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

async fn pages_are_locked_down_and_escape_input(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "<b>Bold</b> title", "amount": 1000, "cancel_url": "https://shop.example.com/cart?cs={CHECKOUT_SESSION_ID}",
                   "description": "**Great** deal <script>alert(1)</script> [click](javascript:alert(2)) [ok](https://example.com)",
                   "custom_fields": [{"key": "size", "label": "Size", "type": "dropdown", "options": [{"label": "Medium", "value": "m"}]}]}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let (status, h, html) = page(
        &app,
        &format!("/l/{slug}?prefilled_email=ada%40example.com&utm_source=newsletter"),
    )
    .await;
    assert_eq!(status, 200);
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    // No inline script anywhere, no third-party resource.
    assert!(
        !html.contains("<script>") && html.contains("<script src=\"/static/checkout.js\""),
        "inline script found"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http://"),
        "third-party resource"
    );
    // Merchant input is escaped; Markdown is rendered without raw HTML or script links.
    assert!(
        html.contains("&#60;b&#62;Bold&#60;/b&#62; title")
            || html.contains("&lt;b&gt;Bold&lt;/b&gt; title"),
        "title not escaped"
    );
    assert!(html.contains("<strong>Great</strong>"));
    assert!(
        !html.contains("<script>alert") && !html.contains("javascript:"),
        "unsafe description"
    );
    assert!(html.contains("href=\"https://example.com\""));
    // Prefill and attribution are carried into the form.
    assert!(html.contains("value=\"ada@example.com\""));
    assert!(html.contains("name=\"utm_source\" value=\"newsletter\""));
    assert!(html.contains("<option value=\"m\">Medium</option>"));
    assert!(
        html.contains("https://shop.example.com/cart?cs=cs_"),
        "cancel link missing"
    );
    let (status, _, html) = page(&app, "/l/nope-not-here").await;
    assert_eq!(status, 404);
    assert!(html.contains("Payment link not found"));
    let (_, h, css) = page(&app, "/static/paylink.css").await;
    assert!(h["content-type"].to_str().unwrap().starts_with("text/css") && css.contains("--brand"));
    // The brand colour is the page's only inline style, allowed by its hash.
    app.patch("/v1/settings", json!({"brand_color": "#ffcc00"}))
        .await
        .ok(200);
    let (_, h, html) = page(&app, &format!("/l/{slug}")).await;
    assert!(html.contains("<style>:root{--brand:#ffcc00;--brand-text:#16181d}</style>"));
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("style-src 'self' 'sha256-"));
}

async fn the_form_works_without_javascript_and_pays_once(app: TestApp) {
    let p = app
        .create(
            "/v1/products",
            json!({"name": "Poster", "unit_amount": 800, "inventory": {"available": 9}}),
        )
        .await;
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Posters", "line_items": [{"product_id": p["id"], "adjustable_quantity": {"enabled": true, "maximum": 9}}],
                   "collect": {"shipping_address": true}}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (_, _, html) = page(&app, &format!("/l/{slug}?quantity=2")).await;
    assert!(html.contains("name=\"q0\" id=\"q0\" value=\"2\""));
    let form = |n: &str, action: &str, card: &str| {
        vec![
            ("nonce", n.to_owned()),
            ("q0", "2".to_owned()),
            ("shown_total", "1600".to_owned()),
            ("email", "wall@example.com".to_owned()),
            ("shipping_line1", "1 Poster Lane".to_owned()),
            ("shipping_city", "Leeds".to_owned()),
            ("shipping_country", "gb".to_owned()),
            ("card_number", card.to_owned()),
            ("card_exp", "12/30".to_owned()),
            ("card_cvc", "123".to_owned()),
            ("action", action.to_owned()),
        ]
    };
    let url = format!("{}/l/{slug}", app.base);
    let n = nonce(&html);
    // "Update total" re-prices on the server.
    let r = no_redirects
        .post(&url)
        .form(&form(&n, "update", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("id=\"total\">$16.00"));
    // A missing address is reported on the page, and nothing is held.
    let mut incomplete = form(&n, "pay", "4242424242424242");
    incomplete.retain(|(k, _)| !k.starts_with("shipping"));
    let r = no_redirects
        .post(&url)
        .form(&incomplete)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Check the 2 fields marked below.")
            && body.contains("id=\"shipping_line1-error\">Enter the street address.")
            && body.contains("id=\"shipping_country-error\">Choose the country."),
        "{body}"
    );
    // Pay, then submit the same page again: one payment, one charge, same receipt.
    let first = no_redirects
        .post(&url)
        .form(&form(&n, "pay", "4242424242424242"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 303);
    let to = first.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.contains("/r/pay_"), "{to}");
    let again = no_redirects
        .post(&url)
        .form(&form(&n, "pay", "4242424242424242"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            again.status().as_u16(),
            again.headers()["location"].to_str().unwrap()
        ),
        (303, to.as_str())
    );
    assert_eq!(app.processor.charges_made(), 1);
    let payments = app.get("/v1/payments").await;
    let pay = &payments.body["data"][0];
    assert_eq!(payments.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            pay["amount"].as_i64(),
            pay["customer"]["shipping_address"]["country"].as_str()
        ),
        (Some(1600), Some("GB"))
    );
    let (status, _, receipt) = page(&app, to.trim_start_matches(&app.base)).await;
    assert_eq!(status, 200);
    assert!(receipt.contains("R-000001") && receipt.contains("$16.00"));
    // A declined card re-renders the page with the error; a retry on the same page pays.
    let (_, _, html) = page(&app, &format!("/l/{slug}")).await;
    let n2 = nonce(&html);
    let r = no_redirects
        .post(&url)
        .form(&form(&n2, "pay", "4000000000009995"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 402);
    let html = r.text().await.unwrap();
    assert!(html.contains("Your card has insufficient funds"));
    assert_eq!(nonce(&html), n2, "the retry must pay the same held session");
    let r = no_redirects
        .post(&url)
        .form(&form(&n2, "pay", "4242424242424242"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.get(&format!("/v1/products/{}", p["id"].as_str().unwrap()))
            .await
            .body["inventory"]["available"],
        5
    );
}

async fn receipts_need_their_token(app: TestApp) {
    let l = app.custom_link("Receipt", 700).await;
    let (_, paid) = app.buy(l["slug"].as_str().unwrap()).await;
    let paid = paid.unwrap();
    let url = paid.body["receipt_url"].as_str().unwrap();
    let path = url.trim_start_matches(&app.base);
    let (status, h, html) = page(&app, path).await;
    assert_eq!(status, 200);
    assert!(html.contains("$7.00") && html.contains("Visa •••• 4242"));
    assert_eq!(h["cache-control"], "no-store");
    let bare = path.split('?').next().unwrap();
    assert_eq!(page(&app, bare).await.0, 404);
    assert_eq!(page(&app, &format!("{bare}?t=wrong")).await.0, 404);
    assert_eq!(page(&app, "/r/pay_0000000000000000000000?t=x").await.0, 404);
    // The receipt follows refunds.
    app.post(
        &format!(
            "/v1/payments/{}/refunds",
            paid.body["payment_id"].as_str().unwrap()
        ),
        json!({"amount": 200}),
    )
    .await
    .ok(201);
    let (_, _, html) = page(&app, path).await;
    assert!(html.contains("Partially refunded") && html.contains("$2.00"));
}

both!(the_checkout_url_of_an_api_session_pays);

async fn the_checkout_url_of_an_api_session_pays(app: TestApp) {
    let l = app.custom_link("Via API", 1500).await;
    let s = app
        .start_checkout(
            l["slug"].as_str().unwrap(),
            json!({"email": "api@example.com"}),
        )
        .await
        .ok(201)
        .clone();
    let url = s["checkout_url"].as_str().unwrap();
    let r = app.client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("$15.00") && html.contains("Via API"));
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = format!("{}/c/{}", app.base, s["id"].as_str().unwrap());
    let form = |card: &str| {
        vec![
            ("s", s["client_secret"].as_str().unwrap().to_owned()),
            ("card_number", card.to_owned()),
            ("card_exp", "11/31".to_owned()),
            ("card_cvc", "321".to_owned()),
            ("action", "pay".to_owned()),
        ]
    };
    let declined = no_redirects
        .post(&post)
        .form(&form("4000000000000002"))
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), 402);
    assert!(declined
        .text()
        .await
        .unwrap()
        .contains("Your card was declined"));
    let paid = no_redirects
        .post(&post)
        .form(&form("4242424242424242"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    assert!(paid.headers()["location"]
        .to_str()
        .unwrap()
        .contains("/r/pay_"));
    // A wrong secret shows nothing.
    let r = app
        .client
        .get(format!("{post}?s=wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Pay pressed twice (or six times) at once: every submit lands on the first one's outcome,
/// never on an internal-sounding conflict.
async fn a_double_submit_shows_the_first_outcome(app: TestApp) {
    let order = app
        .create(
            "/v1/orders",
            json!({"line_items": [{"name": "Invoice", "unit_amount": 1500}]}),
        )
        .await;
    let plain = app.custom_link("Double click", 1500).await;
    let of_order = app
        .create(
            "/v1/payment_links",
            json!({"title": "Double click on an order", "order_id": order["id"]}),
        )
        .await;
    for (i, l) in [plain, of_order].iter().enumerate() {
        double_submit(&app, l["slug"].as_str().unwrap()).await;
        assert_eq!(
            app.get("/v1/payments").await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            i + 1
        );
    }
}

async fn double_submit(app: &TestApp, slug: &str) {
    let (_, _, html) = page(app, &format!("/l/{slug}")).await;
    let n = nonce(&html);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = vec![
        ("nonce", n),
        ("shown_total", "1500".to_owned()),
        ("email", "twice@example.com".to_owned()),
        ("card_number", "4242424242424242".to_owned()),
        ("card_exp", "12/30".to_owned()),
        ("card_cvc", "123".to_owned()),
        ("action", "pay".to_owned()),
    ];
    let url = format!("{}/l/{slug}", app.base);
    let submits: Vec<_> = (0..6)
        .map(|_| tokio::spawn(no_redirects.post(&url).form(&form).send()))
        .collect();
    let mut places = std::collections::BTreeSet::new();
    for a in submits {
        let a = a.await.unwrap().unwrap();
        let status = a.status().as_u16();
        let location = a
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = a.text().await.unwrap();
        assert!(!body.contains("same unique value"), "{body}");
        assert_eq!(status, 303, "{body}");
        places.insert(location.unwrap());
    }
    assert_eq!(places.len(), 1, "{places:?}");
}

/// A link made for a customer (or for an order of one) fills in their name and e-mail on
/// the page and in the preview, and a checkout without an e-mail uses theirs.
async fn the_customer_is_prefilled(app: TestApp) {
    let cust = app
        .create(
            "/v1/customers",
            json!({"email": "ada@example.com", "name": "Ada Lovelace"}),
        )
        .await;
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "For Ada", "amount": 900, "customer_id": cust["id"]}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let preview = app.get(&format!("/api/public/links/{slug}")).await;
    assert_eq!(
        preview.ok(200)["prefill"],
        json!({"email": "ada@example.com", "name": "Ada Lovelace"})
    );
    let (_, _, html) = page(&app, &format!("/l/{slug}")).await;
    assert!(html.contains("value=\"ada@example.com\""), "{html}");
    assert!(html.contains("value=\"Ada Lovelace\""));
    let s = app.start_checkout(slug, json!({})).await;
    let paid = app.pay_card(s.ok(201), "4242424242424242").await;
    let pid = paid.ok(200)["payment_id"].as_str().unwrap().to_owned();
    let p = app.get(&format!("/v1/payments/{pid}")).await;
    assert_eq!(p.body["customer"]["email"], "ada@example.com");
    assert_eq!(p.body["customer"]["name"], "Ada Lovelace");
    // The link's own prefill wins field by field.
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "For Ada at work", "amount": 900, "customer_id": cust["id"], "prefill": {"email": "ada@work.example"}}),
        )
        .await;
    let preview = app
        .get(&format!(
            "/api/public/links/{}",
            l["slug"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        preview.body["prefill"],
        json!({"email": "ada@work.example", "name": "Ada Lovelace"})
    );
    // An order's customer.
    let o = app
        .create(
            "/v1/orders",
            json!({"customer_id": cust["id"], "line_items": [{"name": "Repair", "unit_amount": 8000}]}),
        )
        .await;
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Your repair", "order_id": o["id"]}),
        )
        .await;
    let preview = app
        .get(&format!(
            "/api/public/links/{}",
            l["slug"].as_str().unwrap()
        ))
        .await;
    assert_eq!(preview.body["prefill"]["email"], "ada@example.com");
}

/// A storefront (`all_products`) shows the catalog as it is: a product added later
/// appears, an archived one is gone, prices are current; a started checkout keeps what it
/// started with, and a page showing old prices cannot be paid at the new ones.
async fn a_storefront_offers_the_catalog_as_it_is(app: TestApp) {
    let a = app.product("Apple", 1000).await;
    let b = app.product("Banana", 2000).await;
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Shop", "all_products": true}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap().to_owned();
    let names = |v: &serde_json::Value| -> Vec<(String, i64)> {
        v["line_items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["name"].as_str().unwrap().to_owned(),
                    l["unit_amount"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let (_, _, old_page) = page(&app, &format!("/l/{slug}")).await;
    let c = app.product("Cherry", 300).await;
    app.delete(&format!("/v1/products/{}", b["id"].as_str().unwrap()))
        .await;
    app.patch(
        &format!("/v1/products/{}", a["id"].as_str().unwrap()),
        json!({"unit_amount": 1500}),
    )
    .await
    .ok(200);
    let preview = app.get(&format!("/api/public/links/{slug}")).await;
    assert_eq!(
        names(preview.ok(200)),
        [("Apple".to_owned(), 1500), ("Cherry".to_owned(), 300)]
    );
    let (_, _, html) = page(&app, &format!("/l/{slug}")).await;
    assert!(html.contains("Cherry") && !html.contains("Banana"));
    // Two apples and a cherry at today's prices; the checkout keeps them.
    let s = app
        .start_checkout(
            &slug,
            json!({"email": "s@example.com", "quantities": [2, 1]}),
        )
        .await;
    assert_eq!(s.ok(201)["amount_total"], 3300);
    app.patch(
        &format!("/v1/products/{}", a["id"].as_str().unwrap()),
        json!({"unit_amount": 9999}),
    )
    .await
    .ok(200);
    let paid = app.pay_card(&s.body, "4242424242424242").await;
    let pid = paid.ok(200)["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/v1/payments/{pid}")).await.body["amount"],
        3300
    );
    let _ = c;
    // The page loaded before the changes: its prices are not charged.
    let stale = vec![
        ("nonce", nonce(&old_page)),
        ("catalog", {
            let at = old_page.find("name=\"catalog\" value=\"").unwrap() + 23;
            old_page[at..].split('"').next().unwrap().to_owned()
        }),
        ("q0", "1".to_owned()),
        ("q1", "0".to_owned()),
        ("email", "s@example.com".to_owned()),
        ("card_number", "4242424242424242".to_owned()),
        ("card_exp", "12/30".to_owned()),
        ("card_cvc", "123".to_owned()),
        ("action", "pay".to_owned()),
    ];
    let r = app
        .client
        .post(format!("{}/l/{slug}", app.base))
        .form(&stale)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("changed"));
    assert_eq!(
        app.get("/v1/payments").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
