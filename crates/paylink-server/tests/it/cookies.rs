//! Cookie sessions (issue 21): the `/login` form's cookie and where it goes on to, CSRF on
//! cookie-authenticated writes, session fixation, and `Secure` behind https.

use reqwest::{Method, StatusCode};
use serde_json::json;

use paylink_domain::access::Role;

use crate::accounts::{into_resp, member, PW};
use crate::both;
use crate::helpers::{no_redirects, TestApp};

both!(
    the_login_form_sets_a_safe_cookie,
    cookie_sessions_need_the_csrf_token,
    a_planted_session_cookie_is_never_signed_in,
    behind_https_the_cookie_is_secure,
    the_login_form_goes_on_to_next_inside_the_dashboard_only,
);

/// [`form_login`] from the page at `path` (`/login?next=…`), posting where its form says.
pub async fn form_login_at(
    app: &TestApp,
    path: &str,
    email: &str,
    password: &str,
) -> (Option<String>, reqwest::Response) {
    let client = no_redirects();
    let page = client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let form_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("paylink_form="))
        .unwrap();
    let form_cookie = form_cookie.split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let at = html.find("name=\"form_token\" value=\"").unwrap() + 25;
    let form_token = html[at..].split('"').next().unwrap().to_owned();
    let at = html.find("action=\"").unwrap() + 8;
    let action = html[at..].split('"').next().unwrap().replace("&amp;", "&");
    let res = client
        .post(format!("{}{action}", app.base))
        .header("Cookie", form_cookie)
        .form(&[
            ("email", email),
            ("password", password),
            ("form_token", &form_token),
        ])
        .send()
        .await
        .unwrap();
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("paylink_session="));
    (session, res)
}

/// The `paylink_session` cookie of a sign-in through the form, and the answer.
pub async fn form_login(
    app: &TestApp,
    email: &str,
    password: &str,
) -> (Option<String>, reqwest::Response) {
    form_login_at(app, "/login", email, password).await
}

async fn the_login_form_sets_a_safe_cookie(app: TestApp) {
    member(&app, None, Role::Admin, "admin@acme.example").await;
    let (cookie, res) = form_login(&app, "admin@acme.example", PW).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/dashboard");
    let cookie = cookie.unwrap();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    // The app's public URL is http: no Secure flag (it would never be sent back).
    assert!(!cookie.contains("Secure"), "{cookie}");
    // A wrong password re-renders the form with the same words as the API.
    let (none, res) = form_login(&app, "admin@acme.example", "wrong wrong wrong").await;
    assert!(none.is_none());
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Incorrect e-mail or password"));
    // Posted from another site (no form cookie): refused, nobody signed in.
    let res = no_redirects()
        .post(format!("{}/login", app.base))
        .form(&[
            ("email", "admin@acme.example"),
            ("password", PW),
            ("form_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("paylink_session")));
    // The pages render.
    for path in ["/forgot", "/login"] {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
    }
    let r = app
        .client
        .get(format!("{}/reset/nonsense", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn cookie_sessions_need_the_csrf_token(app: TestApp) {
    member(&app, None, Role::Developer, "dev@acme.example").await;
    let (cookie, _) = form_login(&app, "dev@acme.example", PW).await;
    let cookie = cookie.unwrap().split(';').next().unwrap().to_owned();
    let token = cookie.trim_start_matches("paylink_session=").to_owned();
    let send = |method: Method, path: &str, csrf: Option<String>| {
        let mut req = app
            .client
            .request(method, format!("{}{path}", app.base))
            .header("Cookie", cookie.clone());
        if let Some(c) = csrf {
            req = req.header("X-CSRF-Token", c);
        }
        req
    };
    // Reading needs no CSRF token.
    let r = into_resp(send(Method::GET, "/v1/me", None).send().await.unwrap()).await;
    r.ok(200);
    // Writing does.
    let body = json!({"title": "Tee", "amount": 2500});
    let r = into_resp(
        send(Method::POST, "/v1/payment_links", None)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(403, "csrf_failed");
    let r = into_resp(
        send(Method::POST, "/v1/payment_links", Some("0".repeat(32)))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(403, "csrf_failed");
    let csrf = paylink_server::accounts::tokens::csrf(&token);
    let r = into_resp(
        send(Method::POST, "/v1/payment_links", Some(csrf.clone()))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.ok(201);
    // Logging out with the cookie needs it too; then the cookie is dead.
    let r = into_resp(
        send(Method::POST, "/auth/logout", None)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(403, "csrf_failed");
    let r = send(Method::POST, "/auth/logout", Some(csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let r = into_resp(send(Method::GET, "/v1/me", None).send().await.unwrap()).await;
    r.assert_error(401, "session_invalid");
}

async fn a_planted_session_cookie_is_never_signed_in(app: TestApp) {
    member(&app, None, Role::Owner, "owner@acme.example").await;
    // An attacker plants a token of their choosing in the victim's browser…
    let planted = "A".repeat(44);
    let client = no_redirects();
    let page = client
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
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
        .post(format!("{}/login", app.base))
        .header(
            "Cookie",
            format!("{form_cookie}; paylink_session={planted}"),
        )
        .form(&[
            ("email", "owner@acme.example"),
            ("password", PW),
            ("form_token", &form_token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // …the sign-in answers a new token of its own, and the planted one stays nobody's.
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(!cookie.contains(&planted), "{cookie}");
    let r = app
        .client
        .get(format!("{}/v1/me", app.base))
        .header("Cookie", format!("paylink_session={planted}"))
        .send()
        .await
        .unwrap();
    into_resp(r).await.assert_error(401, "session_invalid");
}

async fn behind_https_the_cookie_is_secure(app: TestApp) {
    // The same server behind an https public URL (a proxy in front): Secure cookies.
    let app = TestApp::spawn_with(app.backend, |c| {
        c.public_url = Some("https://pay.example".into());
    })
    .await;
    member(&app, None, Role::Owner, "owner@acme.example").await;
    let (cookie, _) = form_login(&app, "owner@acme.example", PW).await;
    let cookie = cookie.unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
}

async fn the_login_form_goes_on_to_next_inside_the_dashboard_only(app: TestApp) {
    member(&app, None, Role::Viewer, "viewer@acme.example").await;
    for (next, lands) in [
        (
            "%2Fdashboard%2Flinks%3Fstatus%3Dactive",
            "/dashboard/links?status=active",
        ),
        ("https%3A%2F%2Fevil.example%2Fdashboard", "/dashboard"),
        ("%2F%2Fevil.example", "/dashboard"),
    ] {
        let path = format!("/login?next={next}");
        let (cookie, res) = form_login_at(&app, &path, "viewer@acme.example", PW).await;
        assert!(cookie.is_some());
        assert_eq!(res.headers()["location"], lands, "{next}");
    }
}
