//! Stripe for a merchant: their credentials (sealed at rest), the client that acts with
//! them, and which processor serves a mode. Checkout through Stripe is in [`checkout`],
//! Stripe's webhooks in [`webhooks`], the worker's reconciliation in [`reconcile`].

pub mod checkout;
pub mod reconcile;
pub mod webhooks;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use paylink_domain::settings::MerchantSettings;
use paylink_processors::stripe::{StripeClient, StripeProcessor};
use paylink_processors::Processor;
use paylink_store::{ProcessorCredentials, Tenant};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const STRIPE: &str = "stripe";

/// A merchant's Stripe secrets, open. Never logged (`SecretString`), never answered.
pub struct Credentials {
    pub secret_key: SecretString,
    pub webhook_secret: SecretString,
    pub publishable_key: String,
}

/// The sealed part, as JSON.
#[derive(Serialize, Deserialize)]
struct Sealed {
    secret_key: String,
    webhook_secret: String,
}

/// What the sealed value is bound to: a sealed value copied to another merchant or mode
/// does not open.
fn seal_context(t: &Tenant) -> String {
    format!(
        "processor_credentials:{}:{}:{STRIPE}",
        t.merchant_id(),
        if t.livemode() { "live" } else { "test" }
    )
}

/// Seals credentials for storing.
pub fn seal(
    state: &AppState,
    t: &Tenant,
    secret_key: &str,
    publishable_key: &str,
    webhook_secret: &str,
) -> ProcessorCredentials {
    let plain = serde_json::to_string(&Sealed {
        secret_key: secret_key.to_owned(),
        webhook_secret: webhook_secret.to_owned(),
    })
    .unwrap_or_default();
    ProcessorCredentials {
        processor: STRIPE.to_owned(),
        publishable_key: publishable_key.to_owned(),
        sealed: state.sealer.seal(&plain, &seal_context(t)),
        masked_secret_key: mask(secret_key),
        masked_webhook_secret: mask(webhook_secret),
        updated_at: paylink_domain::time::Timestamp::now(),
    }
}

/// `sk_test_…4242`: the kind and the last four, never enough to use.
pub fn mask(secret: &str) -> String {
    let kind = secret
        .match_indices('_')
        .nth(1)
        .and_then(|(i, _)| secret.get(..=i))
        .or_else(|| secret.find('_').and_then(|i| secret.get(..=i)))
        .unwrap_or("");
    let tail = secret
        .char_indices()
        .rev()
        .nth(3)
        .and_then(|(i, _)| secret.get(i..))
        .unwrap_or("");
    format!("{kind}…{tail}")
}

/// The tenant's Stripe credentials, opened; `None` when none are set.
pub async fn credentials(state: &AppState, t: &Tenant) -> ApiResult<Option<Credentials>> {
    let Some(c) = state.store.get_processor_credentials(t, STRIPE).await? else {
        return Ok(None);
    };
    let open = state
        .sealer
        .open(&c.sealed, &seal_context(t))
        .map_err(ApiError::internal)?;
    let s: Sealed = serde_json::from_str(&open).map_err(ApiError::internal)?;
    Ok(Some(Credentials {
        secret_key: SecretString::from(s.secret_key),
        webhook_secret: SecretString::from(s.webhook_secret),
        publishable_key: c.publishable_key,
    }))
}

/// A client of the tenant's Stripe account, or `409 processor_not_configured`.
pub async fn client(state: &AppState, t: &Tenant) -> ApiResult<(StripeClient, Credentials)> {
    let c = credentials(state, t).await?.ok_or_else(not_configured)?;
    let client = StripeClient::new(
        state.stripe_http.clone(),
        &state.config.stripe_api_base,
        SecretString::from(c.secret_key.expose_secret().to_owned()),
    );
    Ok((client, c))
}

pub fn not_configured() -> ApiError {
    ApiError::conflict(
        "processor_not_configured",
        "Stripe is chosen for this mode but no Stripe keys are set (PUT /v1/processors/stripe)",
    )
}

/// Whether Stripe serves the mode.
pub fn serves(settings: &MerchantSettings, livemode: bool) -> bool {
    let chosen = if livemode {
        &settings.processors.live
    } else {
        &settings.processors.test
    };
    chosen.as_deref() == Some(STRIPE)
}

/// The processor a payment of `name` was made with, acting for the tenant (refunds and
/// renewals go back to the processor that took the money).
pub async fn processor_named(
    state: &AppState,
    t: &Tenant,
    name: &str,
) -> ApiResult<Arc<dyn Processor>> {
    if name == STRIPE {
        let (client, _) = client(state, t).await?;
        return Ok(Arc::new(StripeProcessor { client }));
    }
    Ok(state.processor.clone())
}

/// The processor that keeps a saved method: a Stripe reference (`cus_…/pm_…`) is the
/// tenant's Stripe account's, whatever the mode's processor is now (a merchant who moved
/// to Stripe still renews the cards the simulated processor kept, and the other way
/// round); anything else is the simulated processor's.
pub async fn processor_keeping(
    state: &AppState,
    t: &Tenant,
    method: Option<&str>,
) -> ApiResult<Arc<dyn Processor>> {
    match method {
        Some(m) if m.starts_with("cus_") => processor_named(state, t, STRIPE).await,
        _ => Ok(state.processor.clone()),
    }
}

/// `scheme://host[:port]` of an http(s) URL: what a content security policy names.
pub fn origin_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .map(|r| ("https://", r))
        .or_else(|| url.strip_prefix("http://").map(|r| ("http://", r)))?;
    let host = rest.1.split(['/', '?', '#']).next()?;
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then(|| format!("{}{host}", rest.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_show_the_kind_and_the_last_four_only() {
        assert_eq!(mask("sk_test_51abcdefgh4242"), "sk_test_…4242");
        assert_eq!(mask("whsec_abcdefWXYZ"), "whsec_…WXYZ");
        assert_eq!(mask("abc"), "…");
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://js.stripe.com/v3/").as_deref(),
            Some("https://js.stripe.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8420/js.stripe.com/v3/").as_deref(),
            Some("http://127.0.0.1:8420")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://a.b;script-src */"), None);
        assert_eq!(origin_of("https:///x"), None);
    }
}
