//! Slugs and type-prefixed ids: the parsers take exactly what their documented grammar
//! says (checked here by a second, differently written reading of it), the JSON
//! deserializers agree with the parsers, and a generated slug always parses.
#![no_main]

use libfuzzer_sys::fuzz_target;

use paylink_domain::id::{
    base62, CheckoutSessionId, CustomerId, MerchantId, OrderId, PaymentLinkId, ProductId, RefundId,
    TaxRateId, RANDOM_LEN,
};
use paylink_domain::text::Slug;

/// `[a-z0-9]` runs joined by single hyphens, 3–64 characters in all.
fn slug_grammar(s: &str) -> bool {
    (3..=64).contains(&s.len())
        && s.split('-').all(|run| {
            !run.is_empty()
                && run
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        })
}

/// `prefix` then exactly 22 of `[0-9A-Za-z]`.
fn id_grammar(s: &str, prefix: &str) -> bool {
    let Some(rest) = s.strip_prefix(prefix) else {
        return false;
    };
    rest.chars().count() == RANDOM_LEN
        && rest
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'A'..='Z' | 'a'..='z'))
}

macro_rules! check_ids {
    ($s:expr, $($ty:ty),*) => {$(
        let parsed = <$ty>::parse($s);
        assert_eq!(parsed.is_some(), id_grammar($s, <$ty>::PREFIX), "{:?}", $s);
        let json = serde_json::Value::String($s.to_owned());
        let de = serde_json::from_value::<$ty>(json).ok();
        assert_eq!(de, parsed);
        if let Some(id) = parsed {
            assert_eq!(id.as_str(), $s);
            assert_eq!(id.to_string(), $s);
        }
    )*};
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    let slug = Slug::parse(s, "slug");
    assert_eq!(slug.is_ok(), slug_grammar(s), "{s:?}");
    if let Ok(slug) = slug {
        let json = serde_json::to_string(&slug).unwrap();
        assert_eq!(serde_json::from_str::<Slug>(&json).unwrap(), slug);
    }
    let generated = Slug::generate(s);
    assert!(slug_grammar(generated.as_str()), "{s:?} → {generated:?}");

    check_ids!(
        s,
        MerchantId,
        ProductId,
        CustomerId,
        OrderId,
        TaxRateId,
        PaymentLinkId,
        CheckoutSessionId,
        RefundId
    );

    // Any 16 bytes make a well-formed random part.
    let mut bytes = [0u8; 16];
    for (b, d) in bytes.iter_mut().zip(data) {
        *b = *d;
    }
    let id = format!("plink_{}", base62(bytes));
    assert!(PaymentLinkId::parse(&id).is_some(), "{id}");
});
