//! Prices in other currencies: a line's or a product's price per currency, named by the
//! merchant (never a conversion), and what a link shows of them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{inconsistent, invalid, ValidationError};
use crate::money::{Amount, Currency};

/// A price in another currency, by upper-case code.
pub type CurrencyOptions = BTreeMap<String, CurrencyPrice>;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CurrencyPrice {
    pub unit_amount: Amount,
}

/// The schema of [`CurrencyOptions`]: up to 10 prices keyed by supported upper-case codes.
pub fn currency_options_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::PartialSchema;
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(Currency::upper_case_pattern())),
        ))
        .additional_properties(Some(CurrencyPrice::schema()))
        .max_properties(Some(MAX_OPTIONS))
        .build()
}

/// [`currency_options_schema`], or `null`.
pub fn currency_options_or_null() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut o = currency_options_schema();
    o.schema_type = SchemaType::from_iter([Type::Object, Type::Null]);
    o
}

/// The most other currencies one price may have.
const MAX_OPTIONS: usize = 10;

/// Checks prices in other currencies: known codes, upper case, none the `base` itself.
pub fn validate_currency_options(
    options: &CurrencyOptions,
    base: Currency,
    param: &str,
) -> Result<(), ValidationError> {
    if options.len() > MAX_OPTIONS {
        return Err(invalid(param, "at most 10 other currencies"));
    }
    for code in options.keys() {
        let p = format!("{param}.{code}");
        match Currency::parse(code) {
            Some(c) if c.code() == code.as_str() && c != base => {}
            Some(c) if c.code() == code.as_str() => {
                return Err(inconsistent(
                    p,
                    format!("{code} is already the base currency"),
                ))
            }
            _ => {
                return Err(ValidationError::new(
                    "currency_invalid",
                    p,
                    format!("`{code}` is not a supported currency code in upper case"),
                ))
            }
        }
    }
    Ok(())
}

/// A link's price in another currency, as the API shows it: the total of its lines at
/// their default quantities before tax (for a one-line link, its amount).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkCurrencyOption {
    pub amount: Amount,
}
