//! Catalog and customer objects: products, customers, tax rates and orders.

use serde::{Deserialize, Serialize};

use crate::id::{CustomerId, OrderId, PaymentId, ProductId, TaxRateId};
use crate::metadata::Metadata;
use crate::money::{Amount, Currency};
use crate::tax::{CartLine, PricingMode, TaxPercentage, Totals};
use crate::time::Timestamp;

/// Largest quantity of one line, and largest stock count.
pub const MAX_QUANTITY: u32 = 999_999;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Units that can still be sold (excluding units held by open checkouts).
    #[schema(maximum = 999999)]
    pub available: u32,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "product")]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub unit_amount: Amount,
    pub currency: Currency,
    /// Prices in other currencies, by upper-case code (`{"EUR": {"unit_amount": 900}}`).
    #[serde(default)]
    #[schema(schema_with = crate::prices::currency_options_schema)]
    pub currency_options: crate::prices::CurrencyOptions,
    pub tax_rate_id: Option<TaxRateId>,
    pub hsa_fsa_eligible: bool,
    /// `null` when stock is not tracked.
    pub inventory: Option<Inventory>,
    pub active: bool,
    pub metadata: Metadata,
    pub livemode: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub line1: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub line2: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub city: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub state: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: Option<String>,
}

impl Address {
    pub fn validate(&self, param: &str) -> Result<(), crate::ValidationError> {
        let fields = [
            ("line1", &self.line1),
            ("line2", &self.line2),
            ("city", &self.city),
            ("state", &self.state),
            ("postal_code", &self.postal_code),
        ];
        for (name, v) in fields {
            crate::text::bounded_opt(v.as_deref(), &format!("{param}.{name}"), 1, 200)?;
        }
        if let Some(c) = &self.country {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(crate::error::invalid(
                    format!("{param}.country"),
                    "`country` must be a two-letter upper-case ISO 3166-1 code",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "customer")]
pub struct Customer {
    pub id: CustomerId,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub metadata: Metadata,
    pub livemode: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "tax_rate")]
pub struct TaxRate {
    pub id: TaxRateId,
    pub display_name: String,
    pub percentage: TaxPercentage,
    /// Whether prices taxed at this rate include the tax; the default pricing mode of links
    /// that use the rate.
    pub inclusive: bool,
    pub active: bool,
    pub metadata: Metadata,
    pub livemode: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The part of a tax rate that a link or order keeps, so later edits change nothing.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaxRateSnapshot {
    pub id: TaxRateId,
    pub display_name: String,
    pub percentage: TaxPercentage,
    /// The rate's own `inclusive` when the snapshot was taken: it decides the pricing mode
    /// of a link or order created without one.
    #[serde(default)]
    pub inclusive: bool,
}

impl From<&TaxRate> for TaxRateSnapshot {
    fn from(t: &TaxRate) -> Self {
        Self {
            id: t.id.clone(),
            display_name: t.display_name.clone(),
            percentage: t.percentage,
            inclusive: t.inclusive,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Unpaid,
    Paid,
    Canceled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Unpaid => "unpaid",
            OrderStatus::Paid => "paid",
            OrderStatus::Canceled => "canceled",
        }
    }
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLineItem {
    pub product_id: Option<ProductId>,
    pub name: String,
    pub unit_amount: Amount,
    pub quantity: u32,
    pub tax_rate: Option<TaxRateSnapshot>,
    pub amount_subtotal: Amount,
    pub amount_tax: Amount,
    pub amount_total: Amount,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "order")]
pub struct Order {
    pub id: OrderId,
    pub customer_id: Option<CustomerId>,
    pub line_items: Vec<OrderLineItem>,
    pub currency: Currency,
    pub pricing_mode: PricingMode,
    pub amount_subtotal: Amount,
    pub amount_tax: Amount,
    pub amount_total: Amount,
    pub status: OrderStatus,
    pub payment_id: Option<PaymentId>,
    pub metadata: Metadata,
    pub livemode: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An order line before pricing.
pub struct OrderLineDraft {
    pub product_id: Option<ProductId>,
    pub name: String,
    pub unit_amount: Amount,
    pub quantity: u32,
    pub tax_rate: Option<TaxRateSnapshot>,
}

/// Prices order lines; `None` when the total overflows.
pub fn price_order_lines(
    lines: Vec<OrderLineDraft>,
    mode: PricingMode,
) -> Option<(Vec<OrderLineItem>, Totals)> {
    let cart: Vec<CartLine> = lines
        .iter()
        .map(|l| CartLine {
            unit_amount: l.unit_amount,
            quantity: l.quantity,
            tax_rate: l.tax_rate.as_ref().map(|t| t.percentage),
        })
        .collect();
    let (taxed, totals) = crate::tax::price_cart(&cart, mode)?;
    let items = lines
        .into_iter()
        .zip(taxed)
        .map(|(l, t)| OrderLineItem {
            product_id: l.product_id,
            name: l.name,
            unit_amount: l.unit_amount,
            quantity: l.quantity,
            tax_rate: l.tax_rate,
            amount_subtotal: t.amount,
            amount_tax: t.tax,
            amount_total: t.total,
        })
        .collect();
    Some((items, totals))
}

/// `order`'s tax snapshot percentage, for callers that only need the number.
pub fn snapshot_rate(s: &Option<TaxRateSnapshot>) -> Option<TaxPercentage> {
    s.as_ref().map(|t| t.percentage)
}
