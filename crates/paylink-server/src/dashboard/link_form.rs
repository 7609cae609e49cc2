//! The form that makes a payment link of every type (a custom amount, catalog products, the
//! whole catalog as a storefront, a donation with presets, a subscription, an existing
//! order), beside a preview of the hosted page that follows what is typed
//! (`static/dashboard.js`; without script it shows the form's values as last sent).
//!
//! The form's fields become `POST /v1/payment_links`'s body here; every rule is the API's.
//! Amounts are typed in major units and read exactly ([`Currency::parse_major`]).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use paylink_domain::catalog::{Order, Product};
use paylink_domain::money::{Amount, Currency};
use paylink_domain::time::Timestamp;

use super::client::{Api, Page, Refusal};
use super::forms::invalid;
use super::view::money;
use super::{page, problem, see_other, Shell, Visit};
use crate::locale::Locale;
use crate::state::AppState;

/// The product rows the form offers (a link takes up to 20 lines through the API).
pub const PRODUCT_ROWS: usize = 5;

pub const KINDS: [(&str, &str); 6] = [
    ("custom", "An amount you set"),
    ("products", "Products from the catalog"),
    ("storefront", "The whole catalog (a storefront)"),
    ("donation", "A donation (the customer chooses)"),
    ("subscription", "A subscription"),
    ("order", "An existing order"),
];

pub const INTERVALS: [&str; 4] = ["day", "week", "month", "year"];

/// A choice in a select: its value and its text.
pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Deserialize, Default, Clone)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub nonce: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub product_1: String,
    #[serde(default)]
    pub quantity_1: String,
    #[serde(default)]
    pub product_2: String,
    #[serde(default)]
    pub quantity_2: String,
    #[serde(default)]
    pub product_3: String,
    #[serde(default)]
    pub quantity_3: String,
    #[serde(default)]
    pub product_4: String,
    #[serde(default)]
    pub quantity_4: String,
    #[serde(default)]
    pub product_5: String,
    #[serde(default)]
    pub quantity_5: String,
    /// Donation presets, as typed: `5, 10, 25`.
    #[serde(default)]
    pub presets: String,
    #[serde(default)]
    pub minimum: String,
    #[serde(default)]
    pub maximum: String,
    /// A recurring donation's interval (`month`), empty for a gift made once.
    #[serde(default)]
    pub repeat: String,
    #[serde(default)]
    pub interval: String,
    #[serde(default)]
    pub interval_count: String,
    #[serde(default)]
    pub trial_days: String,
    #[serde(default)]
    pub order_id: String,
    #[serde(default)]
    pub payments_limit: String,
    /// `YYYY-MM-DDTHH:MM`, read as UTC.
    #[serde(default)]
    pub expires_at: String,
}

impl LinkForm {
    /// The (product, quantity) rows as typed.
    pub fn rows(&self) -> [(&str, &str); PRODUCT_ROWS] {
        [
            (&self.product_1, &self.quantity_1),
            (&self.product_2, &self.quantity_2),
            (&self.product_3, &self.quantity_3),
            (&self.product_4, &self.quantity_4),
            (&self.product_5, &self.quantity_5),
        ]
        .map(|(p, q)| (p.trim(), q.trim()))
    }
}

/// One product row of the form, as drawn.
pub struct ProductRow {
    pub n: usize,
    pub product: String,
    pub quantity: String,
}

#[derive(Template)]
#[template(path = "dashboard/link_new.html")]
struct NewPage {
    shell: Shell,
    f: LinkForm,
    kinds: Vec<(&'static str, &'static str)>,
    currencies: Vec<&'static str>,
    intervals: Vec<&'static str>,
    products: Vec<Choice>,
    product_rows: Vec<ProductRow>,
    orders: Vec<Choice>,
    /// The preview's price line as the form stands.
    preview_price: String,
    error: Option<String>,
    error_param: String,
}

impl NewPage {
    fn invalid(&self, param: &str) -> bool {
        !self.error_param.is_empty()
            && (self.error_param == param || self.error_param.starts_with(&format!("{param}.")))
    }
}

/// The products for sale, as choices (the first 100).
pub async fn product_choices(v: &Visit, api: &Api, locale: &Locale) -> Vec<Choice> {
    api.get::<Page<Product>>(&v.caller(), "/v1/products?limit=100&active=true")
        .await
        .map(|p| {
            p.data
                .iter()
                .filter(|p| p.active)
                .map(|p| Choice {
                    value: p.id.to_string(),
                    label: format!("{} · {}", p.name, money(locale, p.currency, p.unit_amount)),
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn orders(v: &Visit, api: &Api, locale: &Locale) -> Vec<Choice> {
    api.get::<Page<Order>>(&v.caller(), "/v1/orders?limit=100&status=unpaid")
        .await
        .map(|p| {
            p.data
                .iter()
                .map(|o| Choice {
                    value: o.id.to_string(),
                    label: format!("{} · {}", o.id, money(locale, o.currency, o.amount_total)),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The products chosen, with their quantities (`2 × Mug · $9.00 + Tee · $25.00`).
fn chosen(f: &LinkForm, products: &[Choice]) -> String {
    f.rows()
        .iter()
        .filter_map(|(p, q)| {
            let c = products.iter().find(|c| c.value == *p)?;
            Some(match q.trim() {
                "" | "1" => c.label.clone(),
                q => format!("{q} × {}", c.label),
            })
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn preview_price(f: &LinkForm, products: &[Choice]) -> String {
    let amount = || {
        Currency::parse(&f.currency)
            .and_then(|c| c.parse_major(f.amount.trim()).map(|a| (c, a)))
            .map(|(c, a)| money(&Locale::negotiate(None, "en-US"), c, a))
    };
    match f.kind.as_str() {
        "donation" if INTERVALS.contains(&f.repeat.as_str()) => {
            format!("You choose the amount, every {}", f.repeat)
        }
        "donation" => "You choose the amount".to_owned(),
        "storefront" => "Every product for sale".to_owned(),
        "order" => "The order's total".to_owned(),
        "products" => {
            let chosen = chosen(f, products);
            if chosen.is_empty() {
                "Choose a product".to_owned()
            } else {
                chosen
            }
        }
        "subscription" => {
            let chosen = chosen(f, products);
            let what = if chosen.is_empty() {
                amount().unwrap_or_default()
            } else {
                chosen
            };
            if what.is_empty() {
                what
            } else {
                format!("{what} every {} {}", f.interval_count.trim(), f.interval)
            }
        }
        _ => amount().unwrap_or_default(),
    }
}

/// Adds `chosen` (an id of `collection`) to `choices` when a list's first page left it out,
/// so a form started from an older product or order still shows it chosen.
pub async fn include_chosen<T: serde::de::DeserializeOwned>(
    v: &Visit,
    api: &Api,
    choices: &mut Vec<Choice>,
    chosen: &str,
    collection: &str,
    label: impl Fn(&T) -> String,
) {
    let Some(id) = super::id(chosen) else {
        return;
    };
    if choices.iter().any(|c| c.value == id) {
        return;
    }
    if let Ok(found) = api
        .get::<T>(&v.caller(), &format!("/v1/{collection}/{id}"))
        .await
    {
        choices.push(Choice {
            value: id.to_owned(),
            label: label(&found),
        });
    }
}

async fn new_page(v: &Visit, api: &Api, f: LinkForm, error: Option<Refusal>) -> Response {
    let locale = Locale::negotiate(None, "en-US");
    let mut products = product_choices(v, api, &locale).await;
    for (p, _) in f.rows() {
        include_chosen::<Product>(v, api, &mut products, p, "products", |p| {
            format!("{} · {}", p.name, money(&locale, p.currency, p.unit_amount))
        })
        .await;
    }
    let mut orders = orders(v, api, &locale).await;
    include_chosen::<Order>(v, api, &mut orders, f.order_id.trim(), "orders", |o| {
        format!("{} · {}", o.id, money(&locale, o.currency, o.amount_total))
    })
    .await;
    let rows = f.rows();
    let product_rows = (1..=PRODUCT_ROWS)
        .zip(rows)
        .map(|(n, (p, q))| ProductRow {
            n,
            product: p.to_owned(),
            quantity: if q.is_empty() {
                "1".into()
            } else {
                q.to_owned()
            },
        })
        .collect();
    let status = error.as_ref().map_or(StatusCode::OK, |r| r.status);
    page(
        status,
        &NewPage {
            shell: v.shell("New payment link", "links"),
            kinds: KINDS.to_vec(),
            currencies: Currency::codes(),
            intervals: INTERVALS.to_vec(),
            preview_price: preview_price(&f, &products),
            products,
            product_rows,
            orders,
            error_param: error
                .as_ref()
                .and_then(|r| r.param.clone())
                .unwrap_or_default(),
            error: error.map(|r| r.message),
            f,
        },
    )
}

/// What the form may start with (`?type=products&product=prod_…` from a product's page,
/// `?type=order&order=ord_…` from an order's).
#[derive(Deserialize, Default)]
pub struct Start {
    #[serde(rename = "type")]
    kind: Option<String>,
    product: Option<String>,
    order: Option<String>,
}

pub async fn new_form(
    State(state): State<AppState>,
    v: Visit,
    Extension(api): Extension<Api>,
    Query(start): Query<Start>,
) -> Response {
    if !v.may("payment_links:write") {
        return problem(
            &v,
            StatusCode::FORBIDDEN,
            &format!("The `{}` role may not create payment links.", v.role),
        );
    }
    let kind = start
        .kind
        .filter(|k| KINDS.iter().any(|(x, _)| x == k))
        .unwrap_or_else(|| "custom".into());
    let f = LinkForm {
        kind,
        currency: super::links::default_currency(&state, &v).await,
        nonce: paylink_domain::id::random_base62(),
        product_1: start
            .product
            .as_deref()
            .and_then(super::id)
            .unwrap_or_default()
            .to_owned(),
        order_id: start
            .order
            .as_deref()
            .and_then(super::id)
            .unwrap_or_default()
            .to_owned(),
        interval: "month".into(),
        interval_count: "1".into(),
        ..LinkForm::default()
    };
    new_page(&v, &api, f, None).await
}

/// The presets as typed, one amount each: separated by spaces, `;` or new lines, a comma
/// only when a space follows it (`5, 10, 25`), so that `2,50` is one amount as the amount
/// field reads it (two euros fifty), never two. `5,10,25` is one token, refused.
fn presets(typed: &str) -> impl Iterator<Item = &str> {
    typed
        .split([' ', ';', '\n', '\r', '\t'])
        .map(|t| t.trim_end_matches(','))
        .filter(|t| !t.is_empty())
}

/// Whether a preset reads as thousands grouped by a comma or a point (`5,100`, `1.500`):
/// a list of presets typed with commas would read as one large amount, so it is asked
/// about rather than guessed.
/// In a currency of three decimals (`2.500` dinars) three digits after the mark are its
/// decimals, not a group.
fn grouped(token: &str, exponent: u32) -> bool {
    exponent != 3
        && token
            .rsplit_once([',', '.'])
            .is_some_and(|(_, tail)| tail.len() == 3 && tail.bytes().all(|b| b.is_ascii_digit()))
}

/// An amount typed in major units of `currency`, exactly.
fn major(currency: Currency, typed: &str, param: &str, what: &str) -> Result<Amount, Refusal> {
    currency.parse_major(typed.trim()).ok_or_else(|| {
        invalid(
            format!(
                "Enter {what} in {} with at most {} decimals, such as 25.00",
                currency.code(),
                currency.exponent()
            ),
            param,
        )
    })
}

fn whole(typed: &str, param: &str, what: &str) -> Result<Option<u32>, Refusal> {
    let t = typed.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<u32>()
        .map(Some)
        .map_err(|_| invalid(format!("Enter {what} as a whole number"), param))
}

/// The product lines chosen (a row without a product is no line).
fn product_lines(f: &LinkForm) -> Result<Vec<Value>, Refusal> {
    let mut lines = Vec::new();
    for (n, (product, quantity)) in f.rows().iter().enumerate() {
        if product.is_empty() {
            continue;
        }
        let q = whole(
            quantity,
            &format!("line_items.{n}.quantity"),
            "the quantity",
        )?
        .unwrap_or(1);
        lines.push(json!({ "product_id": product, "quantity": q }));
    }
    Ok(lines)
}

/// `POST /v1/payment_links`'s body for the form.
pub fn body(f: &LinkForm) -> Result<Value, Refusal> {
    let mut b = Map::new();
    b.insert("title".into(), json!(f.title.trim()));
    let description = super::forms::text_or_null(&f.description);
    if !description.is_null() {
        b.insert("description".into(), description);
    }
    let currency = Currency::parse(f.currency.trim());
    let currency_needed = || currency.ok_or_else(|| invalid("Choose a currency", "currency"));
    // A form sent without a type (an older page, a script) makes a link of one amount.
    match if f.kind.is_empty() {
        "custom"
    } else {
        f.kind.as_str()
    } {
        "custom" => {
            let c = currency_needed()?;
            b.insert("type".into(), json!("custom"));
            b.insert("currency".into(), json!(c.code()));
            b.insert(
                "amount".into(),
                json!(major(c, &f.amount, "amount", "the amount")?.minor()),
            );
        }
        "products" => {
            let lines = product_lines(f)?;
            if lines.is_empty() {
                return Err(invalid("Choose at least one product", "line_items"));
            }
            b.insert("type".into(), json!("products"));
            b.insert("line_items".into(), Value::Array(lines));
        }
        "storefront" => {
            b.insert("type".into(), json!("products"));
            b.insert("all_products".into(), json!(true));
        }
        "donation" => {
            let c = currency_needed()?;
            b.insert("type".into(), json!("donation"));
            b.insert("currency".into(), json!(c.code()));
            let mut d = Map::new();
            let presets = presets(&f.presets)
                .map(|s| {
                    if grouped(s, u32::from(c.exponent())) {
                        return Err(invalid(
                            format!("Is “{s}” one amount or two? Separate presets with spaces and write amounts without thousands separators, such as 5 10 1500"),
                            "donation.preset_amounts",
                        ));
                    }
                    major(c, s, "donation.preset_amounts", "each preset").map(|a| a.minor())
                })
                .collect::<Result<Vec<_>, _>>()?;
            if !presets.is_empty() {
                d.insert("preset_amounts".into(), json!(presets));
            }
            for (k, typed, what) in [
                ("minimum", &f.minimum, "the minimum"),
                ("maximum", &f.maximum, "the maximum"),
            ] {
                if !typed.trim().is_empty() {
                    let param = format!("donation.{k}");
                    d.insert(k.into(), json!(major(c, typed, &param, what)?.minor()));
                }
            }
            b.insert("donation".into(), Value::Object(d));
            // A recurring donation: the amount the donor chooses recurs.
            if !f.repeat.trim().is_empty() {
                let interval = INTERVALS
                    .iter()
                    .find(|i| **i == f.repeat.trim())
                    .ok_or_else(|| {
                        invalid("Choose how often it repeats", "subscription.interval")
                    })?;
                b.insert("subscription".into(), json!({ "interval": interval }));
            }
        }
        "subscription" => {
            let interval = INTERVALS
                .iter()
                .find(|i| **i == f.interval)
                .ok_or_else(|| invalid("Choose how often it renews", "subscription.interval"))?;
            let count = whole(
                &f.interval_count,
                "subscription.interval_count",
                "the interval count",
            )?
            .unwrap_or(1);
            let trial = whole(
                &f.trial_days,
                "subscription.trial_period_days",
                "the trial days",
            )?
            .unwrap_or(0);
            b.insert("type".into(), json!("subscription"));
            b.insert(
                "subscription".into(),
                json!({"interval": interval, "interval_count": count, "trial_period_days": trial}),
            );
            let lines = product_lines(f)?;
            if lines.is_empty() {
                let c = currency_needed()?;
                b.insert("currency".into(), json!(c.code()));
                b.insert(
                    "amount".into(),
                    json!(major(c, &f.amount, "amount", "the amount")?.minor()),
                );
            } else if !f.amount.trim().is_empty() {
                // What renews is the products or the amount, never a guess between them.
                return Err(invalid(
                    "A subscription renews either its products or an amount: empty the amount, or choose no product",
                    "amount",
                ));
            } else {
                b.insert("line_items".into(), Value::Array(lines));
            }
        }
        "order" => {
            let order = super::id(f.order_id.trim())
                .ok_or_else(|| invalid("Choose an order", "order_id"))?;
            b.insert("type".into(), json!("order"));
            b.insert("order_id".into(), json!(order));
        }
        _ => return Err(invalid("Choose what the link sells", "type")),
    }
    if let Some(limit) = whole(&f.payments_limit, "payments_limit", "the payments limit")? {
        b.insert("payments_limit".into(), json!(limit));
    }
    let expires = f.expires_at.trim();
    if !expires.is_empty() {
        let at = utc_minute(expires)
            .ok_or_else(|| invalid("Enter the expiry as a date and time (UTC)", "expires_at"))?;
        b.insert("expires_at".into(), json!(at.to_rfc3339()));
    }
    Ok(Value::Object(b))
}

/// `YYYY-MM-DDTHH:MM` (what a `datetime-local` field sends), as that minute in UTC.
pub fn utc_minute(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let full = match s.len() {
        16 => format!("{s}:00Z"),
        19 => format!("{s}Z"),
        _ => return None,
    };
    Timestamp::parse(&full)
}

/// The link, made by `POST /v1/payment_links` (the form's nonce is its idempotency key:
/// sent twice, it makes one link).
pub async fn create(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(mut f): Form<LinkForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    f.nonce = super::forms::nonce(&f.nonce);
    let body = match body(&f) {
        Ok(b) => b,
        Err(r) => return new_page(&v, &api, f, Some(r)).await,
    };
    match super::forms::create(&v, &api, "/v1/payment_links", &body, &mut f.nonce).await {
        Ok(link) => see_other(&format!("/dashboard/links/{}", super::forms::id_of(&link))),
        Err(r) => new_page(&v, &api, f, Some(r)).await,
    }
}
