//! The link's checkout page (`GET /l/{slug}`, and the page again after a submit); the
//! furniture every page stands in is in `furniture.rs`, a session's pages and the receipt
//! have modules of their own.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use paylink_domain::checkout::{price, Choice};
use paylink_domain::id::random_base62;
use paylink_domain::link::{CustomFieldType, Interval, PaymentMethodType};
use paylink_domain::money::{Amount, Currency};
use paylink_domain::tax::PricingMode;
use paylink_domain::time::Timestamp;
use paylink_store::PublicLink;

use super::api::{currencies, in_currency};
use super::fields::FieldErrors;
use super::form::session_from_nonce;
use super::furniture::{gone_page, markdown, not_found_page, plain_summary, Shell, When};
use super::LinkView;
use crate::error::ApiError;
use crate::locale::{accept_language, Locale};
use crate::state::AppState;

// ---- the link page -------------------------------------------------------------------

struct LineView {
    index: usize,
    name: String,
    unit_price: String,
    /// Unit price × quantity (before tax).
    total: String,
    /// Minor units and the tax rate in millionths (empty: none), for the page's script.
    unit_minor: i64,
    rate: String,
    quantity: u32,
    min: u32,
    max: u32,
    adjustable: bool,
    sold_out: bool,
    hsa: bool,
}

struct DonationView {
    range: String,
    presets: Vec<(i64, String, bool)>,
    custom: String,
}

/// A free trial as the page says it: what is due today (nothing) and when the first
/// charge comes (the day the trial ends if the customer subscribes now, as the checkout
/// will set it).
struct TrialView {
    due_today: String,
    first_charge: When,
}

struct FieldView {
    key: String,
    /// `cf_{key}`: the input's id.
    id: String,
    label: String,
    optional: bool,
    numeric: bool,
    options: Vec<(String, String)>,
    value: String,
}

struct AddressView {
    legend: &'static str,
    prefix: &'static str,
    section: &'static str,
    line1: String,
    city: String,
    postal_code: String,
    country: String,
    /// `(code, name)` in the customer's language, by name.
    countries: Arc<Vec<(String, String)>>,
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage {
    shell: Shell,
    cancel_url: Option<String>,
    image_url: Option<String>,
    title: String,
    slug: String,
    description_html: String,
    /// For link previews where the link is shared: the description as plain text, or the
    /// total with the merchant's name.
    summary: String,
    url: String,
    subscription_terms: Option<String>,
    /// A subscription link's free trial: nothing is charged today.
    trial: Option<TrialView>,
    error: Option<String>,
    nonce: String,
    /// A storefront's [`super::catalog_fingerprint`].
    catalog: Option<String>,
    /// `(code, page in it, shown now)` when the link is sold in several currencies.
    currency_links: Vec<(String, String, bool)>,
    attribution: Vec<(String, String)>,
    lines: Vec<LineView>,
    any_adjustable: bool,
    donation: Option<DonationView>,
    currency: String,
    show_subtotal: bool,
    subtotal: String,
    tax_line: Option<(String, String)>,
    total: String,
    /// The total the page shows, in minor units: sent back with the form, and a submit whose
    /// cart prices otherwise is shown again with its total instead of being charged.
    shown_total: i64,
    inclusive: bool,
    exponent: u8,
    /// The customer's locale (BCP 47) and its decimal mark, for the page's script.
    locale: String,
    /// The locale's language and region (`de-DE`): the country names are in it.
    language: String,
    decimal: char,
    hsa_amount: Option<String>,
    /// ` / month` after a subscription's prices.
    per: String,
    email: String,
    name: String,
    phone: String,
    collect_phone: bool,
    custom_fields: Vec<FieldView>,
    addresses: Vec<AddressView>,
    accepts_card: bool,
    accepts_wallet: bool,
    /// The seller takes payments through Stripe: card details are typed on the next page,
    /// into Stripe's Payment Element.
    stripe: bool,
    expires: Option<When>,
    card_exp: String,
    confirm_wallet: bool,
    errors: FieldErrors,
    /// The first field with an error, in page order: it gets the focus.
    first_error: Option<String>,
}

impl LinkPage {
    /// What is wrong with the field `id`, if anything.
    fn err(&self, id: &str) -> Option<&str> {
        self.errors.get(id).map(String::as_str)
    }

    /// The field's attributes when it has an error: marked invalid, described by its
    /// message, and focused if it is the first (ids are `[A-Za-z0-9_]`, safe as they are).
    fn invalid(&self, id: &str) -> String {
        if !self.errors.contains_key(id) {
            return String::new();
        }
        let focus = if self.first_error.as_deref() == Some(id) {
            " autofocus"
        } else {
            ""
        };
        format!(" aria-invalid=\"true\" aria-describedby=\"{id}-error\"{focus}")
    }

    fn err_in(&self, prefix: &str, part: &str) -> Option<&str> {
        self.err(&format!("{prefix}_{part}"))
    }

    fn invalid_in(&self, prefix: &str, part: &str) -> String {
        self.invalid(&format!("{prefix}_{part}"))
    }
}

/// The fields the link page shows, in the order they appear (for the focus, and to tell
/// errors at a field from errors about none).
fn page_order(link: &paylink_domain::link::PaymentLink) -> Vec<String> {
    let mut ids: Vec<String> = link
        .line_items
        .iter()
        .enumerate()
        .filter(|(_, l)| l.adjustable_quantity.is_some_and(|a| a.enabled))
        .map(|(i, _)| format!("q{i}"))
        .collect();
    if link.donation.is_some() {
        ids.push("amount".into());
    }
    ids.extend(["email", "name"].map(String::from));
    if link.collect.phone {
        ids.push("phone".into());
    }
    ids.extend(link.custom_fields.iter().map(|f| format!("cf_{}", f.key)));
    for (on, prefix) in [
        (link.collect.billing_address, "billing"),
        (link.collect.shipping_address, "shipping"),
    ] {
        if on {
            for part in ["line1", "city", "postal_code", "country"] {
                ids.push(format!("{prefix}_{part}"));
            }
        }
    }
    if link.payment_method_types.contains(&PaymentMethodType::Card) {
        ids.extend(["card_number", "card_exp", "card_cvc"].map(String::from));
    }
    ids
}

/// The message above the form: the caller's, or how many fields are marked, followed by
/// the errors that concern no field on the page.
fn summary(error: Option<String>, errors: &FieldErrors, fields: &[String]) -> Option<String> {
    let marked = fields.iter().filter(|id| errors.contains_key(*id)).count();
    let elsewhere: Vec<&str> = errors
        .iter()
        .filter(|(id, _)| !fields.contains(id))
        .map(|(_, m)| m.as_str())
        .collect();
    let head = error.or(match marked {
        0 => None,
        1 => Some("Check the field marked below.".to_owned()),
        n => Some(format!("Check the {n} fields marked below.")),
    });
    let parts: Vec<&str> = head.iter().map(String::as_str).chain(elsewhere).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// What the customer has entered so far (from the query string or a submitted form).
#[derive(Default, Clone)]
pub struct Entered {
    pub quantities: Option<Vec<u32>>,
    pub amount: Option<Amount>,
    pub(super) amount_text: String,
    pub(super) email: String,
    pub(super) name: String,
    pub(super) phone: String,
    pub(super) custom: BTreeMap<String, String>,
    pub(super) billing: BTreeMap<String, String>,
    pub(super) shipping: BTreeMap<String, String>,
    pub(super) attribution: BTreeMap<String, String>,
    pub(super) nonce: Option<String>,
    /// The currency picked (the link's own when `None`).
    pub currency: Option<Currency>,
    /// The browser's `Accept-Language`: how money is written ([`Locale`]).
    pub(super) accept_language: Option<String>,
    /// What is wrong with which field, shown at the field.
    pub field_errors: FieldErrors,
    /// The card's expiry as typed, kept when the page is shown again (the number and the
    /// security code never are: a page never carries them).
    pub(super) card_exp: String,
    /// A wallet payment was asked for: the page asks to confirm its amount first.
    pub(super) confirm_wallet: bool,
}

/// A subscription's period as `(count, unit)`: `(1, "month")`, `(3, "month")`.
fn period(link: &paylink_domain::link::PaymentLink) -> Option<(u32, &'static str)> {
    let s = link.subscription?;
    let unit = match s.interval {
        Interval::Day => "day",
        Interval::Week => "week",
        Interval::Month => "month",
        Interval::Year => "year",
    };
    Some((s.interval_count, unit))
}

/// How often a subscription link charges (`every month`). The page says what is charged
/// today (nothing during a free trial, see [`TrialView`]) and what recurs.
fn subscription_terms(link: &paylink_domain::link::PaymentLink) -> Option<String> {
    period(link).map(|(n, unit)| match n {
        1 => format!("every {unit}"),
        n => format!("every {n} {unit}s"),
    })
}

/// ` / month` (` / 3 months`) after a subscription's prices; empty for one-off payments.
fn per_period(link: &paylink_domain::link::PaymentLink) -> String {
    match period(link) {
        None => String::new(),
        Some((1, unit)) => format!(" / {unit}"),
        Some((n, unit)) => format!(" / {n} {unit}s"),
    }
}

pub(super) async fn render_link(
    state: &AppState,
    view: &LinkView,
    e: &Entered,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let (p, stock) = (&view.p, &view.stock);
    let base = &p.link.value;
    let link = &*in_currency(base, e.currency).unwrap_or(Cow::Borrowed(base));
    let settings = state.public_settings(p.tenant.merchant_id()).await?;
    let stripe = crate::stripe::serves(&settings, p.link.value.livemode);
    let locale = Locale::negotiate(e.accept_language.as_deref(), &settings.default_locale);
    let cur = link.currency;
    let offered = currencies(base);
    // Switching currency keeps what the page was opened with (prefill, attribution).
    let mut kept = form_urlencoded::Serializer::new(String::new());
    if !e.email.is_empty() {
        kept.append_pair("prefilled_email", &e.email);
    }
    for (k, v) in &e.attribution {
        kept.append_pair(k, v);
    }
    let kept = kept.finish();
    let currency_links: Vec<(String, String, bool)> = if offered.len() > 1 {
        offered
            .iter()
            .map(|c| {
                let mut href = format!("/l/{}?currency={c}", base.slug.as_str());
                if !kept.is_empty() {
                    href.push('&');
                    href.push_str(&kept);
                }
                (c.to_string(), href, *c == cur)
            })
            .collect()
    } else {
        Vec::new()
    };
    // A page writes the same few amounts several times (a one-line cart's price, subtotal
    // and total are one amount): each is formatted once.
    let written = std::cell::RefCell::new(Vec::<(Amount, String)>::new());
    let fmt = |a: Amount| {
        if let Some((_, s)) = written.borrow().iter().find(|(x, _)| *x == a) {
            return s.clone();
        }
        let s = locale.money(cur, a);
        written.borrow_mut().push((a, s.clone()));
        s
    };
    let quantities: Vec<u32> = e
        .quantities
        .clone()
        .unwrap_or_else(|| link.line_items.iter().map(|l| l.quantity).collect());
    let lines: Vec<LineView> = link
        .line_items
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (adjustable, min, max) = match l.adjustable_quantity {
                Some(a) if a.enabled => (true, a.minimum, a.maximum),
                _ => (false, l.quantity, l.quantity),
            };
            let sold_out = stock
                .get(i)
                .is_some_and(|s| s.available.is_some_and(|a| a + s.held == 0));
            let quantity = quantities.get(i).copied().unwrap_or(l.quantity);
            let total = l
                .unit_amount
                .checked_mul(quantity)
                .map(fmt)
                .unwrap_or_default();
            LineView {
                index: i,
                name: l.name.clone(),
                unit_price: fmt(l.unit_amount),
                total,
                unit_minor: l.unit_amount.minor(),
                rate: l
                    .tax_rate
                    .as_ref()
                    .filter(|_| link.tax.collect)
                    .map(|r| r.percentage.millionths().to_string())
                    .unwrap_or_default(),
                quantity,
                min,
                max,
                adjustable,
                sold_out,
                hsa: l.hsa_fsa_eligible,
            }
        })
        .collect();
    let donation = link.donation.as_ref().map(|d| {
        let chosen = e.amount.or(d.default_amount);
        DonationView {
            range: format!("{} – {}", fmt(d.minimum), fmt(d.maximum)),
            presets: d
                .preset_amounts
                .iter()
                .map(|a| {
                    (
                        a.minor(),
                        fmt(*a),
                        Some(*a) == chosen && e.amount_text.is_empty(),
                    )
                })
                .collect(),
            custom: if !e.amount_text.is_empty() {
                e.amount_text.clone()
            } else {
                chosen
                    .filter(|c| !d.preset_amounts.contains(c))
                    .map(|c| locale.major(cur, c))
                    .unwrap_or_default()
            },
        }
    });
    let choice = Choice {
        quantities: Some(quantities.clone()),
        amount: e
            .amount
            .or(link.donation.as_ref().and_then(|d| d.default_amount)),
    };
    let (totals, hsa, price_error) = match price(link, &choice, &settings) {
        Ok(c) => (c.totals, c.hsa_fsa_amount, None),
        Err(err) => (
            link.default_totals().unwrap_or_default(),
            Amount::ZERO,
            Some(err.message),
        ),
    };
    let taxed = link.tax.collect && link.line_items.iter().any(|l| l.tax_rate.is_some());
    let tax_line = (totals.amount_tax > Amount::ZERO || taxed).then(|| {
        let label = match link.tax.pricing_mode {
            PricingMode::Inclusive => "Tax included".to_owned(),
            PricingMode::Exclusive => "Tax".to_owned(),
        };
        (label, fmt(totals.amount_tax))
    });
    let addresses = [
        (
            link.collect.billing_address,
            "Billing address",
            "billing",
            "billing",
            &e.billing,
        ),
        (
            link.collect.shipping_address,
            "Shipping address",
            "shipping",
            "shipping",
            &e.shipping,
        ),
    ]
    .into_iter()
    .filter(|(on, ..)| *on)
    .map(|(_, legend, prefix, section, v)| AddressView {
        legend,
        prefix,
        section,
        line1: v.get("line1").cloned().unwrap_or_default(),
        city: v.get("city").cloned().unwrap_or_default(),
        postal_code: v.get("postal_code").cloned().unwrap_or_default(),
        country: v
            .get("country")
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_default(),
        countries: locale.countries(),
    })
    .collect();
    let prefill = view.prefill.clone().unwrap_or_default();
    let nonce = e.nonce.clone().unwrap_or_else(random_base62);
    let fields = if e.field_errors.is_empty() {
        Vec::new()
    } else {
        page_order(link)
    };
    // The session this page will open is named by its nonce, so the placeholder is known now.
    let cancel_url = link.cancel_url.as_ref().map(|u| {
        u.replace(
            "{CHECKOUT_SESSION_ID}",
            session_from_nonce(&nonce).0.as_str(),
        )
    });
    let page = LinkPage {
        shell: Shell::of(&settings, link.livemode),
        cancel_url,
        image_url: link.image_url.clone(),
        title: link.title.clone(),
        slug: link.slug.as_str().to_owned(),
        description_html: link
            .description
            .as_deref()
            .map(markdown)
            .unwrap_or_default(),
        summary: link
            .description
            .as_deref()
            .map(plain_summary)
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| {
                format!("{} · {}", fmt(totals.amount_total), settings.business_name)
            }),
        url: format!("{}/l/{}", state.public_url, base.slug.as_str()),
        subscription_terms: subscription_terms(link),
        trial: link
            .subscription
            .filter(|t| t.trial_period_days > 0)
            .map(|t| TrialView {
                due_today: fmt(Amount::ZERO),
                first_charge: When::date(
                    Timestamp::now().plus_seconds(i64::from(t.trial_period_days) * 86_400),
                ),
            }),
        error: summary(
            error.or(if status == StatusCode::OK || !e.field_errors.is_empty() {
                None
            } else {
                price_error
            }),
            &e.field_errors,
            &fields,
        ),
        nonce,
        catalog: link.all_products.then(|| super::catalog_fingerprint(link)),
        currency_links,

        attribution: e
            .attribution
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        any_adjustable: lines.iter().any(|l| l.adjustable),
        lines,
        donation,
        currency: cur.code().to_owned(),
        show_subtotal: totals.amount_subtotal != totals.amount_total,
        subtotal: fmt(totals.amount_subtotal),
        tax_line,
        total: fmt(totals.amount_total),
        shown_total: totals.amount_total.minor(),
        inclusive: link.tax.pricing_mode == PricingMode::Inclusive,
        exponent: cur.exponent(),
        locale: locale.tag().to_owned(),
        decimal: locale.decimal_mark(),
        hsa_amount: (hsa > Amount::ZERO).then(|| fmt(hsa)),
        per: per_period(link),
        email: if e.email.is_empty() {
            prefill.email.unwrap_or_default()
        } else {
            e.email.clone()
        },
        name: if e.name.is_empty() {
            prefill.name.unwrap_or_default()
        } else {
            e.name.clone()
        },
        phone: e.phone.clone(),
        collect_phone: link.collect.phone,
        custom_fields: link
            .custom_fields
            .iter()
            .map(|f| FieldView {
                key: f.key.clone(),
                id: format!("cf_{}", f.key),
                label: f.label.clone(),
                optional: f.optional,
                numeric: f.kind == CustomFieldType::Numeric,
                options: f
                    .options
                    .iter()
                    .map(|o| (o.value.clone(), o.label.clone()))
                    .collect(),
                value: e.custom.get(&f.key).cloned().unwrap_or_default(),
            })
            .collect(),
        addresses,
        accepts_card: link.payment_method_types.contains(&PaymentMethodType::Card),
        // A wallet payment cannot be kept for renewals: a recurring link takes cards. With
        // Stripe, Stripe's Payment Element offers the wallets it can.
        accepts_wallet: link.subscription.is_none()
            && !stripe
            && link
                .payment_method_types
                .contains(&PaymentMethodType::Wallet),
        stripe,
        expires: link.expires_at.map(When::of),
        first_error: fields
            .iter()
            .find(|id| e.field_errors.contains_key(*id))
            .cloned(),
        language: locale.language_tag(),
        errors: e.field_errors.clone(),
        card_exp: e.card_exp.clone(),
        confirm_wallet: e.confirm_wallet,
    };
    Ok(page.shell.respond(status, page.render()))
}

pub(super) async fn gone_for(
    state: &AppState,
    p: &PublicLink,
    code: &str,
) -> Result<Response, ApiError> {
    let settings = state.public_settings(p.tenant.merchant_id()).await?;
    let heading = match code {
        "link_expired" => "This link has expired",
        "link_paid" => "Already paid",
        "link_cancelled" => "This link was cancelled",
        "link_not_open" => "Not open yet",
        "sold_out" => "Sold out",
        "order_paid" => "This order has already been paid",
        "order_cancelled" => "This order was cancelled",
        _ => "This link is not active",
    };
    let message = p
        .link
        .value
        .inactive_message
        .clone()
        .unwrap_or_else(|| match code {
            "link_not_open" => match p.link.value.opens_at {
                Some(t) => format!(
                    "Payments open on {}.",
                    t.to_rfc3339().replace('T', " at ").replace('Z', " UTC")
                ),
                None => "Payments are not open yet.".to_owned(),
            },
            "sold_out" => "Everything on this link has been sold.".to_owned(),
            _ => "Contact the seller if you believe this is a mistake.".to_owned(),
        });
    Ok(gone_page(
        StatusCode::GONE,
        Shell::of(&settings, p.link.value.livemode),
        heading,
        &message,
    ))
}

pub async fn link_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let view = match state.link_view(&slug).await {
        Ok(v) => v,
        Err(e) if e.status == StatusCode::NOT_FOUND => return Ok(not_found_page()),
        Err(e) => return Err(e),
    };
    let p = &view.p;
    if let Some(code) = view.unavailable(Timestamp::now()) {
        return gone_for(&state, p, code).await;
    }
    state.views.add(&p.link.value.id);
    let link = &p.link.value;
    let mut e = Entered {
        email: q.get("prefilled_email").cloned().unwrap_or_default(),
        currency: q.get("currency").and_then(|c| Currency::parse(c)),
        accept_language: accept_language(&headers),
        ..Entered::default()
    };
    if let Some(qty) = q.get("quantity").and_then(|v| v.parse::<u32>().ok()) {
        // `quantity` sets the first adjustable line.
        let mut qs: Vec<u32> = link.line_items.iter().map(|l| l.quantity).collect();
        if let Some(i) = link
            .line_items
            .iter()
            .position(|l| l.adjustable_quantity.is_some_and(|a| a.enabled))
        {
            if let Some(slot) = qs.get_mut(i) {
                *slot = qty;
            }
        }
        e.quantities = Some(qs);
    }
    if let Some(a) = q.get("amount") {
        e.amount = a
            .parse::<i64>()
            .ok()
            .and_then(Amount::new)
            .or_else(|| link.currency.parse_major(a));
    }
    e.attribution = attribution(q.iter());
    render_link(&state, &view, &e, None, StatusCode::OK).await
}

pub(super) fn attribution<'a>(
    pairs: impl Iterator<Item = (&'a String, &'a String)>,
) -> BTreeMap<String, String> {
    pairs
        .filter(|(k, v)| {
            (k.as_str() == "reference_id" || k.starts_with("utm_"))
                && k.len() <= 40
                && v.chars().count() <= 200
        })
        .take(10)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
