//! A merchant's settings: branding, defaults for new links, and the bounds every link
//! must respect.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::money::{Amount, Currency};
use crate::tax::PricingMode;
use crate::time::DurationSpec;

/// Minimum and maximum total of one payment in a currency.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountBounds {
    #[schema(value_type = i64, minimum = 1, maximum = 999_999_999_999_999.0)]
    pub minimum: Amount,
    pub maximum: Amount,
}

/// Which payment processor serves each mode: `test` is `simulated` (built in) or
/// `stripe`; `live` is `stripe` or none (then live links are refused). Stripe is chosen
/// for a mode only once that mode's Stripe keys are set.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Processors {
    pub test: Option<String>,
    pub live: Option<String>,
}

impl Default for Processors {
    fn default() -> Self {
        Self {
            test: Some("simulated".to_owned()),
            live: None,
        }
    }
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MerchantSettings {
    pub business_name: String,
    pub support_email: Option<String>,
    /// `#rrggbb`
    pub brand_color: Option<String>,
    pub logo_url: Option<String>,
    pub default_currency: Currency,
    pub pricing_mode: PricingMode,
    /// Per currency code (upper case). A currency without an entry accepts any total from
    /// one minor unit up to the global maximum.
    pub amount_bounds: BTreeMap<String, AmountBounds>,
    /// Applied to new links created without `expires_at`.
    pub default_link_expiry: Option<DurationSpec>,
    /// How long a started checkout holds its reservation.
    pub checkout_session_ttl: DurationSpec,
    /// Hosts that `success_url` / `cancel_url` may point to; empty allows any https host.
    pub redirect_allowlist: Vec<String>,
    pub processors: Processors,
    /// E-mail a receipt after every successful payment whose customer gave an e-mail.
    #[serde(default = "yes")]
    pub email_receipts: bool,
    /// Every successful payment through a link that pays no order makes a `paid` order.
    #[serde(default = "yes")]
    pub create_orders: bool,
    /// How the hosted pages write money when the customer's browser names no language
    /// (BCP 47, e.g. `en-US`, `de-DE`).
    #[serde(default = "en_us")]
    pub default_locale: String,
    /// The waits before each retry of a failed subscription renewal (`1d,3d,5d`).
    #[serde(default)]
    pub subscription_retry_schedule: crate::subscription::RetrySchedule,
    /// What becomes of a subscription whose retries all failed: `cancel` or `mark_unpaid`.
    #[serde(default)]
    pub subscription_exhausted_action: crate::subscription::ExhaustedAction,
}

fn en_us() -> String {
    "en-US".to_owned()
}

fn yes() -> bool {
    true
}

impl MerchantSettings {
    pub fn new(business_name: String, support_email: Option<String>) -> Self {
        Self {
            business_name,
            support_email,
            brand_color: None,
            logo_url: None,
            default_currency: Currency::USD,
            pricing_mode: PricingMode::Exclusive,
            amount_bounds: BTreeMap::new(),
            default_link_expiry: None,
            checkout_session_ttl: DurationSpec::minutes(30),
            redirect_allowlist: Vec::new(),
            processors: Processors::default(),
            email_receipts: true,
            create_orders: true,
            default_locale: en_us(),
            subscription_retry_schedule: Default::default(),
            subscription_exhausted_action: Default::default(),
        }
    }

    /// The merchant's dunning: when failed renewals are retried, and what follows the last.
    pub fn dunning(&self) -> crate::subscription::DunningPolicy {
        crate::subscription::DunningPolicy {
            schedule: self.subscription_retry_schedule.clone(),
            on_exhausted: self.subscription_exhausted_action,
        }
    }

    /// The bounds for a currency: the merchant's, or 1 minor unit up to the global max.
    pub fn bounds(&self, currency: Currency) -> AmountBounds {
        self.amount_bounds
            .get(currency.code())
            .copied()
            .unwrap_or(AmountBounds {
                minimum: Amount::ONE,
                maximum: Amount::MAX,
            })
    }

    pub fn payments_enabled(&self, livemode: bool) -> bool {
        if livemode {
            self.processors.live.is_some()
        } else {
            self.processors.test.is_some()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = MerchantSettings::new("Shop".into(), None);
        assert_eq!(s.default_currency.code(), "USD");
        assert_eq!(s.checkout_session_ttl.seconds(), 1800);
        assert!(s.payments_enabled(false));
        assert!(!s.payments_enabled(true));
        assert_eq!(s.bounds(s.default_currency).minimum.minor(), 1);
    }
}
