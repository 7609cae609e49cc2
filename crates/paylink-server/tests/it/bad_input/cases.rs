//! The corpus itself: from one operation of the served OpenAPI document (its path, query
//! parameters and request-body schema) and a valid body for it, every hostile request
//! worth sending, each with what its answer may be.

use reqwest::Method;
use serde_json::{json, Value};

use super::schema::{self, Field, Seg};

/// One operation of the document.
pub struct Op {
    pub method: Method,
    pub path: String,
    pub public: bool,
    /// Whether success answers an image rather than JSON.
    pub image: bool,
    /// Each documented query parameter, with its schema.
    pub query: Vec<(String, Value)>,
    /// The request body's schema name, if the operation takes one.
    pub body: Option<String>,
    /// The id prefix `{id}` takes (from its pattern).
    pub id_prefix: Option<String>,
}

impl Op {
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What a case's answer may be.
#[derive(Clone, Debug)]
pub enum Expect {
    /// A 4xx error object; nothing changes.
    Refused,
    /// A 4xx, or a list that finds nothing (no fixture holds such a value).
    RefusedOrNothingFound,
    /// A 4xx, or a success that keeps the value as sent (where the answer shows it).
    RefusedOrKept { at: Vec<Seg>, sent: Value },
    /// A 4xx, or any success (a read, or a value the document allows).
    NoServerError,
}

impl Expect {
    /// Whether a right answer has changed nothing (so the state is compared after it).
    pub fn changes_nothing(&self, method: &Method) -> bool {
        matches!(self, Expect::Refused | Expect::RefusedOrNothingFound) || *method == Method::GET
    }
}

pub struct Case {
    pub what: String,
    /// Path and query, percent-encoded.
    pub target: String,
    pub body: Option<Vec<u8>>,
    pub idempotency_key: Option<String>,
    pub expect: Expect,
    /// The field a refusal must name (`param`, or a path inside it), where one was broken.
    pub field: Option<String>,
    /// Cases of one key are answered alike (another merchant's id as one that names nothing).
    pub twin: Option<String>,
}

impl Case {
    pub fn new(target: String, what: String, body: Option<Vec<u8>>, expect: Expect) -> Self {
        Case {
            what,
            target,
            body,
            idempotency_key: None,
            expect,
            field: None,
            twin: None,
        }
    }
}

/// Strings that break naive SQL, LIKE patterns and escaping.
pub const SQL: [&str; 5] = ["' OR 1=1 --", "\"; DROP TABLE payments; --", "%", "_", "\\"];

/// Every byte but the unreserved ones as `%XX` (so a NUL is `%00`).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// 100 KB: over the body limit on its own.
pub fn long() -> String {
    "x".repeat(100 * 1024)
}

/// As long as a URI may be (`http` refuses 64 KiB before it is sent; see the raw check of
/// 100 KB in the test).
fn long_in_uri() -> String {
    "x".repeat(30 * 1024)
}

/// The numbers that break amounts: a label, the JSON value, and the integer (if one).
fn extremes() -> Vec<(&'static str, Value, Option<i128>)> {
    vec![
        ("i64::MAX", json!(i64::MAX), Some(i64::MAX.into())),
        ("i64::MIN", json!(i64::MIN), Some(i64::MIN.into())),
        ("-1", json!(-1), Some(-1)),
        (
            "2^53+1",
            json!(9_007_199_254_740_993_i64),
            Some(9_007_199_254_740_993),
        ),
        ("1e30", json!(1e30), None),
        ("\"100\"", json!("100"), None),
    ]
}

/// The body with the value at `at` replaced by raw bytes (which need not be JSON).
fn splice(base: &Value, at: &[Seg], raw: &[u8]) -> Vec<u8> {
    let mut v = base.clone();
    *schema::at_mut(&mut v, at) = json!("\u{1}SPLICE\u{1}");
    let text = serde_json::to_string(&v).unwrap();
    let (a, b) = text.split_once("\"\\u0001SPLICE\\u0001\"").unwrap();
    [a.as_bytes(), raw, b.as_bytes()].concat()
}

pub fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some(_) => format!(
            "{}… ({} bytes)",
            s.chars().take(20).collect::<String>(),
            s.len()
        ),
        None => s.to_owned(),
    }
}

pub struct Ctx<'a> {
    pub doc: &'a Value,
    /// The operation's path with real ids, without a query.
    pub target: String,
    /// A valid body (`{}` for operations without one).
    pub base: Value,
    /// Another merchant's id of a prefix, if it has one.
    pub other: &'a dyn Fn(&str) -> Option<String>,
    /// The real value in the path (`{id}` or `{slug}`).
    pub path_value: Option<String>,
}

impl Ctx<'_> {
    fn case(&self, what: String, body: Vec<u8>, expect: Expect) -> Case {
        Case::new(self.target.clone(), what, Some(body), expect)
    }

    /// The valid body, for a case that breaks something else (if the operation takes one).
    fn valid_body(&self, op: &Op) -> Option<Vec<u8>> {
        op.body
            .as_ref()
            .map(|_| serde_json::to_vec(&self.base).unwrap())
    }
}

pub fn cases(op: &Op, cx: &Ctx) -> Vec<Case> {
    // Every route, documented parameters or not: NUL in any query value.
    let mut out = vec![Case::new(
        format!("{}?corpus=a%00b", cx.target),
        "NUL in an undocumented query parameter".into(),
        cx.valid_body(op),
        Expect::Refused,
    )];
    path_cases(op, cx, &mut out);
    query_cases(op, cx, &mut out);
    if op.method != Method::GET {
        raw_body_cases(cx, &mut out);
    }
    if let Some(name) = &op.body {
        let s = json!({ "$ref": format!("#/components/schemas/{name}") });
        let mut fs = Vec::new();
        schema::fields(cx.doc, &s, &cx.base, &[], &mut fs);
        for f in fs {
            field_cases(cx, &f, &mut out);
        }
    }
    out
}

/// The `{id}` or `{slug}` as NUL, junk, SQL, an id of the wrong kind or another merchant's.
fn path_cases(op: &Op, cx: &Ctx, out: &mut Vec<Case>) {
    let Some(real) = &cx.path_value else { return };
    let mut bad = vec![format!("{}%00", encode(real)), encode(&long_in_uri())];
    bad.extend(SQL.iter().map(|s| encode(s)));
    if let Some(prefix) = &op.id_prefix {
        let wrong = if prefix == "prod_" { "plink_" } else { "prod_" };
        bad.push(format!("{wrong}{}", "0".repeat(22)));
        bad.extend((cx.other)(prefix));
    }
    for b in bad {
        out.push(Case::new(
            cx.target.replacen(&encode(real), &b, 1),
            format!("path value {}", shorten(&b)),
            cx.valid_body(op),
            Expect::Refused,
        ));
    }
}

/// Each documented query parameter with NUL, SQL, a long value, extreme numbers, twice.
fn query_cases(op: &Op, cx: &Ctx, out: &mut Vec<Case>) {
    for (name, s) in &op.query {
        let integer = schema::types(cx.doc, s).contains("integer");
        let at = |value: &str| format!("{}?{}={value}", cx.target, encode(name));
        let mut push = |what: String, target: String, expect: Expect| {
            out.push(Case::new(target, what, None, expect));
        };
        push(
            format!("query {name} with NUL"),
            at("a%00b"),
            Expect::Refused,
        );
        for s in SQL.into_iter().map(str::to_owned).chain([long_in_uri()]) {
            push(
                format!("query {name}={}", shorten(&s)),
                at(&encode(&s)),
                Expect::RefusedOrNothingFound,
            );
        }
        // In a query every value is text: `"100"` is no case there.
        for (label, v, n) in extremes().into_iter().filter(|(_, v, _)| !v.is_string()) {
            let expect = match (integer, n) {
                (true, Some(n)) if schema::in_range(cx.doc, s, n) => Expect::NoServerError,
                (true, _) => Expect::Refused,
                (false, _) => Expect::NoServerError,
            };
            push(
                format!("query {name}={label}"),
                at(&encode(&v.to_string())),
                expect,
            );
        }
        push(
            format!("query {name} twice"),
            format!("{}&{}=2", at("1"), encode(name)),
            Expect::NoServerError,
        );
    }
}

/// Bodies that are not what any route takes: too large, too deep, not UTF-8, NUL, not
/// JSON, not an object, an unknown or repeated field; and an `Idempotency-Key` too long.
fn raw_body_cases(cx: &Ctx, out: &mut Vec<Case>) {
    let base = serde_json::to_string(&cx.base).unwrap();
    // A string of the valid body to break, if it has one at the top.
    let text = cx
        .base
        .as_object()
        .and_then(|o| o.iter().find(|(_, v)| v.is_string()))
        .map_or("corpus".to_owned(), |(k, _)| k.clone());
    let in_text = |raw: &[u8]| splice(&cx.base, &[Seg::Key(text.clone())], raw);
    let mut unknown = cx.base.clone();
    unknown["corpus_unknown_field"] = json!(1);
    let raw: Vec<(&str, Vec<u8>)> = vec![
        (
            "oversized body",
            format!("{{\"corpus\":\"{}\"}}", long()).into_bytes(),
        ),
        (
            "10,000 nested arrays",
            [&b"["[..], b"]"].map(|b| b.repeat(10_000)).concat(),
        ),
        (
            "10,000 nested objects",
            format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes(),
        ),
        ("open array never closed", b"[".repeat(10_000)),
        ("invalid UTF-8 in a string", in_text(b"\"\xff\xfe\xc3\"")),
        ("NUL escape in a string", in_text(b"\"a\\u0000b\"")),
        ("NUL byte in a string", in_text(b"\"a\0b\"")),
        ("trailing garbage", format!("{base} trailing").into_bytes()),
        ("not JSON", b"{not json".to_vec()),
        ("a JSON array", b"[]".to_vec()),
        ("unknown field", serde_json::to_vec(&unknown).unwrap()),
    ];
    for (what, body) in raw {
        out.push(cx.case(what.to_owned(), body, Expect::Refused));
    }
    if let Some((k, v)) = cx.base.as_object().and_then(|o| o.iter().next()) {
        let dup = format!("{{{}:{v},{}", json!(k), &base[1..]);
        out.push(cx.case("duplicate field".into(), dup.into_bytes(), Expect::Refused));
    }
    let mut c = cx.case(
        "Idempotency-Key of 256 characters".into(),
        base.into_bytes(),
        Expect::Refused,
    );
    c.idempotency_key = Some("k".repeat(256));
    out.push(c);
}

/// One field broken in the valid body, by what its schema says it takes.
fn field_cases(cx: &Ctx, f: &Field, out: &mut Vec<Case>) {
    let (doc, at, s) = (cx.doc, f.at.as_slice(), f.schema);
    let ts = schema::types(doc, s);
    let name = schema::param(at);
    let named = |mut c: Case| {
        c.field = Some(name.clone());
        c
    };
    let set = |value: Value| {
        let mut body = cx.base.clone();
        *schema::at_mut(&mut body, at) = value;
        serde_json::to_vec(&body).unwrap()
    };
    let kept = |sent: &Value| Expect::RefusedOrKept {
        at: at.to_vec(),
        sent: sent.clone(),
    };
    let mut push = |what: String, body: Vec<u8>, expect: Expect| {
        out.push(named(cx.case(format!("{name}: {what}"), body, expect)));
    };
    if !ts.contains("any") {
        for wrong in [
            json!("corpus"),
            json!(12345),
            json!(1.5),
            json!(true),
            json!({"corpus": 1}),
            json!([1]),
        ] {
            let ty = schema::json_type(&wrong);
            if !(ts.contains(ty) || (ty == "integer" && ts.contains("number"))) {
                push(format!("wrong type {ty}"), set(wrong), Expect::Refused);
            }
        }
    }
    if ["object", "array", "any"].iter().any(|t| ts.contains(*t)) {
        let deep = [&b"["[..], b"]"].map(|b| b.repeat(10_000)).concat();
        push(
            "10,000 nested arrays".into(),
            splice(&cx.base, at, &deep),
            Expect::Refused,
        );
    }
    if ts.contains("integer") {
        for (label, v, n) in extremes() {
            let expect = match n {
                Some(n) if schema::in_range(doc, s, n) => kept(&v),
                _ if v.is_string() && ts.contains("string") => continue,
                _ => Expect::Refused,
            };
            push(label.to_owned(), set(v), expect);
        }
    }
    if let Some(entry) = schema::currency_map_value(doc, s) {
        for c in ["xxx", "USDD", ""] {
            push(
                format!("currency key {c:?}"),
                set(json!({ c: entry })),
                Expect::Refused,
            );
        }
    }
    let Some(text) = schema::variant(doc, s, "string") else {
        return;
    };
    let currency = schema::names(doc, s, "Currency");
    let prefix = schema::id_prefix(doc, s);
    // A string the document constrains (a format, enum, currency or id, or a pattern or
    // length it does not meet) takes none of these; one it allows may keep them, as sent.
    let constrained =
        currency || prefix.is_some() || ["format", "enum"].iter().any(|k| text.get(*k).is_some());
    let allowed = |v: &str| {
        let n = v.chars().count() as u64;
        let pattern = text.get("pattern").and_then(Value::as_str);
        !constrained
            && pattern.is_none_or(|p| regex::Regex::new(p).is_ok_and(|r| r.is_match(v)))
            && text["maxLength"].as_u64().is_none_or(|m| n <= m)
            && text["minLength"].as_u64().is_none_or(|m| n >= m)
    };
    let just_under = "x".repeat(60 * 1024);
    for v in SQL.map(str::to_owned).into_iter().chain([just_under]) {
        let expect = if allowed(&v) {
            kept(&json!(v))
        } else {
            Expect::Refused
        };
        let v = json!(v);
        push(shorten(&v.to_string()), set(v), expect);
    }
    push("100 KB string".into(), set(json!(long())), Expect::Refused);
    if currency {
        for c in ["xxx", "USDD", ""] {
            push(format!("currency {c:?}"), set(json!(c)), Expect::Refused);
        }
    }
    let Some(prefix) = prefix else { return };
    let wrong = if prefix == "prod_" { "plink_" } else { "prod_" };
    let wrong = json!(format!("{wrong}{}", "0".repeat(22)));
    push("id of the wrong prefix".into(), set(wrong), Expect::Refused);
    // A reference alone in its object (with what that requires), so that nothing else
    // there is refused first; another merchant's id is answered as one that names nothing.
    let unknown = format!("{prefix}{}", "0".repeat(22));
    for (what, id) in [
        ("unknown id", Some(unknown)),
        ("another merchant's id", (cx.other)(&prefix)),
    ] {
        let Some(id) = id else { continue };
        let (Seg::Key(key), parent) = at.split_last().map(|(l, p)| (l.clone(), p)).unwrap() else {
            continue;
        };
        let mut body = cx.base.clone();
        let object = schema::at_mut(&mut body, parent).as_object_mut().unwrap();
        object.retain(|k, _| f.required.contains(k));
        object.insert(key, json!(id));
        let mut c = named(cx.case(
            format!("{name}: {what}"),
            serde_json::to_vec(&body).unwrap(),
            Expect::Refused,
        ));
        c.twin = Some(name.clone());
        out.push(c);
    }
}
