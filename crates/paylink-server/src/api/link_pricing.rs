//! A link's pricing from its request: lines (custom, catalog products, a storefront, an
//! order's), donation bounds, tax and the prices in other currencies, resolved into the
//! snapshots the link keeps.

use std::collections::BTreeMap;

use serde::Deserialize;

use paylink_domain::catalog::{OrderStatus, Product, TaxRateSnapshot};
use paylink_domain::id::{CustomerId, OrderId, ProductId, TaxRateId};
use paylink_domain::link::*;
use paylink_domain::money::{Amount, Currency};
use paylink_domain::settings::MerchantSettings;
use paylink_domain::tax::PricingMode;
use paylink_store::{ProductFilter, Tenant};

use super::orders::{currency_mismatch, tax_snapshot};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct LineItemIn {
    /// `products` and `subscription` links: a catalog product.
    pub product_id: Option<ProductId>,
    /// `custom` and `subscription` links: a line of your own.
    #[schema(
        min_length = 1,
        max_length = 250,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    pub unit_amount: Option<Amount>,
    #[serde(default = "one")]
    #[schema(maximum = 999999)]
    pub quantity: u32,
    pub adjustable_quantity: Option<AdjustableQuantity>,
    pub hsa_fsa_eligible: Option<bool>,
    /// Custom lines: the price in other currencies the buyer may pick (`{"EUR":
    /// {"unit_amount": 900}}`); every line offers the same ones. Product lines take their
    /// product's.
    #[serde(default)]
    #[schema(schema_with = paylink_domain::prices::currency_options_schema)]
    pub currency_options: CurrencyOptions,
}

/// With `amount`: the amount in another currency the buyer may pick.
#[derive(Deserialize, utoipa::ToSchema, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct AmountOptionIn {
    pub amount: Amount,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize, utoipa::ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct DonationIn {
    /// Default: the merchant's minimum for the currency.
    pub minimum: Option<Amount>,
    /// Default: the merchant's maximum for the currency.
    pub maximum: Option<Amount>,
    #[serde(default)]
    #[schema(max_items = 5)]
    pub preset_amounts: Vec<Amount>,
    pub default_amount: Option<Amount>,
}

#[derive(Deserialize, utoipa::ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct TaxIn {
    #[serde(default)]
    pub collect: bool,
    /// Applies to every line; otherwise product lines use their product's rate.
    pub tax_rate_id: Option<TaxRateId>,
    /// Wins for every line when given. Default: the lines' tax rates' own `inclusive`
    /// (`pricing_mode_required` when they disagree), else the merchant's `pricing_mode`.
    pub pricing_mode: Option<PricingMode>,
}

impl From<&Donation> for DonationIn {
    fn from(d: &Donation) -> Self {
        Self {
            minimum: Some(d.minimum),
            maximum: Some(d.maximum),
            preset_amounts: d.preset_amounts.clone(),
            default_amount: d.default_amount,
        }
    }
}

/// The pricing part of a link, resolved from the request into snapshots.
pub(super) struct Pricing {
    pub(super) currency: Currency,
    pub(super) line_items: Vec<LinkLineItem>,
    pub(super) donation: Option<Donation>,
    pub(super) tax: LinkTax,
    pub(super) order_id: Option<OrderId>,
    pub(super) order_customer: Option<CustomerId>,
    /// The link-level tax rate, when one was given.
    pub(super) link_rate: Option<TaxRateSnapshot>,
}

pub(super) struct PricingIn<'a> {
    pub(super) kind: LinkType,
    pub(super) title: &'a str,
    pub(super) currency: Option<Currency>,
    pub(super) line_items: Option<Vec<LineItemIn>>,
    pub(super) amount: Option<Amount>,
    pub(super) currency_options: Option<BTreeMap<String, AmountOptionIn>>,
    pub(super) all_products: bool,
    pub(super) donation: Option<DonationIn>,
    pub(super) order_id: Option<OrderId>,
    pub(super) tax: Option<TaxIn>,
}

pub(super) async fn resolve_pricing(
    state: &AppState,
    t: &Tenant,
    settings: &MerchantSettings,
    p: PricingIn<'_>,
) -> ApiResult<Pricing> {
    // Which fields go with the link's type, before anything is looked up.
    paylink_domain::shape::LinkRequest {
        kind: Some(p.kind),
        amount: p.amount.is_some(),
        currency_options: p.currency_options.is_some(),
        line_items: p.line_items.as_ref().map(Vec::len),
        all_products: p.all_products,
        donation: p.donation.is_some(),
        order_id: p.order_id.is_some(),
    }
    .check()?;
    let tax_in = p.tax.unwrap_or(TaxIn {
        collect: false,
        tax_rate_id: None,
        pricing_mode: None,
    });
    let link_rate = match &tax_in.tax_rate_id {
        Some(id) => Some(tax_snapshot(state, t, id, "tax.tax_rate_id").await?),
        None => None,
    };
    let mut currency = p.currency;
    let mut lines = Vec::new();
    let mut order_customer = None;
    let mut pricing_mode = tax_in.pricing_mode;
    let mut collect = tax_in.collect;

    match p.kind {
        LinkType::Order => {
            // `LinkRequest::check` made sure an order link names its order.
            let Some(id) = p.order_id.clone() else {
                return Err(ApiError::internal("an order link without `order_id`"));
            };
            let order =
                state.store.get_order(t, &id).await.map_err(|_| {
                    ApiError::missing_reference("order_not_found", "order_id", "order")
                })?;
            if order.status != OrderStatus::Unpaid {
                return Err(ApiError::conflict(
                    "order_not_payable",
                    format!(
                        "The order is `{}`; only unpaid orders can be paid by link",
                        order.status.as_str()
                    ),
                ));
            }
            if let Some(c) = currency {
                if c != order.currency {
                    return Err(currency_mismatch("currency", order.currency, c));
                }
            }
            currency = Some(order.currency);
            pricing_mode = Some(order.pricing_mode);
            collect = order.line_items.iter().any(|l| l.tax_rate.is_some());
            order_customer = order.customer_id.clone();
            lines = order
                .line_items
                .iter()
                .map(|l| LinkLineItem {
                    product_id: l.product_id.clone(),
                    name: l.name.clone(),
                    image_url: None,
                    unit_amount: l.unit_amount,
                    quantity: l.quantity,
                    adjustable_quantity: None,
                    hsa_fsa_eligible: false,
                    tax_rate: l.tax_rate.clone(),
                    currency_options: CurrencyOptions::new(),
                })
                .collect();
        }
        LinkType::Donation => {}
        _ if p.all_products => {
            let c = currency.unwrap_or(settings.default_currency);
            currency = Some(c);
            let page = paylink_store::Page {
                limit: 100,
                ..Default::default()
            };
            let products = state
                .store
                .list_products(t, &ProductFilter { active: Some(true) }, &page)
                .await?;
            for prod in products.data.into_iter().rev().filter(|p| p.currency == c) {
                let rate =
                    product_rate(state, t, &link_rate, &prod.tax_rate_id, "all_products").await?;
                lines.push(storefront_line(prod, rate));
            }
            if lines.is_empty() {
                return Err(ApiError::invalid(
                    "no_active_products",
                    "all_products",
                    format!("There are no active products in {c}"),
                ));
            }
        }
        _ => {
            let items = match (p.line_items, p.amount) {
                (Some(items), _) => items,
                (None, Some(amount)) => vec![LineItemIn {
                    product_id: None,
                    name: Some(p.title.to_owned()),
                    unit_amount: Some(amount),
                    quantity: 1,
                    adjustable_quantity: None,
                    hsa_fsa_eligible: None,
                    currency_options: p
                        .currency_options
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(code, o)| {
                            (
                                code,
                                CurrencyPrice {
                                    unit_amount: o.amount,
                                },
                            )
                        })
                        .collect(),
                }],
                (None, None) => Vec::new(),
            };
            for (i, item) in items.into_iter().enumerate() {
                let param = format!("line_items[{i}]");
                let line = match (item.product_id, item.name, item.unit_amount) {
                    (Some(pid), None, None) => {
                        if p.kind == LinkType::Custom {
                            return Err(ApiError::invalid(
                                "parameters_exclusive",
                                format!("{param}.product_id"),
                                "A `custom` link takes `name` and `unit_amount`; use a `products` link for catalog items",
                            ));
                        }
                        let prod = state.store.get_product(t, &pid).await.map_err(|_| {
                            ApiError::missing_reference(
                                "product_not_found",
                                format!("{param}.product_id"),
                                "product",
                            )
                        })?;
                        if !prod.active {
                            return Err(ApiError::invalid(
                                "product_inactive",
                                format!("{param}.product_id"),
                                "The product is archived",
                            ));
                        }
                        if !item.currency_options.is_empty() {
                            return Err(ApiError::invalid(
                                "parameters_exclusive",
                                format!("{param}.currency_options"),
                                "A product line takes its prices in other currencies from the product",
                            ));
                        }
                        let c = *currency.get_or_insert(prod.currency);
                        if prod.currency != c {
                            return Err(currency_mismatch(
                                &format!("{param}.product_id"),
                                prod.currency,
                                c,
                            ));
                        }
                        let rate =
                            product_rate(state, t, &link_rate, &prod.tax_rate_id, &param).await?;
                        LinkLineItem {
                            product_id: Some(pid),
                            name: prod.name,
                            image_url: prod.image_url,
                            unit_amount: prod.unit_amount,
                            quantity: item.quantity,
                            adjustable_quantity: item.adjustable_quantity,
                            hsa_fsa_eligible: item
                                .hsa_fsa_eligible
                                .unwrap_or(prod.hsa_fsa_eligible),
                            tax_rate: rate,
                            currency_options: prod.currency_options,
                        }
                    }
                    (None, Some(name), Some(unit_amount)) => {
                        if p.kind == LinkType::Products {
                            return Err(ApiError::invalid(
                                "parameter_required",
                                format!("{param}.product_id"),
                                "A `products` link takes catalog products: `product_id`",
                            ));
                        }
                        LinkLineItem {
                            product_id: None,
                            name,
                            image_url: None,
                            unit_amount,
                            quantity: item.quantity,
                            adjustable_quantity: item.adjustable_quantity,
                            hsa_fsa_eligible: item.hsa_fsa_eligible.unwrap_or(false),
                            tax_rate: link_rate.clone(),
                            currency_options: item.currency_options,
                        }
                    }
                    _ => {
                        return Err(ApiError::invalid(
                            "parameter_required",
                            param,
                            "Each line needs either `product_id`, or `name` and `unit_amount`",
                        ))
                    }
                };
                lines.push(line);
            }
        }
    }
    let currency = currency.unwrap_or(settings.default_currency);
    // Only a donation link has one (`LinkRequest::check`).
    let donation = p.donation.map(|d| {
        let bounds = settings.bounds(currency);
        Donation {
            minimum: d.minimum.unwrap_or(bounds.minimum),
            maximum: d.maximum.unwrap_or(bounds.maximum),
            preset_amounts: d.preset_amounts,
            default_amount: d.default_amount,
        }
    });
    if !collect {
        for l in &mut lines {
            l.tax_rate = None;
        }
    }
    let rates = lines.iter().filter_map(|l| l.tax_rate.as_ref());
    let pricing_mode = paylink_domain::tax::pricing_mode_of(
        pricing_mode,
        link_rate
            .iter()
            .filter(|_| collect)
            .chain(rates)
            .map(|r| r.inclusive),
        settings.pricing_mode,
    )?;
    Ok(Pricing {
        currency,
        line_items: lines,
        donation,
        tax: LinkTax {
            collect,
            tax_rate_id: tax_in.tax_rate_id,
            pricing_mode,
        },
        order_id: p.order_id,
        order_customer,
        link_rate,
    })
}

/// A storefront's (`all_products`) line for a product: any quantity from 0 to 99.
pub fn storefront_line(prod: Product, tax_rate: Option<TaxRateSnapshot>) -> LinkLineItem {
    LinkLineItem {
        product_id: Some(prod.id),
        name: prod.name,
        image_url: prod.image_url,
        unit_amount: prod.unit_amount,
        quantity: 0,
        adjustable_quantity: Some(AdjustableQuantity {
            enabled: true,
            minimum: 0,
            maximum: 99,
        }),
        hsa_fsa_eligible: prod.hsa_fsa_eligible,
        tax_rate,
        currency_options: prod.currency_options,
    }
}

async fn product_rate(
    state: &AppState,
    t: &Tenant,
    link_rate: &Option<TaxRateSnapshot>,
    product_rate: &Option<TaxRateId>,
    param: &str,
) -> ApiResult<Option<TaxRateSnapshot>> {
    Ok(match (link_rate, product_rate) {
        (Some(r), _) => Some(r.clone()),
        (None, Some(id)) => Some(tax_snapshot(state, t, id, param).await?),
        (None, None) => None,
    })
}
