//! Regular expressions of the rules the domain checks, for the OpenAPI document: written
//! from the same bounds as the checks, so the two cannot drift.

/// A regular expression (no anchors) matching exactly the decimal numbers `lo..=hi`
/// written without sign or leading zeros (`0` itself only when `lo` is 0).
pub fn integer_range(lo: u64, hi: u64) -> String {
    let mut parts = Vec::new();
    if lo == 0 {
        parts.push("0".to_owned());
    }
    let lo = lo.max(1);
    let mut width_lo = lo;
    while width_lo <= hi {
        let digits = width_lo.to_string().len() as u32;
        let width_hi = 10u64
            .checked_pow(digits)
            .map_or(u64::MAX, |p| p - 1)
            .min(hi);
        let (a, b) = (width_lo.to_string(), width_hi.to_string());
        parts.extend(same_width(a.as_bytes(), b.as_bytes()));
        match width_hi.checked_add(1) {
            Some(next) => width_lo = next,
            None => break,
        }
    }
    match parts.len() {
        1 => parts.remove(0),
        _ => format!("(?:{})", parts.join("|")),
    }
}

/// Alternatives matching the numbers from `a` to `b`, both of the same number of digits.
fn same_width(a: &[u8], b: &[u8]) -> Vec<String> {
    let (Some((&a0, a_rest)), Some((&b0, b_rest))) = (a.split_first(), b.split_first()) else {
        return vec![String::new()];
    };
    let any = |n: usize| match n {
        0 => String::new(),
        1 => "[0-9]".to_owned(),
        n => format!("[0-9]{{{n}}}"),
    };
    let class = |x: u8, y: u8| match x == y {
        true => char::from(x).to_string(),
        false => format!("[{}-{}]", char::from(x), char::from(y)),
    };
    let prefixed = |d: u8, rest: Vec<String>| -> Vec<String> {
        rest.into_iter()
            .map(|r| format!("{}{r}", char::from(d)))
            .collect()
    };
    if a0 == b0 {
        return prefixed(a0, same_width(a_rest, b_rest));
    }
    let n = a_rest.len();
    let from_zero = a_rest.iter().all(|&d| d == b'0');
    let to_nine = b_rest.iter().all(|&d| d == b'9');
    let mut out = Vec::new();
    // The first digit's numbers from `a` up, unless they are all of them.
    let mut first = a0;
    if !from_zero {
        out.extend(prefixed(a0, same_width(a_rest, &vec![b'9'; n])));
        first = a0 + 1;
    }
    let last = if to_nine { b0 } else { b0 - 1 };
    if first <= last {
        out.push(format!("{}{}", class(first, last), any(n)));
    }
    if !to_nine {
        out.extend(prefixed(b0, same_width(&vec![b'0'; n], b_rest)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matches(re: &str, s: &str) -> bool {
        regex::Regex::new(&format!("^{re}$")).unwrap().is_match(s)
    }

    #[test]
    fn small_ranges() {
        assert_eq!(integer_range(1, 9), "[1-9]");
        assert!(matches(&integer_range(60, 86_400), "86400"));
        assert!(!matches(&integer_range(60, 86_400), "86401"));
        assert!(!matches(&integer_range(60, 86_400), "059"));
        assert!(matches(&integer_range(0, 10), "0"));
        assert!(!matches(&integer_range(1, 10), "0"));
    }

    proptest! {
        #[test]
        fn matches_exactly_the_range(lo in 0u64..100_000, span in 0u64..10_000_000, n in 0u64..20_000_000) {
            let hi = lo + span;
            let re = integer_range(lo, hi);
            prop_assert_eq!(matches(&re, &n.to_string()), (lo..=hi).contains(&n), "{} in {}..={}: {}", n, lo, hi, re);
            prop_assert!(!matches(&re, &format!("0{n}")), "leading zero in {}", re);
        }
    }
}
