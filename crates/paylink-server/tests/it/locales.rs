//! Money on the hosted pages as the customer's locale writes it, and amounts typed in it
//! read the same way.

use serde_json::json;

use crate::both;
use crate::helpers::{no_redirects, page_nonce, TestApp};

both!(
    money_is_written_in_the_customer_s_locale,
    a_typed_amount_is_read_in_the_customer_s_locale
);

async fn page_in(app: &TestApp, path: &str, lang: Option<&str>) -> String {
    let mut r = app.client.get(format!("{}{path}", app.base));
    if let Some(l) = lang {
        r = r.header("accept-language", l);
    }
    r.send().await.unwrap().text().await.unwrap()
}

async fn money_is_written_in_the_customer_s_locale(app: TestApp) {
    let eur = app
        .create(
            "/v1/payment_links",
            json!({"title": "Bike", "amount": 100000, "currency": "EUR"}),
        )
        .await;
    let eur = format!("/l/{}", eur["slug"].as_str().unwrap());
    let html = page_in(&app, &eur, Some("de-DE,de;q=0.9,en;q=0.8")).await;
    assert!(html.contains("Pay 1.000,00\u{a0}€"), "{html}");
    assert!(html.contains("data-locale=\"de-DE-u-nu-latn\" data-decimal=\",\""));
    let html = page_in(&app, &eur, Some("en-US")).await;
    assert!(html.contains("Pay €1,000.00"), "{html}");
    let yen = app
        .create(
            "/v1/payment_links",
            json!({"title": "Tea set", "amount": 12800, "currency": "JPY"}),
        )
        .await;
    let yen = format!("/l/{}", yen["slug"].as_str().unwrap());
    assert!(page_in(&app, &yen, Some("en-US"))
        .await
        .contains("Pay ¥12,800"));
    let dinar = app
        .create(
            "/v1/payment_links",
            json!({"title": "Dates", "amount": 13363, "currency": "KWD"}),
        )
        .await;
    let dinar = format!("/l/{}", dinar["slug"].as_str().unwrap());
    assert!(page_in(&app, &dinar, None).await.contains("13.363"));

    // No language from the browser: the merchant's default; a tag that is not one is refused.
    app.patch("/v1/settings", json!({"default_locale": "fr-FR"}))
        .await
        .ok(200);
    let html = page_in(&app, &eur, None).await;
    assert!(html.contains("1\u{202f}000,00\u{a0}€"), "{html}");
    for bad in ["", "!!", "x".repeat(40).as_str(), "de_DE_x"] {
        app.patch("/v1/settings", json!({"default_locale": bad}))
            .await
            .assert_error(400, "parameter_invalid")
            .assert_param("default_locale");
    }
    // Hostile headers fall back rather than fail.
    for lang in ["*", ";;;,,,", "zz-ZZ-u-nu-arab", &"de-".repeat(300)] {
        let html = page_in(&app, &eur, Some(lang)).await;
        assert!(html.contains("Pay "), "{lang}: {html}");
    }
}

/// `25,50` typed on a German page is 25.50, never 2550; an English `1.000` for a currency
/// with two decimals is refused rather than guessed.
async fn a_typed_amount_is_read_in_the_customer_s_locale(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Give", "currency": "EUR", "donation": {"minimum": 100, "maximum": 1000000}}),
        )
        .await;
    let path = format!("/l/{}", l["slug"].as_str().unwrap());
    let no_redirects = no_redirects();
    let submit = |lang: &'static str, amount: &'static str, shown: &'static str| {
        let client = no_redirects.clone();
        let url = format!("{}{path}", app.base);
        let page = page_in(&app, &path, Some(lang));
        async move {
            let nonce = page_nonce(&page.await);
            client
                .post(url)
                .header("accept-language", lang)
                .form(&[
                    ("nonce", nonce.as_str()),
                    ("amount", amount),
                    ("shown_total", shown),
                    ("email", "giver@example.com"),
                    ("card_number", "4242424242424242"),
                    ("card_exp", "12/30"),
                    ("card_cvc", "123"),
                    ("action", "pay"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r = submit("en-US", "1.000", "").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Enter the amount"));
    let r = submit("de-DE", "25,50", "2550").await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let r = submit("en-US", "1,000", "100000").await;
    assert_eq!(r.status(), 303);
    let paid = app.get("/v1/payments").await;
    let mut amounts: Vec<i64> = paid.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["amount"].as_i64().unwrap())
        .collect();
    amounts.sort_unstable();
    assert_eq!(amounts, [2550, 100_000]);
}

/// The page's script reads a typed amount exactly as the server does: one corpus through
/// both readers (`paylinkParseMajor` in static/checkout.js, run by Node, and
/// `Currency::parse_major_in`), in currencies with 0, 2 and 3 decimals and both marks.
#[test]
fn the_page_script_reads_amounts_as_the_server_does() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    if Command::new("node").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "node is required under CI=true (scripts/test installs npm for axe-core)"
        );
        eprintln!("skipping: node not installed");
        return;
    }
    let corpus = [
        "25",
        "25.5",
        "25,50",
        "1,000",
        "1.000",
        "1.000,50",
        "1,000.50",
        "1 000,5",
        "1'000.50",
        "12,34,567.00",
        "0,001",
        "1.5.0",
        "2,5,0",
        "12,34.56",
        "1'5",
        "25 50",
        "1,0000",
        "",
        ",",
        ".5",
        "5.",
        "-1",
        "+5",
        "1e3",
        "１２",
        "٣",
        " 7 ",
        "0.05",
        "00.5",
        "007",
        "1\u{202f}000,00",
        "1\u{a0}000",
        "10,5",
        "100.000.000",
        "1.2.3,4,5",
        "9999999999",
        "0",
        "0,0",
        "1,23,456",
        "123,456,789.1",
        "1.234.567,891",
        "12 345 678",
        "1’234",
    ];
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for code in ["JPY", "USD", "KWD"] {
        let cur = paylink_domain::money::Currency::parse(code).unwrap();
        for decimal in ['.', ','] {
            for text in corpus {
                cases.push(json!([text, cur.exponent(), decimal.to_string()]));
                expected.push(
                    cur.parse_major_in(text, decimal)
                        .map(|a| a.minor().to_string()),
                );
            }
        }
    }
    let runner = r#"
        const vm = require("vm"), fs = require("fs");
        const none = () => null;
        const ctx = {
          document: {
            documentElement: { classList: { add() {} } },
            addEventListener() {}, querySelector: none, getElementById: none,
            querySelectorAll: () => [],
          },
          window: {}, BigInt,
        };
        vm.createContext(ctx);
        vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), ctx);
        const cases = JSON.parse(fs.readFileSync(0, "utf8"));
        process.stdout.write(JSON.stringify(cases.map(c => ctx.paylinkParseMajor(c[0], c[1], c[2]))));
    "#;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/static/checkout.js");
    let mut child = Command::new("node")
        .args(["-e", runner, script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let read: Vec<Option<String>> = serde_json::from_slice(&out.stdout).unwrap();
    for ((case, js), rust) in cases.iter().zip(&read).zip(&expected) {
        assert_eq!(
            js, rust,
            "{case}: the script read {js:?}, the server {rust:?}"
        );
    }
    assert_eq!(read.len(), expected.len());
}
