//! The payment link: its types, its status machine, and the rules a link must satisfy.
//!
//! Create and update both build a whole [`PaymentLink`] and then call
//! [`PaymentLink::validate`], so one function holds every cross-field rule.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

use crate::catalog::{TaxRateSnapshot, MAX_QUANTITY};
use crate::error::{inconsistent, invalid, ValidationError};
use crate::id::{CustomerId, OrderId, PaymentLinkId, ProductId};
use crate::metadata::Metadata;
use crate::money::{Amount, Currency};
pub use crate::prices::{
    validate_currency_options, CurrencyOptions, CurrencyPrice, LinkCurrencyOption,
};
use crate::settings::MerchantSettings;
use crate::shape::{forbids, max_lines, needs};
use crate::tax::{price_cart, CartLine, PricingMode, Totals};
use crate::text::{bounded, bounded_opt, email, https_url, url_host, Slug};
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

    /// Every rule a link must satisfy, on create and after every update.
    pub fn validate(&self, rules: &LinkRules<'_>) -> Result<(), ValidationError> {
        bounded(&self.title, "title", 3, 100)?;
        bounded_opt(self.description.as_deref(), "description", 0, 500)?;
        if let Some(u) = &self.image_url {
            https_url(u, "image_url")?;
        }
        bounded_opt(
            self.confirmation_message.as_deref(),
            "confirmation_message",
            1,
            500,
        )?;
        bounded_opt(self.inactive_message.as_deref(), "inactive_message", 1, 500)?;
        bounded_opt(self.reference_id.as_deref(), "reference_id", 1, 200)?;
        self.validate_shape()?;
        self.validate_lines()?;
        self.validate_amounts(rules.settings)?;
        self.validate_limits()?;
        self.validate_custom_fields()?;
        self.validate_payment_methods()?;
        for (param, url) in [
            ("success_url", &self.success_url),
            ("cancel_url", &self.cancel_url),
        ] {
            if let Some(u) = url {
                validate_redirect_url(u, param, rules.settings, self.livemode)?;
            }
        }
        if let Some(p) = &self.prefill {
            if let Some(e) = &p.email {
                email(e, "prefill.email")?;
            }
            bounded_opt(p.name.as_deref(), "prefill.name", 1, 100)?;
        }
        Ok(())
    }

    /// Which fields go with which type (the rules of [`crate::shape`]).
    fn validate_shape(&self) -> Result<(), ValidationError> {
        let t = self.kind;
        forbids(
            t,
            self.donation.is_some() && t != LinkType::Donation,
            "donation",
        )?;
        forbids(
            t,
            self.subscription.is_some() && t != LinkType::Subscription,
            "subscription",
        )?;
        forbids(
            t,
            self.order_id.is_some() && t != LinkType::Order,
            "order_id",
        )?;
        forbids(
            t,
            self.all_products && t != LinkType::Products,
            "all_products",
        )?;
        let lines = !self.line_items.is_empty();
        match t {
            LinkType::Products => needs(t, lines, "line_items", "line_items or all_products"),
            LinkType::Custom => needs(t, lines, "line_items", "line_items or amount"),
            LinkType::Donation => {
                forbids(t, lines, "line_items")?;
                needs(t, self.donation.is_some(), "donation", "donation")
            }
            LinkType::Subscription => {
                needs(
                    t,
                    self.subscription.is_some(),
                    "subscription",
                    "subscription",
                )?;
                needs(t, lines, "line_items", "line_items or amount")
            }
            LinkType::Order => {
                needs(t, self.order_id.is_some(), "order_id", "order_id")?;
                if self.payments_limit != Some(1) {
                    return Err(ValidationError::new(
                        "invalid_payments_limit_for_order_link",
                        "payments_limit",
                        "an order link must have `payments_limit` 1",
                    ));
                }
                Ok(())
            }
        }
    }

    fn validate_lines(&self) -> Result<(), ValidationError> {
        max_lines(self.line_items.len(), self.all_products)?;
        for (i, l) in self.line_items.iter().enumerate() {
            let p = format!("line_items[{i}]");
            bounded(&l.name, &format!("{p}.name"), 1, 250)?;
            validate_currency_options(
                &l.currency_options,
                self.currency,
                &format!("{p}.currency_options"),
            )?;
            // Custom lines offer the same currencies, so that forgetting one line's price
            // is an error rather than a currency silently not offered; products offer what
            // they have, and a link the currencies all its products share.
            let custom = self.line_items.iter().all(|l| l.product_id.is_none());
            let first = self.line_items.first().map(|f| f.currency_options.keys());
            if custom && first.is_some_and(|f| !f.eq(l.currency_options.keys())) {
                return Err(inconsistent(
                    format!("{p}.currency_options"),
                    "every line must offer the same other currencies",
                ));
            }
            if self.kind == LinkType::Products && l.product_id.is_none() {
                return Err(ValidationError::new(
                    "parameter_required",
                    format!("{p}.product_id"),
                    "`product_id` is required",
                ));
            }
            let (min, max) = match l.adjustable_quantity {
                Some(a) if a.enabled => {
                    if a.maximum == 0 || a.maximum > MAX_QUANTITY || a.minimum > MAX_QUANTITY {
                        return Err(invalid(
                            format!("{p}.adjustable_quantity"),
                            format!("`adjustable_quantity` needs 0 ≤ minimum ≤ maximum, 1 ≤ maximum ≤ {MAX_QUANTITY}"),
                        ));
                    }
                    if a.minimum > a.maximum {
                        return Err(inconsistent(
                            format!("{p}.adjustable_quantity"),
                            format!("`adjustable_quantity` needs 0 ≤ minimum ≤ maximum, 1 ≤ maximum ≤ {MAX_QUANTITY}"),
                        ));
                    }
                    (a.minimum, a.maximum)
                }
                _ => (1, MAX_QUANTITY),
            };
            if l.quantity < min || l.quantity > max {
                return Err(ValidationError::new(
                    "quantity_invalid",
                    format!("{p}.quantity"),
                    format!("`quantity` must be between {min} and {max}"),
                ));
            }
        }
        Ok(())
    }

    fn validate_amounts(&self, settings: &MerchantSettings) -> Result<(), ValidationError> {
        if self.donation.is_some() || self.order_id.is_some() {
            if let Some(i) = self
                .line_items
                .iter()
                .position(|l| !l.currency_options.is_empty())
            {
                return Err(inconsistent(
                    format!("line_items[{i}].currency_options"),
                    "this link's amount cannot be offered in other currencies",
                ));
            }
        }
        // Every other currency within the merchant's bounds for it, as the base is.
        for code in self.offered_currencies().keys() {
            if let Some(c) = Currency::parse(code).and_then(|c| self.in_currency(c)) {
                c.validate_amounts_in_base(settings).map_err(|mut e| {
                    e.param = Some(format!("currency_options.{code}"));
                    e
                })?;
            }
        }
        self.validate_amounts_in_base(settings)
    }

    fn validate_amounts_in_base(&self, settings: &MerchantSettings) -> Result<(), ValidationError> {
        let bounds = settings.bounds(self.currency);
        let out_of_bounds = |param: &str| {
            ValidationError::new(
                "amount_out_of_bounds",
                param,
                format!(
                    "the amount must be between {} and {}",
                    self.currency.format(bounds.minimum),
                    self.currency.format(bounds.maximum)
                ),
            )
        };
        if let Some(d) = &self.donation {
            if d.minimum > d.maximum {
                return Err(inconsistent(
                    "donation.minimum",
                    "`donation.minimum` must not exceed `donation.maximum`",
                ));
            }
            if d.minimum < bounds.minimum {
                return Err(out_of_bounds("donation.minimum"));
            }
            if d.maximum > bounds.maximum {
                return Err(out_of_bounds("donation.maximum"));
            }
            if d.preset_amounts.len() > 5 {
                return Err(invalid(
                    "donation.preset_amounts",
                    "at most 5 preset amounts",
                ));
            }
            let mut seen = HashSet::new();
            for (i, a) in d.preset_amounts.iter().enumerate() {
                if *a < d.minimum || *a > d.maximum || !seen.insert(*a) {
                    return Err(inconsistent(
                        format!("donation.preset_amounts[{i}]"),
                        "preset amounts must be distinct and within the donation's minimum and maximum",
                    ));
                }
            }
            if let Some(a) = d.default_amount {
                if a < d.minimum || a > d.maximum {
                    return Err(inconsistent(
                        "donation.default_amount",
                        "`default_amount` must be within minimum and maximum",
                    ));
                }
            }
            return Ok(());
        }
        let totals = self.default_totals().ok_or_else(|| {
            ValidationError::new(
                "amount_too_large",
                "line_items",
                "the link's total overflows the largest amount",
            )
        })?;
        // A cart whose default is empty (every line at quantity 0) is checked at checkout.
        let all_optional = self.line_items.iter().all(|l| l.quantity == 0);
        if all_optional && totals.amount_total == Amount::ZERO {
            return Ok(());
        }
        if totals.amount_total < bounds.minimum || totals.amount_total > bounds.maximum {
            return Err(out_of_bounds(if self.line_items.len() == 1 {
                "line_items[0].unit_amount"
            } else {
                "line_items"
            }));
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ValidationError> {
        if let Some(l) = self.payments_limit {
            if !(1..=1_000_000).contains(&l) {
                return Err(invalid(
                    "payments_limit",
                    "`payments_limit` must be between 1 and 1000000, or null",
                ));
            }
            if l < self.payments_count {
                return Err(ValidationError::new(
                    "payments_limit_below_count",
                    "payments_limit",
                    format!(
                        "`payments_limit` cannot go below the {} payments already made",
                        self.payments_count
                    ),
                ));
            }
        }
        if let (Some(o), Some(e)) = (self.opens_at, self.expires_at) {
            if o >= e {
                return Err(inconsistent(
                    "opens_at",
                    "`opens_at` must be before `expires_at`",
                ));
            }
        }
        if let Some(s) = &self.subscription {
            let max = SubscriptionTerms::max_count(s.interval);
            if s.interval_count < 1 || s.interval_count > SubscriptionTerms::MAX_COUNT {
                return Err(invalid(
                    "subscription.interval_count",
                    format!("`interval_count` must be between 1 and {max} for this interval (36 months' worth)"),
                ));
            }
            if s.interval_count > max {
                return Err(inconsistent(
                    "subscription.interval_count",
                    format!("`interval_count` must be between 1 and {max} for this interval (36 months' worth)"),
                ));
            }
            if s.trial_period_days > 730 {
                return Err(invalid(
                    "subscription.trial_period_days",
                    "`trial_period_days` must be between 0 and 730",
                ));
            }
        }
        Ok(())
    }

    fn validate_custom_fields(&self) -> Result<(), ValidationError> {
        if self.custom_fields.len() > 5 {
            return Err(invalid(
                "custom_fields",
                "a link can have at most 5 custom fields",
            ));
        }
        let mut keys = HashSet::new();
        for (i, f) in self.custom_fields.iter().enumerate() {
            let p = format!("custom_fields[{i}]");
            let key_ok = (1..=200).contains(&f.key.len())
                && f.key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !key_ok {
                return Err(invalid(
                    format!("{p}.key"),
                    "`key` must be 1–200 characters of A-Z, a-z, 0-9 and _",
                ));
            }
            if !keys.insert(f.key.as_str()) {
                return Err(inconsistent(
                    format!("{p}.key"),
                    "custom field keys must be unique",
                ));
            }
            bounded(&f.label, &format!("{p}.label"), 1, 50)?;
            match f.kind {
                CustomFieldType::Dropdown => {
                    if f.options.is_empty() || f.options.len() > 200 {
                        return Err(inconsistent(
                            format!("{p}.options"),
                            "a dropdown needs 1–200 options",
                        ));
                    }
                    let mut values = HashSet::new();
                    for (j, o) in f.options.iter().enumerate() {
                        bounded(&o.label, &format!("{p}.options[{j}].label"), 1, 100)?;
                        bounded(&o.value, &format!("{p}.options[{j}].value"), 1, 100)?;
                        if !values.insert(o.value.as_str()) {
                            return Err(inconsistent(
                                format!("{p}.options[{j}].value"),
                                "option values must be unique",
                            ));
                        }
                    }
                }
                _ if !f.options.is_empty() => {
                    return Err(inconsistent(
                        format!("{p}.options"),
                        "only dropdown fields take options",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn validate_payment_methods(&self) -> Result<(), ValidationError> {
        let unique: HashSet<_> = self.payment_method_types.iter().collect();
        if self.payment_method_types.is_empty() {
            return Err(invalid(
                "payment_method_types",
                "`payment_method_types` must list card and/or wallet, once each",
            ));
        }
        if unique.len() != self.payment_method_types.len() {
            return Err(inconsistent(
                "payment_method_types",
                "`payment_method_types` must list card and/or wallet, once each",
            ));
        }
        Ok(())
    }
}

/// A redirect target: https (or `http://localhost` in test mode), on the merchant's
/// allowlist when it has one. `{CHECKOUT_SESSION_ID}` may appear anywhere after the host.
pub fn validate_redirect_url(
    url: &str,
    param: &str,
    settings: &MerchantSettings,
    livemode: bool,
) -> Result<(), ValidationError> {
    let err =
        |why: &str| ValidationError::new("invalid_redirect_url", param, format!("`{param}` {why}"));
    if url.len() > 2048 {
        return Err(err("must be at most 2048 characters"));
    }
    let (scheme, host) = url_host(url).ok_or_else(|| err("must be an absolute https URL"))?;
    let local = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    match scheme {
        "https" => {}
        "http" if local && !livemode => return Ok(()),
        _ => {
            return Err(err(
                "must use https (http://localhost is allowed in test mode)",
            ))
        }
    }
    if local && !livemode {
        return Ok(());
    }
    let allowed = settings.redirect_allowlist.is_empty()
        || settings
            .redirect_allowlist
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host));
    if allowed {
        Ok(())
    } else {
        Err(err(&format!(
            "points to `{host}`, which is not on the redirect allowlist in settings"
        )))
    }
}
