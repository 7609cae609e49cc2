//! Stripe as a processor. Card details never reach Paylink with Stripe: the customer types
//! them into Stripe's own Payment Element and the browser confirms the PaymentIntent with
//! Stripe; Paylink creates the PaymentIntent, reads its outcome from Stripe itself, refunds
//! and charges saved cards off-session. So [`Processor::charge`] and the calls that take
//! card data refuse (`card_data_not_accepted`): a page that sends card numbers to a Stripe
//! merchant's checkout is a bug, not a payment.

mod client;
pub mod signature;

pub use client::{
    id_of, CallError, Intent, NewIntent, SetupIntent, StripeClient, StripeError, API_VERSION,
};

use async_trait::async_trait;

use crate::{
    ChargeOutcome, ChargeRequest, Processor, ProcessorError, SaveMethodRequest, SaveOutcome,
    SavedChargeRequest,
};
use paylink_domain::money::{Amount, Currency};

/// Metadata keys Paylink puts on what it creates at Stripe, to find its own objects again.
pub const META_SESSION: &str = "paylink_checkout_session";
pub const META_KEY: &str = "paylink_key";

/// The Stripe account of one merchant in one mode.
#[derive(Debug, Clone)]
pub struct StripeProcessor {
    pub client: StripeClient,
}

/// A saved method's reference at Stripe: the customer and the payment method, as
/// `cus_…/pm_…` (an off-session charge needs both).
pub fn saved_reference(customer: &str, payment_method: &str) -> String {
    format!("{customer}/{payment_method}")
}

fn split_reference(reference: &str) -> Result<(&str, &str), ProcessorError> {
    reference
        .split_once('/')
        .ok_or(ProcessorError::Invalid("payment_method_unknown"))
}

/// The outcome a PaymentIntent stands for, as the trait says it.
pub fn outcome_of(i: &Intent) -> Option<ChargeOutcome> {
    match i.status.as_str() {
        "succeeded" => Some(ChargeOutcome::Succeeded {
            reference: i.id.clone(),
            card: None,
        }),
        "requires_payment_method" | "canceled" => {
            i.last_payment_error
                .as_ref()
                .map(|e| ChargeOutcome::Declined {
                    code: decline_code(e),
                    card: None,
                })
        }
        _ => None,
    }
}

/// Stripe's refusal as one of Paylink's documented decline codes.
pub fn decline_code(e: &StripeError) -> &'static str {
    let code = e
        .decline_code
        .as_deref()
        .or(e.code.as_deref())
        .unwrap_or("");
    match code {
        "insufficient_funds" => "insufficient_funds",
        "expired_card" => "expired_card",
        "incorrect_cvc" | "invalid_cvc" => "incorrect_cvc",
        "payment_intent_authentication_failure" | "authentication_required" => {
            "authentication_failed"
        }
        // Stripe's own trouble, not the card's: worth trying again.
        "processing_error" => "processing_error",
        "lost_card" | "stolen_card" | "fraudulent" | "pickup_card" => "card_declined",
        _ => "card_declined",
    }
}

#[async_trait]
impl Processor for StripeProcessor {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn charge(&self, _req: ChargeRequest) -> Result<ChargeOutcome, ProcessorError> {
        Err(ProcessorError::Invalid("card_data_not_accepted"))
    }

    async fn complete_action(
        &self,
        _reference: &str,
        _approved: bool,
    ) -> Result<ChargeOutcome, ProcessorError> {
        // Stripe.js runs 3-D Secure in the customer's browser.
        Err(ProcessorError::Invalid("card_data_not_accepted"))
    }

    async fn find_charge(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<ChargeOutcome>, ProcessorError> {
        // Charges of saved cards carry their key in their metadata (checkout payments are
        // found by the PaymentIntent kept per session instead). Looked up, never made.
        let found = self
            .client
            .search_intents(META_KEY, idempotency_key)
            .await
            .map_err(CallError::into_processor_error)?;
        Ok(found.iter().find_map(outcome_of))
    }

    async fn find_saved_charge(
        &self,
        idempotency_key: &str,
        method: &str,
    ) -> Result<Option<ChargeOutcome>, ProcessorError> {
        // Search may lag a write by a minute (Stripe says so); the customer's listing does
        // not, and a renewal is always the saved method's customer's.
        let (customer, _) = split_reference(method)?;
        let listed = self
            .client
            .intents_of(customer)
            .await
            .map_err(CallError::into_processor_error)?;
        Ok(listed
            .iter()
            .filter(|i| i.metadata.get(META_KEY).map(String::as_str) == Some(idempotency_key))
            .find_map(outcome_of))
    }

    async fn refund(
        &self,
        reference: &str,
        amount: Amount,
        currency: Currency,
        idempotency_key: &str,
    ) -> Result<String, ProcessorError> {
        let amount = stripe_amount(&currency, amount.minor())
            .ok_or(ProcessorError::Invalid("currency_not_supported"))?;
        self.client
            .refund(
                reference,
                amount,
                &format!("paylink_refund_{idempotency_key}"),
            )
            .await
            .map_err(CallError::into_processor_error)
    }

    async fn save_method(&self, _req: SaveMethodRequest) -> Result<SaveOutcome, ProcessorError> {
        Err(ProcessorError::Invalid("card_data_not_accepted"))
    }

    async fn charge_saved(&self, req: SavedChargeRequest) -> Result<ChargeOutcome, ProcessorError> {
        let (customer, pm) = split_reference(&req.method)?;
        let currency = req.currency.code().to_ascii_lowercase();
        let amount = stripe_amount(&req.currency, req.amount.minor())
            .ok_or(ProcessorError::Invalid("currency_not_supported"))?;
        let n = NewIntent {
            amount,
            currency,
            description: &req.description,
            metadata: &[(META_KEY, &req.idempotency_key)],
            customer: Some(customer),
            setup_future_usage: false,
            off_session: Some(pm),
        };
        match self.client.create_intent(&n, &req.idempotency_key).await {
            Ok(i) => Ok(outcome_of(&i).unwrap_or(ChargeOutcome::Declined {
                // Off-session, a PaymentIntent that is neither paid nor refused asks for the
                // customer (3-D Secure): they are not there, so it is a decline.
                code: "authentication_failed",
                card: None,
            })),
            Err(CallError::Stripe { status: 402, error }) => Ok(ChargeOutcome::Declined {
                code: decline_code(&error),
                card: None,
            }),
            Err(e) => Err(e.into_processor_error()),
        }
    }
}

/// An amount in Paylink's minor units (ISO 4217's exponent) as Stripe's API takes it, or
/// `None` where Stripe cannot charge it exactly. Stripe's rules (docs.stripe.com/currencies):
/// ISK is sent with two decimals although it has none (so `× 100`); the three-decimal
/// currencies must end in 0 (Stripe cannot settle the last digit); stablecoins are no
/// Stripe presentment currency. Every other currency's minor units are Stripe's.
pub fn stripe_amount(currency: &Currency, minor: i64) -> Option<i64> {
    match currency.code() {
        "ISK" => minor.checked_mul(100),
        "BHD" | "JOD" | "KWD" | "OMR" | "TND" => (minor % 10 == 0).then_some(minor),
        "USDC" | "EURC" => None,
        _ => Some(minor),
    }
}

/// [`stripe_amount`] back: Stripe's amount in Paylink's minor units.
pub fn from_stripe_amount(currency: &Currency, amount: i64) -> Option<i64> {
    match currency.code() {
        "ISK" => (amount % 100 == 0).then_some(amount / 100),
        "USDC" | "EURC" => None,
        _ => Some(amount),
    }
}

#[cfg(test)]
mod amount_tests {
    use super::stripe_amount;
    use paylink_domain::money::Currency;

    #[test]
    fn amounts_follow_stripes_currency_rules() {
        let c = |s: &str| Currency::parse(s).unwrap();
        assert_eq!(stripe_amount(&c("usd"), 2500), Some(2500));
        assert_eq!(stripe_amount(&c("jpy"), 500), Some(500));
        assert_eq!(stripe_amount(&c("isk"), 5000), Some(500_000));
        assert_eq!(stripe_amount(&c("kwd"), 1250), Some(1250));
        assert_eq!(stripe_amount(&c("kwd"), 1255), None);
        assert_eq!(stripe_amount(&c("usdc"), 1_000_000), None);
        assert_eq!(stripe_amount(&c("isk"), i64::MAX), None);
    }
}
