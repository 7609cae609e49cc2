//! The catalog's forms: a product (new, and its page that changes it: price, stock, image,
//! tax rate, archived or not) and tax rates (listed, and a form that adds one). Every
//! write is the API's own (`POST`/`PATCH /v1/products`, `POST /v1/tax_rates`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::{json, Value};

use paylink_domain::catalog::{Product, TaxRate};
use paylink_domain::money::Currency;

use super::client::{Api, Page, Refusal};
use super::forms::{create, fresh, id_of, invalid, nonce, text_or_null, Shown};
use super::view::{clean, when};
use super::{page, problem, refused, see_other, Shell, Visit};
use crate::state::AppState;

/// A tax rate as a choice in a form.
pub struct RateChoice {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "dashboard/product.html")]
struct ProductPage {
    shell: Shell,
    /// `None` for a new product.
    id: Option<String>,
    f: ProductForm,
    currencies: Vec<&'static str>,
    rates: Vec<RateChoice>,
    may_write: bool,
    created: String,
    error: Option<String>,
    error_param: String,
}

#[derive(Deserialize, Default, Clone)]
pub struct ProductForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub image_url: String,
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub tax_rate_id: String,
    /// Units in stock; empty: not tracked.
    #[serde(default)]
    pub stock: String,
    /// `"on"` when ticked (edit only).
    #[serde(default)]
    pub active: String,
    /// What the edit form showed ([`Shown`]).
    #[serde(default)]
    pub shown: String,
}

fn rate_choice(r: &TaxRate) -> RateChoice {
    RateChoice {
        id: r.id.to_string(),
        label: format!(
            "{} ({} %, {}){}",
            r.display_name,
            r.percentage,
            if r.inclusive { "included" } else { "added" },
            if r.active { "" } else { " — archived" }
        ),
    }
}

/// The active tax rates (the first 100), and `current` whatever it is (archived, or further
/// down the list): a form never shows a product's rate as "None".
async fn rate_choices(v: &Visit, api: &Api, current: &str) -> Vec<RateChoice> {
    let mut rates: Vec<RateChoice> = api
        .get::<Page<TaxRate>>(&v.caller(), "/v1/tax_rates?limit=100")
        .await
        .map(|p| {
            p.data
                .iter()
                .filter(|r| r.active)
                .map(rate_choice)
                .collect()
        })
        .unwrap_or_default();
    if let Some(id) = super::id(current).filter(|id| !rates.iter().any(|r| r.id == *id)) {
        if let Ok(r) = api
            .get::<TaxRate>(&v.caller(), &format!("/v1/tax_rates/{id}"))
            .await
        {
            rates.push(rate_choice(&r));
        }
    }
    rates
}

async fn product_page(
    v: &Visit,
    api: &Api,
    id: Option<String>,
    f: ProductForm,
    created: String,
    error: Option<Refusal>,
) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, |r| r.status);
    let title = if id.is_some() {
        f.name.clone()
    } else {
        "New product".to_owned()
    };
    page(
        status,
        &ProductPage {
            shell: v.shell(title, "products"),
            id,
            currencies: Currency::codes(),
            rates: rate_choices(v, api, &f.tax_rate_id).await,
            may_write: v.may("products:write"),
            created,
            error_param: error
                .as_ref()
                .and_then(|r| r.param.clone())
                .unwrap_or_default(),
            error: error.map(|r| r.message),
            f,
        },
    )
}

pub async fn new_product(
    State(state): State<AppState>,
    v: Visit,
    Extension(api): Extension<Api>,
) -> Response {
    if !v.may("products:write") {
        return problem(
            &v,
            StatusCode::FORBIDDEN,
            &format!("The `{}` role may not create products.", v.role),
        );
    }
    let f = ProductForm {
        currency: super::links::default_currency(&state, &v).await,
        nonce: fresh(),
        active: "on".into(),
        ..ProductForm::default()
    };
    product_page(&v, &api, None, f, String::new(), None).await
}

/// The form's fields as the API's body: prices in minor units, exactly. A new product
/// leaves out what was left empty; an edit sends only what the person changed
/// ([`Shown`]), an emptied field as `null`.
fn product_body(f: &ProductForm, editing: bool) -> Result<Value, Refusal> {
    let shown = if editing {
        Shown::parse(&f.shown)
    } else {
        Shown::default()
    };
    let currency = Currency::parse(f.currency.trim())
        .ok_or_else(|| invalid("Choose a currency", "currency"))?;
    let amount = currency.parse_major(f.price.trim()).ok_or_else(|| {
        invalid(
            format!(
                "Enter the price in {} with at most {} decimals, such as 25.00",
                currency.code(),
                currency.exponent()
            ),
            "unit_amount",
        )
    })?;
    let stock = f.stock.trim();
    let inventory = if stock.is_empty() {
        Value::Null
    } else {
        let n: u32 = stock.parse().map_err(|_| {
            invalid(
                "Enter the units in stock as a whole number, or leave it empty not to track stock",
                "inventory",
            )
        })?;
        json!({ "available": n })
    };
    // The price is one change of amount and currency, compared as amounts ("25" is "25.00").
    let price_changed = !editing
        || shown.changed("currency", &f.currency)
        || shown
            .get("price")
            .and_then(|p| currency.parse_major(p))
            .is_none_or(|was| was != amount);
    let mut body = shown.body(vec![
        ("name", &f.name, json!(f.name.trim())),
        ("description", &f.description, text_or_null(&f.description)),
        ("image_url", &f.image_url, text_or_null(&f.image_url)),
        ("tax_rate_id", &f.tax_rate_id, text_or_null(&f.tax_rate_id)),
        ("stock", &f.stock, inventory),
    ]);
    if let Some(stock) = body.remove("stock") {
        body.insert("inventory".into(), stock);
    }
    if price_changed {
        body.insert("unit_amount".into(), json!(amount.minor()));
        body.insert("currency".into(), json!(currency.code()));
    }
    if !editing {
        // A new product: what was left empty is left out.
        body.retain(|_, v| !v.is_null());
    } else if shown.changed("active", &f.active) {
        body.insert("active".into(), json!(f.active == "on"));
    }
    Ok(Value::Object(body))
}

pub async fn create_product(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(mut f): Form<ProductForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    f.nonce = nonce(&f.nonce);
    let body = match product_body(&f, false) {
        Ok(b) => b,
        Err(r) => return product_page(&v, &api, None, f, String::new(), Some(r)).await,
    };
    match create(&v, &api, "/v1/products", &body, &mut f.nonce).await {
        Ok(p) => see_other(&format!("/dashboard/products/{}", id_of(&p))),
        Err(r) => product_page(&v, &api, None, f, String::new(), Some(r)).await,
    }
}

fn form_of(p: &Product) -> ProductForm {
    let stock = p
        .inventory
        .as_ref()
        .map_or_else(String::new, |i| i.available.to_string());
    let mut f = ProductForm {
        name: p.name.clone(),
        description: p.description.clone().unwrap_or_default(),
        image_url: p.image_url.clone().unwrap_or_default(),
        price: p.currency.major(p.unit_amount),
        currency: p.currency.code().to_owned(),
        tax_rate_id: p
            .tax_rate_id
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
        stock,
        active: if p.active { "on".into() } else { String::new() },
        ..ProductForm::default()
    };
    f.shown = Shown::encode(&[
        ("name", &f.name),
        ("description", &f.description),
        ("image_url", &f.image_url),
        ("price", &f.price),
        ("currency", &f.currency),
        ("tax_rate_id", &f.tax_rate_id),
        ("stock", &f.stock),
        ("active", &f.active),
    ]);
    f
}

pub async fn product(v: Visit, Extension(api): Extension<Api>, Path(id): Path<String>) -> Response {
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    match api
        .get::<Product>(&v.caller(), &format!("/v1/products/{id}"))
        .await
    {
        Ok(p) => product_page(&v, &api, Some(id), form_of(&p), when(p.created_at), None).await,
        Err(r) => refused(&v, &r),
    }
}

/// `PATCH /v1/products/{id}` with the form (the same values twice change nothing more).
pub async fn update_product(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<ProductForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let body = match product_body(&f, true) {
        Ok(b) => b,
        Err(r) => return product_page(&v, &api, Some(id), f, String::new(), Some(r)).await,
    };
    match api
        .call(
            &v.caller(),
            Method::PATCH,
            &format!("/v1/products/{id}"),
            Some(&body),
            None,
        )
        .await
    {
        Ok(_) => see_other(&format!("/dashboard/products/{id}")),
        Err(r) if r.status == StatusCode::NOT_FOUND => refused(&v, &r),
        Err(r) => product_page(&v, &api, Some(id), f, String::new(), Some(r)).await,
    }
}

pub struct RateRow {
    pub name: String,
    pub percentage: String,
    pub inclusive: bool,
    pub active: bool,
    pub created: String,
}

#[derive(Template)]
#[template(path = "dashboard/tax_rates.html")]
struct RatesPage {
    shell: Shell,
    rows: Vec<RateRow>,
    f: RateForm,
    nonce: String,
    may_write: bool,
    error: Option<String>,
    error_param: String,
}

#[derive(Deserialize, Default)]
pub struct RateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub percentage: String,
    /// `"on"` when prices include the tax.
    #[serde(default)]
    pub inclusive: String,
}

async fn rates_page(
    v: &Visit,
    api: &Api,
    f: RateForm,
    nonce: String,
    error: Option<Refusal>,
) -> Response {
    let (rows, list_error) = match api
        .get::<Page<TaxRate>>(&v.caller(), "/v1/tax_rates?limit=100")
        .await
    {
        Ok(p) => (
            p.data
                .iter()
                .map(|r| RateRow {
                    name: r.display_name.clone(),
                    percentage: format!("{} %", r.percentage),
                    inclusive: r.inclusive,
                    active: r.active,
                    created: when(r.created_at),
                })
                .collect(),
            None,
        ),
        Err(r) => (Vec::new(), Some(r.message)),
    };
    let status = error.as_ref().map_or(StatusCode::OK, |r| r.status);
    page(
        status,
        &RatesPage {
            shell: v.shell("Tax rates", "tax_rates"),
            rows,
            f,
            nonce,
            may_write: v.may("products:write"),
            error_param: error
                .as_ref()
                .and_then(|r| r.param.clone())
                .unwrap_or_default(),
            error: error.map(|r| r.message).or(list_error),
        },
    )
}

pub async fn tax_rates(v: Visit, Extension(api): Extension<Api>) -> Response {
    rates_page(&v, &api, RateForm::default(), fresh(), None).await
}

/// `POST /v1/tax_rates` (the percentage as typed: the API reads `"8.25"` exactly).
pub async fn create_tax_rate(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(f): Form<RateForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let mut nonce = nonce(&f.nonce);
    let body = json!({
        "display_name": clean(Some(&f.display_name), 200),
        "percentage": f.percentage.trim(),
        "inclusive": f.inclusive == "on",
    });
    match create(&v, &api, "/v1/tax_rates", &body, &mut nonce).await {
        Ok(_) => see_other("/dashboard/tax-rates"),
        Err(r) => rates_page(&v, &api, f, nonce, Some(r)).await,
    }
}
