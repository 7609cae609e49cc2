//! localstripe as the Stripe peer of the Stripe processor's tests: `LocalStripe` starts
//! scripts/localstripe/localstripe_plus.py (localstripe 1.15.10 plus what Paylink needs of
//! Stripe's documented behaviour that localstripe lacks: Idempotency-Key, confirming a
//! PaymentIntent with a card as Stripe.js's `confirmPayment` does, a fake Stripe.js with a
//! Payment Element) on a free port of 127.0.0.1, one process per test.
//!
//! The venv comes from `scripts/lib.sh`'s `ensure_localstripe` (target/localstripe-venv), or
//! `PAYLINK_TEST_LOCALSTRIPE_PYTHON` names a Python that has localstripe.
//!
//! The tests below check the peer itself (no Paylink server): that it does what Stripe's
//! documentation says for everything the processor relies on.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// A running localstripe_plus.py; killed (and its data directory removed) on drop.
pub struct LocalStripe {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    child: Child,
    dir: PathBuf,
    /// target/localstripe-logs/PORT-ID.log: kept when the test fails.
    log: PathBuf,
    http: reqwest::Client,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn form_body(form: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        s.append_pair(k, v);
    }
    s.finish()
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("localstripe answered {status} with non-JSON ({e}): {text}"));
    (status, body)
}

impl LocalStripe {
    /// Starts a fresh instance (empty store, its store file in its own temporary directory)
    /// and waits until it answers.
    pub async fn start() -> Self {
        let python = std::env::var_os("PAYLINK_TEST_LOCALSTRIPE_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target/localstripe-venv/bin/python"));
        assert!(
            python.exists(),
            "no Python with localstripe at {}: run `. scripts/lib.sh; ensure_localstripe` \
             (scripts/lib.sh) or set PAYLINK_TEST_LOCALSTRIPE_PYTHON",
            python.display()
        );
        let script = workspace().join("scripts/localstripe/localstripe_plus.py");
        let id = paylink_domain::id::random_base62();
        let dir = std::env::temp_dir().join(format!("paylink-localstripe-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let logs = workspace().join("target/localstripe-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();

        let mut last_log = PathBuf::new();
        // A port found free may be taken before the child binds it: then another one.
        for _attempt in 0..3 {
            let port = free_port();
            let log_path = logs.join(format!("{port}-{id}.log"));
            let log = std::fs::File::create(&log_path).unwrap();
            let mut child = Command::new(&python)
                .arg(&script)
                .arg(format!("--port={port}"))
                .arg("--host=127.0.0.1")
                .arg(format!(
                    "--data-file={}",
                    dir.join("store.pickle").display()
                ))
                .arg("--from-scratch")
                // localstripe writes nothing else to disk; its cwd is the instance's own.
                .current_dir(&dir)
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
            let base = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if let Ok(r) = http.get(format!("{base}/_paylink/health")).send().await {
                    if r.status().is_success() {
                        return Self {
                            base,
                            child,
                            dir,
                            log: log_path,
                            http,
                        };
                    }
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "localstripe did not answer within 15 s; see {}",
                        log_path.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            last_log = log_path;
        }
        panic!(
            "localstripe exited at start three times; see {}",
            last_log.display()
        );
    }

    /// Where the page loads the fake Stripe.js from (in place of https://js.stripe.com/v3/).
    pub fn js_url(&self) -> String {
        format!("{}/js.stripe.com/v3/", self.base)
    }

    /// What the browser's `stripe.confirmPayment` sends for a card typed in the Payment
    /// Element (expiry 12/34, CVC 123): the status and the PaymentIntent, or the 402 error.
    pub async fn confirm(
        &self,
        publishable_key: &str,
        pi_client_secret: &str,
        card_number: &str,
    ) -> (u16, Value) {
        let body = serde_json::json!({
            "key": publishable_key,
            "client_secret": pi_client_secret,
            "card": {"number": card_number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        });
        let r = self
            .http
            .post(format!("{}/_paylink/confirm_payment", self.base))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        json_of(r).await
    }

    /// The 3-D Secure step of a PaymentIntent in `requires_action`: passed or failed.
    pub async fn authenticate(
        &self,
        publishable_key: &str,
        pi_client_secret: &str,
        success: bool,
    ) -> Value {
        let pi = pi_client_secret.split("_secret_").next().unwrap();
        let body = serde_json::json!({"key": publishable_key, "client_secret": pi_client_secret});
        let r = self
            .http
            .post(format!(
                "{}/v1/payment_intents/{pi}/_authenticate?success={success}",
                self.base
            ))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        json_of(r).await.1
    }

    /// Sends every event to `url`, signed with `secret` (`Stripe-Signature`).
    pub async fn register_webhook(&self, id: &str, url: &str, secret: &str) {
        let r = self
            .http
            .post(format!("{}/_config/webhooks/{id}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(&[("url", url), ("secret", secret)]))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "webhook registration: {r:?}");
    }

    /// `GET` an API path (`/v1/...`) with a secret key; panics unless 200.
    pub async fn get(&self, secret_key: &str, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(secret_key)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(r).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// `POST` a form to an API path with a secret key, as Stripe's clients do.
    pub async fn post(
        &self,
        secret_key: &str,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(secret_key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(form));
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        json_of(req.send().await.unwrap()).await
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A `Stripe-Signature` header value for `body` at unix time `t`, per Stripe's documented
/// scheme: `t={t},v1={hex HMAC-SHA256(secret, "{t}.{body}")}`.
pub fn stripe_signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use fantoccini::Locator;

    use crate::browser::{browser, click, fill, wait_text};

    const SK: &str = "sk_test_paylink";
    const PK: &str = "pk_test_paylink";

    /// A new PaymentIntent of 25.00 EUR: (id, client secret).
    async fn payment_intent(ls: &LocalStripe) -> (String, String) {
        let (status, pi) = ls
            .post(
                SK,
                "/v1/payment_intents",
                &[("amount", "2500"), ("currency", "eur")],
                None,
            )
            .await;
        assert_eq!(status, 200, "{pi}");
        assert_eq!(pi["status"], "requires_payment_method");
        (
            pi["id"].as_str().unwrap().to_owned(),
            pi["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_peer_starts_and_serves_the_payment_element_script() {
        let ls = LocalStripe::start().await;
        let r = reqwest::get(ls.js_url()).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/javascript"));
        let js = r.text().await.unwrap();
        assert!(js.contains("confirmPayment"), "not the adapter: {js:.200}");
        // localstripe's own API is still there, and wants a secret key.
        let (pi, _) = payment_intent(&ls).await;
        let got = ls.get(SK, &format!("/v1/payment_intents/{pi}")).await;
        assert_eq!(got["amount"], 2500);
        let anonymous = reqwest::get(format!("{}/v1/payment_intents/{pi}", ls.base))
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idempotency_key_answers_the_first_response_and_refuses_other_parameters() {
        let ls = LocalStripe::start().await;
        let form = [("amount", "1200"), ("currency", "usd")];
        let (s1, first) = ls
            .post(SK, "/v1/payment_intents", &form, Some("order-1"))
            .await;
        let (s2, second) = ls
            .post(SK, "/v1/payment_intents", &form, Some("order-1"))
            .await;
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(first, second);
        let all = ls.get(SK, "/v1/payment_intents").await;
        assert_eq!(all["data"].as_array().unwrap().len(), 1, "{all}");

        let (s3, refused) = ls
            .post(
                SK,
                "/v1/payment_intents",
                &[("amount", "1300"), ("currency", "usd")],
                Some("order-1"),
            )
            .await;
        assert_eq!(s3, 400, "{refused}");
        assert_eq!(refused["error"]["type"], "idempotency_error");
        assert!(refused["error"]["message"].is_string());

        let (s4, other_path) = ls.post(SK, "/v1/customers", &[], Some("order-1")).await;
        assert_eq!(s4, 400, "{other_path}");
        assert_eq!(other_path["error"]["type"], "idempotency_error");

        // Keys are per API key: another secret key may use the same one.
        let (s5, other_key) = ls
            .post(
                "sk_test_other",
                "/v1/payment_intents",
                &form,
                Some("order-1"),
            )
            .await;
        assert_eq!(s5, 200);
        assert_ne!(other_key["id"], first["id"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_card_payment_succeeds_and_is_partly_refunded() {
        let ls = LocalStripe::start().await;
        // Parameters Stripe documents and localstripe alone refuses are accepted and shown.
        let (status, pi) = ls
            .post(
                SK,
                "/v1/payment_intents",
                &[
                    ("amount", "2500"),
                    ("currency", "eur"),
                    ("description", "Order 42"),
                    ("receipt_email", "buyer@example.com"),
                    ("automatic_payment_methods[enabled]", "true"),
                    ("metadata[order]", "42"),
                ],
                None,
            )
            .await;
        assert_eq!(status, 200, "{pi}");
        assert_eq!(pi["description"], "Order 42");
        assert_eq!(pi["automatic_payment_methods"]["enabled"], true);
        assert_eq!(pi["metadata"]["order"], "42");
        let id = pi["id"].as_str().unwrap().to_owned();
        let cs = pi["client_secret"].as_str().unwrap().to_owned();
        let (status, pi) = ls.confirm(PK, &cs, "4242424242424242").await;
        assert_eq!(status, 200, "{pi}");
        assert_eq!(pi["status"], "succeeded");
        assert_eq!(pi["id"], id.as_str());

        // A wrong client secret is refused.
        let (status, _) = ls
            .confirm(PK, &format!("{id}_secret_nope"), "4242424242424242")
            .await;
        assert_eq!(status, 401);

        let (status, refund) = ls
            .post(
                SK,
                "/v1/refunds",
                &[("payment_intent", &id), ("amount", "1000")],
                None,
            )
            .await;
        assert_eq!(status, 200, "{refund}");
        assert_eq!(refund["amount"], 1000);
        assert_eq!(refund["status"], "succeeded");
        let charge =
            ls.get(SK, &format!("/v1/payment_intents/{id}")).await["latest_charge"].clone();
        let charge_id = charge["id"]
            .as_str()
            .or(charge.as_str())
            .unwrap()
            .to_owned();
        let charge = ls.get(SK, &format!("/v1/charges/{charge_id}")).await;
        assert_eq!(charge["amount_refunded"], 1000);
        assert_eq!(charge["refunded"], false);

        // More than is left is refused; the rest, without an amount, is refunded.
        let (status, refused) = ls
            .post(
                SK,
                "/v1/refunds",
                &[("payment_intent", &id), ("amount", "1600")],
                None,
            )
            .await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(refused["error"]["code"], "amount_too_large");
        let (status, rest) = ls
            .post(SK, "/v1/refunds", &[("payment_intent", &id)], None)
            .await;
        assert_eq!(status, 200, "{rest}");
        assert_eq!(rest["amount"], 1500);
        let charge = ls.get(SK, &format!("/v1/charges/{charge_id}")).await;
        assert_eq!(charge["refunded"], true);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_d_secure_is_passed_or_failed() {
        let ls = LocalStripe::start().await;
        let (_, cs) = payment_intent(&ls).await;
        let (status, pi) = ls.confirm(PK, &cs, "4000002500003155").await;
        assert_eq!(status, 200, "{pi}");
        assert_eq!(pi["status"], "requires_action");
        let pi = ls.authenticate(PK, &cs, true).await;
        assert_eq!(pi["status"], "succeeded", "{pi}");

        let (id, cs) = payment_intent(&ls).await;
        let (_, pi) = ls.confirm(PK, &cs, "4000002500003155").await;
        assert_eq!(pi["status"], "requires_action");
        let pi = ls.authenticate(PK, &cs, false).await;
        assert_ne!(pi["status"], "succeeded", "{pi}");
        assert_eq!(pi["status"], "requires_payment_method");
        assert_eq!(
            pi["last_payment_error"]["code"],
            "payment_intent_authentication_failure"
        );
        let got = ls.get(SK, &format!("/v1/payment_intents/{id}")).await;
        assert!(got["last_payment_error"].is_object(), "{got}");

        // The customer then pays with another card.
        let (status, pi) = ls.confirm(PK, &cs, "4242424242424242").await;
        assert_eq!(status, 200, "{pi}");
        assert_eq!(pi["status"], "succeeded");
        assert!(pi["last_payment_error"].is_null(), "{pi}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn declined_cards_answer_a_card_error_and_leave_the_intent_retryable() {
        let ls = LocalStripe::start().await;
        for card in ["4000000000000341", "4000000000000002"] {
            let (id, cs) = payment_intent(&ls).await;
            let (status, body) = ls.confirm(PK, &cs, card).await;
            assert_eq!(status, 402, "{card}: {body}");
            let error = &body["error"];
            assert_eq!(error["type"], "card_error", "{card}: {body}");
            assert_eq!(error["code"], "card_declined", "{card}");
            assert_eq!(error["decline_code"], "generic_decline", "{card}");
            assert!(error["message"].is_string());
            assert_eq!(error["payment_intent"]["id"], id.as_str());

            let pi = ls.get(SK, &format!("/v1/payment_intents/{id}")).await;
            assert_eq!(pi["status"], "requires_payment_method", "{card}: {pi}");
            assert_eq!(pi["last_payment_error"]["code"], "card_declined", "{card}");
            assert_eq!(
                pi["last_payment_error"]["decline_code"], "generic_decline",
                "{card}"
            );

            let (status, pi) = ls.confirm(PK, &cs, "4242424242424242").await;
            assert_eq!(status, 200, "{card} then a good card: {pi}");
            assert_eq!(pi["status"], "succeeded");
        }
    }

    /// The receiver gets `payment_intent.succeeded`, signed as Stripe documents.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_webhook_receiver_gets_the_signed_success_event() {
        type Got = Arc<Mutex<Vec<(String, String)>>>;
        async fn receive(
            axum::extract::State(got): axum::extract::State<Got>,
            headers: axum::http::HeaderMap,
            body: String,
        ) -> &'static str {
            let signature = headers
                .get("stripe-signature")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            got.lock().unwrap().push((signature, body));
            "ok"
        }
        let got: Got = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(got.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let ls = LocalStripe::start().await;
        let secret = "whsec_test_paylink";
        ls.register_webhook("paylink", &url, secret).await;
        let (id, cs) = payment_intent(&ls).await;
        let (status, _) = ls.confirm(PK, &cs, "4242424242424242").await;
        assert_eq!(status, 200);

        let deadline = Instant::now() + Duration::from_secs(15);
        let (signature, body) = loop {
            let found = got.lock().unwrap().iter().find_map(|(sig, body)| {
                let event: Value = serde_json::from_str(body).ok()?;
                (event["type"] == "payment_intent.succeeded"
                    && event["data"]["object"]["id"] == id.as_str())
                .then(|| (sig.clone(), body.clone()))
            });
            if let Some(found) = found {
                break found;
            }
            assert!(Instant::now() < deadline, "no payment_intent.succeeded");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let t: i64 = signature
            .split(',')
            .find_map(|part| part.strip_prefix("t="))
            .unwrap_or_else(|| panic!("no t= in {signature:?}"))
            .parse()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - t).abs() < 300, "t={t} now={now}");
        assert_eq!(signature, stripe_signature(secret, t, &body));
        assert_ne!(signature, stripe_signature("whsec_other", t, &body));
    }

    /// The fake Stripe.js in Chromium: the Payment Element's inputs, a 3-D Secure card, the
    /// challenge dialog passed, `confirmPayment` resolving with the succeeded PaymentIntent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_fake_stripe_js_pays_with_a_three_d_secure_card_in_a_browser() {
        let Some(b) = browser(800).await else { return };
        let c = &b.client;
        let axe = crate::look::axe_source();
        let ls = LocalStripe::start().await;
        let (id, cs) = payment_intent(&ls).await;
        c.goto(&format!("{}/_paylink/demo?pk={PK}&cs={cs}", ls.base))
            .await
            .unwrap();
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("body[data-ready='true'] #ls-card-number"))
            .await
            .unwrap();
        for (input, label) in [
            ("ls-card-number", "Card number"),
            ("ls-card-expiry", "Expiration date (MM/YY)"),
            ("ls-card-cvc", "Security code (CVC)"),
        ] {
            let text = c
                .find(Locator::Css(&format!("label[for='{input}']")))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(text, label);
        }
        // Nothing typed: a validation_error, without asking the server.
        click(c, "#pay").await;
        wait_text(c, "#result", "error validation_error incomplete_number").await;
        fill(c, "#ls-card-number", "4000 0025 0000 3155").await;
        fill(c, "#ls-card-expiry", "12 / 34").await;
        fill(c, "#ls-card-cvc", "123").await;
        let complete = c
            .execute("return document.body.dataset.complete", vec![])
            .await
            .unwrap();
        assert_eq!(complete, "true");
        // Labels, contrast, unique ids: axe-core finds nothing in the element or the dialog.
        crate::look::look(c, axe.as_deref(), "localstripe-payment-element", "desktop").await;
        click(c, "#pay").await;
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("[role='dialog'][aria-modal='true'] h2"))
            .await
            .unwrap();
        crate::look::look(c, axe.as_deref(), "localstripe-3ds", "desktop").await;
        click(c, "#localstripe-3ds-complete").await;
        wait_text(c, "#result", "succeeded").await;
        let pi = ls.get(SK, &format!("/v1/payment_intents/{id}")).await;
        assert_eq!(pi["status"], "succeeded");
    }
}
