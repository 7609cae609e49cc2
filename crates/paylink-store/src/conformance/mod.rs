//! The storage story that every backend must pass, run by each backend's tests.
//!
//! It is test code, shipped in the library so that the SQLite and PostgreSQL tests call
//! the very same story (hence the allowances below).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use paylink_domain::catalog::{Inventory, Order, OrderStatus, Product};
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::*;
use paylink_domain::link::*;
use paylink_domain::metadata::Metadata;
use paylink_domain::money::{Amount, Currency};
use paylink_domain::settings::MerchantSettings;
use paylink_domain::tax::PricingMode;
use paylink_domain::text::Slug;
use paylink_domain::time::Timestamp;

use crate::*;

mod accounts;
mod attempt_rules;
mod attempts;
mod catalog;
mod checkout;
#[cfg(test)]
mod coverage;
mod fixtures;
mod housekeeping;
mod idempotency;
mod links;
mod merchants;
mod order_holds;
mod orders;
mod outbox;
mod payments;
mod processes;
mod processors;
mod races;
mod reports;
mod subscriptions;
mod webhooks;
pub use processes::{changes_reach_other_processes, claims_of_dead_processes};

pub fn merchant(name: &str) -> Merchant {
    Merchant {
        id: MerchantId::generate(),
        name: name.to_owned(),
        email: format!("{}@example.com", name.to_lowercase()),
        password_hash: None,
        settings: MerchantSettings::new(name.to_owned(), None),
        version: 0,
        created_at: Timestamp::now(),
    }
}

pub fn key(m: &Merchant, livemode: bool, hash: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: ApiKeyId::generate(),
        merchant_id: m.id.clone(),
        livemode,
        kind: KeyKind::Secret,
        name: "default".into(),
        scopes: vec![],
        key_hash: hash.to_owned(),
        masked: "sk_test_…abcd".into(),
        created_at: Timestamp::now(),
        revoked_at: None,
    }
}

pub fn product(t: &Tenant, name: &str, amount: i64, stock: Option<u32>) -> Product {
    Product {
        id: ProductId::generate(),
        name: name.to_owned(),
        description: None,
        image_url: None,
        unit_amount: Amount::new(amount).unwrap(),
        currency: Currency::USD,
        currency_options: Default::default(),
        tax_rate_id: None,
        hsa_fsa_eligible: false,
        inventory: stock.map(|available| Inventory { available }),
        active: true,
        metadata: Metadata::default(),
        livemode: t.livemode,
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
    }
}

pub fn link(t: &Tenant, title: &str, slug: &str) -> PaymentLink {
    let now = Timestamp::now();
    PaymentLink {
        currency_options: Default::default(),
        id: PaymentLinkId::generate(),
        url: String::new(),
        slug: Slug::parse(slug, "slug").unwrap(),
        title: title.to_owned(),
        description: None,
        image_url: None,
        kind: LinkType::Custom,
        status: LinkStatus::Active,
        currency: Currency::USD,
        line_items: vec![LinkLineItem {
            product_id: None,
            name: title.to_owned(),
            image_url: None,
            unit_amount: Amount::new(1000).unwrap(),
            quantity: 1,
            adjustable_quantity: None,
            hsa_fsa_eligible: false,
            tax_rate: None,
            currency_options: Default::default(),
        }],
        all_products: false,
        donation: None,
        subscription: None,
        order_id: None,
        tax: LinkTax {
            collect: false,
            tax_rate_id: None,
            pricing_mode: PricingMode::Exclusive,
        },
        collect: Collect::default(),
        custom_fields: vec![],
        payment_method_types: vec![PaymentMethodType::Card],
        payments_limit: None,
        payments_count: 0,
        paid_from: None,
        expires_at: None,
        opens_at: None,
        success_url: None,
        cancel_url: None,
        confirmation_message: None,
        inactive_message: None,
        customer_id: None,
        prefill: None,
        reference_id: None,
        metadata: Metadata::default(),
        stats: LinkStats::default(),
        created_by: CreatedBy {
            kind: CreatorType::ApiKey,
            id: "key_test".into(),
        },
        livemode: t.livemode,
        created_at: now,
        updated_at: now,
    }
}

fn page(limit: u32) -> Page {
    Page {
        limit,
        ..Page::default()
    }
}

fn all_links(now: Timestamp) -> LinkFilter {
    LinkFilter {
        status: None,
        kind: None,
        reference_id: None,
        customer_id: None,
        created: Created::default(),
        q: None,
        now,
    }
}

/// Runs the whole story against `store`, a fresh empty database.
pub async fn story(store: &dyn Store) {
    merchants::merchants_and_keys(store).await;
    catalog::catalog_tenancy_and_pages(store).await;
    links::payment_links(store).await;
    idempotency::idempotency(store).await;
    orders::orders(store).await;
    merchants::keys_and_settings(store).await;
    catalog::customers(store).await;
    catalog::tax_rates(store).await;
    // From here on, each part's epoch is earlier than the last's (see `fixtures`).
    links::public_links_views_and_expiry(store).await;
    checkout::holds_and_refusals(store).await;
    races::races(store).await;
    attempts::attempts_and_completion(store).await;
    attempt_rules::attempt_rules(store).await;
    order_holds::order_holds(store).await;
    payments::refunds_and_takings(store).await;
    webhooks::endpoints_and_deliveries(store).await;
    outbox::emails_outbox(store).await;
    housekeeping::purged_keys(store).await;
    housekeeping::this_process(store).await;
    accounts::users_sessions_and_team(store).await;
    reports::funnel_and_attention(store).await;
    subscriptions::subscriptions(store).await;
    processors::processors(store).await;
}

async fn tenant(store: &dyn Store, name: &str) -> Tenant {
    let m = merchant(name);
    store.create_merchant(&m, &[]).await.unwrap();
    Tenant::of_merchant(&m, false)
}
