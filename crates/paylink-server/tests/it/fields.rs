//! The hosted form's answers to a customer's mistakes: all at once, each at its field, in
//! words for customers, nothing opened or charged, nothing typed lost but the card; and a
//! wallet that charges only once its amount is confirmed.

use serde_json::json;

use crate::both;
use crate::helpers::{no_redirects, page_nonce, TestApp};

both!(
    every_mistake_is_said_at_its_field_at_once,
    a_wallet_charges_only_after_the_customer_confirms,
    a_retry_that_changed_the_order_never_pays_the_old_one,
    a_retry_with_another_card_pays_the_held_session,
    limits_and_quantities_are_said_at_their_fields,
    other_items_at_the_same_total_start_again,
    a_nonce_pays_only_its_own_link
);

fn form<'a>(
    nonce: &'a str,
    shown: &'a str,
    card: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("nonce", nonce),
        ("shown_total", shown),
        ("email", "buyer@example.com"),
        ("card_number", card),
        ("card_exp", "12/34"),
        ("card_cvc", "123"),
        ("action", "pay"),
    ];
    f.extend_from_slice(extra);
    f
}

/// A retry for other items at the same total is another order (second review).
async fn other_items_at_the_same_total_start_again(app: TestApp) {
    let red = app.product("Red mug", 500).await;
    let blue = app.product("Blue mug", 500).await;
    let adjustable = json!({"enabled": true, "minimum": 0, "maximum": 5});
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Mugs", "line_items": [
                {"product_id": red["id"], "quantity": 1, "adjustable_quantity": adjustable},
                {"product_id": blue["id"], "quantity": 0, "adjustable_quantity": adjustable}]}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let url = format!("{}/l/{slug}", app.base);
    let n = nonce_of(&app, slug).await;
    let post = |f: Vec<(&str, &str)>| no_redirects().post(&url).form(&f).send();
    let r = post(form(
        &n,
        "500",
        "4000000000000002",
        &[("q0", "1"), ("q1", "0")],
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 402);
    let r = post(form(
        &n,
        "500",
        "4242424242424242",
        &[("q0", "0"), ("q1", "1")],
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 409);
    let fresh = page_nonce(&r.text().await.unwrap());
    let r = post(form(
        &fresh,
        "500",
        "4242424242424242",
        &[("q0", "0"), ("q1", "1")],
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let p = app.get("/v1/payments?status=succeeded").await;
    assert_eq!(p.body["data"][0]["line_items"][0]["name"], "Blue mug");
}

/// A page's nonce names a session of its own link only: posted to another link it neither
/// pays nor ends that session (second review).
async fn a_nonce_pays_only_its_own_link(app: TestApp) {
    let x = app
        .create(
            "/v1/payment_links",
            json!({"title": "Link X", "amount": 700, "payments_limit": 1}),
        )
        .await;
    let y = app.custom_link("Link Y", 700).await;
    let n = nonce_of(&app, x["slug"].as_str().unwrap()).await;
    let x_url = format!("{}/l/{}", app.base, x["slug"].as_str().unwrap());
    let y_url = format!("{}/l/{}", app.base, y["slug"].as_str().unwrap());
    let r = no_redirects()
        .post(&x_url)
        .form(&form(&n, "700", "4000000000000002", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 402);
    let r = no_redirects()
        .post(&y_url)
        .form(&form(&n, "700", "4242424242424242", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let status: String = sqlx::query_scalar("SELECT status FROM checkout_sessions")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(status, "open", "X's session is untouched");
    assert_eq!(app.processor.charges_made(), 1);
}

/// A changed retry while the earlier one is being charged waits for it: it neither ends
/// that session nor invites a second payment (second review: charged twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_retry_during_a_payment_waits_for_it() {
    let app = TestApp::spawn_with(paylink_store_sql::testing::Backend::Sqlite, |c| {
        c.simulated_processor_latency_ms = 1200;
    })
    .await;
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Give", "donation": {"minimum": 100, "maximum": 100000}}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap().to_owned();
    let url = format!("{}/l/{slug}", app.base);
    let n = nonce_of(&app, &slug).await;
    let post = |f: Vec<(String, String)>| {
        let url = url.clone();
        async move { no_redirects().post(url).form(&f).send().await.unwrap() }
    };
    let owned = |f: Vec<(&str, &str)>| -> Vec<(String, String)> {
        f.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    let r = post(owned(form(
        &n,
        "500",
        "4000000000000002",
        &[("amount", "5.00")],
    )))
    .await;
    assert_eq!(r.status(), 402);
    let same = tokio::spawn(post(owned(form(
        &n,
        "500",
        "4242424242424242",
        &[("amount", "5.00")],
    ))));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let changed = post(owned(form(
        &n,
        "10000",
        "4242424242424242",
        &[("amount", "100.00")],
    )))
    .await;
    assert_eq!(changed.status(), 409);
    let html = changed.text().await.unwrap();
    assert!(html.contains("still being processed"), "{html}");
    assert_eq!(page_nonce(&html), n, "nothing new is offered");
    assert_eq!(same.await.unwrap().status(), 303);
    let paid = app.get("/v1/payments?status=succeeded").await;
    assert_eq!(paid.body["data"].as_array().unwrap().len(), 1);
}

/// After a decline the page keeps its session for a retry with another card; a retry
/// that changed the amount or the e-mail must not pay that session (its total, its
/// address) but start again, and the old session gives its hold back at once, so on a link
/// with one use left the new one can take it (found by the outside review).
async fn a_retry_that_changed_the_order_never_pays_the_old_one(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Give", "currency": "EUR", "payments_limit": 1, "donation": {"minimum": 100, "maximum": 100000}, "payment_method_types": ["card", "wallet"]}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let url = format!("{}/l/{slug}", app.base);
    let submit = |nonce: String,
                  amount: &'static str,
                  shown: &'static str,
                  email: &'static str,
                  card: &'static str,
                  action: &'static str| {
        let url = url.clone();
        async move {
            no_redirects()
                .post(url)
                .form(&[
                    ("nonce", nonce.as_str()),
                    ("amount", amount),
                    ("shown_total", shown),
                    ("email", email),
                    ("card_number", card),
                    ("card_exp", "12/34"),
                    ("card_cvc", "123"),
                    ("action", action),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let n = nonce_of(&app, slug).await;
    let declined = "4000000000000002";
    let good = "4242424242424242";
    let r = submit(
        n.clone(),
        "250",
        "25000",
        "first@example.com",
        declined,
        "pay",
    )
    .await;
    assert_eq!(r.status(), 402);
    // The same order with another card pays the held session (the usual retry)...
    // ...but another amount and address start again, charging nothing.
    let r = submit(
        n.clone(),
        "2",
        "200",
        "second@example.com",
        good,
        "wallet_confirm",
    )
    .await;
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Your order changed since the last try"),
        "{html}"
    );
    let fresh = page_nonce(&html);
    assert_ne!(fresh, n, "a new session is offered");
    assert_eq!(app.processor.charges_made(), 1, "only the declined attempt");
    // The old session is over: its page cannot pay it any more, and is not a dead end
    // (a second tab, the back button): it starts again too.
    let r = submit(n.clone(), "250", "25000", "first@example.com", good, "pay").await;
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(html.contains("This checkout ended") && page_nonce(&html) != n);
    assert_eq!(app.processor.charges_made(), 1);
    // The new one takes the link's only use, which the old one gave back.
    let r = submit(fresh, "2", "200", "second@example.com", good, "pay").await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let paid = app.get("/v1/payments?status=succeeded").await;
    let p = &paid.body["data"][0];
    assert_eq!(
        (p["amount"].as_i64(), p["customer"]["email"].as_str()),
        (Some(200), Some("second@example.com"))
    );
    assert_eq!(paid.body["data"].as_array().unwrap().len(), 1);
}

/// The usual retry after a decline, the same order with another card, pays the session
/// the page held for it.
async fn a_retry_with_another_card_pays_the_held_session(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Seat", "amount": 4500, "payments_limit": 1}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let url = format!("{}/l/{slug}", app.base);
    let n = nonce_of(&app, slug).await;
    for (card, status) in [("4000000000000002", 402), ("4242424242424242", 303)] {
        let r = no_redirects()
            .post(&url)
            .form(&[
                ("nonce", n.as_str()),
                ("shown_total", "4500"),
                ("email", "fan@example.com"),
                ("card_number", card),
                ("card_exp", "12/34"),
                ("card_cvc", "123"),
                ("action", "pay"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
    }
    assert_eq!(sessions(&app).await, 1);
}

async fn limits_and_quantities_are_said_at_their_fields(app: TestApp) {
    let prod = app.product("Tee", 2500).await;
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Tees", "line_items": [{"product_id": prod["id"], "adjustable_quantity": {"enabled": true, "minimum": 1, "maximum": 10}}],
                   "collect": {"billing_address": true}}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let url = format!("{}/l/{slug}", app.base);
    let n = nonce_of(&app, slug).await;
    let long = "N".repeat(5000);
    let r = no_redirects()
        .post(&url)
        .form(&[
            ("nonce", n.as_str()),
            ("q0", "11"),
            ("email", "t@example.com"),
            ("name", long.as_str()),
            ("billing_line1", "1 Road"),
            ("billing_city", long.as_str()),
            ("billing_country", "GB"),
            ("card_number", "4242424242424242"),
            ("card_exp", "12/0030"),
            ("card_cvc", "123"),
            ("action", "pay"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    for (field, says) in [
        ("q0", "Choose between 1 and 10 of Tee."),
        ("name", "Shorten your name to 200 characters."),
        ("billing_city", "Shorten the city to 200 characters."),
        ("card_exp", "Enter the expiry date as MM/YY."),
    ] {
        assert!(
            html.contains(&format!(
                "<p class=\"field-error\" id=\"{field}-error\">{says}</p>"
            )),
            "{field}: {html}"
        );
    }
    assert!(html.contains("Check the 4 fields marked below."));
    assert!(
        !html.contains("`"),
        "no developer wording reaches the customer"
    );
    // The line keeps pricing a quantity it allows.
    assert!(html.contains("id=\"line-total-0\">$25.00<"), "{html}");
    assert_eq!(sessions(&app).await, 0);
}

async fn nonce_of(app: &TestApp, slug: &str) -> String {
    let html = app
        .client
        .get(format!("{}/l/{slug}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page_nonce(&html)
}

/// Checkout sessions opened so far (there is no API that lists them).
async fn sessions(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM checkout_sessions")
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

async fn every_mistake_is_said_at_its_field_at_once(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Workshop", "amount": 4000, "collect": {"phone": true, "billing_address": true},
                   "custom_fields": [{"key": "seats", "label": "Seats", "type": "numeric"},
                                     {"key": "level", "label": "Level", "type": "dropdown", "options": [{"label": "Beginner", "value": "b"}]}]}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let url = format!("{}/l/{slug}", app.base);
    let n = nonce_of(&app, slug).await;
    let card = "4242424242424241";
    let r = no_redirects()
        .post(&url)
        .form(&[
            ("nonce", n.as_str()),
            ("shown_total", "4000"),
            ("email", "ada@"),
            ("name", "Ada <Lovelace>"),
            ("cf_seats", "two"),
            ("cf_level", "expert"),
            ("billing_city", "London"),
            ("billing_country", "ZZ"),
            ("card_number", card),
            ("card_exp", "01/20"),
            ("card_cvc", "12"),
            ("action", "pay"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    for (field, says) in [
        ("email", "Enter an e-mail address like name@example.com."),
        ("phone", "Enter your phone number."),
        ("cf_seats", "“Seats” takes digits only."),
        ("cf_level", "Choose one of the answers to “Level”."),
        ("billing_line1", "Enter the street address."),
        ("billing_country", "Choose the country."),
        (
            "card_number",
            "This card number is not valid. Check it and try again.",
        ),
        ("card_exp", "This card has expired. Use another card."),
        (
            "card_cvc",
            "Enter the 3 or 4 digit security code from your card.",
        ),
    ] {
        assert!(
            html.contains(&format!(
                "<p class=\"field-error\" id=\"{field}-error\">{says}</p>"
            )),
            "{field}: {html}"
        );
        assert!(
            html.contains(&format!("id=\"{field}\"")),
            "{field} is on the page"
        );
    }
    assert!(html.contains("Check the 9 fields marked below."));
    // The first in page order has the focus; each is marked and described.
    assert!(html.contains(
        "id=\"email\" value=\"ada@\" autocomplete=\"email\" required aria-invalid=\"true\" aria-describedby=\"email-error\" autofocus>"
    ));
    assert_eq!(html.matches(" autofocus").count(), 1);
    assert_eq!(html.matches("aria-invalid=\"true\"").count(), 9);
    // What was typed is kept (escaped), except the card's number and code.
    assert!(
        html.contains("value=\"Ada &#60;Lovelace&#62;\"")
            || html.contains("value=\"Ada &lt;Lovelace&gt;\"")
    );
    assert!(html.contains("value=\"two\"") && html.contains("value=\"London\""));
    assert!(html.contains("value=\"01/20\""));
    assert!(!html.contains(card) && !html.contains("4242 4241"));
    // Nothing was opened, held or charged.
    assert_eq!(sessions(&app).await, 0);
    assert_eq!(app.processor.charges_made(), 0);

    // Put right, it pays.
    let r = no_redirects()
        .post(&url)
        .form(&[
            ("nonce", n.as_str()),
            ("shown_total", "4000"),
            ("email", "ada@example.com"),
            ("phone", "+44 20 7946 0000"),
            ("cf_seats", "2"),
            ("cf_level", "b"),
            ("billing_line1", "12 St James's Square"),
            ("billing_city", "London"),
            ("billing_country", "gb"),
            ("card_number", "4242 4242 4242 4242"),
            ("card_exp", "12/34"),
            ("card_cvc", "123"),
            ("action", "pay"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(sessions(&app).await, 1);
    let p = app.get("/v1/payments").await;
    let p = &p.body["data"][0];
    assert_eq!(p["customer"]["billing_address"]["country"], "GB");
    assert_eq!(p["amount"], 4000);
}

async fn a_wallet_charges_only_after_the_customer_confirms(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Tap to pay", "amount": 700, "payment_method_types": ["card", "wallet"]}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let url = format!("{}/l/{slug}", app.base);
    let n = nonce_of(&app, slug).await;
    let form = |action: &'static str| {
        [
            ("nonce", n.clone()),
            ("shown_total", "700".to_owned()),
            ("email", "tap@example.com".to_owned()),
            ("action", action.to_owned()),
        ]
    };
    let r = no_redirects()
        .post(&url)
        .form(&form("wallet"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Pay <strong id=\"confirm-wallet-amount\">$7.00</strong> to Acme with your mobile wallet?")
            && html.contains("id=\"confirm-wallet\">Confirm and pay <span id=\"confirm-wallet-total\">$7.00</span></button>"),
        "{html}"
    );
    assert!(html.contains("value=\"tap@example.com\""));
    assert_eq!(app.processor.charges_made(), 0);
    assert_eq!(sessions(&app).await, 0);
    let r = no_redirects()
        .post(&url)
        .form(&form("wallet_confirm"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(app.processor.charges_made(), 1);
    assert_eq!(sessions(&app).await, 1);
    let p = app.get("/v1/payments").await;
    assert_eq!(p.body["data"][0]["payment_method"]["type"], "wallet");
}
