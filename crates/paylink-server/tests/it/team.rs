//! The team (issue 21): invitations used once within 7 days, roles changed and members
//! removed under the owner rules, password resets used once within the hour, and the audit
//! log that records it all.

use reqwest::Method;
use serde_json::{json, Value};

use paylink_domain::access::Role;

use crate::accounts::{login, member, person, signed_in, token_of, PW};
use crate::both;
use crate::helpers::TestApp;

/// The token of the newest `kind` e-mail to `to` in the outbox (its body is sealed: opened
/// here with the server's master key, as the worker does to send it).
pub async fn mailed_token(app: &TestApp, kind: &str, to: &str) -> String {
    mailed_token_at(&app.base, &app.key, &app.master_key, kind, to).await
}

/// [`mailed_token`] of the server at `base`, read with `key`. Resets are queued after the
/// answer: it waits for one up to five seconds.
pub async fn mailed_token_at(base: &str, key: &str, master: &str, kind: &str, to: &str) -> String {
    let client = reqwest::Client::new();
    let mut tries = 0;
    let email = loop {
        let l: Value = client
            .get(format!("{base}/v1/emails?limit=100"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found = l["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind && e["to"] == to)
            .cloned();
        match found {
            Some(e) => break e,
            None if tries < 100 => tries += 1,
            None => panic!("no {kind} e-mail to {to}: {l}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let sealed = email["text_body"].as_str().unwrap();
    assert!(sealed.starts_with("enc1:"), "kept sealed: {sealed}");
    let k = paylink_server::secrets::parse_key(master).unwrap();
    let text = paylink_server::secrets::Sealer::new(&k)
        .open(sealed, email["id"].as_str().unwrap())
        .unwrap();
    let marker = if kind == "invitation" {
        "/invite/"
    } else {
        "/reset/"
    };
    let at = text.find(marker).unwrap() + marker.len();
    text[at..at + 44].to_owned()
}

async fn do_reset(app: &TestApp, token: &str, password: &str) -> crate::helpers::Resp {
    app.call(
        None,
        Method::POST,
        &format!("/auth/reset/{token}"),
        Some(json!({"password": password})),
        None,
    )
    .await
}

async fn accept(app: &TestApp, token: &str, body: Value) -> crate::helpers::Resp {
    app.call(
        None,
        Method::POST,
        &format!("/auth/invitations/{token}/accept"),
        Some(body),
        None,
    )
    .await
}

both!(
    invitations_are_used_once_within_seven_days,
    the_last_owner_stays_and_admins_leave_owners_alone,
    password_resets_are_used_once_within_the_hour,
    the_audit_log_records_writes_and_sign_ins,
    someone_with_an_account_joins_a_second_merchant,
);

async fn invitations_are_used_once_within_seven_days(app: TestApp) {
    let admin = signed_in(&app, Role::Admin, "admin@acme.example").await;
    let inv = person(&app, &admin)
        .post(
            "/v1/team/invitations",
            json!({"email": "New@Acme.example", "role": "developer"}),
        )
        .await;
    let inv = inv.ok(201).clone();
    assert!(inv["id"].as_str().unwrap().starts_with("inv_"));
    assert_eq!(inv["email"], "new@acme.example");
    let listed = person(&app, &admin).get("/v1/team/invitations").await;
    assert_eq!(listed.ok(200)["data"].as_array().unwrap().len(), 1);
    let token = mailed_token(&app, "invitation", "new@acme.example").await;
    // The invitation's e-mail is in the outbox of those who manage the team, not in a
    // viewer's (nor of a key that may read links but not the team).
    let kinds = |r: crate::helpers::Resp| {
        r.ok(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    assert!(kinds(person(&app, &admin).get("/v1/emails").await).contains(&"invitation".into()));
    let viewer = signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    assert!(!kinds(person(&app, &viewer).get("/v1/emails").await).contains(&"invitation".into()));
    // The page shows the invitation.
    let page = app
        .client
        .get(format!("{}/invite/{token}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("as developer"));
    // A weak password is refused, and the invitation stays usable.
    accept(
        &app,
        &token,
        json!({"name": "Nia", "password": "password1234"}),
    )
    .await
    .assert_error(422, "password_too_weak")
    .assert_param("password");
    let joined = accept(&app, &token, json!({"name": "Nia", "password": PW})).await;
    assert_eq!(joined.ok(200)["memberships"][0]["role"], "developer");
    // Used once.
    accept(&app, &token, json!({"name": "Nia", "password": PW}))
        .await
        .assert_error(404, "resource_missing");
    let page = app
        .client
        .get(format!("{}/invite/{token}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    let dev = token_of(&app, "new@acme.example").await;
    // A developer manages links but not the team.
    person(&app, &dev).get("/v1/team/members").await.ok(200);
    person(&app, &dev)
        .post(
            "/v1/team/invitations",
            json!({"email": "x@acme.example", "role": "viewer"}),
        )
        .await
        .assert_error(403, "insufficient_permissions");
    // Already a member: no second invitation.
    person(&app, &admin)
        .post(
            "/v1/team/invitations",
            json!({"email": "new@acme.example", "role": "viewer"}),
        )
        .await
        .assert_error(409, "already_member");

    // Expired after 7 days.
    person(&app, &admin)
        .post(
            "/v1/team/invitations",
            json!({"email": "late@acme.example", "role": "viewer"}),
        )
        .await
        .ok(201);
    let late = mailed_token(&app, "invitation", "late@acme.example").await;
    app.sql("UPDATE invitations SET expires_at = created_at - 1 WHERE email = 'late@acme.example'")
        .await;
    accept(&app, &late, json!({"name": "Lee", "password": PW}))
        .await
        .assert_error(404, "resource_missing");
    // Revoked.
    let r = person(&app, &admin)
        .post(
            "/v1/team/invitations",
            json!({"email": "gone@acme.example", "role": "viewer"}),
        )
        .await;
    let id = r.ok(201)["id"].as_str().unwrap().to_owned();
    let gone = mailed_token(&app, "invitation", "gone@acme.example").await;
    person(&app, &admin)
        .delete(&format!("/v1/team/invitations/{id}"))
        .await
        .ok(200);
    person(&app, &admin)
        .delete(&format!("/v1/team/invitations/{id}"))
        .await
        .assert_error(404, "resource_missing");
    accept(&app, &gone, json!({"name": "Gus", "password": PW}))
        .await
        .assert_error(404, "resource_missing");
    accept(&app, "not-a-token", json!({"name": "Gus", "password": PW}))
        .await
        .assert_error(404, "resource_missing");
}

async fn the_last_owner_stays_and_admins_leave_owners_alone(app: TestApp) {
    let owner_id = member(&app, None, Role::Owner, "owner@acme.example").await;
    let owner = token_of(&app, "owner@acme.example").await;
    let admin_id = member(&app, None, Role::Admin, "admin@acme.example").await;
    let admin = token_of(&app, "admin@acme.example").await;
    let path = |id: &str| format!("/v1/team/members/{id}");
    // The last owner can be neither demoted nor removed, even by themselves.
    person(&app, &owner)
        .patch(&path(&owner_id), json!({"role": "admin"}))
        .await
        .assert_error(409, "last_owner");
    person(&app, &owner)
        .delete(&path(&owner_id))
        .await
        .assert_error(409, "last_owner");
    // Admins cannot touch owners, nor make one.
    person(&app, &admin)
        .patch(&path(&owner_id), json!({"role": "viewer"}))
        .await
        .assert_error(403, "insufficient_permissions");
    person(&app, &admin)
        .delete(&path(&owner_id))
        .await
        .assert_error(403, "insufficient_permissions");
    person(&app, &admin)
        .patch(&path(&admin_id), json!({"role": "owner"}))
        .await
        .assert_error(403, "insufficient_permissions");
    person(&app, &admin)
        .post(
            "/v1/team/invitations",
            json!({"email": "boss@acme.example", "role": "owner"}),
        )
        .await
        .assert_error(403, "insufficient_permissions");
    // The owner promotes the admin; then the first owner may step down.
    let r = person(&app, &owner)
        .patch(&path(&admin_id), json!({"role": "owner"}))
        .await;
    assert_eq!(r.ok(200)["role"], "owner");
    person(&app, &owner)
        .patch(&path(&owner_id), json!({"role": "viewer"}))
        .await
        .ok(200);
    // The demoted owner's session now carries the viewer's role.
    person(&app, &owner)
        .post(
            "/v1/products",
            json!({"name": "X", "unit_amount": 100, "currency": "usd"}),
        )
        .await
        .assert_error(403, "insufficient_permissions");
    // Removed: their sessions on the merchant end.
    person(&app, &admin).delete(&path(&owner_id)).await.ok(200);
    person(&app, &owner)
        .get("/v1/me")
        .await
        .assert_error(401, "session_invalid");
    person(&app, &admin)
        .delete(&path(&owner_id))
        .await
        .assert_error(404, "resource_missing");
    let members = person(&app, &admin).get("/v1/team/members").await;
    let data = members.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["role"], "owner");
    assert!(data[0].get("password_hash").is_none());
}

async fn password_resets_are_used_once_within_the_hour(app: TestApp) {
    let token = signed_in(&app, Role::Developer, "dev@acme.example").await;
    let forgot = |email: &'static str| {
        app.call(
            None,
            Method::POST,
            "/auth/forgot",
            Some(json!({"email": email})),
            None,
        )
    };
    let known = forgot("dev@acme.example").await;
    let unknown = forgot("ghost@acme.example").await;
    assert_eq!(known.status.as_u16(), 202);
    assert_eq!(
        known.raw, unknown.raw,
        "the same answer whether the account exists"
    );
    let reset = mailed_token(&app, "password_reset", "dev@acme.example").await;
    let new = "a brand new passphrase here";
    do_reset(&app, &reset, "password1234")
        .await
        .assert_error(422, "password_too_weak");
    do_reset(&app, &reset, new).await.ok(200);
    // Once only; every session ended; the new password works.
    do_reset(&app, &reset, new)
        .await
        .assert_error(404, "resource_missing");
    person(&app, &token)
        .get("/v1/me")
        .await
        .assert_error(401, "session_invalid");
    login(&app, "dev@acme.example", PW)
        .await
        .assert_error(401, "invalid_credentials");
    login(&app, "dev@acme.example", new).await.ok(200);
    // Expired after an hour.
    forgot("dev@acme.example").await;
    let mut late = reset.clone();
    for _ in 0..100 {
        late = mailed_token(&app, "password_reset", "dev@acme.example").await;
        if late != reset {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_ne!(late, reset);
    app.sql("UPDATE password_resets SET expires_at = created_at - 1")
        .await;
    do_reset(&app, &late, new)
        .await
        .assert_error(404, "resource_missing");
}

async fn the_audit_log_records_writes_and_sign_ins(app: TestApp) {
    let owner_id = member(&app, None, Role::Owner, "owner@acme.example").await;
    login(&app, "owner@acme.example", "wrong wrong wrong").await;
    let owner = token_of(&app, "owner@acme.example").await;
    let link = person(&app, &owner)
        .post("/v1/payment_links", json!({"title": "Tee", "amount": 100}))
        .await;
    let link_id = link.ok(201)["id"].as_str().unwrap().to_owned();
    let key = app
        .create(
            "/v1/api_keys",
            json!({"name": "ci", "kind": "restricted", "scopes": ["payments:read"]}),
        )
        .await;
    let log = person(&app, &owner).get("/v1/audit_log?limit=100").await;
    let data = log.ok(200)["data"].as_array().unwrap().clone();
    let find = |action: &str| data.iter().find(|e| e["action"] == action).cloned();
    let failed = find("user.login_failed").expect("failed sign-in recorded");
    assert_eq!(failed["actor"]["id"], owner_id.as_str());
    assert_eq!(failed["ip"], "127.0.0.1");
    assert!(find("user.login").is_some());
    let created = find("payment_links.create").unwrap();
    assert_eq!(created["object_id"], link_id.as_str());
    assert_eq!(created["actor"], json!({"type": "user", "id": owner_id}));
    let k = find("api_keys.create").unwrap();
    assert_eq!(k["object_id"], key["id"]);
    assert_eq!(k["actor"]["type"], "api_key");
    assert!(data
        .iter()
        .all(|e| e["id"].as_str().unwrap().starts_with("aud_")));
    // Filters.
    let by_action = person(&app, &owner)
        .get("/v1/audit_log?action=user.login")
        .await;
    assert!(by_action.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["action"] == "user.login"));
    let by_actor = person(&app, &owner)
        .get(&format!("/v1/audit_log?actor_id={owner_id}"))
        .await;
    assert!(by_actor.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"]["id"] == owner_id.as_str()));
    let future = person(&app, &owner)
        .get("/v1/audit_log?created[gte]=2100-01-01T00:00:00Z")
        .await;
    assert_eq!(future.ok(200)["data"], json!([]));
    // Cursor pagination.
    let first = person(&app, &owner).get("/v1/audit_log?limit=1").await;
    assert_eq!(first.ok(200)["has_more"], true);
    let after = first.body["data"][0]["id"].as_str().unwrap();
    let next = person(&app, &owner)
        .get(&format!("/v1/audit_log?limit=1&starting_after={after}"))
        .await;
    assert_ne!(next.ok(200)["data"][0]["id"], first.body["data"][0]["id"]);
    // Owners and admins only.
    let viewer = signed_in(&app, Role::Developer, "dev@acme.example").await;
    person(&app, &viewer)
        .get("/v1/audit_log")
        .await
        .assert_error(403, "insufficient_permissions");
}

async fn someone_with_an_account_joins_a_second_merchant(app: TestApp) {
    // A member of another merchant, invited here, proves it with their own password.
    app.other_merchant("Elsewhere").await;
    let (other_id,): (String,) =
        sqlx::query_as("SELECT id FROM merchants WHERE name = 'Elsewhere'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    member(&app, Some(&other_id), Role::Owner, "pat@elsewhere.example").await;
    // Keys change the team only in live mode, and never make an owner.
    let invite = |role: &str| json!({"email": "Pat@Elsewhere.example", "role": role});
    app.post("/v1/team/invitations", invite("support"))
        .await
        .assert_error(403, "insufficient_permissions");
    let live = app.live_key().await;
    let as_live = |body: Value| {
        app.call(
            Some(&live),
            Method::POST,
            "/v1/team/invitations",
            Some(body),
            None,
        )
    };
    as_live(invite("owner"))
        .await
        .assert_error(403, "insufficient_permissions");
    as_live(invite("support")).await.ok(201);
    let token = mailed_token(&app, "invitation", "pat@elsewhere.example").await;
    accept(&app, &token, json!({"password": "not my password at all"}))
        .await
        .assert_error(401, "invalid_credentials");
    let joined = accept(&app, &token, json!({"password": PW})).await;
    let memberships = joined.ok(200)["memberships"].as_array().unwrap().clone();
    assert_eq!(memberships.len(), 2);
    // Signing in picks the merchant; the oldest membership without one.
    let here = app
        .call(
            None,
            Method::POST,
            "/auth/login",
            Some(json!({"email": "pat@elsewhere.example", "password": PW, "merchant_id": app.merchant_id})),
            None,
        )
        .await;
    let token = here.ok(200)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(here.body["merchant_id"], app.merchant_id);
    let me = person(&app, &token).get("/v1/team/members").await;
    assert!(me.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["email"] == "pat@elsewhere.example" && m["role"] == "support"));
    // Support may not create links here.
    person(&app, &token)
        .post("/v1/payment_links", json!({"title": "Nope", "amount": 100}))
        .await
        .assert_error(403, "insufficient_permissions");
    let default = login(&app, "pat@elsewhere.example", PW).await;
    assert_eq!(default.ok(200)["merchant_id"], other_id.as_str());
}
