//! Properties of money through the domain's public API: every currency's amounts read back
//! as they are written, a checkout's cart charges the sum of its lines with each line's tax
//! rounded half up (docs/decisions.md), and refunds never give back more than was paid.
//! (`src/tax.rs` holds the properties of `price_cart` and `line_tax` themselves.)
#![allow(clippy::unwrap_used)]

use std::sync::LazyLock;

use proptest::prelude::*;

use paylink_domain::checkout::{price, Choice, PaymentStatus};
use paylink_domain::id::{PaymentLinkId, ProductId};
use paylink_domain::link::*;
use paylink_domain::metadata::Metadata;
use paylink_domain::money::{Amount, Currency, MAX_AMOUNT};
use paylink_domain::settings::{AmountBounds, MerchantSettings};
use paylink_domain::states::{refund, unrefund, RefundRefusal};
use paylink_domain::tax::{PricingMode, TaxPercentage};
use paylink_domain::text::Slug;
use paylink_domain::time::Timestamp;

/// Every currency Paylink takes: ISO 4217 in use, and the stablecoins.
static CURRENCIES: LazyLock<Vec<Currency>> = LazyLock::new(|| {
    let mut all: Vec<Currency> = (b'A'..=b'Z')
        .flat_map(|a| (b'A'..=b'Z').flat_map(move |b| (b'A'..=b'Z').map(move |c| [a, b, c])))
        .filter_map(|c| Currency::parse(std::str::from_utf8(&c).ok()?))
        .collect();
    all.extend(["USDC", "EURC"].iter().filter_map(|c| Currency::parse(c)));
    all
});

/// `digits` grouped as people write them: by threes, or the last three then by twos (India).
fn grouped(digits: &str, sep: char, indian: bool) -> String {
    let mut groups = Vec::new();
    let mut rest = digits;
    let mut size = 3;
    while rest.len() > size {
        let (head, tail) = rest.split_at(rest.len() - size);
        groups.push(tail);
        rest = head;
        if indian {
            size = 2;
        }
    }
    groups.push(rest);
    groups.reverse();
    groups.join(&sep.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Each way an amount is written (`12.50 USD`, `12,50`, `1,234.50`, `1.234,50`,
    /// `1 234,50`, `12,34,567.00`) reads back as that amount, in every currency.
    #[test]
    fn every_currency_reads_back_what_it_writes(
        cur in proptest::sample::select(CURRENCIES.clone()),
        minor in prop_oneof![0i64..100_000, 0i64..=MAX_AMOUNT],
    ) {
        let a = Amount::new(minor).unwrap();
        let major = cur.major(a);
        prop_assert_eq!(cur.format(a), format!("{major} {}", cur.code()));
        prop_assert_eq!(cur.parse_major(&major), Some(a));
        let (int, frac) = major.split_once('.').unwrap_or((major.as_str(), ""));
        prop_assert_eq!(frac.len(), usize::from(cur.exponent()));
        for (group, mark, indian) in [
            (',', '.', false),
            ('.', ',', false),
            ('\u{a0}', ',', false),
            ('\'', '.', false),
            (',', '.', true),
        ] {
            let written = if frac.is_empty() {
                grouped(int, group, indian)
            } else {
                format!("{}{mark}{frac}", grouped(int, group, indian))
            };
            prop_assert_eq!(cur.parse_major_in(&written, mark), Some(a), "{}", written);
        }
    }

    /// A checkout's cart, whatever the customer chooses: refused for the first reason in
    /// line order, else each charged line taxed half up on its own and the totals their
    /// sums, within the merchant's bounds.
    #[test]
    fn carts_charge_the_sum_of_their_lines(
        items in prop::collection::vec(item(), 1..8),
        choose in prop::collection::vec(0u32..12, 8),
        inclusive in any::<bool>(),
        collect in any::<bool>(),
        bounds in (1i64..5_000, 5_000i64..=MAX_AMOUNT),
    ) {
        let mode = if inclusive { PricingMode::Inclusive } else { PricingMode::Exclusive };
        let link = link_of(items.iter().map(|i| i.line.clone()).collect(), mode, collect);
        let mut settings = MerchantSettings::new("M".into(), None);
        let (min, max) = (Amount::new(bounds.0).unwrap(), Amount::new(bounds.1).unwrap());
        settings.amount_bounds.insert("USD".into(), AmountBounds { minimum: min, maximum: max });
        let quantities: Vec<u32> = items.iter().zip(&choose).map(|(i, c)| i.pick(*c)).collect();
        let got = price(&link, &Choice { quantities: Some(quantities.clone()), amount: None }, &settings);
        match expected(&link, &quantities, i128::from(bounds.0), i128::from(bounds.1)) {
            Err(code) => prop_assert_eq!(got.err().map(|e| e.code), Some(code)),
            Ok(lines) => {
                let cart = got.unwrap();
                prop_assert_eq!(cart.lines.len(), lines.len());
                let mut sums = (0i128, 0i128, 0i128, 0i128);
                for (l, (sub, tax, total, hsa)) in cart.lines.iter().zip(&lines) {
                    prop_assert_eq!(
                        (i128::from(l.amount_subtotal.minor()), i128::from(l.amount_tax.minor()), i128::from(l.amount_total.minor())),
                        (*sub, *tax, *total)
                    );
                    sums = (sums.0 + sub, sums.1 + tax, sums.2 + total, sums.3 + if *hsa { *total } else { 0 });
                }
                let t = cart.totals;
                prop_assert_eq!(i128::from(t.amount_subtotal.minor()), sums.0);
                prop_assert_eq!(i128::from(t.amount_tax.minor()), sums.1);
                prop_assert_eq!(i128::from(t.amount_total.minor()), sums.2);
                prop_assert_eq!(i128::from(cart.hsa_fsa_amount.minor()), sums.3);
                prop_assert!(min <= t.amount_total && t.amount_total <= max);
            }
        }
    }

    /// Refunds and refunds taken back (the processor refused them), in any order: never
    /// more given back than was paid, a refund refused exactly when it would be, and the
    /// status always the one `after_refunds` names.
    #[test]
    fn refunds_never_exceed_what_was_paid(
        paid in prop_oneof![0i64..10_000, 0i64..=MAX_AMOUNT],
        start in prop::sample::select(vec![PaymentStatus::Succeeded, PaymentStatus::Failed]),
        ops in prop::collection::vec((any::<bool>(), prop_oneof![0i64..5_000, 0i64..=MAX_AMOUNT], any::<prop::sample::Index>()), 1..30),
    ) {
        let paid = Amount::new(paid).unwrap();
        let mut status = start;
        let mut refunded = Amount::ZERO;
        let mut made: Vec<Amount> = Vec::new();
        for (take_back, ask, which) in ops {
            if take_back && !made.is_empty() {
                let amount = made.remove(which.index(made.len()));
                let (total, s) = unrefund(paid, refunded, amount);
                prop_assert_eq!(total.minor(), refunded.minor() - amount.minor());
                prop_assert_eq!(s, PaymentStatus::after_refunds(paid, total));
                (refunded, status) = (total, s);
                continue;
            }
            let ask = Amount::new(ask).unwrap();
            let refundable = matches!(status, PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded);
            let fits = i128::from(refunded.minor()) + i128::from(ask.minor()) <= i128::from(paid.minor());
            match refund(status, paid, refunded, ask) {
                Ok((total, s)) => {
                    prop_assert!(refundable && fits);
                    prop_assert_eq!(total.minor(), refunded.minor() + ask.minor());
                    prop_assert_eq!(s, PaymentStatus::after_refunds(paid, total));
                    made.push(ask);
                    (refunded, status) = (total, s);
                }
                Err(RefundRefusal::NotRefundable) => prop_assert!(!refundable),
                Err(RefundRefusal::Empty) => prop_assert!(refundable && ask == Amount::ZERO),
                Err(RefundRefusal::ExceedsPayment) => prop_assert!(refundable && !fits),
            }
            prop_assert!(refunded <= paid);
            if start != PaymentStatus::Failed {
                prop_assert_eq!(status, PaymentStatus::after_refunds(paid, refunded));
            }
        }
    }
}

/// A link line and the quantities a customer may try on it.
#[derive(Clone, Debug)]
struct Item {
    line: LinkLineItem,
}

impl Item {
    /// A quantity to try: mostly one the line allows, sometimes one it does not.
    fn pick(&self, c: u32) -> u32 {
        match self.line.adjustable_quantity {
            Some(a) if c < 10 => a.minimum + c % (a.maximum - a.minimum + 1),
            Some(a) => a.maximum + c - 9,
            None if c < 11 => self.line.quantity,
            None => self.line.quantity + 1,
        }
    }
}

fn item() -> impl Strategy<Value = Item> {
    (
        prop_oneof![0i64..100_000, 0i64..=MAX_AMOUNT],
        1u32..20,
        prop::option::of((0u32..3, 0u32..20)),
        prop::option::of(prop_oneof![Just(0u32), 0u32..=1_000_000, Just(1_000_000)]),
        any::<bool>(),
    )
        .prop_map(|(unit, qty, adjustable, rate, hsa)| Item {
            line: LinkLineItem {
                product_id: Some(ProductId::generate()),
                name: "Line".into(),
                image_url: None,
                unit_amount: Amount::new(unit).unwrap(),
                quantity: qty,
                adjustable_quantity: adjustable.map(|(minimum, span)| AdjustableQuantity {
                    enabled: true,
                    minimum,
                    maximum: minimum + span,
                }),
                hsa_fsa_eligible: hsa,
                tax_rate: rate.map(|r| paylink_domain::catalog::TaxRateSnapshot {
                    id: paylink_domain::id::TaxRateId::generate(),
                    display_name: "Tax".into(),
                    percentage: TaxPercentage::parse(&format!("{}.{:04}", r / 10_000, r % 10_000))
                        .unwrap(),
                    inclusive: false,
                }),
                currency_options: Default::default(),
            },
        })
}

/// The outcome worked out here with the documented rule, in `i128`: each charged line's
/// `(subtotal, tax, total, hsa)`, or the error code the first problem gives.
#[allow(clippy::type_complexity)]
fn expected(
    link: &PaymentLink,
    quantities: &[u32],
    min: i128,
    max: i128,
) -> Result<Vec<(i128, i128, i128, bool)>, &'static str> {
    let bound = i128::from(MAX_AMOUNT);
    let million = 1_000_000i128;
    let mut lines = Vec::new();
    for (l, q) in link.line_items.iter().zip(quantities) {
        let allowed = match l.adjustable_quantity {
            Some(a) if a.enabled => (a.minimum..=a.maximum).contains(q),
            _ => *q == l.quantity,
        };
        if !allowed {
            return Err("quantity_invalid");
        }
        if *q == 0 {
            continue;
        }
        let amount = i128::from(l.unit_amount.minor()) * i128::from(*q);
        let rate = match (&l.tax_rate, link.tax.collect) {
            (Some(r), true) => i128::from(r.percentage.millionths()),
            _ => 0,
        };
        let (tax, total) = match link.tax.pricing_mode {
            // round(amount × rate), half up
            PricingMode::Exclusive => {
                let tax = (2 * amount * rate + million) / (2 * million);
                (tax, amount + tax)
            }
            // amount − round(amount / (1 + rate)), half up
            PricingMode::Inclusive => {
                let d = million + rate;
                let net = (2 * amount * million + d) / (2 * d);
                (amount - net, amount)
            }
        };
        if amount > bound || total > bound {
            return Err("amount_too_large");
        }
        lines.push((amount, tax, total, l.hsa_fsa_eligible));
    }
    if lines.is_empty() {
        return Err("cart_empty");
    }
    let sum = |f: fn(&(i128, i128, i128, bool)) -> i128| lines.iter().map(f).sum::<i128>();
    if sum(|l| l.0) > bound || sum(|l| l.1) > bound || sum(|l| l.2) > bound {
        return Err("amount_too_large");
    }
    if !(min..=max).contains(&sum(|l| l.2)) {
        return Err("amount_out_of_bounds");
    }
    Ok(lines)
}

fn link_of(lines: Vec<LinkLineItem>, mode: PricingMode, collect: bool) -> PaymentLink {
    let now = Timestamp::from_unix(1_800_000_000);
    PaymentLink {
        id: PaymentLinkId::generate(),
        url: String::new(),
        slug: Slug::from_trusted("props".into()),
        title: "Props".into(),
        description: None,
        image_url: None,
        kind: LinkType::Products,
        status: LinkStatus::Active,
        currency: Currency::USD,
        currency_options: Default::default(),
        line_items: lines,
        all_products: false,
        donation: None,
        subscription: None,
        order_id: None,
        tax: LinkTax {
            collect,
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
        created_at: now,
        updated_at: now,
    }
}
