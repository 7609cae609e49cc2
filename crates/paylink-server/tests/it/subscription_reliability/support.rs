//! What the reliability tests share: subscriptions seeded through the store (as an import
//! would make them) with a saved method the simulated processor accepts, the processor's
//! ledger read with the tests' own few lines of parsing, and the database's renewal
//! payments, each tied to its charge key by the processor's reference.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use paylink_domain::checkout::CustomerDetails;
use paylink_domain::id::{CheckoutSessionId, MerchantId, PaymentLinkId, SubscriptionId};
use paylink_domain::link::{Interval, SubscriptionTerms};
use paylink_domain::money::{Amount, Currency};
use paylink_domain::subscription::{
    ChargeKey, Subscription, SubscriptionState, SubscriptionStatus,
};
use paylink_domain::time::Timestamp;
use paylink_store::{NewSubscription, SubscriptionStore, Tenant};

use crate::helpers::{Process, TestApp};

pub const DAY: i64 = 86_400;
/// The price of every seeded plan.
pub const PRICE: i64 = 1500;

/// A saved method the simulated processor charges without trouble (expires 12/2099).
pub fn saved_ok(i: usize) -> String {
    format!("pm_sim_ok_122099_seed{i}")
}

/// A subscription seeded: its id and billing state as written.
#[derive(Clone, Debug)]
pub struct Seeded {
    pub id: String,
    pub state: SubscriptionState,
}

impl Seeded {
    /// The keys of the renewals due by `at` (periods 1.. that began by then).
    pub fn keys_due(&self, at: Timestamp) -> Vec<String> {
        let id = SubscriptionId::parse(&self.id).unwrap();
        (1..)
            .take_while(|n| self.state.cycle.period(*n).is_some_and(|p| p.start <= at))
            .map(|n| ChargeKey::new(&id, n, 0).as_str().to_owned())
            .collect()
    }

    /// When period `n` starts.
    pub fn period_start(&self, n: u32) -> Timestamp {
        self.state.cycle.period(n).unwrap().start
    }
}

/// A subscription link of the app's merchant; its id.
pub async fn plan(app: &TestApp, interval: &str) -> String {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Plan", "amount": PRICE,
                   "subscription": {"interval": interval}}),
        )
        .await;
    l["id"].as_str().unwrap().to_owned()
}

pub fn tenant(app: &TestApp) -> Tenant {
    Tenant::stored(MerchantId::parse(&app.merchant_id).unwrap(), false)
}

/// Writes a subscription to `link` that began at `start` (no trial: period 0 was paid at
/// its checkout) on `interval`, as `subscriptions::start::begin` makes one.
pub async fn seed_one(
    app: &TestApp,
    link: &str,
    interval: Interval,
    start: Timestamp,
    i: usize,
) -> Seeded {
    let terms = SubscriptionTerms {
        interval,
        interval_count: 1,
        trial_period_days: 0,
    };
    let t = SubscriptionState::checkout(&terms, start).unwrap();
    let mut sub = Subscription {
        id: SubscriptionId::generate(),
        payment_link_id: PaymentLinkId::parse(link).unwrap(),
        checkout_session_id: CheckoutSessionId::generate(),
        customer_id: None,
        customer: CustomerDetails {
            email: Some(format!("subscriber{i}@example.com")),
            ..Default::default()
        },
        status: SubscriptionStatus::Active,
        items: Vec::new(),
        amount: Amount::new(PRICE).unwrap(),
        amount_tax: Amount::ZERO,
        currency: Currency::USD,
        interval,
        interval_count: 1,
        current_period_start: None,
        current_period_end: None,
        trial_end: None,
        cancel_at_period_end: false,
        canceled_at: None,
        next_charge_at: None,
        latest_payment_id: None,
        payment_method: None,
        description: "Plan".into(),
        livemode: false,
        created_at: start,
    };
    sub.show(&t.state);
    let method = saved_ok(i);
    app.store
        .insert_subscription(
            &tenant(app),
            &NewSubscription {
                subscription: &sub,
                state: &t.state,
                method_ref: Some(&method),
                events: &[],
            },
        )
        .await
        .unwrap();
    Seeded {
        id: sub.id.to_string(),
        state: t.state,
    }
}

/// Seeds `n` subscriptions, the `i`-th begun at `start(i)`, 8 writes at a time.
pub async fn seed(
    app: &TestApp,
    link: &str,
    interval: Interval,
    n: usize,
    start: impl Fn(usize) -> Timestamp,
) -> Vec<Seeded> {
    use futures_util::StreamExt;
    let starts: Vec<Timestamp> = (0..n).map(start).collect();
    futures_util::stream::iter(starts.into_iter().enumerate())
        .map(|(i, at)| seed_one(app, link, interval, at, i))
        .buffered(8)
        .collect()
        .await
}

/// The simulated processor's reference of the charge made under `key`.
pub fn reference_of(key: &str) -> String {
    let h = hex::encode(Sha256::digest(key.as_bytes()));
    format!("ch_sim_{}", &h[..24])
}

/// A line of the processor's ledger: a charge it made.
#[derive(Clone, Debug)]
pub struct Charged {
    pub key: String,
    pub kind: String,
    pub reference: String,
}

/// Every complete line of the ledger at `path` (none when it is not there yet).
pub fn ledger(path: &std::path::Path) -> Vec<Charged> {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        f.read_to_string(&mut text).unwrap();
    }
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    text[..complete]
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Charged {
                key: f[0].to_owned(),
                kind: f[1].to_owned(),
                reference: f[2].to_owned(),
            }
        })
        .collect()
}

/// A payment of a subscription, as the database has it.
#[derive(Clone, Debug)]
pub struct Paid {
    pub id: String,
    pub subscription: String,
    pub status: String,
    pub created_at: i64,
    pub reference: Option<String>,
}

/// Every payment that names a subscription, oldest first.
pub async fn payments(app: &TestApp) -> Vec<Paid> {
    let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
        "SELECT id, subscription_id, status, created_at, data FROM payments \
         WHERE subscription_id IS NOT NULL ORDER BY seq",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, subscription, status, created_at, data)| {
            let data: Value = serde_json::from_str(&data).unwrap();
            Paid {
                id,
                subscription,
                status,
                created_at,
                reference: data["processor_reference"].as_str().map(str::to_owned),
            }
        })
        .collect()
}

/// How many payments name a subscription (a cheap look while a run goes on).
pub async fn payment_count(app: &TestApp) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM payments WHERE subscription_id IS NOT NULL")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    n
}

/// How many seeded subscriptions still have something due at `now`.
pub async fn still_due(app: &TestApp, now: Timestamp) -> i64 {
    let (n,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM subscriptions WHERE next_due_at <= {}",
        now.unix()
    ))
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    n
}

/// Events of a type.
pub async fn events_of_type(app: &TestApp, kind: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM events WHERE type = '{kind}'"
    ))
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    n
}

/// The claims held now: subscription id → (claim token, claimed until).
pub async fn claims(app: &TestApp) -> HashMap<String, (String, i64)> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT id, claim, claimed_until FROM subscriptions \
         WHERE claim IS NOT NULL AND claimed_until IS NOT NULL",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    rows.into_iter().map(|(id, c, u)| (id, (c, u))).collect()
}

/// Checks that the processor charged each of `expected` keys exactly once and nothing
/// else, and that the database has one successful payment per key, under the charge's
/// reference: no period charged twice, none missed, no charge without its payment.
#[track_caller]
pub fn assert_once_each(expected: &BTreeSet<String>, charged: &[Charged], paid: &[Paid]) {
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for c in charged {
        *per_key.entry(c.key.as_str()).or_default() += 1;
        assert_eq!(c.kind, "succeeded", "{c:?}");
        assert_eq!(c.reference, reference_of(&c.key), "{c:?}");
    }
    let twice: Vec<_> = per_key.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "charged more than once: {twice:?}");
    let keys: BTreeSet<String> = per_key.keys().map(|k| (*k).to_owned()).collect();
    let missing: Vec<_> = expected.difference(&keys).take(5).collect();
    let extra: Vec<_> = keys.difference(expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "processor charges vs due periods: missing {missing:?}, unexpected {extra:?} ({} charged, {} due)",
        keys.len(),
        expected.len()
    );
    assert_payments_match(expected, paid);
}

/// One successful payment per expected key, each under its key's reference and of the
/// subscription the key names.
#[track_caller]
pub fn assert_payments_match(expected: &BTreeSet<String>, paid: &[Paid]) {
    let by_reference: HashMap<String, &String> =
        expected.iter().map(|k| (reference_of(k), k)).collect();
    let mut seen: BTreeMap<&String, Vec<&str>> = BTreeMap::new();
    for p in paid {
        assert_eq!(p.status, "succeeded", "{p:?}");
        let r = p.reference.as_ref().expect("a renewal has a reference");
        let Some(key) = by_reference.get(r) else {
            panic!("a payment for no due period: {p:?}");
        };
        assert!(
            key.starts_with(&format!("{}:", p.subscription)),
            "{p:?} {key}"
        );
        seen.entry(key).or_default().push(&p.id);
    }
    let twice: Vec<_> = seen.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(twice.is_empty(), "periods with two payments: {twice:?}");
    assert_eq!(
        paid.len(),
        expected.len(),
        "renewal payments vs due periods"
    );
}

/// A temporary file name (the file is removed when this is dropped).
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Self(std::env::temp_dir().join(format!("paylink-{name}-{}-{nanos}", std::process::id())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The real binary on the app's database with its master key, the shared ledger, `env`
/// and `args`; its log goes to `log`.
pub fn paylink(
    app: &TestApp,
    ledger: &std::path::Path,
    log: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> Process {
    let log = std::fs::File::create(log).unwrap();
    let child = crate::helpers::paylink_command()
        .args(args)
        .args(["--database-url", &app.db_url])
        .env("PAYLINK_NO_DEMO", "true")
        .env("PAYLINK_MASTER_KEY", &app.master_key)
        .env("PAYLINK_LOG", "warn")
        .env("PAYLINK_PUBLIC_URL", &app.base)
        .env("PAYLINK_SIMULATED_PROCESSOR_LEDGER", ledger)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Process(child)
}

/// Every subscription's billing state, by id.
pub async fn states(app: &TestApp) -> HashMap<String, SubscriptionState> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, state FROM subscriptions")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    rows.into_iter()
        .map(|(id, s)| (id, serde_json::from_str(&s).unwrap()))
        .collect()
}
