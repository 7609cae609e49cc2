//! The payment link: its types, its status machine, and the rules a link must satisfy.
//!
//! Create and update both build a whole [`PaymentLink`] and then call
//! [`PaymentLink::validate`], so one function holds every cross-field rule.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::catalog::{TaxRateSnapshot, MAX_QUANTITY};
use crate::id::{CustomerId, OrderId, PaymentLinkId, ProductId};
use crate::metadata::Metadata;
use crate::money::{Amount, Currency};
pub use crate::prices::{
    validate_currency_options, CurrencyOptions, CurrencyPrice, LinkCurrencyOption,
};
use crate::settings::MerchantSettings;
use crate::tax::{price_cart, CartLine, PricingMode, Totals};
use crate::text::Slug;
use crate::time::Timestamp;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkType {
    Products,
    Custom,
    Donation,
    Subscription,
    Order,
}

impl LinkType {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkType::Products => "products",
            LinkType::Custom => "custom",
            LinkType::Donation => "donation",
            LinkType::Subscription => "subscription",
            LinkType::Order => "order",
        }
    }
}

/// A link's status as the API reports it. `Expired` is never stored: it is computed from
/// `expires_at` on every read, so it is always current.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    Active,
    Inactive,
    Expired,
    Paid,
    Cancelled,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Active => "active",
            LinkStatus::Inactive => "inactive",
            LinkStatus::Expired => "expired",
            LinkStatus::Paid => "paid",
            LinkStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => LinkStatus::Active,
            "inactive" => LinkStatus::Inactive,
            "expired" => LinkStatus::Expired,
            "paid" => LinkStatus::Paid,
            "cancelled" => LinkStatus::Cancelled,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustableQuantity {
    pub enabled: bool,
    #[serde(default)]
    #[schema(maximum = 999999)]
    pub minimum: u32,
    #[serde(default = "default_max_quantity")]
    #[schema(minimum = 1, maximum = 999999)]
    pub maximum: u32,
}

fn default_max_quantity() -> u32 {
    99
}

/// One line of a link, as a snapshot: later catalog edits never change what a link charges.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkLineItem {
    pub product_id: Option<ProductId>,
    pub name: String,
    pub image_url: Option<String>,
    pub unit_amount: Amount,
    /// Default quantity (0 is allowed when the customer may remove the line).
    pub quantity: u32,
    pub adjustable_quantity: Option<AdjustableQuantity>,
    pub hsa_fsa_eligible: bool,
    pub tax_rate: Option<TaxRateSnapshot>,
    /// The line's price in other currencies the buyer may pick, by code (`EUR`).
    #[serde(default, skip_serializing_if = "CurrencyOptions::is_empty")]
    #[schema(schema_with = crate::prices::currency_options_schema)]
    pub currency_options: CurrencyOptions,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Donation {
    pub minimum: Amount,
    pub maximum: Amount,
    pub preset_amounts: Vec<Amount>,
    pub default_amount: Option<Amount>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionTerms {
    pub interval: Interval,
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 1096)]
    pub interval_count: u32,
    #[serde(default)]
    #[schema(maximum = 730)]
    pub trial_period_days: u32,
}

fn one() -> u32 {
    1
}

impl SubscriptionTerms {
    /// The longest interval_count of any interval (36 months of days).
    pub const MAX_COUNT: u32 = 1096;

    /// The longest interval_count for the interval: 36 months' worth.
    pub fn max_count(interval: Interval) -> u32 {
        match interval {
            Interval::Day => 1096,
            Interval::Week => 156,
            Interval::Month => 36,
            Interval::Year => 3,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkTax {
    pub collect: bool,
    pub tax_rate_id: Option<crate::id::TaxRateId>,
    pub pricing_mode: PricingMode,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Collect {
    #[serde(default)]
    pub billing_address: bool,
    #[serde(default)]
    pub shipping_address: bool,
    #[serde(default)]
    pub phone: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldType {
    Text,
    Numeric,
    Dropdown,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DropdownOption {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub label: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub value: String,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomField {
    #[schema(min_length = 1, max_length = 200, pattern = "^[A-Za-z0-9_]*$")]
    pub key: String,
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub label: String,
    #[serde(rename = "type")]
    pub kind: CustomFieldType,
    #[serde(default)]
    #[schema(max_items = 200)]
    pub options: Vec<DropdownOption>,
    #[serde(default)]
    pub optional: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethodType {
    Card,
    /// Mobile pay (Apple Pay, Google Pay and the like).
    Wallet,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Prefill {
    #[schema(
        max_length = 254,
        pattern = r"^[^@\s\u0000-\u001F\u007F-\u009F]+@[^@.\s\u0000-\u001F\u007F-\u009F][^@\s\u0000-\u001F\u007F-\u009F]*\.[^@\s\u0000-\u001F\u007F-\u009F]*[^@.\s\u0000-\u001F\u007F-\u009F]$"
    )]
    pub email: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkStats {
    pub views: i64,
    pub checkouts_started: i64,
    /// Payments in every currency.
    pub payments_count: i64,
    /// In the link's own currency.
    pub amount_collected: i64,
    /// A link sold in several currencies, when read alone: its payments and takings in
    /// each (its own included).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub currencies: BTreeMap<String, CurrencyStats>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CurrencyStats {
    pub payments_count: i64,
    pub amount_collected: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreatorType {
    ApiKey,
    User,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedBy {
    #[serde(rename = "type")]
    pub kind: CreatorType,
    pub id: String,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "payment_link")]
pub struct PaymentLink {
    pub id: PaymentLinkId,
    /// `{public_url}/l/{slug}`; filled in by the server when the link is shown.
    pub url: String,
    pub slug: Slug,
    pub title: String,
    pub description: Option<String>,
    pub image_url: Option<String>,
    #[serde(rename = "type")]
    pub kind: LinkType,
    pub status: LinkStatus,
    pub currency: Currency,
    /// The other currencies the buyer may pick (those every line has a price in).
    #[serde(default)]
    pub currency_options: BTreeMap<String, LinkCurrencyOption>,
    pub line_items: Vec<LinkLineItem>,
    pub all_products: bool,
    pub donation: Option<Donation>,
    pub subscription: Option<SubscriptionTerms>,
    pub order_id: Option<OrderId>,
    pub tax: LinkTax,
    pub collect: Collect,
    pub custom_fields: Vec<CustomField>,
    pub payment_method_types: Vec<PaymentMethodType>,
    pub payments_limit: Option<u32>,
    pub payments_count: u32,
    /// While `paid`: the status it had before its uses ran out, and goes back to when its
    /// limit rises (a link deactivated with a checkout in progress stays deactivated).
    /// Kept by the store in a column of its own, never shown.
    #[serde(skip)]
    #[schema(ignore)]
    pub paid_from: Option<LinkStatus>,
    pub expires_at: Option<Timestamp>,
    pub opens_at: Option<Timestamp>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub confirmation_message: Option<String>,
    pub inactive_message: Option<String>,
    pub customer_id: Option<CustomerId>,
    pub prefill: Option<Prefill>,
    pub reference_id: Option<String>,
    pub metadata: Metadata,
    pub stats: LinkStats,
    pub created_by: CreatedBy,
    pub livemode: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What the rules need to know beyond the link itself.
pub struct LinkRules<'a> {
    pub settings: &'a MerchantSettings,
    pub now: Timestamp,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTransition {
    pub from: LinkStatus,
    pub action: &'static str,
}

impl PaymentLink {
    /// The status as of `now`: a non-terminal link past `expires_at` is `expired`.
    pub fn status_at(&self, now: Timestamp) -> LinkStatus {
        match self.status {
            LinkStatus::Active | LinkStatus::Inactive
                if self.expires_at.is_some_and(|e| e <= now) =>
            {
                LinkStatus::Expired
            }
            s => s,
        }
    }

    /// Sets `status` to the current one, as every read does.
    pub fn refresh_status(&mut self, now: Timestamp) {
        self.status = self.status_at(now);
    }

    /// Applies `activate`, `deactivate` or `cancel`. `Ok(false)` means it already was in the
    /// target state (no change, no event).
    pub fn transition(
        &mut self,
        action: &'static str,
        now: Timestamp,
    ) -> Result<bool, InvalidTransition> {
        let current = self.status_at(now);
        let refuse = || {
            Err(InvalidTransition {
                from: current,
                action,
            })
        };
        let target = match (action, current) {
            ("activate", LinkStatus::Active) | ("deactivate", LinkStatus::Inactive) => {
                return Ok(false)
            }
            ("activate", LinkStatus::Inactive) => LinkStatus::Active,
            ("deactivate", LinkStatus::Active) => LinkStatus::Inactive,
            ("cancel", LinkStatus::Active | LinkStatus::Inactive | LinkStatus::Expired) => {
                LinkStatus::Cancelled
            }
            _ => return refuse(),
        };
        self.status = target;
        self.updated_at = now;
        Ok(true)
    }

    /// The link is `paid` when its uses are used up, and back to what it was (`active` or
    /// `inactive`) when its limit rises.
    pub fn settle_paid_status(&mut self) {
        let used_up = self
            .payments_limit
            .is_some_and(|l| self.payments_count >= l);
        match self.status {
            was @ (LinkStatus::Active | LinkStatus::Inactive) if used_up => {
                self.status = LinkStatus::Paid;
                self.paid_from = Some(was);
            }
            LinkStatus::Paid if !used_up => {
                self.status = self.paid_from.take().unwrap_or(LinkStatus::Active);
            }
            _ => {}
        }
    }

    /// The other currencies every line has a price in, and the default subtotal in each
    /// (see [`PaymentLink::currency_options`]); none for links whose amount the customer
    /// or an order sets.
    pub fn offered_currencies(&self) -> BTreeMap<String, LinkCurrencyOption> {
        let mut out = BTreeMap::new();
        let Some(first) = self.line_items.first() else {
            return out;
        };
        if self.donation.is_some() || self.order_id.is_some() {
            return out;
        }
        'codes: for code in first.currency_options.keys() {
            let mut amount = Amount::ZERO;
            for l in &self.line_items {
                let Some(price) = l.currency_options.get(code) else {
                    continue 'codes;
                };
                let Some(a) = price
                    .unit_amount
                    .checked_mul(l.quantity)
                    .and_then(|x| amount.checked_add(x))
                else {
                    continue 'codes;
                };
                amount = a;
            }
            out.insert(code.clone(), LinkCurrencyOption { amount });
        }
        out
    }

    /// The link as it is sold in `currency`: its lines at their prices in it. `None` when
    /// the link does not offer it.
    pub fn in_currency(&self, currency: Currency) -> Option<PaymentLink> {
        if currency == self.currency {
            return Some(self.clone());
        }
        if !self.offered_currencies().contains_key(currency.code()) {
            return None;
        }
        let mut l = self.clone();
        l.currency = currency;
        for line in &mut l.line_items {
            line.unit_amount = line.currency_options.get(currency.code())?.unit_amount;
        }
        Some(l)
    }

    /// Cart lines at their default quantities.
    pub fn default_cart(&self) -> Vec<CartLine> {
        self.line_items
            .iter()
            .map(|l| CartLine {
                unit_amount: l.unit_amount,
                quantity: l.quantity,
                tax_rate: if self.tax.collect {
                    l.tax_rate.as_ref().map(|t| t.percentage)
                } else {
                    None
                },
            })
            .collect()
    }

    /// Totals at the default quantities (donations: the default amount, or the minimum).
    pub fn default_totals(&self) -> Option<Totals> {
        if let Some(d) = &self.donation {
            let amount = d.default_amount.unwrap_or(d.minimum);
            return Some(Totals {
                amount_subtotal: amount,
                amount_tax: Amount::ZERO,
                amount_total: amount,
            });
        }
        price_cart(&self.default_cart(), self.tax.pricing_mode).map(|(_, t)| t)
    }
}

mod validate;
pub use validate::validate_redirect_url;
