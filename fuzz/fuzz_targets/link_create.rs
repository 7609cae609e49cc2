//! Payment-link creation: any body goes through the server's JSON reader and its create
//! path (customer, products, tax rates and order looked up in a real SQLite store; the
//! domain's `validate`) without a panic. An error is a client error the API can answer;
//! a link it makes is within the rules: it validates again, keeps its shape through JSON,
//! prices at its defaults within the merchant's bounds, and sells in each currency it
//! offers.
#![no_main]

use libfuzzer_sys::fuzz_target;

use paylink_domain::checkout::{price, Choice};
use paylink_domain::link::{LinkRules, PaymentLink};
use paylink_domain::money::Currency;
use paylink_domain::time::Timestamp;

fuzz_target!(|data: &[u8]| {
    let world = paylink_fuzz::world();
    let link = match world.create(data) {
        Ok(link) => link,
        Err(e) => {
            assert!(
                e.status.is_client_error(),
                "{} {}: {}",
                e.status,
                e.code,
                e.message
            );
            assert!(!e.code.is_empty() && !e.message.is_empty());
            return;
        }
    };
    let rules = LinkRules {
        settings: &world.settings,
        now: Timestamp::from_unix(1_800_000_000),
    };
    link.validate(&rules)
        .expect("a created link validates again");
    let json = serde_json::to_value(&link).expect("a link serializes");
    let back: PaymentLink = serde_json::from_value(json).expect("a link reads back");
    assert_eq!(back, link);
    let bounds = world.settings.bounds(link.currency);
    if let Some(d) = &link.donation {
        assert!(
            bounds.minimum <= d.minimum && d.minimum <= d.maximum && d.maximum <= bounds.maximum
        );
    } else {
        let totals = link.default_totals().expect("default totals fit");
        let empty = link.line_items.iter().all(|l| l.quantity == 0);
        assert!(empty || (bounds.minimum..=bounds.maximum).contains(&totals.amount_total));
        if let Ok(cart) = price(&link, &Choice::default(), &world.settings) {
            assert_eq!(cart.totals, totals);
        }
    }
    for code in link.currency_options.keys() {
        let c = Currency::parse(code).expect("an offered currency parses");
        let sold = link.in_currency(c).expect("an offered currency sells");
        assert_eq!(sold.currency, c);
    }
});
