//! For developers: the mode's API keys (created with their scopes and shown once, revoked)
//! and webhook endpoints. Keys are the API's: a person never mints one stronger than their
//! role, and only owners make live ones.

use askama::Template;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::{json, Value};

use paylink_domain::access::KEY_SCOPES;
use paylink_domain::time::Timestamp;
use paylink_domain::webhook::WebhookEndpoint;

use super::client::{Api, Page};
use super::view::{clean, when};
use super::{page, see_other, Shell, Visit};

#[derive(Deserialize)]
struct KeyIn {
    id: String,
    name: String,
    kind: String,
    scopes: Vec<String>,
    masked: String,
    created_at: Timestamp,
    revoked_at: Option<Timestamp>,
}

pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub scopes: String,
    pub masked: String,
    pub created: String,
    pub revoked: bool,
}

pub struct HookRow {
    pub url: String,
    pub events: String,
    pub status: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard/developers.html")]
struct DevelopersPage {
    shell: Shell,
    keys: Vec<KeyRow>,
    hooks: Vec<HookRow>,
    scopes: Vec<&'static str>,
    may_keys: bool,
    /// A key just made: shown on this answer only, never kept.
    new_key: Option<String>,
    error: Option<String>,
}

async fn developers_page(
    v: &Visit,
    api: &Api,
    new_key: Option<String>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let who = v.caller();
    let (keys, hooks) = tokio::join!(
        api.get::<Page<KeyIn>>(&who, "/v1/api_keys?limit=100"),
        api.get::<Page<WebhookEndpoint>>(&who, "/v1/webhook_endpoints?limit=100"),
    );
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    page(
        status,
        &DevelopersPage {
            shell: v.shell("Developers", "developers"),
            keys: keys
                .map(|p| p.data)
                .unwrap_or_default()
                .into_iter()
                .map(|k| KeyRow {
                    scopes: if k.scopes.is_empty() {
                        "all".into()
                    } else {
                        k.scopes.join(", ")
                    },
                    created: when(k.created_at),
                    revoked: k.revoked_at.is_some(),
                    id: k.id,
                    name: k.name,
                    kind: k.kind,
                    masked: k.masked,
                })
                .collect(),
            hooks: hooks
                .map(|p| p.data)
                .unwrap_or_default()
                .into_iter()
                .map(|h| HookRow {
                    events: h.enabled_events.join(", "),
                    status: h.status.as_str(),
                    url: h.url,
                })
                .collect(),
            scopes: KEY_SCOPES.to_vec(),
            may_keys: v.may("api_keys:write"),
            new_key,
            error,
        },
    )
}

pub async fn show(v: Visit, Extension(api): Extension<Api>) -> Response {
    developers_page(&v, &api, None, None).await
}

pub struct KeyForm {
    csrf: String,
    name: String,
    kind: String,
    /// The scopes ticked.
    scope: Vec<String>,
}

/// Creates a key through the API and shows it on this answer only.
pub async fn create_key(
    v: Visit,
    Extension(api): Extension<Api>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Response {
    let f = key_form(&body);
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let name = clean(Some(&f.name), 100);
    let body = if f.kind == "restricted" {
        json!({"name": name, "kind": "restricted", "scopes": f.scope})
    } else {
        json!({"name": name, "kind": "secret"})
    };
    match api
        .call(&v.caller(), Method::POST, "/v1/api_keys", Some(&body), None)
        .await
    {
        Ok(k) => {
            let key = k.get("key").and_then(Value::as_str).map(str::to_owned);
            developers_page(&v, &api, key, None).await
        }
        Err(r) => developers_page(&v, &api, None, Some((r.status, r.message))).await,
    }
}

/// The key form, whose ticked scopes come as repeated fields (`scope=a&scope=b`).
fn key_form(body: &[u8]) -> KeyForm {
    let mut f = KeyForm {
        csrf: String::new(),
        name: String::new(),
        kind: String::new(),
        scope: Vec::new(),
    };
    for (k, val) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "csrf" => f.csrf = val.into_owned(),
            "name" => f.name = val.into_owned(),
            "kind" => f.kind = val.into_owned(),
            "scope" if f.scope.len() < 64 => f.scope.push(val.into_owned()),
            _ => {}
        }
    }
    f
}

pub async fn revoke_key(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    match api
        .call(
            &v.caller(),
            Method::DELETE,
            &format!("/v1/api_keys/{id}"),
            None,
            None,
        )
        .await
    {
        Ok(_) => see_other("/dashboard/developers"),
        Err(r) => developers_page(&v, &api, None, Some((r.status, r.message))).await,
    }
}
