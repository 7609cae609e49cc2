//! Roles against the route table (issue 21): every route of the merchant API, called by a
//! member of every role, is refused `403` exactly when the role lacks what the route
//! declares; restricted keys never reach the account routes. And the secrets check: after
//! every account flow through the real binary, neither the database nor the server's log
//! holds a password or a token.

use std::io::Write;
use std::process::Stdio;

use reqwest::Method;
use serde_json::{json, Value};

use paylink_domain::access::{Role, ACCOUNT_SCOPES, KEY_SCOPES};
use paylink_server::auth::Access;
use paylink_store_sql::testing::{Backend, TestDatabase};

use crate::accounts::{as_person, signed_in, PW};
use crate::both;
use crate::helpers::{free_port, no_redirects, paylink_command, wait_up, TestApp};

both!(
    every_route_refuses_exactly_the_roles_below_it,
    the_cli_refuses_bad_users
);

/// `paylink args…` with `stdin`: whether it succeeded, and its stdout and stderr.
fn cli_try(db: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = paylink_command()
        .args(args)
        .env("PAYLINK_DATABASE_URL", db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_cli_refuses_bad_users(app: TestApp) {
    let m = app.merchant_id.as_str();
    let create = |email: &str, role: &str, pw: &str| {
        cli_try(
            &app.db_url,
            &[
                "user",
                "create",
                "--merchant",
                m,
                "--email",
                email,
                "--role",
                role,
                "--password-stdin",
            ],
            &format!("{pw}\n"),
        )
    };
    let (ok, out, _) = create("sam@acme.example", "support", PW);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["user_id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(v["role"], "support");
    crate::accounts::login(&app, "sam@acme.example", PW)
        .await
        .ok(200);
    for (email, role, pw, says) in [
        ("x@acme.example", "boss", PW, "not a role"),
        ("x@acme.example", "viewer", "password1234", "too easy"),
        ("x@acme.example", "viewer", "short", "at least 12"),
        ("sam@acme.example", "viewer", PW, "exists"),
        ("not-an-email", "viewer", PW, "email"),
    ] {
        let (ok, _, err) = create(email, role, pw);
        assert!(!ok && err.contains(says), "{email} {role}: {err}");
    }
    let (ok, _, err) = cli_try(
        &app.db_url,
        &["user", "reset-password", "--email", "ghost@acme.example"],
        "",
    );
    assert!(!ok && err.contains("no user"), "{err}");
    let (ok, out, _) = cli_try(
        &app.db_url,
        &["user", "reset-password", "--email", "SAM@acme.example"],
        "",
    );
    assert!(ok);
    let token = out.trim().rsplit('/').next().unwrap().to_owned();
    let r = app
        .call(
            None,
            Method::POST,
            &format!("/auth/reset/{token}"),
            Some(json!({"password": "sam's own new passphrase"})),
            None,
        )
        .await;
    r.ok(200);
    crate::accounts::login(&app, "sam@acme.example", "sam's own new passphrase")
        .await
        .ok(200);
    // The operator's commands are in the audit log.
    let log = app.get("/v1/audit_log?limit=100").await;
    let actions: Vec<&str> = log.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in ["team.members.create", "user.reset_link_created"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

/// The route's path with a well-formed id of its collection's kind (any id: permission is
/// decided before the id is looked at).
fn fill(path: &str) -> String {
    path.replace("{id}", &format!("xyz_{}", "0".repeat(22)))
}

async fn every_route_refuses_exactly_the_roles_below_it(app: TestApp) {
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let email = format!("{role}@acme.example");
        tokens.push((role, signed_in(&app, role, &email).await));
    }
    let restricted = app
        .create(
            "/v1/api_keys",
            json!({"name": "all", "kind": "restricted", "scopes": KEY_SCOPES}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut checked = 0;
    for route in paylink_server::api::routes::table() {
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let path = fill(route.path);
        let body = matches!(method, Method::POST | Method::PATCH).then(|| json!({}));
        for (role, token) in &tokens {
            let allowed = match route.access {
                Access::Scope(scope) => role.holds(scope),
                Access::Person => true,
                Access::Public => panic!("{} is public in the key table", route.path),
            };
            let r = as_person(&app, token, method.clone(), &path, body.clone(), &[]).await;
            let what = format!("{role} {method} {}: {}", route.path, r.body);
            if allowed {
                assert!(
                    r.body["error"]["code"] != "insufficient_permissions",
                    "allowed but refused: {what}"
                );
                assert!(r.status.as_u16() < 500, "{what}");
            } else {
                assert_eq!(r.status.as_u16(), 403, "{what}");
                assert_eq!(
                    r.body["error"]["code"], "insufficient_permissions",
                    "{what}"
                );
            }
            checked += 1;
        }
        // A restricted key with every scope it can carry never reaches an account route.
        if let Access::Scope(scope) = route.access {
            let r = app
                .call(Some(&restricted), method.clone(), &path, body.clone(), None)
                .await;
            if ACCOUNT_SCOPES.contains(&scope) {
                r.assert_error(403, "insufficient_permissions");
            } else {
                assert_ne!(
                    r.body["error"]["code"], "insufficient_permissions",
                    "{method} {}",
                    route.path
                );
            }
        }
    }
    assert!(checked >= 5 * 40, "only {checked} calls");
}

/// The plain-text password `pw` on standard input of `paylink args…`; its JSON or text.
fn cli(db: &str, args: &[&str], pw: Option<&str>) -> String {
    let mut child = paylink_command()
        .args(args)
        .env("PAYLINK_DATABASE_URL", db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(pw) = pw {
        stdin.write_all(format!("{pw}\n").as_bytes()).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "paylink {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn post(base: &str, auth: Option<&str>, path: &str, body: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

mod no_secret_at_rest_or_in_logs {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::no_secret_at_rest_or_in_logs(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::no_secret_at_rest_or_in_logs(Backend::Postgres).await;
    }
}

async fn no_secret_at_rest_or_in_logs(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let master = hex::encode(rand::random::<[u8; 32]>());
    let created: Value = serde_json::from_str(&cli(
        &db.url,
        &[
            "merchant",
            "create",
            "--name",
            "Acme",
            "--email",
            "owner@acme.example",
            "--password-stdin",
        ],
        Some(PW),
    ))
    .unwrap();
    let key = created["secret_key"].as_str().unwrap().to_owned();
    let merchant = created["merchant_id"].as_str().unwrap().to_owned();
    let dev_pw = "developer passphrase number one";
    cli(
        &db.url,
        &[
            "user",
            "create",
            "--merchant",
            &merchant,
            "--email",
            "dev@acme.example",
            "--role",
            "developer",
            "--password-stdin",
        ],
        Some(dev_pw),
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log_path = std::env::temp_dir().join(format!("paylink-log-{port}.txt"));
    let log = std::fs::File::create(&log_path).unwrap();
    // Killed if the test fails half-way; stopped gently below when it does not.
    let mut server = crate::helpers::Process(
        paylink_command()
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("PAYLINK_DATABASE_URL", &db.url)
            .env("PAYLINK_MASTER_KEY", &master)
            .env("PAYLINK_LOG", "trace,hyper=info,h2=info,rustls=info")
            .env("PAYLINK_NO_DEMO", "true")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_up(&reqwest::Client::new(), &base).await;

    let mut secrets: Vec<String> = vec![PW.into(), dev_pw.into(), key.clone()];
    let wrong = "a wrong guess of a password";
    secrets.push(wrong.into());
    let (s, _) = post(
        &base,
        None,
        "/auth/login",
        json!({"email": "owner@acme.example", "password": wrong}),
    )
    .await;
    assert_eq!(s, 401);
    let (s, body) = post(
        &base,
        None,
        "/auth/login",
        json!({"email": "owner@acme.example", "password": PW}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let owner = format!("Token {}", body["access_token"].as_str().unwrap());
    secrets.push(body["access_token"].as_str().unwrap().into());
    let (s, body) = post(
        &base,
        None,
        "/auth/login",
        json!({"email": "dev@acme.example", "password": dev_pw}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    secrets.push(body["access_token"].as_str().unwrap().into());

    // The form: a cookie session and its CSRF token.
    let client = no_redirects();
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    let form_cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let at = html.find("name=\"form_token\" value=\"").unwrap() + 25;
    let form_token = html[at..].split('"').next().unwrap().to_owned();
    let res = client
        .post(format!("{base}/login"))
        .header("Cookie", form_cookie)
        .form(&[
            ("email", "owner@acme.example"),
            ("password", PW),
            ("form_token", &form_token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let cookie_token = cookie.trim_start_matches("paylink_session=").to_owned();
    secrets.push(cookie_token.clone());
    secrets.push(paylink_server::accounts::tokens::csrf(&cookie_token));

    // An invitation accepted, a reset asked for and used, an operator's reset link.
    let (s, _) = post(
        &base,
        Some(&owner),
        "/v1/team/invitations",
        json!({"email": "new@acme.example", "role": "viewer"}),
    )
    .await;
    assert_eq!(s, 201);
    let invite =
        crate::team::mailed_token_at(&base, &key, &master, "invitation", "new@acme.example").await;
    secrets.push(invite.clone());
    let new_pw = "the newcomer's own passphrase";
    secrets.push(new_pw.into());
    let (s, body) = post(
        &base,
        None,
        &format!("/auth/invitations/{invite}/accept"),
        json!({"name": "Nia", "password": new_pw}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = post(
        &base,
        None,
        "/auth/forgot",
        json!({"email": "dev@acme.example"}),
    )
    .await;
    assert_eq!(s, 202);
    let reset =
        crate::team::mailed_token_at(&base, &key, &master, "password_reset", "dev@acme.example")
            .await;
    secrets.push(reset.clone());
    let reset_pw = "developer passphrase number two";
    secrets.push(reset_pw.into());
    let (s, body) = post(
        &base,
        None,
        &format!("/auth/reset/{reset}"),
        json!({"password": reset_pw}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let link = cli(
        &db.url,
        &["user", "reset-password", "--email", "new@acme.example"],
        None,
    );
    let op_token = link.trim().rsplit('/').next().unwrap().to_owned();
    assert_eq!(op_token.len(), 44, "{link}");
    secrets.push(op_token);
    // A second factor: its secret and recovery codes are secrets too.
    let (s, e) = post(&base, Some(&owner), "/v1/me/totp", json!({})).await;
    assert_eq!(s, 200, "{e}");
    let totp_secret = e["secret"].as_str().unwrap().to_owned();
    let (s, on) = post(
        &base,
        Some(&owner),
        "/v1/me/totp/confirm",
        json!({"enrollment": e["enrollment"], "code": crate::totp::code_of(&totp_secret), "password": PW}),
    )
    .await;
    assert_eq!(s, 200, "{on}");
    secrets.push(totp_secret);
    let recovery: Vec<String> = on["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let (s, _) = post(
        &base,
        None,
        "/auth/login",
        json!({"email": "owner@acme.example", "password": PW, "totp": recovery[0]}),
    )
    .await;
    assert_eq!(s, 200);
    secrets.extend(recovery);
    let changed = "owner passphrase after a change";
    secrets.push(changed.into());
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/me/password"))
        .header("Authorization", &owner)
        .json(&json!({"current_password": PW, "new_password": changed}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Stop the server so every log line is written.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status();
    let _ = server.0.wait();
    let logged = std::fs::read(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        String::from_utf8_lossy(&logged).contains("/auth/login"),
        "the log holds the requests"
    );
    let stored = crate::hygiene::dump(&db, backend).await;
    assert!(stored.len() > 1000);
    for secret in &secrets {
        let found = |hay: &[u8]| hay.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(
            !found(&stored),
            "the database holds `{secret}` in plain text"
        );
        assert!(!found(&logged), "the log holds `{secret}`");
    }
}
