//! The simulated processor's saved payment methods. A saved method's reference carries what
//! the simulated issuer will say when it is charged later (and the card's expiry), so any
//! process charges it the same way without sharing a table: `pm_sim_{ok|decline}_{MMYYYY}_{hash}`.
//! A real processor's references are opaque; nothing outside this module reads these.
//!
//! | card | saved? | charged off-session |
//! | --- | --- | --- |
//! | 4000 0000 0000 0341 | yes | declined `card_declined` |
//! | 4000 0000 0000 0002 | declined `card_declined` | — |
//! | 4000 0000 0000 9995 | declined `insufficient_funds` | — |
//! | 4000 0000 0000 0119 | `processing_error` (retryable) | — |
//! | any other Luhn-valid card | yes | succeeds until its expiry month has passed |

use crate::simulated::{expired, read_card, reference};
use crate::{
    CardSummary, ChargeOutcome, ProcessorError, SaveMethodRequest, SaveOutcome, SavedChargeRequest,
    SavedMethod,
};

/// Saves the card of `req` (a wallet cannot be kept).
pub(crate) fn save(req: &SaveMethodRequest) -> Result<SaveOutcome, ProcessorError> {
    let Some((digits, card)) = read_card(&req.method)? else {
        return Err(ProcessorError::Invalid("payment_method_not_reusable"));
    };
    if expired(&card) {
        return Ok(SaveOutcome::Declined {
            code: "expired_card",
            card: Some(card),
        });
    }
    let behaviour = match digits.as_str() {
        "4000000000000002" => return Ok(declined("card_declined", card)),
        "4000000000009995" => return Ok(declined("insufficient_funds", card)),
        "4000000000000119" => return Err(ProcessorError::Retryable("processing_error")),
        "4000000000000341" => "decline",
        _ => "ok",
    };
    let hash = reference("x", &req.idempotency_key);
    let hash = hash.strip_prefix("x_").unwrap_or(&hash);
    Ok(SaveOutcome::Saved(SavedMethod {
        reference: format!(
            "pm_sim_{behaviour}_{:02}{:04}_{hash}",
            card.exp_month, card.exp_year
        ),
        card,
    }))
}

fn declined(code: &'static str, card: CardSummary) -> SaveOutcome {
    SaveOutcome::Declined {
        code,
        card: Some(card),
    }
}

/// What charging the saved method of `req` comes to (made once per key by the caller).
pub(crate) fn decide(req: &SavedChargeRequest) -> Result<ChargeOutcome, ProcessorError> {
    let unknown = ProcessorError::Invalid("unknown_payment_method");
    let rest = req.method.strip_prefix("pm_sim_").ok_or(unknown.clone())?;
    let mut parts = rest.splitn(3, '_');
    let (Some(behaviour), Some(expiry), Some(_)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(unknown);
    };
    let month: u8 = expiry
        .get(..2)
        .and_then(|m| m.parse().ok())
        .ok_or(unknown.clone())?;
    let year: u16 = expiry
        .get(2..)
        .and_then(|y| y.parse().ok())
        .ok_or(unknown.clone())?;
    let card = CardSummary {
        brand: crate::CardBrand::Unknown,
        last4: String::new(),
        exp_month: month,
        exp_year: year,
    };
    if expired(&card) {
        return Ok(ChargeOutcome::Declined {
            code: "expired_card",
            card: None,
        });
    }
    match behaviour {
        "ok" => Ok(ChargeOutcome::Succeeded {
            reference: reference("ch_sim", &req.idempotency_key),
            card: None,
        }),
        "decline" => Ok(ChargeOutcome::Declined {
            code: "card_declined",
            card: None,
        }),
        _ => Err(unknown),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use paylink_domain::money::{Amount, Currency};
    use secrecy::SecretString;

    use crate::{
        ChargeOutcome, PaymentMethodData, Processor, ProcessorError, SaveMethodRequest,
        SaveOutcome, SavedChargeRequest, SimulatedProcessor,
    };

    fn card(number: &str, exp_year: u16) -> SaveMethodRequest {
        SaveMethodRequest {
            idempotency_key: format!("save-{number}-{exp_year}"),
            method: PaymentMethodData::Card {
                number: SecretString::from(number.to_owned()),
                exp_month: 12,
                exp_year,
                cvc: SecretString::from("123".to_owned()),
            },
        }
    }

    fn charge(key: &str, method: &str) -> SavedChargeRequest {
        SavedChargeRequest {
            idempotency_key: key.into(),
            amount: Amount::new(1900).unwrap(),
            currency: Currency::USD,
            method: method.into(),
            description: "Coffee club".into(),
        }
    }

    async fn saved(p: &SimulatedProcessor, number: &str) -> String {
        match p.save_method(card(number, 2099)).await.unwrap() {
            SaveOutcome::Saved(m) => {
                assert_eq!(m.card.last4, number.get(number.len() - 4..).unwrap());
                assert!(!m.reference.contains(number), "{}", m.reference);
                m.reference
            }
            other => panic!("{other:?}"),
        }
    }

    /// A saved card is charged off-session once per key; 0341 saves but every charge of
    /// it declines; declining cards are not saved; a wallet cannot be kept.
    #[tokio::test]
    async fn saved_cards_are_charged_later_once_per_key() {
        let p = SimulatedProcessor::new(Duration::ZERO);
        let good = saved(&p, "4242424242424242").await;
        let first = p.charge_saved(charge("sub_1:1:0", &good)).await.unwrap();
        assert!(
            matches!(first, ChargeOutcome::Succeeded { .. }),
            "{first:?}"
        );
        assert_eq!(
            p.charge_saved(charge("sub_1:1:0", &good)).await.unwrap(),
            first
        );
        assert_eq!(p.charges_made(), 1, "the same key charges once");
        assert!(matches!(
            p.charge_saved(charge("sub_1:2:0", &good)).await.unwrap(),
            ChargeOutcome::Succeeded { .. }
        ));
        assert!(p.find_charge("sub_1:2:0").await.unwrap().is_some());
        let later = saved(&p, "4000000000000341").await;
        assert_eq!(
            p.charge_saved(charge("sub_2:1:0", &later)).await.unwrap(),
            ChargeOutcome::Declined {
                code: "card_declined",
                card: None
            }
        );
        for (number, code) in [
            ("4000000000000002", "card_declined"),
            ("4000000000009995", "insufficient_funds"),
        ] {
            assert!(matches!(
                p.save_method(card(number, 2099)).await.unwrap(),
                SaveOutcome::Declined { code: c, .. } if c == code
            ));
        }
        assert_eq!(
            p.save_method(card("4000000000000119", 2099)).await,
            Err(ProcessorError::Retryable("processing_error"))
        );
        assert!(matches!(
            p.save_method(card("4242424242424242", 2001)).await.unwrap(),
            SaveOutcome::Declined {
                code: "expired_card",
                ..
            }
        ));
        let wallet = SaveMethodRequest {
            idempotency_key: "w".into(),
            method: PaymentMethodData::Wallet,
        };
        assert_eq!(
            p.save_method(wallet).await,
            Err(ProcessorError::Invalid("payment_method_not_reusable"))
        );
        for bad in [
            "",
            "pm_sim_",
            "pm_sim_ok",
            "pm_sim_ok_13",
            "pm_sim_maybe_122099_x",
            "card_4242",
        ] {
            assert_eq!(
                p.charge_saved(charge("k", bad)).await,
                Err(ProcessorError::Invalid("unknown_payment_method")),
                "{bad}"
            );
        }
    }

    /// A card saved before its expiry month is declined when charged after it.
    #[test]
    fn a_saved_card_past_its_expiry_declines() {
        let outcome = super::decide(&charge("k", "pm_sim_ok_122001_abc")).unwrap();
        assert_eq!(
            outcome,
            ChargeOutcome::Declined {
                code: "expired_card",
                card: None
            }
        );
    }
}
