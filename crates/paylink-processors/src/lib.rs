//! Payment processors: the trait that checkout talks to, and the simulated processor that
//! serves test mode.
//!
//! A processor turns a domain charge request into a processor call and back. It owns no
//! I/O policy: timeouts, retries and logging are the caller's. Card data travels as
//! [`secrecy::SecretString`] so that no `Debug` or log line can print it, and a processor
//! returns only brand, last 4 and expiry.

mod card;
mod ledger;
mod saved;
mod simulated;
pub mod stripe;

pub use card::{digits as card_digits, luhn_valid, CardBrand};
pub use simulated::SimulatedProcessor;

use async_trait::async_trait;
use secrecy::SecretString;

use paylink_domain::money::{Amount, Currency};

/// What the customer pays with. Never stored, never logged.
#[derive(Debug)]
pub enum PaymentMethodData {
    Card {
        number: SecretString,
        exp_month: u8,
        exp_year: u16,
        cvc: SecretString,
    },
    /// Mobile pay: the device already authenticated the customer.
    Wallet,
}

/// The card details a payment keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardSummary {
    pub brand: CardBrand,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
}

#[derive(Debug)]
pub struct ChargeRequest {
    /// Derived from our payment attempt: the same attempt never charges twice.
    pub idempotency_key: String,
    pub amount: Amount,
    pub currency: Currency,
    pub method: PaymentMethodData,
    /// The part of the amount that is eligible for HSA/FSA cards.
    pub hsa_fsa_eligible_amount: Amount,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChargeOutcome {
    Succeeded {
        reference: String,
        card: Option<CardSummary>,
    },
    Declined {
        code: &'static str,
        card: Option<CardSummary>,
    },
    /// The customer must complete a challenge (3-D Secure) before the charge settles.
    RequiresAction {
        reference: String,
        card: Option<CardSummary>,
    },
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProcessorError {
    /// The request cannot succeed as sent (e.g. a card number that fails the Luhn check).
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// A transient failure: retrying the same request may succeed.
    #[error("processor unavailable: {0}")]
    Retryable(&'static str),
}

/// Keep a payment method for charges made later without the customer (a subscription's
/// renewals): a trial saves the card at checkout and charges it when the trial ends.
#[derive(Debug)]
pub struct SaveMethodRequest {
    /// The same key never saves twice: a repeat answers the first outcome.
    pub idempotency_key: String,
    pub method: PaymentMethodData,
}

/// A saved payment method: the processor's reference to it (all a merchant's server keeps)
/// and the card details receipts show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedMethod {
    pub reference: String,
    pub card: CardSummary,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved(SavedMethod),
    /// The issuer refused to let the card be kept.
    Declined {
        code: &'static str,
        card: Option<CardSummary>,
    },
}

/// A charge of a saved method, made without the customer present (off-session).
#[derive(Debug)]
pub struct SavedChargeRequest {
    /// Derived from what is charged (a subscription's period and attempt): a repeat answers
    /// the first outcome and charges once.
    pub idempotency_key: String,
    pub amount: Amount,
    pub currency: Currency,
    /// [`SavedMethod::reference`].
    pub method: String,
    pub description: String,
}

#[async_trait]
pub trait Processor: Send + Sync + 'static {
    /// The processor's name as payments record it (`simulated`, `stripe`, …).
    fn name(&self) -> &'static str;

    /// Charges once per `idempotency_key`: a repeated call answers the first outcome.
    async fn charge(&self, req: ChargeRequest) -> Result<ChargeOutcome, ProcessorError>;

    /// Finishes a charge that required action, after the customer's challenge.
    async fn complete_action(
        &self,
        reference: &str,
        approved: bool,
    ) -> Result<ChargeOutcome, ProcessorError>;

    /// Looks up what happened to an earlier charge attempt (for recovery after a crash).
    async fn find_charge(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<ChargeOutcome>, ProcessorError>;

    /// Looks up a charge of the saved `method` made under `idempotency_key` (never makes
    /// one); by default as [`Processor::find_charge`]. A processor whose own lookup by key is
    /// only eventually consistent answers here from a consistent listing.
    async fn find_saved_charge(
        &self,
        idempotency_key: &str,
        _method: &str,
    ) -> Result<Option<ChargeOutcome>, ProcessorError> {
        self.find_charge(idempotency_key).await
    }

    /// Refunds part or all of a settled charge (`amount` in `currency`'s minor units), once
    /// per `idempotency_key`.
    async fn refund(
        &self,
        reference: &str,
        amount: Amount,
        currency: Currency,
        idempotency_key: &str,
    ) -> Result<String, ProcessorError>;

    /// Keeps a payment method for later charges, once per `idempotency_key`.
    async fn save_method(&self, req: SaveMethodRequest) -> Result<SaveOutcome, ProcessorError>;

    /// Charges a saved method without the customer, once per `idempotency_key`; a decline
    /// is an outcome (the customer is not there to answer a challenge, so none is asked).
    async fn charge_saved(&self, req: SavedChargeRequest) -> Result<ChargeOutcome, ProcessorError>;
}
