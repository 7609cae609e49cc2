//! Customers and orders by hand: a customer's form (new, and their page that changes them,
//! with their orders) and an order's form (lines from the catalog or typed) and page (its
//! lines and totals, cancel, a link that collects it). Every write is the API's own.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use paylink_domain::catalog::{Customer, Order, Product};
use paylink_domain::money::Currency;

use super::client::{Api, Page, Refusal};
use super::forms::{create, id_of, invalid, nonce, text_or_null, Shown};
use super::link_form::{include_chosen, Choice};
use super::view::{money, when};
use super::{page, problem, refused, see_other, Shell, Visit};
use crate::locale::Locale;
use crate::state::AppState;

fn forbidden(v: &Visit, what: &str) -> Response {
    problem(
        v,
        StatusCode::FORBIDDEN,
        &format!("The `{}` role may not {what}.", v.role),
    )
}

#[derive(Deserialize, Default)]
pub struct CustomerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    /// What the edit form showed ([`Shown`]).
    #[serde(default)]
    pub shown: String,
}

pub struct OrderRow {
    pub id: String,
    pub status: &'static str,
    pub total: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "dashboard/customer.html")]
struct CustomerPage {
    shell: Shell,
    id: Option<String>,
    f: CustomerForm,
    orders: Vec<OrderRow>,
    may_write: bool,
    error: Option<String>,
    error_param: String,
}

async fn customer_page(
    v: &Visit,
    api: &Api,
    id: Option<String>,
    f: CustomerForm,
    error: Option<Refusal>,
) -> Response {
    let locale = Locale::negotiate(None, "en-US");
    let orders = match &id {
        Some(id) => api
            .get::<Page<Order>>(
                &v.caller(),
                &format!("/v1/orders?limit=25&customer_id={id}"),
            )
            .await
            .map(|p| p.data.iter().map(|o| order_row(&locale, o)).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let title = match &id {
        Some(_) if !f.name.trim().is_empty() => f.name.clone(),
        Some(_) if !f.email.trim().is_empty() => f.email.clone(),
        Some(i) => i.clone(),
        None => "New customer".to_owned(),
    };
    page(
        error.as_ref().map_or(StatusCode::OK, |r| r.status),
        &CustomerPage {
            shell: v.shell(title, "customers"),
            id,
            orders,
            may_write: v.may("customers:write"),
            error_param: error
                .as_ref()
                .and_then(|r| r.param.clone())
                .unwrap_or_default(),
            error: error.map(|r| r.message),
            f,
        },
    )
}

fn order_row(locale: &Locale, o: &Order) -> OrderRow {
    OrderRow {
        id: o.id.to_string(),
        status: o.status.as_str(),
        total: money(locale, o.currency, o.amount_total),
        created: when(o.created_at),
    }
}

pub async fn new_customer(v: Visit, Extension(api): Extension<Api>) -> Response {
    if !v.may("customers:write") {
        return forbidden(&v, "add customers");
    }
    let f = CustomerForm {
        nonce: paylink_domain::id::random_base62(),
        ..CustomerForm::default()
    };
    customer_page(&v, &api, None, f, None).await
}

/// The customer's fields: adding, what was filled in; changing, what the person changed
/// ([`Shown`]), an emptied field cleared.
fn customer_body(f: &CustomerForm, editing: bool) -> Value {
    let shown = if editing {
        Shown::parse(&f.shown)
    } else {
        Shown::default()
    };
    let mut b = shown.body(vec![
        ("email", &f.email, text_or_null(&f.email)),
        ("name", &f.name, text_or_null(&f.name)),
        ("phone", &f.phone, text_or_null(&f.phone)),
    ]);
    if !editing {
        b.retain(|_, v| !v.is_null());
    }
    Value::Object(b)
}

pub async fn create_customer(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(mut f): Form<CustomerForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    f.nonce = nonce(&f.nonce);
    let body = customer_body(&f, false);
    match create(&v, &api, "/v1/customers", &body, &mut f.nonce).await {
        Ok(c) => see_other(&format!("/dashboard/customers/{}", id_of(&c))),
        Err(r) => customer_page(&v, &api, None, f, Some(r)).await,
    }
}

pub async fn customer(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    match api
        .get::<Customer>(&v.caller(), &format!("/v1/customers/{id}"))
        .await
    {
        Ok(c) => {
            let mut f = CustomerForm {
                email: c.email.unwrap_or_default(),
                name: c.name.unwrap_or_default(),
                phone: c.phone.unwrap_or_default(),
                ..CustomerForm::default()
            };
            f.shown = Shown::encode(&[("email", &f.email), ("name", &f.name), ("phone", &f.phone)]);
            customer_page(&v, &api, Some(id), f, None).await
        }
        Err(r) => refused(&v, &r),
    }
}

pub async fn update_customer(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<CustomerForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let body = customer_body(&f, true);
    let path = format!("/v1/customers/{id}");
    match api
        .call(&v.caller(), Method::PATCH, &path, Some(&body), None)
        .await
    {
        Ok(_) => see_other(&path.replacen("/v1/", "/dashboard/", 1)),
        Err(r) if r.status == StatusCode::NOT_FOUND => refused(&v, &r),
        Err(r) => customer_page(&v, &api, Some(id), f, Some(r)).await,
    }
}

#[derive(Deserialize, Default)]
pub struct OrderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub customer_id: String,
    #[serde(default)]
    pub currency: String,
    /// Each line: a product, or a name and a price; and a quantity.
    #[serde(default)]
    pub product_1: String,
    #[serde(default)]
    pub name_1: String,
    #[serde(default)]
    pub price_1: String,
    #[serde(default)]
    pub quantity_1: String,
    #[serde(default)]
    pub product_2: String,
    #[serde(default)]
    pub name_2: String,
    #[serde(default)]
    pub price_2: String,
    #[serde(default)]
    pub quantity_2: String,
    #[serde(default)]
    pub product_3: String,
    #[serde(default)]
    pub name_3: String,
    #[serde(default)]
    pub price_3: String,
    #[serde(default)]
    pub quantity_3: String,
    #[serde(default)]
    pub product_4: String,
    #[serde(default)]
    pub name_4: String,
    #[serde(default)]
    pub price_4: String,
    #[serde(default)]
    pub quantity_4: String,
    #[serde(default)]
    pub product_5: String,
    #[serde(default)]
    pub name_5: String,
    #[serde(default)]
    pub price_5: String,
    #[serde(default)]
    pub quantity_5: String,
}

/// One line of the order form as typed.
pub struct OrderLine {
    pub n: usize,
    pub product: String,
    pub name: String,
    pub price: String,
    pub quantity: String,
}

impl OrderForm {
    fn lines(&self) -> Vec<OrderLine> {
        [
            (
                &self.product_1,
                &self.name_1,
                &self.price_1,
                &self.quantity_1,
            ),
            (
                &self.product_2,
                &self.name_2,
                &self.price_2,
                &self.quantity_2,
            ),
            (
                &self.product_3,
                &self.name_3,
                &self.price_3,
                &self.quantity_3,
            ),
            (
                &self.product_4,
                &self.name_4,
                &self.price_4,
                &self.quantity_4,
            ),
            (
                &self.product_5,
                &self.name_5,
                &self.price_5,
                &self.quantity_5,
            ),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (p, n, a, q))| OrderLine {
            n: i + 1,
            product: p.trim().to_owned(),
            name: n.trim().to_owned(),
            price: a.trim().to_owned(),
            quantity: q.trim().to_owned(),
        })
        .collect()
    }
}

#[derive(Template)]
#[template(path = "dashboard/order_new.html")]
struct OrderNewPage {
    shell: Shell,
    f: OrderForm,
    lines: Vec<OrderLine>,
    products: Vec<Choice>,
    customers: Vec<Choice>,
    currencies: Vec<&'static str>,
    error: Option<String>,
    error_param: String,
    /// The form's line (1…) the error is about, 0 for none.
    bad_line: usize,
}

/// The form line (1…) an error's `line_items.{i}…` names: lines are numbered as the form
/// shows them, though empty ones are not sent.
fn line_of(f: &OrderForm, param: &str) -> usize {
    let Some(i) = param
        .strip_prefix("line_items.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|i| i.parse::<usize>().ok())
    else {
        return 0;
    };
    f.lines()
        .iter()
        .filter(|l| !l.product.is_empty() || !l.name.is_empty() || !l.price.is_empty())
        .nth(i)
        .map_or(0, |l| l.n)
}

async fn order_new_page(v: &Visit, api: &Api, f: OrderForm, error: Option<Refusal>) -> Response {
    let locale = Locale::negotiate(None, "en-US");
    let label = |c: &Customer| {
        c.email
            .clone()
            .or_else(|| c.name.clone())
            .unwrap_or_else(|| c.id.to_string())
    };
    let mut customers = api
        .get::<Page<Customer>>(&v.caller(), "/v1/customers?limit=100")
        .await
        .map(|p| {
            p.data
                .iter()
                .map(|c| Choice {
                    value: c.id.to_string(),
                    label: label(c),
                })
                .collect()
        })
        .unwrap_or_default();
    include_chosen::<Customer>(
        v,
        api,
        &mut customers,
        f.customer_id.trim(),
        "customers",
        label,
    )
    .await;
    let mut products = super::link_form::product_choices(v, api, &locale).await;
    for l in f.lines() {
        include_chosen::<Product>(v, api, &mut products, &l.product, "products", |p| {
            format!("{} · {}", p.name, money(&locale, p.currency, p.unit_amount))
        })
        .await;
    }
    let error_param = error
        .as_ref()
        .and_then(|r| r.param.clone())
        .unwrap_or_default();
    page(
        error.as_ref().map_or(StatusCode::OK, |r| r.status),
        &OrderNewPage {
            shell: v.shell("New order", "orders"),
            lines: f.lines(),
            products,
            customers,
            currencies: Currency::codes(),
            bad_line: line_of(&f, &error_param),
            error_param,
            error: error.map(|r| r.message),
            f,
        },
    )
}

/// `?customer=cus_…`: the order form starts with that customer chosen.
#[derive(Deserialize, Default)]
pub struct OrderStart {
    customer: Option<String>,
}

pub async fn new_order(
    State(state): State<AppState>,
    v: Visit,
    Extension(api): Extension<Api>,
    Query(start): Query<OrderStart>,
) -> Response {
    if !v.may("orders:write") {
        return forbidden(&v, "create orders");
    }
    let f = OrderForm {
        nonce: paylink_domain::id::random_base62(),
        currency: super::links::default_currency(&state, &v).await,
        quantity_1: "1".into(),
        customer_id: start
            .customer
            .as_deref()
            .and_then(super::id)
            .unwrap_or_default()
            .to_owned(),
        ..OrderForm::default()
    };
    order_new_page(&v, &api, f, None).await
}

fn order_body(f: &OrderForm) -> Result<Value, Refusal> {
    let currency = Currency::parse(f.currency.trim())
        .ok_or_else(|| invalid("Choose a currency", "currency"))?;
    let mut lines = Vec::new();
    for l in f.lines() {
        if l.product.is_empty() && l.name.is_empty() && l.price.is_empty() {
            continue;
        }
        let i = lines.len();
        let quantity = if l.quantity.is_empty() {
            1
        } else {
            l.quantity.parse::<u32>().map_err(|_| {
                invalid(
                    format!("Enter line {}'s quantity as a whole number", l.n),
                    &format!("line_items.{i}.quantity"),
                )
            })?
        };
        if !l.product.is_empty() {
            lines.push(json!({"product_id": l.product, "quantity": quantity}));
        } else {
            let amount = currency.parse_major(&l.price).ok_or_else(|| {
                invalid(
                    format!(
                        "Enter line {}'s price in {} with at most {} decimals, such as 25.00",
                        l.n,
                        currency.code(),
                        currency.exponent()
                    ),
                    &format!("line_items.{i}.unit_amount"),
                )
            })?;
            lines
                .push(json!({"name": l.name, "unit_amount": amount.minor(), "quantity": quantity}));
        }
    }
    if lines.is_empty() {
        return Err(invalid(
            "Add at least one line: a product, or a name and a price",
            "line_items",
        ));
    }
    let mut b = Map::new();
    b.insert("currency".into(), json!(currency.code()));
    b.insert("line_items".into(), Value::Array(lines));
    let customer = f.customer_id.trim();
    if !customer.is_empty() {
        b.insert("customer_id".into(), json!(customer));
    }
    Ok(Value::Object(b))
}

pub async fn create_order(
    v: Visit,
    Extension(api): Extension<Api>,
    Form(mut f): Form<OrderForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    f.nonce = nonce(&f.nonce);
    let body = match order_body(&f) {
        Ok(b) => b,
        Err(r) => return order_new_page(&v, &api, f, Some(r)).await,
    };
    match create(&v, &api, "/v1/orders", &body, &mut f.nonce).await {
        Ok(o) => see_other(&format!("/dashboard/orders/{}", id_of(&o))),
        Err(r) => order_new_page(&v, &api, f, Some(r)).await,
    }
}

/// An order's line as shown.
pub struct ShownLine {
    pub name: String,
    pub quantity: u32,
    pub unit: String,
}

#[derive(Template)]
#[template(path = "dashboard/order.html")]
struct OrderPage {
    shell: Shell,
    order: Order,
    lines: Vec<ShownLine>,
    subtotal: String,
    tax: String,
    total: String,
    created: String,
    may_write: bool,
    may_link: bool,
}

pub async fn order(v: Visit, Extension(api): Extension<Api>, Path(id): Path<String>) -> Response {
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let order = match api
        .get::<Order>(&v.caller(), &format!("/v1/orders/{id}"))
        .await
    {
        Ok(o) => o,
        Err(r) => return refused(&v, &r),
    };
    let locale = Locale::negotiate(None, "en-US");
    let m = |a| money(&locale, order.currency, a);
    page(
        StatusCode::OK,
        &OrderPage {
            shell: v.shell(format!("Order {id}"), "orders"),
            lines: order
                .line_items
                .iter()
                .map(|l| ShownLine {
                    name: l.name.clone(),
                    quantity: l.quantity,
                    unit: m(l.unit_amount),
                })
                .collect(),
            subtotal: m(order.amount_subtotal),
            tax: m(order.amount_tax),
            total: m(order.amount_total),
            created: when(order.created_at),
            may_write: v.may("orders:write"),
            may_link: v.may("payment_links:write"),
            order,
        },
    )
}

/// `POST /v1/orders/{id}/cancel`: the API's refusal (paid, being paid) shown as its page.
pub async fn cancel_order(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let path = format!("/v1/orders/{id}/cancel");
    match api.call(&v.caller(), Method::POST, &path, None, None).await {
        Ok(_) => see_other(&format!("/dashboard/orders/{id}")),
        Err(r) => refused(&v, &r),
    }
}
