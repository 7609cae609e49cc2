//! For developers: the mode's API keys (created with their scopes and shown once, revoked)
//! and webhook endpoints (created with their signing secret shown once, deleted, and each
//! with a page of its recent deliveries and a button to redeliver an event). Keys are the
//! API's: a person never mints one stronger than their role, and only owners make live ones.

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

use paylink_domain::event::EventType;

use super::client::{Api, Page, Refusal};
use super::view::{clean, when};
use super::{page, refused, see_other, Shell, Visit};

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
    pub id: String,
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
    may_hooks: bool,
    /// A key just made: shown on this answer only, never kept.
    new_key: Option<String>,
    /// An endpoint's signing secret just made: shown on this answer only.
    new_secret: Option<String>,
    /// The key form's idempotency key.
    key_nonce: String,
    error: Option<String>,
    error_param: String,
    event_types: Vec<&'static str>,
    hook: HookFields,
}

/// The endpoint form as typed (kept when the API refuses it), with its idempotency key.
pub struct HookFields {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub nonce: String,
}

impl Default for HookFields {
    fn default() -> Self {
        Self {
            url: String::new(),
            description: String::new(),
            events: Vec::new(),
            nonce: paylink_domain::id::random_base62(),
        }
    }
}

/// What an answer adds to the page.
#[derive(Default)]
struct Extra {
    new_key: Option<String>,
    new_secret: Option<String>,
    refusal: Option<Refusal>,
    hook: HookFields,
}

async fn developers_page(
    v: &Visit,
    api: &Api,
    new_key: Option<String>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let extra = Extra {
        new_key,
        refusal: error.map(|(status, message)| Refusal {
            status,
            code: String::new(),
            message,
            param: None,
        }),
        ..Extra::default()
    };
    developers_page_with(v, api, extra).await
}

async fn developers_page_with(v: &Visit, api: &Api, extra: Extra) -> Response {
    let who = v.caller();
    let (keys, hooks) = tokio::join!(
        api.get::<Page<KeyIn>>(&who, "/v1/api_keys?limit=100"),
        api.get::<Page<WebhookEndpoint>>(&who, "/v1/webhook_endpoints?limit=100"),
    );
    let (status, error, error_param) = match extra.refusal {
        Some(r) => (r.status, Some(r.message), r.param.unwrap_or_default()),
        None => (StatusCode::OK, None, String::new()),
    };
    page(
        status,
        &DevelopersPage {
            shell: v.shell("Developers", "developers"),
            key_nonce: super::forms::fresh(),
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
                    id: h.id.to_string(),
                    events: h.enabled_events.join(", "),
                    status: h.status.as_str(),
                    url: h.url,
                })
                .collect(),
            scopes: KEY_SCOPES.to_vec(),
            may_keys: v.may("api_keys:write"),
            may_hooks: v.may("webhooks:write"),
            new_key: extra.new_key,
            new_secret: extra.new_secret,
            error,
            error_param,
            event_types: EventType::ALL.iter().map(|t| t.as_str()).collect(),
            hook: extra.hook,
        },
    )
}

pub async fn show(v: Visit, Extension(api): Extension<Api>) -> Response {
    developers_page(&v, &api, None, None).await
}

pub struct KeyForm {
    csrf: String,
    /// The form's idempotency key: sent twice, one key is made (and shown once).
    nonce: String,
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
    let nonce = super::forms::nonce(&f.nonce);
    match api
        .call(
            &v.caller(),
            Method::POST,
            "/v1/api_keys",
            Some(&body),
            Some(&nonce),
        )
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
        nonce: String::new(),
        name: String::new(),
        kind: String::new(),
        scope: Vec::new(),
    };
    for (k, val) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "csrf" => f.csrf = val.into_owned(),
            "nonce" => f.nonce = val.into_owned(),
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

/// The endpoint form, whose ticked event types come as repeated fields (`event=a&event=b`).
fn hook_form(body: &[u8]) -> (String, HookFields) {
    let mut csrf = String::new();
    let mut f = HookFields::default();
    let mut nonce = String::new();
    for (k, val) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "csrf" => csrf = val.into_owned(),
            "url" => f.url = val.into_owned(),
            "description" => f.description = val.into_owned(),
            "nonce" => nonce = super::forms::nonce(&val),
            "event" if f.events.len() < 64 => f.events.push(val.into_owned()),
            _ => {}
        }
    }
    if !nonce.is_empty() {
        f.nonce = nonce;
    }
    (csrf, f)
}

/// Creates an endpoint through the API and shows its signing secret on this answer only.
/// The form's nonce is the idempotency key: sent twice, it makes one endpoint.
pub async fn create_hook(
    v: Visit,
    Extension(api): Extension<Api>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Response {
    let (csrf, mut f) = hook_form(&body);
    if let Some(r) = v.forged(&csrf) {
        return r;
    }
    let description = Some(f.description.trim()).filter(|d| !d.is_empty());
    let body = json!({
        "url": f.url.trim(),
        "enabled_events": f.events,
        "description": description,
    });
    match api
        .call(
            &v.caller(),
            Method::POST,
            "/v1/webhook_endpoints",
            Some(&body),
            Some(&f.nonce),
        )
        .await
    {
        Ok(e) => {
            let extra = Extra {
                new_secret: e.get("secret").and_then(Value::as_str).map(str::to_owned),
                ..Extra::default()
            };
            developers_page_with(&v, &api, extra).await
        }
        Err(r) => {
            // A refusal is kept under the key: the corrected form is a new request.
            if r.status.is_client_error() && r.code != "idempotency_key_in_use" {
                f.nonce = paylink_domain::id::random_base62();
            }
            let r = Refusal {
                param: r.param.as_deref().map(|p| {
                    let head = p.split('[').next().unwrap_or("");
                    format!("hook_{head}")
                }),
                ..r
            };
            let extra = Extra {
                refusal: Some(r),
                hook: f,
                ..Extra::default()
            };
            developers_page_with(&v, &api, extra).await
        }
    }
}

/// Turns an endpoint off or on again (one turned off after failing too long is turned on
/// here before its events are redelivered), or deletes it.
pub async fn hook_act(
    v: Visit,
    Extension(api): Extension<Api>,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let path = format!("/v1/webhook_endpoints/{id}");
    let (method, body) = match action.as_str() {
        "enable" => (Method::PATCH, Some(json!({"status": "enabled"}))),
        "disable" => (Method::PATCH, Some(json!({"status": "disabled"}))),
        "delete" => (Method::DELETE, None),
        "rotate" => {
            // A new signing secret, shown on this answer only; the old one keeps signing
            // beside it for a day, so receivers can switch without losing events.
            // The page's nonce keys it: a double click or a reload rotates once (a second
            // rotation would drop the secret the receiver still uses).
            let rotate = format!("{path}/rotate_secret");
            let key = format!("dashboard-rotate-{id}-{}", super::forms::nonce(&f.nonce));
            return match api
                .call(&v.caller(), Method::POST, &rotate, Some(&json!({})), Some(&key))
                .await
            {
                Ok(e) => {
                    let secret = e.get("secret").and_then(Value::as_str).map(str::to_owned);
                    hook_page(&v, &api, &id, HookQuery::default(), secret).await
                }
                Err(r) if r.code == "idempotency_secret_not_replayable" => super::problem(
                    &v,
                    StatusCode::CONFLICT,
                    "This form already rotated the secret; the new one was shown on that answer only. Reload the endpoint's page and rotate again if you did not copy it.",
                ),
                Err(r) => refused(&v, &r),
            };
        }
        _ => return super::no_such(&v),
    };
    match api
        .call(&v.caller(), method, &path, body.as_ref(), None)
        .await
    {
        Ok(_) if action == "delete" => see_other("/dashboard/developers"),
        Ok(_) => see_other(&format!("/dashboard/developers/webhooks/{id}")),
        Err(r) => refused(&v, &r),
    }
}

#[derive(Deserialize)]
struct AttemptIn {
    event_id: String,
    attempted_at: Timestamp,
    status_code: Option<u16>,
    latency_ms: i64,
    error: Option<String>,
}

/// One delivery attempt as a row of the endpoint's page.
pub struct DeliveryRow {
    pub event_id: String,
    pub event_type: String,
    pub delivered: bool,
    pub response: String,
    /// Which attempt of this event's (`2 of 3`), among those listed.
    pub attempt: String,
    pub latency: String,
    pub time: String,
    /// The newest attempt of its event: where its redeliver button goes.
    pub newest: bool,
}

#[derive(Template)]
#[template(path = "dashboard/developers_webhook.html")]
struct HookPage {
    shell: Shell,
    hook: WebhookEndpoint,
    events: String,
    created: String,
    deliveries: Vec<DeliveryRow>,
    may_hooks: bool,
    notice: Option<String>,
    /// The event just queued again (its row is marked).
    queued_event: String,
    /// The redeliver buttons' nonce ([`super::events::redeliver`]).
    nonce: String,
    /// A signing secret just made by a rotation: shown on this answer only.
    new_secret: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct HookQuery {
    /// How many deliveries a redelivery queued (anything else is ignored, not refused).
    queued: Option<String>,
    event: Option<String>,
}

/// How many attempts the endpoint's page lists (the API's most).
const DELIVERIES: usize = 50;

/// An endpoint's page: what it takes, and its recent delivery attempts, newest first, each
/// with its event's type (read from the event log) and whether it was answered with 2xx.
pub async fn hook(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HookQuery>,
) -> Response {
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    hook_page(&v, &api, &id, q, None).await
}

/// The endpoint's page; `new_secret` is a signing secret just made (shown this once).
async fn hook_page(
    v: &Visit,
    api: &Api,
    id: &str,
    q: HookQuery,
    new_secret: Option<String>,
) -> Response {
    let who = v.caller();
    let hook = match api
        .get::<WebhookEndpoint>(&who, &format!("/v1/webhook_endpoints/{id}"))
        .await
    {
        Ok(h) => h,
        Err(r) => return refused(v, &r),
    };
    let attempts = match api
        .get::<Page<AttemptIn>>(
            &who,
            &format!("/v1/webhook_endpoints/{id}/deliveries?limit={DELIVERIES}"),
        )
        .await
    {
        Ok(p) => p.data,
        Err(r) => return refused(v, &r),
    };
    // Each event's type, once per event.
    let mut types: std::collections::HashMap<String, String> = Default::default();
    for a in &attempts {
        if types.contains_key(&a.event_id) {
            continue;
        }
        let kind = match super::id(&a.event_id) {
            Some(e) => api
                .get::<Value>(&who, &format!("/v1/events/{e}"))
                .await
                .ok()
                .and_then(|e| e.get("type").and_then(Value::as_str).map(str::to_owned)),
            None => None,
        };
        types.insert(a.event_id.clone(), kind.unwrap_or_else(|| "unknown".into()));
    }
    let mut of_event: std::collections::HashMap<&str, usize> = Default::default();
    for a in &attempts {
        *of_event.entry(a.event_id.as_str()).or_default() += 1;
    }
    let mut seen: std::collections::HashMap<&str, usize> = Default::default();
    let deliveries = attempts
        .iter()
        .map(|a| {
            let total = of_event.get(a.event_id.as_str()).copied().unwrap_or(1);
            let later = seen.entry(a.event_id.as_str()).or_default();
            let newest = *later == 0;
            // Newest first: the first listed is the last attempt.
            let nth = total.saturating_sub(*later);
            *later += 1;
            DeliveryRow {
                event_id: a.event_id.clone(),
                event_type: types.get(&a.event_id).cloned().unwrap_or_default(),
                delivered: a.status_code.is_some_and(|c| (200..300).contains(&c)),
                response: match (a.status_code, &a.error) {
                    (Some(c), _) => c.to_string(),
                    (None, Some(e)) => e.chars().take(200).collect(),
                    (None, None) => "no answer".into(),
                },
                attempt: format!("{nth} of {total}"),
                latency: format!("{} ms", a.latency_ms),
                time: when(a.attempted_at),
                newest,
            }
        })
        .collect();
    page(
        StatusCode::OK,
        &HookPage {
            shell: v.shell("Webhook endpoint", "developers"),
            events: hook.enabled_events.join(", "),
            created: when(hook.created_at),
            hook,
            deliveries,
            may_hooks: v.may("webhooks:write"),
            notice: super::events::queued_notice(q.queued.and_then(|n| n.parse().ok())),
            new_secret,
            queued_event: q
                .event
                .as_deref()
                .and_then(super::id)
                .unwrap_or("")
                .to_owned(),
            nonce: paylink_domain::id::random_base62(),
        },
    )
}
