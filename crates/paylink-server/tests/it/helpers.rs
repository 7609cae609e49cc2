//! Starts the real server against a fresh database and talks HTTP to it.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use paylink_processors::SimulatedProcessor;
use paylink_server::config::Config;
use paylink_store_sql::testing::{Backend, TestDatabase};
use paylink_store_sql::{ConnectOptions, SqlStore};

pub struct TestApp {
    pub db_url: String,
    pub backend: Backend,
    pub base: String,
    pub key: String,
    pub merchant_id: String,
    pub store: Arc<SqlStore>,
    pub client: reqwest::Client,
    /// The processor the server charges through.
    pub processor: Arc<SimulatedProcessor>,
    /// The server's master key (a worker started for it needs the same).
    pub master_key: String,
    shutdown: CancellationToken,
    _db: TestDatabase,
}

/// Runs an async test body on both backends: `both!(name);` expects `async fn name(app: TestApp)`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn(paylink_store_sql::testing::Backend::Sqlite).await;
                    super::$name(app).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let app = $crate::helpers::TestApp::spawn(paylink_store_sql::testing::Backend::Postgres).await;
                    super::$name(app).await;
                }
            }
        )*
    };
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Resp {
    /// Asserts the contract's error object with this status and code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status} {code}, got {}",
            self.body
        );
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        let kind = self.body["error"]["type"].as_str().unwrap();
        assert!(
            !kind.is_empty()
                && self.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
        );
        self
    }

    #[track_caller]
    pub fn assert_param(&self, param: &str) -> &Self {
        assert_eq!(self.body["error"]["param"], param, "body: {}", self.body);
        self
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        &self.body
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::create(backend).await;
        let store = Arc::new(
            SqlStore::connect(&db.url, &ConnectOptions::default())
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config::for_database(&db.url);
        config.public_url = Some(format!("http://{addr}"));
        let master_key = hex::encode(rand::random::<[u8; 32]>());
        config.master_key = Some(master_key.clone().into());
        tweak(&mut config);
        let shutdown = CancellationToken::new();
        let server_store: Arc<dyn paylink_store::Store> = store.clone();
        // The configured latency, as `serve` gives its processor.
        let processor = Arc::new(SimulatedProcessor::new(std::time::Duration::from_millis(
            config.simulated_processor_latency_ms,
        )));
        let quota = governor::Quota::per_second(
            std::num::NonZeroU32::new(config.rate_limit_per_second).unwrap(),
        )
        .allow_burst(
            std::num::NonZeroU32::new(config.rate_limit_burst.max(config.rate_limit_per_second))
                .unwrap(),
        );
        let ip_quota = governor::Quota::per_second(
            std::num::NonZeroU32::new(config.public_rate_limit_per_second).unwrap(),
        )
        .allow_burst(
            std::num::NonZeroU32::new(
                config
                    .public_rate_limit_burst
                    .max(config.public_rate_limit_per_second),
            )
            .unwrap(),
        );
        let state = paylink_server::state::AppState::with_processor(
            server_store,
            config,
            processor.clone(),
            quota,
            ip_quota,
        )
        .unwrap();
        tokio::spawn(paylink_server::serve_state(
            state,
            listener,
            shutdown.clone(),
        ));
        let created =
            paylink_server::demo::create_merchant(store.as_ref(), "Acme", "acme@example.com", None)
                .await
                .unwrap();
        Self {
            db_url: db.url.clone(),
            backend,
            base: format!("http://{addr}"),
            key: created.secret_key,
            merchant_id: created.merchant.id.to_string(),
            store,
            client: reqwest::Client::new(),
            processor,
            master_key,
            shutdown,
            _db: db,
        }
    }

    /// Another merchant on the same server; returns its test secret key.
    pub async fn other_merchant(&self, name: &str) -> String {
        let email = format!("{}@example.com", name.to_lowercase());
        paylink_server::demo::create_merchant(self.store.as_ref(), name, &email, None)
            .await
            .unwrap()
            .secret_key
    }

    pub async fn call(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(i) = idem {
            req = req.header("Idempotency-Key", i);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
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

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Some(&self.key), Method::GET, path, None, None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Some(&self.key), Method::POST, path, Some(body), None)
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Some(&self.key), Method::PATCH, path, Some(body), None)
            .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Some(&self.key), Method::DELETE, path, None, None)
            .await
    }

    /// Creates an object and returns its JSON (asserting 201).
    pub async fn create(&self, path: &str, body: Value) -> Value {
        self.post(path, body).await.ok(201).clone()
    }

    pub async fn product(&self, name: &str, amount: i64) -> Value {
        self.create(
            "/v1/products",
            json!({"name": name, "unit_amount": amount, "currency": "usd"}),
        )
        .await
    }

    pub async fn custom_link(&self, title: &str, amount: i64) -> Value {
        self.create(
            "/v1/payment_links",
            json!({"title": title, "amount": amount}),
        )
        .await
    }

    /// Runs SQL directly on the test database, to set up states that later features
    /// (checkout, payments) will create through the API.
    pub async fn sql(&self, sql: &str) {
        sqlx::query(sql).execute(self.store.pool()).await.unwrap();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// `POST /api/public/links/{slug}/checkout` without a key.
    pub async fn start_checkout(&self, slug: &str, body: Value) -> Resp {
        self.call(
            None,
            Method::POST,
            &format!("/api/public/links/{slug}/checkout"),
            Some(body),
            None,
        )
        .await
    }

    /// A link that takes no more customers: `410 code` when a checkout starts, and a `410`
    /// page that `says` so.
    pub async fn assert_gone(&self, slug: &str, code: &str, says: &str) {
        self.start_checkout(slug, json!({"email": "late@example.com"}))
            .await
            .assert_error(410, code);
        let page = self
            .client
            .get(format!("{}/l/{slug}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 410);
        let html = page.text().await.unwrap();
        assert!(html.contains(says), "{html}");
    }

    /// Pays a session with a card number.
    pub async fn pay_card(&self, session: &Value, number: &str) -> Resp {
        let body = json!({
            "client_secret": session["client_secret"],
            "payment_method": {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2099, "cvc": "123"}},
        });
        self.call(
            None,
            Method::POST,
            &format!(
                "/api/public/checkout_sessions/{}/pay",
                session["id"].as_str().unwrap()
            ),
            Some(body),
            None,
        )
        .await
    }

    /// A live secret key of the app's merchant, minted as an operator would.
    pub async fn live_key(&self) -> String {
        self.live_key_beside(&self.key).await
    }

    /// A live secret key of the merchant whose key `key` is.
    pub async fn live_key_beside(&self, key: &str) -> String {
        let merchant = paylink_store::MerchantStore::find_api_key(
            self.store.as_ref(),
            &paylink_server::auth::hash_key(key),
        )
        .await
        .unwrap()
        .unwrap()
        .merchant_id;
        let (live, record) = paylink_server::auth::new_key(
            &merchant,
            paylink_store::KeyKind::Secret,
            true,
            "live".into(),
            vec![],
        );
        paylink_store::MerchantStore::insert_api_key(self.store.as_ref(), &record)
            .await
            .unwrap();
        live
    }

    /// Starts a checkout with an e-mail and default quantities, then pays it with 4242….
    pub async fn buy(&self, slug: &str) -> (Resp, Option<Resp>) {
        let s = self
            .start_checkout(slug, json!({"email": "buyer@example.com"}))
            .await;
        if s.status != 201 {
            return (s, None);
        }
        let p = self.pay_card(&s.body, "4242424242424242").await;
        (s, Some(p))
    }
}

impl TestApp {
    /// A server whose webhooks may reach this machine, retrying fast.
    pub async fn spawn_for_webhooks(backend: Backend) -> Self {
        Self::spawn_with(backend, |c| {
            c.webhook_allow_networks = Some("127.0.0.0/8".into());
            c.webhook_retry_schedule = Some("100ms,100ms,100ms".into());
            c.webhook_timeout_ms = 700;
            c.webhook_poll_ms = 50;
            c.worker_tick_ms = 200;
        })
        .await
    }

    /// Starts the background worker (stopped with the app).
    pub fn start_worker(&self, tweak: impl FnOnce(&mut Config)) {
        let mut config = Config::for_database("sqlite://unused");
        config.webhook_allow_networks = Some("127.0.0.0/8".into());
        config.webhook_retry_schedule = Some("100ms,100ms,100ms".into());
        config.webhook_timeout_ms = 700;
        config.webhook_poll_ms = 50;
        config.worker_tick_ms = 200;
        config.master_key = Some(self.master_key.clone().into());
        tweak(&mut config);
        let store: Arc<dyn paylink_store::Store> = self.store.clone();
        // The server's processor, as a worker inside `serve` has.
        let state = paylink_server::state::AppState::with(
            store.clone(),
            config.clone(),
            self.processor.clone(),
        )
        .unwrap();
        let worker = paylink_server::worker::WorkerConfig::for_state(state, &config).unwrap();
        tokio::spawn(paylink_server::worker::run(
            store,
            worker,
            self.shutdown.clone(),
        ));
    }
}

/// A client that does not follow redirects: to see where a hosted form sends the customer.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The hidden nonce of a rendered link page (it names the page's checkout session).
pub fn page_nonce(html: &str) -> String {
    let at = html.find("name=\"nonce\" value=\"").unwrap() + "name=\"nonce\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// The real `paylink` binary, without the tests' own `PAYLINK_TEST_POSTGRES_URL`: the binary
/// reads every `PAYLINK_` variable as configuration and refuses one it does not know.
pub fn paylink_command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_paylink"));
    c.env_remove("PAYLINK_TEST_POSTGRES_URL");
    c
}

/// A child process (the real binary, nginx, Redis) killed when the test ends, however it
/// ends.
pub struct Process(pub std::process::Child);

impl Process {
    /// `kill -9`, and waits until it is gone.
    pub fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on 127.0.0.1, for the real binary.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until a server started at `base` answers `/healthz`.
pub async fn wait_up(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server at {base} did not come up");
}
