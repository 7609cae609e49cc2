//! Money: currencies with their minor units, and amounts as integers of those units.
//!
//! Amounts are `i64` minor units (cents for USD, yen for JPY, fils/1000 for KWD, 10⁻⁶ for
//! the stablecoins). Every sum and product is checked; an overflow is an error, never a wrap.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use crate::error::ValidationError;

/// A supported currency: an ISO 4217 currency in current use, or a stablecoin.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// Stablecoins the contract supports beside ISO 4217, with six decimal places.
const STABLECOINS: [&str; 2] = ["USDC", "EURC"];

/// Stablecoins have four-letter codes; we keep them in a small table of their own.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Code {
    Iso([u8; 3]),
    Stable(usize),
}

impl Currency {
    pub const USD: Currency = Currency {
        code: *b"USD",
        exponent: 2,
    };

    /// Parses a code in any case (`usd`, `Usd`, `USDC`).
    pub fn parse(code: &str) -> Option<Self> {
        let upper = code.to_ascii_uppercase();
        if let Some(i) = STABLECOINS.iter().position(|s| *s == upper) {
            // Stablecoins are encoded with a code of 0xFF followed by their index.
            return Some(Self {
                code: [0xFF, i as u8, 0],
                exponent: 6,
            });
        }
        let c = iso_currency::Currency::from_code(&upper)?;
        // Funds, precious metals and superseded codes are not currencies anyone pays in.
        if !c.flags().is_empty() {
            return None;
        }
        let exponent = u8::try_from(c.exponent()?).ok()?;
        let bytes = upper.as_bytes();
        let code = [*bytes.first()?, *bytes.get(1)?, *bytes.get(2)?];
        Some(Self { code, exponent })
    }

    /// Every supported code, upper case: ISO 4217 currencies in current use, then the
    /// stablecoins.
    pub fn codes() -> Vec<&'static str> {
        // Every three-letter code, asked of the ISO table: no iterator feature needed.
        let letters = b'A'..=b'Z';
        let mut codes: Vec<&'static str> = letters
            .clone()
            .flat_map(|a| letters.clone().map(move |b| [a, b]))
            .flat_map(|[a, b]| (b'A'..=b'Z').map(move |c| [a, b, c]))
            .filter_map(|code| iso_currency::Currency::from_code(std::str::from_utf8(&code).ok()?))
            .map(|c| c.code())
            .filter(|c| Self::parse(c).is_some())
            .collect();
        codes.extend(STABLECOINS);
        codes
    }

    /// The rule of [`Currency::parse`] as a regular expression: any supported code, in any
    /// case (`[Uu][Ss][Dd]`), for the OpenAPI document.
    pub fn pattern() -> String {
        static PATTERN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            Currency::pattern_of(|c| format!("[{}{}]", c, c.to_ascii_lowercase()))
        });
        PATTERN.clone()
    }

    /// Any supported code in upper case, as the keys of `currency_options` take them.
    pub fn upper_case_pattern() -> String {
        Self::pattern_of(String::from)
    }

    fn pattern_of(either: impl Fn(char) -> String) -> String {
        let codes: Vec<String> = Self::codes()
            .iter()
            .map(|code| code.chars().map(&either).collect())
            .collect();
        format!("^(?:{})$", codes.join("|"))
    }

    fn kind(&self) -> Code {
        if self.code[0] == 0xFF {
            Code::Stable(usize::from(self.code[1]))
        } else {
            Code::Iso(self.code)
        }
    }

    pub fn code(&self) -> &str {
        match self.kind() {
            Code::Stable(i) => STABLECOINS.get(i).copied().unwrap_or("USDC"),
            Code::Iso(_) => std::str::from_utf8(&self.code).unwrap_or("XXX"),
        }
    }

    /// Number of decimal places of the minor unit (2 for USD, 0 for JPY, 3 for KWD).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// Parses an amount typed by a person in major units (`25`, `25.5`, `1,000.00`) into
    /// minor units, reading `.` as the decimal mark; see [`Currency::parse_major_in`].
    pub fn parse_major(&self, s: &str) -> Option<Amount> {
        self.parse_major_in(s, '.')
    }

    /// Parses an amount typed by a person in major units, where the customer's locale writes
    /// `decimal` as its decimal mark (`,` in German, `.` in English). `None` when it is not
    /// a number or has more decimals than the currency.
    ///
    /// Spaces, apostrophes and narrow spaces group digits. Of `.` and `,`:
    /// - both present: the last one is the decimal mark, the other groups (`1.000,50`,
    ///   `1,000.50`);
    /// - one of them more than once: it groups (`1,000,000`);
    /// - one of them once: it is the decimal mark when it is the locale's, or when fewer or
    ///   more than three digits follow it (`25,50` is 25.50 everywhere); otherwise it groups
    ///   (`1.000` is a thousand in German, `1,000` in English).
    ///
    /// Grouped digits must be grouped as numbers are written: the last group three digits,
    /// the ones before two or three (`12,34,567` in India), the first not starting with 0.
    ///
    /// So a separator is never silently dropped from a decimal amount: `25,50` is never
    /// 2550, `1.000` in English is refused for a currency with two decimals, and `1.5.0` or
    /// `0,001` are refused rather than guessed.
    pub fn parse_major_in(&self, s: &str, decimal: char) -> Option<Amount> {
        // Spaces and apostrophes group digits; written as one space here.
        let s: String = s
            .trim()
            .chars()
            .map(|c| {
                if c.is_whitespace() || matches!(c, '\'' | '\u{2019}') {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let marks: Vec<(usize, char)> = s
            .char_indices()
            .filter(|(_, c)| *c == '.' || *c == ',')
            .collect();
        let mark = match marks.as_slice() {
            [] => None,
            [.., (_, last)] if marks.iter().any(|(_, c)| c != last) => {
                // The decimal mark comes once, after every grouping mark.
                if marks.iter().filter(|(_, c)| c == last).count() != 1 {
                    return None;
                }
                Some(*last)
            }
            [(at, only)] => {
                let after = s.len() - at - 1;
                (*only == decimal || after != 3).then_some(*only)
            }
            _ => None,
        };
        let (int, frac) = match mark {
            Some(m) => s.rsplit_once(m)?,
            None => (s.as_str(), ""),
        };
        let groups: Vec<&str> = int.split([' ', '.', ',']).collect();
        if let [first, rest @ ..] = groups.as_slice() {
            let grouped_well = rest.is_empty()
                || ((1..=3).contains(&first.len())
                    && !first.starts_with('0')
                    && rest.last().is_some_and(|g| g.len() == 3)
                    && rest.iter().all(|g| (2..=3).contains(&g.len())));
            if !grouped_well {
                return None;
            }
        }
        self.minor_of(&groups.concat(), frac)
    }

    /// Minor units from the digits before and after the decimal mark.
    fn minor_of(&self, int: &str, frac: &str) -> Option<Amount> {
        let exp = usize::from(self.exponent);
        if int.is_empty()
            || frac.len() > exp
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut minor: i64 = int.parse().ok()?;
        for _ in 0..exp {
            minor = minor.checked_mul(10)?;
        }
        let frac_val: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        let scale = 10i64.checked_pow(u32::try_from(exp - frac.len()).ok()?)?;
        Amount::new(minor.checked_add(frac_val.checked_mul(scale)?)?)
    }

    /// The amount in major units without the code (`12.50`), for form fields.
    pub fn major(&self, amount: Amount) -> String {
        let s = self.format(amount);
        s.rsplit_once(' ').map(|(v, _)| v.to_owned()).unwrap_or(s)
    }

    /// Formats an amount for people: `12.50 USD`, `1200 JPY`, `1.000000 USDC`.
    pub fn format(&self, amount: Amount) -> String {
        let exp = u32::from(self.exponent);
        let v = amount.minor();
        if exp == 0 {
            return format!("{} {}", v, self.code());
        }
        let div = 10i64.pow(exp);
        let sign = if v < 0 { "-" } else { "" };
        let abs = v.unsigned_abs();
        let div = div.unsigned_abs();
        format!(
            "{sign}{}.{:0width$} {}",
            abs / div,
            abs % div,
            self.code(),
            width = exp as usize
        )
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unsupported currency `{s}`")))
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "ISO 4217 code or USDC/EURC; any case in, upper case out",
            ))
            .pattern(Some(Currency::pattern()))
            .into()
    }
}
impl utoipa::ToSchema for Currency {}

/// A non-negative amount in a currency's minor unit.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize)]
#[serde(transparent)]
pub struct Amount(i64);

/// The largest amount accepted anywhere: about 10^15 minor units. Totals of up to 20 lines
/// of 10^6 items each still fit in an `i64` only if inputs are bounded, so this bound keeps
/// overflow a clear 400 at the edge rather than a surprise deep inside.
pub const MAX_AMOUNT: i64 = 999_999_999_999_999;

impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub const ONE: Amount = Amount(1);
    pub const MAX: Amount = Amount(MAX_AMOUNT);

    pub fn new(minor: i64) -> Option<Self> {
        (0..=MAX_AMOUNT).contains(&minor).then_some(Self(minor))
    }

    /// Parses a client value; `param` names the field for the error.
    pub fn parse(minor: i64, param: &str) -> Result<Self, ValidationError> {
        Self::new(minor).ok_or_else(|| {
            ValidationError::new(
                "amount_invalid",
                param,
                format!(
                    "`{param}` must be an integer number of minor units between 0 and {MAX_AMOUNT}"
                ),
            )
        })
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).and_then(Amount::new)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).and_then(Amount::new)
    }

    pub fn checked_mul(self, qty: u32) -> Option<Amount> {
        self.0.checked_mul(i64::from(qty)).and_then(Amount::new)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        Amount::new(v).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "amount must be between 0 and {MAX_AMOUNT} minor units"
            ))
        })
    }
}

impl utoipa::PartialSchema for Amount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(0))
            .maximum(Some(MAX_AMOUNT))
            .description(Some("integer amount in the currency's minor unit"))
            .into()
    }
}
impl utoipa::ToSchema for Amount {}

/// Sums amounts, failing on overflow.
pub fn checked_sum(amounts: impl IntoIterator<Item = Amount>) -> Option<Amount> {
    amounts
        .into_iter()
        .try_fold(Amount::ZERO, Amount::checked_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_parse_in_any_case_with_their_minor_units() {
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(usd.code(), "USD");
        assert_eq!(usd.exponent(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("kwd").unwrap().exponent(), 3);
        let usdc = Currency::parse("usdc").unwrap();
        assert_eq!((usdc.code(), usdc.exponent()), ("USDC", 6));
        assert_eq!(Currency::parse("EURC").unwrap().code(), "EURC");
        for bad in ["", "US", "XAU", "USN", "HRK", "ABC", "USDCX", "u$d"] {
            assert!(Currency::parse(bad).is_none(), "{bad} should be rejected");
        }
    }

    #[test]
    fn amounts_format_with_their_exponent() {
        let a = Amount::new(1250).unwrap();
        assert_eq!(Currency::parse("USD").unwrap().format(a), "12.50 USD");
        assert_eq!(Currency::parse("JPY").unwrap().format(a), "1250 JPY");
        assert_eq!(Currency::parse("KWD").unwrap().format(a), "1.250 KWD");
        assert_eq!(Currency::parse("USDC").unwrap().format(a), "0.001250 USDC");
    }

    #[test]
    fn major_units_parse_exactly() {
        let usd = Currency::USD;
        assert_eq!(usd.parse_major("25").unwrap().minor(), 2500);
        assert_eq!(usd.parse_major("25.5").unwrap().minor(), 2550);
        assert_eq!(usd.parse_major(" 1,000.05 ").unwrap().minor(), 100005);
        assert!(
            usd.parse_major("1.005").is_none()
                && usd.parse_major("abc").is_none()
                && usd.parse_major("-1").is_none()
        );
        assert_eq!(
            Currency::parse("JPY")
                .unwrap()
                .parse_major("500")
                .unwrap()
                .minor(),
            500
        );
        assert!(Currency::parse("JPY").unwrap().parse_major("5.5").is_none());
    }

    #[test]
    fn amounts_are_read_as_the_customer_s_locale_writes_them() {
        let eur = Currency::parse("EUR").unwrap();
        let usd = Currency::parse("USD").unwrap();
        let kwd = Currency::parse("KWD").unwrap();
        let de = |c: Currency, s: &str| c.parse_major_in(s, ',').map(|a| a.minor());
        let en = |c: Currency, s: &str| c.parse_major_in(s, '.').map(|a| a.minor());
        assert_eq!(de(eur, "25,50"), Some(2550));
        assert_eq!(de(eur, "1.000,50"), Some(100_050));
        assert_eq!(de(eur, "1.000"), Some(100_000));
        assert_eq!(de(eur, "25.5"), Some(2550));
        assert_eq!(de(eur, "1 000,5"), Some(100_050));
        assert_eq!(de(eur, "1.000.000"), Some(100_000_000));
        assert_eq!(en(usd, "25,50"), Some(2550), "never 2550.00");
        assert_eq!(en(usd, "1,000"), Some(100_000));
        assert_eq!(en(usd, "1,000.05"), Some(100_005));
        assert_eq!(en(usd, "1.000"), None, "three decimals of a dollar");
        assert_eq!(en(kwd, "1.000"), Some(1000));
        assert_eq!(en(usd, "1'000.50"), Some(100_050));
        assert_eq!(en(usd, "12,34,567.00"), Some(123_456_700));
        assert_eq!(de(eur, "1\u{202f}000,00"), Some(100_000));
        for bad in [
            "",
            ",",
            "1,2,3.4.5",
            "1.2.3,4,5",
            "-1",
            "1e3",
            "1.000,50.5",
            "1.5.0",
            "2,5,0",
            "12,34.56",
            "1'5",
            "0,001",
            "25 50",
            "1,0000",
        ] {
            assert!(en(usd, bad).is_none(), "{bad:?}");
        }
        assert_eq!(en(usd, "99999999999999999999"), None);
        assert_eq!(usd.major(Amount::new(1250).unwrap()), "12.50");
    }

    #[test]
    fn arithmetic_is_checked() {
        let max = Amount::new(MAX_AMOUNT).unwrap();
        assert!(max.checked_add(Amount::new(1).unwrap()).is_none());
        assert!(max.checked_mul(2).is_none());
        assert!(Amount::new(-1).is_none());
        assert!(Amount::ZERO.checked_sub(Amount::new(1).unwrap()).is_none());
    }
}
