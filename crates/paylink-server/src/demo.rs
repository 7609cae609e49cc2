//! First start: a demo merchant, its test key, a product and a sample link, so that a new
//! user has something to click on.

use paylink_domain::catalog::{Inventory, Product};
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{MerchantId, PaymentLinkId, ProductId};
use paylink_domain::link::*;
use paylink_domain::metadata::Metadata;
use paylink_domain::money::{Amount, Currency};
use paylink_domain::settings::MerchantSettings;
use paylink_domain::tax::PricingMode;
use paylink_domain::text::Slug;
use paylink_domain::time::Timestamp;
use paylink_store::{KeyKind, Merchant, Store, Tenant};

use crate::auth::new_key;

pub struct NewMerchant {
    pub merchant: Merchant,
    pub secret_key: String,
}

/// Creates a merchant with one test secret key.
pub async fn create_merchant(
    store: &dyn Store,
    name: &str,
    email: &str,
    password_hash: Option<String>,
) -> anyhow::Result<NewMerchant> {
    create_merchant_as(store, MerchantId::generate(), name, email, password_hash).await
}

/// The demo merchant's id: always the same, so that instances started together on an
/// empty database create it once (the second insert is a conflict, not a second demo).
const DEMO_ID: &str = "acct_DemoShop00000000000000";

async fn create_merchant_as(
    store: &dyn Store,
    id: MerchantId,
    name: &str,
    email: &str,
    password_hash: Option<String>,
) -> anyhow::Result<NewMerchant> {
    paylink_domain::text::email(email, "email").map_err(|e| anyhow::anyhow!("{}", e.message))?;
    paylink_domain::text::bounded(name, "name", 1, 100)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let merchant = Merchant {
        id,
        name: name.to_owned(),
        email: email.to_owned(),
        password_hash,
        settings: MerchantSettings::new(name.to_owned(), Some(email.to_owned())),
        version: 0,
        created_at: Timestamp::now(),
    };
    let (secret_key, record) = new_key(
        &merchant.id,
        KeyKind::Secret,
        false,
        "Default test key".into(),
        vec![],
    );
    store.create_merchant(&merchant, &[record]).await?;
    Ok(NewMerchant {
        merchant,
        secret_key,
    })
}

/// On an empty database: the demo merchant, a product and a link. Returns the key and link.
pub async fn seed_if_empty(
    store: &dyn Store,
    public_url: &str,
) -> anyhow::Result<Option<(NewMerchant, String)>> {
    if store.count_merchants().await? > 0 {
        return Ok(None);
    }
    let id = MerchantId::from_trusted(DEMO_ID.to_owned());
    let created = match create_merchant_as(store, id, "Demo Shop", "demo@example.com", None).await {
        Ok(c) => c,
        // Another instance made it first.
        Err(e)
            if matches!(
                e.downcast_ref::<paylink_store::StoreError>(),
                Some(paylink_store::StoreError::Conflict(_))
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let t = Tenant::of_merchant(&created.merchant, false);
    let now = Timestamp::now();
    let price = Amount::new(2500).unwrap_or(Amount::ZERO);
    let product = Product {
        id: ProductId::generate(),
        name: "Paylink T-shirt".into(),
        description: Some("Soft organic cotton.".into()),
        image_url: None,
        unit_amount: price,
        currency: Currency::USD,
        currency_options: Default::default(),
        tax_rate_id: None,
        hsa_fsa_eligible: false,
        inventory: Some(Inventory { available: 100 }),
        active: true,
        metadata: Metadata::default(),
        livemode: false,
        created_at: now,
        updated_at: now,
    };
    store.insert_product(&t, &product).await?;
    let link = PaymentLink {
        currency_options: Default::default(),
        id: PaymentLinkId::generate(),
        url: String::new(),
        slug: Slug::generate("demo t-shirt"),
        title: "Paylink T-shirt".into(),
        description: Some("A **demo** link: pay with card 4242 4242 4242 4242.".into()),
        image_url: None,
        kind: LinkType::Products,
        status: LinkStatus::Active,
        currency: Currency::USD,
        line_items: vec![LinkLineItem {
            product_id: Some(product.id.clone()),
            name: product.name.clone(),
            image_url: None,
            unit_amount: price,
            quantity: 1,
            adjustable_quantity: Some(AdjustableQuantity {
                enabled: true,
                minimum: 1,
                maximum: 10,
            }),
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
        collect: Collect {
            billing_address: false,
            shipping_address: true,
            phone: false,
        },
        custom_fields: vec![],
        payment_method_types: vec![PaymentMethodType::Card, PaymentMethodType::Wallet],
        payments_limit: None,
        payments_count: 0,
        paid_from: None,
        expires_at: None,
        opens_at: None,
        success_url: None,
        cancel_url: None,
        confirmation_message: Some("Thanks! Your T-shirt is on its way.".into()),
        inactive_message: None,
        customer_id: None,
        prefill: None,
        reference_id: None,
        metadata: Metadata::default(),
        stats: LinkStats::default(),
        created_by: CreatedBy {
            kind: CreatorType::User,
            id: "demo".into(),
        },
        livemode: false,
        created_at: now,
        updated_at: now,
    };
    let url = format!("{public_url}/l/{}", link.slug.as_str());
    let ev = Event::new(EventType::PaymentLinkCreated, &link, false, now);
    store.insert_payment_link(&t, &link, &[ev], None).await?;
    Ok(Some((created, url)))
}
