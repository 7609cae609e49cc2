//! Money and tax arithmetic: nothing panics or wraps; an amount written is read back as the
//! same amount; a cart's totals are the sums of its lines, each line's tax the half-up
//! rounding of its exact value (docs/decisions.md); refunds never exceed what was paid.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

use paylink_domain::checkout::PaymentStatus;
use paylink_domain::money::{Amount, Currency, MAX_AMOUNT};
use paylink_domain::states::{refund, RefundRefusal};
use paylink_domain::tax::{price_cart, CartLine, PricingMode, TaxPercentage};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// A currency code as a client sends it.
    code: &'a str,
    /// Picks one of the currencies below when `code` is not one.
    pick: u8,
    minor: i64,
    /// An amount as a person types it, and the decimal mark of their locale.
    typed: &'a str,
    comma: bool,
    percentage: &'a str,
    lines: Vec<(i64, u32, Option<u32>)>,
    inclusive: bool,
    paid: i64,
    refunds: Vec<i64>,
}

const SOME: [&str; 8] = ["USD", "JPY", "KWD", "EUR", "USDC", "CLF", "BHD", "ISK"];

fn amount(minor: i64) -> Amount {
    Amount::new(minor.rem_euclid(MAX_AMOUNT + 1)).unwrap_or(Amount::ZERO)
}

fuzz_target!(|i: Input<'_>| {
    let parsed = Currency::parse(i.code);
    if let Some(c) = parsed {
        assert_eq!(Currency::parse(c.code()), Some(c), "{:?}", i.code);
        assert!(c.exponent() <= 6);
    }
    let fallback = SOME.get(usize::from(i.pick) % SOME.len()).copied();
    let Some(cur) = parsed.or_else(|| fallback.and_then(Currency::parse)) else {
        return;
    };

    // Written, then read back as the person would type it, in both decimal marks.
    let a = amount(i.minor);
    let major = cur.major(a);
    assert_eq!(cur.parse_major(&major), Some(a), "{cur} {major}");
    assert_eq!(
        cur.parse_major_in(&major.replace('.', ","), ','),
        Some(a),
        "{cur} {major}"
    );
    assert!(cur.format(a).ends_with(cur.code()));

    // Whatever is typed: a bounded amount or nothing, and that amount reads back.
    let mark = if i.comma { ',' } else { '.' };
    if let Some(read) = cur.parse_major_in(i.typed, mark) {
        assert!((0..=MAX_AMOUNT).contains(&read.minor()));
        assert_eq!(
            cur.parse_major(&cur.major(read)),
            Some(read),
            "{:?}",
            i.typed
        );
    }

    if let Some(p) = TaxPercentage::parse(i.percentage) {
        assert!(p.millionths() <= 1_000_000);
        assert_eq!(TaxPercentage::parse(&p.to_string()), Some(p));
    }

    cart(&i.lines, i.inclusive);
    refunds(amount(i.paid), &i.refunds);
});

/// Prices a cart and checks it against a computation in `i128`, which cannot overflow.
fn cart(raw: &[(i64, u32, Option<u32>)], inclusive: bool) {
    let mode = if inclusive {
        PricingMode::Inclusive
    } else {
        PricingMode::Exclusive
    };
    let lines: Vec<CartLine> = raw
        .iter()
        .take(30)
        .map(|&(unit, qty, rate)| CartLine {
            unit_amount: amount(unit),
            quantity: qty,
            tax_rate: rate.and_then(|r| {
                let r = r % 1_000_001;
                TaxPercentage::parse(&format!("{}.{:04}", r / 10_000, r % 10_000))
            }),
        })
        .collect();
    let max = i128::from(MAX_AMOUNT);
    let amounts: Vec<i128> = lines
        .iter()
        .map(|l| i128::from(l.unit_amount.minor()) * i128::from(l.quantity))
        .collect();
    let Some((taxed, totals)) = price_cart(&lines, mode) else {
        // Refused only when something does not fit the amount bound.
        let subtotal: i128 = amounts.iter().sum();
        let exclusive_tax_bound: i128 = amounts.iter().map(|a| a * 2).sum();
        assert!(
            amounts.iter().any(|a| *a > max)
                || subtotal > max
                || (mode == PricingMode::Exclusive && exclusive_tax_bound > max),
            "refused a cart that fits: {lines:?}"
        );
        return;
    };
    assert_eq!(taxed.len(), lines.len());
    let mut sums = (0i128, 0i128, 0i128);
    for ((l, t), a) in lines.iter().zip(&taxed).zip(&amounts) {
        let (amt, tax, total) = (
            i128::from(t.amount.minor()),
            i128::from(t.tax.minor()),
            i128::from(t.total.minor()),
        );
        assert_eq!(amt, *a);
        let r = l.tax_rate.map_or(0, |r| i128::from(r.millionths()));
        match mode {
            PricingMode::Exclusive => {
                assert_eq!(total, amt + tax);
                // |tax − amount·rate| ≤ ½, and exactly ½ rounds up.
                let err = tax * 1_000_000 - amt * r;
                assert!(
                    err * 2 <= 1_000_000 && err * 2 > -1_000_000,
                    "{l:?} → {t:?}"
                );
            }
            PricingMode::Inclusive => {
                assert_eq!(total, amt);
                assert!((0..=amt).contains(&tax));
                let net = amt - tax;
                let err = net * (1_000_000 + r) - amt * 1_000_000;
                let d = 1_000_000 + r;
                assert!(err * 2 <= d && err * 2 > -d, "{l:?} → {t:?}");
            }
        }
        sums = (sums.0 + amt, sums.1 + tax, sums.2 + total);
    }
    assert_eq!(i128::from(totals.amount_subtotal.minor()), sums.0);
    assert_eq!(i128::from(totals.amount_tax.minor()), sums.1);
    assert_eq!(i128::from(totals.amount_total.minor()), sums.2);
}

/// Any sequence of refunds keeps what was given back within what was paid, and the status
/// the one `after_refunds` names.
fn refunds(paid: Amount, attempts: &[i64]) {
    let mut status = PaymentStatus::Succeeded;
    let mut refunded = Amount::ZERO;
    for &raw in attempts.iter().take(50) {
        let ask = amount(raw);
        match refund(status, paid, refunded, ask) {
            Ok((total, s)) => {
                assert!(total <= paid);
                assert_eq!(total.minor(), refunded.minor() + ask.minor());
                assert_eq!(s, PaymentStatus::after_refunds(paid, total));
                status = s;
                refunded = total;
            }
            Err(RefundRefusal::NotRefundable) => {
                assert!(matches!(
                    status,
                    PaymentStatus::Refunded | PaymentStatus::Failed
                ));
            }
            Err(RefundRefusal::ExceedsPayment) => {
                assert!(
                    i128::from(refunded.minor()) + i128::from(ask.minor())
                        > i128::from(paid.minor())
                );
            }
            Err(RefundRefusal::Empty) => assert_eq!(ask, Amount::ZERO),
        }
    }
}
