//! A merchant's Stripe keys: set per mode, answered masked, sealed at rest.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use paylink_domain::access::{Grant, Role};
use paylink_domain::time::Timestamp;
use paylink_store::{ProcessorCredentials, Tenant};

use super::routes::{reg, route, Route};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{ok, Json};
use crate::state::AppState;
use crate::stripe::{self, STRIPE};

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Account";
    vec![
        route(
            Method::GET,
            "/v1/processors/stripe",
            tag,
            "Retrieve the Stripe keys of this mode (masked)",
            Scope("settings:read"),
            200,
            reg::<StripeCredentialsOut>,
            get_stripe,
        )
        .errors(404, &["resource_missing"]),
        route(
            Method::PUT,
            "/v1/processors/stripe",
            tag,
            "Set the Stripe keys of a mode (live keys: an owner, or a live secret key)",
            Scope("settings:write"),
            200,
            reg::<StripeCredentialsOut>,
            put_stripe,
        )
        .errors(400, &["parameter_invalid"])
        .errors(422, &["parameters_inconsistent"])
        .body(reg::<StripeCredentialsIn>),
    ]
}

#[derive(Clone, Copy, Deserialize, Serialize, utoipa::ToSchema, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Test,
    Live,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StripeCredentialsIn {
    /// The mode these keys serve; it must be the caller's own mode.
    pub mode: Mode,
    /// `sk_test_…` / `sk_live_…` (or a restricted `rk_…` key) of `mode`. Never answered
    /// again.
    #[schema(pattern = r"^[sr]k_(test|live)_[A-Za-z0-9_]{8,250}$")]
    pub secret_key: String,
    /// `pk_test_…` / `pk_live_…` of `mode`, for Stripe.js on the hosted pages.
    #[schema(pattern = r"^pk_(test|live)_[A-Za-z0-9_]{8,250}$")]
    pub publishable_key: String,
    /// `whsec_…`: the signing secret of the webhook endpoint registered at Stripe.
    #[schema(pattern = r"^whsec_[A-Za-z0-9_]{8,250}$")]
    pub webhook_secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StripeCredentialsOut {
    #[schema(value_type = String, example = "processor_credentials")]
    pub object: &'static str,
    #[schema(value_type = String, example = "stripe")]
    pub processor: &'static str,
    pub mode: Mode,
    pub publishable_key: String,
    /// Masked, e.g. `sk_test_…4242`.
    pub secret_key: String,
    /// Masked, e.g. `whsec_…abcd`.
    pub webhook_secret: String,
    /// The URL to register at Stripe (Developers → Webhooks) for this merchant.
    pub webhook_url: String,
    pub updated_at: Timestamp,
}

fn out(state: &AppState, t: &Tenant, c: ProcessorCredentials) -> StripeCredentialsOut {
    StripeCredentialsOut {
        object: "processor_credentials",
        processor: STRIPE,
        mode: if t.livemode() { Mode::Live } else { Mode::Test },
        publishable_key: c.publishable_key,
        secret_key: c.masked_secret_key,
        webhook_secret: c.masked_webhook_secret,
        webhook_url: format!("{}/webhooks/stripe/{}", state.public_url, t.merchant_id()),
        updated_at: c.updated_at,
    }
}

pub async fn get_stripe(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let t = &auth.tenant;
    let c = state
        .store
        .get_processor_credentials(t, STRIPE)
        .await?
        .ok_or_else(|| ApiError::not_found("Stripe keys"))?;
    Ok(ok(&out(&state, t, c)))
}

/// A key as Stripe makes them (the document's pattern): one of `prefixes`, then 8 to 250
/// letters, digits or `_`. Answers the prefix it has.
fn key<'a>(value: &str, param: &str, prefixes: &[&'a str]) -> ApiResult<&'a str> {
    for p in prefixes {
        let Some(body) = value.strip_prefix(p) else {
            continue;
        };
        if (8..=250).contains(&body.len())
            && body.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            return Ok(p);
        }
    }
    Err(ApiError::invalid(
        "parameter_invalid",
        param,
        format!(
            "`{param}` must be a Stripe key starting with {}",
            prefixes.join(" or ")
        ),
    ))
}

/// A key of the other mode (a live key given for test mode): `422`.
fn same_mode(prefix: &str, mode: &str, param: &str) -> ApiResult<()> {
    if !prefix.contains(mode) {
        return Err(ApiError::invalid(
            "parameters_inconsistent",
            param,
            format!("`{param}` is a key of the other mode; `mode` is {mode}"),
        ));
    }
    Ok(())
}

pub async fn put_stripe(
    State(state): State<AppState>,
    auth: Auth,
    Json(input): Json<StripeCredentialsIn>,
) -> ApiResult<Response> {
    let t = &auth.tenant;
    let live = input.mode == Mode::Live;
    if live != t.livemode() {
        return Err(ApiError::forbidden(
            "Keys of a mode are set in that mode (a live key, or `Paylink-Mode: live`)",
        ));
    }
    // Where live money goes is an owner's decision: a restricted key or another role that
    // may change settings may not redirect it.
    if live && !matches!(auth.grant, Grant::SecretKey | Grant::Member(Role::Owner)) {
        return Err(ApiError::forbidden(
            "Only an owner (or a live secret key) can set live Stripe keys",
        ));
    }
    let mode = if live { "live" } else { "test" };
    let secret = key(
        &input.secret_key,
        "secret_key",
        &["sk_test_", "sk_live_", "rk_test_", "rk_live_"],
    )?;
    let publishable = key(
        &input.publishable_key,
        "publishable_key",
        &["pk_test_", "pk_live_"],
    )?;
    key(&input.webhook_secret, "webhook_secret", &["whsec_"])?;
    same_mode(secret, mode, "secret_key")?;
    same_mode(publishable, mode, "publishable_key")?;
    let c = stripe::seal(
        &state,
        t,
        &input.secret_key,
        &input.publishable_key,
        &input.webhook_secret,
    );
    state.store.put_processor_credentials(t, &c).await?;
    tracing::info!(merchant.id = %t.merchant_id(), livemode = live, "Stripe keys set");
    Ok(ok(&out(&state, t, c)))
}
