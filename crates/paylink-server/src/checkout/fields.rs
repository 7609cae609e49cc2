//! The link page's form checked field by field before anything is opened or charged: every
//! problem at once, in words for customers, each at the field it concerns (keyed by the
//! field's `id` on the page).

use std::collections::BTreeMap;

use secrecy::SecretString;

use paylink_domain::checkout::custom_field_value;
use paylink_domain::link::{CustomFieldType, PaymentLink};
use paylink_domain::time::Timestamp;
use paylink_processors::{card_digits, luhn_valid};

use super::pages::Entered;

/// Field id → what is wrong with it.
pub(super) type FieldErrors = BTreeMap<String, String>;

/// The card as typed on the page.
pub(super) struct CardFields<'a> {
    pub number: &'a str,
    pub exp: &'a str,
    pub cvc: &'a str,
}

/// Everything wrong with what the customer typed (empty when nothing is); `card` is `None`
/// when they pay with a wallet.
pub(super) fn check(
    link: &PaymentLink,
    e: &Entered,
    card: Option<&CardFields<'_>>,
    countries: &[(String, String)],
    now: Timestamp,
) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let mut say = |id: &str, message: String| {
        errors.entry(id.to_owned()).or_insert(message);
    };
    if e.email.is_empty() {
        say("email", "Enter your e-mail address for the receipt.".into());
    } else if paylink_domain::text::email(&e.email, "email").is_err() {
        say(
            "email",
            "Enter an e-mail address like name@example.com.".into(),
        );
    }
    if link.collect.phone && e.phone.is_empty() {
        say("phone", "Enter your phone number.".into());
    }
    // The API's limits, said as a customer reads them.
    for (id, value, max, what) in [
        ("name", e.name.as_str(), 200, "your name"),
        ("phone", e.phone.as_str(), 40, "the phone number"),
    ] {
        if value.chars().count() > max {
            say(id, format!("Shorten {what} to {max} characters."));
        }
    }
    // The domain decides what a field takes; here it is said for the kind of field.
    for f in &link.custom_fields {
        let given = e.custom.get(&f.key).map(String::as_str);
        let Err(problem) = custom_field_value(f, given) else {
            continue;
        };
        let message = match (problem.code, f.kind) {
            ("parameter_missing", _) => format!("Fill in “{}”.", f.label),
            (_, CustomFieldType::Dropdown) => {
                format!("Choose one of the answers to “{}”.", f.label)
            }
            (_, CustomFieldType::Numeric) if given.is_some_and(|v| v.trim().len() <= 255) => {
                format!("“{}” takes digits only.", f.label)
            }
            _ => format!("Shorten “{}” to 255 characters.", f.label),
        };
        say(&format!("cf_{}", f.key), message);
    }
    for (on, prefix, values) in [
        (link.collect.billing_address, "billing", &e.billing),
        (link.collect.shipping_address, "shipping", &e.shipping),
    ] {
        if !on {
            continue;
        }
        if values.get("line1").is_none_or(String::is_empty) {
            say(
                &format!("{prefix}_line1"),
                "Enter the street address.".into(),
            );
        }
        for (part, max, what) in [
            ("line1", 200, "the street address"),
            ("city", 200, "the city"),
            ("postal_code", 20, "the postal code"),
        ] {
            if values.get(part).is_some_and(|v| v.chars().count() > max) {
                say(
                    &format!("{prefix}_{part}"),
                    format!("Shorten {what} to {max} characters."),
                );
            }
        }
        let country = values.get("country").map(String::as_str).unwrap_or("");
        if !countries
            .iter()
            .any(|(code, _)| code.eq_ignore_ascii_case(country))
        {
            say(&format!("{prefix}_country"), "Choose the country.".into());
        }
    }
    if let Some(c) = card {
        check_card(c, now, &mut say);
    }
    errors
}

fn check_card(c: &CardFields<'_>, now: Timestamp, say: &mut impl FnMut(&str, String)) {
    match card_digits(&SecretString::from(c.number.to_owned())) {
        _ if c.number.is_empty() => say("card_number", "Enter your card number.".into()),
        Some(d) if luhn_valid(&d) => {}
        Some(_) => say(
            "card_number",
            "This card number is not valid. Check it and try again.".into(),
        ),
        None => say(
            "card_number",
            "Enter the card number as it is on your card.".into(),
        ),
    }
    match expiry(c.exp) {
        None => say("card_exp", "Enter the expiry date as MM/YY.".into()),
        Some((month, year)) => {
            let (y, m) = now.year_month();
            if (year, month) < (y, m) {
                say(
                    "card_exp",
                    "This card has expired. Use another card.".into(),
                );
            }
        }
    }
    let cvc_ok = (3..=4).contains(&c.cvc.len()) && c.cvc.bytes().all(|b| b.is_ascii_digit());
    if !cvc_ok {
        say(
            "card_cvc",
            "Enter the 3 or 4 digit security code from your card.".into(),
        );
    }
}

/// `MM/YY` (or `MM/YYYY`, spaces allowed) as `(month, full year)`.
pub(super) fn expiry(exp: &str) -> Option<(u8, u16)> {
    let (m, y) = exp.split_once('/')?;
    let (m, y) = (m.trim(), y.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(m) && digits(y) && m.len() <= 2 && (y.len() == 2 || y.len() == 4)) {
        return None;
    }
    let month: u8 = m.parse().ok().filter(|m| (1..=12).contains(m))?;
    let year: u16 = y.parse().ok()?;
    match y.len() {
        2 => Some((month, 2000 + year)),
        _ => (2000..=2099).contains(&year).then_some((month, year)),
    }
}

/// Where an error the API gave about a checkout (`param`) shows on the page: `email`,
/// `custom_fields.size` → `cf_size`, `billing_address.country` → `billing_country`; `None`
/// when it is about no one field.
pub(super) fn field_of(param: &str) -> Option<String> {
    if let Some(key) = param.strip_prefix("custom_fields.") {
        return Some(format!("cf_{key}"));
    }
    for prefix in ["billing", "shipping"] {
        if let Some(part) = param.strip_prefix(&format!("{prefix}_address.")) {
            return Some(format!("{prefix}_{part}"));
        }
    }
    match param {
        "email" | "name" | "phone" | "amount" => Some(param.to_owned()),
        p if p.starts_with("quantities[") => p
            .strip_prefix("quantities[")
            .and_then(|r| r.strip_suffix(']'))
            .map(|i| format!("q{i}")),
        p if p.starts_with("payment_method.card") || p == "card" => Some("card_number".into()),
        _ => None,
    }
}
