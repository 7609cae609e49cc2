//! What the dashboard's forms share: the nonce that makes a form sent twice change once,
//! the create call that keeps or renews it, a refusal of the form's own, and the rule that
//! an edit sends only what the person changed.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value};

use super::client::{Api, Refusal};
use super::Visit;

/// A form's nonce as sent (letters, digits, `-` and `_`, at most 64), or a new one: what is
/// sent as the `Idempotency-Key`, so nothing else may reach the header.
pub fn nonce(sent: &str) -> String {
    let n: String = sent
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    if n.is_empty() {
        fresh()
    } else {
        n
    }
}

/// A new random nonce, for a form drawn anew.
pub fn fresh() -> String {
    paylink_domain::id::random_base62()
}

/// The form's own refusal (before the API is asked): `422`, naming the field.
pub fn invalid(message: impl Into<String>, param: &str) -> Refusal {
    Refusal {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "parameter_invalid".into(),
        message: message.into(),
        param: Some(param.into()),
    }
}

/// `POST path` with `body` under the form's `nonce`: the made object, or the API's refusal.
/// A refusal is kept under its key, so after one the form is drawn with a new nonce (the
/// corrected form is a new request); a request still in flight keeps its nonce.
pub async fn create(
    v: &Visit,
    api: &Api,
    path: &str,
    body: &Value,
    nonce: &mut String,
) -> Result<Value, Refusal> {
    let made = api
        .call(&v.caller(), Method::POST, path, Some(body), Some(nonce))
        .await;
    if let Err(r) = &made {
        if r.status.is_client_error() && r.code != "idempotency_key_in_use" {
            *nonce = fresh();
        }
    }
    made
}

/// The `id` of what the API made (for the `303` to its page).
pub fn id_of(made: &Value) -> &str {
    made.get("id").and_then(Value::as_str).unwrap_or_default()
}

/// What an edit form showed, field by field, carried in one hidden field (`shown`, JSON):
/// an edit sends only the fields whose typed text differs from it, so what someone else
/// changed meanwhile in a field this person left alone stays changed. A form without it
/// (a script's) sends every field.
#[derive(Default)]
pub struct Shown(Option<BTreeMap<String, String>>);

impl Shown {
    /// The hidden field's value for a form showing `fields`.
    pub fn encode(fields: &[(&str, &str)]) -> String {
        let m: BTreeMap<&str, &str> = fields.iter().copied().collect();
        serde_json::to_string(&m).unwrap_or_default()
    }

    pub fn parse(sent: &str) -> Self {
        Self(serde_json::from_str(sent).ok())
    }

    /// What the form showed in `field` (none from a form without [`Shown`]).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .as_ref()
            .and_then(|m| m.get(field))
            .map(String::as_str)
    }

    /// Whether the person changed `field` (typed `typed`). Line ends are compared as one
    /// (a browser sends a text area's as `\r\n` whatever it was shown with).
    pub fn changed(&self, field: &str, typed: &str) -> bool {
        self.0
            .as_ref()
            .and_then(|m| m.get(field))
            .is_none_or(|shown| lines(shown).trim() != lines(typed).trim())
    }

    /// The body of the fields changed: each `(field, typed, value)`.
    pub fn body(&self, fields: Vec<(&str, &str, Value)>) -> Map<String, Value> {
        fields
            .into_iter()
            .filter(|(k, typed, _)| self.changed(k, typed))
            .map(|(k, _, v)| (k.to_owned(), v))
            .collect()
    }
}

/// Text with its line ends as `\n` (a browser sends a text area's as `\r\n`).
pub fn lines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// A text field's value, line ends as `\n`: `null` when emptied.
pub fn text_or_null(s: &str) -> Value {
    let s = lines(s);
    let s = s.trim();
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}
