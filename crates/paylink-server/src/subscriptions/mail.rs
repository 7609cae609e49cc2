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

/// What a receipt of a subscription's payment says comes next: `Then $15.00 every month
/// from` a day, `Next charge of $15.00 on` a day, or that it ends.
pub struct NextLine {
    pub before: String,
    pub at: Option<Timestamp>,
    pub after: String,
}

impl NextLine {
    /// As plain text, the day written `2027-01-31`.
    pub fn text(&self) -> String {
        match self.at {
            Some(t) => format!("{} {}{}", self.before, day(t), self.after),
            None => format!("{}{}", self.before, self.after),
        }
    }
}

/// What comes after the payment `p` of the subscription `r` (`None` when nothing is
/// worth saying: its charges are being retried, or it stopped renewing unpaid).
pub fn next_after(
    r: &paylink_store::SubscriptionRecord,
    p: &paylink_domain::checkout::Payment,
    locale: &crate::locale::Locale,
) -> Option<NextLine> {
    use paylink_domain::subscription::SubscriptionStatus as S;
    let s = &r.subscription;
    let amount = locale.money(s.currency, s.amount);
    let every = every(s);
    let line = |before: String, at: Option<Timestamp>, after: &str| NextLine {
        before,
        at,
        after: after.to_owned(),
    };
    match s.status {
        S::Canceled => {
            return Some(line(
                "Your subscription has ended; nothing more will be charged.".into(),
                None,
                "",
            ))
        }
        S::PastDue | S::Unpaid => return None,
        S::Trialing | S::Active => {}
    }
    if s.cancel_at_period_end {
        return Some(line(
            "Your subscription ends on".into(),
            s.current_period_end,
            "; nothing more will be charged.",
        ));
    }
    let next = s.next_charge_at?;
    // The checkout's own payment comes before the first renewal (or the trial's end).
    let trial = r.state.trial_start.is_some();
    let first_renewal = match trial {
        true => r.state.cycle.anchor(),
        false => r.state.cycle.period(1)?.start,
    };
    if p.created_at < first_renewal {
        let before = match trial {
            true => format!("Your free trial has started. Then {amount} {every} from"),
            false => format!("Then {amount} {every} from"),
        };
        Some(line(before, Some(next), "."))
    } else {
        Some(line(format!("Next charge of {amount} on"), Some(next), "."))
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
    use paylink_domain::subscription::Phase;
    let to = sub.customer.email.as_deref()?;
    let locale = crate::locale::Locale::of_merchant(settings);
    let amount = locale.money(sub.currency, sub.amount);
    let business = &settings.business_name;
    let what = &sub.description;
    let every = every(sub);
    let card = sub
        .payment_method
        .as_ref()
        .map(|c| format!("your {} card ending {}", capitalised(&c.brand), c.last4))
        .unwrap_or_else(|| "your card".to_owned());
    let (subject, paragraphs, action) = match event {
        SubscriptionEvent::TrialWillEnd => (
            format!("Your free trial of {what} ends on {}", day(after.trial_end()?)),
            vec![
                format!(
                    "Your free trial of {what} from {business} ends on {}.",
                    day(after.trial_end()?)
                ),
                format!("From then on, {amount} will be charged to {card} {every}. To stop before, cancel by that day and nothing will be charged."),
            ],
            "See your subscription, change your card or cancel",
        ),
        SubscriptionEvent::PaymentFailed => {
            let next = match after.phase {
                Phase::PastDue { .. } => match after.next_charge_at() {
                    Some(t) => format!(
                        "We will try again on {}. If you give us another card before then, we will try it right away.",
                        day(t)
                    ),
                    None => "Your subscription ends at the end of this period.".to_owned(),
                },
                Phase::Canceled { .. } => {
                    "We have tried several times, so your subscription has been canceled. Nothing more will be charged.".to_owned()
                }
                _ => format!(
                    "We have tried several times and will not try again: your subscription is on hold. Contact {business} to continue it."
                ),
            };
            (
                format!("Your payment to {business} failed"),
                vec![
                    format!("We could not charge {amount} to {card} for {what}."),
                    next,
                ],
                "Pay with another card",
            )
        }
        SubscriptionEvent::Canceled => (
            format!("Your subscription to {what} has ended"),
            vec![
                format!(
                    "Your subscription to {what} from {business} ended on {}.",
                    day(after.canceled_at().unwrap_or(at))
                ),
                "Nothing more will be charged. Thank you for being a subscriber.".to_owned(),
            ],
            "See your subscription and payments",
        ),
        SubscriptionEvent::Created | SubscriptionEvent::Renewed => return None,
    };
    let url = self_service_url(state, sub);
    let mut text = paragraphs.join("\n\n");
    text.push_str(&format!("\n\n{action}: {url}\n\n— {business}\n"));
    let html = branded(settings, &paragraphs, action, &url);
    Some(sealed(state, sub, &subject, &text, &html, to))
}

/// The HTML of a message: the merchant's name and colour, the paragraphs, one button.
fn branded(settings: &MerchantSettings, paragraphs: &[String], action: &str, url: &str) -> String {
    let brand = settings.brand_color.as_deref().unwrap_or("#1f4fd1");
    let ink = crate::checkout::furniture::ink_on(brand);
    let body: String = paragraphs
        .iter()
        .map(|p| {
            format!(
                "<p style=\"margin:0 0 12px;line-height:1.5\">{}</p>",
                html_escape(p)
            )
        })
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><body style=\"margin:0;padding:24px;background:#f4f6f9;font-family:Arial,Helvetica,sans-serif;color:#16181d\">\
<table role=\"presentation\" width=\"100%\" style=\"max-width:520px;margin:0 auto;background:#ffffff;border:1px solid #d5d9e0;border-radius:10px\"><tr><td style=\"padding:24px\">\
<p style=\"color:#4a5160;font-weight:bold;margin:0 0 16px\">{merchant}</p>{body}\
<p style=\"margin:20px 0 0\"><a href=\"{url}\" style=\"display:inline-block;background:{brand};color:{ink};padding:10px 18px;border-radius:6px;text-decoration:none;font-weight:bold\">{action}</a></p>\
</td></tr></table></body></html>",
        merchant = html_escape(&settings.business_name),
        url = html_escape(url),
        brand = html_escape(brand),
        action = html_escape(action),
    )
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A message whose bodies are sealed for itself (see the module's comment). It is
/// written now, whatever a test clock says: the outbox sends what is due by the real
/// clock, and one dated in the clock's future would wait until then.
pub fn sealed(
    state: &AppState,
    sub: &Subscription,
    subject: &str,
    text: &str,
    html: &str,
    to: &str,
) -> Email {
    let id = EmailId::generate();
    Email {
        kind: KIND.to_owned(),
        related_id: sub.id.to_string(),
        to: to.to_owned(),
        subject: subject.to_owned(),
        text_body: state.sealer.seal(text, id.as_str()),
        html_body: state.sealer.seal(html, id.as_str()),
        qr_url: None,
        status: state.outbox_status(),
        attempts: 0,
        last_error: None,
        livemode: sub.livemode,
        created_at: Timestamp::now(),
        id,
    }
}

pub(crate) use crate::email::html_escape;
