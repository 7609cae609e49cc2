//! The objects the corpus is sent against: one merchant's of every kind a path takes, and
//! a valid body for every request schema, in which the corpus breaks one thing at a time.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// One merchant's objects: an id of every kind a path takes, a link's slug, and an open
/// checkout session's secret.
pub struct World {
    pub key: String,
    pub ids: std::collections::BTreeMap<String, String>,
    pub slug: String,
    pub client_secret: String,
}

async fn must(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Value,
    status: u16,
) -> Value {
    let body = (method != Method::GET).then_some(body);
    app.call(Some(key), method, path, body, None)
        .await
        .ok(status)
        .clone()
}

/// Titles and names hold none of the corpus's metacharacters, so a filter for one finds nothing.
pub async fn world(app: &TestApp, key: &str, email: &str) -> World {
    let post = |path: &'static str, body: Value| must(app, key, Method::POST, path, body, 201);
    let product = post(
        "/v1/products",
        json!({"name": "Corpus mug", "unit_amount": 500, "currency": "usd"}),
    )
    .await;
    let customer = post("/v1/customers", json!({"email": email, "name": "Corpus"})).await;
    let rate = post(
        "/v1/tax_rates",
        json!({"display_name": "VAT", "percentage": "5"}),
    )
    .await;
    let order = post(
        "/v1/orders",
        json!({"line_items": [{"name": "Thing", "unit_amount": 500}], "currency": "usd"}),
    )
    .await;
    let link = post(
        "/v1/payment_links",
        json!({"title": "Corpus link", "amount": 500}),
    )
    .await;
    let paid = post(
        "/v1/payment_links",
        json!({"title": "Corpus paid", "amount": 700}),
    )
    .await;
    let (_, pay) = app.buy(paid["slug"].as_str().unwrap()).await;
    let payment = pay.unwrap().ok(200)["payment_id"].clone();
    let plan = post(
        "/v1/payment_links",
        json!({"title": "Corpus plan", "amount": 900, "subscription": {"interval": "month"}}),
    )
    .await;
    app.buy(plan["slug"].as_str().unwrap()).await;
    let subscription = must(
        app,
        key,
        Method::GET,
        "/v1/subscriptions?limit=1",
        json!(null),
        200,
    )
    .await["data"][0]["id"]
        .clone();
    let slug = link["slug"].as_str().unwrap().to_owned();
    let session = app
        .start_checkout(&slug, json!({"email": email}))
        .await
        .ok(201)
        .clone();
    let hook = post(
        "/v1/webhook_endpoints",
        json!({"url": "https://93.184.216.34/hooks", "enabled_events": ["*"]}),
    )
    .await;
    let spare = post("/v1/api_keys", json!({"name": "spare", "kind": "secret"})).await;
    let event = must(
        app,
        key,
        Method::GET,
        "/v1/events?limit=1",
        json!(null),
        200,
    )
    .await["data"][0]["id"]
        .clone();
    // A member, signed in once (a session), and an invitation.
    let (merchant,): (String,) =
        sqlx::query_as("SELECT merchant_id FROM api_keys WHERE key_hash = $1")
            .bind(paylink_server::auth::hash_key(key))
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    let member_email = format!("member-{email}");
    let member = crate::accounts::member(
        app,
        Some(&merchant),
        paylink_domain::access::Role::Viewer,
        &member_email,
    )
    .await;
    let signed = crate::accounts::login(app, &member_email, crate::accounts::PW)
        .await
        .ok(200)
        .clone();
    // Keys change the team in live mode only.
    let live = app.live_key_beside(key).await;
    let invitation = must(
        app,
        &live,
        Method::POST,
        "/v1/team/invitations",
        json!({"email": format!("invitee-{email}"), "role": "viewer"}),
        201,
    )
    .await;
    let member = json!(member);
    let ids = [
        ("usr_", &member),
        ("ses_", &signed["session_id"]),
        ("inv_", &invitation["id"]),
        ("prod_", &product["id"]),
        ("cus_", &customer["id"]),
        ("txr_", &rate["id"]),
        ("ord_", &order["id"]),
        ("plink_", &link["id"]),
        ("pay_", &payment),
        ("cs_", &session["id"]),
        ("we_", &hook["id"]),
        ("key_", &spare["id"]),
        ("evt_", &event),
        ("sub_", &subscription),
    ]
    .into_iter()
    .map(|(p, id)| (p.to_owned(), id.as_str().unwrap().to_owned()))
    .collect();
    World {
        key: key.to_owned(),
        ids,
        slug,
        client_secret: session["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// A valid body for each request schema of the document: the corpus breaks one thing at a
/// time in it. A new body schema must be added here (the test says so).
pub fn base(schema: &str, w: &World) -> Value {
    match schema {
        "PayIn" => json!({
            "client_secret": w.client_secret,
            "payment_method": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}},
        }),
        "CheckoutIn" => json!({"email": "buyer@example.com", "name": "Buyer", "quantities": [1]}),
        "ApiKeyIn" => json!({"name": "corpus", "kind": "secret"}),
        "CustomerIn" => {
            json!({"email": "c@example.com", "name": "Corpus", "address": {"line1": "1 Main St", "country": "US"}})
        }
        "CustomerPatch" => json!({"name": "Corpus two"}),
        "OrderIn" => {
            json!({"line_items": [{"name": "Thing", "unit_amount": 500, "quantity": 1}], "currency": "usd"})
        }
        "PaymentLinkIn" => json!({
            "title": "Corpus new",
            "line_items": [{"name": "Thing", "unit_amount": 500, "quantity": 1}],
            "currency": "usd",
            "metadata": {"k": "v"},
        }),
        // Lines, not the `amount` shortcut: an error about the shortcut's one line names
        // `line_items[0]`, not the field sent (links.rs asserts that as it is).
        "PaymentLinkPatch" => json!({
            "title": "Corpus renamed",
            "line_items": [{"name": "Thing", "unit_amount": 900, "quantity": 1}],
        }),
        "SendLinkIn" => json!({"recipients": [{"email": "r@example.com"}], "message": "Hello"}),
        "SendReceiptIn" => json!({"email": "r@example.com"}),
        "RefundIn" => json!({"amount": 100, "reason": "requested_by_customer"}),
        "ProductIn" => {
            json!({"name": "Corpus", "unit_amount": 500, "currency": "usd", "inventory": {"available": 3}})
        }
        "ProductPatch" => json!({"name": "Corpus renamed", "unit_amount": 600}),
        "SettingsPatch" => json!({"business_name": "Acme", "default_currency": "usd"}),
        "TaxRateIn" => json!({"display_name": "VAT", "percentage": "5"}),
        "TaxRatePatch" => json!({"display_name": "VAT two"}),
        "EndpointIn" => json!({"url": "https://93.184.216.34/corpus", "enabled_events": ["*"]}),
        "EndpointPatch" => json!({"description": "corpus"}),
        "RotateIn" => json!({"overlap_seconds": 60}),
        "LoginIn" => json!({"email": "corpus@example.com", "password": "not the password"}),
        "ForgotIn" => json!({"email": "corpus@example.com"}),
        "ResetIn" => json!({"password": "a long corpus passphrase"}),
        "AcceptIn" => json!({"name": "Corpus", "password": "a long corpus passphrase"}),
        "PasswordIn" => {
            json!({"current_password": "x", "new_password": "a long corpus passphrase"})
        }
        "InvitationIn" => json!({"email": "corpus-new@example.com", "role": "viewer"}),
        "MemberPatch" => json!({"role": "viewer"}),
        "CancelIn" => json!({"at_period_end": true}),
        "SubscriptionPatch" => json!({"cancel_at_period_end": true}),
        // A month on: within the three years a clock moves at a time, and never past.
        "AdvanceIn" => json!({"to": paylink_domain::time::Timestamp::now()
            .plus_seconds(30 * 86_400)
            .to_rfc3339()}),
        "ConfirmIn" => json!({"enrollment": "enc1:corpus", "code": "123456"}),
        "DisableIn" => json!({"password": "not the password"}),
        "StripeCredentialsIn" => json!({"mode": "test", "secret_key": "sk_test_corpus12345678",
            "publishable_key": "pk_test_corpus12345678", "webhook_secret": "whsec_corpus12345678"}),
        other => panic!("no valid body for {other}: add one to bad_input/world.rs"),
    }
}
