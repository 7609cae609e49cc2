//! The second factor (issue 21): enrolment confirmed by a code, sign-in (JSON and form)
//! needing a current code or a recovery code used once, and turning it off.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use paylink_domain::access::Role;

use crate::accounts::{as_person, login, person, signed_in, PW};
use crate::both;
use crate::cookies::form_login;
use crate::helpers::TestApp;

both!(a_second_factor_guards_the_sign_in);

/// The current code of a base32 TOTP secret.
pub fn code_of(secret: &str) -> String {
    code_at(secret, 0)
}

/// The code of a base32 TOTP secret `steps` 30-second steps from now.
fn code_at(secret: &str, steps: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    let now = paylink_domain::time::Timestamp::now().unix();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .unwrap()
        .generate(u64::try_from(now + steps * 30).unwrap())
}

async fn a_second_factor_guards_the_sign_in(app: TestApp) {
    let token = signed_in(&app, Role::Owner, "owner@acme.example").await;
    let post = |path: &'static str, body: Option<Value>| {
        as_person(&app, &token, Method::POST, path, body, &[])
    };
    let e = post("/v1/me/totp", None).await.ok(200).clone();
    let secret = e["secret"].as_str().unwrap().to_owned();
    assert!(e["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Paylink%3Aowner%40acme.example?secret="));
    // Nor does a right code without the password (a session alone cannot).
    post(
        "/v1/me/totp/confirm",
        Some(json!({"enrollment": e["enrollment"], "code": code_of(&secret), "password": "not the password at all"})),
    )
    .await
    .assert_error(422, "incorrect_password");
    // A wrong code does not turn it on.
    post(
        "/v1/me/totp/confirm",
        Some(json!({"enrollment": e["enrollment"], "code": "000000", "password": PW})),
    )
    .await
    .assert_error(422, "totp_invalid");
    // Another account's enrolment does not either.
    let other = signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    person(&app, &other)
        .post(
            "/v1/me/totp/confirm",
            json!({"enrollment": e["enrollment"], "code": code_of(&secret), "password": PW}),
        )
        .await
        .assert_error(400, "parameter_invalid");
    let on = post(
        "/v1/me/totp/confirm",
        Some(json!({"enrollment": e["enrollment"], "code": code_of(&secret), "password": PW})),
    )
    .await
    .ok(200)
    .clone();
    let codes: Vec<String> = on["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let me = person(&app, &token).get("/v1/me").await;
    assert_eq!(me.ok(200)["totp_enabled"], true);
    post("/v1/me/totp", None)
        .await
        .assert_error(409, "totp_already_enabled");

    // Signing in now needs the code.
    login(&app, "owner@acme.example", PW)
        .await
        .assert_error(401, "totp_required");
    let with = |totp: String| {
        app.call(
            None,
            Method::POST,
            "/auth/login",
            Some(json!({"email": "owner@acme.example", "password": PW, "totp": totp})),
            None,
        )
    };
    with("123456".into())
        .await
        .assert_error(401, "totp_invalid");
    // The form asks for it too.
    let (cookie, res) = form_login(&app, "owner@acme.example", PW).await;
    assert!(cookie.is_none());
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("authenticator app"));
    // A wrong password with a right code is still the same refusal as ever.
    let r = app
        .call(
            None,
            Method::POST,
            "/auth/login",
            Some(json!({"email": "owner@acme.example", "password": "wrong wrong wrong", "totp": code_of(&secret)})),
            None,
        )
        .await;
    r.assert_error(401, "invalid_credentials");
    // The code that confirmed the enrolment (this step's) does not sign in; the next
    // step's does, once: a code seen once is refused for the rest of its window.
    let next = code_at(&secret, 1);
    with(next.clone()).await.ok(200);
    with(next).await.assert_error(401, "totp_invalid");
    with(code_of(&secret))
        .await
        .assert_error(401, "totp_invalid");
    // A recovery code works once.
    with(codes[0].clone()).await.ok(200);
    with(codes[0].clone())
        .await
        .assert_error(401, "totp_invalid");
    with(codes[1].clone()).await.ok(200);

    // Turning it off needs the password.
    post("/v1/me/totp/disable", Some(json!({"password": "nope"})))
        .await
        .assert_error(422, "incorrect_password");
    let off = post("/v1/me/totp/disable", Some(json!({"password": PW}))).await;
    assert_eq!(off.ok(200)["totp_enabled"], false);
    login(&app, "owner@acme.example", PW).await.ok(200);
}
