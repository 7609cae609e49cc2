//! How values read on the dashboard's pages: money in the person's locale, times in UTC,
//! and the query strings of lists.

use paylink_domain::money::{Amount, Currency};
use paylink_domain::time::Timestamp;

use crate::locale::Locale;

/// `amount` of `currency` as the locale writes it (`$25.00`, `25,00 €`).
pub fn money(locale: &Locale, currency: Currency, amount: Amount) -> String {
    locale.money(currency, amount)
}

/// `2026-12-04 23:10 UTC`.
pub fn when(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    match (s.get(..10), s.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => s,
    }
}

/// `?a=1&b=2` of the pairs whose value is not empty (`""` when none is).
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}

/// A text filter as typed, kept short and without control characters (what the list
/// route would refuse is not sent).
pub fn clean(s: Option<&str>, max: usize) -> String {
    s.unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A text of several lines as typed (a note): control characters other than new lines
/// dropped, at most `max` characters, trimmed.
pub fn clean_text(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// `value` (cleaned) if it is one of `allowed`, else `""`: a filter the list does not know
/// is no filter.
pub fn one_of(value: Option<&str>, allowed: &[&str]) -> String {
    let v = clean(value, 40);
    if allowed.contains(&v.as_str()) {
        v
    } else {
        String::new()
    }
}

/// An API list's path: a page of 25, and `pairs` (empty values left out).
pub fn api_list(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut all = vec![("limit", "25")];
    all.extend_from_slice(pairs);
    format!("{base}{}", query(&all))
}

/// The "next" and "previous" links of a list page shown between cursors: `first` and
/// `last` are the page's first and last ids, `after` / `before` the cursor it was asked
/// with, `has_more` the API's answer. Going back, a page is complete when more are before
/// it; going on, when more are after it. `page_path` is the page with its filters
/// (`filters` pairs), each link adding its cursor.
pub fn pager(
    page_path: &str,
    filters: &[(&str, &str)],
    (first, last): (Option<&str>, Option<&str>),
    (after, before): (&str, &str),
    has_more: bool,
) -> (Option<String>, Option<String>) {
    let paging_back = !before.is_empty();
    let with = |cursor: (&str, &str)| {
        let mut pairs = filters.to_vec();
        pairs.push(cursor);
        format!("{page_path}{}", query(&pairs))
    };
    let next = last
        .filter(|_| has_more || paging_back)
        .map(|id| with(("starting_after", id)));
    let previous = first
        .filter(|_| !after.is_empty() || (paging_back && has_more))
        .map(|id| with(("ending_before", id)));
    (next, previous)
}
