//! The simulated processor: Stripe-style test cards, for test mode and offline use.
//!
//! | card | outcome |
//! | --- | --- |
//! | 4242 4242 4242 4242 | succeeds |
//! | 4000 0000 0000 0002 | declined `card_declined` |
//! | 4000 0000 0000 9995 | declined `insufficient_funds` |
//! | 4000 0000 0000 3220 | needs a 3-D Secure challenge |
//! | 4000 0000 0000 0119 | `processing_error` (retryable) |
//! | 4000 0566 5566 5556 | HSA/FSA card: declined `hsa_fsa_ineligible` unless the whole cart is eligible |
//! | 4000 0000 0000 0341 | saved for later (see `saved`), but declined `card_declined` when charged |
//! | any other Luhn-valid number | succeeds |
//!
//! Like a real processor it remembers every charge by idempotency key, so a repeated
//! request answers the first outcome and never charges twice. Given a ledger file
//! ([`SimulatedProcessor::with_ledger`]) it remembers them beyond the process, and shares
//! them with every process that uses the same file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use paylink_domain::money::Amount;

use crate::card::{digits, luhn_valid, CardBrand};
use crate::ledger::Ledger;
use crate::{
    CardSummary, ChargeOutcome, ChargeRequest, PaymentMethodData, Processor, ProcessorError,
    SaveMethodRequest, SaveOutcome, SavedChargeRequest,
};

#[derive(Default)]
pub struct SimulatedProcessor {
    latency: Duration,
    /// Outcome of every charge, by idempotency key.
    charges: Mutex<HashMap<String, ChargeOutcome>>,
    /// The file every outcome is also written to, when there is one (locked after `charges`).
    ledger: Option<Mutex<Ledger>>,
    /// Refunds by idempotency key, with the charge they belong to.
    refunds: Mutex<HashMap<String, (String, Amount)>>,
    /// How many charges were actually made (tests use it to prove "never twice").
    charged: AtomicU64,
}

pub(crate) fn reference(prefix: &str, key: &str) -> String {
    let h = hex::encode(Sha256::digest(key.as_bytes()));
    format!("{prefix}_{}", h.get(..24).unwrap_or(&h))
}

fn poisoned<T>(_: T) -> ProcessorError {
    ProcessorError::Retryable("poisoned")
}

async fn pause(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

impl SimulatedProcessor {
    /// `latency` is added to every call, to model a real processor in benchmarks.
    pub fn new(latency: Duration) -> Self {
        Self {
            latency,
            ..Self::default()
        }
    }

    /// A processor whose charges are also appended to the file at `path` (its format is the
    /// `ledger` module's), and which knows every charge already there or appended later by
    /// another process.
    pub fn with_ledger(latency: Duration, path: &Path) -> std::io::Result<Self> {
        let mut ledger = Ledger::open(path)?;
        let mut charges = HashMap::new();
        ledger.catch_up(&mut charges)?;
        Ok(Self {
            latency,
            charges: Mutex::new(charges),
            ledger: Some(Mutex::new(ledger)),
            ..Self::default()
        })
    }

    /// Charges that reached a final or pending outcome (not repeats of an earlier key).
    pub fn charges_made(&self) -> u64 {
        self.charged.load(Ordering::SeqCst)
    }

    /// The charges, with what other processes wrote to the ledger since the last look.
    fn charges(&self) -> Result<MutexGuard<'_, HashMap<String, ChargeOutcome>>, ProcessorError> {
        let mut charges = self.charges.lock().map_err(poisoned)?;
        if let Some(l) = &self.ledger {
            l.lock()
                .map_err(poisoned)?
                .catch_up(&mut charges)
                .map_err(|_| ProcessorError::Retryable("ledger_unreadable"))?;
        }
        Ok(charges)
    }

    /// Writes an outcome to the ledger, if there is one, before anyone hears of it. A
    /// charge that could not be written was not made.
    fn write_down(&self, key: &str, outcome: &ChargeOutcome) -> Result<(), ProcessorError> {
        if let Some(l) = &self.ledger {
            l.lock()
                .map_err(poisoned)?
                .record(key, outcome)
                .map_err(|_| ProcessorError::Retryable("ledger_unwritable"))?;
        }
        Ok(())
    }

    /// The charge itself, once per key.
    fn charge_now(&self, req: ChargeRequest) -> Result<ChargeOutcome, ProcessorError> {
        self.once(&req.idempotency_key, || Self::decide(&req))
    }

    /// `decide`'s outcome, made once per key: a repeat answers the first outcome. Invalid
    /// requests and transient errors are not remembered, as with real processors.
    fn once(
        &self,
        key: &str,
        decide: impl FnOnce() -> Result<ChargeOutcome, ProcessorError>,
    ) -> Result<ChargeOutcome, ProcessorError> {
        let mut charges = self.charges()?;
        if let Some(known) = charges.get(key) {
            return Ok(known.clone());
        }
        let outcome = decide()?;
        self.write_down(key, &outcome)?;
        self.charged.fetch_add(1, Ordering::SeqCst);
        charges.insert(key.to_owned(), outcome.clone());
        Ok(outcome)
    }

    fn decide(req: &ChargeRequest) -> Result<ChargeOutcome, ProcessorError> {
        let settled = reference("ch_sim", &req.idempotency_key);
        let (digits, card) = match read_card(&req.method)? {
            None => {
                return Ok(ChargeOutcome::Succeeded {
                    reference: settled,
                    card: None,
                })
            }
            Some(read) => read,
        };
        if expired(&card) {
            return Ok(ChargeOutcome::Declined {
                code: "expired_card",
                card: Some(card),
            });
        }
        let card = Some(card);
        Ok(match digits.as_str() {
            "4000000000000002" | "4000000000000341" => ChargeOutcome::Declined {
                code: "card_declined",
                card,
            },
            "4000000000009995" => ChargeOutcome::Declined {
                code: "insufficient_funds",
                card,
            },
            "4000000000003220" => ChargeOutcome::RequiresAction {
                reference: reference("ch_sim3ds", &req.idempotency_key),
                card,
            },
            "4000000000000119" => return Err(ProcessorError::Retryable("processing_error")),
            "4000056655665556" if req.hsa_fsa_eligible_amount < req.amount => {
                ChargeOutcome::Declined {
                    code: "hsa_fsa_ineligible",
                    card,
                }
            }
            _ => ChargeOutcome::Succeeded {
                reference: settled,
                card,
            },
        })
    }
}

/// A card's digits and summary, checked as a processor checks them (Luhn, expiry, CVC);
/// `None` for a wallet.
pub(crate) fn read_card(
    method: &PaymentMethodData,
) -> Result<Option<(String, CardSummary)>, ProcessorError> {
    let PaymentMethodData::Card {
        number,
        exp_month,
        exp_year,
        cvc,
    } = method
    else {
        return Ok(None);
    };
    let (exp_month, exp_year) = (*exp_month, *exp_year);
    let digits = digits(number)
        .filter(|d| luhn_valid(d))
        .ok_or(ProcessorError::Invalid("invalid_card_number"))?;
    if !(1..=12).contains(&exp_month) || !(2000..=2100).contains(&exp_year) {
        return Err(ProcessorError::Invalid("invalid_expiry"));
    }
    let c = cvc.expose_secret();
    if !(3..=4).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProcessorError::Invalid("invalid_cvc"));
    }
    let card = CardSummary {
        brand: CardBrand::detect(&digits),
        last4: digits
            .get(digits.len().saturating_sub(4)..)
            .unwrap_or("")
            .to_owned(),
        exp_month,
        exp_year,
    };
    Ok(Some((digits, card)))
}

/// Whether the card's expiry month has passed.
pub(crate) fn expired(card: &CardSummary) -> bool {
    let now = time::OffsetDateTime::now_utc();
    (i32::from(card.exp_year), card.exp_month) < (now.year(), u8::from(now.month()))
}

#[async_trait]
impl Processor for SimulatedProcessor {
    fn name(&self) -> &'static str {
        "simulated"
    }

    async fn charge(&self, req: ChargeRequest) -> Result<ChargeOutcome, ProcessorError> {
        // Half the latency on the way there, half on the way back: the charge is made (and
        // written down) before its answer arrives, as with a real processor, so a caller
        // that dies meanwhile leaves a charge it never heard of.
        let there = self.latency / 2;
        pause(there).await;
        let outcome = self.charge_now(req)?;
        pause(self.latency.saturating_sub(there)).await;
        Ok(outcome)
    }

    async fn complete_action(
        &self,
        reference: &str,
        approved: bool,
    ) -> Result<ChargeOutcome, ProcessorError> {
        pause(self.latency).await;
        let mut charges = self.charges()?;
        let (key, entry) = charges
            .iter()
            .find(|(_, o)| match o {
                ChargeOutcome::RequiresAction { reference: r, .. }
                | ChargeOutcome::Succeeded { reference: r, .. } => r == reference,
                ChargeOutcome::Declined { .. } => false,
            })
            .ok_or(ProcessorError::Invalid("unknown_charge"))?;
        let ChargeOutcome::RequiresAction { card, .. } = entry else {
            // Already settled: the first outcome stands.
            return Ok(entry.clone());
        };
        let settled = if approved {
            ChargeOutcome::Succeeded {
                reference: reference.to_owned(),
                card: card.clone(),
            }
        } else {
            ChargeOutcome::Declined {
                code: "authentication_failed",
                card: card.clone(),
            }
        };
        let key = key.clone();
        self.write_down(&key, &settled)?;
        charges.insert(key, settled.clone());
        Ok(settled)
    }

    async fn find_charge(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<ChargeOutcome>, ProcessorError> {
        pause(self.latency).await;
        Ok(self.charges()?.get(idempotency_key).cloned())
    }

    async fn refund(
        &self,
        charge: &str,
        amount: Amount,
        _currency: paylink_domain::money::Currency,
        idempotency_key: &str,
    ) -> Result<String, ProcessorError> {
        pause(self.latency).await;
        let mut refunds = self
            .refunds
            .lock()
            .map_err(|_| ProcessorError::Retryable("poisoned"))?;
        refunds
            .entry(idempotency_key.to_owned())
            .or_insert_with(|| (charge.to_owned(), amount));
        Ok(reference("re_sim", idempotency_key))
    }

    async fn save_method(&self, req: SaveMethodRequest) -> Result<SaveOutcome, ProcessorError> {
        pause(self.latency).await;
        crate::saved::save(&req)
    }

    async fn charge_saved(&self, req: SavedChargeRequest) -> Result<ChargeOutcome, ProcessorError> {
        let there = self.latency / 2;
        pause(there).await;
        let outcome = self.once(&req.idempotency_key, || crate::saved::decide(&req))?;
        pause(self.latency.saturating_sub(there)).await;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paylink_domain::money::Currency;
    use secrecy::SecretString;

    fn req(key: &str, number: &str, eligible: i64) -> ChargeRequest {
        ChargeRequest {
            idempotency_key: key.into(),
            amount: Amount::new(1000).unwrap(),
            currency: Currency::USD,
            method: PaymentMethodData::Card {
                number: SecretString::from(number.to_owned()),
                exp_month: 12,
                exp_year: 2099,
                cvc: SecretString::from("123".to_owned()),
            },
            hsa_fsa_eligible_amount: Amount::new(eligible).unwrap(),
            description: "test".into(),
        }
    }

    #[tokio::test]
    async fn test_cards() {
        let p = SimulatedProcessor::default();
        let ok = p.charge(req("a", "4242 4242 4242 4242", 0)).await.unwrap();
        let ChargeOutcome::Succeeded {
            card: Some(card), ..
        } = &ok
        else {
            panic!("{ok:?}")
        };
        assert_eq!((card.brand, card.last4.as_str()), (CardBrand::Visa, "4242"));
        assert!(matches!(
            p.charge(req("b", "4000000000000002", 0)).await,
            Ok(ChargeOutcome::Declined {
                code: "card_declined",
                ..
            })
        ));
        assert!(matches!(
            p.charge(req("c", "4000000000009995", 0)).await,
            Ok(ChargeOutcome::Declined {
                code: "insufficient_funds",
                ..
            })
        ));
        assert_eq!(
            p.charge(req("d", "4000000000000119", 0)).await,
            Err(ProcessorError::Retryable("processing_error"))
        );
        assert_eq!(
            p.charge(req("e", "4242424242424241", 0)).await,
            Err(ProcessorError::Invalid("invalid_card_number"))
        );
        assert!(matches!(
            p.charge(req("f", "4000056655665556", 999)).await,
            Ok(ChargeOutcome::Declined {
                code: "hsa_fsa_ineligible",
                ..
            })
        ));
        assert!(matches!(
            p.charge(req("g", "4000056655665556", 1000)).await,
            Ok(ChargeOutcome::Succeeded { .. })
        ));
        assert!(matches!(
            p.charge(req("h", "5555555555554444", 0)).await,
            Ok(ChargeOutcome::Succeeded { .. })
        ));
        // The same key answers the same outcome, charging once.
        let before = p.charges_made();
        assert_eq!(p.charge(req("a", "4242424242424242", 0)).await.unwrap(), ok);
        assert_eq!(p.charges_made(), before);
        assert_eq!(p.find_charge("a").await.unwrap(), Some(ok));
        assert_eq!(p.find_charge("zzz").await.unwrap(), None);
    }

    #[tokio::test]
    async fn three_d_secure() {
        let p = SimulatedProcessor::default();
        let ChargeOutcome::RequiresAction { reference, .. } =
            p.charge(req("3ds", "4000000000003220", 0)).await.unwrap()
        else {
            panic!()
        };
        assert!(matches!(
            p.complete_action(&reference, true).await,
            Ok(ChargeOutcome::Succeeded { .. })
        ));
        // Completing again answers the settled outcome.
        assert!(matches!(
            p.complete_action(&reference, false).await,
            Ok(ChargeOutcome::Succeeded { .. })
        ));
        let ChargeOutcome::RequiresAction { reference, .. } =
            p.charge(req("3ds2", "4000000000003220", 0)).await.unwrap()
        else {
            panic!()
        };
        assert!(matches!(
            p.complete_action(&reference, false).await,
            Ok(ChargeOutcome::Declined {
                code: "authentication_failed",
                ..
            })
        ));
    }

    /// A file in the temporary directory, removed when dropped.
    struct TempLedger(std::path::PathBuf);

    impl TempLedger {
        fn new(name: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            Self(std::env::temp_dir().join(format!(
                "paylink-ledger-{name}-{}-{nanos}",
                std::process::id()
            )))
        }
    }

    impl Drop for TempLedger {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// What one process charged, another (started before or after) knows: it answers the
    /// same outcome without charging again, and finds the charge by its key.
    #[tokio::test]
    async fn a_ledger_is_shared_by_processes_and_outlives_them() {
        let file = TempLedger::new("shared");
        let early = SimulatedProcessor::with_ledger(Duration::ZERO, &file.0).unwrap();
        let first = SimulatedProcessor::with_ledger(Duration::ZERO, &file.0).unwrap();
        let ok = first.charge(req("a", "4242424242424242", 0)).await.unwrap();
        let declined = first.charge(req("b", "4000000000000002", 0)).await.unwrap();
        let ChargeOutcome::RequiresAction { reference, .. } =
            first.charge(req("c", "4000000000003220", 0)).await.unwrap()
        else {
            panic!()
        };
        let settled = first.complete_action(&reference, true).await.unwrap();
        assert!(first.charge(req("d", "4000000000000119", 0)).await.is_err());
        drop(first);
        let later = SimulatedProcessor::with_ledger(Duration::ZERO, &file.0).unwrap();
        for p in [&early, &later] {
            assert_eq!(p.find_charge("a").await.unwrap(), Some(ok.clone()));
            assert_eq!(p.find_charge("b").await.unwrap(), Some(declined.clone()));
            assert_eq!(p.find_charge("c").await.unwrap(), Some(settled.clone()));
            // A transient error charged nothing.
            assert_eq!(p.find_charge("d").await.unwrap(), None);
            assert_eq!(p.charge(req("a", "4242424242424242", 0)).await.unwrap(), ok);
            assert_eq!(p.charges_made(), 0);
        }
        let text = std::fs::read_to_string(&file.0).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(!text.contains("4242424242424242"), "{text}");
    }

    #[test]
    fn card_data_never_prints() {
        let r = req("k", "4242424242424242", 0);
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("4242424242424242") && !shown.contains("123\""),
            "{shown}"
        );
    }
}
