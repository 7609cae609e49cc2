//! A stream of customers through the real binary, killed with SIGKILL while payments are
//! with the processor and started again on the same database.
//!
//! Customers behave as people at a browser do: a request that fails is sent again with the
//! same session, a payment in progress is waited for, a declined card is followed by
//! another, and some who lose their answer in the crash leave for good; their sessions run
//! out and the worker settles what they left with the processor. The processor keeps its
//! own ledger, in a file that outlives the process. `audit` then checks every answer
//! against the database and the ledger.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use paylink_store_sql::testing::{Backend, TestDatabase};
use paylink_store_sql::{ConnectOptions, SqlStore};

use super::audit::{self, Chosen, Crash, Links, Outcome};
use super::ledger;
use super::{merchant, paylink, Process};
use crate::helpers::{free_port, wait_up};

/// Customers in all, and how many are at the checkout at once.
const CUSTOMERS: usize = 300;
const AT_ONCE: usize = 12;
/// Each processor call: half before the charge is made, half before its answer arrives.
const LATENCY_MS: &str = "400";
/// Uses of the limited link and units of the product: both sell out during the stream.
pub(super) const LIMIT: u64 = 40;
pub(super) const STOCK: u64 = 30;
/// No customer is still at it after this.
const PATIENCE: Duration = Duration::from_secs(60);

const CARD_OK: &str = "4242424242424242";
const CARD_DECLINED: &str = "4000000000000002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_customers_survives_a_kill_sqlite() {
    stream(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_customers_survives_a_kill_postgres() {
    stream(Backend::Postgres).await;
}

/// How the binary is started, each time the same (and the ledger, removed when dropped).
struct Setup {
    db: String,
    master: String,
    bind: String,
    ledger: String,
}

impl Setup {
    fn env(&self) -> [(&str, &str); 4] {
        [
            ("PAYLINK_SIMULATED_PROCESSOR_LATENCY_MS", LATENCY_MS),
            ("PAYLINK_SIMULATED_PROCESSOR_LEDGER", &self.ledger),
            // Every customer comes from 127.0.0.1.
            ("PAYLINK_PUBLIC_RATE_LIMIT_PER_SECOND", "100000"),
            ("PAYLINK_PUBLIC_RATE_LIMIT_BURST", "100000"),
        ]
    }

    /// `paylink serve`, with its worker as deployed.
    fn serve(&self) -> Process {
        paylink(
            &self.db,
            &self.master,
            &self.env(),
            &["serve", "--bind", &self.bind],
        )
    }

    /// `paylink worker` alone, taking attempts unanswered for a second as stranded (the
    /// customers are gone by then).
    fn worker(&self) -> Process {
        let mut env = self.env().to_vec();
        // A worker writes link URLs into events: it is told the server's.
        let public = format!("http://{}", self.bind);
        env.extend([
            ("PAYLINK_WORKER_TICK_MS", "200"),
            ("PAYLINK_ATTEMPT_STALE_AFTER_SECS", "1"),
            ("PAYLINK_PUBLIC_URL", &public),
        ]);
        paylink(&self.db, &self.master, &env, &["worker"])
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ledger);
    }
}

/// What the customers share: where to go, and what the test watches.
struct Street {
    base: String,
    client: reqwest::Client,
    slugs: Vec<String>,
    next: AtomicUsize,
    finished: AtomicUsize,
    /// Pay requests sent and not yet answered.
    paying: AtomicUsize,
    /// Requests that lost their connection.
    cut: AtomicUsize,
    until: Instant,
    /// Chosen by the test to leave, or to stay, when their payment is cut.
    chosen: std::sync::Mutex<Option<Chosen>>,
}

impl Street {
    /// Whether the customer paying `session` leaves when the answer is lost, if the test
    /// chose.
    fn leaves(&self, session: &str) -> Option<bool> {
        let chosen = self.chosen.lock().unwrap();
        let c = chosen.as_ref()?;
        (c.leaves == session || c.stays == session).then(|| c.leaves == session)
    }
}

/// A request and its answer, or the connection error a browser would show.
async fn send(req: reqwest::RequestBuilder) -> Result<(u16, Value), reqwest::Error> {
    let r = req.send().await?;
    let status = r.status().as_u16();
    let raw = r.bytes().await?;
    Ok((status, serde_json::from_slice(&raw).unwrap_or(Value::Null)))
}

/// Customer `n`: which link, and how they behave.
async fn customer(st: &Street, n: usize) -> Outcome {
    // Half buy from the open link, a quarter each from the limited ones.
    let slug = &st.slugs[[0, 1, 0, 2][n % 4]];
    // Some send idempotency keys as an API client would; the others send a form again.
    let keyed = (n / 4) % 2 == 1;
    // Some lose heart when the page fails and never come back.
    let impatient = n.is_multiple_of(3);
    let mut card = if n.is_multiple_of(5) {
        CARD_DECLINED
    } else {
        CARD_OK
    };
    let mut sessions = Vec::new();
    let mut tries = 0;
    'session: loop {
        let start = json!({"email": format!("customer{n}@example.com")});
        let start_key = format!("start-{n}-{}", sessions.len());
        let session = loop {
            assert!(Instant::now() < st.until, "customer {n} still starting");
            let mut req = st
                .client
                .post(format!("{}/api/public/links/{slug}/checkout", st.base))
                .json(&start);
            if keyed {
                req = req.header("Idempotency-Key", &start_key);
            }
            match send(req).await {
                Err(_) => {
                    // Without a key, the session the lost answer named holds its unit
                    // until it runs out: that is what a reload costs.
                    st.cut.fetch_add(1, SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok((201, s)) => break s,
                Ok((410, e))
                    if matches!(e["error"]["code"].as_str(), Some("link_paid" | "sold_out")) =>
                {
                    return Outcome::TurnedAway { sessions };
                }
                // The request the crash cut still holds the key: wait for it.
                Ok((409, e)) if e["error"]["code"] == "idempotency_key_in_use" => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                // Every unit left is held: wait a little, then give up.
                Ok((409, e))
                    if matches!(
                        e["error"]["code"].as_str(),
                        Some("link_fully_reserved" | "stock_reserved")
                    ) =>
                {
                    if tries == 4 {
                        return Outcome::TurnedAway { sessions };
                    }
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Ok((status, e)) => panic!("customer {n}: checkout answered {status}: {e}"),
            }
        };
        let id = session["id"].as_str().unwrap().to_owned();
        sessions.push(id.clone());
        let mut attempt = 0;
        loop {
            assert!(Instant::now() < st.until, "customer {n} still paying {id}");
            let body = json!({
                "client_secret": session["client_secret"],
                "payment_method": {"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2099, "cvc": "123"}},
            });
            let mut req = st
                .client
                .post(format!("{}/api/public/checkout_sessions/{id}/pay", st.base))
                .json(&body);
            if keyed {
                req = req.header("Idempotency-Key", format!("pay-{id}-{attempt}"));
            }
            st.paying.fetch_add(1, SeqCst);
            let answer = send(req).await;
            st.paying.fetch_sub(1, SeqCst);
            match answer {
                Err(_) => {
                    st.cut.fetch_add(1, SeqCst);
                    if st.leaves(&id).unwrap_or(impatient) {
                        return Outcome::WalkedAway { sessions };
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok((200, p)) if p["status"] == "succeeded" => {
                    return Outcome::Paid {
                        session: id,
                        payment: p["payment_id"].as_str().unwrap().to_owned(),
                        sessions,
                    }
                }
                Ok((402, p)) if card == CARD_DECLINED && p["decline_code"] == "card_declined" => {
                    card = CARD_OK;
                    attempt += 1;
                }
                // Being paid by the request the crash cut: wait for it.
                Ok((409, e))
                    if matches!(
                        e["error"]["code"].as_str(),
                        Some("payment_in_progress" | "idempotency_key_in_use")
                    ) =>
                {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Ok((410, e)) if e["error"]["code"] == "checkout_session_expired" => {
                    continue 'session
                }
                Ok((status, p)) => panic!("customer {n}: pay answered {status}: {p}"),
            }
        }
    }
}

/// Customers, `AT_ONCE` at a time, until `CUSTOMERS` have been.
async fn queue(st: Arc<Street>) -> Vec<Outcome> {
    let mut out = Vec::new();
    loop {
        let n = st.next.fetch_add(1, SeqCst);
        if n >= CUSTOMERS {
            return out;
        }
        out.push(customer(&st, n).await);
        st.finished.fetch_add(1, SeqCst);
    }
}

/// Kills the server once a third of the customers are through, with payments in flight,
/// just after the processor has charged two (so their answers are on the way back): some
/// payments die before their charge, some after it and before the server has heard. Of
/// those two, one customer is told to leave and one to come back. Returns when it was
/// killed, how many pay requests were in flight, and the two.
async fn kill_mid_stream(
    st: &Street,
    server: &mut Process,
    ledger_file: &str,
) -> (Instant, usize, Chosen) {
    while st.finished.load(SeqCst) < CUSTOMERS / 3 || st.paying.load(SeqCst) < AT_ONCE / 2 {
        assert!(Instant::now() < st.until, "the stream never got going");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut read_to = std::fs::metadata(ledger_file).map_or(0, |m| m.len());
    let mut first: Option<(Instant, String)> = None;
    let chosen = 'watch: loop {
        assert!(Instant::now() < st.until, "nothing was charged");
        let (new, to) = ledger::since(ledger_file, read_to);
        read_to = to;
        for c in new.into_iter().filter(|c| c.kind == "succeeded") {
            match first.take() {
                // Two charges in a tenth of a second: both answers are still on their way.
                Some((seen, leaves))
                    if seen.elapsed() < Duration::from_millis(100) && leaves != c.session =>
                {
                    break 'watch Chosen {
                        leaves,
                        stays: c.session,
                    };
                }
                _ => first = Some((Instant::now(), c.session)),
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    *st.chosen.lock().unwrap() = Some(chosen.clone());
    let in_flight = st.paying.load(SeqCst);
    server.kill();
    (Instant::now(), in_flight, chosen)
}

async fn stream(backend: Backend) {
    let began = Instant::now();
    let db = TestDatabase::create(backend).await;
    let ledger = std::env::temp_dir().join(format!(
        "paylink-ledger-{}.tsv",
        paylink_domain::id::random_base62()
    ));
    let setup = Setup {
        db: db.url.clone(),
        master: hex::encode(rand::random::<[u8; 32]>()),
        bind: format!("127.0.0.1:{}", free_port()),
        ledger: ledger.display().to_string(),
    };
    let key = merchant(&setup.db);
    let base = format!("http://{}", setup.bind);
    let client = reqwest::Client::new();
    let mut server = setup.serve();
    wait_up(&client, &base).await;
    let links = Links::create(&client, &base, &key).await;
    let st = Arc::new(Street {
        base: base.clone(),
        client: client.clone(),
        slugs: links.slugs(),
        next: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        paying: AtomicUsize::new(0),
        cut: AtomicUsize::new(0),
        until: Instant::now() + PATIENCE,
        chosen: std::sync::Mutex::new(None),
    });
    let queues: Vec<_> = (0..AT_ONCE)
        .map(|_| tokio::spawn(queue(st.clone())))
        .collect();
    let (killed_at, in_flight, chosen) = kill_mid_stream(&st, &mut server, &setup.ledger).await;
    let store = SqlStore::connect(&setup.db, &ConnectOptions::default())
        .await
        .unwrap();
    let crash = Crash::look(store.pool(), &setup.ledger, in_flight, chosen).await;
    let mut server = setup.serve();
    wait_up(&client, &base).await;
    let back = killed_at.elapsed();
    let kill = killed_at - began;
    let mut outcomes = Vec::new();
    for q in queues {
        outcomes.extend(q.await.unwrap());
    }
    let streamed = began.elapsed();
    // The customers who left never come back: their sessions run out (the merchant's
    // shortest, 1 minute, is too long to wait for here).
    sqlx::query("UPDATE checkout_sessions SET expires_at = $1 WHERE status = 'open'")
        .bind(paylink_domain::time::Timestamp::now().unix() - 1)
        .execute(store.pool())
        .await
        .unwrap();
    let mut worker = setup.worker();
    let settling = Instant::now();
    loop {
        let (open,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM checkout_sessions WHERE status = 'open'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        if open == 0 {
            break;
        }
        assert!(
            settling.elapsed() < Duration::from_secs(20),
            "{open} sessions still open after the worker's rounds"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.kill();
    let report = audit::check(
        &client,
        &base,
        &key,
        store.pool(),
        &setup.ledger,
        &links,
        &outcomes,
        &crash,
    )
    .await;
    eprintln!(
        "crash stream [{backend:?}]: {CUSTOMERS} customers, {AT_ONCE} at once, killed with \
         {} pay requests in flight at {kill:?} ({} stranded attempts, {} of them charged); \
         back in {back:?}; {} requests cut; {report}; stream {streamed:?}, in all {:?}",
        crash.in_flight,
        crash.stranded,
        crash.charged_unheard,
        st.cut.load(SeqCst),
        began.elapsed()
    );
    assert!(
        st.cut.load(SeqCst) > 0,
        "the kill cut no customer's request"
    );
    server.kill();
    store.close().await;
}
