//! What a subscription tells its customer by e-mail: the trial ending, a failed charge
//! (with the link to change the card), the end. Each message carries the customer's signed
//! self-service link (`/s/{token}`), so it is sealed in the outbox like a password reset:
//! neither the database nor `GET /v1/emails` shows the link. Renewals send the receipt.

use paylink_domain::email::Email;
use paylink_domain::id::EmailId;
use paylink_domain::settings::MerchantSettings;
use paylink_domain::subscription::{Subscription, SubscriptionEvent, SubscriptionState};
use paylink_domain::time::Timestamp;

use crate::state::AppState;

/// The `kind` of the messages (the outbox lists them to `team:write` only, as they carry a
/// link that acts for the customer).
pub const KIND: &str = "subscription";

/// What `/s/{token}` signs: the subscription's id.
pub const PURPOSE: &str = "subscription-self-service";

/// The customer's self-service link of a subscription.
pub fn self_service_url(state: &AppState, sub: &Subscription) -> String {
    let token = state.sealer.sign(PURPOSE, sub.id.as_str());
    format!("{}/s/{token}", state.public_url)
}

/// A date as the e-mails write it: `2027-01-31`.
pub fn day(t: Timestamp) -> String {
    t.to_rfc3339().get(..10).unwrap_or_default().to_owned()
}

/// How often it recurs: `every month`, `every 3 months`.
pub fn every(sub: &Subscription) -> String {
    every_of(sub.interval, sub.interval_count)
}

/// How often terms recur: `every month`, `every 3 months`.
pub fn every_of(interval: paylink_domain::link::Interval, count: u32) -> String {
    let unit = match interval {
        paylink_domain::link::Interval::Day => "day",
        paylink_domain::link::Interval::Week => "week",
        paylink_domain::link::Interval::Month => "month",
        paylink_domain::link::Interval::Year => "year",
    };
    match count {
        1 => format!("every {unit}"),
        n => format!("every {n} {unit}s"),
    }
}

/// The message an event of the subscription sends its customer, if any.
pub fn notice(
    state: &AppState,
    settings: &MerchantSettings,
    sub: &Subscription,
    after: &SubscriptionState,
    event: SubscriptionEvent,
    at: Timestamp,
) -> Option<Email> {
    let to = sub.customer.email.as_deref()?;
    let locale = crate::locale::Locale::of_merchant(settings);
    let amount = locale.money(sub.currency, sub.amount);
    let business = &settings.business_name;
    let what = &sub.description;
    let card = sub
        .payment_method
        .as_ref()
        .map(|c| format!("{} ending {}", c.brand, c.last4))
        .unwrap_or_else(|| "your card".to_owned());
    let (subject, body) = match event {
        SubscriptionEvent::TrialWillEnd => (
            format!("Your trial of {what} ends soon"),
            format!(
                "Your free trial of {what} from {business} ends on {}.\n\nThen {amount} will be charged to {card} {}, unless you cancel before.",
                day(after.trial_end()?),
                every(sub),
            ),
        ),
        SubscriptionEvent::PaymentFailed => {
            let next = match after.next_charge_at() {
                Some(t) if sub.status == paylink_domain::subscription::SubscriptionStatus::PastDue => {
                    format!("We will try again on {}.", day(t))
                }
                _ => "We will not try again.".to_owned(),
            };
            (
                format!("Your payment to {business} failed"),
                format!(
                    "We could not charge {amount} to {card} for {what}. {next}\n\nTo keep your subscription, give us another card at the link below."
                ),
            )
        }
        SubscriptionEvent::Canceled => (
            format!("Your subscription to {what} has ended"),
            format!(
                "Your subscription to {what} from {business} has ended. Nothing more will be charged."
            ),
        ),
        SubscriptionEvent::Created | SubscriptionEvent::Renewed => return None,
    };
    let text = format!(
        "{body}\n\nSee your plan, your payments, change your card or cancel: {}\n",
        self_service_url(state, sub)
    );
    Some(sealed(state, sub, &subject, &text, to, at))
}

/// A message whose bodies are sealed for itself (see the module's comment).
pub fn sealed(
    state: &AppState,
    sub: &Subscription,
    subject: &str,
    text: &str,
    to: &str,
    at: Timestamp,
) -> Email {
    let id = EmailId::generate();
    let html = format!(
        "<!doctype html><html><body><p>{}</p></body></html>",
        askama_escape(text).replace('\n', "<br>")
    );
    Email {
        kind: KIND.to_owned(),
        related_id: sub.id.to_string(),
        to: to.to_owned(),
        subject: subject.to_owned(),
        text_body: state.sealer.seal(text, id.as_str()),
        html_body: state.sealer.seal(&html, id.as_str()),
        qr_url: None,
        status: super::engine::outbox_status(state),
        attempts: 0,
        last_error: None,
        livemode: sub.livemode,
        created_at: at,
        id,
    }
}

fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
