//! The few calls of Stripe's REST API that Paylink makes, form-encoded as Stripe takes
//! them, each with its `Idempotency-Key` when it creates something, and read back into the
//! fields Paylink uses. The secret key is sent as a bearer token and never logged.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{CardBrand, CardSummary, ProcessorError};

/// The API version Paylink was written against: Stripe answers in this shape whatever the
/// account's default.
pub const API_VERSION: &str = "2024-06-20";

/// A client of one Stripe account in one mode.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    secret_key: SecretString,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Stripe's error object (`{"error": {...}}`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct StripeError {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: String,
    /// The charge a decline failed (on `last_payment_error`).
    pub charge: Option<String>,
}

/// A PaymentIntent as Paylink reads it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub client_secret: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// An id, or the object when expanded.
    pub latest_charge: Option<serde_json::Value>,
    pub payment_method: Option<serde_json::Value>,
    pub customer: Option<serde_json::Value>,
    pub last_payment_error: Option<StripeError>,
    #[serde(default)]
    pub livemode: bool,
}

impl Intent {
    pub fn payment_method_id(&self) -> Option<&str> {
        id_of(self.payment_method.as_ref())
    }

    pub fn latest_charge_id(&self) -> Option<&str> {
        id_of(self.latest_charge.as_ref())
    }

    pub fn customer_id(&self) -> Option<&str> {
        id_of(self.customer.as_ref())
    }
}

/// An expandable field's id, whether it came as an id or as the object.
pub fn id_of(v: Option<&serde_json::Value>) -> Option<&str> {
    match v? {
        serde_json::Value::String(s) => Some(s),
        o => o.get("id")?.as_str(),
    }
}

/// A SetupIntent (a card saved for later, nothing charged) as Paylink reads it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SetupIntent {
    pub id: String,
    pub status: String,
    pub client_secret: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub payment_method: Option<serde_json::Value>,
    pub customer: Option<serde_json::Value>,
    pub last_setup_error: Option<StripeError>,
}

impl SetupIntent {
    pub fn payment_method_id(&self) -> Option<&str> {
        id_of(self.payment_method.as_ref())
    }

    pub fn customer_id(&self) -> Option<&str> {
        id_of(self.customer.as_ref())
    }
}

/// What a new PaymentIntent is made of.
#[derive(Debug, Clone)]
pub struct NewIntent<'a> {
    pub amount: i64,
    /// Lower-case ISO code, as Stripe takes it.
    pub currency: String,
    pub description: &'a str,
    pub metadata: &'a [(&'a str, &'a str)],
    /// Save the card for charges without the customer (a subscription's renewals).
    pub customer: Option<&'a str>,
    pub setup_future_usage: bool,
    /// Charge a saved method now, without the customer: `(payment_method)`.
    pub off_session: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: StripeError,
}

/// A failed call: Stripe's answer (status and error), or no answer at all.
#[derive(Debug)]
pub enum CallError {
    Stripe { status: u16, error: StripeError },
    Unreachable,
}

impl CallError {
    /// What the processor trait says of it: a card's refusal is the caller's to read; an
    /// outage, a rate limit or a conflict (Stripe's idempotency lock) is worth retrying;
    /// anything else is a request that will not succeed as sent.
    pub fn into_processor_error(self) -> ProcessorError {
        match self {
            CallError::Unreachable => ProcessorError::Retryable("processor_unavailable"),
            CallError::Stripe { status, .. } if status == 409 || status == 429 || status >= 500 => {
                ProcessorError::Retryable("processor_unavailable")
            }
            CallError::Stripe { status: 401, .. } => {
                ProcessorError::Invalid("processor_auth_failed")
            }
            CallError::Stripe { .. } => ProcessorError::Invalid("processor_refused"),
        }
    }
}

impl StripeClient {
    pub fn new(http: reqwest::Client, base: &str, secret_key: SecretString) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            secret_key,
        }
    }

    /// A client for Stripe calls: rustls, no redirects, `timeout` per call.
    pub fn http(timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CallError> {
        let res = req
            .bearer_auth(self.secret_key.expose_secret())
            .header("Stripe-Version", API_VERSION)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e.without_url(), "Stripe did not answer");
                CallError::Unreachable
            })?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.map_err(|_| CallError::Unreachable)?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| {
                tracing::warn!(error = %e, "Stripe's answer did not read");
                CallError::Stripe {
                    status: 502,
                    error: StripeError::default(),
                }
            });
        }
        let error = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| b.error)
            .unwrap_or_default();
        Err(CallError::Stripe { status, error })
    }

    fn post(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let body = serde_urlencoded::to_string(form).unwrap_or_default();
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        req
    }

    /// Creates a PaymentIntent once per `idempotency_key` (Stripe answers a repeat with the
    /// first one). Off-session ones are confirmed at once; a decline is then `Err` with
    /// status 402 and the card's error.
    pub async fn create_intent(
        &self,
        n: &NewIntent<'_>,
        idempotency_key: &str,
    ) -> Result<Intent, CallError> {
        let mut form = vec![
            ("amount".to_owned(), n.amount.to_string()),
            ("currency".to_owned(), n.currency.clone()),
            ("description".to_owned(), n.description.to_owned()),
            ("payment_method_types[]".to_owned(), "card".to_owned()),
        ];
        for (k, v) in n.metadata {
            form.push((format!("metadata[{k}]"), (*v).to_owned()));
        }
        if let Some(c) = n.customer {
            form.push(("customer".to_owned(), c.to_owned()));
        }
        if n.setup_future_usage {
            form.push(("setup_future_usage".to_owned(), "off_session".to_owned()));
        }
        if let Some(pm) = n.off_session {
            form.push(("payment_method".to_owned(), pm.to_owned()));
            form.push(("off_session".to_owned(), "true".to_owned()));
            form.push(("confirm".to_owned(), "true".to_owned()));
        }
        self.call(self.post("/v1/payment_intents", &form, Some(idempotency_key)))
            .await
    }

    /// A SetupIntent saving a card of `customer` for charges without them, once per key.
    pub async fn create_setup_intent(
        &self,
        customer: &str,
        metadata: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<SetupIntent, CallError> {
        let mut form = vec![
            ("customer".to_owned(), customer.to_owned()),
            ("usage".to_owned(), "off_session".to_owned()),
            ("payment_method_types[]".to_owned(), "card".to_owned()),
        ];
        for (k, v) in metadata {
            form.push((format!("metadata[{k}]"), (*v).to_owned()));
        }
        self.call(self.post("/v1/setup_intents", &form, Some(idempotency_key)))
            .await
    }

    pub async fn cancel_setup_intent(&self, id: &str) -> Result<SetupIntent, CallError> {
        let path = format!("/v1/setup_intents/{}/cancel", path_safe(id));
        self.call(self.post(&path, &[], None)).await
    }

    pub async fn retrieve_setup_intent(&self, id: &str) -> Result<SetupIntent, CallError> {
        let url = format!("{}/v1/setup_intents/{}", self.base, path_safe(id));
        self.call(self.http.get(url)).await
    }

    /// PaymentIntents whose metadata `key` is `value` (Stripe's search), newest first.
    pub async fn search_intents(&self, key: &str, value: &str) -> Result<Vec<Intent>, CallError> {
        #[derive(Deserialize)]
        struct Found {
            data: Vec<Intent>,
        }
        // Search's query language quotes values with `'`; ours never hold one (keys are
        // ids, digits and `:`), and any that did are refused rather than escaped wrongly.
        if value.contains(['\'', '\\']) || key.contains(['\'', '\\', ']']) {
            return Ok(Vec::new());
        }
        let query = format!("metadata['{key}']:'{value}'");
        let url = format!("{}/v1/payment_intents/search", self.base);
        let found: Found = self
            .call(self.http.get(url).query(&[("query", query)]))
            .await?;
        Ok(found.data)
    }

    /// The customer's latest 100 PaymentIntents (a listing, consistent at once, unlike
    /// search).
    pub async fn intents_of(&self, customer: &str) -> Result<Vec<Intent>, CallError> {
        #[derive(Deserialize)]
        struct Listed {
            data: Vec<Intent>,
        }
        let url = format!("{}/v1/payment_intents", self.base);
        let req = self
            .http
            .get(url)
            .query(&[("customer", path_safe(customer)), ("limit", "100")]);
        let listed: Listed = self.call(req).await?;
        Ok(listed.data)
    }

    pub async fn retrieve_intent(&self, id: &str) -> Result<Intent, CallError> {
        let url = format!("{}/v1/payment_intents/{}", self.base, path_safe(id));
        self.call(self.http.get(url)).await
    }

    pub async fn cancel_intent(&self, id: &str) -> Result<Intent, CallError> {
        let path = format!("/v1/payment_intents/{}/cancel", path_safe(id));
        self.call(self.post(&path, &[], None)).await
    }

    /// A customer to keep a card on, once per key.
    pub async fn create_customer(
        &self,
        email: Option<&str>,
        idempotency_key: &str,
    ) -> Result<String, CallError> {
        #[derive(Deserialize)]
        struct Customer {
            id: String,
        }
        let mut form = Vec::new();
        if let Some(e) = email {
            form.push(("email".to_owned(), e.to_owned()));
        }
        let c: Customer = self
            .call(self.post("/v1/customers", &form, Some(idempotency_key)))
            .await?;
        Ok(c.id)
    }

    /// Refunds `amount` of a PaymentIntent once per key; answers the refund's id.
    pub async fn refund(
        &self,
        intent: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> Result<String, CallError> {
        #[derive(Deserialize)]
        struct Refund {
            id: String,
        }
        let form = vec![
            ("payment_intent".to_owned(), intent.to_owned()),
            ("amount".to_owned(), amount.to_string()),
        ];
        let r: Refund = self
            .call(self.post("/v1/refunds", &form, Some(idempotency_key)))
            .await?;
        Ok(r.id)
    }

    /// The card of a payment method (brand, last 4, expiry), for receipts.
    pub async fn card_of(&self, payment_method: &str) -> Result<Option<CardSummary>, CallError> {
        #[derive(Deserialize)]
        struct Pm {
            card: Option<Card>,
        }
        #[derive(Deserialize)]
        struct Card {
            brand: Option<String>,
            last4: Option<String>,
            exp_month: Option<u8>,
            exp_year: Option<u16>,
        }
        let url = format!(
            "{}/v1/payment_methods/{}",
            self.base,
            path_safe(payment_method)
        );
        let pm: Pm = self.call(self.http.get(url)).await?;
        Ok(pm.card.map(|c| CardSummary {
            brand: CardBrand::parse(c.brand.as_deref().unwrap_or("")).unwrap_or(CardBrand::Unknown),
            last4: c.last4.unwrap_or_default(),
            exp_month: c.exp_month.unwrap_or(0),
            exp_year: c.exp_year.unwrap_or(0),
        }))
    }
}

/// Ids go into paths: anything but Stripe's id characters is refused by being emptied
/// (Stripe then answers 404), so no id can reach another path.
fn path_safe(id: &str) -> &str {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        id
    } else {
        "invalid"
    }
}
