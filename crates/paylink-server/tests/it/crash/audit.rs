//! What the customers of `stream` were told, against what the database holds and what the
//! processor's ledger says it charged.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sqlx::AnyPool;

use super::ledger::{self, Charge};
use super::stream::{LIMIT, STOCK};

pub(super) enum Outcome {
    /// Told "succeeded" for `session`, after opening `sessions` in all.
    Paid {
        session: String,
        payment: String,
        sessions: Vec<String>,
    },
    /// Lost a pay answer in the crash and left.
    WalkedAway { sessions: Vec<String> },
    /// Found the link used up or sold out.
    TurnedAway { sessions: Vec<String> },
}

impl Outcome {
    fn sessions(&self) -> &[String] {
        match self {
            Outcome::Paid { sessions, .. }
            | Outcome::WalkedAway { sessions }
            | Outcome::TurnedAway { sessions } => sessions,
        }
    }
}

/// The links the customers buy from: one open to all, one with a payments limit, one
/// selling a product in limited stock.
pub(super) struct Links {
    all: Vec<Value>,
    limited: String,
    product: String,
}

async fn create(client: &reqwest::Client, url: String, key: &str, body: Value) -> Value {
    let r = client
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn get(client: &reqwest::Client, url: String, key: &str) -> Value {
    let r = client.get(url).bearer_auth(key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

impl Links {
    pub(super) async fn create(client: &reqwest::Client, base: &str, key: &str) -> Self {
        let links = format!("{base}/v1/payment_links");
        let open = create(
            client,
            links.clone(),
            key,
            json!({"title": "Open", "amount": 700}),
        )
        .await;
        let limited = create(
            client,
            links.clone(),
            key,
            json!({"title": "Limited", "amount": 900, "payments_limit": LIMIT}),
        )
        .await;
        let product = create(
            client,
            format!("{base}/v1/products"),
            key,
            json!({"name": "Edition", "unit_amount": 500, "inventory": {"available": STOCK}}),
        )
        .await;
        let shop = create(
            client,
            links,
            key,
            json!({"title": "Shop", "line_items": [{"product_id": product["id"]}]}),
        )
        .await;
        Self {
            limited: limited["id"].as_str().unwrap().to_owned(),
            product: product["id"].as_str().unwrap().to_owned(),
            all: vec![open, limited, shop],
        }
    }

    /// The open link's, the limited one's and the shop's.
    pub(super) fn slugs(&self) -> Vec<String> {
        self.all
            .iter()
            .map(|l| l["slug"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Two customers whose payments the kill leaves charged and unanswered, picked by the
/// test: one leaves for good, the other tries again.
#[derive(Clone)]
pub(super) struct Chosen {
    pub leaves: String,
    pub stays: String,
}

/// What the kill left, read before anything recovered it.
pub(super) struct Crash {
    /// Pay requests waiting for their answer when the process died.
    pub in_flight: usize,
    /// Attempts left `processing`.
    pub stranded: usize,
    /// Of those, the ones the processor had charged (or declined) already.
    pub charged_unheard: usize,
    pub chosen: Chosen,
}

impl Crash {
    pub(super) async fn look(
        pool: &AnyPool,
        ledger_file: &str,
        in_flight: usize,
        chosen: Chosen,
    ) -> Self {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, attempt_no FROM checkout_sessions WHERE status = 'open' AND attempt_status = 'processing'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let charged: BTreeSet<String> = ledger::read(ledger_file)
            .into_iter()
            .map(|c| c.key)
            .collect();
        let unheard: BTreeSet<&str> = rows
            .iter()
            .filter(|(id, n)| charged.contains(&format!("{id}:{n}")))
            .map(|(id, _)| id.as_str())
            .collect();
        // The kill came while payments were with the processor, the chosen two charged and
        // not yet answered (a machine too slow for that would fail here, not later).
        for s in [&chosen.leaves, &chosen.stays] {
            assert!(
                unheard.contains(s.as_str()),
                "{s} was not stranded charged: {rows:?}"
            );
        }
        Self {
            in_flight,
            stranded: rows.len(),
            charged_unheard: unheard.len(),
            chosen,
        }
    }
}

async fn all_payments(client: &reqwest::Client, base: &str, key: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let after = out
            .last()
            .map(|p| format!("&starting_after={}", p["id"].as_str().unwrap()))
            .unwrap_or_default();
        let page = get(client, format!("{base}/v1/payments?limit=100{after}"), key).await;
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        if page["has_more"] != true {
            return out;
        }
    }
}

/// Checks everything the customers were told, and what they were not, against the database
/// and the ledger; returns a summary.
#[allow(clippy::too_many_arguments)]
pub(super) async fn check(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    pool: &AnyPool,
    ledger_file: &str,
    links: &Links,
    outcomes: &[Outcome],
    crash: &Crash,
) -> String {
    let charges = ledger::read(ledger_file);
    let payments = all_payments(client, base, key).await;
    let succeeded: Vec<&Value> = payments
        .iter()
        .filter(|p| p["status"] == "succeeded")
        .collect();

    // The processor charged each attempt once, and each session at most once.
    let keys: BTreeSet<&str> = charges.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys.len(), charges.len(), "an attempt was charged twice");
    let charged: Vec<&Charge> = charges.iter().filter(|c| c.kind == "succeeded").collect();
    let mut per_session: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &charged {
        *per_session.entry(&c.session).or_default() += 1;
    }
    let twice: Vec<_> = per_session.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sessions charged twice: {twice:?}");

    // A payment for every charge, a charge for every payment, of the same session.
    let by_reference: BTreeMap<&str, &Charge> =
        charged.iter().map(|c| (c.reference.as_str(), *c)).collect();
    let mut recorded = BTreeSet::new();
    for p in &succeeded {
        let r = p["processor_reference"].as_str().unwrap();
        let c = by_reference
            .get(r)
            .unwrap_or_else(|| panic!("a payment without a charge: {p}"));
        assert_eq!(p["checkout_session_id"], c.session.as_str(), "{p}");
        assert!(recorded.insert(r), "two payments of one charge: {r}");
    }
    let unrecorded: Vec<_> = charged
        .iter()
        .filter(|c| !recorded.contains(c.reference.as_str()))
        .map(|c| &c.key)
        .collect();
    assert!(
        unrecorded.is_empty(),
        "customers charged without a payment: {unrecorded:?}"
    );
    let mut sessions_paid = BTreeSet::new();
    for p in &succeeded {
        assert!(
            sessions_paid.insert(p["checkout_session_id"].as_str().unwrap()),
            "a session with two payments: {p}"
        );
    }
    // Every decline is a failed payment.
    let declines = charges.iter().filter(|c| c.kind == "declined").count();
    let failed = payments.iter().filter(|p| p["status"] == "failed").count();
    assert_eq!(
        declines, failed,
        "declines at the processor, failed payments"
    );

    // Every "succeeded" is that payment; a payment nobody was told of is one a customer
    // walked away from.
    let by_id: BTreeMap<&str, &Value> = succeeded
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), *p))
        .collect();
    let mut told = BTreeSet::new();
    let mut left_behind = BTreeSet::new();
    let (mut paid, mut walked, mut turned) = (0, 0, 0);
    for o in outcomes {
        match o {
            Outcome::Paid {
                session, payment, ..
            } => {
                paid += 1;
                let p = by_id
                    .get(payment.as_str())
                    .unwrap_or_else(|| panic!("told succeeded, but no payment {payment}"));
                assert_eq!(p["checkout_session_id"], session.as_str(), "{p}");
                assert!(told.insert(payment.as_str()), "{payment} told twice");
            }
            Outcome::WalkedAway { sessions } => {
                walked += 1;
                left_behind.extend(sessions.iter().map(String::as_str));
            }
            Outcome::TurnedAway { .. } => turned += 1,
        }
    }
    let untold: Vec<&&Value> = succeeded
        .iter()
        .filter(|p| !told.contains(p["id"].as_str().unwrap()))
        .collect();
    for p in &untold {
        assert!(
            left_behind.contains(p["checkout_session_id"].as_str().unwrap()),
            "a payment nobody was told of, of a customer still there: {p}"
        );
    }
    let opened: usize = outcomes.iter().map(|o| o.sessions().len()).sum();
    // The one who came back was told of the charge; the one who left has it recorded.
    let chosen = &crash.chosen;
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Paid { session, .. } if *session == chosen.stays)),
        "{} came back and was not told it paid",
        chosen.stays
    );
    assert!(
        untold
            .iter()
            .any(|p| p["checkout_session_id"] == chosen.leaves.as_str()),
        "{} left charged, and no payment was recorded for it",
        chosen.leaves
    );

    // The links' counters are their payments; nothing oversold, nothing still held.
    for l in &links.all {
        let id = l["id"].as_str().unwrap();
        let now = get(client, format!("{base}/v1/payment_links/{id}"), key).await;
        let mine: Vec<_> = succeeded
            .iter()
            .filter(|p| p["payment_link_id"] == id)
            .collect();
        let sum: i64 = mine.iter().map(|p| p["amount"].as_i64().unwrap()).sum();
        assert_eq!(now["payments_count"], mine.len(), "{now}");
        assert_eq!(now["stats"]["payments_count"], mine.len(), "{now}");
        assert_eq!(now["stats"]["amount_collected"], sum, "{now}");
        let (held,): (i64,) = sqlx::query_as(
            "SELECT CAST(reserved_count + COALESCE((SELECT SUM(k.reserved_count) FROM link_counters k WHERE k.link_id = payment_links.id), 0) AS BIGINT) FROM payment_links WHERE id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(held, 0, "uses still held on {id}");
    }
    let limited = get(
        client,
        format!("{base}/v1/payment_links/{}", links.limited),
        key,
    )
    .await;
    assert!(
        limited["payments_count"].as_u64().unwrap() <= LIMIT,
        "{limited}"
    );
    let product = get(client, format!("{base}/v1/products/{}", links.product), key).await;
    let sold = succeeded
        .iter()
        .filter(|p| p["payment_link_id"] == links.all[2]["id"])
        .count() as u64;
    assert!(sold <= STOCK, "{sold} sold of {STOCK}");
    assert_eq!(
        product["inventory"]["available"].as_u64(),
        Some(STOCK - sold),
        "{product}"
    );
    let (held,): (i64,) = sqlx::query_as("SELECT inventory_held FROM products WHERE id = $1")
        .bind(&links.product)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(held, 0, "units still held");

    format!(
        "{paid} paid, {walked} walked away, {turned} turned away, over {opened} sessions; \
         {} charges = {} payments ({} nobody was told of, {} of {} stranded attempts \
         charged), {declines} declines = failed payments; limited link {} of {LIMIT}, \
         {sold} of {STOCK} units sold",
        charged.len(),
        succeeded.len(),
        untold.len(),
        crash.charged_unheard,
        crash.stranded,
        limited["payments_count"],
    )
}
