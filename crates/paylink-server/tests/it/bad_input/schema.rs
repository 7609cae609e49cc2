//! Reading the served OpenAPI document's schemas: what a field admits, where each field of
//! a body is, and how to reach into a body to break one.

use std::collections::BTreeSet;

use serde_json::Value;

/// A step into a JSON body.
#[derive(Clone, Debug)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A field of a body: where it is, its schema, and the fields its object requires.
pub struct Field<'a> {
    pub at: Vec<Seg>,
    pub schema: &'a Value,
    pub required: Vec<String>,
}

fn deref<'a>(doc: &'a Value, mut s: &'a Value) -> &'a Value {
    while let Some(r) = s.get("$ref").and_then(Value::as_str) {
        s = &doc["components"]["schemas"][r.rsplit('/').next().unwrap()];
    }
    s
}

/// The schema, or each of its `oneOf`/`anyOf` variants, dereferenced.
fn variants<'a>(doc: &'a Value, s: &'a Value) -> Vec<&'a Value> {
    let s = deref(doc, s);
    match s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Value::as_array)
    {
        Some(vs) => vs.iter().flat_map(|v| variants(doc, v)).collect(),
        None => vec![s],
    }
}

/// Whether the schema is, or may be, the named component.
pub fn names(doc: &Value, s: &Value, name: &str) -> bool {
    let target = format!("#/components/schemas/{name}");
    if s.get("$ref").and_then(Value::as_str) == Some(&target) {
        return true;
    }
    let d = deref(doc, s);
    d.get("oneOf")
        .or_else(|| d.get("anyOf"))
        .and_then(Value::as_array)
        .is_some_and(|vs| vs.iter().any(|v| names(doc, v, name)))
        || (!std::ptr::eq(s, d) && names(doc, d, name))
}

/// The JSON types a schema admits (`any` when it says none).
pub fn types(doc: &Value, s: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for v in variants(doc, s) {
        match v.get("type") {
            Some(Value::String(t)) => {
                out.insert(t.clone());
            }
            Some(Value::Array(ts)) => {
                out.extend(ts.iter().filter_map(|t| t.as_str().map(Into::into)));
            }
            _ if v.get("properties").is_some() || v.get("additionalProperties").is_some() => {
                out.insert("object".into());
            }
            _ => {
                out.insert("any".into());
            }
        }
    }
    out
}

pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::Null => "null",
    }
}

/// The variant of the given type.
pub fn variant<'a>(doc: &'a Value, s: &'a Value, ty: &str) -> Option<&'a Value> {
    variants(doc, s).into_iter().find(|v| match v.get("type") {
        Some(Value::String(t)) => t == ty,
        Some(Value::Array(ts)) => ts.iter().any(|t| t == ty),
        _ => false,
    })
}

fn required(object: &Value) -> Vec<String> {
    object["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|k| k.as_str().map(Into::into))
                .collect()
        })
        .unwrap_or_default()
}

/// Every field of a body: each property of each object schema, descending where the valid
/// body has a value (arrays through their first item).
pub fn fields<'a>(
    doc: &'a Value,
    s: &'a Value,
    base: &Value,
    at: &[Seg],
    out: &mut Vec<Field<'a>>,
) {
    let Some(object) = variants(doc, s)
        .into_iter()
        .find(|v| v.get("properties").is_some_and(Value::is_object))
    else {
        return;
    };
    let required = required(object);
    for (k, ps) in object["properties"].as_object().unwrap() {
        let mut p = at.to_vec();
        p.push(Seg::Key(k.clone()));
        out.push(Field {
            at: p.clone(),
            schema: ps,
            required: required.clone(),
        });
        if let Some(child) = base.get(k) {
            descend(doc, ps, child, &p, out);
        }
    }
}

fn descend<'a>(doc: &'a Value, s: &'a Value, v: &Value, at: &[Seg], out: &mut Vec<Field<'a>>) {
    match v {
        Value::Object(_) => fields(doc, s, v, at, out),
        Value::Array(items) => {
            let item = variants(doc, s).into_iter().find_map(|v| v.get("items"));
            if let (Some(first), Some(item)) = (items.first(), item) {
                let mut p = at.to_vec();
                p.push(Seg::Index(0));
                out.push(Field {
                    at: p.clone(),
                    schema: item,
                    required: Vec::new(),
                });
                descend(doc, item, first, &p, out);
            }
        }
        _ => {}
    }
}

/// The field's path as the API's `param` spells it (`line_items[0].unit_amount`).
pub fn param(at: &[Seg]) -> String {
    let mut s = String::new();
    for seg in at {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => s.push_str(&format!(".{k}")),
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The value at `at`, made (as `null`) if absent.
pub fn at_mut<'a>(v: &'a mut Value, at: &[Seg]) -> &'a mut Value {
    at.iter().fold(v, |cur, seg| match seg {
        Seg::Key(k) => &mut cur[k.as_str()],
        Seg::Index(i) => &mut cur[*i],
    })
}

pub fn get<'a>(v: &'a Value, at: &[Seg]) -> Option<&'a Value> {
    at.iter().try_fold(v, |cur, seg| match seg {
        Seg::Key(k) => cur.get(k),
        Seg::Index(i) => cur.get(i),
    })
}

/// An id of the `^prefix[0-9A-Za-z]{N}$` kind: its prefix.
pub fn id_prefix(doc: &Value, s: &Value) -> Option<String> {
    let pattern = variant(doc, s, "string")?.get("pattern")?.as_str()?;
    let (prefix, _) = pattern.strip_prefix('^')?.split_once("[0-9A-Za-z]")?;
    prefix.ends_with('_').then(|| prefix.to_owned())
}

/// A map of amounts is keyed by currency (`currency_options`, `amount_bounds`): a valid
/// value of it, each required amount 100.
pub fn currency_map_value(doc: &Value, s: &Value) -> Option<Value> {
    let value = variants(doc, s)
        .into_iter()
        .find_map(|v| v.get("additionalProperties").filter(|a| a.is_object()))?;
    let value = deref(doc, value);
    let props = value.get("properties")?.as_object()?;
    props.values().any(|p| names(doc, p, "Amount")).then(|| {
        required(value)
            .into_iter()
            .map(|k| (k, Value::from(100)))
            .collect()
    })
}

/// Whether the integer schema admits `n` (its `minimum`, `maximum` and `format`).
pub fn in_range(doc: &Value, s: &Value, n: i128) -> bool {
    let Some(v) = variant(doc, s, "integer") else {
        return true;
    };
    let int32 = v.get("format").and_then(Value::as_str) == Some("int32");
    let (lo, hi) = if int32 {
        (i32::MIN.into(), i32::MAX.into())
    } else {
        (i64::MIN.into(), i64::MAX.into())
    };
    let min = v
        .get("minimum")
        .and_then(Value::as_f64)
        .map_or(lo, |m| (m as i128).max(lo));
    let max = v
        .get("maximum")
        .and_then(Value::as_f64)
        .map_or(hi, |m| (m as i128).min(hi));
    (min..=max).contains(&n)
}
