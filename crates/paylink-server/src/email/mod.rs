//! E-mail: messages are composed when they are queued (the outbox) and sent by the worker
//! over SMTP with retries. Without `PAYLINK_SMTP_URL` they are held in the outbox, visible
//! through `GET /v1/emails`. A receipt written with its payment is the exception: it names
//! the payment and is composed when it is sent or listed ([`compose`]).

use std::time::Duration;

use askama::Template;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use paylink_domain::checkout::Payment;
use paylink_domain::email::{Email, EmailStatus, RECEIPT};
use paylink_domain::id::{EmailId, PaymentId};
use paylink_domain::link::PaymentLink;
use paylink_domain::settings::MerchantSettings;
use paylink_domain::time::Timestamp;

use crate::config::Config;
use crate::state::AppState;

/// Retries after a failed send, unless `email_retry_schedule` says otherwise.
const DEFAULT_SCHEDULE: &str = "30s,2m,10m,1h,6h";

#[derive(Template)]
#[template(path = "email_link.html")]
struct LinkEmail<'a> {
    merchant: &'a str,
    logo_url: Option<&'a str>,
    title: &'a str,
    message: Option<&'a str>,
    amount: String,
    url: &'a str,
    brand: &'a str,
    brand_text: &'a str,
}

#[derive(Template)]
#[template(path = "email_receipt.html")]
struct ReceiptEmail<'a> {
    merchant: &'a str,
    number: &'a str,
    lines: Vec<(String, u32, String)>,
    tax: Option<String>,
    total: String,
    /// Refunded before the receipt went out (it is composed when sent).
    refunded: Option<String>,
    hsa_fsa: Option<String>,
    /// `Paid with … on …`.
    paid: String,
    url: &'a str,
    brand: &'a str,
    /// A subscription's payment: what comes next. The customer's self-service link is
    /// added only when the message is sent ([`with_self_service`]), in place of the marker
    /// this leaves, so the outbox never keeps it.
    next: Option<String>,
}

/// Where a receipt of a subscription's payment gets its self-service link when sent.
const SELF_SERVICE_MARK: &str = "<!--self-service-->";

fn brand(s: &MerchantSettings) -> &str {
    s.brand_color.as_deref().unwrap_or("#1f4fd1")
}

/// The e-mail that shares a link.
pub fn link_email(
    settings: &MerchantSettings,
    link: &PaymentLink,
    url: &str,
    to: &str,
    message: Option<&str>,
    now: Timestamp,
) -> anyhow::Result<Email> {
    let locale = crate::locale::Locale::of_merchant(settings);
    let money = |c, a| locale.money(c, a);
    let amount = match (&link.donation, link.default_totals()) {
        (Some(d), _) => format!("Any amount from {}", money(link.currency, d.minimum)),
        (None, Some(t)) => money(link.currency, t.amount_total),
        (None, None) => String::new(),
    };
    let html = LinkEmail {
        merchant: &settings.business_name,
        logo_url: settings.logo_url.as_deref(),
        title: &link.title,
        message,
        amount: amount.clone(),
        url,
        brand: brand(settings),
        brand_text: "#ffffff",
    }
    .render()?;
    let mut text = String::new();
    if let Some(m) = message {
        text.push_str(m);
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "{}\n{amount}\n\nPay here: {url}\n\n— {}\n",
        link.title, settings.business_name
    ));
    Ok(Email {
        id: EmailId::generate(),
        kind: "payment_link".into(),
        related_id: link.id.to_string(),
        to: to.to_owned(),
        subject: format!("{}: {}", settings.business_name, link.title),
        text_body: text,
        html_body: html,
        qr_url: Some(url.to_owned()),
        status: EmailStatus::Pending,
        attempts: 0,
        last_error: None,
        livemode: link.livemode,
        created_at: now,
    })
}

/// The e-mail that carries a payment's receipt, numbered `number`.
pub fn receipt_email(
    settings: &MerchantSettings,
    p: &Payment,
    number: &str,
    to: &str,
    now: Timestamp,
) -> anyhow::Result<Email> {
    receipt_email_of(settings, p, number, to, now, None)
}

/// A receipt as [`receipt_email`], saying what comes next when the payment is a
/// subscription's (`sub`).
pub fn receipt_email_of(
    settings: &MerchantSettings,
    p: &Payment,
    number: &str,
    to: &str,
    now: Timestamp,
    sub: Option<&paylink_store::SubscriptionRecord>,
) -> anyhow::Result<Email> {
    let locale = crate::locale::Locale::of_merchant(settings);
    let next = sub
        .and_then(|r| crate::subscriptions::mail::next_after(r, p, &locale))
        .map(|n| n.text());
    let money = |c, a| locale.money(c, a);
    let cur = p.currency;
    let url = p.receipt_url.clone().unwrap_or_default();
    let method = match &p.payment_method.card {
        Some(c) => format!("{} ending {}", capitalised(&c.brand), c.last4),
        None => "a mobile wallet".to_owned(),
    };
    let lines: Vec<(String, u32, String)> = p
        .line_items
        .iter()
        .map(|l| (l.name.clone(), l.quantity, money(cur, l.amount_subtotal)))
        .collect();
    let date = p
        .created_at
        .to_rfc3339()
        .replace('T', " ")
        .replace('Z', " UTC");
    let hsa_fsa = (p.hsa_fsa_amount.minor() > 0).then(|| money(cur, p.hsa_fsa_amount));
    let refunded = (p.amount_refunded.minor() > 0).then(|| money(cur, p.amount_refunded));
    // A trial's checkout paid nothing: it kept the card.
    let paid = match p.subscription_id.is_some() && p.amount.minor() == 0 {
        true => format!("Card kept for the payments to come: {method}, on {date}."),
        false => format!("Paid with {method} on {date}."),
    };
    let html = ReceiptEmail {
        merchant: &settings.business_name,
        number,
        lines: lines.clone(),
        tax: (p.amount_tax.minor() > 0).then(|| money(cur, p.amount_tax)),
        total: money(cur, p.amount),
        refunded: refunded.clone(),
        hsa_fsa: hsa_fsa.clone(),
        paid: paid.clone(),
        url: &url,
        brand: brand(settings),
        next: next.clone(),
    }
    .render()?;
    let mut text = format!("Receipt {number} from {}\n\n", settings.business_name);
    for (name, qty, amount) in &lines {
        text.push_str(&format!("{name} × {qty}: {amount}\n"));
    }
    if let Some(tax) = (p.amount_tax.minor() > 0).then(|| money(cur, p.amount_tax)) {
        text.push_str(&format!("Tax: {tax}\n"));
    }
    text.push_str(&format!("Total: {}\n", money(cur, p.amount)));
    if let Some(r) = &refunded {
        text.push_str(&format!("Refunded: {r}\n"));
    }
    if let Some(h) = &hsa_fsa {
        text.push_str(&format!("HSA/FSA eligible: {h}\n"));
    }
    text.push_str(&format!("{paid}\n"));
    if let Some(n) = &next {
        text.push_str(&format!("\n{n}\n"));
    }
    text.push_str(&format!("\nView or print: {url}\n"));
    Ok(Email {
        id: EmailId::generate(),
        kind: RECEIPT.into(),
        related_id: p.id.to_string(),
        to: to.to_owned(),
        subject: format!("Receipt {number} from {}", settings.business_name),
        text_body: text,
        html_body: html,
        qr_url: None,
        status: EmailStatus::Pending,
        attempts: 0,
        last_error: None,
        livemode: p.livemode,
        created_at: now,
    })
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Gives a receipt written with its payment ([`Email::receipt_of`]) its subject and body,
/// from the payment and the merchant's settings as they are now; other messages are left
/// as they are.
pub async fn compose(state: &AppState, e: &mut Email) -> anyhow::Result<()> {
    if e.is_composed() {
        return Ok(());
    }
    let id = PaymentId::parse(&e.related_id)
        .ok_or_else(|| anyhow::anyhow!("receipt {} names no payment", e.id))?;
    let (tenant, p, _) = state.store.get_payment_public(&id).await?;
    let settings = state.public_settings(tenant.merchant_id()).await?;
    let number = p.receipt_number.as_deref().unwrap_or_default();
    let sub = subscription_of(state, &tenant, &p).await?;
    let full = receipt_email_of(&settings, &p, number, &e.to, e.created_at, sub.as_ref())?;
    e.subject = full.subject;
    e.text_body = full.text_body;
    e.html_body = full.html_body;
    Ok(())
}

/// The subscription a payment renewed or started, if any (of the payment's merchant).
async fn subscription_of(
    state: &AppState,
    tenant: &paylink_store::Tenant,
    p: &Payment,
) -> anyhow::Result<Option<paylink_store::SubscriptionRecord>> {
    let Some(id) = &p.subscription_id else {
        return Ok(None);
    };
    match state.store.get_subscription_public(id).await {
        Ok(r) if &r.tenant == tenant => Ok(Some(r)),
        Ok(_) | Err(paylink_store::StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A receipt of a subscription's payment as it goes out: with the customer's self-service
/// link (a capability: never written to the outbox, so added here, to the copy sent).
async fn with_self_service(state: &AppState, mut e: Email) -> anyhow::Result<Email> {
    if e.kind != RECEIPT {
        return Ok(e);
    }
    let Some(id) = PaymentId::parse(&e.related_id) else {
        return Ok(e);
    };
    let (tenant, p, _) = state.store.get_payment_public(&id).await?;
    let Some(r) = subscription_of(state, &tenant, &p).await? else {
        return Ok(e);
    };
    // Only to the subscriber: a receipt sent again to another address (`payments:write`
    // may send one anywhere) must not hand over the power to cancel or change the card.
    let to_subscriber = r
        .subscription
        .customer
        .email
        .as_deref()
        .is_some_and(|own| own.eq_ignore_ascii_case(e.to.trim()));
    if !to_subscriber {
        return Ok(e);
    }
    let url = crate::subscriptions::mail::self_service_url(state, &r.subscription);
    e.text_body.push_str(&format!(
        "\nSee your subscription, change your card or cancel: {url}\n"
    ));
    let settings = state.public_settings(tenant.merchant_id()).await?;
    let link = format!(
        "<p><a href=\"{}\" style=\"color:{}\">See your subscription, change your card or cancel</a></p>",
        crate::subscriptions::mail::html_escape(&url),
        brand(&settings)
    );
    e.html_body = match e.html_body.find(SELF_SERVICE_MARK) {
        Some(_) => e.html_body.replacen(SELF_SERVICE_MARK, &link, 1),
        None => match e.html_body.rfind("</body>") {
            Some(at) => {
                let mut h = e.html_body.clone();
                h.insert_str(at, &link);
                h
            }
            None => format!("{}{link}", e.html_body),
        },
    };
    Ok(e)
}

/// The message as it goes out: one that carries a sign-in token (an invitation, a password
/// reset) is kept sealed in the outbox (`accounts::recovery`), so neither the database nor
/// `GET /v1/emails` shows the token; it is opened only here, to be sent.
fn unseal(state: &AppState, e: &Email) -> anyhow::Result<Email> {
    let mut out = e.clone();
    if crate::secrets::Sealer::is_sealed(&e.text_body) {
        out.text_body = state.sealer.open(&e.text_body, e.id.as_str())?;
        out.html_body = state.sealer.open(&e.html_body, e.id.as_str())?;
    }
    Ok(out)
}

/// Text made safe inside HTML (the hand-written bodies of sealed messages).
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Sends queued messages over SMTP.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    schedule: Vec<Duration>,
}

impl Mailer {
    /// `None` when no SMTP server is configured.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        let Some(url) = &config.smtp_url else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = config
            .email_from
            .as_deref()
            .unwrap_or("Paylink <no-reply@paylink.invalid>");
        let from: Mailbox = from
            .parse()
            .map_err(|e| anyhow::anyhow!("email_from `{from}`: {e}"))?;
        let schedule = crate::webhooks::deliver::parse_schedule(
            config
                .email_retry_schedule
                .as_deref()
                .unwrap_or(DEFAULT_SCHEDULE),
        )?;
        Ok(Some(Self {
            transport,
            from,
            schedule,
        }))
    }

    fn build(&self, e: &Email) -> anyhow::Result<Message> {
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(e.text_body.clone());
        let html = SinglePart::builder()
            .header(ContentType::TEXT_HTML)
            .body(e.html_body.clone());
        let body = match &e.qr_url {
            Some(url) => {
                let code = qrcode::QrCode::with_error_correction_level(
                    url.as_bytes(),
                    qrcode::EcLevel::M,
                )?;
                let png = crate::api::qr::render_png(&code, 400)
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                let qr =
                    Attachment::new_inline("qr".into()).body(png, ContentType::parse("image/png")?);
                MultiPart::alternative()
                    .singlepart(text)
                    .multipart(MultiPart::related().singlepart(html).singlepart(qr))
            }
            None => MultiPart::alternative().singlepart(text).singlepart(html),
        };
        Ok(Message::builder()
            .from(self.from.clone())
            .to(e.to.parse()?)
            .subject(&e.subject)
            .multipart(body)?)
    }

    /// Sends one batch; returns how many were attempted.
    pub async fn run_once(&self, state: &AppState) -> usize {
        let store = state.store.as_ref();
        let mut emails = match store.claim_emails(Timestamp::now(), 16, 120).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "claiming e-mails failed");
                return 0;
            }
        };
        for e in &mut emails {
            // Kept as composed (a receipt), sent as opened (a message sealed in the outbox).
            let built = match compose(state, e).await {
                Ok(()) => match unseal(state, e) {
                    Ok(opened) => with_self_service(state, opened)
                        .await
                        .and_then(|sent| self.build(&sent)),
                    Err(err) => Err(err),
                },
                Err(err) => Err(err),
            };
            let result = match built {
                Ok(m) => self
                    .transport
                    .send(m)
                    .await
                    .map(|_| ())
                    .map_err(|err| err.to_string()),
                Err(err) => Err(err.to_string()),
            };
            let (error, retry_at) = match &result {
                Ok(()) => (None, None),
                Err(err) => {
                    let next = usize::try_from(e.attempts)
                        .ok()
                        .and_then(|a| self.schedule.get(a));
                    let secs =
                        |d: &Duration| i64::try_from(d.as_millis().div_ceil(1000)).unwrap_or(60);
                    (
                        Some(err.as_str()),
                        next.map(|d| Timestamp::now().plus_seconds(secs(d))),
                    )
                }
            };
            tracing::info!(email.id = %e.id, ok = result.is_ok(), "e-mail attempt");
            if let Err(err) = store.finish_email(&e.id, error, retry_at, Some(e)).await {
                tracing::warn!(error = %err, "recording an e-mail attempt failed");
            }
        }
        emails.len()
    }
}
