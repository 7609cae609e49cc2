//! What the request targets share: a real SQLite store with one merchant, a tax rate and a
//! product of known ids (the seeds name them), the server's state over it, and links made
//! through the server's own create path, built once per process.

use std::sync::{Arc, OnceLock};

use paylink_domain::catalog::{Inventory, Product, TaxRate};
use paylink_domain::id::{ProductId, TaxRateId};
use paylink_domain::link::{CreatedBy, CreatorType, PaymentLink};
use paylink_domain::metadata::Metadata;
use paylink_domain::money::{Amount, Currency};
use paylink_domain::settings::MerchantSettings;
use paylink_domain::tax::TaxPercentage;
use paylink_domain::time::Timestamp;
use paylink_server::api::payment_links::{build_link, PaymentLinkIn};
use paylink_server::config::Config;
use paylink_server::state::AppState;
use paylink_store::{Store, Tenant};
use paylink_store_sql::{ConnectOptions, SqlStore};

/// The tax rate the seeds name: 8.25 %, exclusive.
pub const TAX_RATE: &str = "txr_fuzzTaxRate00000000000";
/// The product the seeds name: 25.00 USD (or 23.00 EUR), taxed at [`TAX_RATE`].
pub const PRODUCT: &str = "prod_fuzzProduct00000000000";

pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub state: AppState,
    pub tenant: Tenant,
    pub settings: MerchantSettings,
    /// Links of every kind the pages sell, made by [`World::create`] from [`LINKS`].
    pub links: Vec<PaymentLink>,
}

/// Create requests for the links the checkout and form targets buy from.
const LINKS: &[&str] = &[
    // Two custom lines, taxed, in USD or EUR, with every kind of custom field and every
    // detail collected.
    r#"{"title": "Workshop", "currency": "usd",
        "line_items": [
          {"name": "Seat", "unit_amount": 4500, "quantity": 1,
           "adjustable_quantity": {"enabled": true, "minimum": 0, "maximum": 10},
           "currency_options": {"EUR": {"unit_amount": 4100}}},
          {"name": "Lunch", "unit_amount": 1250, "quantity": 0, "hsa_fsa_eligible": true,
           "adjustable_quantity": {"enabled": true, "maximum": 5},
           "currency_options": {"EUR": {"unit_amount": 1100}}}],
        "tax": {"collect": true, "tax_rate_id": "txr_fuzzTaxRate00000000000"},
        "collect": {"phone": true, "billing_address": true, "shipping_address": true},
        "custom_fields": [
          {"key": "company", "label": "Company", "type": "text", "optional": true},
          {"key": "seats", "label": "Seats", "type": "numeric"},
          {"key": "size", "label": "Size", "type": "dropdown",
           "options": [{"label": "Small", "value": "s"}, {"label": "Large", "value": "l"}]}],
        "payment_method_types": ["card", "wallet"]}"#,
    // A donation in euros.
    r#"{"title": "Give", "currency": "EUR",
        "donation": {"minimum": 100, "maximum": 100000, "preset_amounts": [500, 1000, 2500],
                     "default_amount": 1000}}"#,
    // A catalog product, tax included.
    r#"{"title": "Shirts", "line_items": [{"product_id": "prod_fuzzProduct00000000000",
         "adjustable_quantity": {"enabled": true, "minimum": 1, "maximum": 99}}],
        "tax": {"collect": true, "pricing_mode": "inclusive"},
        "prefill": {"email": "buyer@example.com", "name": "Buyer"}}"#,
    // A storefront.
    r#"{"title": "Shop", "all_products": true, "tax": {"collect": true}}"#,
    // Three decimals, one fixed line.
    r#"{"title": "Dinar", "currency": "KWD", "amount": 12345}"#,
];

static WORLD: OnceLock<World> = OnceLock::new();

/// The shared world, made on first use.
pub fn world() -> &'static World {
    WORLD.get_or_init(World::make)
}

impl World {
    fn make() -> World {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = std::env::temp_dir().join(format!("paylink-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let url = format!("sqlite://{}", dir.join("fuzz.db").display());
        let (state, tenant, settings) = rt.block_on(async {
            let store = SqlStore::connect(&url, &ConnectOptions::default())
                .await
                .expect("the store opens");
            store.migrate().await.expect("migrations run");
            let store: Arc<dyn Store> = Arc::new(store);
            let created = paylink_server::demo::create_merchant(
                &*store,
                "Fuzz Shop",
                "fuzz@example.com",
                None,
            )
            .await
            .expect("a merchant");
            let tenant = Tenant::of_merchant(&created.merchant, false);
            seed_catalog(&*store, &tenant).await;
            let state = AppState::new(store, Config::for_database(&url)).expect("the state");
            (state, tenant, created.merchant.settings)
        });
        let mut world = World {
            rt,
            state,
            tenant,
            settings,
            links: Vec::new(),
        };
        world.links = LINKS
            .iter()
            .map(|body| match world.create(body.as_bytes()) {
                Ok(l) => l,
                Err(e) => panic!("a world link is refused: {} {}", e.code, e.message),
            })
            .collect();
        // The database stays while the process runs (the pool may open connections to it
        // at any time); `scripts/fuzz` removes it afterwards.
        world
    }

    /// A create request's body through the server's JSON reader and create path, without
    /// the write: the link it would create, or the API error it would answer.
    pub fn create(&self, body: &[u8]) -> Result<PaymentLink, paylink_server::error::ApiError> {
        let input: PaymentLinkIn = paylink_server::json::parse(body)?;
        let by = CreatedBy {
            kind: CreatorType::ApiKey,
            id: "key_fuzz".into(),
        };
        let now = Timestamp::from_unix(1_800_000_000);
        self.rt
            .block_on(build_link(
                &self.state,
                &self.tenant,
                &self.settings,
                input,
                by,
                now,
            ))
            .map(|(link, _)| link)
    }
}

async fn seed_catalog(store: &dyn Store, t: &Tenant) {
    let now = Timestamp::from_unix(1_700_000_000);
    let rate = TaxRate {
        id: TaxRateId::parse(TAX_RATE).expect("a tax rate id"),
        display_name: "Sales tax".into(),
        percentage: TaxPercentage::parse("8.25").expect("a percentage"),
        inclusive: false,
        active: true,
        metadata: Metadata::default(),
        livemode: false,
        created_at: now,
        updated_at: now,
    };
    store.insert_tax_rate(t, &rate).await.expect("the tax rate");
    let eur = Currency::parse("EUR").expect("EUR");
    let product = Product {
        id: ProductId::parse(PRODUCT).expect("a product id"),
        name: "T-shirt".into(),
        description: None,
        image_url: None,
        unit_amount: Amount::new(2500).expect("an amount"),
        currency: Currency::USD,
        currency_options: [(
            eur.code().to_owned(),
            paylink_domain::prices::CurrencyPrice {
                unit_amount: Amount::new(2300).expect("an amount"),
            },
        )]
        .into_iter()
        .collect(),
        tax_rate_id: Some(rate.id.clone()),
        hsa_fsa_eligible: false,
        inventory: Some(Inventory { available: 100 }),
        active: true,
        metadata: Metadata::default(),
        livemode: false,
        created_at: now,
        updated_at: now,
    };
    store
        .insert_product(t, &product)
        .await
        .expect("the product");
}
