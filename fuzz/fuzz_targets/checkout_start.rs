//! Starting a checkout: any body goes through the server's JSON reader and `read_start`
//! (currency, cart priced with the customer's choices, custom fields, customer details)
//! against links of every kind, without a panic. An error is a client error; a start it
//! accepts charges the sum of its lines, within the merchant's bounds, at quantities the
//! link allows.
#![no_main]

use libfuzzer_sys::fuzz_target;

use paylink_domain::checkout::CheckoutLine;
use paylink_domain::link::LinkType;
use paylink_domain::money::Amount;
use paylink_domain::tax::PricingMode;
use paylink_server::checkout::api::{read_start, CheckoutIn};

fn sum(lines: &[CheckoutLine], f: impl Fn(&CheckoutLine) -> Amount) -> i128 {
    lines.iter().map(|l| i128::from(f(l).minor())).sum()
}

fuzz_target!(|data: &[u8]| {
    let world = paylink_fuzz::world();
    let input: CheckoutIn = match paylink_server::json::parse(data) {
        Ok(i) => i,
        Err(e) => {
            assert!(e.status.is_client_error(), "{}", e.code);
            return;
        }
    };
    for base in &world.links {
        let prefill = base.prefill.as_ref();
        let start = match read_start(base, prefill, input.clone(), &world.settings) {
            Ok(s) => s,
            Err(e) => {
                assert!(e.status.is_client_error(), "{} {}", e.code, e.message);
                continue;
            }
        };
        let (link, cart) = (&start.link, &start.cart);
        let t = cart.totals;
        assert!(!cart.lines.is_empty());
        assert_eq!(
            i128::from(t.amount_subtotal.minor()),
            sum(&cart.lines, |l| l.amount_subtotal)
        );
        assert_eq!(
            i128::from(t.amount_tax.minor()),
            sum(&cart.lines, |l| l.amount_tax)
        );
        assert_eq!(
            i128::from(t.amount_total.minor()),
            sum(&cart.lines, |l| l.amount_total)
        );
        match link.tax.pricing_mode {
            PricingMode::Inclusive => assert_eq!(t.amount_total, t.amount_subtotal),
            PricingMode::Exclusive => assert_eq!(
                t.amount_total.minor(),
                t.amount_subtotal.minor() + t.amount_tax.minor()
            ),
        }
        let bounds = world.settings.bounds(link.currency);
        if link.kind == LinkType::Donation {
            let d = link
                .donation
                .as_ref()
                .expect("a donation link has its bounds");
            assert!((d.minimum..=d.maximum).contains(&t.amount_total));
        } else {
            assert!((bounds.minimum..=bounds.maximum).contains(&t.amount_total));
            for l in &cart.lines {
                let item = link
                    .line_items
                    .iter()
                    .find(|i| i.name == l.name && i.product_id == l.product_id)
                    .expect("a charged line is one of the link's");
                let ok = match item.adjustable_quantity {
                    Some(a) if a.enabled => (a.minimum..=a.maximum).contains(&l.quantity),
                    _ => l.quantity == item.quantity,
                };
                assert!(ok && l.quantity > 0, "{l:?} of {item:?}");
                assert_eq!(l.unit_amount, item.unit_amount);
            }
        }
        assert!(cart.hsa_fsa_amount <= t.amount_total);
        let email = start
            .customer
            .email
            .as_deref()
            .expect("an e-mail for the receipt");
        assert!(paylink_domain::text::email(email, "email").is_ok());
    }
});
