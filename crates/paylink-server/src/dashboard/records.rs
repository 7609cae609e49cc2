//! The catalog, customers and orders as lists: one page shape (a table of cells, cursor
//! pages) filled from each collection's `/v1` list.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use paylink_domain::catalog::{Customer, Order, Product};

use super::client::{Api, Page};
use super::view::{api_list, clean, money, query, when};
use super::{page, Shell, Visit};
use crate::locale::Locale;

/// A cell: its text, and where it leads.
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
}

fn text(s: impl Into<String>) -> Cell {
    Cell {
        text: s.into(),
        href: None,
    }
}

#[derive(Template)]
#[template(path = "dashboard/records.html")]
struct RecordsPage {
    shell: Shell,
    /// What the list holds, lower case (`products`), for the empty list's sentence.
    noun: &'static str,
    headers: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
    next: Option<String>,
    error: Option<String>,
    /// Links above the list (a new product, the tax rates): where, what, and its id.
    actions: Vec<(&'static str, &'static str, &'static str)>,
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    starting_after: Option<String>,
}

/// One collection's list page: `path` of the API, its rows made by `row`.
async fn records<T: DeserializeOwned>(
    v: &Visit,
    api: &Api,
    (title, section, noun): (&str, &'static str, &'static str),
    (api_path, page_path): (&str, &str),
    after: Option<&str>,
    (headers, actions): (
        Vec<&'static str>,
        Vec<(&'static str, &'static str, &'static str)>,
    ),
    row: impl Fn(&Locale, &T) -> (String, Vec<Cell>),
) -> Response {
    let after = clean(after, 64);
    let locale = Locale::negotiate(None, "en-US");
    let path = api_list(api_path, &[("starting_after", after.as_str())]);
    let (rows, error, next) = match api.get::<Page<T>>(&v.caller(), &path).await {
        Ok(p) => {
            let rows: Vec<(String, Vec<Cell>)> = p.data.iter().map(|x| row(&locale, x)).collect();
            let next = rows
                .last()
                .filter(|_| p.has_more)
                .map(|(id, _)| format!("{page_path}{}", query(&[("starting_after", id)])));
            (
                rows.into_iter().map(|(_, cells)| cells).collect(),
                None,
                next,
            )
        }
        Err(r) => (Vec::new(), Some(r.message), None),
    };
    page(
        StatusCode::OK,
        &RecordsPage {
            shell: v.shell(title, section),
            noun,
            headers,
            rows,
            next,
            error,
            actions,
        },
    )
}

pub async fn products(
    v: Visit,
    Extension(api): Extension<Api>,
    Query(q): Query<PageQuery>,
) -> Response {
    let headers = vec!["Name", "Price", "In stock", "Active", "Created"];
    records(
        &v,
        &api,
        ("Products", "products", "products"),
        ("/v1/products", "/dashboard/products"),
        q.starting_after.as_deref(),
        (headers, {
            let mut a = vec![("/dashboard/tax-rates", "Tax rates", "tax-rates")];
            if v.may("products:write") {
                a.insert(0, ("/dashboard/products/new", "New product", "new-product"));
            }
            a
        }),
        |l, p: &Product| {
            (
                p.id.to_string(),
                vec![
                    Cell {
                        text: p.name.clone(),
                        href: Some(format!("/dashboard/products/{}", p.id)),
                    },
                    text(money(l, p.currency, p.unit_amount)),
                    text(
                        p.inventory
                            .as_ref()
                            .map_or_else(|| "Not tracked".to_owned(), |i| i.available.to_string()),
                    ),
                    text(if p.active { "yes" } else { "no" }),
                    text(when(p.created_at)),
                ],
            )
        },
    )
    .await
}

pub async fn customers(
    v: Visit,
    Extension(api): Extension<Api>,
    Query(q): Query<PageQuery>,
) -> Response {
    let headers = vec!["E-mail", "Name", "Phone", "Created"];
    records(
        &v,
        &api,
        ("Customers", "customers", "customers"),
        ("/v1/customers", "/dashboard/customers"),
        q.starting_after.as_deref(),
        (
            headers,
            if v.may("customers:write") {
                vec![("/dashboard/customers/new", "New customer", "new-customer")]
            } else {
                Vec::new()
            },
        ),
        |_, c: &Customer| {
            (
                c.id.to_string(),
                vec![
                    Cell {
                        text: c.email.clone().unwrap_or_else(|| c.id.to_string()),
                        href: Some(format!("/dashboard/customers/{}", c.id)),
                    },
                    text(c.name.clone().unwrap_or_default()),
                    text(c.phone.clone().unwrap_or_default()),
                    text(when(c.created_at)),
                ],
            )
        },
    )
    .await
}

pub async fn orders(
    v: Visit,
    Extension(api): Extension<Api>,
    Query(q): Query<PageQuery>,
) -> Response {
    let headers = vec!["Order", "Status", "Total", "Items", "Payment", "Created"];
    records(
        &v,
        &api,
        ("Orders", "orders", "orders"),
        ("/v1/orders", "/dashboard/orders"),
        q.starting_after.as_deref(),
        (
            headers,
            if v.may("orders:write") {
                vec![("/dashboard/orders/new", "New order", "new-order")]
            } else {
                Vec::new()
            },
        ),
        |l, o: &Order| {
            let items: u32 = o.line_items.iter().map(|i| i.quantity).sum();
            (
                o.id.to_string(),
                vec![
                    Cell {
                        text: o.id.to_string(),
                        href: Some(format!("/dashboard/orders/{}", o.id)),
                    },
                    text(o.status.as_str()),
                    text(money(l, o.currency, o.amount_total)),
                    text(items.to_string()),
                    o.payment_id.as_ref().map_or_else(
                        || text(""),
                        |p| Cell {
                            text: p.to_string(),
                            href: Some(format!("/dashboard/payments/{p}")),
                        },
                    ),
                    text(when(o.created_at)),
                ],
            )
        },
    )
    .await
}
