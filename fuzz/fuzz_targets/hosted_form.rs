//! The hosted page's form: any submitted body, read as axum's `Form` reads it, goes through
//! `read_form` (quantities, a donation's amount in the customer's locale, the action, every
//! field's check) against links of every kind and in several locales, without a panic. A
//! quantity it accepts is one the line allows; an amount it reads is one the page writes
//! back as the same amount.
#![no_main]

use libfuzzer_sys::fuzz_target;

use paylink_domain::time::Timestamp;
use paylink_server::checkout::api::in_currency;
use paylink_server::checkout::form::read_form;
use paylink_server::locale::Locale;

const LANGUAGES: [&str; 4] = ["en-US", "de-DE", "fr-CH", "hi-IN"];

fuzz_target!(|data: &[u8]| {
    let world = paylink_fuzz::world();
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) else {
        return;
    };
    let language = LANGUAGES[usize::from(pick) % LANGUAGES.len()];
    let locale = Locale::negotiate(Some(language), "en-US");
    let now = Timestamp::from_unix(1_800_000_000);
    for link in &world.links {
        let (e, action) = read_form(link, &fields, Some(language.to_owned()), &locale, now);
        assert!(["update", "pay", "wallet", "wallet_confirm"].contains(&action.as_str()));
        if let Some(qs) = &e.quantities {
            assert_eq!(qs.len(), link.line_items.len());
            for (i, (q, l)) in qs.iter().zip(&link.line_items).enumerate() {
                if e.field_errors.contains_key(&format!("q{i}")) {
                    continue;
                }
                let ok = match l.adjustable_quantity {
                    Some(a) if a.enabled => (a.minimum..=a.maximum).contains(q),
                    _ => *q == l.quantity,
                };
                assert!(ok, "q{i} = {q} for {l:?}");
            }
        }
        if let Some(amount) = e.amount {
            let shown = in_currency(link, e.currency)
                .map(|l| l.currency)
                .unwrap_or(link.currency);
            let written = locale.major(shown, amount);
            assert_eq!(
                shown.parse_major_in(&written, locale.decimal_mark()),
                Some(amount)
            );
        }
    }
});
