//! Money as the customer reads it: `$1,000.00`, `¥12,800`, `1.000,00 €`.
//!
//! The locale is the first of the browser's `Accept-Language` that parses, else the
//! merchant's `default_locale`; the symbol, its place, grouping and decimal mark come from
//! CLDR through ICU4X's currency formatter, with Latin digits (`-u-nu-latn`) everywhere so
//! that an amount is never in doubt. The page's script formats with the browser's own CLDR
//! data (`Intl.NumberFormat`) in the same locale.
//!
//! The amount shown is the amount charged: a rendering whose digits are not exactly the
//! amount's (CLDR gives a currency fewer decimals than ISO 4217, as for `IQD`) is not used,
//! and the amount is written plainly (`1000.000 IQD`) instead.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};

use axum::http::{header, HeaderMap};
use icu_decimal::DecimalFormatter;
use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
use icu_experimental::dimension::currency::CurrencyType;
use icu_experimental::displaynames::multi::{LanguageDisplayNames, RegionDisplayNames};
use icu_locale_core::subtags::Region;
use icu_locale_core::Locale as IcuLocale;

use paylink_domain::money::{Amount, Currency};

/// Locales, and the answers to `Accept-Language` headers, are kept once built; past this
/// many each cache stops growing (headers come from anyone) and the rest are built per use.
const CACHE_LIMIT: usize = 512;

type Formatter = Arc<CurrencyFormatter<DecimalFormatter>>;

/// `(alpha-2 code, name)` of every country, by name.
pub type Countries = Arc<Vec<(String, String)>>;

/// Locales by tag.
static LOCALES: LazyLock<RwLock<HashMap<String, Locale>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// The locale chosen for an `Accept-Language` header and a fallback (`"{header}\0{fallback}"`).
static NEGOTIATED: LazyLock<RwLock<HashMap<String, Locale>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// Inserts into a bounded cache.
fn remember<V: Clone>(cache: &RwLock<HashMap<String, V>>, key: String, value: &V) {
    if let Ok(mut m) = cache.write() {
        if m.len() < CACHE_LIMIT {
            m.insert(key, value.clone());
        }
    }
}

/// The customer's locale for numbers and money (cheap to clone; its formatters and country
/// names are built once, when first asked for).
#[derive(Clone, Debug)]
pub struct Locale(Arc<Data>);

#[derive(Debug)]
struct Data {
    /// BCP 47, with `-u-nu-latn` (what the page hands its script).
    tag: String,
    icu: IcuLocale,
    decimal: OnceLock<char>,
    /// Per currency; `None` where CLDR has no symbol for it.
    formatters: RwLock<HashMap<Currency, Option<Formatter>>>,
    countries: OnceLock<Countries>,
}

impl Locale {
    /// The first language of `Accept-Language` (by weight) that is a valid locale, else
    /// `fallback` (the merchant's `default_locale`), else `en-US`.
    pub fn negotiate(accept_language: Option<&str>, fallback: &str) -> Self {
        let header = accept_language.filter(|h| h.len() <= 512);
        let key = format!("{}\0{fallback}", header.unwrap_or(""));
        if let Some(l) = NEGOTIATED.read().ok().and_then(|m| m.get(&key).cloned()) {
            return l;
        }
        let wanted = header.map(accept_language::parse).unwrap_or_default();
        let found = wanted
            .iter()
            .map(String::as_str)
            .chain([fallback, "en-US"])
            .filter(|t| t.len() <= 35)
            .find_map(Self::parse);
        let chosen = found.unwrap_or_else(|| {
            Self::of_tag(
                "en-US-u-nu-latn".to_owned(),
                icu_locale_core::locale!("en-US-u-nu-latn"),
            )
        });
        remember(&NEGOTIATED, key, &chosen);
        chosen
    }

    /// The merchant's `default_locale` (e-mails, which have no browser to ask).
    pub fn of_merchant(settings: &paylink_domain::settings::MerchantSettings) -> Self {
        Self::negotiate(None, &settings.default_locale)
    }

    /// A locale from its BCP 47 tag, language and region only (extensions are dropped:
    /// the page chooses its own numbering system); `None` for a language CLDR does not
    /// know (`zz`), so negotiation moves on to the next one.
    pub fn parse(tag: &str) -> Option<Self> {
        let parsed: IcuLocale = tag.parse().ok()?;
        static KNOWN: LazyLock<Option<LanguageDisplayNames>> = LazyLock::new(|| {
            LanguageDisplayNames::try_new(
                (&icu_locale_core::locale!("en")).into(),
                Default::default(),
            )
            .ok()
        });
        if let Some(names) = KNOWN.as_ref() {
            names.of(parsed.id.language)?;
        }
        let tag = format!("{}-u-nu-latn", parsed.id);
        let icu: IcuLocale = tag.parse().ok()?;
        Some(Self::of_tag(tag, icu))
    }

    fn of_tag(tag: String, icu: IcuLocale) -> Self {
        if let Some(l) = LOCALES.read().ok().and_then(|m| m.get(&tag).cloned()) {
            return l;
        }
        let l = Self(Arc::new(Data {
            tag: tag.clone(),
            icu,
            decimal: OnceLock::new(),
            formatters: RwLock::new(HashMap::new()),
            countries: OnceLock::new(),
        }));
        remember(&LOCALES, tag, &l);
        l
    }

    /// The BCP 47 tag the page's script formats with.
    pub fn tag(&self) -> &str {
        &self.0.tag
    }

    /// Language and region only (`de-DE`), as settings keep it.
    pub fn language_tag(&self) -> String {
        self.0.icu.id.to_string()
    }

    /// `amount` of `currency` as people in this locale write it.
    pub fn money(&self, currency: Currency, amount: Amount) -> String {
        let Some(f) = self.formatter(currency) else {
            return self.plain(currency, amount);
        };
        let mut decimal = fixed_decimal::Decimal::from(amount.minor());
        decimal.multiply_pow10(-i16::from(currency.exponent()));
        let shown = f.format_fixed_decimal(&decimal).to_string();
        if same_digits(&shown, amount, currency.exponent()) {
            shown
        } else {
            self.plain(currency, amount)
        }
    }

    /// `12,50 EUR` where CLDR cannot say it: the locale's decimal mark, no grouping, the
    /// code (so it reads back as the same amount, [`Currency::parse_major_in`]).
    fn plain(&self, currency: Currency, amount: Amount) -> String {
        self.with_mark(currency.format(amount))
    }

    /// The amount in major units without symbol or grouping (`12,50` in German), for a
    /// field the customer may edit.
    pub fn major(&self, currency: Currency, amount: Amount) -> String {
        self.with_mark(currency.major(amount))
    }

    fn with_mark(&self, dotted: String) -> String {
        match self.decimal_mark() {
            '.' => dotted,
            mark => dotted.replace('.', &mark.to_string()),
        }
    }

    /// The decimal mark of this locale (`.` or `,`), for reading typed amounts.
    pub fn decimal_mark(&self) -> char {
        *self.0.decimal.get_or_init(|| {
            let Some(f) = self.formatter(Currency::USD) else {
                return '.';
            };
            let mut one_and_half = fixed_decimal::Decimal::from(150);
            one_and_half.multiply_pow10(-2);
            let shown = f.format_fixed_decimal(&one_and_half).to_string();
            match shown.split_once('1').and_then(|(_, r)| r.chars().next()) {
                Some(',') => ',',
                _ => '.',
            }
        })
    }

    /// Every ISO 3166-1 country as `(alpha-2 code, name in this locale)`, by name: what a
    /// country selector offers.
    pub fn countries(&self) -> Countries {
        self.0
            .countries
            .get_or_init(|| {
                let names =
                    RegionDisplayNames::try_new((&self.0.icu).into(), Default::default()).ok();
                let mut list: Vec<(String, String)> = celes::Country::get_countries()
                    .iter()
                    .map(|c| {
                        let name = names
                            .as_ref()
                            .zip(c.alpha2.parse::<Region>().ok())
                            .and_then(|(n, r)| n.of(r))
                            .map_or_else(|| c.long_name.to_owned(), str::to_owned);
                        (c.alpha2.to_owned(), name)
                    })
                    .collect();
                list.sort_by_key(|(_, name)| name.to_lowercase());
                Arc::new(list)
            })
            .clone()
    }

    fn formatter(&self, currency: Currency) -> Option<Formatter> {
        if let Some(f) = self.0.formatters.read().ok()?.get(&currency) {
            return f.clone();
        }
        let built = CurrencyType::try_from_str(&currency.code().to_ascii_lowercase())
            .ok()
            .and_then(|c| {
                CurrencyFormatter::try_new_symbol((&self.0.icu).into(), c, Default::default()).ok()
            })
            .map(Arc::new);
        if let Ok(mut m) = self.0.formatters.write() {
            m.insert(currency, built.clone());
        }
        built
    }
}

/// The request's `Accept-Language`, if it is text.
pub fn accept_language(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Whether `shown` writes exactly the digits of `amount` with `exponent` decimals (grouping,
/// symbol and decimal mark aside).
fn same_digits(shown: &str, amount: Amount, exponent: u8) -> bool {
    let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
    let mut want = amount.minor().unsigned_abs().to_string();
    let width = usize::from(exponent) + 1;
    while want.len() < width {
        want.insert(0, '0');
    }
    digits == want
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(tag: &str, code: &str, minor: i64) -> String {
        Locale::parse(tag)
            .unwrap()
            .money(Currency::parse(code).unwrap(), Amount::new(minor).unwrap())
    }

    #[test]
    fn money_is_written_as_each_locale_writes_it() {
        assert_eq!(money("en-US", "USD", 100_000), "$1,000.00");
        assert_eq!(money("en-US", "JPY", 12_800), "¥12,800");
        assert_eq!(money("de-DE", "EUR", 100_000), "1.000,00\u{a0}€");
        assert!(money("en-US", "KWD", 13_363).contains("13.363"));
        assert_eq!(money("en-US", "USD", 5), "$0.05");
    }

    #[test]
    fn an_amount_is_never_rounded_for_display() {
        for (code, minor) in [("USD", 1), ("KWD", 1), ("JPY", 7), ("IQD", 1_000_001)] {
            for tag in ["en-US", "de-DE", "ar-EG", "hi-IN", "ja-JP", "fr-CH"] {
                let shown = money(tag, code, minor);
                let cur = Currency::parse(code).unwrap();
                assert!(
                    same_digits(&shown, Amount::new(minor).unwrap(), cur.exponent()),
                    "{tag} {code} {minor}: {shown}"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Whatever a page writes, in any currency and locale, reads back as the same
        /// amount (as a customer copying it into the amount field would have it read).
        #[test]
        fn every_amount_written_reads_back_the_same(
            code in proptest::sample::select(every_currency()),
            tag in proptest::sample::select(vec!["en-US", "de-DE", "fr-FR", "de-CH", "hi-IN", "ja-JP", "ar-EG", "es-ES", "pt-BR", "nl-NL", "sv-SE"]),
            minor in proptest::prop_oneof![0i64..100_000, 0i64..=paylink_domain::money::MAX_AMOUNT],
        ) {
            let locale = Locale::parse(tag).unwrap();
            let cur = Currency::parse(code).unwrap();
            let amount = Amount::new(minor).unwrap();
            let shown = locale.money(cur, amount);
            // The number: from its first digit to its last (symbols such as `Cg.` aside).
            let first = shown.find(|c: char| c.is_ascii_digit()).unwrap();
            let last = shown.rfind(|c: char| c.is_ascii_digit()).unwrap();
            let number = &shown[first..=last];
            let back = cur.parse_major_in(number, locale.decimal_mark());
            proptest::prop_assert_eq!(back, Some(amount), "{} {} → {:?}", tag, code, shown);
            let typed = cur.parse_major_in(&locale.major(cur, amount), locale.decimal_mark());
            proptest::prop_assert_eq!(typed, Some(amount));
        }
    }

    /// Every currency Paylink takes (ISO 4217 in use, and the stablecoins).
    fn every_currency() -> Vec<&'static str> {
        static ALL: LazyLock<Vec<String>> = LazyLock::new(|| {
            let mut all: Vec<String> = (b'A'..=b'Z')
                .flat_map(|a| {
                    (b'A'..=b'Z').flat_map(move |b| (b'A'..=b'Z').map(move |c| [a, b, c]))
                })
                .map(|c| String::from_utf8_lossy(&c).into_owned())
                .filter(|c| Currency::parse(c).is_some())
                .collect();
            all.extend(["USDC".to_owned(), "EURC".to_owned()]);
            all
        });
        ALL.iter().map(String::as_str).collect()
    }

    #[test]
    fn countries_are_named_in_the_customer_s_language() {
        let en = Locale::parse("en-US").unwrap().countries();
        assert!(en.len() >= 249, "{}", en.len());
        assert!(en.contains(&("US".to_owned(), "United States".to_owned())));
        assert!(en.contains(&("CI".to_owned(), "Côte d’Ivoire".to_owned())));
        let de = Locale::parse("de-DE").unwrap().countries();
        assert!(de.contains(&("DE".to_owned(), "Deutschland".to_owned())));
        assert!(de
            .windows(2)
            .all(|w| w[0].1.to_lowercase() <= w[1].1.to_lowercase()));
    }

    #[test]
    fn the_browser_s_language_wins_then_the_merchant_s() {
        assert_eq!(Locale::negotiate(None, "fr-FR").tag(), "fr-FR-u-nu-latn");
        let de = Some("en;q=0.5,de-DE,de;q=0.9");
        assert_eq!(Locale::negotiate(de, "fr-FR").tag(), "de-DE-u-nu-latn");
        assert_eq!(Locale::negotiate(de, "fr-FR").decimal_mark(), ',');
        assert_eq!(
            Locale::negotiate(de, "fr-FR")
                .money(Currency::parse("EUR").unwrap(), Amount::new(5).unwrap()),
            "0,05\u{a0}€"
        );
        assert_eq!(
            Locale::negotiate(Some("*"), "nonsense!").tag(),
            "en-US-u-nu-latn"
        );
        // A language CLDR does not know is passed over (found by the outside review).
        assert_eq!(
            Locale::negotiate(Some("zz, de-DE"), "en-US").tag(),
            "de-DE-u-nu-latn"
        );
        assert!(Locale::parse("zz").is_none());
        let huge = "x".repeat(10_000);
        assert_eq!(
            Locale::negotiate(Some(&huge), "en-GB").tag(),
            "en-GB-u-nu-latn"
        );
    }
}
