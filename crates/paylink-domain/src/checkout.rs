//! Checkout: pricing a link with the customer's choices, and the objects a checkout makes
//! (sessions, payments, refunds).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::catalog::{Address, Order, OrderLineItem, OrderStatus, TaxRateSnapshot};
use crate::error::{invalid, ValidationError};
use crate::id::{
    CheckoutSessionId, OrderId, PaymentId, PaymentLinkId, ProductId, RefundId, SubscriptionId,
};
use crate::link::{CustomFieldType, LinkType, PaymentLink};
use crate::money::{checked_sum, Amount, Currency};
use crate::settings::MerchantSettings;
use crate::tax::{line_tax, Totals};
use crate::time::Timestamp;

/// What the customer chose on the page.
#[derive(Clone, Debug, Default)]
pub struct Choice {
    /// One quantity per line of the link, in order; `None` keeps the defaults.
    pub quantities: Option<Vec<u32>>,
    /// Donations: the amount given.
    pub amount: Option<Amount>,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckoutLine {
    pub product_id: Option<ProductId>,
    pub name: String,
    pub unit_amount: Amount,
    pub quantity: u32,
    pub hsa_fsa_eligible: bool,
    /// The rate the line was taxed at (absent on sessions opened before it was kept).
    #[serde(default)]
    pub tax_rate: Option<TaxRateSnapshot>,
    pub amount_subtotal: Amount,
    pub amount_tax: Amount,
    pub amount_total: Amount,
}

/// A priced cart, ready to reserve and charge.
#[derive(Clone, PartialEq, Debug)]
pub struct PricedCart {
    pub lines: Vec<CheckoutLine>,
    pub totals: Totals,
    /// The part of the total that HSA/FSA cards may pay.
    pub hsa_fsa_amount: Amount,
    /// Units of each stock-tracked product the cart needs (filled in by the caller, who
    /// knows which products track stock).
    pub stock: BTreeMap<ProductId, u32>,
}

fn too_large() -> ValidationError {
    ValidationError::new(
        "amount_too_large",
        "quantities",
        "The total overflows the largest amount",
    )
}

/// Prices `link` with the customer's `choice`, within the merchant's bounds.
pub fn price(
    link: &PaymentLink,
    choice: &Choice,
    settings: &MerchantSettings,
) -> Result<PricedCart, ValidationError> {
    let bounds = settings.bounds(link.currency);
    if link.kind == LinkType::Donation {
        let d = link
            .donation
            .as_ref()
            .ok_or_else(|| invalid("amount", "This donation link has no donation settings"))?;
        let amount = choice.amount.or(d.default_amount).ok_or_else(|| {
            ValidationError::new("parameter_missing", "amount", "Choose an amount to give")
        })?;
        if amount < d.minimum || amount > d.maximum {
            return Err(ValidationError::new(
                "amount_out_of_bounds",
                "amount",
                format!(
                    "Give between {} and {}",
                    link.currency.format(d.minimum),
                    link.currency.format(d.maximum)
                ),
            ));
        }
        let line = CheckoutLine {
            product_id: None,
            name: link.title.clone(),
            unit_amount: amount,
            quantity: 1,
            hsa_fsa_eligible: false,
            tax_rate: None,
            amount_subtotal: amount,
            amount_tax: Amount::ZERO,
            amount_total: amount,
        };
        let totals = Totals {
            amount_subtotal: amount,
            amount_tax: Amount::ZERO,
            amount_total: amount,
        };
        return Ok(PricedCart {
            lines: vec![line],
            totals,
            hsa_fsa_amount: Amount::ZERO,
            stock: BTreeMap::new(),
        });
    }
    if choice.amount.is_some() {
        return Err(invalid("amount", "Only donation links take an amount"));
    }
    let quantities: Vec<u32> = match &choice.quantities {
        None => link.line_items.iter().map(|l| l.quantity).collect(),
        Some(q) if q.len() == link.line_items.len() => q.clone(),
        Some(_) => {
            return Err(invalid(
                "quantities",
                format!(
                    "Give one quantity for each of the link's {} lines",
                    link.line_items.len()
                ),
            ))
        }
    };
    let mut lines = Vec::with_capacity(quantities.len());
    for (i, (item, qty)) in link.line_items.iter().zip(quantities).enumerate() {
        let allowed = match item.adjustable_quantity {
            Some(a) if a.enabled => (a.minimum..=a.maximum).contains(&qty),
            _ => qty == item.quantity,
        };
        if !allowed {
            let message = match item.adjustable_quantity {
                Some(a) if a.enabled => format!(
                    "Choose between {} and {} of {}",
                    a.minimum, a.maximum, item.name
                ),
                _ => format!("The quantity of {} cannot be changed", item.name),
            };
            return Err(ValidationError::new(
                "quantity_invalid",
                format!("quantities[{i}]"),
                message,
            ));
        }
        if qty == 0 {
            continue;
        }
        let amount = item.unit_amount.checked_mul(qty).ok_or_else(too_large)?;
        let tax_rate = item.tax_rate.clone().filter(|_| link.tax.collect);
        let rate = tax_rate.as_ref().map(|t| t.percentage);
        let taxed = line_tax(amount, rate, link.tax.pricing_mode).ok_or_else(too_large)?;
        lines.push(CheckoutLine {
            product_id: item.product_id.clone(),
            name: item.name.clone(),
            unit_amount: item.unit_amount,
            quantity: qty,
            hsa_fsa_eligible: item.hsa_fsa_eligible,
            tax_rate,
            amount_subtotal: taxed.amount,
            amount_tax: taxed.tax,
            amount_total: taxed.total,
        });
    }
    if lines.is_empty() {
        return Err(ValidationError::new(
            "cart_empty",
            "quantities",
            "Choose at least one item",
        ));
    }
    let totals = Totals {
        amount_subtotal: checked_sum(lines.iter().map(|l| l.amount_subtotal))
            .ok_or_else(too_large)?,
        amount_tax: checked_sum(lines.iter().map(|l| l.amount_tax)).ok_or_else(too_large)?,
        amount_total: checked_sum(lines.iter().map(|l| l.amount_total)).ok_or_else(too_large)?,
    };
    if totals.amount_total < bounds.minimum || totals.amount_total > bounds.maximum {
        return Err(ValidationError::new(
            "amount_out_of_bounds",
            "quantities",
            format!(
                "The total must be between {} and {}",
                link.currency.format(bounds.minimum),
                link.currency.format(bounds.maximum)
            ),
        ));
    }
    let hsa_fsa_amount = checked_sum(
        lines
            .iter()
            .filter(|l| l.hsa_fsa_eligible)
            .map(|l| l.amount_total),
    )
    .ok_or_else(too_large)?;
    let mut stock = BTreeMap::new();
    for l in &lines {
        if let Some(p) = &l.product_id {
            *stock.entry(p.clone()).or_insert(0u32) += l.quantity;
        }
    }
    Ok(PricedCart {
        lines,
        totals,
        hsa_fsa_amount,
        stock,
    })
}

/// The order a successful payment through a link makes (when the merchant keeps orders):
/// what was paid, line by line, already `paid`, for the link's customer if it has one.
pub fn order_of(
    payment: &Payment,
    id: OrderId,
    customer_id: Option<crate::id::CustomerId>,
    pricing_mode: crate::tax::PricingMode,
) -> Order {
    let line_items = payment
        .line_items
        .iter()
        .map(|l| OrderLineItem {
            product_id: l.product_id.clone(),
            name: l.name.clone(),
            unit_amount: l.unit_amount,
            quantity: l.quantity,
            tax_rate: l.tax_rate.clone(),
            amount_subtotal: l.amount_subtotal,
            amount_tax: l.amount_tax,
            amount_total: l.amount_total,
        })
        .collect::<Vec<_>>();
    Order {
        id,
        customer_id,
        amount_subtotal: payment
            .line_items
            .iter()
            .try_fold(Amount::ZERO, |a, l| a.checked_add(l.amount_subtotal))
            .unwrap_or(payment.amount),
        line_items,
        currency: payment.currency,
        pricing_mode,
        amount_tax: payment.amount_tax,
        amount_total: payment.amount,
        status: OrderStatus::Paid,
        payment_id: Some(payment.id.clone()),
        metadata: crate::metadata::Metadata::default(),
        livemode: payment.livemode,
        created_at: payment.created_at,
        updated_at: payment.created_at,
    }
}

/// Checks the customer's answers to the link's custom fields.
pub fn custom_field_values(
    link: &PaymentLink,
    given: &BTreeMap<String, String>,
) -> Result<Vec<CustomFieldValue>, ValidationError> {
    for k in given.keys() {
        if !link.custom_fields.iter().any(|f| &f.key == k) {
            return Err(ValidationError::new(
                "parameter_unknown",
                format!("custom_fields.{k}"),
                "No such custom field",
            ));
        }
    }
    let mut out = Vec::new();
    for f in &link.custom_fields {
        if let Some(v) = custom_field_value(f, given.get(&f.key).map(String::as_str))? {
            out.push(v);
        }
    }
    Ok(out)
}

/// One custom field's answer checked: `None` when an optional field is left empty; a
/// required one left empty is `parameter_missing`, an answer the field does not take
/// (not digits, not one of the options, over 255 characters) `parameter_invalid`.
pub fn custom_field_value(
    f: &crate::link::CustomField,
    given: Option<&str>,
) -> Result<Option<CustomFieldValue>, ValidationError> {
    let param = format!("custom_fields.{}", f.key);
    let Some(v) = given.map(str::trim).filter(|v| !v.is_empty()) else {
        if f.optional {
            return Ok(None);
        }
        return Err(ValidationError::new(
            "parameter_missing",
            param,
            format!("{} is required", f.label),
        ));
    };
    let ok = match f.kind {
        CustomFieldType::Text => v.chars().count() <= 255,
        CustomFieldType::Numeric => v.len() <= 255 && v.bytes().all(|b| b.is_ascii_digit()),
        CustomFieldType::Dropdown => f.options.iter().any(|o| o.value == v),
    };
    if !ok {
        return Err(invalid(param, format!("{} is not a valid answer", f.label)));
    }
    Ok(Some(CustomFieldValue {
        key: f.key.clone(),
        label: f.label.clone(),
        value: v.to_owned(),
    }))
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomFieldValue {
    pub key: String,
    pub label: String,
    pub value: String,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerDetails {
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<Address>,
    pub shipping_address: Option<Address>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Complete => "complete",
            SessionStatus::Expired => "expired",
        }
    }
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "checkout_session")]
pub struct CheckoutSession {
    pub id: CheckoutSessionId,
    pub payment_link_id: PaymentLinkId,
    pub status: SessionStatus,
    pub currency: Currency,
    pub line_items: Vec<CheckoutLine>,
    pub amount_subtotal: Amount,
    pub amount_tax: Amount,
    pub amount_total: Amount,
    pub hsa_fsa_amount: Amount,
    pub customer: CustomerDetails,
    pub custom_fields: Vec<CustomFieldValue>,
    /// Where the customer came from: `reference_id` and `utm_*` from the link's URL.
    #[serde(default)]
    pub attribution: BTreeMap<String, String>,
    pub payment_id: Option<PaymentId>,
    /// On a subscription link: the terms the customer subscribes to, as they were when
    /// the checkout opened (a later edit of the link changes no one's subscription).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<crate::link::SubscriptionTerms>,
    pub livemode: bool,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
}

impl CheckoutSession {
    /// What paying this session charges today: nothing during a trial (the card is kept
    /// for the first charge when it ends), else the total.
    pub fn amount_due_today(&self) -> Amount {
        match self.subscription {
            Some(t) if t.trial_period_days > 0 => Amount::ZERO,
            _ => self.amount_total,
        }
    }
}

/// A receipt number as customers see it: `R-` and at least six digits (`R-000042`), from
/// the merchant's count of payments that took one.
pub fn receipt_number(seq: i64) -> String {
    format!("R-{seq:06}")
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Succeeded,
    Failed,
    PartiallyRefunded,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "succeeded" => PaymentStatus::Succeeded,
            "failed" => PaymentStatus::Failed,
            "partially_refunded" => PaymentStatus::PartiallyRefunded,
            "refunded" => PaymentStatus::Refunded,
            _ => return None,
        })
    }

    /// The status after `refunded` of `amount` has been given back.
    pub fn after_refunds(amount: Amount, refunded: Amount) -> Self {
        if refunded == Amount::ZERO {
            PaymentStatus::Succeeded
        } else if refunded >= amount {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CardDetails {
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentMethodDetails {
    #[serde(rename = "type")]
    pub kind: crate::link::PaymentMethodType,
    pub card: Option<CardDetails>,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "payment")]
pub struct Payment {
    pub id: PaymentId,
    pub payment_link_id: PaymentLinkId,
    pub checkout_session_id: CheckoutSessionId,
    pub order_id: Option<OrderId>,
    pub subscription_id: Option<SubscriptionId>,
    pub amount: Amount,
    pub amount_tax: Amount,
    pub amount_refunded: Amount,
    pub currency: Currency,
    pub status: PaymentStatus,
    pub failure_code: Option<String>,
    pub customer: CustomerDetails,
    pub custom_fields: Vec<CustomFieldValue>,
    #[serde(default)]
    pub attribution: BTreeMap<String, String>,
    pub line_items: Vec<CheckoutLine>,
    pub payment_method: PaymentMethodDetails,
    pub processor: String,
    pub processor_reference: Option<String>,
    pub hsa_fsa_amount: Amount,
    pub receipt_number: Option<String>,
    pub receipt_url: Option<String>,
    /// The customer disputed the payment with their bank (the processor told us).
    #[serde(default)]
    pub disputed: bool,
    pub livemode: bool,
    pub created_at: Timestamp,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "refund")]
pub struct Refund {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub amount: Amount,
    pub currency: Currency,
    pub reason: Option<String>,
    pub status: String,
    pub processor_reference: String,
    pub livemode: bool,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::*;
    use crate::metadata::Metadata;
    use crate::tax::{PricingMode, TaxPercentage};
    use crate::text::Slug;

    fn link(lines: Vec<LinkLineItem>, mode: PricingMode) -> PaymentLink {
        PaymentLink {
            currency_options: Default::default(),
            id: PaymentLinkId::generate(),
            url: String::new(),
            slug: Slug::from_trusted("t".into()),
            title: "Test".into(),
            description: None,
            image_url: None,
            kind: LinkType::Products,
            status: LinkStatus::Active,
            currency: Currency::USD,
            line_items: lines,
            all_products: false,
            donation: None,
            subscription: None,
            order_id: None,
            tax: LinkTax {
                collect: true,
                tax_rate_id: None,
                pricing_mode: mode,
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
                kind: CreatorType::User,
                id: "u".into(),
            },
            livemode: false,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        }
    }

    fn line(
        name: &str,
        amount: i64,
        qty: u32,
        adjustable: Option<(u32, u32)>,
        hsa: bool,
        rate: Option<&str>,
    ) -> LinkLineItem {
        LinkLineItem {
            product_id: Some(ProductId::generate()),
            name: name.into(),
            image_url: None,
            unit_amount: Amount::new(amount).unwrap(),
            quantity: qty,
            adjustable_quantity: adjustable.map(|(minimum, maximum)| AdjustableQuantity {
                enabled: true,
                minimum,
                maximum,
            }),
            hsa_fsa_eligible: hsa,
            tax_rate: rate.map(|r| crate::catalog::TaxRateSnapshot {
                id: crate::id::TaxRateId::generate(),
                display_name: "Tax".into(),
                percentage: TaxPercentage::parse(r).unwrap(),
                inclusive: false,
            }),
            currency_options: Default::default(),
        }
    }

    #[test]
    fn prices_quantities_tax_and_hsa() {
        let l = link(
            vec![
                line("Brace", 2000, 1, Some((0, 5)), true, Some("10")),
                line("Gift wrap", 300, 1, None, false, None),
            ],
            PricingMode::Exclusive,
        );
        let s = MerchantSettings::new("M".into(), None);
        let c = price(
            &l,
            &Choice {
                quantities: Some(vec![3, 1]),
                amount: None,
            },
            &s,
        )
        .unwrap();
        assert_eq!(
            (
                c.totals.amount_subtotal.minor(),
                c.totals.amount_tax.minor(),
                c.totals.amount_total.minor()
            ),
            (6300, 600, 6900)
        );
        assert_eq!(c.hsa_fsa_amount.minor(), 6600);
        assert_eq!(
            c.stock
                .values()
                .copied()
                .collect::<Vec<_>>()
                .iter()
                .sum::<u32>(),
            4
        );
        // Lines at zero are dropped; fixed lines cannot change; bounds hold.
        let c = price(
            &l,
            &Choice {
                quantities: Some(vec![0, 1]),
                amount: None,
            },
            &s,
        )
        .unwrap();
        assert_eq!(c.lines.len(), 1);
        assert_eq!(
            price(
                &l,
                &Choice {
                    quantities: Some(vec![1, 2]),
                    amount: None
                },
                &s
            )
            .unwrap_err()
            .code,
            "quantity_invalid"
        );
        assert_eq!(
            price(
                &l,
                &Choice {
                    quantities: Some(vec![6, 1]),
                    amount: None
                },
                &s
            )
            .unwrap_err()
            .param
            .as_deref(),
            Some("quantities[0]")
        );
        assert_eq!(
            price(
                &l,
                &Choice {
                    quantities: Some(vec![1]),
                    amount: None
                },
                &s
            )
            .unwrap_err()
            .code,
            "parameter_invalid"
        );
        let only_optional = link(
            vec![line("Brace", 2000, 0, Some((0, 5)), true, None)],
            PricingMode::Exclusive,
        );
        assert_eq!(
            price(&only_optional, &Choice::default(), &s)
                .unwrap_err()
                .code,
            "cart_empty"
        );
    }

    #[test]
    fn donations_stay_within_their_bounds() {
        let mut l = link(vec![], PricingMode::Exclusive);
        l.kind = LinkType::Donation;
        l.donation = Some(Donation {
            minimum: Amount::new(100).unwrap(),
            maximum: Amount::new(5000).unwrap(),
            preset_amounts: vec![],
            default_amount: None,
        });
        let s = MerchantSettings::new("M".into(), None);
        let ok = price(
            &l,
            &Choice {
                quantities: None,
                amount: Amount::new(2500),
            },
            &s,
        )
        .unwrap();
        assert_eq!(ok.totals.amount_total.minor(), 2500);
        assert_eq!(
            price(
                &l,
                &Choice {
                    quantities: None,
                    amount: Amount::new(99)
                },
                &s
            )
            .unwrap_err()
            .code,
            "amount_out_of_bounds"
        );
        assert_eq!(
            price(
                &l,
                &Choice {
                    quantities: None,
                    amount: Amount::new(5001)
                },
                &s
            )
            .unwrap_err()
            .code,
            "amount_out_of_bounds"
        );
        assert_eq!(
            price(&l, &Choice::default(), &s).unwrap_err().code,
            "parameter_missing"
        );
    }

    #[test]
    fn custom_fields_are_checked() {
        let mut l = link(vec![], PricingMode::Exclusive);
        l.custom_fields = vec![
            CustomField {
                key: "size".into(),
                label: "Size".into(),
                kind: CustomFieldType::Dropdown,
                options: vec![DropdownOption {
                    label: "M".into(),
                    value: "m".into(),
                }],
                optional: false,
            },
            CustomField {
                key: "po".into(),
                label: "PO".into(),
                kind: CustomFieldType::Numeric,
                options: vec![],
                optional: true,
            },
        ];
        let given = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            custom_field_values(&l, &given(&[("size", "m")]))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            custom_field_values(&l, &given(&[])).unwrap_err().code,
            "parameter_missing"
        );
        assert_eq!(
            custom_field_values(&l, &given(&[("size", "xl")]))
                .unwrap_err()
                .code,
            "parameter_invalid"
        );
        assert_eq!(
            custom_field_values(&l, &given(&[("size", "m"), ("po", "12a")]))
                .unwrap_err()
                .code,
            "parameter_invalid"
        );
        assert_eq!(
            custom_field_values(&l, &given(&[("size", "m"), ("x", "1")]))
                .unwrap_err()
                .code,
            "parameter_unknown"
        );
    }
}
