//! Tax rates and the arithmetic of tax-inclusive and tax-exclusive prices.
//!
//! Rounding rule (documented in the README): tax is computed **per line** and rounded
//! **half up** (half away from zero; every amount here is non-negative) to the currency's
//! minor unit.
//! - Exclusive pricing: `tax = round(amount × rate)`, `total = amount + tax`.
//! - Inclusive pricing: `net = round(amount / (1 + rate))`, `tax = amount − net`,
//!   `total = amount`.
//!
//! The order's tax is the sum of its lines' taxes, so totals always equal the sum of lines.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use crate::money::{checked_sum, Amount};

/// A tax percentage with up to four decimal places, held exactly as millionths
/// (`8.25` % is 82 500; 100 % is 1 000 000).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TaxPercentage(u32);

const ONE_HUNDRED_PERCENT: u32 = 1_000_000;

impl TaxPercentage {
    /// Parses a decimal string such as `"8.25"`, `"20"` or `"0.0001"`: 0 to 100 inclusive,
    /// at most four decimal places, no sign, exponent or spaces.
    pub fn parse(s: &str) -> Option<Self> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int.is_empty() || int.len() > 3 || frac.len() > 4 || (s.contains('.') && frac.is_empty())
        {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let int: u32 = int.parse().ok()?;
        let mut frac_val: u32 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        for _ in frac.len()..4 {
            frac_val *= 10;
        }
        let v = int.checked_mul(10_000)?.checked_add(frac_val)?;
        (v <= ONE_HUNDRED_PERCENT).then_some(Self(v))
    }

    pub fn millionths(self) -> u32 {
        self.0
    }
}

impl fmt::Display for TaxPercentage {
    /// Canonical form: no trailing zeros (`8.25`, `20`, `0.0001`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.0 / 10_000;
        let frac = self.0 % 10_000;
        if frac == 0 {
            return write!(f, "{int}");
        }
        let frac = format!("{frac:04}");
        write!(f, "{int}.{}", frac.trim_end_matches('0'))
    }
}

impl Serialize for TaxPercentage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TaxPercentage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TaxPercentage::parse(&s).ok_or_else(|| {
            serde::de::Error::custom("percentage must be a decimal string from \"0\" to \"100\" with at most 4 decimal places")
        })
    }
}

impl utoipa::PartialSchema for TaxPercentage {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(
                r"^(?:0?[0-9]{1,2}(?:\.[0-9]{1,4})?|100(?:\.0{1,4})?)$",
            ))
            .examples(["8.25"])
            .into()
    }
}
impl utoipa::ToSchema for TaxPercentage {}

/// Whether prices already include tax.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum PricingMode {
    Inclusive,
    #[default]
    Exclusive,
}

/// The pricing mode of a link or order: the one given explicitly wins for every line;
/// without one, its tax rates' own `inclusive` decides (as a Stripe price's tax behavior
/// does), and rates that disagree need an explicit mode; with no rate at all, `default`
/// (the merchant's setting). One mode per cart, so the page shows one tax line.
pub fn pricing_mode_of(
    explicit: Option<PricingMode>,
    rates_inclusive: impl IntoIterator<Item = bool>,
    default: PricingMode,
) -> Result<PricingMode, crate::error::ValidationError> {
    if let Some(m) = explicit {
        return Ok(m);
    }
    let mut found: Option<bool> = None;
    for inclusive in rates_inclusive {
        match found {
            Some(f) if f != inclusive => return Err(crate::error::ValidationError::new(
                "pricing_mode_required",
                "tax.pricing_mode",
                "These tax rates disagree on whether prices include tax; give `tax.pricing_mode`",
            )),
            _ => found = Some(inclusive),
        }
    }
    Ok(match found {
        Some(true) => PricingMode::Inclusive,
        Some(false) => PricingMode::Exclusive,
        None => default,
    })
}

/// `round(n / d)` half up, for non-negative `n` and positive `d`.
fn div_round_half_up(n: u128, d: u128) -> u128 {
    (n * 2 + d) / (d * 2)
}

/// The tax part of one line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LineTax {
    /// The line's amount as priced (unit amount × quantity).
    pub amount: Amount,
    pub tax: Amount,
    /// What the customer pays for the line.
    pub total: Amount,
}

/// Computes one line's tax. `None` only when the total would exceed the amount bound.
pub fn line_tax(amount: Amount, rate: Option<TaxPercentage>, mode: PricingMode) -> Option<LineTax> {
    let Some(rate) = rate else {
        return Some(LineTax {
            amount,
            tax: Amount::ZERO,
            total: amount,
        });
    };
    let a = u128::from(amount.minor().unsigned_abs());
    let r = u128::from(rate.0);
    let hundred = u128::from(ONE_HUNDRED_PERCENT);
    match mode {
        PricingMode::Exclusive => {
            let tax = Amount::new(i64::try_from(div_round_half_up(a * r, hundred)).ok()?)?;
            Some(LineTax {
                amount,
                tax,
                total: amount.checked_add(tax)?,
            })
        }
        PricingMode::Inclusive => {
            let net =
                Amount::new(i64::try_from(div_round_half_up(a * hundred, hundred + r)).ok()?)?;
            Some(LineTax {
                amount,
                tax: amount.checked_sub(net)?,
                total: amount,
            })
        }
    }
}

/// One priced line of a cart.
#[derive(Clone, Copy, Debug)]
pub struct CartLine {
    pub unit_amount: Amount,
    pub quantity: u32,
    pub tax_rate: Option<TaxPercentage>,
}

/// A cart's totals: `subtotal` is the sum of line amounts as priced (tax included when
/// prices are inclusive), `tax` the sum of the lines' taxes, `total` what is charged.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub amount_subtotal: Amount,
    pub amount_tax: Amount,
    pub amount_total: Amount,
}

/// Prices a cart line by line. `None` when any sum overflows the amount bound.
pub fn price_cart(lines: &[CartLine], mode: PricingMode) -> Option<(Vec<LineTax>, Totals)> {
    let mut taxed = Vec::with_capacity(lines.len());
    for l in lines {
        let amount = l.unit_amount.checked_mul(l.quantity)?;
        taxed.push(line_tax(amount, l.tax_rate, mode)?);
    }
    let totals = Totals {
        amount_subtotal: checked_sum(taxed.iter().map(|l| l.amount))?,
        amount_tax: checked_sum(taxed.iter().map(|l| l.tax))?,
        amount_total: checked_sum(taxed.iter().map(|l| l.total))?,
    };
    Some((taxed, totals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::MAX_AMOUNT;
    use proptest::prelude::*;

    proptest! {
        // The document's pattern for a percentage says what parsing accepts.
        #[test]
        fn the_percentage_pattern_says_what_parse_accepts(s in r"[0-9]{0,4}(\.[0-9]{0,5})?") {
            use utoipa::PartialSchema;
            let schema = serde_json::to_value(TaxPercentage::schema()).unwrap();
            let re = regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
            prop_assert_eq!(re.is_match(&s), TaxPercentage::parse(&s).is_some(), "{:?}", s);
        }
    }

    fn amt(v: i64) -> Amount {
        Amount::new(v).unwrap()
    }

    #[test]
    fn percentages_parse_exactly() {
        assert_eq!(TaxPercentage::parse("8.25").unwrap().millionths(), 82_500);
        assert_eq!(TaxPercentage::parse("100").unwrap().millionths(), 1_000_000);
        assert_eq!(TaxPercentage::parse("0.0001").unwrap().millionths(), 1);
        assert_eq!(TaxPercentage::parse("8.2500").unwrap().to_string(), "8.25");
        for bad in [
            "", ".5", "5.", "100.0001", "101", "-1", "1e2", "8.25001", " 8", "8,25", "0x10",
        ] {
            assert!(TaxPercentage::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn known_values() {
        let r = TaxPercentage::parse("8.25");
        // 10.00 at 8.25 % exclusive: 0.825 → 0.83 (half up).
        let t = line_tax(amt(1000), r, PricingMode::Exclusive).unwrap();
        assert_eq!((t.tax.minor(), t.total.minor()), (83, 1083));
        // 10.83 inclusive of 8.25 %: net 10.0046… → 10.00, tax 0.83.
        let t = line_tax(amt(1083), r, PricingMode::Inclusive).unwrap();
        assert_eq!((t.tax.minor(), t.total.minor()), (83, 1083));
        // Half exactly rounds up: 50 at 1 % = 0.5 → 1.
        let t = line_tax(amt(50), TaxPercentage::parse("1"), PricingMode::Exclusive).unwrap();
        assert_eq!(t.tax.minor(), 1);
        // 20 % VAT inclusive on 1.20 → tax 0.20.
        let t = line_tax(amt(120), TaxPercentage::parse("20"), PricingMode::Inclusive).unwrap();
        assert_eq!(t.tax.minor(), 20);
    }

    #[test]
    fn overflow_is_none_not_a_wrap() {
        let lines = [CartLine {
            unit_amount: amt(MAX_AMOUNT),
            quantity: 2,
            tax_rate: None,
        }];
        assert!(price_cart(&lines, PricingMode::Exclusive).is_none());
        let lines = [CartLine {
            unit_amount: amt(MAX_AMOUNT),
            quantity: 1,
            tax_rate: TaxPercentage::parse("10"),
        }];
        assert!(price_cart(&lines, PricingMode::Exclusive).is_none());
        assert!(price_cart(&lines, PricingMode::Inclusive).is_some());
    }

    fn rate() -> impl Strategy<Value = Option<TaxPercentage>> {
        prop::option::of((0u32..=1_000_000).prop_map(TaxPercentage))
    }

    fn mode() -> impl Strategy<Value = PricingMode> {
        prop_oneof![Just(PricingMode::Inclusive), Just(PricingMode::Exclusive)]
    }

    proptest! {
        #[test]
        fn totals_equal_the_sum_of_lines(
            lines in prop::collection::vec((0i64..=10_000_000_000, 0u32..=1_000_000, rate()), 1..20),
            mode in mode(),
        ) {
            let lines: Vec<CartLine> = lines.into_iter()
                .map(|(u, q, r)| CartLine { unit_amount: amt(u), quantity: q, tax_rate: r })
                .collect();
            // Reference computation in i128, which cannot overflow for these inputs.
            let sum: i128 = lines.iter().map(|l| i128::from(l.unit_amount.minor()) * i128::from(l.quantity)).sum();
            match price_cart(&lines, mode) {
                None => prop_assert!(sum > i128::from(MAX_AMOUNT) || mode == PricingMode::Exclusive),
                Some((taxed, totals)) => {
                    prop_assert_eq!(i128::from(totals.amount_subtotal.minor()), sum);
                    let tax: i64 = taxed.iter().map(|l| l.tax.minor()).sum();
                    let total: i64 = taxed.iter().map(|l| l.total.minor()).sum();
                    prop_assert_eq!(totals.amount_tax.minor(), tax);
                    prop_assert_eq!(totals.amount_total.minor(), total);
                    match mode {
                        PricingMode::Inclusive => prop_assert_eq!(totals.amount_total, totals.amount_subtotal),
                        PricingMode::Exclusive => prop_assert_eq!(
                            totals.amount_total.minor(), totals.amount_subtotal.minor() + totals.amount_tax.minor()),
                    }
                }
            }
        }

        #[test]
        fn line_tax_is_the_half_up_rounding_of_the_exact_value(a in 0i64..=MAX_AMOUNT, r in 0u32..=1_000_000) {
            let rate = TaxPercentage(r);
            let (a128, r128) = (i128::from(a), i128::from(r));
            if let Some(t) = line_tax(amt(a), Some(rate), PricingMode::Exclusive) {
                // |tax − a·r| ≤ ½, and exactly ½ rounds up.
                let err = i128::from(t.tax.minor()) * 1_000_000 - a128 * r128;
                prop_assert!(err * 2 <= 1_000_000 && err * 2 > -1_000_000);
            }
            let t = line_tax(amt(a), Some(rate), PricingMode::Inclusive).unwrap();
            let net = i128::from(a - t.tax.minor());
            let err = net * (1_000_000 + r128) - a128 * 1_000_000;
            prop_assert!(err * 2 <= 1_000_000 + r128 && err * 2 > -(1_000_000 + r128));
            prop_assert!(t.tax.minor() >= 0 && t.tax.minor() <= a);
        }
    }
}
