//! The dashboard at two sizes of a merchant: its home page (funnel, needs attention,
//! takings, newest payments and links) and its links list, signed in with a session
//! cookie, with 1,000 links and with `Settings::large` of them. Every figure on the home
//! page is read from an index or a row a day, so the large figure should stay within 1.5×
//! of the small one.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::load::{run, Measure};
use crate::{seed, start_paylink, Row, Settings};

const PASSWORD: &str = "bench desk password 9f2c";

/// A merchant with an owner who signs in with `email` and [`PASSWORD`]; its secret key.
fn owner(bin: &std::path::Path, db: &str, email: &str) -> anyhow::Result<String> {
    let mut child = Command::new(bin)
        .args([
            "merchant",
            "create",
            "--name",
            "Bench desk",
            "--email",
            email,
            "--password-stdin",
            "--database-url",
            db,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(PASSWORD.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "merchant create --password-stdin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    Ok(v["secret_key"].as_str().unwrap_or_default().to_owned())
}

/// The session token of `email`, signed in through the API (`POST /auth/login`).
async fn sign_in(client: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<String> {
    let v: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    v["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("sign-in refused: {v}"))
}

pub async fn figures(
    bin: &std::path::Path,
    db: &str,
    client: &reqwest::Client,
    s: &Settings,
) -> anyhow::Result<Vec<Row>> {
    let email = "desk@bench.example";
    let key = owner(bin, db, email)?;
    let (server, base) = start_paylink(bin, db, 0, 1_000).await?;
    let cookie = format!("paylink_session={}", sign_in(client, &base, email).await?);
    // A few payments, so the home page has takings, top links and a funnel to read.
    let link: Value = client
        .post(format!("{base}/v1/payment_links"))
        .bearer_auth(&key)
        .json(&json!({"title": "Desk", "amount": 1000, "payments_limit": 100000}))
        .send()
        .await?
        .json()
        .await?;
    let slug = link["slug"].as_str().unwrap_or_default().to_owned();
    for _ in 0..20 {
        let _ = client.get(format!("{base}/l/{slug}")).send().await?;
        let session: Value = client
            .post(format!("{base}/api/public/links/{slug}/checkout"))
            .json(&json!({"email": "buyer@example.com"}))
            .send()
            .await?
            .json()
            .await?;
        if let Some(id) = session["id"].as_str() {
            let pay = json!({"client_secret": session["client_secret"], "payment_method": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}}});
            let _ = client
                .post(format!("{base}/api/public/checkout_sessions/{id}/pay"))
                .json(&pay)
                .send()
                .await?;
        }
    }
    let page = |path: &str| {
        let (url, cookie) = (format!("{base}{path}"), cookie.clone());
        move |c: &reqwest::Client, _: u64| c.get(url.clone()).header("cookie", cookie.clone())
    };
    // Signed in for real: the home page itself, with its funnel (not the sign-in page a
    // missing cookie is sent to).
    let home = client
        .get(format!("{base}/dashboard"))
        .header("cookie", cookie.clone())
        .send()
        .await?;
    anyhow::ensure!(
        home.url().path() == "/dashboard" && home.text().await?.contains("id=\"funnel-views\""),
        "the dashboard did not answer signed in"
    );
    let small = s.large.min(1_000);
    seed::varied_links(db, &key, small.saturating_sub(1)).await?;
    let home_small = run(client, 16, s, page("/dashboard")).await;
    let list_small = run(client, 16, s, page("/dashboard/links")).await;
    seed::varied_links(db, &key, s.large - small).await?;
    let home_large = run(client, 16, s, page("/dashboard")).await;
    let list_large = run(client, 16, s, page("/dashboard/links")).await;
    drop(server);
    let ratio = |a: &Measure, b: &Measure| format!("p99 × {:.2}", b.p99_ms / a.p99_ms);
    let row = |figure: String, ours: Measure, target: &'static str| Row {
        figure,
        ours,
        baseline: None,
        target,
    };
    Ok(vec![
        row(
            format!("dashboard home, {small} links (signed in, 16 conns)"),
            home_small.clone(),
            "",
        ),
        row(
            format!(
                "dashboard home, {} links ({})",
                s.large,
                ratio(&home_small, &home_large)
            ),
            home_large,
            "within 1.5×",
        ),
        row(
            format!("dashboard links list, {small} links (signed in, 16 conns)"),
            list_small.clone(),
            "",
        ),
        row(
            format!(
                "dashboard links list, {} links ({})",
                s.large,
                ratio(&list_small, &list_large)
            ),
            list_large,
            "within 1.5×",
        ),
    ])
}
