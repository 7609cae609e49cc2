//! The home page: the newest payments and links of the mode, and where to go next.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;

use paylink_domain::checkout::Payment;
use paylink_domain::link::PaymentLink;

use super::client::{Api, Page};
use super::{links, page, payments, Shell, Visit};
use crate::locale::Locale;

#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct HomePage {
    shell: Shell,
    payments: Vec<payments::Row>,
    links: Vec<links::Row>,
    may_create: bool,
}

pub async fn home(v: Visit, Extension(api): Extension<Api>) -> Response {
    let locale = Locale::negotiate(None, "en-US");
    let who = v.caller();
    let (p, l) = tokio::join!(
        api.get::<Page<Payment>>(&who, "/v1/payments?limit=5"),
        api.get::<Page<PaymentLink>>(&who, "/v1/payment_links?limit=5"),
    );
    page(
        StatusCode::OK,
        &HomePage {
            shell: v.shell("Home", "home"),
            payments: p
                .map(|p| p.data.iter().map(|x| payments::row(&locale, x)).collect())
                .unwrap_or_default(),
            links: l
                .map(|l| l.data.iter().map(|x| links::row(&locale, x)).collect())
                .unwrap_or_default(),
            may_create: v.may("payment_links:write"),
        },
    )
}
