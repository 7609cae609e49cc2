//! What the checkout-side parts of the story share: sessions opened and paid as the server
//! opens and pays them, and a way to run two calls at once.
//!
//! Parts that call the sweeps that run across every merchant (`expire_checkouts`,
//! `claim_deliveries`, `claim_emails`, `stuck_attempts`, `emit_expired_links`) date their
//! rows in an epoch of their own, long past, and each part's epoch is earlier than those of
//! the parts before it: a sweep then meets only its own part's rows, and its counts are
//! exact.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use paylink_domain::catalog::{Order, Product};
use paylink_domain::checkout::*;
use paylink_domain::email::{Email, EmailStatus};
use paylink_domain::event::EventType;
use paylink_domain::id::*;
use paylink_domain::link::*;
use paylink_domain::money::Amount;
use paylink_domain::time::Timestamp;

use super::{link, page};
use crate::*;

pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs)
}

/// Runs both futures at once (interleaved on this task) and returns both results.
pub async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}

/// A link selling `products` (one of each), with `payments_limit` uses.
pub fn product_link(
    t: &Tenant,
    slug: &str,
    products: &[&Product],
    payments_limit: Option<u32>,
) -> PaymentLink {
    let mut l = link(t, slug, slug);
    if !products.is_empty() {
        l.kind = LinkType::Products;
        l.line_items = products
            .iter()
            .map(|p| LinkLineItem {
                product_id: Some(p.id.clone()),
                name: p.name.clone(),
                image_url: None,
                unit_amount: p.unit_amount,
                quantity: 1,
                adjustable_quantity: None,
                hsa_fsa_eligible: false,
                tax_rate: None,
                currency_options: Default::default(),
            })
            .collect();
    }
    l.payments_limit = payments_limit;
    l
}

/// The session a customer opens on `l` (one of each line) at `now`, for `ttl` seconds.
pub fn session_of(l: &PaymentLink, now: Timestamp, ttl: i64) -> CheckoutSession {
    let lines: Vec<CheckoutLine> = l
        .line_items
        .iter()
        .map(|i| CheckoutLine {
            product_id: i.product_id.clone(),
            name: i.name.clone(),
            unit_amount: i.unit_amount,
            quantity: i.quantity,
            hsa_fsa_eligible: false,
            tax_rate: None,
            amount_subtotal: i.unit_amount,
            amount_tax: Amount::ZERO,
            amount_total: i.unit_amount,
        })
        .collect();
    let total = lines
        .iter()
        .fold(Amount::ZERO, |a, l| a.checked_add(l.amount_total).unwrap());
    CheckoutSession {
        id: CheckoutSessionId::generate(),
        payment_link_id: l.id.clone(),
        status: SessionStatus::Open,
        currency: l.currency,
        line_items: lines,
        amount_subtotal: total,
        amount_tax: Amount::ZERO,
        amount_total: total,
        hsa_fsa_amount: Amount::ZERO,
        customer: CustomerDetails {
            email: Some("buyer@example.com".into()),
            name: Some("Buyer".into()),
            ..CustomerDetails::default()
        },
        custom_fields: vec![],
        attribution: BTreeMap::from([("utm_source".into(), "story".into())]),
        payment_id: None,
        subscription: l.subscription,
        livemode: l.livemode,
        expires_at: now.plus_seconds(ttl),
        created_at: now,
    }
}

/// The secret's hash a session is opened with (the server keeps SHA-256 hex).
pub fn secret_of(s: &CheckoutSession) -> String {
    format!("hash-of-{}", s.id)
}

/// What the server asks the store to open for `s` on `l`: the stock its product lines need.
pub fn new_checkout(l: &PaymentLink, s: &CheckoutSession, now: Timestamp) -> NewCheckout {
    let mut stock = BTreeMap::new();
    for line in &s.line_items {
        if let Some(p) = &line.product_id {
            *stock.entry(p.clone()).or_insert(0) += line.quantity;
        }
    }
    NewCheckout {
        session: s.clone(),
        secret_hash: secret_of(s),
        stock,
        limited_uses: l.payments_limit.is_some(),
        link_version: None,
        order_id: l.order_id.clone(),
        now,
    }
}

/// Opens a session on `l` at `now` for `ttl` seconds.
pub async fn open(
    store: &dyn Store,
    t: &Tenant,
    l: &PaymentLink,
    now: Timestamp,
    ttl: i64,
) -> StoreResult<CheckoutSession> {
    let s = session_of(l, now, ttl);
    store.start_checkout(t, &new_checkout(l, &s, now)).await?;
    Ok(s)
}

/// The payment a charge of `s` makes, as the server builds it (`succeeded`, no number yet).
pub fn payment_of(s: &CheckoutSession, order_id: Option<OrderId>, now: Timestamp) -> Payment {
    let id = PaymentId::generate();
    Payment {
        receipt_url: Some(format!("https://pay.example/r/{id}?t=tok{}", s.id)),
        disputed: false,
        id,
        payment_link_id: s.payment_link_id.clone(),
        checkout_session_id: s.id.clone(),
        order_id,
        subscription_id: None,
        amount: s.amount_total,
        amount_tax: s.amount_tax,
        amount_refunded: Amount::ZERO,
        currency: s.currency,
        status: PaymentStatus::Succeeded,
        failure_code: None,
        customer: s.customer.clone(),
        custom_fields: s.custom_fields.clone(),
        attribution: s.attribution.clone(),
        line_items: s.line_items.clone(),
        payment_method: PaymentMethodDetails {
            kind: PaymentMethodType::Card,
            card: Some(CardDetails {
                brand: "visa".into(),
                last4: "4242".into(),
                exp_month: 12,
                exp_year: 2040,
            }),
        },
        processor: "mock".into(),
        processor_reference: Some(format!("ch_{}", s.id)),
        hsa_fsa_amount: s.hsa_fsa_amount,
        receipt_number: None,
        livemode: s.livemode,
        created_at: now,
    }
}

/// The customer's answer to a successful payment, kept for replays.
pub fn answer_of(p: &Payment) -> StoredResponse {
    StoredResponse {
        status: 200,
        body: format!(r#"{{"status":"succeeded","payment_id":"{}"}}"#, p.id).into_bytes(),
    }
}

/// What paying `s` records: a payment, with a held receipt and an order of its own unless
/// it pays `l`'s order.
pub struct Paid {
    pub payment: Payment,
    /// The receipt URL's token, as the server makes it.
    pub token: String,
    pub order: Option<Order>,
    pub receipt: Email,
    pub answer: StoredResponse,
}

impl Paid {
    pub fn of(l: &PaymentLink, s: &CheckoutSession, now: Timestamp) -> Self {
        let mut payment = payment_of(s, l.order_id.clone(), now);
        let order = l.order_id.is_none().then(|| {
            let o = order_of(&payment, OrderId::generate(), None, l.tax.pricing_mode);
            payment.order_id = Some(o.id.clone());
            o
        });
        let receipt = Email::receipt_of(&payment, "buyer@example.com", EmailStatus::Held, now);
        let answer = answer_of(&payment);
        Self {
            payment,
            token: format!("tok{}", s.id),
            order,
            receipt,
            answer,
        }
    }

    pub fn completing<'a>(
        &'a self,
        l: &PaymentLink,
        s: &'a CheckoutSession,
        attempt_no: i64,
    ) -> Completing<'a> {
        Completing {
            session: s,
            attempt_no,
            payment: &self.payment,
            response: &self.answer,
            receipt_token: Some(&self.token),
            link_url: "https://pay.example/l/paid",
            link_limited: l.payments_limit.is_some(),
            collected: self.payment.amount,
            receipt: Some(&self.receipt),
            new_order: self.order.as_ref(),
            subscription: None,
        }
    }
}

/// Pays the open session `s` of `l` in full, as the server's usual path does: a fresh
/// attempt claimed, then the charge recorded. The payment as recorded.
pub async fn pay(
    store: &dyn Store,
    t: &Tenant,
    l: &PaymentLink,
    s: &CheckoutSession,
    now: Timestamp,
) -> Payment {
    let (rec, _, attempt_no) = store
        .claim_fresh_attempt(&s.id, &secret_of(s), now)
        .await
        .unwrap()
        .expect("a fresh attempt");
    let paid = Paid::of(l, &rec.session, now);
    match store
        .complete_checkout(t, &paid.completing(l, &rec.session, attempt_no))
        .await
        .unwrap()
    {
        Completion::Recorded(p) => *p,
        Completion::AlreadyComplete(_) => panic!("paid twice"),
    }
}

/// The tenant's event types, newest first.
pub async fn event_kinds(store: &dyn Store, t: &Tenant) -> Vec<EventType> {
    store
        .list_events(t, &EventFilter::default(), &page(100))
        .await
        .unwrap()
        .data
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// The product's stock as checkouts see it: `(available, held)`.
pub async fn stock(store: &dyn Store, t: &Tenant, p: &ProductId) -> (Option<i64>, i64) {
    let levels = store
        .stock_levels(t, std::slice::from_ref(p))
        .await
        .unwrap();
    assert_eq!(levels.len(), 1, "stock of {p}");
    (levels[0].1.available, levels[0].1.held)
}
