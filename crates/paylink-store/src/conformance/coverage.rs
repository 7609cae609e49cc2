//! The guard of the story's reach: every method of every `Store` trait is called somewhere
//! in the conformance sources, so a method added to a trait without a part that exercises
//! it on both backends fails this test.

/// The per-aggregate traits' sources (`store/*.rs`), by module name.
const TRAITS: &[(&str, &str)] = &[
    ("accounts", include_str!("../store/accounts.rs")),
    ("catalog", include_str!("../store/catalog.rs")),
    ("checkout", include_str!("../store/checkout.rs")),
    ("emails", include_str!("../store/emails.rs")),
    ("events", include_str!("../store/events.rs")),
    ("idempotency", include_str!("../store/idempotency.rs")),
    ("links", include_str!("../store/links.rs")),
    ("merchants", include_str!("../store/merchants.rs")),
    ("orders", include_str!("../store/orders.rs")),
    ("payments", include_str!("../store/payments.rs")),
    ("processes", include_str!("../store/processes.rs")),
    ("processors", include_str!("../store/processors.rs")),
    ("subscriptions", include_str!("../store/subscriptions.rs")),
    ("webhooks", include_str!("../store/webhooks.rs")),
];

/// The conformance sources (this directory but this file), by module name.
const PARTS: &[(&str, &str)] = &[
    ("mod", include_str!("mod.rs")),
    ("accounts", include_str!("accounts.rs")),
    ("attempt_rules", include_str!("attempt_rules.rs")),
    ("attempts", include_str!("attempts.rs")),
    ("catalog", include_str!("catalog.rs")),
    ("checkout", include_str!("checkout.rs")),
    ("fixtures", include_str!("fixtures.rs")),
    ("housekeeping", include_str!("housekeeping.rs")),
    ("idempotency", include_str!("idempotency.rs")),
    ("links", include_str!("links.rs")),
    ("merchants", include_str!("merchants.rs")),
    ("order_holds", include_str!("order_holds.rs")),
    ("orders", include_str!("orders.rs")),
    ("outbox", include_str!("outbox.rs")),
    ("payments", include_str!("payments.rs")),
    ("processes", include_str!("processes.rs")),
    ("processors", include_str!("processors.rs")),
    ("races", include_str!("races.rs")),
    ("reports", include_str!("reports.rs")),
    ("subscriptions", include_str!("subscriptions.rs")),
    ("webhooks", include_str!("webhooks.rs")),
];

/// The names of the `mod x;` lines of a `mod.rs`.
fn modules(src: &str) -> Vec<&str> {
    src.lines()
        .filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';'))
        .collect()
}

/// Every `fn name` declared in `src` (outside comments).
fn declared(src: &str) -> Vec<String> {
    let src = code(src);
    let word = |c: char| c.is_alphanumeric() || c == '_';
    src.match_indices("fn ")
        .filter(|(i, _)| !src[..*i].ends_with(word))
        .filter_map(|(i, _)| {
            let rest = &src[i + 3..];
            let end = rest.find(|c: char| !word(c))?;
            (end > 0).then(|| rest[..end].to_owned())
        })
        .collect()
}

/// `src` without its `//` comments: a method named in a comment is not called.
fn code(src: &str) -> String {
    src.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The trait methods no conformance source calls (`.name(`).
fn uncalled(traits: &[(&str, &str)], parts: &[(&str, &str)]) -> Vec<String> {
    let called: String = parts.iter().map(|(_, s)| code(s)).collect();
    traits
        .iter()
        .flat_map(|(_, s)| declared(s))
        .filter(|name| !called.contains(&format!(".{name}(")))
        .collect()
}

#[test]
fn every_store_method_is_exercised_by_the_story() {
    // Both lists are complete: a trait file or a part added without being listed here
    // would otherwise escape the guard.
    let mut traits: Vec<&str> = TRAITS.iter().map(|(m, _)| *m).collect();
    let mut declared_traits = modules(include_str!("../store/mod.rs"));
    traits.sort_unstable();
    declared_traits.sort_unstable();
    assert_eq!(traits, declared_traits, "store/*.rs and TRAITS differ");
    let mut parts: Vec<&str> = PARTS
        .iter()
        .map(|(m, _)| *m)
        .filter(|m| *m != "mod")
        .collect();
    parts.push("coverage");
    let mut declared_parts = modules(include_str!("mod.rs"));
    parts.sort_unstable();
    declared_parts.sort_unstable();
    assert_eq!(parts, declared_parts, "conformance/*.rs and PARTS differ");

    let methods: Vec<String> = TRAITS.iter().flat_map(|(_, s)| declared(s)).collect();
    assert_eq!(methods.len(), 129, "{methods:?}");
    let missing = uncalled(TRAITS, PARTS);
    assert!(
        missing.is_empty(),
        "Store methods the conformance story never calls: {missing:?}"
    );
}

#[test]
fn the_guard_finds_a_method_left_out() {
    let traits = [(
        "t",
        "trait T {\n    /// Reads it (see fn elsewhere).\n    async fn get_it(&self);\n    fn backend(&self) -> &str;\n    async fn get_it_all(&self);\n}",
    )];
    let parts = [(
        "p",
        "s.get_it_all(x);\n// s.get_it(x) in a comment\ns.backend();",
    )];
    assert_eq!(uncalled(&traits, &parts), vec!["get_it"]);
}
