//! People signing in (issue 21): sessions, the `Token` scheme, throttling, tenancy of a
//! member's token, and their own account. Cookies and CSRF are in `cookies.rs`; team,
//! recovery and the audit log in `team.rs`; the second factor in `totp.rs`; the role ×
//! route table and the secrets dump in `roles.rs`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use paylink_domain::access::Role;
use paylink_domain::id::MerchantId;

use crate::both;
use crate::helpers::{Resp, TestApp};

pub const PW: &str = "correct horse battery staple";

/// A member of the app's merchant (or `merchant`) with `role`; returns the user id.
pub async fn member(app: &TestApp, merchant: Option<&str>, role: Role, email: &str) -> String {
    let m = MerchantId::parse(merchant.unwrap_or(&app.merchant_id)).unwrap();
    paylink_server::accounts::provision::create_user(app.store.as_ref(), &m, email, "Pat", role, PW)
        .await
        .unwrap()
        .id
        .to_string()
}

/// `POST /auth/login` (no credential).
pub async fn login(app: &TestApp, email: &str, password: &str) -> Resp {
    app.call(
        None,
        Method::POST,
        "/auth/login",
        Some(json!({"email": email, "password": password})),
        None,
    )
    .await
}

/// The access token of `email` (password [`PW`]) signed in.
pub async fn token_of(app: &TestApp, email: &str) -> String {
    login(app, email, PW).await.ok(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A member with `role` signed in: their access token.
pub async fn signed_in(app: &TestApp, role: Role, email: &str) -> String {
    member(app, None, role, email).await;
    token_of(app, email).await
}

/// A request with `Authorization: Token …` (and extra headers).
pub async fn as_person(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.base))
        .header("Authorization", format!("Token {token}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    into_resp(req.send().await.unwrap()).await
}

/// A signed-in person's requests without extra headers: `person(&app, &token).get(path)`.
pub fn person<'a>(app: &'a TestApp, token: &'a str) -> Person<'a> {
    Person { app, token }
}

pub struct Person<'a> {
    app: &'a TestApp,
    token: &'a str,
}

impl Person<'_> {
    pub async fn get(&self, path: &str) -> Resp {
        as_person(self.app, self.token, Method::GET, path, None, &[]).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        as_person(self.app, self.token, Method::DELETE, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        as_person(self.app, self.token, Method::POST, path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        as_person(self.app, self.token, Method::PATCH, path, Some(body), &[]).await
    }
}

pub async fn into_resp(res: reqwest::Response) -> Resp {
    let status = res.status();
    let headers = res.headers().clone();
    let raw = res.bytes().await.unwrap().to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        raw,
    }
}

both!(
    login_acts_as_the_member_and_logout_ends_the_token,
    unknown_email_and_wrong_password_answer_alike,
    fifty_wrong_passwords_are_throttled,
    another_merchants_member_sees_404,
    weak_passwords_are_refused,
    sessions_are_listed_and_ended_and_a_new_password_ends_the_others,
    people_mint_no_key_stronger_than_themselves,
    passwords_are_never_fingerprinted_for_idempotency,
    a_burst_of_guesses_gets_no_more_tries_and_resets_lock_nobody_out,
);

async fn passwords_are_never_fingerprinted_for_idempotency(app: TestApp) {
    member(&app, None, Role::Owner, "owner@acme.example").await;
    let count = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM idempotency_keys")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        n
    };
    let before = count().await;
    // A fingerprint is a fast hash of the body: of a sign-in, the password is all of it an
    // attacker with the database would not know. The key is ignored there.
    for pw in ["a wrong guess of a password", PW] {
        app.call(
            None,
            Method::POST,
            "/auth/login",
            Some(json!({"email": "owner@acme.example", "password": pw})),
            Some("login-1"),
        )
        .await;
    }
    let token = token_of(&app, "owner@acme.example").await;
    as_person(
        &app,
        &token,
        Method::POST,
        "/v1/me/password",
        Some(json!({"current_password": PW, "new_password": "a brand new passphrase here"})),
        &[("Idempotency-Key", "pw-1")],
    )
    .await
    .ok(200);
    assert_eq!(count().await, before);
    // Elsewhere the key works as ever.
    app.call(
        Some(&app.key),
        Method::POST,
        "/v1/products",
        Some(json!({"name": "Tee", "unit_amount": 100})),
        Some("product-1"),
    )
    .await
    .ok(201);
    assert_eq!(count().await, before + 1);
}

async fn people_mint_no_key_stronger_than_themselves(app: TestApp) {
    let dev = signed_in(&app, Role::Developer, "dev@acme.example").await;
    let admin = signed_in(&app, Role::Admin, "admin@acme.example").await;
    let key = |kind: &str, scopes: &[&str]| {
        let mut k = json!({"name": "k", "kind": kind});
        if !scopes.is_empty() {
            k["scopes"] = json!(scopes);
        }
        k
    };
    // A developer's session making a secret key would make itself an admin (refunds,
    // settings, the team): refused; so is a restricted key with a scope the role lacks.
    for body in [
        key("secret", &[]),
        key("restricted", &["refunds:write"]),
        key("restricted", &["payment_links:write", "settings:write"]),
    ] {
        person(&app, &dev)
            .post("/v1/api_keys", body)
            .await
            .assert_error(403, "insufficient_permissions");
    }
    person(&app, &dev)
        .post("/v1/api_keys", key("restricted", &["payment_links:write"]))
        .await
        .ok(201);
    // An admin holds all a secret key does.
    person(&app, &admin)
        .post("/v1/api_keys", key("secret", &[]))
        .await
        .ok(201);
    // A (live) secret key manages the team, but never an owner.
    let live = app.live_key().await;
    let owner_id = member(&app, None, Role::Owner, "owner@acme.example").await;
    let dev_id = person(&app, &dev).get("/v1/me").await.ok(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let patch = |id: &str, role: &str| {
        let path = format!("/v1/team/members/{id}");
        let body = json!({ "role": role });
        let live = live.clone();
        let app = &app;
        async move {
            app.call(Some(&live), Method::PATCH, &path, Some(body), None)
                .await
        }
    };
    patch(&owner_id, "viewer")
        .await
        .assert_error(403, "insufficient_permissions");
    patch(&dev_id, "owner")
        .await
        .assert_error(403, "insufficient_permissions");
    patch(&dev_id, "viewer").await.ok(200);
}

async fn login_acts_as_the_member_and_logout_ends_the_token(app: TestApp) {
    let user_id = member(&app, None, Role::Developer, "Dev@Acme.example").await;
    // E-mails match whatever their case.
    let r = login(&app, "dev@acme.EXAMPLE", PW).await;
    let body = r.ok(200).clone();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(body["user"]["id"], user_id.as_str());
    assert_eq!(body["user"]["email"], "dev@acme.example");
    assert_eq!(body["user"]["memberships"][0]["role"], "developer");
    assert_eq!(
        body["user"]["memberships"][0]["merchant_id"],
        app.merchant_id
    );
    assert_eq!(body["merchant_id"], app.merchant_id);
    assert_eq!(body["memberships"], body["user"]["memberships"]);
    assert!(body["expires_at"].is_string());
    assert!(body["user"].get("password_hash").is_none());

    let me = person(&app, &token).get("/v1/me").await;
    assert_eq!(me.ok(200)["id"], user_id.as_str());
    assert!(me.body["last_login_at"].is_string());
    // A key has no account.
    app.get("/v1/me")
        .await
        .assert_error(403, "insufficient_permissions");

    // Objects a person creates say so, in test mode unless asked for live.
    let link = person(&app, &token)
        .post("/v1/payment_links", json!({"title": "Tee", "amount": 2500}))
        .await;
    let link = link.ok(201).clone();
    assert_eq!(link["created_by"], json!({"type": "user", "id": user_id}));
    assert_eq!(link["livemode"], false);
    let live = as_person(
        &app,
        &token,
        Method::GET,
        &format!("/v1/payment_links/{}", link["id"].as_str().unwrap()),
        None,
        &[("Paylink-Mode", "live")],
    )
    .await;
    live.assert_error(404, "resource_missing");
    // The key sees what the person made.
    app.get(&format!(
        "/v1/payment_links/{}",
        link["id"].as_str().unwrap()
    ))
    .await
    .ok(200);

    // Signing out ends the token at once: a stolen copy is worthless.
    let out = as_person(&app, &token, Method::POST, "/auth/logout", None, &[]).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    person(&app, &token)
        .get("/v1/me")
        .await
        .assert_error(401, "session_invalid");
    as_person(&app, &token, Method::POST, "/auth/logout", None, &[])
        .await
        .assert_error(401, "session_invalid");
    // Each sign-in is a new token.
    let a = login(&app, "dev@acme.example", PW).await.ok(200)["access_token"].clone();
    let b = login(&app, "dev@acme.example", PW).await.ok(200)["access_token"].clone();
    assert_ne!(a, b);
    person(&app, "junk")
        .get("/v1/me")
        .await
        .assert_error(401, "session_invalid");
}

async fn unknown_email_and_wrong_password_answer_alike(app: TestApp) {
    member(&app, None, Role::Owner, "owner@acme.example").await;
    let wrong = login(&app, "owner@acme.example", "not the password at all").await;
    let unknown = login(&app, "nobody@acme.example", "not the password at all").await;
    wrong.assert_error(401, "invalid_credentials");
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.raw, unknown.raw, "byte for byte");
    let strip = |h: &reqwest::header::HeaderMap| {
        let mut names: Vec<String> = h
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| k != "date")
            .collect();
        names.sort();
        names
    };
    assert_eq!(strip(&wrong.headers), strip(&unknown.headers));
    // A merchant the user is not a member of: refused after the password.
    let r = app
        .call(
            None,
            Method::POST,
            "/auth/login",
            Some(json!({"email": "owner@acme.example", "password": PW, "merchant_id": MerchantId::generate()})),
            None,
        )
        .await;
    r.assert_error(400, "parameter_invalid")
        .assert_param("merchant_id");
}

async fn fifty_wrong_passwords_are_throttled(app: TestApp) {
    member(&app, None, Role::Owner, "owner@acme.example").await;
    let mut throttled = None;
    for i in 0..50 {
        let r = login(&app, "owner@acme.example", &format!("wrong password {i}")).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some((i, r));
            break;
        }
        r.assert_error(401, "invalid_credentials");
    }
    let (i, r) = throttled.expect("50 wrong passwords in a row are throttled");
    assert!(i <= 30, "throttled only after {i}");
    r.assert_error(429, "too_many_attempts");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait >= 1);
    // While throttled, even the right password waits: guessing cannot go on.
    login(&app, "owner@acme.example", PW)
        .await
        .assert_error(429, "too_many_attempts");
    // An unknown address is throttled the same way: nothing tells them apart.
    let mut unknown = None;
    for i in 0..50 {
        let r = login(&app, "ghost@acme.example", &format!("wrong password {i}")).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            unknown = Some(r);
            break;
        }
    }
    unknown.unwrap().assert_error(429, "too_many_attempts");
}

async fn a_burst_of_guesses_gets_no_more_tries_and_resets_lock_nobody_out(app: TestApp) {
    member(&app, None, Role::Owner, "owner@acme.example").await;
    // Twenty guesses sent at once: each counts from the moment it is checked, so no more
    // passwords are tried than ten one after the other would.
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let (client, base) = (app.client.clone(), app.base.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{base}/auth/login"))
                    .json(&json!({"email": "owner@acme.example", "password": format!("guess {i}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for g in guesses {
        answers.push(g.await.unwrap());
    }
    let tried = answers.iter().filter(|s| s.as_u16() == 401).count();
    let throttled = answers.iter().filter(|s| s.as_u16() == 429).count();
    assert_eq!(tried + throttled, 20);
    assert!(tried <= 10, "{tried} passwords tried in a burst");
    // Asking for resets of someone's address (anyone can) never locks them out of
    // signing in: those count apart (the client's own limit, 30 a minute, still holds).
    member(&app, None, Role::Viewer, "viewer@acme.example").await;
    for _ in 0..6 {
        app.call(
            None,
            Method::POST,
            "/auth/forgot",
            Some(json!({"email": "viewer@acme.example"})),
            None,
        )
        .await;
    }
    login(&app, "viewer@acme.example", PW).await.ok(200);
}

async fn another_merchants_member_sees_404(app: TestApp) {
    let link = app.custom_link("Ours", 1000).await;
    let product = app.product("Ours", 1000).await;
    app.other_merchant("Rival").await;
    let (rival_id,): (String,) = sqlx::query_as("SELECT id FROM merchants WHERE name = 'Rival'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    member(&app, Some(&rival_id), Role::Owner, "boss@rival.example").await;
    let token = token_of(&app, "boss@rival.example").await;
    for path in [
        format!("/v1/payment_links/{}", link["id"].as_str().unwrap()),
        format!("/v1/products/{}", product["id"].as_str().unwrap()),
    ] {
        person(&app, &token)
            .get(&path)
            .await
            .assert_error(404, "resource_missing");
    }
    let l = person(&app, &token).get("/v1/payment_links").await;
    assert_eq!(l.ok(200)["data"], json!([]));
    let members = person(&app, &token).get("/v1/team/members").await;
    assert_eq!(members.ok(200)["data"].as_array().unwrap().len(), 1);
    // Choosing a merchant one is not a member of at sign-in is refused.
    let r = app
        .call(
            None,
            Method::POST,
            "/auth/login",
            Some(json!({"email": "boss@rival.example", "password": PW, "merchant_id": app.merchant_id})),
            None,
        )
        .await;
    r.assert_error(400, "parameter_invalid");
}

async fn weak_passwords_are_refused(app: TestApp) {
    let token = signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    for (weak, why) in [
        ("short", "too short"),
        ("password1234", "common"),
        ("viewer@acme.example", "the e-mail"),
        ("aaaaaaaaaaaaaaaaaaaa", "repeated"),
    ] {
        let r = person(&app, &token)
            .post(
                "/v1/me/password",
                json!({"current_password": PW, "new_password": weak}),
            )
            .await;
        r.assert_error(422, "password_too_weak")
            .assert_param("new_password");
        assert!(
            !r.raw.windows(weak.len()).any(|w| w == weak.as_bytes()) || weak.len() < 6,
            "{why}: the answer never echoes the password"
        );
    }
    person(&app, &token)
        .post(
            "/v1/me/password",
            json!({"current_password": "nope", "new_password": "a very different passphrase"}),
        )
        .await
        .assert_error(422, "incorrect_password")
        .assert_param("current_password");
}

async fn sessions_are_listed_and_ended_and_a_new_password_ends_the_others(app: TestApp) {
    let first = signed_in(&app, Role::Support, "support@acme.example").await;
    let second = token_of(&app, "support@acme.example").await;
    let third = login(&app, "support@acme.example", PW)
        .await
        .ok(200)
        .clone();
    let listed = person(&app, &first).get("/v1/me/sessions").await;
    let data = listed.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 3);
    assert_eq!(data.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(data
        .iter()
        .all(|s| s["id"].as_str().unwrap().starts_with("ses_")));
    // End the third from the first.
    let third_id = third["session_id"].as_str().unwrap();
    person(&app, &first)
        .delete(&format!("/v1/me/sessions/{third_id}"))
        .await
        .ok(200);
    person(&app, third["access_token"].as_str().unwrap())
        .get("/v1/me")
        .await
        .assert_error(401, "session_invalid");
    // Someone else's session is not found.
    let other = signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let mine = person(&app, &other).get("/v1/me/sessions").await;
    let other_id = mine.body["data"][0]["id"].as_str().unwrap().to_owned();
    person(&app, &first)
        .delete(&format!("/v1/me/sessions/{other_id}"))
        .await
        .assert_error(404, "resource_missing");
    // A new password keeps this session and ends the others.
    let new = "another long unguessable phrase";
    person(&app, &first)
        .post(
            "/v1/me/password",
            json!({"current_password": PW, "new_password": new}),
        )
        .await
        .ok(200);
    person(&app, &first).get("/v1/me").await.ok(200);
    person(&app, &second)
        .get("/v1/me")
        .await
        .assert_error(401, "session_invalid");
    login(&app, "support@acme.example", PW)
        .await
        .assert_error(401, "invalid_credentials");
    login(&app, "support@acme.example", new).await.ok(200);
}
